"""Late materialization (``max_materialize``, ``max_idle``, ``-factory``) on the embedded local pool, end
to end: every proc runs with its own values, never more than the limits allow at once (read back from
the HTCondor-format event log, where each proc's submit event is written when it is materialized, as
the schedd writes it), and a ``queue 1000000`` starts at once in bounded memory and is dropped whole by
``condorexec rm`` of its cluster. The dry-run output is checked against condor_submit's in
tests/unit/test_submitdesc.py (corpus c40-c44) and the schedd's side in test_cli_latemat_live.py."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import htcondor2
import psutil
import pytest

from condorexec.cli import foreground, main
from condorexec.pools.local import LocalPool
from condorexec.pools.local.spool import SpoolView
from condorexec.submit import parse_description, plan_jobs

CONSOLE = Path(sys.executable).with_name("condorexec")
ET = htcondor2.JobEventType


def local(tmp_path: Path) -> list[str]:
    return ["--backend", "local", "--state-dir", str(tmp_path / "state")]


def node(cpus: int = 2) -> list[str]:
    return ["--local-node", f"cpus={cpus},memory=2000,disk=5000"]


def submit(tmp_path: Path, sub: str, capsys, *extra: str, cpus: int = 2) -> tuple[int, str, str]:
    (tmp_path / "job.sub").write_text(sub)
    status = main(["submit", *local(tmp_path), *node(cpus), *extra, "job.sub"])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def events(log: Path) -> list[htcondor2.JobEvent]:
    return list(htcondor2.JobEventLog(str(log)).events(stop_after=0))


def peak(log: Path, enters: set, leaves: set) -> int:
    """The most procs that were at once between an event of ``enters`` and one of ``leaves``."""
    now = most = 0
    for e in events(log):
        if e.proc < 0:
            continue
        if e.type in enters:
            now += 1
        elif e.type in leaves:
            now -= 1
        most = max(most, now)
    return most


IN_QUEUE = ({ET.SUBMIT}, {ET.JOB_TERMINATED, ET.JOB_ABORTED})


def test_max_materialize_runs_every_proc_with_its_values_at_most_the_limit_at_once(
        tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    status, out, err = submit(tmp_path, """
executable = /bin/sh
arguments = "-c 'echo proc $(Process) step $(Step); sleep 0.2'"
output = out.$(Process)
log = run.log
max_materialize = 3
queue 12
""", capsys, cpus=8)
    assert status == 0, err
    cluster = int(out.split("cluster ")[1].rstrip(".\n"))
    assert out == f"Submitting job(s)\n12 job(s) submitted to cluster {cluster}.\n"  # no dots: a factory
    for p in range(12):
        assert (tmp_path / f"out.{p}").read_text() == f"proc {p} step {p}\n"
    assert "0 idle, 0 running, 12 done, 0 held" in err
    log = tmp_path / "run.log"
    assert peak(log, *IN_QUEUE) == 3  # 8 cpus could run more: the limit held them back
    got = events(log)
    assert (got[0].type, got[0].proc) == (ET.CLUSTER_SUBMIT, -1)  # the schedd's factory events
    assert (got[-1].type, got[-1].proc, got[-1]["Completion"]) == (ET.CLUSTER_REMOVE, -1, 1)
    assert sorted(e.proc for e in got if e.type == ET.SUBMIT) == list(range(12))
    assert main(["wait", "-wait", "10", str(log)]) == 0
    records = {r["ProcId"]: r for r in SpoolView(tmp_path / "state").history(f"ClusterId == {cluster}")}
    assert sorted(records) == list(range(12))
    assert {r["JobMaterializeLimit"] for r in records.values()} == {3}
    assert {r["TotalSubmitProcs"] for r in records.values()} == {12}


def test_max_idle_keeps_at_most_that_many_procs_idle(tmp_path: Path) -> None:
    """Observed through the pool's queue: in the event log a proc's execute event comes after the next
    proc's submit (the next is made when the job is claimed, before its process starts)."""
    description = parse_description("executable = /bin/sleep\narguments = 0.2\nmax_idle = 2\nqueue 8\n")
    pool = LocalPool(["cpus=1,memory=2000"], tmp_path / "state")
    try:
        cluster = pool.submit(description, submit_dir=tmp_path).cluster
        most_idle, seen = 0, set()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and (pool.query() or pool.unmaterialized(cluster)):
            ads = pool.query()
            seen |= {ad["ProcId"] for ad in ads}
            most_idle = max(most_idle, sum(ad["JobStatus"] == 1 for ad in ads))
            time.sleep(0.01)
        assert most_idle == 2  # one cpu: without max_idle all eight would wait at once
        assert seen == set(range(8))
        assert sorted(ad["ProcId"] for ad in pool.history(f"ClusterId == {cluster}")) == list(range(8))
    finally:
        pool.close()


