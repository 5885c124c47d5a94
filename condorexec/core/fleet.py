"""Category workers, submit side: how many to run, what each is handed, and what happens when one is lost.

A worker is one HTCondor job sized to one category's calls (the user's spec or the learned label) that
runs those calls one at a time (``condorexec/worker.py``). The fleet keeps a queue per *group* (a
category at one size, in one environment); a call goes only to a worker of its own group, so every
worker's request covers the calls it runs. Everything here happens on the fleet's one thread: job events
from the tracker are queued to it, so the state below needs no lock beyond the hand-over (docs/design.md §7).

Mailboxes are directories in the run directory (``worker.inbox_name`` / ``worker.outbox_name``): the
fleet writes a batch of calls as one file and reads each batch of results as one file, so one chirp round
trip of the worker carries many calls. How many calls a worker holds at once follows the group's
measured wall time: about TARGET_SECONDS of work, at least MIN_IN_FLIGHT (so the next call is already
there when one ends), and no more than a fair share of what waits.
"""

from __future__ import annotations

import collections
import itertools
import logging
import math
import os
import pickle
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import htcondor2

from condorexec import render
from condorexec.condorfacts import (
    LEASE_ATTR,
    HoldCode,
    HoldSubCode,
    claim_fits_requirements,
    lease_periodic_remove,
    lease_value,
)
from condorexec.core import holds
from condorexec.core.calls import Task, Wrapper
from condorexec.core.modes import running_mean
from condorexec.errors import JobFailed
from condorexec.labels.store import Sample
from condorexec.payload import PAYLOAD_NAME, decode_outcome
from condorexec.pools.base import Machine
from condorexec.resources import Resources
from condorexec.worker import CHIRP_UNAVAILABLE, PROTOCOL, STREAMS, SYS_PATH_NAME, inbox_name, outbox_name

log = logging.getLogger(__name__)

WORKER_PATH = Path(__file__).resolve().parent.parent / "worker.py"

#: seconds of a group's measured calls a worker is handed at once (fewer for long calls, many for short)
TARGET_SECONDS = 1.0
#: calls a worker holds at least (one running, one waiting) and at most (one message's worth)
MIN_IN_FLIGHT, MAX_IN_FLIGHT = 2, 256
#: worker jobs of a group that end before they reach their mailbox, in a row, before its calls go as
#: their own jobs instead (where they meet the same problem and fail with HTCondor's own reason)
MAX_START_FAILURES = 3
#: MB a worker requests on top of its category's memory, for itself (an interpreter with cloudpickle,
#: ~20 MB, counted again in the call process it forks when a pool sums its processes' resident sizes):
#: a call gets all of its size, as it would in a job of its own
WORKER_MEMORY_MB = 64


@dataclass(eq=False)
class Group:
    """One category's calls at one size in one environment, and the workers that run them."""

    category: str
    size: Resources
    wrapper: Wrapper
    queue: collections.deque[Task] = field(default_factory=collections.deque)
    wall: float | None = None
    start_failures: int = 0
    last_failure: str = ""


@dataclass(eq=False)
class WorkerJob:
    name: str
    group: Group
    job_id: str = ""
    started: bool = False  # its first message (hello) arrived
    leaving: bool = False  # it said it is leaving: hand it nothing more
    ended: bool = False  # its job left the slot
    in_flight: dict[int, Task] = field(default_factory=dict)  # in the order it runs them
    next_in: int = 0
    next_out: int = 0
    unlinked_in: int = 0
    ops: int = 0
    host: str = ""


