"""Fixtures for the live HTCondor tests: the pool (or a skip saying why not) and per-test cleanup.

Every test here is marked ``condor`` and is excluded from the default run. They need a schedd that
answers and a user HTCondor accepts jobs from (never root): ci/condor-tests.sh arranges both by
starting shared/htcondor/pool and running pytest as the pool's user.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import htcondor2
import pytest

from condorexec.pools.condor import CondorPool
from condorexec.pools.select import condor_config_source, probe_schedd

HOW = "start one with shared/htcondor/pool start and run these tests via ci/condor-tests.sh"


@pytest.fixture(scope="session")
def condor_pool() -> Iterator[CondorPool]:
    """The live pool, or a skip with the reason no schedd can be used."""
    if os.geteuid() == 0:
        pytest.skip(f"running as root, and HTCondor never accepts jobs owned by root: {HOW}")
    if condor_config_source() is None:
        pytest.skip(f"no HTCondor configuration (CONDOR_CONFIG unset): {HOW}")
    ok, detail = probe_schedd(timeout=5)
    if not ok:
        pytest.skip(f"no HTCondor schedd answered within 5s ({detail}): {HOW}")
    pool = CondorPool()
    yield pool
    pool.close()


@pytest.fixture
def tag(condor_pool: CondorPool) -> Iterator[str]:
    """A value for the job attribute ``CondorexecTest``, unique to this test; its jobs are removed
    at the end whatever happened."""
    value = f"t{uuid.uuid4().hex[:12]}"
    yield value
    constraint = f'CondorexecTest == "{value}"'
    if condor_pool.query(constraint, ["ClusterId"]):
        condor_pool.act(htcondor2.JobAction.Remove, constraint)


@pytest.fixture
def job_dir(tmp_path: Path) -> Path:
    """Where a test's job writes its log and output: pytest's tmp dir, owned by the pool's user."""
    tmp_path.chmod(0o755)
    return tmp_path


@pytest.fixture
def make_description(tag: str, job_dir: Path) -> Callable[..., htcondor2.Submit]:
    """An ``htcondor2.Submit`` for a job tagged for cleanup, logging to ``job_dir/job.log``."""

    def make(executable: str, arguments: str = "", **extra: str) -> htcondor2.Submit:
        desc = {
            "executable": executable,
            "arguments": arguments,
            "transfer_executable": "false",
            "log": str(job_dir / "job.log"),
            "output": str(job_dir / "out.$(ProcId)"),
            "error": str(job_dir / "err.$(ProcId)"),
            "request_cpus": "1",
            "request_memory": "64MB",
            "request_disk": "10MB",
            "MY.CondorexecTest": f'"{tag}"',
        }
        desc.update(extra)
        return htcondor2.Submit(desc)

    return make


def wait_for(what: str, check: Callable[[], Any], timeout: float = 60.0, every: float = 0.5) -> Any:
    """Poll ``check`` until it returns something truthy; fail naming ``what`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(every)
