"""A named workflow on the live pool, its submitter SIGKILLed after a third of its calls, run again
(issue 24). HTCondor's jobs outlive their submitter: the rerun adopts the finished calls, follows the
per-call jobs and the slot workers still running, and runs nothing twice but the one call it changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from condorexec.pools.condor import CondorPool
from condorexec.workflow.attach import queued_constraint
from condorexec.workflow.journal import journal_path, read_only
from tests.durable_run import kill_and_rerun, run_script

from .conftest import wait_for

pytestmark = [pytest.mark.condor, pytest.mark.slow]

CALLS, SHORT, LONG = 30, 10.0, 20.0


@pytest.mark.timeout(1200)
def test_a_rerun_after_sigkill_adopts_what_finished_and_what_still_runs(condor_pool: CondorPool, tmp_path: Path,
                                                                        capsys) -> None:
    tmp_path.chmod(0o755)
    outcome = kill_and_rerun(tmp_path, "--pool", "condor", "--short", str(SHORT), "--long", str(LONG),
                             calls=CALLS, timeout=900, settle=12.0)  # the calls in flight are well on their way
    changed = outcome.changed
    assert changed is not None
    with capsys.disabled():
        print(f"\n[durable, live] killed after {outcome.killed_after:.0f} s with {len(outcome.finished_at_kill)} of "
              f"{CALLS} calls finished; the rerun took {outcome.rerun_seconds:.0f} s")
        for line in outcome.summaries:
            print(f"  {line}")
    assert outcome.rerun["results"] == {str(i): i * (7 if i == changed else 3) for i in range(CALLS)}
    assert outcome.ran[changed] == 2, "a call whose argument changed runs again"
    # jobs and workers outlive their submitter here: every call ran once, adopted finished or followed
    assert {i: n for i, n in outcome.ran.items() if i != changed and n != 1} == {}
    # the anchor, in the same test: the calls that had not finished at the kill, run from scratch (a fresh
    # workflow name, so nothing is adopted) on the same pool
    unfinished = ",".join(str(i) for i in range(CALLS) if i not in outcome.finished_at_kill)
    scratch_dir = tmp_path / "scratch"
    scratch_dir.mkdir(mode=0o755)
    scratch = run_script(scratch_dir, "--pool", "condor", "--calls", str(CALLS), "--short", str(SHORT), "--long",
                         str(LONG), "--only", unfinished, "--name", "scratch", timeout=900)
    with capsys.disabled():
        print(f"  from scratch, the {CALLS - len(outcome.finished_at_kill)} calls not finished at the kill took "
              f"{scratch['seconds']:.0f} s (the rerun: {outcome.rerun['seconds']:.0f} s, Parsl's load excluded)")
    # On this pool (2 cores) only about two calls are in flight at the kill, so what adopting them saves is
    # their head start, 10-20 s of ~180: within the run-to-run noise of negotiation and worker start-up
    # (measured: 168 vs 183 s, 180 vs 182 s). The rerun must not be slower than that noise allows; the
    # strong claim, no call run twice, is the assertion above.
    assert outcome.rerun["seconds"] < 1.1 * scratch["seconds"]
    assert any(" 0 adopted running" not in line for line in outcome.summaries[-2:]), outcome.summaries
    # and nothing is left in the queue: not the rerun's jobs, not the killed run's
    tokens = []
    for name in ("durable-jobs", "durable-workers"):
        reader = read_only(journal_path(name, tmp_path / "journals"))
        tokens += [run.token for run in reader.runs()]
        reader.close()
    wait_for("the workflow's jobs to leave the queue",
             lambda: not condor_pool.query(queued_constraint(tokens), ["ClusterId"]), timeout=60)
