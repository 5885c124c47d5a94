"""The embedded local pool's :class:`LocalPool`: HTCondor execute nodes with partitionable slots, made of this machine.

It is the default when no HTCondor is configured and the test bed for everything end to end, so it
behaves like a schedd plus startds (docs/design.md §4): it turns submit descriptions into the same job
ads (``submit.plan_jobs``), starts a job only when its request fits in what a node has free
(smaller jobs may pass a waiting big one), runs it in a private sandbox with HTCondor's file-transfer
semantics, measures it like a starter, holds it with code 34/102 when it outgrows its memory
request, and writes the job event log and history records HTCondor would write. A cluster that asks
for late materialization (``max_materialize``, ``max_idle``) is kept as its lazy plan and its procs are
made one by one as the schedd's factory makes them: never more than JobMaterializeLimit in the queue,
never a new one while JobMaterializeMaxIdle are idle or held; each proc's submit event is written when
it is made. Removing the cluster (a constraint that matches its cluster ad) drops the procs not made.

Deliberate differences from HTCondor, each chosen for a laptop: requests are not quantized (an
8000 MB node fits eight 1000 MB jobs); ``periodic_*`` expressions are not evaluated (the
executor's lease matters only on a schedd: this pool dies with its submitter), while
``allowed_job_duration`` is enforced at the monitor's sampling period (hold code 46); a job marked
``CondorexecFastLaunch`` (the executor's plain-Python wrapper) is started by forking a warm
interpreter instead of exec'ing the wrapper — same sandbox, same files.

Each daemon's part lives in its own module: the queue (:mod:`.queue`), the late-materialization
factory (:mod:`.factory`), matchmaking and slots (:mod:`.negotiator`), the starter's sandbox and file
transfer (:mod:`.starter`), the shadow's event log and usage (:mod:`.shadow`), the launcher
(:mod:`.launcher`). :class:`LocalPool` holds their state under one lock and decides what happens to a
job when; whatever changes the queue goes through :meth:`LocalPool._changing`.
"""

from __future__ import annotations

import contextlib
import errno
import getpass
import itertools
import logging
import os
import queue
import shutil
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import classad2
import htcondor2

from condorexec.condorfacts import HoldCode, HoldSubCode, JobStatus, Universe
from condorexec.pools.base import Machine, Pool, PoolProfile, SubmitResult
from condorexec.pools.local.factory import Factory
from condorexec.pools.local.historyfile import project, read_history
from condorexec.pools.local.isolation import check_bwrap
from condorexec.pools.local.launcher import JobExit, Launcher, LaunchError, LaunchRequest
from condorexec.pools.local.layout import SpoolLayout
from condorexec.pools.local.negotiator import claim_slot, match, release_slot
from condorexec.pools.local.nodes import ExecuteNode, NodeSpec, described, local_machines, node_specs
from condorexec.pools.local.queue import JobQueue, QueuedJob, next_cluster_id
from condorexec.pools.local.shadow import History, JobLogs, record_usage
from condorexec.pools.local.spool import SpoolView
from condorexec.pools.local.spooling import discard, is_spooled, spool_job
from condorexec.pools.local.starter import prepare_sandbox, transfer_output
from condorexec.pools.local.support import local_pool_problems
from condorexec.resources import Resources
from condorexec.submit import Factory as FactorySpec
from condorexec.submit import ads_to_check, plan_jobs

__all__ = ["JOB_START_SECONDS", "LocalPool", "NodeSpec", "local_machines", "node_specs"]

log = logging.getLogger(__name__)

#: a transfer or exec failure's hold subcode is the errno, as the starter sets it (ENOENT when none is known)
_SUBCODE_NO_SUCH_FILE = errno.ENOENT

#: slot seconds a job start costs here (~80 trivial jobs/s on 2 cores; PoolProfile.job_start_seconds)
JOB_START_SECONDS = 0.025

