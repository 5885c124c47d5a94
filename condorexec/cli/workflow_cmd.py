"""``condorexec workflow [NAME]``: what the runs of a named workflow did, the workflows there are, and
``--forget`` (docs/durable.md, "What happened").

It reads the journal the executor writes (``CondorExecutor(workflow="NAME")``) read-only, without its lock:
a run that holds the workflow is shown too, as far as it has written. A run writes its counts (adopted
finished, adopted running, run again and why, new) as it goes (every half second) and when it ends, so a
run that is still going, or that was killed, shows what it had done so far, and which of the two it is.
``--forget`` is the one thing that writes: it deletes the journal, and only while no live process holds
the workflow's lock.

The report is built once (:func:`report`, plain data) and then printed as text or as JSON, so the two
always say the same.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TextIO

import psutil

from condorexec.cli.options import CondorArgumentParser, UsageError
from condorexec.core.durable import summary
from condorexec.errors import InvalidSpecError
from condorexec.workflow.journal import (
    DONE,
    FAILED,
    NAME_PATTERN,
    SENT,
    Reader,
    RunRow,
    WorkflowError,
    default_directory,
    forget,
    journal_path,
    read_only,
)

#: a run's state, as the report names it
ENDED, RUNNING, STOPPED, ELSEWHERE = "ended", "running", "stopped", "elsewhere"

#: exit status of a workflow name that cannot name a journal (as argparse's own usage errors)
BAD_NAME_STATUS = 2


def parser() -> CondorArgumentParser:
    p = CondorArgumentParser("condorexec workflow",
                             "Show what the runs of a named workflow did and where its calls are; without NAME, "
                             "list the workflows.")
    p.add_argument("name", nargs="?", metavar="NAME",
                   help="the workflow, as named by CondorExecutor(workflow=NAME); none: list the workflows")
    p.add_option("dir", metavar="DIR",
                 help=f"the journal directory, as the executor's workflow_dir (default: {default_directory()})")
    p.add_option("json", action="store_true", help="print the report as JSON")
    p.add_option("forget", action="store_true",
                 help="delete the workflow's journal (refused while a live process holds the workflow); its "
                      "next run starts afresh")
    return p


# ---- the report ------------------------------------------------------------------------------------

@dataclass
class RunReport:
    """One run of the workflow, as the journal has it."""

    token: str
    started: float
    ended: float | None
    pid: int
    host: str
    pool: str
    work_dir: str
    #: ended | running (its process is alive on this host) | stopped (it is not: killed, or its machine
    #: went down) | elsewhere (it did not end, and its process is on another host)
    state: str
    #: what it did with its calls (None until it ends: a run writes them when it ends)
    counts: dict[str, int] | None
    #: why calls ran again -> how many
    reasons: dict[str, int]
    #: the journal's calls that are this run's now, by state (a later run that adopts one makes it its own)
    calls: dict[str, int] = field(default_factory=dict)


@dataclass
class Report:
    workflow: str
    journal: str
    runs: list[RunReport]
    #: the calls in the journal by state, and the sent ones by where they were placed
    calls: dict[str, int]


def run_state(run: RunRow, *, here: str | None = None) -> str:
    """ended, running, stopped or elsewhere (see RunReport.state). "Running" means the run's process is
    alive on this host (not a zombie) and started before the run did, so a process id the system gave
    again to another process is not taken for the run."""
    if run.ended is not None:
        return ENDED
    if run.host != (here or socket.gethostname()):
        return ELSEWHERE
    try:
        process = psutil.Process(run.pid)
        if process.status() == psutil.STATUS_ZOMBIE:  # killed, not yet reaped by its parent
            return STOPPED
        born = process.create_time()
    except psutil.NoSuchProcess:
        return STOPPED
    except psutil.Error:  # another user's process we may not look at: it exists
        return RUNNING
    return RUNNING if born <= run.started + 1 else STOPPED


def report(name: str, path: Path, reader: Reader) -> Report:
    """What the journal at ``path`` says of workflow ``name``."""
    tally = reader.tally()
    totals = {DONE: 0, FAILED: 0, SENT: 0, "sent_in_job": 0, "sent_in_worker": 0, "sent_unplaced": 0}
    per_run: dict[str, dict[str, int]] = {}
    for token, state, where, n in tally:
        totals[state] = totals.get(state, 0) + n
        if state == SENT:
            totals[f"sent_in_{where}" if where != "unplaced" else "sent_unplaced"] += n
        mine = per_run.setdefault(token, {})
        mine[state] = mine.get(state, 0) + n
    runs = []
    for run in reader.runs():
        state = run_state(run)
        counts = {"adopted_finished": run.adopted_finished, "adopted_running": run.adopted_running,
                  "rerun": run.rerun, "fresh": run.fresh}
        runs.append(RunReport(run.token, run.started, run.ended, run.pid, run.host, run.pool, run.work_dir, state,
                              counts, dict(run.reasons), per_run.get(run.token, {})))
    return Report(name, str(path), runs, totals)


# ---- as text -----------------------------------------------------------------------------------------

def _when(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def _span(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _by_state(calls: dict[str, int]) -> str:
    return ", ".join(f"{calls.get(s, 0)} {s}" for s in (DONE, FAILED, SENT))


def _run_text(number: int, run: RunReport, now: float) -> list[str]:
    if run.ended is not None:
        when = f"{_when(run.started)} to {_when(run.ended)[11:]} ({_span(run.ended - run.started)})"
    else:
        when = f"{_when(run.started)}"
    lines = [f"run {number}  {when}  process {run.pid} on {run.host}, {run.pool} pool"]
    if run.state == RUNNING:
        lines.append(f"  still running (for {_span(now - run.started)}); so far:")
    elif run.state == STOPPED:
        lines.append("  stopped without ending (killed, or its machine went down); the next run takes over its "
                     "calls. Until then:")
    elif run.state != ENDED:
        lines.append(f"  did not end; its process is on {run.host}, not this host: whether it still runs is "
                     "not known here. So far:")
    if run.counts is not None:
        lines.append(f"  {summary(run.counts, {})}")
        lines += [f"    {n} run again because {reason}"
                  for reason, n in sorted(run.reasons.items(), key=lambda kv: (-kv[1], kv[0]))]
    if run.calls:
        lines.append(f"  its calls now: {_by_state(run.calls)}")
    return lines


def report_text(rep: Report, now: float | None = None) -> str:
    now = time.time() if now is None else now
    lines = [f"workflow {rep.workflow}: {rep.journal}"]
    if not rep.runs:
        lines.append("no runs yet")
    for number, run in enumerate(rep.runs, 1):
        lines += _run_text(number, run, now)
    c = rep.calls
    lines.append(f"calls in the journal: {_by_state(c)}")
    if c[SENT]:
        lines.append(f"  sent: {c['sent_in_job']} in their own job, {c['sent_in_worker']} in a slot worker, "
                     f"{c['sent_unplaced']} not yet placed")
    return "\n".join(lines) + "\n"


# ---- the list of workflows -----------------------------------------------------------------------------

@dataclass
class Listed:
    name: str
    calls: int | None
    last_run: float | None
    last_state: str | None
    #: why the journal could not be read (a newer schema, a damaged file), else None
    problem: str | None = None


def listing(directory: Path) -> list[Listed]:
    """The workflows whose journals are in ``directory``, by name; one that cannot be read says why."""
    found = []
    for path in sorted(directory.glob("*.sqlite")) if directory.is_dir() else []:
        name = path.name[: -len(".sqlite")]
        if not NAME_PATTERN.fullmatch(name):
            continue
        try:
            reader = read_only(path)
        except (WorkflowError, sqlite3.DatabaseError) as exc:
            found.append(Listed(name, None, None, None, problem=str(exc)))
            continue
        try:
            calls = sum(reader.states().values())
            runs = reader.runs()
        except sqlite3.DatabaseError as exc:
            found.append(Listed(name, None, None, None, problem=f"unreadable: {exc}"))
            continue
        finally:
            reader.close()
        last = runs[-1] if runs else None
        found.append(Listed(name, calls, last.started if last else None, run_state(last) if last else None))
    return found


def listing_text(directory: Path, listed: list[Listed]) -> str:
    if not listed:
        return f"no workflows in {directory}\n"
    rows = [["name", "calls", "last run"]]
    for item in listed:
        if item.problem is not None:
            rows.append([item.name, "-", item.problem])
        else:
            last = "-" if item.last_run is None else f"{_when(item.last_run)} ({item.last_state})"
            rows.append([item.name, str(item.calls), last])
    widths = [max(len(r[i]) for r in rows) for i in range(2)]
    lines = [f"{r[0].ljust(widths[0])}  {r[1].rjust(widths[1])}  {r[2]}" for r in rows]
    return f"workflows in {directory}:\n" + "\n".join(lines) + "\n"


# ---- --forget ------------------------------------------------------------------------------------------

def main(argv: list[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = parser().parse_args(argv)
    directory = Path(args.dir).expanduser() if args.dir else default_directory()
    if args.name is None:
        if args.forget:
            raise UsageError("--forget needs a workflow NAME", parser().format_usage())
        listed = listing(directory)
        if args.json:
            out.write(json.dumps({"directory": str(directory), "workflows": [asdict(w) for w in listed]},
                                 indent=2) + "\n")
        else:
            out.write(listing_text(directory, listed))
        return 0
    try:
        path = journal_path(args.name, directory)
    except InvalidSpecError as exc:
        print(f"condorexec workflow: {exc}", file=err)
        return BAD_NAME_STATUS
    if not path.exists():
        print(f"condorexec workflow: no workflow {args.name!r} in {directory} ('condorexec workflow "
              f"--dir {directory}' lists those there)", file=err)
        return 1
    if args.forget:
        forget(args.name, path)
        if args.json:
            out.write(json.dumps({"forgot": args.name, "journal": str(path)}) + "\n")
        else:
            out.write(f"forgot workflow {args.name!r} (deleted {path}); its next run starts afresh\n")
        return 0
    try:
        reader = read_only(path)
        try:
            rep = report(args.name, path, reader)
        finally:
            reader.close()
    except sqlite3.DatabaseError as exc:
        raise WorkflowError(f"the workflow journal {path} is not readable ({exc})") from exc
    out.write(json.dumps(asdict(rep), indent=2) + "\n" if args.json else report_text(rep))
    return 0
