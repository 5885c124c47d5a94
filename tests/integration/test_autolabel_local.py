"""autolabel on the local pool: learn a category's size, retry a job that outgrows it, never override the user."""

import functools
import logging
import time

import pytest

from condorexec import CondorExecutor
from condorexec.errors import ResourceExhausted
from condorexec.labels.fingerprint import code_fingerprint
from condorexec.labels.store import LabelStore, Sample
from condorexec.spec import parse_spec


def _hog(megabytes):
    import time

    block = bytearray(megabytes * 2**20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    time.sleep(1.5)
    return megabytes


@pytest.fixture
def executor(tmp_path):
    executor = CondorExecutor(label="auto", pool="local", nodes=["cpus=2,memory=2000,disk=10000"],
                              state_dir=str(tmp_path / "state"), autolabel=True, autocategory=True,
                              label_store=str(tmp_path / "labels.sqlite"), monitor_period=0.1)
    executor.run_dir = str(tmp_path / "run")
    executor.start()
    yield executor
    executor.shutdown()


def _requests(executor):
    ads = executor.pool.history(f'CondorexecRun == "{executor.run_token}"',
                                ["CondorexecTask", "RequestMemory", "NumJobStarts", "JobStatus"])
    return {ad["CondorexecTask"]: ad for ad in ads}


def test_learns_then_retries_a_job_that_outgrows_its_label(executor):
    assert executor.submit(_hog, {}, 250).result(timeout=60) == 250  # learning: sized to the whole node
    executor.poller.poll_once()
    learned = executor.submit(_hog, {}, 100)
    assert learned.result(timeout=60) == 100
    grown = executor.submit(_hog, {}, 900)  # outgrows the learned label: held 34/102, retried at the maximum
    assert grown.result(timeout=90) == 900
    ads = _requests(executor)
    assert ads[0]["RequestMemory"] == 2000  # nothing learned yet: the largest machine
    assert 250 < ads[1]["RequestMemory"] <= 500  # ~270 MB used (with the interpreter) -> the 500 MB bucket
    assert ads[2]["RequestMemory"] == 2000 and ads[2]["NumJobStarts"] == 2
    assert executor.stats["retries"] == 1


def test_user_given_size_is_never_overridden(executor):
    with pytest.raises(ResourceExhausted, match="parsl_resource_specification") as info:
        executor.submit(_hog, {"memory": 120}, 400).result(timeout=60)
    assert info.value.requested == 120 and executor.stats["retries"] == 0


def test_autocategory_gives_each_app_its_own_category(executor, tmp_path):
    def other(x):
        return x

    executor.submit(_hog, {}, 10).result(timeout=60)
    executor.submit(other, {}, 1).result(timeout=60)
    categories = {ad["CondorexecCategory"] for ad in executor.pool.history(
        f'CondorexecRun == "{executor.run_token}"', ["CondorexecCategory"])}
    assert len(categories) == 2 and any(c.endswith("_hog") for c in categories)


def test_without_autocategory_all_apps_share_default(tmp_path):
    executor = CondorExecutor(label="shared", pool="local", nodes=["cpus=2,memory=2000"],
                              state_dir=str(tmp_path / "state"))
    executor.run_dir = str(tmp_path / "run")
    executor.start()
    try:
        executor.submit(_hog, {}, 10).result(timeout=60)
        executor.submit(len, {}, "abc").result(timeout=60)
        categories = {ad["CondorexecCategory"] for ad in executor.pool.history(projection=["CondorexecCategory"])}
    finally:
        executor.shutdown()
    assert categories == {"default"}


def test_calls_of_a_learning_category_wait_for_the_probe(executor):
    """All calls arrive before any finishes: one probe runs at the maximum, the rest get the learned label."""
    futures = [executor.submit(_hog, {}, 50) for _ in range(5)]
    assert [f.result(timeout=90) for f in futures] == [50] * 5
    memory = sorted(ad["RequestMemory"] for ad in _requests(executor).values())
    assert memory[-1] == 2000 and memory.count(2000) == 1  # one probe per category
    assert all(m <= 250 for m in memory[:-1])  # ~70 MB used: the first 250 MB bucket


def _hold_then_sleep(megabytes, seconds):
    import time

    block = bytearray(megabytes * 2**20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    time.sleep(seconds)
    return megabytes


def _executions(log_path):
    """Per job: (start, end) times and the slot memory of its execute event, from the job event log."""
    import htcondor2

    runs = {}
    for event in htcondor2.JobEventLog(str(log_path)).events(stop_after=0):
        job = f"{event.cluster}.{event.proc}"
        if event.type == htcondor2.JobEventType.EXECUTE:
            runs[job] = [event.timestamp, None, int(event["ExecuteProps"]["Memory"])]
        elif event.type == htcondor2.JobEventType.JOB_TERMINATED:
            runs[job][1] = event.timestamp
    return runs


@pytest.mark.parametrize("early_release", [True, False])
def test_a_probe_that_settles_lets_its_calls_go_before_it_ends(tmp_path, early_release):
    """The probe holds 100 MB for 10 s: with early release its category's other calls start on the
    second node at its running memory (~115 MB + 25% -> 250 MB) long before it ends; without, after."""
    executor = CondorExecutor(label="early", pool="local", nodes=["cpus=2,memory=2000", "cpus=2,memory=2000"],
                              state_dir=str(tmp_path / "state"), autolabel=True, autocategory=True,
                              label_store=str(tmp_path / "labels.sqlite"), monitor_period=0.1, mode="per_call",
                              autolabel_early_release=early_release)
    executor.run_dir = str(tmp_path / "run")
    executor.start()
    try:
        futures = [executor.submit(_hold_then_sleep, {}, 100, 10 if i == 0 else 0.5) for i in range(4)]
        assert [f.result(timeout=120) for f in futures] == [100] * 4
        runs = _executions(executor.log_path)
        retries = executor.stats["retries"]
    finally:
        executor.shutdown()
    [probe] = [run for run in runs.values() if run[2] == 2000]
    others = [run for run in runs.values() if run[2] != 2000]
    assert len(others) == 3 and all(memory == 250 for _, _, memory in others) and retries == 0
    if early_release:
        assert all(start < probe[1] - 3 for start, _, _ in others)  # the event log has whole seconds
    else:
        assert all(start >= probe[1] for start, _, _ in others)


def _prime(path, category, memory_mb, *, fingerprint=None):
    """A store that learned ``category`` before this run: three 5 s jobs of ``memory_mb`` each."""
    with LabelStore(path) as store:
        if fingerprint is not None:
            store.note_app(category, fingerprint)
        store.add_samples([Sample(category, f"900.{i}", 1.0, memory_mb, 10.0, 5.0, None, time.time() - 100 + i)
                           for i in range(3)])
        assert store.label(category, "max_throughput", executor_maximum(), 1).memory is not None


def executor_maximum():
    from condorexec.labels.policy import Maximum

    return Maximum(2, 2000, 10000)


def _warnings(caplog, text):
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and text in r.getMessage()]


def test_a_changed_app_starts_its_category_over_once_and_says_so(executor, tmp_path, caplog):
    category = executor._category_for(_hog, parse_spec({}))
    _prime(tmp_path / "labels.sqlite", category, 1400.0, fingerprint="the fingerprint of older code")
    with caplog.at_level(logging.WARNING, logger="condorexec.executor"):
        assert executor.submit(_hog, {}, 10).result(timeout=60) == 10
        assert executor.submit(_hog, {}, 10).result(timeout=60) == 10
    warned = _warnings(caplog, "code changed")
    assert len(warned) == 1 and repr(category) in warned[0]  # once per category per executor
    # learning again: the first call went at the maximum, not at the old code's 1500 MB label
    assert _requests(executor)[0]["RequestMemory"] == 2000
    with LabelStore(tmp_path / "labels.sqlite") as store:
        assert store.code_changed_at(category) is not None
        assert store.note_app(category, code_fingerprint(_hog)) is False  # what the executor recorded


def test_unchanged_code_keeps_its_label(executor, tmp_path, caplog):
    category = executor._category_for(_hog, parse_spec({}))
    _prime(tmp_path / "labels.sqlite", category, 1400.0, fingerprint=code_fingerprint(_hog))
    with caplog.at_level(logging.WARNING, logger="condorexec.executor"):
        assert executor.submit(_hog, {}, 10).result(timeout=60) == 10
    assert _warnings(caplog, "category") == []
    assert _requests(executor)[0]["RequestMemory"] == 1500  # the stored label


def test_a_label_above_the_largest_machine_is_clipped_with_one_warning(executor, tmp_path, caplog):
    category = executor._category_for(_hog, parse_spec({}))
    _prime(tmp_path / "labels.sqlite", category, 2900.0)  # learned where machines are bigger than 2000 MB
    with caplog.at_level(logging.WARNING, logger="condorexec.executor"):
        assert executor.submit(_hog, {}, 10).result(timeout=60) == 10
        assert executor.submit(_hog, {}, 10).result(timeout=60) == 10
    assert _warnings(caplog, "clipped") == [
        f"category {category!r}: memory clipped: learned 3000 MB > largest machine 2000 MB; its jobs ask "
        "for at most the largest machine (a label learned on a bigger pool?)"]
    assert _requests(executor)[0]["RequestMemory"] == 2000


def test_apps_without_python_code_are_not_checked_and_still_run(executor, caplog):
    with caplog.at_level(logging.WARNING, logger="condorexec.executor"):
        assert executor.submit(len, {}, "abc").result(timeout=60) == 3
        assert executor.submit(functools.partial(divmod, 7), {}, 2).result(timeout=60) == (3, 1)
    assert _warnings(caplog, "could not check") == []
