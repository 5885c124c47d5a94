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
from condorexec.render import check_name, check_transfer_path


def _is_local_file(obj: Any) -> bool:
    return hasattr(obj, "filepath") and getattr(obj, "scheme", "file") == "file"


def local_path(item: Any, role: str) -> str:
    """The path a local ``File`` names, refused (naming ``role`` and the File's URL) when Parsl would
    read it as another path than the one written.

    Parsl parses every ``File`` as a URL (``urllib.parse.urlparse``), which silently drops a newline,
    carriage return or tab anywhere in it, and cuts ``#...``, ``?...``, ``;...`` and a ``//host`` off
    the path: ``File("/x/new\\nline.txt").filepath`` is ``/x/newline.txt``, another file. So the URL
    must be the path itself or ``file:``/``file://`` before it; a ``local_path`` a staging provider set
    is a path already. Either way the path has no control character (render.check_name)."""
    path = item.filepath
    if getattr(item, "local_path", None) is None:
        url = str(getattr(item, "url", path))
        if url not in (path, "file:" + path, "file://" + path):
            raise InvalidSpecError(role, url, f"Parsl reads this File as the path {path!r}, not the name written "
                                              "(its URL parsing drops newlines and tabs and cuts the path at "
                                              "'#', '?', ';' or a '//host'); rename the file")
    return check_name(role, path)


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
                path = os.path.abspath(local_path(item, "inputs"))
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
                path = os.path.abspath(local_path(item, "outputs"))
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
            path, mode = local_path(target, stream), "w"  # Parsl opens a File stream with "w"
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
    sandbox directory; nothing else changes and the caller's objects are not touched. Names are checked
    as for a transfer (``local_path``, ``check_name``): the job reads the path Parsl makes of them."""
    def absolute(item: Any, role: str) -> Any:
        if _is_local_file(item):
            path = local_path(item, role)
            return item if os.path.isabs(path) else File(os.path.abspath(path))
        return item

    new_kwargs = dict(kwargs)
    for role in ("inputs", "outputs"):
        if kwargs.get(role):
            new_kwargs[role] = [absolute(item, role) for item in kwargs[role]]
    for stream in ("stdout", "stderr"):
        target = kwargs.get(stream)
        if isinstance(target, str | os.PathLike) and not isinstance(target, File):
            new_kwargs[stream] = os.path.abspath(check_name(stream, os.fspath(target)))
        elif isinstance(target, tuple) and len(target) == 2 and isinstance(target[0], str | os.PathLike):
            new_kwargs[stream] = (os.path.abspath(check_name(stream, os.fspath(target[0]))), target[1])
        else:
            new_kwargs[stream] = absolute(target, stream) if target is not None else target
    return {k: v for k, v in new_kwargs.items() if k in kwargs}
