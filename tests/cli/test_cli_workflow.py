"""``condorexec workflow``: what the runs of a named workflow did, read from real journals (written through
``condorexec.workflow.journal.Journal``, one of them by a process that still holds it), the list of
workflows, ``--forget``, bad input; and once end to end, a workflow on the local pool killed and rerun."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from condorexec.cli import main
from condorexec.cli.workflow_cmd import RUNNING, STOPPED, run_state
from condorexec.workflow.journal import SCHEMA_VERSION, Journal, RunRow, WorkflowError, read_only

#: the first run of workflow "demo": six calls, where they went, and what it wrote when it ended
FIRST_COUNTS = {"adopted_finished": 2, "adopted_running": 1, "rerun": 3, "fresh": 6}
FIRST_REASONS = {"its worker is gone": 2, "it failed in the earlier run": 1}


def first_run(directory: Path) -> None:
    """Run r1 of "demo", ended: k0, k1 in their own jobs, k2 in a slot worker, k3 done, k4 failed, k5 sent
    and not yet placed."""
    journal = Journal("demo", directory)
    try:
        journal.begin_run("r1", "condor", "/runs/r1")
        journal.sent([(f"k{i}", 0, "nap", "r1", f"/runs/r1/tasks/{i}") for i in range(6)])
        journal.placed_job("k0", 0, "r1", "11.0")
        journal.placed_job("k1", 0, "r1", "11.1")
        journal.placed_worker([("k2", 0, "nap", "r1", "/runs/r1/tasks/2", "12.0", "w12", 3)])
        journal.placed_job("k3", 0, "r1", "11.3")
        journal.done("k3", 0, "r1", b"an outcome", "/runs/r1/tasks/3")
        journal.failed("k4", 0, "r1")
        journal.end_run("r1", FIRST_COUNTS, FIRST_REASONS)
    finally:
        journal.close()


#: run r2 of "demo", in a process of its own that holds the workflow until its stdin closes: it adopts k0
#: and sends one new call, k6
SECOND_RUN = textwrap.dedent("""
    import sys
    from condorexec.workflow.journal import Journal
    journal = Journal("demo", sys.argv[1])
    journal.begin_run("r2", "condor", "/runs/r2")
    journal.adopted("k0", 0, "r1", "r2")
    journal.sent([("k6", 0, "nap", "r2", "/runs/r2/tasks/1")])
    journal.flush()
    print("holding", flush=True)
    sys.stdin.read()
