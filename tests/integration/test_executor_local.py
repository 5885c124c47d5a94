"""CondorExecutor on the embedded local pool, end to end through Parsl.

Concurrency is proven from the job event log's order (execute/terminate events), not wall clocks."""

import threading
import traceback

import classad2
import htcondor2
import psutil
import pytest
from parsl import bash_app, python_app
from parsl.app.errors import BadStdStreamFile, MissingOutputs
from parsl.data_provider.files import File
from parsl.executors.errors import InvalidResourceSpecification
from typeguard import TypeCheckError

from condorexec.errors import InvalidSpecError, MissingInputError, ResourceExhausted
from condorexec.runstats import read_log

ET = htcondor2.JobEventType


@python_app
def nap(seconds, parsl_resource_specification={"cores": 1, "memory": 1000, "disk": 10}):  # noqa: B006
    import time

    time.sleep(seconds)
    return seconds


@python_app
def square(x, parsl_resource_specification={"cores": 1, "memory": 100, "disk": 10}):  # noqa: B006
    return x * x


@python_app
def explode(parsl_resource_specification={"memory": 100}):  # noqa: B006
    raise ZeroDivisionError("calibration failed for detector 4")


@bash_app
def writes_nothing(outputs=(), parsl_resource_specification={"memory": 200, "disk": 10}):  # noqa: B006
    return "true"


@python_app
def returns_without_writing(outputs=(), parsl_resource_specification={"memory": 200, "disk": 10}):  # noqa: B006
    return "done"


