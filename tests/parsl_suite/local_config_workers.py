"""Parsl's own test suite against CondorExecutor(mode="workers") on the embedded local pool
(ci/parsl-suite.sh): every call runs in a slot worker, through its mailbox, isolated as in
local_config.py (the worker sees its sandbox, the system's read-only directories and its mailbox)."""

from parsl.config import Config

from condorexec import CondorExecutor


def fresh_config() -> Config:
    return Config(
        executors=[CondorExecutor(label="condorexec_workers", pool="local", mode="workers", isolate=True,
                                  worker_idle_timeout=10,
                                  nodes=["cpus=2,memory=4000,disk=20000", "cpus=2,memory=4000,disk=20000"],
                                  monitor_period=0.1, batch_window=0.01)],
        strategy="none",
    )


#: for parsl-perf, which reads a module-level ``config``
config = fresh_config()
