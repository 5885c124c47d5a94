"""mode="auto" (condorexec/core/modes.py): which side a category is on, and that it does not flip near the line."""

from __future__ import annotations

from condorexec.core.modes import HYSTERESIS, PER_CALL, SHORT_FACTOR, WORKERS, AutoRouter


def test_a_category_near_the_threshold_stays_on_its_side():
    walls = {"c": 0.5}
    router = AutoRouter(0.1, walls.get)
    threshold = SHORT_FACTOR * 0.1
    assert router.choice("c") == WORKERS
    walls["c"] = threshold * 1.1  # over the line, within the hysteresis
    assert router.choice("c") == WORKERS
    walls["c"] = threshold * HYSTERESIS * 1.01
    assert router.choice("c") == PER_CALL
    walls["c"] = threshold * 0.9  # back under the line, within the hysteresis
    assert router.choice("c") == PER_CALL
    walls["c"] = threshold / HYSTERESIS * 0.99
    assert router.choice("c") == WORKERS


def test_an_unmeasured_category_is_timed_by_one_call_of_its_own():
    walls: dict[str, float] = {}
    router = AutoRouter(0.1, walls.get)
    assert router.choice("new") is None
