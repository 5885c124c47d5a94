"""What a call's job transfers, on pools without a shared filesystem: its plan and its delivery.

A job sees its files by name in its sandbox: each input is transferred in (``transfer_input_files``);
each output is written in the sandbox, transferred back with the job, and moved to the path the caller
gave once the job has finished. How a framework's file objects become a plan is the adapter's business
(Parsl's: condorexec/parslfiles.py); nothing here knows Parsl or which pool runs the job.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class FilePlan:
    """What a call transfers: absolute input paths, and sandbox name -> where the output goes."""

    inputs: list[str] = field(default_factory=list)
    outputs: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (destination, mode)
    #: (name prefix, directory): returned files whose names start with the prefix are moved, whole and
    #: atomically, into the directory (e.g. Parsl's monitoring messages into its receiver's maildir)
    collect: list[tuple[str, str]] = field(default_factory=list)

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
        for prefix, directory in self.collect:
            found = [entry for entry in os.scandir(os.fspath(task_dir))
                     if entry.name.startswith(prefix) and entry.is_file()]
            if found:
                os.makedirs(directory, exist_ok=True)
            for entry in found:  # the task directory and the destination share a filesystem: a rename
                os.replace(entry.path, os.path.join(directory, entry.name))
