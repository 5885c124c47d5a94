"""Runs ON THE EXECUTE NODE: a category worker, one HTCondor job that runs many calls (docs/design.md §7).

It reads batches of calls from its mailbox, runs them one at a time in a forked call process that
measures each call alone (see CallProcess: a small call after a big one is measured small), and writes
the outcomes back with each call's usage. It exits after ``--idle`` seconds without work. Like
``runner.py`` (whose call-running code it shares) it imports only the standard library, cloudpickle
and, on HTCondor, htchirp: it is shipped with the job and run by whatever Python the node has or the
job brought.

The mailbox is a directory on the submit side, named relative to the worker job's initial directory
(the run directory): ``workers/W/in/N`` holds the N-th batch of calls for worker W, ``workers/W/out/N``
the N-th batch of results, ``tasks/T/`` the files of call T. The worker reaches it either through
**chirp** (``--chirp``: the starter's I/O proxy, carried over the starter's own connection to the
shadow; relative names resolve against the job's Iwd there, so the worker is given no submit-side path
at all and no port opens on the submit host) or through the filesystem (``--root DIR``, pools that run
jobs beside their submitter).

Usage: ``python worker.py WORKER_ID --idle SECONDS --memory MB (--chirp | --root DIR)``, where MB is
what one call may use (the worker's own request adds the worker's own footprint).
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

#: the call's own stdout and stderr (what a per-call job's output/error would be): their last
#: STREAM_TAIL bytes travel inline with the result (an app's declared outputs travel as files)
STREAMS = ("job.out", "job.err")
STREAM_TAIL = 64 * 1024

#: the call process starts afresh after a call that left it this much larger than it started (KiB)
RECYCLE_GROWTH_KIB = 64 * 1024


#: in the run directory, on pools that run jobs beside their submitter: the submitter's sys.path
SYS_PATH_NAME = "workers/sys.path"


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


def _listing(directory):
    """Top-level files of ``directory`` and their (size, mtime): what HTCondor would send back."""
    found = {}
    for entry in os.scandir(directory):
        if entry.is_file(follow_symlinks=False):
            st = entry.stat()
            found[entry.name] = (st.st_size, st.st_mtime_ns)
    return found


def _tail_bytes(path, limit=STREAM_TAIL):
    """The end of a call's stdout or stderr (travels inline with its result)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - limit))
            return f.read()
    except OSError:
        return b""


