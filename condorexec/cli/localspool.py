"""The local pool's spool as other terminals see it: queue snapshots and removal requests.

The embedded local pool lives inside the ``condorexec submit`` process that runs it, so a
``condorexec q`` or ``condorexec rm`` in another terminal cannot ask it anything directly. The
submitting process therefore publishes its queue as a file, ``spool/queue.<pid>.ads`` (job ads in
HTCondor's long form, blank-line separated, rewritten atomically whenever the queue changes and
deleted at exit); readers merge every such file whose process is still alive, ignoring stale ones.
Removal goes the other way: ``rm`` writes ``spool/rm.<unique>.req`` naming job ids, every running
``submit`` applies the ids that are its own, and ``rm`` deletes the request once the jobs are gone.
History needs nothing here: the local pool already appends it to ``spool/history``.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path

import classad2
import psutil

#: removal requests older than this are ignored and cleaned up by ``rm``
REQUEST_TTL_S = 120.0


def spool_dir(state_dir: Path) -> Path:
    """``<state dir>/localpool/spool``, the directory LocalPool itself writes its history to."""
    path = state_dir / "localpool" / "spool"
    path.mkdir(parents=True, exist_ok=True)
    return path


def history_path(state_dir: Path) -> Path:
    return spool_dir(state_dir) / "history"


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ads_text(ads: Iterable[classad2.ClassAd]) -> str:
    """Ads in the long ("old") form, each followed by a blank line, as ``condor_q -long`` prints them."""
    return "".join(ad.printOld() + "\n" for ad in ads)


class QueueSnapshot:
    """The publishing side: one file per submitting process, written only when its content changes."""

    def __init__(self, state_dir: Path, pid: int | None = None):
        self.path = spool_dir(state_dir) / f"queue.{pid or os.getpid()}.ads"
        self._last: str | None = None

    def write(self, ads: Sequence[classad2.ClassAd]) -> bool:
        """Publish ``ads``; returns whether the file changed."""
        text = ads_text(ads)
        if text == self._last:
            return False
        _atomic_write(self.path, text)
        self._last = text
        return True

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        self._last = None


def _pid_of(path: Path) -> int | None:
    try:
        return int(path.name.split(".")[1])
    except (IndexError, ValueError):
        return None


def read_queue(state_dir: Path) -> list[classad2.ClassAd]:
    """Every live submitting process's queued jobs, in (ClusterId, ProcId) order."""
    ads: list[classad2.ClassAd] = []
    for path in spool_dir(state_dir).glob("queue.*.ads"):
        pid = _pid_of(path)
        if pid is None or not psutil.pid_exists(pid):
            continue  # a process that died without cleaning up: its jobs died with it
        try:
            text = path.read_text()
        except FileNotFoundError:
            continue  # it exited between glob and read
        ads.extend(classad2.parseAds(text, classad2.ParserType.Old))
    return sorted(ads, key=lambda ad: (ad.get("ClusterId", 0), ad.get("ProcId", 0)))


def write_removal_request(state_dir: Path, job_ids: Sequence[str], reason: str) -> Path:
    """Ask every running local pool to remove ``job_ids`` (``"C.P"``); returns the request file."""
    path = spool_dir(state_dir) / f"rm.{time.time():.6f}.{uuid.uuid4().hex[:8]}.req"
    _atomic_write(path, json.dumps({"jobs": list(job_ids), "reason": reason, "time": time.time()}))
    return path


def pending_removals(state_dir: Path, seen: set[str]) -> list[tuple[list[str], str]]:
    """Requests not handled yet by this process: (job ids, reason) each; ``seen`` is updated."""
    out = []
    now = time.time()
    for path in sorted(spool_dir(state_dir).glob("rm.*.req")):
        if path.name in seen:
            continue
        seen.add(path.name)
        try:
            request = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if now - float(request.get("time", 0)) > REQUEST_TTL_S:
            continue
        out.append(([str(j) for j in request.get("jobs", [])], str(request.get("reason", ""))))
    return out


def clean_stale(state_dir: Path) -> None:
    """Delete queue files of dead processes and expired removal requests."""
    now = time.time()
    for path in spool_dir(state_dir).glob("queue.*.ads"):
        pid = _pid_of(path)
        if pid is not None and not psutil.pid_exists(pid):
            path.unlink(missing_ok=True)
    for path in spool_dir(state_dir).glob("rm.*.req"):
        try:
            if now - path.stat().st_mtime > REQUEST_TTL_S:
                path.unlink(missing_ok=True)
        except FileNotFoundError:
            pass
