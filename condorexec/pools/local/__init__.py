"""The embedded local pool: HTCondor's daemons played by this process, one module per part.

=================  ==============================================================================
``pool``           :class:`LocalPool`, the :class:`~condorexec.pools.base.Pool` a caller talks to
``queue``          the schedd's job queue and every status change
``factory``        the schedd's late-materialization factory and the counts its limits judge
``negotiator``     matchmaking, and the startd's claim and release of a dynamic slot
``starter``        a job's sandbox, its input files in and its output files back
``shadow``         a job's event log, its usage in the ad, the history file (a full disk waits)
``nodes``          the execute nodes (``NodeSpec``) and what of them is free
``launcher``       starts, measures and kills job process trees (one module per process)
``eventlog``       job event logs in HTCondor's text format
``historyfile``    the schedd's history file format: append, read, tail
``layout``         where the pool keeps its state under a state directory
``spool``          what the companion commands read of it (queues, removal requests, history)
``support``        which submit commands this pool honours, ignores or refuses
``spooling``       ``-spool``: inputs copied at submit, outputs kept for ``transfer-data``
``transfer``       HTCondor's file-transfer rules, shared by the starter and the spool
``isolation``      ``isolate=True``: jobs run inside bubblewrap
=================  ==============================================================================

The names below are imported on first use, not here: the launcher's fork server imports
``condorexec.pools.local.launcher`` in a fresh interpreter, whose memory every forked job inherits and
is measured with, so importing this package must stay cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["JOB_START_SECONDS", "LocalPool", "NodeSpec", "local_machines", "node_specs"]

if TYPE_CHECKING:
    from condorexec.pools.local.pool import JOB_START_SECONDS, LocalPool, NodeSpec, local_machines, node_specs


def __getattr__(name: str) -> Any:
    if name in __all__:
        from condorexec.pools.local import pool

        return getattr(pool, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
