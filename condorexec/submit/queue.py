"""Queue statements: where they are in a submit file, and the items and counts each one asks for.

Why this exists: ``htcondor2.Submit`` keeps only the first queue statement of a text and expands no
item list that names a file or a glob relative to anywhere but the current directory, while a
submit file may hold several statements (condor_submit queues them all into one cluster, each with
the commands above it) and ``condorexec`` must know every proc before anything is queued. So the
text is scanned here (:func:`scan_queue_statements`) and a statement's items are read here
(:func:`queue_rows`), following HTCondor 25's ``condor_submit`` (``src/condor_submit.V6/submit.cpp``,
``src/condor_utils/submit_utils.cpp``: ``SubmitForeachArgs``) and checked against its ``-dry-run``.
Nothing here runs a command: ``from CMD |`` and ``from -`` are refused.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass

import classad2
import htcondor2

from condorexec.errors import SubmitDescriptionError
from condorexec.submit.guard import lines_of

__all__ = ["QueueStatement", "Row", "scan_queue_statements", "loop_variables", "queue_rows"]

_QUEUE_LINE = re.compile(r"^\s*queue(\s|$)", re.IGNORECASE)
_STATEMENT_WORDS = re.compile(r"^\s*(if|elif|else|endif|error|warning|include|queue)\b", re.IGNORECASE)
_ASSIGNMENT = re.compile(r"^\s*[+]?[A-Za-z_][\w.+-]*\s*(@?=|:)")
_HEREDOC = re.compile(r"^[+]?[\w.]+\s*@=\s*(\S+)")
_IF = re.compile(r"^\s*if\b", re.IGNORECASE)
_ENDIF = re.compile(r"^\s*endif\b", re.IGNORECASE)
_MODE = re.compile(r"(?<![\w.$(])(in|from|matching)(?![\w.])", re.IGNORECASE)
_NAME = re.compile(r"[A-Za-z_]\w*")


@dataclass(frozen=True)
class QueueStatement:
    """One queue statement of a submit text: its lines ``[start, end)`` (0-based; more than one when
    it lists items between ``(`` and ``)``), the text after ``queue``, and whether an ``if`` block
    holds it (then whether it counts is decided by the parser, not by its place in the file)."""

    start: int
    end: int
    args: str
    items: tuple[str, ...] | None
    conditional: bool

    @property
    def line(self) -> int:
        """The 1-based line number of the ``queue`` keyword, for messages."""
        return self.start + 1


def scan_queue_statements(text: str, file: str | None = None) -> list[QueueStatement]:
    """Every queue statement of ``text``, in order, after checking that each line before the last
    one is a submit command (the binding would reject it without saying which line). Lines after
    the last statement's items are ignored, as condor_submit ignores them."""
    lines = lines_of(text)
    statements: list[QueueStatement] = []
    pending: SubmitDescriptionError | None = None  # a bad line, fatal only if a queue statement follows
    depth = 0
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        heredoc = _HEREDOC.match(line)
        if heredoc:
            end = "@" + heredoc.group(1)
            i += 1
            while i < len(lines) and lines[i].strip() != end:
                i += 1
            i += 1
            continue
        if not line or line.startswith("#"):
            i += 1
            continue
        first = i
        while line.endswith("\\") and i + 1 < len(lines):  # a trailing backslash continues the line
            i += 1
            line = line[:-1].rstrip() + " " + lines[i].strip()
        if _QUEUE_LINE.match(line):
            if pending is not None:
                raise pending
            args = line[len("queue"):].strip()
            start, items = first, None
            if args.endswith("(") or ("(" in args and ")" not in args):
                items, i = [], i + 1
                while i < len(lines) and not lines[i].strip().startswith(")"):
                    items.append(lines[i].strip())
                    i += 1
            statements.append(QueueStatement(start, min(i + 1, len(lines)), args,
                                             None if items is None else tuple(items), depth > 0))
            i += 1
            continue
        if _IF.match(line):
            depth += 1
        elif _ENDIF.match(line):
            depth = max(depth - 1, 0)
        if pending is None and not (_STATEMENT_WORDS.match(line) or _ASSIGNMENT.match(line)):
            pending = SubmitDescriptionError(f"not a submit command: {line!r} (expected 'name = value')",
                                             file=file, line=first + 1)
            if not statements:
                raise pending
        i += 1
    return statements


def _split_args(qargs: str) -> tuple[str | None, list[str], str, str]:
    """(mode ``in``/``from``/``matching`` or None, loop variable names, count text, what follows the mode)."""
    m = _MODE.search(qargs)
    if not m:
        return None, [], qargs.strip(), ""
    before, after = qargs[: m.start()].strip(), qargs[m.end():].strip()
    tokens = [t for t in re.split(r"[\s,]+", before) if t]
    count_text = ""
    if tokens and not _NAME.fullmatch(tokens[0]):
        count_text = tokens.pop(0)
    names = tokens or ["Item"]
    for n in names:
        if not _NAME.fullmatch(n):
            raise SubmitDescriptionError(f"queue {qargs}: invalid variable name {n!r}")
    return m.group(1).lower(), names, count_text, after


def loop_variables(qargs: str) -> list[str]:
    """The variables a queue statement sets per item (``Item`` when it names none; none for ``queue N``)."""
    return _split_args(qargs)[1]


@dataclass(frozen=True)
class Row:
    """One item of a queue statement: its index in the full item list and its variable values."""

    index: int
    values: Mapping[str, str]


