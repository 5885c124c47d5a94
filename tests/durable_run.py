"""Kill a named workflow's submitter with SIGKILL and run it again (issue 24's test, on either pool).

``tests/durable_script.py`` is the workflow; this module runs it, kills it once a third of its calls have
finished, runs it again, and returns what the tests assert on: each call's result, how many times each
call ran (the lines of the execution log), which calls had finished or were placed at the kill, and the
seconds each run took.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

SCRIPT = Path(__file__).with_name("durable_script.py")


@dataclass
class KillAndRerun:
    finished_at_kill: set[int]
    killed_after: float
    rerun: dict
    rerun_seconds: float
    ran: collections.Counter = field(default_factory=collections.Counter)
    changed: int | None = None
    summaries: list[str] = field(default_factory=list)


def executions(directory: Path) -> collections.Counter:
    """How many times each call ran: its lines in the execution log."""
    path = directory / "executions.log"
    lines = path.read_text().splitlines() if path.exists() else []
    return collections.Counter(int(line.split()[0]) for line in lines if line.strip())


def run_script(directory: Path, *args: str, timeout: float) -> dict:
    done = subprocess.run([sys.executable, str(SCRIPT), "--dir", str(directory), *args], capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, f"the workflow failed:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    return json.loads(done.stdout.strip().splitlines()[-1])


#: seconds between the snapshot of the calls that finished and the kill: a call that wrote its line has
#: this long to get its result home (a worker sends results within 0.05 s; the journal writes ends every
#: 0.5 s), so "finished at the kill" means finished, not "wrote its line a millisecond before"
SETTLE_S = 2.0


def kill_and_rerun(directory: Path, *args: str, calls: int, timeout: float, change_one: bool = True,
                   settle: float = SETTLE_S) -> KillAndRerun:
    """Run the workflow; SIGKILL it ``settle`` seconds after a third of its calls have run; run it again to
    the end, with the argument of one call that had finished changed (``change_one``: the lowest)."""
    directory.mkdir(parents=True, exist_ok=True)
    first = subprocess.Popen([sys.executable, str(SCRIPT), "--dir", str(directory), "--calls", str(calls), *args],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    started = time.monotonic()
    try:
        while len(executions(directory)) < calls // 3:
            if first.poll() is not None:
                raise AssertionError(f"the first run ended before the kill: {first.stderr.read().decode()[-3000:]}"
                                     if first.stderr else "the first run ended before the kill")
            if time.monotonic() - started > timeout:
                raise AssertionError(f"a third of the calls did not finish within {timeout} s")
            time.sleep(0.1)
        finished = set(executions(directory))
        time.sleep(settle)
        os.kill(first.pid, signal.SIGKILL)  # the submitter only: whatever its pool runs elsewhere lives on
        first.wait()
    finally:
        if first.poll() is None:
            first.kill()
        if first.stderr:
            first.stderr.close()
    killed_after = time.monotonic() - started
    changed = min(finished) if change_one else None
    t0 = time.monotonic()
    rerun = run_script(directory, "--calls", str(calls), *args,
                       *(("--changed", str(changed)) if changed is not None else ()), timeout=timeout)
    outcome = KillAndRerun(finished, killed_after, rerun, time.monotonic() - t0, executions(directory), changed)
    for log in sorted((directory / "runinfo").glob("*/parsl.log")):
        outcome.summaries += [line.split("INFO: ", 1)[-1] for line in log.read_text().splitlines()
                              if "adopted finished" in line]
    return outcome
