"""packing.py's benchmark on a real heterogeneous HTCondor pool: two partitionable slots of different sizes.

    bash ci/condor-tests.sh --co -q    # optional: sets up /tmp/condorexec-ci and /tmp/venv-pool once
    P=/work/shared/htcondor/pool
    $P stop; $P reset; $P start 'NUM_CPUS = 9' 'MEMORY = 9500' \\
        'NUM_SLOTS_TYPE_1 = 1' 'SLOT_TYPE_1 = cpus=6, mem=6000' 'SLOT_TYPE_1_PARTITIONABLE = TRUE' \\
        'NUM_SLOTS_TYPE_2 = 1' 'SLOT_TYPE_2 = cpus=3, mem=3000' 'SLOT_TYPE_2_PARTITIONABLE = TRUE'
    cd /tmp/condorexec-ci && $P run /tmp/venv-pool/bin/python tests/bench/packing_real_pool.py \\
        [--tasks 45] [--sleep 10 20] [--modes naive exact cold warm] [--chart /tmp/packing-real-pool.png]
    # add 'STARTER_UPDATE_INTERVAL = 300' to the start line for a production-like usage update interval

The pool's machine then shows as two partitionable slots, ``slot1`` (6 cores, 6000 MB) and ``slot2``
(3 cores, 3000 MB): how a pool of a big and a small execute node looks to a submitter (NUM_CPUS may
exceed the real cores: the calls sleep). ``condor_status`` must list both before a run.

The workload, the four modes (naive/exact/cold/warm) and the measurements are packing.py's (its
docstring defines them), run through ``CondorExecutor(pool="condor", mode="per_call", ...)`` against
the real schedd, with calls long enough (10-20 s) that HTCondor's ~1-2 s of per-job cost (negotiation,
shadow, starter, file transfer) does not swamp them. Naive runs one call at a time (only slot1 holds
6 cores/6000 MB), so it alone takes about ``tasks`` x 17 s: 45 calls keep the four modes near 20
minutes. Differences from the local run:

* memory waste counts what the slot was given (execute event's ``Memory``): HTCondor rounds a request
  up to a multiple of 128 MB, so an exact 164 MB request gets 256 MB;
* "CPU % own" is only this submitting process: the jobs run under HTCondor's daemons, not below it;
* a mode cannot have a fresh pool of its own, so cold's empty label store starts its history cursor
  after the jobs already in the schedd's history (``start_store_after_history``), and each mode
  starts once the previous one's claims are gone (``wait_unclaimed``);
* the memory file is in /dev/shm, written by the user this runs as (the pool's user, so its jobs can
  map it).

After the table, the proof that calls were packed onto both slots as they fit, from the schedd's
history and the job event log: per mode and partitionable slot, the jobs of each category that ran
there (the execute event's ``SlotName``, checked against each history ad's ``LastRemoteHost``), the
most running there at once and the most cores and MB the slot had given out at once (never more than
it has, or HTCondor would not have matched them).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import cloudpickle
import htcondor2

sys.path.insert(0, str(Path(__file__).resolve().parent))
import packing  # noqa: E402
from packing import (  # noqa: E402
    APPS,
    Result,
    chart,
    describe,
    make_memory_file,
    run_calls,
    table,
    workload,
    workload_arguments,
)

from condorexec import CondorExecutor  # noqa: E402
from condorexec.pools.condor import CondorPool  # noqa: E402

# the execute node cannot import packing.py (only the job's sandbox is on its path): its apps travel by value
cloudpickle.register_pickle_by_value(packing)

ET = htcondor2.JobEventType
_ENDS = (ET.JOB_TERMINATED, ET.JOB_EVICTED, ET.JOB_HELD, ET.JOB_ABORTED)


def pool_shape(pool: CondorPool) -> tuple[dict, dict, dict[str, tuple[int, int]]]:
    """The pool's total cores/MB (the lower bound's capacity), its largest slot (naive's spec), and
    each partitionable slot's (cores, MB) by slot name (``slot1``)."""
    machines = pool.describe_machines()  # largest first
    if len(machines) < 2:
        raise SystemExit(f"the pool has {len(machines)} partitionable slot(s); start it as the docstring says")
    capacity = {"cores": sum(m.cores for m in machines), "memory": sum(m.memory for m in machines)}
    largest = {"cores": machines[0].cores, "memory": machines[0].memory}
    slots = {m.name.split("@")[0]: (m.cores, m.memory) for m in machines}
    return capacity, largest, slots


def pslot(slot_name: str) -> str:
    """``slot1_3@vm`` -> ``slot1``: the partitionable slot a dynamic slot was carved from."""
    return slot_name.split("@")[0].split("_")[0]


def per_slot(executor: CondorExecutor, mode: str) -> list[dict]:
    """Per partitionable slot, what ran there and how much at once: from the event log's execute
    events (``SlotName``, ``ExecuteProps``) and end events, in log order; each job's last slot is
    checked against its history ad's ``LastRemoteHost``, the schedd's own record of where it ran."""
    ads = executor.pool.history(f'CondorexecRun == "{executor.run_token}"',
                                ["ClusterId", "ProcId", "CondorexecApp", "LastRemoteHost"])
    app_of, host_of = {}, {}
    for ad in ads:
        job = f"{ad['ClusterId']}.{ad['ProcId']}"
        app_of[job] = str(ad.get("CondorexecApp", "?")).rsplit(".", 1)[-1]
        host_of[job] = str(ad.get("LastRemoteHost", ""))
    running: dict[str, dict[str, tuple[int, int]]] = defaultdict(dict)
    where: dict[str, str] = {}
    last_slot: dict[str, str] = {}
    ran: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    peak: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # jobs, cores, MB at once
    for event in htcondor2.JobEventLog(str(executor.log_path)).events(stop_after=0):
        job = f"{event.cluster}.{event.proc}"
        if event.type == ET.EXECUTE:
            slot = str(event["SlotName"])
            name = pslot(slot)
            props = event["ExecuteProps"]
            running[name][job] = (int(props["Cpus"]), int(props["Memory"]))
            where[job], last_slot[job] = name, slot
            ran[name][app_of.get(job, "?")] += 1
            now = running[name].values()
            p = peak[name]
            p[0], p[1], p[2] = max(p[0], len(now)), max(p[1], sum(c for c, _ in now)), max(p[2], sum(m for _, m in now))
        elif event.type in _ENDS and job in where:
            running[where.pop(job)].pop(job, None)
    wrong = {job: (slot, host_of.get(job)) for job, slot in last_slot.items() if host_of.get(job) != slot}
    if wrong:
        raise RuntimeError(f"{mode}: the event log and the history ads disagree on where jobs ran: {wrong}")
    if set(app_of) != set(last_slot):
        raise RuntimeError(f"{mode}: {len(app_of)} history ads but {len(last_slot)} jobs with an execute event")
    return [{"mode": mode, "pslot": name, "ran": dict(ran[name]), "jobs": peak[name][0],
             "cores": peak[name][1], "memory": peak[name][2]} for name in sorted(ran)]


def slot_table(rows: list[dict], slots: dict[str, tuple[int, int]]) -> str:
    lines = ["| mode | partitionable slot | run attempts there (small/medium/large) | most at once "
             "| most cores / MB given out at once |",
             "|---|---|---:|---:|---:|"]
    for r in rows:
        cores, memory = slots.get(r["pslot"], (0, 0))
        counts = "/".join(str(r["ran"].get(app, 0)) for app in APPS)
        lines.append(f"| {r['mode']} | {r['pslot']} ({cores} cores, {memory} MB) | {counts} | {r['jobs']} "
                     f"| {r['cores']} / {r['memory']} |")
    return "\n".join(lines)


def usage_delays(executor: CondorExecutor) -> list[tuple[str, float, float | None]]:
    """Per run attempt: (job, seconds from its execute event to its first IMAGE_SIZE event, seconds to the
    first IMAGE_SIZE event showing 90% of the largest MemoryUsage any of its IMAGE_SIZE events shows;
    NaN/None if it had none).

    This is when a running job's memory becomes visible to the submitter through the event log, which
    sets how soon a probe could teach its category anything before it ends. The peak is the event
    log's own: the history ad's MemoryUsage comes from ResidentSetSize rounded up (1550036 KB raw ->
    1750000 KB, 1709 MB where the events say 1514 MB), so it is not what the events ever reach."""
    open_runs: dict[str, tuple[float, list[tuple[float, float]]]] = {}
    out: list[tuple[str, float, float | None]] = []

    def close(job: str) -> None:
        started, sizes = open_runs.pop(job)
        if not sizes:
            out.append((job, float("nan"), None))
            return
        peak = max(m for _, m in sizes)
        out.append((job, sizes[0][0] - started, next(t for t, m in sizes if m >= 0.9 * peak) - started))

    for event in htcondor2.JobEventLog(str(executor.log_path)).events(stop_after=0):
        job = f"{event.cluster}.{event.proc}"
        if event.type == ET.EXECUTE:
            open_runs[job] = (event.timestamp, [])
        elif event.type == ET.IMAGE_SIZE and job in open_runs:
            open_runs[job][1].append((event.timestamp, float(event.get("MemoryUsage", 0))))
        elif event.type in _ENDS and job in open_runs:
            close(job)
    return out


def delay_summary(mode: str, delays: list[tuple[str, float, float | None]]) -> str:
    import math
    import statistics

    seen = [d for _, d, _ in delays if not math.isnan(d)]
    peak = [d for _, _, d in delays if d is not None]
    never = sum(1 for _, _, d in delays if d is None)

    def spread(values: list[float]) -> str:
        return (f"median {statistics.median(values):.0f} s (min {min(values):.0f}, max {max(values):.0f})"
                if values else "none")
    first_jobs = ", ".join(f"{job} {d:.0f}/{'-' if p is None else f'{p:.0f}'} s" for job, d, p in delays[:6])
    return (f"{mode}: execute -> first IMAGE_SIZE event: {spread(seen)}; -> the first with >= 90% of its peak "
            f"MemoryUsage: {spread(peak)}; {never} of {len(delays)} attempts had no IMAGE_SIZE event "
            f"(first attempts, first/90%: {first_jobs})")


def start_store_after_history(store_path: Path) -> None:
    """Make the (new) label store's history cursor start at the schedd's newest record.

    A fresh store reads the schedd's whole history of a category by design (a user's earlier runs
    teach it), and the naive and exact modes just ran the same functions, so the same categories: cold
    would learn from them and not be cold. The local benchmark has a fresh pool (and history) per mode;
    here the cursor stands in for that: the store starts empty and learns only from jobs after it."""
    import json

    from condorexec.labels.store import LabelStore

    pool = CondorPool()
    store = LabelStore(str(store_path))
    try:
        newest = list(pool.history("true", ["ClusterId", "ProcId", "EnteredCurrentStatus"], match=1))
        if newest:
            ad = newest[0]
            store.set_cursor(pool.profile.history_source, json.dumps(
                {"job": f"{ad['ClusterId']}.{ad['ProcId']}", "time": float(ad.eval("EnteredCurrentStatus"))}))
    finally:
        store.close()
        pool.close()


def wait_unclaimed(timeout: float = 90.0) -> None:
    """Wait until the previous mode's claims are released (only the two partitionable slots left,
    nothing claimed), so each mode starts on an idle pool as the local run starts on a fresh one."""
    import time

    collector = htcondor2.Collector()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ads = collector.query(htcondor2.AdType.Startd, projection=["Name", "State", "PartitionableSlot"])
        if all(bool(ad.get("PartitionableSlot", False)) for ad in ads):
            return
        time.sleep(2)
    print(f"warning: dynamic slots still there after {timeout:g} s", file=sys.stderr)


def run_mode(mode: str, calls: list[tuple[str, float]], base: Path, store: Path, window: int,
             memory_file: Path, capacity: dict, largest: dict) -> tuple[Result, list[dict], list]:
    wait_unclaimed()
    if mode == "cold":
        start_store_after_history(store)
    executor = CondorExecutor(label=mode, pool="condor", mode="per_call", autolabel=mode in ("cold", "warm"),
                              autocategory=True, label_store=str(store), autolabel_window=window)
    executor.run_dir = str(base / mode / "run")
    # run_calls shuts the executor down; its pool's history and event log stay readable after that
    result = run_calls(executor, mode, calls, memory_file, capacity, largest)
    return result, per_slot(executor, mode), usage_delays(executor)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    workload_arguments(parser, 45, (10.0, 20.0), modes=("naive", "exact", "cold", "warm"))
    parser.add_argument("--keep", action="store_true", help="keep the run directories (event logs, label store)")
    args = parser.parse_args()
    if os.geteuid() == 0:
        sys.exit("HTCondor refuses root's jobs: run this through `pool run` (see the docstring)")
    pool = CondorPool()
    try:
        capacity, largest, slots = pool_shape(pool)
    finally:
        pool.close()
    calls = workload(args.tasks, tuple(args.sleep), args.seed)
    base = Path(tempfile.mkdtemp(prefix="condorexec-packing-real-"))
    base.chmod(0o755)
    shm = Path(tempfile.mkdtemp(prefix="condorexec-packing-real-", dir="/dev/shm"))
    shm.chmod(0o755)
    memory_file = make_memory_file(shm)
    store = base / "labels.sqlite"  # empty for cold; warm reuses what cold learned
    results, rows, delays = [], [], []
    try:
        for mode in args.modes:
            result, slot_rows, mode_delays = run_mode(mode, calls, base, store, args.window, memory_file,
                                                      capacity, largest)
            results.append(result)
            rows += slot_rows
            delays.append((mode, mode_delays))
    finally:
        if args.keep:
            print(f"kept: {base}", file=sys.stderr)
        else:
            shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(shm, ignore_errors=True)
    where = " + ".join(f"{name} {c}c/{m} MB" for name, (c, m) in slots.items())
    title = describe(args.tasks, args.sleep, args.window, f"HTCondor {where}")
    print(f"\n{title}\n")
    print(table(results))
    print("\nwhere the jobs ran (event log SlotName = history LastRemoteHost):\n")
    print(slot_table(rows, slots))
    print("\nwhen a running job's memory shows in the event log:\n")
    for mode, mode_delays in delays:
        print(delay_summary(mode, mode_delays))
    if args.chart:
        chart(results, args.chart, title)
        print(f"\nchart: {args.chart}")


if __name__ == "__main__":
    main()
