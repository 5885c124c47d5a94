"""Packing calls into slot workers, and slot workers into machines: pure decisions (docs/design.md §8).

A slot worker holds a share of one machine and runs calls of any size side by side as they fit in it.
The fleet (``core/fleet.py``) keeps the state; the rules that decide live here, as functions of plain
values, so they can be read and tested on their own:

- **Which worker takes a call** (:func:`choose_worker`): one where it starts at once, best fit (the worker
  left with the least room, so bigger free shares stay whole for bigger calls); otherwise, for a call
  whose category's length is known, the worker holding the least work, up to a round of calls beyond
  what it runs at once or ``target_seconds`` of work per core (pilot speed: the next call is already there
  when one ends, and for calls of a millisecond, many are); otherwise none, and the call waits (calls of
  unknown length never queue behind others in a worker). A length misjudged is mended by the fleet, which
  takes calls that have not started back from a worker when another is free to run them.
- **What size of worker to ask for** (:func:`absorb`): what waits can use at once — as many of the
  waiting calls as fit on the machine it is meant for, largest first, added up. Its shape follows the
  calls' (no cores without the memory to use them), and good citizenship on a shared pool follows too: no
  more than what waits can use, never a whole machine for three small calls.
- **Where workers sit** (:func:`placement`): first fit decreasing of the workers' requests onto the
  pool's machine shapes. The negotiator decides the real placement; this model is what the fleet budgets
  with, so it never asks for more than the machines hold (and never for a worker no machine can run).
- **Which workers make room** (:func:`to_drain`): when a call fits no worker and no machine has room for
  a worker that fits it, the fewest workers (by the work they hold) on the one machine where their
  shares together make room; they get nothing new, and each leaves as soon as its calls are done.

Work Queue's manager packs tasks into workers much the same way (cctools ``work_queue.c``: a task goes to
a worker whose free resources cover it), but its workers are whole machines started by someone else; here
the submit side also decides what to ask HTCondor for.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from condorexec.pools.base import Machine
from condorexec.resources import Resources

ZERO = Resources(0, 0, 0, 0)

#: what names a worker (the fleet's names are strings; tests use anything hashable)
K = TypeVar("K", bound=Hashable)


def plus(a: Resources, b: Resources) -> Resources:
    return Resources(a.cores + b.cores, a.memory + b.memory, a.disk + b.disk, a.gpus + b.gpus)


def minus(a: Resources, b: Resources) -> Resources:
    return Resources(a.cores - b.cores, a.memory - b.memory, a.disk - b.disk, a.gpus - b.gpus)


def times(a: Resources, n: int) -> Resources:
    return Resources(a.cores * n, a.memory * n, a.disk * n, a.gpus * n)


def at_least(a: Resources, b: Resources) -> Resources:
    """Each resource's larger value of the two."""
    return Resources(max(a.cores, b.cores), max(a.memory, b.memory), max(a.disk, b.disk), max(a.gpus, b.gpus))


def at_most(a: Resources, b: Resources) -> Resources:
    """Each resource's smaller value of the two."""
    return Resources(min(a.cores, b.cores), min(a.memory, b.memory), min(a.disk, b.disk), min(a.gpus, b.gpus))


@dataclass(frozen=True)
class Offer(Generic[K]):
    """What one worker can take now, as :func:`choose_worker` sees it."""

    key: K
    size: Resources  # what its calls may use together
    committed: Resources  # the sizes of the calls it holds (running, or waiting in it)
    backlog_s: float  # seconds of work it holds per core, by its calls' expected lengths
    holding: int  # calls it holds

    @property
    def free(self) -> Resources:
        return minus(self.size, self.committed)


def choose_worker(size: Resources, offers: Sequence[Offer[K]], *, known_seconds: float | None,
                  target_seconds: float, max_holding: int) -> K | None:
    """The key of the worker that takes a call of ``size`` now, or None (see the module docstring).

    ``known_seconds``: how long the call is expected to take (None: unknown). A worker that cannot start it
    at once still takes it while what it holds, this call included, is at most ``target_seconds`` or two
    of these calls' worth of work per core: the next round of calls is already there when one ends."""
    now = [o for o in offers if size.fits_in(o.free)]
    if now:
        return min(now, key=lambda o: (minus(o.free, size).ordering_key(), o.backlog_s)).key
    if known_seconds is None:
        return None
    ahead = [o for o in offers if size.fits_in(o.size) and o.holding < max_holding
             and o.backlog_s + known_seconds * max(size.cores, 1) / max(o.size.cores, 1)
             <= max(target_seconds, 2 * known_seconds)]
    return min(ahead, key=lambda o: o.backlog_s).key if ahead else None


