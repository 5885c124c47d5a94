"""CondorExecutor on the live HTCondor pool, proven from the schedd's own history and event logs.

Run with ``bash ci/condor-tests.sh`` (as the pool's user; see docs/htcondor-pool.md). Each test
removes its run's jobs at the end (``shutdown`` removes by ``CondorexecRun``; the ``no_leftovers``
check then reads the queue to prove it).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterator
from pathlib import Path

import cloudpickle
import htcondor2
import parsl
import pytest
from parsl import bash_app, python_app
from parsl.config import Config
from parsl.data_provider.files import File

from condorexec import CondorExecutor
from condorexec.errors import ResourceExhausted
from condorexec.pools.condor import CondorPool

from .conftest import wait_for

pytestmark = pytest.mark.condor

# The apps live in this test module, which the execute node cannot import (it only has the job's
# sandbox on sys.path); a script's __main__ functions travel by value, so make these do the same.
cloudpickle.register_pickle_by_value(sys.modules[__name__])

ET = htcondor2.JobEventType
SIZES = ["CondorexecApp", "ClusterId", "ProcId", "RequestCpus", "RequestMemory", "RequestDisk", "JobStatus",
         "LastHoldReasonCode", "LastHoldReasonSubCode", "TransferInput", "CondorexecTask"]


@python_app
def square(x, parsl_resource_specification={"cores": 1, "memory": 100, "disk": 10}):  # noqa: B006
    return x * x


@python_app
def wide(x, parsl_resource_specification={"cores": 2, "memory": 300, "disk": 20}):  # noqa: B006
    import os

    return x + 1, os.environ.get("_CONDOR_SCRATCH_DIR", "")


@python_app
def explode(parsl_resource_specification={"memory": 100, "disk": 10}):  # noqa: B006
    raise ZeroDivisionError("calibration failed for detector 4")


@python_app
def copy_upper(inputs=(), outputs=(), parsl_resource_specification={"memory": 120, "disk": 15}):  # noqa: B006
    import os

    with open(inputs[0].filepath) as src, open(outputs[0].filepath, "w") as dst:
        dst.write(src.read().upper())
    return sorted(os.listdir("."))


@bash_app
def shout(word, stdout=None, stderr=None, parsl_resource_specification={"memory": 200, "disk": 5}):  # noqa: B006
    return f"echo {word} && echo oops >&2"


@python_app
def hog(megabytes, seconds=15, parsl_resource_specification={"cores": 1, "memory": 100, "disk": 10}):  # noqa: B006
    return _hog(megabytes, seconds)


def _hog(megabytes: int, seconds: float = 15) -> int:
    """Touch ``megabytes`` of memory and keep it long enough for the startd to sample it (every 2 s)."""
    import time

    block = bytearray(megabytes * 2**20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    time.sleep(seconds)
    return len(block) // 2**20


def _noop(x: int = 0) -> int:
    return x


def _sleep(seconds: float) -> float:
    import time

    time.sleep(seconds)
    return seconds


def _where() -> tuple[str, str, str]:
    import os
    import sys

    return sys.executable, sys.prefix, os.getcwd()


def run_ads(pool: CondorPool, run_token: str, constraint: str = "true", projection=SIZES) -> list:
    return list(pool.history(f'CondorexecRun == "{run_token}" && ({constraint})', list(projection)))


def queued(pool: CondorPool, run_token: str) -> list:
    return pool.query(f'CondorexecRun == "{run_token}"', ["ClusterId", "ProcId", "JobStatus"])


def in_history(pool: CondorPool, run_token: str, n: int, constraint: str = "true") -> list:
    ads = run_ads(pool, run_token, constraint)
    return ads if len(ads) >= n else []


@pytest.fixture(scope="module")
def dfk(tmp_path_factory, condor_pool) -> Iterator[parsl.DataFlowKernel]:
    """One Parsl run on the live pool, shared by the module's workflow tests."""
    base = tmp_path_factory.mktemp("live")
    executor = CondorExecutor(label="live", pool="condor", mode="per_call", batch_window=0.1)
    dfk = parsl.load(Config(executors=[executor], run_dir=str(base / "runinfo"), strategy="none"))
    yield dfk
    dfk.cleanup()
    parsl.clear()
    assert not queued(condor_pool, executor.run_token), "shutdown left jobs of the run in the queue"


