"""Parsl configs for the same live HTCondor pool, used by tests/bench/real_pool_workers.py and by
``parsl-perf --config`` (which reads the module's ``config``): pick one with CONDOREXEC_BENCH_MODE =
``per_call`` | ``workers`` (CondorExecutor) or ``htex`` (Parsl's own htcondor_ci config: HTEX with a
CondorProvider, one block of one 2-core slot running 2 workers, so both sides use the pool's 2 cores)."""

from __future__ import annotations

import os
import sys

from parsl.config import Config
from parsl.executors import HighThroughputExecutor
from parsl.launchers import SimpleLauncher
from parsl.providers import CondorProvider

from condorexec import CondorExecutor


def htex_condor() -> HighThroughputExecutor:
    return HighThroughputExecutor(
        label="htex_condor", max_workers_per_node=2,
        provider=CondorProvider(
            # the node is this machine: HTEX's worker pool command comes from this environment
            worker_init=f"export PATH={os.path.dirname(sys.executable)}:$PATH",
            nodes_per_block=1, init_blocks=1, min_blocks=1, max_blocks=1, cores_per_slot=2,
            mem_per_slot=2,  # GB: the pool holds a job over its request; 2 HTEX workers outgrow the default
            launcher=SimpleLauncher()))


def fresh_config(mode: str | None = None) -> Config:
    mode = mode or os.environ.get("CONDOREXEC_BENCH_MODE", "workers")
    if mode == "htex":
        return Config(executors=[htex_condor()])
    return Config(executors=[CondorExecutor(label=f"condorexec_{mode}", pool="condor", mode=mode)], strategy="none")


config = fresh_config()
