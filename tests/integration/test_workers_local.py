"""Slot workers (mode="workers"/"auto") on the embedded local pool, end to end through Parsl.

What the workers did is proven from the pool's own records (history ads of the worker jobs, the label
store's samples), not from the executor's word."""

from __future__ import annotations

import os
import re
import time

import htcondor2
import parsl
import psutil
import pytest
from parsl import python_app
from parsl.config import Config
from parsl.data_provider.files import File

from condorexec import CondorExecutor
from condorexec.errors import AppExited, InvalidSpecError, ResourceExhausted
from condorexec.labels.store import LabelStore
from condorexec.pools.base import PoolProfile
from condorexec.pools.local import LocalPool
from tests.worker_apps import copy_upper, double, fails, nap, nap_wide, shout, touch_memory


@python_app
def exits(parsl_resource_specification={"cores": 1, "memory": 300, "disk": 10}):  # noqa: B006
    import sys

    sys.exit(3)


#: a worker's per-call sample key ends with the worker's job id and the call's id
WORKER_SAMPLE = re.compile(r"/\d+\.\d+/\d+$")


def _load(tmp_path, name="w", **options):
    options.setdefault("pool", "local")
    if options["pool"] == "local":
        options.setdefault("nodes", ["cpus=4,memory=4000,disk=20000"])
        options.setdefault("state_dir", str(tmp_path / "state"))
    options.setdefault("monitor_period", 0.1)
    options.setdefault("mode", "workers")
    options.setdefault("worker_idle_timeout", 20)
    executor = CondorExecutor(label=name, **options)
    return parsl.load(Config(executors=[executor], run_dir=str(tmp_path / "runinfo"), strategy="none")), executor


def _worker_ads(executor, projection=("RequestMemory", "RequestCpus", "Args")):
    return list(executor.pool.history(f'CondorexecRun == "{executor.run_token}" && CondorexecWorker =!= undefined',
                                      list(projection)))


def _queued_workers(executor):
    return executor.pool.query(f'CondorexecRun == "{executor.run_token}" && CondorexecWorker =!= undefined',
                               ["ClusterId", "ProcId", "JobStatus"])


