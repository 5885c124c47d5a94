"""The workflow journal (condorexec/workflow/journal.py) on real SQLite files: what a SIGKILL at any
instant leaves, where outcomes are kept, the one-holder rule, and the runs' summary rows."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from condorexec.payload import Outcome, decode_outcome, encode_outcome
from condorexec.workflow.journal import (
    DONE,
    INLINE_LIMIT,
    KEPT_OUTCOME_NAME,
    SCHEMA_VERSION,
    SENT,
    Journal,
    WorkflowBusy,
    WorkflowError,
    journal_path,
    read_only,
)

#: a process that writes batches to a journal until it is killed: each batch is one ``sent`` transaction,
#: then its placements and ends in one ``flush``; it says on stdout what it has committed. With a 4th
#: argument K > 0 it SIGKILLs itself at the K-th call of SQLite's progress handler, which runs only while
#: a statement executes: always in the middle of a transaction (it says which, first)
WRITER = r"""
import os, signal, sys
from condorexec.payload import Outcome, encode_outcome
from condorexec.workflow.journal import Journal

name, directory, size, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
journal = Journal(name, directory)
journal.begin_run("writer", "local", directory)
blob = encode_outcome(Outcome(0, True, value="v" * 400))
phase, ticks = ["begin", 0], [0]

