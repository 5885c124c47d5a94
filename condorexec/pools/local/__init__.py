"""The embedded local pool: HTCondor's daemons played by this process, one module per part.

=================  ==============================================================================
``pool``           :class:`LocalPool`, the :class:`~condorexec.pools.base.Pool` a caller talks to
``spool``          the state directory's layout and the read-only view the companion commands use
``support``        which submit commands this pool honours, ignores or refuses
``launcher``       starts, measures and kills job process trees (a fork server in its own process)
``eventlog``       job event logs in HTCondor's text format (the shadow's and schedd's writes)
``historyfile``    the schedd's history file
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

__all__ = ["LocalPool", "NodeSpec", "local_machines", "node_specs"]

if TYPE_CHECKING:
    from condorexec.pools.local.pool import LocalPool, NodeSpec, local_machines, node_specs


def __getattr__(name: str) -> Any:
    if name in __all__:
        from condorexec.pools.local import pool

        return getattr(pool, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
