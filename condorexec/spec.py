"""Parsing and validating ``parsl_resource_specification``.

The keys and units are those of Parsl's WorkQueueExecutor — ``cores`` (int), ``memory`` (MB) and
``disk`` (MB) plus the optional ``gpus``, ``priority`` and ``running_time_min`` — so an app written
for Work Queue runs here unchanged. ``category`` may name the app's autolabel category explicitly.

Everything is checked here, before anything is rendered or submitted, because a bad value that
reached a submit description would either be rejected by the schedd long after the call returned
or, worse, be read as something else (a float memory, a bool that Python treats as 1).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from condorexec.errors import InvalidSpecError
from condorexec.resources import SIZED

#: What a job gets for a resource its spec leaves out when autolabel is off (README: "Defaults").
DEFAULT_CORES = 1
DEFAULT_MEMORY_MB = 1024
DEFAULT_DISK_MB = 1024

#: Upper bounds that catch unit mistakes (memory given in bytes or KB) rather than real machines.
MAX_CORES = 4096
MAX_MEMORY_MB = 64 * 1024 * 1024  # 64 TB
MAX_DISK_MB = 1024 * 1024 * 1024  # 1 PB
MAX_GPUS = 64
MAX_RUNNING_TIME_MIN = 60 * 24 * 365

#: A category names a job attribute value and a label-store key: keep it to a plain token.
CATEGORY_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:<>\-]{0,199}")

_INT_BOUNDS = {
    "cores": (1, MAX_CORES),
    "memory": (1, MAX_MEMORY_MB),
    "disk": (1, MAX_DISK_MB),
    "gpus": (0, MAX_GPUS),
    "running_time_min": (1, MAX_RUNNING_TIME_MIN),
    "priority": (-(2**31), 2**31 - 1),
}
KNOWN_KEYS = frozenset(_INT_BOUNDS) | {"category"}


@dataclass(frozen=True)
class ResourceSpec:
    """A validated resource specification; ``None`` means "not given by the user"."""

    cores: int | None = None
    memory: int | None = None  # MB (HTCondor's "MB", i.e. MiB)
    disk: int | None = None  # MB
    gpus: int | None = None
    priority: int | None = None
    running_time_min: int | None = None
    category: str | None = None

    def get(self, resource: str) -> int | None:
        """The user's value for ``resource`` (``"cores"``, ``"memory"``, ``"disk"``, ``"gpus"``), or None."""
        return getattr(self, resource)

    def given(self) -> dict[str, int]:
        """The sizes the user set explicitly (these always win over learned labels)."""
        return {k: v for k in SIZED if (v := getattr(self, k)) is not None}

    def with_defaults(self) -> ResourceSpec:
        """Fill what the user left out with the documented defaults (autolabel off)."""
        return replace(
            self,
            cores=self.cores if self.cores is not None else DEFAULT_CORES,
            memory=self.memory if self.memory is not None else DEFAULT_MEMORY_MB,
            disk=self.disk if self.disk is not None else DEFAULT_DISK_MB,
        )


def validate_category(value: Any, field: str = "category") -> str:
    if not isinstance(value, str) or not CATEGORY_PATTERN.fullmatch(value):
        raise InvalidSpecError(
            field,
            value,
            "must be 1-200 characters of letters, digits and _ . : < > - (starting with a letter, digit or _)",
        )
    return value


def parse_spec(raw: Mapping[str, Any] | None) -> ResourceSpec:
    """Validate a ``parsl_resource_specification`` dict; raise InvalidSpecError naming the bad key."""
    if raw is None:
        return ResourceSpec()
    if not isinstance(raw, Mapping):
        raise InvalidSpecError("parsl_resource_specification", raw, "must be a dict")
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in KNOWN_KEYS:
            raise InvalidSpecError(key, value, f"unknown key; expected one of {sorted(KNOWN_KEYS)}")
        if key == "category":
            values[key] = validate_category(value)
            continue
        low, high = _INT_BOUNDS[key]
        # bool is an int subclass: {'cores': True} must not silently mean one core.
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidSpecError(key, value, f"must be an int, not {type(value).__name__}")
        if not low <= value <= high:
            raise InvalidSpecError(key, value, f"must be between {low} and {high}")
        values[key] = value
    return ResourceSpec(**values)
