"""The local pool's history file must read like a schedd's: same record/banner layout, same
``Schedd.history`` semantics, values that keep their ClassAd types, and an incremental tail."""

from __future__ import annotations

import os
import re
from pathlib import Path

import classad2
import pytest

from condorexec.pools.local.historyfile import HistoryTail, _reverse_lines, append_ads, read_history

FIXTURE = Path("/work/shared/condor-fixtures/logs/condor_history-l.ads")
REAL_HISTORY = Path("/var/lib/condor-pool/spool/history")

BANNER = re.compile(r'^\*\*\* Offset = (\d+) ClusterId = (-?\d+) ProcId = (-?\d+) Owner = "([^"]*)" '
                    r"CompletionDate = (-?\d+) CurrentTime = (\d+)$")


def job(cluster: int, proc: int, **attrs) -> classad2.ClassAd:
    ad = classad2.ClassAd({"ClusterId": cluster, "ProcId": proc, "Owner": "alice", "JobStatus": 4,
                           "CompletionDate": 1_700_000_000 + cluster * 10 + proc})
    for key, value in attrs.items():
        ad[key] = value
    return ad


def ids(ads) -> list[tuple[int, int]]:
    return [(ad["ClusterId"], ad["ProcId"]) for ad in ads]


@pytest.fixture
def history(tmp_path) -> Path:
    """Clusters 1..4 with procs 0..1, appended in order (so read back newest = 4.1 first)."""
    path = tmp_path / "history"
    append_ads(path, [job(c, p, ExitCode=c % 2, RequestMemory=100 * c)
                      for c in range(1, 5) for p in range(2)])
    return path


def test_mixed_types_round_trip(tmp_path):
    path = tmp_path / "history"
    ad = job(7, 3)
    ad["Count"] = 2**62
    ad["CpusUsage"] = 0.1 + 1e-17  # needs 17 digits
    ad["Tiny"] = 1.5e-300
    ad["Whole"] = 100.0
    ad["Flag"] = False
    ad["Text"] = 'say "hi" C:\\temp\\ end\\'
    ad["Empty"] = ""
    ad["Unicode"] = "naïve ☃"
    ad["Items"] = [1, "a", 2.5]
    ad["Nested"] = classad2.ClassAd({"x": 1})
    ad["Unset"] = classad2.ExprTree("undefined")
    ad["ResidentSetSize"] = 623724
    ad["MemoryUsage"] = classad2.ExprTree("((ResidentSetSize + 1023) / 1024)")
    append_ads(path, [ad])
    (back,) = read_history(path)
    assert set(back.keys()) == set(ad.keys())
    for key in ad.keys():
        if isinstance(ad[key], classad2.ExprTree):
            assert isinstance(back[key], classad2.ExprTree) and str(back[key]) == str(ad[key]), key
        else:
            assert back[key] == ad[key] and type(back[key]) is type(ad[key]), key
    assert type(back["Whole"]) is float and type(back["Count"]) is int and back["Flag"] is False
    assert back.eval("MemoryUsage") == 610


def test_line_breaks_in_strings_cannot_split_a_record(tmp_path):
    path = tmp_path / "history"
    append_ads(path, [job(1, 0, HoldReason="bad\n*** Offset = 0 ClusterId = 99\r\nThing = 1"), job(2, 0)])
    back = list(read_history(path))
    assert ids(back) == [(2, 0), (1, 0)]
    assert back[1]["HoldReason"] == "bad *** Offset = 0 ClusterId = 99 Thing = 1"
    assert "Thing" not in back[1]


def test_banner_matches_the_schedds_format(history):
    lines = history.read_bytes().split(b"\n")
    banners = [(i, BANNER.match(line.decode())) for i, line in enumerate(lines) if line.startswith(b"***")]
    assert len(banners) == 8 and all(m for _, m in banners)
    # Offset is where the file's last line (the previous banner) started; 0 for the first record
    starts = [sum(len(line) + 1 for line in lines[:i]) for i, _ in banners]
    assert [int(m.group(1)) for _, m in banners] == [0] + starts[:-1]
    first = banners[0][1]
    assert first.group(2, 3, 4, 5) == ("1", "0", "alice", str(1_700_000_010))


