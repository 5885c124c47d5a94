"""How many jobs per second the local pool's launcher starts and reaps.

Why: the local pool must push thousands of trivial jobs through two cores at hundreds per second,
so per-job overhead of fork, setup, measurement and reporting is what counts. Runs no-op Python
jobs (forked from the warm server) and ``/bin/true`` exec jobs, two at a time (a 2-core pool) and
all at once (only the launcher's own limits).

    /work/venv/bin/python tests/bench/launcher_rate.py [--python N] [--exec N]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import threading
import time

from condorexec.pools.local.launcher import JobExit, Launcher, LaunchRequest

#: run as a script, this module is __main__ for us but importable as launcher_rate for the fork server
_ENTRY = f"{'launcher_rate' if __name__ == '__main__' else __name__}:noop"


def noop(argv: list[str]) -> int:
    """The Python job: does nothing, exits 0."""
    return 0


def cpu_seconds() -> float:
    """CPU used by this process and its reaped descendants (the server, and through it the jobs)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(kind: str, count: int, parallel: int | None, sandbox: str) -> tuple[float, float]:
    """Run ``count`` jobs with at most ``parallel`` at once (None: no limit).

    Returns jobs/s and CPU milliseconds per job (parent, server and job together, launcher start
    and stop included): the second is the steadier figure on a machine shared with other work."""
    cpu_before = cpu_seconds()
    slots = threading.Semaphore(parallel or count)
    finished = threading.Semaphore(0)
    failures: list[JobExit] = []

    def on_exit(result: JobExit) -> None:
        if result.exit_code != 0:
            failures.append(result)
        slots.release()
        finished.release()

    if kind == "python":
        def request(i: int) -> LaunchRequest:
            return LaunchRequest(f"1.{i}", "python", [], sandbox, {}, entry_point=_ENTRY)
    else:
        def request(i: int) -> LaunchRequest:
            return LaunchRequest(f"1.{i}", "exec", ["/bin/true"], sandbox, {"PATH": "/usr/bin:/bin"})

    with Launcher(on_exit, monitor_period=0.5) as launcher:
        launcher.launch(request(-1))  # warm up: server started, entry point imported
        finished.acquire()
        slots.release()
        start = time.perf_counter()
        for i in range(count):
            slots.acquire()
            launcher.launch(request(i))
        for _ in range(count):
            finished.acquire()
        elapsed = time.perf_counter() - start
    if failures:
        raise SystemExit(f"{len(failures)} {kind} jobs failed, e.g. {failures[0]}")
    return count / elapsed, (cpu_seconds() - cpu_before) / count * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--python", type=int, default=1000, help="no-op Python jobs (default 1000)")
    parser.add_argument("--exec", type=int, default=200, help="/bin/true exec jobs (default 200)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as sandbox:
        for kind, count in (("python", args.python), ("exec", args.exec)):
            for parallel in (2, None):
                rate, cpu_ms = run(kind, count, parallel, sandbox)
                label = "2 at a time" if parallel else "unlimited"
                print(f"{kind:6} {count:5d} jobs, {label:11}: {rate:6.0f} jobs/s, {cpu_ms:5.2f} CPU ms/job")


if __name__ == "__main__":
    main()
