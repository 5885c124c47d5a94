"""Slot workers on the live HTCondor pool: calls and results through chirp, proven from the schedd.

Run with ``bash ci/condor-tests.sh`` (as the pool's user). On this pool the execute node is the submit
host, so a worker that opened a submit-side path would work and prove nothing: the tests check that
the worker jobs' ads carry none, and that the calls' bytes went through chirp (the worker's own count
of chirp operations).
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator

import htcondor2
import parsl
import psutil
import pytest
from parsl.config import Config
from parsl.data_provider.files import File

from condorexec import CondorExecutor
from condorexec.labels.store import LabelStore
from tests.worker_apps import BIG_MB, SMALL_MB, copy_upper, double, fails, nap, nap_big, nap_wide, shout, touch_memory

from .conftest import wait_for

pytestmark = pytest.mark.condor


WORKERS = "CondorexecWorker =!= undefined"
WORKER_SAMPLE = re.compile(r"/\d+\.\d+/\d+$")


def _ads(pool, executor, projection, constraint=WORKERS):
    where = f'CondorexecRun == "{executor.run_token}" && ({constraint})'
    return list(pool.history(where, list(projection))) + pool.query(where, list(projection))


def _queued_workers(pool, executor):
    return pool.query(f'CondorexecRun == "{executor.run_token}" && {WORKERS}',
                      ["ClusterId", "ProcId", "JobStatus"])


@pytest.fixture
def run(tmp_path, condor_pool) -> Iterator:
    tmp_path.chmod(0o755)
    loaded = []

    def start(**options):
        options.setdefault("worker_idle_timeout", 30)
        executor = CondorExecutor(label="wlive", pool="condor", mode="workers", batch_window=0.05, **options)
        dfk = parsl.load(Config(executors=[executor], run_dir=str(tmp_path / "runinfo"), strategy="none"))
        loaded.append((dfk, executor))
        return executor

    yield start
    for dfk, executor in loaded:
        dfk.cleanup()
        parsl.clear()
        assert not condor_pool.query(f'CondorexecRun == "{executor.run_token}"', ["ClusterId"]), \
            "shutdown left jobs of the run in the queue"


def test_calls_files_and_bash_apps_travel_through_chirp_with_no_submit_path_in_the_worker(run, condor_pool,
                                                                                           tmp_path):
    executor = run()
    assert [f.result(timeout=300) for f in [double(i) for i in range(20)]] == [2 * i for i in range(20)]
    with pytest.raises(KeyError, match="no such detector"):
        fails().result(timeout=300)
    source = tmp_path / "in.txt"
    source.write_text("calibrated\n")
    target = tmp_path / "out" / "upper.txt"
    assert copy_upper(inputs=[File(str(source))], outputs=[File(str(target))]).result(timeout=300) == "copied"
    assert target.read_text() == "CALIBRATED\n"
    out, err = tmp_path / "shout.out", tmp_path / "shout.err"
    assert shout("hello", stdout=str(out), stderr=str(err)).result(timeout=300) == 0
    assert out.read_text() == "hello\n" and err.read_text().endswith("oops\n")
    assert executor.stats["jobs"] == 0, "no call ran as its own job"
    assert executor.fleet.stats["mailbox_ops"] > 20, "the worker counted its chirp operations"
    ads = _ads(condor_pool, executor, ["Args", "Arguments", "Env", "Environment", "WantIOProxy", "Iwd"])
    assert ads
    for ad in ads:
        assert ad.get("WantIOProxy") is True
        carried = " ".join(str(ad.get(attr, "")) for attr in ("Args", "Arguments", "Env", "Environment"))
        assert "--chirp" in carried
        assert str(ad["Iwd"]) not in carried and str(tmp_path) not in carried, carried


def test_two_sizes_run_side_by_side_in_one_worker(run, condor_pool):
    executor = run(worker_idle_timeout=2)
    small, big = nap(3), nap_big(3)
    assert (small.result(timeout=300), big.result(timeout=300)) == (3, 3)
    wait_for("the worker to leave the queue", lambda: not _queued_workers(condor_pool, executor), timeout=120)
    ads = list(condor_pool.history(f'CondorexecRun == "{executor.run_token}" && {WORKERS}',
                                   ["CondorexecWorker", "RequestCpus", "RequestMemory"]))
    assert len(ads) == 1, f"one worker job ran both calls: {ads}"
    assert int(ads[0]["RequestCpus"]) == 2 and int(ads[0]["RequestMemory"]) >= SMALL_MB + BIG_MB
    report = (executor.core.work_dir / "workers" / str(ads[0]["CondorexecWorker"]) / "worker.out").read_text()
    assert re.search(r"beside 1 other call", report), report


def test_a_wider_call_after_narrow_ones_does_not_wait_for_the_idle_timeout(run, condor_pool):
    executor = run(worker_idle_timeout=600)
    assert [nap(0.5).result(timeout=300) for _ in range(3)] == [0.5] * 3
    sent = time.monotonic()
    assert nap_wide(0.5).result(timeout=300) == 0.5
    assert time.monotonic() - sent < 300, "it waited for the one-core worker's idle timeout"
    assert executor.fleet.stats["given_back"] + executor.fleet.stats["drained"] >= 1


def test_per_call_samples_land_in_the_label_store(run, tmp_path):
    store_path = tmp_path / "labels.sqlite"
    executor = run(autolabel=True, label_store=str(store_path))
    spec = {"category": f"samples-{uuid.uuid4().hex[:8]}"}  # the poller learns other runs' jobs too
    touch_memory(1, parsl_resource_specification=spec).result(timeout=300)  # the probe: its own job
    calls = [touch_memory(5, parsl_resource_specification=spec) for _ in range(4)]
    assert [f.result(timeout=300) for f in calls] == [5] * 4
    assert executor.fleet.stats["worker_calls"] >= 4
    with LabelStore(str(store_path)) as store:
        samples = [s for s in store.recent_samples(spec["category"]) if WORKER_SAMPLE.search(s.job_id)]
    assert len(samples) >= 4 and len({s.job_id for s in samples}) == len(samples)
    assert all(0 < s.memory_mb < 200 for s in samples)


def test_a_memory_hog_in_a_worker_is_retried_larger_and_succeeds(run, tmp_path, condor_pool):
    executor = run(autolabel=True, label_store=str(tmp_path / "labels.sqlite"))
    for _ in range(3):
        touch_memory(5).result(timeout=300)
    assert touch_memory(700, 2).result(timeout=300) == 700
    assert executor.stats["retries"] >= 1
    sizes = {int(ad["RequestMemory"]) for ad in _ads(condor_pool, executor, ["RequestMemory"])}
    assert len(sizes) >= 2, f"a larger worker ran the retry (worker sizes {sizes})"


def test_a_worker_removed_with_calls_in_it_loses_none(run, condor_pool):
    executor = run()
    futures = [nap(5) for _ in range(2)]
    holding = wait_for("a worker holding the calls", executor.fleet.holding, timeout=120)
    time.sleep(2)
    condor_pool.act(htcondor2.JobAction.Remove, holding)
    assert [f.result(timeout=300) for f in futures] == [5, 5]
    assert executor.stats["retries"] >= 1


def test_an_idle_worker_exits_and_no_socket_listens_on_the_submit_side(run, condor_pool):
    executor = run(worker_idle_timeout=2)
    assert double(3).result(timeout=300) == 6
    listening = [c for c in psutil.Process().net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    assert listening == []
    wait_for("the idle worker to leave the queue", lambda: not _queued_workers(condor_pool, executor), timeout=120)
    [ad] = condor_pool.history(f'CondorexecRun == "{executor.run_token}" && {WORKERS}', ["ExitCode", "JobStatus"])
    assert ad["ExitCode"] == 0 and ad["JobStatus"] == 4
