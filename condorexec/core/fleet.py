"""Slot workers, submit side: what each worker is handed, what size of worker to ask for, when one gives
its slot back, and what happens when one is lost (docs/design.md §7).

A worker is one HTCondor job holding a share of a machine (``request_cpus/memory/disk/gpus``) that runs
calls of any category and size side by side as they fit (``condorexec/worker.py``). The fleet keeps one
queue of waiting calls, in the order they came (retries first); the decisions are ``core/packing.py``'s:
a call goes to a worker where it starts at once, or (a known-short call) where it is next; a call that
fits no worker gets a new worker sized to what waits, within one scaling step; a worker with nothing to
run while calls wait that it cannot fit is told to leave at once, and workers are drained to make room
on a machine for a call that fits none. ``worker_idle_timeout`` applies only when nothing waits.

Everything here happens on the fleet's one thread: calls and job events are handed over to it, so the
state below needs no lock beyond the hand-over. Mailboxes are directories in the run directory
(``worker.inbox_name`` / ``worker.outbox_name``): the fleet writes a batch of calls as one file and reads
each batch of results as one file, so one chirp round trip of the worker carries many calls.

Why one module of this size: it is one thread's state (the workers, the waiting calls, their sizes) and
every method reads and changes it without a lock; split across modules, that state would need a door of
its own. What can stand alone already does: the decisions are ``core/packing.py``'s pure functions, the
node side is ``worker.py``, the core's side of the seam is the ``FleetHost`` protocol.
"""

from __future__ import annotations

import collections
import itertools
import logging
import os
import pickle
import shutil
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import htcondor2

from condorexec import names, render
from condorexec.condorfacts import (
    HoldCode,
    HoldSubCode,
    claim_fits_requirements,
    lease_periodic_remove,
    lease_value,
    run_constraint,
)
from condorexec.core import holds, packing
from condorexec.core.calls import Task, Wrapper
from condorexec.core.config import CoreConfig
from condorexec.errors import JobFailed
from condorexec.labels.store import Sample
from condorexec.payload import PAYLOAD_NAME, Outcome, decode_outcome
from condorexec.pools.base import Machine, Pool, PoolProfile
from condorexec.resources import Resources
from condorexec.worker import CHIRP_UNAVAILABLE, PROTOCOL, STREAMS, SYS_PATH_NAME, inbox_name, outbox_name

log = logging.getLogger(__name__)

WORKER_PATH = Path(__file__).resolve().parent.parent / "worker.py"

#: seconds the fleet's thread waits at most between two looks at the outboxes, while workers hold calls
#: (each look is a failed open per worker) and while none does
BUSY_POLL_S, IDLE_POLL_S = 0.004, 0.05
#: seconds of work per core a worker may hold before it is handed known-short calls beyond what it can
#: start at once: enough to hide a mailbox round trip (a few ms; tens over a busy chirp) behind calls of a
#: millisecond, not so much that calls whose length was misjudged pile up in one worker while others idle
TARGET_SECONDS = 0.05
#: a category's expected call length is the longest of its last this many calls in workers (a misjudged
#: length queues calls behind others; a longest-of-recent judges long rather than short)
WALL_SAMPLES = 5
#: seconds a call of a category never measured counts as, in the work a worker holds
UNKNOWN_WALL_S = 60.0
#: calls a worker holds at most (one message's worth)
MAX_IN_FLIGHT = 256
#: worker jobs of an environment that end before they reach their mailbox, in a row, before its calls
#: go as their own jobs instead (where they meet the same problem and fail with HTCondor's own reason)
MAX_START_FAILURES = 3
#: MB a worker requests on top of what its calls may use, for itself (an interpreter with cloudpickle,
#: ~20 MB, and one idle call process forked from it, counted again where a pool sums its processes'
#: resident sizes): a call gets all of its size, as it would in a job of its own
WORKER_MEMORY_MB = 64
#: seconds a call that fits no worker and no machine's free room waits before workers are drained for it,
#: in job starts of the pool (a worker about to be given back, or a call about to end, may make room first)
DRAIN_AFTER_STARTS = 2.0
#: seconds demand gathers between two scale-ups for calls that running workers fit (calls arrive one by one),
#: two job starts of the pool within these bounds
SCALE_PERIOD_MIN_S, SCALE_PERIOD_MAX_S = 0.1, 2.0
#: seconds between two rounds of scaling, giving back and rebalancing (each looks at every worker)
HOUSEKEEPING_S = 0.01
#: job starts of the pool a per-call job of the run may wait to start before idle workers give their
#: slots back for it (a job waits a negotiation cycle anyway; after that, idle capacity must not block it)
JOB_WAIT_STARTS = 2.0
#: seconds a worker that has not started yet is kept while nothing waits that it could run
UNNEEDED_GRACE_S = 2.0


