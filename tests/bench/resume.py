"""Durable workflows: how long a rerun takes to re-attach, and what the journal costs a no-op call (issue
"Durable workflows", docs/durable.md).

    python tests/bench/resume.py [--quick] [--chart resume.png]          # the embedded local pool
    pool run VENV/bin/python tests/bench/resume.py --pool condor         # also a live HTCondor pool

Three parts, each printed as a table:

1. **Re-attach.** A journal of a workflow whose earlier run finished 10,000 calls and left 1,000 running
   (written through ``Journal`` as a run writes it: one transaction per batch), then what a rerun does
   before its first call is answered: ``Journal`` open and ``begin_run``, ``Resume`` (the journal read
   and, where jobs outlive their submitter, ONE schedd query for the earlier run's jobs), and ``claim``
   of all 11,000 keys. On the local pool the running calls' jobs died with their submitter, so there is
   no query and they are run again; on a live pool 1,000 real jobs (``/bin/sleep``, one cluster, tagged
   with the earlier run's token and held idle by ``requirements = false`` so that they take no slot of
   a shared pool) are in the queue, and the rerun must follow every one of them.
2. **End to end.** A Parsl script of 10,000 no-op calls: through Parsl's ThreadPoolExecutor (the floor:
   Parsl's own cost per call), then CondorExecutor without ``workflow=``, with it (the journal is
   written), and again (every call adopted finished): the time from ``parsl.load`` to all futures done.
   On a live pool a rerun also adopts the 1,000 queued jobs (it re-tags each one), checked on the pool.
3. **The journal's cost per call.** No-op calls per second through CondorExecutor on the local pool,
   ``mode="workers"`` and ``mode="per_call"``, without and with ``workflow=`` (a fresh name each run, so
   nothing is adopted), alternating, the median of the runs; the anchor is the same executor without
   ``workflow=`` in the same run. Goal: <= 5% slower with it. Also the submitting process's CPU per
   call, which the machine's other load sways less than the rate.

``--quick`` runs a small version of all three (a smoke test). The live pool's jobs are removed at the
end, whatever happened.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import parsl
from parsl import python_app
from parsl.config import Config

from condorexec import CondorExecutor
from condorexec.executor import user_function
from condorexec.files import FilePlan
from condorexec.names import ADOPTED_ATTR, RUN_ATTR, TASKS_DIR
from condorexec.payload import Outcome, encode_outcome
from condorexec.spec import parse_spec
from condorexec.workflow.attach import Resume
from condorexec.workflow.journal import Journal, journal_path, read_only
from condorexec.workflow.keys import call_key

SPEC = {"cores": 1, "memory": 100, "disk": 10}
NODES = ["cpus=2,memory=4000"]
#: calls per journal transaction when the earlier run is written (a run writes one per batch it sends)
BATCH = 500
#: a job attribute naming this benchmark's jobs on a live pool, for their removal
BENCH_ATTR = "CondorexecBenchResume"


@python_app
def noop(i, parsl_resource_specification=SPEC):  # noqa: B006
    return i


@python_app
def noop_plain(i):  # Parsl's ThreadPoolExecutor takes no resource specification
    return i


def progress(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)



def keys_of(count: int, start: int = 0) -> list[str]:
    """The keys of ``noop(i)`` for ``i`` in ``start .. start + count - 1``, as the executor computes them."""
    spec, plan, func = parse_spec(SPEC), FilePlan(), user_function(noop.func)
    return [call_key(func, (i,), {"parsl_resource_specification": SPEC}, spec, plan)
            for i in range(start, start + count)]


def write_killed_run(directory: Path, name: str, token: str, work_dir: Path, finished: list[str],
                     running: dict[str, str], pool: str) -> None:
    """What a run of ``name`` that was killed leaves in its journal, written as a run writes it (one
    transaction per batch): ``finished`` keys done (a no-op's outcome, inline), ``running`` keys sent and
    placed in their own jobs (key -> job id); no end."""
    journal = Journal(name, directory)
    try:
        journal.begin_run(token, pool, str(work_dir))
        calls = [*finished, *running]
        for start in range(0, len(calls), BATCH):
            batch = list(enumerate(calls[start:start + BATCH], start))
            journal.sent([(key, 0, "noop", token, str(work_dir / TASKS_DIR / str(n))) for n, key in batch])
            for n, key in batch:
                if key in running:
                    journal.placed_job(key, 0, token, running[key])
                else:
                    outcome = encode_outcome(Outcome(id=n, ok=True, value=n, wall_s=0.001, peak_rss_kib=12000))
                    journal.done(key, 0, token, outcome, str(work_dir / TASKS_DIR / str(n)))
            journal.flush()
    finally:
        journal.close()


# ---- 1. re-attach ----------------------------------------------------------------------------------

@dataclass
class Reattach:
    """One re-attach, timed in its steps (seconds), and what ``claim`` decided for the calls."""

    open_s: float    # Journal() and begin_run
    resume_s: float  # Resume(): the journal read, and the query
    query_s: float   # of which the schedd query
    claim_s: float   # claim() of every call
    decisions: Counter[str] = field(default_factory=Counter)

    @property
    def total_s(self) -> float:
        return self.open_s + self.resume_s + self.claim_s


def reattach(directory: Path, name: str, keys: list[str], query, jobs_survive: bool) -> Reattach:
    """What a rerun does before it can answer its calls: open the journal, read it and ask the pool once,
    then claim every call."""
    asked: list[float] = []

    def timed_query(constraint: str, projection: list[str]):
        started = time.perf_counter()
        try:
            return query(constraint, projection)
        finally:
            asked.append(time.perf_counter() - started)

    token = str(uuid.uuid4())
    t0 = time.perf_counter()
    journal = Journal(name, directory)
    try:
        journal.begin_run(token, "bench", str(directory))
        t1 = time.perf_counter()
        resume = Resume(journal, timed_query, token, jobs_survive=jobs_survive)
        t2 = time.perf_counter()
        decisions: Counter[str] = Counter()
        for key in keys:
            claimed = resume.claim(key, 0)
            decisions[type(claimed[1]).__name__ if claimed else "new"] += 1
        t3 = time.perf_counter()
        journal.end_run(token, {}, {})  # so that the next re-attach finds the same journal
    finally:
        journal.close()
    if len(asked) != (1 if jobs_survive else 0):
        raise SystemExit(f"Resume asked the pool {len(asked)} times (expected {1 if jobs_survive else 0})")
    return Reattach(t1 - t0, t2 - t1, sum(asked), t3 - t2, decisions)


def bench_reattach(base: Path, pool_name: str, finished: int, running: dict[str, str], token: str, repeat: int,
                   query=None) -> list[Reattach]:
    """Re-attach ``repeat`` times to one journal of ``finished`` calls done and the ``running`` ones (key ->
    job id) placed by the killed run ``token``; ``query``: the live pool's (None: the local pool)."""
    directory, name = base / f"journal-{pool_name}", "reattach"
    done_keys = keys_of(finished)
    progress(f"re-attach, {pool_name} pool: writing the journal of {finished} finished + {len(running)} "
             f"running calls")
    started = time.perf_counter()
    write_killed_run(directory, name, token, base / f"earlier-{pool_name}", done_keys, running, pool_name)
    progress(f"  written in {time.perf_counter() - started:.1f} s "
             f"({journal_path(name, directory).stat().st_size / 1e6:.1f} MB)")
    keys = done_keys + list(running)
    results = []
    for r in range(repeat):
        res = reattach(directory, name, keys, query or _no_query, jobs_survive=query is not None)
        results.append(res)
        progress(f"  [{r + 1}/{repeat}] open {res.open_s * 1e3:.0f} ms, Resume {res.resume_s * 1e3:.0f} ms "
                 f"(query {res.query_s * 1e3:.0f} ms), claim {res.claim_s * 1e3:.0f} ms: {dict(res.decisions)}")
    want = Counter({"Finished": finished, ("FollowJob" if query is not None else "Rerun"): len(running)})
    if results[-1].decisions != want:
        raise SystemExit(f"re-attach on the {pool_name} pool decided {dict(results[-1].decisions)}, "
                         f"expected {dict(want)}")
    return results


def _no_query(constraint: str, projection: list[str]):
    raise AssertionError("a rerun on a pool whose jobs die with their submitter must not ask the pool")


# ---- the live pool's queued jobs ---------------------------------------------------------------------

def submit_sleepers(condor, count: int, token: str, tag: str) -> list[str]:
    """``count`` cheap jobs in one cluster, tagged as the run ``token``'s: idle for good (``requirements =
    false``: a shared pool's slots stay free), and removed by the schedd after 30 minutes should this
    process die before it removes them."""
    import htcondor2

    description = htcondor2.Submit({
        "executable": "/bin/sleep", "arguments": "600", "transfer_executable": "false",
        "request_cpus": "1", "request_memory": "1MB", "request_disk": "1MB",
        "requirements": "false", "periodic_remove": "(time() - QDate) > 1800",
        f"MY.{RUN_ATTR}": f'"{token}"', f"MY.{BENCH_ATTR}": f'"{tag}"',
    })
    started = time.perf_counter()
    job_ids = condor.submit(description, count=count).job_ids()
    progress(f"live pool: {count} idle /bin/sleep jobs of the killed run queued in "
             f"{time.perf_counter() - started:.1f} s (cluster {job_ids[0].split('.')[0]})")
    return job_ids


def remove_sleepers(condor, tag: str) -> None:
    import htcondor2

    constraint = f'{BENCH_ATTR} == "{tag}"'
    if condor.query(constraint, ["ClusterId"]):
        condor.act(htcondor2.JobAction.Remove, constraint)
    progress("live pool: this benchmark's jobs removed")


# ---- 2. end to end -------------------------------------------------------------------------------

def script(base: Path, run: str, count: int, options: dict, adopt_first: range = range(0),
           before_exit=None) -> tuple[float, object]:
    """A Parsl script of ``count`` calls ``noop(i)`` (after ``adopt_first``'s calls, whose futures are
    not waited for): seconds from ``parsl.load`` to all ``count`` futures done, and what
    ``before_exit()`` returns, called before the script ends (and the executor shuts down). Checks every
    result. (Parsl hands calls to the executor on its own thread: the adopted calls' re-tagging delays the
    finished calls behind them, so it is in the time.)"""
    started = time.perf_counter()
    with parsl.load(Config(executors=[CondorExecutor(label="resume", **options)], run_dir=str(base / run),
                           strategy="none")):
        [noop(i) for i in adopt_first]
        futures = [noop(i) for i in range(count)]
        results = [f.result() for f in futures]
        elapsed = time.perf_counter() - started
        seen = before_exit() if before_exit is not None else None
    if results != list(range(count)):
        raise SystemExit(f"{run}: wrong results")
    return elapsed, seen


def parsl_floor(base: Path, count: int) -> float:
    """The same script's calls through Parsl's ThreadPoolExecutor (2 threads): Parsl's own cost per call, the
    least any executor's run (or rerun) of them can take."""
    from parsl.executors.threads import ThreadPoolExecutor

    started = time.perf_counter()
    with parsl.load(Config(executors=[ThreadPoolExecutor(max_threads=2)], run_dir=str(base / "e2e-floor"))):
        results = [f.result() for f in [noop_plain(i) for i in range(count)]]
        elapsed = time.perf_counter() - started
    if results != list(range(count)):
        raise SystemExit("Parsl's ThreadPoolExecutor: wrong results")
    return elapsed


def last_run(directory: Path, name: str):
    reader = read_only(journal_path(name, directory))
    try:
        return reader.runs()[-1]
    finally:
        reader.close()


# ---- 3. the journal's cost per call ------------------------------------------------------------------

@dataclass(frozen=True)
class Rate:
    """One run of no-op calls: calls per second, and the submitting process's CPU per call (all its threads:
    Parsl, the executor, the journal; the calls themselves run in other processes). The CPU is what the
    journal adds whatever else the machine runs; the rate is what a user sees."""

    per_s: float
    cpu_us: float


def rate(base: Path, run: str, count: int, options: dict, warmup: int = 20) -> Rate:
    """``count`` no-op calls, from the first submission to the last result, after ``warmup`` calls."""
    with parsl.load(Config(executors=[CondorExecutor(label="resume", **options)], run_dir=str(base / run),
                           strategy="none")):
        [noop(-1 - i).result() for i in range(warmup)]
        started, cpu = time.perf_counter(), time.process_time()
        futures = [noop(i) for i in range(count)]
        for f in futures:
            f.result()
        return Rate(count / (time.perf_counter() - started), (time.process_time() - cpu) / count * 1e6)


# ---- main ----------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pool", choices=("local", "condor"), default="local",
                        help="condor: also re-attach on the live HTCondor pool (run as its user)")
    parser.add_argument("--finished", type=int, default=10_000, help="calls the killed run finished")
    parser.add_argument("--running", type=int, default=1_000, help="calls the killed run left running")
    parser.add_argument("--reattach-runs", type=int, default=5, help="re-attaches timed (median)")
    parser.add_argument("--tasks", type=int, default=2000, help="no-op calls per rate run")
    parser.add_argument("--repeat", type=int, default=5, help="rate runs per mode and variant (median)")
    parser.add_argument("--modes", nargs="+", choices=("workers", "per_call"), default=["workers", "per_call"])
    parser.add_argument("--skip", nargs="*", choices=("reattach", "e2e", "rate"), default=[])
    parser.add_argument("--quick", action="store_true", help="a small version of everything (a smoke test)")
    parser.add_argument("--chart", help="also draw the results as a PNG here")
    args = parser.parse_args()
    if args.quick:
        args.finished, args.running, args.reattach_runs, args.tasks, args.repeat = 300, 30, 2, 100, 1
    base = Path(tempfile.mkdtemp(prefix="condorexec-resume-"))
    os.chmod(base, 0o755)
    local = {"pool": "local", "nodes": NODES, "state_dir": str(base / "state"), "mode": "workers"}
    condor = None
    if args.pool == "condor":
        from condorexec.pools.condor import CondorPool

        condor = CondorPool()
    tag = base.name
    progress(f"load before: {_load()}")
    reattaches: dict[str, list[Reattach]] = {}
    e2e: dict[str, dict[str, float]] = {}
    rates: dict[tuple[str, bool], list[Rate]] = {}
    try:
        running_keys = keys_of(args.running, start=args.finished)
        token = str(uuid.uuid4())
        sleepers = submit_sleepers(condor, args.running, token, tag) if condor is not None else []
        queued = dict(zip(running_keys, sleepers, strict=True)) if sleepers else {}  # live pool: key -> job
        if "reattach" not in args.skip:
            reattaches["local"] = bench_reattach(
                base, "local", args.finished, {k: f"1.{n}" for n, k in enumerate(running_keys)}, str(uuid.uuid4()),
                args.reattach_runs)
            if condor is not None:
                reattaches["condor"] = bench_reattach(base, "condor", args.finished, queued, token,
                                                      args.reattach_runs, condor.query)
        if "e2e" not in args.skip:
            e2e = bench_e2e(base, args, local, condor, queued, token, tag)
        if "rate" not in args.skip:
            rates = bench_rates(base, args, local)
    finally:
        if condor is not None:
            remove_sleepers(condor, tag)
    progress(f"load after: {_load()}")
    report(args, reattaches, e2e, rates)
    if args.chart:
        chart(args, reattaches, e2e, rates, Path(args.chart))


