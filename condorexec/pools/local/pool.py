"""The embedded local pool: HTCondor execute nodes with partitionable slots, made of this machine.

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
"""

from __future__ import annotations

import bisect
import errno
import fcntl
import getpass
import itertools
import logging
import os
import queue
import shutil
import socket
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import classad2
import htcondor2
import psutil

from condorexec import submit
from condorexec.condorfacts import HoldCode, HoldSubCode, JobStatus, Universe
from condorexec.pools.base import Machine, Pool, PoolProfile, SubmitResult
from condorexec.pools.local import spooling
from condorexec.pools.local.eventlog import EventLogs
from condorexec.pools.local.historyfile import append_ads, project, read_history
from condorexec.pools.local.isolation import bwrap_argv, check_bwrap, python_dirs
from condorexec.pools.local.launcher import JobExit, Launcher, LaunchError, LaunchRequest, sandbox_disk_kib
from condorexec.pools.local.spool import SpoolLayout, SpoolView
from condorexec.pools.local.support import local_pool_problems
from condorexec.pools.local.transfer import copy_files, output_target, parse_remaps, split_list
from condorexec.resources import Resources

log = logging.getLogger(__name__)

#: a transfer or exec failure's hold subcode is the errno, as the starter sets it
_SUBCODE_NO_SUCH_FILE = errno.ENOENT

#: The environment a starter gives a job that sets none (HTCondor passes no PATH by default).
BASE_ENV = {"PATH": "/usr/local/bin:/usr/bin:/bin"}

#: slot seconds a job start costs here (~80 trivial jobs/s on 2 cores; PoolProfile.job_start_seconds)
JOB_START_SECONDS = 0.025

#: an IMAGE_SIZE event is logged when a job's memory grew by this factor since the last one (HTCondor
#: logs one at each starter update that changed it: every few seconds at most, as this is)
IMAGE_SIZE_GROWTH = 1.1


