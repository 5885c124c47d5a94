"""The labels table and plot: what they show, and that the plot is a real image with one panel each."""

from __future__ import annotations

import sys
import time

import pytest

from condorexec.labels.explain import (
    Clip,
    clipping,
    labels_figure,
    labels_table,
    memory_waste,
    plot_labels,
    replay_labels,
    staleness_note,
)
from condorexec.labels.policy import Bucket, Histogram, Label, Maximum
from condorexec.labels.store import LabelStore, Sample

MAXIMUM = Maximum(cores=4, memory=8000, disk=20000)


@pytest.fixture
def store(tmp_path):
    s = LabelStore(tmp_path / "labels.sqlite")
    samples = [Sample("align", f"1.{i}", 1.5, 900.0, 300.0, 20.0, None, float(i)) for i in range(6)]
    samples.append(Sample("align", "2.0", 1.0, 1800.0, 300.0, 5.0, "memory", 10.0))
    samples += [Sample("summarize", f"3.{i}", 0.1, 60.0, 1.0, 2.0, None, 20.0 + i) for i in range(2)]
    s.add_samples(samples)
    yield s
    s.close()


def test_table_rows(store):
    text = labels_table(store, "max", MAXIMUM, window=3)
    lines = text.splitlines()
    assert "max, window 3" in lines[0] and "8000 MB memory" in lines[0]
    assert lines[1].startswith("auto mode on a schedd: workers for calls under 10 s")
    on_local = labels_table(store, "max", MAXIMUM, window=3, job_start_seconds=0.025, pool="the local pool")
    assert on_local.splitlines()[1].startswith("auto mode on the local pool: workers for calls under 0.25 s")
    lines = lines[1:]
    assert lines[1].split() == ["category", "samples", "done", "state", "cores", "memory", "disk", "max",
                                "cores", "max", "memory", "max", "disk", "mem", "waste", "wall", "s", "auto", "mode",
                                "notes"]
    align = lines[2].split()
    # max mode: cores 1.5 -> 2; memory max seen 1800 (the exhausted job) + 83 -> 2000; disk 300 + 83 -> 500
    assert align[:10] == ["align", "7", "6", "steady", "2", "2000", "500", "1.50", "1800", "300"]
    assert align[-3:] == ["20", "per-call", "-"]  # 20 s calls: their own jobs under mode="auto"; no notes
    summarize = lines[3].split()
    assert summarize[:7] == ["summarize", "2", "2", "learning", "max", "max", "max"]
    assert summarize[-3:] == ["2", "workers", "-"]
    assert len({len(line.rsplit("  ", 1)[0]) for line in lines[1:]}) == 1  # aligned columns, then the notes


def test_empty_store_says_so(tmp_path):
    with LabelStore(tmp_path / "empty.sqlite") as s:
        assert "no categories learned yet" in labels_table(s, "max_throughput", MAXIMUM, 1)
        assert len(labels_figure(s, "max_throughput", MAXIMUM, 1).axes) == 1


def test_memory_waste_estimate():
    # 2 jobs in bucket 500 (midpoint 375 MB) for 10 s each, label 500: 1 - 375*20 / (500*20) = 25 %
    h = Histogram("memory", (Bucket(500, 2, 20.0),), 450.0, 2)
    assert memory_waste(h, 500, 8000) == pytest.approx(0.25)
    # a label below the bucket: first attempt at 250 plus a retry at 8000
    assert memory_waste(h, 250, 8000) == pytest.approx(1 - 375 * 20 / (8250 * 20))
    # learning: everything at the maximum
    assert memory_waste(h, None, 8000) == pytest.approx(1 - 375 / 8000)
    assert memory_waste(Histogram("memory", (), 0.0, 0), 500, 8000) is None