def bench_e2e(base: Path, args, local: dict, condor, running: dict[str, str], token: str,
              tag: str) -> dict[str, dict[str, float]]:
    """Part 2: the script's no-op run, its first run with ``workflow=``, its rerun (all adopted finished);
    on a live pool, a rerun that also adopts the killed run's queued jobs."""
    n, directory, name = args.finished, base / "workflows", "script"
    out: dict[str, dict[str, float]] = {"local": {"Parsl floor": parsl_floor(base, n)}}
    progress(f"end to end: {n} calls through Parsl's ThreadPoolExecutor (Parsl's own cost): "
             f"{out['local']['Parsl floor']:.1f} s")
    steps = [("no-op run", local), ("first run", {**local, "workflow": name, "workflow_dir": str(directory)}),
             ("rerun", {**local, "workflow": name, "workflow_dir": str(directory)})]
    for i, (what, options) in enumerate(steps, 1):
        out["local"][what], _ = script(base, f"e2e-{i}", n, options)
        progress(f"end to end, local pool [{i}/{len(steps)}]: {what} of {n} calls: {out['local'][what]:.1f} s")
    run = last_run(directory, name)
    if run.adopted_finished != n or run.rerun or run.fresh:
        raise SystemExit(f"the rerun adopted {run.adopted_finished} finished calls of {n} "
                         f"(ran {run.rerun} again, {run.fresh} new)")
    if condor is not None:
        write_killed_run(directory, name, token, base / "earlier-condor", [], running, "condor")
        options = {"pool": "condor", "mode": "per_call", "workflow": name, "workflow_dir": str(directory)}

        def adopted_jobs() -> int:  # the killed run's jobs that the rerun made its own (re-tagged)
            return len(condor.query(f'{BENCH_ATTR} == "{tag}" && {ADOPTED_ATTR} =?= true && '
                                    f'{RUN_ATTR} =!= "{token}"', ["ProcId"]))

        total, retagged = script(base, "e2e-condor", n, options, adopt_first=range(n, n + len(running)),
                                           before_exit=adopted_jobs)
        out["condor"] = {"rerun": total}
        run = last_run(directory, name)
        progress(f"end to end, live pool: rerun adopting {run.adopted_finished} finished calls and {retagged} "
                 f"queued jobs: {total:.1f} s")
        if run.adopted_finished != n or retagged != len(running):
            raise SystemExit(f"the live rerun adopted {run.adopted_finished} finished calls and {retagged} queued "
                             f"jobs, expected {n} and {len(running)}")
        if run.adopted_running != len(running):  # its summary, written at its end
            reasons: Counter[str] = Counter()
            for why, calls in run.reasons.items():
                reasons[re.sub(r"\d+\.\d+", "C.P", why)] += calls
            progress(f"WARNING: the live rerun's journal says {run.adopted_running} calls adopted running, not "
                     f"{len(running)}; run again: {dict(reasons)}")
    return out