@dataclass(frozen=True)
class NodeSpec(Machine):
    """One emulated execute node (a single partitionable slot): a :class:`Machine` that can be
    parsed from the node-spec text users type (``"cpus=6,memory=6000"``) or taken from this host."""

    @classmethod
    def this_machine(cls, disk_path: str | os.PathLike) -> NodeSpec:
        """One node the size of this machine; its disk is what is free where ``disk_path`` is (or
        would be: a state directory not made yet is measured at its nearest existing parent)."""
        where = Path(disk_path).absolute()
        while not where.exists():
            where = where.parent
        disk = shutil.disk_usage(where).free // 2**20
        return cls(socket.gethostname() or "localhost", os.cpu_count() or 1,
                   psutil.virtual_memory().total // 2**20, int(disk))

    @classmethod
    def parse(cls, text: str, index: int = 0) -> NodeSpec:
        """``"cpus=6,memory=6000[,disk=100000][,name=big]"`` (memory/disk in MB)."""
        values: dict[str, str] = {}
        for part in text.split(","):
            key, sep, value = part.partition("=")
            if not sep:
                raise ValueError(f"node spec {text!r}: expected key=value, got {part!r}")
            values[key.strip()] = value.strip()
        unknown = set(values) - {"cpus", "memory", "disk", "gpus", "name"}
        if unknown:
            raise ValueError(f"node spec {text!r}: unknown keys {sorted(unknown)}")
        try:
            node = cls(values.get("name", f"node{index + 1}"), int(values["cpus"]), int(values["memory"]),
                       int(values.get("disk", 100_000)), int(values.get("gpus", 0)))
        except (KeyError, ValueError) as exc:
            raise ValueError(f"node spec {text!r}: needs integer cpus= and memory= ({exc})") from None
        if min(node.cores, node.memory, node.disk) <= 0:
            raise ValueError(f"node spec {text!r}: sizes must be positive")
        return node


@dataclass
class _Node:
    """A node and what of it is free now (plain ints: the scheduler updates them on every claim)."""

    spec: NodeSpec
    free_cores: int
    free_memory: int  # MB
    free_disk: int  # MB
    free_gpus: int
    cache_dir: Path
    slots_used: int = 0

    @classmethod
    def empty(cls, spec: NodeSpec, cache_dir: Path) -> _Node:
        return cls(spec, spec.cores, spec.memory, spec.disk, spec.gpus, cache_dir)

    def fits(self, request: Resources) -> bool:
        """Whether ``request`` fits in what is free now."""
        return (request.cores <= self.free_cores and request.memory <= self.free_memory
                and request.disk <= self.free_disk and request.gpus <= self.free_gpus)

    def take(self, amount: Resources, sign: int = 1) -> None:
        """Claim ``amount`` (``sign=-1``: give it back)."""
        self.free_cores -= sign * amount.cores
        self.free_memory -= sign * amount.memory
        self.free_disk -= sign * amount.disk
        self.free_gpus -= sign * amount.gpus


class _Factory:
    """A late-materialization cluster's procs not made yet, and what the limits count.

    ``ads`` is the rest of the cluster's plan, consumed one ad per materialized proc (a million-proc
    cluster is never a list). ``cluster_ad`` is what a removal constraint is matched against, as the
    schedd matches the cluster ad of a factory (proc 0's attributes without a ProcId)."""

    def __init__(self, spec: submit.Factory, ads: Iterator[classad2.ClassAd], cluster_ad: classad2.ClassAd):
        self.spec = spec
        self.ads = ads
        self.cluster_ad = cluster_ad
        self.left = spec.total
        self.made = 0
        self.removed = False  # condor_rm of the cluster: no more procs are made
        self.in_queue = 0
        self.not_running = 0  # idle or held: what JobMaterializeMaxIdle limits

    def may_materialize(self) -> bool:
        """condor's JobMaterializeTimerCallback: below the limit, and below max_idle when it is >= 0."""
        if self.removed or self.left <= 0 or self.in_queue >= self.spec.limit:
            return False
        max_idle = self.spec.max_idle
        return max_idle is None or max_idle < 0 or self.not_running < max_idle


@dataclass
class _Job:
    ad: classad2.ClassAd
    cluster: int
    proc: int
    node: _Node | None = None
    sandbox: Path | None = None
    slot_name: str = ""
    started_at: float = 0.0
    removing: bool = False
    holding: tuple[str, int, int] | None = None
    peak_memory_mb: int = 0
    inputs_snapshot: dict[str, tuple[float, int]] = field(default_factory=dict)
    memory_logged_mb: int = 0  # the MemoryUsage of the last IMAGE_SIZE event of this start
    cached_request: Resources | None = None
    priority: int = 0
    status: int = JobStatus.IDLE  # mirrors ad["JobStatus"], read without a ClassAd lookup

    @property
    def queue_key(self) -> tuple[int, int, int]:
        """Matchmaking order: higher JobPrio first, then submission order."""
        return (-self.priority, self.cluster, self.proc)

    @property
    def job_id(self) -> str:
        return f"{self.cluster}.{self.proc}"

    def request(self) -> Resources:
        """What the job asks for (RequestCpus/Memory/Disk/GPUs; disk KiB -> MB) as the ad says now; cached
        (the scheduler asks on every pass, and ClassAd lookups are not cheap), so ``edit`` must call
        ``forget_request``."""
        if self.cached_request is None:
            self.cached_request = self._request_from_ad()
        return self.cached_request

    def forget_request(self) -> None:
        self.cached_request = None

    def _request_from_ad(self) -> Resources:
        def value(attr: str, default: int) -> int:
            v = self.ad.eval(attr) if attr in self.ad else default
            # classad2.Value (Undefined/Error) subclasses int: an undefined request is not the number 2
            if isinstance(v, bool | classad2.Value) or not isinstance(v, int | float):
                return default
            return int(v)

        disk_kib = value("RequestDisk", 1024)
        return Resources(value("RequestCpus", 1), value("RequestMemory", 128), -(-disk_kib // 1024),
                         value("RequestGPUs", 0))


def node_specs(nodes: Sequence[NodeSpec | str] | None = None,
               state_dir: SpoolLayout | str | os.PathLike | None = None) -> list[NodeSpec]:
    """The nodes a :class:`LocalPool` made with these arguments has: ``nodes`` parsed, or one node the
    size of this machine (its disk: what is free where ``state_dir`` is)."""
    specs = [NodeSpec.parse(n, i) if isinstance(n, str) else n for i, n in enumerate(nodes or [])]
    if not specs:
        layout = state_dir if isinstance(state_dir, SpoolLayout) else SpoolLayout(state_dir)
        specs = [NodeSpec.this_machine(layout.root)]
    names = [s.name for s in specs]
    if len(set(names)) != len(names):
        raise ValueError(f"node names must be unique, got {names}")
    return specs


def local_machines(nodes: Sequence[NodeSpec | str] | None = None,
                   state_dir: SpoolLayout | str | os.PathLike | None = None) -> list[Machine]:
    """What :meth:`LocalPool.describe_machines` would say for these arguments, without starting a pool
    (for the companion commands, which must not start one)."""
    return _described(node_specs(nodes, state_dir))


def _described(specs: Iterable[NodeSpec]) -> list[Machine]:
    machines = [Machine(s.name, s.cores, s.memory, s.disk, s.gpus) for s in specs]
    return sorted(machines, key=lambda m: m.resources.ordering_key(), reverse=True)


class LocalPool(Pool):
    """See the module docstring. ``nodes`` defaults to one node the size of this machine."""

    def __init__(
        self,
        nodes: Sequence[NodeSpec | str] | None = None,
        state_dir: str | os.PathLike | None = None,
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
        #: where this pool keeps its state (the one definition of the layout: pools/local/spool.py)
        self.spool = SpoolLayout(state_dir)
        self.spool.create()
        self._nodes = [_Node.empty(s, self.spool.nodes / s.name) for s in node_specs(nodes, self.spool)]
        for node in self._nodes:
            node.cache_dir.mkdir(parents=True, exist_ok=True)
        self._profile = PoolProfile(
            name="local", event_poll_interval=0.05, history_poll_interval=1.0,
            history_source=f"local:{self.spool.history}", fast_launch=not isolate, in_process=True,
            tune_switch_interval=True, worker_mailbox="filesystem", job_start_seconds=JOB_START_SECONDS,
            usage_report_seconds=monitor_period)
        self.keep_sandboxes = keep_sandboxes
        self._owner = getpass.getuser()
        self._lock = threading.RLock()
        self._wake = threading.Condition(self._lock)
        self._queue: dict[tuple[int, int], _Job] = {}
        # idle jobs in matchmaking order, kept sorted as jobs come and go (sorting the whole queue on every
        # scheduling pass cost milliseconds per job with thousands queued)
        self._idle: list[tuple[int, int, int]] = []
        self._factories: dict[int, _Factory] = {}  # cluster -> its procs not made yet
        self._spent: dict[int, _Factory] = {}  # removed factories: how many procs they never made
        self._logs = EventLogs()
        self._closed = False
        # preload: modules every fast-launched Python job would import (e.g. Parsl's app wrappers)
        self._launcher = Launcher(self._on_exit, monitor_period=monitor_period, on_sample=self._on_sample,
                                  preload=preload)
        self._scheduler = threading.Thread(target=self._schedule_loop, name="localpool-scheduler", daemon=True)
        self._scheduler.start()
        self._trash: queue.SimpleQueue[Path | None] = queue.SimpleQueue()
        self._cleaner = threading.Thread(target=self._empty_trash, name="localpool-cleaner", daemon=True)
        self._cleaner.start()

    # ---- Pool interface -------------------------------------------------------------------------

    @property
    def profile(self) -> PoolProfile:
        return self._profile

    @property
    def where(self) -> str:
        return f"Local pool: {self.spool.state_dir}"

    def prepare(self, description: htcondor2.Submit, submit_dir: str | os.PathLike | None = None, *,
                itemdata: Sequence[Mapping[str, str]] | None = None) -> tuple[list[str], list[str]]:
        """What of ``description`` this pool cannot honour (:mod:`condorexec.pools.local.support`); when
        it can run it and the description names no ``log``, a private one in the spool (the events of
        every job here are written to its log, and a user running the jobs in the foreground has no
        schedd to ask)."""
        plan = submit.plan_jobs(description, cluster_id=1, submit_dir=str(submit_dir or os.getcwd()),
                                    owner=self._owner, qdate=int(time.time()), itemdata=itemdata)
        ads = submit.ads_to_check(plan)
        errors, warnings = local_pool_problems(description, ads, self.describe_machines())
        if not errors and "log" not in {k.lower() for k in description.keys()}:
            self.spool.logs.mkdir(parents=True, exist_ok=True)
            description["log"] = str(self.spool.logs / f"submit.{os.getpid()}.{time.time_ns()}.log")
        return errors, warnings

    def submit(self, description: htcondor2.Submit, itemdata: Sequence[Mapping[str, str]] | None = None,
               count: int = 0, *, submit_dir: str | os.PathLike | None = None, spool: bool = False) -> SubmitResult:
        """Queue one cluster. ``spool``: copy each job's inputs into its spool directory first (the job
        runs from the copies) and keep its outputs there for :meth:`retrieve` (:mod:`.spooling`)."""
        if not isinstance(spool, bool):
            raise ValueError(f"spool must be True or False, got {spool!r}")
        cluster = self._next_cluster_id()
        now = int(time.time())
        plan = submit.plan_jobs(description, cluster_id=cluster, submit_dir=str(submit_dir or os.getcwd()),
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
        with self._lock:
            for ad in ads:
                self._enqueue(ad, now)
            self._wake.notify_all()
        self.events_written.set()
        return SubmitResult(cluster, int(ads[0]["ProcId"]), len(ads))

    def _spool_inputs(self, ads: Sequence[classad2.ClassAd]) -> None:
        """Every job's inputs into its spool directory before any is queued; on a failure none is kept."""
        dirs = [self.spool.job_spool(int(ad["ClusterId"]), int(ad["ProcId"])) for ad in ads]
        try:
            for ad, job_dir in zip(ads, dirs, strict=True):
                spooling.spool_job(ad, job_dir)
        except BaseException:
            for job_dir in dirs:
                spooling.discard(job_dir)
            raise

    def retrieve(self, job_spec: str | Iterable[str]) -> list[str]:
        """Deliver the outputs of finished ``-spool`` jobs (see :meth:`SpoolView.retrieve`)."""
        return SpoolView(self.spool).retrieve(job_spec)

    def _submit_factory(self, cluster: int, spec: submit.Factory, first: classad2.ClassAd,
                        rest: Iterator[classad2.ClassAd]) -> SubmitResult:
        """Keep the plan and make the first procs the limits allow, as the schedd does at once."""
        _check_universe(first)  # prepare checks every different proc; a direct caller gets the first checked
        cluster_ad = classad2.ClassAd(str(first))
        del cluster_ad["ProcId"]
        factory = _Factory(spec, itertools.chain([first], rest), cluster_ad)
        with self._lock:
            self._factories[cluster] = factory
            self._log_of(cluster_ad).cluster_submitted(cluster, time.time())
            self._materialize(factory, cluster)
            self._wake.notify_all()
        self.events_written.set()
        return SubmitResult(cluster, int(first["ProcId"]), spec.total)

    def _enqueue(self, ad: classad2.ClassAd, now: float) -> _Job:
        """A proc enters the queue, idle (this pool ignores ``hold = true``, saying so), with its submit event."""
        job = _Job(ad, int(ad["ClusterId"]), int(ad["ProcId"]), priority=int(ad.get("JobPrio", 0)))
        ad["JobStatus"] = JobStatus.IDLE
        ad["EnteredCurrentStatus"] = int(now)
        self._queue[(job.cluster, job.proc)] = job
        bisect.insort(self._idle, job.queue_key)
        self._log(job).submit(job.cluster, job.proc, now)
        return job

    def _materialize(self, factory: _Factory, cluster: int) -> None:
        """Make procs while the factory's limits allow (lock held); the factory goes when it is spent."""
        now = time.time()
        while factory.may_materialize():
            try:
                ad = next(factory.ads, None)
            except submit.SubmitDescriptionError as exc:
                # a proc whose own values are wrong: the schedd's factory stops there too (paused in error)
                log.error("cluster %d: proc %d cannot be materialized, no more are made: %s", cluster,
                          factory.spec.total - factory.left, exc)
                factory.removed = True
                factory.ads = iter(())
                self._spent[cluster] = factory
                break
            if ad is None:
                factory.left = 0
                break
            factory.left -= 1
            factory.made += 1
            ad["JobMaterializeLimit"] = factory.spec.limit
            ad["TotalSubmitProcs"] = factory.spec.total
            ad["JobMaterializeDate"] = int(now)
            self._enqueue(ad, now)
            factory.in_queue += 1
            factory.not_running += 1
        if (factory.left <= 0 or factory.removed) and factory.in_queue == 0:  # the cluster leaves the queue
            self._log_of(factory.cluster_ad).cluster_removed(cluster, time.time(), materialized=factory.made,
                                                             complete=not factory.removed)
            self._factories.pop(cluster, None)

    def unmaterialized(self, cluster: int) -> int:
        """Procs not made yet, and those a removal dropped (they will never be made)."""
        with self._lock:
            factory = self._factories.get(cluster) or self._spent.get(cluster)
            return factory.left if factory is not None else 0

    def query(self, constraint: str = "true", projection: Sequence[str] = ()) -> list[classad2.ClassAd]:
        expr = classad2.ExprTree(constraint or "true")
        with self._lock:
            ads = [job.ad for job in self._queue.values() if expr.eval(job.ad) is True]
            return [project(ad, projection) for ad in ads]

    def history(self, constraint: str = "true", projection: Sequence[str] = (), match: int = -1,
                since: int | str | None = None) -> Iterator[classad2.ClassAd]:
        if not self.spool.history.exists():
            return iter(())
        return read_history(self.spool.history, constraint, projection, match, since)

    def act(self, action: htcondor2.JobAction, job_spec: str | Iterable[str]) -> None:
        now = time.time()
        with self._lock:
            if action == htcondor2.JobAction.Remove and isinstance(job_spec, str):
                self._remove_factories(job_spec)
            for job in self._select(job_spec):
                status = job.status
                if action == htcondor2.JobAction.Remove:
                    self._remove(job, now)
                elif action == htcondor2.JobAction.Hold and status in (JobStatus.IDLE, JobStatus.RUNNING):
                    self._hold(job, now, f"via condor_hold (by user {self._owner})",
                               HoldCode.USER_REQUEST, HoldSubCode.UNSPECIFIED)
                elif action == htcondor2.JobAction.Release and status == JobStatus.HELD:
                    self._set_status(job, JobStatus.IDLE, now)
                    self._log(job).released(job.cluster, job.proc, now)
                elif action not in (htcondor2.JobAction.Remove, htcondor2.JobAction.Hold,
                                    htcondor2.JobAction.Release):
                    raise ValueError(f"the local pool does not support JobAction {action!r}")
            self._wake.notify_all()
        self.events_written.set()

    def _remove_factories(self, constraint: str) -> None:
        """The schedd removes a factory whose cluster ad the removal constraint matches (condor_rm of the
        cluster): its procs not made yet are dropped; no event or history record, as none existed."""
        expr = classad2.ExprTree(constraint or "true")
        for cluster, factory in list(self._factories.items()):
            if expr.eval(factory.cluster_ad) is True and not factory.removed:
                factory.removed = True
                factory.ads = iter(())  # the rest of the plan is not needed any more
                self._spent[cluster] = factory
                self._materialize(factory, cluster)  # no proc made; the cluster goes now if it has none left

    def edit(self, job_spec: str | Iterable[str], attr: str, value: str) -> None:
        expr = classad2.ExprTree(str(value))
        with self._lock:
            for job in self._select(job_spec):
                job.ad[attr] = expr
                # keep plain values plain (RequestMemory = 2048, not an expression), like the schedd
                evaluated = job.ad.eval(attr)
                if isinstance(evaluated, int | float | str | bool):
                    job.ad[attr] = evaluated
                job.forget_request()
                if attr.lower() == "jobprio" and isinstance(evaluated, int):
                    self._unqueue_idle(job)
                    job.priority = evaluated
                    if job.status == JobStatus.IDLE:
                        bisect.insort(self._idle, job.queue_key)
            self._wake.notify_all()

    def describe_machines(self) -> list[Machine]:
        return _described(n.spec for n in self._nodes)

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._remove_factories("true")
            now = time.time()
            for job in list(self._queue.values()):
                self._remove(job, now, reason="the local pool was shut down")
            self._wake.notify_all()
        self._launcher.close()
        self._scheduler.join(timeout=5)
        with self._lock:  # jobs whose exit never came (killed while being launched) still leave the queue
            for job in list(self._queue.values()):
                self._release_resources(job)
                self._finish(job, JobStatus.REMOVED, time.time())
        self._trash.put(None)
        self._cleaner.join(timeout=30)
        self._logs.close_all()

    # ---- scheduling -----------------------------------------------------------------------------

    def _schedule_loop(self) -> None:
        """Match under the lock, then do the slow part (file transfer, fork) outside it, so job exits and
        submissions are not held up behind a sandbox being filled."""
        while True:
            with self._lock:
                if self._closed:
                    return
                claimed = self._match()
                if not claimed:
                    self._wake.wait(timeout=1.0)
                    continue
            for job in claimed:
                self._launch(job)

    def _match(self) -> list[_Job]:
        """Matchmaking: in queue order (JobPrio, then submission), each idle job that fits is claimed."""
        if not any(n.free_cores > 0 for n in self._nodes):
            return []  # every core is taken: nothing can start (the common case while a big queue drains)
        claimed = []
        reserved: dict[str, int] = {}  # node name -> priority of the waiting job that reserved it
        for _, cluster, proc in list(self._idle):  # a copy: claiming takes jobs out of self._idle
            if not any(n.free_cores > 0 for n in self._nodes):
                break
            job = self._queue[(cluster, proc)]
            if job.removing:
                continue
            request = job.request()
            usable = [n for n in self._nodes if reserved.get(n.spec.name, job.priority) <= job.priority]
            node = next((n for n in usable if n.fits(request)), None)
            if node is not None:
                self._claim(job, node, request)
                claimed.append(job)
            elif (target := self._node_to_drain(request, usable)) is not None:
                # Smaller jobs of the same priority may pass a waiting big one, but lower-priority ones
                # may not take the node it waits for: otherwise a whole-node job (an autolabel probe)
                # would starve behind a stream of small ones. HTCondor's defrag daemon plays this part.
                reserved.setdefault(target.spec.name, job.priority)
        return claimed

    @staticmethod
    def _node_to_drain(request: Resources, nodes: list[_Node]) -> _Node | None:
        """The node a waiting job would fit once empty (the biggest such node)."""
        fitting = [n for n in nodes if request.fits_in(n.spec.resources)]
        return max(fitting, key=lambda n: n.spec.resources.ordering_key(), default=None)

    def _claim(self, job: _Job, node: _Node, request: Resources) -> None:
        node.take(request)
        node.slots_used += 1
        job.node = node
        job.slot_name = f"slot1_{node.slots_used}@{node.spec.name}"
        now = time.time()
        job.started_at = now
        job.peak_memory_mb = 0
        job.memory_logged_mb = 0
        ad = job.ad
        ad["NumJobStarts"] = starts = int(ad.get("NumJobStarts", 0)) + 1
        # unique per start: the previous attempt's sandbox may still be in the cleaner's queue
        job.sandbox = (self.spool.execute / node.spec.name /
                       f"dir_{job.cluster}_{job.proc}_{os.getpid()}_{starts}")
        ad["JobStartDate"] = int(ad.get("JobStartDate", now))
        ad["JobCurrentStartDate"] = int(now)
        ad["RemoteHost"] = job.slot_name
        ad["CpusProvisioned"], ad["MemoryProvisioned"] = request.cores, request.memory
        ad["DiskProvisioned"] = request.disk * 1024  # KiB
        self._set_status(job, JobStatus.RUNNING, now)

    def _launch(self, job: _Job) -> None:
        """Transfer input files and start a claimed job (called without the lock)."""
        now = job.started_at
        try:
            request = self._prepare_sandbox(job)
            error = None
        except (OSError, ValueError) as exc:
            request, error = None, exc
        with self._lock:
            if job.removing or job.holding or error is not None:
                self._release_resources(job)
                self._cleanup_sandbox(job)
                if job.removing:
                    self._finish(job, JobStatus.REMOVED, now)
                elif job.holding:
                    self._hold(job, now, *job.holding)
                else:
                    self._hold(job, now, f"Error from {job.slot_name}: failed to transfer input files: {error}",
                               HoldCode.TRANSFER_INPUT_ERROR, _SUBCODE_NO_SUCH_FILE)
                self._wake.notify_all()
                self.events_written.set()
                return
            asked = job.request()
            self._log(job).execute(
                job.cluster, job.proc, now, host=f"<127.0.0.1:0?alias={job.node.spec.name}>",
                slot_name=job.slot_name, cpus=asked.cores, memory_mb=asked.memory, disk_kib=asked.disk * 1024,
                scratch_dir=str(job.sandbox))
        try:
            self._launcher.launch(request)
        except LaunchError as exc:
            with self._lock:
                self._release_resources(job)
                if job.removing:  # e.g. the pool is closing: the launcher refused, the job was going anyway
                    self._finish(job, JobStatus.REMOVED, now)
                else:
                    self._hold(job, now, f"Error from {job.slot_name}: failed to execute: {exc}",
                               HoldCode.FAILED_TO_CREATE_PROCESS, _SUBCODE_NO_SUCH_FILE)
                self._wake.notify_all()
        else:
            with self._lock:
                if job.removing or job.holding:  # asked for while it was being launched: kill found nothing
                    self._launcher.kill(job.job_id)
        self.events_written.set()

    # ---- file transfer and launch ------------------------------------------------------------

    def _prepare_sandbox(self, job: _Job) -> LaunchRequest:
        ad, sandbox = job.ad, job.sandbox
        assert sandbox is not None
        if sandbox.exists():
            shutil.rmtree(sandbox)
        sandbox.mkdir(parents=True)
        iwd = Path(ad.get("Iwd", os.getcwd()))
        cmd = str(ad.get("Cmd", ""))
        fast = ad.get("CondorexecFastLaunch") is True and self._bwrap is None
        inputs = split_list(ad.get("TransferInput", ""))
        if not fast and ad.get("TransferExecutable", True) is not False and cmd:
            inputs.insert(0, cmd)
        stdin = str(ad.get("In", "/dev/null"))
        if stdin not in ("/dev/null", "") and ad.get("TransferIn", True) is not False:
            inputs.append(stdin)  # the starter is sent the input file with the job's other inputs
        for name in inputs:
            source = iwd / name
            target = sandbox / Path(name.rstrip("/")).name
            if source.is_dir():
                shutil.copytree(source, target if not name.endswith("/") else sandbox, dirs_exist_ok=True)
            else:
                shutil.copyfile(source, target)
                if name == cmd:
                    target.chmod(0o755)
        job.inputs_snapshot = _listing(sandbox)
        env = dict(BASE_ENV)
        env.update(submit.ad_environment(ad))
        env.update({
            "_CONDOR_SCRATCH_DIR": str(sandbox),
            "_CONDOR_SLOT": job.slot_name.split("@")[0],
            "CONDOREXEC_NODE_CACHE": str(job.node.cache_dir) if job.node else "",
            "OMP_NUM_THREADS": str(job.request().cores),
        })
        if stdin in ("/dev/null", ""):
            stdin_path = None
        elif ad.get("TransferIn", True) is not False:
            stdin_path = str(sandbox / Path(stdin).name)
        else:  # transfer_input = false: the job reads it where it is (a shared filesystem)
            stdin_path = str(iwd / stdin)
        args = submit.ad_arguments(ad)
        memory_limit = job.request().memory
        common = dict(job_key=job.job_id, cwd=str(sandbox), env=env, stdin_path=stdin_path,
                      stdout_path=str(sandbox / "_condor_stdout"), stderr_path=str(sandbox / "_condor_stderr"),
                      memory_limit_mb=memory_limit)
        if fast:
            worker = ad.get("CondorexecWorker") is not None  # a slot worker, forked warm like a call's job
            return LaunchRequest(kind="python", argv=args, **common,
                                 **({"entry_point": "condorexec.worker:main"} if worker else {}))
        executable = str(sandbox / Path(cmd).name) if ad.get("TransferExecutable", True) is not False else cmd
        argv = [executable, *args]
        if self._bwrap is not None:
            # a category worker on this pool reads its mailbox in its Iwd (the run directory) directly
            mailbox = [str(iwd)] if ad.get("CondorexecWorker") is not None else []
            argv = bwrap_argv(self._bwrap, argv, str(sandbox), read_only=python_dirs(),
                              read_write=[*mailbox, *([str(job.node.cache_dir)] if job.node else [])])
        return LaunchRequest(kind="exec", argv=argv, **common)

    def _transfer_output(self, job: _Job) -> tuple[str, int] | None:
        """Copy outputs back to Iwd as HTCondor would: a listed ``a/b.txt`` arrives as ``b.txt`` (no
        ``preserve_relative_paths`` here), a remap may name a path in directories not made yet. What
        HTCondor holds the job for (a named file missing, a target that cannot be written) comes back
        as (reason, errno), worded as HTCondor 25's shadow words it."""
        ad, sandbox = job.ad, job.sandbox
        assert sandbox is not None
        iwd = Path(ad.get("Iwd", os.getcwd()))
        copies: list[tuple[Path, Path]] = []
        returned: list[str] = []  # the outputs listed or found: a spooled job's SpooledOutputFiles
        for attr, name in (("Out", "_condor_stdout"), ("Err", "_condor_stderr")):
            target = ad.get(attr, "/dev/null")
            if target and target != "/dev/null" and (sandbox / name).exists():
                copies.append((sandbox / name, iwd / target))
        listed = ad.get("TransferOutput")
        if listed is not None:
            names = split_list(listed)
        else:  # HTCondor's default: every file created or changed in the top of the sandbox
            before = job.inputs_snapshot
            names = [name for name, stamp in _listing(sandbox).items()
                     if not name.startswith("_condor_") and before.get(name) != stamp]
        remaps = parse_remaps(ad.get("TransferOutputRemaps", ""))
        for name in names:
            source = sandbox / name
            if not source.exists():
                return (f"Error from {job.slot_name}: Failed to transfer output files: "
                        f"{name} (No such file or directory)", errno.ENOENT)
            copies.append((source, output_target(name, remaps, iwd)))
            returned.append(name)
        failed = copy_files(copies)
        if failed is not None:
            target, exc = failed
            return (f"Transfer output files failure at access point {socket.gethostname()} while receiving "
                    f"files from execution point {job.slot_name}. Details: writing to file {target}: "
                    f"(errno {exc.errno}) {exc.strerror or exc}", exc.errno or 0)
        if spooling.is_spooled(ad):  # what transfer-data will deliver from the spool (Iwd here)
            ad["SpooledOutputFiles"] = ",".join(dict.fromkeys(returned))
        return None

    # ---- job exits and monitoring --------------------------------------------------------------

    def _on_sample(self, job_key: str, tree_rss_kib: int) -> None:
        cluster, proc = (int(x) for x in job_key.split("."))
        with self._lock:
            job = self._queue.get((cluster, proc))
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
                    self._log(job).image_size(
                        job.cluster, job.proc, time.time(), image_size_kib=tree_rss_kib,
                        memory_usage_mb=memory_mb, resident_set_size_kib=tree_rss_kib)

    def _on_exit(self, result: JobExit) -> None:
        cluster, proc = (int(x) for x in result.job_key.split("."))
        with self._lock:
            job = self._queue.get((cluster, proc))
            if job is None or job.sandbox is None:
                return
            self._record_usage(job, result)
            now = result.ended_at
            self._release_resources(job)
            if job.removing:
                self._finish(job, JobStatus.REMOVED, now)
            elif result.over_memory:
                used = job.ad["MemoryUsage"]
                requested = job.request().memory
                reason = (f"Error from {job.slot_name}: Job has gone over memory limit of {requested} megabytes. "
                          f"Peak usage: {used} megabytes.")
                self._log(job).evicted(job.cluster, job.proc, now, reason=reason,
                                       code=HoldCode.JOB_OUT_OF_RESOURCES, subcode=HoldSubCode.MEMORY,
                                       user_cpu_s=result.user_cpu_s, sys_cpu_s=result.sys_cpu_s)
                self._hold(job, now, reason, HoldCode.JOB_OUT_OF_RESOURCES, HoldSubCode.MEMORY)
            elif job.holding is not None:
                self._hold(job, now, *job.holding)
            else:
                error = self._transfer_output(job)
                if error:
                    self._hold(job, now, error[0], HoldCode.TRANSFER_OUTPUT_ERROR, error[1])
                else:
                    self._complete(job, result, now)
            self._cleanup_sandbox(job)
            self._wake.notify_all()
        self.events_written.set()

    def _record_usage(self, job: _Job, result: JobExit) -> None:
        ad = job.ad
        peak_kib = max(result.peak_rss_kib, int(ad.get("ResidentSetSize", 0)))
        wall = max(result.ended_at - result.started_at, 0.0)
        cpu = result.user_cpu_s + result.sys_cpu_s
        ad["ResidentSetSize"] = peak_kib
        ad["ImageSize"] = peak_kib
        ad["MemoryUsage"] = -(-peak_kib // 1024)
        ad["DiskUsage"] = max(sandbox_disk_kib(str(job.sandbox)), 1) if job.sandbox else 0
        ad["RemoteUserCpu"] = float(ad.get("RemoteUserCpu", 0.0)) + result.user_cpu_s
        ad["RemoteSysCpu"] = float(ad.get("RemoteSysCpu", 0.0)) + result.sys_cpu_s
        ad["CpusUsage"] = round(cpu / wall, 4) if wall > 0 else 0.0
        ad["RemoteWallClockTime"] = float(ad.get("RemoteWallClockTime", 0.0)) + wall
        ad["CommittedTime"] = int(wall)
        ad["LastRemoteHost"] = job.slot_name

    def _complete(self, job: _Job, result: JobExit, now: float) -> None:
        ad = job.ad
        if result.signal is not None:
            ad["ExitBySignal"], ad["ExitSignal"] = True, result.signal
        else:
            ad["ExitBySignal"], ad["ExitCode"] = False, result.exit_code
        asked = job.request()
        self._finish(job, JobStatus.COMPLETED, now)  # history first: whoever reads the event finds the record
        self._log(job).terminated(
            job.cluster, job.proc, now, return_value=result.exit_code, signal=result.signal,
            user_cpu_s=result.user_cpu_s, sys_cpu_s=result.sys_cpu_s, bytes_sent=0, bytes_received=0,
            cpus_usage=float(ad["CpusUsage"]), request_cpus=asked.cores, allocated_cpus=asked.cores,
            disk_usage_kib=int(ad["DiskUsage"]), request_disk_kib=asked.disk * 1024,
            allocated_disk_kib=asked.disk * 1024, memory_usage_mb=int(ad["MemoryUsage"]),
            request_memory_mb=asked.memory, allocated_memory_mb=asked.memory,
            time_execute_s=int(now - job.started_at))
        factory = self._factories.get(job.cluster)
        if factory is not None:  # the schedd makes the next proc once the job has left: its submit event follows
            self._materialize(factory, job.cluster)

    # ---- state changes ------------------------------------------------------------------------

    def _set_status(self, job: _Job, status: int, now: float) -> None:
        if job.status == JobStatus.IDLE and status != JobStatus.IDLE:
            self._unqueue_idle(job)
        elif status == JobStatus.IDLE and job.status != JobStatus.IDLE:
            bisect.insort(self._idle, job.queue_key)
        was = job.status
        job.ad["LastJobStatus"] = job.status
        job.ad["JobStatus"] = job.status = status
        job.ad["EnteredCurrentStatus"] = int(now)
        factory = self._factories.get(job.cluster)
        if factory is not None:
            waiting = (JobStatus.IDLE, JobStatus.HELD)
            factory.not_running += (status in waiting) - (was in waiting)
            if status not in (JobStatus.COMPLETED, JobStatus.REMOVED):  # _finish does it, after the event
                self._materialize(factory, job.cluster)

    def _unqueue_idle(self, job: _Job) -> None:
        i = bisect.bisect_left(self._idle, job.queue_key)
        if i < len(self._idle) and self._idle[i] == job.queue_key:
            del self._idle[i]

    def _hold(self, job: _Job, now: float, reason: str, code: int, subcode: int) -> None:
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
        self._log(job).held(job.cluster, job.proc, now, reason=reason, code=code,
                                                 subcode=subcode)

    def _remove(self, job: _Job, now: float, reason: str | None = None) -> None:
        if job.removing:
            return
        job.removing = True
        job.ad["RemoveReason"] = reason or f"via condor_rm (by user {self._owner})"
        if job.status == JobStatus.RUNNING and job.node is not None:
            self._launcher.kill(job.job_id)  # _on_exit finishes the removal
        else:
            self._finish(job, JobStatus.REMOVED, now)

    def _finish(self, job: _Job, status: int, now: float) -> None:
        """The job leaves the queue: history record, then event. As the schedd does, a removed job gets no
        CompletionDate and a removed held job keeps its hold only as LastHoldReason*."""
        self._set_status(job, status, now)
        if status == JobStatus.COMPLETED:
            job.ad["CompletionDate"] = int(now)
        else:
            for attr in ("HoldReason", "HoldReasonCode", "HoldReasonSubCode"):
                if attr in job.ad:
                    del job.ad[attr]
        del self._queue[(job.cluster, job.proc)]
        append_ads(self.spool.history, [job.ad])
        if status == JobStatus.REMOVED and spooling.is_spooled(job.ad):  # no output will ever be fetched
            spooling.discard(self.spool.job_spool(job.cluster, job.proc))
        if status == JobStatus.REMOVED:
            self._log(job).aborted(job.cluster, job.proc, now, reason=str(job.ad["RemoveReason"]))
        factory = self._factories.get(job.cluster)
        if factory is not None:  # its place in the limit is free
            factory.in_queue -= 1
            if status != JobStatus.COMPLETED:  # a completed job's terminate event is still to come (_complete)
                self._materialize(factory, job.cluster)

    def _release_resources(self, job: _Job) -> None:
        if job.node is None:
            return
        provisioned = Resources(int(job.ad["CpusProvisioned"]), int(job.ad["MemoryProvisioned"]),
                                int(job.ad["DiskProvisioned"]) // 1024, job.request().gpus)
        job.node.take(provisioned, sign=-1)
        job.node = None

    def _cleanup_sandbox(self, job: _Job) -> None:
        """Sandboxes are deleted by a background thread: rmtree is slow and the lock is held here."""
        if job.sandbox is not None and not self.keep_sandboxes:
            self._trash.put(job.sandbox)
        job.sandbox = None

    def _empty_trash(self) -> None:
        while (path := self._trash.get()) is not None:
            shutil.rmtree(path, ignore_errors=True)

    # ---- helpers ------------------------------------------------------------------------------

    def _select(self, job_spec: str | Iterable[str]) -> list[_Job]:
        if isinstance(job_spec, str):
            expr = classad2.ExprTree(job_spec)
            return [j for j in self._queue.values() if expr.eval(j.ad) is True]
        wanted = set()
        for spec in job_spec:
            cluster, _, proc = str(spec).partition(".")
            wanted.add((int(cluster), int(proc)))
        return [self._queue[k] for k in wanted if k in self._queue]

    def _log(self, job: _Job):
        """The job's event-log writer; a job that names no log gets events nobody reads."""
        path = self._log_path(job)
        return self._logs.get(path) if path else _NO_LOG

    def _log_of(self, ad: classad2.ClassAd):
        """The event-log writer of the log ``ad`` names (a cluster's events go to its procs' log)."""
        path = ad.get("UserLog")
        if not path:
            return _NO_LOG
        return self._logs.get(path if os.path.isabs(path) else os.path.join(ad.get("Iwd", ""), path))

    def _log_path(self, job: _Job) -> str | None:
        path = job.ad.get("UserLog")
        if not path:
            return None
        return path if os.path.isabs(path) else os.path.join(job.ad.get("Iwd", ""), path)


    def _next_cluster_id(self) -> int:
        """Cluster ids are unique across every process sharing this state directory."""
        path = self.spool.next_cluster
        with open(path, "a+") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            f.seek(0)
            text = f.read().strip()
            cluster = int(text) if text else 1
            f.seek(0)
            f.truncate()
            f.write(str(cluster + 1))
        return cluster


def _check_universe(ad: classad2.ClassAd) -> None:
    universe = ad.get("JobUniverse", Universe.VANILLA)
    if universe != Universe.VANILLA:
        raise ValueError(f"the local pool runs only vanilla-universe jobs, not JobUniverse={universe}")


class _NoLog:
    """Stands in for an event-log writer for jobs without ``log =``: every event method does nothing."""

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: None


_NO_LOG = _NoLog()


def _listing(directory: Path) -> dict[str, tuple[float, int]]:
    """Top-level files of a sandbox with (mtime_ns, size): what changed is compared, not clocks."""
    listing = {}
    for entry in os.scandir(directory):
        if entry.is_file(follow_symlinks=False):
            st = entry.stat(follow_symlinks=False)
            listing[entry.name] = (st.st_mtime_ns, st.st_size)
    return listing
