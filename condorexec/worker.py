"""Runs ON THE EXECUTE NODE: a slot worker, one HTCondor job that runs many calls side by side
(docs/design.md §8).

The worker holds a share of one machine — its job's ``request_cpus/memory/disk/gpus``, given here as
``--cores/--memory/--disk/--gpus`` — and runs the calls it is handed, of any category and size, side by
side as they fit in what it holds. Each call runs in its own forked call process that is measured alone
and held to the call's own memory (see CallProcess: a call over its size is killed and reported
exhausted; the calls beside it go on). Calls start in the order they were handed over, the first one
waiting until enough is free (so a big call is never passed for good by small ones); the submit side
hands a worker only what fits it, so a call waits here at most for the calls ahead of it. Where the node
gave the job exactly its cores (CPU affinity), each call is pinned to cores of its own. It exits after
``--idle`` seconds without work, or when told to stop. Like ``runner.py`` (whose call-running code it
shares) it imports only the standard library, cloudpickle and, on HTCondor, htchirp: it is shipped with
the job and run by whatever Python the node has or the job brought.

The mailbox is a directory on the submit side, named relative to the worker job's initial directory
(the run directory): ``workers/W/in/N`` holds the N-th batch of calls for worker W, ``workers/W/out/N``
the N-th batch of results, ``tasks/T/`` the files of call T. The worker reaches it either through
**chirp** (``--chirp``: the starter's I/O proxy, carried over the starter's own connection to the
shadow; relative names resolve against the job's Iwd there, so the worker is given no submit-side path
at all and no port opens on the submit host) or through the filesystem (``--root DIR``, pools that run
jobs beside their submitter).

Usage: ``python worker.py WORKER_ID --idle SECONDS --cores N --memory MB --disk MB [--gpus N]
(--chirp | --root DIR)``, where the sizes are what the worker's calls may use together (the worker's
own request adds the worker's own footprint).
Exit status: 0 after idling out or being told to stop, CHIRP_UNAVAILABLE when chirp cannot be used.

Why one file of this size: it is shipped alone to execute nodes (beside ``runner.py``) and run by
whatever Python is there, so it cannot import condorexec's other modules; its parts (mailboxes, the call
process, the worker's loop) travel together.
"""

import argparse
import collections
import gc
import os
import pickle
import select
import shutil
import signal
import socket
import sys
import time

PROTOCOL = 2

#: exit status of a worker that could not reach its mailbox through chirp (the pool disabled it)
CHIRP_UNAVAILABLE = 75

#: seconds of finished results a worker holds before it sends them (one round trip carries many)
FLUSH_AFTER = 0.05

#: the polling interval of the inbox grows from the first to the second value (seconds) while
#: nothing arrives, and starts again from the first after the worker sends results
POLL_FILESYSTEM = (0.001, 0.05)
POLL_CHIRP = (0.005, 0.25)

#: seconds between samples of the running calls' memory (a call that ends sooner is measured at exit)
SAMPLE_EVERY = 0.02

#: the call's own stdout and stderr (what a per-call job's output/error would be): their last
#: STREAM_TAIL bytes travel inline with the result (an app's declared outputs travel as files)
STREAMS = ("job.out", "job.err")
STREAM_TAIL = 64 * 1024

#: the call process starts afresh after a call that left it this much larger than it started (KiB)
RECYCLE_GROWTH_KIB = 64 * 1024

#: call processes kept waiting for a next call: each is a copy of the worker that a pool summing its
#: processes' resident sizes counts again, so only one waits; the others end with their call
MAX_IDLE_LANES = 1

#: the thread-count variables HTCondor's starter sets to a job's request_cpus (STARTER_NUM_THREADS_ENV_VARS);
#: a call process sets them to its call's cores, so a library sized by them uses the call's share
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
                    "JULIA_NUM_THREADS", "GOMAXPROCS", "TF_NUM_THREADS", "ROOT_MAX_THREADS", "PYTHON_CPU_COUNT")

