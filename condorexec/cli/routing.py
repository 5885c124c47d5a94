"""Which pool a command talks to: the HTCondor schedd when one is configured, else the local pool.

``submit`` needs a live pool object and uses :func:`condorexec.pools.select.choose_pool`. The
companions (``q``, ``history``, ``rm``) must not start an embedded pool of their own — the local
pool they mean lives in some ``submit`` process — so for them "local" means the spool files under
the state directory, and only the HTCondor case makes a pool object.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from condorexec.cli.options import backend, state_dir
from condorexec.pools.base import Pool
from condorexec.pools.select import condor_config_source, probe_schedd


@dataclass
class Target:
    """Where a companion command looks: ``condor`` (a CondorPool) or the local pool's spool."""

    kind: str
    state_dir: Path
    pool: Pool | None = None
    reason: str = ""

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()


def companion_target(args: argparse.Namespace) -> Target:
    """The pool a q/history/rm invocation means (see the module docstring)."""
    kind = backend(args)
    where = state_dir(args.state_dir)
    if kind == "auto":
        if condor_config_source() is None:
            return Target("local", where, reason="no HTCondor configuration")
        ok, detail = probe_schedd()
        if not ok:
            return Target("local", where, reason=f"schedd did not answer: {detail}")
        kind = "condor"
    if kind == "local":
        return Target("local", where, reason="local pool, as asked")
    from condorexec.pools.condor import CondorPool

    return Target("condor", where, CondorPool(schedd=args.name, collector=args.pool), "HTCondor schedd")
