"""How well autolabel packs a heterogeneous pool: makespan and memory waste, four ways, one workload.

    python tests/bench/packing.py [--tasks 60] [--sleep 1.5 2.5] [--window 1] [--chart docs/img/packing.png]

The local pool emulates two execute nodes, 6 cores/6000 MB and 3 cores/3000 MB. The workload is
three apps (autocategory: one category each) that hold 100, 600 and 1500 MB resident (mapped
from one tmpfs file: see ``make_memory_file``), then sleep, interleaved small, medium, large, ...
as a workflow that calls them in turn would submit them. Every call is submitted at once, as Parsl
does for independent tasks. Four modes, each on a fresh local pool:

  naive   no sizing knowledge: every call asks for the largest node (6 cores, 6000 MB), so one job
          runs at a time (the 3-core node can never match it)
  exact   the user gives cores=1 and memory = allocation + 64 MB (the job's interpreter measures
          ~14 MB; 64 MB of headroom keeps a spec "exact" without being cut to the byte) for each app
  cold    autolabel from an empty label store (learning while it runs)
  warm    autolabel from the store the cold run left behind
  auto-cold, auto-warm
          the same in the default mode (``mode="auto"``: short calls through slot workers, long ones as
          their own jobs), from a label store of their own; the rest of the modes run one job per call

Measured from what HTCondor itself records (history ads and the job event log):

  makespan   first submit to last result, measured by this process
  lower bnd  max(longest job, sum(cores_used * wall) / 9 cores, sum(MemoryUsage * wall) / 9000 MB),
             cores_used = max(1, ceil(CpusUsage)) (slots have whole cores), wall = the successful
             attempt's RemoteWallClockTime share; a bound for *this* mode's measured jobs
  mem waste  (allocated - used) / allocated, allocated = sum over attempts of the slot's Memory
             (execute event) * that attempt's wall, used = MemoryUsage * RemoteWallClockTime
  retries    jobs restarted bigger after running out of a learned size (executor.stats)
  CPU %      CPU used by this benchmark's process tree / the whole machine's busy share, over the
             mode's makespan (2 real cores): shows whether the real CPU (or someone else's work on
             the machine), not the packing, limited the run
"""

from __future__ import annotations

import argparse
import math
import random
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import htcondor2
import psutil

from condorexec import CondorExecutor
from condorexec.runstats import max_concurrent, read_log

NODES = ["cpus=6,memory=6000,name=big", "cpus=3,memory=3000,name=small"]
CAPACITY = {"cores": 9, "memory": 9000}
LARGEST = {"cores": 6, "memory": 6000}
#: MB each app really allocates; the job's peak is this plus the forked interpreter (~14 MB)
ALLOCATE_MB = {"small": 100, "medium": 600, "large": 1500}
EXACT_HEADROOM_MB = 64
MODES = ("naive", "exact", "cold", "warm", "auto-cold", "auto-warm")
COLORS = {"naive": "#999999", "exact": "#4477aa", "cold": "#ee7733", "warm": "#228833", "auto-cold": "#cc3311",
          "auto-warm": "#009988"}
ET = htcondor2.JobEventType


def _hold(path: str, megabytes: int, seconds: float) -> int:
    """Map ``megabytes`` of the resident tmpfs file ``path`` into this job (they count in its RSS, as
    the pool measures it, exactly like private memory), hold them while sleeping, return the size."""
    import mmap
    import os
    import time

    fd = os.open(path, os.O_RDONLY)
    try:
        block = mmap.mmap(fd, megabytes * 2**20, flags=mmap.MAP_SHARED | mmap.MAP_POPULATE, prot=mmap.PROT_READ)
    finally:
        os.close(fd)
    time.sleep(seconds)
    block.close()
    return megabytes


# one function per category: autocategory names a category after the function
def small(path: str, seconds: float) -> int:
    return _hold(path, ALLOCATE_MB["small"], seconds)


def medium(path: str, seconds: float) -> int:
    return _hold(path, ALLOCATE_MB["medium"], seconds)


def large(path: str, seconds: float) -> int:
    return _hold(path, ALLOCATE_MB["large"], seconds)


