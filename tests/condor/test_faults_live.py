"""The fault suite's cases that need a schedd (docs/faults.md). Output transfer back to the submit
side behaves alike on both pools: missing directories are made, an unwritable target is held 12. A
submitter killed with jobs queued loses nothing it learned, runs again with the same state, and leaves
no jobs behind: the lease's periodic_remove ends them."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import htcondor2
import pytest

from condorexec.pools.local import LocalPool

from .conftest import wait_for

pytestmark = [pytest.mark.condor, pytest.mark.fault]


def _hold_of(pool, description: htcondor2.Submit, log: Path) -> tuple[int, int] | None:
    """Submit one job; its hold's (code, subcode), or None if it terminated."""
    result = pool.submit(description)
    job = f"{result.cluster}.0"

    def ended():
        for event in htcondor2.JobEventLog(str(log)).events(0):
            if f"{event.cluster}.{event.proc}" != job:
                continue
            if event.type == htcondor2.JobEventType.JOB_HELD:
                return [(int(event["HoldReasonCode"]), int(event["HoldReasonSubCode"]))]
            if event.type == htcondor2.JobEventType.JOB_TERMINATED:
                return [None]
        return None

    try:
        return wait_for(f"job {job} to be held or to end", ended, timeout=120)[0]
    finally:
        pool.act(htcondor2.JobAction.Remove, [job])


def _on_both_pools(condor_pool, make_description, job_dir: Path, remap: str) -> dict[str, tuple | None]:
    """The hold (code, subcode) of one job writing out.txt, remapped to ``remap``, on each pool."""
    script = job_dir / "write.sh"
    script.write_text("#!/bin/sh\necho hi > out.txt\n")
    script.chmod(0o755)
    commands = {"transfer_output_files": "out.txt", "transfer_output_remaps": f'"out.txt = {remap}"',
                "should_transfer_files": "YES", "transfer_executable": "true"}
    holds = {"condor": _hold_of(condor_pool, make_description(str(script), **commands), job_dir / "job.log")}
    local = LocalPool(["cpus=1,memory=500,disk=1000"], state_dir=job_dir / "state")
    try:
        local_log = job_dir / "local.log"
        holds["local"] = _hold_of(local, make_description(str(script), **commands, log=str(local_log)), local_log)
    finally:
        local.close()
    return holds


def test_an_output_that_cannot_be_written_back_is_held_12_with_the_errno_on_both_pools(condor_pool,
                                                                                    make_description, job_dir):
    (job_dir / "blocker").write_text("a file, not a directory")
    holds = _on_both_pools(condor_pool, make_description, job_dir, f"{job_dir}/blocker/out.txt")
    assert holds["condor"] == holds["local"] == (12, 20), holds


def test_a_remap_into_missing_directories_is_delivered_on_both_pools(condor_pool, make_description, job_dir):
    holds = _on_both_pools(condor_pool, make_description, job_dir, f"{job_dir}/$(ClusterId)/new/out.txt")
    assert holds == {"condor": None, "local": None}
    delivered = sorted(p.relative_to(job_dir).parts[1:] for p in job_dir.glob("*/new/out.txt"))
    assert delivered == [("new", "out.txt"), ("new", "out.txt")]


SUBMITTER = textwrap.dedent("""
    import sys, parsl
    from parsl import python_app
    from parsl.config import Config
    from condorexec import CondorExecutor

    @python_app
    def work(x, seconds, parsl_resource_specification={"memory": 64, "disk": 5}):
        import time
        time.sleep(seconds)
        return x

    base, seconds, run = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    executor = CondorExecutor(label="k", pool="condor", mode="per_call", autolabel=True,
                              label_store=base + "/labels.sqlite", lease_minutes=1)
    parsl.load(Config(executors=[executor], run_dir=base + "/runinfo-" + run, strategy="none"))
    futures = [work(i, seconds) for i in range(4)]
    print("run", executor.run_token, flush=True)
    print("sum", sum(f.result() for f in futures), flush=True)
    parsl.dfk().cleanup()
""")


def test_a_killed_submitter_loses_nothing_learned_and_its_jobs_end_with_the_lease(condor_pool, job_dir):
    script = job_dir / "submitter.py"
    script.write_text(SUBMITTER)
    store = job_dir / "labels.sqlite"
    first = subprocess.run([sys.executable, str(script), str(job_dir), "0", "a"], capture_output=True, text=True,
                           timeout=300)
    assert "sum 6" in first.stdout, first.stderr[-3000:]

    victim = subprocess.Popen([sys.executable, str(script), str(job_dir), "600", "b"], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        token = victim.stdout.readline().split()[-1]
        mine = f'CondorexecRun == "{token}"'
        wait_for("the submitter's jobs in the queue", lambda: len(condor_pool.query(mine, ["ProcId"])) == 4)
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
    finally:
        victim.kill()
        victim.communicate()

    again = subprocess.run([sys.executable, str(script), str(job_dir), "0", "c"], capture_output=True, text=True,
                           timeout=300)
    assert "sum 6" in again.stdout, again.stderr[-3000:]

    from condorexec.labels.store import LabelStore

    with LabelStore(store) as labels:
        assert labels.completions("default") >= 8  # both live runs' calls, nothing lost to the kill

    # the killed run renewed nothing after it died: its jobs' lease runs out and the schedd removes them
    wait_for("the lease's periodic_remove to end the killed run's jobs", lambda: not condor_pool.query(mine),
             timeout=240, every=2)
    removed = list(condor_pool.history(mine, ["JobStatus", "RemoveReason"]))
    assert len(removed) == 4 and {ad["JobStatus"] for ad in removed} == {3}
    assert all("PeriodicRemove" in ad.get("RemoveReason", "") or "periodic" in ad.get("RemoveReason", "").lower()
               for ad in removed), [ad.get("RemoveReason") for ad in removed]
