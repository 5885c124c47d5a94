"""A job's whole process family, found and killed as HTCondor's starter does, with stdlib only.

The fork server makes each job's root process a child subreaper (``PR_SET_CHILD_SUBREAPER``), so a
process the job started never leaves the job's tree while the root lives, even after ``setsid`` or
in a process group of its own (a category worker's call processes): when its parent exits it is
adopted by the root, not by init. When the root itself ends, what is left is adopted by the server
(a subreaper too), whose only legitimate children are job roots: anything else is a stray to kill.
Children are read from ``/proc/<pid>/task/<tid>/children``; without it, from every ``/proc/<pid>/stat``.
"""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any

PR_SET_CHILD_SUBREAPER = 36
PR_SET_PDEATHSIG = 1

_libc: Any = None


def prctl(option: int, value: int) -> bool:
    """Linux prctl(option, value); False where it is not available (not Linux)."""
    global _libc
    try:
        if _libc is None:
            import ctypes

            _libc = ctypes.CDLL(None, use_errno=True)
        return bool(_libc.prctl(option, value, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def children(pid: int) -> list[int]:
    """The live direct children of ``pid`` (every thread's); [] if it is gone."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                found += [int(c) for c in f.read().split()]
        except FileNotFoundError:
            if not os.path.exists(f"/proc/{pid}/task/{tid}"):
                continue  # the thread ended
            return _children_by_scan(pid)  # a kernel without the children file
        except OSError:
            continue
    return found


def _children_by_scan(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.append(int(entry))
    return found


def own_children() -> list[int]:
    """This single-threaded process's live children: one read, for the fork server's check at every exit."""
    pid = os.getpid()
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except FileNotFoundError:
        return _children_by_scan(pid)


def descendants(pid: int) -> list[int]:
    """Every live descendant of ``pid``, parents before their children."""
    out: list[int] = []
    frontier = [pid]
    while frontier:
        nxt = []
        for parent in frontier:
            nxt += children(parent)
        out += nxt
        frontier = nxt
    return out


def kill_family(root: int) -> None:
    """Kill ``root`` and its descendants: frozen first (SIGSTOP: none forks, or exits on its own so
    that the root would end normally, meanwhile), then SIGKILLed, the root first so that it is reported
    killed. A process forked between the listing and the freeze loses its parent and is adopted by the
    fork server once the root is gone, which kills it there as a stray."""
    family = [root, *descendants(root)]
    for sig in (signal.SIGSTOP, signal.SIGKILL):
        for pid in family:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
