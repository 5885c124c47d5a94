"""The CLI against a real HTCondor pool (``-m condor``; run as the pool's user, see ci/condor-tests.sh):
submit queues and returns like condor_submit, and q/history/rm/wait talk to the schedd."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from condorexec.cli import main

pytestmark = pytest.mark.condor
CONDOR = ["--backend", "condor"]


def _submit(tmp_path: Path, text: str, capsys) -> int:
    (tmp_path / "job.sub").write_text(text)
    assert main(["submit", *CONDOR, "job.sub"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Submitting job(s)")
    return int(out.rsplit("cluster ", 1)[1].rstrip(".\n"))


def test_submit_returns_and_wait_history_follow(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    cluster = _submit(tmp_path, "executable = /bin/echo\narguments = live $(Process)\noutput = out.$(Process)\n"
                                "log = job.log\nbatch_name = condorexec-cli-live\nqueue 2\n", capsys)
    assert main(["wait", "-wait", "240", "job.log"]) == 0, "jobs did not finish on the live pool"
    assert capsys.readouterr().out == "All jobs done.\n"
    assert [(tmp_path / f"out.{p}").read_text() for p in range(2)] == ["live 0\n", "live 1\n"]
    deadline = time.monotonic() + 30
    rows: list[str] = []
    while time.monotonic() < deadline:  # the history record follows the terminate event closely
        assert main(["history", *CONDOR, str(cluster), "-af", "ProcId", "ExitCode", "JobBatchName"]) == 0
        rows = sorted(capsys.readouterr().out.splitlines())
        if len(rows) == 2:
            break
        time.sleep(1)
    assert rows == ["0 0 condorexec-cli-live", "1 0 condorexec-cli-live"]


def test_q_and_rm_go_to_the_schedd(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    cluster = _submit(tmp_path, "executable = /bin/sleep\narguments = 300\nlog = job.log\nqueue\n", capsys)
    assert main(["q", *CONDOR, str(cluster), "-af", "ClusterId", "ProcId"]) == 0
    assert capsys.readouterr().out == f"{cluster} 0\n"
    assert main(["rm", *CONDOR, str(cluster)]) == 0
    assert "marked for removal" in capsys.readouterr().out
    assert main(["wait", "-wait", "120", "job.log", str(cluster)]) == 0  # the abort event ends the wait
