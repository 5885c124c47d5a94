"""CondorPool against a live schedd: every htcondor2 call it makes, checked on real job ads.

Run with ``ci/condor-tests.sh`` (or ``pool run python -m pytest -m condor tests/condor``).
"""

from __future__ import annotations

import os
import shutil
import sys

import htcondor2
import psutil
import pytest

from condorexec.pools.condor import CondorPool

from .conftest import wait_for

pytestmark = pytest.mark.condor

STATUS = ["ClusterId", "ProcId", "JobStatus", "HoldReasonCode", "HoldReasonSubCode", "HoldReason"]


def statuses(pool: CondorPool, cluster: int) -> dict[int, int]:
    return {ad["ProcId"]: ad["JobStatus"] for ad in pool.query(f"ClusterId == {cluster}", STATUS)}


def in_history(pool: CondorPool, cluster: int, procs: int) -> list:
    ads = list(pool.history(f"ClusterId == {cluster}", ["ClusterId", "ProcId", "JobStatus"]))
    return ads if len(ads) == procs else []


def test_submit_itemdata_makes_one_cluster_with_per_row_requests(condor_pool, make_description):
    rows = [{"mem": "64MB", "disk": "1MB"}, {"mem": "200MB", "disk": "100MB"}, {"mem": "1GB", "disk": "2GB"}]
    desc = make_description("/bin/sleep", "300", request_memory="$(mem)", request_disk="$(disk)",
                            hold="true")  # stay queued, so the ads are read as submitted
    result = condor_pool.submit(desc, itemdata=rows)
    assert (result.first_proc, result.num_procs) == (0, 3)

    ads = condor_pool.query(f"ClusterId == {result.cluster}", ["ProcId", "RequestMemory", "RequestDisk"])
    got = sorted((ad["ProcId"], ad["RequestMemory"], ad["RequestDisk"]) for ad in ads)
    assert got == [(0, 64, 1024), (1, 200, 100 * 1024), (2, 1024, 2 * 1024 * 1024)]  # MiB, KiB
    assert all("Cmd" not in ad for ad in ads), "the projection should limit the attributes returned"
    assert {ad["ClusterId"] for ad in condor_pool.query(f"ClusterId == {result.cluster}")} == {result.cluster}


def test_act_hold_release_remove_by_ids_and_by_constraint(condor_pool, make_description, tag):
    first = condor_pool.submit(make_description("/bin/sleep", "300"), count=2)
    second = condor_pool.submit(make_description("/bin/sleep", "300", hold="true"))

    condor_pool.act(htcondor2.JobAction.Hold, first.job_ids())
    wait_for("both procs held", lambda: statuses(condor_pool, first.cluster) == {0: 5, 1: 5}, 30)
    held = condor_pool.query(f"ClusterId == {first.cluster}", STATUS)
    assert {ad["HoldReasonCode"] for ad in held} == {1}  # 1: held by a user (us)

    condor_pool.act(htcondor2.JobAction.Release, f"ClusterId == {first.cluster} && JobStatus == 5")
    wait_for("both procs released", lambda: 5 not in statuses(condor_pool, first.cluster).values(), 30)

    condor_pool.act(htcondor2.JobAction.Remove, [f"{first.cluster}.0"])
    wait_for("proc 0 gone", lambda: list(statuses(condor_pool, first.cluster)) == [1], 60)
    condor_pool.act(htcondor2.JobAction.Remove, f'CondorexecTest == "{tag}"')
    wait_for("every tagged job gone", lambda: not condor_pool.query(f'CondorexecTest == "{tag}"'), 60)
    assert statuses(condor_pool, second.cluster) == {}


def test_edit_a_held_job_then_release_it_to_completion(condor_pool, make_description):
    result = condor_pool.submit(make_description("/bin/true", hold="true"))
    condor_pool.edit(result.job_ids(), "RequestMemory", "256")
    [ad] = condor_pool.query(f"ClusterId == {result.cluster}", ["RequestMemory", "JobStatus"])
    assert (ad["RequestMemory"], ad["JobStatus"]) == (256, 5)

    condor_pool.act(htcondor2.JobAction.Release, result.job_ids())
    [done] = wait_for("the released job in history", lambda: in_history(condor_pool, result.cluster, 1))
    assert done["JobStatus"] == 4
    [full] = condor_pool.history(f"ClusterId == {result.cluster}", ["RequestMemory", "ExitCode"])
    assert (full["RequestMemory"], full["ExitCode"]) == (256, 0)


