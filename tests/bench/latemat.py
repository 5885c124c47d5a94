"""Benchmark: ``condorexec submit`` of ``queue 1000000`` with ``max_materialize = 10`` (not run by pytest).

For each of two descriptions — procs that differ only in ProcId, and procs whose arguments are
``$(Process)`` — it times the submit until its "submitted" line, then for 5 s counts the procs in the
queue (``condorexec q``) and, on the local pool, the submitting process's RSS; then removes the cluster.
On HTCondor the jobs get a Requirements no slot matches, so nothing runs (run as the pool's user:
``shared/htcondor/pool run``). Last, what checking every proc ad cost before (``plan.ads`` walked whole).

    python tests/bench/latemat.py local|condor [WORKDIR]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from condorexec.submit import parse_description, plan_jobs

CONSOLE = str(Path(sys.executable).with_name("condorexec"))
NOWHERE = 'requirements = (TARGET.Name == "condorexec-bench-nowhere")\n'
DESCRIPTIONS = {
    "same": "executable = /bin/true\nmax_materialize = 10\nqueue 1000000\n",
    "distinct": "executable = /bin/true\narguments = $(Process)\nmax_materialize = 10\nqueue 1000000\n",
}


def _pool_args(backend: str, where: Path) -> list[str]:
    return ["--backend", backend] + (["--state-dir", str(where / "state")] if backend == "local" else [])


def run(backend: str, name: str, where: Path) -> str:
    sub = where / f"{name}.sub"
    sub.write_text((NOWHERE if backend == "condor" else "") + DESCRIPTIONS[name])
    pool = _pool_args(backend, where)
    started = time.monotonic()
    proc = subprocess.Popen([CONSOLE, "submit", *pool, sub.name], cwd=where, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = ""
    while "submitted to cluster" not in line:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            return f"{name}: submit failed: {proc.stderr.read()}"
    took = time.monotonic() - started
    cluster = line.rsplit("cluster ", 1)[1].rstrip(".\n")
    most, rss = 0, 0.0
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        q = subprocess.run([CONSOLE, "q", *pool, cluster, "-af", "ProcId"], capture_output=True, text=True)
        most = max(most, len(q.stdout.split()))
        if proc.poll() is None:
            rss = max(rss, psutil.Process(proc.pid).memory_info().rss / 2**20)
        time.sleep(0.1)
    subprocess.run([CONSOLE, "rm", *pool, cluster], capture_output=True, text=True)
    proc.communicate(timeout=60)
    memory = f", submit process RSS {rss:.0f} MB" if backend == "local" else ""
    return f"{name}: submitted in {took:.2f} s; at most {most} procs in the queue{memory}"


def old_check(name: str) -> str:
    plan = plan_jobs(parse_description(DESCRIPTIONS[name]), cluster_id=1, submit_dir="/tmp", owner="me", qdate=0)
    started = time.monotonic()
    n = sum(1 for _ in plan.ads)
    return f"{name}: making every one of the {n} proc ads (the check before) takes {time.monotonic() - started:.1f} s"


def main() -> None:
    backend = sys.argv[1] if len(sys.argv) > 1 else "local"
    where = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp(prefix="latemat-bench-"))
    for name in DESCRIPTIONS:
        print(run(backend, name, where), flush=True)
    for name in DESCRIPTIONS:
        print(old_check(name), flush=True)


if __name__ == "__main__":
    main()
