"""The shadow's (and schedd's) writes about a job: its event log, its usage in the job ad, its history.

HTCondor's shadow writes a job's events into the log its ``log =`` names and records what the
starter measured in the job ad; the schedd appends the ad to its history file when the job leaves
the queue. Here :class:`JobLogs` finds the event-log writer of a job (one writer per file, shared by
every job naming it), :class:`History` appends to the history file, and :func:`record_usage` turns a
:class:`~.launcher.JobExit` into the ad's usage attributes.

A write that fails (a full disk, EIO) must neither raise into the thread that changes the job's state
(the scheduler, the launcher's exit callback: either dying would leave jobs that never end) nor lose
the record: the event or ad waits, in order, and is written by :meth:`JobLogs.retry` /
:meth:`History.retry`, which the pool calls at least once a second, once there is room again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import classad2

from condorexec.pools.local.eventlog import EventLogs
from condorexec.pools.local.historyfile import append_ads
from condorexec.pools.local.launcher import JobExit, sandbox_disk_kib
from condorexec.pools.local.queue import QueuedJob


class _NoLog:
    """Stands in for an event-log writer for jobs without ``log =``: every event method does nothing."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


_NO_LOG = _NoLog()


log = logging.getLogger(__name__)


class _Backlog:
    """Writes that failed with an OSError, kept in order and retried before any later one."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.waiting: list[Callable[[], None]] = []
        self.failing = False

    def add(self, write: Callable[[], None]) -> None:
        self.waiting.append(write)
        self.flush()

    def flush(self) -> None:
        while self.waiting:
            try:
                self.waiting[0]()
            except OSError as exc:
                if not self.failing:
                    log.error("the local pool cannot write %s (%s); %d record(s) wait and are retried", self.what,
                              exc, len(self.waiting))
                self.failing = True
                return
            self.waiting.pop(0)
        if self.failing:
            log.warning("the local pool wrote %s again", self.what)
        self.failing = False


class _GuardedLog:
    """An event-log writer whose events go through the log's backlog: never raised, never lost."""

    def __init__(self, writer: Any, backlog: _Backlog) -> None:
        self._writer, self._backlog = writer, backlog

    def __getattr__(self, event: str) -> Callable[..., None]:
        method = getattr(self._writer, event)
        return lambda *args, **kwargs: self._backlog.add(lambda: method(*args, **kwargs))


class JobLogs:
    """The event-log writers of the jobs of one pool, by the file their ``UserLog`` names."""

    def __init__(self) -> None:
        self._logs = EventLogs()
        self._backlogs: dict[str, _Backlog] = {}

    def of(self, ad: classad2.ClassAd) -> Any:
        """The writer of the log ``ad`` names (relative to its Iwd); a job (or a factory's cluster ad)
        that names no log gets one that writes nothing."""
        path = ad.get("UserLog")
        if not path:
            return _NO_LOG
        path = path if os.path.isabs(path) else os.path.join(ad.get("Iwd", ""), path)
        backlog = self._backlogs.get(path)
        if backlog is None:
            backlog = self._backlogs[path] = _Backlog(f"the job event log {path}")
        return _GuardedLog(self._logs.get(path), backlog)

    def retry(self) -> None:
        """Write the events that wait for room."""
        for backlog in self._backlogs.values():
            if backlog.waiting:
                backlog.flush()

    def close_all(self) -> None:
        self.retry()
        self._logs.close_all()


class History:
    """The schedd's history file: ads appended one by one, through a backlog (see the module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._backlog = _Backlog(f"the history file {path}")

    def append(self, ad: classad2.ClassAd) -> None:
        self._backlog.add(lambda: append_ads(self.path, [ad]))

    def retry(self) -> None:
        if self._backlog.waiting:
            self._backlog.flush()


def record_usage(job: QueuedJob, result: JobExit) -> None:
    """What the starter measured of this run, added to the job ad as the shadow records it."""
    ad = job.ad
    peak_kib = max(result.peak_rss_kib, int(ad.get("ResidentSetSize", 0)))
    wall = max(result.ended_at - result.started_at, 0.0)
    cpu = result.user_cpu_s + result.sys_cpu_s
    ad["ResidentSetSize"] = peak_kib
    ad["ImageSize"] = peak_kib
    ad["MemoryUsage"] = -(-peak_kib // 1024)
    ad["DiskUsage"] = max(sandbox_disk_kib(str(job.sandbox)), 1) if job.sandbox else 0
    ad["RemoteUserCpu"] = float(ad.get("RemoteUserCpu", 0.0)) + result.user_cpu_s
    ad["RemoteSysCpu"] = float(ad.get("RemoteSysCpu", 0.0)) + result.sys_cpu_s
    ad["CpusUsage"] = round(cpu / wall, 4) if wall > 0 else 0.0
    ad["RemoteWallClockTime"] = float(ad.get("RemoteWallClockTime", 0.0)) + wall
    ad["CommittedTime"] = int(wall)
    ad["LastRemoteHost"] = job.slot_name
