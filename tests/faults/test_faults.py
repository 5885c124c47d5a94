"""Injected faults, through Parsl on the local pool: each fails only the call it hits, with a reason,
while a call already running beside it finishes, and the next call runs. A run never hangs."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import threading
import time

import htcondor2
import parsl
import psutil
import pytest
from parsl import python_app
from parsl.config import Config

from condorexec import CondorExecutor
from condorexec.errors import AppExited, JobFailed, JobHeld, ResourceExhausted
from condorexec.labels.store import LabelStore

pytestmark = pytest.mark.fault


@pytest.fixture(scope="module")
def executor(tmp_path_factory):
    base = tmp_path_factory.mktemp("faults")
    executor = CondorExecutor(label="faults", pool="local", nodes=["cpus=4,memory=4000,disk=20000"],
                              state_dir=str(base / "state"), monitor_period=0.1, batch_window=0.01)
    dfk = parsl.load(Config(executors=[executor], run_dir=str(base / "runinfo"), strategy="none"))
    yield executor
    dfk.cleanup()


@python_app
def bystander(seconds, parsl_resource_specification={"memory": 100}):  # noqa: B006
    import time

    time.sleep(seconds)
    return "still here"


@python_app
def square(x, parsl_resource_specification={"memory": 100}):  # noqa: B006
    return x * x


@python_app
def misbehave(how, parsl_resource_specification={"memory": 100}):  # noqa: B006
    import os
    import signal
    import sys
    import threading
    import time

    if how == "segfault":
        os.kill(os.getpid(), signal.SIGSEGV)
    if how == "os._exit":
        os._exit(7)
    if how == "sys.exit":
        sys.exit(3)
    if how == "KeyboardInterrupt":
        raise KeyboardInterrupt
    if how == "unpicklable result":
        return threading.Lock()
    if how == "overwrite the result":
        with open("result.pkl", "wb") as fh:
            fh.write(b"not a pickle")
        os._exit(0)
    if how == "memory hog":
        block = bytearray(600 * 2**20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        time.sleep(5)
    if how == "kill the fork server":
        os.kill(os.getppid(), signal.SIGKILL)  # on the local pool, the warm interpreter this call forked from
    if how == "sleep":
        time.sleep(60)
    return how


#: (what the call does, the exception its future gets, text the message must hold)
FAULTS = [
    ("segfault", JobFailed, "signal 11"),
    ("os._exit", JobFailed, "exit code 7"),
    ("sys.exit", AppExited, "SystemExit"),
    ("KeyboardInterrupt", AppExited, "KeyboardInterrupt"),
    ("unpicklable result", Exception, "pickle"),
    ("overwrite the result", JobFailed, "without a readable result"),
    ("memory hog", ResourceExhausted, "memory"),
]


@pytest.mark.parametrize(("how", "error", "said"), FAULTS, ids=[f[0] for f in FAULTS])
def test_a_failing_call_fails_alone(executor, how: str, error: type, said: str) -> None:
    beside = bystander(1)
    time.sleep(0.3)  # running when the fault hits
    with pytest.raises(error) as info:
        misbehave(how).result(timeout=120)
    assert said in str(info.value) or said in repr(info.value.__cause__), info.value
    assert beside.result(timeout=60) == "still here"
    assert square(9).result(timeout=60) == 81


def test_unpicklable_arguments_fail_at_submission_and_nothing_is_queued(executor) -> None:
    before = executor.stats["jobs"]
    with pytest.raises(Exception, match="pickle|lock"):
        square(threading.Lock()).result(timeout=30)
    assert executor.stats["jobs"] == before and square(3).result(timeout=60) == 9


def _job_of(executor, app: str) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        ads = executor.pool.query(f'CondorexecRun == "{executor.run_token}" && CondorexecApp == "{app}" '
                                  "&& JobStatus == 2", ["ClusterId", "ProcId"])
        if ads:
            return f"{ads[0]['ClusterId']}.{ads[0]['ProcId']}"
        time.sleep(0.05)
    raise AssertionError(f"no running job of {app}")


@pytest.mark.parametrize(("action", "error", "said"), [
    (htcondor2.JobAction.Remove, JobFailed, "removed"),
    (htcondor2.JobAction.Hold, JobHeld, "HoldReasonCode 1"),
], ids=["removed", "held by the user"])
def test_a_job_removed_or_held_from_outside_fails_its_call_alone(executor, action, error: type, said: str) -> None:
    beside = bystander(1)
    future = misbehave("sleep")
    job_id = _job_of(executor, "misbehave")
    executor.pool.act(action, [job_id])
    with pytest.raises(error, match=said):
        future.result(timeout=60)
    assert beside.result(timeout=60) == "still here" and square(4).result(timeout=60) == 16


def test_an_app_that_kills_the_local_pools_fork_server_does_not_fail_later_calls(executor) -> None:
    beside = bystander(1)
    time.sleep(0.3)
    misbehave("kill the fork server").exception(timeout=60)  # its own outcome depends on when the server died
    beside.exception(timeout=60)  # ended one way or the other: the server's jobs die with it
    assert [square(i).result(timeout=60) for i in range(3)] == [0, 1, 4]


def test_a_done_callback_that_raises_does_not_stop_the_tracking(executor) -> None:
    first = square(2)
    first.add_done_callback(lambda _f: 1 / 0)
    first.add_done_callback(lambda _f: (_ for _ in ()).throw(SystemExit(1)))
    assert first.result(timeout=60) == 4
    assert [square(i).result(timeout=60) for i in range(3)] == [0, 1, 4]


SUBMITTER = textwrap.dedent("""
    import sys, time, parsl
    from parsl import python_app
    from parsl.config import Config
    from condorexec import CondorExecutor

    @python_app
    def work(x, seconds, parsl_resource_specification={"memory": 100}):
        import time
        time.sleep(seconds)
        return x

    base, seconds = sys.argv[1], float(sys.argv[2])
    executor = CondorExecutor(label="k", pool="local", nodes=["cpus=2,memory=2000,disk=5000"], mode="per_call",
                              state_dir=base + "/state", autolabel=True, label_store=base + "/labels.sqlite",
                              monitor_period=0.1)
    parsl.load(Config(executors=[executor], run_dir=base + "/runinfo", strategy="none"))
    print(sum(f.result() for f in [work(i, seconds) for i in range(4)]), flush=True)
    parsl.dfk().cleanup()
