"""The local pool's job launcher: starts, measures, limits and kills job process trees.

Why a fork server: the local pool must sustain hundreds of short jobs per second on two cores.
Starting a fresh interpreter per Python job (and importing cloudpickle and the runner) costs tens
of milliseconds; forking a warm interpreter that already has them imported costs about one. The
caller cannot fork itself (it has threads, and forking a threaded process is unsafe), so a
dedicated single-threaded helper process, started with ``subprocess`` (fork+exec of a clean
interpreter), does all the forking and reaping. It talks to the caller over one socketpair with
length-prefixed pickles, and exits (killing its jobs) when that socket reaches EOF, i.e. when the
caller closes it or dies; forked copies of the caller close their inherited end at fork. A server
that dies while the launcher is open (a job killed it, or the OOM killer did) has its jobs reported
as SIGKILLed, and the next launch starts a new one.

Each job is one child of the server, leader of its own session and process group (``setsid``), so
that the whole tree can be killed at once, like HTCondor's starter kills a job's process family.
When a job's root process exits, whatever it left behind in its group is killed too; the server is
a child subreaper, so those leftovers are reaped rather than left as zombies.

Measurement follows HTCondor: the parent samples each job's process tree with psutil (RSS summed
over the tree, as the starter's ProcFamily does) and the server reports ``wait4``'s rusage on exit;
the peak is the larger of the two. For exec jobs, ``ru_maxrss`` also counts the copy of the server
the child was before ``execve``; a value not above the server's own peak is therefore dropped (a
job too short to be sampled then reports 0, never the server's size). A job whose tree RSS goes
over its memory limit is SIGKILLed and reported with ``over_memory=True`` (the pool holds it 34/102).

Failure to start a job (missing or non-executable executable, sandbox missing, output file not
creatable, Python entry point not importable) raises :class:`LaunchError` from :meth:`Launcher.launch`:
the server learns of it through a close-on-exec pipe, as ``subprocess`` does. HTCondor holds such
jobs (code 6); no JobExit is reported for them.

Python jobs: the entry point's module is imported once in the server (so it must not start threads
at import) and called in the forked child with the job's argv; the server's environment is emptied
and its heap frozen for the garbage collector, so that children set their environment cheaply and
do not copy the inherited heap. CPython reseeds ``random`` in forked children by itself.

Known limit: processes that leave the job's process group (their own ``setsid``) escape the group
kill, and processes re-parented away from the job's tree escape the memory sum.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import logging
import os
import pickle
import queue
import resource
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

log = logging.getLogger(__name__)

_HEADER = struct.Struct("!I")
_PYTHON_ENTRY_DEFAULT = "condorexec.runner:main"
#: modules the server imports up front so that forked Python jobs do not import them each time
_PRELOAD = ("cloudpickle", "condorexec.runner")
#: what a forked child may add to the server's RSS before it execs (its own small allocations)
_INHERITED_SLACK_KIB = 1024
#: how long launch() waits for the server to confirm a fork before declaring it dead
_LAUNCH_TIMEOUT_S = 60.0


class LaunchError(RuntimeError):
    """A job could not be started (the message says which job, what failed and why)."""


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
    entry_point: str = _PYTHON_ENTRY_DEFAULT

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
            _split_entry_point(self.entry_point)


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


def _own_peak_rss_kib() -> int:
    """This process's own peak RSS (VmHWM). Not getrusage's ru_maxrss: Linux carries that across
    execve, so the server would inherit the peak of the (possibly huge) process that spawned it and
    every exec job's smaller peak would then be dropped as "the server's copy"."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _split_entry_point(entry_point: str) -> tuple[str, str]:
    module, sep, attr = entry_point.partition(":") if isinstance(entry_point, str) else ("", "", "")
    if not sep or not module or not attr:
        raise ValueError(f"LaunchRequest.entry_point must look like 'module:function', got {entry_point!r}")
    return module, attr


