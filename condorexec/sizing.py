"""How big each job is: the user's spec, then learned labels (autolabel), then the defaults.

User-given values always win; autolabel only fills what the user left out (docs/design.md §5). A job
that exhausts a *learned* size is retried bigger; one that exhausts a *user-given* size fails,
because silently overriding the user would hide a wrong spec.
"""

from __future__ import annotations

from condorexec.pools.base import Machine
from condorexec.resources import SIZED, Resources
from condorexec.spec import DEFAULT_CORES, DEFAULT_DISK_MB, DEFAULT_MEMORY_MB, ResourceSpec

#: a call's size: what its job requests
Size = Resources


class FixedSizer:
    """Autolabel off: the spec, and the documented defaults for what it leaves out."""

    def initial(self, category: str, spec: ResourceSpec, machine: Machine | None = None,
                early_memory: int | None = None) -> Size:
        return Size(spec.cores or DEFAULT_CORES, spec.memory or DEFAULT_MEMORY_MB, spec.disk or DEFAULT_DISK_MB,
                    spec.gpus or 0)

    def learning(self, category: str, spec: ResourceSpec) -> bool:
        return False

    def retry(self, category: str, spec: ResourceSpec, resource: str, size: Size, used: float | None) -> Size | None:
        return None  # nothing learned to grow: the exhaustion is reported to the caller

    def close(self) -> None:
        pass


class AutoLabelSizer:
    """Autolabel on: labels from the store; jobs that outgrow a label are retried at the maximum."""

    def __init__(self, store, maximum: Machine, *, mode: str = "max_throughput", window: int = 1):
        from condorexec.labels.policy import AllocationMode, Maximum

        self.store = store
        self.mode = AllocationMode(mode)
        self.window = window
        self.maximum = Maximum(cores=maximum.cores, memory=maximum.memory, disk=maximum.disk)

    def initial(self, category: str, spec: ResourceSpec, machine: Machine | None = None,
                early_memory: int | None = None) -> Size:
        """User value, else label, else the whole machine: ``machine`` (a probe's) or the largest.

        ``early_memory``: the call is released before its category has a label, at its probe's running
        memory (core/probes.py); what no label covers then is that memory and the default cores and disk."""
        label = self.store.label(category, self.mode, self.maximum, self.window)
        if early_memory is not None:
            fallback = {"cores": DEFAULT_CORES, "memory": min(early_memory, self.maximum.memory),
                        "disk": min(DEFAULT_DISK_MB, self.maximum.disk)}
        else:
            whole = machine if machine is not None else self.maximum
            fallback = {r: getattr(whole, r) for r in SIZED}
        sized = {r: given if (given := spec.get(r)) is not None else (getattr(label, r) or fallback[r])
                 for r in SIZED}
        return Size(**sized, gpus=spec.gpus or 0)

    def learning(self, category: str, spec: ResourceSpec) -> bool:
        """True while some size the user left out has no label yet (it would be the maximum)."""
        label = self.store.label(category, self.mode, self.maximum, self.window)
        return any(spec.get(r) is None and getattr(label, r) is None for r in SIZED)

    def retry(self, category: str, spec: ResourceSpec, resource: str, size: Size, used: float | None) -> Size | None:
        if spec.get(resource) is not None:
            return None  # the user's value is never overridden
        from condorexec.labels.policy import NoLargerAllocation, retry_request

        current = size.get(resource)
        try:
            new = retry_request(resource, used or current, current, getattr(self.maximum, resource))
        except NoLargerAllocation:
            return None  # already at the pool's maximum: the exhaustion is final
        return size.with_(resource, new) if new > current else None

    def close(self) -> None:
        self.store.close()
