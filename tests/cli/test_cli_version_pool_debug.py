"""``condorexec --version``; which pool a command uses: a configured HTCondor whose schedd does not
answer is refused with a clear message (never a quiet run on this machine); ``-debug`` shows the
choice as condor_submit shows its debugging output."""

from __future__ import annotations

import re
from pathlib import Path

from condorexec import __version__
from condorexec.cli import main
from condorexec.pools.select import ASK_FOR_LOCAL


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def test_submit_refuses_a_configured_schedd_that_does_not_answer(dead_pool_config, tmp_path: Path, monkeypatch,
                                                                 capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CONDOREXEC_POOL", raising=False)
    (tmp_path / "j.sub").write_text("executable = /bin/true\nqueue\n")
    state = tmp_path / "state"
    status, out, err = run(["submit", "-state-dir", str(state), "j.sub"], capsys)
    assert status == 1 and out == ""
    assert err.startswith("condorexec submit: HTCondor probe failed (schedd (local)): the schedd did not answer")
    assert f"HTCondor configured at {dead_pool_config}" in err and ASK_FOR_LOCAL in err
    assert not state.exists()  # no local pool was started, nothing ran here
    status, _, err = run(["q"], capsys)  # the companions choose alike
    assert status == 1 and err.startswith("condorexec q: HTCondor probe failed") and ASK_FOR_LOCAL in err


def test_debug_prints_the_pool_choice_with_condor_submits_timestamps(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.sub").write_text("executable = /bin/true\nrequest_gpus = 1\nqueue\n")
    argv = ["submit", "-debug", "--backend", "local", "--state-dir", str(tmp_path / "st"),
            "--local-node", "cpus=1,memory=500", "g.sub"]
    status, _, err = run(argv, capsys)
    assert status == 1 and "1 gpus: no local node is that big" in err
    debug = [ln for ln in err.splitlines() if " DEBUG: " in ln]
    assert any(re.fullmatch(r"\d\d/\d\d/\d\d \d\d:\d\d:\d\d \(condorexec\.cli\.submit\) DEBUG: "
                            r"pool: local: the embedded local pool, as asked", ln) for ln in debug), err
    status, _, err = run(argv[:1] + argv[2:], capsys)  # without -debug (and after it): no debugging output
    assert status == 1 and " DEBUG: " not in err


def test_version_says_condorexec_s_version_and_what_it_runs_on(capsys) -> None:
    for flag in ("--version", "-version"):
        status, out, err = run([flag], capsys)
        first, second = out.splitlines()
        assert status == 0 and err == "" and first == f"condorexec {__version__}"
        assert re.fullmatch(r"htcondor bindings \d+\.\d+\S*, parsl \S+, Python 3\.\d+\.\d+\S*", second), second
