"""``condorexec submit -spool`` and ``condorexec transfer-data`` on a live HTCondor pool (``-m condor``;
run as the pool's user, see tests/cli/test_cli_vs_condor_live.py), beside ``condor_submit -spool`` and
``condor_transfer_data`` for the same job: the schedd must hold the same spool rewrite for both, the
jobs must run from the spooled inputs, and both tools must bring back the same files.

Other users' jobs may share the pool: every query names the clusters these tests queued.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import classad2
import htcondor2
import pytest

from condorexec.cli import main
from tests.cli.livepool import pool_or_skip

pytestmark = pytest.mark.condor
CONDOR = ["--backend", "condor"]
#: what -spool changes in a job ad (condor_submit, then the schedd's rewriteSpooledJobAd), compared
SPOOL_ATTRS = ["Cmd", "SUBMIT_Cmd", "In", "SUBMIT_In", "Out", "Err", "TransferInput", "SUBMIT_TransferInput",
               "TransferOutputRemaps", "SUBMIT_TransferOutputRemaps", "UserLog", "SUBMIT_UserLog",
               "LeaveJobInQueue", "SpooledOutputFiles", "JobStatus", "ExitCode"]
#: the files each job sends back (the job event log is spooled too on HTCondor)
RETURNED = ["err.txt", "job.log", "made.txt", "stdin.copy", "sub/out.txt"]

SUB = """
executable = run.sh
transfer_input_files = data/in.txt
input = data/in.txt
output = sub/out.txt
error = err.txt
log = job.log
should_transfer_files = YES
request_memory = 64
request_disk = 10M
queue
"""

SCRIPT = """#!/bin/sh
cat in.txt
cat > stdin.copy
echo "made by v1" > made.txt
echo "stderr v1" >&2
"""




@pytest.fixture(scope="module")
def schedd() -> htcondor2.Schedd:
    pool_or_skip(("condor_submit", "condor_transfer_data"))
    return htcondor2.Schedd()


def _job_dir(root: Path) -> Path:
    """A submit directory the pool's user can read, with the job's inputs (version 1)."""
    root.mkdir(parents=True)
    root.chmod(0o755)
    (root / "data").mkdir()
    (root / "data" / "in.txt").write_text("input v1\n")
    (root / "sub").mkdir()
    (root / "run.sh").write_text(SCRIPT)
    (root / "run.sh").chmod(0o755)
    (root / "job.sub").write_text(SUB)
    return root


def _change_originals(root: Path) -> None:
    """What a user may do once the inputs are spooled: the jobs must not notice."""
    (root / "data" / "in.txt").write_text("input v2\n")
    (root / "run.sh").write_text(SCRIPT.replace("v1", "v2"))


def _wait_completed(schedd: htcondor2.Schedd, cluster: int, timeout: float = 240) -> classad2.ClassAd:
    """The job's queue ad once it completed (a spooled job stays in the queue until fetched)."""
    deadline = time.monotonic() + timeout
    ads: list[classad2.ClassAd] = []
    while time.monotonic() < deadline:
        ads = schedd.query(f"ClusterId == {cluster}")
        if ads and ads[0].get("JobStatus") == 4:
            return ads[0]
        assert ads, f"cluster {cluster} left the queue before its output was fetched"
        assert ads[0].get("JobStatus") != 5 or ads[0].get("HoldReasonCode") == 16, \
            f"cluster {cluster} held: {ads[0].get('HoldReason')}"
        time.sleep(1)
    pytest.fail(f"cluster {cluster} did not complete within {timeout:g}s: {ads and ads[0].get('JobStatus')}")


def _neutral(ad: classad2.ClassAd, attr: str, root: Path) -> str | None:
    """The attribute's expression with the test's own submit directory made neutral (None: not set)."""
    return str(ad.lookup(attr)).replace(str(root), "<submit dir>") if attr in ad else None


def _returned(root: Path) -> dict[str, str]:
    return {name: (root / name).read_text() for name in RETURNED if (root / name).exists()}


def _condorexec(argv: list[str], capsys) -> tuple[int, str, str]:
    capsys.readouterr()
    status = main(argv)
    out, err = capsys.readouterr()
    return status, out, err


