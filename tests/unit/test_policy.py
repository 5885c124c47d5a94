"""The first-allocation formulas on cases computed by hand (the worked example of docs/labels.md)."""

from __future__ import annotations

import pytest

from condorexec.errors import InvalidSpecError
from condorexec.labels.policy import (
    BUCKET_SIZE,
    RESOURCES,
    AllocationMode,
    Bucket,
    Histogram,
    Label,
    Maximum,
    NoLargerAllocation,
    bucket_of,
    choose_label,
    first_allocation,
    retry_request,
)


def hist(resource: str, *buckets: tuple[int, int, float], max_seen: float | None = None) -> Histogram:
    bs = tuple(Bucket(v, c, w) for v, c, w in buckets)
    top = max_seen if max_seen is not None else (bs[-1].value if bs else 0.0)
    return Histogram(resource, bs, top, sum(b.count for b in bs))


# docs/labels.md, worked example: 8 tasks of ~200 MB for 10 s, 2 of ~700 MB for 20 s, a_m = 4000 MB.
# N = 10, tau = 120/10 = 12; bucket 250: C = 8, R = 40/10 = 4; bucket 750: C = 10, R = 0.
EXAMPLE = hist("memory", (250, 8, 80.0), (750, 2, 40.0), max_seen=700.0)


def test_bucket_sizes_are_work_queues():
    assert RESOURCES == ("cores", "memory", "disk")
    assert BUCKET_SIZE == {"cores": 1, "memory": 250, "disk": 250}


@pytest.mark.parametrize(("resource", "value", "key"), [
    ("memory", 1, 250), ("memory", 250, 250), ("memory", 250.01, 500), ("memory", 700, 750),
    ("memory", 0, 250),  # sampled as 0 by a short job: still the first bucket, not bucket 0
    ("disk", 1000, 1000), ("cores", 0.3, 1), ("cores", 1.0, 1), ("cores", 1.01, 2), ("cores", 3.5, 4),
])
def test_bucket_key_is_ceil_times_size(resource, value, key):
    assert bucket_of(resource, value) == key


def test_max_throughput_worked_example():
    # bucket 250: (8*4000/250 + 2) / (12 + 4) = 130/16 = 8.125
    # bucket 750: (10*4000/750 + 0) / (12 + 0) = 4.44  -> 250 wins
    assert first_allocation(EXAMPLE, AllocationMode.MAX_THROUGHPUT, 4000) == 250


def test_min_waste_worked_example():
    # bucket 250: 250*12 + 4000*4 = 19000;  bucket 750: 750*12 + 4000*0 = 9000 -> 750 wins
    assert first_allocation(EXAMPLE, AllocationMode.MIN_WASTE, 4000) == 750


def test_max_mode_adds_a_third_of_a_bucket():
    # 700 + floor(250/3) = 783 -> rounded up to 1000
    assert first_allocation(EXAMPLE, AllocationMode.MAX, 4000) == 1000
    # 400 + 83 = 483 -> 500; 417 + 83 = 500 -> 500 (already a boundary)
    assert first_allocation(hist("memory", (500, 1, 1.0), max_seen=400), AllocationMode.MAX, 4000) == 500
    assert first_allocation(hist("memory", (500, 1, 1.0), max_seen=417), AllocationMode.MAX, 4000) == 500
    # cores: floor(1/3) = 0, so just the max seen rounded up
    assert first_allocation(hist("cores", (3, 1, 1.0), max_seen=2.2), AllocationMode.MAX, 16) == 3


def test_max_mode_counts_exhausted_maximum():
    # the histogram's normal tasks stop at 500, but a task ran out at 1900: it needed at least that
    h = hist("memory", (500, 4, 4.0), max_seen=1900)
    assert first_allocation(h, AllocationMode.MAX, 8000) == 2000


def test_fixed_mode_is_the_maximum():
    assert first_allocation(EXAMPLE, AllocationMode.FIXED, 4000) == 4000


def test_a_bigger_retry_cost_moves_max_throughput_up():
    # with a_m = 1000 the retry is cheap: bucket 250 scores (8*4 + 2)/16 = 2.125, bucket 750 scores
    # (10*1000/750)/12 = 1.11 -> still 250.  Make the big tasks long (wall 400 s) and it flips:
    # tau = (80+800)/10 = 88, R(250) = 80: 250 -> (8*4+2)/168 = 0.202; 750 -> 13.33/88 = 0.152 -> 250.
    # Min waste with the long tasks: 250*88 + 1000*80 = 102000 vs 750*88 = 66000 -> 750.
    long_big = hist("memory", (250, 8, 80.0), (750, 2, 800.0))
    assert first_allocation(long_big, AllocationMode.MAX_THROUGHPUT, 1000) == 250
    assert first_allocation(long_big, AllocationMode.MIN_WASTE, 1000) == 750
    # and when the small tasks are rare, covering everyone wins even for throughput:
    # 250: (1*4 + 9)/(tau + R) with tau = 90.1, R = 90 -> 13/180.1 = 0.072; 750: 13.33/90.1 = 0.148
    few_small = hist("memory", (250, 1, 1.0), (750, 9, 900.0))
    assert first_allocation(few_small, AllocationMode.MAX_THROUGHPUT, 1000) == 750


