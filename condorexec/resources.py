"""One vocabulary for sizes: ``cores``, ``memory`` and ``disk`` (MB, HTCondor's MB = MiB), ``gpus``.

A call's size, a learned label's maximum and a machine's slot are all :class:`Resources`, so no
module converts ``cpus``/``memory_mb`` into ``cores``/``memory`` on the way (docs/design.md §3).
Conversion to HTCondor's own units (``RequestDisk`` in KiB) happens only in
:mod:`condorexec.condorfacts` and in the rendered submit description.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal, get_args

#: a resource a call is sized in (and autolabel learns, and a hold may say was exhausted)
Resource = Literal["cores", "memory", "disk"]

#: the resources a call is sized in, in the order tables show them
SIZED: tuple[Resource, ...] = get_args(Resource)


@dataclass(frozen=True)
class Resources:
    """An amount of each resource: a request, a slot, or a maximum."""

    cores: int
    memory: int  # MB
    disk: int  # MB
    gpus: int = 0

    def get(self, resource: str) -> int:
        return getattr(self, resource)

    def with_(self, resource: str, amount: int) -> Resources:
        """A copy with one resource changed."""
        return dataclasses.replace(self, **{resource: amount})

    def fits_in(self, other: Resources) -> bool:
        """Whether every resource of ``self`` is at most ``other``'s."""
        return all(self.get(r) <= other.get(r) for r in (*SIZED, "gpus"))

    def ordering_key(self) -> tuple[int, int, int]:
        """How "largest" is ordered everywhere: most memory, then cores, then disk."""
        return (self.memory, self.cores, self.disk)