def tick():
    ticks[0] += 1
    if ticks[0] == kill_at:
        print("killed in", *phase, flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
    return 0

journal.db.set_progress_handler(tick, 1000)
batch = 0
while True:
    rows = [(f"{batch}-{n}", 0, "app", "writer", f"{directory}/tasks/{batch}-{n}") for n in range(size)]
    phase[:] = ["sent", batch]
    journal.sent(rows)
    print("sent", batch, flush=True)
    for n, (key, ordinal, _, run, task_dir) in enumerate(rows):
        journal.placed_job(key, ordinal, run, f"{batch}.{n}")
        journal.done(key, ordinal, run, blob, task_dir)
    phase[:] = ["flush", batch]
    journal.flush()
    print("flushed", batch, flush=True)
    batch += 1
"""

#: a process that takes the journal, writes three calls, says so, and waits to be killed
HOLDER = r"""
import sys, time
from condorexec.workflow.journal import Journal

journal = Journal(sys.argv[1], sys.argv[2])
journal.sent([(f"k{n}", 0, "app", "holder", f"/t/{n}") for n in range(3)])
print("held", flush=True)
time.sleep(60)
"""

BATCH = 500  # rows a batch (the kill points below count on it)


def _spawn(script: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, text=True)


def _kill(process: subprocess.Popen) -> list[str]:
    """SIGKILL it; what it had printed by then."""
    process.send_signal(signal.SIGKILL)
    rest = process.stdout.read().splitlines()
    process.wait()
    assert process.returncode == -signal.SIGKILL
    return rest


def _outcome(value, call_id: int = 1) -> bytes:
    return encode_outcome(Outcome(call_id, True, value=value, wall_s=0.5))


def _check_batches(directory: Path, flushed: set[int]) -> dict[int, str]:
    """The journal a killed writer left: a sound file, whose batches are each whole (all sent, or all
    done and placed), in order, with every batch the writer saw flushed done. Its batches' states."""
    db = sqlite3.connect(directory / "wf.sqlite")
    assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    db.close()
    journal = Journal("wf", directory)  # the dead writer's lock is gone with it
    try:
        by_batch: dict[int, list] = {}
        for row in journal.calls():
            by_batch.setdefault(int(row.key.split("-")[0]), []).append(row)
    finally:
        journal.close()
    batches = sorted(by_batch)
    assert batches == list(range(len(batches)))  # no batch missing before the last
    assert flushed <= set(batches)
    states = {}
    for batch, rows in by_batch.items():
        assert len(rows) == BATCH, f"batch {batch} is partly written ({len(rows)} rows)"
        kinds = {(row.state, row.job_id is not None, row.outcome is not None) for row in rows}
        assert kinds in ({(SENT, False, False)}, {(DONE, True, True)}), f"batch {batch}'s flush is partly written"
        states[batch] = rows[0].state
        if batch in flushed or batch < batches[-1]:
            assert states[batch] == DONE
    done = next(row for rows in by_batch.values() for row in rows if row.state == DONE)
    assert decode_outcome(done.outcome).value == "v" * 400
    return states


def test_a_sigkill_from_outside_in_the_middle_of_the_loop_loses_nothing_committed(tmp_path: Path) -> None:
    seen: list[str] = []
    writer = _spawn(WRITER, "wf", str(tmp_path), str(BATCH), "0")
    try:
        for line in writer.stdout:
            seen.append(line.strip())
            if line.strip() == "flushed 3":
                break
    finally:
        seen += _kill(writer)  # it goes on writing until the signal lands
    flushed = {int(line.split()[1]) for line in seen if line.startswith("flushed")}
    assert len(_check_batches(tmp_path, flushed)) >= 4


def test_a_sigkill_inside_each_kind_of_transaction_leaves_every_batch_whole(tmp_path: Path) -> None:
    """Killed at points spread over a batch's two transactions (SQLite's progress handler runs only inside
    a statement): the batch being written is there whole or not at all."""
    where: set[str] = set()
    for kill_at in (86, 130, 165, 227):  # ~76 progress ticks a batch of 500: ~23 sent, ~53 flush
        directory = tmp_path / str(kill_at)
        writer = _spawn(WRITER, "wf", str(directory), str(BATCH), str(kill_at))
        lines = writer.stdout.read().splitlines()
        writer.wait()
        assert writer.returncode == -signal.SIGKILL and lines[-1].startswith("killed in"), lines[-3:]
        _, _, phase, batch = lines[-1].split()
        where.add(phase)
        flushed = {int(line.split()[1]) for line in lines if line.startswith("flushed")}
        states = _check_batches(directory, flushed)
        if phase == "sent":  # killed before or after its commit: absent, or there whole and not yet done
            assert states.get(int(batch), SENT) == SENT
    assert where == {"sent", "flush"}, "the kill points no longer reach both transactions; move them"


def _outcome_of_size(size: int) -> tuple[bytes, bytes]:
    """An encoded outcome of exactly ``size`` bytes (pickle's framing makes the overhead size-dependent)."""
    value = b""
    for _ in range(5):
        blob = _outcome(value)
        if len(blob) == size:
            return blob, value
        value = b"x" * (len(value) + size - len(blob))
    raise AssertionError(f"no outcome of {size} bytes")


def test_outcomes_are_kept_inline_up_to_the_limit_and_beside_the_call_beyond(tmp_path: Path) -> None:
    at_limit, _ = _outcome_of_size(INLINE_LIMIT)
    over_limit, over_value = _outcome_of_size(INLINE_LIMIT + 1)
    assert (len(at_limit), len(over_limit)) == (INLINE_LIMIT, INLINE_LIMIT + 1)
    journal = Journal("wf", tmp_path / "journals")
    try:
        dirs = {name: tmp_path / "tasks" / name for name in ("small", "at", "over", "unwritable")}
        (tmp_path / "file").write_text("a file where the call's directory would be\n")
        dirs["unwritable"] = tmp_path / "file" / "7"
        journal.sent([(name, 0, "app", "r", str(d)) for name, d in dirs.items()])
        journal.done("small", 0, "r", _outcome({"a": 1}), str(dirs["small"]))
        journal.done("at", 0, "r", at_limit, str(dirs["at"]))
        journal.done("over", 0, "r", over_limit, str(dirs["over"]))
        journal.done("unwritable", 0, "r", over_limit, str(dirs["unwritable"]))
        journal.flush()
        rows = {row.key: row for row in journal.calls()}
    finally:
        journal.close()
    assert decode_outcome(rows["small"].outcome).value == {"a": 1} and rows["small"].outcome_file is None
    assert rows["at"].outcome == at_limit and rows["at"].outcome_file is None
    assert not (dirs["at"] / KEPT_OUTCOME_NAME).exists()
    kept = dirs["over"] / KEPT_OUTCOME_NAME
    assert rows["over"].outcome is None and rows["over"].outcome_file == str(kept)
    assert kept.read_bytes() == over_limit and decode_outcome(kept.read_bytes()).value == over_value
    # a call directory that cannot be made: the outcome stays in the journal rather than being lost
    assert rows["unwritable"].outcome == over_limit and rows["unwritable"].outcome_file is None
    assert all(row.state == DONE for row in rows.values())


def _newer_journal(path: Path, mode: str) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA journal_mode={mode}")
    db.execute("CREATE TABLE call (key TEXT, something_new BLOB)")
    db.execute("INSERT INTO call VALUES ('k', x'00ff')")
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    return path.read_bytes()


def _assert_newer_refused(path: Path, before: bytes) -> None:
    with pytest.raises(WorkflowError) as info:
        Journal("wf", path.parent)
    message = str(info.value)
    assert not isinstance(info.value, WorkflowBusy)
    assert f"schema {SCHEMA_VERSION + 1}" in message and f"({SCHEMA_VERSION})" in message and str(path) in message
    assert path.read_bytes() == before
    assert not path.with_name(path.name + "-wal").exists() or path.with_name(path.name + "-wal").stat().st_size == 0
    with pytest.raises(WorkflowError, match=f"schema {SCHEMA_VERSION + 1}"):
        read_only(path)
    assert path.read_bytes() == before


def test_a_journal_of_a_newer_schema_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    """As a newer condorexec would leave it: in WAL mode, cleanly closed."""
    path = tmp_path / "wf.sqlite"
    _assert_newer_refused(path, _newer_journal(path, "wal"))
    Journal("other", tmp_path).close()  # the refusal released its lock and left the directory usable
    with pytest.raises(WorkflowError):
        Journal("wf", tmp_path)  # still refused: nothing was upgraded


def test_a_newer_journal_in_rollback_mode_is_left_byte_for_byte(tmp_path: Path) -> None:
    path = tmp_path / "wf.sqlite"
    _assert_newer_refused(path, _newer_journal(path, "delete"))


def test_a_file_that_is_not_sqlite_is_refused_naming_it_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "wf.sqlite"
    path.write_bytes(b"these are notes, not a journal\n" * 100)
    before = path.read_bytes()
    with pytest.raises(WorkflowError) as info:
        Journal("wf", tmp_path)
    assert str(path) in str(info.value) and "not readable" in str(info.value)
    assert path.read_bytes() == before
    path.rename(tmp_path / "notes.txt")
    Journal("wf", tmp_path).close()  # the refused Journal let go of the workflow's lock


def test_read_only_refuses_a_file_that_is_not_sqlite_naming_it(tmp_path: Path) -> None:
    path = tmp_path / "wf.sqlite"
    path.write_bytes(b"these are notes, not a journal\n" * 100)
    with pytest.raises(WorkflowError, match=str(path)):
        read_only(path)


def test_a_second_journal_in_this_process_is_refused_naming_this_process(tmp_path: Path) -> None:
    first = Journal("wf", tmp_path)
    try:
        for _ in range(2):  # a refusal must not drop the first one's lock (as closing an fcntl lock's fd would)
            with pytest.raises(WorkflowBusy, match=f"process {os.getpid()} "):
                Journal("wf", tmp_path)
        first.sent([("k", 0, "app", "r", "/t/1")])  # the first holder is untouched
        assert [row.key for row in first.calls()] == ["k"]
        Journal("another-name", tmp_path).close()  # the lock is per name
    finally:
        first.close()
    Journal("wf", tmp_path).close()


def test_a_journal_held_by_another_process_is_refused_naming_it_until_that_process_dies(tmp_path: Path) -> None:
    holder = _spawn(HOLDER, "wf", str(tmp_path))
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(WorkflowBusy) as info:
            Journal("wf", tmp_path)
        assert f"process {holder.pid} " in str(info.value) and "'wf'" in str(info.value)
        reader = read_only(journal_path("wf", tmp_path))  # `condorexec workflow` reads beside the writer
        try:
            assert sorted(row.key for row in reader.calls()) == ["k0", "k1", "k2"]
            assert reader.states() == {SENT: 3}
            with pytest.raises(sqlite3.OperationalError, match="readonly"):
                reader.db.execute("DELETE FROM call")
        finally:
            reader.close()
    finally:
        _kill(holder)
    journal = Journal("wf", tmp_path)  # the kernel dropped the dead holder's lock
    try:
        assert len(journal.calls()) == 3
        with pytest.raises(WorkflowBusy, match=f"process {os.getpid()} "):  # the new holder's name, not the dead one's
            Journal("wf", tmp_path)
    finally:
        journal.close()


def test_read_only_of_a_missing_journal_says_so_and_creates_nothing(tmp_path: Path) -> None:
    with pytest.raises(WorkflowError, match="no workflow journal"):
        read_only(tmp_path / "nothing.sqlite")
    assert list(tmp_path.iterdir()) == []


def test_runs_and_their_reasons_round_trip(tmp_path: Path) -> None:
    journal = Journal("wf", tmp_path)
    try:
        journal.begin_run("first", "local", "/work/first")
        journal.begin_run("second", "condor", "/work/second")
        journal.sent([("k", 0, "app", "second", "/work/second/tasks/1")])
        journal.done("k", 0, "second", _outcome(42), "/work/second/tasks/1")  # buffered: end_run flushes it
        journal.end_run("second", {"adopted_finished": 3, "adopted_running": 2, "rerun": 4, "fresh": 1},
                        {"its worker is gone": 3, "it failed in the earlier run": 1})
    finally:
        journal.close()
    reader = read_only(journal_path("wf", tmp_path))
    try:
        first, second = reader.runs()
        assert reader.states() == {DONE: 1}
    finally:
        reader.close()
    assert (first.token, first.pool, first.work_dir, first.ended) == ("first", "local", "/work/first", None)
    assert first.reasons == {} and first.pid == os.getpid()
    assert (second.token, second.pool, second.work_dir) == ("second", "condor", "/work/second")
    assert (second.adopted_finished, second.adopted_running, second.rerun, second.fresh) == (3, 2, 4, 1)
    assert second.reasons == {"its worker is gone": 3, "it failed in the earlier run": 1}
    assert second.ended is not None and second.ended >= second.started >= first.started


def test_a_row_sent_again_replaces_the_earlier_runs_row(tmp_path: Path) -> None:
    """A call run again is one row, the latest run's: a rerun never sees two answers for one call."""
    journal = Journal("wf", tmp_path)
    try:
        journal.sent([("k", 0, "app", "old", "/old/tasks/1")])
        journal.placed_job("k", 0, "old", "7.0")
        journal.done("k", 0, "old", _outcome(1), "/old/tasks/1")
        journal.flush()
        journal.sent([("k", 0, "app", "new", "/new/tasks/4")])
        journal.done("k", 0, "old", _outcome(2), "/old/tasks/1")  # a late end of the old run's row: no effect
        journal.flush()
        (row,) = journal.calls()
    finally:
        journal.close()
    assert (row.run, row.task_dir, row.state, row.job_id, row.outcome) == ("new", "/new/tasks/4", SENT, None, None)


def test_a_journal_on_a_network_filesystem_uses_a_rollback_journal_and_says_so(tmp_path, monkeypatch, caplog) -> None:
    """SQLite's WAL mode does not work over NFS (its shared memory is one machine's): there the journal
    falls back to a rollback journal, with a warning that names the filesystem."""
    from condorexec.workflow import journal as journal_module

    assert journal_module.filesystem_type(tmp_path) not in (None, *journal_module.NETWORK_FILESYSTEMS)
    monkeypatch.setattr(journal_module, "filesystem_type", lambda path: "nfs4")
    with caplog.at_level("WARNING", logger="condorexec.workflow.journal"):
        held = journal_module.Journal("on-nfs", tmp_path)
    try:
        assert held.db.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        held.sent([("k" * 64, 0, "app", "run", str(tmp_path / "t0"))])
        assert [row.key for row in held.calls()] == ["k" * 64]
    finally:
        held.close()
    assert any("network filesystem (nfs4)" in r.getMessage() for r in caplog.records)
    assert not (tmp_path / "on-nfs.sqlite-wal").exists()
