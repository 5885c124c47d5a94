"""The SQLite label store: learning, caching, restarts, bounds, schema versions, several processes."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from condorexec.errors import InvalidSpecError
from condorexec.labels.policy import AllocationMode, Bucket, Label, Maximum, choose_label
from condorexec.labels.store import SCHEMA_VERSION, LabelStore, LabelStoreError, Sample

MAXIMUM = Maximum(cores=8, memory=4000, disk=20000)


def sample(i: int, memory: float, *, category: str = "app", cores: float = 0.5, disk: float = 100.0,
           wall: float = 10.0, exhausted: str | None = None) -> Sample:
    return Sample(category=category, job_id=f"1.{i}", cores=cores, memory_mb=memory, disk_mb=disk,
                  wall_s=wall, exhausted=exhausted, completed_at=1000.0 + i)


@pytest.fixture
def store(tmp_path):
    s = LabelStore(tmp_path / "labels.sqlite")
    yield s
    s.close()


def test_histograms_bucket_usage_and_sum_wall_time(store):
    samples = [sample(i, 200, wall=10) for i in range(8)] + [sample(8 + i, 700, wall=20) for i in range(2)]
    assert store.add_samples(samples) == 10
    h = store.histograms("app")
    assert h["memory"].buckets == (Bucket(250, 8, 80.0), Bucket(750, 2, 40.0))
    assert h["memory"].max_seen == 700 and h["memory"].total == 10
    assert h["cores"].buckets == (Bucket(1, 10, 120.0),)
    assert store.completions("app") == 10 and store.categories() == ["app"]
    # the worked example of docs/labels.md, through the store.  With window 10 the 700 MB jobs were a
    # new maximum while learning (completion 8 < 10), so the count restarted: still learning.
    assert store.label("app", AllocationMode.MAX_THROUGHPUT, MAXIMUM, 10) == Label(None, None, None)
    assert store.label("app", AllocationMode.MAX_THROUGHPUT, MAXIMUM, 1).memory == 250
    assert store.label("app", AllocationMode.MIN_WASTE, MAXIMUM, 1).memory == 750


def test_adding_the_same_samples_again_changes_nothing(store):
    batch = [sample(i, 300) for i in range(5)]
    assert store.add_samples(batch) == 5
    before = store.histograms("app")
    assert store.add_samples(batch + [sample(5, 300)]) == 1
    after = store.histograms("app")
    assert after["memory"].total == before["memory"].total + 1 == 6


def test_exhausted_jobs_raise_max_seen_but_not_the_histogram(store):
    store.add_samples([sample(0, 300), sample(1, 1900, exhausted="memory")])
    h = store.histograms("app")["memory"]
    assert h.total == 1 and h.buckets == (Bucket(500, 1, 10.0),)
    assert h.max_seen == 1900
    assert store.completions("app") == 1 and store.sample_count("app") == 2
    assert store.label("app", "max", MAXIMUM, 1).memory == 2000  # 1900 + 83 -> 2000


def test_learning_until_window_then_label(store):
    store.add_samples([sample(i, 100) for i in range(2)])
    assert store.label("app", "max_throughput", MAXIMUM, 3) == Label(None, None, None)
    assert not store.in_steady_state("app", 3)
    store.add_samples([sample(2, 100)])
    assert store.label("app", "max_throughput", MAXIMUM, 3) == Label(1, 250, 250)
    assert store.in_steady_state("app", 3)


def test_new_maximum_while_learning_restarts_the_count(store):
    store.add_samples([sample(0, 100), sample(1, 100)])
    store.add_samples([sample(2, 600)])  # beyond round_up(100) = 250 with only 2 < 3 completions
    assert store.completions("app") == 3
    assert store.label("app", "max_throughput", MAXIMUM, 3) == Label(None, None, None)
    store.add_samples([sample(3, 100), sample(4, 100)])
    assert store.label("app", "max_throughput", MAXIMUM, 3).memory is not None


def test_label_is_recomputed_only_every_window_completions(store):
    store.add_samples([sample(i, 100) for i in range(3)])
    assert store.label("app", "max", MAXIMUM, 3).memory == 250  # 100 + 83 -> 250
    store.add_samples([sample(3, 900)])  # steady state: no reset; the cached label holds
    assert choose_label(store.histograms("app"), "max", MAXIMUM, 3).memory == 1000
    assert store.label("app", "max", MAXIMUM, 3).memory == 250
    store.add_samples([sample(4, 100), sample(5, 100)])  # 6 completions: next epoch
    assert store.label("app", "max", MAXIMUM, 3).memory == 1000


def test_survives_restart(tmp_path):
    path = tmp_path / "labels.sqlite"
    with LabelStore(path) as s:
        s.add_samples([sample(i, 100) for i in range(3)])
        first = s.label("app", "max", MAXIMUM, 3)
        s.add_samples([sample(3, 900)])
        hists = s.histograms("app")
        assert s.label("app", "max", MAXIMUM, 3) == first
        s.set_cursor("local:/h", '{"job": "4.0", "time": 5}')
    with LabelStore(path) as s:
        assert s.histograms("app") == hists
        assert s.label("app", "max", MAXIMUM, 3) == first  # the cached label, not a fresh one
        assert s.get_cursor("local:/h") == '{"job": "4.0", "time": 5}'
        assert s.add_samples([sample(3, 900)]) == 0  # still deduplicated


def test_storage_is_bounded_per_category(tmp_path):
    with LabelStore(tmp_path / "l.sqlite", keep_samples=10) as s:
        s.add_samples([sample(i, 100 + (i % 7) * 250, wall=1) for i in range(300)])
        assert s.completions("app") == 300
        assert len(s.recent_samples("app")) == 10
        assert [x.job_id for x in s.recent_samples("app", 2)] == ["1.298", "1.299"]
        assert len(s.histograms("app")["memory"].buckets) == 7
        db = sqlite3.connect(s.path)
        rows = {t: db.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("sample", "bucket", "new_max")}
        db.close()
        assert rows["sample"] == 10 and rows["bucket"] == 7 + 1 + 1 and rows["new_max"] <= 7


def test_categories_are_separate(store):
    store.add_samples([sample(0, 100, category="a"), sample(0, 3000, category="b")])
    assert store.categories() == ["a", "b"]
    assert store.histograms("a")["memory"].max_seen == 100
    assert store.histograms("b")["memory"].buckets == (Bucket(3000, 1, 10.0),)
    assert store.completions("nothing") == 0 and store.histograms("nothing")["memory"].total == 0


@pytest.mark.bad_input
def test_newer_schema_is_refused_clearly(tmp_path):
    path = tmp_path / "l.sqlite"
    LabelStore(path).close()
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 99")
    db.close()
    with pytest.raises(LabelStoreError, match=rf"schema version 99.*\({SCHEMA_VERSION}\)"):
        LabelStore(path)


@pytest.mark.bad_input
def test_a_file_that_is_not_a_database_is_refused_clearly(tmp_path):
    path = tmp_path / "l.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(LabelStoreError, match="l.sqlite"):
        LabelStore(path)


@pytest.mark.bad_input
def test_a_directory_is_refused_naming_it(tmp_path):
    with pytest.raises(LabelStoreError, match="is a directory"):
        LabelStore(tmp_path)


@pytest.mark.bad_input
def test_a_database_with_another_schema_is_refused_at_open(tmp_path):
    path = tmp_path / "foreign.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE other (x INTEGER)")
    db.execute("PRAGMA user_version = 1")  # claims condorexec's version, has none of its tables
    db.commit()
    db.close()
    with pytest.raises(LabelStoreError, match=r"not a condorexec label store: it lacks category\."):
        LabelStore(path)


@pytest.mark.bad_input
def test_a_damaged_page_is_refused_at_open_not_at_the_first_call(tmp_path):
    path = tmp_path / "l.sqlite"
    with LabelStore(path) as store:
        store.add_samples([Sample("c", f"1.{i}", 1, 100, 10, 1, None, 1000 + i) for i in range(300)])
    data = bytearray(path.read_bytes())
    page = 4096
    assert len(data) > 3 * page  # the samples span several pages
    data[2 * page: 2 * page + 200] = b"\xff" * 200
    path.write_bytes(bytes(data))
    with pytest.raises(LabelStoreError, match="is damaged.*move it aside"):
        LabelStore(path)


def test_default_path_is_the_user_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    with LabelStore() as s:
        assert s.path == tmp_path / "xdg" / "condorexec" / "labels.sqlite"
        assert s.path.exists()


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"memory_mb": -1}, "Sample.memory_mb"), ({"wall_s": float("inf")}, "Sample.wall_s"),
    ({"exhausted": "gpus"}, "Sample.exhausted"), ({"category": ""}, "Sample.category"),
    ({"cores": True}, "Sample.cores"),
])
def test_bad_samples_name_the_field(kwargs, field):
    fields = dict(category="a", job_id="1.0", cores=1.0, memory_mb=1.0, disk_mb=1.0, wall_s=1.0,
                  exhausted=None, completed_at=1.0)
    with pytest.raises(InvalidSpecError) as info:
        Sample(**{**fields, **kwargs})
    assert info.value.field == field


def test_bad_label_arguments_name_the_field(store):
    with pytest.raises(InvalidSpecError, match="maximum.memory"):
        store.label("app", "max", Maximum(1, 0, 1), 1)
    with pytest.raises(InvalidSpecError, match="window"):
        store.label("app", "max", MAXIMUM, 0)


_WRITER = textwrap.dedent("""
    import os, sys, time
    from condorexec.labels.store import LabelStore, Sample
    path, tag = sys.argv[1], sys.argv[2]
    store = LabelStore(path, busy_timeout_s=60)
    while not os.path.exists(path + ".go"):
        time.sleep(0.005)
    for batch in range(100):
        store.add_samples([Sample("shared", f"{tag}.{batch * 5 + i}", 1.0, 100.0 + 250 * (i % 3), 10.0, 1.0,
                                  None, float(batch)) for i in range(5)])
        time.sleep(0.002)  # let the other writer and the reader interleave
    store.close()
