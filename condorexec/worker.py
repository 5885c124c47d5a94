"""Runs ON THE EXECUTE NODE: a category worker, one HTCondor job that runs many calls (docs/design.md §7).

It reads batches of calls from its mailbox, runs each in a forked child of its own (so each call is
measured alone: a small call after a big one is measured small), and writes the outcomes back with
each call's usage. It exits after ``--idle`` seconds without work. Like ``runner.py`` (which it shares
the call-running code with) it imports only the standard library, cloudpickle and, on HTCondor, htchirp:
it is shipped with the job and run by whatever Python the node has or the job brought.

The mailbox is a directory on the submit side, named relative to the worker job's initial directory
(the run directory): ``workers/W/in/N`` holds the N-th batch of calls for worker W, ``workers/W/out/N``
the N-th batch of results, ``tasks/T/`` the files of call T. The worker reaches it either through
**chirp** (``--chirp``: the starter's I/O proxy, carried over the starter's own connection to the
shadow; relative names resolve against the job's Iwd there, so the worker is given no submit-side path
at all and no port opens on the submit host) or through the filesystem (``--root DIR``, pools that run
jobs beside their submitter).

Usage: ``python worker.py WORKER_ID --idle SECONDS --memory MB (--chirp | --root DIR)``.
Exit status: 0 after idling out or being told to stop, CHIRP_UNAVAILABLE when chirp cannot be used.
"""

import argparse
import gc
import os
import pickle
import select
import shutil
import signal
import socket
import sys
import time

PROTOCOL = 1

#: exit status of a worker that could not reach its mailbox through chirp (the pool disabled it)
CHIRP_UNAVAILABLE = 75

#: seconds of finished results a worker holds before it sends them (one round trip carries many)
FLUSH_AFTER = 0.05

#: the polling interval of an idle worker grows from the first to the second value (seconds)
POLL_FILESYSTEM = (0.001, 0.05)
POLL_CHIRP = (0.005, 0.25)

#: seconds between samples of a running call's memory (a call that ends sooner is measured at exit)
SAMPLE_EVERY = 0.02

#: the call's own stdout and stderr (what a per-call job's output/error would be): sent only if not empty
STREAMS = ("job.out", "job.err")

#: what a call's child writes its pickled outcome to, in the call's directory (never sent back)
OUTCOME_NAME = ".outcome"


def inbox_name(worker, seq):
    return f"workers/{worker}/in/{seq}"


def outbox_name(worker, seq):
    return f"workers/{worker}/out/{seq}"


class FilesystemMailbox:
    """The mailbox as a directory this process can open (the local pool)."""

    poll = POLL_FILESYSTEM

    def __init__(self, root):
        self.root = root
        self.ops = 0

    def _path(self, name):
        return os.path.join(self.root, name)

    def get(self, name, scratch):
        self.ops += 1
        try:
            with open(self._path(name), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def fetch(self, name, local):
        self.ops += 1
        shutil.copyfile(self._path(name), local)

    def put_file(self, local, name):
        self.ops += 1
        shutil.copyfile(local, self._path(name))

    def put_message(self, name, data, scratch):
        self.ops += 1
        tmp = self._path(name) + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, self._path(name))

    def close(self):
        pass


class ChirpMailbox:
    """The mailbox through the starter's chirp proxy (HTCondor, ``want_io_proxy = true``)."""

    poll = POLL_CHIRP

    def __init__(self):
        from htchirp import HTChirp

        class NoDelayChirp(HTChirp):
            # Nagle's algorithm plus the proxy's delayed ACK made every small write wait ~40 ms
            def connect(self, auth_method=None):
                super().connect(auth_method)
                self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        self._missing = HTChirp.DoesntExist
        self.client = NoDelayChirp()
        self.client.connect()
        self.ops = 0

    def get(self, name, scratch):
        self.ops += 1
        local = os.path.join(scratch, ".chirp-get")
        try:
            self.client.fetch(name, local)
        except self._missing:
            return None
        with open(local, "rb") as f:
            return f.read()

    def fetch(self, name, local):
        self.ops += 1
        self.client.fetch(name, local)

    def put_file(self, local, name):
        self.ops += 1
        self.client.put(local, name)

    def put_message(self, name, data, scratch):
        local = os.path.join(scratch, ".chirp-put")
        with open(local, "wb") as f:
            f.write(data)
        self.ops += 2
        self.client.put(local, name + ".tmp")
        self.client.rename(name + ".tmp", name)  # the submit side never sees half a message

    def close(self):
        self.client.disconnect()


