"""``condorexec history``: jobs that left the queue, newest first, like ``condor_history`` (``-forwards``:
oldest first; ``-file``: a history file; ``-completedsince``: stop at the first job completed before).

On the local pool it reads ``spool/history`` (the local pool writes it in the schedd's own format);
on HTCondor it asks the schedd; both through the same ``history`` call.
"""

from __future__ import annotations

import re
import sys
from typing import TextIO

from condorexec.cli.jobsel import add_output_options, constraint_for, split_af_modifiers
from condorexec.cli.options import CondorArgumentParser, UsageError, add_pool_options
from condorexec.cli.queue import render
from condorexec.cli.routing import companion_target
from condorexec.pools.local.historyfile import read_history


def parser() -> CondorArgumentParser:
    p = CondorArgumentParser("condorexec history", "List finished jobs, newest first (like condor_history).")
    add_output_options(p)
    p.add_option("limit", "-match", "--match", dest="limit", type=int, default=-1, metavar="N",
                 help="at most N jobs")
    p.add_option("forwards", action="store_true", help="oldest first")
    p.add_option("file", metavar="PATH", help="read this history file instead of the pool's")
    p.add_option("completedsince", metavar="TIME",
                 help="stop at the first job that completed before TIME (seconds since the epoch)")
    add_pool_options(p)
    return p


def main(argv: list[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    argv, modifiers = split_af_modifiers(list(argv))
    args = parser().parse_intermixed_args(argv)
    args.af_modifiers = modifiers
    constraint = constraint_for(args.selectors, args.constraint)
    since = None
    if args.completedsince is not None:
        if not re.fullmatch(r"\d+", args.completedsince.strip()):
            raise UsageError(f"-completedsince {args.completedsince!r}: expected seconds since the epoch", "")
        since = f"CompletionDate < {int(args.completedsince)}"
    # -forwards reads everything, oldest first, then keeps the first N (condor_history does the same)
    limit = -1 if args.forwards else args.limit
    if args.file:
        ads, where = list(read_history(args.file, constraint, (), limit, since)), f"history file {args.file}"
    else:
        target = companion_target(args)
        try:
            ads, where = list(target.source.history(constraint, (), limit, since)), target.source.where
        finally:
            target.close()
    if args.forwards:
        ads.reverse()
        ads = ads if args.limit < 0 else ads[:args.limit]
    render(args, ads, where, out, history=True)
    return 0