@pytest.fixture
def executor(dfk) -> CondorExecutor:
    return dfk.executors["live"]


def direct_executor(tmp_path: Path, **options) -> CondorExecutor:
    """A started executor driven without Parsl (``submit(func, spec, *args)``), for one test."""
    executor = CondorExecutor(label="direct", **{"mode": "per_call", **options})
    executor.run_dir = str(tmp_path / "run")
    executor.start()
    return executor


def test_heterogeneous_workflow_runs_with_each_jobs_own_sizes(executor, condor_pool, tmp_path):
    assert executor.pool.profile.name == "condor"
    src = tmp_path / "in.txt"
    src.write_text("hello condor")
    out = tmp_path / "results" / "out.txt"
    stdout, stderr = tmp_path / "shout.out", tmp_path / "shout.err"

    squares = [square(i) for i in range(10)]
    wides = [wide(i) for i in range(2)]
    copied = copy_upper(inputs=[File(str(src))], outputs=[File(str(out))])
    shouted = shout("hi", stdout=str(stdout), stderr=str(stderr))

    assert [f.result(timeout=300) for f in squares] == [i * i for i in range(10)]
    assert [f.result(timeout=300)[0] for f in wides] == [1, 2]
    assert wides[0].result()[1].startswith("/var/lib/condor-pool/execute/")  # ran in a real sandbox
    listing = copied.result(timeout=300)
    assert out.read_text() == "HELLO CONDOR" and "in.txt" in listing and "payload.pkl" in listing
    assert shouted.result(timeout=300) == 0
    assert stdout.read_text() == "hi\n" and stderr.read_text().endswith("oops\n")

    ads = wait_for("14 jobs in the schedd's history", lambda: in_history(condor_pool, executor.run_token, 14), 120)
    requested = {(ad["CondorexecApp"], ad["RequestCpus"], ad["RequestMemory"], ad["RequestDisk"]) for ad in ads}
    # exactly each spec, defaults filled in (cores 1); RequestDisk is KiB as HTCondor keeps it
    assert requested == {("square", 1, 100, 10 * 1024), ("wide", 2, 300, 20 * 1024),
                         ("copy_upper", 1, 120, 15 * 1024), ("shout", 1, 200, 5 * 1024)}
    assert all(ad["JobStatus"] == 4 for ad in ads)
    # calls made in one burst are batched: 14 calls within milliseconds go in at most 3 submits
    clusters = {ad["ClusterId"] for ad in ads}
    assert len(clusters) <= 3, sorted(clusters)
    assert executor.stats["clusters"] <= 3


def test_app_exception_comes_back_with_the_nodes_traceback(executor):
    with pytest.raises(ZeroDivisionError, match="detector 4") as info:
        explode().result(timeout=300)
    frames = "".join(traceback.format_exception(info.value))
    assert "in explode" in frames


def test_memory_hog_is_held_21_102_and_surfaces_as_resource_exhausted(executor, condor_pool):
    with pytest.raises(ResourceExhausted) as info:
        hog(600).result(timeout=300)
    err = info.value
    assert err.resource == "memory" and err.requested == 100
    assert "parsl_resource_specification" in str(err)
    held = [e for e in htcondor2.JobEventLog(str(executor.log_path)).events(0)
            if e.type == ET.JOB_HELD and f"{e.cluster}.{e.proc}" == err.job_id]
    # the pool's POLICY:HOLD_IF_MEMORY_EXCEEDED (no cgroups here); a cgroup pool says 34/102
    assert [(e["HoldReasonCode"], e["HoldReasonSubCode"]) for e in held] == [(21, 102)]
    cluster, proc = err.job_id.split(".")
    [ad] = wait_for("the hog in history", lambda: in_history(
        condor_pool, executor.run_token, 1, f"ClusterId == {cluster} && ProcId == {proc}"), 120)
    assert (ad["JobStatus"], ad["LastHoldReasonCode"], ad["LastHoldReasonSubCode"]) == (3, 21, 102)
    assert not condor_pool.query(f'CondorexecRun == "{executor.run_token}" && JobStatus == 5')


