"""A call's key across runs (condorexec/workflow/keys.py): the same call in another process is the same
key whatever the hash seed; a change of argument, size, output destination or code is another key; and
Parsl's monitoring ids, which change from run to run, are left out by the executor."""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from condorexec import CondorExecutor
from condorexec.files import FilePlan
from condorexec.spec import ResourceSpec, parse_spec
from condorexec.workflow.journal import journal_path, read_only
from condorexec.workflow.keys import _digest, call_key

#: the app the processes below key, as a module of its own (the key names its module and qualname)
APP_MODULE = '''
def simulate(seed, tags, options, scale=1.0):
    return sorted(tags), options, seed * scale
'''

#: prints the key of one call of APP_MODULE's app whose arguments hold a set of strings and a dict, and
#: what a plain pickle of those arguments is (which changes with the hash seed: the key must not)
KEY_IN_A_PROCESS = r'''
import sys, hashlib, cloudpickle
sys.path.insert(0, sys.argv[1])
from keyapp import simulate
from condorexec.files import FilePlan
from condorexec.spec import ResourceSpec
from condorexec.workflow.keys import call_key

tags = {f"tag-{n}" for n in range(40)}
args = (7, tags, {"depth": 3, "labels": frozenset({"x", "y", "z", "w"}), "nested": [{"q", "r", "s"}]})
plan = FilePlan(inputs=["/data/in.csv"], outputs={"out.txt": ("/results/out.txt", "w")})
print(call_key(simulate, args, {"scale": 2.5}, ResourceSpec(cores=2, memory=1000), plan))
print(hashlib.sha256(cloudpickle.dumps(args, protocol=5)).hexdigest())
'''


def _key_in_a_process(module_dir: Path, seed: str) -> tuple[str, str]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run([sys.executable, "-c", KEY_IN_A_PROCESS, str(module_dir)], env=env, check=True,
                         capture_output=True, text=True).stdout.split()
    return out[0], out[1]


def test_the_same_call_has_the_same_key_in_processes_with_different_hash_seeds(tmp_path: Path) -> None:
    (tmp_path / "keyapp.py").write_text(APP_MODULE)
    (key_1, naive_1), (key_2, naive_2) = (_key_in_a_process(tmp_path, seed) for seed in ("1", "2"))
    assert naive_1 != naive_2, "the seeds no longer change the sets' order: the test proves nothing"
    assert key_1 == key_2 and len(key_1) == 64


def _app(x, tags=(), scale=1.0):
    return x, tags, scale


def _key(func=_app, args=(3, {"b", "a"}), kwargs=None, spec=None, plan=None) -> str:
    return call_key(func, args, kwargs if kwargs is not None else {"scale": 1.0},
                    spec if spec is not None else ResourceSpec(cores=1),
                    plan if plan is not None else FilePlan(outputs={"out.txt": ("/r/out.txt", "w")}))


def test_a_call_built_again_in_this_process_has_the_same_key() -> None:
    assert _key() == _key(args=(3, {"a", "b"})) == _key(args=(3, set("ab"))) == _key(args=[3, {"a", "b"}])


def test_arguments_equal_in_python_but_of_other_types_are_other_calls() -> None:
    assert _key(args=(3, ["a", "b"])) != _key(args=(3, ("a", "b")))
    assert _key(args=(3, {"a": 1, "b": 2})) != _key(args=(3, [("a", 1), ("b", 2)]))
    assert _key(args=(3.0, {"a", "b"})) != _key()


@pytest.mark.parametrize(("what", "other"), [
    ("argument", {"args": (4, {"a", "b"})}),
    ("set member", {"args": (3, {"a", "c"})}),
    ("set or frozenset", {"args": (3, frozenset({"a", "b"}))}),
    ("keyword value", {"kwargs": {"scale": 2.0}}),
    ("int or float", {"kwargs": {"scale": 1}}),
    ("cores", {"spec": ResourceSpec(cores=2)}),
    ("memory", {"spec": ResourceSpec(cores=1, memory=500)}),
    ("output destination", {"plan": FilePlan(outputs={"out.txt": ("/elsewhere/out.txt", "w")})}),
    ("output mode", {"plan": FilePlan(outputs={"out.txt": ("/r/out.txt", "a")})}),
    ("input file", {"plan": FilePlan(inputs=["/d/in.csv"], outputs={"out.txt": ("/r/out.txt", "w")})}),
])
def test_a_change_of_the_call_is_another_key(what: str, other: dict) -> None:
    assert _key(**other) != _key(), what


