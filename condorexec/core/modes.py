"""``mode="auto"``: which categories run on slot workers and which as one job per call (docs/design.md §7).

A job start costs a pool about ``PoolProfile.job_start_seconds`` of slot time. A category whose calls
take less than SHORT_FACTOR times that (so a job start would add more than a tenth; the rule itself is
``condorexec/autorule.py``) goes to workers;
longer calls run as their own jobs, each sized exactly. A category never measured first sends one call
as its own job to time it, and its other calls wait for that one — but never longer than the threshold
itself: a call still running then is long, so the rest go as their own jobs too. The choice follows the
category's measured wall time as it changes, with hysteresis: a category changes sides only once its wall
time is HYSTERESIS times past the threshold, so calls whose length hovers near it do not flip from workers
to their own jobs and back (each flip has calls of one category waiting in two places).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from condorexec.autorule import PER_CALL as PER_CALL
from condorexec.autorule import SHORT_FACTOR as SHORT_FACTOR
from condorexec.autorule import WORKERS as WORKERS
from condorexec.autorule import auto_choice as auto_choice
from condorexec.core.calls import Task

#: how far past the threshold (as a factor) a category's wall time must go before it changes sides
HYSTERESIS = 1.5


class AutoRouter:
    """Not thread-safe on its own: the engine's lock guards it, as it does the probe gate."""

    def __init__(self, job_start_seconds: float, wall_of: Callable[[str], float | None]):
        self.job_start_seconds = job_start_seconds
        self.threshold = SHORT_FACTOR * job_start_seconds
        self._wall_of = wall_of
        self._timing: dict[str, float] = {}  # category -> when (monotonic) its timing call went out
        self._chosen: dict[str, str] = {}  # category -> the side it is on

    def choice(self, category: str) -> str | None:
        """WORKERS or PER_CALL for ``category``, or None while it is still being timed."""
        wall = self._wall_of(category)
        if wall is not None:
            before = self._chosen.get(category)
            if before == WORKERS and wall < self.threshold * HYSTERESIS:
                return WORKERS
            if before == PER_CALL and wall > self.threshold / HYSTERESIS:
                return PER_CALL
            self._chosen[category] = choice = auto_choice(wall, self.job_start_seconds) or PER_CALL
            return choice
        sent = self._timing.get(category)
        if sent is not None and time.monotonic() - sent > self.threshold:
            return PER_CALL
        return None

    def held_back(self, task: Task) -> bool:
        """Whether ``task`` waits for its category's timing call."""
        return task.category in self._timing and self.choice(task.category) is None

    def admit(self, task: Task) -> bool:
        """Whether ``task`` goes to a worker; an unmeasured category's first call is its timing call."""
        choice = self.choice(task.category)
        if choice is None:
            self._timing[task.category] = time.monotonic()
            return False
        return choice == WORKERS

    def ended(self, task: Task) -> None:
        """A call ended; if its category is still unmeasured (the timing call failed), time the next one."""
        if self._wall_of(task.category) is None and task.worker is None:
            self._timing.pop(task.category, None)
