"""``condorexec labels`` on the live pool (``-m condor``): with HTCondor configured, ``auto`` means the
schedd, and the header states the schedd's threshold for ``mode="auto"``."""

from __future__ import annotations

from pathlib import Path

import pytest

from condorexec.cli import main
from condorexec.condorfacts import SCHEDD_JOB_START_SECONDS
from condorexec.core.modes import SHORT_FACTOR
from tests.cli.livepool import pool_or_skip

pytestmark = pytest.mark.condor


def test_the_header_states_the_schedds_threshold_on_a_schedd(tmp_path: Path, monkeypatch, capsys) -> None:
    pool_or_skip(())
    monkeypatch.delenv("CONDOREXEC_POOL", raising=False)
    assert main(["labels", "--label-store", str(tmp_path / "l.sqlite")]) == 0
    header = capsys.readouterr().out.splitlines()[1]
    threshold = SHORT_FACTOR * SCHEDD_JOB_START_SECONDS
    assert header.startswith(f"auto mode on the schedd: workers for calls under {threshold:g} s"), header