def _tree_rss_kib(pid):
    """Resident memory of ``pid`` and its descendants (Linux /proc; 0 where it cannot be read)."""
    page_kib = os.sysconf("SC_PAGE_SIZE") // 1024
    total, stack, seen = 0, [pid], set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * page_kib
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return total


def _own_rss_kib():
    return _tree_rss_kib(os.getpid())


def _listing(directory):
    """Top-level files of ``directory`` and their (size, mtime): what HTCondor would send back."""
    found = {}
    for entry in os.scandir(directory):
        if entry.is_file(follow_symlinks=False):
            st = entry.stat()
            found[entry.name] = (st.st_size, st.st_mtime_ns)
    return found


def _disk_kib(directory):
    total = 0
    for base, _dirs, files in os.walk(directory):
        for name in files:
            try:
                total += os.lstat(os.path.join(base, name)).st_blocks // 2
            except OSError:
                pass
    return total


class Worker:
    def __init__(self, worker_id, mailbox, idle_seconds, memory_mb, scratch):
        self.id, self.mailbox, self.idle = worker_id, mailbox, idle_seconds
        self.scratch = scratch
        self.limit_kib = memory_mb * 1024 if memory_mb else None
        self.results, self.first_unsent = [], None
        self.next_in, self.next_out = 0, 0
        self.child = None
        import cloudpickle  # imported before any fork, so no call pays for it

        self.cloudpickle = cloudpickle
        import runner

        self.runner = runner
        gc.freeze()  # what is imported now is never scanned again, so a forked call copies fewer pages

    # ---- the mailbox --------------------------------------------------------------------------

    def send(self, message):
        message = dict(message, version=PROTOCOL, consumed=self.next_in - 1, ops=self.mailbox.ops + 1)
        self.mailbox.put_message(outbox_name(self.id, self.next_out), pickle.dumps(message), self.scratch)
        self.next_out += 1

    def flush(self):
        if self.results:
            self.send({"results": self.results})
            self.results, self.first_unsent = [], None

    def serve(self):
        self.send({"hello": {"host": socket.gethostname(), "python": sys.version.split()[0],
                             "pid": os.getpid()}})
        low, high = self.mailbox.poll
        interval, last_work = low, time.monotonic()
        while True:
            data = self.mailbox.get(inbox_name(self.id, self.next_in), self.scratch)
            if data is None:
                self.flush()
                if time.monotonic() - last_work > self.idle:
                    self.send({"bye": "idle"})
                    return 0
                time.sleep(interval)
                interval = min(high, interval * 1.5)
                continue
            self.next_in += 1
            message = pickle.loads(data)
            if message.get("stop"):
                self.flush()
                self.send({"bye": "stopped"})
                return 0
            for call in message["calls"]:
                self.results.append(self.run(call))
                if self.first_unsent is None:
                    self.first_unsent = time.monotonic()
                if time.monotonic() - self.first_unsent > FLUSH_AFTER:
                    self.flush()
            interval, last_work = low, time.monotonic()

    # ---- one call -----------------------------------------------------------------------------

    def run(self, call):
        """Run one call in a forked child, watching its memory; its outputs go back before its result."""
        directory = os.path.join(self.scratch, "calls", str(call["id"]))
        os.makedirs(directory)
        result = {"id": call["id"], "outcome": None, "exhausted": None, "error": None}
        try:
            for name in call["inputs"]:
                self.mailbox.fetch(f"{call['dir']}/inputs/{name}", os.path.join(directory, name))
        except Exception as exc:  # noqa: BLE001 - the call fails, the worker goes on
            result["error"] = f"could not fetch input files: {type(exc).__name__}: {exc}"
            shutil.rmtree(directory, ignore_errors=True)
            return result
        before = _listing(directory)
        started = time.monotonic()
        status, usage, peak_kib = self._fork_and_watch(call, directory)
        wall = time.monotonic() - started
        cpu = usage.ru_utime + usage.ru_stime
        peak_kib = max(peak_kib, usage.ru_maxrss)
        outcome_path = os.path.join(directory, OUTCOME_NAME)
        if os.path.exists(outcome_path):
            with open(outcome_path, "rb") as f:
                result["outcome"] = f.read()
        elif result["exhausted"] is None:
            result["exhausted"] = self._exhausted_by_kill(status, peak_kib)
            if os.WIFSIGNALED(status):
                result["error"] = f"the call's process was killed by signal {os.WTERMSIG(status)}"
            else:
                result["error"] = f"the call's process exited with status {os.WEXITSTATUS(status)} and no result"
        if self._killed_for_memory:
            result["exhausted"] = "memory"
            result["outcome"] = None
            result["error"] = (f"the call's processes used {peak_kib // 1024} MB with the worker's own "
                               f"{self.own_kib // 1024} MB, more than the worker's request of "
                               f"{self.limit_kib // 1024} MB")
        result["usage"] = {"wall_s": wall, "cpu_s": cpu, "peak_rss_kib": peak_kib,
                           "disk_kib": _disk_kib(directory)}
        try:
            for name, stamp in _listing(directory).items():
                if name == OUTCOME_NAME or before.get(name) == stamp or (name in STREAMS and stamp[0] == 0):
                    continue
                self.mailbox.put_file(os.path.join(directory, name), f"{call['dir']}/{name}")
        except Exception as exc:  # noqa: BLE001
            result["outcome"], result["error"] = None, f"could not send output files: {type(exc).__name__}: {exc}"
        shutil.rmtree(directory, ignore_errors=True)
        return result

    def _exhausted_by_kill(self, status, peak_kib):
        """An out-of-memory kill from outside (a cgroup limit) shows as SIGKILL near the limit."""
        if (os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL and self.limit_kib
                and peak_kib + self.own_kib >= 0.9 * self.limit_kib):
            return "memory"
        return None

    def _fork_and_watch(self, call, directory):
        self._killed_for_memory = False
        self.own_kib = _own_rss_kib()
        pid = os.fork()
        if pid == 0:  # the call's own process
            code = 1
            try:
                os.setpgid(0, 0)
                os.chdir(directory)
                for fd, name in zip((1, 2), STREAMS):
                    out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
                    os.dup2(out, fd)
                payload = self.cloudpickle.loads(call["payload"])
                outcome = self.runner._run_call(payload["calls"][0])
                blob = self.runner._dumps_outcome(self.cloudpickle, outcome)
                with open(OUTCOME_NAME + ".tmp", "wb") as f:
                    f.write(blob)
                os.replace(OUTCOME_NAME + ".tmp", OUTCOME_NAME)
                code = 0
            except BaseException:  # noqa: BLE001 - reported through the missing outcome
                import traceback

                traceback.print_exc()
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        self.child = pid
        peak = 0
        exited = _exit_waiter(pid)
        try:
            while True:
                exited(SAMPLE_EVERY)  # returns at once when the child ends
                done, status, usage = os.wait4(pid, os.WNOHANG)
                if done:
                    return status, usage, peak
                rss = _tree_rss_kib(pid)
                peak = max(peak, rss)
                if self.limit_kib and rss + self.own_kib > self.limit_kib and not self._killed_for_memory:
                    self._killed_for_memory = True
                    _kill_group(pid)
        finally:
            exited.close()
            self.child = None


