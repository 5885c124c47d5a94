"""First-allocation policy: from a category's usage histograms to the resources its next job asks for.

This is Work Queue's algorithm (cctools ``dttools/src/category.c`` and ``histogram.c``), restated as
pure functions so that it can be tested on hand-computed cases and replayed from the label store.
The formulas, the deviations from Work Queue and a worked example are in ``docs/labels.md``.

Nothing here does I/O; the store (``store.py``) keeps the histograms and decides *when* a label is
recomputed, this module decides *what* it is.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping
from dataclasses import dataclass

from condorexec.errors import CondorexecError, InvalidSpecError
from condorexec.resources import SIZED, Resource

#: the resources autolabel learns: every sized one (cores, MB, MB), named as resources.py names them
RESOURCES: tuple[Resource, ...] = SIZED

#: Work Queue's default bucket sizes (cores 1, memory 250 MB, disk 250 MB)
BUCKET_SIZE = {"cores": 1, "memory": 250, "disk": 250}


class AllocationMode(str, enum.Enum):
    """How the first allocation is chosen once a category has enough completions."""

    MAX_THROUGHPUT = "max_throughput"  #: Work Queue's default: most tasks per unit of resource and time
    MIN_WASTE = "min_waste"  #: least resource x time wasted, counting failed first attempts
    MAX = "max"  #: the largest usage seen plus a third of a bucket
    FIXED = "fixed"  #: no learning: always the maximum


@dataclass(frozen=True)
class Bucket:
    """Tasks whose peak fell in ``(value - bucket size, value]``: how many, and their summed wall time."""

    value: int
    count: int
    wall_s: float


@dataclass(frozen=True)
class Histogram:
    """One resource's usage histogram for one category.

    ``buckets`` hold only tasks that finished normally, sorted by value; ``total`` is their number
    (the sum of the counts). ``max_seen`` is the largest peak of *any* task, exhausted ones included:
    a task that ran out of memory at 2000 MB needed at least that much."""

    resource: str
    buckets: tuple[Bucket, ...]
    max_seen: float
    total: int


@dataclass(frozen=True)
class Label:
    """A category's first allocation; ``None`` for a resource means "request the maximum"."""

    cores: int | None
    memory: int | None
    disk: int | None


@dataclass(frozen=True)
class Maximum:
    """The most a job can be given: the largest machine's slot, or a configured cap."""

    cores: int
    memory: int
    disk: int


class NoLargerAllocation(CondorexecError):
    """A job exhausted a resource and there is no larger allocation to retry it with."""

    def __init__(self, resource: str, exhausted_at: float, first: int, maximum: int):
        self.resource, self.exhausted_at, self.first, self.maximum = resource, exhausted_at, first, maximum
        super().__init__(
            f"the job ran out of {resource} at {exhausted_at:g} (it was given {first}) and the maximum "
            f"available is {maximum}: it cannot be retried with more"
        )


def _check_resource(resource: str) -> None:
    if resource not in BUCKET_SIZE:
        raise InvalidSpecError("resource", resource, f"must be one of {', '.join(RESOURCES)}")