""")


def test_sigkill_of_the_submitter_leaves_no_job_running_and_a_restart_with_the_same_state_works(tmp_path) -> None:
    script = tmp_path / "submitter.py"
    script.write_text(SUBMITTER)
    first = subprocess.run([sys.executable, str(script), str(tmp_path), "0"], capture_output=True, text=True,
                           timeout=120)
    assert first.stdout.strip() == "6", first.stderr
    with LabelStore(tmp_path / "labels.sqlite") as store:
        learned = store.completions("default")
    assert learned == 4

    victim = subprocess.Popen([sys.executable, str(script), str(tmp_path), "30"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        sleepers: list[psutil.Process] = []
        while time.monotonic() < deadline and len(sleepers) < 2:  # both cores busy with its jobs
            sleepers = [p for p in psutil.Process(victim.pid).children(recursive=True)
                        if "/localpool/execute/" in _cwd(p)]  # a job runs in its sandbox
            time.sleep(0.1)
        assert len(sleepers) == 2, "the submitter's jobs never started"
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
    finally:
        victim.kill()
        victim.communicate()
    gone, alive = psutil.wait_procs(sleepers, timeout=15)
    assert alive == []  # the local pool's jobs die with their submitter

    again = subprocess.run([sys.executable, str(script), str(tmp_path), "0"], capture_output=True, text=True,
                           timeout=120)
    assert again.stdout.strip() == "6", again.stderr
    with LabelStore(tmp_path / "labels.sqlite") as store:
        assert store.completions("default") == learned + 4  # what was learned before the kill is all there


def _cwd(process: psutil.Process) -> str:
    try:
        return process.cwd()
    except psutil.Error:
        return ""
