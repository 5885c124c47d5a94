"""``condorexec history``: jobs that left the queue, newest first, like ``condor_history``.

On the local pool it reads ``spool/history`` (the local pool writes it in the schedd's own format);
on HTCondor it asks the schedd; both through the same ``history`` call.
"""

from __future__ import annotations

import sys
from typing import TextIO

from condorexec.cli.jobsel import add_output_options, constraint_for
from condorexec.cli.options import CondorArgumentParser, add_pool_options
from condorexec.cli.queue import render
from condorexec.cli.routing import companion_target


def parser() -> CondorArgumentParser:
    p = CondorArgumentParser("condorexec history", "List finished jobs, newest first (like condor_history).")
    add_output_options(p)
    p.add_option("limit", "-match", "--match", dest="limit", type=int, default=-1, metavar="N",
                 help="at most N jobs")
    add_pool_options(p)
    return p


def main(argv: list[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = parser().parse_args(argv)
    constraint = constraint_for(args.selectors, args.constraint)
    target = companion_target(args)
    try:
        ads = list(target.source.history(constraint, (), args.limit))
        render(args, ads, target, out, history=True)
    finally:
        target.close()
    return 0