#: an IMAGE_SIZE event is logged when a job's memory grew by this factor since the last one (HTCondor
#: logs one at each starter update that changed it: every few seconds at most, as this is)
IMAGE_SIZE_GROWTH = 1.1


class LocalPool(Pool):
    """See the module docstring. ``nodes`` defaults to one node the size of this machine."""

    def __init__(
        self,
        nodes: Sequence[NodeSpec | str] | None = None,
        state_dir: str | os.PathLike[str] | None = None,
        *,
        monitor_period: float = 0.5,
        keep_sandboxes: bool = False,
        preload: Sequence[str] = (),
        isolate: bool = False,
    ):
        super().__init__()
        if not isinstance(isolate, bool):
            raise ValueError(f"LocalPool isolate must be True or False, got {isolate!r}")
        #: bwrap's path when jobs run isolated (pools/local/isolation.py), else None
        self._bwrap = check_bwrap() if isolate else None
        #: where this pool keeps its state (the one definition of the layout: pools/local/layout.py)
        self.spool = SpoolLayout(state_dir)
        self.spool.create()
        self._nodes = [ExecuteNode.empty(s, self.spool.nodes / s.name) for s in node_specs(nodes, self.spool)]
        for node in self._nodes:
            node.cache_dir.mkdir(parents=True, exist_ok=True)
        self._profile = PoolProfile(
            name="local", event_poll_interval=0.05, history_poll_interval=1.0,
            history_source=f"local:{self.spool.history}", fast_launch=not isolate, in_process=True,
            tune_switch_interval=True, worker_mailbox="filesystem", job_start_seconds=JOB_START_SECONDS,
            usage_report_seconds=monitor_period)
        self.keep_sandboxes = keep_sandboxes
        self._owner = getpass.getuser()
        # One lock over the queue, the factories and the nodes; the scheduler waits on _wake.
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._queue = JobQueue()
        self._factories: dict[int, Factory] = {}  # cluster -> its procs not made yet
        self._spent: dict[int, Factory] = {}  # removed factories: how many procs they never made
        self._logs = JobLogs()
        self._history = History(self.spool.history)
        self._closed = False
        # preload: modules every fast-launched Python job would import (e.g. Parsl's app wrappers)
        self._launcher = Launcher(self._on_exit, monitor_period=monitor_period, on_sample=self._on_sample,
                                  preload=preload)
        self._scheduler = threading.Thread(target=self._schedule_loop, name="localpool-scheduler", daemon=True)
        self._scheduler.start()
        self._trash: queue.SimpleQueue[Path | None] = queue.SimpleQueue()
        self._cleaner = threading.Thread(target=self._empty_trash, name="localpool-cleaner", daemon=True)
        self._cleaner.start()

    @contextlib.contextmanager
    def _changing(self) -> Iterator[None]:
        """The one door for anything that changes the queue: under the lock, then the scheduler is woken
        (a node may be free, a job may be idle) and so is whoever follows the job event logs."""
        with self._lock:
            yield
            self._wake.notify_all()
        self.events_written.set()

    # ---- Pool interface -------------------------------------------------------------------------

    @property
    def profile(self) -> PoolProfile:
        return self._profile

    @property
    def where(self) -> str:
        return f"Local pool: {self.spool.state_dir}"

    def prepare(self, description: htcondor2.Submit, submit_dir: str | os.PathLike[str] | None = None, *,
                itemdata: Sequence[Mapping[str, str]] | None = None) -> tuple[list[str], list[str]]:
        """What of ``description`` this pool cannot honour (:mod:`condorexec.pools.local.support`); when
        it can run it and the description names no ``log``, a private one in the spool (the events of
        every job here are written to its log, and a user running the jobs in the foreground has no
        schedd to ask)."""
        plan = plan_jobs(description, cluster_id=1, submit_dir=str(submit_dir or os.getcwd()),
                                    owner=self._owner, qdate=int(time.time()), itemdata=itemdata)
        ads = ads_to_check(plan)
        errors, warnings = local_pool_problems(description, ads, self.describe_machines())
        if not errors and "log" not in {k.lower() for k in description.keys()}:
            self.spool.logs.mkdir(parents=True, exist_ok=True)
            description["log"] = str(self.spool.logs / f"submit.{os.getpid()}.{time.time_ns()}.log")
        return errors, warnings

    def submit(self, description: htcondor2.Submit, itemdata: Sequence[Mapping[str, str]] | None = None,
               count: int = 0, *, submit_dir: str | os.PathLike[str] | None = None,
               spool: bool = False) -> SubmitResult:
        """Queue one cluster. ``spool``: copy each job's inputs into its spool directory first (the job
        runs from the copies) and keep its outputs there for :meth:`retrieve` (:mod:`.spooling`)."""
        if not isinstance(spool, bool):
            raise ValueError(f"spool must be True or False, got {spool!r}")
        cluster = next_cluster_id(self.spool.next_cluster)
        now = int(time.time())
        plan = plan_jobs(description, cluster_id=cluster, submit_dir=str(submit_dir or os.getcwd()),
                                    owner=self._owner, qdate=now, itemdata=itemdata, count=count)
        first = next(plan.ads, None)
        if first is None:
            raise ValueError("the submit description queues no jobs")
        if plan.factory is not None:
            if spool:  # the spooling copies every proc's inputs at submit time, a factory makes procs later
                raise ValueError("the local pool does not spool a late-materialization cluster (max_materialize, "
                                 "max_idle or -factory); submit it without -spool, or without late materialization")
            return self._submit_factory(cluster, plan.factory, first, plan.ads)
        ads = [first, *plan.ads]
        for ad in ads:
            _check_universe(ad)
        if spool:
            self._spool_inputs(ads)
        with self._changing():
            for ad in ads:
                self._enqueue(ad, now)
        return SubmitResult(cluster, int(ads[0]["ProcId"]), len(ads))

    def _spool_inputs(self, ads: Sequence[classad2.ClassAd]) -> None:
        """Every job's inputs into its spool directory before any is queued; on a failure none is kept."""
        dirs = [self.spool.job_spool(int(ad["ClusterId"]), int(ad["ProcId"])) for ad in ads]
        try:
            for ad, job_dir in zip(ads, dirs, strict=True):
                spool_job(ad, job_dir)
        except BaseException:
            for job_dir in dirs:
                discard(job_dir)
            raise

    def retrieve(self, job_spec: str | Iterable[str]) -> list[str]:
        """Deliver the outputs of finished ``-spool`` jobs (see :meth:`SpoolView.retrieve`)."""
        return SpoolView(self.spool).retrieve(job_spec)

    def _submit_factory(self, cluster: int, spec: FactorySpec, first: classad2.ClassAd,
                        rest: Iterator[classad2.ClassAd]) -> SubmitResult:
        """Keep the plan and make the first procs the limits allow, as the schedd does at once."""
        _check_universe(first)  # prepare checks every different proc; a direct caller gets the first checked
        cluster_ad = classad2.ClassAd(str(first))
        del cluster_ad["ProcId"]
        with self._changing():
            self._factories[cluster] = Factory(cluster, spec, itertools.chain([first], rest), cluster_ad)
            self._logs.of(cluster_ad).cluster_submitted(cluster, time.time())
            self._materialize(cluster)
        return SubmitResult(cluster, int(first["ProcId"]), spec.total)

    def _enqueue(self, ad: classad2.ClassAd, now: float) -> QueuedJob:
        """A proc enters the queue, idle (this pool ignores ``hold = true``, saying so), with its submit event."""
        job = self._queue.add(ad, now)
        self._logs.of(ad).submit(job.cluster, job.proc, now)
        return job

    def _materialize(self, cluster: int) -> None:
        """Make the procs cluster's factory allows now (lock held); the factory goes when it is spent."""
        factory = self._factories.get(cluster)
        if factory is None:
            return
        now = time.time()
        while (ad := factory.next_ad(now)) is not None:
            self._enqueue(ad, now)
        if factory.removed:
            self._spent[cluster] = factory
        if factory.finished:  # the cluster leaves the queue
            self._logs.of(factory.cluster_ad).cluster_removed(cluster, time.time(), materialized=factory.made,
                                                              complete=not factory.removed)
            del self._factories[cluster]

    def unmaterialized(self, cluster: int) -> int:
        """Procs not made yet, and those a removal dropped (they will never be made)."""
        with self._lock:
            factory = self._factories.get(cluster) or self._spent.get(cluster)
            return factory.left if factory is not None else 0

    def query(self, constraint: str = "true", projection: Sequence[str] = ()) -> list[classad2.ClassAd]:
        with self._lock:
            return [project(job.ad, projection) for job in self._queue.select(constraint or "true")]

    def history(self, constraint: str = "true", projection: Sequence[str] = (), match: int = -1,
                since: int | str | None = None) -> Iterator[classad2.ClassAd]:
        if not self.spool.history.exists():
            return iter(())
        return read_history(self.spool.history, constraint, projection, match, since)

    def act(self, action: htcondor2.JobAction, job_spec: str | Iterable[str]) -> None:
        now = time.time()
        with self._changing():
            if action == htcondor2.JobAction.Remove and isinstance(job_spec, str):
                self._remove_factories(job_spec)
            for job in self._queue.select(job_spec):
                if action not in (htcondor2.JobAction.Remove, htcondor2.JobAction.Hold, htcondor2.JobAction.Release):
                    raise ValueError(f"the local pool does not support JobAction {action!r}")
                if action == htcondor2.JobAction.Remove:
                    self._remove(job, now)
                elif action == htcondor2.JobAction.Hold and job.status in (JobStatus.IDLE, JobStatus.RUNNING):
                    self._hold(job, now, f"via condor_hold (by user {self._owner})",
                               HoldCode.USER_REQUEST, HoldSubCode.UNSPECIFIED)
                elif action == htcondor2.JobAction.Release and job.status == JobStatus.HELD:
                    self._set_status(job, JobStatus.IDLE, now)
                    self._logs.of(job.ad).released(job.cluster, job.proc, now)

    def _remove_factories(self, constraint: str) -> None:
        """The schedd removes a factory whose cluster ad the removal constraint matches (condor_rm of the
        cluster): its procs not made yet are dropped; no event or history record, as none existed."""
        expr = classad2.ExprTree(constraint or "true")
        for cluster, factory in list(self._factories.items()):
            if expr.eval(factory.cluster_ad) is True and not factory.removed:
                factory.remove()
                self._materialize(cluster)  # no proc made; the cluster goes now if it has none left

    def edit(self, job_spec: str | Iterable[str], attr: str, value: str) -> None:
        expr = classad2.ExprTree(str(value))
        with self._changing():
            for job in self._queue.select(job_spec):
                job.ad[attr] = expr
                # keep plain values plain (RequestMemory = 2048, not an expression), like the schedd
                evaluated = job.ad.eval(attr)
                if isinstance(evaluated, int | float | str | bool):
                    job.ad[attr] = evaluated
                job.forget_request()
                if attr.lower() == "jobprio" and isinstance(evaluated, int):
                    self._queue.set_priority(job, evaluated)

    def describe_machines(self) -> list[Machine]:
        return described(n.spec for n in self._nodes)

    def close(self) -> None:
        with self._changing():
            if self._closed:
                return
            self._closed = True
            self._remove_factories("true")
            now = time.time()
            for job in self._queue:
                self._remove(job, now, reason="the local pool was shut down")
        self._launcher.close()
        self._scheduler.join(timeout=5)
        with self._lock:  # jobs whose exit never came (killed while being launched) still leave the queue
            for job in self._queue:
                release_slot(job)
                self._finish(job, JobStatus.REMOVED, time.time())
        self._trash.put(None)
        self._cleaner.join(timeout=30)
        self._history.retry()  # a last try for what a full disk held back
        self._logs.close_all()

    # ---- scheduling -----------------------------------------------------------------------------

    def _schedule_loop(self) -> None:
        """Match under the lock, then do the slow part (file transfer, fork) outside it, so job exits and
        submissions are not held up behind a sandbox being filled."""
        while True:
            with self._lock:
                if self._closed:
                    return
                self._logs.retry()  # what a full disk held back, in order, before anything new
                self._history.retry()
                claimed = match(self._queue.idle(), self._nodes, self._claim)
                if not claimed:
                    self._wake.wait(timeout=1.0)
                    continue
            for job in claimed:
                try:
                    self._launch(job)
                except Exception as exc:  # a bug here must not stop every later job from starting
                    log.exception("the local pool could not start job %s", job.job_id)
                    with self._changing():
                        release_slot(job)
                        self._cleanup_sandbox(job)
                        self._hold(job, time.time(), f"Error from {job.slot_name}: the local pool could not start "
                                   f"the job: {exc!r}", HoldCode.FAILED_TO_CREATE_PROCESS, HoldSubCode.UNSPECIFIED)

    def _claim(self, job: QueuedJob, node: ExecuteNode, request: Resources) -> None:
        now = time.time()
        claim_slot(job, node, request, self.spool.execute, now)
        self._set_status(job, JobStatus.RUNNING, now)

    def _launch(self, job: QueuedJob) -> None:
        """Transfer input files and start a claimed job (called without the lock)."""
        now = job.started_at
        try:
            request: LaunchRequest | None = prepare_sandbox(job, self._bwrap)
            error = None
        except (OSError, ValueError) as exc:
            request, error = None, exc
        with self._changing():
            if job.removing or job.holding or request is None or job.node is None:
                release_slot(job)
                self._cleanup_sandbox(job)
                if job.removing:
                    self._finish(job, JobStatus.REMOVED, now)
                elif job.holding:
                    self._hold(job, now, *job.holding)
                else:
                    subcode = error.errno if isinstance(error, OSError) and error.errno else _SUBCODE_NO_SUCH_FILE
                    self._hold(job, now, f"Error from {job.slot_name}: failed to transfer input files: {error}",
                               HoldCode.TRANSFER_INPUT_ERROR, subcode)
                return
            asked = job.request()
            self._logs.of(job.ad).execute(
                job.cluster, job.proc, now, host=f"<127.0.0.1:0?alias={job.node.spec.name}>",
                slot_name=job.slot_name, cpus=asked.cores, memory_mb=asked.memory, disk_kib=asked.disk * 1024,
                scratch_dir=str(job.sandbox))
        try:
            self._launcher.launch(request)
            failure = None
        except LaunchError as exc:
            failure = exc
        with self._changing():
            if failure is None:
                if job.removing or job.holding:  # asked for while it was being launched: kill found nothing
                    self._launcher.kill(job.job_id)
                return
            release_slot(job)
            if job.removing:  # e.g. the pool is closing: the launcher refused, the job was going anyway
                self._finish(job, JobStatus.REMOVED, now)
            else:
                self._hold(job, now, f"Error from {job.slot_name}: failed to execute: {failure}",
                           HoldCode.FAILED_TO_CREATE_PROCESS, _SUBCODE_NO_SUCH_FILE)

    # ---- job exits and monitoring --------------------------------------------------------------

    def _job_of(self, job_key: str) -> QueuedJob | None:
        cluster, proc = (int(x) for x in job_key.split("."))
        return self._queue.get(cluster, proc)

    def _on_sample(self, job_key: str, tree_rss_kib: int) -> None:
        with self._lock:
            job = self._job_of(job_key)
            if job is None or job.status != JobStatus.RUNNING:
                return
            limit = job.ad.eval("AllowedJobDuration") if "AllowedJobDuration" in job.ad else None
            if (isinstance(limit, int | float) and not isinstance(limit, bool | classad2.Value)
                    and job.holding is None and time.time() - job.started_at > limit):
                self._hold(job, time.time(), f"Error from {job.slot_name}: The job exceeded allowed job duration "
                           f"of {limit:g} seconds", HoldCode.JOB_DURATION_EXCEEDED, HoldSubCode.UNSPECIFIED)
                return
            memory_mb = -(-tree_rss_kib // 1024)
            if memory_mb > job.peak_memory_mb:
                job.peak_memory_mb = memory_mb
                job.ad["ResidentSetSize"] = tree_rss_kib
                job.ad["MemoryUsage"] = memory_mb
                # the shadow logs an image-size event at each starter update that changed the usage;
                # here, at each sample that grew it by a tenth since the last one logged
                if memory_mb >= job.memory_logged_mb * IMAGE_SIZE_GROWTH:
                    job.memory_logged_mb = memory_mb
                    self._logs.of(job.ad).image_size(
                        job.cluster, job.proc, time.time(), image_size_kib=tree_rss_kib,
                        memory_usage_mb=memory_mb, resident_set_size_kib=tree_rss_kib)

    def _on_exit(self, result: JobExit) -> None:
        with self._changing():
            job = self._job_of(result.job_key)
            if job is None or job.sandbox is None:
                return
            record_usage(job, result)
            now = result.ended_at
            release_slot(job)
            if job.removing:
                self._finish(job, JobStatus.REMOVED, now)
            elif result.over_memory:
                used = job.ad["MemoryUsage"]
                requested = job.request().memory
                reason = (f"Error from {job.slot_name}: Job has gone over memory limit of {requested} megabytes. "
                          f"Peak usage: {used} megabytes.")
                self._logs.of(job.ad).evicted(job.cluster, job.proc, now, reason=reason,
                                              code=HoldCode.JOB_OUT_OF_RESOURCES, subcode=HoldSubCode.MEMORY,
                                              user_cpu_s=result.user_cpu_s, sys_cpu_s=result.sys_cpu_s)
                self._hold(job, now, reason, HoldCode.JOB_OUT_OF_RESOURCES, HoldSubCode.MEMORY)
            elif job.holding is not None:
                self._hold(job, now, *job.holding)
            else:
                try:
                    error = transfer_output(job)
                except OSError as exc:  # the sandbox itself cannot be read (EIO)
                    error = (f"Error from {job.slot_name}: Failed to transfer output files: {exc}", exc.errno or 0)
                if error:
                    self._hold(job, now, error[0], HoldCode.TRANSFER_OUTPUT_ERROR, error[1])
                else:
                    self._complete(job, result, now)
            self._cleanup_sandbox(job)

    def _complete(self, job: QueuedJob, result: JobExit, now: float) -> None:
        ad = job.ad
        if result.signal is not None:
            ad["ExitBySignal"], ad["ExitSignal"] = True, result.signal
        else:
            ad["ExitBySignal"], ad["ExitCode"] = False, result.exit_code
        asked = job.request()
        self._finish(job, JobStatus.COMPLETED, now)  # history first: whoever reads the event finds the record
        self._logs.of(ad).terminated(
            job.cluster, job.proc, now, return_value=result.exit_code, signal=result.signal,
            user_cpu_s=result.user_cpu_s, sys_cpu_s=result.sys_cpu_s, bytes_sent=0, bytes_received=0,
            cpus_usage=float(ad["CpusUsage"]), request_cpus=asked.cores, allocated_cpus=asked.cores,
            disk_usage_kib=int(ad["DiskUsage"]), request_disk_kib=asked.disk * 1024,
            allocated_disk_kib=asked.disk * 1024, memory_usage_mb=int(ad["MemoryUsage"]),
            request_memory_mb=asked.memory, allocated_memory_mb=asked.memory,
            time_execute_s=int(now - job.started_at))
        # the schedd makes the next proc once the job has left: its submit event follows the terminate event
        self._materialize(job.cluster)

    # ---- state changes (lock held) ---------------------------------------------------------------

    def _set_status(self, job: QueuedJob, status: int, now: float) -> None:
        was = self._queue.set_status(job, status, now)
        factory = self._factories.get(job.cluster)
        if factory is not None:
            factory.status_changed(was, status)
            if status not in (JobStatus.COMPLETED, JobStatus.REMOVED):  # _finish does it, after the event
                self._materialize(job.cluster)

    def _hold(self, job: QueuedJob, now: float, reason: str, code: int, subcode: int) -> None:
        if job.status == JobStatus.RUNNING and job.sandbox is not None and job.node is not None:
            job.holding = (reason, code, subcode)  # the exit handler finishes the hold
            self._launcher.kill(job.job_id)
            return
        job.holding = None
        ad = job.ad
        ad["HoldReason"], ad["HoldReasonCode"], ad["HoldReasonSubCode"] = reason, code, subcode
        ad["LastHoldReason"], ad["LastHoldReasonCode"], ad["LastHoldReasonSubCode"] = reason, code, subcode
        ad["NumHolds"] = int(ad.get("NumHolds", 0)) + 1
        self._set_status(job, JobStatus.HELD, now)
        self._logs.of(ad).held(job.cluster, job.proc, now, reason=reason, code=code, subcode=subcode)

    def _remove(self, job: QueuedJob, now: float, reason: str | None = None) -> None:
        if job.removing:
            return
        job.removing = True
        job.ad["RemoveReason"] = reason or f"via condor_rm (by user {self._owner})"
        if job.status == JobStatus.RUNNING and job.node is not None:
            self._launcher.kill(job.job_id)  # _on_exit finishes the removal
        else:
            self._finish(job, JobStatus.REMOVED, now)

    def _finish(self, job: QueuedJob, status: int, now: float) -> None:
        """The job leaves the queue: history record, then event. As the schedd does, a removed job gets no
        CompletionDate and a removed held job keeps its hold only as LastHoldReason*."""
        self._set_status(job, status, now)
        if status == JobStatus.COMPLETED:
            job.ad["CompletionDate"] = int(now)
        else:
            for attr in ("HoldReason", "HoldReasonCode", "HoldReasonSubCode"):
                if attr in job.ad:
                    del job.ad[attr]
        self._queue.drop(job)
        self._history.append(job.ad)
        if status == JobStatus.REMOVED and is_spooled(job.ad):  # no output will ever be fetched
            discard(self.spool.job_spool(job.cluster, job.proc))
        if status == JobStatus.REMOVED:
            self._logs.of(job.ad).aborted(job.cluster, job.proc, now, reason=str(job.ad["RemoveReason"]))
        factory = self._factories.get(job.cluster)
        if factory is not None:
            factory.left_queue()
            if status != JobStatus.COMPLETED:  # a completed job's terminate event is still to come (_complete)
                self._materialize(job.cluster)

    def _cleanup_sandbox(self, job: QueuedJob) -> None:
        """Sandboxes are deleted by a background thread: rmtree is slow and the lock is held here."""
        if job.sandbox is not None and not self.keep_sandboxes:
            self._trash.put(job.sandbox)
        job.sandbox = None

    def _empty_trash(self) -> None:
        while (path := self._trash.get()) is not None:
            shutil.rmtree(path, ignore_errors=True)


def _check_universe(ad: classad2.ClassAd) -> None:
    universe = ad.get("JobUniverse", Universe.VANILLA)
    if universe != Universe.VANILLA:
        raise ValueError(f"the local pool runs only vanilla-universe jobs, not JobUniverse={universe}")
