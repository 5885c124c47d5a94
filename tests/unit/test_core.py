"""The Parsl-free core against a fake Pool: no Parsl, no local pool, no schedd.

The fake pool writes real HTCondor-format events (pools/local/eventlog.py) into the job log the core reads
and runs a call by running condorexec's node-side runner on its task directory, so what is tested is
the core's own logic: batching, results, holds and retries, the lease timer, the probe's history poll
and the queue cross-check.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import classad2
import htcondor2
import pytest

from condorexec import runner
from condorexec.condorfacts import HoldCode, HoldSubCode
from condorexec.core import CallRequest, Core, CoreConfig
from condorexec.core import engine as engine_module
from condorexec.errors import InvalidSpecError, JobFailed, JobHeld, ResourceExhausted
from condorexec.names import LEASE_ATTR
from condorexec.pools.base import Machine, Pool, PoolProfile, SubmitResult
from condorexec.pools.local.eventlog import EventLogWriter
from condorexec.resources import Resources
from condorexec.spec import ResourceSpec

MACHINE = Machine("fake1", cores=4, memory=8000, disk=20000)
# The terminated event's usage block: the core reads only the return value, so the usage is all ones.
NO_USAGE = {name: 1 for name in (
    "user_cpu_s", "sys_cpu_s", "bytes_sent", "bytes_received", "cpus_usage", "request_cpus", "allocated_cpus",
    "disk_usage_kib", "request_disk_kib", "allocated_disk_kib", "memory_usage_mb", "request_memory_mb",
    "allocated_memory_mb", "time_execute_s")}


class FakePool(Pool):
    """Queues jobs in memory; ``auto_run`` runs each at once on a thread, else the test drives them."""

    profile = PoolProfile(name="fake", event_poll_interval=0.02, history_poll_interval=30.0,
                          history_source="fake:history", fast_launch=False, in_process=False,
                          tune_switch_interval=False)

    def __init__(self, auto_run: bool = True):
        super().__init__()
        self.auto_run = auto_run
        self.lock = threading.Lock()
        self.next_cluster = 1
        self.jobs: dict[str, dict] = {}  # job id -> {"row", "log", "ad"}
        self.edits: list[tuple[object, str, str]] = []
        self.actions: list[tuple[str, object]] = []
        self.submits: list[int] = []
        self.history_gate: threading.Event | None = None
        self.history_calls = 0
        self.writers: dict[str, EventLogWriter] = {}  # job id -> its log's writer
        self.writers_by_path: dict[str, EventLogWriter] = {}

    # -- the Pool interface
    def submit(self, description, itemdata=None, count=0):
        rows = list(itemdata or [{}])
        with self.lock:
            cluster, self.next_cluster = self.next_cluster, self.next_cluster + 1
            for proc, row in enumerate(rows):
                ad = classad2.ClassAd({"ClusterId": cluster, "ProcId": proc, "JobStatus": 1,
                                       "RequestMemory": int(row["ce_memory_mb"]), "MemoryUsage": 0,
                                       "CondorexecRun": description["MY.CondorexecRun"].strip('"')})
                self.jobs[f"{cluster}.{proc}"] = {"row": row, "log": description["log"], "ad": ad}
                # logged before the lock goes: a test may hold the job as soon as it sees it
                self._log(f"{cluster}.{proc}").submit(cluster, proc, time.time())
            self.submits.append(len(rows))
        self.events_written.set()
        if self.auto_run:
            for proc in range(len(rows)):
                threading.Thread(target=self.run, args=(f"{cluster}.{proc}",), daemon=True).start()
        return SubmitResult(cluster, 0, len(rows))

    def query(self, constraint="true", projection=()):
        expr = classad2.ExprTree(constraint)
        with self.lock:
            return [job["ad"] for job in self.jobs.values() if expr.eval(job["ad"]) is True]

    def history(self, constraint="true", projection=(), match=-1, since=None):
        self.history_calls += 1
        if self.history_gate is not None:
            self.history_gate.wait(30)
        return iter(())

    def act(self, action, job_spec):
        self.actions.append((action.name, job_spec))
        ids = list(job_spec) if not isinstance(job_spec, str) else list(self.jobs)
        for job_id in ids:
            if action == htcondor2.JobAction.Release:
                threading.Thread(target=self.run, args=(job_id,), daemon=True).start()
            elif action == htcondor2.JobAction.Remove and job_id in self.jobs:
                with self.lock:
                    self.jobs.pop(job_id)
                cluster, proc = (int(x) for x in job_id.split("."))
                self.writers[job_id].aborted(cluster, proc, time.time(), reason="removed by the test")
                self.events_written.set()

    def edit(self, job_spec, attr, value):
        self.edits.append((job_spec, attr, value))

    def describe_machines(self):
        return [MACHINE]

    def close(self):
        for writer in self.writers_by_path.values():
            writer.close()

    # -- driving jobs
    def _log(self, job_id: str) -> EventLogWriter:
        path = self.jobs[job_id]["log"]
        if path not in self.writers_by_path:
            self.writers_by_path[path] = EventLogWriter(path)
        self.writers[job_id] = self.writers_by_path[path]
        return self.writers[job_id]

    def run(self, job_id: str) -> None:
        """Run the job's call with the real node-side runner, then log EXECUTE and TERMINATED."""
        job = self.jobs[job_id]
        cluster, proc = (int(x) for x in job_id.split("."))
        task_dir = Path(job["row"]["ce_task_dir"])
        writer = self.writers[job_id]
        writer.execute(cluster, proc, time.time(), host="fake1", slot_name="slot1_1", cpus=1, memory_mb=1,
                       disk_kib=1, scratch_dir=str(task_dir))
        status = runner.main([str(task_dir / "payload.pkl"), str(task_dir / "result.pkl")])
        with self.lock:
            self.jobs.pop(job_id, None)
        writer.terminated(cluster, proc, time.time(), return_value=status, **NO_USAGE)
        self.events_written.set()

    def hold(self, job_id: str, code: int, subcode: int, reason: str, memory_usage: int = 0) -> None:
        cluster, proc = (int(x) for x in job_id.split("."))
        self.jobs[job_id]["ad"]["MemoryUsage"] = memory_usage
        self.writers[job_id].held(cluster, proc, time.time(), reason=reason, code=code, subcode=subcode)
        self.events_written.set()

    def wait_for_jobs(self, n: int, timeout: float = 10) -> list[str]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.jobs) >= n:
                    return sorted(self.jobs)
            time.sleep(0.01)
        raise AssertionError(f"fewer than {n} jobs were submitted: {sorted(self.jobs)}")


