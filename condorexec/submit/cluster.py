"""A submit file as the one cluster condor_submit makes of it, in the form ``Schedd.submit`` takes.

Why this exists: condor_submit reads a file statement by statement. Each ``queue`` statement queues
procs with every command above it (later commands change later procs), ``$(Step)``, ``$(Row)`` and
``$(ItemIndex)`` restart at each statement, ``$(Process)`` counts on through the cluster, and all
statements share one cluster. ``htcondor2.Submit`` keeps one queue statement, and every
``Schedd.submit`` call makes a new cluster. Splitting the file into one cluster per statement would
change the job ids, the event log and everything that waits on a cluster. So a file with several
statements becomes one description plus item data (:class:`Submission`), built here. A command
that differs between statements is written as a macro ``$(CondorexecQueueN_cmd)``, and each proc's
row carries that statement's raw text for it. Each row also carries the statement's ``Step``,
``Row`` and ``ItemIndex``, which override the live ones just as an item variable of that name does
in condor_submit. Its loop variables come along too. condor_submit itself leaves a finished
statement's loop variables set to ``<Queue_item>``: ``cleanup_vars`` in
``src/condor_submit.V6/submit.cpp``. The schedd then expands every proc from the same text
condor_submit would have given it. ``tests/cli/test_cli_vs_condor_live.py`` compares what the
schedd stores for both.

What has no faithful form is refused, naming the line and a way around it. That covers a
``+Attr``/``MY.Attr`` that some statements set and others do not: an empty value would store
``Attr = undefined``, where condor_submit stores nothing. It also covers a multi-line value that
differs between statements, since a row is one line, and a queue statement inside an ``if`` block,
whose fate the parser decides. As in condor_submit, several statements are refused with late
materialization and when ``SUBMIT_PREVENT_MULTI_QUEUE`` is set.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import htcondor2

from condorexec.errors import SubmitDescriptionError
from condorexec.submit.guard import find_command_forms, lines_of
from condorexec.submit.jobad import spellings
from condorexec.submit.jobs import statement_rows, wants_factory
from condorexec.submit.parse import parse_checked
from condorexec.submit.queue import QueueStatement, loop_variables, scan_queue_statements

__all__ = ["Submission", "read_submission", "MULTI_QUEUE_DEPRECATED"]

#: what condor_submit warns when a file has several queue statements (HTCondor 25 deprecates them)
MULTI_QUEUE_DEPRECATED = (
    "several queue statements in one submit file are deprecated in HTCondor 25 and will be removed; "
    "one queue statement with item data does the same: "
    "https://htcondor.readthedocs.io/en/latest/auto-redirect.html?category=example&tag=convert-multi-queue-statements")

#: what condor_submit's cleanup_vars leaves in a finished statement's loop variables
QUEUE_ITEM_LEFTOVER = "<Queue_item>"

#: the live variables that restart at every statement; rows carry them
_PER_STATEMENT = ("Step", "Row", "ItemIndex")
_STATEMENT_COLUMN = "CondorexecQueueStatement"
_CUSTOM = re.compile(r"^(\+|my\.)", re.IGNORECASE)


@dataclass(frozen=True)
class Submission:
    """What to hand ``Pool.submit``: the description, and item data for it, or None when the
    description's own queue statement decides (a file with one queue statement, passed as it is so
    that late materialization still works)."""

    description: htcondor2.Submit
    itemdata: list[dict[str, str]] | None
    statements: int
    #: commands that differ between statements -> the item column carrying each proc's text for them
    varying: Mapping[str, str] = field(default_factory=dict)

    def leaves_unset(self, command: str) -> bool:
        """Whether some proc has no value for ``command``: none of its statements sets it."""
        column = self.varying.get(command.lower())
        if column is not None:
            return any(not row[column].strip() for row in self.itemdata or ())
        return not spellings(command) & {k.lower() for k in self.description.keys()}

    def fill_unset(self, command: str, value: str) -> None:
        """Give ``command`` the ``value`` in every proc whose statements leave it unset (a learned
        request: what the user wrote wins, statement by statement)."""
        column = self.varying.get(command.lower())
        if column is None:
            if not spellings(command) & {k.lower() for k in self.description.keys()}:
                self.description[command] = value
            return
        for row in self.itemdata or ():
            if not row[column].strip():
                row[column] = value


def read_submission(text: str, *, file: str | None = None, variables: Mapping[str, str] = {},
                    submit_dir: str, factory: bool = False, from_stdin: bool = False,
                    prevent_multi_queue: bool | None = None) -> Submission:
    """The cluster condor_submit would make of ``text``, read from ``submit_dir``.

    ``factory`` is condor_submit's ``-factory``. ``prevent_multi_queue`` defaults to
    ``_CONDOR_SUBMIT_PREVENT_MULTI_QUEUE`` in the environment (see :func:`_config_true`). Relative paths in
    item lists resolve against ``submit_dir``."""
    problem = find_command_forms(text, file)
    if problem is not None:
        raise SubmitDescriptionError(problem.message, file=problem.file, line=problem.line)
    lines = lines_of(text)
    statements = scan_queue_statements(text, file)
    if not statements:
        return Submission(parse_checked(text, file=file, variables=variables), None, 0)
    if len(statements) > 1:
        for st in statements:
            if st.conditional:
                raise SubmitDescriptionError(
                    f"'{_statement(st)}' is inside an if block, and the file has other queue statements: "
                    "which of them count is decided while parsing, which condorexec does not follow; "
                    "keep the if blocks between the queue statements", file=file, line=st.line)
    texts = _statement_texts(lines, statements)
    first = parse_checked(texts[0], file=file, variables=variables)
    if prevent_multi_queue is None:
        prevent_multi_queue = _config_true("SUBMIT_PREVENT_MULTI_QUEUE")
    if factory or prevent_multi_queue or wants_factory(first):
        _refuse_extra_data(lines, statements[0], file, from_stdin)
    if len(statements) == 1:
        return Submission(first, None, 1)
    descriptions = [first] + [parse_checked(t, file=file, variables=variables) for t in texts[1:]]
    itemdata, merged, varying = _merge(descriptions, statements, text, submit_dir, file)
    return Submission(merged, itemdata, len(statements), varying)


def _statement(st: QueueStatement) -> str:
    return f"queue {st.args}".strip()


def _config_true(name: str) -> bool:
    """Whether HTCondor's per-process override ``_CONDOR_<name>`` sets the knob true.

    Why not ``htcondor2.param``: the PyPI bindings (25.14.1) carry a built-in default of true for
    SUBMIT_PREVENT_MULTI_QUEUE, while the 25.14.0 condor_submit of the same pool has none (false),
    and ``param`` cannot tell a configured value from a built-in one; condorexec follows the tools."""
    value = os.environ.get(f"_CONDOR_{name}", "")
    return value.strip().lower() in ("true", "1", "yes", "t")


def _refuse_extra_data(lines: list[str], first: QueueStatement, file: str | None, from_stdin: bool) -> None:
    """condor_submit's refusal of anything after the queue statement of a factory submit (or with
    SUBMIT_PREVENT_MULTI_QUEUE): a file may only have blank and comment lines after it; on stdin,
    the next line must be blank."""
    rest = lines[first.end:]
    if from_stdin:
        if rest and rest[0].strip():
            raise SubmitDescriptionError("Extra data was provided to STDIN after queue statement",
                                         file=file, line=first.end + 1)
        return
    for offset, raw in enumerate(rest):
        line = raw.strip()
        if line and not line.startswith("#"):
            raise SubmitDescriptionError(
                "Extra data found after queue statement (late materialization, or SUBMIT_PREVENT_MULTI_QUEUE, "
                "allows one queue statement; give each cluster its own file)", file=file, line=first.end + offset + 1)


def _statement_texts(lines: list[str], statements: list[QueueStatement]) -> list[str]:
    """For each statement, the text the parser should see: everything above it, earlier statements
    replaced by the ``<Queue_item>`` assignments condor_submit leaves behind, then its own queue
    statement (a multi-line ``matching ( ... )`` list joined onto its line)."""
    texts = []
    for k, st in enumerate(statements):
        out: list[str] = []
        pos = 0
        for prev in statements[:k]:
            out += lines[pos:prev.start]
            out += [f"{name} = {QUEUE_ITEM_LEFTOVER}" for name in loop_variables(prev.args)]
            pos = prev.end
        out += lines[pos:st.start]
        out += _queue_lines(lines, st)
        texts.append("\n".join(out) + "\n")
    return texts


def _queue_lines(lines: list[str], st: QueueStatement) -> list[str]:
    """The statement's lines; ``matching (`` with one glob per line becomes the one-line form."""
    if st.items is None or not re.search(r"\bmatching\b", st.args, re.IGNORECASE):
        return lines[st.start:st.end]
    patterns = []
    for item in st.items:
        if not item or item.startswith("#"):
            continue
        if re.search(r"[\s,]", item):
            raise SubmitDescriptionError(
                f"queue {st.args}: the pattern {item!r} holds a space or a comma, which the one-line form "
                "would split; rename the files or list them with 'queue ... from'", line=st.line)
        patterns.append(item)
    return [f"queue {st.args.rstrip().removesuffix('(').rstrip()} {' '.join(patterns)}".rstrip()]