""")


def workflow(capsys, *argv: str) -> tuple[int, str, str]:
    status = main(["workflow", *argv])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture
def held(tmp_path: Path):
    """"demo" with an ended first run and a second run whose process holds the workflow."""
    first_run(tmp_path)
    holder = subprocess.Popen([sys.executable, "-c", SECOND_RUN, str(tmp_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "holding\n"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def test_the_report_counts_what_the_journal_holds_while_a_run_holds_it(tmp_path: Path, held, capsys) -> None:
    journal = tmp_path / "demo.sqlite"
    before = hashlib.sha256(journal.read_bytes()).hexdigest()
    status, out, err = workflow(capsys, "demo", "--dir", str(tmp_path))
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == f"workflow demo: {journal}"
    assert lines[1].startswith("run 1  ") and lines[1].endswith(f"process {os.getpid()} on {socket.gethostname()}, "
                                                                "condor pool")
    assert lines[2] == "  2 calls adopted finished, 1 adopted running, 3 run again, 6 new"
    assert lines[3:5] == ["    2 run again because its worker is gone",
                          "    1 run again because it failed in the earlier run"]
    assert lines[5] == "  its calls now: 1 done, 1 failed, 3 sent"  # k0 is r2's now
    assert lines[6].startswith("run 2  ") and f"process {held.pid} " in lines[6]
    assert lines[7].startswith("  still running (for ") and lines[7].endswith("so far:")
    assert lines[8] == "  0 calls adopted finished, 0 adopted running, 0 run again, 0 new"  # none written yet
    assert lines[9] == "  its calls now: 0 done, 0 failed, 2 sent"
    assert lines[10:] == ["calls in the journal: 1 done, 1 failed, 5 sent",
                         "  sent: 2 in their own job, 1 in a slot worker, 2 not yet placed"]
    assert hashlib.sha256(journal.read_bytes()).hexdigest() == before  # read, nothing written


def test_json_says_what_the_text_says(tmp_path: Path, held, capsys) -> None:
    status, out, _ = workflow(capsys, "demo", "--dir", str(tmp_path), "--json")
    assert status == 0
    report = json.loads(out)
    first, second = report["runs"]
    assert (first["token"], first["state"], first["counts"], first["reasons"]) == ("r1", "ended", FIRST_COUNTS,
                                                                                    FIRST_REASONS)
    nothing_yet = {"adopted_finished": 0, "adopted_running": 0, "rerun": 0, "fresh": 0}
    assert (second["token"], second["state"], second["counts"], second["pid"]) == ("r2", RUNNING, nothing_yet, held.pid)
    assert first["ended"] >= first["started"] and second["ended"] is None
    assert report["calls"] == {"done": 1, "failed": 1, "sent": 5, "sent_in_job": 2, "sent_in_worker": 1,
                               "sent_unplaced": 2}


def test_forget_is_refused_while_a_process_holds_the_workflow_and_works_after(tmp_path: Path, held, capsys) -> None:
    status, out, err = workflow(capsys, "demo", "--dir", str(tmp_path), "--forget")
    assert status == 1 and out == ""
    assert err.startswith(f"condorexec workflow: workflow 'demo' is in use by process {held.pid} on "
                          f"{socket.gethostname()} since ")
    assert err.rstrip().endswith("not forgotten (wait for its run to end)")
    assert (tmp_path / "demo.sqlite").exists()

    held.send_signal(signal.SIGKILL)  # the run is killed: it never writes its end
    held.wait()
    status, out, _ = workflow(capsys, "demo", "--dir", str(tmp_path))
    assert "  stopped without ending (killed, or its machine went down); the next run takes over its calls. " \
           "Until then:" in out.splitlines()

    status, out, err = workflow(capsys, "demo", "--dir", str(tmp_path), "--forget")
    assert status == 0, err
    assert out == f"forgot workflow 'demo' (deleted {tmp_path / 'demo.sqlite'}); its next run starts afresh\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("demo")) == []
    status, _, err = workflow(capsys, "demo", "--dir", str(tmp_path))
    assert status == 1 and "no workflow 'demo' in" in err


def test_a_run_whose_process_id_now_names_a_younger_process_has_stopped() -> None:
    me = psutil.Process()
    row = RunRow("t", me.pid, socket.gethostname(), "local", "/w", me.create_time() + 5, None, 0, 0, 0, 0, {})
    assert run_state(row) == RUNNING
    reused = RunRow("t", me.pid, socket.gethostname(), "local", "/w", me.create_time() - 3600, None, 0, 0, 0, 0, {})
    assert run_state(reused) == STOPPED
    elsewhere = RunRow("t", me.pid, "another-host", "condor", "/w", time.time(), None, 0, 0, 0, 0, {})
    assert run_state(elsewhere) == "elsewhere"


def test_a_run_whose_process_was_killed_and_not_yet_reaped_has_stopped() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        row = RunRow("t", child.pid, socket.gethostname(), "condor", "/w", time.time(), None, 0, 0, 0, 0, {})
        assert run_state(row) == RUNNING
        child.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.02)
        assert run_state(row) == STOPPED  # a zombie until its parent (this test) reaps it
    finally:
        child.kill()
        child.wait()


def test_the_list_names_each_workflow_with_its_calls_and_last_run(tmp_path: Path, capsys) -> None:
    first_run(tmp_path)
    other = Journal("other", tmp_path)
    other.close()
    newer = sqlite3.connect(tmp_path / "newer.sqlite")
    newer.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    newer.close()
    plain = sqlite3.connect(tmp_path / "plain.sqlite")  # an SQLite file of something else
    plain.execute("CREATE TABLE t (x)")
    plain.close()
    (tmp_path / "notes.txt").write_text("not a journal")

    status, out, err = workflow(capsys, "--dir", str(tmp_path))
    assert status == 0, err
    lines = out.splitlines()
    assert lines[0] == f"workflows in {tmp_path}:"
    assert lines[1].split() == ["name", "calls", "last", "run"]
    assert lines[2].split()[:2] == ["demo", "6"] and lines[2].endswith("(ended)")
    assert lines[3].startswith("newer")
    assert f"has schema {SCHEMA_VERSION + 1}, newer than this condorexec's ({SCHEMA_VERSION})" in lines[3]
    assert lines[4].split() == ["other", "0", "-"]
    assert lines[5].startswith("plain") and lines[5].endswith("is not a workflow journal (no condorexec schema in it)")
    assert len(lines) == 6

    status, out, _ = workflow(capsys, "--dir", str(tmp_path), "--json")
    listed = {w["name"]: w for w in json.loads(out)["workflows"]}
    assert (listed["demo"]["calls"], listed["demo"]["last_state"], listed["other"]["last_run"]) == (6, "ended", None)
    assert listed["newer"]["calls"] is None and "newer than this condorexec's" in listed["newer"]["problem"]

    status, out, _ = workflow(capsys, "--dir", str(tmp_path / "none"))
    assert (status, out) == (0, f"no workflows in {tmp_path / 'none'}\n")


def test_forget_says_what_it_deleted_in_json_too(tmp_path: Path, capsys) -> None:
    first_run(tmp_path)
    status, out, err = workflow(capsys, "demo", "--dir", str(tmp_path), "--forget", "--json")
    assert status == 0, err
    assert json.loads(out) == {"forgot": "demo", "journal": str(tmp_path / "demo.sqlite")}
    assert not list(tmp_path.iterdir())
    status, out, _ = workflow(capsys, "--dir", str(tmp_path))
    assert (status, out) == (0, f"no workflows in {tmp_path}\n")


def test_an_unknown_workflow_is_one_line_and_status_1(tmp_path: Path, capsys) -> None:
    status, out, err = workflow(capsys, "nosuch", "--dir", str(tmp_path))
    assert (status, out) == (1, "")
    assert err == (f"condorexec workflow: no workflow 'nosuch' in {tmp_path} ('condorexec workflow --dir {tmp_path}' "
                   "lists those there)\n")


@pytest.mark.bad_input
@pytest.mark.parametrize("name", ["a/b", "../demo", "a\nb", "a\x1bb", ".hidden", ""])
@pytest.mark.parametrize("forget", [False, True])
def test_a_name_that_cannot_name_a_journal_is_refused_with_status_2(tmp_path: Path, capsys, name: str,
                                                                    forget: bool) -> None:
    first_run(tmp_path)
    status, out, err = workflow(capsys, name, "--dir", str(tmp_path), *(["--forget"] if forget else []))
    assert (status, out) == (2, "")
    assert err == (f"condorexec workflow: invalid workflow={name!r}: must be 1-100 letters, digits and _ . - "
                   "(starting with a letter, digit or _): it names the workflow's journal file\n")
    assert (tmp_path / "demo.sqlite").exists()


@pytest.mark.bad_input
def test_a_journal_of_a_newer_schema_is_refused_and_left_as_it_is(tmp_path: Path, capsys) -> None:
    path = tmp_path / "future.sqlite"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    before = path.read_bytes()
    status, out, err = workflow(capsys, "future", "--dir", str(tmp_path))
    assert (status, out) == (1, "")
    assert err == (f"condorexec workflow: the workflow journal {path} has schema {SCHEMA_VERSION + 1}, newer than "
                   f"this condorexec's ({SCHEMA_VERSION}): it was written by a newer condorexec; use that one, or "
                   "another workflow name (nothing was changed)\n")
    assert path.read_bytes() == before


@pytest.mark.bad_input
def test_a_file_that_is_not_a_journal_is_one_line_and_status_1(tmp_path: Path, capsys) -> None:
    (tmp_path / "junk.sqlite").write_bytes(b"this is not an SQLite database, it is text " * 100)
    status, out, err = workflow(capsys, "junk", "--dir", str(tmp_path))
    assert (status, out) == (1, "")
    assert err.startswith(f"condorexec workflow: the workflow journal {tmp_path / 'junk.sqlite'} is not readable (")
    assert "Traceback" not in err


#: a workflow of six calls on the local pool (two slots), each sleeping 1.5 s
SCRIPT = textwrap.dedent("""
    import sys, parsl
    from parsl.config import Config
    from parsl.app.app import python_app
    from condorexec import CondorExecutor

    @python_app
    def nap(i):
        import time
        time.sleep(1.5)
        return i * 10

    ex = CondorExecutor(label="w", pool="local", nodes=["cpus=2,memory=2000"], workflow="e2e",
                        workflow_dir=sys.argv[1], state_dir=sys.argv[1] + "/state")
    parsl.load(Config(executors=[ex], run_dir=sys.argv[1] + "/runinfo"))
    print([f.result() for f in [nap(i) for i in range(6)]], flush=True)
    parsl.dfk().cleanup()
