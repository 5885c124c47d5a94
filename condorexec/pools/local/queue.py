"""The schedd's job queue: the procs in it, their status, and the idle ones in matchmaking order.

Every status change goes through :meth:`JobQueue.set_status`, the one place that keeps the job ad's
status attributes and the sorted list of idle jobs in step (sorting the whole queue on every
scheduling pass cost milliseconds per job with thousands queued).
"""

from __future__ import annotations

import bisect
import fcntl
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import classad2

from condorexec.condorfacts import JobStatus
from condorexec.pools.local.nodes import ExecuteNode
from condorexec.resources import Resources


@dataclass
class QueuedJob:
    """A proc in the local schedd's queue, with what its current start has claimed and measured."""

    ad: classad2.ClassAd
    cluster: int
    proc: int
    node: ExecuteNode | None = None
    sandbox: Path | None = None
    slot_name: str = ""
    started_at: float = 0.0
    removing: bool = False
    holding: tuple[str, int, int] | None = None
    peak_memory_mb: int = 0
    inputs_snapshot: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (mtime_ns, size)
    memory_logged_mb: int = 0  # the MemoryUsage of the last IMAGE_SIZE event of this start
    cached_request: Resources | None = None
    priority: int = 0
    status: int = JobStatus.IDLE  # mirrors ad["JobStatus"], read without a ClassAd lookup

    @property
    def queue_key(self) -> tuple[int, int, int]:
        """Matchmaking order: higher JobPrio first, then submission order."""
        return (-self.priority, self.cluster, self.proc)

    @property
    def job_id(self) -> str:
        return f"{self.cluster}.{self.proc}"

    def request(self) -> Resources:
        """What the job asks for (RequestCpus/Memory/Disk/GPUs; disk KiB -> MB) as the ad says now; cached
        (the scheduler asks on every pass, and ClassAd lookups are not cheap), so ``edit`` must call
        ``forget_request``."""
        if self.cached_request is None:
            self.cached_request = self._request_from_ad()
        return self.cached_request

    def forget_request(self) -> None:
        self.cached_request = None

    def _request_from_ad(self) -> Resources:
        def value(attr: str, default: int) -> int:
            v = self.ad.eval(attr) if attr in self.ad else default
            # classad2.Value (Undefined/Error) subclasses int: an undefined request is not the number 2
            if isinstance(v, bool | classad2.Value) or not isinstance(v, int | float):
                return default
            return int(v)

        disk_kib = value("RequestDisk", 1024)
        return Resources(value("RequestCpus", 1), value("RequestMemory", 128), -(-disk_kib // 1024),
                         value("RequestGPUs", 0))


class JobQueue:
    """The procs in the queue by (cluster, proc), and the idle ones sorted by :attr:`QueuedJob.queue_key`."""

    def __init__(self) -> None:
        self._jobs: dict[tuple[int, int], QueuedJob] = {}
        self._idle: list[tuple[int, int, int]] = []

    def __iter__(self) -> Iterator[QueuedJob]:
        return iter(list(self._jobs.values()))

    def get(self, cluster: int, proc: int) -> QueuedJob | None:
        return self._jobs.get((cluster, proc))

    def add(self, ad: classad2.ClassAd, now: float) -> QueuedJob:
        """A proc enters the queue, idle."""
        job = QueuedJob(ad, int(ad["ClusterId"]), int(ad["ProcId"]), priority=int(ad.get("JobPrio", 0)))
        ad["JobStatus"] = JobStatus.IDLE
        ad["EnteredCurrentStatus"] = int(now)
        self._jobs[(job.cluster, job.proc)] = job
        bisect.insort(self._idle, job.queue_key)
        return job

    def drop(self, job: QueuedJob) -> None:
        """The job leaves the queue (its status already says why)."""
        self._unqueue_idle(job)
        del self._jobs[(job.cluster, job.proc)]

    def set_status(self, job: QueuedJob, status: int, now: float) -> int:
        """Change the job's status (ad and idle order); returns the status it had."""
        if job.status == JobStatus.IDLE and status != JobStatus.IDLE:
            self._unqueue_idle(job)
        elif status == JobStatus.IDLE and job.status != JobStatus.IDLE:
            bisect.insort(self._idle, job.queue_key)
        was = job.status
        job.ad["LastJobStatus"] = job.status
        job.ad["JobStatus"] = job.status = status
        job.ad["EnteredCurrentStatus"] = int(now)
        return was

    def set_priority(self, job: QueuedJob, priority: int) -> None:
        """JobPrio changed: the job's place among the idle ones follows."""
        self._unqueue_idle(job)
        job.priority = priority
        if job.status == JobStatus.IDLE:
            bisect.insort(self._idle, job.queue_key)

    def idle(self) -> list[QueuedJob]:
        """The idle jobs in matchmaking order (a copy: claiming one takes it out)."""
        return [self._jobs[(cluster, proc)] for _, cluster, proc in self._idle]

    def select(self, job_spec: str | Iterable[str]) -> list[QueuedJob]:
        """The jobs a constraint matches, or those of ``"C.P"`` ids that are in the queue."""
        if isinstance(job_spec, str):
            expr = classad2.ExprTree(job_spec)
            return [j for j in self._jobs.values() if expr.eval(j.ad) is True]
        wanted = set()
        for spec in job_spec:
            cluster, _, proc = str(spec).partition(".")
            wanted.add((int(cluster), int(proc)))
        return [self._jobs[k] for k in wanted if k in self._jobs]

    def _unqueue_idle(self, job: QueuedJob) -> None:
        i = bisect.bisect_left(self._idle, job.queue_key)
        if i < len(self._idle) and self._idle[i] == job.queue_key:
            del self._idle[i]


def next_cluster_id(counter: Path) -> int:
    """The next cluster id from the counter file; unique across every process sharing it. An OSError
    (a full disk) names the file: nothing is queued then."""
    try:
        with open(counter, "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.seek(0)
            text = f.read().strip()
            cluster = int(text) if text else 1
            f.seek(0)
            f.truncate()
            f.write(str(cluster + 1))
    except OSError as exc:
        raise OSError(exc.errno, f"the local pool cannot take a cluster id from {counter}: "
                                 f"{exc.strerror or exc}") from exc
    return cluster
