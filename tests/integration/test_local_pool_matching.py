"""Matchmaking on the local pool, proven from the event log's order."""

import time

import htcondor2
import pytest

from condorexec.pools.local import LocalPool
from condorexec.runstats import read_log


def _description(log, seconds, cpus, priority, count):
    return htcondor2.Submit(f"""
executable = /bin/sleep
arguments = {seconds}
request_cpus = {cpus}
request_memory = 100MB
request_disk = 10MB
priority = {priority}
log = {log}
queue {count}
""")


@pytest.mark.parametrize(("big_priority", "big_first"), [(0, False), (10, True)])
def test_small_jobs_pass_a_waiting_big_one_unless_it_has_priority(tmp_path, big_priority, big_first):
    log = tmp_path / "jobs.log"
    pool = LocalPool(["cpus=2,memory=2000"], state_dir=tmp_path / "state", monitor_period=0.1)
    try:
        first = pool.submit(_description(log, 1, 1, 0, 1), submit_dir=tmp_path)   # one core busy for 1 s
        big = pool.submit(_description(log, 0.2, 2, big_priority, 1), submit_dir=tmp_path)  # needs the node
        small = pool.submit(_description(log, 0.2, 1, 0, 3), submit_dir=tmp_path)  # fit the free core now
        wanted = set(first.job_ids() + big.job_ids() + small.job_ids())
        for _ in range(200):
            if not pool.query():
                break
            time.sleep(0.05)
        assert not pool.query(), "jobs still queued after 10 s"
    finally:
        pool.close()
    steps, _ = read_log(log)
    starts = [job for job, delta in steps if delta > 0 and job in wanted]
    big_id = big.job_ids()[0]
    small_ids = set(small.job_ids())
    big_before_small = starts.index(big_id) < min(starts.index(j) for j in small_ids)
    assert big_before_small is big_first


def test_allowed_job_duration_holds_the_job_with_code_46(tmp_path):
    log = tmp_path / "jobs.log"
    pool = LocalPool(["cpus=2,memory=2000"], state_dir=tmp_path / "state", monitor_period=0.1)
    try:
        result = pool.submit(htcondor2.Submit(f"""
executable = /bin/sleep
arguments = 30
allowed_job_duration = 1
request_memory = 50MB
log = {log}
queue
"""), submit_dir=tmp_path)
        for _ in range(100):
            if pool.query("JobStatus == 5"):
                break
            time.sleep(0.1)
        [ad] = pool.query(f"ClusterId == {result.cluster}", ["JobStatus", "HoldReasonCode", "HoldReason"])
    finally:
        pool.close()
    assert (ad["JobStatus"], ad["HoldReasonCode"]) == (5, 46) and "allowed job duration" in ad["HoldReason"]


def test_arguments_and_environment_reach_the_job_as_condor_submit_wrote_them(tmp_path):
    """V2 quoting: single quotes group, '' is a quote; a double quote and a backslash are plain characters."""
    (tmp_path / "show.sh").write_text('#!/bin/sh\nprintf "%s|" "$@" "$GREETING"\n')
    (tmp_path / "show.sh").chmod(0o755)
    log = tmp_path / "jobs.log"
    pool = LocalPool(["cpus=1,memory=500"], state_dir=tmp_path / "state", monitor_period=0.1)
    try:
        pool.submit(htcondor2.Submit(f"""
executable = show.sh
arguments = "'a b' c""d e\\\\f 'it''s'"
environment = "GREETING='hello world'"
output = out.txt
log = {log}
request_memory = 50MB
queue
"""), submit_dir=tmp_path)
        for _ in range(100):
            if not pool.query():
                break
            time.sleep(0.05)
    finally:
        pool.close()
    assert (tmp_path / "out.txt").read_text() == 'a b|c"d|e\\\\f|it\'s|hello world|'