def bench_rates(base: Path, args, local: dict) -> dict[tuple[str, bool], list[Rate]]:
    """Part 3: no-op calls without and with ``workflow=``, alternating which goes first."""
    rates: dict[tuple[str, bool], list[Rate]] = {}
    total, done = args.repeat * len(args.modes) * 2, 0
    for r in range(args.repeat):
        for mode in args.modes:
            for journaled in ((False, True) if r % 2 == 0 else (True, False)):
                options = {**local, "mode": mode}
                if journaled:
                    options.update(workflow=f"rate-{uuid.uuid4().hex[:8]}", workflow_dir=str(base / "rate-workflows"))
                rates.setdefault((mode, journaled), []).append(
                    rate(base, f"rate-{r}-{mode}-{int(journaled)}", args.tasks, options))
                done += 1
                last = rates[(mode, journaled)][-1]
                progress(f"journal cost [{done}/{total}] {mode:<8} {'with' if journaled else 'without':<7} "
                         f"workflow=: {last.per_s:6.0f} calls/s, {last.cpu_us:5.0f} us CPU per call")
    return rates


def _load() -> str:
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


def report(args, reattaches: dict[str, list[Reattach]], e2e: dict[str, dict[str, float]],
           rates: dict[tuple[str, bool], list[Rate]]) -> None:
    def ms(values: list[float]) -> str:
        return f"{statistics.median(values) * 1e3:>9.0f}"

    if reattaches:
        print(f"\nre-attach to {args.finished} finished + {args.running} running calls "
              f"(median of {args.reattach_runs}, ms)")
        print(f"{'pool':<7} {'open':>9} {'Resume':>9} {'(query)':>9} {'claim':>9} {'total':>9}   decisions")
        for pool, runs in reattaches.items():
            print(f"{pool:<7} {ms([r.open_s for r in runs])} {ms([r.resume_s for r in runs])} "
                  f"{ms([r.query_s for r in runs])} {ms([r.claim_s for r in runs])} {ms([r.total_s for r in runs])}"
                  f"   {dict(runs[-1].decisions)}")
    if e2e:
        local = e2e["local"]
        print(f"\nend to end: {args.finished} no-op calls, local pool, workers; s from parsl.load to all futures done")
        print(f"{'Parsl floor':>11} {'no-op run':>10} {'first run (journal)':>20} {'rerun (all adopted)':>20} "
              f"{'rerun / no-op':>14} {'rerun / floor':>14}")
        print(f"{local['Parsl floor']:>11.1f} {local['no-op run']:>10.1f} {local['first run']:>20.1f} "
              f"{local['rerun']:>20.1f} {local['rerun'] / local['no-op run']:>14.2f} "
              f"{local['rerun'] / local['Parsl floor']:>14.2f}")
        print("(Parsl floor: the same calls through Parsl's ThreadPoolExecutor, Parsl's own cost per call)")
        if "condor" in e2e:
            c = e2e["condor"]
            print(f"live pool, per_call: rerun adopting {args.finished} finished + {args.running} queued calls "
                  f"(each queued job re-tagged): {c['rerun']:.1f} s")
    if rates:
        print(f"\njournal cost: {args.tasks} no-op calls, local pool, median of {args.repeat} alternating runs; "
              f"calls/s, and the submitting process's CPU per call")
        print(f"{'mode':<9} {'without':>9} {'with':>9} {'with / without':>15}   per run"
              f"{'':<{6 * args.repeat - 4}}{'CPU us without':>15} {'with':>7} {'added':>7}")
        for mode in args.modes:
            without, with_ = rates[(mode, False)], rates[(mode, True)]
            ratios = [w.per_s / wo.per_s for w, wo in zip(with_, without, strict=True)]
            cpu_without, cpu_with = (statistics.median(r.cpu_us for r in rs) for rs in (without, with_))
            print(f"{mode:<9} {statistics.median(r.per_s for r in without):>9.0f} "
                  f"{statistics.median(r.per_s for r in with_):>9.0f} {statistics.median(ratios):>15.2f}   "
                  f"{' '.join(f'{x:.2f} ' for x in ratios)} {cpu_without:>15.0f} {cpu_with:>7.0f} "
                  f"{cpu_with - cpu_without:>+7.0f}")
        print("goal: with / without >= 0.95 (the journal costs <= 5%)")


