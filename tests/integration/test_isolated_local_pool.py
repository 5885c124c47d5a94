"""LocalPool(isolate=True): a job sees only its sandbox and the system's read-only directories, so a
job that reads a submit-side path fails here as it would on a real pool without a shared filesystem."""

from __future__ import annotations

import parsl
import pytest
from parsl import python_app
from parsl.config import Config
from parsl.data_provider.files import File

from condorexec import CondorExecutor
from condorexec.pools.local.isolation import IsolationUnavailable, check_bwrap

try:
    check_bwrap()
    REASON = ""
except IsolationUnavailable as exc:
    REASON = str(exc)

pytestmark = pytest.mark.skipif(bool(REASON), reason=REASON or "bwrap works")


@python_app
def read_path(path, parsl_resource_specification={"memory": 300, "disk": 10}):  # noqa: B006
    with open(path) as f:
        return f.read()


@python_app
def read_input(inputs=(), parsl_resource_specification={"memory": 300, "disk": 10}):  # noqa: B006
    with open(inputs[0].filepath) as f:
        return f.read()


@pytest.mark.parametrize("mode", ["per_call", "workers"])
def test_a_job_cannot_read_a_submit_side_path_but_gets_its_transferred_inputs(tmp_path, mode):
    secret = tmp_path / "submit-side.txt"
    secret.write_text("only on the submit host")
    executor = CondorExecutor(label="iso", pool="local", isolate=True, mode=mode, state_dir=str(tmp_path / "state"),
                              nodes=["cpus=2,memory=2000,disk=20000"], worker_idle_timeout=5)
    dfk = parsl.load(Config(executors=[executor], run_dir=str(tmp_path / "runinfo"), strategy="none"))
    try:
        assert read_input(inputs=[File(str(secret))]).result(timeout=120) == "only on the submit host"
        with pytest.raises(FileNotFoundError):
            read_path(str(secret)).result(timeout=120)
    finally:
        dfk.cleanup()
        parsl.clear()


@pytest.mark.bad_input
def test_isolate_must_be_a_bool():
    from condorexec.errors import InvalidSpecError

    with pytest.raises(InvalidSpecError, match="isolate"):
        CondorExecutor(pool="local", isolate="yes")


def test_the_bwrap_command_binds_tmp_first_so_paths_under_tmp_stay_visible():
    from condorexec.pools.local.isolation import bwrap_argv

    argv = bwrap_argv("bwrap", ["/bin/true"], "/tmp/sandbox", read_only=["/tmp/venv"], read_write=["/tmp/run"])
    tmpfs = argv.index("--tmpfs")
    assert tmpfs < argv.index("/tmp/venv") < argv.index("/tmp/run") < argv.index("/tmp/sandbox")
    assert argv[argv.index("/tmp/venv") - 1] == "--ro-bind" and argv[argv.index("/tmp/run") - 1] == "--bind"
    assert argv[-2:] == ["--", "/bin/true"]
