"""The local pool's job launcher, with real processes: setup, exit codes, measurement, limits, kills.

The Python entry points below are run by the fork server in forked children: the server imports
this module by name (``__name__``), so they must stay at module level.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from condorexec.pools.local.launcher import JobExit, Launcher, LaunchError, LaunchRequest, sandbox_disk_kib

HERE = __name__
PATH_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin"}


# -- entry points run inside forked jobs -----------------------------------------------------------


def write_file(argv: list[str]) -> int:
    """Record what the job sees (cwd, env, argv, stdin) in report.json; talk on stdout/stderr."""
    Path("report.json").write_text(json.dumps({
        "cwd": os.getcwd(), "env": dict(os.environ), "argv": argv, "stdin": sys.stdin.read(),
        "pgid_is_pid": os.getpgid(0) == os.getpid(),
    }))
    print("to stdout")
    print("to stderr", file=sys.stderr)
    return int(argv[0])


def raise_error(argv: list[str]) -> int:
    raise RuntimeError("boom from the job")


def hog(argv: list[str]) -> int:
    """Hold ``argv[0]`` MiB of touched memory for ``argv[1]`` seconds."""
    block = b"x" * (int(argv[0]) << 20)
    time.sleep(float(argv[1]))
    return len(block) & 0


def nap(argv: list[str]) -> int:
    time.sleep(float(argv[0]))
    return 0


# -- helpers ---------------------------------------------------------------------------------------


class Exits:
    """Collects JobExit reports and lets a test wait for one."""

    def __init__(self) -> None:
        self.results: dict[str, JobExit] = {}
        self._cond = threading.Condition()

    def __call__(self, result: JobExit) -> None:
        with self._cond:
            self.results[result.job_key] = result
            self._cond.notify_all()

    def wait(self, job_key: str, timeout: float = 20.0) -> JobExit:
        with self._cond:
            assert self._cond.wait_for(lambda: job_key in self.results, timeout), f"{job_key} never exited"
            return self.results[job_key]


@pytest.fixture
def exits() -> Exits:
    return Exits()


@pytest.fixture
def launcher(exits: Exits) -> Iterator[Launcher]:
    with Launcher(exits, monitor_period=0.02) as launcher:
        yield launcher


def py(key: str, func: str, argv: list[str], cwd: Path, **kw: object) -> LaunchRequest:
    return LaunchRequest(key, "python", argv, str(cwd), kw.pop("env", {}), entry_point=f"{HERE}:{func}", **kw)


def sh(key: str, script: str, cwd: Path, **kw: object) -> LaunchRequest:
    env = {**PATH_ENV, **kw.pop("env", {})}
    return LaunchRequest(key, "exec", ["/bin/sh", "-c", script], str(cwd), env, **kw)


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def only_job_pid(launcher: Launcher) -> int:
    """The pid of the one job running: the fork server's only child."""
    (child,) = psutil.Process(launcher._proc.pid).children()
    return child.pid


def group_members(pgid: int) -> list[int]:
    members = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
        except (ProcessLookupError, psutil.NoSuchProcess):
            continue
    return members


def descendants(pid: int) -> list[int]:
    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


# -- python kind -----------------------------------------------------------------------------------


def test_python_job_runs_in_sandbox_with_only_its_env_and_files(launcher, exits, tmp_path):
    (tmp_path / "in.txt").write_text("from stdin")
    launcher.launch(py("1.0", "write_file", ["7", "extra"], tmp_path, env={"ONLY": "this"},
                       stdin_path=str(tmp_path / "in.txt"), stdout_path=str(tmp_path / "out"),
                       stderr_path=str(tmp_path / "err")))
    result = exits.wait("1.0")
    assert (result.exit_code, result.signal, result.over_memory, result.removed) == (7, None, False, False)
    report = json.loads((tmp_path / "report.json").read_text())
    assert report == {"cwd": str(tmp_path), "env": {"ONLY": "this"}, "argv": ["7", "extra"],
                      "stdin": "from stdin", "pgid_is_pid": True}
    assert (tmp_path / "out").read_text() == "to stdout\n"
    assert (tmp_path / "err").read_text() == "to stderr\n"
    assert result.started_at <= result.ended_at and result.wall_s >= 0 and result.peak_rss_kib > 0


def test_python_job_output_is_appended_and_stdin_defaults_to_devnull(launcher, exits, tmp_path):
    (tmp_path / "out").write_text("before\n")
    launcher.launch(py("1.0", "write_file", ["0"], tmp_path, stdout_path=str(tmp_path / "out")))
    assert exits.wait("1.0").exit_code == 0
    assert (tmp_path / "out").read_text() == "before\nto stdout\n"
    assert json.loads((tmp_path / "report.json").read_text())["stdin"] == ""


