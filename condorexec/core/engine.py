"""The core: calls in, HTCondor jobs out, futures back (docs/design.md §2).

Data flows one way: a call is validated and sized (spec, then learned label, then defaults), its
payload written, and it waits in a queue; the batcher thread sends calls that arrive together either
as ONE cluster of per-call jobs or to the slot workers (``core/fleet.py``, docs/design.md §7), as
``mode`` says; the event tracker thread turns the job event log into results, retries and failures;
the lease thread keeps the run's jobs alive and cross-checks the queue; the label poller's thread
learns from history and lets a learning category's waiting calls go.

Why one module of this size (a little over 600 lines): the four threads meet here, under one lock, and
what they share (the calls in flight, by id and by job) is this class's state; the parts that need no
lock are modules of their own (``probes``, ``holds``, ``modes``, ``lease``, ``wrappers``, ``fleet``).
"""

from __future__ import annotations

import itertools
import logging
import sys
import threading
import time
from concurrent.futures import Future
from pathlib import Path

import htcondor2

from condorexec import render
from condorexec.condorfacts import (
    USAGE_ATTRS,
    Resource,
    claim_fits_requirements,
    job_constraint,
    lease_periodic_remove,
    lease_value,
    run_constraint,
)
from condorexec.core import holds
from condorexec.core.calls import CallRequest, Task, Wrapper
from condorexec.core.config import CoreConfig
from condorexec.core.durable import FLUSH_PERIOD, Durable
from condorexec.core.fleet import Evicted, Held, Removed, Terminated, WorkerFleet
from condorexec.core.lease import Periodic, renew_period
from condorexec.core.modes import WORKERS, AutoRouter
from condorexec.core.probes import ProbeGate
from condorexec.core.wrappers import WrapperCache
from condorexec.errors import AppExited, InvalidSpecError, JobFailed
from condorexec.labels.learning import WallTimes
from condorexec.names import EVENT_LOG_NAME, LEASE_ATTR, STDERR_NAME, TASKS_DIR
from condorexec.payload import Call, Outcome, encode_payload, read_outcomes, write_payload
from condorexec.pools.base import Machine, Pool, largest
from condorexec.resources import SIZED, Resources
from condorexec.sizing import AutoLabelSizer, FixedSizer
from condorexec.tracker import EventLogTracker

log = logging.getLogger(__name__)

RUNNER_PATH = Path(__file__).resolve().parent.parent / "runner.py"

#: seconds between checks that every job the core waits for is still in the queue
CROSS_CHECK_PERIOD = 60.0

#: seconds a machine list read from the pool is trusted (a collector query on HTCondor)
MACHINES_TTL = 60.0

#: why a call still running at shutdown failed
SHUT_DOWN = "the executor was shut down before this call finished"

#: seconds shutdown waits for the pool to finish removing the run's jobs
SHUTDOWN_WAIT = 15.0

#: per-call jobs that may wait in the pool's queue at once, per core of the pool (Core._idle_room)
IDLE_PER_CORE = 2

#: seconds after which a job that has not started no longer counts against that room
IDLE_PATIENCE_S = 60.0


