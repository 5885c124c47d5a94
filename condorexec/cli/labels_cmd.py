"""``condorexec labels``: what autolabel has learned, per category, as a table (and ``--plot``).

The labels depend on the largest machine (a learning category asks for all of it), so the table is
computed against the pool's largest machine: the schedd's collector on HTCondor, this machine (or
the ``--local-node`` sizes) on the local pool, or ``--maximum`` when given. Which calls
``mode="auto"`` sends to slot workers depends on what a job start costs on the pool, so the
header states the threshold of the pool the labels are looked at for.
"""

from __future__ import annotations

import importlib.util
import sys
from typing import TextIO

from condorexec.cli import learned
from condorexec.cli.options import CondorArgumentParser, UsageError, add_pool_options
from condorexec.cli.routing import companion_target
from condorexec.labels.explain import labels_table, plot_labels
from condorexec.labels.policy import AllocationMode, Maximum
from condorexec.pools.base import Pool


def parser() -> CondorArgumentParser:
    p = CondorArgumentParser("condorexec labels", "Show learned labels per category.")
    p.add_option("label-store", dest="label_store", metavar="PATH", help="autolabel's SQLite store")
    p.add_option("plot", metavar="FILE", help="also write a plot (format from the suffix, e.g. .png)")
    p.add_option("mode", choices=[m.value for m in AllocationMode], default=learned.MODE.value,
                 help=f"allocation mode (default {learned.MODE.value}, as condorexec submit uses)")
    p.add_option("window", type=int, default=learned.WINDOW, help=f"completions per label (default {learned.WINDOW})")
    p.add_option("maximum", metavar="CORES,MEMORY_MB,DISK_MB", help="the largest allocation (default: the pool's "
                                                                      "largest machine)")
    p.add_option("local-node", dest="local_nodes", action="append", default=[], metavar="SPEC",
                 help="local pool node sizes, as for condorexec submit")
    add_pool_options(p)
    return p


def _given_maximum(text: str) -> Maximum:
    try:
        cores, memory, disk = (int(x) for x in text.split(","))
    except ValueError:
        raise UsageError(f"--maximum {text!r}: expected three integers CORES,MEMORY_MB,DISK_MB", "") from None
    return Maximum(cores, memory, disk)


def _pool_facts(args) -> tuple[Maximum, float, str]:
    """The largest allocation (``--maximum`` or the pool's largest machine), what a job start costs
    on the pool, and the pool's name for the header."""
    given = _given_maximum(args.maximum) if args.maximum else None
    target = companion_target(args)
    try:
        maximum = given or learned.maximum_of(target.source)
        if isinstance(target.source, Pool):
            profile = target.source.profile
            return maximum, profile.job_start_seconds, "the schedd" if profile.name == "condor" else profile.name
    finally:
        target.close()
    from condorexec.pools.local import JOB_START_SECONDS  # the local pool's own figure

    return maximum, JOB_START_SECONDS, "the local pool"


def main(argv: list[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = parser().parse_args(argv)
    if args.window < 1:
        raise UsageError(f"--window {args.window}: must be at least 1", parser().format_usage())
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        raise UsageError(f"--plot {args.plot}: plotting needs matplotlib, which is not installed here "
                         "(pip install 'condorexec[plot]')", "")
    maximum, job_start_seconds, pool = _pool_facts(args)
    mode = AllocationMode(args.mode)
    with learned.open_store(args.label_store) as store:
        out.write(labels_table(store, mode, maximum, args.window, job_start_seconds=job_start_seconds, pool=pool))
        if args.plot:
            path = plot_labels(store, args.plot, mode, maximum, args.window)
            print(f"plot written to {path}", file=err)
    return 0