def test_python_job_that_raises_exits_1_with_traceback_and_server_survives(launcher, exits, tmp_path):
    launcher.launch(py("1.0", "raise_error", [], tmp_path, stderr_path=str(tmp_path / "err")))
    assert exits.wait("1.0").exit_code == 1
    err = (tmp_path / "err").read_text()
    assert "Traceback" in err and "RuntimeError: boom from the job" in err
    launcher.launch(py("1.1", "write_file", ["3"], tmp_path))
    assert exits.wait("1.1").exit_code == 3


def test_unloadable_entry_point_is_a_launch_error(launcher, tmp_path):
    with pytest.raises(LaunchError, match="1.0.*no_such_function"):
        launcher.launch(py("1.0", "no_such_function", [], tmp_path))
    assert launcher.running() == []


# -- exec kind -------------------------------------------------------------------------------------


def test_exec_job_exit_code_env_cwd_and_output(launcher, exits, tmp_path):
    script = 'echo "$GREETING"; pwd; echo oops >&2; exit 5'
    launcher.launch(sh("2.0", script, tmp_path, env={"GREETING": "hi"},
                       stdout_path=str(tmp_path / "out"), stderr_path=str(tmp_path / "err")))
    result = exits.wait("2.0")
    assert (result.exit_code, result.signal) == (5, None)
    assert (tmp_path / "out").read_text() == f"hi\n{tmp_path}\n"
    assert (tmp_path / "err").read_text() == "oops\n"


def test_relative_paths_are_the_callers(launcher, exits, tmp_path, monkeypatch):
    (tmp_path / "box").mkdir()
    (tmp_path / "box" / "run.sh").write_text("#!/bin/sh\necho \"$0 in $(pwd)\"\n")
    (tmp_path / "box" / "run.sh").chmod(0o755)
    monkeypatch.chdir(tmp_path)
    launcher.launch(LaunchRequest("2.0", "exec", ["box/run.sh"], "box", PATH_ENV, stdout_path="box/out"))
    assert exits.wait("2.0").exit_code == 0
    assert (tmp_path / "box" / "out").read_text() == f"{tmp_path}/box/run.sh in {tmp_path}/box\n"


def test_exec_job_killed_by_signal(launcher, exits, tmp_path):
    launcher.launch(sh("2.0", "kill -9 $$", tmp_path))
    result = exits.wait("2.0")
    assert (result.exit_code, result.signal, result.removed, result.over_memory) == (None, 9, False, False)


def test_exec_searches_path_of_the_job_env(launcher, exits, tmp_path):
    request = LaunchRequest("2.0", "exec", ["true"], str(tmp_path), PATH_ENV)
    launcher.launch(request)
    assert exits.wait("2.0").exit_code == 0


def test_exec_failures_are_launch_errors(launcher, tmp_path):
    with pytest.raises(LaunchError, match=r"job 2\.0: cannot execute '/no/such/exe': No such file"):
        launcher.launch(LaunchRequest("2.0", "exec", ["/no/such/exe"], str(tmp_path), {}))
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o644)
    with pytest.raises(LaunchError, match="Permission denied"):
        launcher.launch(LaunchRequest("2.1", "exec", [str(script)], str(tmp_path), {}))
    with pytest.raises(LaunchError, match="chdir to sandbox"):
        launcher.launch(LaunchRequest("2.2", "exec", ["/bin/true"], str(tmp_path / "missing"), {}))
    with pytest.raises(LaunchError, match="open stdout"):
        launcher.launch(sh("2.3", "true", tmp_path, stdout_path=str(tmp_path / "no" / "dir" / "out")))
    assert launcher.running() == []


def test_bad_requests_name_the_field(launcher, tmp_path):
    with pytest.raises(ValueError, match="kind"):
        launcher.launch(LaunchRequest("3.0", "java", ["x"], str(tmp_path), {}))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="memory_limit_mb.*0"):
        launcher.launch(sh("3.0", "true", tmp_path, memory_limit_mb=0))
    with pytest.raises(ValueError, match="entry_point"):
        launcher.launch(LaunchRequest("3.0", "python", [], str(tmp_path), {}, entry_point="nocolon"))
    launcher.launch(sh("3.1", "sleep 5", tmp_path))
    with pytest.raises(ValueError, match="3.1.*already running"):
        launcher.launch(sh("3.1", "true", tmp_path))


# -- measurement and memory enforcement ------------------------------------------------------------


def test_job_over_its_memory_limit_is_killed(launcher, exits, tmp_path):
    launcher.launch(py("4.0", "hog", ["300", "20"], tmp_path, memory_limit_mb=100))
    result = exits.wait("4.0")
    assert result.over_memory and not result.removed
    assert (result.exit_code, result.signal) == (None, signal.SIGKILL)
    assert result.peak_rss_kib >= 100 * 1024