def make_memory_file(directory: Path) -> Path:
    """One resident file as large as the largest app's allocation, written once.

    Why not private memory: on this Firecracker VM a fresh anonymous page costs a host fault, ~1 s of
    vCPU per GB, so 60 jobs allocating 100-1500 MB saturate the 2 real cores and the benchmark would
    measure page faults, not packing. Mapping resident tmpfs pages costs ~0.07 s per GB."""
    import mmap

    path = directory / "memory.bin"
    size = max(ALLOCATE_MB.values()) * 2**20
    with open(path, "wb+") as f:
        f.truncate(size)
        block = mmap.mmap(f.fileno(), size, flags=mmap.MAP_SHARED | mmap.MAP_POPULATE)
        for offset in range(0, size, 2**20):
            block[offset] = 1  # pages exist now; MAP_POPULATE of a hole would not keep them
        block.close()
    return path


APPS = {"small": small, "medium": medium, "large": large}


def workload(tasks: int, sleep: tuple[float, float], seed: int) -> list[tuple[str, float]]:
    """(app, sleep seconds) per call, categories interleaved, sleeps drawn reproducibly."""
    rng = random.Random(seed)
    names = list(APPS)
    return [(names[i % len(names)], round(rng.uniform(*sleep), 2)) for i in range(tasks)]


def spec_for(mode: str, app: str, largest: dict = LARGEST) -> dict:
    """What the user writes in ``parsl_resource_specification`` in ``mode`` (``largest``: the whole
    largest node naive asks for)."""
    if mode == "naive":
        return dict(largest)
    if mode == "exact":
        return {"cores": 1, "memory": ALLOCATE_MB[app] + EXACT_HEADROOM_MB}
    return {}


@dataclass
class Result:
    mode: str
    makespan: float
    lower_bound: float
    bound_by: str
    memory_waste: float
    retries: int
    most_at_once: int
    own_cpu_percent: float
    cpu_percent: float
    requests: dict[str, set[tuple[int, int]]]


def run_mode(mode: str, calls: list[tuple[str, float]], base: Path, store: Path, window: int,
             memory_file: Path, early_release: bool = True) -> Result:
    autolabel = mode.removeprefix("auto-") in ("cold", "warm")
    default_mode = mode.startswith("auto-")
    executor = CondorExecutor(label=mode, pool="local", nodes=NODES, state_dir=str(base / mode / "state"),
                              autolabel=autolabel, autocategory=True,
                              label_store=str(store.with_name("labels-auto.sqlite") if default_mode else store),
                              autolabel_window=window, autolabel_early_release=early_release,
                              monitor_period=0.1, mode="auto" if default_mode else "per_call")
    executor.run_dir = str(base / mode / "run")
    return run_calls(executor, mode, calls, memory_file)


def run_calls(executor: CondorExecutor, mode: str, calls: list[tuple[str, float]], memory_file: Path,
              capacity: dict = CAPACITY, largest: dict = LARGEST) -> Result:
    """Start ``executor``, submit every call at once, wait for all, check the results, measure, shut down.

    Shared by the local pool's run and tests/bench/packing_real_pool.py, which passes its own
    executor and its pool's ``capacity`` (for the lower bound) and ``largest`` node (naive's spec)."""
    executor.start()
    done = 0
    lock = threading.Lock()

    def finished(_future) -> None:
        nonlocal done
        with lock:
            done += 1

    try:
        cpu_before, own_before = psutil.cpu_times(), tree_cpu_seconds()
        started = time.perf_counter()
        futures = []
        for app, seconds in calls:
            future = executor.submit(APPS[app], spec_for(mode, app, largest), str(memory_file), seconds)
            future.add_done_callback(finished)
            futures.append(future)
        shown = -1
        while done < len(futures):
            if done == shown:
                time.sleep(0.2)
                continue
            shown = done
            print(f"\r{mode:>5}: {done}/{len(futures)} done, {executor.stats['retries']} retries, "
                  f"{time.perf_counter() - started:5.1f} s", end="", file=sys.stderr, flush=True)
        makespan = time.perf_counter() - started
        cpu = busy_percent(cpu_before, psutil.cpu_times())
        own = 100.0 * (tree_cpu_seconds() - own_before) / (makespan * (psutil.cpu_count() or 1))
        print(f"\r{mode:>5}: {done}/{len(futures)} done, {executor.stats['retries']} retries, "
              f"{makespan:5.1f} s", file=sys.stderr)
        for future, (app, _) in zip(futures, calls, strict=True):
            if future.result() != ALLOCATE_MB[app]:
                raise RuntimeError(f"{mode}: {app} returned {future.result()}")
        return measure(executor, mode, makespan, own, cpu, capacity)
    finally:
        executor.shutdown()