def test_ties_go_to_the_smaller_bucket():
    # two buckets with identical score for min waste: 250*tau + a_m*R(250) == 500*tau
    # tau = (T1+T2)/2, R(250) = T2/2; with a_m = 500, T1 = T2 = 2: 250*2 + 500*1 = 1000 = 500*2
    h = hist("memory", (250, 1, 2.0), (500, 1, 2.0))
    assert first_allocation(h, AllocationMode.MIN_WASTE, 500) == 250


def test_result_never_exceeds_the_maximum():
    h = hist("memory", (750, 3, 3.0))
    assert first_allocation(h, AllocationMode.MIN_WASTE, 600) == 600
    assert first_allocation(h, AllocationMode.MAX, 600) == 600
    # a maximum that is not a bucket boundary is not rounded above itself
    assert first_allocation(hist("memory", (250, 3, 3.0)), AllocationMode.MAX_THROUGHPUT, 1100) == 250


def test_zero_usage_tasks_label_one_bucket_not_the_maximum():
    h = hist("cores", (1, 5, 5.0), max_seen=0.0)  # five jobs that showed CpusUsage 0.0
    for mode in (AllocationMode.MAX_THROUGHPUT, AllocationMode.MIN_WASTE, AllocationMode.MAX):
        assert first_allocation(h, mode, 16) == 1


def test_zero_wall_time_does_not_divide_by_zero():
    h = hist("memory", (250, 2, 0.0), (500, 2, 0.0))
    assert first_allocation(h, AllocationMode.MAX_THROUGHPUT, 2000) == 250
    assert first_allocation(h, AllocationMode.MIN_WASTE, 2000) == 250


def test_empty_histogram_is_learning():
    empty = Histogram("memory", (), 0.0, 0)
    for mode in (AllocationMode.MAX_THROUGHPUT, AllocationMode.MIN_WASTE, AllocationMode.MAX):
        assert first_allocation(empty, mode, 4000) is None


def _hists(n: int) -> dict[str, Histogram]:
    return {"cores": hist("cores", (1, n, 10.0 * n)), "memory": hist("memory", (500, n, 10.0 * n)),
            "disk": hist("disk", (250, n, 10.0 * n))}


def test_choose_label_learns_after_window():
    maximum = Maximum(cores=8, memory=16000, disk=50000)
    learning = Label(None, None, None)
    assert choose_label(_hists(4), AllocationMode.MAX_THROUGHPUT, maximum, window=5) == learning
    assert choose_label(_hists(5), AllocationMode.MAX_THROUGHPUT, maximum, window=5) == Label(1, 500, 250)
    assert choose_label(_hists(5), "max", maximum, window=5) == Label(1, 750, 500)  # 500+83, 250+83
    assert choose_label(_hists(1), "fixed", maximum, window=5) == Label(8, 16000, 50000)


@pytest.mark.parametrize(("call", "field"), [
    (lambda: choose_label(_hists(3), "max", Maximum(1, 1, 1), window=0), "window"),
    (lambda: choose_label({"cores": _hists(1)["cores"]}, "max", Maximum(1, 1, 1), 1), "histograms"),
    (lambda: first_allocation(EXAMPLE, "max", -5), "maximum"),
    (lambda: first_allocation(Histogram("gpus", (), 0.0, 0), "max", 5), "resource"),
    (lambda: first_allocation(Histogram("memory", (Bucket(250, 2, 1.0),), 0.0, 3), "max", 5),
     "histogram.total"),
    (lambda: bucket_of("memory", float("nan")), "memory"),
])
def test_bad_input_names_the_field(call, field):
    with pytest.raises(InvalidSpecError) as info:
        call()
    assert info.value.field == field


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="greedy"):
        first_allocation(EXAMPLE, "greedy", 4000)


def test_retry_goes_to_the_maximum():
    assert retry_request("memory", exhausted_at=1030.0, first=1000, maximum=16000) == 16000
    assert retry_request("cores", exhausted_at=2.0, first=1, maximum=8) == 8


def test_no_retry_when_nothing_larger_exists():
    with pytest.raises(NoLargerAllocation, match="memory"):
        retry_request("memory", exhausted_at=16500, first=1000, maximum=16000)
    with pytest.raises(NoLargerAllocation):
        retry_request("memory", exhausted_at=900, first=16000, maximum=16000)
    with pytest.raises(InvalidSpecError):
        retry_request("gpus", exhausted_at=1, first=1, maximum=2)