def sandbox_disk_kib(path: str) -> int:
    """Disk used by a sandbox in KiB (HTCondor's DiskUsage unit): sizes of the regular files under
    ``path``, symlinks not followed, rounded up. Files vanishing during the walk are skipped."""
    if not os.path.isdir(path):
        raise FileNotFoundError(f"sandbox_disk_kib: path {path!r} is not a directory")
    total = 0
    stack = [path]
    while stack:
        directory = stack.pop()
        try:
            with os.scandir(directory) as entries:
                for entry in entries:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(entry.path)
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_size
                    except FileNotFoundError:
                        continue
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            continue
    return (total + 1023) // 1024


# --------------------------------------------------------------------------------------------------
# Wire format (both sides): 4-byte big-endian length, then a pickle of a tuple.


def _send(sock: socket.socket, message: tuple) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    sock.sendall(_HEADER.pack(len(data)) + data)


class _Reader:
    """Splits a byte stream into messages; ``feed`` returns the complete ones."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple]:
        self._buf += data
        out = []
        while len(self._buf) >= _HEADER.size:
            (size,) = _HEADER.unpack_from(self._buf)
            if len(self._buf) < _HEADER.size + size:
                break
            out.append(pickle.loads(bytes(self._buf[_HEADER.size : _HEADER.size + size])))
            del self._buf[: _HEADER.size + size]
        return out


# --------------------------------------------------------------------------------------------------
# The fork server (runs in its own interpreter; single-threaded; no psutil).


@dataclass
class _Child:
    job_key: str
    started_at: float
    started_mono: float
    #: for exec jobs, the server's own peak RSS at fork: the child's ru_maxrss counts the copy of the
    #: server it was before exec, so a value not above this says nothing about the job itself
    inherited_kib: int = 0
    kill_reason: str | None = None


@dataclass
class _Starting:
    """A forked child whose setup the server has not yet seen succeed (close-on-exec pipe still open)."""

    seq: int
    pid: int
    child: _Child
    chunks: list[bytes] = field(default_factory=list)
    exit: tuple | None = None  # (status, rusage, ended_mono, ended_at) if reaped before its pipe closed


class _Server:
    """Forks one child per job, reaps only its own children, reports starts and exits."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.children: dict[int, _Child] = {}
        self.starting: dict[int, _Starting] = {}  # by the read end of the child's setup pipe
        self.entry_points: dict[str, Callable[..., Any]] = {}
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.pid = os.getpid()

    # -- main loop --------------------------------------------------------------------------------

    def serve(self) -> None:
        _become_subreaper()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; Ctrl-C reaches it too
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # needed so that the wakeup fd is written
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        reader = _Reader()
        try:
            while True:
                ready, _, _ = select.select([self.sock, self.wake_r, *self.starting], [], [])  # type: ignore[type-var]
                for fd in ready:
                    if fd in self.starting:
                        self._setup_news(fd)
                if self.wake_r in ready:
                    with contextlib.suppress(BlockingIOError):
                        while os.read(self.wake_r, 4096):
                            pass
                    self._reap()
                if self.sock in ready:
                    data = self.sock.recv(1 << 16)
                    if not data:  # parent closed the pipe or died
                        return
                    for message in reader.feed(data):
                        if not self._handle(message):
                            return
        finally:
            if os.getpid() == self.pid:
                self._kill_all_and_reap()

    def _on_term(self, *_: object) -> None:
        raise SystemExit(0)

    def _handle(self, message: tuple) -> bool:
        op = message[0]
        if op == "init":
            for entry in message[1]:
                if entry not in sys.path:
                    sys.path.append(entry)
            self._preload((*_PRELOAD, *message[2]))
            # Jobs get exactly their own environment; an empty one here makes setting it cheap.
            os.environ.clear()
        elif op == "launch":
            self._launch(message[1], message[2])
        elif op == "kill":
            _, pid, reason = message
            child = self.children.get(pid)
            if child is not None:  # not yet reaped: its pid, hence its group id, is still ours
                child.kill_reason = child.kill_reason or reason
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
        elif op == "shutdown":
            return False
        return True

    def _preload(self, modules: Sequence[str]) -> None:
        """Import what jobs will import anyway, once: a forked job then finds it already loaded."""
        for name in modules:
            try:
                importlib.import_module(name)
            except ModuleNotFoundError as exc:
                if exc.name != name:
                    print(f"condorexec launcher: preloading {name} failed: {exc}", file=sys.stderr)
            except Exception as exc:
                print(f"condorexec launcher: preloading {name} failed: {exc!r}", file=sys.stderr)
        # What is imported now is shared by every job: keep the children's garbage collector off it,
        # or its first full collection would copy the whole inherited heap (copy-on-write).
        gc.freeze()

    # -- launching --------------------------------------------------------------------------------

    def _resolve(self, entry_point: str) -> Callable[..., Any]:
        func = self.entry_points.get(entry_point)
        if func is None:
            module_name, attr = _split_entry_point(entry_point)
            found: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                found = getattr(found, part)
            func = found
            if not callable(func):
                raise TypeError(f"{entry_point!r} is not callable")
            self.entry_points[entry_point] = func
            gc.freeze()
        return func

    def _launch(self, seq: int, spec: dict[str, Any]) -> None:
        job_key = spec["job_key"]
        func = None
        if spec["kind"] == "python":
            try:  # imported here, once, so that every forked job finds it already loaded
                func = self._resolve(spec["entry_point"])
            except BaseException as exc:
                _send(self.sock, ("failed", seq, f"job {job_key}: cannot load entry point "
                                  f"{spec['entry_point']!r}: {exc!r}"))
                return
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        err_r, err_w = os.pipe()  # close-on-exec: EOF without data means the child got going
        started_at, started_mono = time.time(), time.monotonic()
        inherited = _own_peak_rss_kib() if spec["kind"] == "exec" else 0
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(err_r)
            os.close(err_w)
            _send(self.sock, ("failed", seq, f"job {job_key}: fork failed: {exc}"))
            return
        if pid == 0:
            try:
                os.close(err_r)
                _child_main(spec, func, err_w, (self.sock.fileno(), self.wake_r, self.wake_w, *self.starting))
            finally:
                os._exit(127)
        os.close(err_w)
        # Not waited for here: the server goes on forking and reaping while the child sets up.
        self.starting[err_r] = _Starting(seq, pid, _Child(job_key, started_at, started_mono, inherited))

    def _setup_news(self, fd: int) -> None:
        """A child's setup pipe is readable: an error message, or EOF (exec done / Python job set up)."""
        starting = self.starting[fd]
        chunk = os.read(fd, 4096)
        if chunk:
            starting.chunks.append(chunk)
            return
        del self.starting[fd]
        os.close(fd)
        pid, job_key = starting.pid, starting.child.job_key
        if starting.chunks:
            if starting.exit is None:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)  # it exits right after writing the reason
            reason = b"".join(starting.chunks).decode(errors="replace")
            _send(self.sock, ("failed", starting.seq, f"job {job_key}: {reason}"))
            return
        _send(self.sock, ("started", starting.seq, pid))
        self.children[pid] = starting.child
        if starting.exit is not None:
            self._report_exit(pid, *starting.exit)

    # -- reaping ----------------------------------------------------------------------------------

    def _reap(self) -> None:
        """Reap every exited child: jobs, and (as subreaper) what jobs left behind when they died."""
        while True:
            try:
                pid, status, usage = os.wait4(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            ended = (status, usage, time.monotonic(), time.time())
            if pid in self.children:
                self._report_exit(pid, *ended)
            else:
                for starting in self.starting.values():
                    if starting.pid == pid:  # exited before the server read its setup pipe's EOF
                        starting.exit = ended

    def _report_exit(self, pid: int, status: int, usage: Any, ended_mono: float, ended_at: float) -> None:
        child = self.children.pop(pid)
        # Like the starter: whatever the job left in its process group dies with it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        maxrss = usage.ru_maxrss if usage.ru_maxrss > child.inherited_kib + _INHERITED_SLACK_KIB else 0
        _send(self.sock, ("exited", pid, status, maxrss, usage.ru_utime, usage.ru_stime,
                          ended_mono - child.started_mono, child.started_at, ended_at, child.kill_reason))

    def _kill_all_and_reap(self) -> None:
        pids = [*self.children, *(s.pid for s in self.starting.values() if s.exit is None)]
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)  # one still setting up may have no group of its own yet
        for pid in pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        self.children.clear()
        # Adopted leftovers die with their groups a moment later; reap them, but do not wait long
        # for any that left their group (out of our reach) and still run.
        deadline = time.monotonic() + 1.0
        with contextlib.suppress(ChildProcessError):
            while time.monotonic() < deadline:
                if not os.wait4(-1, os.WNOHANG)[0]:
                    time.sleep(0.01)