class WorkerFleet:
    """Runs a core's worker-bound calls on category workers; see the module docstring.

    ``core`` supplies the pool, the sizer, the config, and the way a call ends (``resolve``, ``fail``)
    or goes back to being its own job (``run_per_call``)."""

    def __init__(self, core, machines: Callable[[], list[Machine]]):
        self.core, self.pool, self.config = core, core.pool, core.config
        self.run_dir = core.work_dir
        self.machines = machines
        self.chirp = core.profile.worker_mailbox == "chirp"
        self.unavailable: str | None = None
        self.stats = {"workers": 0, "worker_clusters": 0, "worker_calls": 0, "mailbox_ops": 0}
        self._groups: dict[tuple, Group] = {}
        self._workers: dict[str, WorkerJob] = {}
        self._by_job: dict[str, WorkerJob] = {}
        self._names = itertools.count()
        self._handover = threading.Condition()
        self._incoming: list[Task] = []
        self._events: list[tuple] = []
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name=f"{core.batch_name}-workers", daemon=True)

    # ---- called from other threads -------------------------------------------------------------

    def start(self) -> None:
        (self.run_dir / "workers").mkdir(exist_ok=True)
        if self.core.fast_launch:  # per-call jobs here fork from this interpreter and import what it can
            (self.run_dir / SYS_PATH_NAME).write_text("".join(os.path.abspath(p or ".") + "\n" for p in sys.path))
        self._thread.start()

    def enqueue(self, tasks: list[Task]) -> None:
        with self._handover:
            self._incoming.extend(tasks)
            self._handover.notify()

    def owns(self, job_id: str) -> bool:
        with self._handover:
            return job_id in self._by_job

    def event(self, kind: str, job_id: str, *details: object) -> bool:
        """A job event for ``job_id`` (from the tracker); False if it is not a worker's."""
        with self._handover:
            if job_id not in self._by_job:
                return False
            self._events.append((kind, job_id, *details))
            self._handover.notify()
        return True

    def holding(self) -> list[str]:
        """Job ids of the workers that hold calls now (handed over, not yet returned)."""
        with self._handover:
            return [w.job_id for w in self._by_job.values() if not w.ended and w.in_flight]

    def job_ids(self) -> list[str]:
        with self._handover:
            return [w.job_id for w in self._by_job.values() if not w.ended]

    def stop(self) -> None:
        with self._handover:
            self._stopping = True
            self._handover.notify()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    # ---- the fleet's thread --------------------------------------------------------------------

    def _loop(self) -> None:
        wait = 0.001
        while True:
            with self._handover:
                if not (self._incoming or self._events or self._stopping):
                    self._handover.wait(wait)
                if self._stopping:
                    return
                incoming, self._incoming = self._incoming, []
                events, self._events = self._events, []
            try:
                for task in incoming:
                    self._group_of(task).queue.append(task)
                progressed = self._collect()
                for event in events:
                    self._handle(*event)
                progressed |= self._dispatch()
                self._scale()
            except BaseException:  # noqa: BLE001 - one bad message or submit must not stop every other call
                log.exception("category workers: an error the fleet survived")
                progressed = False
            wait = 0.001 if progressed or incoming else min(0.02, wait * 2)

    def _group_of(self, task: Task) -> Group:
        assert task.worker_wrapper is not None
        key = (task.category, task.size, task.worker_wrapper)
        if key not in self._groups:
            self._groups[key] = Group(task.category, task.size, task.worker_wrapper)
        return self._groups[key]

    def _live(self) -> list[WorkerJob]:
        return [w for w in self._workers.values() if not w.ended]

    # ---- results -------------------------------------------------------------------------------

    def _collect(self) -> bool:
        progressed = False
        for worker in self._live():
            progressed |= self._read_outbox(worker)
        return progressed

    def _read_outbox(self, worker: WorkerJob) -> bool:
        progressed = False
        while True:
            path = self.run_dir / outbox_name(worker.name, worker.next_out)
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                return progressed
            path.unlink()
            worker.next_out += 1
            progressed = True
            try:
                message = pickle.loads(data)
                if message.get("version") != PROTOCOL:
                    raise ValueError(f"protocol version {message.get('version')!r}, expected {PROTOCOL}")
            except Exception as exc:  # noqa: BLE001
                log.error("worker %s (job %s) sent an unreadable message: %s", worker.name, worker.job_id, exc)
                continue
            self._take_message(worker, message)

    def _take_message(self, worker: WorkerJob, message: dict) -> None:
        if "hello" in message:
            worker.started, worker.host = True, str(message["hello"].get("host", ""))
            worker.group.start_failures = 0
        self.stats["mailbox_ops"] += max(0, int(message.get("ops", 0)) - worker.ops)
        worker.ops = max(worker.ops, int(message.get("ops", 0)))
        for seq in range(worker.unlinked_in, int(message.get("consumed", -1)) + 1):
            (self.run_dir / inbox_name(worker.name, seq)).unlink(missing_ok=True)
            worker.unlinked_in = seq + 1
        finished = [(task, result) for result in message.get("results", ())
                    if (task := worker.in_flight.pop(result.get("id"), None)) is not None]
        samples = [self._measured(worker, task, result) for task, result in finished if result.get("usage")]
        if samples:  # learned before any future resolves: whoever waits on one sees its sample stored
            try:
                self.core.record_samples(samples)
            except Exception:  # noqa: BLE001 - a store that cannot take them must not lose the results
                log.exception("category workers: could not store %d per-call samples", len(samples))
        for task, result in finished:
            self._guarded(task, self._finish_call, worker, task, result)
        if "bye" in message:
            worker.leaving = True
            self._requeue(worker, count_retry=False, why="")

    def _guarded(self, task: Task, step: Callable[..., None], *args: object) -> None:
        """Run ``step`` for one call so that whatever it raises — a done callback raising SystemExit, say —
        ends only that call (if it has not ended) and never the fleet's thread or the other results."""
        try:
            step(*args)
        except BaseException as exc:  # noqa: BLE001
            log.exception("category workers: handling call %s raised", task.id)
            if not task.future.done():
                self.core.fail(task, JobFailed(f"condorexec could not handle call {task.id}'s result: "
                                               f"{type(exc).__name__}: {exc}"))

    def _measured(self, worker: WorkerJob, task: Task, result: dict) -> Sample:
        """The call's usage as the worker measured it: a sample of its own, and its group's wall time."""
        usage = result["usage"]
        wall = float(usage.get("wall_s", 0.0))
        group = worker.group
        group.wall = running_mean(group.wall, wall)
        self.stats["worker_calls"] += 1
        return Sample(
            category=task.category, job_id=f"{self.core.profile.history_source}/{worker.job_id}/{task.id}",
            cores=float(usage.get("cpu_s", 0.0)) / wall if wall > 0 else 0.0,
            memory_mb=float(usage.get("peak_rss_kib", 0)) / 1024, disk_mb=float(usage.get("disk_kib", 0)) / 1024,
            wall_s=wall, exhausted=result.get("exhausted"), completed_at=time.time())

    def _finish_call(self, worker: WorkerJob, task: Task, result: dict) -> None:
        usage = result.get("usage") or {}
        exhausted = result.get("exhausted")
        peak_mb = float(usage.get("peak_rss_kib", 0)) / 1024 or None
        where = f"worker job {worker.job_id}"
        for name, data in (result.get("streams") or {}).items():
            if name in STREAMS and data:  # kept where a call's own job leaves them, for messages
                task.task_dir.mkdir(parents=True, exist_ok=True)
                (task.task_dir / name).write_bytes(data)
        if exhausted in ("memory", "disk"):
            subcode = HoldSubCode.MEMORY if exhausted == "memory" else HoldSubCode.DISK
            decision = holds.decide(task, where, HoldCode.JOB_OUT_OF_RESOURCES, subcode, str(result.get("error")),
                                    used=peak_mb, sizer=self.core.sizer, max_retries=self.config.max_retries,
                                    autolabel=self.config.autolabel, stderr_tail=self.core.stderr_tail(task))
            if isinstance(decision, holds.Retry):
                task.retries += 1
                self.core.stats["retries"] += 1
                log.info("%s: call %s exhausted %s %s; retrying with %s", where, task.id, exhausted,
                         task.size.get(exhausted), decision.size.get(exhausted))
                task.size = decision.size
                self._group_of(task).queue.appendleft(task)
            else:
                self.core.fail(task, decision.error)
            return
        if result.get("outcome") is None:
            self.core.fail(task, JobFailed(f"call {task.id} in {where} on {worker.host}: {result.get('error')}"
                                           f"{self.core.stderr_tail(task)}"))
            return
        try:
            outcome = decode_outcome(result["outcome"])
        except Exception as exc:  # noqa: BLE001 - unpickling a result can raise anything
            self.core.fail(task, JobFailed(f"call {task.id} in {where}: unreadable result: "
                                           f"{type(exc).__name__}: {exc}"))
            return
        self.core.resolve(task, outcome, f"{worker.job_id}/call {task.id}")

    # ---- handing out calls ---------------------------------------------------------------------

    def _target(self, group: Group) -> int:
        if group.wall is None:
            return MIN_IN_FLIGHT
        return max(MIN_IN_FLIGHT, min(MAX_IN_FLIGHT, int(TARGET_SECONDS / max(group.wall, 1e-4))))

    def _dispatch(self) -> bool:
        sent = False
        for group in self._groups.values():
            if not group.queue:
                continue
            ready = [w for w in self._live() if w.group is group and w.started and not w.leaving]
            if not ready:
                continue
            waiting = len(group.queue) + sum(len(w.in_flight) for w in ready)
            hold = min(self._target(group), math.ceil(waiting / len(ready)))
            for worker in sorted(ready, key=lambda w: len(w.in_flight)):
                room = hold - len(worker.in_flight)
                if not group.queue or room <= 0 or (worker.in_flight and room < hold // 2):
                    continue
                batch = [group.queue.popleft() for _ in range(min(room, len(group.queue)))]
                self._send(worker, batch)
                sent = True
        return sent

    def _send(self, worker: WorkerJob, batch: list[Task]) -> None:
        calls = []
        for task in batch:
            plan = task.plan
            try:
                if plan.inputs or plan.outputs or plan.collect:  # files travel through its directory
                    task.task_dir.mkdir(parents=True, exist_ok=True)
                payload = task.payload if task.payload is not None else (task.task_dir / PAYLOAD_NAME).read_bytes()
                calls.append({"id": task.id, "payload": payload, "dir": f"tasks/{task.id}",
                              "inputs": _link_inputs(task, self.chirp), "outputs": sorted(plan.outputs),
                              "prefixes": [prefix for prefix, _ in plan.collect]})
            except OSError as exc:
                self.core.fail(task, JobFailed(f"could not hand call {task.id} to a worker: {exc}"))
                continue
            task.worker = worker.name
            worker.in_flight[task.id] = task
        if not calls:
            return
        path = self.run_dir / inbox_name(worker.name, worker.next_in)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(pickle.dumps({"version": PROTOCOL, "calls": calls}))
        os.replace(tmp, path)  # the worker never reads half a message
        worker.next_in += 1

    def _requeue(self, worker: WorkerJob, *, count_retry: bool, why: str) -> None:
        """Put a worker's unfinished calls back at the front of their queue (or fail those out of retries)."""
        tasks, worker.in_flight = list(worker.in_flight.values()), {}
        for task in reversed(tasks):
            task.worker = None
            if count_retry:
                task.retries += 1
                self.core.stats["retries"] += 1
                if task.retries > self.config.max_retries:
                    self.core.fail(task, JobFailed(f"{why}; call {task.id} was in it, and has been tried "
                                                   f"{task.retries} times (max_retries={self.config.max_retries})"))
                    continue
            worker.group.queue.appendleft(task)

    # ---- job events (queued by the tracker, handled here) --------------------------------------

    def _handle(self, kind: str, job_id: str, *details: object) -> None:
        worker = self._by_job.get(job_id)
        if worker is None or worker.ended:
            return
        if kind == "execute":
            return
        worker.ended = True
        self._read_outbox(worker)  # results it sent before it went count as results
        if kind == "terminated":
            code = details[0]
            if code == CHIRP_UNAVAILABLE:
                self._chirp_unavailable(worker)
                return
            why = f"worker job {job_id} ended (exit code {code})"
            self._ended_early(worker, why)
            self._requeue(worker, count_retry=not worker.leaving and code != 0, why=why)
            return
        self._remove(job_id)
        if kind == "held":
            code, subcode, reason = details
            why = f"worker job {job_id} was held (HoldReasonCode {code}, subcode {subcode}): {reason}"
            self._ended_early(worker, why)
            if holds.exhausted(code, subcode, reason) is not None and worker.in_flight:
                # calls run in the order they were handed over: the first unfinished one outgrew the worker
                first = next(iter(worker.in_flight.values()))
                del worker.in_flight[first.id]
                self._requeue(worker, count_retry=False, why=why)
                self._finish_call(worker, first, {"exhausted": holds.exhausted(code, subcode, reason),
                                                  "error": reason, "usage": {}})
                return
            self._requeue(worker, count_retry=True, why=why)
        else:  # removed, or evicted (a worker is one incarnation: a restarted one would not know its place)
            what = "removed" if kind == "aborted" else "evicted"
            why = f"worker job {job_id} was {what}: {details[0] if details else ''}"
            self._ended_early(worker, why)
            self._requeue(worker, count_retry=True, why=why)

    def _ended_early(self, worker: WorkerJob, why: str) -> None:
        if not worker.started:
            worker.group.start_failures += 1
            worker.group.last_failure = why

    def _remove(self, job_id: str) -> None:
        try:
            self.pool.act(htcondor2.JobAction.Remove, [job_id])
        except Exception as exc:  # noqa: BLE001
            log.warning("could not remove worker job %s: %s", job_id, exc)

    def _chirp_unavailable(self, worker: WorkerJob) -> None:
        err = _tail(self.run_dir / "workers" / worker.name / "worker.err")
        self.unavailable = (f"worker job {worker.job_id} could not use chirp, so category workers cannot reach "
                            f"their mailbox on this pool: {err or 'no message'}")
        log.warning("%s; calls run as their own jobs instead", self.unavailable)
        self._requeue(worker, count_retry=False, why="")
        for group in self._groups.values():
            for other in self._live():
                if other.group is group:
                    self._requeue(other, count_retry=False, why="")
            tasks, group.queue = list(group.queue), collections.deque()
            self.core.run_per_call(tasks)

    # ---- scaling -------------------------------------------------------------------------------

    def _capacity(self, size: Resources) -> int:
        """How many workers of ``size`` the pool's machines hold at once (at least one)."""
        def fits(machine: Machine) -> int:
            counts = [machine.cores // max(size.cores, 1), machine.memory // self._request_memory(size),
                      machine.disk // max(size.disk, 1)]
            if size.gpus:
                counts.append(machine.gpus // size.gpus)
            return max(0, min(counts))

        total = max(1, sum(fits(m) for m in self.machines()))
        return min(total, self.config.max_workers) if self.config.max_workers else total

    def _request_memory(self, size: Resources) -> int:
        """The worker's memory request: its calls' size and its own, but never more than the largest
        machine has (a call sized to a whole machine gets a worker sized to it too)."""
        largest = max(machine.memory for machine in self.machines())
        return min(size.memory + WORKER_MEMORY_MB, max(largest, size.memory))

    def _scale(self) -> None:
        for group in self._groups.values():
            if not group.queue:
                continue
            if group.start_failures >= MAX_START_FAILURES:
                log.warning("category workers of %s keep failing before they start (%s); its calls run as "
                            "their own jobs", group.category, group.last_failure)
                group.start_failures = 0
                tasks, group.queue = list(group.queue), collections.deque()
                self.core.run_per_call(tasks)
                continue
            live = [w for w in self._live() if w.group is group and not w.leaving]
            starting = sum(1 for w in live if not w.started)
            wanted = min(self._capacity(group.size) - len(live), len(group.queue) - starting)
            if wanted > 0:
                self._submit(group, wanted)

    def _submit(self, group: Group, count: int) -> None:
        names = [f"w{next(self._names)}" for _ in range(count)]
        for name in names:
            for box in ("in", "out"):
                (self.run_dir / "workers" / name / box).mkdir(parents=True, exist_ok=True)
        context = {
            "batch_name": self.core.batch_name, "wrapper": str(group.wrapper.path),
            "wrapper_inputs": group.wrapper.extra_inputs, "runner": str(self.core.runner_path),
            "worker": str(WORKER_PATH), "extra_inputs": _chirp_client() if self.chirp else "",
            "run_dir": str(self.run_dir), "log": str(self.core.log_path), "chirp": self.chirp,
            "idle_seconds": self.config.worker_idle_timeout,
            "mailbox_args": "--chirp" if self.chirp else f"--root {self.run_dir}",
            "run_id": self.core.run_token, "lease_attr": LEASE_ATTR,
            "lease_expires": lease_value(time.time(), self.config.lease_seconds),
            "lease_remove": lease_periodic_remove(), "requirements": claim_fits_requirements(),
        }
        size = group.size
        rows = [{key: render.check_item_value(key, value) for key, value in (
                    ("ce_worker", name), ("ce_category", group.category), ("ce_cpus", str(size.cores)),
                    ("ce_memory_mb", str(self._request_memory(size))), ("ce_call_memory_mb", str(size.memory)),
                    ("ce_disk_mb", str(size.disk)), ("ce_gpus", str(size.gpus)))}
                for name in names]
        try:
            description = render.worker_description(context)
            with self._handover:  # job ids known before any of their events is looked up
                result = self.pool.submit(description, itemdata=rows)
                for name, job_id in zip(names, result.job_ids(), strict=True):
                    worker = WorkerJob(name, group, job_id)
                    self._workers[name] = worker
                    self._by_job[job_id] = worker
        except Exception as exc:  # noqa: BLE001 - the group's calls must learn why
            log.error("could not submit workers for %s: %s", group.category, exc)
            tasks, group.queue = list(group.queue), collections.deque()
            for task in tasks:
                self.core.fail(task, JobFailed(f"could not submit a category worker for this call: {exc}"))
            return
        self.stats["workers"] += count
        self.stats["worker_clusters"] += 1


def _link_inputs(task: Task, chirp: bool) -> list[str]:
    """Each input file as ``tasks/T/inputs/NAME``, so the worker names it relative to the run directory,
    never by the submit side's own path: a symbolic link where the shadow opens it for the worker (chirp),
    else a hard link or a copy (a worker that opens it itself may see nothing outside the run directory)."""
    names = []
    if task.plan.inputs:
        directory = task.task_dir / "inputs"
        directory.mkdir(exist_ok=True)
        for source in task.plan.inputs:
            name = os.path.basename(source.rstrip("/"))
            link = directory / name
            if not os.path.lexists(link):
                if chirp:
                    link.symlink_to(os.path.abspath(source))
                else:
                    try:
                        os.link(source, link)
                    except OSError:  # another filesystem, or a directory
                        copy = shutil.copytree if os.path.isdir(source) else shutil.copy2
                        copy(source, link)
            names.append(name)
    return names


def _chirp_client() -> str:
    """The htchirp package directory, shipped with every worker on a chirp pool (it is pure Python)."""
    import htchirp

    return "," + render.check_transfer_path("htchirp", os.path.dirname(os.path.abspath(htchirp.__file__)))


def _tail(path: Path, lines: int = 5) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except OSError:
        return ""