def _empty(directory):
    """Remove what a call left in ``directory``, keeping the directory itself and its stream files
    (making a fresh directory and files per call cost more than the no-op call itself)."""
    for entry in os.scandir(directory):
        if entry.name in STREAMS:
            continue
        if entry.is_dir(follow_symlinks=False):
            shutil.rmtree(entry.path, ignore_errors=True)
        else:
            try:
                os.unlink(entry.path)
            except OSError:
                pass


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
        self.call_dir = os.path.join(scratch, "call")  # the working directory of every call, emptied after each
        os.makedirs(self.call_dir, exist_ok=True)
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
        """Run one call in the call process, watching its memory; its outputs go back before its result."""
        directory = self.call_dir
        result = {"id": call["id"], "outcome": None, "exhausted": None, "error": None}
        try:
            for name in call["inputs"]:
                self.mailbox.fetch(f"{call['dir']}/inputs/{name}", os.path.join(directory, name))
        except Exception as exc:  # noqa: BLE001 - the call fails, the worker goes on
            result["error"] = f"could not fetch input files: {type(exc).__name__}: {exc}"
            _empty(directory)
            return result
        before = _listing(directory)
        started = time.monotonic()
        report, status, sampled_kib = self._run_in_call_process(call["payload"], directory)
        usage = {"wall_s": time.monotonic() - started, "cpu_s": 0.0, "peak_rss_kib": sampled_kib}
        if report is not None:
            result["outcome"] = report["outcome"]
            usage["cpu_s"] = report["cpu_s"]
            usage["peak_rss_kib"] = max(sampled_kib, report["peak_rss_kib"])
        elif self.killed_for_memory:
            result["exhausted"] = "memory"
            result["error"] = (f"the call's processes used {sampled_kib // 1024} MB, more than its "
                               f"{self.limit_kib // 1024} MB")
        else:
            result["exhausted"] = self._exhausted_by_kill(status, sampled_kib)
            if status is not None and os.WIFSIGNALED(status):
                result["error"] = f"the call's process was killed by signal {os.WTERMSIG(status)}"
            else:
                code = os.WEXITSTATUS(status) if status is not None else "unknown"
                result["error"] = f"the call's process exited with status {code} before it returned"
        usage["disk_kib"] = _disk_kib(directory)
        result["usage"] = usage
        result["streams"] = {name: _tail_bytes(os.path.join(directory, name)) for name in STREAMS}
        try:
            for name, stamp in _listing(directory).items():
                wanted = name in call["outputs"] or any(name.startswith(p) for p in call["prefixes"])
                if wanted and before.get(name) != stamp:
                    self.mailbox.put_file(os.path.join(directory, name), f"{call['dir']}/{name}")
        except Exception as exc:  # noqa: BLE001
            result["outcome"], result["error"] = None, f"could not send output files: {type(exc).__name__}: {exc}"
        _empty(directory)
        return result

    def _exhausted_by_kill(self, status, peak_kib):
        """An out-of-memory kill from outside (a cgroup limit) shows as SIGKILL near the limit."""
        if (status is not None and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
                and self.limit_kib and peak_kib >= 0.9 * self.limit_kib):
            return "memory"
        return None

    def _run_in_call_process(self, payload, directory):
        """Hand one call to the call process (forking a fresh one if needed) and wait for its report,
        sampling the process tree's memory. Returns (report or None, exit status or None, sampled peak)."""
        self.killed_for_memory = False
        if self.child is None:
            self.child = CallProcess(self)
        child = self.child
        peak = 0
        try:
            child.send({"payload": payload, "dir": directory})
        except OSError:
            pass  # it died; the wait below says how
        while True:
            report = child.wait(SAMPLE_EVERY)
            if report is None and child.ended():
                report = child.wait(0)  # what it wrote before it ended
                if report is None:
                    status = child.reap()
                    self.child = None
                    return None, status, peak
            if report is not None:
                if report.get("recycle"):
                    child.reap()
                    self.child = None
                return report, None, peak
            rss = _tree_rss_kib(child.pid)
            peak = max(peak, rss)
            if self.limit_kib and rss > self.limit_kib and not self.killed_for_memory:
                self.killed_for_memory = True
                _kill_group(child.pid)


class CallProcess:
    """A forked child that runs calls one at a time, each measured on its own.

    Before each call it resets its peak-memory mark (Linux ``/proc/self/clear_refs``), so the peak it
    reports is that call's; it measures the call's CPU time; and it ends itself, to be forked afresh
    from the clean worker, after a call that started processes (whose peak cannot be reset) or left it
    holding RECYCLE_GROWTH_KIB more than it started with — so a small call after a big one is measured
    small. Where the peak cannot be reset, every call gets a fresh process."""

    def __init__(self, worker):
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self._to_child)
            os.close(self._from_child)
            code = 1
            try:
                os.setpgid(0, 0)
                _call_loop(worker, to_child_r, from_child_w)
                code = 0
            except BaseException:  # noqa: BLE001 - e.g. a payload that cannot be unpickled here
                import traceback

                traceback.print_exc()  # into the call's job.err, which goes back
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        os.close(to_child_r)
        os.close(from_child_w)
        self._exit = _ExitWaiter(self.pid)
        self._buffer = b""
        self._status = None

    def send(self, message):
        _write_frame(self._to_child, message)

    def wait(self, timeout):
        """The call's report, or None if none came within ``timeout`` seconds."""
        frame, self._buffer = _take_frame(self._buffer)
        if frame is not None or self._status is not None:
            return frame
        readable, _, _ = select.select([self._from_child, *self._exit.fds], [], [], timeout)
        if self._from_child in readable:
            self._buffer += os.read(self._from_child, 1 << 20)
        frame, self._buffer = _take_frame(self._buffer)
        return frame

    def ended(self):
        """Whether the process has ended; what it wrote before is then read in, for wait(0)."""
        if self._status is None:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if not done:
                return False
            self._status = status
        while select.select([self._from_child], [], [], 0)[0]:
            chunk = os.read(self._from_child, 1 << 20)
            if not chunk:
                break
            self._buffer += chunk
        return True

    def reap(self):
        """Wait for the process to end (it is ending, or was killed); its exit status."""
        if self._status is None:
            _done, self._status = os.waitpid(self.pid, 0)
        for fd in (self._to_child, self._from_child):
            try:
                os.close(fd)
            except OSError:
                pass
        self._exit.close()
        return self._status