def _check_number(field: str, value: float, *, positive: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if not ok or value < 0 or (positive and value <= 0):
        raise InvalidSpecError(field, value, "must be a finite number " + ("> 0" if positive else ">= 0"))


def bucket_of(resource: str, value: float) -> int:
    """The bucket a usage falls in: ``ceil(value / b) * b``, but never below one bucket.

    Work Queue keys a zero usage to bucket 0 and then skips that bucket when choosing; HTCondor samples
    usage, so short jobs often report 0 cores or 0 MB, and a job still needs a nonzero request. Keying
    them to the first bucket keeps them in the statistics instead of pushing the label to the maximum."""
    _check_resource(resource)
    _check_number(resource, value)
    b = BUCKET_SIZE[resource]
    return max(b, math.ceil(value / b) * b)


def round_up(resource: str, value: float) -> int:
    """Round a value up to its bucket boundary (Work Queue's ``histogram_round_up``)."""
    return bucket_of(resource, value)


def _accumulate(hist: Histogram) -> tuple[list[int], list[int], list[float], float]:
    """Per bucket i: C(i) (tasks at or below it), R(i) (wall time of tasks above it / N), and tau-bar."""
    n = hist.total
    counts_accum: list[int] = []
    running = 0
    for b in hist.buckets:
        running += b.count
        counts_accum.append(running)
    times_above: list[float] = [0.0] * len(hist.buckets)
    for i in range(len(hist.buckets) - 2, -1, -1):
        times_above[i] = times_above[i + 1] + hist.buckets[i + 1].wall_s / n
    tau_mean = sum(b.wall_s for b in hist.buckets) / n
    return [b.value for b in hist.buckets], counts_accum, times_above, tau_mean


def _max_throughput(hist: Histogram, a_m: float) -> float:
    """argmax over bucket a of [C(a)·a_m/a + (N − C(a))] / [τ̄ + R(a)]; the smallest a wins ties."""
    keys, counts_accum, times_above, tau_mean = _accumulate(hist)
    best_a, best_t = a_m, 0.0
    for a, c, r in zip(keys, counts_accum, times_above, strict=True):
        denominator = tau_mean + r
        if denominator <= 0:  # every task took 0 s: throughput is unbounded, prefer the smallest bucket
            return a
        t = (c * a_m / a + (hist.total - c)) / denominator
        if t > best_t:
            best_a, best_t = a, t
    return best_a


def _min_waste(hist: Histogram, a_m: float) -> float:
    """argmin over bucket a of a·τ̄ + a_m·R(a); the smallest a wins ties."""
    keys, _, times_above, tau_mean = _accumulate(hist)
    best_a, best_e = a_m, math.inf
    for a, r in zip(keys, times_above, strict=True):
        e = a * tau_mean + a_m * r
        if e < best_e:
            best_a, best_e = a, e
    return best_a


def _check_histogram(hist: Histogram) -> None:
    _check_resource(hist.resource)
    if hist.total != sum(b.count for b in hist.buckets):
        raise InvalidSpecError("histogram.total", hist.total, "must equal the sum of the bucket counts")
    values = [b.value for b in hist.buckets]
    if values != sorted(set(values)):
        raise InvalidSpecError("histogram.buckets", values, "must be sorted by value without repeats")
    for b in hist.buckets:
        if b.count < 1 or b.wall_s < 0 or b.value < 1:
            raise InvalidSpecError("histogram bucket", b, "needs value >= 1, count >= 1 and wall_s >= 0")


def wanted_allocation(hist: Histogram, mode: AllocationMode, maximum: float) -> int | None:
    """The first allocation of one resource *before* it is capped at ``maximum``, or ``None`` while
    there is nothing to learn from.

    It can be above the maximum when the histogram was learned where machines are bigger (a label
    store shared between pools: the chosen bucket is above this pool's maximum) or, in ``max`` mode,
    through the third-of-a-bucket headroom; the
    report says so (:func:`condorexec.labels.explain.clipping`). Jobs always get
    :func:`first_allocation`, which caps it."""
    mode = AllocationMode(mode)
    _check_number("maximum", maximum, positive=True)
    _check_histogram(hist)
    if mode is AllocationMode.FIXED:
        return math.floor(maximum)
    if hist.total < 1:
        return None
    if mode is AllocationMode.MAX:
        b = BUCKET_SIZE[hist.resource]
        return round_up(hist.resource, hist.max_seen + b // 3)
    if mode is AllocationMode.MIN_WASTE:
        return round_up(hist.resource, _min_waste(hist, maximum))
    return round_up(hist.resource, _max_throughput(hist, maximum))


def first_allocation(hist: Histogram, mode: AllocationMode, maximum: float) -> int | None:
    """The first allocation of one resource, or ``None`` while there is nothing to learn from.

    ``maximum`` is a_m: what a job that exhausts its first allocation is retried with, so also the cost
    of a wrong guess. The result is never above it, and (except in ``fixed`` mode) is a bucket boundary
    unless the maximum itself is not one."""
    wanted = wanted_allocation(hist, mode, maximum)
    if wanted is None:
        return None
    # a request above the largest machine would never match (Work Queue clips only before rounding;
    # capping after rounding gives the same for every chosen bucket, and also caps max mode's headroom)
    return max(1, min(wanted, math.floor(maximum)))


def choose_label(
    hists: Mapping[str, Histogram], mode: AllocationMode, maximum: Maximum, window: int
) -> Label:
    """The label for a category: ``Label(None, None, None)`` (= request the maximum) until it has
    ``window`` normal completions, then each resource's :func:`first_allocation`."""
    if not isinstance(window, int) or isinstance(window, bool) or window < 1:
        raise InvalidSpecError("window", window, "must be an integer >= 1")
    missing = [r for r in RESOURCES if r not in hists]
    if missing:
        raise InvalidSpecError("histograms", sorted(hists), f"lack {', '.join(missing)}")
    completions = min(hists[r].total for r in RESOURCES)
    if AllocationMode(mode) is not AllocationMode.FIXED and completions < window:
        return Label(None, None, None)
    return Label(**{r: first_allocation(hists[r], mode, getattr(maximum, r)) for r in RESOURCES})


def retry_request(resource: str, exhausted_at: float, first: int, maximum: int) -> int:
    """What a job that exhausted its first allocation of ``resource`` is retried with: the maximum,
    as in Work Queue.

    Raises :class:`NoLargerAllocation` when the maximum is no larger than what the job was given or
    than the usage it was stopped at; a retry would only fail the same way, so the caller should fail
    the job with that reason."""
    _check_resource(resource)
    _check_number("exhausted_at", exhausted_at)
    _check_number("first", first)
    _check_number("maximum", maximum, positive=True)
    if maximum <= first or maximum <= exhausted_at:
        raise NoLargerAllocation(resource, exhausted_at, first, maximum)
    return int(maximum)
