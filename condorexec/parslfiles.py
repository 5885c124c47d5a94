"""Parsl's data (``inputs=``/``outputs=`` Files) and bash-app ``stdout=``/``stderr=`` as a transfer plan.

Each local input ``File`` is replaced in the call by a new ``File`` of its base name (the caller's
objects are not changed) and goes into the plan's inputs; each output likewise, with the path the
caller gave as its destination. The plan itself (condorexec/files.py) knows nothing of Parsl.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from parsl.data_provider.files import File
from parsl.utils import get_std_fname_mode

from condorexec.errors import InvalidSpecError, MissingInputError
from condorexec.files import FilePlan
from condorexec.names import RESERVED_NAMES
from condorexec.render import check_transfer_path


def _is_local_file(obj: Any) -> bool:
    return hasattr(obj, "filepath") and getattr(obj, "scheme", "file") == "file"


def plan_files(kwargs: dict[str, Any]) -> tuple[dict[str, Any], FilePlan]:
    """Rewrite a call's kwargs to sandbox-relative names and say what to transfer.

    Raises MissingInputError (naming the file) for an input that does not exist, and
    InvalidSpecError for two files that would land on the same name in the sandbox.
    """
    plan = FilePlan()
    taken: dict[str, str] = {}
    new_kwargs = dict(kwargs)

    def claim(name: str, path: str, role: str) -> str:
        check_transfer_path(role, path)
        if role == "stderr" and taken.get(name) == path and plan.outputs.get(name, ("",))[0] == path:
            return name  # stdout and stderr sent to one file
        if name in RESERVED_NAMES or name in taken:
            other = taken.get(name, "condorexec's own job files")
            raise InvalidSpecError(role, path, f"its name {name!r} collides with {other} in the job sandbox")
        taken[name] = path
        return name

    inputs: Sequence[Any] = kwargs.get("inputs") or []
    if inputs:
        rewritten = []
        for item in inputs:
            if _is_local_file(item):
                path = os.path.abspath(item.filepath)
                if not os.path.exists(path):
                    raise MissingInputError(f"input file {path} does not exist (inputs= of this app call)")
                name = claim(os.path.basename(path.rstrip("/")), path, "inputs")
                plan.inputs.append(path)
                item = File(name)
            rewritten.append(item)
        new_kwargs["inputs"] = rewritten

    outputs: Sequence[Any] = kwargs.get("outputs") or []
    if outputs:
        rewritten = []
        for item in outputs:
            if _is_local_file(item):
                path = os.path.abspath(item.filepath)
                name = claim(os.path.basename(path), path, "outputs")
                plan.outputs[name] = (path, "w")
                item = File(name)
            rewritten.append(item)
        new_kwargs["outputs"] = rewritten

    for stream in ("stdout", "stderr"):
        target = kwargs.get(stream)
        if target is None:
            continue
        if isinstance(target, File):
            path, mode = target.filepath, "w"  # Parsl opens a File stream with "w"
        else:
            # Parsl's own reading of a stream spec, with its own errors for a bad one (TypeCheckError,
            # BadStdStreamFile): a plain path appends ("a+"), a (path, mode) tuple says its mode
            path, mode = get_std_fname_mode(stream, target)
        if os.fspath(path) == "/dev/null":
            continue
        path = os.path.abspath(os.fspath(path))
        name = claim(os.path.basename(path), path, stream)
        plan.outputs[name] = (path, mode)  # the job writes a fresh file; delivery appends for "a" modes
        if isinstance(target, File):
            new_kwargs[stream] = File(name)
        else:
            new_kwargs[stream] = (name, mode) if isinstance(target, tuple) else name
    return new_kwargs, plan


def absolute_paths(kwargs: dict[str, Any]) -> dict[str, Any]:
    """For a shared filesystem: the call's kwargs with relative ``File`` paths and bash-app stream
    paths made absolute against this process's working directory, since the job runs in its own
    sandbox directory; nothing else changes and the caller's objects are not touched."""
    def absolute(item: Any) -> Any:
        if _is_local_file(item) and not os.path.isabs(item.filepath):
            return File(os.path.abspath(item.filepath))
        return item

    new_kwargs = dict(kwargs)
    for role in ("inputs", "outputs"):
        if kwargs.get(role):
            new_kwargs[role] = [absolute(item) for item in kwargs[role]]
    for stream in ("stdout", "stderr"):
        target = kwargs.get(stream)
        if isinstance(target, str | os.PathLike) and not isinstance(target, File):
            new_kwargs[stream] = os.path.abspath(os.fspath(target))
        elif isinstance(target, tuple) and len(target) == 2 and isinstance(target[0], str | os.PathLike):
            new_kwargs[stream] = (os.path.abspath(os.fspath(target[0])), target[1])
        else:
            new_kwargs[stream] = absolute(target) if target is not None else target
    return {k: v for k, v in new_kwargs.items() if k in kwargs}