def test_banner_defaults_when_ad_lacks_the_ids(tmp_path):
    path = tmp_path / "history"
    append_ads(path, [classad2.ClassAd({"Cmd": "/bin/true"})])
    banner = path.read_text().splitlines()[-1]
    assert BANNER.match(banner).group(2, 3, 4, 5) == ("-1", "-1", "?", "-1")


def test_newest_first_constraint_projection_match(history):
    assert ids(read_history(history)) == [(c, p) for c in range(4, 0, -1) for p in (1, 0)]
    assert ids(read_history(history, "ExitCode == 1")) == [(3, 1), (3, 0), (1, 1), (1, 0)]
    assert ids(read_history(history, classad2.ExprTree("RequestMemory >= 300"))) == [(4, 1), (4, 0), (3, 1),
                                                                                     (3, 0)]
    assert ids(read_history(history, "NoSuchAttr == 1")) == []  # undefined is not true
    assert ids(read_history(history, match=3)) == [(4, 1), (4, 0), (3, 1)]
    assert ids(read_history(history, "ProcId == 0", match=2)) == [(4, 0), (3, 0)]
    assert list(read_history(history, match=0)) == []
    projected = list(read_history(history, projection=["clusterid", "ProcId", "NotThere"], match=1))
    assert [dict(ad) for ad in projected] == [{"ClusterId": 4, "ProcId": 1}]


def test_since_forms(history):
    assert ids(read_history(history, since=3)) == [(4, 1), (4, 0)]
    assert ids(read_history(history, since="3.0")) == [(4, 1), (4, 0), (3, 1)]
    assert ids(read_history(history, since="ClusterId == 2 && ProcId == 1")) == [(4, 1), (4, 0), (3, 1),
                                                                                 (3, 0)]
    assert ids(read_history(history, since=classad2.ExprTree("RequestMemory < 400"))) == [(4, 1), (4, 0)]
    # the scan stops at the `since` record even when the constraint would skip it
    assert ids(read_history(history, "ExitCode == 1", since=2)) == [(3, 1), (3, 0)]
    assert ids(read_history(history, since=99)) == ids(read_history(history))
    assert ids(read_history(history, since=4)) == []
    # an int is a ClusterId, not a time
    assert ids(read_history(history, since=1_700_000_031)) == ids(read_history(history))


def test_bad_arguments_raise_clear_errors(history):
    with pytest.raises(ValueError, match="constraint.*'JobStatus =='"):
        read_history(history, "JobStatus ==")
    with pytest.raises(ValueError, match="since"):
        read_history(history, since="((")
    with pytest.raises(TypeError, match="since"):
        read_history(history, since=True)
    with pytest.raises(TypeError, match="ClassAd"):
        append_ads(history, [{"ClusterId": 1}])


def test_missing_file_reads_as_empty(tmp_path):
    assert list(read_history(tmp_path / "none")) == []
    assert HistoryTail(tmp_path / "none").read_new() == []


def test_reading_backwards_across_blocks(tmp_path):
    path = tmp_path / "history"
    big = "x" * 5000
    append_ads(path, [job(c, 0, Blob=big) for c in range(1, 41)])  # ~200 KB: several 64 KiB blocks
    back = list(read_history(path))
    assert [ad["ClusterId"] for ad in back] == list(range(40, 0, -1))
    assert all(ad["Blob"] == big for ad in back)


@pytest.mark.parametrize("block", [1, 3, 7, 64])
def test_reverse_lines_skips_an_unfinished_last_line(tmp_path, block):
    path = tmp_path / "f"
    path.write_bytes(b"one\ntwo\n\nthree\nunfinish")
    with open(path, "rb") as f:
        assert list(_reverse_lines(f, block)) == [b"three", b"", b"two", b"one"]
    path.write_bytes(b"one\ntwo\n")
    with open(path, "rb") as f:
        assert list(_reverse_lines(f, block)) == [b"two", b"one"]
    path.write_bytes(b"no newline at all")
    with open(path, "rb") as f:
        assert list(_reverse_lines(f, block)) == []


