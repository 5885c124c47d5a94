"""The learning rule, once: what one more finished job changes in a category (a pure fold over samples).

Both the label store (:meth:`LabelStore.add_samples` and :meth:`LabelStore.label`, which keep the fold's
state in SQLite) and the plot's replay (:func:`condorexec.labels.explain.replay_labels`, which keeps it in
memory) apply these functions, so the two cannot drift apart:

* :func:`learns_from`: a sample of a job that completed before the app's code last changed is kept raw
  but not learned from (docs/labels.md, "When the app changes");
* :func:`learn`: a sample above a maximum seen (rounded up to its bucket) is a *new maximum* at the
  current completion count; every sample raises the maxima; a normal completion (not exhausted) adds
  one job and its wall time to one bucket per resource;
* :func:`progress`: Work Queue's learning resets — a new maximum seen while fewer than ``window``
  completions have passed since the last reset starts the count again — and the *epoch* the label
  belongs to (a label is recomputed only when another ``window`` completions have arrived).

Mean wall time has one home here too (:func:`mean_wall`, :class:`WallTimes`): the samples of the current
code only, the same rule the histograms follow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from condorexec.labels.policy import RESOURCES, AllocationMode, Bucket, Histogram, bucket_of, round_up

if TYPE_CHECKING:
    from condorexec.labels.store import Sample

#: how many of a category's newest completed samples its mean wall time is taken over
RECENT_WALLS = 20

#: weight of the newest call in a running mean of wall time
WALL_WEIGHT = 0.2


def learns_from(sample: Sample, code_changed_at: float | None) -> bool:
    """Whether ``sample`` counts for its category: not if its job completed before the app's code changed."""
    return code_changed_at is None or sample.completed_at >= code_changed_at


class Totals(NamedTuple):
    """A category's running totals, as the store's ``category`` row keeps them: normal completions
    (= each histogram's total), every sample (exhausted ones included), and the maximum seen per
    resource, in RESOURCES order (None before the first sample)."""

    completions: int = 0
    samples: int = 0
    max_seen: tuple[float | None, ...] = (None,) * len(RESOURCES)


class Learned(NamedTuple):
    """What one sample changed: the totals after it; the completion count at which it was a new
    maximum (None if it was not); and the (resource, bucket value) pairs that gain one job and its
    wall time (none for an exhausted job, whose usage counts only toward the maxima)."""

    totals: Totals
    new_max_at: int | None
    buckets: tuple[tuple[str, int], ...]


def learn(totals: Totals, sample: Sample) -> Learned:
    """One step of the fold: ``sample`` learned by a category whose totals were ``totals``.
    (Plain loops and named tuples: the plot replays thousands of samples through this.)"""
    new_max = False
    max_seen = []
    completed = sample.exhausted is None
    buckets = []
    for r, m in zip(RESOURCES, totals.max_seen, strict=True):
        used = sample.usage(r)
        if not new_max and (m is None or used > round_up(r, m)):
            new_max = True
        max_seen.append(max(used, m or 0.0))
        if completed:
            buckets.append((r, bucket_of(r, used)))
    after = Totals(totals.completions + completed, totals.samples + 1, tuple(max_seen))
    return Learned(after, totals.completions if new_max else None, tuple(buckets))


class Progress(NamedTuple):
    """Where a category stands in learning for one ``window``."""

    reset_at: int  # the completion count of the last reset
    since_reset: int  # normal completions since then
    window: int

    @property
    def steady(self) -> bool:
        """Left learning: ``window`` completions since the last reset."""
        return self.since_reset >= self.window

    @property
    def epoch(self) -> tuple[int, int]:
        """Which label this is: it changes at a reset and every ``window`` completions after it."""
        return self.reset_at, self.since_reset // self.window

    def asks_maximum(self, mode: AllocationMode) -> bool:
        """Whether jobs get the maximum (no label) now: while learning, except in FIXED mode
        (``mode`` an AllocationMode: callers convert it once, not per sample)."""
        return mode is not AllocationMode.FIXED and not self.steady


def progress(new_max_at: Iterable[int], completions: int, window: int) -> Progress:
    """Replay Work Queue's learning resets over the completion counts at which new maxima appeared
    (in increasing order): one seen while still learning (fewer than ``window`` completions since the
    last reset) starts the count again."""
    last_reset = 0
    for at in new_max_at:
        if at - last_reset < window:
            last_reset = at
    return Progress(last_reset, completions - last_reset, window)


@dataclass
class Tally:
    """The fold's whole state in memory, for a replay: totals, new-maximum events and bucket sums."""

    totals: Totals = field(default_factory=Totals)
    new_max_at: list[int] = field(default_factory=list)
    sums: dict[str, dict[int, list[float]]] = field(default_factory=lambda: {r: {} for r in RESOURCES})  # [count, wall]

    def add(self, sample: Sample) -> Learned:
        step = learn(self.totals, sample)
        self.totals = step.totals
        if step.new_max_at is not None:
            self.new_max_at.append(step.new_max_at)
        for r, value in step.buckets:
            bucket = self.sums[r].setdefault(value, [0, 0.0])
            bucket[0] += 1
            bucket[1] += sample.wall_s
        return step

    def progress(self, window: int) -> Progress:
        return progress(self.new_max_at, self.totals.completions, window)

    def histograms(self) -> dict[str, Histogram]:
        return {r: Histogram(r, tuple(Bucket(v, int(c), w) for v, (c, w) in sorted(self.sums[r].items())),
                             m or 0.0, self.totals.completions)
                for r, m in zip(RESOURCES, self.totals.max_seen, strict=True)}


# ---- mean wall time ----------------------------------------------------------------------------

def running_mean(old: float | None, new: float) -> float:
    """The running mean of wall time after one more call took ``new`` seconds."""
    return new if old is None else (1 - WALL_WEIGHT) * old + WALL_WEIGHT * new


def mean_wall(recent: Sequence[Sample], code_changed_at: float | None) -> float | None:
    """The mean wall time of the newest RECENT_WALLS samples of ``recent`` (oldest first) that
    completed normally with the current code; None if there are none."""
    walls = [s.wall_s for s in recent[-RECENT_WALLS:] if s.exhausted is None and learns_from(s, code_changed_at)]
    return sum(walls) / len(walls) if walls else None


class WallTimes:
    """Each category's mean wall time while a run goes on: first the learned one (``seed``, e.g.
    :meth:`LabelStore.mean_wall`), then a running mean as its calls finish. Not thread-safe on its own:
    its owner's lock guards it."""

    def __init__(self, seed: Callable[[str], float | None] | None = None):
        self._seed = seed
        self._walls: dict[str, float | None] = {}

    def note(self, category: str, wall: float) -> None:
        """One more call of ``category`` took ``wall`` seconds."""
        self._walls[category] = running_mean(self._walls.get(category), wall)

    def of(self, category: str) -> float | None:
        """The category's mean wall time, or None if it was never measured."""
        if category not in self._walls:
            self._walls[category] = self._seed(category) if self._seed is not None else None
        return self._walls[category]

