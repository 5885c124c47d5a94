"""Autolabel on the live HTCondor pool: a learned label lets calls share a slot one naive call fills.

Run with ``bash ci/condor-tests.sh`` (as the pool's user; see docs/htcondor-pool.md), which resets the
pool first: the label store here is new, and a new store learns from the schedd's whole history of
a category, so this module's category must not be in the history already.

What is proven comes from HTCondor's own records, not the executor's: the history ads (what each job
requested, where it last ran) and the job event log (which dynamic slot each run got, with what
resources, and the order in which runs started and ended).
"""

from __future__ import annotations

import sys
from pathlib import Path

import cloudpickle
import htcondor2
import pytest

from condorexec import CondorExecutor
from condorexec.pools.condor import CondorPool
from condorexec.runstats import max_concurrent, read_log

from .conftest import wait_for

pytestmark = pytest.mark.condor

# the execute node cannot import this module: its functions travel by value
cloudpickle.register_pickle_by_value(sys.modules[__name__])

ET = htcondor2.JobEventType
HOLD_MB, SLEEP_S = 40, 8
#: the category autocategory gives ``hold_and_sleep``: its module and name
CATEGORY = f"{__name__}.hold_and_sleep"
PROJECTION = ["ClusterId", "ProcId", "RequestCpus", "RequestMemory", "MemoryUsage", "LastRemoteHost",
              "CondorexecCategory", "JobStatus"]


def hold_and_sleep(megabytes: int, seconds: float) -> int:
    """Touch ``megabytes`` of memory and keep it while sleeping: long enough for the startd to
    sample it (every 2 s on the CI pool) and for two of these to overlap."""
    import time

    block = bytearray(megabytes * 2**20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    time.sleep(seconds)
    return len(block) // 2**20


def pslot(slot_name: str) -> str:
    """``slot1_3@vm`` -> ``slot1@vm``: the partitionable slot a dynamic slot was carved from."""
    local, _, host = slot_name.partition("@")
    return f"{local.split('_')[0]}@{host}"


def executions(log_path: Path) -> dict[str, list[dict]]:
    """Per job, each execute event as {slot, cpus, memory}."""
    runs: dict[str, list[dict]] = {}
    for event in htcondor2.JobEventLog(str(log_path)).events(stop_after=0):
        if event.type == ET.EXECUTE:
            props = event["ExecuteProps"]
            runs.setdefault(f"{event.cluster}.{event.proc}", []).append(
                {"slot": str(event["SlotName"]), "cpus": int(props["Cpus"]), "memory": int(props["Memory"])})
    return runs


def test_a_learned_label_lets_two_calls_share_the_slot_the_learning_call_filled(condor_pool: CondorPool, tmp_path):
    [machine, *others] = condor_pool.describe_machines()  # largest first
    if machine.cores < 2 or others:
        pytest.skip(f"needs the CI pool's one partitionable slot of 2+ cores, have {[machine, *others]}")
    executor = CondorExecutor(label="autolabel", pool="condor", mode="per_call", autolabel=True,
                              autocategory=True, label_store=str(tmp_path / "labels.sqlite"))
    executor.run_dir = str(tmp_path / "run")
    executor.start()
    try:
        store = executor.poller.store
        assert store.completions(CATEGORY) == 0, "the new store learned the category from older history"
        first = executor.submit(hold_and_sleep, {}, HOLD_MB, SLEEP_S)
        assert first.result(timeout=120) == HOLD_MB

        def learned() -> bool:
            executor.poller.poll_once()
            return store.completions(CATEGORY) >= 1  # autolabel_window=1: one completion ends learning

        wait_for("the learning call's usage read from history", learned, 60, every=1)
        pair = [executor.submit(hold_and_sleep, {}, HOLD_MB, SLEEP_S) for _ in range(2)]
        assert [f.result(timeout=120) for f in pair] == [HOLD_MB, HOLD_MB]

        def in_history() -> list:
            ads = list(condor_pool.history(f'CondorexecRun == "{executor.run_token}"', PROJECTION))
            return ads if len(ads) >= 3 else []

        ads = wait_for("three jobs in history", in_history, 60)
        assert len(ads) == 3 and all(ad["JobStatus"] == 4 and ad["CondorexecCategory"] == CATEGORY for ad in ads)
        ads.sort(key=lambda ad: (ad["ClusterId"], ad["ProcId"]))
        learner, *learned_pair = ads
        job = {id(ad): f"{ad['ClusterId']}.{ad['ProcId']}" for ad in ads}
        runs = executions(executor.log_path)

        # the learning call knew nothing: it asked for the whole slot, so nothing else could run beside it
        assert (learner.eval("RequestCpus"), learner.eval("RequestMemory")) == (machine.cores, machine.memory)
        assert [(r["cpus"], r["memory"]) for r in runs[job[id(learner)]]] == [(machine.cores, machine.memory)]

        # the two learned calls: 1 core and the 250 MB bucket their ~50 MB peak falls in
        for ad in learned_pair:
            assert (ad.eval("RequestCpus"), ad.eval("RequestMemory")) == (1, 250), ad
            assert int(ad.eval("MemoryUsage")) <= 250
            [run] = runs[job[id(ad)]]
            # a dynamic slot of their own size (HTCondor rounds memory up to 128 MB), not the whole slot
            assert run["cpus"] == 1 and 250 <= run["memory"] < machine.memory, run
            assert run["slot"] == ad["LastRemoteHost"]  # the schedd's history agrees with the event log
        slots = [runs[job[id(ad)]][0]["slot"] for ad in learned_pair]
        assert slots[0] != slots[1], "both ran in one dynamic slot, so one after the other"
        # in the partitionable slot the learning call had filled
        assert {pslot(s) for s in slots} == {pslot(runs[job[id(learner)]][0]["slot"])}, slots

        # and at the same time: both had started before either ended (event log order)
        steps, _ = read_log(executor.log_path)
        assert max_concurrent(steps, {job[id(ad)] for ad in learned_pair}) == 2, steps
    finally:
        executor.shutdown()
    assert not condor_pool.query(f'CondorexecRun == "{executor.run_token}"', ["ClusterId"])
