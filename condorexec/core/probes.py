"""Autolabel's probes: while a category is still learning, one of its calls at a time goes out.

A probe is sized to a whole machine (as Work Queue gives a learning task a whole worker); the
category's other calls wait and are sized from the label the probe teaches (docs/design.md §5).
Sizing them all at once would send every call of a fresh category at the maximum.

Two things keep a cold start close to a warm one (docs/labels.md, "Cold start"):

* **Early release.** The waiting calls need not wait for the probe's *end*: the pool reports a
  running job's memory (IMAGE_SIZE events: on HTCondor at each starter update that changed it, the
  first 8 s after the start and then every STARTER_UPDATE_INTERVAL by default; on the local pool at its
  samples). Once the probe's memory has stopped growing (:data:`EARLY_QUIET_S`), as many of the
  category's waiting calls as the pool holds at once go at that peak plus :data:`EARLY_MARGIN`, with
  the user's or the default cores and disk; the label the finished probe teaches sizes the calls after
  them. A call that outgrows the early size is retried at the maximum like any call that outgrows a
  label, and a memory hold in the category takes the early size back: its calls wait for the label.
* **Probes that fit side by side.** With more learning categories than machines, whole-machine
  probes would make all but the first few wait for a machine to drain, and on HTCondor (which
  reserves no partitionable slot for a waiting job) starve behind the calls already released. Then
  every probe is sized to the largest machine shape of which that many copies fit in the pool.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from condorexec.condorfacts import MEMORY_QUANTUM_MB
from condorexec.core.calls import Task
from condorexec.labels.policy import round_up
from condorexec.pools.base import Machine
from condorexec.spec import DEFAULT_CORES

#: how far above a probe's running memory its category's released calls ask: memory measured early
#: may still grow (the retry at the maximum catches what this does not)
EARLY_MARGIN = 1.25

#: seconds a probe may wait to start before the other calls are held back so that a machine drains
#: for it (several negotiation cycles of a busy schedd; the local pool reserves a node at once)
PROBE_PATIENCE_S = 30.0

#: seconds the other calls are held back for a starving probe at most (a shared pool may never drain)
DRAIN_LIMIT_S = 300.0

#: how much a report must exceed the probe's peak so far to count as growth
GROWTH = 1.1

#: the least time (s) a probe's memory must not have grown, since its start and its last growth, before
#: its calls go early: a job's first reports can come while its interpreter is still starting, before
#: the app has allocated anything. On pools that report less often it is two report intervals
#: (``PoolProfile.usage_report_seconds``): memory that no report saw grow for that long has settled.
EARLY_QUIET_S = 2.0


def early_memory(running_mb: float) -> int:
    """The memory (MB) a learning category's waiting calls go at, from its probe's running peak."""
    return round_up("memory", running_mb * EARLY_MARGIN)


def _copies_on(machine: Machine, shape: Machine) -> int:
    """How many probes of ``shape``'s cores and memory ``machine`` runs at once (disk is shared out
    afterwards: every machine of a pool may report the same scratch disk)."""
    return min(machine.cores // max(shape.cores, 1), machine.memory // max(shape.memory, 1))


def probe_machine(machines: Sequence[Machine], index: int, probing: int) -> Machine:
    """The machine shape the ``index``-th probe in flight is sized to, with ``probing`` learning
    categories probing at once.

    As many categories as machines (or fewer): probe ``index`` gets the ``index``-th largest machine, so
    the probes of different categories run side by side, each on a whole machine. More: each gets the
    cores and memory of the largest machine of which ``probing`` copies fit in the pool at once (if
    none, of the one the pool fits most copies of), and the disk that leaves every copy its share, so
    that no probe waits for another to end."""
    ordered = sorted(machines, key=lambda m: m.resources.ordering_key(), reverse=True)
    if probing <= len(ordered):
        return ordered[index % len(ordered)]

    def copies(shape: Machine) -> int:
        return sum(_copies_on(m, shape) for m in ordered)

    fitting = [shape for shape in ordered if copies(shape) >= probing]
    shape = fitting[0] if fitting else max(ordered, key=copies)
    disk = min(m.disk // _copies_on(m, shape) for m in ordered if _copies_on(m, shape) > 0)
    # a schedd's startd rounds each request up to a multiple of MEMORY_QUANTUM_MB: rounded down here, so
    # that the copies still fit side by side
    memory = max(shape.memory // MEMORY_QUANTUM_MB * MEMORY_QUANTUM_MB, MEMORY_QUANTUM_MB)
    return Machine(f"{shape.name} (shared by {probing} probes)", shape.cores, memory, disk, shape.gpus)


@dataclass
class _Running:
    """A probe's job while it runs: when it started, its largest reported memory and when that last grew."""

    started: float
    size_mb: int
    peak_mb: int = 0
    grew_at: float = 0.0


