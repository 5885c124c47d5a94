"""The job child: what runs in the process the fork server forks for one job, up to the job itself.

It makes the job the leader of its own session and process group and a child subreaper (so that
nothing it starts leaves its tree, :mod:`.family`), changes to the sandbox, opens the
job's standard streams, closes the server's descriptors, resets the signals a fresh process has, and
then execs the executable or calls the Python entry point. A failure before that point is written to
the close-on-exec setup pipe (the server turns it into :class:`~.messages.Failed`) and ends the
child with 127; EOF on the pipe without text tells the server the job got going.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import traceback
from collections.abc import Callable
from typing import Any

from condorexec.pools.local.launcher.family import PR_SET_CHILD_SUBREAPER, PR_SET_PDEATHSIG, prctl
from condorexec.pools.local.launcher.messages import JobSpec


def run_job(spec: JobSpec, func: Callable[..., Any] | None, err_w: int, server_fds: tuple[int, ...]) -> None:
    """Set up the job's process, then exec it or call its entry point; never returns."""
    stage = "setsid"
    try:
        signal.set_wakeup_fd(-1)
        os.setsid()
        # What the job starts stays in its tree (see family.py), and the job dies with the server.
        prctl(PR_SET_CHILD_SUBREAPER, 1)
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        stage = f"chdir to sandbox {spec.cwd!r}"
        os.chdir(spec.cwd)
        for fd, path, flags in (
            (0, spec.stdin_path, os.O_RDONLY),
            (1, spec.stdout_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND),
            (2, spec.stderr_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND),
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
        python = spec.kind == "python"
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGPIPE, signal.SIGXFSZ):
            signal.signal(sig, signal.SIG_DFL)
        # A Python job gets what a fresh interpreter has: KeyboardInterrupt on SIGINT, SIGPIPE ignored.
        signal.signal(signal.SIGINT, signal.default_int_handler if python else signal.SIG_DFL)
        if python:
            signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        if not python:
            argv, env = spec.argv, spec.env
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
    os.environ.update(spec.env)
    os.close(err_w)
    os._exit(_call_entry_point(func, spec))


def _call_entry_point(func: Callable[..., Any] | None, spec: JobSpec) -> int:
    """Call the job's Python entry point the way the interpreter would run a script's main."""
    # No reseeding here: CPython's own at-fork hook reseeds ``random`` if the server imported it,
    # and importing it here would cost every job milliseconds.
    sys.argv = [spec.entry_point, *spec.argv]
    code: object
    try:
        assert func is not None
        code = func(list(spec.argv))
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