def test_job_within_its_memory_limit_runs_to_the_end(launcher, exits, tmp_path):
    launcher.launch(py("4.0", "hog", ["60", "0.3"], tmp_path, memory_limit_mb=300))
    result = exits.wait("4.0")
    assert (result.exit_code, result.over_memory) == (0, False)
    assert result.peak_rss_kib >= 60 * 1024


def test_tree_rss_is_summed_and_enforced(tmp_path):
    """Two 80 MiB children under one shell: each is under the 120 MiB limit, their sum is not."""
    exits, samples = Exits(), []
    child = f"{sys.executable} -c 'import time; b = b\"x\" * (80 << 20); time.sleep(20)'"

    def on_sample(key: str, kib: int) -> None:
        samples.append((key, kib))

    with Launcher(exits, monitor_period=0.02, on_sample=on_sample) as launcher:
        launcher.launch(sh("5.0", f"{child} & {child} & wait", tmp_path, memory_limit_mb=120))
        pid = only_job_pid(launcher)
        result = exits.wait("5.0")
    assert result.over_memory and result.signal == signal.SIGKILL
    assert result.peak_rss_kib > 120 * 1024  # more than either child alone could have had
    assert max(kib for key, kib in samples if key == "5.0") > 120 * 1024
    wait_until(lambda: group_members(pid) == [])


def test_exec_job_peak_is_its_own_not_the_forked_servers(exits, tmp_path):
    """ru_maxrss of an exec'd child includes the server copy it was before exec: not reported."""
    allocate = f"{sys.executable} -c 'b = b\"x\" * (150 << 20)'"
    with Launcher(exits, monitor_period=60) as launcher:  # no samples: ru_maxrss alone
        launcher.launch(sh("6.1", "true", tmp_path))
        launcher.launch(sh("6.2", allocate, tmp_path))
        server_kib = psutil.Process(launcher._proc.pid).memory_info().rss // 1024
        small, big = exits.wait("6.1"), exits.wait("6.2")
    assert small.peak_rss_kib < min(server_kib, 10 * 1024)
    assert big.peak_rss_kib >= 150 * 1024


def test_peak_rss_reflects_a_child_process_while_running(launcher, exits, tmp_path):
    child = f"{sys.executable} -c 'import time; b = b\"x\" * (100 << 20); time.sleep(20)'"
    launcher.launch(sh("6.0", f"{child}; true", tmp_path))
    wait_until(lambda: launcher.peak_rss_kib("6.0") >= 100 * 1024)
    assert launcher.kill("6.0")
    result = exits.wait("6.0")
    assert result.removed and result.peak_rss_kib >= 100 * 1024
    with pytest.raises(KeyError, match="6.0"):
        launcher.peak_rss_kib("6.0")


def test_sandbox_disk_kib_sums_file_sizes(tmp_path):
    (tmp_path / "a").write_bytes(b"x" * 1000)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"y" * 2048)
    outside = tmp_path.parent / f"{tmp_path.name}-big"
    outside.write_bytes(b"z" * 100_000)
    (tmp_path / "link").symlink_to(outside)  # not followed
    assert sandbox_disk_kib(str(tmp_path)) == 3  # 3048 bytes, rounded up
    assert sandbox_disk_kib(str(tmp_path / "sub")) == 2
    with pytest.raises(FileNotFoundError, match="missing"):
        sandbox_disk_kib(str(tmp_path / "missing"))


# -- kill, close, concurrency ----------------------------------------------------------------------


def test_kill_takes_down_the_whole_process_group(launcher, exits, tmp_path):
    launcher.launch(sh("7.0", "sleep 30 & sleep 30; wait", tmp_path))
    pid = only_job_pid(launcher)
    wait_until(lambda: len(descendants(pid)) == 2)
    group = [pid, *descendants(pid)]
    assert launcher.kill("7.0") is True
    result = exits.wait("7.0")
    assert (result.removed, result.over_memory, result.signal, result.pid) == (True, False, 9, pid)
    wait_until(lambda: all(gone(p) for p in group) and group_members(pid) == [])
    assert launcher.kill("7.0") is False
    assert launcher.running() == []


def test_leftovers_in_the_group_die_with_the_job(launcher, exits, tmp_path):
    launcher.launch(sh("7.1", "sleep 30 & echo $! > bg.pid", tmp_path))
    assert exits.wait("7.1").exit_code == 0
    background = int((tmp_path / "bg.pid").read_text())
    wait_until(lambda: gone(background))