def _wait_for(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        return process.cmdline()
    except psutil.Error:  # it ended meanwhile
        return []


@pytest.fixture
def run(tmp_path):
    loaded = []

    def start(**options):
        dfk, executor = _load(tmp_path, **options)
        loaded.append(dfk)
        return executor

    yield start
    for dfk in loaded:
        dfk.cleanup()
    parsl.clear()


def test_results_exceptions_and_exits_come_back_through_workers(run):
    executor = run()
    assert [f.result(timeout=60) for f in [double(i) for i in range(40)]] == [2 * i for i in range(40)]
    with pytest.raises(KeyError, match="no such detector"):
        fails().result(timeout=60)
    with pytest.raises(AppExited, match="SystemExit"):
        exits().result(timeout=60)
    assert double(21).result(timeout=60) == 42  # the worker survived the app's sys.exit
    assert executor.stats["jobs"] == 0, "every call ran in a worker, none as its own job"
    assert executor.fleet.stats["worker_calls"] == 43


def test_files_and_bash_streams_travel_through_the_mailbox(run, tmp_path):
    run()
    source = tmp_path / "in.txt"
    source.write_text("calibrated\n")
    target = tmp_path / "out" / "upper.txt"
    assert copy_upper(inputs=[File(str(source))], outputs=[File(str(target))]).result(timeout=60) == "copied"
    assert target.read_text() == "CALIBRATED\n"
    out, err = tmp_path / "shout.out", tmp_path / "shout.err"
    assert shout("hello", stdout=str(out), stderr=str(err)).result(timeout=60) == 0
    assert out.read_text() == "hello\n" and err.read_text().endswith("oops\n")


def _worker_reports(executor) -> dict[str, str]:
    """Each worker's own report of the calls it ran (its stdout, back with its job when it ends)."""
    workers = executor.core.work_dir / "workers"
    return {path.parent.name: path.read_text() for path in workers.glob("*/worker.out")}


def _executions(executor) -> list[str]:
    """Job ids of the EXECUTE events in the run's job event log."""
    log = htcondor2.JobEventLog(str(executor.core.log_path))
    return [f"{e.cluster}.{e.proc}" for e in log.events(stop_after=0) if e.type == htcondor2.JobEventType.EXECUTE]


def test_two_sizes_run_side_by_side_in_one_worker(run):
    executor = run(worker_idle_timeout=1, nodes=["cpus=3,memory=4000,disk=20000"])
    wide, narrow = nap_wide(1.5), nap(1.5)
    assert (wide.result(timeout=60), narrow.result(timeout=60)) == (1.5, 1.5)
    _wait_for(lambda: not _queued_workers(executor), what="the worker to idle out")
    assert len(_executions(executor)) == 1, "one worker job ran both calls"
    (report,) = _worker_reports(executor).values()
    assert re.search(r"started: cores 2, memory 400 MB.*beside 0 other", report)
    assert re.search(r"started: cores 1, memory 150 MB.*beside 1 other", report), report


def test_a_wider_call_after_narrow_ones_does_not_wait_for_the_idle_timeout(run):
    executor = run(worker_idle_timeout=120, nodes=["cpus=2,memory=4000,disk=20000"])
    assert [nap(0.2).result(timeout=60) for _ in range(3)] == [0.2] * 3
    sent = time.monotonic()
    assert nap_wide(0.2).result(timeout=60) == 0.2
    waited = time.monotonic() - sent
    assert waited < 60, f"the two-core call waited {waited:.1f} s: for the one-core worker's idle timeout"
    assert executor.fleet.stats["given_back"] + executor.fleet.stats["drained"] >= 1


def test_a_memory_hog_is_stopped_alone_and_its_neighbour_in_the_worker_finishes(run):
    executor = run(nodes=["cpus=2,memory=4000,disk=20000"], worker_idle_timeout=1)
    neighbour = nap(2)
    hog = touch_memory(600, 5, parsl_resource_specification={"cores": 1, "memory": 200, "disk": 10})
    with pytest.raises(ResourceExhausted, match="memory"):
        hog.result(timeout=60)
    assert neighbour.result(timeout=60) == 2
    _wait_for(lambda: not _queued_workers(executor), what="the worker to idle out")
    assert len(_executions(executor)) == 1, "the hog and its neighbour shared one worker"


def test_each_call_a_worker_runs_is_a_sample_of_its_own_in_the_label_store(run, tmp_path):
    store_path = tmp_path / "labels.sqlite"
    executor = run(autolabel=True, label_store=str(store_path), nodes=["cpus=2,memory=4000,disk=20000"])
    touch_memory(1).result(timeout=120)  # the probe: its own job, sized to the machine
    assert [touch_memory(mb).result(timeout=120) for mb in (5, 5, 5, 5)] == [5, 5, 5, 5]
    assert executor.fleet.stats["worker_calls"] >= 4
    with LabelStore(str(store_path)) as store:
        (category,) = store.categories()
        samples = [s for s in store.recent_samples(category) if WORKER_SAMPLE.search(s.job_id)]
    assert len(samples) >= 4 and len({s.job_id for s in samples}) == len(samples), "one key per call"
    assert all(0 < s.memory_mb < 200 and s.wall_s < 5 for s in samples)


def test_a_call_that_outgrows_its_worker_is_retried_larger(run, tmp_path):
    executor = run(autolabel=True, label_store=str(tmp_path / "labels.sqlite"),
                   nodes=["cpus=2,memory=3000,disk=20000"])
    for _ in range(3):
        touch_memory(5).result(timeout=120)  # learn a small label
    assert touch_memory(600).result(timeout=120) == 600
    assert executor.stats["retries"] >= 1
    ads = _worker_ads(executor) + executor.pool.query(
        f'CondorexecRun == "{executor.run_token}" && CondorexecWorker =!= undefined', ["RequestMemory"])
    sizes = {int(ad["RequestMemory"]) for ad in ads}
    assert len(sizes) >= 2, f"a larger worker ran the retry (worker sizes {sizes})"


def test_a_learned_call_that_outgrows_its_size_is_retried_alone_while_its_neighbour_finishes(run, tmp_path):
    executor = run(autolabel=True, label_store=str(tmp_path / "labels.sqlite"), worker_idle_timeout=1,
                   nodes=["cpus=2,memory=3000,disk=20000"])
    for _ in range(3):
        touch_memory(5).result(timeout=120)  # learn a small label
    retries = executor.stats["retries"]
    neighbour, hog = touch_memory(5, 2), touch_memory(600, 1)
    assert (hog.result(timeout=120), neighbour.result(timeout=120)) == (600, 5)
    assert executor.stats["retries"] - retries == 1, "the hog was retried, once; its neighbour never"


def test_a_worker_removed_with_three_calls_in_it_loses_none(run):
    executor = run(batch_window=0.5)  # the three calls reach the fleet together, so one worker takes them
    futures = [nap(2) for _ in range(3)]
    holding = _wait_for(lambda: [w for w in executor.fleet._workers.values() if len(w.in_flight) == 3],
                        what="one worker holding the three calls")
    holding = [w.job_id for w in holding]
    time.sleep(0.5)
    executor.pool.act(htcondor2.JobAction.Remove, holding)
    assert [f.result(timeout=120) for f in futures] == [2, 2, 2]
    assert executor.stats["retries"] >= 1


def test_an_idle_worker_exits_and_shutdown_leaves_no_job_or_process(tmp_path):
    pool = LocalPool(nodes=["cpus=2,memory=2000,disk=20000"], state_dir=str(tmp_path / "state"), monitor_period=0.1)
    try:
        dfk, executor = _load(tmp_path, pool=pool, worker_idle_timeout=1)
        assert double(1).result(timeout=60) == 2
        _wait_for(lambda: not _queued_workers(executor), what="the idle worker to exit")
        assert _worker_ads(executor), "the worker's job ended in the history"
        futures = [nap(30) for _ in range(2)]
        _wait_for(lambda: [ad for ad in _queued_workers(executor) if ad["JobStatus"] == 2], what="a running worker")
        dfk.cleanup()
        parsl.clear()
        assert all(f.done() for f in futures)
        # removal, as on a schedd, is asked for at shutdown and done by the pool moments later
        _wait_for(lambda: not pool.query(f'CondorexecRun == "{executor.run_token}"', ["ClusterId"]), timeout=20,
                  what="the run's jobs to leave the queue")
        _wait_for(lambda: not [p for p in psutil.Process().children(recursive=True)
                               if "worker.py" in " ".join(_cmdline(p))], timeout=20, what="no worker process")
    finally:
        pool.close()


def test_no_socket_listens_on_the_submit_side(run):
    executor = run()
    assert [double(i).result(timeout=60) for i in range(5)] == [0, 2, 4, 6, 8]
    assert executor.fleet.stats["worker_calls"] == 5
    listening = [c for c in psutil.Process().net_connections(kind="inet") if c.status == psutil.CONN_LISTEN]
    assert listening == []


def test_auto_sends_short_calls_to_workers_and_long_ones_as_their_own_jobs(run):
    executor = run(mode="auto", autocategory=True)
    threshold = executor.core.router.threshold
    assert [double(i).result(timeout=60) for i in range(10)] == [2 * i for i in range(10)]
    assert executor.fleet.stats["worker_calls"] >= 8, "short calls went to workers after the timing call"
    jobs_before = executor.stats["jobs"]
    long_calls = [nap(threshold * 2) for _ in range(3)]
    assert [f.result(timeout=120) for f in long_calls] == [threshold * 2] * 3
    assert executor.stats["jobs"] - jobs_before == 3, "each long call ran as its own job"


def test_a_pool_without_chirp_gets_per_call_jobs_not_a_hang(run, tmp_path, caplog):
    class NoChirpPool(LocalPool):
        """The local pool, claiming chirp: its workers find no chirp proxy, as where ENABLE_CHIRP_IO is off."""

        @property
        def profile(self) -> PoolProfile:
            from dataclasses import replace

            return replace(super().profile, worker_mailbox="chirp")

    pool = NoChirpPool(nodes=["cpus=2,memory=2000,disk=20000"], state_dir=str(tmp_path / "state"))
    try:
        executor = run(pool=pool)
        assert [f.result(timeout=120) for f in [double(i) for i in range(4)]] == [0, 2, 4, 6]
        assert executor.fleet.unavailable and "chirp" in executor.fleet.unavailable
        assert executor.stats["jobs"] == 4
        assert "chirp" in caplog.text
    finally:
        pool.close()


@pytest.mark.bad_input
@pytest.mark.parametrize(("option", "value"), [
    ("mode", "pilot"), ("mode", None), ("max_workers", 0), ("max_workers", 1.5),
    ("worker_idle_timeout", 0), ("worker_idle_timeout", "10"),
])
def test_bad_worker_options_are_refused_naming_the_option(option, value):
    with pytest.raises(InvalidSpecError, match=option):
        CondorExecutor(pool="local", **{option: value})


def test_worker_jobs_carry_no_chirp_path_but_the_run_directory_on_the_local_pool(run):
    executor = run()
    double(1).result(timeout=60)
    ads = executor.pool.query(f'CondorexecRun == "{executor.run_token}" && CondorexecWorker =!= undefined',
                              ["Args", "Iwd"])
    args = str(ads[0]["Args"])
    assert "--root" in args and str(ads[0]["Iwd"]) in args  # the local pool shares the filesystem
    assert os.path.isdir(str(ads[0]["Iwd"]))


@pytest.mark.fault
def test_a_done_callback_raising_systemexit_does_not_stop_the_workers(run):
    run()
    first = double(2)
    first.add_done_callback(lambda _f: (_ for _ in ()).throw(SystemExit(1)))
    assert first.result(timeout=60) == 4
    assert [f.result(timeout=60) for f in [double(i) for i in range(5)]] == [0, 2, 4, 6, 8]
