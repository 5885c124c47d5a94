"""No-op apps per second: CondorExecutor on the embedded local pool vs Parsl's HighThroughputExecutor.

    python tests/bench/throughput.py [--tasks 2000] [--repeat 1]

All run in this process, one after the other, with 2 workers/cores: CondorExecutor with one job per
call (mode="per_call"), with slot workers (mode="workers"), and HTEX, the anchor of each run. The
rate counts from the first submission to the last result, so start-up (pool, workers) is excluded for
all. Prints a table with the median of the runs; the goal is slot workers at >= 1.5x HTEX.
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
from parsl.executors import HighThroughputExecutor
from parsl.providers import LocalProvider

from condorexec import CondorExecutor


@python_app
def noop(parsl_resource_specification={"cores": 1, "memory": 100, "disk": 10}):  # noqa: B006
    return None


@python_app
def noop_plain():  # HTEX accepts no cores/memory/disk in a resource specification
    return None


def run(config: Config, tasks: int, label: str, app=noop, warmup: int = 20) -> float:
    """Tasks per second of ``tasks`` calls of ``app`` under ``config``, after ``warmup`` calls."""
    with parsl.load(config):
        [app().result() for _ in range(warmup)]  # warm up: workers/fork server started
        started = time.perf_counter()
        futures = []
        for i in range(tasks):
            futures.append(app())
            if sys.stderr.isatty() and i % 200 == 0:
                print(f"\r{label}: submitted {i}/{tasks}", end="", file=sys.stderr)
        for n, f in enumerate(futures, 1):
            f.result()
            if sys.stderr.isatty() and n % 200 == 0:
                print(f"\r{label}: done {n}/{tasks}     ", end="", file=sys.stderr)
        elapsed = time.perf_counter() - started
        if sys.stderr.isatty():
            print(file=sys.stderr)
    return tasks / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    # HTEX starts its interchange and workers as commands of this environment
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    base = Path(tempfile.mkdtemp(prefix="condorexec-bench-"))
    rates: dict[str, list[float]] = {"per_call": [], "workers": [], "htex": []}
    for r in range(args.repeat):
        for mode in ("per_call", "workers"):
            condor = CondorExecutor(label="condorexec", pool="local", nodes=["cpus=2,memory=4000"],
                                    state_dir=str(base / "state"), mode=mode)
            rates[mode].append(run(Config(executors=[condor], run_dir=str(base / f"{mode}{r}"), strategy="none"),
                                   args.tasks, f"condorexec {mode}"))
        htex = HighThroughputExecutor(label="htex", max_workers_per_node=2,
                                      provider=LocalProvider(init_blocks=1, max_blocks=1))
        rates["htex"].append(run(Config(executors=[htex], run_dir=str(base / f"h{r}")), args.tasks, "htex",
                                 noop_plain))
    print(f"\n{args.tasks} no-op apps, 2 cores/workers, {args.repeat} runs (tasks/s; ratio to HTEX of the same run)")
    print(f"{'run':>4}  {'per-call jobs':>14}  {'ratio':>6}  {'slot workers':>17}  {'ratio':>6}  {'HTEX':>8}")
    ratios: dict[str, list[float]] = {"per_call": [], "workers": []}
    for i in range(args.repeat):
        h = rates["htex"][i]
        for mode in ratios:
            ratios[mode].append(rates[mode][i] / h)
        print(f"{i + 1:>4}  {rates['per_call'][i]:>14.0f}  {ratios['per_call'][i]:>6.2f}  "
              f"{rates['workers'][i]:>17.0f}  {ratios['workers'][i]:>6.2f}  {h:>8.0f}")
    print(f"{'median':>6}{statistics.median(rates['per_call']):>12.0f}  {statistics.median(ratios['per_call']):>6.2f}  "
          f"{statistics.median(rates['workers']):>17.0f}  {statistics.median(ratios['workers']):>6.2f}  "
          f"{statistics.median(rates['htex']):>8.0f}")
    print("goal: slot workers >= 1.5x HTEX (median ratio)")


if __name__ == "__main__":
    main()