def test_close_leaves_no_process_behind(exits, tmp_path):
    launcher = Launcher(exits, monitor_period=0.02)
    launcher.launch(sh("8.0", "sleep 30 & sleep 30; wait", tmp_path))
    launcher.launch(py("8.1", "nap", ["30"], tmp_path))
    server = launcher._proc.pid
    wait_until(lambda: len(descendants(server)) == 4)
    everything = [server, *descendants(server)]
    launcher.close()
    assert exits.results["8.0"].removed and exits.results["8.1"].removed
    wait_until(lambda: all(gone(p) for p in everything))
    with pytest.raises(LaunchError, match="closed"):
        launcher.launch(sh("8.2", "true", tmp_path))
    launcher.close()  # idempotent


def test_server_and_jobs_die_with_the_parent(tmp_path):
    script = textwrap.dedent(f"""
        import os, sys, time, psutil
        from condorexec.pools.local.launcher import Launcher, LaunchRequest
        launcher = Launcher(lambda result: None)
        launcher.launch(LaunchRequest("9.0", "exec", ["/bin/sleep", "30"], {str(tmp_path)!r}, {{}}))
        forked = os.fork()  # a copy of the parent that outlives it must not keep the server alive
        if forked == 0:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, 1)
            os.dup2(devnull, 2)
            time.sleep(30)
            os._exit(0)
        print(launcher._proc.pid, psutil.Process(launcher._proc.pid).children()[0].pid, forked, flush=True)
        os._exit(0)  # no close(): the server must notice by itself
    """)
    out = tmp_path / "pids"  # a file, not a pipe: the server would hold a pipe open and stall run()
    with out.open("w") as stdout:
        subprocess.run([sys.executable, "-c", script], stdout=stdout, timeout=60, check=True)
    server, job, forked = map(int, out.read_text().split())
    try:
        wait_until(lambda: gone(server) and gone(job))
    finally:
        os.kill(forked, signal.SIGKILL)


@pytest.mark.fault
def test_server_crash_reports_running_jobs_and_the_next_launch_starts_a_new_server(exits, tmp_path):
    """A job (or the OOM killer) may kill the fork server: its jobs end as SIGKILLed, and the next
    launch gets a fresh server instead of 'the launcher is closed' for every later job."""
    with Launcher(exits, monitor_period=0.02) as launcher:
        launcher.launch(sh("9.1", "sleep 30 & sleep 30; wait", tmp_path))
        pid = only_job_pid(launcher)
        first_server = launcher._proc.pid
        os.kill(first_server, signal.SIGKILL)
        result = exits.wait("9.1")
        assert (result.exit_code, result.signal, result.removed) == (None, signal.SIGKILL, False)
        wait_until(lambda: group_members(pid) == [])
        launcher.launch(sh("9.2", "exit 4", tmp_path))
        assert exits.wait("9.2").exit_code == 4
        assert launcher._proc.pid != first_server


def test_jobs_run_concurrently(launcher, exits, tmp_path):
    keys = [f"10.{i}" for i in range(8)]
    for key in keys:
        launcher.launch(py(key, "nap", ["0.5"], tmp_path))
    results = [exits.wait(key) for key in keys]
    assert all(r.exit_code == 0 for r in results)
    assert max(r.started_at for r in results) < min(r.ended_at for r in results)
    assert all(r.wall_s >= 0.5 for r in results)


def test_on_exit_may_launch_the_next_job(exits, tmp_path):
    """The pool starts queued jobs from its exit callback: that must not deadlock."""
    launched: list[str] = []

    def on_exit(result: JobExit) -> None:
        exits(result)
        if len(launched) < 5:
            key = f"11.{len(launched)}"
            launched.append(key)
            launcher.launch(py(key, "write_file", ["0"], tmp_path))

    with Launcher(on_exit, monitor_period=0.02) as launcher:
        launcher.launch(py("11.start", "write_file", ["0"], tmp_path))
        assert exits.wait("11.4").exit_code == 0


def test_exec_job_peak_survives_a_big_spawning_process(tmp_path):
    """Linux keeps ru_maxrss across execve: a launcher spawned by a big process must not take that
    process's peak for its own (and then drop every smaller job peak as "inherited")."""
    script = tmp_path / "big_parent.py"
    script.write_text(f"""
import sys, threading
big = bytearray(400 << 20)
for i in range(0, len(big), 4096):
    big[i] = 1
from condorexec.pools.local.launcher import Launcher, LaunchRequest
done, results = threading.Event(), []
def on_exit(e):
    results.append(e)
    done.set()
with Launcher(on_exit, monitor_period=60) as launcher:
    launcher.launch(LaunchRequest(job_key="1.0", kind="exec", cwd={str(tmp_path)!r}, env={{"PATH": "/usr/bin:/bin"}},
                                  argv=[sys.executable, "-c", "b = b'x' * (150 << 20)"]))
    done.wait(60)
print(results[0].peak_rss_kib)
""")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True, timeout=120)
    assert 150 * 1024 <= int(out.stdout.strip()) < 400 * 1024
