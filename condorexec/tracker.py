"""Follows a job event log and turns its events into calls on a handler.

This is how condorexec learns job state on every pool: the log is read incrementally with
``htcondor2.JobEventLog(path).events(stop_after=0)`` (never ``condor_q`` scraping), so the same code
serves a schedd and the embedded pool. A pool that can say "I just wrote events" (the local pool's
``events_written``) wakes the reader at once; otherwise it polls. Which event means what is
:data:`condorexec.condorfacts.EVENT_TRANSITIONS`.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Protocol

import htcondor2

from condorexec.condorfacts import EVENT_TRANSITIONS, Transition

log = logging.getLogger(__name__)


class EventHandler(Protocol):
    def on_execute(self, job_id: str) -> None: ...
    def on_terminated(self, job_id: str, event: htcondor2.JobEvent) -> None: ...
    def on_held(self, job_id: str, code: int | None, subcode: int | None, reason: str) -> None: ...
    def on_aborted(self, job_id: str, reason: str) -> None: ...
    def on_requeued(self, job_id: str) -> None: ...
    def on_usage(self, job_id: str, memory_mb: int) -> None: ...
    def on_error(self, job_id: str, what: str, exc: BaseException) -> None: ...


class EventLogTracker:
    """Reads one job event log on its own thread and dispatches each event to ``handler``.

    :meth:`read_available` may also be called from other threads (a queue cross-check wants the log
    read before it trusts the queue); a lock keeps the reader and the dispatch order single-file."""

    def __init__(self, path: str | Path, handler: EventHandler, wake: threading.Event | None = None,
                 poll_interval: float = 0.5):
        self.path = Path(path)
        self.path.touch(exist_ok=True)
        self._reader = htcondor2.JobEventLog(str(self.path))
        self._read_lock = threading.Lock()
        self._handler = handler
        self._wake = wake or threading.Event()
        self._poll_interval = poll_interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"tracker-{self.path.name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        self.read_available()  # whatever arrived while stopping

    def read_available(self) -> int:
        """Dispatch every complete event now in the log; returns how many were read."""
        count = 0
        with self._read_lock:
            for event in self._reader.events(stop_after=0):
                count += 1
                try:
                    self._dispatch(event)
                except BaseException as exc:  # noqa: BLE001 - one bad event (or callback) must not stop the others
                    what = f"{event.type.name} event"
                    log.exception("error handling the %s of job %s.%s", what, event.cluster, event.proc)
                    self._report(f"{event.cluster}.{event.proc}", what, exc)
        return count

    def _report(self, job_id: str, what: str, exc: BaseException) -> None:
        """Tell the handler its job's event could not be handled, so the call ends instead of waiting."""
        try:
            self._handler.on_error(job_id, what, exc)
        except BaseException:  # noqa: BLE001 - the tracker itself must go on
            log.exception("error reporting a failed %s of job %s", what, job_id)

    def _dispatch(self, event: htcondor2.JobEvent) -> None:
        job_id = f"{event.cluster}.{event.proc}"
        transition = EVENT_TRANSITIONS.get(event.type)
        if transition is Transition.RUNNING:
            self._handler.on_execute(job_id)
        elif transition is Transition.TERMINATED:
            self._handler.on_terminated(job_id, event)
        elif transition is Transition.HELD:
            self._handler.on_held(job_id, event.get("HoldReasonCode"), event.get("HoldReasonSubCode"),
                                  str(event.get("HoldReason", "")))
        elif transition is Transition.ABORTED:
            self._handler.on_aborted(job_id, str(event.get("Reason", "")))
        elif transition is Transition.REQUEUED:
            self._handler.on_requeued(job_id)
        elif transition is Transition.USAGE and isinstance(memory := event.get("MemoryUsage"), int):
            self._handler.on_usage(job_id, memory)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._poll_interval)
            self._wake.clear()
            self.read_available()
