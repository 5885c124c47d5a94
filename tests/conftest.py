"""The fault suite's totals (docs/faults.md): at the end of any run that included tests marked
``bad_input``, ``fault`` or ``security``, how many of each ran and how many held. Also the fixtures
tests in several folders share."""

from __future__ import annotations

import pytest

#: marker -> (what was tried, what holding means), as the summary words them
SUITE = {
    "bad_input": ("bad inputs tried", "refused clearly"),
    "fault": ("faults injected", "survived with nothing lost"),
    "security": ("security cases tried", "held"),
}

_tally: dict[str, list[int]] = {marker: [0, 0] for marker in SUITE}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    failed_early = report.when == "setup" and report.failed
    if report.when != "call" and not failed_early:
        return
    for marker in SUITE:
        if marker in report.keywords:
            _tally[marker][0] += 1
            _tally[marker][1] += report.passed


def pytest_terminal_summary(terminalreporter) -> None:
    if not any(tried for tried, _ in _tally.values()):
        return
    terminalreporter.section("fault and bad-input suite")
    for marker, (tried_words, held_words) in SUITE.items():
        tried, held = _tally[marker]
        terminalreporter.write_line(f"{tried_words:>22}: {tried:4}   {held_words}: {held:4}")


@pytest.fixture
def dead_pool_config(monkeypatch, tmp_path):
    """HTCondor configured, its daemons gone: a CONDOR_CONFIG whose collector is a port nobody listens on."""
    local = tmp_path / "deadpool"
    (local / "log").mkdir(parents=True)
    (local / "spool").mkdir()
    config = local / "condor_config"
    config.write_text(f"LOCAL_DIR = {local}\nCOLLECTOR_HOST = 127.0.0.1:1\nuse ROLE : Personal\n")
    monkeypatch.setenv("CONDOR_CONFIG", str(config))
    return config
