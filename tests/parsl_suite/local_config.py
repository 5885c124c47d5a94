"""Parsl's own test suite against CondorExecutor on the embedded local pool (ci/parsl-suite.sh).

Parsl's tests call ``fresh_config()`` for each module; the pool is two emulated 2-core nodes, so
calls run side by side as they would on a small HTCondor pool. Jobs run isolated (``isolate=True``,
bubblewrap): each sees only its sandbox and the system's read-only directories, so a test that passes
here does not lean on a filesystem the submitter shares. Calls go one job each (``mode="per_call"``);
local_config_workers.py runs the same tests through slot workers.
"""

from parsl.config import Config

from condorexec import CondorExecutor


def fresh_config() -> Config:
    return Config(
        executors=[CondorExecutor(label="condorexec_local", pool="local", isolate=True, mode="per_call",
                                  nodes=["cpus=2,memory=4000,disk=20000", "cpus=2,memory=4000,disk=20000"],
                                  monitor_period=0.1, batch_window=0.01)],
        strategy="none",
    )


#: for parsl-perf, which reads a module-level ``config``
config = fresh_config()
