"""What a companion command (``q``, ``history``, ``rm``, ``labels``) talks to.

``submit`` needs a live pool object (:func:`condorexec.pools.select.open_pool`). The companions must
not start an embedded pool of their own — the local pool they mean lives in some ``submit`` process —
so they get :func:`condorexec.pools.select.open_view`'s answer: the schedd, or the local pool's spool
under the state directory. Both answer the same calls (``query``, ``history``, ``act``,
``largest_machine``), so the commands do not ask which one they have.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from condorexec.cli.options import backend, state_dir
from condorexec.pools.base import Pool
from condorexec.pools.local.spool import SpoolView
from condorexec.pools.select import open_view


@dataclass
class Target:
    """What a companion looks at, and why (the pool selection's one-line reason)."""

    source: Pool | SpoolView
    reason: str = ""

    def close(self) -> None:
        self.source.close()


def companion_target(args: argparse.Namespace) -> Target:
    """What a q/history/rm/labels invocation means (see the module docstring)."""
    nodes = getattr(args, "local_nodes", None) or ()
    source, reason = open_view(backend(args), schedd=args.name, collector=args.pool,
                               state_dir=state_dir(args.state_dir), nodes=nodes)
    return Target(source, reason)