@python_app
def hog(megabytes, parsl_resource_specification={"cores": 1, "memory": 100, "disk": 10}):  # noqa: B006
    import time

    block = bytearray(megabytes * 2**20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    time.sleep(5)
    return len(block)


@python_app
def copy_upper(inputs=(), outputs=(), parsl_resource_specification={"memory": 100, "disk": 10}):  # noqa: B006
    import os

    with open(inputs[0].filepath) as src, open(outputs[0].filepath, "w") as dst:
        dst.write(src.read().upper())
    return sorted(os.listdir("."))


@bash_app
def shout(word, stdout=None, stderr=None, parsl_resource_specification={"memory": 200, "disk": 10}):  # noqa: B006
    return f"echo {word} && echo oops >&2"


def _history(executor, constraint="true"):
    return list(executor.pool.history(f'CondorexecRun == "{executor.run_token}" && ({constraint})'))


def test_values_and_per_call_specs(executor):
    futures = [square(i) for i in range(10)]
    big = square(7, parsl_resource_specification={"cores": 2, "memory": 300, "disk": 20})
    assert [f.result(timeout=60) for f in futures] == [i * i for i in range(10)]
    assert big.result(timeout=60) == 49
    sizes = {(ad["RequestCpus"], ad["RequestMemory"], ad["RequestDisk"]) for ad in
             _history(executor, 'CondorexecApp == "square"')}
    assert sizes == {(1, 100, 10 * 1024), (2, 300, 20 * 1024)}  # RequestDisk is KiB, like HTCondor's


def test_app_exception_keeps_its_type(executor):
    with pytest.raises(ZeroDivisionError, match="detector 4") as info:
        explode().result(timeout=60)
    # Parsl's wrap_error carries the node-side traceback (frames of the app itself) back with it
    frames = "".join(traceback.format_exception(info.value))
    assert "in explode" in frames


def test_eight_fit_and_the_ninth_waits(executor):
    futures = [nap(2.0) for _ in range(9)]
    assert [f.result(timeout=120) for f in futures] == [2.0] * 9
    jobs = {f"{ad['ClusterId']}.{ad['ProcId']}" for ad in _history(executor, 'CondorexecApp == "nap"')}
    steps, _ = read_log(executor.log_path)
    running, order = set(), []
    for job, delta in steps:
        if job in jobs:
            (running.add if delta > 0 else running.discard)(job)
            order.append((job, delta, len(running)))
    starts_before_first_end = 0
    for _job, delta, _ in order:
        if delta < 0:
            break
        starts_before_first_end += 1
    assert starts_before_first_end == 8  # eight 1-core/1000 MB jobs filled the 8-core/8000 MB node
    assert max(n for _, _, n in order) == 8  # and the ninth never ran beside them all


def test_memory_over_request_is_held_34_102_and_the_call_fails(executor):
    with pytest.raises(ResourceExhausted) as info:
        hog(400).result(timeout=120)
    assert info.value.resource == "memory" and info.value.requested == 100 and info.value.used > 100
    assert "parsl_resource_specification" in str(info.value)
    held = [e for e in htcondor2.JobEventLog(str(executor.log_path)).events(0)
            if e.type == ET.JOB_HELD and f"{e.cluster}.{e.proc}" == info.value.job_id]
    assert [(e["HoldReasonCode"], e["HoldReasonSubCode"]) for e in held] == [(34, 102)]
    [ad] = _history(executor, 'CondorexecApp == "hog"')
    assert ad["JobStatus"] == 3 and ad["LastHoldReasonCode"] == 34  # removed, not left held


def test_files_travel_both_ways(executor, tmp_path):
    src = tmp_path / "in.txt"
    src.write_text("hello")
    out = tmp_path / "results" / "out.txt"
    listing = copy_upper(inputs=[File(str(src))], outputs=[File(str(out))]).result(timeout=60)
    assert out.read_text() == "HELLO"
    assert "in.txt" in listing and "payload.pkl" in listing  # the app ran in its own sandbox


def test_a_declared_output_never_written_fails_a_bash_app_as_in_parsl(executor, tmp_path):
    with pytest.raises(MissingOutputs, match="never.txt"):
        writes_nothing(outputs=[File(str(tmp_path / "never.txt"))]).result(timeout=60)
    assert returns_without_writing(outputs=[File(str(tmp_path / "never2.txt"))]).result(timeout=60) == "done"
    assert not (tmp_path / "never.txt").exists() and not (tmp_path / "never2.txt").exists()


def test_bash_app_streams_come_back(executor, tmp_path):
    out, err = tmp_path / "shout.out", tmp_path / "shout.err"
    assert shout("hi", stdout=str(out), stderr=str(err)).result(timeout=60) == 0
    assert out.read_text() == "hi\n" and err.read_text().endswith("oops\n")  # Parsl logs the command first


def test_stream_specs_mean_what_they_mean_in_parsl(executor, tmp_path):
    """A plain path appends ("a+"), (path, "w") truncates, and a bad spec gets Parsl's own error."""
    appended, truncated = tmp_path / "appended.out", tmp_path / "truncated.out"
    for _ in range(2):
        shout("hi", stdout=str(appended), stderr=str(tmp_path / "a.err")).result(timeout=60)
        shout("hi", stdout=(str(truncated), "w"), stderr=str(tmp_path / "t.err")).result(timeout=60)
    assert appended.read_text() == "hi\nhi\n" and truncated.read_text() == "hi\n"
    for bad, error in ((["x.out", "w"], TypeCheckError), (("x.out", None), TypeCheckError),
                       (("x.out", "w", 42), TypeCheckError), (("x.out",), TypeCheckError),
                       (("x.out", "badmode"), BadStdStreamFile)):
        with pytest.raises(error):
            shout("hi", stdout=bad, stderr=str(tmp_path / "bad.err")).result(timeout=60)


def test_missing_input_fails_before_submission(executor, tmp_path):
    jobs_before = len(_history(executor))
    with pytest.raises(MissingInputError, match="nothing-here.txt"):
        copy_upper(inputs=[File(str(tmp_path / "nothing-here.txt"))], outputs=[File(str(tmp_path / "o"))]).result()
    assert len(_history(executor)) == jobs_before


def test_bad_spec_fails_before_submission_as_parsls_invalid_resource_specification(executor):
    with pytest.raises(InvalidResourceSpecification, match="memory") as info:
        square(1, parsl_resource_specification={"memory": 1.5}).result()
    assert isinstance(info.value, InvalidSpecError) and info.value.invalid_keys == {"memory"}
    with pytest.raises(InvalidResourceSpecification, match="no machine"):
        square(1, parsl_resource_specification={"cores": 64}).result()


def test_event_log_and_history_are_htcondors_formats(executor):
    square(3).result(timeout=60)
    types = {e.type for e in htcondor2.JobEventLog(str(executor.log_path)).events(0)}
    assert {ET.SUBMIT, ET.EXECUTE, ET.JOB_TERMINATED} <= types
    ad = _history(executor, 'CondorexecApp == "square"')[0]
    assert isinstance(ad, classad2.ClassAd)
    for attr, kind in (("MemoryUsage", int), ("DiskUsage", int), ("CpusUsage", float),
                       ("RemoteWallClockTime", float), ("RemoteUserCpu", float), ("ExitCode", int)):
        assert isinstance(ad.eval(attr), kind), attr
    assert ad["MemoryUsage"] > 0 and ad["JobStatus"] == 4


def test_calls_arriving_together_share_a_cluster(executor):
    futures = [square(i) for i in range(30)]
    [f.result(timeout=60) for f in futures]
    clusters = {ad["ClusterId"] for ad in _history(executor, 'CondorexecApp == "square"')
                if ad["CondorexecTask"] >= min(f.tid for f in futures)}
    assert len(clusters) <= 3


def test_shutdown_removes_running_jobs_and_leaves_no_processes(tmp_path):
    from condorexec import CondorExecutor

    existing = {p.pid for p in psutil.Process().children(recursive=True)}  # other tests' pools
    executor = CondorExecutor(label="shut", pool="local", nodes=["cpus=2,memory=2000"],
                              state_dir=str(tmp_path / "state"))
    executor.run_dir = str(tmp_path / "run")
    executor.start()
    try:
        future = executor.submit(_sleep_forever, {"memory": 100})
        for _ in range(100):
            if executor.pool.query("JobStatus == 2"):
                break
            threading.Event().wait(0.1)
        assert executor.pool.query("JobStatus == 2"), "the job never started"
        ours = [p for p in psutil.Process().children(recursive=True) if p.pid not in existing]
        assert ours  # the pool's fork server (and the job, once forked)
    finally:
        executor.shutdown()
    assert "shut down" in str(future.exception(timeout=10)) or "removed" in str(future.exception(timeout=10))
    psutil.wait_procs(ours, timeout=5)
    assert not [p for p in ours if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    [ad] = list(executor.pool.history(f'CondorexecRun == "{executor.run_token}"'))
    assert ad["JobStatus"] == 3  # removed, recorded in history like condor_rm would


def _sleep_forever():
    import time

    time.sleep(600)


@python_app
def parsl_loaded(parsl_resource_specification={"memory": 100, "disk": 10}):  # noqa: B006
    import sys

    return "parsl" in sys.modules


def test_python_apps_do_not_import_parsl_on_the_node(executor):
    # Parsl's wrap_error is stripped before pickling: the job needs only the app, not Parsl
    assert parsl_loaded().result(timeout=60) is False


def test_switch_interval_is_lowered_while_running_and_restored(tmp_path):
    import sys

    from condorexec import CondorExecutor

    before = sys.getswitchinterval()
    executor = CondorExecutor(label="sw", pool="local", nodes=["cpus=1,memory=500"], state_dir=str(tmp_path / "s"))
    executor.run_dir = str(tmp_path / "run")
    executor.start()
    try:
        assert sys.getswitchinterval() == pytest.approx(0.0002)
    finally:
        executor.shutdown()
    assert sys.getswitchinterval() == pytest.approx(before, abs=2e-6)  # stored in whole microseconds