def test_autolabel_retries_a_held_hog_larger_and_it_succeeds(condor_pool, tmp_path):
    executor = direct_executor(tmp_path, pool="condor", autolabel=True, label_store=str(tmp_path / "labels.db"))
    try:
        spec = {"category": "hogs"}
        # learn the category from small runs first, so the label is far below what the big one needs
        small = [executor.submit(_hog, spec, 20, 3) for _ in range(2)]
        assert [f.result(timeout=300) for f in small] == [20, 20]

        def learned() -> bool:
            executor.poller.poll_once()
            return executor.poller.store.completions("hogs") >= 2

        wait_for("the small runs learned from history", learned, 120, every=1)
        big = executor.submit(_hog, spec, 800, 15)
        assert big.result(timeout=600) == 800
        assert executor.stats["retries"] == 1
        cluster = None
        ads = wait_for("three hog jobs in history", lambda: in_history(condor_pool, executor.run_token, 3), 120)
        [retried] = [ad for ad in ads if ad.get("LastHoldReasonCode") is not None]
        cluster = retried["ClusterId"]
        assert (retried["LastHoldReasonCode"], retried["LastHoldReasonSubCode"]) == (21, 102)
        assert retried["JobStatus"] == 4 and retried["RequestMemory"] >= 1000  # released bigger, finished
        held = [e for e in htcondor2.JobEventLog(str(executor.log_path)).events(0)
                if e.type == ET.JOB_HELD and e.cluster == cluster]
        assert len(held) == 1 and held[0]["HoldReasonCode"] == 21
        first = [e for e in htcondor2.JobEventLog(str(executor.log_path)).events(0)
                 if e.type == ET.SUBMIT and e.cluster == cluster]
        assert first  # one job: held, edited and released, not resubmitted
        assert not condor_pool.query(f'CondorexecRun == "{executor.run_token}" && JobStatus == 5')
    finally:
        executor.shutdown()
    assert not queued(condor_pool, executor.run_token)


def test_auto_picks_the_live_pool_and_shutdown_removes_the_runs_jobs(condor_pool, tmp_path):
    executor = direct_executor(tmp_path, pool="auto")
    try:
        assert executor.pool.profile.name == "condor", executor.pool_reason
        assert executor.submit(_noop, {"memory": 50, "disk": 5}, 7).result(timeout=300) == 7
        sleepers = [executor.submit(_sleep, {"memory": 50, "disk": 5}, 600) for _ in range(3)]
        wait_for("a sleeper running", lambda: any(ad["JobStatus"] == 2 for ad in queued(condor_pool,
                                                                                        executor.run_token)), 120)
    finally:
        executor.shutdown()
    for future in sleepers:
        assert "shut down" in str(future.exception(timeout=30))
    # condor_rm marks jobs removed at once; they leave the queue when their shadows have exited
    wait_for("the run's jobs gone from the queue", lambda: not queued(condor_pool, executor.run_token), 60)
    ads = wait_for("the removed sleepers in history",
                   lambda: in_history(condor_pool, executor.run_token, 3, 'CondorexecApp == "_sleep"'), 60)
    assert {ad["JobStatus"] for ad in ads} == {3}


def test_packed_environment_travels_by_file_transfer_and_runs_the_app(condor_pool, tmp_path):
    executor = direct_executor(tmp_path, pool="condor", pack=True)
    try:
        python, prefix, cwd = executor.submit(_where, {"memory": 300, "disk": 2000}).result(timeout=600)
    finally:
        executor.shutdown()
    [ad] = wait_for("the packed job in history", lambda: in_history(condor_pool, executor.run_token, 1), 120)
    archives = [Path(p).name for p in ad["TransferInput"].split(",") if "condorexec-env" in Path(p).name]
    assert len(archives) == 1 and archives[0].endswith(".tar.gz"), ad["TransferInput"]
    assert python != sys.executable
    assert python.startswith(prefix) and "condorexec-env" in prefix  # the unpacked pack's interpreter
    assert prefix.startswith(cwd) or prefix.startswith("/var/lib/condor-pool/execute/"), (prefix, cwd)
