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

PR_SET_CHILD_SUBREAPER = 36
PR_SET_PDEATHSIG = 1

#: rounds of "find the family, kill it" before giving up on a process that keeps forking
_KILL_ROUNDS = 20


_libc: object = None


def prctl(option: int, value: int) -> bool:
    """Linux prctl(option, value); False where it is not available (not Linux)."""
    global _libc
    try:
        if _libc is None:
            import ctypes

            _libc = ctypes.CDLL(None, use_errno=True)
        return _libc.prctl(option, value, 0, 0, 0) == 0  # type: ignore[attr-defined]
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


def kill_family(root: int, *, include_root: bool = True) -> None:
    """SIGKILL ``root``'s descendants (and ``root``), again until none is found: a process forking
    while it is killed, or orphans adopted meanwhile, are caught by the next round."""
    for _ in range(_KILL_ROUNDS):
        family = descendants(root)
        alive = [pid for pid in family if not _is_zombie(pid)]
        if not alive:
            break
        for pid in reversed(alive):  # children first: fewer orphans to chase
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)
    if include_root:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(root, signal.SIGKILL)


def _is_zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True  # gone
