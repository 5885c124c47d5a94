"""Hostile inputs: no submit description makes condorexec run a command (each form is first shown to
run one under HTCondor's own parser), and no user-supplied string changes the description it lands in:
a value is refused naming the field, or it arrives literally."""

from __future__ import annotations

from pathlib import Path

import htcondor2
import pytest
from parsl.data_provider.files import File

from condorexec.cli import main
from condorexec.errors import InvalidSpecError, MissingInputError

pytestmark = pytest.mark.security

#: (name, description text); under htcondor2.Submit each one creates the file MARK
RUNS_A_COMMAND = [
    ("include command", "executable=/bin/true\ninclude command : touch MARK\nqueue\n"),
    ("macro target", "C = touch MARK |\nexecutable=/bin/true\ninclude : $(C)\nqueue\n"),
    ("continued pipe", "executable=/bin/true\ninclude : touch MARK \\\nx = |\nqueue\n"),
    ("macro pipe", "P = |\nexecutable=/bin/true\ninclude : touch MARK $(P)\nqueue\n"),
    ("output into", "executable=/bin/true\ninclude output into MARK : echo x = 1\nqueue\n"),
    ("ifexist command", "executable=/bin/true\ninclude ifexist command : touch MARK\nqueue\n"),
    ("upper case, tab", "executable=/bin/true\nINCLUDE\tcommand:touch MARK\nqueue\n"),
    ("queue from pipe", "executable=/bin/true\nqueue x from touch MARK |\n"),
    ("queue from macro", "C = touch MARK |\nexecutable=/bin/true\nqueue x from $(C)\n"),
    ("continued queue", "executable=/bin/true\nqueue x from touch MARK \\\n |\n"),
]
IDS = [name for name, _ in RUNS_A_COMMAND]


@pytest.mark.parametrize(("name", "text"), RUNS_A_COMMAND, ids=IDS)
def test_htcondors_own_parser_runs_each_form(name: str, text: str, tmp_path: Path, monkeypatch) -> None:
    """The premise: without condorexec's guard, each form runs ``touch`` (or writes a file)."""
    monkeypatch.chdir(tmp_path)
    try:
        description = htcondor2.Submit(text)
        if "queue x from" in text:  # a queue source runs when its items are read
            list(description.itemdata())
    except Exception:  # noqa: BLE001 - what matters is whether the command ran
        pass
    assert (tmp_path / "MARK").exists(), name


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "submit"])
@pytest.mark.parametrize(("name", "text"), RUNS_A_COMMAND, ids=IDS)
def test_condorexec_submit_refuses_each_form_and_runs_nothing(name: str, text: str, dry_run: bool, tmp_path: Path,
                                                              monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "j.sub").write_text(text)
    mode = ["-dry-run", "-"] if dry_run else ["--backend", "local", "--state-dir", str(tmp_path / "state")]
    status = main(["submit", *mode, "j.sub"])
    err = capsys.readouterr().err
    assert status == 1 and "j.sub, line" in err and ("command" in err or "literal file names" in err), err
    assert not (tmp_path / "MARK").exists(), name


def test_a_command_in_an_included_file_is_refused(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inner.sub").write_text("include command : touch MARK\n")
    (tmp_path / "j.sub").write_text("executable=/bin/true\ninclude : inner.sub\nqueue\n")
    assert main(["submit", "-dry-run", "-", "j.sub"]) == 1
    assert "inner.sub, line 1" in capsys.readouterr().err and not (tmp_path / "MARK").exists()


@pytest.mark.parametrize(("argv", "said"), [
    (["-append", "x = 1\nqueue 5"], "-append"),
    (["-batch-name", "b\nqueue 5"], "batch"),
    (["v=1\nqueue 5"], "newline"),
], ids=["append", "batch-name", "variable"])
def test_command_line_values_cannot_add_submit_lines(argv: list[str], said: str, tmp_path: Path, monkeypatch,
                                                     capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "j.sub").write_text("executable = /bin/true\nqueue\n")
    status = main(["submit", "-dry-run", "-", *argv, "j.sub"])
    captured = capsys.readouterr()
    assert status == 1 and said in captured.err and captured.out == "", captured.err


def _read_first(inputs=()):
    with open(inputs[0].filepath) as fh:
        return fh.read()


def test_a_macro_in_an_input_file_name_and_in_the_run_directory_arrives_literally(running, tmp_path: Path) -> None:
    literal = tmp_path / "in$(Cluster)$(HOME).txt"
    literal.write_text("literal")
    assert running.submit(_read_first, {}, inputs=[File(str(literal))]).result(timeout=60) == "literal"
    assert "$(HOME)" in str(running.log_path) and running.log_path.exists()


@pytest.mark.parametrize("name", ["two\nlines.txt", "a,b.txt", "with space.txt", 'quote".txt'],
                         ids=["newline", "comma", "space", "quote"])
def test_an_input_name_the_transfer_list_cannot_carry_is_refused_naming_it(running, name: str,
                                                                            tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_text("x")
    before = dict(running.stats)
    # Parsl's File (urllib) drops a newline from the name itself, so that one is a missing input
    with pytest.raises((InvalidSpecError, MissingInputError), match="commas, whitespace or quotes|lines.txt"):
        running.submit(_read_first, {}, inputs=[File(str(path))])
    assert running.stats == before


@pytest.mark.parametrize("category", ['x" || true || "', "a\n+Owner = \"root\"", "$(HOME)"],
                         ids=["quote", "newline attribute", "macro"])
def test_a_category_cannot_write_an_attribute(running, category: str) -> None:
    with pytest.raises(InvalidSpecError, match="category="):
        running.submit(_read_first, {"category": category})
