"""The submit description as condor_submit assembles it.

condor_submit reads one file (or stdin), puts each ``-append`` command just before each queue
statement, and takes ``-queue`` as the queue statement of a file that has none. Those steps are
text edits done here before the real parser sees the text, so its line numbers stay those of the
file for everything above the queue statement. What a pool cannot honour of the result is the
pool's to say (``Pool.prepare``; the local pool's rules are in :mod:`condorexec.pools.local.support`).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence

from condorexec.errors import SubmitDescriptionError
from condorexec.submit.guard import lines_of
from condorexec.submit.queue import scan_queue_statements

STDIN_NAME = "<stdin>"


def read_description(path: str | None) -> tuple[str, str]:
    """(text, name for messages): a file, or stdin for ``-`` or no file at all (as condor_submit)."""
    if path in (None, "-"):
        return sys.stdin.read(), STDIN_NAME
    try:
        with open(path, encoding="utf-8") as fh:
            return fh.read(), path
    except OSError as exc:
        raise SubmitDescriptionError(f"cannot read submit file: {exc.strerror}", file=path) from exc


def assemble(text: str, name: str, appends: Sequence[str], queue_args: str | None) -> str:
    """Insert ``-append`` lines before every queue statement (condor_submit parses them again before
    each one); use ``-queue`` when the file has none, else a plain ``queue`` (one job), as condor_submit."""
    lines = lines_of(text)
    for extra in appends:
        if "\n" in extra:
            raise SubmitDescriptionError(f"-append {extra!r}: must be one line")
    starts = [st.start for st in scan_queue_statements(text, name)]
    if queue_args is not None:
        if starts:
            raise SubmitDescriptionError(
                f"-queue {queue_args} given, but the file already has a queue statement: "
                f"{lines[starts[0]].strip()!r}", file=name, line=starts[0] + 1)
        lines.append(f"queue {queue_args}")
        starts = [len(lines) - 1]
    if not starts:  # condor_submit queues one job (corpus c90)
        lines.append("queue")
        starts = [len(lines) - 1]
    for at in reversed(starts):
        lines[at:at] = list(appends)
    return "\n".join(lines) + "\n"


def locate(exc: SubmitDescriptionError, text: str, name: str) -> SubmitDescriptionError:
    """The error with file and line filled in when the message names a command of the file."""
    if exc.line is not None and exc.file is not None:
        return exc
    m = re.match(r"\s*([+]?[A-Za-z_][\w.]*)\s*=", exc.reason)
    line = None
    if m:
        key = re.escape(m.group(1))
        for i, ln in enumerate(lines_of(text), 1):
            if re.match(rf"\s*{key}\s*=", ln, re.IGNORECASE):
                line = i
                break
    return SubmitDescriptionError(exc.reason, file=exc.file or name, line=exc.line or line)
