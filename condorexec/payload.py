"""Submit side of the payload format that ``runner.py`` reads on the node.

Kept apart from the runner so the runner stays import-free; both agree on PAYLOAD_VERSION and on
the shape ``{"version", "calls": [{"id", "func", "args", "kwargs"}]}`` → ``{"version", "outcomes"}``.
"""

from __future__ import annotations

import os
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cloudpickle

from condorexec.names import PAYLOAD_NAME, RESULT_NAME
from condorexec.runner import PAYLOAD_VERSION


@dataclass(frozen=True)
class Call:
    id: int
    func: Callable[..., Any]
    args: Sequence[Any]
    kwargs: dict[str, Any]


@dataclass(frozen=True)
class Outcome:
    id: int
    ok: bool
    value: Any = None
    exception: BaseException | None = None
    traceback: str = ""
    wall_s: float | None = None
    peak_rss_kib: int | None = None
    #: the pickled outcome it was read from (a named workflow keeps it as it is, not pickled again)
    encoded: bytes | None = field(default=None, repr=False, compare=False)


class RemoteTraceback(Exception):
    """Carries the node-side traceback as the ``__cause__`` of a re-raised app exception."""

    def __init__(self, text: str):
        super().__init__(text)

    def __str__(self) -> str:
        return "\n--- traceback on the execute node ---\n" + self.args[0]


def encode_payload(calls: Sequence[Call]) -> bytes:
    """The payload file's bytes (a slot worker gets them inline, with no file written)."""
    return cloudpickle.dumps({
        "version": PAYLOAD_VERSION,
        "calls": [{"id": c.id, "func": c.func, "args": tuple(c.args), "kwargs": c.kwargs} for c in calls],
    })


def write_payload(task_dir: str | os.PathLike, calls: Sequence[Call] | bytes) -> Path:
    path = Path(task_dir) / PAYLOAD_NAME
    path.write_bytes(calls if isinstance(calls, bytes) else encode_payload(calls))
    return path


def read_outcomes(task_dir: str | os.PathLike) -> list[Outcome]:
    """The outcomes in a job's returned result file; an exception's node traceback is attached."""
    with open(Path(task_dir) / RESULT_NAME, "rb") as f:
        result = cloudpickle.load(f)
    if result.get("version") != PAYLOAD_VERSION:
        raise ValueError(f"result file has unsupported version {result.get('version')!r}")
    return [decode_outcome(blob) for blob in result["outcomes"]]


def encode_outcome(outcome: Outcome) -> bytes:
    """An outcome in the runner's format (what :func:`decode_outcome` reads), to keep it for a rerun: the
    standard pickler where it can (several times faster for plain values), else cloudpickle (as the runner)."""
    if outcome.encoded is not None:
        return outcome.encoded
    record = {"id": outcome.id, "ok": outcome.ok, "value": outcome.value, "exception": outcome.exception,
              "traceback": outcome.traceback, "wall_s": outcome.wall_s, "peak_rss_kib": outcome.peak_rss_kib}
    try:
        data = pickle.dumps(record, protocol=5)
    except (pickle.PicklingError, TypeError, AttributeError):
        return cloudpickle.dumps(record)
    return data if b"__main__" not in data else cloudpickle.dumps(record)  # the script's classes: by value


def decode_outcome(blob: bytes) -> Outcome:
    """One pickled outcome, as the runner writes it (in a result file, or in a worker's message)."""
    o = cloudpickle.loads(blob)
    exc = o.get("exception")
    if exc is not None and o.get("traceback"):
        exc.__cause__ = RemoteTraceback(o["traceback"])
    return Outcome(id=o["id"], ok=o["ok"], value=o.get("value"), exception=exc, traceback=o.get("traceback", ""),
                   wall_s=o.get("wall_s"), peak_rss_kib=o.get("peak_rss_kib"), encoded=blob)