def _become_subreaper() -> None:
    """Adopt the jobs' orphaned descendants (Linux PR_SET_CHILD_SUBREAPER), so that a job's killed
    leftovers are reaped here rather than left as zombies under a pid 1 that may not reap (containers)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        pass  # not Linux: leftovers go to init as usual


def _child_main(spec: dict[str, Any], func: Callable[..., Any] | None, err_w: int,
                server_fds: tuple[int, ...]) -> None:
    """Runs in the forked child: set up the job's process, then exec or call the entry point.

    Setup errors are written to ``err_w`` (close-on-exec) and end the child with 127; the server
    turns them into LaunchError."""
    stage = "setsid"
    try:
        signal.set_wakeup_fd(-1)
        os.setsid()
        stage = f"chdir to sandbox {spec['cwd']!r}"
        os.chdir(spec["cwd"])
        for fd, path, flags in (
            (0, spec["stdin_path"], os.O_RDONLY),
            (1, spec["stdout_path"], os.O_WRONLY | os.O_CREAT | os.O_APPEND),
            (2, spec["stderr_path"], os.O_WRONLY | os.O_CREAT | os.O_APPEND),
        ):
            stage = f"open {('stdin', 'stdout', 'stderr')[fd]} {path!r}"
            opened = os.open(path or os.devnull, flags, 0o644)
            if opened != fd:
                os.dup2(opened, fd)
                os.close(opened)
        for fd in server_fds:
            with contextlib.suppress(OSError):
                os.close(fd)
        stage = "reset signals"
        python = spec["kind"] == "python"
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        # A Python job gets what a fresh interpreter has: KeyboardInterrupt on SIGINT, SIGPIPE ignored.
        signal.signal(signal.SIGINT, signal.default_int_handler if python else signal.SIG_DFL)
        if python:
            signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        if not python:
            argv, env = spec["argv"], spec["env"]
            stage = f"cannot execute {argv[0]!r}"
            if "/" in argv[0]:
                os.execve(argv[0], argv, env)
            else:
                os.execvpe(argv[0], argv, env)
    except BaseException as exc:
        detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else repr(exc)
        with contextlib.suppress(OSError):
            os.write(err_w, f"{stage}: {detail}".encode())
        os._exit(127)
    os.environ.clear()
    os.environ.update(spec["env"])
    os.close(err_w)
    os._exit(_call_entry_point(func, spec))


def _call_entry_point(func: Callable[..., Any] | None, spec: dict[str, Any]) -> int:
    """Call the job's Python entry point the way the interpreter would run a script's main."""
    # No reseeding here: CPython's own at-fork hook reseeds ``random`` if the server imported it,
    # and importing it here would cost every job milliseconds.
    sys.argv = [spec["entry_point"], *spec["argv"]]
    code: object
    try:
        assert func is not None
        code = func(list(spec["argv"]))
    except SystemExit as exc:
        code = exc.code
    except BaseException:
        traceback.print_exc()
        code = 1
    if code is None:
        code = 0
    elif not isinstance(code, int):  # as the interpreter does with sys.exit("message")
        print(code, file=sys.stderr)
        code = 1
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    return code & 0xFF


def _serve(fd: int) -> None:
    """Entry point of the server process (see Launcher.__init__)."""
    _Server(socket.socket(fileno=fd)).serve()


# --------------------------------------------------------------------------------------------------
# The parent side.


@dataclass
class _Job:
    request: LaunchRequest
    pid: int
    peak_kib: int = 0
    kill_sent: bool = False


@dataclass
class _Pending:
    request: LaunchRequest
    done: threading.Event = field(default_factory=threading.Event)
    error: str | None = None


class Launcher:
    """Starts jobs through the fork server; measures and limits them; reports their exits.

    Threads: one reads the server's reports; ``on_exit`` runs on a second, one call at a time in the
    order jobs end, so that it may call :meth:`launch` (which waits for the reader) and :meth:`kill`;
    a third samples running jobs every ``monitor_period`` seconds, enforces memory limits and calls
    ``on_sample(job_key, tree_rss_kib)``. :meth:`close` kills running jobs, waits for their
    ``on_exit`` calls (``removed=True``), then stops the server and the threads: do not call it
    while holding a lock that ``on_exit`` needs. Usable as a context manager.
    """

    def __init__(self, on_exit: Callable[[JobExit], None], *, monitor_period: float = 0.5,
                 on_sample: Callable[[str, int], None] | None = None, preload: Sequence[str] = ()) -> None:
        if not callable(on_exit):
            raise TypeError(f"Launcher on_exit must be callable, got {on_exit!r}")
        if not isinstance(monitor_period, (int, float)) or not monitor_period > 0:
            raise ValueError(f"Launcher monitor_period must be positive seconds, got {monitor_period!r}")
        self._on_exit = on_exit
        self._on_sample = on_sample
        self._period = float(monitor_period)
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}
        self._by_pid: dict[int, str] = {}
        self._pending: dict[int, _Pending] = {}
        self._reserved: set[str] = set()
        self._seq = 0
        self._closed = False
        self._server_gone = False
        self._idle = threading.Condition(self._lock)
        self._exits: queue.SimpleQueue[JobExit | None] = queue.SimpleQueue()
        self._stop = threading.Event()

        cwd = os.getcwd()
        self._init = ("init", [os.path.join(cwd, p) for p in sys.path], list(preload))
        self._restart_lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._start_server()
        _LIVE.add(self)
        self._threads += [
            threading.Thread(target=self._callback_loop, name="launcher-callbacks", daemon=True),
            threading.Thread(target=self._monitor_loop, name="launcher-monitor", daemon=True),
        ]
        for thread in self._threads[-2:]:
            thread.start()

    def _start_server(self) -> None:
        """Start a fork server and the thread that reads its reports."""
        parent_sock, child_sock = socket.socketpair()
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", f"from {__name__} import _serve; _serve({child_sock.fileno()})"],
                pass_fds=[child_sock.fileno()], stdin=subprocess.DEVNULL, close_fds=True,
            )
        finally:
            child_sock.close()
        self._proc, self._sock = proc, parent_sock
        self._post(self._init)
        reader = threading.Thread(target=self._read_loop, args=(parent_sock,), name="launcher-reader", daemon=True)
        self._threads.append(reader)
        with self._lock:
            self._server_gone = False
        reader.start()

    def _restart_server(self) -> None:
        """A job (or the OOM killer) killed the fork server: start a new one, so that one bad job does
        not fail every later job with "the launcher is closed"."""
        with self._restart_lock:
            with self._lock:
                if self._closed or not self._server_gone:
                    return  # closed meanwhile, or another launch restarted it
            old = self._proc
            with contextlib.suppress(subprocess.TimeoutExpired):
                old.wait(timeout=5.0)
            log.warning("the launcher's fork server exited (status %s); starting a new one", old.returncode)
            self._sock.close()
            self._start_server()

    def __enter__(self) -> Launcher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- public API -------------------------------------------------------------------------------

    def launch(self, request: LaunchRequest) -> None:
        """Start a job; returns once it runs. Raises LaunchError if it could not be started."""
        if not isinstance(request, LaunchRequest):
            raise TypeError(f"Launcher.launch needs a LaunchRequest, got {request!r}")
        request.validate()
        argv = list(request.argv)
        if request.kind == "exec" and "/" in argv[0]:
            argv[0] = os.path.abspath(argv[0])
        # Relative paths are the caller's, taken against its working directory now (the child
        # changes to the sandbox before it opens or execs anything).
        spec = {
            "job_key": request.job_key, "kind": request.kind, "argv": argv, "cwd": os.path.abspath(request.cwd),
            "env": dict(request.env), "entry_point": request.entry_point,
            **{name: os.path.abspath(path) if path else None for name, path in (
                ("stdin_path", request.stdin_path), ("stdout_path", request.stdout_path),
                ("stderr_path", request.stderr_path))},
        }
        with self._lock:
            restart = self._server_gone and not self._closed
        if restart:
            self._restart_server()
        with self._lock:
            if self._closed or self._server_gone:
                raise LaunchError(f"job {request.job_key}: the launcher is closed")
            if request.job_key in self._jobs or request.job_key in self._reserved:
                raise ValueError(f"LaunchRequest.job_key {request.job_key!r} is already running")
            self._reserved.add(request.job_key)
            self._seq += 1
            seq = self._seq
            pending = self._pending[seq] = _Pending(request)
        try:
            self._post(("launch", seq, spec))
        except OSError as exc:
            with self._lock:
                self._pending.pop(seq, None)
                self._reserved.discard(request.job_key)
            raise LaunchError(f"job {request.job_key}: the launcher's server is gone ({exc})") from exc
        if not pending.done.wait(_LAUNCH_TIMEOUT_S):
            raise LaunchError(f"job {request.job_key}: the launcher's server did not answer in time")
        if pending.error is not None:
            raise LaunchError(pending.error)

    def kill(self, job_key: str) -> bool:
        """SIGKILL a running job's process group; it is reported with ``removed=True``.
        Returns False if no such job is running."""
        return self._kill(job_key, "removed")

    def running(self) -> list[str]:
        with self._lock:
            return list(self._jobs)

    def peak_rss_kib(self, job_key: str) -> int:
        """The largest tree RSS sampled so far for a running job."""
        with self._lock:
            job = self._jobs.get(job_key)
            if job is None:
                raise KeyError(f"peak_rss_kib: job {job_key!r} is not running")
            return job.peak_kib

    def close(self) -> None:
        """Kill all running jobs (their exits are still reported), stop the server and the threads."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            keys = list(self._jobs)
        for key in keys:
            self._kill(key, "removed")
        with self._lock:
            self._idle.wait_for(lambda: not self._jobs or self._server_gone, timeout=10.0)
        with contextlib.suppress(OSError):
            self._post(("shutdown",))
        try:
            self._proc.wait(timeout=10.0)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()
        self._stop.set()
        self._exits.put(None)
        current = threading.current_thread()
        for thread in self._threads:
            if thread is not current:
                thread.join(timeout=10.0)
        self._sock.close()

    # -- internals --------------------------------------------------------------------------------

    def _post(self, message: tuple) -> None:
        with self._send_lock:
            _send(self._sock, message)

    def _kill(self, job_key: str, reason: str) -> bool:
        with self._lock:
            job = self._jobs.get(job_key)
            if job is None:
                return False
            job.kill_sent = True
            pid = job.pid
        try:
            self._post(("kill", pid, reason))
        except OSError:
            return False
        return True

    def _read_loop(self, sock: socket.socket) -> None:
        reader = _Reader()
        while True:
            try:
                data = sock.recv(1 << 16)
            except OSError:
                data = b""
            if not data:
                self._on_server_gone()
                return
            for message in reader.feed(data):
                try:
                    self._dispatch(message)
                except Exception:  # a bug here must not stop every later report
                    log.exception("launcher could not handle the server's message %r", message)

    def _dispatch(self, message: tuple) -> None:
        op = message[0]
        if op in ("started", "failed"):
            with self._lock:
                pending = self._pending.pop(message[1])
                self._reserved.discard(pending.request.job_key)
                if op == "started":
                    self._jobs[pending.request.job_key] = _Job(pending.request, message[2])
                    self._by_pid[message[2]] = pending.request.job_key
                else:
                    pending.error = message[2]
            pending.done.set()
        elif op == "exited":
            _, pid, status, maxrss, utime, stime, wall, started_at, ended_at, reason = message
            with self._lock:
                key = self._by_pid.pop(pid)
                job = self._jobs.pop(key)
                self._idle.notify_all()
            code = os.waitstatus_to_exitcode(status)
            self._exits.put(JobExit(
                job_key=key, pid=pid,
                exit_code=code if code >= 0 else None, signal=-code if code < 0 else None,
                over_memory=reason == "memory", removed=reason == "removed",
                peak_rss_kib=max(job.peak_kib, maxrss), user_cpu_s=utime, sys_cpu_s=stime,
                wall_s=wall, started_at=started_at, ended_at=ended_at,
            ))

    def _on_server_gone(self) -> None:
        """The server exited: fail launches in flight; if that was unexpected, kill and report jobs."""
        with self._lock:
            self._server_gone = True
            pendings = list(self._pending.values())
            self._pending.clear()
            orphans = list(self._jobs.values())
            self._jobs.clear()
            self._by_pid.clear()
            self._idle.notify_all()
        for pending in pendings:
            pending.error = f"job {pending.request.job_key}: the launcher's server exited"
            pending.done.set()
        if orphans and not self._closed:
            log.error("launcher server exited with %d jobs running; killing them", len(orphans))
        now = time.time()
        for job in orphans:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(job.pid, signal.SIGKILL)
            self._exits.put(JobExit(job.request.job_key, job.pid, None, signal.SIGKILL, False, self._closed,
                                    job.peak_kib, 0.0, 0.0, 0.0, now, now))

    def _callback_loop(self) -> None:
        while (result := self._exits.get()) is not None:
            try:
                self._on_exit(result)
            except Exception:
                log.exception("on_exit callback failed for job %s", result.job_key)

    def _monitor_loop(self) -> None:
        while not self._stop.wait(self._period):
            with self._lock:
                jobs = list(self._jobs.values())
            if not jobs:
                continue
            try:
                samples = _sample_trees([job.pid for job in jobs])
            except Exception:
                log.exception("sampling job process trees failed")
                continue
            for job in jobs:
                rss_kib = samples.get(job.pid)
                if rss_kib is None:
                    continue
                over = False
                with self._lock:
                    if self._jobs.get(job.request.job_key) is not job:
                        continue  # ended while we sampled
                    job.peak_kib = max(job.peak_kib, rss_kib)
                    limit = job.request.memory_limit_mb
                    if limit is not None and rss_kib > limit * 1024 and not job.kill_sent:
                        over = True
                if over:
                    self._kill(job.request.job_key, "memory")
                if self._on_sample is not None:
                    try:
                        self._on_sample(job.request.job_key, rss_kib)
                    except Exception:
                        log.exception("on_sample callback failed for job %s", job.request.job_key)


