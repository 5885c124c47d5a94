"""The Parsl-free core: takes calls, runs each as an HTCondor job on a Pool, returns futures.

``CondorExecutor`` (condorexec/executor.py) is a thin Parsl adapter over :class:`Core`; nothing in
this package imports Parsl (docs/design.md §2).
"""

from condorexec.core.calls import CallRequest
from condorexec.core.config import CoreConfig
from condorexec.core.engine import Core

__all__ = ["CallRequest", "Core", "CoreConfig"]
