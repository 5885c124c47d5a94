"""Issue 27 (5, 6): no process a local-pool job started outlives the job, whatever session or process
group it put itself in, as HTCondor's starter ensures: not after the job ends, is removed, the pool is
closed, or the submitting process is SIGKILLed."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import htcondor2
import psutil
import pytest

from condorexec import CondorExecutor
from condorexec.pools.local import LocalPool

pytestmark = [pytest.mark.fault, pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux prctl")]

#: a job that leaves two processes behind: one in a session of its own (setsid), one in a process
#: group of its own (as a category worker's call processes are), then sleeps $2 seconds
STRAYS_JOB = """#!/bin/bash
setsid sleep 600 < /dev/null > /dev/null 2>&1 &
echo $! >> "$1"
set -m
sleep 600 < /dev/null > /dev/null 2>&1 &
echo $! >> "$1"
set +m
echo started >> "$1.ready"
sleep "$2"
"""


def _description(tmp_path: Path, pids: Path, seconds: float) -> htcondor2.Submit:
    script = tmp_path / "strays.sh"
    script.write_text(STRAYS_JOB)
    script.chmod(0o755)
    return htcondor2.Submit({"executable": str(script), "arguments": f"{pids} {seconds}",
                             "log": str(tmp_path / "job.log"), "request_memory": "100MB", "request_disk": "10MB"})


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait(condition, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def _started_pids(pids: Path) -> list[int]:
    assert _wait(lambda: Path(f"{pids}.ready").exists()), "the job did not start its children"
    found = [int(line) for line in pids.read_text().split()]
    assert len(found) == 2 and all(_alive(p) for p in found)
    return found


def _kill_if_alive(pids: list[int], under: Path | None = None) -> None:
    """Never leave a stray behind a failed test: ``pids``, and every process whose working directory is
    under ``under`` (the test's sandboxes)."""
    if under is not None:
        pids = [*pids, *(p.pid for p in psutil.process_iter() if _cwd(p).startswith(str(under)))]
    for pid in pids:
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.mark.parametrize("how", ["ends", "removed", "pool closed"])
def test_every_process_a_job_started_is_gone(tmp_path, how: str) -> None:
    pids = tmp_path / "pids"
    pool = LocalPool(["cpus=1,memory=1000"], state_dir=tmp_path / "state", monitor_period=0.1)
    found: list[int] = []
    try:
        result = pool.submit(_description(tmp_path, pids, 1 if how == "ends" else 600), submit_dir=tmp_path)
        found = _started_pids(pids)
        if how == "removed":
            pool.act(htcondor2.JobAction.Remove, result.job_ids())
        elif how == "pool closed":
            pool.close()
        assert _wait(lambda: not pool.query()), "the job did not leave the queue"
        assert _wait(lambda: not any(_alive(p) for p in found)), \
            f"after the job {how}, processes it started still run: {[p for p in found if _alive(p)]}"
    finally:
        pool.close()
        _kill_if_alive(found, tmp_path)


def test_a_sigkilled_submitter_leaves_no_process_of_its_jobs(tmp_path) -> None:
    pids = tmp_path / "pids"
    _description(tmp_path, pids, 600)  # writes the script
    script = textwrap.dedent(f"""
        import time, htcondor2
        from condorexec.pools.local import LocalPool
        pool = LocalPool(["cpus=1,memory=1000"], state_dir={str(tmp_path / "state")!r}, monitor_period=0.1)
        pool.submit(htcondor2.Submit({{"executable": {str(tmp_path / "strays.sh")!r},
                                      "arguments": "{pids} 600", "request_memory": "100MB"}}))
        time.sleep(600)
    """)
    submitter = subprocess.Popen([sys.executable, "-c", script], cwd=tmp_path)
    found: list[int] = []
    try:
        found = _started_pids(pids)
        job_roots = [c.pid for c in psutil.Process(submitter.pid).children(recursive=True)]
        submitter.kill()
        submitter.wait(timeout=10)
        assert _wait(lambda: not any(_alive(p) for p in found + job_roots)), \
            f"processes left after the submitter was SIGKILLed: {[p for p in found + job_roots if _alive(p)]}"
    finally:
        if submitter.poll() is None:
            submitter.kill()
        _kill_if_alive(found, tmp_path)


def leave_a_stray(pid_file: str) -> None:
    """A call that starts a child in a session of its own, says both pids, and runs on."""
    import os
    import subprocess
    import time

    child = subprocess.Popen(["sleep", "600"], start_new_session=True)
    with open(pid_file + ".tmp", "w") as f:
        f.write(f"{os.getpid()} {child.pid}\n")
    os.rename(pid_file + ".tmp", pid_file)
    time.sleep(600)


def _call_pids(pid_file: Path) -> list[int]:
    assert _wait(pid_file.exists, 60), "the call did not start"
    return [int(p) for p in pid_file.read_text().split()]


@pytest.mark.parametrize("mode", ["workers", "per_call"])
def test_shutdown_leaves_no_worker_call_or_child_of_a_call_running(tmp_path, mode: str) -> None:
    executor = CondorExecutor(label="strays", pool="local", mode=mode, nodes=["cpus=2,memory=2000,disk=5000"],
                              state_dir=str(tmp_path / "state"), monitor_period=0.1, batch_window=0.01)
    executor.run_dir = str(tmp_path / "run")
    executor.start()
    found: list[int] = []
    try:
        future = executor.submit(leave_a_stray, {"memory": 100}, str(tmp_path / "pids"))
        if not _wait((tmp_path / "pids").exists, 60):  # say what the jobs did (the event log)
            logs = {str(p): p.read_text()[-1500:] for p in (tmp_path / "run").rglob("*.log")}
            pytest.fail(f"the call did not start; queue: {executor.pool.query()}; logs: {logs}")
        found = _call_pids(tmp_path / "pids")
        jobs = [p.pid for p in psutil.Process().children(recursive=True) if "/localpool/execute/" in _cwd(p)]
        assert jobs, "no job process found"
        executor.shutdown()
        assert future.done()
        left = lambda: [p for p in {*found, *jobs} if _alive(p)]  # noqa: E731
        assert _wait(lambda: not left()), f"still running after shutdown ({mode}): {left()}"
    finally:
        _kill_if_alive(found, tmp_path)


SUBMITTER = textwrap.dedent("""
    import sys, time
    from condorexec import CondorExecutor
    from tests.faults.test_local_strays import leave_a_stray

    base = sys.argv[1]
    executor = CondorExecutor(label="k", pool="local", mode="workers", nodes=["cpus=2,memory=2000,disk=5000"],
                              state_dir=base + "/state", monitor_period=0.1, batch_window=0.01)
    executor.run_dir = base + "/run"
    executor.start()
    executor.submit(leave_a_stray, {"memory": 100}, base + "/pids")
    time.sleep(600)
""")


def test_a_sigkilled_submitter_leaves_no_worker_or_call_running(tmp_path) -> None:
    """The issue's case: 30 s after the submitter was SIGKILLed, its worker was still running a call."""
    root = Path(__file__).resolve().parents[2]
    with (tmp_path / "submitter.err").open("w") as err:
        submitter = subprocess.Popen([sys.executable, "-c", SUBMITTER, str(tmp_path)], cwd=root, stderr=err)
    found: list[int] = []
    try:
        if not _wait((tmp_path / "pids").exists, 60):
            pytest.fail(f"the call did not start; the submitter said: {(tmp_path / 'submitter.err').read_text()}")
        found = _call_pids(tmp_path / "pids")
        jobs = [p.pid for p in psutil.Process(submitter.pid).children(recursive=True)
                if "/localpool/execute/" in _cwd(p)]
        assert jobs, "no job process found"
        submitter.kill()
        submitter.wait(timeout=10)
        left = lambda: [p for p in {*found, *jobs} if _alive(p)]  # noqa: E731
        assert _wait(lambda: not left()), f"still running after the submitter was SIGKILLed: {left()}"
    finally:
        if submitter.poll() is None:
            submitter.kill()
        _kill_if_alive(found, tmp_path)


def _cwd(process: psutil.Process) -> str:
    try:
        return process.cwd()
    except psutil.Error:
        return ""