""")


@pytest.mark.slow
def test_a_workflow_killed_on_the_local_pool_and_rerun_is_reported(tmp_path: Path, capsys) -> None:
    (tmp_path / "wf.py").write_text(SCRIPT)
    env = {**os.environ, "CONDOR_CONFIG": "/dev/null"}
    command = [sys.executable, str(tmp_path / "wf.py"), str(tmp_path)]
    first = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal, done, deadline = tmp_path / "e2e.sqlite", 0, time.monotonic() + 60
    try:
        while done < 2 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.1)
            if journal.exists():
                try:
                    reader = read_only(journal)
                except WorkflowError:  # the first run is creating it: its schema is not written yet
                    continue
                done = reader.states().get("done", 0)
                reader.close()
        assert done >= 2, "the first run finished no two calls in 60 s"
    finally:
        first.kill()
        first.wait()

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr[-2000:]
    assert second.stdout.splitlines()[-1] == str([i * 10 for i in range(6)])

    status, out, err = workflow(capsys, "e2e", "--dir", str(tmp_path), "--json")
    assert status == 0, err
    killed, rerun = json.loads(out)["runs"]
    # the killed run wrote its counts as it went: six new calls
    assert killed["state"] == STOPPED and killed["counts"]["fresh"] == 6
    counts = rerun["counts"]
    assert counts["adopted_finished"] >= done and counts["adopted_running"] == 0 and counts["fresh"] == 0
    assert counts["adopted_finished"] + counts["rerun"] == 6
    assert sum(rerun["reasons"].values()) == counts["rerun"]
    assert json.loads(out)["calls"]["done"] == 6
