"""No submit description makes condorexec run a command: each form is first shown to run one under
HTCondor's own parser (htcondor2.Submit), then shown refused, with nothing run, by parse_description."""

from __future__ import annotations

from pathlib import Path

import htcondor2
import pytest

from condorexec.submitdesc import SubmitDescriptionError, parse_description
from condorexec.submitguard import find_command_forms, logical_lines

#: (name, description text); each would create the file MARK in the working directory
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


@pytest.mark.parametrize(("name", "text"), RUNS_A_COMMAND, ids=[n for n, _ in RUNS_A_COMMAND])
def test_htcondors_parser_runs_the_command(name: str, text: str, tmp_path: Path, monkeypatch) -> None:
    """The premise: without the guard, each of these runs ``touch`` (or writes a file)."""
    monkeypatch.chdir(tmp_path)
    try:
        description = htcondor2.Submit(text)
        if "queue x from" in text:  # the queue source runs when its items are read
            list(description.itemdata())
    except Exception:  # noqa: BLE001 - what matters is whether the command ran
        pass
    assert (tmp_path / "MARK").exists(), name


@pytest.mark.parametrize(("name", "text"), RUNS_A_COMMAND, ids=[n for n, _ in RUNS_A_COMMAND])
def test_parse_description_refuses_it_and_runs_nothing(name: str, text: str, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SubmitDescriptionError, match=r"job\.sub, line \d+: .*(command|literal file names)"):
        parse_description(text, file="job.sub")
    assert not (tmp_path / "MARK").exists(), name


def test_a_command_inside_a_literally_included_file_is_refused_too(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "inner.sub").write_text("include : touch MARK |\n")
    with pytest.raises(SubmitDescriptionError, match=r"inner\.sub, line 1"):
        parse_description("executable=/bin/true\ninclude : inner.sub\nqueue\n", file="job.sub")
    assert not (tmp_path / "MARK").exists()


def test_literal_includes_and_inline_item_lists_still_work(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "common.sub").write_text("request_memory = 512MB\n")
    description = parse_description("executable=/bin/true\ninclude : common.sub\n"
                                    "include ifexist : missing.sub\nqueue x from (\n a\n b\n)\n")
    assert description["request_memory"] == "512MB"
    assert [row["x"] for row in description.itemdata()] == ["a", "b"]


def test_assignments_named_include_and_values_with_pipes_are_not_includes() -> None:
    text = "include = a | b\nargs = x | y\nexecutable=/bin/true\nqueue\n"
    assert find_command_forms(text) is None


def test_logical_lines_join_backslash_continuations_and_keep_the_first_line_number() -> None:
    assert logical_lines("a = 1 \\\n  2\nb = 3\n") == [(1, "a = 1    2"), (3, "b = 3")]