def chart(args, reattaches, e2e, rates, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [p for p, have in (("reattach", reattaches), ("e2e", e2e), ("rate", rates)) if have]
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.6), squeeze=False)
    for ax, panel in zip(axes[0], panels, strict=True):
        if panel == "reattach":
            pools = list(reattaches)
            bottom = [0.0] * len(pools)
            for step, attr in (("open", "open_s"), ("read journal", None), ("schedd query", "query_s"),
                               ("claim all", "claim_s")):
                values = []
                for runs in reattaches.values():
                    if attr is None:
                        values.append(statistics.median([r.resume_s - r.query_s for r in runs]))
                    else:
                        values.append(statistics.median([getattr(r, attr) for r in runs]))
                ax.bar(pools, values, bottom=bottom, label=step)
                bottom = [b + v for b, v in zip(bottom, values, strict=True)]
            ax.set_ylabel("seconds")
            ax.set_title(f"re-attach: {args.finished} finished + {args.running} running", fontsize=9)
            ax.legend(fontsize=7)
        elif panel == "e2e":
            labels = ["Parsl floor", "no-op run", "first run", "rerun"]
            values = [e2e["local"][k] for k in labels]
            if "condor" in e2e:
                labels.append("rerun, live\n(+ queued jobs)")
                values.append(e2e["condor"]["rerun"])
            ax.bar(labels, values, color=["lightgrey", "grey", "tab:blue", "tab:green", "tab:olive"][:len(values)])
            ax.set_ylabel("seconds, parsl.load to all done")
            ax.set_title(f"{args.finished} no-op calls end to end", fontsize=9)
            ax.tick_params(axis="x", labelsize=7)
        else:
            width = 0.38
            for j, journaled in enumerate((False, True)):
                xs = [i + j * width for i in range(len(args.modes))]
                ax.bar(xs, [statistics.median(r.per_s for r in rates[(m, journaled)]) for m in args.modes], width,
                       label="with workflow=" if journaled else "without")
                for x, mode in zip(xs, args.modes, strict=True):
                    runs = [r.per_s for r in rates[(mode, journaled)]]
                    ax.plot([x] * len(runs), runs, "k.", ms=3)
            ax.set_xticks([i + width / 2 for i in range(len(args.modes))], args.modes)
            ax.set_ylabel("no-op calls / s")
            ax.set_title("the journal's cost (local pool)", fontsize=9)
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    print(f"chart: {path}")


if __name__ == "__main__":
    main()
