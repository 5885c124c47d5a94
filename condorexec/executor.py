"""CondorExecutor: the Parsl adapter over condorexec's core (docs/design.md §2).

It turns what Parsl hands an executor — an app function behind Parsl's wrappers, its arguments with
``File`` objects and bash-app streams, a ``parsl_resource_specification`` — into a
:class:`~condorexec.core.CallRequest`, and hands it to :class:`~condorexec.core.Core`, which sizes,
batches, submits, tracks, retries and learns without knowing Parsl. This module,
``condorexec/parslfiles.py`` and ``condorexec/parslmonitor.py`` are the only ones that import Parsl.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
import uuid
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from parsl.executors.base import ParslExecutor
from parsl.executors.errors import InvalidResourceSpecification

from condorexec import render
from condorexec.core import CallRequest, Core
from condorexec.errors import InvalidSpecError
from condorexec.executor_config import (
    AutolabelConfig,
    JobConfig,
    PoolConfig,
    WorkerConfig,
    build_groups,
    core_config,
)
from condorexec.files import FilePlan
from condorexec.parslfiles import absolute_paths, plan_files
from condorexec.parslmonitor import MESSAGE_PREFIX, SandboxRadio, receiver_directory
from condorexec.pools.base import Pool
from condorexec.spec import KNOWN_KEYS, ResourceSpec, parse_spec

log = logging.getLogger(__name__)

#: an executor label names a directory under the run directory: no separators, no "..", no newlines
LABEL_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}")


class ParslInvalidSpec(InvalidSpecError, InvalidResourceSpecification):
    """A resource specification condorexec refuses, catchable as Parsl's own
    ``InvalidResourceSpecification`` (what a Parsl user catches) and as condorexec's InvalidSpecError."""

    def __init__(self, field: str, value: Any, reason: str):
        super().__init__(field, value, reason)
        self.invalid_keys, self.message = {field}, reason

    def __str__(self) -> str:
        return InvalidSpecError.__str__(self)


#: the keyword arguments Parsl's monitoring adds to each call (its task and try ids)
MONITORING_KWARGS = "_parsl_monitoring_"

#: the fields whose errors are about the resource specification (the rest: files, options)
SPEC_FIELDS = KNOWN_KEYS | {"parsl_resource_specification"}


