"""CondorExecutor's options, grouped by the part of condorexec each one configures (Parsl TaskVine's
``manager_config.py``/``factory_config.py`` split is the model): :class:`PoolConfig` (which pool, and
the embedded pool's own options), :class:`JobConfig` (how calls become jobs), :class:`AutolabelConfig`
(how calls are sized) and :class:`WorkerConfig` (category workers).

The flat keywords (``CondorExecutor(max_retries=5)``) stay as sugar: each names a field of exactly one
group (:data:`GROUP_OF`), so an error names the parameter the user wrote either way. The core's options
keep their one home in :class:`~condorexec.core.config.CoreConfig`: their defaults are read from it and
each group checks its core fields by building a CoreConfig of them, so no check is written twice.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, fields
from typing import Any

from condorexec.core.config import CoreConfig
from condorexec.errors import InvalidSpecError
from condorexec.pools.base import Pool
from condorexec.spec import validate_category

#: the ``pool=`` names CondorExecutor accepts besides a Pool instance
POOL_NAMES = ("auto", "local", "condor")

_CORE_FIELDS = {f.name: f for f in fields(CoreConfig)}


def _core_default(name: str) -> Any:
    """CoreConfig's default for one of its fields: the one place it is written."""
    return _CORE_FIELDS[name].default


def _check_core(group: Any) -> None:
    """Check the group's fields that are the core's, with CoreConfig's own checks."""
    values = {f.name: getattr(group, f.name) for f in fields(group) if f.name in _CORE_FIELDS}
    if "worker_python" in values and values["worker_python"] is None:
        del values["worker_python"]  # None: this interpreter (CoreConfig's default)
    CoreConfig(**values)


def _check_bool(group: object, *names: str) -> None:
    for name in names:
        if not isinstance(getattr(group, name), bool):
            raise InvalidSpecError(name, getattr(group, name), "must be True or False")


@dataclass(frozen=True)
class PoolConfig:
    """Which pool runs the jobs, and the embedded (local) pool's own options (see CondorExecutor)."""

    pool: str | Pool = "auto"
    nodes: list[str] | None = None
    state_dir: str | None = None
    schedd: str | None = None
    collector: str | None = None
    monitor_period: float = 0.5
    preload_modules: list[str] | None = None
    switch_interval: float | None = _core_default("switch_interval")
    isolate: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.pool, Pool) and self.pool not in POOL_NAMES:
            raise InvalidSpecError("pool", self.pool, f"must be one of {POOL_NAMES} or a Pool instance")
        if self.nodes is not None and (isinstance(self.nodes, str) or not all(isinstance(n, str) for n in self.nodes)):
            raise InvalidSpecError("nodes", self.nodes, 'must be a list of node specs, e.g. ["cpus=2,memory=4000"]')
        _check_core(self)
        _check_bool(self, "isolate")

    def pool_options(self) -> dict[str, Any]:
        """The keyword arguments ``choose_pool`` gets besides the pool's name (None: not given)."""
        options: dict[str, Any] = {"nodes": self.nodes, "state_dir": self.state_dir, "schedd": self.schedd,
                                   "collector": self.collector, "monitor_period": self.monitor_period}
        if self.pool in ("auto", "local") and self.preload_modules:
            options["preload"] = list(self.preload_modules)
        if self.isolate:
            options["isolate"] = True
        return options


@dataclass(frozen=True)
class JobConfig:
    """How calls become jobs: what runs them, what travels with them, how they are batched, retried
    and kept alive (see CondorExecutor)."""

    worker_python: str | None = None  # None: this interpreter
    pack: bool = _core_default("pack")
    shared_fs: bool = False
    batch_window: float = _core_default("batch_window")
    max_batch: int = _core_default("max_batch")
    max_retries: int = _core_default("max_retries")
    lease_minutes: int = _core_default("lease_minutes")
    workflow: str | None = _core_default("workflow")
    workflow_dir: str | None = _core_default("workflow_dir")

    def __post_init__(self) -> None:
        _check_core(self)
        _check_bool(self, "shared_fs")


@dataclass(frozen=True)
class AutolabelConfig:
    """How calls are sized: learned labels, and the category a call's usage is learned for
    (docs/labels.md)."""

    autolabel: bool = _core_default("autolabel")
    autocategory: bool = False
    category: str | None = None
    allocation_mode: str = _core_default("allocation_mode")
    autolabel_window: int = _core_default("autolabel_window")
    autolabel_early_release: bool = _core_default("autolabel_early_release")
    label_store: str | None = _core_default("label_store")

    def __post_init__(self) -> None:
        if self.category is not None:
            validate_category(self.category, "category")
        _check_bool(self, "autocategory")
        _check_core(self)


@dataclass(frozen=True)
class WorkerConfig:
    """Whether calls run as their own jobs or on category workers, and how workers behave
    (docs/workers.md)."""

    mode: str = _core_default("mode")
    max_workers: int | None = _core_default("max_workers")
    worker_idle_timeout: float = _core_default("worker_idle_timeout")

    def __post_init__(self) -> None:
        _check_core(self)


#: the groups, by the CondorExecutor parameter that takes each
GROUPS: dict[str, type] = {"pool_config": PoolConfig, "job_config": JobConfig,
                           "autolabel_config": AutolabelConfig, "worker_config": WorkerConfig}

#: each flat keyword, and the group parameter whose field it is
GROUP_OF: dict[str, str] = {f.name: param for param, group in GROUPS.items() for f in fields(group)}


def build_groups(given: dict[str, Any], keywords: dict[str, Any]) -> dict[str, Any]:
    """The four groups, from the group objects the user gave (``given``, by parameter; None: not given)
    and the flat keywords: a keyword fills its field of its group. Raises TypeError for a keyword that
    is no option (as Python does for an unknown keyword), InvalidSpecError naming a keyword also given
    through its group object, or one whose value is refused."""
    unknown = sorted(set(keywords) - set(GROUP_OF))
    if unknown:
        raise TypeError(f"CondorExecutor() got an unexpected keyword argument {unknown[0]!r}")
    groups = {}
    for param, group in GROUPS.items():
        mine = {k: v for k, v in keywords.items() if GROUP_OF[k] == param}
        obj = given.get(param)
        if obj is None:
            groups[param] = group(**mine)
            continue
        if not isinstance(obj, group):
            raise InvalidSpecError(param, obj, f"must be a condorexec.{group.__name__} or None")
        if mine:
            name = sorted(mine)[0]
            raise InvalidSpecError(name, mine[name], f"is also given by {param}: give it in one place")
        groups[param] = obj
    return groups


def core_config(jobs: JobConfig, labels: AutolabelConfig, workers: WorkerConfig, pools: PoolConfig) -> CoreConfig:
    """The core's options, from the groups."""
    values = {f.name: getattr(group, f.name) for group in (pools, jobs, labels, workers) for f in fields(group)
              if f.name in _CORE_FIELDS}
    if values["worker_python"] is None:
        values["worker_python"] = sys.executable
    return CoreConfig(**values)

