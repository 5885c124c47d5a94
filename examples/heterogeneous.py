"""condorexec's main job: a heterogeneous Parsl workflow on the embedded local pool.

Three kinds of app with different ``parsl_resource_specification``s — small preparation steps,
big two-core simulations, tiny bash summaries that read and write files — 40 calls in all. Each
call becomes one HTCondor job sized to its spec, so small jobs pack around big ones on the node, or
— when its category's calls are short (``mode="auto"``) — runs in a slot worker beside calls of other sizes.
At the end it prints, per app (and per category's workers), what was requested and what the jobs
really used (from the pool's history records) and how many ran at once (from the job event log).

    python examples/heterogeneous.py [--nodes cpus=6,memory=6000 cpus=3,memory=3000] [--scale 1.0]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import parsl
from parsl import bash_app, python_app
from parsl.config import Config
from parsl.data_provider.files import File

from condorexec import CondorExecutor
from condorexec.runstats import app_stats, format_table


@python_app
def prepare(sample: int, seconds: float,
            parsl_resource_specification={"cores": 1, "memory": 200, "disk": 100}):  # noqa: B006
    """Holds ~80 MB for a moment, like a small preprocessing step."""
    import time

    block = bytearray(80 * 2**20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    time.sleep(seconds)
    return {"sample": sample, "checksum": sum(block[::4096])}


@python_app
def simulate(prepared: dict, seconds: float, outputs=(),
             parsl_resource_specification={"cores": 2, "memory": 1500, "disk": 200}):  # noqa: B006
    """Holds ~700 MB and keeps two threads busy, then writes its result file."""
    import threading
    import time

    block = bytearray(700 * 2**20)
    for i in range(0, len(block), 4096):
        block[i] = 2

    def spin(until: float) -> None:
        x = 0
        while time.time() < until:
            x += 1

    until = time.time() + seconds
    threads = [threading.Thread(target=spin, args=(until,)) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with open(outputs[0].filepath, "w") as f:
        f.write(f"sample {prepared['sample']} energy {prepared['checksum'] * 1.5}\n")
    return prepared["sample"]


@bash_app
def summarize(inputs=(), outputs=(), stdout=None, stderr=None,
              parsl_resource_specification={"cores": 1, "memory": 120, "disk": 50}):  # noqa: B006
    """A tiny shell step: concatenate result files and count them."""
    files = " ".join(f.filepath for f in inputs)
    return f"cat {files} > {outputs[0].filepath} && wc -l < {outputs[0].filepath}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", nargs="*", help="emulated nodes, e.g. cpus=6,memory=6000 (default: this machine)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every app's running time")
    parser.add_argument("--samples", type=int, default=16)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="condorexec-demo-"))
    executor = CondorExecutor(label="demo", pool="local", nodes=args.nodes, state_dir=str(workdir / "state"))
    config = Config(executors=[executor], run_dir=str(workdir / "runinfo"), strategy="none")
    started = time.time()
    with parsl.load(config):
        print(f"condorexec demo: {executor.pool_reason}; working in {workdir}")
        machines = ", ".join(f"{m.name} ({m.cores} cores, {m.memory} MB)" for m in executor.pool.describe_machines())
        print(f"nodes: {machines}")
        prepared = [prepare(i, 0.5 * args.scale) for i in range(args.samples)]
        results = [File(str(workdir / f"sim-{i}.txt")) for i in range(args.samples)]
        sims = [simulate(p, 0.5 * args.scale, outputs=[r]) for p, r in zip(prepared, results, strict=True)]
        groups = [list(range(i, min(i + 4, args.samples))) for i in range(0, args.samples, 4)]
        summaries = []
        for n, group in enumerate(groups):
            summaries.append(summarize(
                inputs=[sims[i].outputs[0] for i in group], outputs=[File(str(workdir / f"summary-{n}.txt"))],
                stdout=str(workdir / f"summary-{n}.count"), stderr=str(workdir / f"summary-{n}.err")))
        done = [s.result() for s in summaries]
        counts = [int((workdir / f"summary-{n}.count").read_text()) for n in range(len(groups))]
        assert done == [0] * len(groups) and sum(counts) == args.samples, (done, counts)
        makespan = time.time() - started
        rows, overall, _ = app_stats(executor.pool, executor.run_token, executor.log_path)
    calls = len(prepared) + len(sims) + len(summaries)
    own = sum(r.calls for r in rows if r.calls is not None)
    workers = sum(r.jobs for r in rows if r.calls is None)
    print(f"\n{calls} app calls: {own} ran as their own jobs, {calls - own} in {workers} slot-worker "
          f"job(s); makespan {makespan:.1f} s (wall clock)\n")
    print(format_table(rows, overall, makespan))
    print(f"\nevent log: {executor.log_path}\nhistory:   {executor.pool.profile.history_source}")


if __name__ == "__main__":
    main()
