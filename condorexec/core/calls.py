"""What the core is handed for each call, and what it keeps about it while the call's job runs."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from condorexec import render
from condorexec.files import FilePlan
from condorexec.pools.base import Machine
from condorexec.resources import Resources
from condorexec.spec import ResourceSpec

#: JobPrio of an autolabel probe (a call sized to a whole machine while its category learns): it
#: goes ahead of the run's other jobs, and on the local pool reserves the node it waits for.
PROBE_PRIORITY = 10


@dataclass(frozen=True)
class CallRequest:
    """One call, already translated from the caller's framework.

    ``func`` is what the node runs with ``args``/``kwargs`` (whose files are already sandbox names, see
    ``plan``); ``source`` is the function whose imports ``pack=True`` ships (the user's own function
    behind any wrapper). ``category`` and ``app`` are safe names for job attributes."""

    func: Callable[..., Any]
    args: Sequence[Any]
    kwargs: dict[str, Any]
    spec: ResourceSpec
    category: str
    app: str
    plan: FilePlan = field(default_factory=FilePlan)
    source: Callable[..., Any] | None = None
    #: (args, kwargs) that say which call this is, for a named workflow's key (``workflow/keys.py``);
    #: None: ``args`` and ``kwargs``. The adapter leaves out what changes from run to run by itself
    #: (Parsl's monitoring ids).
    identity: tuple[Sequence[Any], dict[str, Any]] | None = None


@dataclass(frozen=True)
class Wrapper:
    """A rendered job executable and the files every job using it transfers (a packed environment)."""

    path: Path
    extra_inputs: str = ""


@dataclass
class Task:
    """A call in flight. The call itself lives only in its payload file: no arguments held in memory."""

    id: int
    future: Future
    spec: ResourceSpec
    category: str
    app: str
    task_dir: Path
    plan: FilePlan
    wrapper: Wrapper
    size: Resources = Resources(0, 0, 0)
    job_id: str | None = None
    probe: bool = False  # sent while its category was still learning (see probes.ProbeGate)
    probe_machine: Machine | None = None  # the machine a probe is sized to (None: the largest)
    early_memory: int | None = None  # MB: released early, at its category's probe's running memory
    retries: int = 0
    #: the job executable of a slot worker for this call's environment (None: per-call only)
    worker_wrapper: Wrapper | None = None
    worker: str | None = None  # the slot worker holding it, if any (core/fleet.py)
    per_call_only: bool = False  # sent back from the workers: runs as its own job
    to_workers: bool = False  # where the batcher sent it last
    #: the pickled call, while it is kept in memory rather than in its payload file: a call that may go
    #: to a worker is written to disk only if it runs as its own job (creating a directory and a file
    #: per call cost more than a short call's whole run in a worker)
    payload: bytes | None = None
    #: in a named workflow: the call's key and ordinal (``workflow/keys.py``); None outside one
    key: str | None = None
    ordinal: int = 0

    def item(self) -> dict[str, str]:
        """This call's row of the cluster's itemdata (render.ITEM_KEYS)."""
        spec = self.spec
        values = {
            "task_dir": str(self.task_dir), "task_id": str(self.id), "app": self.app, "category": self.category,
            "cpus": str(self.size.cores), "memory_mb": str(self.size.memory), "disk_mb": str(self.size.disk),
            "gpus": str(self.size.gpus),
            "priority": str(spec.priority if spec.priority is not None else (PROBE_PRIORITY if self.probe else 0)),
            # HTCondor reads allowed_job_duration = 0 as "zero seconds" and holds the job (46) at once
            "max_seconds": str(spec.running_time_min * 60) if spec.running_time_min else "undefined",
            "inputs": self.plan.input_item(),
        }
        return {k: render.check_item_value(k, values[k.removeprefix("ce_")]) for k in render.ITEM_KEYS}
