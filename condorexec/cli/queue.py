"""``condorexec q``: the queue, like ``condor_q -nobatch`` (plus the jobs' requests); ``-hold``, ``-run``
and ``-totals`` as condor_q's views, ``-af[:jhltnr,]`` and ``-format`` as its custom output.

On HTCondor it asks the schedd. On the local pool it reads the queue snapshots that running
``condorexec submit`` processes publish in the spool (see :mod:`condorexec.pools.local.spool`); both
through the same ``query`` call.
"""

from __future__ import annotations

import sys
from typing import TextIO

import classad2

from condorexec.cli import adformat
from condorexec.cli.jobsel import add_output_options, constraint_for, split_af_modifiers
from condorexec.cli.options import CondorArgumentParser, add_pool_options
from condorexec.cli.routing import Target, companion_target
from condorexec.condorfacts import JobStatus


def parser() -> CondorArgumentParser:
    p = CondorArgumentParser("condorexec q", "List queued jobs (like condor_q -nobatch).")
    add_output_options(p)
    p.add_option("nobatch", action="store_true", help="one line per job (the default view of condorexec q)")
    p.add_option("batch", action="store_true", help="one line per batch, as condor_q's default view")
    p.add_option("hold", action="store_true", help="held jobs only, with their hold reasons (condor_q -hold)")
    p.add_option("run", action="store_true", help="running jobs only, with their hosts (condor_q -run)")
    p.add_option("totals", action="store_true", help="only the totals line")
    p.add_option("allusers", action="store_true",
                 help="accepted for compatibility: condorexec q always lists every user's jobs")
    add_pool_options(p)
    return p


def queued(target: Target, constraint: str) -> list[classad2.ClassAd]:
    """Matching queued jobs in job-id order, as condor_q lists them (a schedd query has no set order)."""
    ads = list(target.source.query(constraint))
    return sorted(ads, key=lambda ad: (int(ad.get("ClusterId", 0)), int(ad.get("ProcId", 0))))


def render(args, ads: list[classad2.ClassAd], where: str, out: TextIO, *, history: bool) -> None:
    """The ads as the options ask: -format, -af, -long, -json, -totals, or a table headed by ``where``."""
    if args.format:
        out.write(adformat.printf_format(ads, [tuple(pair) for pair in args.format]))
    elif args.af:
        out.write(adformat.autoformat(ads, args.af, getattr(args, "af_modifiers", "")))
    elif args.long:
        out.write(adformat.long_form(ads))
    elif args.json:
        out.write(adformat.json_form(ads))
    elif getattr(args, "totals", False):
        out.write(adformat.summary(ads))
    else:
        out.write(f"\n\n-- {where}\n")
        if getattr(args, "hold", False):
            out.write(adformat.hold_table(ads))
        elif getattr(args, "run", False):
            out.write(adformat.run_table(ads))
        elif getattr(args, "batch", False):
            out.write(adformat.batch_table(ads))
        else:
            out.write(adformat.table(ads, history=history))
        if not history:
            out.write("\n" + adformat.summary(ads))


def main(argv: list[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    argv, modifiers = split_af_modifiers(list(argv))
    args = parser().parse_intermixed_args(argv)
    args.af_modifiers = modifiers
    constraint = constraint_for(args.selectors, args.constraint)
    if args.hold or args.run:
        status = JobStatus.HELD if args.hold else JobStatus.RUNNING
        constraint = f"({constraint}) && JobStatus == {int(status)}"
    target = companion_target(args)
    try:
        render(args, queued(target, constraint), target.source.where, out, history=False)
    finally:
        target.close()
    return 0
