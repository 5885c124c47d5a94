"""The companions on their own: wait on real HTCondor logs, q/history formats, the spool files,
labels and pack, and the top-level dispatcher."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import classad2
import pytest

from condorexec.cli import adformat, main
from condorexec.pack import cache
from condorexec.pools.local import spool as localspool

LOGS = Path("/work/shared/condor-fixtures/logs")


def test_wait_on_a_real_htcondor_log(capsys) -> None:
    log = str(LOGS / "four-procs-completed.log")
    assert main(["wait", log]) == 0
    assert capsys.readouterr().out == "All jobs done.\n"
    assert main(["wait", "-num", "2", log]) == 0
    assert capsys.readouterr().out == "Specified number of jobs (2) done.\n"
    assert main(["wait", "-wait", "0.3", log, "99"]) == 1  # no such job in the log
    assert capsys.readouterr().out == "Time expired.\n"
    assert main(["wait", "-num", "0", log]) == 1
    assert "-num 0: must be at least 1" in capsys.readouterr().err


@pytest.mark.bad_input
def test_wait_on_a_file_that_is_not_an_event_log_says_so_instead_of_waiting(tmp_path: Path, capsys) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("these are my notes, not a job log\n")
    assert main(["wait", "-wait", "30", str(notes)]) == 1
    assert "is not a job event log" in capsys.readouterr().err


@pytest.mark.bad_input
def test_wait_on_a_log_that_never_appears_gives_up_like_condor_wait(tmp_path: Path, capsys, monkeypatch) -> None:
    monkeypatch.setattr("condorexec.cli.wait.LOG_GRACE_S", 0.3)
    started = time.monotonic()
    assert main(["wait", str(tmp_path / "missing.log")]) == 1
    assert capsys.readouterr().err == f"Couldn't open {tmp_path / 'missing.log'}: No such file or directory\n"
    assert time.monotonic() - started < 5


def test_wait_for_a_log_that_appears_later(tmp_path: Path, capsys) -> None:
    target = tmp_path / "later.log"
    writer = subprocess.Popen([sys.executable, "-c", f"import shutil, time; time.sleep(0.4); "
                               f"shutil.copy({str(LOGS / 'exit-code-3.log')!r}, {str(target)!r})"])
    try:
        assert main(["wait", "-wait", "20", str(target)]) == 0
    finally:
        writer.wait(timeout=10)
    assert capsys.readouterr().out == "All jobs done.\n"


def _ad(**attrs: object) -> classad2.ClassAd:
    ad = classad2.ClassAd()
    for k, v in attrs.items():
        ad[k] = v
    return ad


def test_table_autoformat_and_summary() -> None:
    now = time.time()
    ads = [_ad(ClusterId=7, ProcId=0, Owner="ann", JobStatus=2, QDate=int(now) - 90, JobCurrentStartDate=int(now) - 65,
               RemoteWallClockTime=0.0, Cmd="/bin/sleep", Args="30", RequestCpus=2, RequestMemory=512,
               RequestDisk=4096, JobPrio=3, MemoryUsage=12),
           _ad(ClusterId=7, ProcId=1, Owner="ann", JobStatus=5, Cmd="/bin/sleep", Arguments="'a b'")]
    lines = adformat.table(ads, history=False, now=now).splitlines()
    assert lines[0].split() == ["ID", "OWNER", "SUBMITTED", "RUN_TIME", "ST", "PRI", "SIZE", "CPUS", "MEMORY", "DISK",
                                "CMD"]
    assert lines[1].split()[4:] == ["0+00:01:05", "R", "3", "12.0", "2", "512", "4", "sleep", "30"]
    assert lines[2].split()[5] == "H" and lines[2].endswith("sleep 'a b'")
    assert adformat.summary(ads) == ("Total for query: 2 jobs; 0 completed, 0 removed, 0 idle, 1 running, 1 held, "
                                     "0 suspended\n")
    assert adformat.autoformat(ads, ["ProcId", "Owner", "Missing", "RequestMemory * 2"]) == \
        "0 ann undefined 1024\n1 ann undefined undefined\n"


def test_queue_snapshots_of_dead_processes_are_ignored(tmp_path: Path) -> None:
    live = localspool.QueueSnapshot(tmp_path)
    assert live.write([_ad(ClusterId=3, ProcId=0, JobStatus=1)]) is True
    assert live.write([_ad(ClusterId=3, ProcId=0, JobStatus=1)]) is False  # unchanged: not rewritten
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = localspool.QueueSnapshot(tmp_path, pid=int(dead.stdout))
    stale.write([_ad(ClusterId=9, ProcId=0, JobStatus=2)])
    assert [ad["ClusterId"] for ad in localspool.read_queue(tmp_path)] == [3]
    localspool.clean_stale(tmp_path)
    assert not stale.path.exists() and live.path.exists()
    live.remove()
    assert localspool.read_queue(tmp_path) == []


def test_removal_requests_are_seen_once(tmp_path: Path) -> None:
    path = localspool.write_removal_request(tmp_path, ["4.0", "4.2"], "test")
    seen: set[str] = set()
    assert localspool.pending_removals(tmp_path, seen) == [(["4.0", "4.2"], "test")]
    assert localspool.pending_removals(tmp_path, seen) == []
    old = time.time() - localspool.REQUEST_TTL_S - 10
    os.utime(path, (old, old))
    localspool.clean_stale(tmp_path)
    assert not path.exists()


def test_q_on_the_local_spool_with_selectors(tmp_path: Path, capsys) -> None:
    snap = localspool.QueueSnapshot(tmp_path)
    snap.write([_ad(ClusterId=5, ProcId=p, JobStatus=1, Owner="ann", Cmd="/bin/true") for p in range(3)])
    try:
        base = ["q", "--backend", "local", "--state-dir", str(tmp_path)]
        assert main([*base, "5.1", "5.2", "-af", "ProcId"]) == 0
        assert capsys.readouterr().out == "1\n2\n"
        assert main([*base, "5", "-constraint", "ProcId > 0", "-af", "ProcId"]) == 0
        assert capsys.readouterr().out == "1\n2\n"
        assert main([*base, "-long", "5.0"]) == 0
        assert classad2.parseOne(capsys.readouterr().out)["ProcId"] == 0
        assert main([*base, "-constraint", "ProcId ==="]) == 1
        assert "not a ClassAd expression" in capsys.readouterr().err
    finally:
        snap.remove()


def test_history_limit_json_and_empty(tmp_path: Path, capsys) -> None:
    base = ["history", "--backend", "local", "--state-dir", str(tmp_path)]
    assert main([*base, "-json"]) == 0
    assert capsys.readouterr().out == "[]\n"
    from condorexec.pools.local.historyfile import append_ads

    localspool.SpoolLayout(tmp_path).create()  # as a local pool that ran there would have
    append_ads(localspool.history_path(tmp_path),
               [_ad(ClusterId=1, ProcId=p, JobStatus=4, CompletionDate=1_700_000_000 + p, Owner="ann",
                    Cmd="/bin/true", EnteredCurrentStatus=1_700_000_000 + p) for p in range(4)])
    assert main([*base, "-af", "ProcId", "-limit", "2"]) == 0
    assert capsys.readouterr().out == "3\n2\n"  # newest first
    assert main([*base, "-match", "1", "-json"]) == 0
    import json

    assert [a["ProcId"] for a in json.loads(capsys.readouterr().out)] == [3]


def test_labels_table_of_an_empty_store(tmp_path: Path, capsys) -> None:
    store = str(tmp_path / "l.sqlite")
    assert main(["labels", "--label-store", store, "--maximum", "4,8000,20000"]) == 0
    out = capsys.readouterr().out
    assert "maximum 4 cores, 8000 MB memory, 20000 MB disk" in out and "no categories learned yet" in out
    assert main(["labels", "--label-store", store, "--maximum", "4,8000"]) == 1


@pytest.mark.bad_input
def test_labels_on_a_fresh_machine_says_nothing_is_learned_and_exits_0(tmp_path: Path, monkeypatch, capsys) -> None:
    """No state directory, no store, no --maximum: the maximum is this machine, measured where the
    state directory will be (it used to fail with ENOENT on the missing directory)."""
    monkeypatch.delenv("CONDOR_CONFIG", raising=False)
    fresh = tmp_path / "never-made" / "state"
    assert main(["labels", "-backend", "local", "--state-dir", str(fresh),
                 "--label-store", str(tmp_path / "labels.sqlite")]) == 0
    assert "no categories learned yet" in capsys.readouterr().out
    assert not fresh.exists()  # a read-only command makes no state directory


def test_pack_list_show_clear(tmp_path: Path, capsys) -> None:
    root = cache.cache_root(tmp_path)
    with cache.build_lock(root, "abc123"):  # as the builder makes them
        tmp = cache.temp_archive(root, "abc123")
        tmp.write_bytes(b"x" * 2048)
        cache.commit(root, "abc123", tmp, {"kind": "venv", "python": "bin/python", "distributions": ["numpy"]})
    assert main(["pack", "list", "--cache-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("1 pack(s) in ") and "abc123  venv" in out
    assert main(["pack", "show", "abc123", "--cache-dir", str(tmp_path)]) == 0
    assert '"distributions": [\n      "numpy"' in capsys.readouterr().out
    assert main(["pack", "show", "nope", "--cache-dir", str(tmp_path)]) == 1
    assert main(["pack", "clear", "--cache-dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.startswith("removed 1 pack(s)")
    assert cache.list_cached(tmp_path) == []


@pytest.mark.parametrize("argv,status", [([], 1), (["-help"], 0), (["frob"], 1), (["submit", "-help"], 0),
                                         (["rm"], 1), (["q", "--backend", "nowhere"], 1)])
def test_dispatcher(argv: list[str], status: int, capsys) -> None:
    assert main(argv) == status


HISTORY = Path(__file__).resolve().parent / "history"


def _recorded_history_cases() -> list[tuple[str, str]]:
    """(arguments, what condor_history printed) from tests/cli/history/cases.out (record.py made it)."""
    blocks = (HISTORY / "cases.out").read_text().split("### ")[1:]
    return [tuple(block.split("\n", 1)) for block in blocks]  # type: ignore[misc]


@pytest.mark.parametrize(("line", "expected"), _recorded_history_cases(), ids=lambda x: x if " " in x else "")
def test_history_prints_what_condor_history_printed(line: str, expected: str, capsys) -> None:
    """-af with its :jhltnr, modifiers, -format, -limit, -forwards, -completedsince and -file, against the
    real condor_history's output on the same few records of the live pool's history file."""
    assert main(["history", "-file", str(HISTORY / "pool-history"), *shlex.split(line)]) == 0
    assert capsys.readouterr().out == expected


@pytest.mark.parametrize("view", ["-hold", "-run", "-totals", "-allusers"])
def test_q_takes_condor_qs_views(view: str, tmp_path: Path, capsys) -> None:
    """-hold used to be read as -h (help) with 'old'; each view now answers on an empty local queue."""
    assert main(["q", "--backend", "local", "--state-dir", str(tmp_path), view]) == 0
    out = capsys.readouterr().out
    assert "Total for query: 0 jobs;" in out
    if view == "-hold":
        assert "HOLD_REASON" in out
    if view == "-run":
        assert "HOST(S)" in out
    if view == "-totals":
        assert out.startswith("Total for query: 0 jobs;")


def test_hold_and_run_views_show_the_reason_and_the_host() -> None:
    held = _ad(ClusterId=7, ProcId=0, Owner="ann", JobStatus=5, EnteredCurrentStatus=0,
               HoldReason="Job has gone over memory limit", HoldReasonCode=34, HoldReasonSubCode=102)
    running = _ad(ClusterId=7, ProcId=1, Owner="ann", JobStatus=2, QDate=0, RemoteWallClockTime=61.0,
                  RemoteHost="slot1_1@node7")
    hold = adformat.hold_table([held]).splitlines()
    assert hold[0].split() == ["ID", "OWNER", "HELD_SINCE", "CODE/SUB", "HOLD_REASON"]
    assert hold[1].startswith("7.0 ann") and hold[1].endswith("34/102   Job has gone over memory limit")
    run = adformat.run_table([running], now=0).splitlines()
    assert run[0].split() == ["ID", "OWNER", "SUBMITTED", "RUN_TIME", "HOST(S)"]
    assert "0+00:01:01" in run[1] and run[1].endswith("slot1_1@node7")


def test_batch_view_is_condor_qs() -> None:
    """The lines condor_q -batch printed on the live pool for a 3-proc held cluster with a batch name and a
    2-proc one without (dates aside: they are the submit time's)."""
    qdate = 1796533260
    named = [_ad(ClusterId=513, ProcId=p, Owner="condoruser", JobStatus=5, QDate=qdate, TotalSubmitProcs=3,
                 JobBatchName="dropin-batch") for p in range(3)]
    plain = [_ad(ClusterId=514, ProcId=p, Owner="condoruser", JobStatus=5, QDate=qdate, TotalSubmitProcs=2)
             for p in range(2)]
    tm = time.localtime(qdate)
    date = f"{tm.tm_mon}/{tm.tm_mday:<2} {tm.tm_hour:02d}:{tm.tm_min:02d}"
    assert adformat.batch_table(named) == (
        "OWNER      BATCH_NAME      SUBMITTED   DONE   RUN    IDLE   HOLD  TOTAL JOB_IDS\n"
        f"condoruser dropin-batch {date:>12}      _      _      _      3      3 513.0-2\n")
    assert adformat.batch_table(plain) == (
        "OWNER      BATCH_NAME    SUBMITTED   DONE   RUN    IDLE   HOLD  TOTAL JOB_IDS\n"
        f"condoruser ID: 514    {date:>12}      _      _      _      2      2 514.0-1\n")
    one_done = adformat.batch_table(plain[:1]).splitlines()[1]  # 2 submitted, 1 still queued: 1 done
    assert one_done.split()[5:] == ["1", "_", "_", "1", "2", "514.0"]
