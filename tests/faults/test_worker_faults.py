"""Faults that slot workers must ride out (issue "Hardening II", points 4 and 5): a result of hundreds of MB
comes back whole rather than hanging, and a worker killed by any means takes its call processes with it.
Through Parsl on the local pool, and the node-side worker run as a process of its own."""

from __future__ import annotations

import os
import signal
import sys
import time

import parsl
import psutil
import pytest
from parsl import python_app
from parsl.config import Config

from condorexec import CondorExecutor
from tests.unit.test_worker import _call, _start, sleep_then

pytestmark = pytest.mark.fault


@python_app
def weighs(megabytes, parsl_resource_specification={"cores": 1, "memory": 2000, "disk": 10}):  # noqa: B006
    return b"x" * (megabytes * 2**20)


def test_a_result_of_a_hundred_mb_comes_back_whole_from_a_worker(tmp_path):
    """It used to be read one pipe buffer per sampling tick into a growing bytes object: 100 MB took a
    minute and 300 MB never came back."""
    executor = CondorExecutor(label="big", pool="local", nodes=["cpus=2,memory=6000,disk=20000"], mode="workers",
                              state_dir=str(tmp_path / "state"), worker_idle_timeout=5)
    dfk = parsl.load(Config(executors=[executor], run_dir=str(tmp_path / "runinfo"), strategy="none"))
    try:
        assert weighs(1).result(timeout=60) == b"x" * 2**20
        assert weighs(100).result(timeout=60) == b"x" * (100 * 2**20)
        assert executor.stats["jobs"] == 0, "both ran in a worker"
    finally:
        dfk.cleanup()
        parsl.clear()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_worker_killed_with_sigkill_takes_its_running_calls_with_it(tmp_path):
    """A SIGKILL runs no handler: the call processes, each in a process group of its own, must still end."""
    worker = _start(tmp_path, [_call(1, sleep_then, 120, "never"), _call(2, sleep_then, 120, "never")], cores=2)
    deadline = time.monotonic() + 20
    calls: list[psutil.Process] = []
    while time.monotonic() < deadline and len(calls) < 2:
        calls = psutil.Process(worker.pid).children()
        time.sleep(0.05)
    assert len(calls) == 2, "two calls run side by side"
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    gone, alive = psutil.wait_procs(calls, timeout=10)
    assert not alive, f"call processes outlived their worker: {alive}"
