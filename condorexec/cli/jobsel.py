"""Job selections as condor_q/condor_history/condor_rm take them: ids, clusters, owners, -constraint."""

from __future__ import annotations

import re
from collections.abc import Sequence

import classad2

from condorexec.cli.options import CondorArgumentParser, UsageError
from condorexec.condorfacts import job_constraint


def check_expr(text: str, what: str = "-constraint") -> str:
    try:
        classad2.ExprTree(text)
    except Exception as exc:
        raise UsageError(f"{what} {text!r} is not a ClassAd expression ({exc})", "") from exc
    return text


def constraint_for(selectors: Sequence[str], constraint: str | None) -> str:
    """One ClassAd constraint: (any of the selectors) && (the -constraint)."""
    alternatives = []
    for sel in selectors:
        if re.fullmatch(r"\d+(\.\d+)?", sel):
            alternatives.append(f"({job_constraint(sel)})")
        elif re.fullmatch(r"[A-Za-z_][\w.@-]*", sel):
            alternatives.append(f'Owner == "{sel}"')
        else:
            raise UsageError(f"{sel!r} is not a job id (C.P), a cluster id or an owner name", "")
    parts = []
    if alternatives:
        parts.append("(" + " || ".join(alternatives) + ")")
    if constraint:
        parts.append(f"({check_expr(constraint)})")
    return " && ".join(parts) or "true"


_AF_MODIFIERS = re.compile(r"^--?(?:af|autoformat):([jhltnr,]+)$")


def split_af_modifiers(argv: list[str]) -> tuple[list[str], str]:
    """condor_q's ``-af:jh ATTR ...``: the option as ``-af`` and its modifiers apart (argparse cannot
    parse an option glued to its modifiers)."""
    modifiers = ""
    out = []
    for arg in argv:
        m = _AF_MODIFIERS.match(arg)
        if m:
            modifiers += m.group(1)
            arg = "-af"
        out.append(arg)
    return out, modifiers


def add_output_options(p: CondorArgumentParser) -> None:
    p.add_argument("selectors", nargs="*", metavar="cluster|cluster.proc|owner", help="which jobs")
    p.add_option("constraint", metavar="EXPR", help="only jobs for which EXPR is true")
    p.add_option("af", "-autoformat", "--autoformat", nargs="+", metavar="ATTR",
                 help="print these attributes' values, one line per job")
    p.add_option("format", nargs=2, action="append", default=[], metavar=("FMT", "ATTR"),
                 help="print ATTR through the printf-style FMT (repeatable; as condor_q -format)")
    p.add_option("long", "-l", action="store_true", help="print whole job ads")
    p.add_option("json", action="store_true", help="print job ads as a JSON array")
