"""Where the local pool keeps its state under a state directory: the one definition of its paths.

``<state dir>/localpool/{execute,nodes,spool}``, the history file ``spool/history``, the cluster-id
counter, private job logs, queue snapshots and the per-job directories of jobs submitted with
``-spool`` (``spool/C%10000/P%10000/clusterC.procP.subproc0``, as a schedd's). The pool writes through
:class:`SpoolLayout`; the companion commands read through it (:mod:`.spool`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import platformdirs


def default_state_dir() -> Path:
    """The state directory when none is given (e.g. ``~/.local/state/condorexec``)."""
    return Path(platformdirs.user_state_dir("condorexec"))


@dataclass(frozen=True)
class SpoolLayout:
    """Where the local pool keeps its state under ``state_dir`` (made absolute: the history path names
    the label poller's cursor, which must not depend on the working directory)."""

    state_dir: Path

    def __init__(self, state_dir: str | os.PathLike[str] | None = None):
        chosen = Path(state_dir) if state_dir else default_state_dir()
        object.__setattr__(self, "state_dir", chosen.expanduser().absolute())

    @property
    def root(self) -> Path:
        """``<state dir>/localpool``: everything of the local pool is under here."""
        return self.state_dir / "localpool"

    @property
    def execute(self) -> Path:
        """Job sandboxes, one directory per node."""
        return self.root / "execute"

    @property
    def nodes(self) -> Path:
        """Per-node caches (``CONDOREXEC_NODE_CACHE``), one directory per node."""
        return self.root / "nodes"

    @property
    def spool(self) -> Path:
        return self.root / "spool"

    @property
    def history(self) -> Path:
        """Finished jobs' ads, in the schedd's history-file format."""
        return self.spool / "history"

    @property
    def next_cluster(self) -> Path:
        """The cluster-id counter shared by every process using this state directory."""
        return self.spool / "next_cluster"

    @property
    def logs(self) -> Path:
        """Job event logs of descriptions that name none (the local pool needs one per job)."""
        return self.spool / "logs"

    def job_spool(self, cluster: int, proc: int) -> Path:
        """A ``-spool`` job's own directory, named as a schedd names it under ``SPOOL``: its input files
        copied at submit (the job runs from them) and, once it finished, the outputs waiting for
        ``condorexec transfer-data``. Removed when they are retrieved or the job is removed."""
        return self.spool / str(cluster % 10000) / str(proc % 10000) / f"cluster{cluster}.proc{proc}.subproc0"

    def queue_snapshot(self, pid: int) -> Path:
        return self.spool / f"queue.{pid}.ads"

    def create(self) -> None:
        """Make the directories the local pool writes to."""
        for path in (self.execute, self.nodes, self.spool):
            path.mkdir(parents=True, exist_ok=True)


def as_layout(where: SpoolLayout | str | os.PathLike[str] | None) -> SpoolLayout:
    """``where`` as a layout (None: the default state directory)."""
    return where if isinstance(where, SpoolLayout) else SpoolLayout(where)
