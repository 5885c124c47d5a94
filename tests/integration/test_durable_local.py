"""A named workflow on the local pool, its submitter SIGKILLed after a third of its calls, run again
(issue 24). The local pool runs its jobs inside the submitting process, so the calls running at the kill
die with it: a rerun adopts the finished calls only, and runs the rest again."""

from __future__ import annotations

from pathlib import Path

import pytest

from condorexec.workflow.journal import journal_path, read_only
from tests.durable_run import kill_and_rerun, run_script

CALLS = 30


@pytest.mark.timeout(300)
def test_a_rerun_after_sigkill_runs_no_finished_call_again(tmp_path: Path, capsys) -> None:
    outcome = kill_and_rerun(tmp_path, "--pool", "local", "--short", "2", "--long", "4", calls=CALLS, timeout=240)
    changed = outcome.changed
    assert changed is not None
    assert outcome.rerun["results"] == {str(i): i * (7 if i == changed else 3) for i in range(CALLS)}
    assert outcome.ran[changed] == 2, "a call whose argument changed runs again"
    again = {i: outcome.ran[i] for i in outcome.finished_at_kill - {changed} if outcome.ran[i] != 1}
    assert again == {}, "calls that had finished before the kill ran again"
    # a call that wrote its line in the last instant before the kill may have lost its result with its
    # submitter (here its job died with it too): it runs again, once
    assert all(1 <= outcome.ran[i] <= 2 for i in range(CALLS) if i != changed), outcome.ran
    # the first run finished a third; the rerun adopted those (less the changed one) and no more
    adopted = sum(int(line.split(" adopted finished")[0].split()[-2]) for line in outcome.summaries[-2:])
    assert adopted >= len(outcome.finished_at_kill) - 1, outcome.summaries

    # the anchor, in the same run: the whole workflow from scratch takes longer than the rerun did
    scratch = run_script(tmp_path / "scratch", "--pool", "local", "--calls", str(CALLS), "--short", "2",
                         "--long", "4", timeout=240)
    with capsys.disabled():
        print(f"\n[durable, local] killed after {outcome.killed_after:.1f} s with {len(outcome.finished_at_kill)} of "
              f"{CALLS} calls finished; rerun {outcome.rerun['seconds']:.1f} s, whole workflow from scratch "
              f"{scratch['seconds']:.1f} s (Parsl's load excluded)")
        for line in outcome.summaries:
            print(f"  {line}")
    assert outcome.rerun["seconds"] < scratch["seconds"]
    for name in ("durable-jobs", "durable-workers"):
        reader = read_only(journal_path(name, tmp_path / "journals"))
        runs = reader.runs()
        reader.close()
        assert len(runs) == 2 and runs[0].ended is None and runs[1].ended is not None
