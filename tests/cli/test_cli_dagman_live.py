"""DAGMan drives ``condorexec submit`` on the live pool (``-m condor``, run as the pool's user).

A diamond DAG (A -> B, C -> D) runs through the real ``condor_submit_dag`` with its own config file
(``CONFIG`` in the DAG, never the shared pool config) saying ``DAGMAN_USE_DIRECT_SUBMIT = False`` and
pointing ``DAGMAN_CONDOR_SUBMIT_EXE``/``DAGMAN_CONDOR_RM_EXE`` at condorexec's console scripts. So DAGMan
runs condorexec with its own command line (``KEY=VALUE`` before and after ``-a`` options), parses its
``N job(s) submitted to cluster C.`` line and follows each node through the nodes log. The DAG has:

- A: ``VARS`` (its word reaches the job) and ``RETRY 1`` (it fails on its first try, passes on its second);
- B: ``+CondorexecCategory`` and no ``request_*``: condorexec gives it the category's learned size, from a
  job of that category run (and finished) before the DAG;
- C: two procs; proc 0 fails while proc 1 still runs, so DAGMan removes proc 1 through
  ``DAGMAN_CONDOR_RM_EXE`` (``condorexec rm CLUSTER -const DAGManJobId==N -reason ...``); the node fails,
  D never runs, and DAGMan writes a rescue DAG;
- the rescue DAG, run after C is fixed, runs only C and D, and the DAG completes.

The DAG's directory is under the pool user's home: DAGMan refuses a nodes log in /tmp (strict mode).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import htcondor2
import pytest

from tests.cli.livepool import pool_or_skip

pytestmark = pytest.mark.condor

BIN = Path(sys.executable).parent
NODE_SCRIPT = """#!/bin/sh
# node.sh KIND ARG FLAG: retry fails while ARG (DAGMan's $(RETRY)) is 0; fail exits 3 (proc 0) or sleeps
# (proc 1) until FLAG exists; word echoes ARG
case "$1" in
  retry) [ "$2" -ge 1 ] ;;
  fail) [ -e "$3" ] && exit 0; [ "$2" = 0 ] && exit 3; sleep 300 ;;
  *) echo "$2" ;;
esac
"""


@pytest.fixture
def schedd() -> htcondor2.Schedd:
    pool_or_skip(("condor_submit", "condor_submit_dag"))
    for script in ("condorexec_submit", "condorexec_rm"):
        if not (BIN / script).exists():
            pytest.skip(f"{BIN / script} is missing: install condorexec (pip install -e .) in this venv")
    return htcondor2.Schedd()


@pytest.fixture
def dag_dir(schedd: htcondor2.Schedd) -> Iterator[Path]:
    """A fresh directory for the DAG under the pool user's home; its jobs are removed at the end."""
    where = Path.home() / ".cache" / "condorexec-tests" / f"dag-{uuid.uuid4().hex[:8]}"
    where.mkdir(parents=True)
    yield where
    for ad in schedd.query(f'Iwd == "{where}"', ["ClusterId"]):
        schedd.act(htcondor2.JobAction.Remove, f"ClusterId == {ad['ClusterId']}")
    shutil.rmtree(where, ignore_errors=True)


def _write_dag(d: Path, category: str) -> None:
    (d / "node.sh").write_text(NODE_SCRIPT)
    (d / "node.sh").chmod(0o755)
    common = "executable = node.sh\nlog = nodes.job.log\n"
    (d / "a.sub").write_text(common + "arguments = retry $(RETRY)\noutput = a.out\nqueue\n")
    (d / "b.sub").write_text(common + f'+CondorexecCategory = "{category}"\narguments = word $(word)\n'
                                      "output = b.out\nqueue\n")
    (d / "c.sub").write_text(common + f"arguments = fail $(Process) {d / 'fixed'}\nqueue 2\n")
    (d / "d.sub").write_text(common + "arguments = word done\noutput = d.out\nqueue\n")
    (d / "diamond.dag").write_text(
        "JOB A a.sub\nJOB B b.sub\nJOB C c.sub\nJOB D d.sub\n"
        "PARENT A CHILD B C\nPARENT B C CHILD D\n"
        "RETRY A 1\nVARS B word=\"from-vars\"\nCONFIG diamond.config\n")
    (d / "diamond.config").write_text(
        "DAGMAN_USE_DIRECT_SUBMIT = False\n"
        f"DAGMAN_CONDOR_SUBMIT_EXE = {BIN / 'condorexec_submit'}\n"
        f"DAGMAN_CONDOR_RM_EXE = {BIN / 'condorexec_rm'}\n"
        "DAGMAN_USER_LOG_SCAN_INTERVAL = 1\nDAGMAN_VERBOSITY = 4\n")


