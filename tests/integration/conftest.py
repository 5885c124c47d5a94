import parsl
import pytest
from parsl.config import Config

from condorexec import CondorExecutor


@pytest.fixture(scope="module")
def dfk(tmp_path_factory):
    """One Parsl run on an emulated 8-core / 8000 MB node, shared by a module's tests."""
    base = tmp_path_factory.mktemp("run")
    executor = CondorExecutor(label="itest", pool="local", mode="per_call", nodes=["cpus=8,memory=8000,disk=50000"],
                              state_dir=str(base / "state"), monitor_period=0.1, batch_window=0.05)
    dfk = parsl.load(Config(executors=[executor], run_dir=str(base / "runinfo"), strategy="none"))
    yield dfk
    dfk.cleanup()


@pytest.fixture
def executor(dfk):
    return dfk.executors["itest"]
