"""Parsl's own test suite against CondorExecutor(mode="workers", shared_fs=True) on the live HTCondor
pool, whose execute node is the submit host and so shares its filesystem (ci/condor-tests.sh)."""

from parsl.config import Config

from condorexec import CondorExecutor


def fresh_config() -> Config:
    return Config(
        executors=[CondorExecutor(label="condorexec_condor_workers", pool="condor", mode="workers", shared_fs=True,
                                  worker_idle_timeout=10, batch_window=0.01)],
        strategy="none",
    )
