"""``condorexec labels``: what autolabel has learned, per category, as a table (and ``--plot``).

The labels depend on the largest machine (a learning category asks for all of it), so the table is
computed against the pool's largest machine: the schedd's collector on HTCondor, this machine (or
the ``--local-node`` sizes) on the local pool, or ``--maximum`` when given.
"""

from __future__ import annotations

import sys
from typing import TextIO

from condorexec.cli import learned
from condorexec.cli.options import CondorArgumentParser, UsageError, add_pool_options
from condorexec.cli.routing import companion_target
from condorexec.labels.policy import AllocationMode, Maximum
from condorexec.labels.report import labels_table, plot_labels


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


def _maximum(args) -> Maximum:
    if args.maximum:
        try:
            cores, memory, disk = (int(x) for x in args.maximum.split(","))
        except ValueError:
            raise UsageError(f"--maximum {args.maximum!r}: expected three integers CORES,MEMORY_MB,DISK_MB",
                             "") from None
        return Maximum(cores, memory, disk)
    target = companion_target(args)
    try:
        return learned.maximum_of(target.source)
    finally:
        target.close()


def main(argv: list[str], out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    args = parser().parse_args(argv)
    if args.window < 1:
        raise UsageError(f"--window {args.window}: must be at least 1", parser().format_usage())
    maximum = _maximum(args)
    mode = AllocationMode(args.mode)
    with learned.open_store(args.label_store) as store:
        out.write(labels_table(store, mode, maximum, args.window))
        if args.plot:
            path = plot_labels(store, args.plot, mode, maximum, args.window)
            print(f"plot written to {path}", file=err)
    return 0