def tree_cpu_seconds() -> float:
    """CPU seconds of this process and its descendants (the pool's fork server and the jobs it reaped)."""
    def used(process: psutil.Process) -> float:
        t = process.cpu_times()
        return t.user + t.system + t.children_user + t.children_system

    total = used(psutil.Process())
    for child in psutil.Process().children(recursive=True):
        try:
            total += used(child)
        except psutil.Error:
            pass  # exited between listing and reading: its time moved to its parent's children_*
    return total


def busy_percent(before, after) -> float:
    """The machine's CPU busy share between two ``psutil.cpu_times()`` readings."""
    total = sum(after) - sum(before)
    idle = (after.idle - before.idle) + (getattr(after, "iowait", 0.0) - getattr(before, "iowait", 0.0))
    return 100.0 * (1 - idle / total) if total > 0 else 0.0


def attempts_from_log(log_path: Path) -> dict[str, list[tuple[int, float, float]]]:
    """Per job, each run attempt as (slot Memory MB, start, end) from the event log (whole seconds)."""
    runs: dict[str, list[list]] = defaultdict(list)
    for event in htcondor2.JobEventLog(str(log_path)).events(stop_after=0):
        job = f"{event.cluster}.{event.proc}"
        if event.type == ET.EXECUTE:
            runs[job].append([int(event["ExecuteProps"]["Memory"]), event.timestamp, None])
        elif event.type in (ET.JOB_TERMINATED, ET.JOB_EVICTED, ET.JOB_HELD, ET.JOB_ABORTED):
            if runs[job] and runs[job][-1][2] is None:
                runs[job][-1][2] = event.timestamp
    return {job: [(m, s, e if e is not None else s) for m, s, e in r] for job, r in runs.items()}


def measure(executor: CondorExecutor, mode: str, makespan: float, own_cpu: float, cpu: float,
            capacity: dict = CAPACITY) -> Result:
    ads = list(executor.pool.history(
        f'CondorexecRun == "{executor.run_token}"',
        ["ClusterId", "ProcId", "CondorexecApp", "RequestCpus", "RequestMemory", "RemoteWallClockTime",
         "MemoryUsage", "CpusUsage", "NumJobStarts"]))
    attempts = attempts_from_log(executor.log_path)
    allocated = used = core_time = memory_time = longest = 0.0
    requests: dict[str, set[tuple[int, int]]] = defaultdict(set)
    for ad in ads:
        if ad.get("CondorexecApp") is None:  # a slot worker's job: its calls' samples are in the label store
            continue
        job = f"{ad['ClusterId']}.{ad['ProcId']}"
        wall = float(ad.eval("RemoteWallClockTime"))
        peak = float(ad.eval("MemoryUsage"))
        runs = attempts.get(job, [])
        if int(ad.eval("NumJobStarts")) != len(runs):
            raise RuntimeError(f"{job}: NumJobStarts {ad.eval('NumJobStarts')} but {len(runs)} execute events")
        # earlier attempts: event-log seconds; the last attempt: the rest of the measured wall time
        earlier = [(memory, max(end - start, 0.0)) for memory, start, end in runs[:-1]]
        last_wall = max(wall - sum(w for _, w in earlier), 0.0)
        # the slot's Memory, not RequestMemory: HTCondor rounds a request up (to 128 MB by default)
        last_memory = runs[-1][0] if runs else int(ad.eval("RequestMemory"))
        allocated += sum(m * w for m, w in earlier) + last_memory * last_wall
        used += peak * wall
        core_time += max(1, math.ceil(float(ad.eval("CpusUsage")))) * last_wall
        memory_time += peak * last_wall
        longest = max(longest, last_wall)
        app = str(ad.get("CondorexecApp", "?")).rsplit(".", 1)[-1]
        for memory, _, _ in runs:
            requests[app].add((int(ad.eval("RequestCpus")), memory))
    bounds = {"cores": core_time / capacity["cores"], "memory": memory_time / capacity["memory"],
              "longest job": longest}
    bound_by = max(bounds, key=bounds.get)
    steps, _ = read_log(executor.log_path)
    return Result(mode, makespan, bounds[bound_by], bound_by, (allocated - used) / allocated if allocated else 0.0,
                  executor.stats["retries"], max_concurrent(steps), own_cpu, cpu, dict(requests))


