"""Issue 27 (5, 6): no process a local-pool job started outlives the job, whatever session or process
group it put itself in, as HTCondor's starter ensures: not after the job ends, is removed, the pool is
closed, or the submitting process is SIGKILLed."""

from __future__ import annotations

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


def _kill_if_alive(pids: list[int]) -> None:
    for pid in pids:  # never leave a stray behind a failed test
        if _alive(pid):
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
        _kill_if_alive(found)


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
        _kill_if_alive(found)
