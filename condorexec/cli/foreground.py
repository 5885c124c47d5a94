"""Running a cluster on the embedded local pool in the foreground of ``condorexec submit``.

The local pool lives in the submitting process, so ``submit`` stays until its jobs have left the
queue. Every ``POLL_S`` it publishes the queue for ``condorexec q`` in other terminals, applies
removal requests from ``condorexec rm``, and updates a progress line on stderr (rewritten in place
on a terminal, a new line every ``LINE_EVERY_S`` otherwise). Held jobs are reported and not waited
for: on the local pool nobody else would release them. Ctrl-C, SIGTERM and SIGHUP remove the
cluster's jobs cleanly, so the log ends with their abort events and the history has their records
(a ``condorexec wait`` on the log returns).
"""

from __future__ import annotations

import re
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import classad2
import htcondor2

from condorexec.condorfacts import JobStatus, job_constraint
from condorexec.pools.base import Pool
from condorexec.pools.local import spool as localspool

POLL_S = 0.5
LINE_EVERY_S = 5.0


@dataclass
class RunOutcome:
    """What happened to the cluster while this process watched it."""

    held: list[classad2.ClassAd] = field(default_factory=list)
    interrupted: bool = False
    #: the signal that interrupted the run (SIGINT for Ctrl-C)
    signal: int = signal.SIGINT
    removed_by_request: list[str] = field(default_factory=list)
    #: a removal request named the cluster itself (``C.-1``) while procs of it were still to be made
    factory_removed: bool = False
    #: procs of a late-materialization cluster never made: held jobs (or max_idle) kept the limit full
    unmaterialized: int = 0


class Progress:
    """``3 idle, 2 running, 10 done, 0 held`` on stderr, in place on a tty."""

    def __init__(self, stream: TextIO):
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self._last_text = ""
        self._last_line_at = 0.0

    def update(self, text: str, *, final: bool = False) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K" + text + ("\n" if final else ""))
            self.stream.flush()
        elif final or (text != self._last_text and time.monotonic() - self._last_line_at >= LINE_EVERY_S):
            self.stream.write(text + "\n")
            self.stream.flush()
            self._last_line_at = time.monotonic()
        self._last_text = text


def _progress_line(cluster: int, idle: int, running: int, done: int, held: int, removed: int) -> str:
    line = f"cluster {cluster}: {idle} idle, {running} running, {done} done, {held} held"
    return line + (f", {removed} removed" if removed else "")


def _counts(ads: list[classad2.ClassAd], total: int) -> tuple[int, int, int, int]:
    status = [ad.get("JobStatus") for ad in ads]
    idle, running, held = (status.count(JobStatus.IDLE), status.count(JobStatus.RUNNING),
                           status.count(JobStatus.HELD))
    return idle, running, total - len(ads), held


class _Stopped(KeyboardInterrupt):
    """SIGTERM or SIGHUP arrived: handled as Ctrl-C is."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


@contextmanager
def _stop_signals_interrupt() -> Iterator[None]:
    """While the loop runs, SIGTERM and SIGHUP interrupt it as Ctrl-C does (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def stop(signum: int, _frame: object) -> None:
        raise _Stopped(signum)

    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _remove(pool: Pool, cluster: int, wanted: list[str], outcome: RunOutcome) -> None:
    """Act on a ``condorexec rm`` request from another terminal. ``C.-1`` in it means its constraint
    matched cluster C's ad: as on the schedd, C's late-materialization factory makes no more procs, and
    the procs it made after rm looked (a higher ProcId than any rm named) are removed with the rest."""
    wanted = [w for w in wanted if re.fullmatch(r"\d+\.(-1|\d+)", w)]  # a stray entry is no job id
    clusters = {int(w[:-3]) for w in wanted if w.endswith(".-1")}
    for named in sorted(clusters):
        if named == cluster and pool.unmaterialized(cluster):
            outcome.factory_removed = True  # its queued procs may all have left already
        pool.act(htcondor2.JobAction.Remove, f"{job_constraint(str(named))} && ProcId =?= undefined")  # the factory
    newest: dict[int, int] = {}
    for w in wanted:
        c, _, p = w.partition(".")
        newest[int(c)] = max(newest.get(int(c), -1), int(p))
    queued = [(int(ad["ClusterId"]), int(ad["ProcId"])) for ad in pool.query("true", ["ClusterId", "ProcId"])]
    listed = set(wanted)
    hit = sorted(f"{c}.{p}" for c, p in queued if f"{c}.{p}" in listed or (c in clusters and p > newest[c]))
    if hit:
        pool.act(htcondor2.JobAction.Remove, hit)
        outcome.removed_by_request += hit


def run_foreground(pool: Pool, cluster: int, total: int, state_dir: Path, err: TextIO) -> RunOutcome:
    """Watch ``cluster`` (``total`` procs) until no job of it is idle or running."""
    with _stop_signals_interrupt():
        return _watch(pool, cluster, total, state_dir, err)


def _watch(pool: Pool, cluster: int, total: int, state_dir: Path, err: TextIO) -> RunOutcome:
    outcome = RunOutcome()
    snapshot = localspool.QueueSnapshot(state_dir)
    progress = Progress(err)
    seen_requests: set[str] = set()
    mine = job_constraint(str(cluster))
    try:
        while True:
            ads = pool.query("true")
            snapshot.write(ads)
            for wanted, _reason in localspool.pending_removals(state_dir, seen_requests):
                _remove(pool, cluster, wanted, outcome)
            ours = [ad for ad in ads if ad.get("ClusterId") == cluster]
            # procs of a late-materialization cluster not made yet are neither queued nor done, and
            # removed jobs left the queue without being done (rm's, here; at the end, the history's)
            removed = sum(1 for job in outcome.removed_by_request if job.startswith(f"{cluster}."))
            idle, running, done, held = _counts(ours, total - pool.unmaterialized(cluster) - removed)
            progress.update(_progress_line(cluster, idle, running, done, held, removed))
            if idle == 0 and running == 0:
                outcome.held = [ad for ad in ours if ad.get("JobStatus") == JobStatus.HELD]
                outcome.unmaterialized = pool.unmaterialized(cluster)
                removed = len(list(pool.history(f"{mine} && JobStatus == {int(JobStatus.REMOVED)}",
                                                ["ProcId"])))
                idle, running, done, held = _counts(ours, total - outcome.unmaterialized - removed)
                progress.update(_progress_line(cluster, idle, running, done, held, removed), final=True)
                return outcome
            pool.events_written.wait(POLL_S)
            pool.events_written.clear()
    except KeyboardInterrupt as exc:
        outcome.interrupted = True
        outcome.signal = exc.signum if isinstance(exc, _Stopped) else signal.SIGINT
        progress.update(f"cluster {cluster}: interrupted, removing its jobs", final=True)
        pool.act(htcondor2.JobAction.Remove, mine)
        deadline = time.monotonic() + 10
        while pool.query(mine, ["ProcId"]) and time.monotonic() < deadline:
            time.sleep(0.1)
        return outcome
    finally:
        snapshot.remove()