def table(results: list[Result]) -> str:
    exact = next((r.makespan for r in results if r.mode == "exact"), None)
    lines = ["| mode | makespan s | × exact | lower bound s (bound by) | memory waste | retries | most at once "
             "| CPU % (own/machine) | requests (cores/MB) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for r in results:
        ratio = f"{r.makespan / exact:.2f}" if exact else "-"
        reqs = "; ".join(f"{app} {', '.join(f'{c}/{m}' for c, m in sorted(v))}"
                         for app, v in sorted(r.requests.items()))
        lines.append(f"| {r.mode} | {r.makespan:.1f} | {ratio} | {r.lower_bound:.1f} ({r.bound_by}) "
                     f"| {r.memory_waste:.0%} | {r.retries} | {r.most_at_once} "
                     f"| {r.own_cpu_percent:.0f}/{r.cpu_percent:.0f} | {reqs} |")
    return "\n".join(lines)


def chart(results: list[Result], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = [r.mode for r in results]
    x = range(len(results))
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4.2))
    colors = [COLORS[r.mode] for r in results]  # a mode keeps its color when some modes are left out
    bars = left.bar(x, [r.makespan for r in results], color=colors)
    for i, r in enumerate(results):
        left.hlines(r.lower_bound, i - 0.4, i + 0.4, colors="black", linestyles="--",
                    label="lower bound" if i == 0 else None)
    left.bar_label(bars, fmt="%.0f s")
    left.set_xticks(list(x), names)
    left.set_ylabel("makespan (s)")
    left.set_title("makespan (dashed: lower bound)")
    left.set_ylim(0, 1.2 * max(r.makespan for r in results))
    left.legend(loc="upper center")
    waste = right.bar(x, [100 * r.memory_waste for r in results], color=colors)
    right.bar_label(waste, fmt="%.0f%%")
    right.set_xticks(list(x), names)
    right.set_ylim(0, 100)
    right.set_ylabel("memory waste (% of allocated MB·s)")
    right.set_title("memory allocated but not used")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def describe(tasks: int, sleep: tuple[float, float], window: int, where: str) -> str:
    """The chart's and the printed table's title."""
    return (f"{tasks} calls ({'/'.join(f'{m} MB' for m in ALLOCATE_MB.values())}, sleep "
            f"{sleep[0]:g}-{sleep[1]:g} s) on {where}, autolabel_window={window}")


def workload_arguments(parser: argparse.ArgumentParser, tasks: int, sleep: tuple[float, float],
                       modes: tuple[str, ...] = MODES) -> None:
    """The options every packing benchmark takes: the workload, the window, the modes and the chart."""
    parser.add_argument("--tasks", type=int, default=tasks)
    parser.add_argument("--sleep", type=float, nargs=2, default=sleep, metavar=("MIN", "MAX"))
    parser.add_argument("--window", type=int, default=1, help="autolabel_window (Parsl's default: 1)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--modes", nargs="+", choices=modes, default=list(modes))
    parser.add_argument("--chart", type=Path, default=None, help="write the PNG chart here")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    workload_arguments(parser, 60, (1.5, 2.5))
    parser.add_argument("--no-early-release", dest="early_release", action="store_false",
                        help="autolabel_early_release=False: a learning category's calls wait for its probe's end")
    args = parser.parse_args()
    calls = workload(args.tasks, tuple(args.sleep), args.seed)
    base = Path(tempfile.mkdtemp(prefix="condorexec-packing-"))
    shm = Path(tempfile.mkdtemp(prefix="condorexec-packing-", dir="/dev/shm" if Path("/dev/shm").is_dir() else None))
    memory_file = make_memory_file(shm)
    store = base / "labels.sqlite"  # empty for cold; warm reuses what cold learned
    try:
        results = [run_mode(mode, calls, base, store, args.window, memory_file, args.early_release)
                   for mode in args.modes]
    finally:
        shutil.rmtree(base, ignore_errors=True)
        shutil.rmtree(shm, ignore_errors=True)
    title = describe(args.tasks, args.sleep, args.window, "nodes 6c/6000 MB + 3c/3000 MB")
    print(f"\n{title}\n")
    print(table(results))
    if args.chart:
        chart(results, args.chart, title)
        print(f"\nchart: {args.chart}")


if __name__ == "__main__":
    main()
