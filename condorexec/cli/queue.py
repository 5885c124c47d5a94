"""``condorexec q``: the queue, like ``condor_q -nobatch`` (plus the jobs' requests).

On HTCondor it asks the schedd. On the local pool it reads the queue snapshots that running
``condorexec submit`` processes publish in the spool (see :mod:`condorexec.pools.localspool`); both
through the same ``query`` call.
"""

from __future__ import annotations

import sys
from typing import TextIO

import classad2

from condorexec.cli import adformat
from condorexec.cli.jobsel import add_output_options, constraint_for
from condorexec.cli.options import CondorArgumentParser, add_pool_options
from condorexec.cli.routing import Target, companion_target


def parser() -> CondorArgumentParser:
    p = CondorArgumentParser("condorexec q", "List queued jobs (like condor_q -nobatch).")
    add_output_options(p)
    p.add_option("nobatch", action="store_true", help="accepted for compatibility: jobs are always listed one per line")
    add_pool_options(p)
    return p


def queued(target: Target, constraint: str) -> list[classad2.ClassAd]:
    """Matching queued jobs in job-id order, as condor_q lists them (a schedd query has no set order)."""
    ads = list(target.source.query(constraint))
    return sorted(ads, key=lambda ad: (int(ad.get("ClusterId", 0)), int(ad.get("ProcId", 0))))


def render(args, ads: list[classad2.ClassAd], target: Target, out: TextIO, *, history: bool) -> None:
    if args.af:
        out.write(adformat.autoformat(ads, args.af))
    elif args.long:
        out.write(adformat.long_form(ads))
    elif args.json:
        out.write(adformat.json_form(ads))
    else:
        out.write(f"\n\n-- {target.source.where}\n")
        out.write(adformat.table(ads, history=history))
        if not history:
            out.write("\n" + adformat.summary(ads))


def main(argv: list[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = parser().parse_args(argv)
    constraint = constraint_for(args.selectors, args.constraint)
    target = companion_target(args)
    try:
        render(args, queued(target, constraint), target, out, history=False)
    finally:
        target.close()
    return 0
