"""No-op apps per second: CondorExecutor on the embedded local pool vs Parsl's HighThroughputExecutor.

    python tests/bench/throughput.py [--tasks 2000] [--repeat 1]

Both run in this process, one after the other, with 2 workers/cores. The rate counts from the
first submission to the last result, so start-up (pool, interpreters) is excluded for both.
Prints a table; the goal is CondorExecutor at >= half of HTEX's rate.
"""

from __future__ import annotations

import argparse
import os
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


def run(config: Config, tasks: int, label: str, app=noop) -> float:
    with parsl.load(config):
        [app().result() for _ in range(20)]  # warm up: workers/fork server started
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
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    # HTEX starts its interchange and workers as commands of this environment
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    base = Path(tempfile.mkdtemp(prefix="condorexec-bench-"))
    rows = []
    for r in range(args.repeat):
        condor = CondorExecutor(label="condorexec", pool="local", nodes=["cpus=2,memory=4000"],
                                state_dir=str(base / "state"))
        rate_c = run(Config(executors=[condor], run_dir=str(base / f"c{r}"), strategy="none"), args.tasks,
                     "condorexec")
        htex = HighThroughputExecutor(label="htex", max_workers_per_node=2,
                                      provider=LocalProvider(init_blocks=1, max_blocks=1))
        rate_h = run(Config(executors=[htex], run_dir=str(base / f"h{r}")), args.tasks, "htex", noop_plain)
        rows.append((rate_c, rate_h))
    print(f"\n{args.tasks} no-op apps, 2 cores/workers")
    print(f"{'run':>4}  {'CondorExecutor (local pool) tasks/s':>36}  {'HTEX tasks/s':>13}  {'ratio':>6}")
    for i, (c, h) in enumerate(rows, 1):
        print(f"{i:>4}  {c:>36.0f}  {h:>13.0f}  {c / h:>6.2f}")


if __name__ == "__main__":
    main()
