"""``condorexec submit -spool`` and ``condorexec transfer-data`` end to end on the embedded local pool:
the jobs run from the copies made at submit, their outputs wait in the state directory after
``submit`` has exited, and a later ``transfer-data`` process delivers them where they would have gone.
Each test has its own state directory."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import classad2
import pytest

from condorexec.cli import main
from condorexec.pools.local.spool import SpoolLayout

CONSOLE = Path(sys.executable).with_name("condorexec")


def local(tmp_path: Path) -> list[str]:
    return ["--backend", "local", "--state-dir", str(tmp_path / "state")]


def transfer_data(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A separate process, as a user would run it after ``submit`` has exited."""
    return subprocess.run([str(CONSOLE), "transfer-data", *local(tmp_path), *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, check=False)


def history(tmp_path: Path, capsys, *args: str) -> list[classad2.ClassAd]:
    capsys.readouterr()
    assert main(["history", *local(tmp_path), "-long", *args]) == 0
    return list(classad2.parseAds(capsys.readouterr().out, classad2.ParserType.Old))


SUB = """
executable = run.sh
arguments = $(Process)
input = stdin.txt
transfer_input_files = data/in.txt, tree
output = out/o.$(Process)
error = e.$(Process)
transfer_output_files = result.$(Process)
transfer_output_remaps = "result.$(Process) = results/r.$(Process)"
log = run.log
request_cpus = 1
request_memory = 100
queue 2
"""

SCRIPT = """#!/bin/sh
sleep "$((3 * (1 - $1)))"   # job 0 holds the only core for 3 s, so job 1 starts after the edits
{ cat in.txt; cat tree/leaf.txt; cat; echo "script v1"; } > "result.$1"
echo "stdout of $1"
echo "stderr of $1" >&2
"""


def _inputs(tmp_path: Path) -> None:
    (tmp_path / "run.sh").write_text(SCRIPT)
    (tmp_path / "run.sh").chmod(0o755)
    (tmp_path / "stdin.txt").write_text("stdin v1\n")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "in.txt").write_text("input v1\n")
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "leaf.txt").write_text("leaf v1\n")
    (tmp_path / "out").mkdir()
    (tmp_path / "job.sub").write_text(SUB)


