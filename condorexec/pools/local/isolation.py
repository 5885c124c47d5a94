"""The local pool's isolated mode: a job that sees only its sandbox and the system's read-only directories.

On the shared test pool the execute node *is* the submit host, so a job that opened a submit-side path
would work there and fail on a real pool. ``LocalPool(isolate=True)`` runs each job inside bubblewrap
(``bwrap``, Debian's ``bubblewrap``), as an execute node without the submitter's filesystem: the job's
sandbox read-write, the system directories and the Python that runs the job read-only, a private
``/tmp``, and nothing else — no home directory, no checkout, no run directory (docs/design.md §4).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence

#: read-only on every isolated node, when the host has them
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")


class IsolationUnavailable(RuntimeError):
    """``isolate=True`` was asked for and bubblewrap cannot run here."""


@functools.cache
def check_bwrap() -> str:
    """The bwrap command, once proven to work here; else IsolationUnavailable saying why."""
    path = shutil.which("bwrap")
    if path is None:
        raise IsolationUnavailable("LocalPool(isolate=True) needs bubblewrap: apt-get install bubblewrap")
    probe = subprocess.run([path, "--ro-bind", "/", "/", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        raise IsolationUnavailable(f"LocalPool(isolate=True): bwrap does not run here: {probe.stderr.strip()}")
    return path


def python_dirs() -> list[str]:
    """What this interpreter needs to start: its prefix (a venv), its base installation, its binary."""
    dirs = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    return sorted(d for d in dirs if d and os.path.isdir(d))


def bwrap_argv(bwrap: str, argv: Sequence[str], sandbox: str, *, read_write: Sequence[str] = (),
               read_only: Sequence[str] = ()) -> list[str]:
    """``argv`` run inside bwrap, in ``sandbox``, seeing only what is named here."""
    args = [bwrap, "--die-with-parent", "--new-session", "--unshare-ipc"]
    for directory in SYSTEM_DIRS:
        if os.path.islink(directory):
            args += ["--symlink", os.readlink(directory), directory]
        elif os.path.isdir(directory):
            args += ["--ro-bind", directory, directory]
    # a private /tmp first: what is bound below may live under /tmp (a venv, a sandbox) and stays visible
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    for directory in read_only:
        args += ["--ro-bind", directory, directory]
    for directory in (*read_write, sandbox):
        args += ["--bind", directory, directory]
    return [*args, "--chdir", sandbox, "--", *argv]
