"""``condorexec wait``: wait for the jobs in an event log to finish, like ``condor_wait``.

It reads the log with ``htcondor2.JobEventLog`` (so it works on logs from HTCondor and from the
local pool alike): every job with a submit event is waited for (or only ``ID``'s jobs), until each
has terminated or been aborted, or ``-num N`` of them have. Exit 0 when done, 1 on ``-wait`` timeout.
"""

from __future__ import annotations

import os
import re
import sys
import time
from typing import TextIO

import htcondor2

from condorexec.cli.options import CondorArgumentParser, UsageError

POLL_S = 0.2
#: how long a missing log may take to appear when no -wait is given (condor_wait gives up at once)
LOG_GRACE_S = 5.0
_DONE = (htcondor2.JobEventType.JOB_TERMINATED, htcondor2.JobEventType.JOB_ABORTED)


def parser() -> CondorArgumentParser:
    p = CondorArgumentParser("condorexec wait", "Wait for jobs in an event log to finish (like condor_wait).")
    p.add_argument("log", metavar="LOGFILE")
    p.add_argument("job", nargs="?", metavar="ID", help="cluster or cluster.proc to wait for")
    p.add_option("num", type=int, metavar="N", help="return once N jobs have finished")
    p.add_option("wait", type=float, metavar="SECONDS", help="give up after this long (exit 1)")
    p.add_option("echo", action="store_true", help="print each event as it is read")
    p.add_option("status", action="store_true", help="print when each job is submitted and finishes")
    return p


def _matches(cluster: int, proc: int, job: str | None) -> bool:
    if job is None:
        return True
    c, _, p = job.partition(".")
    return cluster == int(c) and (not p or proc == int(p))


#: how an event log starts: a classic event ("000 (001.000.000) ...", or a late-materialization
#: cluster's "035 (001.-01.000) ..."), a JSON or an XML event log
_EVENT_LOG_START = re.compile(rb"\d{3} \(\d+\.-?\d+\.\d+\)|\{|\[|<")


def _looks_like_an_event_log(path: str) -> bool:
    """False for a file that has content but no event at its start: waiting on it would never end."""
    with open(path, "rb") as fh:
        head = fh.read(256).lstrip()
    return not head or _EVENT_LOG_START.match(head) is not None


def main(argv: list[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = parser().parse_args(argv)
    if args.job is not None and not re.fullmatch(r"\d+(\.\d+)?", args.job):
        raise UsageError(f"job id {args.job!r}: expected cluster or cluster.proc", parser().format_usage())
    if args.num is not None and args.num < 1:
        raise UsageError(f"-num {args.num}: must be at least 1", parser().format_usage())
    deadline = None if args.wait is None else time.monotonic() + args.wait
    # a log the submit has not created yet: waited for up to -wait, or briefly (the schedd writes a
    # job's first event just after the submit returns); then condor_wait's answer, never a wait for ever
    appear_by = deadline if deadline is not None else time.monotonic() + LOG_GRACE_S
    while not os.path.exists(args.log):
        if time.monotonic() >= appear_by:
            if deadline is not None:
                print("Time expired.", file=out)
            else:
                print(f"Couldn't open {args.log}: No such file or directory", file=err)
            return 1
        time.sleep(0.1)
    if not _looks_like_an_event_log(args.log):
        print(f"condorexec wait: {args.log} is not a job event log (it does not start with an event)", file=err)
        return 1
    events = htcondor2.JobEventLog(args.log)
    submitted: set[tuple[int, int]] = set()
    finished: set[tuple[int, int]] = set()
    while True:
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            print("Time expired.", file=out)
            return 1
        for event in events.events(stop_after=0):  # non-blocking; the bindings take whole seconds only
            key = (event.cluster, event.proc)
            if not _matches(*key, args.job):
                continue
            if args.echo:
                out.write(str(event) + "\n")
            if event.type == htcondor2.JobEventType.SUBMIT:
                submitted.add(key)
                if args.status:
                    print(f"{key[0]}.{key[1]} submitted", file=out)
            elif event.type in _DONE:
                finished.add(key)
                submitted.add(key)
                if args.status:
                    print(f"{key[0]}.{key[1]} {'completed' if event.type == _DONE[0] else 'aborted'}", file=out)
            if args.num is not None and len(finished) >= args.num:
                print(f"Specified number of jobs ({args.num}) done.", file=out)
                return 0
        if args.num is None and submitted and submitted <= finished:
            print("All jobs done.", file=out)
            return 0
        time.sleep(POLL_S if remaining is None else max(min(POLL_S, remaining), 0.0))
