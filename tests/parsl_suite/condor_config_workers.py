"""Parsl's own test suite against CondorExecutor(mode="workers") on a live HTCondor pool (CI's live
stage, ci/condor-tests.sh): every call runs in a slot worker, its calls and results through chirp."""

from parsl.config import Config

from condorexec import CondorExecutor


def fresh_config() -> Config:
    return Config(
        executors=[CondorExecutor(label="condorexec_condor_workers", pool="condor", mode="workers",
                                  worker_idle_timeout=10, batch_window=0.01)],
        strategy="none",
    )


#: for parsl-perf, which reads a module-level ``config``
config = fresh_config()
