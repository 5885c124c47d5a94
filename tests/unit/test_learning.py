"""The learning rule's one home: the store's SQLite state and the in-memory Tally fold alike, and mean
wall time agrees everywhere about samples from before a code change."""

from __future__ import annotations

from condorexec.labels.learning import Tally, Totals, WallTimes, learn, mean_wall, progress, running_mean
from condorexec.labels.store import LabelStore, Sample


def _sample(i: int, memory: float, wall: float = 1.0, exhausted: str | None = None, at: float | None = None) -> Sample:
    return Sample("c", f"1.{i}", 1.0, memory, 10.0, wall, exhausted, float(i) if at is None else at)


def test_learn_reports_new_maxima_and_buckets():
    first = learn(Totals(), _sample(0, 100.0))
    assert first.new_max_at == 0 and first.totals == Totals(1, 1, (1.0, 100.0, 10.0))
    assert dict(first.buckets)["memory"] == 250  # memory buckets are 250 MB wide
    same_bucket = learn(first.totals, _sample(1, 240.0))
    assert same_bucket.new_max_at is None  # within the maximum's bucket: not a new maximum
    exhausted = learn(same_bucket.totals, _sample(2, 900.0, exhausted="memory"))
    assert exhausted.new_max_at == 2 and exhausted.buckets == ()
    assert exhausted.totals.completions == 2 and exhausted.totals.samples == 3


def test_progress_resets_only_while_learning():
    assert progress([0, 1], 5, 3) == progress([1], 5, 3)  # the second maximum came while learning
    assert progress([0, 1], 5, 3).since_reset == 4
    assert progress([0, 4], 5, 3).reset_at == 0  # steady by then: no reset
    assert progress([0, 4], 5, 3).epoch == (0, 1)


def test_tally_and_store_hold_the_same_state(tmp_path):
    samples = [_sample(i, m, wall=float(i + 1)) for i, m in enumerate([100, 600, 300, 2000, 50])]
    samples.append(_sample(5, 4000, exhausted="memory"))
    tally = Tally()
    for s in samples:
        tally.add(s)
    with LabelStore(tmp_path / "l.sqlite") as store:
        store.add_samples(samples)
        assert store.histograms("c") == tally.histograms()
        for window in (1, 2, 3):
            assert store.in_steady_state("c", window) == tally.progress(window).steady


def test_mean_wall_ignores_samples_of_the_old_code(tmp_path):
    old = [_sample(i, 100.0, wall=100.0) for i in range(3)]
    new = [_sample(3 + i, 100.0, wall=2.0, at=50.0 + i) for i in range(2)]
    assert mean_wall(old + new, None) == (3 * 100.0 + 2 * 2.0) / 5
    assert mean_wall(old + new, 50.0) == 2.0
    with LabelStore(tmp_path / "l.sqlite") as store:
        store.add_samples(old)
        store.note_app("c", "v1", now=1.0)
        store.note_app("c", "v2", now=50.0)  # the code changed at t=50
        store.add_samples(new)
        assert store.mean_wall("c") == 2.0
        walls = WallTimes(store.mean_wall)  # the engine's seed is the store's rule
        assert walls.of("c") == 2.0
        walls.note("c", 12.0)
        assert walls.of("c") == running_mean(2.0, 12.0)
    assert WallTimes().of("never") is None