class Core:
    """Runs calls as HTCondor jobs on ``pool``; see the module docstring.

    ``work_dir`` holds the run's job event log, wrappers and one directory per call; ``run_token``
    names the run in every job (``CondorexecRun``) so that shutdown removes exactly its jobs."""

    def __init__(self, pool: Pool, config: CoreConfig, work_dir: Path, run_token: str, batch_name: str,
                 *, owns_pool: bool = True):
        self.pool, self.config, self.work_dir = pool, config, Path(work_dir)
        self.run_token, self.batch_name, self.owns_pool = run_token, batch_name, owns_pool
        self.profile = pool.profile
        self.stats = {"clusters": 0, "jobs": 0, "retries": 0}
        self.poller = None
        self.fleet: WorkerFleet | None = None
        self.durable: Durable | None = None  # a named workflow's journal and adopted calls (core/durable.py)
        self.router: AutoRouter | None = None
        self.runner_path = RUNNER_PATH
        self.walls = WallTimes(self._learned_wall)  # each category's mean wall time (the engine's lock guards it)
        self._ids = itertools.count()
        self._lock = threading.Lock()
        self._pending: list[Task] = []
        self._pending_ready = threading.Condition(self._lock)
        self._by_job: dict[str, Task] = {}
        self._unstarted: dict[str, float] = {}  # per-call job id -> when it was sent, until it starts
        self._outstanding: dict[int, Task] = {}
        self._stopping = False
        self._started = False
        self._machines: tuple[float, list[Machine]] | None = None
        self._saved_switch_interval: float | None = None

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        (self.work_dir / TASKS_DIR).mkdir(parents=True, exist_ok=True)
        self.fast_launch = (self.profile.fast_launch and not self.config.pack
                            and self.config.worker_python == sys.executable)
        if self.profile.tune_switch_interval and self.config.switch_interval is not None:
            self._saved_switch_interval = sys.getswitchinterval()
            sys.setswitchinterval(self.config.switch_interval)
        self.wrappers = WrapperCache(self.work_dir, self.config.worker_python, self.config.pack)
        self.sizer = self._make_sizer()
        self.probes = ProbeGate(lambda task: self.sizer.learning(task.category, task.spec),
                                early_release=self.config.autolabel_early_release,
                                report_seconds=self.profile.usage_report_seconds)
        self.log_path = self.work_dir / EVENT_LOG_NAME
        self.tracker = EventLogTracker(self.log_path, self, self.pool.events_written,
                                       poll_interval=self.profile.event_poll_interval)
        self.tracker.start()
        if self.config.workflow is not None:  # before any job: it refuses a workflow another process runs
            self.durable = Durable(self, self.config.workflow, self.config.workflow_dir)
        if self.config.mode != "per_call":
            self.fleet = WorkerFleet(self, self._machine_list)
            self.fleet.start()
            if self.config.mode == "auto":
                self.router = AutoRouter(self.profile.job_start_seconds, self._wall_of)
        periodic = [(renew_period(self.config.lease_seconds), self.renew_lease), (CROSS_CHECK_PERIOD, self.cross_check)]
        if self.durable is not None:
            periodic.append((FLUSH_PERIOD, self.durable.flush))
        self._timer = Periodic(f"{self.batch_name}-lease", periodic)
        self._timer.start()
        self._batcher = threading.Thread(target=self._batch_loop, name=f"{self.batch_name}-batcher", daemon=True)
        self._batcher.start()
        self._started = True

    def _make_sizer(self):
        if not self.config.autolabel:
            return FixedSizer()
        from condorexec.labels.poller import CATEGORY_ATTR, HistoryPoller
        from condorexec.labels.store import LabelStore

        store = LabelStore(self.config.label_store)  # thread-safe: the poller writes, the sizer reads
        self.poller = HistoryPoller(self.pool, store, source=self.profile.history_source,
                                    constraint=f"{CATEGORY_ATTR} =!= undefined",
                                    interval=self.profile.history_poll_interval)
        self.poller.add_listener(self._history_polled)
        self.poller.start()
        return AutoLabelSizer(store, self._largest_machine(), mode=self.config.allocation_mode,
                              window=self.config.autolabel_window)

    def shutdown(self) -> None:
        """Remove this run's jobs that are still queued or running; fail their futures."""
        with self._lock:
            if self._stopping:
                return
            self._stopping = True
            self._pending_ready.notify_all()
        if not self._started:
            return
        self._batcher.join(timeout=10)
        if self.fleet is not None:
            self.fleet.stop()
        self._timer.stop()
        if self.durable is not None:
            self.durable.stop_following()
        try:
            self.pool.act(htcondor2.JobAction.Remove, run_constraint(self.run_token))
            self._wait_until_gone()
        except Exception as exc:  # noqa: BLE001 - shutdown must go on
            log.warning("could not remove this run's jobs: %s", exc)
        if self.poller is not None:
            self.poller.stop()
        self.tracker.stop()
        for task in list(self._outstanding.values()):
            self._fail(task, JobFailed(SHUT_DOWN))
        if self.durable is not None:
            try:
                self.durable.close()
            except Exception as exc:  # noqa: BLE001 - shutdown must go on
                log.warning("could not close the workflow journal: %s", exc)
        self.sizer.close()
        if self.owns_pool:
            self.pool.close()
        if self._saved_switch_interval is not None:
            sys.setswitchinterval(self._saved_switch_interval)

    def _wait_until_gone(self) -> None:
        """A removal is asked for, then done by the schedd as each job's shadow ends: wait (a few
        seconds at most) so that a run that has shut down leaves nothing in the queue."""
        deadline = time.monotonic() + SHUTDOWN_WAIT
        while self.pool.query(run_constraint(self.run_token), ["ClusterId"]) and time.monotonic() < deadline:
            time.sleep(0.2)

    def outstanding(self) -> int:
        with self._lock:
            return len(self._outstanding)

    # ---- submission --------------------------------------------------------------------------

    def submit(self, call: CallRequest) -> Future:
        """Queue ``call``; its future gets the function's return value or its exception.

        Raises InvalidSpecError (naming the resource) at once for a size no machine of the pool has."""
        if not self._started or self._stopping:
            raise RuntimeError(f"{self.batch_name} is not running")
        self._check_fits(self.sizer.initial(call.category, call.spec))
        wrapper = self.wrappers.for_function(call.source or call.func)
        worker_wrapper = (self.wrappers.for_function(call.source or call.func, "worker.py")
                          if self.fleet is not None else None)
        task_id = next(self._ids)
        task_dir = self.work_dir / TASKS_DIR / str(task_id)
        task = Task(task_id, Future(), call.spec, call.category, call.app, task_dir, call.plan, wrapper,
                    worker_wrapper=worker_wrapper)

        def payload() -> bytes:
            return encode_payload([Call(task_id, call.func, call.args, call.kwargs)])

        if self.durable is not None:
            task.key, task.ordinal = self.durable.key(call)
            with self._lock:
                self._outstanding[task_id] = task
            if self.durable.adopt(task, payload):  # an earlier run ran it, or runs it still: not sent (yet)
                return task.future
        task.payload = payload()
        if self.fleet is None:
            self._materialize(task)
        with self._lock:
            self._outstanding[task_id] = task
            self._pending.append(task)
            self._pending_ready.notify()
        return task.future

    def _machine_list(self) -> list[Machine]:
        """The pool's machines; asked again at most once a minute (a collector query on HTCondor)."""
        now = time.time()
        if self._machines is None or now - self._machines[0] > MACHINES_TTL:
            machines = self.pool.describe_machines()
            largest(machines, self.profile.name)  # refuses an empty pool here, not later in a modulo
            self._machines = (now, machines)
        return self._machines[1]

    def _largest_machine(self) -> Machine:
        return largest(self._machine_list(), self.profile.name)

    def _check_fits(self, size: Resources) -> None:
        machine = self._largest_machine()
        for resource in (*SIZED, "gpus"):
            have = getattr(machine, resource)
            if size.get(resource) > have:
                raise InvalidSpecError(resource, size.get(resource),
                                       f"no machine in the {self.profile.name} pool has that much "
                                       f"(largest: {machine.name} with {have})")

    def _batch_loop(self) -> None:
        while True:
            try:
                with self._lock:
                    while not self._ready_to_send() and not self._stopping:
                        self._pending_ready.wait(timeout=1.0)
                    if self._stopping:
                        return
                time.sleep(self.config.batch_window)  # let a burst of calls gather into one cluster
                with self._lock:
                    batch = self._take_batch()
            except Exception as exc:  # noqa: BLE001 - e.g. the label store failing: end the calls, not the thread
                log.exception("choosing the calls to send failed; failing the calls waiting to be sent")
                with self._lock:
                    waiting, self._pending = self._pending, []
                for task in waiting:
                    self.fail(task, exc)
                continue
            self._send(batch)

    def _send(self, batch: list[Task]) -> None:
        sized = []
        for task in batch:  # sized now, not at submit(): a category may have learned meanwhile
            try:
                task.size = self.sizer.initial(task.category, task.spec, task.probe_machine, task.early_memory)
            except Exception as exc:  # noqa: BLE001 - this call fails; the others go on
                self.fail(task, exc)
                continue
            sized.append(task)
        if self.durable is not None:
            try:  # journaled before they are sent: a call whose job exists is always in the journal
                self.durable.sent(sized)
            except Exception as exc:  # noqa: BLE001 - a journal that cannot be written: the calls fail, clearly
                for task in sized:
                    self.fail(task, JobFailed(f"could not write the workflow journal: {type(exc).__name__}: {exc}"))
                return
        if self.fleet is not None:
            self.fleet.note_sizes(sized)
            self.fleet.enqueue([t for t in sized if t.to_workers])
        groups: dict[Wrapper, list[Task]] = {}
        for task in sized:
            if not task.to_workers:
                groups.setdefault(task.wrapper, []).append(task)
        for wrapper, tasks in groups.items():
            self._submit_cluster(wrapper, tasks)

    def _held_back(self, task: Task) -> bool:
        return self.probes.held_back(task) or (self.router is not None and not task.per_call_only
                                                and self.router.held_back(task))

    def _ready_to_send(self) -> bool:
        room = self._idle_room()
        return any(not self._held_back(t) and (room > 0 or self._may_go_to_workers(t)) for t in self._pending)

    def _idle_room(self) -> int:
        """How many more per-call jobs may wait in the pool's queue. While some category's probe is
        out, at most IDLE_PER_CORE per core of the pool, counting only those sent in the last
        IDLE_PATIENCE_S (one that cannot match must not hold the others back for good); otherwise no
        limit. The rest wait here, in the order the calls came: a category whose label comes a second
        later then takes its turn among the calls not yet sent, instead of queueing behind every call
        of the category that learned first (its big jobs would crowd the end of the run, leaving cores
        idle)."""
        if not self.probes.probing():
            return sys.maxsize
        limit = IDLE_PER_CORE * sum(m.cores for m in self._machine_list())
        since = time.monotonic() - IDLE_PATIENCE_S
        return limit - sum(1 for sent in self._unstarted.values() if sent >= since)

    def _may_go_to_workers(self, task: Task) -> bool:
        """Whether ``task`` could go to a slot worker now (those do not wait in the pool's queue)."""
        if self.fleet is None or task.per_call_only or self.fleet.unavailable:
            return False
        return self.router is None or self.router.choice(task.category) == WORKERS

    def _take_batch(self) -> list[Task]:
        batch: list[Task] = []
        waiting: list[Task] = []
        probing = self._probing()
        room = self._idle_room()
        for task in self._pending:
            if (len(batch) >= self.config.max_batch or self._held_back(task)
                    or (room <= 0 and not self._may_go_to_workers(task))):
                waiting.append(task)
                continue
            self.probes.admit(task, self._machine_list(), probing)
            task.to_workers = self._route(task)
            room -= not task.to_workers
            batch.append(task)
        self._pending = waiting
        return batch

    def _probing(self) -> int:
        """How many categories probe at once: those with a probe out, and those of the waiting calls
        that are learning (asked once per category and set of resources the spec leaves out, not once
        per call: each ask reads the label store, and thousands of calls may be waiting)."""
        categories = self.probes.probing()
        asked: set[tuple] = set()  # whether a call is learning depends on its category and what its spec leaves out
        for task in self._pending:
            key = (task.category, *(task.spec.get(r) is None for r in SIZED))
            if task.category not in categories and key not in asked:
                asked.add(key)
                if self.probes.learning(task):
                    categories.add(task.category)
        return max(len(categories), 1)

    def _route(self, task: Task) -> bool:
        """Whether ``task`` goes to a slot worker (True) or runs as its own job."""
        if self.fleet is None or task.per_call_only or task.probe or self.fleet.unavailable:
            return False
        if self.router is not None:
            return self.router.admit(task)
        return True

    def _submit_cluster(self, wrapper: Wrapper, tasks: list[Task]) -> None:
        context = {
            "batch_name": self.batch_name, "wrapper": str(wrapper.path), "wrapper_inputs": wrapper.extra_inputs,
            "runner": str(RUNNER_PATH), "log": str(self.log_path), "run_id": self.run_token,
            "fast_launch": self.fast_launch,
            "lease_expires": lease_value(time.time(), self.config.lease_seconds),
            "lease_remove": lease_periodic_remove(), "requirements": claim_fits_requirements(),
        }
        try:
            for task in tasks:
                self._materialize(task)
            description = render.job_description(context)
            rows = [t.item() for t in tasks]
            with self._lock:  # hold the map until job ids are known, so no event arrives unmatched
                result = self.pool.submit(description, itemdata=rows)
                for task, job_id in zip(tasks, result.job_ids(), strict=True):
                    task.job_id = job_id
                    self._by_job[job_id] = task
                    self._unstarted[job_id] = time.monotonic()
                    if self.durable is not None:
                        self.durable.placed_job(task, job_id)
            self.stats["clusters"] += 1
            self.stats["jobs"] += len(tasks)
        except Exception as exc:  # noqa: BLE001 - every call of the batch must learn why
            for task in tasks:
                self._fail(task, exc)

    # ---- job events (called by the tracker thread) ------------------------------------------------

    def on_execute(self, job_id: str) -> None:
        with self._lock:
            task = self._by_job.get(job_id)
            if self._unstarted.pop(job_id, None) is not None:
                self._pending_ready.notify_all()  # room for one more in the pool's queue
            probe = task is not None and self.probes.started(task, time.monotonic())
        if probe:  # its running memory may let its category's calls go once it has run long enough
            self._wake_batcher_in(self.probes.quiet_seconds)

    def _wake_batcher_in(self, seconds: float) -> None:
        wake = threading.Timer(seconds, self._wake_batcher)
        wake.daemon = True
        wake.start()

    def _wake_batcher(self) -> None:
        with self._lock:
            self._pending_ready.notify_all()

    def on_requeued(self, job_id: str) -> None:
        """Evicted (or released): a call's own job simply runs again; a worker's job is replaced."""
        if self.fleet is not None:
            self.fleet.event(job_id, Evicted())

    def on_usage(self, job_id: str, memory_mb: int) -> None:
        """A running job's memory so far: a probe's may let its category's waiting calls go early."""
        with self._lock:
            task = self._by_job.get(job_id)
            probe = task is not None and self.probes.running(task, memory_mb, time.monotonic())
        if probe and task is not None:
            log.debug("probe %s of category %s uses %d MB so far", job_id, task.category, memory_mb)
            self._wake_batcher_in(self.probes.quiet_seconds)

    def on_terminated(self, job_id: str, event: htcondor2.JobEvent) -> None:
        if self.fleet is not None and self.fleet.event(job_id, Terminated(event.get("ReturnValue"))):
            return
        task = self._task(job_id)
        if task is None:
            return
        try:
            outcomes = read_outcomes(task.task_dir)
        except Exception as exc:  # noqa: BLE001 - unpickling a result can raise anything
            self._fail(task, JobFailed(f"job {job_id} ended ({_termination(event)}) without a readable result: "
                                       f"{type(exc).__name__}: {exc}{self.stderr_tail(task)}"))
            return
        self.resolve(task, outcomes[0], job_id)

    def resolve(self, task: Task, outcome: Outcome, job_id: str) -> None:
        """``task`` ran, in its own job or in a worker's (``job_id``: "C.P", or "C.P/call N" for a
        worker's): deliver its files and hand its outcome to its future."""
        try:
            task.plan.deliver(task.task_dir)
        except OSError as exc:
            self._fail(task, JobFailed(f"job {job_id}: could not deliver output files: {exc}"))
            return
        if outcome.wall_s is not None:
            self.note_wall(task.category, outcome.wall_s)
        if self.durable is not None:
            self._journal_end(task, outcome)
        self._finish(task, learned_from=True)
        if outcome.ok:
            task.future.set_result(outcome.value)
        elif isinstance(outcome.exception, Exception):
            task.future.set_exception(outcome.exception)
        elif outcome.exception is None:  # a result file says failed without saying how: still an end
            task.future.set_exception(JobFailed(f"job {job_id}: the call failed and its result names no exception"))
        else:  # SystemExit, KeyboardInterrupt: what an app's exit raises
            exited = AppExited(job_id, outcome.exception)
            exited.__cause__ = outcome.exception
            task.future.set_exception(exited)

    def on_held(self, job_id: str, code: int | None, subcode: int | None, reason: str) -> None:
        if self.fleet is not None and self.fleet.event(job_id, Held(code, subcode, reason)):
            return
        task = self._task(job_id)
        if task is None:
            return
        resource = holds.exhausted(code, subcode, reason)
        if resource is not None:
            with self._lock:
                self.probes.ran_out(task, resource)
        used = self._usage(job_id, resource) if resource is not None else None
        decision = holds.decide(task, job_id, code, subcode, reason, used=used, sizer=self.sizer,
                                max_retries=self.config.max_retries, autolabel=self.config.autolabel,
                                stderr_tail=self.stderr_tail(task))
        if isinstance(decision, holds.Retry):
            task.retries += 1
            self.stats["retries"] += 1
            log.info("job %s exhausted %s %s; retrying with %s", job_id, decision.resource,
                     task.size.get(decision.resource), decision.size.get(decision.resource))
            task.size = decision.size
            self.pool.edit([job_id], decision.attr, decision.value)
            self.pool.act(htcondor2.JobAction.Release, [job_id])
            return
        self._remove_job(job_id)
        self._fail(task, decision.error)

    def on_error(self, job_id: str, what: str, exc: BaseException) -> None:
        """Handling this job's event failed: end its call with the reason (if it has not ended)."""
        task = self._task(job_id)
        if task is not None:
            self._fail(task, JobFailed(f"job {job_id}: condorexec could not handle its {what}: "
                                       f"{type(exc).__name__}: {exc}"))

    def on_aborted(self, job_id: str, reason: str) -> None:
        if self.fleet is not None and self.fleet.event(job_id, Removed(reason)):
            return
        task = self._task(job_id)
        if task is not None:
            why = SHUT_DOWN if self._stopping else f"job {job_id} was removed from the queue: {reason}"
            self._fail(task, JobFailed(why))

    # ---- the timer thread ------------------------------------------------------------------------

    def renew_lease(self) -> None:
        """Push the lease of every job of this run forward (see core/lease.py), adopted ones included."""
        with self._lock:
            if (not self._by_job and not (self.fleet is not None and self.fleet.job_ids())
                    and not (self.durable is not None and self.durable.following())):
                return
        self.pool.edit(run_constraint(self.run_token), LEASE_ATTR,
                       lease_value(time.time(), self.config.lease_seconds))

    def cross_check(self) -> None:
        """Fail calls whose job left the queue without an event in the log (e.g. a log on a lost disk)."""
        workers = self.fleet.job_ids() if self.fleet is not None else []
        with self._lock:
            if not self._by_job and not workers:
                return
        queued = {f"{ad['ClusterId']}.{ad['ProcId']}" for ad in self.pool.query(
            run_constraint(self.run_token), ["ClusterId", "ProcId"])}
        self.tracker.read_available()  # events written before the query are handled first
        with self._lock:
            vanished = [jid for jid in self._by_job if jid not in queued]
        for job_id in workers:
            if job_id not in queued and self.fleet is not None:
                self.fleet.event(job_id, Removed("it left the queue without an event in the log"))
        for job_id in vanished:
            task = self._task(job_id)
            if task is not None:
                self._fail(task, JobFailed(f"job {job_id} left the queue without an event in {self.log_path}"))

    # ---- the label poller's thread ---------------------------------------------------------------

    def _history_polled(self, added: int, started: float) -> None:
        with self._lock:
            if self.probes.learned(started):
                self._pending_ready.notify_all()

    # ---- what the slot workers ask of the core (core/fleet.py, on the fleet's thread) ----------

    def fail(self, task: Task, exc: BaseException) -> None:
        """End ``task`` with ``exc``; a done callback that raises (even SystemExit) is logged, not passed on."""
        try:
            self._fail(task, exc)
        except BaseException:  # noqa: BLE001 - the fleet's thread must go on to the other calls
            log.exception("a done callback of call %s raised", task.id)

    def run_again(self, task: Task) -> None:
        """A call of a named workflow that an earlier run could not finish for it: send it as a new call."""
        with self._lock:
            if self._stopping:
                return
            self._pending.append(task)
            self._pending_ready.notify_all()

    def placed_in_workers(self, placements: list[tuple[Task, str, str]]) -> None:
        if self.durable is None:
            return
        try:
            self.durable.placed_in_workers(placements)
        except Exception as exc:  # noqa: BLE001 - the calls still run; a rerun after a kill may run them again
            log.warning("workflow journal: could not record %d calls handed to workers: %s", len(placements), exc)

    def results_taken(self, message: Path) -> None:
        """A worker's message of results was handed to the calls' futures: delete it, in a named workflow
        only once the journal has their ends (a submitter killed before then leaves the message, and its
        rerun takes the results from it)."""
        if self.durable is not None:
            self.durable.delete_after_flush(message)
        else:
            message.unlink(missing_ok=True)

    def lease_seconds(self) -> int:
        return self.config.lease_seconds

    def _journal_end(self, task: Task, outcome: Outcome | None) -> None:
        assert self.durable is not None
        try:
            self.durable.ended(task, outcome)
        except Exception as exc:  # noqa: BLE001 - the call's result still goes to its future
            log.warning("workflow journal: could not record the end of call %s: %s", task.id, exc)

    def run_per_call(self, tasks: list[Task]) -> None:
        """Calls the workers give back (chirp unavailable, workers that cannot start): own jobs now."""
        with self._lock:
            for task in tasks:
                task.per_call_only, task.to_workers, task.worker = True, False, None
                self._pending.append(task)
            self._pending_ready.notify_all()

    def per_call_waiting_since(self) -> float | None:
        """When (monotonic) the oldest of the run's per-call jobs still waiting to start was sent; None if
        none waits. The workers make room for them (core/fleet.py): idle capacity never blocks work."""
        with self._lock:
            return min(self._unstarted.values(), default=None)

    def note_retry(self) -> None:
        self.stats["retries"] += 1

    def record_samples(self, samples: list) -> None:
        """Per-call usage measured by a worker, for autolabel (a worker's own history ad says nothing
        about each call)."""
        store = getattr(self.sizer, "store", None)
        if store is not None:
            store.add_samples(samples)
            with self._lock:
                self._pending_ready.notify_all()

    def note_wall(self, category: str, wall: float) -> None:
        with self._lock:
            self.walls.note(category, wall)

    def _wall_of(self, category: str) -> float | None:
        """The category's running mean of wall time, first the label store's (its current code's samples)."""
        return self.walls.of(category)

    def _learned_wall(self, category: str) -> float | None:
        """The category's mean wall time as the label store learned it (None without a store)."""
        store = getattr(self.sizer, "store", None)
        return store.mean_wall(category) if store is not None else None

    def _materialize(self, task: Task) -> None:
        """Give a call kept in memory its directory and payload file: it runs as its own job."""
        if task.payload is not None:
            task.task_dir.mkdir(parents=True, exist_ok=True)
            write_payload(task.task_dir, task.payload)
            task.payload = None

    def stderr_tail(self, task: Task) -> str:
        return _tail(task.task_dir / STDERR_NAME)

    # ---- helpers ---------------------------------------------------------------------------------

    def _task(self, job_id: str) -> Task | None:
        with self._lock:
            return self._by_job.get(job_id)

    def _usage(self, job_id: str, resource: Resource) -> float | None:
        """What the held job used of ``resource`` (MB, or cores), for the retry and the message."""
        attr, per_mb = USAGE_ATTRS[resource]
        try:
            ads = self.pool.query(job_constraint(job_id), [attr])
            value = ads[0].eval(attr) if ads and attr in ads[0] else None
        except Exception:  # noqa: BLE001 - usage is only for the message
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value) * per_mb

    def _remove_job(self, job_id: str) -> None:
        with self._lock:
            task = self._by_job.pop(job_id, None)
            self._unstarted.pop(job_id, None)
            if task is not None:
                task.job_id = None
        try:
            self.pool.act(htcondor2.JobAction.Remove, [job_id])
        except Exception as exc:  # noqa: BLE001
            log.warning("could not remove held job %s: %s", job_id, exc)

    def _finish(self, task: Task, learned_from: bool = False) -> None:
        task.payload = None
        with self._lock:
            self._outstanding.pop(task.id, None)
            if self.router is not None:
                self.router.ended(task)
            if task.job_id is not None:
                self._by_job.pop(task.job_id, None)
                self._unstarted.pop(task.job_id, None)
            if learned_from and self.poller is not None and self.probes.finished(task, time.monotonic()):
                self.poller.poll_soon()  # learn now, on the poller's thread, not here on the tracker's
            else:
                self.probes.abandoned(task)
            self._pending_ready.notify_all()

    def _fail(self, task: Task, exc: BaseException) -> None:
        if self.durable is not None and not self._stopping:
            self._journal_end(task, None)
        self._finish(task)
        if not task.future.done():
            task.future.set_exception(exc)


def _termination(event: htcondor2.JobEvent) -> str:
    if event.get("TerminatedNormally", True):
        return f"exit code {event.get('ReturnValue')}"
    return f"signal {event.get('TerminatedBySignal')}"


def _tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()[-lines:]
    except OSError:
        return ""
    return ("\n--- end of the job's stderr ---\n" + "\n".join(text)) if text else ""
