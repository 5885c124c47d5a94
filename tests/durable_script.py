"""A Parsl script of a named workflow, run (and SIGKILLed, and run again) by the durable-workflow tests.

Calls ``nap(i)`` sleep a few seconds each, then append ``"i value"`` to an execution log, so that a test
counts how often each call really ran. Even calls run as their own jobs (an executor with
``mode="per_call"``), odd ones in slot workers (``mode="workers"``): two executors, one workflow name
each. It prints one JSON line at the end: each call's result and the seconds from load to the last one.

    python tests/durable_script.py --pool local|condor --dir DIR --calls 30 --short 2 --long 4 \
        [--changed I] [--only I,J,..] [--name NAME]

``--changed I`` changes call I's argument (it must run again); ``--only`` runs a subset (an anchor for
"the remaining work from scratch").
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import time

import parsl
from parsl.app.app import python_app
from parsl.config import Config

from condorexec import CondorExecutor


def _nap(i: int, secs: float, factor: int, log: str, parsl_resource_specification: dict | None = None) -> int:
    import time

    time.sleep(secs)
    with open(log, "a") as f:  # one short write: lines from calls running side by side do not interleave
        f.write(f"{i} {i * factor}\n")
    return i * factor


nap_job = python_app(_nap, executors=["per_call"])
nap_worker = python_app(_nap, executors=["workers"])


def seconds_of(i: int, calls: int, short: float, long: float) -> float:
    """Call i's sleep: spread evenly over [short, long]."""
    return short + (long - short) * (i % 5) / 4


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pool", default="local")
    parser.add_argument("--dir", required=True)
    parser.add_argument("--calls", type=int, default=30)
    parser.add_argument("--short", type=float, default=2.0)
    parser.add_argument("--long", type=float, default=4.0)
    parser.add_argument("--changed", type=int, default=None)
    parser.add_argument("--only", default=None)
    parser.add_argument("--name", default="durable")
    parser.add_argument("--nodes", default="cpus=8,memory=8000")
    opts = parser.parse_args()
    log = os.path.join(opts.dir, "executions.log")
    common = {"pool": opts.pool, "workflow_dir": os.path.join(opts.dir, "journals"), "batch_window": 0.2}
    if opts.pool == "local":
        common["nodes"] = [opts.nodes]
    executors = [CondorExecutor(label="per_call", mode="per_call", workflow=f"{opts.name}-jobs", **common),
                 CondorExecutor(label="workers", mode="workers", workflow=f"{opts.name}-workers",
                                worker_idle_timeout=5, **common)]
    parsl.load(Config(executors=executors, run_dir=os.path.join(opts.dir, "runinfo"), strategy="none"))
    started = time.monotonic()
    wanted = range(opts.calls) if opts.only is None else [int(i) for i in opts.only.split(",") if i]
    futures = {}
    spec = {"cores": 1, "memory": 100, "disk": 10}
    # the calls for slot workers first, and the per-call jobs once a worker has run one: on a small pool
    # the per-call jobs would otherwise fill every slot before the first worker starts
    odd, even = [i for i in wanted if i % 2], [i for i in wanted if i % 2 == 0]
    for i in odd + even:
        if odd and i == (even or [None])[0]:
            concurrent.futures.wait([futures[j] for j in odd], timeout=120, return_when="FIRST_COMPLETED")
        app = nap_job if i % 2 == 0 else nap_worker
        factor = 7 if i == opts.changed else 3
        futures[i] = app(i, seconds_of(i, opts.calls, opts.short, opts.long), factor, log,
                         parsl_resource_specification=spec)
    futures = dict(sorted(futures.items()))
    results = {i: f.result() for i, f in futures.items()}
    print(json.dumps({"results": results, "seconds": time.monotonic() - started}), flush=True)
    parsl.dfk().cleanup()


if __name__ == "__main__":
    main()
