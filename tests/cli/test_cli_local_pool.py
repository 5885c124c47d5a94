"""``condorexec submit`` and its companions end to end on the embedded local pool: real jobs, real
files, a second process looking at the spool. Each test has its own state directory."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import classad2
import htcondor2
import pytest

from condorexec.cli import main

CONSOLE = Path(sys.executable).with_name("condorexec")
PY = sys.executable
NODE = ["--local-node", "cpus=2,memory=2000,disk=5000"]


def local(tmp_path: Path) -> list[str]:
    return ["--backend", "local", "--state-dir", str(tmp_path / "state")]


def submit(tmp_path: Path, sub: str, capsys, *extra: str) -> tuple[int, str, str]:
    (tmp_path / "job.sub").write_text(sub)
    status = main(["submit", *local(tmp_path), *NODE, *extra, "job.sub"])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def history(tmp_path: Path, capsys, *args: str) -> list[classad2.ClassAd]:
    assert main(["history", *local(tmp_path), "-long", *args]) == 0
    return list(classad2.parseAds(capsys.readouterr().out, classad2.ParserType.Old))


def test_queue_n_with_process_in_arguments_and_output_names(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    status, out, err = submit(tmp_path, """
executable = /bin/sh
arguments = "-c 'echo result $(Process) of $(Cluster) > out.$(Process); echo stdout $(Process)'"
output = o.$(Process)
error = e.$(Process)
transfer_output_files = out.$(Process)
log = run.log
environment = "GREETING=hi"
queue 3
""", capsys)
    assert status == 0, err
    cluster = int(out.split("cluster ")[1].rstrip(".\n"))
    assert out == f"Submitting job(s)...\n3 job(s) submitted to cluster {cluster}.\n"
    for p in range(3):
        assert (tmp_path / f"out.{p}").read_text() == f"result {p} of {cluster}\n"
        assert (tmp_path / f"o.{p}").read_text() == f"stdout {p}\n"
    assert "0 idle, 0 running, 3 done, 0 held" in err
    # the log is HTCondor's format: condorexec wait (like condor_wait) reads it
    assert main(["wait", "run.log"]) == 0
    assert capsys.readouterr().out == "All jobs done.\n"
    assert main(["wait", "-wait", "1", "run.log", f"{cluster + 5}"]) == 1
    assert capsys.readouterr().out == "Time expired.\n"
    records = history(tmp_path, capsys, str(cluster))
    assert sorted(r["ProcId"] for r in records) == [0, 1, 2]
    assert all(r["JobStatus"] == 4 and r["ExitCode"] == 0 for r in records)


def test_initialdir_per_item_and_transfer_input_files_with_terse(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        (tmp_path / d / "in.txt").write_text(f"input of {d}\n")
    status, out, err = submit(tmp_path, """
executable = /bin/sh
arguments = "-c 'cat in.txt > copy.txt; echo $(dir) >> copy.txt; test ! -e ../in.txt'"
initialdir = $(dir)
transfer_input_files = in.txt
transfer_output_files = copy.txt
should_transfer_files = YES
request_memory = 1G
request_disk = 10MB
queue dir in (a b)
""", capsys, "-terse")
    assert status == 0, err
    cluster = int(out.split(".")[0])
    assert out == f"{cluster}.0 - {cluster}.1\n"
    for d in ("a", "b"):
        assert (tmp_path / d / "copy.txt").read_text() == f"input of {d}\n{d}\n"
    records = history(tmp_path, capsys, str(cluster))
    assert {r["RequestMemory"] for r in records} == {1024}
    assert {r["RequestDisk"] for r in records} == {10240}


@pytest.mark.fault
def test_a_job_over_its_memory_request_is_held_and_reported(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    status, out, err = submit(tmp_path, f"""
executable = {PY}
arguments = "-c 'import time; x = bytearray(300 * 2**20); time.sleep(5)'"
request_memory = 50MB
queue
""", capsys)
    cluster = int(out.split("cluster ")[1].rstrip(".\n"))
    assert status == 1
    assert f"HELD: job {cluster}.0 (HoldReasonCode 34, HoldReasonSubCode 102): " in err
    assert "over memory limit of 50 megabytes" in err
    (record,) = history(tmp_path, capsys, f"{cluster}.0")
    assert record["LastHoldReasonCode"] == 34 and record["JobStatus"] == 3  # held, then removed at exit (as the
    assert "HoldReasonCode" not in record  # schedd does, the hold survives only as LastHoldReason*)


@pytest.mark.fault
def test_a_listed_output_in_a_subdirectory_arrives_by_its_own_name(tmp_path: Path, monkeypatch, capsys) -> None:
    """HTCondor delivers transfer_output_files = a/b.txt as b.txt in the job's Iwd (it used to hang)."""
    monkeypatch.chdir(tmp_path)
    status, _, err = submit(tmp_path, """
executable = /bin/sh
arguments = "-c 'mkdir -p a && echo hi > a/b.txt'"
transfer_output_files = a/b.txt
queue
""", capsys)
    assert status == 0, err
    assert (tmp_path / "b.txt").read_text() == "hi\n" and not (tmp_path / "a").exists()


