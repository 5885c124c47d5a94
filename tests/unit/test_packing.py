"""The packing decisions of slot workers (condorexec/core/packing.py), on plain values."""

from __future__ import annotations

from condorexec.core import packing
from condorexec.core.packing import Offer
from condorexec.pools.base import Machine
from condorexec.resources import Resources

ONE = Resources(1, 400, 50)
TWO = Resources(2, 800, 50)
BIG = Machine("big", 6, 6000, 20000)
SMALL = Machine("small", 3, 3000, 20000)


def offer(key, size, committed=packing.ZERO, backlog=0.0, holding=0):
    return Offer(key, size, committed, backlog, holding)


def test_a_call_goes_where_it_starts_at_once_best_fit_first():
    roomy = offer("roomy", Resources(6, 6000, 1000))
    snug = offer("snug", Resources(2, 1000, 1000), committed=ONE, holding=1)
    assert packing.choose_worker(ONE, [roomy, snug], known_seconds=None, target_seconds=0.05, max_holding=9) == "snug"
    assert packing.choose_worker(TWO, [roomy, snug], known_seconds=None, target_seconds=0.05, max_holding=9) == "roomy"


def test_a_call_of_unknown_length_never_queues_behind_others():
    full = offer("full", Resources(1, 1000, 100), committed=ONE, backlog=0.0, holding=1)
    assert packing.choose_worker(ONE, [full], known_seconds=None, target_seconds=0.05, max_holding=9) is None


def test_a_known_call_queues_up_to_a_round_beyond_what_runs_or_the_target():
    full = offer("full", Resources(1, 1000, 100), committed=ONE, backlog=0.2, holding=1)
    assert packing.choose_worker(ONE, [full], known_seconds=0.2, target_seconds=0.05, max_holding=9) == "full"
    deeper = offer("full", Resources(1, 1000, 100), committed=ONE, backlog=0.4, holding=2)
    assert packing.choose_worker(ONE, [deeper], known_seconds=0.2, target_seconds=0.05, max_holding=9) is None
    tiny = offer("t", Resources(1, 1000, 100), committed=ONE, backlog=0.04, holding=80)
    assert packing.choose_worker(ONE, [tiny], known_seconds=0.0005, target_seconds=0.05, max_holding=99) == "t"
    assert packing.choose_worker(ONE, [tiny], known_seconds=0.0005, target_seconds=0.05, max_holding=80) is None


def test_a_call_bigger_than_a_worker_never_goes_to_it():
    small = offer("small", Resources(1, 1000, 100))
    assert packing.choose_worker(TWO, [small], known_seconds=0.001, target_seconds=1, max_holding=9) is None


def test_a_worker_is_sized_to_what_waits_and_fits_the_machine_largest_first():
    waiting = {ONE: 60, TWO: 1}
    size = packing.absorb(waiting, SMALL.resources)
    assert size == Resources(3, 1200, 100)  # the two-core call and one one-core call
    assert waiting == {ONE: 59}
    assert packing.absorb({ONE: 2}, BIG.resources) == Resources(2, 800, 100), "no more than what waits"
    assert packing.absorb({TWO: 1}, Resources(1, 6000, 100)) == packing.ZERO


def test_a_worker_gets_for_each_core_the_most_per_core_of_the_calls_seen():
    shape = packing.at_least(packing.per_core(ONE), packing.per_core(Resources(3, 1200, 50)))
    assert shape == Resources(1, 400, 50)
    assert packing.widened(Resources(3, 1200, 50), shape, BIG.resources) == Resources(3, 1200, 150)
    assert packing.widened(Resources(2, 450, 50), shape, Resources(2, 600, 60)) == Resources(2, 600, 60)


def test_placement_puts_known_workers_where_they_run_and_the_rest_first_fit_decreasing():
    rooms, where = packing.placement([BIG, SMALL], [("a", Resources(3, 1000, 10), 1),
                                                    ("b", Resources(4, 100, 10), None),
                                                    ("c", Resources(9, 100, 10), None)])
    assert where == {"a": 1, "b": 0}, "c fits nowhere and is left out"
    assert rooms == [Resources(2, 5900, 19990), Resources(0, 2000, 19990)]


def test_remote_host_names_the_machine():
    machines = [Machine("slot1@host", 1, 1024, 100), Machine("slot2@host", 1, 4096, 100), Machine("node9", 2, 1, 1)]
    assert packing.machine_of("slot2_7@host", machines) == 1
    assert packing.machine_of("slot1_1@node9", machines) == 2
    assert packing.machine_of("slot1_1@elsewhere", machines) is None


def test_draining_frees_one_machine_with_the_least_work():
    workers = [("w1", Resources(1, 1000, 10), 0, 5.0), ("w2", Resources(2, 1000, 10), 0, 0.1),
               ("w3", Resources(3, 1000, 10), 1, 0.0)]
    rooms, _ = packing.placement([BIG, SMALL], [(k, r, m) for k, r, m, _ in workers])
    assert rooms[0].cores == 3 and rooms[1].cores == 0
    assert packing.to_drain(Resources(3, 500, 10), [BIG, SMALL], rooms, workers) == [], "room enough already"
    assert packing.to_drain(Resources(4, 500, 10), [BIG, SMALL], rooms, workers) == ["w2"]
    assert packing.to_drain(Resources(7, 500, 10), [BIG, SMALL], rooms, workers) == [], "no machine is that big"
