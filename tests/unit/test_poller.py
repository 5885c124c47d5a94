"""History ads -> samples, and the poller's incremental cursor, against real classad2 ads."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import classad2
import pytest

from condorexec.errors import InvalidSpecError
from condorexec.labels.poller import HistoryPoller, exhausted_resource, sample_from_ad
from condorexec.labels.store import LabelStore
from condorexec.pools.base import Pool, PoolProfile

FIXTURE = Path("/work/shared/condor-fixtures/logs/condor_history-l.ads")


class ListPool(Pool):
    """A pool whose history is a list of real ads (newest first), with ``Schedd.history``'s
    ``since``/``match``/``projection`` semantics; it records every call and how many records each
    scanned, so tests can see what the poller asked for."""

    profile = PoolProfile(name="list", event_poll_interval=1.0, history_poll_interval=60.0,
                          history_source="list:history")

    def __init__(self, ads: list[classad2.ClassAd]):
        super().__init__()
        self.ads = list(ads)  # newest first
        self.calls: list[dict] = []

    def finish(self, *ads: classad2.ClassAd) -> None:
        """Jobs leave the queue in this order: each becomes the newest record."""
        for ad in ads:
            self.ads.insert(0, ad)

    def history(self, constraint="true", projection=(), match=-1, since=None):
        call = {"constraint": constraint, "match": match, "since": since, "scanned": 0}
        self.calls.append(call)
        where = classad2.ExprTree(constraint)
        stop = None
        if isinstance(since, int):
            def stop(ad):
                return ad.get("ClusterId") == since
        elif isinstance(since, str) and re.fullmatch(r"\d+\.\d+", since):
            job = tuple(int(x) for x in since.split("."))

            def stop(ad):
                return (ad.get("ClusterId"), ad.get("ProcId")) == job
        elif since is not None:
            expr = classad2.ExprTree(since)

            def stop(ad):
                return expr.eval(ad) is True
        found = []
        wanted = {p.lower() for p in projection}
        for ad in list(self.ads):
            call["scanned"] += 1
            if stop is not None and stop(ad):
                break
            if where.eval(ad) is not True:
                continue
            out = classad2.ClassAd()
            for key in ad.keys():
                if not wanted or key.lower() in wanted:
                    out[key] = ad.lookup(key)
            found.append(out)
            if len(found) == match:
                break
        return iter(found)

    def submit(self, description, itemdata=None, count=0):
        raise NotImplementedError

    def query(self, constraint="true", projection=()):
        raise NotImplementedError

    def act(self, action, job_spec):
        raise NotImplementedError

    def edit(self, job_spec, attr, value):
        raise NotImplementedError

    def describe_machines(self):
        return []


def job(cluster: int, proc: int = 0, *, when: int, rss_kib: int = 300_000, category: str | None = "cat",
        **attrs) -> classad2.ClassAd:
    ad = classad2.ClassAd({
        "ClusterId": cluster, "ProcId": proc, "JobStatus": 4, "ExitCode": 0, "ResidentSetSize": rss_kib,
        "DiskUsage": 2048, "CpusUsage": 0.9, "RemoteWallClockTime": 30.0, "CompletionDate": when,
        "EnteredCurrentStatus": when, "RequestMemory": 1000, "RequestCpus": 1, "RequestDisk": 1024000,
    })
    ad["MemoryUsage"] = classad2.ExprTree("((ResidentSetSize + 1023) / 1024)")
    if category is not None:
        ad["CondorexecCategory"] = category
    for k, v in attrs.items():
        ad[k] = v
    return ad


def fixture_ads(category: str | None = "fixture") -> list[classad2.ClassAd]:
    ads = list(classad2.parseAds(FIXTURE.read_text()))
    if category is not None:
        for ad in ads:  # as condorexec would have tagged them at submit
            ad["CondorexecCategory"] = category
    return ads


@pytest.fixture
def store(tmp_path):
    s = LabelStore(tmp_path / "labels.sqlite")
    yield s
    s.close()


# -- sample_from_ad ------------------------------------------------------------------------------

def test_fixture_ads_become_samples():
    samples = {s.job_id: s for s in map(sample_from_ad, fixture_ads())}
    assert sorted(samples) == ["1.0", "1.1", "1.2", "1.3", "3.0", "4.0", "5.0", "6.0"]
    ok = samples["3.0"]  # 610 MB used, completed (no enforcement yet)
    assert ok.exhausted is None and ok.memory_mb == (750000 + 1023) // 1024 == 733
    assert ok.disk_mb == pytest.approx(7500 / 1024) and ok.wall_s == 22.0
    assert ok.cores == pytest.approx(0.02852958585521732) and ok.completed_at == 1795555614
    held = samples["4.0"]  # the same job with the hold policy on: held 21/102, then removed
    assert held.exhausted == "memory" and held.memory_mb == 733 and held.wall_s == 19.0
    assert held.completed_at == 1795555694  # no CompletionDate: when it left the queue
    exit3 = samples["5.0"]  # exit code 3 is still a normal completion; no CpusUsage, 0 s wall
    assert exit3.exhausted is None and exit3.cores == 0.0
    assert samples["1.3"].memory_mb == 0  # ResidentSetSize sampled as 0: a short job
    assert samples["6.0"].memory_mb == 8 and samples["6.0"].wall_s == 43.0


def test_ads_without_a_category_are_skipped():
    assert [sample_from_ad(ad) for ad in fixture_ads(category=None)] == [None] * 8


@pytest.mark.parametrize(("attrs", "expected"), [
    ({"HoldReasonCode": 34, "HoldReasonSubCode": 102, "HoldReason": "Job has gone over cgroup memory limit"},
     "memory"),
    ({"HoldReasonCode": 34, "HoldReasonSubCode": 104, "HoldReason": "disk limit"}, "disk"),
    ({"HoldReasonCode": 34, "HoldReasonSubCode": 0, "HoldReason": "Job has gone over memory limit"},
     "memory"),
    ({"LastHoldReasonCode": 21, "LastHoldReasonSubCode": 102, "LastHoldReason": "memory usage exceeded"},
     "memory"),
    ({"HoldReasonCode": 26, "HoldReasonSubCode": 0, "HoldReason": "SYSTEM_PERIODIC_HOLD: memory too high"},
     "memory"),
    ({"HoldReasonCode": 26, "HoldReasonSubCode": 0, "HoldReason": "SYSTEM_PERIODIC_HOLD: ran too long"},
     None),
    ({"HoldReasonCode": 1, "HoldReasonSubCode": 0, "HoldReason": "via condor_hold (by user me)"}, None),
    ({"HoldReasonCode": 1, "LastHoldReasonCode": 34, "LastHoldReasonSubCode": 102}, "memory"),
    ({}, None),
])
def test_hold_codes(attrs, expected):
    ad = job(9, when=100, JobStatus=3, **attrs)
    del ad["ExitCode"]
    assert exhausted_resource(ad) == expected
    sample = sample_from_ad(ad)
    assert (sample.exhausted if sample else None) == expected


def test_exhausted_usage_is_at_least_the_request():
    ad = job(9, when=100, JobStatus=3, rss_kib=0, HoldReasonCode=34, HoldReasonSubCode=102,
             RequestMemory=2000)
    del ad["ExitCode"]
    assert sample_from_ad(ad).memory_mb == 2000


def test_a_completed_job_that_was_once_held_is_normal():
    ad = job(9, when=100, LastHoldReasonCode=34, LastHoldReasonSubCode=102)
    assert sample_from_ad(ad).exhausted is None


def test_signal_and_user_removal_are_not_samples():
    killed = job(9, when=100, ExitBySignal=True, ExitSignal=9)
    del killed["ExitCode"]
    removed = job(9, when=100, JobStatus=3)
    assert sample_from_ad(killed) is None and sample_from_ad(removed) is None


def test_cores_fall_back_to_cpu_time_over_wall_time():
    ad = job(9, when=100, RemoteUserCpu=30.0, RemoteSysCpu=10.0, RemoteWallClockTime=20.0)
    del ad["CpusUsage"]
    assert sample_from_ad(ad).cores == 2.0


def test_malformed_category_names_the_field():
    with pytest.raises(InvalidSpecError, match="CondorexecCategory"):
        sample_from_ad(job(9, when=100, category=None, CondorexecCategory=5))


# -- HistoryPoller ---------------------------------------------------------------------------------

def test_second_poll_does_not_rescan(store):
    pool = ListPool(fixture_ads())
    poller = HistoryPoller(pool, store, source="list:a")
    assert poller.poll_once() == 8
    assert store.completions("fixture") == 7 and store.sample_count("fixture") == 8
    assert pool.calls[0]["since"] is None
    cursor = json.loads(store.get_cursor("list:a"))
    assert cursor == {"job": "6.0", "time": 1795555748}

    assert poller.poll_once() == 0
    assert "ClusterId == 6 && ProcId == 0" in pool.calls[1]["since"]
    assert pool.calls[1]["scanned"] == 1  # stopped at the old newest record

    # cluster 8 leaves the queue before cluster 7: out of ClusterId order
    pool.finish(job(8, when=1795555800), job(7, when=1795555810, rss_kib=900_000))
    assert poller.poll_once() == 2
    assert pool.calls[2]["scanned"] == 3
    assert store.histograms("cat")["memory"].max_seen == (900_000 + 1023) // 1024
    assert json.loads(store.get_cursor("list:a"))["job"] == "7.0"


def test_cursor_survives_a_new_poller(tmp_path):
    pool = ListPool(fixture_ads())
    with LabelStore(tmp_path / "l.sqlite") as s:
        HistoryPoller(pool, s, source="list:a").poll_once()
    pool.finish(job(7, when=1795555810))
    with LabelStore(tmp_path / "l.sqlite") as s:
        assert HistoryPoller(pool, s, source="list:a").poll_once() == 1
        assert pool.calls[-1]["scanned"] == 2
        assert pool.calls[-1]["since"] is not None and s.completions("fixture") == 7


@pytest.mark.fault
def test_two_histories_that_reuse_job_ids_keep_every_sample_in_one_store(store):
    """Two pools (two state directories, or two schedds) both have a job 1.0; the store keeps both."""
    first = ListPool([job(c, when=1000 + c) for c in range(15, 0, -1)])
    second = ListPool([job(c, when=1000 + c) for c in range(15, 0, -1)])  # the same ids and times
    assert HistoryPoller(first, store, source="local:/a/history").poll_once() == 15
    assert HistoryPoller(second, store, source="local:/b/history").poll_once() == 15
    assert store.completions("cat") == 30


def test_lost_cursor_record_rereads_only_the_overlap(store):
    pool = ListPool([job(c, when=1000 + 10 * c) for c in range(50, 0, -1)])  # newest first, 10 s apart
    poller = HistoryPoller(pool, store, source="list:r")
    assert poller.poll_once() == 50
    # the cursor record (50.0, at 1500) is gone, e.g. rotated away; then new jobs finish
    pool.ads = pool.ads[1:]
    pool.finish(*(job(c, when=2000 + c) for c in range(51, 54)))
    assert poller.poll_once() == 3  # the re-read old ones are deduplicated
    # the scan stopped at the first record older than 1500 - 300 = 1200 (job 19, at 1190):
    # 3 new + jobs 49..20 + the stop record, not the whole history
    assert pool.calls[-1]["scanned"] == 3 + 30 + 1


def test_full_pages_are_followed(store):
    pool = ListPool([job(c, when=1000 + c) for c in range(25, 0, -1)])
    poller = HistoryPoller(pool, store, source="list:p", max_per_poll=10)
    assert poller.poll_once() == 25
    assert [c["match"] for c in pool.calls] == [10, 10, 10]
    assert "EnteredCurrentStatus <= 1016" in pool.calls[1]["constraint"]
    assert json.loads(store.get_cursor("list:p"))["job"] == "25.0"


def test_constraint_and_bad_records(store):
    pool = ListPool([job(3, when=30), job(2, when=20, category=None), job(1, when=10, category="other"),
                     job(4, when=5, CondorexecCategory=7)])
    poller = HistoryPoller(pool, store, source="list:c", constraint="CondorexecCategory =!= undefined")
    assert poller.poll_once() == 2
    assert store.categories() == ["cat", "other"]
    assert pool.calls[0]["constraint"] == "CondorexecCategory =!= undefined"


def test_background_thread_and_last_poll_on_stop(store):
    pool = ListPool([])
    poller = HistoryPoller(pool, store, source="list:t", interval=0.02)
    poller.start()
    pool.finish(job(1, when=10))
    deadline = time.time() + 5
    while store.completions("cat") < 1 and time.time() < deadline:
        time.sleep(0.01)
    assert store.completions("cat") == 1
    pool.finish(job(2, when=20))
    poller.stop()
    assert store.completions("cat") == 2
    assert poller._thread is None


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"source": ""}, "source"), ({"interval": 0}, "interval"), ({"max_per_poll": 0}, "max_per_poll"),
    ({"constraint": "(((("}, "constraint"),
])
def test_bad_arguments_name_the_field(store, kwargs, field):
    with pytest.raises(InvalidSpecError) as info:
        HistoryPoller(ListPool([]), store, **{"source": "s", **kwargs})
    assert info.value.field == field