def how_many(size: Resources, room: Resources) -> int:
    """How many calls of ``size`` fit in ``room`` at once."""
    counts = [room.get(r) // size.get(r) for r in ("cores", "memory", "disk", "gpus") if size.get(r) > 0]
    return max(0, min(counts)) if counts else 0


def absorb(waiting: dict[Resources, int], room: Resources) -> Resources:
    """Take from ``waiting`` (size -> count, changed in place) as many calls as fit in ``room`` at once,
    largest first; what they add up to (ZERO if none fits)."""
    taken = ZERO
    for size in sorted(waiting, key=lambda s: s.ordering_key(), reverse=True):
        n = min(waiting[size], how_many(size, minus(room, taken)))
        if n:
            taken = plus(taken, times(size, n))
            waiting[size] -= n
            if not waiting[size]:
                del waiting[size]
    return taken


def machine_of(remote_host: str, machines: Sequence[Machine]) -> int | None:
    """Which of ``machines`` a running job sits on, from its ``RemoteHost`` (``slot1_3@host``: dynamic slot 3
    of partitionable slot 1 on ``host``), where machines are named by the partitionable slot's ``Name``
    (``slot1@host``, several on one host) or by the host (one on it); None if it names none of them."""
    slot, _, host = str(remote_host).rpartition("@")
    partitionable = f"{slot.rsplit('_', 1)[0]}@{host}" if slot else host
    for i, machine in enumerate(machines):
        if machine.name in (partitionable, host):
            return i
    return None


def per_core(size: Resources) -> Resources:
    """What ``size`` asks for each of its cores (memory and disk rounded up; at least one core)."""
    cores = max(size.cores, 1)
    return Resources(1, -(-size.memory // cores), -(-size.disk // cores), -(-size.gpus // cores))


def widened(size: Resources, shape: Resources, room: Resources) -> Resources:
    """``size`` with, for each of its cores, at least ``shape``'s memory and disk (the most per core of the
    calls seen), as far as ``room`` allows: a worker sized for a three-core call then still runs three
    one-core calls, whose memory and disk need not add up to the big call's — and holds no more than
    what the calls it serves could use."""
    wanted = times(Resources(0, shape.memory, shape.disk, 0), max(size.cores, 1))
    return at_least(size, at_most(wanted, Resources(size.cores, room.memory, room.disk, size.gpus)))


def placement(machines: Sequence[Machine], requests: Sequence[tuple[K, Resources, int | None]]
              ) -> tuple[list[Resources], dict[K, int]]:
    """Each machine's room once ``requests`` — (key, request, the machine it is known to sit on or None)
    — are placed: the known ones where they are, the others first fit decreasing (largest first), as the
    fleet's model of what the negotiator will do; and where each sits in that model (a request that fits
    nowhere is left out: the negotiator would leave it idle too)."""
    rooms = [m.resources for m in machines]
    where: dict[K, int] = {}
    for key, request, known in requests:
        if known is not None and 0 <= known < len(rooms):
            rooms[known] = minus(rooms[known], request)
            where[key] = known
    unknown = [(key, request) for key, request, known in requests if key not in where]
    for key, request in sorted(unknown, key=lambda kr: kr[1].ordering_key(), reverse=True):
        for i, room in enumerate(rooms):
            if request.fits_in(room):
                rooms[i] = minus(room, request)
                where[key] = i
                break
    return rooms, where


def to_drain(request: Resources, machines: Sequence[Machine], rooms: Sequence[Resources],
             workers: Sequence[tuple[K, Resources, int, float]]) -> list[K]:
    """Keys of the workers to drain so that a worker of ``request`` finds room: ``rooms`` as
    :func:`placement` gives them, ``workers`` as (key, its request, its machine, the work it holds in
    seconds). On each machine, the workers holding the least work go first; the machine that needs the
    least work drained wins. Empty if no machine can make room."""
    best: tuple[float, list[K]] | None = None
    for i, machine in enumerate(machines):
        if not request.fits_in(machine.resources):
            continue
        room, chosen, work = rooms[i], [], 0.0
        for key, size, _where, held in sorted((w for w in workers if w[2] == i), key=lambda w: w[3]):
            if request.fits_in(room):
                break
            room, work = plus(room, size), work + held
            chosen.append(key)
        if request.fits_in(room) and (best is None or work < best[0]):
            best = (work, chosen)
    return best[1] if best else []