class CondorExecutor(ParslExecutor):
    """Run each Parsl app call as an HTCondor job, on a real pool or the embedded local pool.

    Each option but ``label`` belongs to one group, and may be given as the flat keyword or in its
    group object (``condorexec.executor_config``): ``pool_config=PoolConfig(...)`` (pool, nodes, state_dir,
    schedd, collector, monitor_period, preload_modules, switch_interval, isolate),
    ``job_config=JobConfig(...)`` (worker_python, pack, shared_fs, batch_window, max_batch, max_retries,
    lease_minutes, workflow, workflow_dir), ``autolabel_config=AutolabelConfig(...)`` (autolabel,
    autocategory, category, allocation_mode, autolabel_window, autolabel_early_release, label_store) and
    ``worker_config=WorkerConfig(...)`` (mode, max_workers, worker_idle_timeout); a keyword and its group
    object together are refused.

    Keyword Args:
      label: the executor's name in Parsl's ``Config`` (and its directory in the run directory).
      pool: ``"auto"`` (HTCondor where it is configured, else the local pool; a configured schedd
        that does not answer is an error, never a switch to the local pool), ``"local"``,
        ``"condor"``, or a ``Pool`` instance. The pool chosen is logged at INFO.
      nodes: local pool only — emulated nodes, e.g. ``["cpus=6,memory=6000", "cpus=3,memory=3000"]``.
      state_dir: local pool state (spool, sandboxes); default: the user state directory.
      schedd: which HTCondor schedd to use (like condor_submit's -name).
      collector: which HTCondor pool's collector to ask (like condor_submit's -pool).
      worker_python: the Python the job runs on the node (default: this interpreter).
      autolabel: learn the sizes a call's specification leaves out from what finished jobs used
        (docs/labels.md).
      autocategory: with autolabel, each app is a category of its own (named after the app).
      category: the category of calls whose specification names none.
      allocation_mode: how a label is chosen from what was learned: ``"max_throughput"``,
        ``"min_waste"``, ``"max"`` or ``"fixed"`` (Work Queue's modes).
      autolabel_window: completions a category needs before its label is used.
      label_store: the SQLite file learned labels persist in (default: in the user data directory).
      autolabel_early_release: a learning category's waiting calls go as soon as its probe reports
        its running memory (at that plus 25%, with the user's or the default cores and disk), instead
        of after the probe ends (docs/labels.md, "Cold start"). Turn off for apps whose memory grows
        long after they start, or that use many cores without saying so in ``cores``.
      pack: ship a self-contained environment with each app (docs/shipping-your-environment.md).
      shared_fs: the execute nodes see the submit side's filesystem (like Work Queue's ``shared_fs``):
        ``File`` paths and bash-app streams pass to the app unchanged and nothing is transferred for
        them. Default False: inputs are transferred in, outputs back, and the app sees sandbox names.
      batch_window: calls arriving within this many seconds of each other are submitted as one cluster.
      max_batch: the most calls in one such cluster.
      max_retries: how often a job that outgrew a learned size is retried bigger.
      lease_minutes: a job whose submitter stopped renewing its lease is removed by the pool (a rerun
        of a named ``workflow`` must start within this time to adopt the jobs still running).
      workflow: a name for this workflow (letters, digits, ``_ . -``). Its calls are journaled, and a
        later run of the same script with the same name does not run again the calls that finished or
        still run: it hands over their results and follows their jobs (docs/durable.md). None: off.
      workflow_dir: where workflow journals live (default: the user data directory's ``workflows``).
      monitor_period: local pool only — seconds between samples of each job's memory and disk.
      switch_interval: in-process (local) pool only — the interpreter's thread switch interval while the
        executor runs (``sys.setswitchinterval``; restored at shutdown). The embedded pool's threads hand
        each job on to one another, and at Python's default 5 ms each handoff could wait that long: 0.2 ms
        made no-op apps 1.5x faster. ``None`` leaves the interpreter alone.
      preload_modules: local pool only — heavy modules your apps import (e.g. ``["numpy"]``, or
        ``["parsl.app.bash"]`` for many short bash apps), imported once by the pool's warm interpreter
        instead of once per job. It makes every job's fork (and measured memory) that much bigger.
      mode: ``"per_call"`` (each call its own HTCondor job, sized exactly), ``"workers"`` (category
        workers: one job per category size runs many calls, for short calls; no port opens on the
        submit side, files travel through chirp), or ``"auto"`` (per category, by measured wall time).
        See docs/workers.md.
      max_workers: workers at once (default: as many as the pool's machines hold for what waits).
      worker_idle_timeout: seconds a slot worker waits without work before it exits.
      isolate: local pool only — run each job inside bubblewrap, seeing only its sandbox and the
        system's read-only directories, as on an execute node that does not share the submitter's
        filesystem (a slot worker also sees its mailbox, the run directory).
    """

    def __init__(
        self,
        label: str = "condor",
        *,
        pool_config: PoolConfig | None = None,
        job_config: JobConfig | None = None,
        autolabel_config: AutolabelConfig | None = None,
        worker_config: WorkerConfig | None = None,
        **options: Any,
    ):
        super().__init__()
        if not isinstance(label, str) or not LABEL_PATTERN.fullmatch(label):
            raise InvalidSpecError("label", label, "must be letters, digits and _ . - (starting with a letter, digit "
                                   "or _): it names a directory in the run directory")
        self.label = label
        groups = build_groups({"pool_config": pool_config, "job_config": job_config,
                               "autolabel_config": autolabel_config, "worker_config": worker_config}, options)
        self.pool_config: PoolConfig = groups["pool_config"]
        self.job_config: JobConfig = groups["job_config"]
        self.autolabel_config: AutolabelConfig = groups["autolabel_config"]
        self.worker_config: WorkerConfig = groups["worker_config"]
        for field, path in (("state_dir", self.pool_config.state_dir),
                            ("label_store", self.autolabel_config.label_store)):
            if path is not None:  # a control character in a path would name another file
                render.check_name(field, os.fspath(path))
        self.config = core_config(self.job_config, self.autolabel_config, self.worker_config, self.pool_config)
        # Parsl monitoring: messages travel back with each job's outputs (condorexec/parslmonitor.py)
        self.remote_monitoring_radio = SandboxRadio()
        self.autocategory, self.category = self.autolabel_config.autocategory, self.autolabel_config.category
        self.shared_fs = self.job_config.shared_fs
        self.pool_choice = self.pool_config.pool
        self.pool_options = self.pool_config.pool_options()
        self.pool: Pool | None = None
        self.pool_reason = ""
        self.core: Core | None = None
        self._categories_seen: set[str] = set()  # by _first_sight, once per category per executor
        self._first_sight_lock = threading.Lock()

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        from condorexec.logsetup import follow_parsl
        from condorexec.pools.select import choose_pool

        render.check_name("run_dir", os.fspath(self.run_dir))  # Parsl sets it after __init__
        follow_parsl()  # condorexec's log lines into runinfo/NNN/parsl.log, as Parsl's executors' are

        # one token per executor of the Parsl run: two executors of one run must not remove (at shutdown),
        # renew or adopt each other's jobs
        run = f"{self.run_id or uuid.uuid4().hex[:12]}-{self.label}"
        self.run_token = "".join(c if c.isalnum() or c in "-_" else "_" for c in run)
        work_dir = Path(self.run_dir) / "condorexec" / self.label
        if isinstance(self.pool_choice, Pool):
            self.pool, self.pool_reason = self.pool_choice, "given Pool instance"
        else:
            options = {k: v for k, v in self.pool_options.items() if v is not None}
            if self.pool_choice == "condor":  # monitor_period always has a value but is the local pool's
                options.pop("monitor_period", None)
            self.pool, self.pool_reason = choose_pool(self.pool_choice, **options)
        log.info("%s: pool: %s", self.label, self.pool_reason)  # which pool the calls run on, said once
        self.core = Core(self.pool, self.config, work_dir, self.run_token,
                         batch_name=f"condorexec-{self.run_token}",
                         owns_pool=not isinstance(self.pool_choice, Pool))
        self.core.start()

    def shutdown(self) -> None:
        """Remove this run's jobs that are still queued or running; fail their futures; then let
        Parsl's monitoring receiver read what the jobs sent and stop (ParslExecutor.shutdown)."""
        if self.core is not None:
            self.core.shutdown()
        super().shutdown()

    # ---- what tests and tools read of a running executor ----------------------------------------

    @property
    def log_path(self) -> Path:
        return self._running().log_path

    @property
    def stats(self) -> dict[str, int]:
        return self._running().stats

    @property
    def fleet(self):
        """The slot workers (None with ``mode="per_call"``)."""
        return self._running().fleet

    @property
    def poller(self):
        return self._running().poller

    @property
    def sizer(self):
        return self._running().sizer

    def outstanding(self) -> int:
        return self.core.outstanding() if self.core is not None else 0

    def _running(self) -> Core:
        if self.core is None:
            raise RuntimeError(f"CondorExecutor {self.label!r} has not been started")
        return self.core

    # ---- submission --------------------------------------------------------------------------

    def submit(self, func, resource_specification: dict, *args, **kwargs) -> Future:
        if self.core is None:
            raise RuntimeError(f"CondorExecutor {self.label!r} is not running")
        try:
            spec = parse_spec(resource_specification)
            app_func = user_function(func)
            name = getattr(app_func, "__qualname__", None) or getattr(app_func, "__name__", "app")
            app = render.safe_app_name(str(name))
            kwargs, plan = (absolute_paths(kwargs), FilePlan()) if self.shared_fs else plan_files(kwargs)
            if getattr(self, "monitoring_messages", None) is not None:  # the DFK has monitoring on
                plan.collect.append((MESSAGE_PREFIX, receiver_directory(self.run_dir)))
            category = self._category_for(app_func, spec)
            if category not in self._categories_seen:
                self._first_sight(category, app_func, spec)
            identity = None
            if self.config.workflow is not None:  # Parsl's monitoring ids change from run to run: not the call's
                identity = (args, {k: v for k, v in kwargs.items() if not k.startswith(MONITORING_KWARGS)})
            call = CallRequest(strip_parsl_error_wrapper(func), args, kwargs, spec, category, app, plan,
                               source=app_func, identity=identity)
            return self.core.submit(call)
        except InvalidSpecError as exc:
            if exc.field in SPEC_FIELDS and not isinstance(exc, ParslInvalidSpec):
                raise ParslInvalidSpec(exc.field, exc.value, exc.reason) from exc
            raise

    def _first_sight(self, category: str, func: Any, spec: ResourceSpec) -> None:
        """The first call of a category in this executor: check what the label store knows of it.

        * An autocategory category is one app, so a change of that app's code (its fingerprint,
          ``condorexec/labels/fingerprint.py``) means the learned label is for other code: the store
          starts the category over and a WARNING says so. Categories the user named (``category=`` or
          the spec's ``category``) may hold several apps and are not checked.
        * A label or maximum seen above this pool's largest machine (learned on a bigger pool) is
          clipped to it: a WARNING per resource says so.

        Once per category (then cached), under a lock so that no call of the category is sized before
        the check; outside the per-call path otherwise. A notice that cannot be given is logged, never
        a reason to refuse the call."""
        with self._first_sight_lock:
            if category in self._categories_seen:
                return
            try:
                self._check_store(category, func, autocategory=self.autocategory and not spec.category
                                  and not self.category)
            except Exception as exc:  # noqa: BLE001 - a notice, not a reason to fail the call
                log.warning("category %r: could not check its learned label (%s)", category, exc)
            self._categories_seen.add(category)

    def _check_store(self, category: str, func: Any, *, autocategory: bool) -> None:
        from condorexec.labels.explain import clipping
        from condorexec.labels.fingerprint import code_fingerprint

        sizer = self._running().sizer
        store = getattr(sizer, "store", None)
        if store is None:  # autolabel off: nothing learned to go stale or be clipped
            return
        fingerprint = code_fingerprint(func) if autocategory else None
        if fingerprint is not None and store.note_app(category, fingerprint):
            log.warning("category %r: the app's code changed since its label was learned; the category "
                        "starts over (re-learning: samples of the old code no longer count)", category)
        learning = not store.in_steady_state(category, sizer.window)
        for clip in clipping(store.histograms(category), sizer.mode, sizer.maximum, learning=learning):
            log.warning("category %r: %s; its jobs ask for at most the largest machine (%s)", category, clip,
                        "a label learned on a bigger pool?" if clip.what == "learned"
                        else "a job that used this much cannot run on this pool")

    def _category_for(self, func, spec: ResourceSpec) -> str:
        if spec.category:
            return spec.category
        if self.category:
            return self.category
        if self.autocategory:
            module = getattr(func, "__module__", "") or ""
            name = getattr(func, "__qualname__", getattr(func, "__name__", "app"))
            return render.safe_app_name(f"{module}.{name}" if module and module != "__main__" else name)
        return "default"


def strip_parsl_error_wrapper(func: Any) -> Any:
    """Send what Parsl's ``wrap_error`` wraps, not the wrapper.

    The wrapper only turns an exception into a ``RemoteExceptionWrapper`` return value; the runner
    already sends exceptions back (with the node's traceback) and the DFK treats a raised exception
    the same way. Without it a python app's job never imports Parsl on the node, which costs ~0.2 s
    of CPU per job — or a Parsl-sized warm interpreter on the local pool."""
    from parsl.app.errors import wrap_error

    # functools.wraps copies the app's name and module onto the wrapper: recognise it by its code
    if getattr(func, "__code__", None) is wrap_error(len).__code__ and callable(getattr(func, "__wrapped__", None)):
        return func.__wrapped__
    return func


def user_function(func: Any) -> Any:
    """The user's own function behind Parsl's wrappers (``wrap_error``, the bash-app partial), whose
    name is what people recognise in tables and what autocategory groups by."""
    seen = 0
    while seen < 10:
        seen += 1
        if hasattr(func, "__wrapped__"):
            func = func.__wrapped__
        elif isinstance(func, functools.partial):
            func = func.args[0] if func.args and callable(func.args[0]) else func.func
        else:
            break
    return func
