"""Benchmark: the pool layer's cost of submitting 10,000 rows (not run by pytest).

CondorPool.submit drives a recording stand-in of the binding seam, so this measures only our side:
building the real ``htcondor2.Submit``, checking and copying the item-data rows, and handing one
iterator per cluster to the seam. It also times ``htcondor2.Submit`` parsing a 1,000-row inline
``queue ... from (...)`` description, the client-side work the real ``Schedd.submit`` does with
what we hand it before it talks to the schedd, and the real ``Schedd.submit`` up to the point where
it connects (aimed at a closed port): its cost per row grows with the rows per call.

    /work/venv/bin/python tests/bench/submit_scale.py [ROWS]
"""

from __future__ import annotations

import sys
import time
import tracemalloc
from collections.abc import Iterator

import classad2
import htcondor2

from condorexec.pools.condor import CondorPool


class _Result:
    def __init__(self, cluster: int, n: int):
        self._c, self._n = cluster, n

    def cluster(self) -> int:
        return self._c

    def first_proc(self) -> int:
        return 0

    def num_procs(self) -> int:
        return self._n


class RecordingSeam:
    """Counts submit calls and consumes the row iterator, as the bindings would."""

    location = {"Name": "bench@localhost", "MyAddress": "<127.0.0.1:0>", "CondorVersion": ""}

    def __init__(self) -> None:
        self.submit_calls = 0
        self.rows_seen = 0

    def submit(self, description: htcondor2.Submit, count: int, itemdata: Iterator[dict] | None):
        self.submit_calls += 1
        n = sum(1 for _ in itemdata) if itemdata is not None else 1
        self.rows_seen += n
        return _Result(self.submit_calls, n)


def description() -> htcondor2.Submit:
    return htcondor2.Submit({
        "executable": "/usr/bin/python3",
        "arguments": "runner.py $(task_id)",
        "transfer_input_files": "$(payload)",
        "request_cpus": "$(cpus)",
        "request_memory": "$(memory)",
        "request_disk": "$(disk)",
        "log": "/tmp/bench/job.log",
        "MY.CondorexecTask": '"$(task_id)"',
    })


def rows(start: int, n: int) -> list[dict[str, str]]:
    return [{"task_id": f"{i:06d}", "payload": f"/tmp/bench/payloads/{i:06d}.pkl", "cpus": "1",
             "memory": f"{250 * (1 + i % 8)}MB", "disk": "1000MB"} for i in range(start, start + n)]


def run(total: int, batch: int) -> tuple[int, float]:
    seam = RecordingSeam()
    pool = CondorPool(bindings=seam)  # type: ignore[arg-type]
    start = time.perf_counter()
    for first in range(0, total, batch):
        pool.submit(description(), itemdata=rows(first, min(batch, total - first)))
    elapsed = time.perf_counter() - start
    assert seam.rows_seen == total
    return seam.submit_calls, elapsed


def memory_per_row(total: int) -> tuple[float, float]:
    """Bytes per outstanding row: as generated, and at the peak of submitting them (our checked copy)."""
    pool = CondorPool(bindings=RecordingSeam())  # type: ignore[arg-type]
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    data = rows(0, total)
    held = tracemalloc.get_traced_memory()[0] - base
    tracemalloc.reset_peak()
    pool.submit(description(), itemdata=data)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return held / total, peak / total


def parse_inline(n: int) -> float:
    """Seconds for htcondor2.Submit to parse an inline queue of n rows (the binding's own step)."""
    keys = list(rows(0, 1)[0])
    body = "\n".join(f"{k} = $({k})" if k != "task_id" else "arguments = $(task_id)" for k in keys)
    lines = "\n".join(",".join(r[k] for k in keys) for r in rows(0, n))
    text = f"executable = /bin/true\n{body}\nqueue {','.join(keys)} from (\n{lines}\n)\n"
    start = time.perf_counter()
    sub = htcondor2.Submit(text)
    assert sum(1 for _ in sub.itemdata()) == n
    return time.perf_counter() - start


def bindings_client_side(n: int) -> float:
    """Seconds the real ``Schedd.submit`` spends on n rows before it reaches the network.

    Aimed at an address where nothing listens, so the call fails right after building its submit
    text (by repeated string concatenation: quadratic in the rows) and parsing it."""
    schedd = htcondor2.Schedd(classad2.ClassAd({"MyAddress": "<127.0.0.1:1>", "CondorVersion": ""}))
    data = rows(0, n)
    start = time.perf_counter()
    try:
        schedd.submit(description(), itemdata=iter(data))
    except htcondor2.HTCondorException:
        pass
    else:
        raise RuntimeError("something answered at 127.0.0.1:1")
    return time.perf_counter() - start


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    # first, while the heap is fresh: a grown heap lets realloc extend in place and hides the cost
    print("real htcondor2 Schedd.submit, client side only (no schedd listening):")
    for n in (1_000, 5_000, total):
        secs = bindings_client_side(n)
        print(f"{n:>8} rows in one submit: {secs:>7.3f} s ({secs * 1e6 / n:.0f} us/row)")
    print(f"CondorPool.submit, {total} rows, recording seam")
    print(f"{'batch':>8} {'submit calls':>13} {'total s':>9} {'us/job':>8}")
    for batch in (1, 100, 1_000, total):
        calls, elapsed = run(total, batch)
        print(f"{batch:>8} {calls:>13} {elapsed:>9.3f} {1e6 * elapsed / total:>8.1f}")
        if batch == 1_000:
            assert calls <= 10 * max(1, total // 10_000), calls
    held, peak = memory_per_row(total)
    print(f"memory per outstanding row: {held:.0f} B held by the caller, {peak:.0f} B peak while submitting")
    secs = parse_inline(1_000)
    print(f"htcondor2.Submit parsing a 1,000-row inline queue: {secs * 1e3:.1f} ms "
          f"({secs * 1e6 / 1_000:.1f} us/row)")


if __name__ == "__main__":
    main()