#: what a size is made of, in the order the call messages and the command line give them
RESOURCES = ("cores", "memory", "disk", "gpus")

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
    """Resident memory of the call process ``pid`` and what its descendants hold of their own (Linux /proc;
    0 where it cannot be read). A descendant counts only its private pages: a child forked from the call
    process shares all of the call's pages until it writes or execs, and summing resident sizes would
    count them twice — a call that starts a subprocess, sampled between its fork and its exec, would
    look twice its size and be killed for memory it never used."""
    page_kib = os.sysconf("SC_PAGE_SIZE") // 1024
    total, stack, seen = 0, [pid], set()
    while stack:
        p = stack.pop()
        if p in seen:
            continue
        seen.add(p)
        try:
            total += _private_kib(p) if p != pid else _statm_rss_kib(p, page_kib)
            for tid in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{tid}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (OSError, ValueError):
            continue
    return total


def _statm_rss_kib(pid, page_kib):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * page_kib


def _private_kib(pid):
    """The pages ``pid`` alone holds (smaps_rollup's Private_Clean + Private_Dirty); its resident size
    where Linux has no smaps_rollup (before 4.14)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            return sum(int(line.split()[1]) for line in f if line.startswith(("Private_Clean:", "Private_Dirty:")))
    except FileNotFoundError:
        return _statm_rss_kib(pid, os.sysconf("SC_PAGE_SIZE") // 1024)


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


def _fits(size, free):
    return all(size.get(r, 0) <= free[r] for r in RESOURCES)


class Devices:
    """The CPUs (or GPUs) a worker can give its calls one each, or None where it cannot.

    A worker pins a call to cores of its own only where the node gave the job exactly its cores (HTCondor
    with ASSIGN_CPU_AFFINITY, the local pool on a node no bigger than the machine): elsewhere the job may
    run on every core of the machine beside other jobs, and pinning two workers' calls to "core 0" would
    make them fight over it."""

    def __init__(self, ids, count):
        self.free = sorted(ids) if ids is not None and len(ids) == count and count > 0 else None

    def take(self, count):
        if self.free is None or count <= 0:
            return None
        taken, self.free = self.free[:count], self.free[count:]
        return taken

    def give_back(self, ids):
        if self.free is not None and ids:
            self.free = sorted(self.free + ids)


def _affinity():
    try:
        return os.sched_getaffinity(0)
    except (AttributeError, OSError):  # not Linux
        return None


def _assigned_gpus():
    value = os.environ.get("CUDA_VISIBLE_DEVICES", "")
    return [g for g in value.split(",") if g] or None


class Running:
    """A call in a call process: its size, what it holds of the worker, and what it used so far."""

    def __init__(self, call, lane, cpus, gpus):
        self.call, self.lane, self.cpus, self.gpus = call, lane, cpus, gpus
        self.started_at, self.started = time.time(), time.monotonic()
        self.peak_kib = 0
        self.killed_for_memory = False
        self.before = _listing(lane.directory)

    @property
    def limit_kib(self):
        return self.call["size"]["memory"] * 1024 or None


class Worker:
    def __init__(self, worker_id, mailbox, idle_seconds, capacity, scratch):
        self.id, self.mailbox, self.idle = worker_id, mailbox, idle_seconds
        self.scratch = scratch
        self.capacity = dict(capacity)
        self.free = dict(capacity)
        self.cpus = Devices(_affinity(), capacity["cores"])
        self.gpus = Devices(_assigned_gpus(), capacity["gpus"])
        self.queue = collections.deque()  # calls handed over, not yet started, in order
        self.running = {}  # call process pid -> Running
        self.idle_lanes = []  # call processes waiting for their next call
        self.lane_dirs = []  # working directories of call processes that ended (emptied after each call)
        self.last_sample = 0.0
        self.lane_count = 0
        self.results, self.first_unsent = [], None
        self.next_in, self.next_out = 0, 0
        self.stopping = False
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

    def _receive(self):
        """Read the next batch of calls, if there is one; True if something arrived."""
        data = self.mailbox.get(inbox_name(self.id, self.next_in), self.scratch)
        if data is None:
            return False
        self.next_in += 1
        message = pickle.loads(data)
        self.queue.extend(message.get("calls", ()))
        self._give_back(set(message.get("recall", ())))
        self.stopping |= bool(message.get("stop"))
        return True

    def _give_back(self, ids):
        """Calls the submit side wants back (another worker is free to run them): those not started yet."""
        if not ids:
            return
        kept = collections.deque()
        for call in self.queue:
            if call["id"] in ids:
                self._add_result({"id": call["id"], "outcome": None, "exhausted": None, "returned": "recalled"})
            else:
                kept.append(call)
        self.queue = kept

    def serve(self):
        self.send({"hello": {"host": socket.gethostname(), "python": sys.version.split()[0],
                             "pid": os.getpid(), "pinning": self.cpus.free is not None}})
        low, high = self.mailbox.poll
        interval, next_poll, last_work = low, 0.0, time.monotonic()
        while True:
            now = time.monotonic()
            if now >= next_poll:
                interval = low if self._receive() else min(high, interval * 1.5)
                # with calls of its own still waiting to start, more calls could not start either: only a
                # recall or a stop could come that matters, and those can wait (a poll is a chirp round trip)
                next_poll = now + (high if self.queue else interval)
            self._start_what_fits()
            if self.running:
                self._watch(max(0.0, min(SAMPLE_EVERY, next_poll - time.monotonic())))
                last_work = time.monotonic()
            if self.results and (not self.queue or time.monotonic() - self.first_unsent > FLUSH_AFTER):
                self.flush()  # out of calls to start: the submit side hands out more once it hears what ended
                interval, next_poll = low, min(next_poll, time.monotonic() + low)
            if self.running or self.queue:
                continue
            if self.stopping:
                self.send({"bye": "stopped"})
                return 0
            if time.monotonic() - last_work > self.idle:
                self.send({"bye": "idle"})
                return 0
            time.sleep(max(0.0, next_poll - time.monotonic()))

    # ---- running calls side by side --------------------------------------------------------------

    def _start_what_fits(self):
        while self.queue:
            call = self.queue[0]
            size = call["size"]
            if not _fits(size, self.capacity):  # never fits here: the submit side places it elsewhere
                self.queue.popleft()
                self._add_result({"id": call["id"], "outcome": None, "exhausted": None,
                                  "returned": f"its size {size} does not fit this worker's {self.capacity}"})
                continue
            if not _fits(size, self.free):
                return  # it waits for the calls ahead of it; none passes it
            self.queue.popleft()
            self._start(call)

    def _start(self, call):
        size = call["size"]
        lane = self.idle_lanes.pop() if self.idle_lanes else CallProcess(self, self._directory())
        try:
            for name in call["inputs"]:
                self.mailbox.fetch(f"{call['dir']}/inputs/{name}", os.path.join(lane.directory, name))
        except Exception as exc:  # noqa: BLE001 - the call fails, the worker goes on
            _empty(lane.directory)
            self.idle_lanes.append(lane)
            self._add_result({"id": call["id"], "outcome": None, "exhausted": None,
                              "error": f"could not fetch input files: {type(exc).__name__}: {exc}"})
            return
        for r in RESOURCES:
            self.free[r] -= size.get(r, 0)
        running = Running(call, lane, self.cpus.take(size.get("cores", 0)), self.gpus.take(size.get("gpus", 0)))
        self.running[lane.pid] = running
        sys.stdout.write(f"call {call['id']} started: cores {size.get('cores')}, memory {size.get('memory')} MB, "
                         f"cpus {running.cpus}, beside {len(self.running) - 1} other calls\n")
        try:
            lane.send({"payload": call["payload"], "dir": lane.directory, "cpus": running.cpus,
                       "gpus": running.gpus, "cores": size.get("cores", 1)})
        except OSError:
            pass  # it died; the watch below says how

    def _directory(self):
        """A working directory for a new call process: one a process that ended left, or a new one."""
        if self.lane_dirs:
            return self.lane_dirs.pop()
        self.lane_count += 1
        directory = os.path.join(self.scratch, "calls", str(self.lane_count))
        os.makedirs(directory, exist_ok=True)
        return directory

    def _retire(self, lane):
        """A call process is done with (it ended, or more are idle than MAX_IDLE_LANES): its directory is free."""
        if lane.alive():
            _kill_group(lane.pid)
        lane.reap()
        self.lane_dirs.append(lane.directory)

    def _watch(self, timeout):
        """Wait up to ``timeout`` for a call to end; then sample every running call's memory."""
        fds = {}
        for running in self.running.values():
            for fd in running.lane.fds():
                fds[fd] = running
        readable, _, _ = select.select(list(fds), [], [], timeout)
        for running in {id(fds[fd]): fds[fd] for fd in readable}.values():
            self._check_ended(running)
        if time.monotonic() - self.last_sample < SAMPLE_EVERY:
            return
        self.last_sample = time.monotonic()
        for running in list(self.running.values()):
            rss = _tree_rss_kib(running.lane.pid)
            running.peak_kib = max(running.peak_kib, rss)
            limit = running.limit_kib
            if limit and rss > limit and not running.killed_for_memory:
                running.killed_for_memory = True
                _kill_group(running.lane.pid)

    def _check_ended(self, running):
        lane = running.lane
        report = lane.read_report() if lane.readable() else None
        if report is None and not lane.ended():
            return
        if report is None:
            self._finish(running, None, lane.reap())
            return
        if report.get("recycle"):
            lane.reap()
        self._finish(running, report, None)

    def _finish(self, running, report, status):
        """A call ended (``report`` from its process, or its exit ``status``): its result, outputs, usage."""
        call, lane = running.call, running.lane
        del self.running[lane.pid]
        for r in RESOURCES:
            self.free[r] += call["size"].get(r, 0)
        self.cpus.give_back(running.cpus)
        self.gpus.give_back(running.gpus)
        directory = lane.directory
        result = {"id": call["id"], "outcome": None, "exhausted": None, "error": None,
                  "started_at": running.started_at, "ended_at": time.time(), "cpus": running.cpus}
        usage = {"wall_s": time.monotonic() - running.started, "cpu_s": 0.0, "peak_rss_kib": running.peak_kib}
        limit = running.limit_kib
        if report is not None:
            result["outcome"] = report["outcome"]
            usage["cpu_s"] = report["cpu_s"]
            usage["peak_rss_kib"] = max(running.peak_kib, report["peak_rss_kib"])
        elif running.killed_for_memory:
            result["exhausted"] = "memory"
            result["error"] = (f"the call's processes used {running.peak_kib // 1024} MB, more than its "
                               f"{limit // 1024} MB")
        else:
            result["exhausted"] = _exhausted_by_kill(status, running.peak_kib, limit)
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
                if wanted and running.before.get(name) != stamp:
                    self.mailbox.put_file(os.path.join(directory, name), f"{call['dir']}/{name}")
        except Exception as exc:  # noqa: BLE001
            result["outcome"], result["error"] = None, f"could not send output files: {type(exc).__name__}: {exc}"
        _empty(directory)
        if lane.alive() and len(self.idle_lanes) < MAX_IDLE_LANES:
            self.idle_lanes.append(lane)
        else:
            self._retire(lane)
        sys.stdout.write(f"call {call['id']} ended after {usage['wall_s']:.3f} s\n")
        self._add_result(result)

    def _add_result(self, result):
        self.results.append(result)
        if self.first_unsent is None:
            self.first_unsent = time.monotonic()

    def kill_all(self):
        """Every call process and what it started (the worker is being stopped)."""
        for lane in [*(r.lane for r in self.running.values()), *self.idle_lanes]:
            _kill_group(lane.pid)


