"""Names with characters that change their meaning: a newline, carriage return, tab, NUL or another control
character, and what Parsl's URL parsing of a ``File`` cuts off (``#``, ``?``, ``;``, ``//host``). Each is
refused naming the field and the value, before anything is submitted; never is another file read or
written in its place (issue 27: ``File("/x/new\\nline.txt")`` used to read ``/x/newline.txt``)."""

from __future__ import annotations

from pathlib import Path

import pytest
from parsl.data_provider.files import File

from condorexec import CondorExecutor
from condorexec.cli import main
from condorexec.errors import InvalidSpecError
from condorexec.parslfiles import absolute_paths, plan_files

pytestmark = pytest.mark.bad_input

#: (id, a base name) that Parsl's File reads as another name, or that no name may carry
BAD_NAMES = [
    ("newline", "new\nline.txt"),
    ("carriage return", "new\rline.txt"),
    ("tab", "new\tline.txt"),
    ("NUL", "new\x00line.txt"),
    ("unit separator", "new\x1fline.txt"),
    ("DEL", "new\x7fline.txt"),
    ("fragment", "new#line.txt"),
    ("query", "new?line.txt"),
    ("params", "new;line.txt"),
]
IDS = [i for i, _ in BAD_NAMES]


def _read(path: str) -> str:
    with open(path) as f:
        return f.read()


def _write(path: str, outputs=()) -> None:
    with open(outputs[0].filepath, "w") as f:
        f.write(path)


@pytest.fixture
def decoys(tmp_path: Path) -> Path:
    """The files a dropped character would name instead: ``newline.txt`` and ``new`` beside the bad name."""
    for name in ("newline.txt", "new"):
        (tmp_path / name).write_text("the wrong file\n")
    return tmp_path


@pytest.mark.parametrize(("case", "name"), BAD_NAMES, ids=IDS)
@pytest.mark.parametrize("role", ["inputs", "outputs", "stdout"])
def test_a_bad_file_name_is_refused_naming_it_before_submission(running, decoys: Path, case: str, name: str,
                                                                role: str) -> None:
    bad = File(str(decoys / name))
    kwargs = {"inputs": [bad]} if role == "inputs" else {"outputs": [bad]} if role == "outputs" else {"stdout": bad}
    before = dict(running.stats)
    with pytest.raises(InvalidSpecError) as info:
        running.submit(_read if role == "inputs" else _write, {}, str(decoys / "newline.txt"), **kwargs)
    assert info.value.field == role and repr(str(decoys / name))[1:-1] in str(info.value), info.value
    assert running.stats == before  # nothing submitted
    assert sorted(p.name for p in decoys.iterdir()) == ["new", "newline.txt"]
    assert (decoys / "newline.txt").read_text() == "the wrong file\n"


@pytest.mark.parametrize(("case", "name"), BAD_NAMES, ids=IDS)
def test_a_shared_filesystem_refuses_the_same_names(decoys: Path, case: str, name: str) -> None:
    """With ``shared_fs=True`` nothing is transferred, but the job opens the path Parsl makes of the File."""
    for kwargs in ({"inputs": [File(str(decoys / name))]}, {"outputs": [File(name)]}, {"stderr": File(name)}):
        role = next(iter(kwargs))
        with pytest.raises(InvalidSpecError) as info:
            absolute_paths(kwargs)
        assert info.value.field == role, info.value


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
@pytest.mark.parametrize("char", ["\n", "\r", "\x00", "\x01"], ids=["newline", "carriage return", "NUL", "SOH"])
def test_a_bash_stream_path_with_a_control_character_is_refused_on_both_filesystems(stream: str, char: str,
                                                                                    tmp_path: Path) -> None:
    path = str(tmp_path / f"out{char}put.txt")
    for target in (path, (path, "w")):
        for plan in (plan_files, absolute_paths):
            with pytest.raises(InvalidSpecError) as info:
                plan({stream: target})
            assert info.value.field == stream and "control character" in str(info.value), info.value


def test_names_parsl_reads_as_written_still_pass(tmp_path: Path) -> None:
    """The check refuses only what changes meaning: ``file://`` URLs, ``$``, ``%`` and non-ASCII go through."""
    for name in ("plain.txt", "dollar$(HOME).txt", "per%0Acent.txt", "grüße.txt"):
        (tmp_path / name).write_text("x")
    inputs = [File(str(tmp_path / "plain.txt")), File("file://" + str(tmp_path / "dollar$(HOME).txt")),
              File(str(tmp_path / "per%0Acent.txt")), File(str(tmp_path / "grüße.txt"))]
    _, plan = plan_files({"inputs": inputs})
    assert plan.inputs == [str(tmp_path / n) for n in ("plain.txt", "dollar$(HOME).txt", "per%0Acent.txt",
                                                        "grüße.txt")]


@pytest.mark.parametrize("field", ["run_dir", "state_dir", "label_store", "worker_python"])
@pytest.mark.parametrize("char", ["\n", "\r", "\x00", "\t"], ids=["newline", "carriage return", "NUL", "tab"])
def test_directories_with_a_control_character_are_refused_naming_the_field(field: str, char: str,
                                                                           tmp_path: Path) -> None:
    bad = str(tmp_path / f"a{char}b")
    options = {"pool": "local", "state_dir": str(tmp_path / "state"), "autolabel": field == "label_store"}
    with pytest.raises(InvalidSpecError) as info:
        executor = CondorExecutor(**{**options, **({field: bad} if field != "run_dir" else {})})
        executor.run_dir = bad if field == "run_dir" else str(tmp_path / "run")
        executor.start()
        executor.shutdown()
    assert info.value.field == field and info.value.value == bad, info.value
    assert [p.name for p in tmp_path.iterdir()] == []  # not even the state directory was made


@pytest.mark.parametrize("char", ["\n", "\r", "\x00", "\x01"], ids=["newline", "carriage return", "NUL", "SOH"])
def test_a_batch_name_with_a_control_character_is_refused(char: str, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "j.sub").write_text("executable = /bin/true\nqueue\n")
    status = main(["submit", "-dry-run", "-", "-batch-name", f"a{char}b", "j.sub"])
    captured = capsys.readouterr()
    assert status != 0 and "-batch-name" in captured.err and "Traceback" not in captured.err, captured.err
    assert captured.out == ""
