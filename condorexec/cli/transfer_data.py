"""``condorexec transfer-data``: fetch the outputs of jobs submitted with ``-spool``, like
``condor_transfer_data``.

On HTCondor it is ``Schedd.retrieve`` (the schedd sends each selected job's spooled sandbox back to
where its description put its outputs, and lets a completed one leave the queue). On the local pool
the outputs wait under the state directory after ``submit`` has exited; the spool view delivers
them from there (:meth:`condorexec.pools.local.spool.SpoolView.retrieve`).

Selection and output are condor_transfer_data's (HTCondor 25, ``src/condor_tools/transfer_data.cpp``):
job ids, cluster ids and owner names, ``-constraint EXPR`` and ``-all``, each *or*-ed with the others
(unlike condor_rm); ``-all`` with anything else, or nothing at all, is a usage error; it prints
``Fetching data files...`` and exits 0 even when nothing matched (a schedd finds no spooled job and
sends nothing). A failed transfer prints the reason and ``ERROR: Failed to spool job files.`` (its
wording) and exits 1. Where condor_transfer_data warns and skips a selector it cannot read (``12x``,
``0``) or passes a bad ``-constraint`` on to the schedd, this refuses it, naming it, before asking.
"""

from __future__ import annotations

import re
import sys
from typing import TextIO

from condorexec.cli.jobsel import check_expr
from condorexec.cli.options import CondorArgumentParser, UsageError, add_pool_options
from condorexec.cli.routing import companion_target
from condorexec.condorfacts import job_constraint
from condorexec.errors import CondorexecError


def parser() -> CondorArgumentParser:
    p = CondorArgumentParser("condorexec transfer-data",
                             "Fetch the outputs of jobs submitted with -spool (like condor_transfer_data).")
    p.add_argument("selectors", nargs="*", metavar="cluster|cluster.proc|user", help="whose outputs")
    p.add_option("constraint", action="append", default=[], metavar="EXPR",
                 help="jobs for which EXPR is true (repeatable)")
    p.add_option("all", action="store_true", help="all jobs (cannot be used with other selections)")
    add_pool_options(p)
    return p


def selection(selectors: list[str], constraints: list[str], everything: bool) -> str:
    """condor_transfer_data's constraint: every selector and ``-constraint`` *or*-ed together."""
    if everything:
        if selectors or constraints:
            raise UsageError("-all cannot be used with other constraints", parser().format_usage())
        return "(ClusterId >= 0)"
    if not (selectors or constraints):
        raise UsageError("You did not specify any jobs", parser().format_usage())
    parts = []
    for sel in selectors:
        if m := re.fullmatch(r"(\d+)(?:\.(\d+))?", sel):
            if int(m[1]) <= 0:
                raise UsageError(f"Invalid cluster # from {sel}.", "")
            parts.append(f"({job_constraint(sel)})")
        elif re.fullmatch(r"[A-Za-z][\w.@-]*", sel):
            parts.append(f'(Owner == "{sel}")')
        else:
            raise UsageError(f"{sel!r} is not a job id (C.P), a cluster id or a user name", "")
    parts.extend(f"({check_expr(c)})" for c in constraints)
    return " || ".join(parts)


def main(argv: list[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = parser().parse_args(argv)
    constraint = selection(args.selectors, args.constraint, args.all)
    target = companion_target(args)
    try:
        print("Fetching data files...", file=out, flush=True)
        try:
            target.source.retrieve(constraint)
        except (CondorexecError, OSError) as exc:
            print(f"\n{exc}\nERROR: Failed to spool job files.", file=err)
            return 1
        return 0
    finally:
        target.close()
