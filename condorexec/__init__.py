"""condorexec: run Parsl apps and condor_submit jobs on heterogeneous HTCondor pools, sized per call."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

#: the one place the version is written (setup.cfg reads it: ``version = attr:``)
__version__ = "0.1.0"
__all__ = ["CondorExecutor", "__version__"]

if TYPE_CHECKING:
    from condorexec.executor import CondorExecutor


def __getattr__(name: str) -> Any:
    # Parsl is imported only by users of the executor, not by the CLI or the node-side runner.
    if name == "CondorExecutor":
        from condorexec.executor import CondorExecutor

        return CondorExecutor
    raise AttributeError(name)
