"""The node-side slot worker (condorexec/worker.py), run as the pool runs it: a process of its own, its
mailbox a directory, its calls in inbox messages, each call with its own size."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import cloudpickle
import psutil

from condorexec import worker as protocol
from condorexec.payload import Call, decode_outcome, encode_payload

WORKER = Path(protocol.__file__)

cloudpickle.register_pickle_by_value(sys.modules[__name__])  # the worker cannot import this test module


def grow(megabytes):
    block = bytearray(megabytes * 2**20)
    for i in range(0, len(block), 4096):
        block[i] = 1
    return megabytes


def sleep_then(seconds, value):
    import time

    time.sleep(seconds)
    return value


def crash():
    import os

    os._exit(7)


def _call(call_id, func, *args, outputs=(), inputs=(), cores=1, memory=1000):
    return {"id": call_id, "payload": encode_payload([Call(call_id, func, args, {})]), "dir": f"tasks/{call_id}",
            "inputs": list(inputs), "outputs": list(outputs), "prefixes": [],
            "size": {"cores": cores, "memory": memory, "disk": 10, "gpus": 0}}


def _post(root: Path, seq: int, message: dict) -> None:
    inbox = root / "workers" / "w0" / "in"
    (inbox / f"{seq}.tmp").write_bytes(pickle.dumps({"version": protocol.PROTOCOL, **message}))
    os.replace(inbox / f"{seq}.tmp", inbox / str(seq))


def _start(root: Path, calls, *, idle=0.5, cores=1, memory=4000, extra=()):
    box = root / "workers" / "w0"
    (box / "in").mkdir(parents=True, exist_ok=True)
    (box / "out").mkdir(parents=True, exist_ok=True)
    (box / "in" / "0").write_bytes(pickle.dumps({"version": protocol.PROTOCOL, "calls": calls}))
    scratch = root / "scratch"
    scratch.mkdir(exist_ok=True)
    env = dict(os.environ, _CONDOR_SCRATCH_DIR=str(scratch),
               PYTHONPATH=os.pathsep.join([str(WORKER.parent), os.path.dirname(cloudpickle.__path__[0])]))
    args = [sys.executable, str(WORKER), "w0", "--idle", str(idle), "--cores", str(cores), "--memory", str(memory),
            "--disk", "1000", *extra]
    if "--chirp" not in extra:
        args += ["--root", str(root)]
    return subprocess.Popen(args, env=env, cwd=scratch, stderr=subprocess.PIPE, text=True)


def _results(root: Path) -> dict[int, dict]:
    found = {}
    out = root / "workers" / "w0" / "out"
    for name in sorted(os.listdir(out), key=lambda n: int(n) if n.isdigit() else -1):
        if name.isdigit():
            for result in pickle.loads((out / name).read_bytes()).get("results", ()):
                found[result["id"]] = result
    return found


def test_a_small_call_after_a_big_one_is_measured_small(tmp_path):
    proc = _start(tmp_path, [_call(1, grow, 300), _call(2, grow, 1), _call(3, sleep_then, 0.3, "slept")])
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    results = _results(tmp_path)
    big, small = results[1]["usage"]["peak_rss_kib"] // 1024, results[2]["usage"]["peak_rss_kib"] // 1024
    assert big > 300 and small < 100, (big, small)
    assert decode_outcome(results[1]["outcome"]).value == 300
    assert results[3]["usage"]["wall_s"] >= 0.3
    assert decode_outcome(results[3]["outcome"]).value == "slept"


def test_a_call_over_its_memory_is_killed_and_the_worker_goes_on(tmp_path):
    proc = _start(tmp_path, [_call(1, grow, 400, memory=250), _call(2, grow, 1)])
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    results = _results(tmp_path)
    assert results[1]["exhausted"] == "memory" and results[1]["outcome"] is None
    assert "more than its 250 MB" in results[1]["error"]
    assert decode_outcome(results[2]["outcome"]).value == 1


def test_a_call_whose_process_dies_is_reported_and_the_next_one_runs(tmp_path):
    proc = _start(tmp_path, [_call(1, crash), _call(2, grow, 1)])
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    results = _results(tmp_path)
    assert results[1]["outcome"] is None and "status 7" in results[1]["error"]
    assert decode_outcome(results[2]["outcome"]).value == 1


def test_declared_outputs_go_back_into_the_calls_directory(tmp_path):
    def write(name):
        with open(name, "w") as f:
            f.write("spectrum")
        with open("scratch.tmp", "w") as f:
            f.write("not declared")
        print("to stdout")
        return name

    (tmp_path / "tasks" / "1").mkdir(parents=True)
    proc = _start(tmp_path, [_call(1, write, "spectrum.dat", outputs=["spectrum.dat"])])
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    assert (tmp_path / "tasks" / "1" / "spectrum.dat").read_text() == "spectrum"
    assert not (tmp_path / "tasks" / "1" / "scratch.tmp").exists()
    assert _results(tmp_path)[1]["streams"]["job.out"] == b"to stdout\n"


def test_the_worker_says_hello_first_and_bye_when_idle(tmp_path):
    proc = _start(tmp_path, [], idle=0.2)
    assert proc.wait(timeout=30) == 0
    out = tmp_path / "workers" / "w0" / "out"
    first, last = (pickle.loads((out / n).read_bytes()) for n in ("0", str(len(os.listdir(out)) - 1)))
    assert "hello" in first and last["bye"] == "idle"


def test_without_a_chirp_proxy_the_worker_exits_with_its_own_status(tmp_path):
    proc = _start(tmp_path, [], extra=("--chirp",))
    assert proc.wait(timeout=30) == protocol.CHIRP_UNAVAILABLE
    assert "chirp" in proc.stderr.read()


def test_sigterm_ends_the_worker_and_the_call_it_runs(tmp_path):
    proc = _start(tmp_path, [_call(1, sleep_then, 60, "never")])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not (tmp_path / "workers" / "w0" / "out" / "0").exists():
        time.sleep(0.05)
    time.sleep(0.5)
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert children, "the call process runs"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 128 + signal.SIGTERM
    time.sleep(0.2)
    for pid in children:  # gone, or a zombie waiting for init to reap it
        try:
            assert psutil.Process(int(pid)).status() == psutil.STATUS_ZOMBIE
        except psutil.NoSuchProcess:
            pass


def pinned(seconds):
    import os
    import time

    time.sleep(seconds)
    return sorted(os.sched_getaffinity(0)), os.environ.get("OMP_NUM_THREADS")


def big_result(megabytes):
    return b"x" * (megabytes * 2**20)


def _overlap(a, b):
    return a["started_at"] < b["ended_at"] and b["started_at"] < a["ended_at"]


def test_calls_of_two_sizes_run_side_by_side_in_one_worker(tmp_path):
    proc = _start(tmp_path, [_call(1, sleep_then, 1.0, "big", cores=2, memory=500),
                             _call(2, sleep_then, 1.0, "small", cores=1, memory=300)], cores=3, memory=1000)
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    results = _results(tmp_path)
    assert decode_outcome(results[1]["outcome"]).value == "big"
    assert decode_outcome(results[2]["outcome"]).value == "small"
    assert _overlap(results[1], results[2]), "both ran at once"


def test_a_call_that_does_not_fit_what_is_free_waits_for_the_calls_ahead_of_it(tmp_path):
    proc = _start(tmp_path, [_call(1, sleep_then, 0.5, "first", cores=2),
                             _call(2, sleep_then, 0.1, "second", cores=1)], cores=2)
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    results = _results(tmp_path)
    assert results[2]["started_at"] >= results[1]["ended_at"] - 0.01, "the one-core call waited for the two-core one"


def test_a_memory_hog_is_killed_alone_while_its_neighbour_finishes(tmp_path):
    def hog():
        import time

        block = bytearray(600 * 2**20)
        for i in range(0, len(block), 4096):
            block[i] = 1
        time.sleep(5)

    proc = _start(tmp_path, [_call(1, hog, memory=200), _call(2, sleep_then, 1.0, "fine", memory=200)],
                  cores=2, memory=400)
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    results = _results(tmp_path)
    assert results[1]["exhausted"] == "memory" and results[1]["outcome"] is None
    assert decode_outcome(results[2]["outcome"]).value == "fine"
    assert _overlap(results[1], results[2]), "they ran side by side"


def test_calls_not_started_come_back_when_recalled(tmp_path):
    proc = _start(tmp_path, [_call(1, sleep_then, 1.0, "running")] + [_call(i, grow, 1) for i in (2, 3, 4)],
                  idle=0.3)
    time.sleep(0.5)
    _post(tmp_path, 1, {"recall": [3, 4, 1]})
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    results = _results(tmp_path)
    assert decode_outcome(results[1]["outcome"]).value == "running", "a started call is not taken back"
    assert results[3]["returned"] == results[4]["returned"] == "recalled"
    assert decode_outcome(results[2]["outcome"]).value == 1, "a call not recalled runs"


def test_where_the_node_gave_the_job_its_cores_each_call_gets_cores_of_its_own(tmp_path):
    cpus = sorted(os.sched_getaffinity(0))
    proc = _start(tmp_path, [_call(i, pinned, 0.5) for i in range(len(cpus))], cores=len(cpus))
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    placed = [decode_outcome(r["outcome"]).value for r in _results(tmp_path).values()]
    assert all(threads == "1" for _, threads in placed), "thread variables follow the call's cores"
    if len(cpus) > 1:
        assert sorted(c for got, _ in placed for c in got) == cpus, "one core each, none shared"


def test_a_large_result_comes_back_whole(tmp_path):
    proc = _start(tmp_path, [_call(1, big_result, 64, memory=2000)], memory=2000)
    assert proc.wait(timeout=120) == 0, proc.stderr.read()
    assert decode_outcome(_results(tmp_path)[1]["outcome"]).value == b"x" * (64 * 2**20)
