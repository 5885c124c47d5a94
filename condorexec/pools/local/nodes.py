"""The execute nodes of the local pool: each a single partitionable slot, as the startd advertises it.

A :class:`NodeSpec` is what a user asks for (``"cpus=6,memory=6000"``, or this machine's size); an
:class:`ExecuteNode` is one running in a pool, with what of it is free now.
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from condorexec.pools.base import Machine
from condorexec.pools.local.layout import SpoolLayout
from condorexec.resources import Resources


@dataclass(frozen=True)
class NodeSpec(Machine):
    """One emulated execute node (a single partitionable slot): a :class:`Machine` that can be
    parsed from the node-spec text users type (``"cpus=6,memory=6000"``) or taken from this host."""

    @classmethod
    def this_machine(cls, disk_path: str | os.PathLike[str]) -> NodeSpec:
        """One node the size of this machine; its disk is what is free where ``disk_path`` is (or
        would be: a state directory not made yet is measured at its nearest existing parent)."""
        where = Path(disk_path).absolute()
        while not where.exists():
            where = where.parent
        disk = shutil.disk_usage(where).free // 2**20
        return cls(socket.gethostname() or "localhost", os.cpu_count() or 1,
                   psutil.virtual_memory().total // 2**20, int(disk))

    @classmethod
    def parse(cls, text: str, index: int = 0) -> NodeSpec:
        """``"cpus=6,memory=6000[,disk=100000][,name=big]"`` (memory/disk in MB)."""
        values: dict[str, str] = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"node spec {text!r}: expected key=value, got {part!r}")
            values[key.strip()] = value.strip()
        unknown = set(values) - {"cpus", "memory", "disk", "gpus", "name"}
        if unknown:
            raise ValueError(f"node spec {text!r}: unknown keys {sorted(unknown)}")
        try:
            node = cls(values.get("name", f"node{index + 1}"), int(values["cpus"]), int(values["memory"]),
                       int(values.get("disk", 100_000)), int(values.get("gpus", 0)))
        except (KeyError, ValueError) as exc:
            raise ValueError(f"node spec {text!r}: needs integer cpus= and memory= ({exc})") from None
        if min(node.cores, node.memory, node.disk) <= 0:
            raise ValueError(f"node spec {text!r}: sizes must be positive")
        return node


@dataclass
class ExecuteNode:
    """A node and what of it is free now (plain ints: the scheduler updates them on every claim)."""

    spec: NodeSpec
    free_cores: int
    free_memory: int  # MB
    free_disk: int  # MB
    free_gpus: int
    cache_dir: Path
    slots_used: int = 0

    @classmethod
    def empty(cls, spec: NodeSpec, cache_dir: Path) -> ExecuteNode:
        return cls(spec, spec.cores, spec.memory, spec.disk, spec.gpus, cache_dir)

    def fits(self, request: Resources) -> bool:
        """Whether ``request`` fits in what is free now."""
        return (request.cores <= self.free_cores and request.memory <= self.free_memory
                and request.disk <= self.free_disk and request.gpus <= self.free_gpus)

    def take(self, amount: Resources, sign: int = 1) -> None:
        """Claim ``amount`` (``sign=-1``: give it back)."""
        self.free_cores -= sign * amount.cores
        self.free_memory -= sign * amount.memory
        self.free_disk -= sign * amount.disk
        self.free_gpus -= sign * amount.gpus


def node_specs(nodes: Sequence[NodeSpec | str] | None = None,
               state_dir: SpoolLayout | str | os.PathLike[str] | None = None) -> list[NodeSpec]:
    """The nodes a :class:`LocalPool` made with these arguments has: ``nodes`` parsed, or one node the
    size of this machine (its disk: what is free where ``state_dir`` is)."""
    specs = [NodeSpec.parse(n, i) if isinstance(n, str) else n for i, n in enumerate(nodes or [])]
    if not specs:
        layout = state_dir if isinstance(state_dir, SpoolLayout) else SpoolLayout(state_dir)
        specs = [NodeSpec.this_machine(layout.root)]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"node names must be unique, got {names}")
    return specs


def local_machines(nodes: Sequence[NodeSpec | str] | None = None,
                   state_dir: SpoolLayout | str | os.PathLike[str] | None = None) -> list[Machine]:
    """What :meth:`LocalPool.describe_machines` would say for these arguments, without starting a pool
    (for the companion commands, which must not start one)."""
    return described(node_specs(nodes, state_dir))


def described(specs: Iterable[NodeSpec]) -> list[Machine]:
    machines = [Machine(s.name, s.cores, s.memory, s.disk, s.gpus) for s in specs]
    return sorted(machines, key=lambda m: m.resources.ordering_key(), reverse=True)
