"""Bad inputs to a named workflow (issue 24): a name that is not a plain file name, a journal directory with
a control character, a name another live executor holds, a journal this condorexec cannot read. Each is
refused with an error naming what was wrong, before anything is submitted, and nothing is lost."""

from __future__ import annotations

import os
import sqlite3
import time
from pathlib import Path

import pytest

from condorexec import CondorExecutor
from condorexec.errors import InvalidSpecError, UnsafeValueError
from condorexec.executor_config import JobConfig
from condorexec.names import TASKS_DIR
from condorexec.workflow.journal import (
    SCHEMA_VERSION,
    WorkflowBusy,
    WorkflowError,
    check_name,
    journal_path,
    read_only,
)

pytestmark = pytest.mark.bad_input

BAD_NAMES = [
    ("path separator", "a/b"),
    ("parent directory", "../x"),
    ("trailing newline", "x\n"),
    ("carriage return", "x\ry"),
    ("NUL", "x\x00y"),
    ("space", "my workflow"),
    ("empty", ""),
    ("hidden file", ".hidden"),
    ("dot dot", ".."),
    ("option-like", "-x"),
    ("101 characters", "w" * 101),
    ("int", 7),
    ("bytes", b"name"),
    ("list", ["name"]),
]
IDS = [case for case, _ in BAD_NAMES]
GOOD_NAMES = ["a", "w" * 100, "run_1.v2-final", "_private", "2026-12-06"]

NODE = ["cpus=1,memory=2000,disk=2000"]


def _executor(tmp_path: Path, run: str, **options) -> CondorExecutor:
    executor = CondorExecutor(label=run, pool="local", nodes=NODE, state_dir=str(tmp_path / "state"),
                              batch_window=0.01, **options)
    executor.run_dir = str(tmp_path / run)
    return executor


def _echo(x):
    return x


@pytest.mark.parametrize(("case", "name"), BAD_NAMES, ids=IDS)
def test_a_bad_workflow_name_is_refused_naming_field_and_value(case: str, name: object) -> None:
    with pytest.raises(InvalidSpecError) as info:
        check_name(name)
    assert info.value.field == "workflow" and info.value.value == name
    assert f"workflow={name!r}" in str(info.value), info.value


@pytest.mark.parametrize("name", GOOD_NAMES)
def test_a_plain_name_is_taken_as_it_is(name: str, tmp_path: Path) -> None:
    assert check_name(name) == name
    assert journal_path(name, tmp_path) == tmp_path / f"{name}.sqlite"


@pytest.mark.parametrize(("case", "name"), BAD_NAMES, ids=IDS)
def test_an_executor_with_a_bad_workflow_name_is_refused_when_built(case: str, name: object, tmp_path: Path) -> None:
    for build in (lambda: CondorExecutor(pool="local", state_dir=str(tmp_path / "state"), workflow=name,
                                         workflow_dir=str(tmp_path / "journals")),
                  lambda: CondorExecutor(pool="local", job_config=JobConfig(workflow=name))):
        with pytest.raises(InvalidSpecError) as info:
            build()
        assert info.value.field == "workflow" and f"workflow={name!r}" in str(info.value), info.value
    assert list(tmp_path.iterdir()) == []  # no state, no journal directory, nothing submitted


@pytest.mark.parametrize("char", ["\n", "\r", "\x00", "\x1b", "\x7f"], ids=["LF", "CR", "NUL", "ESC", "DEL"])
def test_a_workflow_dir_with_a_control_character_is_refused_when_built(char: str, tmp_path: Path) -> None:
    directory = str(tmp_path / f"journals{char}x")
    with pytest.raises(UnsafeValueError) as info:
        CondorExecutor(pool="local", state_dir=str(tmp_path / "state"), workflow="wf", workflow_dir=directory)
    assert info.value.field == "workflow_dir" and f"workflow_dir={directory!r}" in str(info.value), info.value
    assert list(tmp_path.iterdir()) == []


def test_a_workflow_dir_that_is_not_a_string_is_refused_when_built(tmp_path: Path) -> None:
    with pytest.raises(InvalidSpecError) as info:
        CondorExecutor(pool="local", workflow="wf", workflow_dir=3)
    assert info.value.field == "workflow_dir" and "workflow_dir=3" in str(info.value)


def _journaled(path: Path, calls: int) -> int:
    """How many calls the journal at ``path`` holds, once it holds ``calls`` (or 30 s have passed)."""
    deadline = time.monotonic() + 30
    while True:
        reader = read_only(path)
        try:
            held = len(reader.calls())
        finally:
            reader.close()
        if held >= calls or time.monotonic() > deadline:
            return held
        time.sleep(0.02)


def test_a_second_live_executor_on_the_same_workflow_is_refused_naming_the_first(tmp_path: Path) -> None:
    journals = str(tmp_path / "journals")
    first = _executor(tmp_path, "first", workflow="shared", workflow_dir=journals)
    first.start()
    try:
        second = _executor(tmp_path, "second", workflow="shared", workflow_dir=journals)
        with pytest.raises(WorkflowBusy) as info:
            second.start()
        second.shutdown()
        assert "'shared'" in str(info.value)
        assert f"process {os.getpid()} " in str(info.value)  # the first one's process: this one
        assert not any((tmp_path / "second").rglob("*.sub")) and not any(
            (tmp_path / "second" / "condorexec" / "second" / TASKS_DIR).glob("*/*"))
        first.submit(_echo, {}, 1)  # the first one's journal is still its own, and written
        assert _journaled(journal_path("shared", journals), 1) == 1
    finally:
        first.shutdown()
    third = _executor(tmp_path, "third", workflow="shared", workflow_dir=journals)
    third.start()  # the first one let go of the name when it ended
    third.shutdown()


def test_an_executor_refuses_a_journal_of_a_newer_schema_and_keeps_it(tmp_path: Path) -> None:
    journals = tmp_path / "journals"
    journals.mkdir()
    path = journals / "wf.sqlite"
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=wal")
    db.execute("CREATE TABLE call (key TEXT)")
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 3}")
    db.commit()
    db.close()
    before = path.read_bytes()
    executor = _executor(tmp_path, "run", workflow="wf", workflow_dir=str(journals))
    with pytest.raises(WorkflowError) as info:
        executor.start()
    executor.shutdown()
    assert str(path) in str(info.value) and f"schema {SCHEMA_VERSION + 3}" in str(info.value)
    assert path.read_bytes() == before
    assert not any((tmp_path / "run").rglob("*.sub"))


def test_an_executor_refuses_a_journal_that_is_not_sqlite_naming_it(tmp_path: Path) -> None:
    journals = tmp_path / "journals"
    journals.mkdir()
    path = journals / "wf.sqlite"
    path.write_text("a file someone put here\n" * 50)
    before = path.read_bytes()
    executor = _executor(tmp_path, "run", workflow="wf", workflow_dir=str(journals))
    with pytest.raises(WorkflowError) as info:
        executor.start()
    executor.shutdown()
    assert str(path) in str(info.value) and "move it away" in str(info.value)
    assert path.read_bytes() == before