class ProbeGate:
    """Counts each category's probes in flight and what their running memory lets the rest go at.

    ``report_seconds``: how often the pool reports a running job's memory (PoolProfile.usage_report_seconds).
    Not thread-safe on its own: the engine's lock guards it."""

    def __init__(self, learning: Callable[[Task], bool], *, early_release: bool = True,
                 report_seconds: float = 0.5, limit: int = 1, clock: Callable[[], float] = time.monotonic):
        self._learning = learning
        self._clock = clock
        self._early_release = early_release
        self.quiet_seconds = max(EARLY_QUIET_S, 2 * report_seconds)
        self._limit = limit
        self._in_flight: dict[str, int] = {}
        self._finished: list[tuple[float, str]] = []
        self._running: dict[str, _Running] = {}  # category -> its probe's job, while it runs
        self._early: dict[str, int] = {}  # category -> memory (MB) its waiting calls may go at
        self._early_sent: dict[str, int] = {}  # category -> calls sent early
        self._machines: Sequence[Machine] = ()
        self._unstarted: dict[int, float] = {}  # task id -> when a probe not yet running was sent

    def learning(self, task: Task) -> bool:
        return self._learning(task)

    def probing(self) -> set[str]:
        """The categories with a probe in flight."""
        return {category for category, count in self._in_flight.items() if count > 0}

    def held_back(self, task: Task) -> bool:
        """Whether ``task`` must wait: for its category's probe, or for a machine to drain for a probe
        that has waited :data:`PROBE_PATIENCE_S` to start (see :meth:`starving`)."""
        if self._learning(task):
            return self._in_flight.get(task.category, 0) >= self._limit and not self._may_go_early(task)
        return self.starving()

    def starving(self, now: float | None = None) -> bool:
        """Whether a probe has waited :data:`PROBE_PATIENCE_S` to start. A schedd reserves no
        partitionable slot for a job that wants a whole machine: the calls sent after it take each core
        that frees, and it would wait until they all end. Holding the other calls back lets a machine
        drain (the local pool reserves one for it itself, as HTCondor's defrag daemon can). On a pool
        shared with others a machine may never drain: after :data:`DRAIN_LIMIT_S` more, the other calls
        go again and the probe waits at its priority."""
        if not self._unstarted:
            return False
        now = self._clock() if now is None else now
        waited = now - min(self._unstarted.values())
        return PROBE_PATIENCE_S <= waited < PROBE_PATIENCE_S + DRAIN_LIMIT_S

    def admit(self, task: Task, machines: Sequence[Machine], probing: int = 1) -> None:
        """Let ``task`` go now. If its category is learning, it becomes a probe (sized by
        :func:`probe_machine`; ``probing``: how many categories probe at once) or goes early, at
        ``task.early_memory`` (see :meth:`early_memory`).

        A probe that its machine cannot hold is retried at the maximum like any exhausted job."""
        self._machines = machines
        task.early_memory = None
        if not self._learning(task):
            return
        if self._in_flight.get(task.category, 0) >= self._limit:  # not held back: it may go early
            task.early_memory = self.early_memory(task.category)
            self._early_sent[task.category] = self._early_sent.get(task.category, 0) + 1
            return
        task.probe_machine = probe_machine(machines, sum(self._in_flight.values()), probing)
        task.probe = True
        self._in_flight[task.category] = self._in_flight.get(task.category, 0) + 1
        self._unstarted[task.id] = self._clock()

    def started(self, task: Task, when: float) -> bool:
        """``task``'s job started running at ``when`` (time.monotonic); returns whether it is a probe
        whose running memory may let its category's calls go (in :attr:`quiet_seconds` at the soonest)."""
        self._unstarted.pop(task.id, None)
        if not (self._early_release and task.probe):
            return False
        self._running[task.category] = _Running(started=when, size_mb=task.size.memory, grew_at=when)
        return True

    def running(self, task: Task, memory_mb: int, when: float) -> bool:
        """``task``'s job reported ``memory_mb`` at ``when``; returns whether it is a probe whose report
        may let its category's calls go (in :attr:`quiet_seconds`, if it does not grow again)."""
        probe = self._running.get(task.category) if self._early_release and task.probe else None
        if probe is None:
            return False
        if memory_mb > probe.peak_mb * GROWTH:
            probe.grew_at = when
        probe.peak_mb = max(probe.peak_mb, memory_mb)
        return True

    def early_memory(self, category: str, now: float | None = None) -> int | None:
        """The memory (MB) ``category``'s waiting calls go at before it has a label: its probe's peak
        plus :data:`EARLY_MARGIN`, once that has not grown for :attr:`quiet_seconds` and is well below
        what the probe was given (near that, the probe may be about to run out: its calls wait for the
        label). ``None``: not (yet)."""
        probe = self._running.get(category)
        if probe is not None and probe.peak_mb > 0:
            now = self._clock() if now is None else now
            memory = early_memory(probe.peak_mb)
            if now - probe.grew_at >= self.quiet_seconds and memory < probe.size_mb:
                self._early[category] = max(self._early.get(category, 0), memory)
        return self._early.get(category)

    def _may_go_early(self, task: Task) -> bool:
        """Whether ``task`` may go at its category's early memory: there is one, and fewer of the
        category's calls went early than the pool holds at once at that size (if it is wrong, only
        those are retried; the first memory hold stops the rest)."""
        memory = self.early_memory(task.category)
        if memory is None:
            return False
        shape = Machine("early", task.spec.cores or DEFAULT_CORES, memory, 0)
        room = sum(_copies_on(m, shape) for m in self._machines)
        return self._early_sent.get(task.category, 0) < max(room, 1)

    def ran_out(self, task: Task, resource: str) -> None:
        """A call of ``task``'s category was held for running out of ``resource``: if that is memory,
        the early size was wrong, so the category's calls wait for its label again."""
        if resource == "memory":
            self._early.pop(task.category, None)
            self._running.pop(task.category, None)

    def finished(self, task: Task, when: float) -> bool:
        """``task`` ended at ``when`` (time.monotonic); returns whether it was a probe. A probe keeps its
        category's calls waiting until :meth:`learned` says a history poll has read what it used."""
        self._unstarted.pop(task.id, None)
        if not task.probe:
            return False
        task.probe = False
        self._finished.append((when, task.category))
        return True

    def abandoned(self, task: Task) -> None:
        """``task`` ended with nothing to learn from (failed, removed): its calls need not wait."""
        self._unstarted.pop(task.id, None)
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