def _call_loop(worker, reader, writer):
    """The call process: run each call sent, report its outcome and usage, end when told or when dirty."""
    import resource

    can_reset = _reset_peak()
    base_kib = _status_kib("VmRSS")
    while True:
        message = _read_frame(reader)
        if message is None:
            return
        os.chdir(message["dir"])
        for fd, name in zip((1, 2), STREAMS, strict=True):
            out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(out, fd)
            os.close(out)
        _reset_peak()
        self_before = resource.getrusage(resource.RUSAGE_SELF)
        children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        payload = worker.cloudpickle.loads(message["payload"])
        outcome = worker.runner._run_call(payload["calls"][0])
        blob = worker.runner._dumps_outcome(worker.cloudpickle, outcome)
        sys.stdout.flush()
        sys.stderr.flush()
        self_after = resource.getrusage(resource.RUSAGE_SELF)
        children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        started_processes = (children_after.ru_utime, children_after.ru_stime, children_after.ru_maxrss) != (
            children_before.ru_utime, children_before.ru_stime, children_before.ru_maxrss)
        peak = _status_kib("VmHWM") if can_reset else self_after.ru_maxrss
        if started_processes:
            peak = max(peak, children_after.ru_maxrss)
        cpu = sum(getattr(after, f) - getattr(before, f) for after, before in (
            (self_after, self_before), (children_after, children_before)) for f in ("ru_utime", "ru_stime"))
        recycle = (not can_reset or started_processes
                   or _status_kib("VmRSS") > base_kib + RECYCLE_GROWTH_KIB)
        os.chdir(worker.scratch)
        _write_frame(writer, {"outcome": blob, "peak_rss_kib": peak, "cpu_s": cpu, "recycle": recycle})
        if recycle:
            return


def _reset_peak():
    """Reset this process's peak resident size (VmHWM) to its current size; False where Linux cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _status_kib(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _write_frame(fd, message):
    data = pickle.dumps(message)
    view = memoryview(len(data).to_bytes(8, "big") + data)
    while view:
        view = view[os.write(fd, view):]


def _take_frame(buffer):
    """(message, rest) if ``buffer`` holds a whole frame, else (None, buffer)."""
    if len(buffer) < 8:
        return None, buffer
    size = int.from_bytes(buffer[:8], "big")
    if len(buffer) < 8 + size:
        return None, buffer
    return pickle.loads(buffer[8:8 + size]), buffer[8 + size:]


def _read_frame(fd):
    buffer = b""
    while True:
        message, buffer = _take_frame(buffer)
        if message is not None:
            return message
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            return None
        buffer += chunk


class _ExitWaiter:
    """Lets select() wake the moment a child ends (a pidfd); where there is none, select() times out."""

    def __init__(self, pid):
        try:
            self.fd = os.pidfd_open(pid)
        except (AttributeError, OSError):  # Python < 3.9, Linux < 5.3, not Linux
            self.fd = None
        self.fds = [] if self.fd is None else [self.fd]

    def close(self):
        if self.fd is not None:
            os.close(self.fd)
            self.fd, self.fds = None, []


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
    os.makedirs(scratch, exist_ok=True)
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
        try:  # a pool beside its submitter imports what the submitter can (as its per-call jobs do)
            with open(os.path.join(args.root, SYS_PATH_NAME)) as f:
                sys.path.extend(line for line in f.read().splitlines() if line)
        except FileNotFoundError:
            pass
    worker = Worker(args.worker_id, mailbox, args.idle, args.memory, scratch)

    def on_term(signum, _frame):
        if worker.child is not None:
            _kill_group(worker.child.pid)
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    try:
        return worker.serve()
    finally:
        mailbox.close()


if __name__ == "__main__":
    sys.exit(main())
