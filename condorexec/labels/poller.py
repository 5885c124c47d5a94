"""Reads finished jobs from a pool's history, incrementally, and feeds their usage to the label store.

HTCondor reports a job's peak usage in its history ad (``MemoryUsage``, ``DiskUsage``, ``CpusUsage``,
``RemoteWallClockTime``), so learning needs nothing on the execute node: the same poller serves the
embedded local pool and a real schedd.

The cursor. History is an append-only log read newest first, and jobs of different clusters leave
the queue in any order, so neither "ClusterId > C" nor "CompletionDate > T" marks what is new. What
does is the *position* of the newest record read last time: everything scanned before reaching it is
new. ``Schedd.history`` stops a scan at the first record that makes ``since`` true, so the poller
passes ``since = (ClusterId == C && ProcId == P) || EnteredCurrentStatus < T - overlap`` where C.P is
the newest record it read and T its time. The job id stops the scan exactly at the old position;
the time bound is a safety net for when that record is gone (history rotated), limiting the re-read
to ``overlap`` seconds, which the store's dedup absorbs. ``EnteredCurrentStatus`` and not
``CompletionDate``, because removed jobs (those held for memory, among them) have no completion date.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Sequence

import classad2

from condorexec.condorfacts import REQUEST_ATTRS, JobStatus, Resource, classify_hold, job_constraint
from condorexec.errors import InvalidSpecError
from condorexec.labels.store import LabelStore, Sample
from condorexec.names import CATEGORY_ATTR  # jobs without it are not learned from
from condorexec.pools.base import Pool

log = logging.getLogger(__name__)


#: the attributes the poller asks the schedd for (MemoryUsage and RequestDisk are expressions over
#: ResidentSetSize and TransferInputSizeMB, so those come along)
PROJECTION = (
    "ClusterId", "ProcId", CATEGORY_ATTR, "JobStatus", "ExitCode", "ExitBySignal",
    "MemoryUsage", "ResidentSetSize", "DiskUsage", "CpusUsage", "RemoteUserCpu", "RemoteSysCpu",
    "RemoteWallClockTime", "CompletionDate", "EnteredCurrentStatus",
    "RequestCpus", "RequestMemory", "RequestDisk", "TransferInputSizeMB",
    "HoldReasonCode", "HoldReasonSubCode", "HoldReason",
    "LastHoldReasonCode", "LastHoldReasonSubCode", "LastHoldReason",
)

#: how far back (s) the time bound of the cursor reaches behind the newest record read
CURSOR_OVERLAP_S = 300


def _number(ad: classad2.ClassAd, attr: str) -> float | None:
    """The attribute evaluated to a finite number, or None if absent, undefined, an error or not a number."""
    if attr not in ad:
        return None
    try:
        value = ad.eval(attr)
    except Exception:  # noqa: BLE001 - a malformed expression is as good as absent
        return None
    if isinstance(value, (classad2.Value, bool)) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _string(ad: classad2.ClassAd, attr: str) -> str:
    value = ad.get(attr)
    return value if isinstance(value, str) else ""


def exhausted_resource(ad: classad2.ClassAd) -> Resource | None:
    """The resource a job was held for running out of, from its current or its last hold (a job
    removed while held keeps the hold only as ``LastHoldReason*``)."""
    for prefix in ("", "Last"):
        code = _number(ad, f"{prefix}HoldReasonCode")
        if code is None:
            continue
        subcode = _number(ad, f"{prefix}HoldReasonSubCode")
        found = classify_hold(code, subcode, _string(ad, f"{prefix}HoldReason"))
        if found:
            return found
    return None


def sample_from_ad(ad: classad2.ClassAd, source: str = "") -> Sample | None:
    """A history ad as a usage sample; None for jobs condorexec did not label (no
    ``CondorexecCategory``) and for jobs that neither completed nor ran out of a resource
    (removed by the user, killed by a signal), whose usage says nothing about what they need.

    The sample's job id is qualified by ``source`` (the history it came from, ``<source>/C.P``): two
    pools reuse job ids, and the store keeps one sample per category, job id and completion time."""
    category = ad.get(CATEGORY_ATTR)
    if category is None:
        return None
    if not isinstance(category, str) or not category:
        raise InvalidSpecError(CATEGORY_ATTR, category, "must be a non-empty string")
    cluster, proc = ad.get("ClusterId"), ad.get("ProcId")
    for name, value in (("ClusterId", cluster), ("ProcId", proc)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidSpecError(name, value, "history ad lacks an integer job id")
    normal = _number(ad, "JobStatus") == JobStatus.COMPLETED and _number(ad, "ExitCode") is not None
    exhausted = None if normal else exhausted_resource(ad)
    if not normal and exhausted is None:
        return None

    memory = _number(ad, "MemoryUsage")  # MiB; usually the expression ((ResidentSetSize + 1023) / 1024)
    if memory is None:
        rss = _number(ad, "ResidentSetSize")
        memory = rss / 1024 if rss is not None else 0.0
    disk_kib = _number(ad, "DiskUsage") or 0.0
    wall = _number(ad, "RemoteWallClockTime") or 0.0
    cores = _number(ad, "CpusUsage")
    if cores is None:  # not reported for very short jobs: average cores over the run
        cpu = (_number(ad, "RemoteUserCpu") or 0.0) + (_number(ad, "RemoteSysCpu") or 0.0)
        cores = cpu / wall if wall > 0 else 0.0
    usage = {"cores": max(cores, 0.0), "memory": max(memory, 0.0), "disk": max(disk_kib / 1024, 0.0)}
    if exhausted is not None:
        # it ran out of its request, so it needed at least that: the sampled usage may lag behind
        attr, per_mb = REQUEST_ATTRS[exhausted]
        request = _number(ad, attr)
        if request is not None:
            usage[exhausted] = max(usage[exhausted], request / per_mb)
    completed = _number(ad, "CompletionDate") or 0.0
    if completed <= 0:
        completed = _number(ad, "EnteredCurrentStatus") or 0.0
    job_id = f"{source}/{cluster}.{proc}" if source else f"{cluster}.{proc}"
    return Sample(category=category, job_id=job_id, cores=usage["cores"],
                  memory_mb=usage["memory"], disk_mb=usage["disk"], wall_s=max(wall, 0.0),
                  exhausted=exhausted, completed_at=completed)


class HistoryPoller:
    """Polls ``pool.history`` for jobs that finished since the last poll and adds them to ``store``.

    ``source`` names the history being read (e.g. ``"condor:<schedd address>"``); the cursor is kept
    in the store under that name, so a restarted poller resumes where the last one stopped."""

    def __init__(self, pool: Pool, store: LabelStore, *, source: str, constraint: str = "true",
                 interval: float = 5.0, max_per_poll: int = 1000):
        if not isinstance(source, str) or not source:
            raise InvalidSpecError("source", source, "must be a non-empty string")
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or not interval > 0:
            raise InvalidSpecError("interval", interval, "must be a number of seconds > 0")
        if isinstance(max_per_poll, bool) or not isinstance(max_per_poll, int) or max_per_poll < 1:
            raise InvalidSpecError("max_per_poll", max_per_poll, "must be an integer >= 1")
        try:
            classad2.ExprTree(constraint)
        except Exception as e:
            raise InvalidSpecError("constraint", constraint, f"is not a ClassAd expression: {e}") from e
        self.pool, self.store, self.source = pool, store, source
        self.constraint, self.interval, self.max_per_poll = constraint, float(interval), max_per_poll
        self.max_pages = 100
        self._poll_lock = threading.Lock()
        self._stop = threading.Event()
        self._soon = threading.Event()
        self._listeners: list[Callable[[int, float], None]] = []
        self._thread: threading.Thread | None = None

    # -- the cursor -----------------------------------------------------------------------------

    def _load_cursor(self) -> tuple[str, float | None] | None:
        raw = self.store.get_cursor(self.source)
        if raw is None:
            return None
        try:
            value = json.loads(raw)
            job, when = str(value["job"]), value.get("time")
            cluster, proc = (int(x) for x in job.split("."))
        except (ValueError, KeyError, TypeError, AttributeError):
            log.warning("ignoring unreadable history cursor %r for %s: reading all history", raw, self.source)
            return None
        return f"{cluster}.{proc}", (float(when) if isinstance(when, (int, float)) else None)

    def _since(self, cursor: tuple[str, float | None] | None) -> str | None:
        if cursor is None:
            return None
        stop = f"({job_constraint(cursor[0])})"
        if cursor[1] is not None:
            stop += f" || (EnteredCurrentStatus < {int(cursor[1]) - CURSOR_OVERLAP_S})"
        return stop

    # -- polling --------------------------------------------------------------------------------

    def _page(self, constraint: str, since: str | None) -> list[classad2.ClassAd]:
        return list(self.pool.history(constraint, PROJECTION, self.max_per_poll, since))

    def poll_once(self) -> int:
        """Read what finished since the last poll; returns the number of new samples stored."""
        with self._poll_lock:
            cursor = self._load_cursor()
            since = self._since(cursor)
            ads = page = self._page(self.constraint, since)
            newest = ads[0] if ads else None
            pages = 1
            seen = {(ad.get("ClusterId"), ad.get("ProcId")) for ad in page}
            # a full page means older new records may remain: page down by time, below the oldest read
            while len(page) == self.max_per_poll and pages < self.max_pages:
                oldest = min((t for ad in page if (t := _number(ad, "EnteredCurrentStatus")) is not None),
                             default=None)
                if oldest is None:
                    break
                page = self._page(f"({self.constraint}) && EnteredCurrentStatus <= {int(oldest)}", since)
                fresh = [ad for ad in page if (ad.get("ClusterId"), ad.get("ProcId")) not in seen]
                if not fresh:
                    log.warning("history poll of %s: more than %d records share one second; some skipped",
                                self.source, self.max_per_poll)
                    break
                seen.update((ad.get("ClusterId"), ad.get("ProcId")) for ad in fresh)
                ads = ads + fresh
                pages += 1
            samples = []
            for ad in ads:
                try:
                    sample = sample_from_ad(ad, self.source)
                except InvalidSpecError as e:
                    log.warning("skipping a history record of %s: %s", self.source, e)
                    continue
                if sample is not None:
                    samples.append(sample)
            added = self.store.add_samples(samples)
            if newest is not None:
                self._save_cursor(newest, cursor)
            return added

    def _save_cursor(self, newest: classad2.ClassAd, old: tuple[str, float | None] | None) -> None:
        cluster, proc = newest.get("ClusterId"), newest.get("ProcId")
        if isinstance(cluster, bool) or not isinstance(cluster, int) or not isinstance(proc, int):
            log.warning("history record without a job id; cursor of %s not moved", self.source)
            return
        when = _number(newest, "EnteredCurrentStatus") or _number(newest, "CompletionDate")
        if when is None and old is not None:
            when = old[1]
        self.store.set_cursor(self.source, json.dumps({"job": f"{cluster}.{proc}", "time": when}))

    # -- background -----------------------------------------------------------------------------

    def add_listener(self, listener: Callable[[int, float], None]) -> None:
        """Call ``listener(samples_added, started)`` on the poller's thread after each background poll,
        ``started`` being the poll's start (``time.monotonic()``): what finished before it was read."""
        self._listeners.append(listener)

    def poll_soon(self) -> None:
        """Ask the background thread to poll now instead of at its next tick. Returns at once: a caller
        such as the event tracker must never wait on the schedd's history."""
        self._soon.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._soon.wait(self.interval)
            self._soon.clear()
            if self._stop.is_set():
                return
            added, started = 0, time.monotonic()
            try:
                added = self.poll_once()
            except Exception:  # noqa: BLE001 - a failing poll must not kill learning for the run
                log.exception("history poll of %s failed; trying again in %g s", self.source, self.interval)
            for listener in self._listeners:
                try:
                    listener(added, started)
                except Exception:  # noqa: BLE001 - a listener's bug must not stop polling
                    log.exception("history poll listener failed")

    def start(self) -> None:
        """Poll every ``interval`` seconds in a daemon thread until :meth:`stop`."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"history-poller[{self.source}]", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, then poll once more so that jobs that finished last are learned too."""
        thread, self._thread = self._thread, None
        self._stop.set()
        self._soon.set()
        if thread is not None:
            thread.join()
        try:
            self.poll_once()
        except Exception:  # noqa: BLE001 - shutting down: report, do not raise
            log.exception("last history poll of %s failed", self.source)

    @property
    def projection(self) -> Sequence[str]:
        return PROJECTION