""")

_READER = textwrap.dedent("""
    import os, sys, time
    from condorexec.labels.policy import Maximum
    from condorexec.labels.store import LabelStore
    store = LabelStore(sys.argv[1], busy_timeout_s=60)
    while not os.path.exists(sys.argv[1] + ".go"):
        time.sleep(0.005)
    last, reads, seen = 0, 0, set()
    deadline = time.time() + 60
    while time.time() < deadline:
        n = store.completions("shared")
        assert n >= last, (n, last)
        last = n
        seen.add(n)
        store.label("shared", "max_throughput", Maximum(4, 4000, 4000), 7)
        total = sum(b.count for b in store.histograms("shared")["memory"].buckets)
        assert total >= n, (total, n)
        reads += 1
        if n == 1000:
            break
    print(reads, last, len(seen))
""")


@pytest.mark.fault
def test_two_writer_processes_and_a_reader(tmp_path):
    path = tmp_path / "shared.sqlite"
    LabelStore(path).close()
    src = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": src}
    procs = [subprocess.Popen([sys.executable, "-c", _WRITER, str(path), tag], env=env,
                              stderr=subprocess.PIPE, text=True) for tag in ("100", "200")]
    reader = subprocess.Popen([sys.executable, "-c", _READER, str(path)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    (tmp_path / "shared.sqlite.go").touch()
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    out, err = reader.communicate(timeout=120)
    assert reader.returncode == 0, err
    reads, last, distinct = (int(x) for x in out.split())
    assert last == 1000
    assert distinct > 2, "the reader should have seen the writers' progress, not only the end"
    with LabelStore(path) as s:
        h = s.histograms("shared")["memory"]
        assert s.completions("shared") == 1000
        assert {b.value: b.count for b in h.buckets} == {250: 400, 500: 400, 750: 200}
        assert s.label("shared", "max_throughput", Maximum(4, 4000, 4000), 7).memory is not None


# -- the app behind a category: code fingerprints (schema 2) -------------------------------------

def _as_schema_1(path: Path) -> None:
    """Turn a store file into what condorexec wrote before fingerprints: schema 1 had every table
    but ``app``."""
    db = sqlite3.connect(path)
    db.execute("DROP TABLE app")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()


def test_a_schema_1_store_is_migrated_in_place_and_keeps_its_labels(tmp_path):
    path = tmp_path / "old.sqlite"
    with LabelStore(path) as s:
        s.add_samples([sample(i, 600) for i in range(3)])
        s.set_cursor("local:/h", "c")
        before = (s.histograms("app"), s.label("app", "max", MAXIMUM, 1))
    _as_schema_1(path)
    with LabelStore(path) as s:
        assert (s.histograms("app"), s.label("app", "max", MAXIMUM, 1)) == before
        assert s.get_cursor("local:/h") == "c" and s.completions("app") == 3
        assert s.code_changed_at("app") is None
        # the first fingerprint of a category learned before fingerprints is not a change
        assert s.note_app("app", "f1") is False
        assert s.label("app", "max", MAXIMUM, 1) == before[1]
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 2
    db.close()


def test_note_app_is_idempotent_and_a_change_starts_the_category_over(store):
    assert store.note_app("app", "f1", now=500.0) is False  # first sight
    assert store.note_app("app", "f1", now=600.0) is False  # same code
    store.add_samples([sample(i, 600) for i in range(3)] + [sample(3, 900, exhausted="memory")])
    store.add_samples([sample(0, 50, category="other")])
    assert store.label("app", "max", MAXIMUM, 1).memory == 1000
    assert store.note_app("app", "f2", now=2000.0) is True
    assert store.code_changed_at("app") == 2000.0
    assert store.completions("app") == 0 and store.sample_count("app") == 0
    assert store.histograms("app")["memory"].max_seen == 0.0
    assert store.label("app", "max", MAXIMUM, 1) == Label(None, None, None)  # learning again
    assert len(store.recent_samples("app")) == 4  # the raw samples stay, for the plot
    assert store.completions("other") == 1 and store.code_changed_at("other") is None  # others untouched
    assert store.note_app("app", "f2", now=2100.0) is False  # idempotent
    assert store.code_changed_at("app") == 2000.0
    assert store.note_app("app", "f1", now=3000.0) is True  # back to the old code is a change too


def test_after_a_change_late_samples_of_the_old_code_are_not_learned(store):
    store.note_app("app", "f1", now=0.0)
    store.note_app("app", "f2", now=1050.0)
    # sample(i) completed at 1000 + i: 1.10 completed before the change (history read late), 1.60 after
    assert store.add_samples([sample(10, 3000), sample(60, 200)]) == 2
    assert store.completions("app") == 1 and store.sample_count("app") == 1
    assert store.histograms("app")["memory"].max_seen == 200
    assert store.label("app", "max", MAXIMUM, 1).memory == 500  # 200 + 83 -> 500, not from the 3000 MB job
    assert store.add_samples([sample(10, 3000)]) == 0  # stored raw: still deduplicated


@pytest.mark.bad_input
def test_note_app_names_a_bad_field(store):
    with pytest.raises(InvalidSpecError, match="fingerprint"):
        store.note_app("app", "")
    with pytest.raises(InvalidSpecError, match="category"):
        store.note_app(None, "f1")


_NOTER = textwrap.dedent("""
    import os, sys, time
    from condorexec.labels.store import LabelStore
    store = LabelStore(sys.argv[1], busy_timeout_s=60)
    while not os.path.exists(sys.argv[1] + ".go"):
        time.sleep(0.002)
    print(store.note_app("app", "new-code"))
""")


@pytest.mark.fault
def test_of_several_processes_noting_changed_code_exactly_one_starts_it_over(tmp_path):
    path = tmp_path / "shared.sqlite"
    with LabelStore(path) as s:
        s.note_app("app", "old-code")
        s.add_samples([sample(i, 600) for i in range(3)])
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [subprocess.Popen([sys.executable, "-c", _NOTER, str(path)], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    (tmp_path / "shared.sqlite.go").touch()
    results = []
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        results.append(out.strip())
    assert sorted(results) == ["False", "False", "False", "True"]
    with LabelStore(path) as s:
        assert s.completions("app") == 0 and s.code_changed_at("app") is not None
