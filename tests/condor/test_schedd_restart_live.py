"""A schedd restarted three times under a running workflow loses no call (issue 27).

``condor_restart -schedd`` restarts only the schedd (the pool's other daemons and the running jobs go
on; the new schedd replays the queue and reconnects to the jobs' starters). It is run as the pool's
user, at three moments of a run (per call, and with category workers): during a burst of submits,
while the calls run (lease renewals, queue cross-checks, history polls), and just before a second
burst, so those submits meet a schedd that is not there. Every call must finish with its own result.

**This restarts the shared pool's schedd**: other live tests running at the same time see the same
errors (and, with condorexec's retry, the same delay). It is marked ``slow`` as well as ``condor``.
On this pool the restarted schedd exits and the master starts it again after its backoff, which grows
with every exit within ``MASTER_RECOVER_FACTOR`` (300 s) of the last start: 10, 11, 13 s here, but
17, 25, 41, 73, 137, 265 s for further restarts in a row — so each run first waits, if the schedd was
restarted in the last 5 minutes, until the master has forgotten it.
"""

from __future__ import annotations

import concurrent.futures
import logging
import subprocess
import sys
import time
from pathlib import Path

import cloudpickle
import htcondor2
import pytest

from condorexec import CondorExecutor
from condorexec.pools.condor import SUBMIT_ID_ATTR, CondorPool

from .conftest import wait_for

pytestmark = [pytest.mark.condor, pytest.mark.fault, pytest.mark.slow]

# the execute node cannot import this module: its functions travel by value (as in test_executor_live)
cloudpickle.register_pickle_by_value(sys.modules[__name__])

SPEC = {"cores": 1, "memory": 64, "disk": 10}


def _nap(x: int) -> int:
    import time

    time.sleep(2)
    return x * 3


def _schedd_started() -> int:
    """The running schedd's DaemonStartTime, from the collector (0 while it has no ad)."""
    ads = htcondor2.Collector().query(htcondor2.AdTypes.Schedd, projection=["DaemonStartTime"])
    return max((int(ad.get("DaemonStartTime", 0)) for ad in ads), default=0)


def _master_started() -> int:
    ads = htcondor2.Collector().query(htcondor2.AdTypes.Master, projection=["DaemonStartTime"])
    return max((int(ad.get("DaemonStartTime", 0)) for ad in ads), default=0)


def _wait_for_a_settled_master() -> None:
    """If the schedd was restarted less than MASTER_RECOVER_FACTOR seconds ago, wait until it has run that
    long: only then does the master forget the earlier exit and start the next restarted schedd after its
    shortest backoff (10 s, not minutes). A schedd the master started with the pool needs no wait."""
    settle = float(htcondor2.param.get("MASTER_RECOVER_FACTOR", "300"))
    if _schedd_started() - _master_started() < 60:
        return
    wait_for("a schedd that has run MASTER_RECOVER_FACTOR seconds",
             lambda: _schedd_started() and time.time() - _schedd_started() > settle + 5, timeout=settle + 300, every=5)


