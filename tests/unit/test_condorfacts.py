"""HTCondor's numbers, read one way everywhere: the hold table, the event table, the expressions."""

from __future__ import annotations

import classad2
import htcondor2
import pytest

from condorexec.condorfacts import (
    EVENT_TRANSITIONS,
    JobStatus,
    Transition,
    classify_hold,
    job_constraint,
    lease_periodic_remove,
    lease_value,
    request_edit,
    run_constraint,
)
from condorexec.core import holds
from condorexec.labels import poller

HOLDS = [
    # (code, subcode, reason, resource): HTCondor 25's own meanings (condor_holdcodes.h, param_info.in)
    (34, 102, "Job has gone over cgroup memory limit of 1024 megabytes.", "memory"),
    (34, 104, "Job has exceeded its disk allocation", "disk"),
    (34, 0, "Job has gone over memory limit of 1024 megabytes.", "memory"),  # before 24.0.12
    (34, 0, "disk usage exceeded", "disk"),
    (21, 102, "memory usage exceeded request_memory", "memory"),  # POLICY:HOLD_IF_MEMORY_EXCEEDED
    (21, 104, "disk usage exceeded allocated disk", "disk"),  # POLICY:HOLD_IF_DISK_EXCEEDED
    (21, 101, "CPU usage exceeded request_cpus", "cores"),  # POLICY:HOLD_IF_CPUS_EXCEEDED
    (21, 0, "the startd's own policy said memory", None),  # no subcode: not a metaknob condorexec knows
    (26, 0, "SYSTEM_PERIODIC_HOLD: memory too high", "memory"),
    (26, 0, "SYSTEM_PERIODIC_HOLD: disk too full", "disk"),
    (26, 0, "SYSTEM_PERIODIC_HOLD: ran too long", None),
    (1, 0, "via condor_hold (by user me)", None),
    (12, 2, "Transfer output files failure: No such file", None),
    (13, 2, "Transfer input files failure: memory.txt", None),
    (46, 0, "The job exceeded allowed job duration", None),
    (None, None, "", None),
]


@pytest.mark.parametrize(("code", "subcode", "reason", "resource"), HOLDS)
def test_classify_hold(code, subcode, reason, resource):
    assert classify_hold(code, subcode, reason) == resource


@pytest.mark.parametrize(("code", "subcode", "reason", "resource"), HOLDS)
def test_the_executor_s_retry_policy_and_the_label_poller_read_every_hold_alike(code, subcode, reason, resource):
    """They once disagreed: 21/0 with "memory" in the reason was learned as an exhaustion by the poller
    and failed as a JobHeld by the executor."""
    ad = classad2.ClassAd({"HoldReasonCode": code, "HoldReasonSubCode": subcode, "HoldReason": reason}
                          if code is not None else {})
    assert holds.exhausted(code, subcode, reason) == poller.exhausted_resource(ad) == resource


def test_job_status_is_htcondor_s_own_numbering():
    assert JobStatus is htcondor2.JobStatus
    assert [int(s) for s in (JobStatus.IDLE, JobStatus.RUNNING, JobStatus.REMOVED, JobStatus.COMPLETED,
                             JobStatus.HELD)] == [1, 2, 3, 4, 5]


def test_event_table_maps_the_events_condorexec_acts_on():
    ET = htcondor2.JobEventType
    assert EVENT_TRANSITIONS[ET.JOB_TERMINATED] is Transition.TERMINATED
    assert EVENT_TRANSITIONS[ET.JOB_HELD] is Transition.HELD
    assert EVENT_TRANSITIONS[ET.JOB_ABORTED] is Transition.ABORTED
    assert EVENT_TRANSITIONS[ET.IMAGE_SIZE] is Transition.USAGE  # a probe's running memory (core/probes.py)
    assert ET.SUBMIT not in EVENT_TRANSITIONS and ET.FILE_TRANSFER not in EVENT_TRANSITIONS


def test_expressions_parse_and_mean_what_they_say():
    assert run_constraint('run"1') == 'CondorexecRun == "run\\"1"'
    ad = classad2.ClassAd({"CondorexecRun": 'run"1', "ClusterId": 7, "ProcId": 3})
    assert classad2.ExprTree(run_constraint('run"1')).eval(ad) is True
    assert classad2.ExprTree(job_constraint("7.3")).eval(ad) is True
    assert classad2.ExprTree(job_constraint("7.4")).eval(ad) is False
    assert lease_value(1000.9, 60) == "1060"
    expired = classad2.ClassAd({"CondorexecLeaseExpires": 1})
    assert classad2.ExprTree(lease_periodic_remove()).eval(expired) is True
    assert classad2.ExprTree(lease_periodic_remove()).eval(classad2.ClassAd()) is False  # no lease: kept
    for token in ("a\\b", "two\nlines", "caf\u00e9"):  # any run token, written by classad2.quote
        assert classad2.ExprTree(run_constraint(token)).eval(classad2.ClassAd({"CondorexecRun": token})) is True
        assert classad2.ExprTree(run_constraint(token)).eval(classad2.ClassAd({"CondorexecRun": "x"})) is False


def test_request_edits_are_in_htcondor_s_units():
    assert request_edit("memory", 2048) == ("RequestMemory", "2048")  # MiB
    assert request_edit("disk", 3) == ("RequestDisk", "3072")  # KiB
    assert request_edit("cores", 4) == ("RequestCpus", "4")


def test_a_job_refuses_a_claimed_slot_much_bigger_than_it_asks_for_and_nothing_else():
    from condorexec.condorfacts import claim_fits_requirements

    expr = classad2.ExprTree(claim_fits_requirements())
    job = classad2.ClassAd({"RequestCpus": 1, "RequestMemory": 250})

    def fits(**slot) -> bool:
        return expr.eval(job, classad2.ClassAd(slot)) is True

    assert not fits(DynamicSlot=True, Cpus=6, Memory=6000)  # a probe's whole-machine claim
    assert not fits(DynamicSlot=True, Cpus=2, Memory=256)  # more cores than asked
    assert not fits(DynamicSlot=True, Cpus=1, Memory=500)
    assert fits(DynamicSlot=True, Cpus=1, Memory=256)  # the startd rounds 250 MB up to 256
    assert fits(PartitionableSlot=True, DynamicSlot=False, Cpus=6, Memory=6000)  # carved to size
    assert fits(Cpus=6, Memory=6000)  # a static slot, or the local pool's node


def test_job_constraint_of_a_cluster_matches_its_every_proc() -> None:
    assert classad2.ExprTree(job_constraint("7")).eval(classad2.ClassAd({"ClusterId": 7, "ProcId": 3})) is True
    assert classad2.ExprTree(job_constraint("7")).eval(classad2.ClassAd({"ClusterId": 8, "ProcId": 3})) is False