@pytest.mark.security
def test_a_symlink_to_root_in_a_listed_output_directory_is_not_followed(tmp_path: Path, monkeypatch,
                                                                         capsys) -> None:
    """The link comes back as a link: nothing outside the sandbox is copied in."""
    monkeypatch.chdir(tmp_path)
    status, _, err = submit(tmp_path, """
executable = /bin/sh
arguments = "-c 'mkdir out && echo x > out/data && ln -s / out/root'"
transfer_output_files = out
queue
""", capsys)
    assert status == 0, err
    assert (tmp_path / "out" / "data").read_text() == "x\n"
    assert (tmp_path / "out" / "root").is_symlink() and str((tmp_path / "out" / "root").readlink()) == "/"


@pytest.mark.fault
def test_a_remap_into_missing_directories_makes_them_as_htcondor_does(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    status, _, err = submit(tmp_path, """
executable = /bin/sh
arguments = "-c 'echo hi > out.txt'"
transfer_output_files = out.txt
transfer_output_remaps = "out.txt = missing/dir/out.txt"
queue
""", capsys)
    assert status == 0, err
    assert (tmp_path / "missing" / "dir" / "out.txt").read_text() == "hi\n"
    assert (tmp_path / "missing" / "dir").stat().st_mode & 0o777 == 0o700


@pytest.mark.fault
def test_an_output_that_cannot_be_written_holds_the_job_12_with_the_errno(tmp_path: Path, monkeypatch,
                                                                          capsys) -> None:
    """A remap under a path that is a file: held 12/20, worded as HTCondor 25's shadow words it (on the
    live pool: tests/condor/test_faults_live.py). It used to hang condorexec submit."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "blocker").write_text("a file, not a directory")
    status, out, err = submit(tmp_path, f"""
executable = /bin/sh
arguments = "-c 'echo hi > out.txt'"
transfer_output_files = out.txt
transfer_output_remaps = "out.txt = {tmp_path}/blocker/out.txt"
queue
""", capsys)
    cluster = int(out.split("cluster ")[1].rstrip(".\n"))
    assert status == 1
    assert f"HELD: job {cluster}.0 (HoldReasonCode 12, HoldReasonSubCode 20): Transfer output files failure" in err
    assert f"writing to file {tmp_path}/blocker/out.txt: (errno 20) Not a directory" in err


@pytest.mark.fault
@pytest.mark.skipif(not CONSOLE.exists(), reason="console script not installed")
def test_q_history_and_rm_from_another_process(tmp_path: Path, capsys) -> None:
    (tmp_path / "job.sub").write_text("executable = /bin/sleep\narguments = 30\nqueue 2\n")
    proc = subprocess.Popen([str(CONSOLE), "submit", *local(tmp_path), *NODE, "job.sub"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        lines: list[str] = []
        while time.monotonic() < deadline:
            assert main(["q", *local(tmp_path), "-af", "ClusterId", "ProcId", "JobStatus"]) == 0
            lines = capsys.readouterr().out.splitlines()
            if len(lines) == 2 and all(ln.endswith(" 2") for ln in lines):
                break
            time.sleep(0.2)
        assert len(lines) == 2 and all(ln.endswith(" 2") for ln in lines), lines
        cluster = lines[0].split()[0]
        assert main(["q", *local(tmp_path)]) == 0
        table = capsys.readouterr().out
        assert f"{cluster}.1 " in table and " R " in table and "sleep 30" in table
        assert "Total for query: 2 jobs; 0 completed, 0 removed, 0 idle, 2 running" in table
        assert main(["rm", *local(tmp_path), f"{cluster}.0"]) == 0
        assert capsys.readouterr().out == f"Job(s) {cluster}.0 marked for removal.\n"
        assert main(["rm", *local(tmp_path), "-constraint", "ProcId == 1"]) == 0
        capsys.readouterr()
        out, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == 1, err
    assert f"removed by condorexec rm: {cluster}.0" in err and f"{cluster}.1" in err
    assert f"cluster {cluster}: 0 idle, 0 running, 0 done, 0 held, 2 removed" in err  # removed is not done
    records = history(tmp_path, capsys, cluster)
    assert {r["ProcId"]: r["JobStatus"] for r in records} == {0: 3, 1: 3}
    assert main(["q", *local(tmp_path), "-json"]) == 0
    assert capsys.readouterr().out == "[]\n"  # the queue file went away with the process
    assert main(["rm", *local(tmp_path), cluster]) == 1


@pytest.mark.fault
@pytest.mark.skipif(not CONSOLE.exists(), reason="console script not installed")
@pytest.mark.parametrize(("sig", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_sigterm_removes_the_jobs_and_wait_returns(tmp_path: Path, sig: int, status: int) -> None:
    (tmp_path / "job.sub").write_text("executable = /bin/sleep\narguments = 30\nlog = l.log\nqueue\n")
    proc = subprocess.Popen([str(CONSOLE), "submit", *local(tmp_path), *NODE, "job.sub"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and "Job executing" not in _read(tmp_path / "l.log"):
            time.sleep(0.1)
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == status and "were removed" in err
    events = [e.type for e in htcondor2.JobEventLog(str(tmp_path / "l.log")).events(0)]
    assert events[-1] == htcondor2.JobEventType.JOB_ABORTED
    assert main(["wait", "-wait", "10", str(tmp_path / "l.log")]) == 0  # the log says every job ended


def _read(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def test_a_category_learns_and_the_next_submit_gets_the_learned_request(tmp_path: Path, monkeypatch,
                                                                        capsys) -> None:
    monkeypatch.chdir(tmp_path)
    store = ["--label-store", str(tmp_path / "labels.sqlite")]
    sub = f"""
executable = {PY}
arguments = "-c 'import time; x = bytearray(60 * 2**20); time.sleep(0.6)'"
+CondorexecCategory = "alloc60"
queue
"""
    status, out1, err = submit(tmp_path, sub, capsys, *store)
    assert status == 0, err
    assert "category 'alloc60' (still learning: maximum): request_cpus = 2, request_memory = 2000MB" in err
    status, out2, err = submit(tmp_path, sub, capsys, *store)
    assert status == 0, err
    assert "category 'alloc60' (learned): request_cpus = 1, request_memory = 250MB, request_disk = 250MB" in err
    first, second = (int(o.split("cluster ")[1].rstrip(".\n")) for o in (out1, out2))
    assert history(tmp_path, capsys, str(first))[0]["RequestMemory"] == 2000
    (record,) = history(tmp_path, capsys, str(second))
    assert record["RequestMemory"] == 250 and record["MemoryUsage"] >= 60
    assert main(["labels", *store, *NODE, "--plot", str(tmp_path / "labels.png")]) == 0
    table = capsys.readouterr().out
    row = next(ln for ln in table.splitlines() if ln.startswith("alloc60"))
    assert row.split()[1:4] == ["2", "2", "steady"]
    assert (tmp_path / "labels.png").read_bytes().startswith(b"\x89PNG")


def test_several_queue_statements_run_as_one_cluster(tmp_path: Path, monkeypatch, capsys) -> None:
    """Each statement's procs run with the commands above it: another executable, other requests,
    another +attribute, $(Step)/$(Row) per statement, $(Process) through the cluster."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "twice.sh").write_text('#!/bin/sh\necho "$1 $1"\n')
    (tmp_path / "twice.sh").chmod(0o755)
    status, out, err = submit(tmp_path, """
executable = /bin/echo
arguments = first $(Process) $(Step) $(Row)
output = o.$(Process)
request_memory = 100
+Stage = "one"
queue 2
executable = twice.sh
arguments = $(word)-$(Process)-$(Step)-$(Row)
request_memory = 200
+Stage = "two"
queue word in (a, b)
""", capsys)
    assert status == 0, err
    assert "deprecated" in err  # condor_submit's warning, in condorexec's words
    cluster = int(out.split("cluster ")[1].rstrip(".\n"))
    assert out == f"Submitting job(s)....\n4 job(s) submitted to cluster {cluster}.\n"
    outputs = [(tmp_path / f"o.{p}").read_text() for p in range(4)]
    assert outputs == ["first 0 0 0\n", "first 1 1 0\n", "a-2-0-0 a-2-0-0\n", "b-3-0-1 b-3-0-1\n"]
    ads = sorted(history(tmp_path, capsys, str(cluster)), key=lambda ad: ad["ProcId"])
    assert [(ad["ProcId"], ad["RequestMemory"], ad["Stage"], Path(ad["Cmd"]).name) for ad in ads] == [
        (0, 100, "one", "echo"), (1, 100, "one", "echo"), (2, 200, "two", "twice.sh"), (3, 200, "two", "twice.sh")]


def test_append_goes_before_every_queue_statement(tmp_path: Path, monkeypatch, capsys) -> None:
    """condor_submit parses the -append lines again before each statement, so they win over what the
    file sets between statements (checked against condor_submit 25.14 -dry-run: 300 for both procs)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "job.sub").write_text("executable = /bin/true\nrequest_memory = 100\nqueue\n"
                                      "request_memory = 200\nqueue\n")
    assert main(["submit", "-dry-run", "-", "-append", "request_memory = 300", "job.sub"]) == 0
    text = capsys.readouterr().out
    assert "RequestMemory=300" in text and "RequestMemory=200" not in text and "ProcId=1" in text


def test_input_file_is_transferred_and_becomes_stdin(tmp_path: Path, monkeypatch, capsys) -> None:
    """``input = FILE`` is sent with the job like HTCondor's starter does (not only named), and it is
    not returned as an output of the job."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.txt").write_text("from stdin\n")
    status, _out, err = submit(tmp_path, """
executable = /bin/sh
arguments = "-c 'cat; ls'"
input = in.txt
output = o.txt
log = run.log
queue
""", capsys)
    assert status == 0, err
    assert (tmp_path / "o.txt").read_text().splitlines()[0] == "from stdin"
    assert "in.txt" in (tmp_path / "o.txt").read_text()  # the job saw it in its sandbox


def test_learned_requests_fill_only_the_statements_that_leave_them_out(tmp_path: Path, monkeypatch,
                                                                       capsys) -> None:
    monkeypatch.chdir(tmp_path)
    status, out, err = submit(tmp_path, """
executable = /bin/true
+CondorexecCategory = "mixed"
queue
request_memory = 300
queue
""", capsys, "--label-store", str(tmp_path / "labels.sqlite"))
    assert status == 0, err
    assert "category 'mixed' (still learning: maximum): request_cpus = 2, request_memory = 2000MB" in err
    cluster = int(out.split("cluster ")[1].rstrip(".\n"))
    ads = sorted(history(tmp_path, capsys, str(cluster)), key=lambda ad: ad["ProcId"])
    assert [(ad["RequestCpus"], ad["RequestMemory"]) for ad in ads] == [(2, 2000), (2, 300)]
