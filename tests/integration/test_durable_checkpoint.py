"""A named workflow beside Parsl's own checkpointing (issue 24): the two do not get in each other's way.
Parsl's memoizer answers the calls it checkpointed before they reach the executor; the journal answers
the calls that do reach it. A call answered by either runs once in all."""

from __future__ import annotations

from pathlib import Path

import parsl
import pytest
from parsl.app.app import python_app
from parsl.config import Config
from parsl.dataflow.memoization import BasicMemoizer
from parsl.utils import get_all_checkpoints

from condorexec import CondorExecutor
from condorexec.workflow.journal import journal_path, read_only


@python_app(cache=True)
def double(x: int, log: str, parsl_resource_specification=None) -> int:  # noqa: ARG001
    with open(log, "a") as f:
        f.write(f"{x}\n")
    return 2 * x


def _run(tmp_path: Path, xs: list[int], memoizer: BasicMemoizer | None) -> list[int]:
    executor = CondorExecutor(label="ck", pool="local", mode="per_call", nodes=["cpus=4,memory=4000"],
                              workflow="checkpointed", workflow_dir=str(tmp_path / "journals"), batch_window=0.05)
    dfk = parsl.load(Config(executors=[executor], run_dir=str(tmp_path / "runinfo"), strategy="none",
                            memoizer=memoizer))
    try:
        return [double(x, str(tmp_path / "ran.log")).result(timeout=120) for x in xs]
    finally:
        dfk.cleanup()


def _ran(tmp_path: Path) -> list[int]:
    return sorted(int(line) for line in (tmp_path / "ran.log").read_text().split())


@pytest.mark.timeout(300)
def test_parsl_checkpoints_and_the_journal_each_answer_their_calls(tmp_path: Path) -> None:
    assert _run(tmp_path, [1, 2, 3], BasicMemoizer(checkpoint_mode="task_exit")) == [2, 4, 6]
    assert _ran(tmp_path) == [1, 2, 3]
    # Parsl's checkpoint answers 1-3 (they never reach the executor); 4 is new and runs
    checkpoints = get_all_checkpoints(str(tmp_path / "runinfo"))
    assert checkpoints
    assert _run(tmp_path, [1, 2, 3, 4], BasicMemoizer(checkpoint_files=checkpoints)) == [2, 4, 6, 8]
    assert _ran(tmp_path) == [1, 2, 3, 4]
    # without Parsl's checkpoints the journal answers all four
    assert _run(tmp_path, [1, 2, 3, 4], None) == [2, 4, 6, 8]
    assert _ran(tmp_path) == [1, 2, 3, 4]
    reader = read_only(journal_path("checkpointed", tmp_path / "journals"))
    runs = reader.runs()
    reader.close()
    assert [(r.fresh, r.adopted_finished) for r in runs] == [(3, 0), (1, 0), (0, 4)]