def test_history_with_each_form_of_since(condor_pool, make_description, tag):
    before = condor_pool.submit(make_description("/bin/true"))
    wait_for("the first cluster in history", lambda: in_history(condor_pool, before.cluster, 1))
    after = condor_pool.submit(make_description("/bin/true"), count=2)
    wait_for("the second cluster in history", lambda: in_history(condor_pool, after.cluster, 2))

    mine = f'CondorexecTest == "{tag}"'
    expected = [(after.cluster, 0), (after.cluster, 1)]

    def ids(since, match=-1):
        ads = condor_pool.history(mine, ["ClusterId", "ProcId"], match=match, since=since)
        return sorted((ad["ClusterId"], ad["ProcId"]) for ad in ads)

    assert ids(None) == sorted([(before.cluster, 0), *expected])
    assert ids(before.cluster) == expected                      # int: a ClusterId
    assert ids(str(before.cluster)) == expected                 # digits: a ClusterId too
    assert ids(f"{before.cluster}.0") == expected               # "C.P": a job id
    assert ids(f"ClusterId == {before.cluster}") == expected    # an expression
    assert ids(after.cluster) == []                             # nothing was recorded after it
    assert len(ids(None, match=1)) == 1
    completed = condor_pool.history(mine, ["CompletionDate"], match=1)
    newest = next(completed)["CompletionDate"]
    assert ids(f"CompletionDate < {newest}") != []              # stops at the first older record


def test_describe_machines_and_condor_version(condor_pool):
    machines = condor_pool.describe_machines()
    assert len(machines) == 1, machines  # the test pool: one partitionable slot of the whole machine
    [machine] = machines
    assert machine.cores == os.cpu_count()
    total_mib = psutil.virtual_memory().total / 2**20
    assert 0.8 * total_mib <= machine.memory <= 1.05 * total_mib
    free_mib = shutil.disk_usage("/var/lib/condor-pool/execute").free / 2**20
    assert 0.5 * free_mib <= machine.disk <= 1.5 * free_mib  # KiB -> MiB, not KB or bytes
    assert machine.gpus == 0
    assert condor_pool.largest_machine() == machine

    version = condor_pool.condor_version()
    assert version.startswith("$CondorVersion: 25."), version
    assert condor_pool.version_tuple() >= (25, 0, 0)
    assert condor_pool.supports_retry_request_memory() is (condor_pool.version_tuple() >= (25, 2, 1))


def test_a_job_over_its_memory_request_is_held_21_102(condor_pool, make_description, job_dir):
    hog = job_dir / "hog.py"
    hog.write_text("import time\nblock = b'x' * (300 * 1024 * 1024)\ntime.sleep(120)\n")
    hog.chmod(0o644)
    result = condor_pool.submit(make_description(sys.executable, str(hog), request_memory="64MB"))

    def held():
        ads = condor_pool.query(f"ClusterId == {result.cluster} && JobStatus == 5", STATUS)
        return ads[0] if ads else None

    ad = wait_for("the memory hog held", held, 60)
    # a personal pool without cgroups holds by policy (21); with cgroups the kernel's OOM gives 34
    assert (ad["HoldReasonCode"], ad["HoldReasonSubCode"]) == (21, 102), ad
    assert "memory" in ad["HoldReason"].lower()

    events = list(htcondor2.JobEventLog(str(job_dir / "job.log")).events(stop_after=0))
    types = [e.type for e in events]
    assert types[0] == htcondor2.JobEventType.SUBMIT and htcondor2.JobEventType.EXECUTE in types
    [held_event] = [e for e in events if e.type == htcondor2.JobEventType.JOB_HELD]
    assert (held_event.cluster, held_event.proc) == (result.cluster, 0)
    assert (held_event["HoldReasonCode"], held_event["HoldReasonSubCode"]) == (21, 102)