def _exhausted_by_kill(status, peak_kib, limit_kib):
    """An out-of-memory kill from outside (a cgroup limit) shows as SIGKILL near the limit."""
    if (status is not None and os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL
            and limit_kib and peak_kib >= 0.9 * limit_kib):
        return "memory"
    return None


class CallProcess:
    """A forked child that runs calls one at a time, each measured on its own.

    Before each call it resets its peak-memory mark (Linux ``/proc/self/clear_refs``), so the peak it
    reports is that call's; it measures the call's CPU time; and it ends itself, to be forked afresh
    from the clean worker, after a call that started processes (whose peak cannot be reset) or left it
    holding RECYCLE_GROWTH_KIB more than it started with — so a small call after a big one is measured
    small. Where the peak cannot be reset, every call gets a fresh process. It is its own process group
    (so a kill takes what the call started too) and dies with the worker (PR_SET_PDEATHSIG)."""

    def __init__(self, worker, directory):
        self.directory = directory
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:
            os.close(self._to_child)
            os.close(self._from_child)
            code = 1
            try:
                os.setpgid(0, 0)
                _die_with_parent()
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
        self._status = None
        self._open = True

    def send(self, message):
        _write_frame(self._to_child, message)

    def fds(self):
        return [self._from_child, *self._exit.fds]

    def readable(self):
        return bool(select.select([self._from_child], [], [], 0)[0])

    def read_report(self):
        """The call's report once its pipe is readable: the call process writes it in one go, so it is
        read whole here (linear in its size, however large the result), or None at end of file."""
        return _read_frame(self._from_child)

    def ended(self):
        if self._status is None:
            done, status = os.waitpid(self.pid, os.WNOHANG)
            if not done:
                return False
            self._status = status
        return True

    def alive(self):
        return not self.ended()

    def reap(self):
        """Wait for the process to end (it is ending, or was killed); its exit status."""
        if self._status is None:
            _done, self._status = os.waitpid(self.pid, 0)
        if self._open:  # once: a descriptor closed twice may by then be another file's
            self._open = False
            for fd in (self._to_child, self._from_child):
                os.close(fd)
            self._exit.close()
        return self._status