class _exit_waiter:
    """Waits up to a timeout for a child to end, waking the moment it does (a pidfd), or polling."""

    def __init__(self, pid):
        try:
            self.fd = os.pidfd_open(pid)
        except (AttributeError, OSError):  # Python < 3.9, Linux < 5.3, not Linux
            self.fd = None

    def __call__(self, timeout):
        if self.fd is None:
            time.sleep(min(timeout, 0.001))
        else:
            select.select([self.fd], [], [], timeout)

    def close(self):
        if self.fd is not None:
            os.close(self.fd)


def _kill_group(pid):
    try:
        os.killpg(pid, signal.SIGKILL)
    except OSError:
        pass


def main(argv=None):
    parser = argparse.ArgumentParser(prog="worker.py")
    parser.add_argument("worker_id")
    parser.add_argument("--idle", type=float, required=True)
    parser.add_argument("--memory", type=int, default=0)
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--chirp", action="store_true")
    where.add_argument("--root")
    args = parser.parse_args(argv)
    scratch = os.path.abspath(os.path.join(os.environ.get("_CONDOR_SCRATCH_DIR", "."), "w"))
    os.makedirs(os.path.join(scratch, "calls"), exist_ok=True)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    if args.chirp:
        try:
            mailbox = ChirpMailbox()
            mailbox.get(inbox_name(args.worker_id, 0), scratch)  # proves file I/O is allowed
        except Exception as exc:  # noqa: BLE001
            sys.stderr.write(f"condorexec worker: chirp file I/O is not available ({type(exc).__name__}: {exc}); "
                             "the pool may set ENABLE_CHIRP_IO = False or the job lacks want_io_proxy\n")
            return CHIRP_UNAVAILABLE
    else:
        mailbox = FilesystemMailbox(args.root)
    worker = Worker(args.worker_id, mailbox, args.idle, args.memory, scratch)

    def on_term(signum, _frame):
        if worker.child is not None:
            _kill_group(worker.child)
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    try:
        return worker.serve()
    finally:
        mailbox.close()


if __name__ == "__main__":
    sys.exit(main())
