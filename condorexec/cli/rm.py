"""``condorexec rm``: remove jobs, like ``condor_rm``.

On HTCondor the schedd does it. On the local pool the jobs belong to a ``condorexec submit``
process in some other terminal, so rm writes a removal request into the spool naming the matching
job ids, waits (up to ``WAIT_S``) until those jobs have left the published queues, then deletes the
request (see :mod:`condorexec.cli.localspool`).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

import classad2
import htcondor2

from condorexec.cli import localspool
from condorexec.cli.jobsel import constraint_for
from condorexec.cli.options import CondorArgumentParser, UsageError, add_pool_options
from condorexec.cli.routing import companion_target

WAIT_S = 10.0


def parser() -> CondorArgumentParser:
    p = CondorArgumentParser("condorexec rm", "Remove jobs (like condor_rm).")
    p.add_argument("selectors", nargs="*", metavar="cluster|cluster.proc|owner", help="which jobs")
    p.add_option("constraint", metavar="EXPR", help="jobs for which EXPR is true")
    p.add_option("all", action="store_true", help="all jobs")
    add_pool_options(p)
    return p


def _describe(args) -> str:
    if args.all:
        return "All jobs"
    if args.constraint and not args.selectors:
        return f"All jobs matching constraint ({args.constraint})"
    return "Job(s) " + " ".join(args.selectors) + (f" matching ({args.constraint})" if args.constraint else "")


def main(argv: list[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = parser().parse_args(argv)
    if not (args.all or args.selectors or args.constraint):
        raise UsageError("say which jobs: cluster, cluster.proc, owner, -constraint EXPR or -all",
                         parser().format_usage())
    constraint = "true" if args.all and not args.constraint else constraint_for(args.selectors, args.constraint)
    target = companion_target(args)
    try:
        if target.pool is not None:
            matching = target.pool.query(constraint, ["ClusterId", "ProcId"])
            if not matching:
                print(f"Couldn't find/remove all jobs matching constraint ({constraint})", file=err)
                return 1
            target.pool.act(htcondor2.JobAction.Remove, constraint)
            print(f"{_describe(args)} marked for removal.", file=out)
            return 0
        return _remove_local(args, target.state_dir, constraint, out, err)
    finally:
        target.close()


def _remove_local(args, state_dir, constraint: str, out: TextIO, err: TextIO) -> int:
    expr = classad2.ExprTree(constraint)
    ids = [f"{ad['ClusterId']}.{ad['ProcId']}" for ad in localspool.read_queue(state_dir) if expr.eval(ad) is True]
    if not ids:
        print(f"Couldn't find/remove all jobs matching constraint ({constraint}) in the local pool at {state_dir}",
              file=err)
        return 1
    request = localspool.write_removal_request(state_dir, ids, "via condorexec rm")
    try:
        deadline = time.monotonic() + WAIT_S
        left = set(ids)
        while left and time.monotonic() < deadline:
            time.sleep(0.1)
            queued = {f"{ad['ClusterId']}.{ad['ProcId']}" for ad in localspool.read_queue(state_dir)}
            left &= queued
    finally:
        request.unlink(missing_ok=True)
    if left:
        print(f"Job(s) {' '.join(sorted(left))} still queued after {WAIT_S:g}s: the submitting process did not "
              "act on the request", file=err)
        return 1
    print(f"{_describe(args)} marked for removal.", file=out)
    return 0
