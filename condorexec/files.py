"""Parsl data (``inputs=``/``outputs=``) and bash-app ``stdout=``/``stderr=`` on pools without a shared
filesystem.

An app sees its files by name in its sandbox: each local input ``File`` is transferred in
(``transfer_input_files``) and replaced in the call by a ``File`` of its base name; each output is
written in the sandbox, transferred back with the job, and moved to the path the caller gave once
the job has finished. Nothing here knows which pool runs the job.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from condorexec.errors import InvalidSpecError, MissingInputError
from condorexec.render import check_transfer_path

#: Names the job itself uses in its sandbox; app files must not collide with them.
RESERVED_NAMES = frozenset({"payload.pkl", "result.pkl", "runner.py", "job.out", "job.err"})


@dataclass
class FilePlan:
    """What a call transfers: absolute input paths, and sandbox name -> where the output goes."""

    inputs: list[str] = field(default_factory=list)
    outputs: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (destination, mode)

    def input_item(self) -> str:
        return "".join("," + p for p in self.inputs)

    def deliver(self, task_dir: str | os.PathLike) -> None:
        """Move returned outputs from the task directory to where the caller asked for them."""
        for name, (destination, mode) in self.outputs.items():
            source = Path(task_dir) / name
            if not source.exists():
                continue
            Path(destination).parent.mkdir(parents=True, exist_ok=True)
            if "a" in mode and os.path.exists(destination):
                with open(source, "rb") as src, open(destination, "ab") as dst:
                    shutil.copyfileobj(src, dst)
            else:
                shutil.move(str(source), destination)


def _is_local_file(obj: Any) -> bool:
    return hasattr(obj, "filepath") and getattr(obj, "scheme", "file") == "file"


def plan_files(kwargs: dict[str, Any]) -> tuple[dict[str, Any], FilePlan]:
    """Rewrite a call's kwargs to sandbox-relative names and say what to transfer.

    Raises MissingInputError (naming the file) for an input that does not exist, and
    InvalidSpecError for two files that would land on the same name in the sandbox.
    """
    from parsl.data_provider.files import File

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
        if target is None or not isinstance(target, str | tuple | os.PathLike):
            continue
        path, mode = (target[0], target[1]) if isinstance(target, tuple) else (target, "w")
        if str(path) in ("/dev/null",):
            continue
        path = os.path.abspath(os.fspath(path))
        name = claim(os.path.basename(path), path, stream)
        plan.outputs[name] = (path, mode)
        new_kwargs[stream] = (name, "w") if isinstance(target, tuple) else name
    return new_kwargs, plan
