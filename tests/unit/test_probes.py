"""Autolabel's probe gate: where probes go, and when a learning category's calls go early."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

from condorexec.core.probes import DRAIN_LIMIT_S, EARLY_MARGIN, PROBE_PATIENCE_S, ProbeGate, early_memory, probe_machine
from condorexec.pools.base import Machine
from condorexec.resources import Resources
from condorexec.spec import ResourceSpec

BIG, SMALL = Machine("big", 6, 6000, 50000), Machine("small", 3, 3000, 50000)


_ids = itertools.count()


def task(category: str, cores: int | None = None):
    return SimpleNamespace(id=next(_ids), category=category, spec=ResourceSpec(cores=cores), probe=False,
                           probe_machine=None, early_memory=None, size=Resources(0, 0, 0))


def send(gate: ProbeGate, t, machines=(BIG, SMALL), probing: int = 1):
    """What the engine does with a task the gate lets go: admit it, size it (a probe to its machine)."""
    assert not gate.held_back(t)
    gate.admit(t, machines, probing)
    if t.probe:
        t.size = t.probe_machine.resources
    return t


def test_as_many_probes_as_machines_get_one_whole_machine_each_largest_first():
    assert probe_machine([SMALL, BIG], 0, 2) == BIG
    assert probe_machine([SMALL, BIG], 1, 2) == SMALL


def test_more_probes_than_machines_share_them_at_the_largest_shape_that_fits_them_all():
    shape = probe_machine([BIG, SMALL], 0, 3)  # 6/6000 fits once; 3/3000 fits 2 + 1 = 3 times
    # 3000 MB down to a multiple of 128: a startd rounds requests up to one, and two 3072 MB slots
    # would not fit in 6000 MB
    assert (shape.cores, shape.memory) == (3, 2944)
    assert shape.disk == 25000  # the big machine runs two of them: each gets half its disk
    crowded = probe_machine([BIG, SMALL], 0, 5)  # no machine shape fits 5: the one that fits most
    assert (crowded.cores, crowded.memory) == (3, 2944)


def test_early_memory_is_the_peak_plus_the_margin_rounded_up_to_a_bucket():
    assert EARLY_MARGIN == 1.25
    assert early_memory(600) == 750 and early_memory(601) == 1000 and early_memory(10) == 250


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def learning_gate(**kw) -> tuple[ProbeGate, set[str]]:
    learned: set[str] = set()
    gate = ProbeGate(lambda t: t.category not in learned, report_seconds=0.1, clock=Clock(), **kw)
    return gate, learned


def test_a_learning_category_sends_one_probe_and_holds_the_rest_until_the_probe_settles():
    gate, _ = learning_gate()
    probe = send(gate, task("f"))
    assert probe.probe and probe.size == BIG.resources
    assert gate.held_back(task("f"))
    assert gate.started(probe, when=100.0)
    assert gate.running(probe, 40, when=100.5)  # the interpreter starting
    assert gate.early_memory("f", now=101.0) is None  # not quiet for 2 s yet
    assert gate.running(probe, 600, when=101.0)  # the app allocating: growth restarts the quiet time
    gate._clock.now = 102.9
    assert gate.early_memory("f") is None and gate.held_back(task("f"))
    gate._clock.now = 103.0
    assert gate.early_memory("f") == 750
    released = send(gate, task("f"))
    assert not released.probe and released.early_memory == 750


def test_growth_below_a_tenth_does_not_restart_the_quiet_time():
    gate, _ = learning_gate()
    probe = send(gate, task("f"))
    gate.started(probe, when=0.0)
    gate.running(probe, 500, when=0.5)
    gate.running(probe, 540, when=2.0)  # +8%: settled
    assert gate.early_memory("f", now=2.5) == 750  # 540 * 1.25 = 675 -> the 750 bucket


def test_at_most_what_the_pool_holds_at_once_goes_early():
    gate, _ = learning_gate()
    probe = send(gate, task("f"))
    gate.started(probe, when=0.0)
    gate.running(probe, 1500, when=0.1)  # -> 2000 MB early: the pool holds 3 + 1 = 4 of those at once
    gate._clock.now = 10.0  # settled long ago
    sent = [send(gate, task("f")) for _ in range(4)]
    assert all(t.early_memory == 2000 for t in sent)
    assert gate.held_back(task("f"))


def test_a_memory_hold_takes_the_early_size_back():
    gate, _ = learning_gate()
    probe = send(gate, task("f"))
    gate.started(probe, when=0.0)
    gate.running(probe, 100, when=0.0)
    gate._clock.now = 10.0
    early = send(gate, task("f"))
    assert early.early_memory == 250
    gate.ran_out(early, "disk")
    assert not gate.held_back(task("f"))
    gate.ran_out(early, "memory")
    assert gate.held_back(task("f"))


def test_a_probe_near_its_own_size_does_not_release_its_calls():
    gate, _ = learning_gate()
    probe = send(gate, task("f"))
    gate.started(probe, when=0.0)
    gate.running(probe, 5000, when=0.0)  # 5000 * 1.25 > the 6000 MB the probe has
    assert gate.early_memory("f", now=100.0) is None and gate.held_back(task("f"))


def test_without_early_release_calls_wait_for_the_probe_to_be_learned():
    gate, learned = learning_gate(early_release=False)
    probe = send(gate, task("f"))
    assert not gate.started(probe, when=0.0)
    assert not gate.running(probe, 100, when=0.0)
    assert gate.early_memory("f", now=100.0) is None and gate.held_back(task("f"))
    assert gate.finished(probe, when=5.0)
    assert gate.held_back(task("f"))  # ended, but not yet read from history
    learned.add("f")
    assert gate.learned(poll_started=6.0) and not gate.held_back(task("f"))


def test_a_slow_reporting_pool_waits_two_report_intervals():
    assert ProbeGate(lambda t: True, report_seconds=300).quiet_seconds == 600
    assert ProbeGate(lambda t: True, report_seconds=0.1).quiet_seconds == 2.0


def test_a_probe_that_cannot_start_holds_the_other_calls_back_until_it_does():
    gate, learned = learning_gate()
    learned.add("known")
    probe = send(gate, task("new"))
    known = task("known")
    gate._clock.now = PROBE_PATIENCE_S - 1
    assert not gate.held_back(known)  # a probe may wait a few negotiation cycles
    gate._clock.now = PROBE_PATIENCE_S
    assert gate.starving() and gate.held_back(known)  # now the pool must drain a machine for it
    gate._clock.now = PROBE_PATIENCE_S + DRAIN_LIMIT_S
    assert not gate.starving()  # a machine that never drains (a shared pool) must not stop the run
    gate.started(probe, when=gate._clock.now)
    assert not gate.starving() and not gate.held_back(known)
