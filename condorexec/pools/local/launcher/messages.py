"""What the launcher's three processes say to each other, as named types, and how it travels.

The caller (:mod:`.caller`) and the fork server (:mod:`.forkserver`) share one socketpair; each
message is one of the types below. Both sides import this module, so a message is read by its field
names, never unpacked by position. On the wire it is a pickle of (type number, fields as a plain
tuple) behind a 4-byte big-endian length: pickling a NamedTuple itself costs about six times as much
(its reduction runs Python code), and the launcher sends three messages per job.

Caller -> server: :class:`Init`, :class:`Launch`, :class:`Kill`, :class:`Shutdown`.
Server -> caller: :class:`Started`, :class:`Failed`, :class:`Exited`.
The job child (:mod:`.jobchild`) reports only a setup failure, as text on its close-on-exec pipe.

The public types of a launch are here too: :class:`LaunchRequest` (what a caller asks for),
:class:`JobExit` (what it is told when the job ended) and :class:`LaunchError`.
"""

from __future__ import annotations

import pickle
import socket
import struct
from dataclasses import dataclass
from typing import Generic, Literal, NamedTuple, TypeVar, cast

_HEADER = struct.Struct("!I")
PYTHON_ENTRY_DEFAULT = "condorexec.runner:main"

#: why the server killed a job: a removal (or close), or its memory limit
KillReason = Literal["removed", "memory"]


class LaunchError(RuntimeError):
    """A job could not be started (the message says which job, what failed and why)."""


def split_entry_point(entry_point: str) -> tuple[str, str]:
    """``"module:function"`` as (module, function); ValueError naming the field otherwise."""
    module, sep, attr = entry_point.partition(":") if isinstance(entry_point, str) else ("", "", "")
    if not sep or not module or not attr:
        raise ValueError(f"LaunchRequest.entry_point must look like 'module:function', got {entry_point!r}")
    return module, attr


@dataclass(frozen=True)
class LaunchRequest:
    """One job to start: a Python entry point called in a forked warm interpreter, or an executable.

    Relative paths (cwd, the std* paths, an executable path with a slash) are taken against the
    caller's working directory when :meth:`Launcher.launch` is called; an executable name without a
    slash is searched in the job's own PATH.
    """

    job_key: str
    kind: Literal["python", "exec"]
    argv: list[str]
    cwd: str
    env: dict[str, str]
    stdin_path: str | None = None
    stdout_path: str | None = None
    stderr_path: str | None = None
    memory_limit_mb: int | None = None
    entry_point: str = PYTHON_ENTRY_DEFAULT

    def validate(self) -> None:
        """Raise ValueError/TypeError naming the bad field, before anything is sent to the server."""
        if not isinstance(self.job_key, str) or not self.job_key:
            raise ValueError(f"LaunchRequest.job_key must be a non-empty string, got {self.job_key!r}")
        if self.kind not in ("python", "exec"):
            raise ValueError(f"LaunchRequest.kind must be 'python' or 'exec', got {self.kind!r}")
        if not isinstance(self.argv, (list, tuple)) or not all(isinstance(a, str) for a in self.argv):
            raise TypeError(f"LaunchRequest.argv must be a list of strings, got {self.argv!r}")
        if self.kind == "exec" and (not self.argv or not self.argv[0]):
            raise ValueError(f"LaunchRequest.argv must start with the executable, got {self.argv!r}")
        if not isinstance(self.cwd, str) or not self.cwd:
            raise ValueError(f"LaunchRequest.cwd must be a directory path, got {self.cwd!r}")
        if not isinstance(self.env, dict) or not all(
            isinstance(k, str) and isinstance(v, str) and k and "=" not in k and "\0" not in k + v
            for k, v in self.env.items()
        ):
            raise ValueError(f"LaunchRequest.env must map names (no '=') to strings, got {self.env!r}")
        for name in ("stdin_path", "stdout_path", "stderr_path"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value):
                raise ValueError(f"LaunchRequest.{name} must be a path or None, got {value!r}")
        limit = self.memory_limit_mb
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit <= 0):
            raise ValueError(f"LaunchRequest.memory_limit_mb must be a positive int or None, got {limit!r}")
        if self.kind == "python":
            split_entry_point(self.entry_point)