def _restart_schedd(log: list[str], moment: str) -> None:
    """``condor_restart -schedd``, then wait until a new schedd has advertised itself."""
    before = _schedd_started()
    started = time.monotonic()
    done = subprocess.run(["condor_restart", "-schedd"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    wait_for("the restarted schedd's ad", lambda: _schedd_started() > before, timeout=180, every=0.5)
    log.append(f"{moment}: schedd back in the collector after {time.monotonic() - started:.1f} s")


def _collect(futures, timeout: float) -> tuple[dict[int, object], dict[int, str]]:
    """Each call's result, or why it failed; a call not done within ``timeout`` s counts as failed (hung)."""
    concurrent.futures.wait(futures, timeout=timeout)
    results, failures = {}, {}
    for i, future in enumerate(futures):
        if not future.done():
            failures[i] = f"hung: no outcome {timeout:g} s after the last submit"
        elif future.exception() is not None:
            exc = future.exception()
            failures[i] = f"{type(exc).__name__}: {exc}"
        else:
            results[i] = future.result()
    return results, failures


def _kinds(failures: dict[int, str]) -> list[str]:
    kinds: dict[str, int] = {}
    for why in failures.values():
        kind = why.split(":")[0] if why.startswith("hung") else why[:200]
        kinds[kind] = kinds.get(kind, 0) + 1
    return [f"{n} x {kind}" for kind, n in sorted(kinds.items(), key=lambda kv: -kv[1])]


@pytest.mark.timeout(1500)
@pytest.mark.parametrize("mode", ["per_call", "workers"])
def test_a_run_loses_no_call_across_three_schedd_restarts(condor_pool: CondorPool, tmp_path: Path, mode: str,
                                                          caplog, capsys) -> None:
    """Two runs side by side meet the same three restarts: one whose pool retries (the default) and a
    control whose pool does not (``retry_seconds=0``, condorexec before issue 27). The restarts must
    hit the runs — the control loses calls or the retrying run retries — else the test proves nothing."""
    tmp_path.chmod(0o755)
    runs = {"retrying": CondorPool(), "control": CondorPool(retry_seconds=0)}
    executors = {}
    for name, pool in runs.items():
        executors[name] = CondorExecutor(label=name, pool=pool, mode=mode, batch_window=0.2)
        executors[name].run_dir = str(tmp_path / name)
        executors[name].start()
    futures: dict[str, list] = {name: [] for name in runs}

    def submit(i: int) -> None:
        for name, executor in executors.items():
            futures[name].append(executor.submit(_nap, SPEC, i))

    moments: list[str] = []
    _wait_for_a_settled_master()
    caplog.set_level(logging.WARNING, logger="condorexec.pools.scheddretry")
    try:
        # 1: in the middle of a burst of submits (a batch every 0.2 s)
        for i in range(20):
            submit(i)
            if i == 6:
                _restart_schedd(moments, "1 during a burst of submits")
            time.sleep(0.1)
        # 2: while the calls run: the lease, the cross-check and the history poller ask the schedd
        wait_for("a third of the calls to finish", lambda: sum(f.done() for f in futures["retrying"]) >= 7,
                 timeout=300)
        _restart_schedd(moments, "2 while calls run")
        # 3: a second burst whose submits meet the restarting schedd
        subprocess.run(["condor_restart", "-schedd"], capture_output=True, text=True, timeout=60, check=True)
        for i in range(20, 30):
            submit(i)
        moments.append("3 just before a burst of 10 submits")
        outcomes = {name: _collect(futures[name], timeout=300) for name in runs}
    finally:
        for executor in executors.values():
            executor.shutdown()
    retried = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    recovered = [r.getMessage() for r in caplog.records if "answered" in r.getMessage()]
    with capsys.disabled():
        print(f"\n[schedd restart, {mode}] {len(retried)} schedd call attempts retried, "
              f"{len(recovered)} calls recovered")
        for line in moments:
            print(f"  {line}")
        for name, (_, failures) in outcomes.items():
            print(f"  {name}: {len(futures[name])} calls, {len(failures)} failed")
            for line in _kinds(failures):
                print(f"    {line}")
    results, failures = outcomes["retrying"]
    assert failures == {}
    assert results == {i: 3 * i for i in range(len(futures["retrying"]))}
    # the restarts must have hit the runs, else this proves nothing: the control lost calls, or the retrying
    # run had to retry a schedd call (with workers, the control may lose none: its calls can all go to
    # workers it submitted before the first restart, and a failed lease renewal fails no call)
    assert outcomes["control"][1] or retried, "the restarts hit neither run: no call lost, no schedd call retried"


@pytest.mark.parametrize("factory", [False, True], ids=["cluster", "late materialization"])
def test_a_submit_is_found_again_by_its_tag_as_the_schedd_made_it(condor_pool: CondorPool, make_description,
                                                                  factory: bool) -> None:
    """What a retried submit relies on (no restart here): the schedd keeps each submit's
    ``CondorexecSubmitId`` and the lookup returns the cluster the lost answer would have, also for a
    factory that has made only one of its procs so far."""
    extra = {"max_materialize": "1"} if factory else {}
    submitted = condor_pool.submit(make_description("/bin/sleep", "30", **extra), count=3)
    [ad] = condor_pool.query(f"ClusterId == {submitted.cluster} && ProcId == 0", [SUBMIT_ID_ATTR])
    token = ad[SUBMIT_ID_ATTR]
    assert len(token) == 32 and not condor_pool.query(f'{SUBMIT_ID_ATTR} == "{token}" && '
                                                      f"ClusterId != {submitted.cluster}", ["ClusterId"])
    assert condor_pool._submitted_before(token, spool=False) == submitted
    assert condor_pool._submitted_before("0" * 32, spool=False) is None