def test_factory_option_without_limits_runs_every_proc(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    status, out, err = submit(tmp_path, "executable = /bin/true\nlog = run.log\nqueue 4\n", capsys, "-factory")
    assert status == 0, err
    assert out.startswith("Submitting job(s)\n4 job(s)")
    got = events(tmp_path / "run.log")
    assert got[0].type == ET.CLUSTER_SUBMIT and got[-1].type == ET.CLUSTER_REMOVE
    assert sum(e.type == ET.JOB_TERMINATED for e in got) == 4


def test_dry_run_of_a_factory_prints_the_cluster_ad_only(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "job.sub").write_text("executable = /bin/true\narguments = $(Process)\nmax_materialize = 2\n"
                                      "max_idle = 1\nqueue 5\n")
    assert main(["submit", "-dry-run", "-", "job.sub"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Dry-Run job(s)\nClusterId=1\n")
    assert out.endswith("\n\n5 job(s) dry-run to cluster 1.\n")
    lines = out.splitlines()
    assert 'Args="0"' in lines and "JobMaterializeMaxIdle=1" in lines  # proc 0's values
    assert not [ln for ln in lines if ln.startswith(("ProcId=", "JobStatus=", "JobMaterializeLimit="))]
    (tmp_path / "plain.sub").write_text("executable = /bin/true\nqueue 3\n")
    assert main(["submit", "-factory", "-dry-run", str(tmp_path / "ads"), "plain.sub"]) == 0
    assert capsys.readouterr().out == "Dry-Run job(s)\n3 job(s) dry-run to cluster 1.\n"
    written = (tmp_path / "ads").read_text()
    assert written.startswith("\nClusterId=1\n") and "ProcId=" not in written


@pytest.mark.parametrize(("line", "message"), [
    ("max_materialize = abc", "max_materialize=abc is invalid, must eval to an integer."),
    ("max_idle = abc", "max_idle=abc is invalid, must eval to an integer."),
    ("max_materialize = 3000000000", "max_materialize=3000000000 is invalid"),
])
def test_bad_limits_are_refused_naming_the_value_before_anything_runs(tmp_path: Path, monkeypatch, capsys,
                                                                      line: str, message: str) -> None:
    monkeypatch.chdir(tmp_path)
    status, out, err = submit(tmp_path, f"executable = /bin/true\nlog = run.log\n{line}\nqueue 3\n", capsys)
    assert status == 1 and message in err and out == ""
    assert not (tmp_path / "run.log").exists()


def test_a_limit_condor_submit_takes_as_none_runs_everything(tmp_path: Path, monkeypatch, capsys) -> None:
    """max_materialize <= 0 means no limit (condor_submit: INT_MAX, then the proc count)."""
    monkeypatch.chdir(tmp_path)
    status, _, err = submit(tmp_path, "executable = /bin/true\nlog = run.log\nmax_materialize = -3\nqueue 3\n",
                            capsys)
    assert status == 0, err
    assert sum(e.type == ET.JOB_TERMINATED for e in events(tmp_path / "run.log")) == 3


def test_held_jobs_that_fill_the_limit_leave_the_rest_unmade_and_say_so(tmp_path: Path, monkeypatch,
                                                                         capsys) -> None:
    monkeypatch.chdir(tmp_path)
    status, out, err = submit(tmp_path, f"""
executable = {sys.executable}
arguments = "-c 'import time; x = bytearray(300 * 2**20); time.sleep(5)'"
request_memory = 50MB
max_materialize = 1
queue 3
""", capsys)
    cluster = int(out.split("cluster ")[1].rstrip(".\n"))
    assert status == 1
    assert f"HELD: job {cluster}.0 (HoldReasonCode 34" in err
    assert f"note: 2 proc(s) of cluster {cluster} were never materialized: held jobs fill" in err


def test_max_idle_zero_makes_no_proc_as_on_the_schedd(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    status, out, err = submit(tmp_path, "executable = /bin/true\nmax_idle = 0\nqueue 3\n", capsys)
    assert status == 1 and out.endswith("3 job(s) submitted to cluster 1.\n")
    assert "note: 3 proc(s) of cluster 1 were never materialized: its max_idle lets no more be made" in err


def test_the_pool_materializes_only_up_to_the_limit_and_removal_drops_the_rest(tmp_path: Path) -> None:
    description = parse_description("executable = /bin/sleep\narguments = 30\nmax_materialize = 2\nqueue 50\n")
    pool = LocalPool(["cpus=4,memory=2000"], tmp_path / "state")
    try:
        result = pool.submit(description, submit_dir=tmp_path)
        assert result.num_procs == 50
        assert sorted(ad["ProcId"] for ad in pool.query(f"ClusterId == {result.cluster}")) == [0, 1]
        assert pool.unmaterialized(result.cluster) == 48
        pool.act(htcondor2.JobAction.Remove, [f"{result.cluster}.0"])
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and 2 not in {ad["ProcId"] for ad in pool.query()}:
            time.sleep(0.05)
        assert sorted(ad["ProcId"] for ad in pool.query()) == [1, 2]  # one removed proc: the next is made
        pool.act(htcondor2.JobAction.Remove, f"ClusterId == {result.cluster}")  # the cluster: the factory too
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and pool.query():
            time.sleep(0.05)
        assert pool.query() == []
        assert pool.unmaterialized(result.cluster) == 47  # never made, and never will be
        assert sorted(ad["ProcId"] for ad in pool.history()) == [0, 1, 2]
    finally:
        pool.close()


def test_a_removal_request_naming_the_cluster_takes_the_procs_made_since(tmp_path: Path) -> None:
    """rm listed 0 and the cluster (C.-1); proc 1 was made after it looked: it goes too, as on a schedd
    where the removal is one transaction."""
    description = parse_description("executable = /bin/sleep\narguments = 30\nmax_materialize = 2\nqueue 9\n")
    pool = LocalPool(["cpus=1,memory=2000"], tmp_path / "state")
    try:
        cluster = pool.submit(description, submit_dir=tmp_path).cluster
        outcome = foreground.RunOutcome()
        foreground._remove(pool, cluster, [f"{cluster}.0", f"{cluster}.-1", "junk"], outcome)
        assert outcome.factory_removed and outcome.removed_by_request == [f"{cluster}.0", f"{cluster}.1"]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and pool.query():
            time.sleep(0.05)
        assert pool.query() == [] and pool.unmaterialized(cluster) == 7
    finally:
        pool.close()


def test_the_plan_of_a_million_identical_procs_is_checked_once() -> None:
    plan = plan_jobs(parse_description("executable = /bin/true\nmax_materialize = 10\nqueue 1000000\n"),
                     cluster_id=1, submit_dir="/tmp", owner="me", qdate=1)
    assert plan.count == 1_000_000 and plan.factory is not None and plan.factory.limit == 10
    assert sum(1 for _ in plan.distinct) == 1


@pytest.mark.skipif(not CONSOLE.exists(), reason="console script not installed")
def test_queue_a_million_starts_at_once_in_bounded_memory_and_rm_drops_the_rest(tmp_path: Path, capsys) -> None:
    (tmp_path / "job.sub").write_text("executable = /bin/true\nlog = run.log\nmax_materialize = 2\n"
                                      "queue 1000000\n")
    started = time.monotonic()
    proc = subprocess.Popen([str(CONSOLE), "submit", *local(tmp_path), *node(), "job.sub"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    log = tmp_path / "run.log"
    try:
        done = 0
        while time.monotonic() - started < 30 and done < 5:
            time.sleep(0.2)
            done = sum(e.type == ET.JOB_TERMINATED for e in events(log)) if log.exists() else 0
        assert done >= 5, "the first procs of a queue 1000000 did not run within 30 s"
        assert main(["q", *local(tmp_path), "-af", "ProcId"]) == 0
        assert len(capsys.readouterr().out.split()) <= 2  # condorexec q: only what is materialized
        rss_mb = psutil.Process(proc.pid).memory_info().rss / 2**20
        assert rss_mb < 300, f"submit of queue 1000000 holds {rss_mb:.0f} MB"
        cluster = next(e.cluster for e in events(log))
        assert main(["rm", *local(tmp_path), str(cluster)]) == 0
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 1 and "removed by condorexec rm" in err
    assert "proc(s) of cluster 1 were never materialized: the cluster was removed" in err
    got = events(log)
    assert got[-1].type == ET.CLUSTER_REMOVE and got[-1]["Completion"] != 1  # removed, not complete
    made = [e.proc for e in got if e.type == ET.SUBMIT]
    assert len(made) < 1000 and sorted(made) == list(range(len(made)))
    assert sum(e.type in (ET.JOB_TERMINATED, ET.JOB_ABORTED) for e in got) == len(made)
    assert peak(log, *IN_QUEUE) <= 2