def make_core(tmp_path: Path, pool: FakePool, **config) -> Core:
    config = {"batch_window": 0.05, "mode": "per_call", **config}  # this module tests one job per call
    core = Core(pool, CoreConfig(**config), tmp_path / "work", "run1", "test-run")
    core.start()
    return core


def call(func, *args, spec: ResourceSpec | None = None, category: str = "default", **kwargs) -> CallRequest:
    return CallRequest(func, args, kwargs, spec or ResourceSpec(), category, getattr(func, "__name__", "app"))


def square(x):
    return x * x


def fail(x):
    raise ValueError(f"bad {x}")


@pytest.fixture
def pool():
    return FakePool()


def test_calls_sent_together_go_as_one_cluster_and_results_and_exceptions_come_back(tmp_path, pool):
    core = make_core(tmp_path, pool)
    try:
        futures = [core.submit(call(square, i)) for i in range(5)] + [core.submit(call(fail, 7))]
        assert [f.result(timeout=20) for f in futures[:5]] == [0, 1, 4, 9, 16]
        with pytest.raises(ValueError, match="bad 7"):
            futures[5].result(timeout=20)
        assert pool.submits == [6] and core.stats == {"clusters": 1, "jobs": 6, "retries": 0}
        assert core.outstanding() == 0
    finally:
        core.shutdown()


