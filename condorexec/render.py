"""Rendering submit descriptions and wrappers from the Jinja2 templates in the top-level ``templates/``.

Nothing user-controlled is pasted raw into the submit language. Two layers make sure of it:

* ``submit_finalize`` runs on every ``{{ }}`` value of a submit template: it refuses newlines (which
  would start a new submit command) and writes ``$`` as ``$(DOLLAR)`` (so a value can't expand a
  macro); values that need to be ClassAd strings are validated tokens (categories, app names).
* per-call values travel as itemdata rows, checked by ``check_item_value`` for the characters the
  itemdata encoding itself can't carry, and escaped the same way.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
import shlex
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import htcondor2
import jinja2

from condorexec import names
from condorexec.errors import UnsafeValueError

#: templates/ of the source tree, installed as the package condorexec.templates (see setup.py)
TEMPLATE_DIR = Path(str(importlib.resources.files("condorexec.templates")))

#: The per-call variables of job.sub.j2, in the order they appear in each itemdata row. The ce_ prefix
#: keeps them apart from submit commands: an item variable named "priority" would shadow the command.
ITEM_KEYS = (
    "ce_task_dir", "ce_task_id", "ce_app", "ce_category", "ce_cpus", "ce_memory_mb", "ce_disk_mb", "ce_gpus",
    "ce_priority", "ce_max_seconds", "ce_inputs",
)

#: C0 controls and DEL: never part of a name condorexec passes on (see check_name)
CONTROL_CHARACTERS = frozenset(map(chr, [*range(0x20), 0x7F]))

_APP_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9_.:<>\-]")


def escape_macros(text: str) -> str:
    """Make ``text`` literal in the submit language: ``$`` would start a macro expansion."""
    return text.replace("$", "$(DOLLAR)")


def check_item_value(key: str, value: str) -> str:
    """Refuse what would break a submit line or an itemdata row, then escape macros."""
    if any(c in CONTROL_CHARACTERS for c in value):
        raise UnsafeValueError(key, value, "contains a newline or control character")
    if value != value.strip():
        raise UnsafeValueError(key, value, "has leading or trailing whitespace, which HTCondor would drop")
    return escape_macros(value)


def submit_finalize(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return value
    return check_item_value("template value", str(value))


def safe_app_name(name: str) -> str:
    """App names only label jobs (``CondorexecApp``), so odd characters are replaced, not refused."""
    return _APP_NAME_UNSAFE.sub("_", name)[:200] or "app"


def check_name(field: str, name: str) -> str:
    """A name the user gave for a file or directory (or a label HTCondor stores): no control character.

    A newline or carriage return ends a submit line, an event-log line or a history record; NUL ends a
    C string (the bindings, the filesystem); the other C0 characters and DEL are invisible in every
    message that shows the name. None of them can reach a file or HTCondor meaning what the user typed."""
    if not isinstance(name, str):
        raise UnsafeValueError(field, name, "must be a string")
    bad = sorted({c for c in name if c in CONTROL_CHARACTERS})
    if bad:
        shown = ", ".join(repr(c) for c in bad)
        raise UnsafeValueError(field, name, f"contains the control character(s) {shown}, which HTCondor and the "
                                            "filesystem would not read as part of the name")
    return name


def check_transfer_path(field: str, path: str) -> str:
    """File names in transfer lists are comma/space separated in the submit language."""
    check_name(field, path)
    if "," in path or any(c.isspace() for c in path) or '"' in path:
        raise UnsafeValueError(
            field, path, "HTCondor file transfer cannot carry a path with commas, whitespace or quotes"
        )
    return path


@functools.cache
def _environment(finalize: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        finalize=submit_finalize if finalize else None,
    )
    env.filters["shell_quote"] = lambda v: shlex.quote(str(v))
    env.globals["names"] = names  # condorexec's own attribute and file names, never literals in a template
    return env


def render_submit(template: str, context: Mapping[str, Any]) -> str:
    return _environment(True).get_template(template).render(**context)


def render_script(template: str, context: Mapping[str, Any]) -> str:
    """Shell scripts quote their own values (``shell_quote``); no submit-language escaping there."""
    return _environment(False).get_template(template).render(**context)


def job_description(context: Mapping[str, Any]) -> htcondor2.Submit:
    """The executor's cluster description, parsed by HTCondor's own submit parser."""
    return htcondor2.Submit(render_submit("job.sub.j2", context))


def worker_description(context: Mapping[str, Any]) -> htcondor2.Submit:
    """A cluster of slot workers (docs/design.md §7); rows carry WORKER_ITEM_KEYS."""
    return htcondor2.Submit(render_submit("worker.sub.j2", context))
