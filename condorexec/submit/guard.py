"""Find every submit-language form that would run a command or write a file, before HTCondor parses it.

``htcondor2.Submit(text)`` acts on ``include`` while it parses: ``include command : CMD`` and
``include : CMD |`` run CMD, ``include output into FILE : CMD`` also writes FILE, and the target of an
include is macro-expanded first, so ``include : $(C)`` runs whatever ``C`` holds. A queue statement's
``from`` source is expanded and run the same way (``queue from $(C)``, ``queue from CMD |``). Which
text a macro becomes is known only after HTCondor's own expansion, so the rule here is strict, as
docs/from-condor_submit.md promises: condorexec never runs a command from a submit description.

Refused: the ``command``/``output``/``into`` include options; an include target or a ``queue ... from``
source that holds ``|`` or ``$``. Allowed: ``include [ifexist] : FILE`` with a literal path, whose
file is checked by the same rules (HTCondor opens it relative to the working directory), and inline
``from ( ... )`` item lists. Lines continued with a trailing backslash are joined first, as
HTCondor's reader joins them (``src/condor_utils/config.cpp``: ``parse_include_options``,
``Open_macro_source``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

#: "include" (or "@include"), then optional keywords, then the ':' operator; the first operator on the
#: line must be ':' (``include x = y`` assigns a variable named include)
_INCLUDE = re.compile(r"^@?include(?=[\s:])(?P<options>[^:=]*):(?P<target>.*)$", re.IGNORECASE)
_QUEUE_FROM = re.compile(r"^queue\b.*?(?<![\w.$(])from(?![\w.])(?P<source>.*)$", re.IGNORECASE)
_RUNS = ("|", "$")

#: how deep literal includes may nest before the description is refused (HTCondor stops at 20 too)
MAX_INCLUDE_DEPTH = 20


@dataclass(frozen=True)
class Problem:
    """A form that would run a command: where it is and what it does."""

    file: str | None
    line: int
    message: str


def lines_of(text: str) -> list[str]:
    """The physical lines of a submit text as condor_submit reads them: cut at newlines only (a \\x0b or
    \\x1c inside a value stays in it, where ``str.splitlines`` would cut; corpus c103), a \\r before the
    newline dropped, no empty line after a final newline."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first physical line number, stripped logical line), with backslash continuations joined."""
    out: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(lines_of(text), 1):
        line = raw.rstrip()
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        out.append((start, (pending + line).strip()))
        pending = ""
    if pending:
        out.append((start, pending.strip()))
    return out


def find_command_forms(text: str, file: str | None = None, *, cwd: str | os.PathLike | None = None,
                       depth: int = 0) -> Problem | None:
    """The first form in ``text`` (or in a file it includes) that would run a command, or None."""
    base = Path(cwd) if cwd is not None else Path.cwd()
    for number, line in logical_lines(text):
        include = _INCLUDE.match(line)
        if include:
            problem = _check_include(include, line, file, number, base, depth)
            if problem is not None:
                return problem
            continue
        queue = _QUEUE_FROM.match(line)
        if queue and not queue.group("source").strip().startswith("("):
            if any(mark in queue.group("source") for mark in _RUNS):
                return Problem(file, number, f"{line!r} reads its items from a command or a macro that may "
                                             "name one; condorexec never runs commands from a submit "
                                             "description (list the items in a file or inline)")
    return None


def _check_include(include: re.Match[str], line: str, file: str | None, number: int, base: Path,
                   depth: int) -> Problem | None:
    options = include.group("options").lower().split()
    if any(word in ("command", "output", "into") for word in options):
        return Problem(file, number, f"{line!r} runs a command; condorexec never runs commands from a submit "
                                     "description")
    target = include.group("target").strip()
    if any(mark in target for mark in _RUNS):
        return Problem(file, number, f"{line!r}: an include target holding '|' or '$' can run a command; "
                                     "condorexec includes only literal file names")
    if depth >= MAX_INCLUDE_DEPTH:
        return Problem(file, number, f"{line!r}: includes nest deeper than {MAX_INCLUDE_DEPTH}")
    path = base / target
    try:
        included = path.read_text(errors="replace")
    except OSError:
        return None  # HTCondor reports the missing file itself (or skips it for ifexist)
    return find_command_forms(included, str(path), cwd=base, depth=depth + 1)