def _compiled(source: str):
    """A function ``step`` of module ``pipeline``, made from ``source`` (as two versions of a script)."""
    namespace = {"__name__": "pipeline"}
    exec(compile(textwrap.dedent(source), "pipeline.py", "exec"), namespace)  # noqa: S102 - the test's own text
    return namespace["step"]


def test_a_change_of_the_functions_code_is_another_key_and_moving_it_is_not() -> None:
    original = _compiled("def step(x):\n    return x + 1\n")
    moved = _compiled("\n\n# a comment above it\n\ndef step(x):\n    return x + 1\n")
    changed = _compiled("def step(x):\n    return x + 2\n")
    renamed_var = _compiled("def step(y):\n    return y * 1 + 1\n")
    assert _key(func=original) == _key(func=moved)  # line numbers are not the code
    assert _key(func=changed) != _key(func=original)
    assert _key(func=renamed_var) != _key(func=original)


def test_a_set_and_the_tuple_it_is_canonicalized_to_are_different_calls() -> None:
    lookalike = ("set", (_digest("a"),))
    assert _key(args=(3, {"a"})) != _key(args=(3, lookalike))


def echo(x, **kwargs):
    return x


def _journaled_keys(path: Path, run: str, calls: int) -> list[tuple[str, int]]:
    """(key, ordinal) of run ``run``'s calls in the journal, once ``calls`` of them are in it (they are
    journaled just before their jobs are submitted)."""
    deadline = time.monotonic() + 30
    while True:
        rows: list[tuple[str, int]] = []
        if path.exists():
            reader = read_only(path)
            try:
                rows = sorted((row.key, row.ordinal) for row in reader.calls() if row.run == run)
            finally:
                reader.close()
        if len(rows) >= calls or time.monotonic() > deadline:
            return rows
        time.sleep(0.02)


def _executor(tmp_path: Path, run_dir: Path, workflow: str) -> CondorExecutor:
    executor = CondorExecutor(pool="local", nodes=["cpus=1,memory=2000,disk=2000"], state_dir=str(tmp_path / "state"),
                              batch_window=0.01, workflow=workflow, workflow_dir=str(tmp_path / "journals"))
    executor.run_dir = str(run_dir)
    return executor


def test_the_executor_leaves_parsls_monitoring_ids_out_of_the_key(tmp_path: Path) -> None:
    """Through the real executor: two calls that differ only in ``_parsl_monitoring_*`` are one call
    (ordinals 0 and 1 of one key), whose key is that of the call without them; another argument is another.
    The keys are read from the journal as the calls are sent; the jobs need not run."""
    executor = _executor(tmp_path, tmp_path / "run", "monitored")
    executor.start()
    try:
        for n in (11, 12):
            executor.submit(echo, {}, 5, _parsl_monitoring_task_id=n, _parsl_monitoring_try_id=0)
        executor.submit(echo, {}, 5, _parsl_monitoring_task_id=13, flag=True)
        rows = _journaled_keys(journal_path("monitored", tmp_path / "journals"), executor.run_token, 3)
    finally:
        executor.shutdown()
    plain = call_key(echo, (5,), {}, parse_spec({}), FilePlan())
    flagged = call_key(echo, (5,), {"flag": True}, parse_spec({}), FilePlan())
    assert rows == sorted([(plain, 0), (plain, 1), (flagged, 0)])


def test_a_monitored_workflow_keeps_its_keys_from_one_parsl_run_directory_to_the_next(tmp_path: Path) -> None:
    keys = []
    for number in ("000", "001"):
        executor = _executor(tmp_path, tmp_path / "runinfo" / number, "watched")
        executor.monitoring_messages = queue.Queue()  # what Parsl's DataFlowKernel sets when monitoring is on
        executor.start()
        try:
            executor.submit(echo, {}, 5, _parsl_monitoring_task_id=int(number), _parsl_monitoring_try_id=0)
            keys.append(_journaled_keys(journal_path("watched", tmp_path / "journals"), executor.run_token, 1))
        finally:
            executor.shutdown()
    assert len(keys[0]) == 1 and keys[0] == keys[1]
