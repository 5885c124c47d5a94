"""Parsl's own test suite against CondorExecutor(shared_fs=True) on the embedded local pool: file
paths pass to apps unchanged, as on a pool whose nodes share the submit side's filesystem."""

from parsl.config import Config

from condorexec import CondorExecutor


def fresh_config() -> Config:
    return Config(
        executors=[CondorExecutor(label="condorexec_local", pool="local", shared_fs=True, mode="per_call",
                                  nodes=["cpus=2,memory=4000,disk=20000", "cpus=2,memory=4000,disk=20000"],
                                  monitor_period=0.1, batch_window=0.01)],
        strategy="none",
    )
