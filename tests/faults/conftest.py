"""A running executor for the fault suite's cases that need a pool but not Parsl's DataFlowKernel."""

from __future__ import annotations

import pytest

from condorexec import CondorExecutor


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    """A started executor on a 2-core / 2000 MB / 5000 MB local node, whose run directory itself holds
    a submit-language macro (it must arrive literally, like every other path)."""
    base = tmp_path_factory.mktemp("running")
    executor = CondorExecutor(pool="local", nodes=["cpus=2,memory=2000,disk=5000"], state_dir=str(base / "state"),
                              batch_window=0.01)
    executor.run_dir = str(base / "run$(HOME)")
    executor.start()
    yield executor
    executor.shutdown()
