"""The durable-workflow benchmark's small version runs, and what it measures is what it claims: a rerun
re-attaches to every finished call of the killed run without asking the pool (the local pool's jobs die
with their submitter, so its running calls run again), and the script's rerun adopts every finished call
(tests/bench/resume.py exits non-zero otherwise)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "resume.py"


@pytest.mark.slow
def test_quick_resume_benchmark_adopts_every_finished_call() -> None:
    done = subprocess.run([sys.executable, str(BENCH), "--quick", "--skip", "rate"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    decisions = re.search(r"^local .*?(\{.*\})$", done.stdout, re.MULTILINE)
    assert decisions is not None, done.stdout
    assert ast.literal_eval(decisions.group(1)) == {"Finished": 300, "Rerun": 30}
    assert "rerun (all adopted)" in done.stdout