def test_a_size_no_machine_has_is_refused_before_submission(tmp_path, pool):
    core = make_core(tmp_path, pool)
    try:
        with pytest.raises(InvalidSpecError, match="memory=9000.*largest: fake1 with 8000"):
            core.submit(call(square, 1, spec=ResourceSpec(memory=9000)))
        with pytest.raises(InvalidSpecError, match="gpus=1"):
            core.submit(call(square, 1, spec=ResourceSpec(gpus=1)))
        assert pool.submits == []
    finally:
        core.shutdown()


class GrowingSizer:
    """A sizer whose label is 500 MB and whose retry doubles memory: what autolabel does, minus the store."""

    def initial(self, category, spec, machine=None, early_memory=None):
        return Resources(1, 500, 1000)

    def learning(self, category, spec):
        return False

    def retry(self, category, spec, resource, size, used):
        return size.with_(resource, size.get(resource) * 2)

    def close(self):
        pass


def test_a_memory_hold_of_a_learned_size_is_retried_larger_and_then_succeeds(tmp_path):
    pool = FakePool(auto_run=False)
    core = make_core(tmp_path, pool, max_retries=1, autolabel=False)
    core.sizer = GrowingSizer()
    try:
        future = core.submit(call(square, 3))
        [job_id] = pool.wait_for_jobs(1)
        pool.hold(job_id, HoldCode.JOB_OUT_OF_RESOURCES, HoldSubCode.MEMORY, "OOM", memory_usage=600)
        assert future.result(timeout=10) == 9  # released by the core, then run by the fake pool
        assert ([job_id], "RequestMemory", "1000") in pool.edits
        assert ("Release", [job_id]) in pool.actions and core.stats["retries"] == 1
    finally:
        core.shutdown()


def test_a_hold_that_is_not_an_exhaustion_removes_the_job_and_fails_the_call(tmp_path):
    pool = FakePool(auto_run=False)
    core = make_core(tmp_path, pool)
    try:
        future = core.submit(call(square, 3))
        [job_id] = pool.wait_for_jobs(1)
        pool.hold(job_id, HoldCode.TRANSFER_INPUT_ERROR, 2, "no such file")
        with pytest.raises(JobHeld, match="HoldReasonCode 13.*no such file"):
            future.result(timeout=10)
        assert ("Remove", [job_id]) in pool.actions
    finally:
        core.shutdown()


def test_an_exhausted_default_size_fails_with_a_hint_and_no_retry(tmp_path):
    pool = FakePool(auto_run=False)
    core = make_core(tmp_path, pool)
    try:
        future = core.submit(call(square, 3))
        [job_id] = pool.wait_for_jobs(1)
        pool.hold(job_id, HoldCode.STARTD_HELD_JOB, HoldSubCode.MEMORY, "memory usage exceeded request_memory",
                  memory_usage=1500)
        with pytest.raises(ResourceExhausted, match="used 1500 MB against a request of 1024 MB.*default size"):
            future.result(timeout=10)
        assert not pool.edits and core.stats["retries"] == 0
    finally:
        core.shutdown()


@pytest.mark.fault
def test_the_lease_is_renewed_while_the_log_has_events_at_every_poll(tmp_path, monkeypatch):
    """Renewal once ran only after a poll that read no events: a busy log starved it."""
    monkeypatch.setattr(engine_module, "renew_period", lambda lease_seconds: 0.1)
    pool = FakePool(auto_run=False)
    core = make_core(tmp_path, pool)
    stop = threading.Event()

    def busy_log():  # an event for another job at every poll of the tracker
        writer = EventLogWriter(core.log_path)
        proc = 0
        while not stop.is_set():
            proc += 1
            writer.submit(999, proc, time.time())
            pool.events_written.set()
            time.sleep(0.01)
        writer.close()

    try:
        core.submit(call(square, 3))
        pool.wait_for_jobs(1)
        thread = threading.Thread(target=busy_log, daemon=True)
        thread.start()
        deadline = time.time() + 5
        while time.time() < deadline and not any(attr == LEASE_ATTR for _, attr, _ in pool.edits):
            time.sleep(0.05)
        renewals = [(spec, value) for spec, attr, value in pool.edits if attr == LEASE_ATTR]
        assert renewals, "the lease was never renewed under a busy log"
        assert renewals[0][0] == 'CondorexecRun == "run1"' and int(renewals[0][1]) > time.time() + 1700
    finally:
        stop.set()
        core.shutdown()


