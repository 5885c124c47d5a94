"""Short calls of several sizes: the default mode against one job per call and workers alone (issue
"Fast and sized at once", docs/workers.md).

    python tests/bench/mixed.py [--runs 3] [--chart mixed.png]                      # the embedded local pool
    pool run VENV/bin/python tests/bench/mixed.py --pool condor [--runs 1]          # a live HTCondor pool

Two workflows of 0.2 s calls of three sizes (1 core / 400 MB, 2 cores / 800 MB, 3 cores / 1200 MB):
- **stages**: 60 one-core calls, then 6 two-core calls, then 6 three-core calls, then 60 one-core calls
  again, each stage sent when the one before has finished (a pipeline whose steps differ in size);
- **interleaved**: the same 132 calls at once, the sizes interleaved.
Each runs in ``per_call``, ``workers`` and the default mode (``auto``), after one call of each app so that
``auto`` knows them. The local pool emulates two unlike nodes (6 cores / 6000 MB and 3 cores / 3000 MB);
on a live pool, start it with two partitionable slots of different sizes (docs/workers.md). Prints, per
workflow and mode, the median makespan, its ratio to the best of the other two modes of the same run, and
the longest wait of a call of a size that had not run in the stage before (from its submission to its
start, as the call itself saw it). Goals: default <= 1.1x the best; no such wait over 2 s on the local pool.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import parsl
from parsl import python_app
from parsl.config import Config

from condorexec import CondorExecutor

SECONDS = 0.2
SIZES = {1: {"cores": 1, "memory": 400, "disk": 50}, 2: {"cores": 2, "memory": 800, "disk": 50},
         3: {"cores": 3, "memory": 1200, "disk": 50}}
MODES = ("per_call", "workers", "auto")
NODES = ["cpus=6,memory=6000,disk=20000", "cpus=3,memory=3000,disk=20000"]


@python_app
def one(seconds, parsl_resource_specification=SIZES[1]):  # noqa: B006
    import time

    started = time.time()
    time.sleep(seconds)
    return started


@python_app
def two(seconds, parsl_resource_specification=SIZES[2]):  # noqa: B006
    import time

    started = time.time()
    time.sleep(seconds)
    return started


@python_app
def three(seconds, parsl_resource_specification=SIZES[3]):  # noqa: B006
    import time

    started = time.time()
    time.sleep(seconds)
    return started


APPS = {1: one, 2: two, 3: three}
STAGES = [(1, 60), (2, 6), (3, 6), (1, 60)]


def stages() -> tuple[float, float]:
    longest_new = 0.0
    for i, (cores, count) in enumerate(STAGES):
        sent = time.time()
        futures = [APPS[cores](SECONDS) for _ in range(count)]
        starts = [f.result() for f in futures]
        if i and STAGES[i - 1][0] != cores:  # a size the stage before did not run: how long did it wait?
            longest_new = max(longest_new, min(starts) - sent)
    return 0.0, longest_new


def interleaved() -> tuple[float, float]:
    order = [c for cores, count in STAGES for c in [cores] * count]
    order = [order[i] for i in sorted(range(len(order)), key=lambda i: (i * 7919) % len(order))]
    sent = time.time()
    futures = [(cores, APPS[cores](SECONDS)) for cores in order]
    starts = {c: min(f.result() for cc, f in futures if cc == c) for c in APPS}
    return 0.0, max(starts.values()) - sent


WORKFLOWS = {"stages": stages, "interleaved": interleaved}


def run(mode: str, workflow: str, pool: str, base: Path) -> tuple[float, float]:
    options = {"pool": pool, "mode": mode}
    if pool == "local":
        options.update(nodes=NODES, state_dir=str(base / "state"))
    executor = CondorExecutor(label="mixed", **options)
    with parsl.load(Config(executors=[executor], run_dir=str(base / f"{mode}-{workflow}"), strategy="none")):
        for app in APPS.values():  # known to auto, and the pool warm
            app(0.01).result()
        time.sleep(0.5)
        started = time.perf_counter()
        _, wait = WORKFLOWS[workflow]()
        return time.perf_counter() - started, wait


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", choices=("local", "condor"), default="local")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workflows", nargs="+", choices=tuple(WORKFLOWS), default=list(WORKFLOWS))
    parser.add_argument("--chart", help="also draw the makespans as a PNG here")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="condorexec-mixed-"))
    os.chmod(base, 0o755)
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    total = args.runs * len(args.workflows) * len(MODES)
    done = 0
    for r in range(args.runs):
        for workflow in args.workflows:
            for mode in MODES:
                results.setdefault((workflow, mode), []).append(run(mode, workflow, args.pool, base / str(r)))
                done += 1
                span, wait = results[(workflow, mode)][-1]
                print(f"[{done}/{total}] run {r + 1} {workflow:<11} {mode:<8} makespan {span:6.1f} s, "
                      f"longest wait of a new size {wait:5.1f} s", file=sys.stderr, flush=True)
    print(f"\nshort calls of three sizes on the {args.pool} pool, {SECONDS} s each; median of {args.runs} run(s)")
    print(f"{'workflow':<12} {'mode':<9} {'makespan s':>10} {'/ best other':>13} {'new-size wait s':>16}")
    for workflow in args.workflows:
        for mode in MODES:
            spans = [s for s, _ in results[(workflow, mode)]]
            waits = [w for _, w in results[(workflow, mode)]]
            others = [statistics.median([s for s, _ in results[(workflow, m)]]) for m in MODES if m != mode]
            print(f"{workflow:<12} {mode:<9} {statistics.median(spans):>10.1f} "
                  f"{statistics.median(spans) / min(others):>13.2f} {max(waits):>16.1f}")
    print("goal: auto <= 1.10x the best of the other two; no new-size wait over 2 s on the local pool")
    if args.chart:
        _chart(results, args, Path(args.chart))


def _chart(results, args, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5))
    width = 0.25
    for i, mode in enumerate(MODES):
        spans = [statistics.median([s for s, _ in results[(w, mode)]]) for w in args.workflows]
        ax.bar([x + i * width for x in range(len(args.workflows))], spans, width, label=mode)
    ax.set_xticks([x + width for x in range(len(args.workflows))], args.workflows)
    ax.set_ylabel("makespan (s)")
    ax.set_title(f"short calls of three sizes, {args.pool} pool")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"chart: {path}")


if __name__ == "__main__":
    main()
