"""The fork server: a single-threaded process that forks one child per job, reaps, and reports.

It runs in its own interpreter (``python -c "...; serve(fd)"``), started by the caller with
``subprocess``, and talks to it over one socketpair (:mod:`.messages`). It exits, killing its jobs,
when that socket reaches EOF: the caller closed it or died. It has no psutil and imports little, since
every job forked from it starts as a copy of it.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import os
import resource
import select
import signal
import socket
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from condorexec.pools.local.launcher.family import PR_SET_CHILD_SUBREAPER, kill_family, own_children, prctl
from condorexec.pools.local.launcher.jobchild import run_job
from condorexec.pools.local.launcher.messages import (
    Exited,
    Failed,
    Init,
    JobSpec,
    Kill,
    KillReason,
    Launch,
    MessageReader,
    Shutdown,
    Started,
    ToServer,
    send,
    split_entry_point,
)

#: modules the server imports up front so that forked Python jobs do not import them each time
PRELOAD = ("cloudpickle", "condorexec.runner")
#: what a forked child may add to the server's RSS before it execs (its own small allocations)
INHERITED_SLACK_KIB = 1024


def own_peak_rss_kib() -> int:
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


@dataclass
class ServedJob:
    """A job child the server forked and saw start."""

    job_key: str
    started_at: float
    started_mono: float
    #: for exec jobs, the server's own peak RSS at fork: the child's ru_maxrss counts the copy of the
    #: server it was before exec, so a value not above this says nothing about the job itself
    inherited_kib: int = 0
    kill_reason: KillReason | None = None


class Reaped(NamedTuple):
    """What ``wait4`` said of a child, and when."""

    status: int
    usage: Any
    ended_mono: float
    ended_at: float


@dataclass
class SettingUp:
    """A forked child whose setup the server has not yet seen succeed (close-on-exec pipe still open)."""

    seq: int
    pid: int
    job: ServedJob
    chunks: list[bytes] = field(default_factory=list)
    reaped: Reaped | None = None  # if it was reaped before its pipe closed


class ForkServer:
    """Forks one child per job, reaps only its own children, reports starts and exits."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.jobs: dict[int, ServedJob] = {}
        self.setting_up: dict[int, SettingUp] = {}  # by the read end of the child's setup pipe
        self.entry_points: dict[str, Callable[..., Any]] = {}
        self.wake_r, self.wake_w = os.pipe()
        os.set_blocking(self.wake_r, False)
        os.set_blocking(self.wake_w, False)
        self.pid = os.getpid()

    # -- main loop --------------------------------------------------------------------------------

    def serve(self) -> None:
        prctl(PR_SET_CHILD_SUBREAPER, 1)  # a job's leftovers come here, not to init (family.py)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides; Ctrl-C reaches it too
        signal.signal(signal.SIGTERM, self._on_term)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # needed so that the wakeup fd is written
        signal.set_wakeup_fd(self.wake_w, warn_on_full_buffer=False)
        reader = MessageReader[ToServer]()
        try:
            while True:
                ready, _, _ = select.select([self.sock, self.wake_r, *self.setting_up], [], [])  # type: ignore[type-var]
                for fd in ready:
                    if fd in self.setting_up:
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

    def _handle(self, message: Init | Launch | Kill | Shutdown) -> bool:
        """Act on one message from the caller; False when the server should exit."""
        match message:
            case Init(sys_path, preload):
                for entry in sys_path:
                    if entry not in sys.path:
                        sys.path.append(entry)
                self._preload((*PRELOAD, *preload))
                # Jobs get exactly their own environment; an empty one here makes setting it cheap.
                os.environ.clear()
            case Launch(seq, spec):
                self._launch(seq, spec)
            case Kill(pid, reason):
                job = self.jobs.get(pid)
                if job is not None:  # not yet reaped: its pid, hence its group id, is still ours
                    job.kill_reason = job.kill_reason or reason
                    kill_family(pid)  # its whole tree, whatever session or group each process is in
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pid, signal.SIGKILL)
            case Shutdown():
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
            module_name, attr = split_entry_point(entry_point)
            found: Any = importlib.import_module(module_name)
            for part in attr.split("."):
                found = getattr(found, part)
            func = found
            if not callable(func):
                raise TypeError(f"{entry_point!r} is not callable")
            self.entry_points[entry_point] = func
            gc.freeze()
        return func

    def _launch(self, seq: int, spec: JobSpec) -> None:
        func = None
        if spec.kind == "python":
            try:  # imported here, once, so that every forked job finds it already loaded
                func = self._resolve(spec.entry_point)
            except BaseException as exc:
                send(self.sock, Failed(seq, f"job {spec.job_key}: cannot load entry point "
                                            f"{spec.entry_point!r}: {exc!r}"))
                return
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                stream.flush()
        err_r, err_w = os.pipe()  # close-on-exec: EOF without data means the child got going
        started_at, started_mono = time.time(), time.monotonic()
        inherited = own_peak_rss_kib() if spec.kind == "exec" else 0
        try:
            pid = os.fork()
        except OSError as exc:
            os.close(err_r)
            os.close(err_w)
            send(self.sock, Failed(seq, f"job {spec.job_key}: fork failed: {exc}"))
            return
        if pid == 0:
            try:
                os.close(err_r)
                run_job(spec, func, err_w, (self.sock.fileno(), self.wake_r, self.wake_w, *self.setting_up))
            finally:
                os._exit(127)
        os.close(err_w)
        # Not waited for here: the server goes on forking and reaping while the child sets up.
        self.setting_up[err_r] = SettingUp(seq, pid, ServedJob(spec.job_key, started_at, started_mono, inherited))

    def _setup_news(self, fd: int) -> None:
        """A child's setup pipe is readable: an error message, or EOF (exec done / Python job set up)."""
        setting_up = self.setting_up[fd]
        chunk = os.read(fd, 4096)
        if chunk:
            setting_up.chunks.append(chunk)
            return
        del self.setting_up[fd]
        os.close(fd)
        pid, job_key = setting_up.pid, setting_up.job.job_key
        if setting_up.chunks:
            if setting_up.reaped is None:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)  # it exits right after writing the reason
            reason = b"".join(setting_up.chunks).decode(errors="replace")
            send(self.sock, Failed(setting_up.seq, f"job {job_key}: {reason}"))
            return
        send(self.sock, Started(setting_up.seq, pid))
        self.jobs[pid] = setting_up.job
        if setting_up.reaped is not None:
            self._report_exit(pid, setting_up.reaped)

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
            reaped = Reaped(status, usage, time.monotonic(), time.time())
            if pid in self.jobs:
                self._report_exit(pid, reaped)
            else:
                for setting_up in self.setting_up.values():
                    if setting_up.pid == pid:  # exited before the server read its setup pipe's EOF
                        setting_up.reaped = reaped

    def _report_exit(self, pid: int, reaped: Reaped) -> None:
        job = self.jobs.pop(pid)
        # Like the starter: whatever the job left behind dies with it, in its group or not.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        self._kill_strays()
        usage = reaped.usage
        maxrss = usage.ru_maxrss if usage.ru_maxrss > job.inherited_kib + INHERITED_SLACK_KIB else 0
        send(self.sock, Exited(pid=pid, status=reaped.status, maxrss_kib=maxrss, user_cpu_s=usage.ru_utime,
                               sys_cpu_s=usage.ru_stime, wall_s=reaped.ended_mono - job.started_mono,
                               started_at=job.started_at, ended_at=reaped.ended_at, kill_reason=job.kill_reason))

    def _kill_strays(self) -> None:
        """Kill the server's children that are no job's root: what ended jobs left (adopted here when
        their root, a subreaper, ended), with their own families."""
        ours = {*self.jobs, *(s.pid for s in self.setting_up.values())}
        for pid in own_children():
            if pid not in ours:
                kill_family(pid)

    def _kill_all_and_reap(self) -> None:
        pids = [*self.jobs, *(s.pid for s in self.setting_up.values() if s.reaped is None)]
        for pid in pids:
            kill_family(pid)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)  # one still setting up may have no group of its own yet
        for pid in pids:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, 0)
        self.jobs.clear()
        self.setting_up.clear()
        # Adopted leftovers: kill them (and anything they started) until none is left, then reap.
        deadline = time.monotonic() + 2.0
        with contextlib.suppress(ChildProcessError):
            while time.monotonic() < deadline:
                self._kill_strays()
                if not os.wait4(-1, os.WNOHANG)[0]:
                    time.sleep(0.01)


def serve(fd: int) -> None:
    """Entry point of the server process (see :meth:`Launcher._start_server`)."""
    ForkServer(socket.socket(fileno=fd)).serve()