def test_submit_spool_then_transfer_data(schedd: htcondor2.Schedd, clusters: list[int], tmp_path: Path,
                                         monkeypatch, capsys) -> None:
    root = _job_dir(tmp_path / "ours")
    monkeypatch.chdir(root)
    status, out, err = _condorexec(["submit", *CONDOR, "-spool", "job.sub"], capsys)
    assert status == 0, err
    cluster = int(out.rsplit("cluster ", 1)[1].rstrip(".\n"))
    clusters.append(cluster)
    assert out == f"Submitting job(s).\n1 job(s) submitted to cluster {cluster}.\n"
    _change_originals(root)
    ad = _wait_completed(schedd, cluster)
    assert ad["ExitCode"] == 0 and ad["SUBMIT_Iwd"] == str(root)
    assert _returned(root) == {}, "outputs came back before transfer-data"
    status, out, err = _condorexec(["transfer-data", *CONDOR, str(cluster)], capsys)
    assert (status, out) == (0, "Fetching data files...\n"), err
    got = _returned(root)
    assert got["sub/out.txt"] == "input v1\n" and got["stdin.copy"] == "input v1\n"
    assert got["made.txt"] == "made by v1\n" and got["err.txt"] == "stderr v1\n"
    assert "Job terminated" in got["job.log"]  # the event log was spooled too, and came back


def test_the_same_as_condor_submit_spool_and_condor_transfer_data(schedd: htcondor2.Schedd, clusters: list[int],
                                                                  tmp_path: Path, monkeypatch, capsys) -> None:
    theirs_dir, ours_dir = _job_dir(tmp_path / "theirs"), _job_dir(tmp_path / "ours")
    done = subprocess.run(["condor_submit", "-spool", "job.sub"], cwd=theirs_dir, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    theirs = int(re.search(r"submitted to cluster (\d+)\.", done.stdout)[1])
    clusters.append(theirs)
    monkeypatch.chdir(ours_dir)
    status, out, err = _condorexec(["submit", *CONDOR, "-spool", "job.sub"], capsys)
    assert status == 0, err
    ours = int(out.rsplit("cluster ", 1)[1].rstrip(".\n"))
    clusters.append(ours)
    # condor_submit's own first lines (its cluster id for ours), without its condor_watch_q hint
    assert out.splitlines() == [line.replace(f"cluster {theirs}.", f"cluster {ours}.")
                                for line in done.stdout.splitlines()[:2]] != []
    _change_originals(theirs_dir)
    _change_originals(ours_dir)
    want, got = _wait_completed(schedd, theirs), _wait_completed(schedd, ours)
    for attr in SPOOL_ATTRS:
        assert _neutral(want, attr, theirs_dir) == _neutral(got, attr, ours_dir), attr
    assert want["SUBMIT_Iwd"] == str(theirs_dir) and got["SUBMIT_Iwd"] == str(ours_dir)
    assert want["Iwd"].endswith(f"/cluster{theirs}.proc0.subproc0") and got["Iwd"].endswith(
        f"/cluster{ours}.proc0.subproc0")

    fetched = subprocess.run(["condor_transfer_data", str(theirs)], capture_output=True, text=True, timeout=120,
                             check=False)
    status, out, err = _condorexec(["transfer-data", *CONDOR, str(ours)], capsys)
    assert (status, out, err) == (fetched.returncode, fetched.stdout, fetched.stderr) == (
        0, "Fetching data files...\n", "")
    mine, reference = _returned(ours_dir), _returned(theirs_dir)
    assert sorted(mine) == sorted(reference) == sorted(RETURNED)
    for name in RETURNED:
        if name != "job.log":  # the logs differ in ids, hosts and times
            assert mine[name] == reference[name], name
    # once fetched, a completed spooled job may leave the queue (LeaveJobInQueue turns false); the schedd
    # records StageOutFinish after the transfer has returned, so give it a moment (seen in CI)
    for cluster in (theirs, ours):
        deadline = time.monotonic() + 15
        while True:
            ad = schedd.query(f"ClusterId == {cluster}", ["StageOutFinish"])
            if not ad or ad[0].get("StageOutFinish", 0) > 0 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        assert not ad or ad[0].get("StageOutFinish", 0) > 0, f"cluster {cluster}: {ad}"


def test_unknown_jobs_are_no_error_as_for_condor_transfer_data(schedd: htcondor2.Schedd, capsys) -> None:
    nobody = "999999999"  # far beyond any cluster id this pool will reach
    fetched = subprocess.run(["condor_transfer_data", nobody], capture_output=True, text=True, timeout=60,
                             check=False)
    status, out, err = _condorexec(["transfer-data", *CONDOR, nobody], capsys)
    assert (status, out, err) == (fetched.returncode, fetched.stdout, fetched.stderr)
