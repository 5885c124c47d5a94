import pytest
from parsl.data_provider.files import File

from condorexec.errors import InvalidSpecError, MissingInputError, UnsafeValueError
from condorexec.parslfiles import plan_files


def test_inputs_become_sandbox_names_and_transfers(tmp_path):
    a = tmp_path / "a.txt"
    a.write_text("x")
    kwargs, plan = plan_files({"inputs": [File(str(a)), 42], "outputs": [File(str(tmp_path / "o" / "out.csv"))]})
    assert [getattr(i, "filepath", i) for i in kwargs["inputs"]] == ["a.txt", 42]
    assert kwargs["outputs"][0].filepath == "out.csv"
    assert plan.input_item() == f",{a}" and list(plan.outputs) == ["out.csv"]


def test_missing_input_names_the_file(tmp_path):
    with pytest.raises(MissingInputError, match="nope.txt"):
        plan_files({"inputs": [File(str(tmp_path / "nope.txt"))]})


def test_colliding_names_are_refused(tmp_path):
    (tmp_path / "x").mkdir()
    for d in (tmp_path, tmp_path / "x"):
        (d / "same.txt").write_text("1")
    with pytest.raises(InvalidSpecError, match="collides"):
        plan_files({"inputs": [File(str(tmp_path / "same.txt")), File(str(tmp_path / "x" / "same.txt"))]})
    with pytest.raises(InvalidSpecError, match="collides"):
        plan_files({"outputs": [File(str(tmp_path / "result.pkl"))]})


def test_path_with_comma_is_refused(tmp_path):
    bad = tmp_path / "a,b.txt"
    bad.write_text("1")
    with pytest.raises(UnsafeValueError, match="commas"):
        plan_files({"inputs": [File(str(bad))]})


def test_stdout_and_stderr_come_back_and_may_share_a_file(tmp_path):
    log = str(tmp_path / "app.log")
    kwargs, plan = plan_files({"stdout": log, "stderr": log})
    assert kwargs["stdout"] == kwargs["stderr"] == "app.log"
    assert plan.outputs == {"app.log": (log, "a+")}  # a plain path appends, as in Parsl


def test_deliver_moves_outputs_and_appends_in_append_mode(tmp_path):
    task = tmp_path / "task"
    task.mkdir()
    (task / "out.txt").write_text("new")
    (task / "log.txt").write_text("second\n")
    dest = tmp_path / "results" / "out.txt"
    old_log = tmp_path / "log.txt"
    old_log.write_text("first\n")
    _, plan = plan_files({"outputs": [File(str(dest))], "stdout": (str(old_log), "a")})
    plan.deliver(task)
    assert dest.read_text() == "new" and old_log.read_text() == "first\nsecond\n"
