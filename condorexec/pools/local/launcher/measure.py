"""How the caller measures jobs, as HTCondor's starter does: RSS summed over a job's process tree, and
the disk its sandbox uses."""

from __future__ import annotations

import contextlib
import os


def sample_trees(roots: list[int]) -> dict[int, int]:
    """RSS in KiB summed over each root's process tree (descendants by parent pid), from one scan."""
    import psutil  # here, not at module level: the fork server imports this package and must stay small

    children: dict[int, list[psutil.Process]] = {}
    procs: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter(["ppid"]):
        procs[proc.pid] = proc
        ppid = proc.info["ppid"]
        if ppid is not None:
            children.setdefault(ppid, []).append(proc)
    result: dict[int, int] = {}
    for root in roots:
        if root not in procs:
            continue
        total, stack, seen = 0, [procs[root]], set()
        while stack:
            proc = stack.pop()
            if proc.pid in seen:
                continue
            seen.add(proc.pid)
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                total += proc.memory_info().rss
            stack.extend(children.get(proc.pid, ()))
        result[root] = total // 1024
    return result


def sandbox_disk_kib(path: str) -> int:
    """Disk used by a sandbox in KiB (HTCondor's DiskUsage unit): sizes of the regular files under
    ``path``, symlinks not followed, rounded up. Files vanishing during the walk are skipped."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"sandbox_disk_kib: path {path!r} is not a directory")
    total = 0
    stack = [path]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
                    except FileNotFoundError:
                        continue
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
    return (total + 1023) // 1024
