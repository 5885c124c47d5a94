"""No-op apps per second on a real HTCondor pool: one job per call, slot workers, and HTEX +
CondorProvider (Parsl's own htcondor_ci config), against the same pool in one run.

    bash ci/condor-tests.sh --co -q    # optional: sets up /tmp/condorexec-ci and /tmp/venv-pool once
    cd /tmp/condorexec-ci && /work/shared/htcondor/pool run /tmp/venv-pool/bin/python \\
        tests/bench/real_pool_workers.py [--tasks 2000] [--per-call-tasks 40] [--repeat 3]

Each run warms each executor up (its workers or its block started), then times ``--tasks`` no-op calls
from the first submission to the last result (``--per-call-tasks`` for one job per call, which runs at
a couple of calls per second). The machine is noisy: the table gives every run and the medians of the
ratios. Goals (docs/workers.md): workers >= 0.5x HTEX + CondorProvider and >= 100x per-call jobs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

import parsl
from parsl import python_app

sys.path.insert(0, str(Path(__file__).resolve().parent))
from configs.condor_pool import fresh_config  # noqa: E402
from throughput import run  # noqa: E402


@python_app
def noop():  # defined here, in __main__, so that it travels by value (HTEX's workers cannot import this file)
    return None


def rate(mode: str, tasks: int, run_dir: Path) -> float:
    config = fresh_config(mode)
    config.run_dir = str(run_dir)
    try:  # one job per call runs a couple of calls a second: warm it up with two, not twenty
        return run(config, tasks, mode, noop, warmup=2 if mode == "per_call" else 20)
    finally:
        parsl.clear()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--per-call-tasks", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    # HTEX starts its interchange (and, through the CondorProvider, its workers) as commands of this venv
    os.environ["PATH"] = os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")
    base = Path(tempfile.mkdtemp(prefix="condorexec-realbench-"))
    os.chmod(base, 0o755)
    rows = []
    for r in range(args.repeat):
        rows.append({mode: rate(mode, args.per_call_tasks if mode == "per_call" else args.tasks, base / f"{mode}{r}")
                     for mode in ("htex", "workers", "per_call")})
        print(f"run {r + 1}: " + ", ".join(f"{m} {v:.1f}/s" for m, v in rows[-1].items()), file=sys.stderr)
    print(f"\nno-op apps on the live pool ({args.tasks} per run; {args.per_call_tasks} for per-call jobs), tasks/s")
    print(f"{'run':>6}  {'per-call jobs':>13}  {'workers':>9}  {'HTEX+CondorProvider':>19}  "
          f"{'workers/HTEX':>12}  {'workers/per-call':>16}")
    for i, row in enumerate(rows, 1):
        print(f"{i:>6}  {row['per_call']:>13.1f}  {row['workers']:>9.1f}  {row['htex']:>19.1f}  "
              f"{row['workers'] / row['htex']:>12.2f}  {row['workers'] / row['per_call']:>16.0f}")
    med = {m: statistics.median(r[m] for r in rows) for m in rows[0]}
    print(f"{'median':>6}  {med['per_call']:>13.1f}  {med['workers']:>9.1f}  {med['htex']:>19.1f}  "
          f"{statistics.median(r['workers'] / r['htex'] for r in rows):>12.2f}  "
          f"{statistics.median(r['workers'] / r['per_call'] for r in rows):>16.0f}")
    print("goals: workers/HTEX >= 0.5, workers/per-call >= 100 (medians)")


if __name__ == "__main__":
    main()
