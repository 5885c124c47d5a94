"""What a run did, per app (``condorexec.runstats``; the labels' table is ``labels/explain.py``): read back
from the job event log and the pool's history records.

Everything here comes from the same artifacts HTCondor produces (event log order for concurrency,
history ads for measured usage), so the report is equally true on the local pool and on a schedd.

A row is either an app whose calls ran as their own jobs (``CondorexecApp``; its calls are its
distinct ``CondorexecTask`` ids, so a retried call counts once and its jobs twice) or a category's
workers (``CondorexecWorker``): jobs that each ran many calls of any app, which their history ads do
not list, so such a row counts jobs only.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import htcondor2

from condorexec.condorfacts import run_constraint
from condorexec.names import APP_ATTR, TASK_ATTR, WORKER_ATTR, WORKER_CATEGORY_ATTR
from condorexec.pools.base import Pool

ET = htcondor2.JobEventType
_ENDS = {ET.JOB_TERMINATED, ET.JOB_HELD, ET.JOB_EVICTED, ET.JOB_ABORTED}


#: the row name of a category's worker jobs
WORKERS_ROW = "workers: {category}"


@dataclass
class AppStats:
    app: str
    calls: int | None = 0  # None: slot workers, whose calls the history does not show
    jobs: int = 0
    requests: set[tuple[int, int, int]] = field(default_factory=set)  # cores, memory MB, disk MB
    peak_memory_mb: float = 0
    peak_disk_mb: float = 0
    max_concurrent: int = 0
    first_submit: float | None = None
    last_end: float | None = None

    @property
    def makespan(self) -> float:
        if self.first_submit is None or self.last_end is None:
            return 0.0
        return self.last_end - self.first_submit


def read_log(log_path: str | Path) -> tuple[list[tuple[str, int]], dict[str, tuple[float, float]]]:
    """The event log as starts/ends in log order, and each job's (submit time, last end time).

    Log order, not timestamps (HTCondor's are whole seconds), decides what overlapped."""
    steps: list[tuple[str, int]] = []
    spans: dict[str, tuple[float, float]] = {}
    for event in htcondor2.JobEventLog(str(log_path)).events(stop_after=0):
        job = f"{event.cluster}.{event.proc}"
        if event.type == ET.SUBMIT:
            spans.setdefault(job, (event.timestamp, event.timestamp))
        elif event.type == ET.EXECUTE:
            steps.append((job, +1))
        elif event.type in _ENDS:
            steps.append((job, -1))
            spans[job] = (spans.get(job, (event.timestamp,))[0], event.timestamp)
    return steps, spans


def max_concurrent(steps: Iterable[tuple[str, int]], jobs: set[str] | None = None) -> int:
    """Most jobs (of ``jobs``, or all) running at once, sweeping the log's execute/end events."""
    running: set[str] = set()
    peak = 0
    for job, delta in steps:
        if jobs is not None and job not in jobs:
            continue
        if delta > 0:
            running.add(job)
            peak = max(peak, len(running))
        else:
            running.discard(job)
    return peak


def app_stats(pool: Pool, run_token: str, log_path: str | Path) -> tuple[list[AppStats], int, float]:
    """Per-app statistics of one executor run, the overall concurrency peak, and the run's makespan."""
    steps, spans = read_log(log_path)
    stats: dict[str, AppStats] = {}
    groups: dict[str, set[str]] = defaultdict(set)
    ads = pool.history(run_constraint(run_token),
                       ["ClusterId", "ProcId", APP_ATTR, TASK_ATTR, WORKER_ATTR, WORKER_CATEGORY_ATTR, "RequestCpus",
                        "RequestMemory", "RequestDisk",
                        "MemoryUsage", "ResidentSetSize", "DiskUsage"])
    tasks: dict[str, set[object]] = defaultdict(set)
    for ad in ads:
        if APP_ATTR in ad:
            app = str(ad[APP_ATTR])
            tasks[app].add(ad.get(TASK_ATTR, f"{ad['ClusterId']}.{ad['ProcId']}"))
        else:
            app = WORKERS_ROW.format(category=ad.get(WORKER_CATEGORY_ATTR, "?"))
        s = stats.setdefault(app, AppStats(app, calls=0 if APP_ATTR in ad else None))
        job = f"{ad['ClusterId']}.{ad['ProcId']}"
        groups[app].add(job)
        s.jobs += 1
        s.requests.add((int(ad.eval("RequestCpus")), int(ad.eval("RequestMemory")),
                        int(ad.eval("RequestDisk")) // 1024))
        memory = ad.eval("MemoryUsage") if "MemoryUsage" in ad else 0
        s.peak_memory_mb = max(s.peak_memory_mb, float(memory) if isinstance(memory, int | float) else 0.0)
        s.peak_disk_mb = max(s.peak_disk_mb, float(ad.get("DiskUsage", 0)) / 1024)
        if job in spans:
            start, end = spans[job]
            s.first_submit = start if s.first_submit is None else min(s.first_submit, start)
            s.last_end = end if s.last_end is None else max(s.last_end, end)
    for app, s in stats.items():
        s.max_concurrent = max_concurrent(steps, groups[app])
        if s.calls is not None:
            s.calls = len(tasks[app])
    run_jobs = set().union(*groups.values()) if groups else set()
    run_spans = [spans[j] for j in run_jobs if j in spans]
    makespan = (max(e for _, e in run_spans) - min(b for b, _ in run_spans)) if run_spans else 0.0
    return sorted(stats.values(), key=lambda s: s.app), max_concurrent(steps, run_jobs), makespan


def format_table(rows: Iterable[AppStats], overall: int, makespan: float) -> str:
    """The per-app table; its last line adds up the calls that ran as their own jobs, and all jobs."""
    rows = list(rows)
    header = ("app", "calls", "jobs", "requested (cores/MB mem/MB disk)", "peak mem MB", "peak disk MB",
              "most at once", "makespan s")
    lines = [header]
    for s in rows:
        requests = ", ".join(f"{c}/{m}/{d}" for c, m, d in sorted(s.requests))
        lines.append((s.app, "-" if s.calls is None else str(s.calls), str(s.jobs), requests,
                      f"{s.peak_memory_mb:.0f}", f"{s.peak_disk_mb:.2f}", str(s.max_concurrent), f"{s.makespan:.0f}"))
    own_calls = sum(s.calls for s in rows if s.calls is not None)
    lines.append(("all", str(own_calls), str(sum(s.jobs for s in rows)), "", "", "", str(overall), f"{makespan:.0f}"))
    widths = [max(len(r[i]) for r in lines) for i in range(len(header))]
    out = []
    for n, row in enumerate(lines):
        out.append("  ".join(c.ljust(w) if i == 0 or i == 3 else c.rjust(w) for i, (c, w) in
                             enumerate(zip(row, widths, strict=True))))
        if n == 0 or n == len(lines) - 2:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)
