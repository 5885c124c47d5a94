"""The core's options, each checked once, with an error that names the parameter and its value.

Each option's default and check live here only: CondorExecutor's option groups
(``condorexec/executor_config.py``) read these defaults and check their core fields by building a
CoreConfig, so a user's ``max_retries=-1`` is refused by the same line whether it came as a keyword or
in a ``JobConfig``."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from condorexec.errors import InvalidSpecError
from condorexec.labels.policy import AllocationMode
from condorexec.render import check_name
from condorexec.workflow.journal import check_name as check_workflow_name

#: how calls become jobs (CoreConfig.mode)
MODES = ("per_call", "workers", "auto")


def _number(name: str, value: object, *, integer: bool, minimum: float, strict: bool = False) -> None:
    kind = "an int" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, int if integer else (int, float)):
        raise InvalidSpecError(name, value, f"must be {kind}, not {type(value).__name__}")
    if value < minimum or (strict and value == minimum):
        raise InvalidSpecError(name, value, f"must be {'>' if strict else '>='} {minimum:g}")


@dataclass(frozen=True)
class CoreConfig:
    """How the core batches, sizes, retries and keeps its jobs alive (see CondorExecutor's docstring)."""

    worker_python: str = field(default_factory=lambda: sys.executable)
    autolabel: bool = False
    allocation_mode: str = "max_throughput"
    autolabel_window: int = 1
    #: a learning category's waiting calls go at its probe's running memory, not after its end
    #: (core/probes.py, docs/labels.md "Cold start")
    autolabel_early_release: bool = True
    label_store: str | None = None
    pack: bool = False
    batch_window: float = 0.02
    max_batch: int = 1000
    max_retries: int = 3
    lease_minutes: int = 30
    #: the interpreter's thread switch interval while an in-process pool runs (None: leave it alone)
    switch_interval: float | None = 0.0002
    #: "per_call" (each call its own job), "workers" (slot workers), "auto" (per category, by
    #: measured wall time); docs/design.md §7
    mode: str = "auto"
    #: slot workers at once (None: as many as the pool's machines hold for what waits)
    max_workers: int | None = None
    #: seconds a slot worker waits without work before it exits
    worker_idle_timeout: float = 30.0
    #: a named workflow: calls are journaled and a rerun re-attaches to them (docs/durable.md); None: not
    workflow: str | None = None
    #: where named workflows' journals live (None: the user data directory's ``workflows``)
    workflow_dir: str | None = None

    def __post_init__(self) -> None:
        for name in ("autolabel", "autolabel_early_release", "pack"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidSpecError(name, getattr(self, name), "must be True or False")
        _number("batch_window", self.batch_window, integer=False, minimum=0)
        _number("max_batch", self.max_batch, integer=True, minimum=1)
        _number("max_retries", self.max_retries, integer=True, minimum=0)
        _number("autolabel_window", self.autolabel_window, integer=True, minimum=1)
        _number("lease_minutes", self.lease_minutes, integer=True, minimum=1)
        if self.switch_interval is not None:
            _number("switch_interval", self.switch_interval, integer=False, minimum=0, strict=True)
            if self.switch_interval > 0.1:
                raise InvalidSpecError("switch_interval", self.switch_interval, "must be seconds in (0, 0.1], or None")
        if self.mode not in MODES:
            raise InvalidSpecError("mode", self.mode, f"must be one of {list(MODES)}")
        if self.max_workers is not None:
            _number("max_workers", self.max_workers, integer=True, minimum=1)
        _number("worker_idle_timeout", self.worker_idle_timeout, integer=False, minimum=0, strict=True)
        modes = [mode.value for mode in AllocationMode]
        if self.allocation_mode not in modes:
            raise InvalidSpecError("allocation_mode", self.allocation_mode, f"must be one of {modes}")
        if self.label_store is not None and not isinstance(self.label_store, str):
            raise InvalidSpecError("label_store", self.label_store, "must be a path (str) or None")
        if self.workflow is not None:
            check_workflow_name(self.workflow)
        if self.workflow_dir is not None:
            if not isinstance(self.workflow_dir, str):
                raise InvalidSpecError("workflow_dir", self.workflow_dir, "must be a path (str) or None")
            check_name("workflow_dir", self.workflow_dir)
        if not isinstance(self.worker_python, str) or not self.worker_python:
            raise InvalidSpecError("worker_python", self.worker_python, "must be a path to a Python interpreter")
        check_name("worker_python", self.worker_python)

    @property
    def lease_seconds(self) -> int:
        return self.lease_minutes * 60