def test_jobs_run_from_the_spool_and_outputs_wait_for_transfer_data(tmp_path: Path, capsys) -> None:
    _inputs(tmp_path)
    layout = SpoolLayout(tmp_path / "state")
    submit = subprocess.Popen([str(CONSOLE), "submit", *local(tmp_path), "--local-node", "cpus=1,memory=1000",
                               "-spool", "job.sub"], cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    cluster = None
    deadline = time.monotonic() + 30
    while cluster is None and time.monotonic() < deadline:  # both jobs' inputs are spooled before either is queued
        found = list(layout.spool.glob("*/1/cluster*.proc1.subproc0"))
        cluster = int(found[0].name.split(".")[0][len("cluster"):]) if found else None
        time.sleep(0.05)
    assert cluster is not None, "the inputs were never spooled"
    # change and remove the originals while job 1 still waits: it must see what was submitted
    (tmp_path / "data" / "in.txt").write_text("input v2\n")
    (tmp_path / "tree" / "leaf.txt").unlink()
    (tmp_path / "stdin.txt").write_text("stdin v2\n")
    (tmp_path / "run.sh").unlink()
    out, err = submit.communicate(timeout=60)
    assert submit.returncode == 0, err
    assert out == f"Submitting job(s)..\n2 job(s) submitted to cluster {cluster}.\n"
    assert f"condorexec transfer-data {cluster}" in err

    # submit has exited: the outputs are in the spool, none in the submit directory; history has the jobs
    for name in ("results", "e.0", "e.1", "result.0"):
        assert not (tmp_path / name).exists(), name
    assert list((tmp_path / "out").iterdir()) == []
    records = sorted(history(tmp_path, capsys, str(cluster)), key=lambda ad: ad["ProcId"])
    assert [(r["ProcId"], r["JobStatus"], r["ExitCode"]) for r in records] == [(0, 4, 0), (1, 4, 0)]
    assert records[0]["SUBMIT_Iwd"] == str(tmp_path)
    assert records[0]["Iwd"] == str(layout.job_spool(cluster, 0))
    assert records[0]["Out"] == "_condor_stdout"  # condor_submit -spool's working name, remapped back
    assert records[0]["SpooledOutputFiles"] == "result.0"

    done = transfer_data(tmp_path, str(cluster))
    assert (done.returncode, done.stdout, done.stderr) == (0, "Fetching data files...\n", "")
    for p in (0, 1):
        assert (tmp_path / "results" / f"r.{p}").read_text() == "input v1\nleaf v1\nstdin v1\nscript v1\n"
        assert (tmp_path / "out" / f"o.{p}").read_text() == f"stdout of {p}\n"
        assert (tmp_path / f"e.{p}").read_text() == f"stderr of {p}\n"
        assert not layout.job_spool(cluster, p).exists()  # retrieved: gone from the spool
    assert not (tmp_path / "result.0").exists()  # remapped, not also left under its own name

    (tmp_path / "results" / "r.0").unlink()
    again = transfer_data(tmp_path, str(cluster))  # as condor_transfer_data once the job left the queue
    assert (again.returncode, again.stdout) == (0, "Fetching data files...\n")
    assert not (tmp_path / "results" / "r.0").exists()


def test_default_outputs_one_job_by_id_and_others_stay(tmp_path: Path, monkeypatch, capsys) -> None:
    """Without transfer_output_files every new file comes back; ``C.P`` fetches one job only."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "job.sub").write_text("""
executable = /bin/sh
arguments = "-c 'echo made $(Process) > new.$(Process); echo hi'"
output = o.$(Process)
log = run.log
queue 2
""")
    assert main(["submit", *local(tmp_path), "-spool", "job.sub"]) == 0
    cluster = int(capsys.readouterr().out.rsplit("cluster ", 1)[1].rstrip(".\n"))
    assert not (tmp_path / "new.0").exists() and not (tmp_path / "o.0").exists()
    done = transfer_data(tmp_path, f"{cluster}.1")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "new.1").read_text() == "made 1\n" and (tmp_path / "o.1").read_text() == "hi\n"
    assert not (tmp_path / "new.0").exists()
    assert SpoolLayout(tmp_path / "state").job_spool(cluster, 0).exists()
    assert transfer_data(tmp_path, "-constraint", f"ClusterId == {cluster} && ProcId == 0").returncode == 0
    assert (tmp_path / "new.0").read_text() == "made 0\n"


def test_a_held_spooled_job_leaves_nothing_in_the_spool(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "job.sub").write_text("executable = /bin/true\ntransfer_output_files = missing\nlog = l\nqueue\n")
    assert main(["submit", *local(tmp_path), "-spool", "job.sub"]) == 1  # held, then removed at exit
    cluster = int(capsys.readouterr().out.rsplit("cluster ", 1)[1].rstrip(".\n"))
    assert not SpoolLayout(tmp_path / "state").job_spool(cluster, 0).exists()
    assert [r["JobStatus"] for r in history(tmp_path, capsys, str(cluster))] == [3]


def test_transfer_data_selections_as_condor_transfer_data(tmp_path: Path) -> None:
    """Unknown jobs are no error for condor_transfer_data (it prints its banner and exits 0: checked
    against HTCondor 25.14); no selection, ``-all`` with another, a cluster 0 are usage errors."""
    nothing = transfer_data(tmp_path, "4242", "17.3", "nobody")
    assert (nothing.returncode, nothing.stdout, nothing.stderr) == (0, "Fetching data files...\n", "")
    assert not (tmp_path / "state").exists()  # reading the spool creates nothing
    none = transfer_data(tmp_path)
    assert none.returncode == 1 and "You did not specify any jobs" in none.stderr and "usage:" in none.stderr
    both = transfer_data(tmp_path, "-all", "3")
    assert both.returncode == 1 and "-all cannot be used with other constraints" in both.stderr
    zero = transfer_data(tmp_path, "0")
    assert zero.returncode == 1 and "Invalid cluster # from 0." in zero.stderr and zero.stdout == ""
    bad = transfer_data(tmp_path, "12x")
    assert bad.returncode == 1 and "'12x'" in bad.stderr and bad.stdout == ""
    expr = transfer_data(tmp_path, "-constraint", "foo ==")
    assert expr.returncode == 1 and "'foo =='" in expr.stderr and expr.stdout == ""


@pytest.mark.parametrize(("extra", "message"), [
    (["-spool", "-append", "hold = true"], "Cannot set hold to 'true' when using -remote or -spool"),
    (["-remote", "someschedd"], "-name/-pool name an HTCondor schedd"),
])
def test_spool_refusals_before_anything_is_queued(tmp_path: Path, monkeypatch, capsys, extra, message) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "job.sub").write_text("executable = /bin/true\nqueue\n")
    assert main(["submit", *local(tmp_path), *extra, "job.sub"]) == 1
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""
    assert not SpoolLayout(tmp_path / "state").history.exists()


def test_spooling_a_missing_input_names_it_and_queues_nothing(tmp_path: Path, monkeypatch, capsys) -> None:
    """The description is checked offline first (transfer_input_files must exist), as without -spool."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "job.sub").write_text("executable = /bin/true\ntransfer_input_files = absent.txt\nqueue\n")
    assert main(["submit", *local(tmp_path), "-spool", "job.sub"]) == 1
    captured = capsys.readouterr()
    assert "absent.txt" in captured.err and captured.out == ""
    assert not list(SpoolLayout(tmp_path / "state").spool.glob("*/*/cluster*"))


def test_a_failed_delivery_says_so_and_keeps_the_outputs(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "job.sub").write_text("""
executable = /bin/sh
arguments = "-c 'echo r > r.txt'"
transfer_output_files = r.txt
transfer_output_remaps = "r.txt = /dev/null/cannot"
log = run.log
queue
""")
    assert main(["submit", *local(tmp_path), "-spool", "job.sub"]) == 0  # in the spool, nothing is remapped
    cluster = int(capsys.readouterr().out.rsplit("cluster ", 1)[1].rstrip(".\n"))
    failed = transfer_data(tmp_path, str(cluster))
    assert failed.returncode == 1 and failed.stdout == "Fetching data files...\n"
    assert "/dev/null/cannot" in failed.stderr
    assert failed.stderr.rstrip().endswith("ERROR: Failed to spool job files.")
    assert (SpoolLayout(tmp_path / "state").job_spool(cluster, 0) / "r.txt").read_text() == "r\n"


def test_dry_run_shows_the_ads_condor_submit_spool_makes(tmp_path: Path, monkeypatch, capsys) -> None:
    """Compared with HTCondor 25.14's ``condor_submit -spool -dry-run -`` for this file: the same five
    attributes change (that condor_submit then also tries to spool, and fails, is not copied)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "job.sub").write_text("executable = /bin/true\noutput = sub/out.txt\nerror = e.txt\nqueue\n")
    assert main(["submit", *local(tmp_path), "-dry-run", "-", "job.sub"]) == 0
    plain = capsys.readouterr().out.splitlines()
    assert main(["submit", *local(tmp_path), "-spool", "-dry-run", "-", "job.sub"]) == 0
    spooled = capsys.readouterr().out.splitlines()
    timely = ("QDate=", "EnteredCurrentStatus=")  # the two runs may fall in different seconds
    assert sorted(line for line in set(spooled) - set(plain) if not line.startswith(timely)) == sorted([
        'Out="_condor_stdout"', 'HoldReason="Spooling input data files"', "HoldReasonCode=16",
        "LeaveJobInQueue=JobStatus == 4 && (time() - (CompletionDate ?: time())) < 864000 && "
        "(StageOutFinish ?: 0) < EnteredCurrentStatus",
        'TransferOutputRemaps="_condor_stdout=sub/out.txt"', "JobStatus=5"])
    assert not (tmp_path / "state").exists()  # nothing spooled, nothing queued


@pytest.mark.skipif(not CONSOLE.exists(), reason="console script not installed")
def test_several_queue_statements_spool_as_one_cluster(tmp_path: Path, monkeypatch, capsys) -> None:
    """The merged item rows of several statements go through -spool too: one cluster, each proc's
    output in the spool until transfer-data, then each with its own statement's text."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "job.sub").write_text("executable = /bin/echo\narguments = one $(Process)\noutput = o.$(Process)\n"
                                      "queue\narguments = two $(Process) $(Step)\nqueue 2\n")
    assert main(["submit", "-spool", *local(tmp_path), "job.sub"]) == 0
    out = capsys.readouterr().out
    assert out.endswith("3 job(s) submitted to cluster 1.\n")
    assert not list(tmp_path.glob("o.*"))  # kept in the spool
    done = transfer_data(tmp_path, "1")
    assert done.returncode == 0, done.stderr
    assert [(tmp_path / f"o.{p}").read_text() for p in range(3)] == ["one 0\n", "two 1 0\n", "two 2 1\n"]
