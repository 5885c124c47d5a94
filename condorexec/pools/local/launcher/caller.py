"""The caller's side of the launcher: :class:`Launcher`, which runs in the pool's (threaded) process.

It starts the fork server (:mod:`.forkserver`) with ``subprocess``, asks it to launch and kill jobs,
samples running jobs' process trees for memory, and turns the server's reports into :class:`JobExit`
callbacks. Messages are the named types of :mod:`.messages`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from condorexec.pools.local.launcher.measure import sample_trees
from condorexec.pools.local.launcher.messages import (
    Exited,
    Failed,
    Init,
    JobExit,
    JobSpec,
    Kill,
    KillReason,
    Launch,
    LaunchError,
    LaunchRequest,
    MessageReader,
    Shutdown,
    Started,
    ToCaller,
    ToServer,
    send,
)

log = logging.getLogger(__name__)

#: how long launch() waits for the server to confirm a fork before declaring it dead
LAUNCH_TIMEOUT_S = 60.0
#: the module the fork server runs from, in a fresh interpreter
FORK_SERVER_MODULE = "condorexec.pools.local.launcher.forkserver"


@dataclass
class RunningJob:
    """A job the server reported started, as the caller tracks it."""

    request: LaunchRequest
    pid: int
    peak_kib: int = 0
    kill_sent: bool = False


@dataclass
class PendingLaunch:
    """A launch sent to the server and not answered yet; ``done`` is set with the answer."""

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
        self._jobs: dict[str, RunningJob] = {}
        self._by_pid: dict[int, str] = {}
        self._pending: dict[int, PendingLaunch] = {}
        self._reserved: set[str] = set()
        self._seq = 0
        self._closed = False
        self._server_gone = False
        self._idle = threading.Condition(self._lock)
        self._exits: queue.SimpleQueue[JobExit | None] = queue.SimpleQueue()
        self._stop = threading.Event()

        cwd = os.getcwd()
        self._init = Init([os.path.join(cwd, p) for p in sys.path], list(preload))
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
                [sys.executable, "-c", f"from {FORK_SERVER_MODULE} import serve; serve({child_sock.fileno()})"],
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
        def absolute(path: str | None) -> str | None:
            return os.path.abspath(path) if path else None

        spec = JobSpec(job_key=request.job_key, kind=request.kind, argv=argv, cwd=os.path.abspath(request.cwd),
                       env=dict(request.env), entry_point=request.entry_point,
                       stdin_path=absolute(request.stdin_path), stdout_path=absolute(request.stdout_path),
                       stderr_path=absolute(request.stderr_path))
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
            pending = self._pending[seq] = PendingLaunch(request)
        try:
            self._post(Launch(seq, spec))
        except OSError as exc:
            with self._lock:
                self._pending.pop(seq, None)
                self._reserved.discard(request.job_key)
            raise LaunchError(f"job {request.job_key}: the launcher's server is gone ({exc})") from exc
        if not pending.done.wait(LAUNCH_TIMEOUT_S):
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
            self._post(Shutdown())
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

    def _post(self, message: ToServer) -> None:
        with self._send_lock:
            send(self._sock, message)

    def _kill(self, job_key: str, reason: KillReason) -> bool:
        with self._lock:
            job = self._jobs.get(job_key)
            if job is None:
                return False
            job.kill_sent = True
            pid = job.pid
        try:
            self._post(Kill(pid, reason))
        except OSError:
            return False
        return True

    def _read_loop(self, sock: socket.socket) -> None:
        reader = MessageReader[ToCaller]()
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

    def _dispatch(self, message: Started | Failed | Exited) -> None:
        match message:
            case Started(seq, pid):
                with self._lock:
                    pending = self._answered(seq)
                    self._jobs[pending.request.job_key] = RunningJob(pending.request, pid)
                    self._by_pid[pid] = pending.request.job_key
                pending.done.set()
            case Failed(seq, reason):
                with self._lock:
                    pending = self._answered(seq)
                    pending.error = reason
                pending.done.set()
            case Exited():
                with self._lock:
                    key = self._by_pid.pop(message.pid)
                    job = self._jobs.pop(key)
                    self._idle.notify_all()
                code = os.waitstatus_to_exitcode(message.status)
                self._exits.put(JobExit(
                    job_key=key, pid=message.pid,
                    exit_code=code if code >= 0 else None, signal=-code if code < 0 else None,
                    over_memory=message.kill_reason == "memory", removed=message.kill_reason == "removed",
                    peak_rss_kib=max(job.peak_kib, message.maxrss_kib), user_cpu_s=message.user_cpu_s,
                    sys_cpu_s=message.sys_cpu_s, wall_s=message.wall_s, started_at=message.started_at,
                    ended_at=message.ended_at,
                ))

    def _answered(self, seq: int) -> PendingLaunch:
        """The launch ``seq`` has its answer: no longer pending, its job key free (lock held)."""
        pending = self._pending.pop(seq)
        self._reserved.discard(pending.request.job_key)
        return pending

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
            self._exits.put(JobExit(
                job_key=job.request.job_key, pid=job.pid, exit_code=None, signal=signal.SIGKILL, over_memory=False,
                removed=self._closed, peak_rss_kib=job.peak_kib, user_cpu_s=0.0, sys_cpu_s=0.0, wall_s=0.0,
                started_at=now, ended_at=now))

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
                samples = sample_trees([job.pid for job in jobs])
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
