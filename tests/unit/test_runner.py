"""The node-side runner, run as a real separate interpreter on real payload files."""

import subprocess
import sys

import pytest

from condorexec.payload import Call, RemoteTraceback, read_outcomes, write_payload
from condorexec.runner import __file__ as RUNNER


def _run(tmp_path, calls):
    write_payload(tmp_path, calls)
    proc = subprocess.run([sys.executable, RUNNER, "payload.pkl", "result.pkl"], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return read_outcomes(tmp_path)


def test_value_comes_back(tmp_path):
    [outcome] = _run(tmp_path, [Call(7, lambda x, y=1: {"sum": x + y}, (2,), {"y": 5})])
    assert outcome.ok and outcome.id == 7 and outcome.value == {"sum": 7}
    assert outcome.wall_s >= 0 and outcome.peak_rss_kib > 0


def test_exception_keeps_its_type_and_remote_traceback(tmp_path):
    def fails():
        raise KeyError("bad sample 3")

    [outcome] = _run(tmp_path, [Call(1, fails, (), {})])
    assert not outcome.ok
    assert type(outcome.exception) is KeyError and outcome.exception.args == ("bad sample 3",)
    assert isinstance(outcome.exception.__cause__, RemoteTraceback)
    assert "in fails" in str(outcome.exception.__cause__)


def test_exception_class_defined_in_the_app_travels_by_value(tmp_path):
    def fails():
        class CalibrationError(Exception):
            pass

        raise CalibrationError("detector 4")

    [outcome] = _run(tmp_path, [Call(1, fails, (), {})])
    assert type(outcome.exception).__name__ == "CalibrationError" and str(outcome.exception) == "detector 4"


def test_unpicklable_result_becomes_a_described_error(tmp_path):
    [outcome] = _run(tmp_path, [Call(1, lambda: (i for i in range(3)), (), {})])
    assert not outcome.ok and "could not be pickled" in str(outcome.exception)


def test_a_sequence_of_calls_each_gets_its_outcome(tmp_path):
    outcomes = _run(tmp_path, [Call(i, lambda v: v * v, (i,), {}) for i in range(4)])
    assert [o.value for o in outcomes] == [0, 1, 4, 9]


def test_runs_in_the_sandbox_directory(tmp_path):
    def cwd():
        import os

        return os.getcwd()

    [outcome] = _run(tmp_path, [Call(1, cwd, (), {})])
    assert outcome.value == str(tmp_path)


def test_usage_error(tmp_path):
    proc = subprocess.run([sys.executable, RUNNER], capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "usage" in proc.stderr


def test_runner_imports_only_stdlib_and_cloudpickle():
    code = (f"import sys, runpy; before=set(sys.modules); runpy.run_path({RUNNER!r}, run_name='not_main');"
            "extra={m.split('.')[0] for m in set(sys.modules)-before} - set(sys.stdlib_module_names);"
            "print(sorted(extra))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.parametrize("version", [0, 99])
def test_unknown_payload_version_is_refused(tmp_path, version):
    import cloudpickle

    (tmp_path / "payload.pkl").write_bytes(cloudpickle.dumps({"version": version, "calls": []}))
    proc = subprocess.run([sys.executable, RUNNER, "payload.pkl", "result.pkl"], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 3 and "unsupported payload version" in proc.stderr