def _merge(descriptions: list[htcondor2.Submit], statements: list[QueueStatement], text: str,
           submit_dir: str, file: str | None) -> tuple[list[dict[str, str]], htcondor2.Submit, dict[str, str]]:
    """One description and one row per proc that make, with count 1, the procs of every statement,
    and the commands that differ between statements with the column that carries each."""
    plans = [statement_rows(d, submit_dir) for d in descriptions]
    # Step/Row/ItemIndex travel only when something names them: a column that differs per proc
    # makes every proc's ad its own (plan_jobs memoises ads on the values they depend on)
    # The first column is the statement's number: the bindings write each row as a line of an inline
    # item list, where a line starting with '#' or ')' (an item's own text could) would not be a row.
    columns: dict[str, str] = {_STATEMENT_COLUMN.lower(): _STATEMENT_COLUMN}
    columns |= {n.lower(): n for n in _PER_STATEMENT if re.search(rf"\b{n}\b", text, re.IGNORECASE)}
    for _, names, _ in plans:
        for n in names:
            columns.setdefault(n.lower(), n)
    raw = [{k.lower(): (k, d[k]) for k in d.keys()} for d in descriptions]

    merged = htcondor2.Submit()
    aliases: dict[str, str] = {}  # lower key -> item column carrying its per-statement text
    for low in dict.fromkeys(k for r in raw for k in r):
        if low in columns:
            continue  # a loop variable somewhere: its column carries it for every statement
        spelled = next(r[low][0] for r in raw if low in r)
        texts = [r[low][1] if low in r else None for r in raw]
        if all(t == texts[0] for t in texts) and texts[0] is not None:
            merged[spelled] = texts[0]
            continue
        _check_can_vary(spelled, texts, statements, file)
        alias = f"CondorexecQueue{len(aliases)}_{re.sub(r'[^A-Za-z0-9_]', '_', spelled)}"
        aliases[low] = alias
        merged[spelled] = f"$({alias})"
        columns[alias.lower()] = alias

    alias_columns = {a.lower() for a in aliases.values()}
    rows: list[dict[str, str]] = []
    for number, (desc_raw, (items, names, per_row)) in enumerate(zip(raw, plans, strict=True)):
        own = {n.lower() for n in names}
        fixed: dict[str, str] = {_STATEMENT_COLUMN.lower(): str(number)}  # lower column -> value for every proc
        for low in columns:
            if low in own or low in alias_columns or low in ("step", "row", "itemindex", _STATEMENT_COLUMN.lower()):
                continue
            fixed[low] = desc_raw[low][1] if low in desc_raw else ""  # a loop variable of another statement
        for low, alias in aliases.items():
            fixed[alias.lower()] = desc_raw[low][1] if low in desc_raw else ""
        for item in items:
            for step in range(per_row):
                row = {"step": str(step), "row": str(item.index), "itemindex": str(item.index), **fixed}
                row.update((n.lower(), v) for n, v in item.values.items())
                rows.append({col: row.get(low, "") for low, col in columns.items()})
    return rows, merged, aliases


def _check_can_vary(key: str, texts: list[str | None], statements: list[QueueStatement],
                    file: str | None) -> None:
    """Refuse a command whose per-statement values cannot travel as item data."""
    for st, text in zip(statements, texts, strict=True):
        if text is not None and ("\n" in text or "\r" in text or "\x1f" in text):
            raise SubmitDescriptionError(
                f"{key}: a multi-line value that differs between queue statements cannot be passed per proc; "
                "give it one value for the whole file", file=file, line=st.line)
    if _CUSTOM.match(key) and None in texts:
        missing = next(st for st, t in zip(statements, texts, strict=True) if t is None)
        statement = _statement(missing)
        raise SubmitDescriptionError(
            f"{key.replace('MY.', '+', 1)} is set for some queue statements but not for '{statement}': "
            "condor_submit leaves the attribute out of those procs, and one submission through the bindings "
            f"cannot (an empty value would store 'undefined'); set {key.replace('MY.', '+', 1)} before the first "
            "queue statement, or submit those procs from a file of their own", file=file, line=missing.line)