def test_plot_has_a_row_of_panels_per_category(store, tmp_path):
    fig = labels_figure(store, "max", MAXIMUM, 3)
    assert len(fig.axes) == 2 * 4  # per category: memory histogram, memory over time, cores, cores over time
    align = fig.axes[0]
    assert align.get_title().startswith("align: 6 completed, 1 exhausted")
    assert [p.get_height() for p in align.patches] == [6]  # one bucket (1000 MB) of 6 jobs
    legend = [t.get_text() for t in align.get_legend().get_texts()]
    assert "label 2000 MB" in legend and "max seen 1800 MB" in legend
    out = plot_labels(store, tmp_path / "sub" / "labels.png", "max", MAXIMUM, 3)
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5000


def test_missing_matplotlib_is_a_clear_error(store, tmp_path, monkeypatch):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r"condorexec\[plot\]"):
        plot_labels(store, tmp_path / "x.png", "max", MAXIMUM, 3)


def _hists(memory: tuple[Bucket, ...], max_memory: float, *, cores_max: float = 1.0) -> dict[str, Histogram]:
    n = sum(b.count for b in memory)
    wall = sum(b.wall_s for b in memory)
    return {"memory": Histogram("memory", memory, max_memory, n),
            "cores": Histogram("cores", (Bucket(1, n, wall),), cores_max, n),
            "disk": Histogram("disk", (Bucket(250, n, wall),), 10.0, n)}


def test_clipping_names_a_label_above_the_largest_machine():
    small_pool = Maximum(cores=4, memory=6000, disk=20000)
    hists = _hists((Bucket(8000, 5, 50.0),), 7900)  # learned where machines have 8000 MB
    clips = clipping(hists, "max_throughput", small_pool, learning=False)
    assert clips == [Clip("memory", "learned", 8000, 6000)]
    assert str(clips[0]) == "memory clipped: learned 8000 MB > largest machine 6000 MB"
    # while learning there is no label: only the maximum seen is compared
    assert clipping(hists, "max_throughput", small_pool, learning=True) == [Clip("memory", "max seen", 7900, 6000)]
    # nothing above the machine: nothing to say
    assert clipping(_hists((Bucket(500, 5, 50.0),), 450), "max", small_pool, learning=False) == []


def test_clipping_of_the_max_seen_alone_and_of_cores():
    pool = Maximum(cores=2, memory=6000, disk=20000)
    # most jobs are small (the label is 250 MB), one used 6500 MB: the label fits, the max seen does not
    hists = _hists((Bucket(250, 20, 200.0), Bucket(6500, 1, 10.0)), 6500, cores_max=3.4)
    clips = clipping(hists, "max_throughput", pool, learning=False)
    assert [str(c) for c in clips] == ["cores clipped: max seen 3.40 cores > largest machine 2 cores",
                                       "memory clipped: max seen 6500 MB > largest machine 6000 MB"]


def test_clipping_ignores_rounding_within_the_last_bucket():
    # a largest machine of 5900 MB: the max_throughput choice "the maximum" rounds up to 6000, which is
    # the bucket the maximum is in, not a label learned elsewhere
    hists = _hists((Bucket(250, 1, 1.0), Bucket(5750, 9, 900.0)), 5600)
    assert clipping(hists, "max_throughput", Maximum(4, 5900, 20000), learning=False) == []


def test_staleness_note():
    at = 1_700_000_000.0
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(at))
    assert staleness_note(None, False) is None
    assert staleness_note(at, False) == f"re-learning since {when}: the app's code changed"
    assert staleness_note(at, True) == f"learned anew since {when}: the app's code changed"


