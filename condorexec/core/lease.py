"""The run's lease and the queue cross-check, on their own timer thread.

Every job carries ``CondorexecLeaseExpires``; the schedd removes a job whose lease ran out
(condorfacts.lease_periodic_remove), so the jobs of a submitter that died do not run on forever. The
lease must be renewed however busy the job event log is, so renewal runs here and never waits on
the log's reader (it once ran only after a poll that read no events, and starved under load).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


class Periodic:
    """Calls each ``(every_seconds, action)`` on one daemon thread, each at its own period, until stopped.
    An action that raises is logged and called again at its next period."""

    def __init__(self, name: str, actions: list[tuple[float, Callable[[], None]]], tick: float = 1.0):
        self._actions = actions
        self._tick = min([tick, *(every for every, _ in actions)])
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        due = [time.monotonic() + every for every, _ in self._actions]
        while not self._stop.wait(self._tick):
            now = time.monotonic()
            for i, (every, action) in enumerate(self._actions):
                if now < due[i]:
                    continue
                due[i] = now + every
                try:
                    action()
                except Exception:  # noqa: BLE001 - the next period tries again
                    log.exception("%s failed; trying again in %g s", getattr(action, "__name__", action), every)


def renew_period(lease_seconds: float) -> float:
    """How often to renew a lease of ``lease_seconds``: often enough that three renewals in a row may
    fail before it runs out, and at most once a minute."""
    return max(min(60.0, lease_seconds / 4), 0.05)
