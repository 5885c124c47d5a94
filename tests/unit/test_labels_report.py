"""The labels table and plot: what they show, and that the plot is a real image with one panel each."""

from __future__ import annotations

import sys

import pytest

from condorexec.labels.policy import Bucket, Histogram, Maximum
from condorexec.labels.report import labels_figure, labels_table, memory_waste, plot_labels
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
    assert "workers for calls under 10 s" in lines[1]
    lines = lines[1:]
    assert lines[1].split() == ["category", "samples", "done", "state", "cores", "memory", "disk", "max",
                                "cores", "max", "memory", "max", "disk", "mem", "waste", "wall", "s", "auto", "mode"]
    align = lines[2].split()
    # max mode: cores 1.5 -> 2; memory max seen 1800 (the exhausted job) + 83 -> 2000; disk 300 + 83 -> 500
    assert align[:10] == ["align", "7", "6", "steady", "2", "2000", "500", "1.50", "1800", "300"]
    assert align[-2:] == ["20", "per-call"]  # 20 s calls: their own jobs under mode="auto"
    summarize = lines[3].split()
    assert summarize[:7] == ["summarize", "2", "2", "learning", "max", "max", "max"]
    assert summarize[-2:] == ["2", "workers"]
    assert len({len(line) for line in lines[1:]}) == 1  # aligned columns


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


def test_plot_has_one_panel_per_category(store, tmp_path):
    fig = labels_figure(store, "max", MAXIMUM, 3)
    assert len(fig.axes) == 2
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