def _run_dag(d: Path, env: dict[str, str], timeout: float = 300) -> int:
    """condor_submit_dag the DAG (its newest rescue DAG, when there is one: no -force) and wait for DAGMan to exit; its
    exit code (0: every node done, 1: a node failed)."""
    done = subprocess.run(["condor_submit_dag", "-include_env", "XDG_DATA_HOME", "diamond.dag"], cwd=d, env=env,
                          check=True, capture_output=True, text=True)
    dagman = int(re.search(r"submitted to cluster (\d+)\.", done.stdout).group(1))
    log = htcondor2.JobEventLog(str(d / "diamond.dag.dagman.log"))  # a rescue run appends to the first's
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in log.events(stop_after=5):
            if event.cluster != dagman:
                continue
            if event.type == htcondor2.JobEventType.JOB_TERMINATED:
                return int(event["ReturnValue"])
            if event.type == htcondor2.JobEventType.JOB_ABORTED:
                raise AssertionError(f"DAGMan was removed:\n{(d / 'diamond.dag.dagman.out').read_text()[-3000:]}")
    raise AssertionError(f"DAGMan did not finish in {timeout}s:\n{(d / 'diamond.dag.dagman.out').read_text()[-3000:]}")


def _seed_category(d: Path, category: str, env: dict[str, str]) -> None:
    """One finished job of ``category`` (run through condorexec submit, request given), so that B's
    submit learns from the pool's history."""
    (d / "seed.sub").write_text(f'executable = /bin/sleep\narguments = 3\n+CondorexecCategory = "{category}"\n'
                                "request_memory = 100\nlog = seed.log\nqueue\n")
    subprocess.run([str(BIN / "condorexec"), "submit", "--backend", "condor", "seed.sub"], cwd=d, env=env,
                   check=True, capture_output=True, text=True)
    subprocess.run([str(BIN / "condorexec"), "wait", "-wait", "120", "seed.log"], cwd=d, env=env, check=True,
                   capture_output=True)


def _history(schedd: htcondor2.Schedd, constraint: str, attrs: list[str], want: int) -> list:
    deadline = time.monotonic() + 30
    while True:  # the history record follows the terminate event closely
        ads = list(schedd.history(constraint, attrs))
        if len(ads) >= want or time.monotonic() > deadline:
            return ads
        time.sleep(1)


def test_a_diamond_dag_runs_through_condorexec_submit(schedd: htcondor2.Schedd, dag_dir: Path) -> None:
    d = dag_dir
    category = f"dagman-live-{d.name}"
    env = {**os.environ, "XDG_DATA_HOME": str(d / "data")}  # the label store of this test only
    _write_dag(d, category)
    _seed_category(d, category, env)

    assert _run_dag(d, env) == 1, "node C fails, so the first run must fail"
    out = (d / "diamond.dag.dagman.out").read_text()
    assert f"Submitting: {BIN / 'condorexec_submit'} JOB=A RETRY=0" in out
    assert "Node A job proc" in out and re.search(r"Retrying node A \(retry #1 of 1\)", out), out[-3000:]
    assert (d / "a.out").exists()
    assert (d / "b.out").read_text() == "from-vars\n"  # VARS reached B's arguments
    assert not (d / "d.out").exists()  # D's parent C failed
    # C's proc 0 failed while proc 1 slept: DAGMan removed proc 1 through condorexec rm
    c_cluster = int(re.search(r"Node C job proc \((\d+)\.0\.0\) failed", out).group(1))
    assert f"Running: {BIN / 'condorexec_rm'} {c_cluster} -const DAGManJobId==" in out
    c_ads = _history(schedd, f"ClusterId == {c_cluster}", ["ProcId", "JobStatus", "ExitCode"], 2)
    assert sorted((ad["ProcId"], ad["JobStatus"]) for ad in c_ads) == [(0, 4), (1, 3)]  # completed, removed
    rescue = (d / "diamond.dag.rescue001").read_text()
    assert re.search(r"^DONE A$", rescue, re.M) and re.search(r"^DONE B$", rescue, re.M)

    # B had no request_*: condorexec filled in the learned size (said on stderr, which DAGMan logs)
    said = re.search(rf"condorexec: category '{category}' \((learned|still learning: maximum)\): (.*)", out)
    assert said and said.group(1) == "learned", out[-3000:]
    learned_mb = int(re.search(r"request_memory = (\d+)MB", said.group(2)).group(1))
    b_cluster = int(re.search(r"Node B job proc \((\d+)\.0\.0\) completed", out).group(1))
    (b_ad,) = _history(schedd, f"ClusterId == {b_cluster}", ["RequestMemory", "CondorexecCategory"], 1)
    assert b_ad["RequestMemory"] == learned_mb and b_ad["CondorexecCategory"] == category
    largest = max(ad.get("TotalSlotMemory", 0) for ad in htcondor2.Collector().query(
        htcondor2.AdTypes.Startd, projection=["TotalSlotMemory"]))
    assert learned_mb < largest  # a learned size, not the largest machine of a category still learning

    (d / "fixed").write_text("")
    assert _run_dag(d, env) == 0, (d / "diamond.dag.dagman.out").read_text()[-3000:]
    assert (d / "d.out").read_text() == "done\n"
    rerun = (d / "diamond.dag.dagman.out").read_text()[len(out):]
    assert "Submitting: " in rerun and "JOB=A " not in rerun and "JOB=B " not in rerun  # the rescue skips A, B
