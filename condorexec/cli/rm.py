"""``condorexec rm``: remove jobs, like ``condor_rm``.

On HTCondor the schedd does it. On the local pool the jobs belong to a ``condorexec submit``
process in some other terminal, so the spool view writes a removal request naming the matching job
ids and waits until those jobs have left the published queues (see
:meth:`condorexec.pools.local.spool.SpoolView.act`).
"""

from __future__ import annotations

import sys
from typing import TextIO

import htcondor2

from condorexec.cli.jobsel import constraint_for
from condorexec.cli.options import CondorArgumentParser, UsageError, add_pool_options
from condorexec.cli.routing import companion_target


def parser() -> CondorArgumentParser:
    p = CondorArgumentParser("condorexec rm", "Remove jobs (like condor_rm).")
    p.add_argument("selectors", nargs="*", metavar="cluster|cluster.proc|owner", help="which jobs")
    p.add_option("constraint", "-const", "--const", metavar="EXPR", help="jobs for which EXPR is true")
    p.add_option("reason", metavar="TEXT",
                 help="accepted for condor_rm's command line (DAGMan passes one); not recorded")
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
    args = parser().parse_intermixed_args(argv)  # DAGMan: CLUSTER -const EXPR -reason TEXT
    if not (args.all or args.selectors or args.constraint):
        raise UsageError("say which jobs: cluster, cluster.proc, owner, -constraint EXPR or -all",
                         parser().format_usage())
    constraint = "true" if args.all and not args.constraint else constraint_for(args.selectors, args.constraint)
    target = companion_target(args)
    try:
        if not target.source.query(constraint, ["ClusterId", "ProcId"]):
            print(f"Couldn't find/remove all jobs matching constraint ({constraint}) in {target.source.where}",
                  file=err)
            return 1
        target.source.act(htcondor2.JobAction.Remove, constraint)
        print(f"{_describe(args)} marked for removal.", file=out)
        return 0
    finally:
        target.close()