@pytest.mark.fault
def test_a_job_that_left_the_queue_without_an_event_fails_its_call_at_the_cross_check(tmp_path):
    pool = FakePool(auto_run=False)
    core = make_core(tmp_path, pool)
    try:
        future = core.submit(call(square, 3))
        [job_id] = pool.wait_for_jobs(1)
        with pool.lock:
            pool.jobs.pop(job_id)  # gone from the queue, and the log never says so
        core.cross_check()
        with pytest.raises(JobFailed, match=f"job {job_id} left the queue without an event"):
            future.result(timeout=5)
    finally:
        core.shutdown()


@pytest.mark.fault
def test_a_callback_raising_a_base_exception_does_not_stop_tracking(tmp_path, pool):
    """Parsl's DFK callback re-raises what a call's future holds; SystemExit from an app did just that."""
    core = make_core(tmp_path, pool)
    try:
        first = core.submit(call(square, 1))
        first.add_done_callback(lambda f: (_ for _ in ()).throw(SystemExit(3)))
        assert first.result(timeout=10) == 1
        assert core.submit(call(square, 4)).result(timeout=10) == 16
    finally:
        core.shutdown()


class LearningOnceSizer(GrowingSizer):
    """Category "new" is learning until the first history poll after its probe."""

    def __init__(self):
        self.learned = threading.Event()

    def learning(self, category, spec):
        return category == "new" and not self.learned.is_set()


def test_a_probe_s_history_poll_runs_off_the_tracker_thread(tmp_path):
    """While the schedd's history is slow to answer, other jobs' events are still handled."""
    pool = FakePool()
    pool.history_gate = threading.Event()
    core = make_core(tmp_path, pool, autolabel=True, label_store=str(tmp_path / "labels.sqlite"))
    sizer = LearningOnceSizer()
    core.sizer = sizer  # the probe gate asks core.sizer whether a category is learning
    try:
        probe = core.submit(call(square, 2, category="new"))
        waiting = core.submit(call(square, 3, category="new"))
        assert probe.result(timeout=10) == 4
        deadline = time.time() + 5
        while pool.history_calls == 0 and time.time() < deadline:
            time.sleep(0.01)
        assert pool.history_calls == 1, "the probe's end did not start a history poll"
        other = core.submit(call(square, 5, category="sized"))
        assert other.result(timeout=10) == 25  # handled while the history poll is still blocked
        assert not waiting.done() and pool.submits == [1, 1], "the waiting call went before the poll ended"
        sizer.learned.set()
        pool.history_gate.set()
        assert waiting.result(timeout=10) == 9
    finally:
        pool.history_gate.set()
        core.shutdown()


def test_shutdown_removes_the_run_s_jobs_and_fails_what_was_outstanding(tmp_path):
    pool = FakePool(auto_run=False)
    core = make_core(tmp_path, pool)
    future = core.submit(call(square, 3))
    pool.wait_for_jobs(1)
    core.shutdown()
    assert ("Remove", 'CondorexecRun == "run1"') in pool.actions
    with pytest.raises(JobFailed):
        future.result(timeout=5)