class FleetHost(Protocol):
    """What the fleet needs of the core that owns it (``core/engine.py``'s ``Core``), and nothing more."""

    pool: Pool
    config: CoreConfig
    profile: PoolProfile
    work_dir: Path
    batch_name: str
    run_token: str
    log_path: Path
    runner_path: Path
    fast_launch: bool
    sizer: Any

    def resolve(self, task: Task, outcome: Outcome, job_id: str) -> None: ...
    def fail(self, task: Task, exc: BaseException) -> None: ...
    def run_per_call(self, tasks: list[Task]) -> None: ...
    def placed_in_workers(self, placements: list[tuple[Task, str, str]]) -> None: ...
    def results_taken(self, message: Path) -> None: ...
    def record_samples(self, samples: list[Sample]) -> None: ...
    def note_retry(self) -> None: ...
    def per_call_waiting_since(self) -> float | None: ...
    def stderr_tail(self, task: Task) -> str: ...


# ---- what the event tracker tells the fleet about a worker's job (typed, not strings) ----------------

@dataclass(frozen=True)
class Terminated:
    exit_code: int | None


@dataclass(frozen=True)
class Held:
    code: int | None
    subcode: int | None
    reason: str


@dataclass(frozen=True)
class Removed:
    reason: str


@dataclass(frozen=True)
class Evicted:
    pass


JobEnded = Terminated | Held | Removed | Evicted


@dataclass(eq=False)
class WorkerJob:
    """One worker job and what it holds."""

    name: str
    env: Wrapper
    size: Resources  # what its calls may use together
    request: Resources  # what its job asks HTCondor for: that, and the worker's own memory
    job_id: str = ""
    submitted: float = field(default_factory=time.monotonic)
    started: bool = False  # its first message (hello) arrived
    leaving: bool = False  # told to stop, removed, or it said it is leaving: hand it nothing more
    draining: bool = False  # what waits needs its share of the machine: hand it nothing more
    ended: bool = False  # its job left the slot
    in_flight: dict[int, Task] = field(default_factory=dict)  # in the order it was handed them
    work: dict[int, float] = field(default_factory=dict)  # each call's expected core-seconds
    work_total: float = 0.0  # their sum
    recalled: set[int] = field(default_factory=set)  # calls asked back, not yet returned
    committed: Resources = packing.ZERO
    next_in: int = 0
    next_out: int = 0
    unlinked_in: int = 0
    ops: int = 0
    host: str = ""
    machine: int | None = None  # which of the pool's machines it sits on, once known (its RemoteHost)
    most_at_once: int = 0  # calls it held at once, at most

    def offer(self) -> packing.Offer:
        return packing.Offer(self.name, self.size, self.committed, self.work_total / max(self.size.cores, 1),
                             len(self.in_flight))

    def take(self, task: Task, wall: float) -> None:
        self.in_flight[task.id] = task
        self.work[task.id] = work = wall * max(task.size.cores, 1)
        self.work_total += work
        self.committed = packing.plus(self.committed, task.size)
        self.most_at_once = max(self.most_at_once, len(self.in_flight))

    def give(self, task_id: int) -> Task | None:
        task = self.in_flight.pop(task_id, None)
        self.work_total = max(0.0, self.work_total - self.work.pop(task_id, 0.0)) if self.work else 0.0
        self.recalled.discard(task_id)
        if task is not None:
            self.committed = packing.minus(self.committed, task.size)
        return task

    def give_all(self) -> list[Task]:
        tasks = list(self.in_flight.values())
        self.in_flight, self.work, self.work_total, self.committed = {}, {}, 0.0, packing.ZERO
        self.recalled = set()
        return tasks


