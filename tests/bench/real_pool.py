"""Makespan of no-op work on a real HTCondor pool: CondorExecutor against one plain ``condor_submit``.

    bash ci/condor-tests.sh --co -q    # optional: sets up /tmp/condorexec-ci and /tmp/venv-pool once
    cd /tmp/condorexec-ci && /work/shared/htcondor/pool run /tmp/venv-pool/bin/python \\
        tests/bench/real_pool.py [--jobs 300] [--order plain-first|condorexec-first]

Runs as the pool's user (``pool run``), against the pool CONDOR_CONFIG names, in one process:

* plain: ``condor_submit`` of one description with ``queue N``, each job starting this same Python
  to do nothing (``python -c pass``), with file transfer on as condorexec's jobs have it; the
  makespan runs from calling condor_submit to the N-th "Job terminated" event in its log.
* condorexec: N calls of a no-op function through ``CondorExecutor(pool="condor")``; the makespan
  runs from the first ``submit`` to the last result.

Prints both makespans, their ratio (the goal: condorexec within 1.2x of plain condor_submit) and
the clusters condorexec made. Both sides run at request_cpus=1, request_memory=100MB,
request_disk=10MB, so the pool runs as many of either at once.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import htcondor2

from condorexec import CondorExecutor

SPEC = {"cores": 1, "memory": 100, "disk": 10}


def noop() -> None:
    return None


def plain_condor_submit(jobs: int, work: Path) -> float:
    """One condor_submit of ``queue jobs``; seconds until every job has terminated."""
    log = work / "plain.log"
    description = work / "plain.sub"
    description.write_text("\n".join([
        "universe = vanilla",
        f"executable = {sys.executable}",
        "arguments = -c pass",
        "transfer_executable = false",
        "should_transfer_files = YES",
        "when_to_transfer_output = ON_EXIT",
        f"initialdir = {work}",
        f"log = {log}",
        "output = plain.out.$(ProcId)",
        "error = plain.err.$(ProcId)",
        "request_cpus = 1",
        "request_memory = 100MB",
        "request_disk = 10MB",
        '+CondorexecBench = "plain"',
        f"queue {jobs}",
        "",
    ]))
    started = time.monotonic()
    subprocess.run(["condor_submit", "-terse", str(description)], check=True, capture_output=True, text=True)
    reader = htcondor2.JobEventLog(str(log))
    done: set[tuple[int, int]] = set()
    deadline = started + 60 * 60
    while len(done) < jobs:
        for event in reader.events(stop_after=1):
            if event.type == htcondor2.JobEventType.JOB_TERMINATED:
                done.add((event.cluster, event.proc))
            elif event.type in (htcondor2.JobEventType.JOB_HELD, htcondor2.JobEventType.JOB_ABORTED):
                raise RuntimeError(f"plain job {event.cluster}.{event.proc} was {event.type.name}: {event}")
        if time.monotonic() > deadline:
            raise TimeoutError(f"only {len(done)} of {jobs} plain jobs finished within an hour")
    return time.monotonic() - started


def through_condorexec(jobs: int, work: Path) -> tuple[float, int]:
    """``jobs`` no-op calls through CondorExecutor; seconds until the last result, and clusters made."""
    executor = CondorExecutor(label="bench", pool="condor")
    executor.run_dir = str(work / "run")
    executor.start()
    try:
        started = time.monotonic()
        futures = [executor.submit(noop, SPEC) for _ in range(jobs)]
        for future in futures:
            future.result(timeout=60 * 60)
        elapsed = time.monotonic() - started
        return elapsed, executor.stats["clusters"]
    finally:
        executor.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=300, help="jobs on each side (default 300)")
    parser.add_argument("--order", choices=("plain-first", "condorexec-first"), default="plain-first")
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    if os.geteuid() == 0:
        sys.exit("HTCondor refuses root's jobs: run this through `pool run` (see docs/htcondor-pool.md)")

    with tempfile.TemporaryDirectory(prefix="condorexec-real-pool-") as tmp:
        work = Path(tmp)
        work.chmod(0o755)
        results: dict[str, float] = {}
        clusters = 0
        sides = ["plain", "condorexec"] if args.order == "plain-first" else ["condorexec", "plain"]
        for side in sides:
            if side == "plain":
                results[side] = plain_condor_submit(args.jobs, work)
            else:
                results[side], clusters = through_condorexec(args.jobs, work)
            print(f"{side:>11}: {args.jobs} jobs in {results[side]:7.1f} s "
                  f"({args.jobs / results[side]:.2f} jobs/s)", flush=True)
    ratio = results["condorexec"] / results["plain"]
    print(f"ratio condorexec / plain condor_submit: {ratio:.2f}x (goal: <= 1.2x); "
          f"condorexec made {clusters} cluster(s) for {args.jobs} calls")


if __name__ == "__main__":
    main()