@pytest.mark.parametrize("field, value", [
    ("batch_window", "0.1"), ("max_batch", 1.5), ("max_batch", 0), ("max_retries", -1), ("lease_minutes", True),
    ("autolabel_window", 0), ("allocation_mode", "fastest"), ("switch_interval", 1.0), ("label_store", 3),
])
def test_bad_options_are_refused_naming_the_parameter(field, value):
    with pytest.raises(InvalidSpecError, match=f"invalid {field}="):
        CoreConfig(**{field: value})



class LearningSizer:
    """Category "new" is learning (its calls go one probe at a time); every other category has a label."""

    def initial(self, category, spec, machine=None, early_memory=None):
        return Resources(4, 8000, 1000) if category == "new" and early_memory is None else Resources(1, 100, 100)

    def learning(self, category, spec):
        return category == "new"

    def retry(self, category, spec, resource, size, used):
        return None

    def close(self):
        pass


def test_while_a_probe_is_out_the_pool_queue_holds_two_calls_per_core_and_the_rest_wait_in_order(tmp_path):
    from condorexec.core.engine import IDLE_PER_CORE

    pool = FakePool(auto_run=False)
    core = make_core(tmp_path, pool)
    core.sizer = LearningSizer()
    try:
        probe = core.submit(call(square, 2, category="new"))
        [probe_job] = pool.wait_for_jobs(1)
        labelled = [core.submit(call(square, i, category="known")) for i in range(20)]
        room = IDLE_PER_CORE * MACHINE.cores  # the probe, not started yet, takes one place
        queued = pool.wait_for_jobs(room)
        time.sleep(0.3)
        assert len(pool.jobs) == room  # the other 13 wait in the core, not in the pool's queue
        pool.run(queued[1])  # one starts (and ends): one more may be sent
        pool.wait_for_jobs(room)
        assert sum(pool.submits) == room + 1
        pool.run(probe_job)  # the probe ends: no limit any more, everything goes
        assert probe.result(timeout=10) == 4
        pool.wait_for_jobs(20 - 2)
        assert sum(pool.submits) == 21
        for job_id in sorted(pool.jobs):
            pool.run(job_id)
        assert [f.result(timeout=10) for f in labelled] == [i * i for i in range(20)]
    finally:
        core.shutdown()


class BreakingSizer(LearningSizer):
    """Sizes category "bad" fine when it is submitted, then raises when the batcher sizes it to send it."""

    armed = False

    def initial(self, category, spec, machine=None, early_memory=None):
        if category == "bad" and self.armed:
            raise RuntimeError("label store is unreadable")
        return Resources(1, 100, 100)

    def learning(self, category, spec):
        return False


def test_a_call_that_cannot_be_sized_fails_alone_and_the_batcher_goes_on(tmp_path, pool):
    core = make_core(tmp_path, pool, batch_window=0.3)
    core.sizer = sizer = BreakingSizer()
    try:
        bad = core.submit(call(square, 3, category="bad"))
        good = core.submit(call(square, 4))
        sizer.armed = True  # before the batcher's window ends
        with pytest.raises(RuntimeError, match="label store is unreadable"):
            bad.result(timeout=10)
        assert good.result(timeout=10) == 16
        assert core.submit(call(square, 5)).result(timeout=10) == 25  # the batcher still runs
    finally:
        core.shutdown()


class BrokenStoreSizer(BreakingSizer):
    """Asking whether a category is learning raises while ``armed``: the label store is gone."""

    def initial(self, category, spec, machine=None, early_memory=None):
        return Resources(1, 100, 100)

    def learning(self, category, spec):
        if self.armed:
            raise RuntimeError("database disk image is malformed")
        return False


def test_when_choosing_what_to_send_fails_the_waiting_calls_fail_with_why_and_later_ones_run(tmp_path, pool):
    core = make_core(tmp_path, pool)
    core.sizer = sizer = BrokenStoreSizer()
    try:
        sizer.armed = True
        with pytest.raises(RuntimeError, match="malformed"):
            core.submit(call(square, 3)).result(timeout=10)
        sizer.armed = False
        assert core.submit(call(square, 6)).result(timeout=10) == 36
    finally:
        core.shutdown()