class WorkerFleet:
    """Runs a core's worker-bound calls on slot workers; see the module docstring."""

    def __init__(self, host: FleetHost, machines: Callable[[], list[Machine]]):
        self.host, self.pool, self.config = host, host.pool, host.config
        self.run_dir = host.work_dir
        self.machines = machines
        self.chirp = host.profile.worker_mailbox == "chirp"
        self.unavailable: str | None = None
        self.stats = {"workers": 0, "worker_clusters": 0, "worker_calls": 0, "mailbox_ops": 0,
                      "given_back": 0, "drained": 0, "recalled": 0, "most_calls_in_one_worker": 0}
        self._waiting: collections.deque[Task] = collections.deque()
        self._demand: dict[Wrapper, collections.Counter[Resources]] = collections.defaultdict(collections.Counter)
        self._shape: dict[Wrapper, Resources] = collections.defaultdict(lambda: packing.ZERO)
        self._shapes_seen: set[tuple[Wrapper, Resources]] = set()
        self._blocked_since: dict[tuple[Wrapper, Resources], float] = {}
        self._last_wanted: dict[Wrapper, float] = {}
        self._last_scaled: dict[Wrapper, float] = {}
        self._located_at = 0.0
        self._walls: dict[str, collections.deque[float]] = collections.defaultdict(
            lambda: collections.deque(maxlen=WALL_SAMPLES))
        self._start_failures: collections.Counter[Wrapper] = collections.Counter()
        self._last_failure: dict[Wrapper, str] = {}
        self._workers: dict[str, WorkerJob] = {}
        self._by_job: dict[str, WorkerJob] = {}
        self._names = itertools.count()
        self._handover = threading.Condition()
        self._incoming: list[Task] = []
        self._events: list[tuple[str, JobEnded]] = []
        self._stopping = False
        self._thread = threading.Thread(target=self._loop, name=f"{host.batch_name}-workers", daemon=True)

    # ---- called from other threads -------------------------------------------------------------

    def start(self) -> None:
        (self.run_dir / names.WORKERS_DIR).mkdir(exist_ok=True)
        if self.host.fast_launch:  # per-call jobs here fork from this interpreter and import what it can
            (self.run_dir / SYS_PATH_NAME).write_text("".join(os.path.abspath(p or ".") + "\n" for p in sys.path))
        self._thread.start()

    def note_sizes(self, tasks: list[Task]) -> None:
        """Calls sized for this run, wherever they go: the shape of the workers to come (the most memory
        and disk per core of any call) follows all of them, not only those that reached a worker first."""
        with self._handover:
            for task in tasks:
                if task.worker_wrapper is not None:
                    self._note_shape(task)

    def _note_shape(self, task: Task) -> None:
        key = (_env(task), task.size)
        if key not in self._shapes_seen:  # thousands of calls, a few sizes
            self._shapes_seen.add(key)
            self._shape[key[0]] = packing.at_least(self._shape[key[0]], packing.per_core(task.size))

    def enqueue(self, tasks: list[Task]) -> None:
        with self._handover:
            self._incoming.extend(tasks)
            self._handover.notify()

    def owns(self, job_id: str) -> bool:
        with self._handover:
            return job_id in self._by_job

    def event(self, job_id: str, ended: JobEnded) -> bool:
        """How the job ``job_id`` left its slot, from the tracker; False if the job is not a worker's."""
        with self._handover:
            if job_id not in self._by_job:
                return False
            self._events.append((job_id, ended))
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
        wait, housekept = 0.001, 0.0
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
                    self._wait(task)
                progressed = self._collect()
                for job_id, ended in events:
                    self._handle(job_id, ended)
                progressed |= self._dispatch()
                now = time.monotonic()
                if events or now - housekept > HOUSEKEEPING_S:  # not at every result: at pilot speed
                    housekept = now                             # that is thousands of times a second
                    self._rebalance()
                    self._scale()
                    self._give_back()
            except BaseException:  # noqa: BLE001 - one bad message or submit must not stop every other call
                log.exception("workers: an error the fleet survived")
                progressed = False
            busy = any(w.in_flight for w in self._workers.values())  # a result may come any moment
            wait = 0.001 if progressed or incoming else min(BUSY_POLL_S if busy else IDLE_POLL_S, wait * 2)

    def _wait(self, task: Task, first: bool = False) -> None:
        """``task`` waits for a worker (``first``: ahead of the others, as a retry does)."""
        task.worker = None
        if first:
            self._waiting.appendleft(task)
        else:
            self._waiting.append(task)
        self._demand[_env(task)][task.size] += 1
        self._note_shape(task)

    def _unwait(self, task: Task) -> None:
        counter = self._demand[_env(task)]
        counter[task.size] -= 1
        if counter[task.size] <= 0:
            del counter[task.size]

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
            worker.next_out += 1
            progressed = True
            try:
                message = pickle.loads(data)
                if message.get("version") != PROTOCOL:
                    raise ValueError(f"protocol version {message.get('version')!r}, expected {PROTOCOL}")
            except Exception as exc:  # noqa: BLE001
                log.error("worker %s (job %s) sent an unreadable message: %s", worker.name, worker.job_id, exc)
                path.unlink()
                continue
            self._take_message(worker, message)
            self.host.results_taken(path)  # deletes the message (in a named workflow, once its ends are kept)

    def _take_message(self, worker: WorkerJob, message: dict) -> None:
        if "hello" in message:
            worker.started, worker.host = True, str(message["hello"].get("host", ""))
            self._start_failures[worker.env] = 0
        self.stats["mailbox_ops"] += max(0, int(message.get("ops", 0)) - worker.ops)
        worker.ops = max(worker.ops, int(message.get("ops", 0)))
        for seq in range(worker.unlinked_in, int(message.get("consumed", -1)) + 1):
            (self.run_dir / inbox_name(worker.name, seq)).unlink(missing_ok=True)
            worker.unlinked_in = seq + 1
        finished = [(task, result) for result in message.get("results", ())
                    if (task := worker.give(result.get("id"))) is not None]
        samples = [self._measured(worker, task, result) for task, result in finished if result.get("usage")]
        if samples:  # learned before any future resolves: whoever waits on one sees its sample stored
            try:
                self.host.record_samples(samples)
            except Exception:  # noqa: BLE001 - a store that cannot take them must not lose the results
                log.exception("workers: could not store %d per-call samples", len(samples))
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
            log.exception("workers: handling call %s raised", task.id)
            if not task.future.done():
                self.host.fail(task, JobFailed(f"condorexec could not handle call {task.id}'s result: "
                                               f"{type(exc).__name__}: {exc}"))

    def _measured(self, worker: WorkerJob, task: Task, result: dict) -> Sample:
        """The call's usage as the worker measured it: a sample of its own, and its category's wall time."""
        usage = result["usage"]
        wall = float(usage.get("wall_s", 0.0))
        self._walls[task.category].append(wall)
        self.stats["worker_calls"] += 1
        return Sample(
            category=task.category, job_id=f"{self.host.profile.history_source}/{worker.job_id}/{task.id}",
            cores=float(usage.get("cpu_s", 0.0)) / wall if wall > 0 else 0.0,
            memory_mb=float(usage.get("peak_rss_kib", 0)) / 1024, disk_mb=float(usage.get("disk_kib", 0)) / 1024,
            wall_s=wall, exhausted=result.get("exhausted"), completed_at=time.time())

    def _finish_call(self, worker: WorkerJob, task: Task, result: dict) -> None:
        if result.get("returned"):  # not run: asked back, or too big for the worker; it waits for another
            self._wait(task, first=True)
            return
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
                                    used=peak_mb, sizer=self.host.sizer, max_retries=self.config.max_retries,
                                    autolabel=self.config.autolabel, stderr_tail=self.host.stderr_tail(task))
            if isinstance(decision, holds.Retry):
                task.retries += 1
                self.host.note_retry()
                log.info("%s: call %s exhausted %s %s; retrying with %s", where, task.id, exhausted,
                         task.size.get(exhausted), decision.size.get(exhausted))
                task.size = decision.size
                self._wait(task, first=True)
            else:
                self.host.fail(task, decision.error)
            return
        if result.get("outcome") is None:
            self.host.fail(task, JobFailed(f"call {task.id} in {where} on {worker.host}: {result.get('error')}"
                                           f"{self.host.stderr_tail(task)}"))
            return
        try:
            outcome = decode_outcome(result["outcome"])
        except Exception as exc:  # noqa: BLE001 - unpickling a result can raise anything
            self.host.fail(task, JobFailed(f"call {task.id} in {where}: unreadable result: "
                                           f"{type(exc).__name__}: {exc}"))
            return
        self.host.resolve(task, outcome, f"{worker.job_id}/call {task.id}")

    # ---- handing out calls ---------------------------------------------------------------------

    def _wall(self, category: str) -> float | None:
        """How long a call of ``category`` is expected to take, for packing: the longest of its last few
        calls in workers, not the mean (labels.learning keeps the category's mean, for auto mode), because
        a length judged too short queues calls behind others where one judged too long costs only a
        message more."""
        recent = self._walls.get(category)
        return max(recent) if recent else None


    def _dispatch(self) -> bool:
        """Hand waiting calls to the workers that can take them, in the order they wait. A call that no
        worker can start now reserves the one it fits best once running calls end (that worker is handed
        nothing more meanwhile), so big calls are never passed for good by small ones."""
        open_ = {w.name: w for w in self._live() if w.started and not w.leaving and not w.draining
                 and (w.work_total / max(w.size.cores, 1) <= TARGET_SECONDS / 2 or w.committed.cores < w.size.cores)}
        # (a worker well stocked with calls it cannot start yet is topped up only once half of that is done:
        # fewer, larger messages at pilot speed)
        if not open_ or not self._waiting:
            return False
        batches: dict[str, list[Task]] = collections.defaultdict(list)
        blocked: set[tuple[Wrapper, Resources]] = set()
        kept: collections.deque[Task] = collections.deque()
        while self._waiting and open_:
            task = self._waiting.popleft()
            key = (_env(task), task.size)
            if key in blocked:
                kept.append(task)
                continue
            offers = [w.offer() for w in open_.values() if w.env == key[0]]
            wall = self._wall(task.category)
            chosen = packing.choose_worker(task.size, offers, known_seconds=wall,
                                           target_seconds=TARGET_SECONDS, max_holding=MAX_IN_FLIGHT)
            if chosen is None:
                blocked.add(key)
                kept.append(task)
                if len(blocked) >= sum(len(sizes) for sizes in self._demand.values()):
                    break  # every size that waits is blocked: the rest wait too
                fitting = [o for o in offers if task.size.fits_in(o.size)]
                if fitting:  # reserved: the one with the most room drains into it
                    del open_[max(fitting, key=lambda o: o.free.ordering_key()).key]
                continue
            worker = open_[str(chosen)]
            self._unwait(task)
            worker.take(task, wall if wall is not None else UNKNOWN_WALL_S)
            batches[worker.name].append(task)
            if len(worker.in_flight) >= MAX_IN_FLIGHT:
                del open_[worker.name]
        kept.extend(self._waiting)
        self._waiting = kept
        # where each call goes, kept before any worker can see it (one transaction for the pass)
        self.host.placed_in_workers([(task, self._workers[name].job_id, name)
                                     for name, batch in batches.items() for task in batch])
        for name, batch in batches.items():
            self._send(self._workers[name], batch)
        return bool(batches)

    def _rebalance(self) -> None:
        """Nothing waits, yet some worker holds calls it cannot start yet while another has room: ask the
        first for them back (those it has not started come back and go where they start at once)."""
        if self._waiting:
            return
        free = [w for w in self._live() if w.started and not w.leaving and not w.draining
                and w.committed.cores < w.size.cores]
        if not free:
            return
        for worker in self._live():
            excess = worker.committed.cores - worker.size.cores
            if worker.leaving or excess <= 0 or worker.recalled:
                continue
            if not any(w is not worker and w.env == worker.env for w in free):
                continue
            ids = []
            for task_id in reversed(worker.in_flight):  # the newest were handed beyond what it runs at once
                if excess <= 0:
                    break
                ids.append(task_id)
                excess -= max(worker.in_flight[task_id].size.cores, 1)
            worker.recalled.update(ids)
            self._post(worker, {"version": PROTOCOL, "recall": ids})
            self.stats["recalled"] += len(ids)

    def _send(self, worker: WorkerJob, batch: list[Task]) -> None:
        calls = []
        for task in batch:
            plan = task.plan
            try:
                if plan.inputs or plan.outputs or plan.collect:  # files travel through its directory
                    task.task_dir.mkdir(parents=True, exist_ok=True)
                payload = task.payload if task.payload is not None else (task.task_dir / PAYLOAD_NAME).read_bytes()
                calls.append({"id": task.id, "payload": payload, "dir": f"{names.TASKS_DIR}/{task.id}",
                              "inputs": _link_inputs(task, self.chirp), "outputs": sorted(plan.outputs),
                              "prefixes": [prefix for prefix, _ in plan.collect],
                              "size": {"cores": task.size.cores, "memory": task.size.memory,
                                       "disk": task.size.disk, "gpus": task.size.gpus}})
            except OSError as exc:
                worker.give(task.id)
                self.host.fail(task, JobFailed(f"could not hand call {task.id} to a worker: {exc}"))
                continue
            task.worker = worker.name
        self.stats["most_calls_in_one_worker"] = max(self.stats["most_calls_in_one_worker"], worker.most_at_once)
        if calls:
            self._post(worker, {"version": PROTOCOL, "calls": calls})

    def _post(self, worker: WorkerJob, message: dict) -> None:
        path = self.run_dir / inbox_name(worker.name, worker.next_in)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(pickle.dumps(message))
        os.replace(tmp, path)  # the worker never reads half a message
        worker.next_in += 1

    def _requeue(self, worker: WorkerJob, *, count_retry: bool, why: str) -> None:
        """Put a worker's unfinished calls back at the front of the queue (or fail those out of retries)."""
        for task in reversed(worker.give_all()):
            if count_retry:
                task.retries += 1
                self.host.note_retry()
                if task.retries > self.config.max_retries:
                    self.host.fail(task, JobFailed(f"{why}; call {task.id} was in it, and has been tried "
                                                   f"{task.retries} times (max_retries={self.config.max_retries})"))
                    continue
            self._wait(task, first=True)

    # ---- job events (queued by the tracker, handled here) --------------------------------------

    def _handle(self, job_id: str, ended: JobEnded) -> None:
        worker = self._by_job.get(job_id)
        if worker is None or worker.ended:
            return
        worker.ended = True
        self._read_outbox(worker)  # results it sent before it went count as results
        deliberate = worker.leaving  # told to leave, or removed as unneeded: no failure of its own
        if isinstance(ended, Terminated):
            if ended.exit_code == CHIRP_UNAVAILABLE:
                self._chirp_unavailable(worker)
                return
            why = f"worker job {job_id} ended (exit code {ended.exit_code})"
            if not deliberate:
                self._ended_early(worker, why)
            self._requeue(worker, count_retry=not deliberate and ended.exit_code != 0, why=why)
            return
        self._remove(job_id)
        if isinstance(ended, Held):
            why = f"worker job {job_id} was held (HoldReasonCode {ended.code}, subcode {ended.subcode}): {ended.reason}"
            self._ended_early(worker, why)
            resource = holds.exhausted(ended.code, ended.subcode, ended.reason)
            if resource is not None and len(worker.in_flight) == 1:  # the one call it ran outgrew it
                (only,) = worker.give_all()
                self._finish_call(worker, only, {"exhausted": resource, "error": ended.reason, "usage": {}})
                return
            self._requeue(worker, count_retry=True, why=why)
            return
        what = "removed" if isinstance(ended, Removed) else "evicted"
        why = f"worker job {job_id} was {what}: {ended.reason if isinstance(ended, Removed) else ''}"
        if not deliberate:  # a worker is one incarnation: a restarted one would not know its place
            self._ended_early(worker, why)
        self._requeue(worker, count_retry=not deliberate, why=why)

    def _ended_early(self, worker: WorkerJob, why: str) -> None:
        if not worker.started:
            self._start_failures[worker.env] += 1
            self._last_failure[worker.env] = why

    def _remove(self, job_id: str) -> None:
        try:
            self.pool.act(htcondor2.JobAction.Remove, [job_id])
        except Exception as exc:  # noqa: BLE001
            log.warning("could not remove worker job %s: %s", job_id, exc)

    def _chirp_unavailable(self, worker: WorkerJob) -> None:
        err = _tail(self.run_dir / names.WORKERS_DIR / worker.name / names.WORKER_STDERR_NAME)
        self.unavailable = (f"worker job {worker.job_id} could not use chirp, so workers cannot reach "
                            f"their mailbox on this pool: {err or 'no message'}")
        log.warning("%s; calls run as their own jobs instead", self.unavailable)
        for other in self._live():
            self._requeue(other, count_retry=False, why="")
        self._requeue(worker, count_retry=False, why="")
        tasks, self._waiting = list(self._waiting), collections.deque()
        self._demand.clear()
        self.host.run_per_call(tasks)

    # ---- giving slots back ---------------------------------------------------------------------

    def _jobs_wait(self, now: float, starts: float) -> bool:
        """Whether one of the run's per-call jobs has waited ``starts`` job starts of the pool to start."""
        since = self.host.per_call_waiting_since()
        return since is not None and now - since > starts * self.host.profile.job_start_seconds

    def _give_back(self) -> None:
        """Tell a worker with nothing to run to leave at once when it is draining, when calls wait of which
        it can run none, or when one of the run's per-call jobs waits to start (it may need the slot);
        remove a worker that has not started while nothing waits for it. When a per-call job has waited
        long and no worker is idle, drain the worker holding the least work for it."""
        now = time.monotonic()
        jobs_wait = self._jobs_wait(now, JOB_WAIT_STARTS)
        for env, sizes in self._demand.items():
            if sizes:
                self._last_wanted[env] = now
        for worker in self._live():
            if worker.leaving:
                continue
            if not worker.started:
                if now - self._last_wanted.get(worker.env, worker.submitted) > UNNEEDED_GRACE_S and \
                        now - worker.submitted > UNNEEDED_GRACE_S:
                    worker.leaving = True
                    self._remove(worker.job_id)
                    self.stats["given_back"] += 1
                continue
            if worker.in_flight:
                continue
            useless = jobs_wait or (bool(self._waiting) and not any(
                size.fits_in(worker.size) for size in self._demand.get(worker.env, {})))
            if worker.draining or useless:
                worker.leaving = True
                self._post(worker, {"version": PROTOCOL, "stop": True})
                self.stats["given_back"] += 1
        if self._jobs_wait(now, DRAIN_AFTER_STARTS * JOB_WAIT_STARTS):
            busy = [w for w in self._live() if w.started and not w.leaving]
            if busy and not any(w.draining or (w.leaving and not w.ended) for w in self._live()):
                least = min(busy, key=lambda w: w.work_total)
                least.draining = True
                self.stats["drained"] += 1
                log.info("workers: draining %s to make room for the run's per-call jobs", least.name)

    # ---- scaling -------------------------------------------------------------------------------

    def _scale(self) -> None:
        """Ask for workers for the calls that wait and that the workers on their way will not hold. A size
        no worker fits gets one at once; otherwise demand gathers for a scaling period first (calls arrive
        one by one, and one worker for all of them beats one per call)."""
        if not self._waiting:
            self._blocked_since.clear()
            return
        now = time.monotonic()
        machines = self.machines()
        live = self._live()
        self._locate(live, machines)
        rooms, where = packing.placement(machines, [(w.name, w.request, w.machine)
                                                    for w in live])
        budget = (self.config.max_workers - len(live)) if self.config.max_workers else sys.maxsize
        for env, sizes in list(self._demand.items()):
            if not sizes:
                continue
            if self._start_failures[env] >= MAX_START_FAILURES:
                self._give_up_on(env)
                continue
            mine = [w for w in live if w.env == env and not w.leaving and not w.draining]
            uncovered = dict(sizes)
            for worker in mine:
                if not worker.started:
                    packing.absorb(uncovered, worker.size)
            if not uncovered:
                continue
            new_size = any(not any(size.fits_in(w.size) for w in mine) for size in uncovered)
            if not new_size and (now - self._last_scaled.get(env, 0.0) < self._scale_period
                                 or self._jobs_wait(now, JOB_WAIT_STARTS)):
                continue
            self._last_scaled[env] = now
            while budget > 0 and uncovered:
                index = self._roomiest(rooms, machines, uncovered)
                if index is None:
                    break
                usable = self._usable(rooms[index], machines[index])
                size = packing.widened(packing.absorb(uncovered, usable), self._shape[env], usable)
                request = _request(size, machines[index])
                self._submit(env, size, request)
                rooms[index] = packing.minus(rooms[index], request)
                budget -= 1
            unplaced = [size for size in uncovered if not any(size.fits_in(w.size) for w in mine)]
            if unplaced:
                self._make_room(env, max(unplaced, key=lambda s: s.ordering_key()), machines, live, rooms, where)

    def _locate(self, live: list[WorkerJob], machines: list[Machine]) -> None:
        """Learn which machine each running worker sits on (its job's RemoteHost), at most once a scaling
        period, so the model of the machines' room follows the negotiator's real placement."""
        unknown = {w.job_id: w for w in live if w.started and w.machine is None}
        now = time.monotonic()
        if not unknown or now - self._located_at < self._scale_period:
            return
        self._located_at = now
        try:
            ads = self.pool.query(f"{names.WORKER_ATTR} =!= undefined && {run_constraint(self.host.run_token)}",
                                  ["ClusterId", "ProcId", "RemoteHost"])
        except Exception as exc:  # noqa: BLE001 - the model falls back to first fit
            log.debug("workers: could not ask where the workers run: %s", exc)
            return
        for ad in ads:
            worker = unknown.get(f"{ad['ClusterId']}.{ad['ProcId']}")
            if worker is not None and ad.get("RemoteHost") is not None:
                worker.machine = packing.machine_of(str(ad["RemoteHost"]), machines)

    @property
    def _scale_period(self) -> float:
        return min(SCALE_PERIOD_MAX_S, max(SCALE_PERIOD_MIN_S, 2 * self.host.profile.job_start_seconds))

    def _usable(self, room: Resources, machine: Machine) -> Resources:
        """What a worker's calls may use of ``room``: all but the worker's own memory, or the whole
        machine (a call sized to all of it gets a worker sized to it: see _request)."""
        if room == machine.resources:
            return room
        return room.with_("memory", max(0, room.memory - WORKER_MEMORY_MB))

    def _roomiest(self, rooms: list[Resources], machines: list[Machine], waiting: dict[Resources, int]) -> int | None:
        """The machine with the most room in which one of the ``waiting`` calls fits (None: none)."""
        fitting = [i for i, room in enumerate(rooms)
                   if any(size.fits_in(self._usable(room, machines[i])) for size in waiting)]
        return max(fitting, key=lambda i: rooms[i].ordering_key()) if fitting else None

    def _make_room(self, env: Wrapper, largest: Resources, machines: list[Machine], live: list[WorkerJob],
                   rooms: list[Resources], where: dict[str, int]) -> None:
        """No worker fits ``largest`` and no machine has room for one that does: once it has waited long
        enough (a call about to end or a worker about to leave may make room first), drain workers for it."""
        key = (env, largest)
        now = time.monotonic()
        since = self._blocked_since.setdefault(key, now)
        if now - since < DRAIN_AFTER_STARTS * self.host.profile.job_start_seconds or \
                any(w.draining or (w.leaving and not w.ended) for w in live):
            return
        request = _request(largest, max(machines, key=lambda m: m.resources.ordering_key()))
        chosen = packing.to_drain(request, machines, rooms, [
            (w.name, w.request, where[w.name], w.work_total)
            for w in live if w.name in where and not w.leaving])
        for name in chosen:
            worker = self._workers[name]
            if not worker.started:
                worker.leaving = True
                self._remove(worker.job_id)
            else:
                worker.draining = True
            self.stats["drained"] += 1
        if chosen:
            log.info("workers: draining %d worker(s) to make room for a worker of %s", len(chosen), request)
        self._blocked_since.pop(key, None)

    def _give_up_on(self, env: Wrapper) -> None:
        log.warning("workers keep failing before they start (%s); their calls run as their own jobs",
                    self._last_failure.get(env, "no reason"))
        self._start_failures[env] = 0
        tasks = [t for t in self._waiting if t.worker_wrapper == env]
        self._waiting = collections.deque(t for t in self._waiting if t.worker_wrapper != env)
        self._demand.pop(env, None)
        self.host.run_per_call(tasks)

    def _submit(self, env: Wrapper, size: Resources, request: Resources) -> None:
        name = f"w{next(self._names)}"
        for box in ("in", "out"):
            (self.run_dir / names.WORKERS_DIR / name / box).mkdir(parents=True, exist_ok=True)
        host = self.host
        context = {
            "batch_name": host.batch_name, "wrapper": str(env.path),
            "wrapper_inputs": env.extra_inputs, "runner": str(host.runner_path),
            "worker": str(WORKER_PATH), "extra_inputs": _chirp_client() if self.chirp else "",
            "run_dir": str(self.run_dir), "log": str(host.log_path), "chirp": self.chirp,
            "idle_seconds": self.config.worker_idle_timeout,
            "mailbox_args": "--chirp" if self.chirp else f"--root {self.run_dir}",
            "run_id": host.run_token, "fast_launch": host.fast_launch,
            "lease_expires": lease_value(time.time(), self.config.lease_seconds),
            "lease_remove": lease_periodic_remove(), "requirements": claim_fits_requirements(),
        }
        row = {key: render.check_item_value(key, value) for key, value in (
            ("ce_worker", name), ("ce_cpus", str(size.cores)), ("ce_memory_mb", str(request.memory)),
            ("ce_call_memory_mb", str(size.memory)), ("ce_disk_mb", str(size.disk)), ("ce_gpus", str(size.gpus)))}
        try:
            description = render.worker_description(context)
            with self._handover:  # job ids known before any of their events is looked up
                (job_id,) = self.pool.submit(description, itemdata=[row]).job_ids()
                worker = WorkerJob(name, env, size, request, job_id)
                self._workers[name] = worker
                self._by_job[job_id] = worker
        except Exception as exc:  # noqa: BLE001 - counted like a worker that could not start; tried again
            log.error("could not submit a worker of %s: %s", size, exc)
            self._start_failures[env] += 1
            self._last_failure[env] = f"could not submit a worker: {exc}"
            return
        log.debug("workers: submitted %s (job %s) for calls of up to %s", name, job_id, size)
        self.stats["workers"] += 1
        self.stats["worker_clusters"] += 1


def _env(task: Task) -> Wrapper:
    """The worker job executable (plain or packed environment) a call handed to the fleet runs under."""
    if task.worker_wrapper is None:
        raise ValueError(f"call {task.id} was handed to the workers without a worker executable")
    return task.worker_wrapper


def _request(size: Resources, machine: Machine) -> Resources:
    """What a worker whose calls may use ``size`` asks HTCondor for, to run on ``machine``: that, and its own
    memory, but never more than the machine has (a call sized to all of it gets a worker sized to it)."""
    return size.with_("memory", min(size.memory + WORKER_MEMORY_MB, max(machine.memory, size.memory)))


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
