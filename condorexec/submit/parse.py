"""Submit-language text → ``htcondor2.Submit``, parsed by the real parser after the checks that give a
line number (command forms, a second queue statement) and with condor_submit's ``var=value`` arguments."""

from __future__ import annotations

import re
from collections.abc import Mapping

import htcondor2

from condorexec.errors import SubmitDescriptionError
from condorexec.submit.guard import find_command_forms
from condorexec.submit.queue import scan_queue_statements


def parse_description(text: str, *, file: str | None = None,
                      variables: Mapping[str, str] = {}) -> htcondor2.Submit:
    """Parse submit-language ``text`` with the real parser, after checks that give line numbers.

    ``variables`` are condor_submit's ``var=value`` arguments: they act as if written at the top of
    the file, so the file's own assignments win (as real condor_submit does)."""
    _check_lines(text, file)
    return parse_checked(text, file=file, variables=variables)


def parse_checked(text: str, *, file: str | None = None, variables: Mapping[str, str] = {}) -> htcondor2.Submit:
    """:func:`parse_description` without its checks, for text cut from a file that has passed them as a
    whole (one queue statement of several, :mod:`condorexec.submit.cluster`): checking each cut again
    would rescan the file, and every file it includes, once per statement."""
    prefix = ""
    for name, value in variables.items():
        if not re.fullmatch(r"[A-Za-z_][\w.]*", name):
            raise SubmitDescriptionError(f"invalid variable name {name!r} in {name}={value}", file=file)
        if "\n" in value or "\r" in value:
            raise SubmitDescriptionError(f"variable {name}={value!r} contains a newline", file=file)
        prefix += f"{name} = {value}\n"
    try:
        sub = htcondor2.Submit(prefix + text)
    except Exception as exc:  # the binding raises a bare ValueError without a line
        raise SubmitDescriptionError(f"cannot parse submit description: {exc}", file=file) from exc
    return sub


def _check_lines(text: str, file: str | None) -> None:
    """Catch the command-running forms (:mod:`condorexec.submit.guard`), then what the binding
    reports without a line number, and more than one queue statement (the binding would keep the
    first and drop the rest: :mod:`condorexec.submit.cluster` reads such files)."""
    problem = find_command_forms(text, file)
    if problem is not None:
        raise SubmitDescriptionError(problem.message, file=problem.file, line=problem.line)
    statements = scan_queue_statements(text, file)
    if len(statements) > 1:
        raise SubmitDescriptionError(
            f"a second queue statement 'queue {statements[1].args}': one description holds one queue "
            "statement (read a file with several through condorexec.submit.cluster)",
            file=file, line=statements[1].line)
