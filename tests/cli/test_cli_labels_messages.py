"""``condorexec labels`` says what it can: the ``auto`` threshold of the pool in use, and a one-line
error (before printing anything) when ``--plot`` cannot plot."""

from __future__ import annotations

import sys
from pathlib import Path

from condorexec.cli import main
from condorexec.core.modes import SHORT_FACTOR
from condorexec.pools.local import JOB_START_SECONDS


def test_the_header_states_the_local_pools_threshold_on_the_local_pool(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("CONDOR_CONFIG", "/dev/null")  # no HTCondor here: auto is the local pool
    argv = ["labels", "--label-store", str(tmp_path / "l.sqlite"), "--state-dir", str(tmp_path / "st"),
            "--maximum", "2,2000,10000"]
    assert main(argv) == 0
    header = capsys.readouterr().out.splitlines()[1]
    threshold = SHORT_FACTOR * JOB_START_SECONDS
    assert header.startswith(f"auto mode on the local pool: workers for calls under {threshold:g} s")
    assert "schedd" not in header


def test_plot_without_matplotlib_is_one_clear_line_and_no_table(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # how a missing package looks to the import system
    argv = ["labels", "--label-store", str(tmp_path / "l.sqlite"), "--maximum", "2,2000,10000",
            "--plot", str(tmp_path / "l.png")]
    assert main(argv) == 1
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert captured.err == (f"condorexec labels: --plot {tmp_path / 'l.png'}: plotting needs matplotlib, which is "
                            "not installed here (pip install 'condorexec[plot]')\n")
    assert not (tmp_path / "l.png").exists()
