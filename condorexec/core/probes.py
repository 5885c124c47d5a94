"""Autolabel's probes: while a category is still learning, one of its calls at a time goes out.

A probe is sized to a whole machine (as Work Queue gives a learning task a whole worker); the
category's other calls wait and are sized from the label the probe teaches (docs/design.md §5).
Sizing them all at once would send every call of a fresh category at the maximum.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from condorexec.core.calls import Task
from condorexec.pools.base import Machine


class ProbeGate:
    """Counts each category's probes in flight; not thread-safe on its own (the engine's lock guards it)."""

    def __init__(self, learning: Callable[[Task], bool], limit: int = 1):
        self._learning = learning
        self._limit = limit
        self._in_flight: dict[str, int] = {}
        self._finished: list[tuple[float, str]] = []

    def held_back(self, task: Task) -> bool:
        """Whether ``task`` must wait for its category's probe."""
        return self._learning(task) and self._in_flight.get(task.category, 0) >= self._limit

    def admit(self, task: Task, machines: Sequence[Machine]) -> None:
        """Let ``task`` go now; if its category is learning, it becomes a probe sized to a whole machine.

        Probes of different categories are sized to different machines so they run side by side; one
        that a smaller machine cannot hold is retried at the maximum like any exhausted job."""
        if not self._learning(task):
            return
        task.probe_machine = machines[sum(self._in_flight.values()) % len(machines)]
        task.probe = True
        self._in_flight[task.category] = self._in_flight.get(task.category, 0) + 1

    def finished(self, task: Task, when: float) -> bool:
        """``task`` ended at ``when`` (time.monotonic); returns whether it was a probe. A probe keeps its
        category's calls waiting until :meth:`learned` says a history poll has read what it used."""
        if not task.probe:
            return False
        task.probe = False
        self._finished.append((when, task.category))
        return True

    def abandoned(self, task: Task) -> None:
        """``task`` ended with nothing to learn from (failed, removed): its calls need not wait."""
        if task.probe:
            task.probe = False
            self._in_flight[task.category] -= 1

    def learned(self, poll_started: float) -> bool:
        """A history poll that started at ``poll_started`` finished: the probes that had ended before
        it are learned from (or never will be); returns whether any category's calls may go now."""
        done = [item for item in self._finished if item[0] <= poll_started]
        self._finished = [item for item in self._finished if item[0] > poll_started]
        for _, category in done:
            self._in_flight[category] -= 1
        return bool(done)