def test_record_without_its_banner_yet_is_not_returned(history):
    with open(history, "ab") as f:  # HTCondor writes the ad, then the banner, separately
        f.write(b'ClusterId = 9\nProcId = 0\nOwner = "bob"\n')
    assert ids(read_history(history, match=1)) == [(4, 1)]
    tail = HistoryTail(history)
    assert len(tail.read_new()) == 8
    with open(history, "ab") as f:
        f.write(b'*** Offset = 0 ClusterId = 9 ProcId = 0 Owner = "bob" CompletionDate = -1\n')
    assert ids(tail.read_new()) == [(9, 0)]
    assert ids(read_history(history, match=1)) == [(9, 0)]


def test_tail_sees_only_new_records_and_resumes_from_offset(history):
    tail = HistoryTail(history)
    assert ids(tail.read_new(max_records=3)) == [(1, 0), (1, 1), (2, 0)]
    assert ids(tail.read_new()) == [(2, 1), (3, 0), (3, 1), (4, 0), (4, 1)]
    assert tail.read_new() == [] and tail.offset == history.stat().st_size
    append_ads(history, [job(5, 0), job(5, 1)])
    saved = tail.offset
    assert ids(tail.read_new()) == [(5, 0), (5, 1)]
    assert ids(HistoryTail(history, offset=saved).read_new()) == [(5, 0), (5, 1)]  # offset persists


def test_tail_starts_over_after_truncation_or_rotation(history):
    tail = HistoryTail(history)
    assert len(tail.read_new()) == 8
    history.write_bytes(b"")  # truncated
    append_ads(history, [job(6, 0)])
    assert ids(tail.read_new()) == [(6, 0)]
    os.rename(history, history.with_name("history.20260101T000000"))  # rotated like the schedd does
    append_ads(history, [job(7, c) for c in range(5)])  # the new file already longer than the old
    assert ids(tail.read_new()) == [(7, c) for c in range(5)]


def _fixture_ads() -> list[classad2.ClassAd]:
    return list(classad2.parseAds(FIXTURE.read_text(), classad2.ParserType.Old))


@pytest.mark.skipif(not FIXTURE.is_file(), reason="HTCondor fixtures not present")
def test_condor_history_fixture_round_trips(tmp_path):
    ads = _fixture_ads()  # condor_history -l: newest first, blank-line separated
    assert len(ads) == 8
    path = tmp_path / "history"
    append_ads(path, reversed(ads))  # the schedd appended them oldest first
    back = list(read_history(path))
    assert ids(back) == ids(ads)
    for want, got in zip(ads, back, strict=True):
        assert set(got.keys()) == set(want.keys())
        for key in want.keys():
            assert repr(got.lookup(key)) == repr(want.lookup(key)), key
        assert isinstance(got["MemoryUsage"], classad2.ExprTree)
        assert got.eval("MemoryUsage") == want.eval("MemoryUsage") == (want["ResidentSetSize"] + 1023) // 1024
    held = next(ad for ad in back if ad["ClusterId"] == 4)  # held for memory, then removed
    assert (held["LastHoldReasonCode"], held["LastHoldReasonSubCode"]) == (21, 102)
    assert held.eval("MemoryUsage") == 733  # ResidentSetSize 750000 KiB, rounded up to MiB
    heavy = read_history(path, "MemoryUsage > 600", projection=["ClusterId", "ProcId"])
    assert ids(heavy) == [(4, 0), (3, 0)]
    assert ids(HistoryTail(path).read_new()) == ids(reversed(ads))


@pytest.mark.skipif(not (REAL_HISTORY.is_file() and os.access(REAL_HISTORY, os.R_OK)),
                    reason="no readable HTCondor pool history on this machine")
def test_reads_a_real_schedd_history_file():
    raw = REAL_HISTORY.read_bytes()
    banners = [line.decode() for line in raw.split(b"\n") if line.startswith(b"***")]
    back = list(read_history(REAL_HISTORY))
    assert len(back) == len(banners)
    newest = BANNER.match(banners[-1]) or re.search(r"ClusterId = (-?\d+) ProcId = (-?\d+)", banners[-1])
    if back:
        assert "ClusterId" in back[0] and str(back[0]["ClusterId"]) in newest.group(0)