def _call_loop(worker, reader, writer):
    """The call process: run each call sent, report its outcome and usage, end when told or when dirty."""
    import resource

    can_reset = _reset_peak()
    base_kib = _status_kib("VmRSS")
    all_cpus = _affinity()
    while True:
        message = _read_frame(reader)
        if message is None:
            return
        os.chdir(message["dir"])
        for fd, name in zip((1, 2), STREAMS, strict=True):
            out = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.dup2(out, fd)
            os.close(out)
        _place(message, all_cpus)
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


def _place(message, all_cpus):
    """Give the call its cores: pinned where the worker could pin it, and HTCondor's thread-count variables
    set to its cores, as the starter sets them for a job of its own; its GPUs likewise."""
    cpus = message.get("cpus")
    if all_cpus is not None:
        try:
            os.sched_setaffinity(0, cpus or all_cpus)
        except OSError:
            pass
    for name in THREAD_VARIABLES:
        os.environ[name] = str(message.get("cores") or 1)
    if message.get("gpus"):
        os.environ["CUDA_VISIBLE_DEVICES"] = ",".join(message["gpus"])


def _die_with_parent():
    """Linux: this process is killed when the worker ends, however it ends (a SIGKILL included)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


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
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    os.write(fd, len(data).to_bytes(8, "big"))
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_exactly(fd, size):
    """``size`` bytes from ``fd`` into one buffer (never re-copied as it fills), or None at end of file."""
    buffer = bytearray(size)
    view, got = memoryview(buffer), 0
    while got < size:
        n = os.readv(fd, [view[got:]])
        if n == 0:
            return None
        got += n
    return buffer


def _read_frame(fd):
    header = _read_exactly(fd, 8)
    if header is None:
        return None
    body = _read_exactly(fd, int.from_bytes(header, "big"))
    return None if body is None else pickle.loads(body)


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
    for resource in RESOURCES:
        parser.add_argument(f"--{resource}", type=int, default=1 if resource == "cores" else 0)
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
    capacity = {resource: getattr(args, resource) for resource in RESOURCES}
    worker = Worker(args.worker_id, mailbox, args.idle, capacity, scratch)

    def on_term(signum, _frame):
        worker.kill_all()
        sys.stdout.flush()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, on_term)
    try:
        return worker.serve()
    finally:
        sys.stdout.flush()
        mailbox.close()


if __name__ == "__main__":
    sys.exit(main())
