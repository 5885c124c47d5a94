"""The shadow's (and schedd's) writes about a job: its event log, its usage in the job ad, its history.

HTCondor's shadow writes a job's events into the log its ``log =`` names and records what the
starter measured in the job ad; the schedd appends the ad to its history file when the job leaves
the queue. Here :class:`JobLogs` finds the event-log writer of a job (one writer per file, shared by
every job naming it) and :func:`record_usage` turns a :class:`~.launcher.JobExit` into the ad's usage
attributes.
"""

from __future__ import annotations

import os
from typing import Any

import classad2

from condorexec.pools.local.eventlog import EventLogs, EventLogWriter
from condorexec.pools.local.launcher import JobExit, sandbox_disk_kib
from condorexec.pools.local.queue import QueuedJob


class _NoLog:
    """Stands in for an event-log writer for jobs without ``log =``: every event method does nothing."""

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


_NO_LOG = _NoLog()


class JobLogs:
    """The event-log writers of the jobs of one pool, by the file their ``UserLog`` names."""

    def __init__(self) -> None:
        self._logs = EventLogs()

    def of(self, ad: classad2.ClassAd) -> EventLogWriter | Any:
        """The writer of the log ``ad`` names (relative to its Iwd); a job (or a factory's cluster ad)
        that names no log gets one that writes nothing."""
        path = ad.get("UserLog")
        if not path:
            return _NO_LOG
        return self._logs.get(path if os.path.isabs(path) else os.path.join(ad.get("Iwd", ""), path))

    def close_all(self) -> None:
        self._logs.close_all()


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
