"""The node-side category worker (condorexec/worker.py), run as the pool runs it: a process of its own,
its mailbox a directory, its calls in one inbox message."""

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


def _call(call_id, func, *args, outputs=(), inputs=()):
    return {"id": call_id, "payload": encode_payload([Call(call_id, func, args, {})]), "dir": f"tasks/{call_id}",
            "inputs": list(inputs), "outputs": list(outputs), "prefixes": []}


def _start(root: Path, calls, *, idle=0.5, memory=0, extra=()):
    box = root / "workers" / "w0"
    (box / "in").mkdir(parents=True, exist_ok=True)
    (box / "out").mkdir(parents=True, exist_ok=True)
    (box / "in" / "0").write_bytes(pickle.dumps({"version": protocol.PROTOCOL, "calls": calls}))
    scratch = root / "scratch"
    scratch.mkdir(exist_ok=True)
    env = dict(os.environ, _CONDOR_SCRATCH_DIR=str(scratch),
               PYTHONPATH=os.pathsep.join([str(WORKER.parent), os.path.dirname(cloudpickle.__path__[0])]))
    args = [sys.executable, str(WORKER), "w0", "--idle", str(idle), "--memory", str(memory), *extra]
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


def test_a_call_over_the_workers_memory_is_killed_and_the_worker_goes_on(tmp_path):
    proc = _start(tmp_path, [_call(1, grow, 400), _call(2, grow, 1)], memory=250)
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