def test_table_says_when_the_code_changed_and_what_is_clipped(tmp_path):
    with LabelStore(tmp_path / "l.sqlite") as s:
        s.note_app("pkg.mod.fn", "old", now=0.0)
        s.add_samples([Sample("pkg.mod.fn", f"1.{i}", 1.0, 300.0, 10.0, 5.0, None, 10.0 + i) for i in range(3)])
        s.note_app("pkg.mod.fn", "new", now=100.0)
        s.add_samples([Sample("big", f"2.{i}", 1.0, 7800.0, 10.0, 5.0, None, 200.0 + i) for i in range(3)])
        text = labels_table(s, "max_throughput", Maximum(4, 6000, 20000), 1)
    rows = {line.split()[0]: line for line in text.splitlines()[3:]}
    when = time.strftime("%Y-%m-%d %H:%M", time.localtime(100.0))
    assert rows["pkg.mod.fn"].split()[1:4] == ["0", "0", "learning"]
    assert rows["pkg.mod.fn"].endswith(f"re-learning since {when}: the app's code changed")
    assert rows["big"].split()[5] == "6000"  # the label jobs get: clipped to the machine
    assert rows["big"].endswith("memory clipped: learned 8000 MB > largest machine 6000 MB")


def test_replay_gives_the_label_after_each_sample(store):
    samples = store.recent_samples("align")
    steps = replay_labels(samples, "max", MAXIMUM, 3)
    assert [st.at for st in steps] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 10.0]
    assert [st.steady for st in steps] == [False, False, True, True, True, True, True]
    assert [st.label.memory for st in steps] == [None, None, 1000, 1000, 1000, 1000, 1000]
    # the label after each sample is the one a store asked after every sample gives
    for window in (1, 2, 3):
        with LabelStore(store.path.parent / f"replay{window}.sqlite") as fresh:
            asked = []
            for s in samples:
                fresh.add_samples([s])
                asked.append(fresh.label("align", "max", MAXIMUM, window))
        assert [st.label for st in replay_labels(samples, "max", MAXIMUM, window)] == asked
    # samples before the code change are skipped, as the store skips them
    assert replay_labels(samples, "max", MAXIMUM, 1, since=5.0)[0].label == Label(2, 1000, 500)
    assert len(replay_labels(samples, "max", MAXIMUM, 1, since=5.0)) == 2


def test_plot_draws_histograms_and_the_label_over_time(tmp_path):
    with LabelStore(tmp_path / "l.sqlite") as s:
        s.note_app("fn", "old", now=0.0)
        s.add_samples([Sample("fn", f"1.{i}", 1.0, 3000.0, 10.0, 5.0, None, 1000.0 + i) for i in range(3)])
        s.note_app("fn", "new", now=1100.0)
        s.add_samples([Sample("fn", f"2.{i}", 2.2, 400.0, 10.0, 5.0, None, 1200.0 + i) for i in range(4)])
        fig = labels_figure(s, "max_throughput", Maximum(4, 6000, 20000), 1)
    mem_hist, mem_time, cores_hist, cores_time = fig.axes
    assert mem_hist.get_xlabel() == "peak memory (MB)" and cores_hist.get_xlabel() == "peak cores (cores)"
    assert [p.get_height() for p in mem_hist.patches] == [4]  # only the new code's jobs
    assert cores_hist.get_title() == "fn: cores"
    assert mem_time.get_title().splitlines() == ["fn: memory label over time",
                                                 staleness_note(1100.0, True)]
    assert mem_time.get_ylabel() == "memory (MB)" and cores_time.get_ylabel() == "cores (cores)"
    legend = [t.get_text() for t in mem_time.get_legend().get_texts()]
    assert {"old code job peak", "completed job peak", "label (maximum while learning)",
            "largest machine 6000 MB", "app's code changed"} <= set(legend)
    label_line = next(line for line in mem_time.get_lines() if line.get_label().startswith("label"))
    # it starts at the maximum, then the label of each of the 4 new jobs: 500 MB (400 -> the 500 bucket)
    assert list(label_line.get_ydata()) == [6000, 500, 500, 500, 500]
    cores_line = next(line for line in cores_time.get_lines() if line.get_label().startswith("label"))
    assert list(cores_line.get_ydata()) == [4, 3, 3, 3, 3]