#: launchers of this process, whose sockets a forked copy of it must not keep open
_LIVE: weakref.WeakSet[Launcher] = weakref.WeakSet()


def _close_sockets_in_forked_child() -> None:
    """The server learns of its parent's death by EOF on the socket: a child forked (without exec)
    from the parent must not hold that socket open after the parent is gone."""
    for launcher in list(_LIVE):
        with contextlib.suppress(OSError):
            launcher._sock.close()
        launcher._closed = True
    _LIVE.clear()


os.register_at_fork(after_in_child=_close_sockets_in_forked_child)


def _sample_trees(roots: list[int]) -> dict[int, int]:
    """RSS in KiB summed over each root's process tree (descendants by parent pid), from one scan."""
    import psutil  # here, not at module level: the fork server must stay small (its RSS is every job's)

    children: dict[int, list[psutil.Process]] = {}
    procs: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter(["ppid"]):
        procs[proc.pid] = proc
        ppid = proc.info["ppid"]
        if ppid is not None:
            children.setdefault(ppid, []).append(proc)
    result: dict[int, int] = {}
    for root in roots:
        if root not in procs:
            continue
        total, stack, seen = 0, [procs[root]], set()
        while stack:
            proc = stack.pop()
            if proc.pid in seen:
                continue
            seen.add(proc.pid)
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                total += proc.memory_info().rss
            stack.extend(children.get(proc.pid, ()))
        result[root] = total // 1024
    return result