@dataclass(frozen=True)
class JobExit:
    """How a job ended and what it used; ``peak_rss_kib`` = max(sampled tree RSS, wait4 ru_maxrss)."""

    job_key: str
    pid: int
    exit_code: int | None
    signal: int | None
    over_memory: bool
    removed: bool
    peak_rss_kib: int
    user_cpu_s: float
    sys_cpu_s: float
    wall_s: float
    started_at: float
    ended_at: float


class JobSpec(NamedTuple):
    """What the job child needs to set itself up: a :class:`LaunchRequest` with its paths made
    absolute against the caller's working directory (the child changes to the sandbox first)."""

    job_key: str
    kind: Literal["python", "exec"]
    argv: list[str]
    cwd: str
    env: dict[str, str]
    entry_point: str
    stdin_path: str | None
    stdout_path: str | None
    stderr_path: str | None


# -- caller -> server ---------------------------------------------------------------------------


class Init(NamedTuple):
    """Sent first: the caller's import path, and modules every Python job would import anyway."""

    sys_path: list[str]
    preload: list[str]


class Launch(NamedTuple):
    """Fork a child for ``spec``; answered by :class:`Started` or :class:`Failed` with the same ``seq``."""

    seq: int
    spec: JobSpec


class Kill(NamedTuple):
    """SIGKILL the job whose root is ``pid`` (and its whole tree); ``reason`` comes back in :class:`Exited`."""

    pid: int
    reason: KillReason


class Shutdown(NamedTuple):
    """Kill every job and exit."""


# -- server -> caller ---------------------------------------------------------------------------


class Started(NamedTuple):
    """The job of launch ``seq`` runs (its exec succeeded, or its Python entry point is being called)."""

    seq: int
    pid: int


class Failed(NamedTuple):
    """The job of launch ``seq`` could not be started; ``reason`` names the job and the cause."""

    seq: int
    reason: str


class Exited(NamedTuple):
    """A job's root process ended (its tree is killed): ``wait4``'s status and rusage, and timing."""

    pid: int
    status: int
    maxrss_kib: int  # 0 when not above what the server's copy accounts for (see forkserver)
    user_cpu_s: float
    sys_cpu_s: float
    wall_s: float
    started_at: float
    ended_at: float
    kill_reason: KillReason | None


ToServer = Init | Launch | Kill | Shutdown
ToCaller = Started | Failed | Exited
M = TypeVar("M", ToServer, ToCaller)

#: every message type, by its number on the wire
_TYPES: tuple[type, ...] = (Init, Launch, Kill, Shutdown, Started, Failed, Exited)
_NUMBER = {kind: number for number, kind in enumerate(_TYPES)}


def send(sock: socket.socket, message: ToServer | ToCaller) -> None:
    fields = (message.seq, tuple(message.spec)) if isinstance(message, Launch) else tuple(message)
    data = pickle.dumps((_NUMBER[type(message)], fields), protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_HEADER.pack(len(data)) + data)


def _decode(data: bytes) -> ToServer | ToCaller:
    number, fields = pickle.loads(data)
    kind = _TYPES[number]
    if kind is Launch:
        return Launch(fields[0], JobSpec(*fields[1]))
    message: ToServer | ToCaller = kind(*fields)
    return message


class MessageReader(Generic[M]):
    """Splits a byte stream into messages; ``feed`` returns the complete ones. ``MessageReader[ToServer]``
    on the server, ``MessageReader[ToCaller]`` in the caller: each side is sent only its own kinds."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[M]:
        self._buf += data
        out = []
        while len(self._buf) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buf)
            if len(self._buf) < _HEADER.size + size:
                break
            out.append(cast(M, _decode(bytes(self._buf[_HEADER.size : _HEADER.size + size]))))
            del self._buf[: _HEADER.size + size]
        return out
