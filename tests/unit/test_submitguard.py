"""condorexec.submit.guard's rules at the unit level: included files, what stays allowed, line joining. Each
command-running form is shown to run under HTCondor's parser and refused by condorexec submit in the
fault suite (tests/faults/test_security.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from condorexec.submit import SubmitDescriptionError, parse_description
from condorexec.submit.guard import find_command_forms, logical_lines


@pytest.mark.security
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