def queue_rows(description: htcondor2.Submit, qargs: str, submit_dir: str,
               count_override: int = 0) -> tuple[list[Row], list[str], int]:
    """The rows, the item variable names and the per-row count that the queue statement ``qargs``
    (its macros already expanded) of ``description`` asks for; ``count_override`` replaces its count."""
    mode, names, count_text, after = _split_args(qargs)
    if mode is None:
        return [Row(0, {})], [], count_override or _queue_count(count_text) or 1
    count = count_override or _queue_count(count_text) or 1  # condor_submit queues 'queue 0' once

    match_kind = "any"
    sel: slice | None = None
    while True:
        q = re.match(r"(files|dirs|any|table)(?=\s|$)\s*", after, re.IGNORECASE)
        if q:
            word = q.group(1).lower()
            if word == "table" or mode != "matching":
                raise SubmitDescriptionError(f"queue {qargs}: '{word}' is not supported after '{mode}'")
            match_kind, after = word, after[q.end():]
            continue
        s = re.match(r"\[([^\]]*)\]\s*", after)
        if s:
            sel, after = _parse_slice(s.group(1), qargs), after[s.end():]
            continue
        break

    if mode == "matching":
        if after.startswith("("):
            if not after.endswith(")"):
                raise SubmitDescriptionError(
                    f"queue {qargs}: a multi-line 'matching (...)' list is not supported")
            after = after[1:-1]
        patterns = [p for p in re.split(r"[\s,]+", after) if p]
        items = _glob_items(patterns, submit_dir, match_kind)
        rows = [{names[0]: it} for it in items]
    elif mode == "from" and not after.startswith("("):
        rows = _rows_from_file(after, names, submit_dir, qargs)
    else:
        try:
            data = description.itemdata()
        except Exception as exc:  # the binding's bare error; an empty line inside the list is one cause
            raise SubmitDescriptionError(f"queue {qargs}: the item list cannot be read ({exc}); condorexec "
                                         "does not take an empty line inside an inline item list") from exc
        rows = [dict(r) for r in data] if data is not None else []
    indexed = [Row(i, r) for i, r in enumerate(rows)]
    if sel is not None:
        indexed = [indexed[i] for i in range(len(indexed))[sel]]
    return indexed, names, count


def _queue_count(text: str) -> int:
    text = text.strip()
    if not text:
        return 1
    try:
        value = int(text)
    except ValueError:
        try:
            value = classad2.ExprTree(text).eval()
        except Exception as exc:
            raise SubmitDescriptionError(f"queue count {text!r} is not an integer expression") from exc
        # classad2.Value (Undefined, Error) is an IntEnum: 'queue abc' would otherwise queue 2 jobs
        if not isinstance(value, int) or isinstance(value, bool | classad2.Value):
            raise SubmitDescriptionError(f"queue count {text!r} is not an integer expression") from None
    if value < 0:
        raise SubmitDescriptionError(f"queue count {text!r} is negative")
    return value


def _parse_slice(text: str, qargs: str) -> slice:
    parts = text.split(":")
    if len(parts) > 3:
        raise SubmitDescriptionError(f"queue {qargs}: bad slice [{text}]")
    try:
        nums = [int(p) if p.strip() else None for p in parts]
    except ValueError:
        raise SubmitDescriptionError(f"queue {qargs}: bad slice [{text}]") from None
    if len(nums) == 1:  # [n] selects one item
        n = nums[0]
        return slice(n, None if n == -1 else (n + 1 if n is not None else None))
    if len(nums) == 3 and nums[2] == 0:
        raise SubmitDescriptionError(f"queue {qargs}: slice step 0 in [{text}]")
    return slice(*nums)


def _glob_items(patterns: list[str], submit_dir: str, kind: str) -> list[str]:
    """Expand ``matching`` globs relative to the submit directory, sorted, without duplicates."""
    out: list[str] = []
    seen: set[str] = set()
    for pat in patterns:
        hits = sorted(glob.glob(pat, root_dir=submit_dir)) if glob.has_magic(pat) else (
            [pat] if os.path.lexists(os.path.join(submit_dir, pat)) else [])
        for h in hits:
            is_dir = os.path.isdir(os.path.join(submit_dir, h))
            if (kind == "files" and is_dir) or (kind == "dirs" and not is_dir):
                continue
            if is_dir and not h.endswith("/"):
                h += "/"  # condor reports matched directories with a trailing slash
            if h not in seen:
                seen.add(h)
                out.append(h)
    return out


def _rows_from_file(name: str, names: list[str], submit_dir: str, qargs: str) -> list[dict[str, str]]:
    name = name.strip()
    if name.endswith("|"):
        raise SubmitDescriptionError(f"queue {qargs}: condor_submit would run that command for its items, "
                                     "and condorexec runs none; write its output to a file and queue from the file")
    if name == "-":
        raise SubmitDescriptionError(f"queue {qargs}: condor_submit reads these items from its standard input, "
                                     "which condorexec does not; write them to a file and queue from the file")
    path = os.path.join(submit_dir, name)
    try:
        with open(path, encoding="utf-8") as fh:
            lines = [ln.strip() for ln in fh]
    except OSError as exc:
        raise SubmitDescriptionError(f"queue {qargs}: cannot read item file {path}: {exc.strerror}") from exc
    # condor keeps '#' lines as items, and a blank line is an item that repeats the previous values
    rows: list[dict[str, str]] = []
    previous = {n: "" for n in names}
    for ln in lines:
        if ln:
            previous = _split_item(ln, names)
        rows.append(dict(previous))
    return rows


def _split_item(line: str, names: list[str]) -> dict[str, str]:
    """Fields split on commas/whitespace; the last variable takes the rest of the line."""
    values: dict[str, str] = {}
    rest = line.strip()
    for n in names[:-1]:
        m = re.match(r"([^\s,]*)[\s,]*", rest)
        assert m is not None  # the pattern matches any text, the empty one too
        values[n], rest = m.group(1), rest[m.end():]
    values[names[-1]] = rest.strip()
    return values

