"""The demo's per-app report (condorexec/runstats.py) read from a history file and a job event log in
HTCondor's formats: calls run as their own jobs count per app (a retried call once), category
workers' jobs get a row of their own, and the totals add up."""

from __future__ import annotations

import classad2

from condorexec.pools.local import historyfile
from condorexec.pools.local.eventlog import EventLogWriter
from condorexec.pools.local.spool import SpoolLayout, SpoolView
from condorexec.runstats import app_stats, format_table

RUN = "r1"


def _ad(cluster: int, proc: int, **attrs: object) -> classad2.ClassAd:
    ad = classad2.ClassAd({"ClusterId": cluster, "ProcId": proc, "CondorexecRun": RUN, "JobStatus": 4,
                           "RequestCpus": 1, "RequestMemory": 200, "RequestDisk": 102400, "MemoryUsage": 50,
                           "DiskUsage": 10, "CompletionDate": 1700000100, "Owner": "u"})
    ad.update(attrs)
    return ad


def test_worker_jobs_get_their_own_row_and_the_counts_add_up(tmp_path):
    layout = SpoolLayout(tmp_path / "state")
    layout.spool.mkdir(parents=True)
    ads = [
        _ad(1, 0, CondorexecApp="prepare", CondorexecTask=1),
        _ad(1, 1, CondorexecApp="prepare", CondorexecTask=2),
        _ad(3, 0, CondorexecApp="prepare", CondorexecTask=2),  # task 2 again: retried bigger
        _ad(2, 0, CondorexecApp="summarize", CondorexecTask=3),
        _ad(4, 0, CondorexecWorker="w0", CondorexecWorkerCategory="default", RequestCpus=2),
        _ad(4, 1, CondorexecWorker="w1", CondorexecWorkerCategory="default", RequestCpus=2),
        _ad(5, 0, CondorexecApp="other-run", CondorexecTask=9, CondorexecRun="r2"),  # another run: left out
    ]
    historyfile.append_ads(layout.history, ads)
    log = EventLogWriter(tmp_path / "jobs.log")
    for when, (cluster, proc) in enumerate([(1, 0), (1, 1), (2, 0), (3, 0), (4, 0), (4, 1)]):
        log.submit(cluster, proc, 1700000000 + when)
        log.execute(cluster, proc, 1700000000 + when, host="h", slot_name="slot1_1", cpus=1, memory_mb=200,
                    disk_kib=1024, scratch_dir="/x")
    for when, (cluster, proc) in enumerate([(1, 0), (1, 1), (2, 0), (3, 0), (4, 0), (4, 1)]):
        log.aborted(cluster, proc, 1700000010 + when, reason="")
    log.close()

    rows, overall, _ = app_stats(SpoolView(layout), RUN, tmp_path / "jobs.log")
    by_app = {r.app: r for r in rows}
    assert set(by_app) == {"prepare", "summarize", "workers: default"}
    assert (by_app["prepare"].calls, by_app["prepare"].jobs) == (2, 3)
    assert (by_app["summarize"].calls, by_app["summarize"].jobs) == (1, 1)
    assert (by_app["workers: default"].calls, by_app["workers: default"].jobs) == (None, 2)
    assert overall == 6  # every job started before the first ended

    table = format_table(rows, overall, 16.0).splitlines()
    assert table[0].split()[:3] == ["app", "calls", "jobs"]
    worker_row = next(line for line in table if line.startswith("workers: default"))
    assert worker_row.split()[2:4] == ["-", "2"]  # no call count it cannot know
    assert table[-1].split()[:3] == ["all", "3", "6"]  # calls run as their own jobs; all jobs
    assert "?" not in "\n".join(table)
