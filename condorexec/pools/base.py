"""The Pool interface: the one seam between condorexec and whatever runs its jobs.

Both the embedded local pool and a real HTCondor schedd are driven through this interface, and
its methods mirror the htcondor2 ``Schedd`` calls they stand for (``submit``, ``query``,
``history``, ``act``, ``edit``) so that code above this layer cannot tell the two apart. Job
state does not come through here: every job description names a job event log (``log = ...``)
and callers read that log with ``htcondor2.JobEventLog``, exactly as they would on HTCondor.

Where the two pools differ in what they can do, the pool says so in its :class:`PoolProfile`;
code above ``pools/`` reads the profile and never asks which pool it has (docs/design.md §2.1).
"""

from __future__ import annotations

import abc
import os
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import classad2
import htcondor2

from condorexec.resources import Resources


@dataclass(frozen=True)
class SubmitResult:
    """What a submit created: procs ``first_proc .. first_proc + num_procs - 1`` of ``cluster``."""

    cluster: int
    first_proc: int
    num_procs: int

    def job_ids(self) -> list[str]:
        return [f"{self.cluster}.{p}" for p in range(self.first_proc, self.first_proc + self.num_procs)]


@dataclass(frozen=True)
class Machine:
    """One execute node as a submitter sees it: a partitionable slot's total resources
    (memory and disk in MB, as everywhere in condorexec: :mod:`condorexec.resources`)."""

    name: str
    cores: int
    memory: int  # MB
    disk: int  # MB
    gpus: int = 0

    @property
    def resources(self) -> Resources:
        return Resources(self.cores, self.memory, self.disk, self.gpus)


def largest(machines: Sequence[Machine], pool_name: str) -> Machine:
    """The machine a job asking for "everything" is sized to, by :meth:`Resources.ordering_key`
    (most memory, then cores, then disk). ``pool_name`` is for the message only."""
    if not machines:
        raise RuntimeError(f"the {pool_name} pool reports no execute machines")
    return max(machines, key=lambda m: m.resources.ordering_key())


@dataclass(frozen=True)
class PoolProfile:
    """What a pool can do, for the code above ``pools/`` to read instead of asking which pool it is."""

    #: "local" / "condor": for messages only, never branched on
    name: str
    #: seconds between reads of a job event log when nothing wakes the reader (``Pool.events_written``)
    event_poll_interval: float
    #: seconds between the label poller's passes over the history
    history_poll_interval: float
    #: a stable id of the history this pool's finished jobs go to: names the label poller's cursor and
    #: keys samples, so every process reading one history (an executor, ``condorexec submit``) shares it
    history_source: str
    #: the pool can start condorexec's plain-Python wrapper by forking a warm interpreter
    #: (jobs marked ``CondorexecFastLaunch``) instead of exec'ing it
    fast_launch: bool = False
    #: the pool's jobs run inside this process and die with it: whoever submits must stay and wait
    in_process: bool = False
    #: the pool's threads hand jobs to each other in this interpreter, so a shorter thread switch
    #: interval (``sys.setswitchinterval``) speeds it up
    tune_switch_interval: bool = False
    #: how a slot worker reaches its mailbox in the run directory: ``"chirp"`` (HTCondor's I/O
    #: proxy through the starter and shadow; no port, no shared filesystem) or ``"filesystem"`` (the
    #: pool runs jobs where the submitter's files are)
    worker_mailbox: str = "filesystem"
    #: seconds of slot time a job start costs on this pool, roughly (shadow, starter, transfers,
    #: matchmaking): ``mode="auto"`` sends a category to workers when its calls are shorter than ten of
    #: these (docs/design.md §7)
    job_start_seconds: float = 1.0
    #: seconds between reports of a running job's memory (IMAGE_SIZE events in its event log; HTCondor's
    #: STARTER_UPDATE_INTERVAL): how long memory must not grow before a probe's counts (core/probes.py)
    usage_report_seconds: float = 300.0


class Pool(abc.ABC):
    """A place that runs HTCondor jobs. See the module docstring."""

    #: set whenever the pool has written new job events, so that a tracker waiting on the log can
    #: wake at once instead of at its next poll (a real schedd has no such hook; it stays unset).
    events_written: threading.Event

    def __init__(self) -> None:
        self.events_written = threading.Event()

    @property
    @abc.abstractmethod
    def profile(self) -> PoolProfile:
        """What this pool can do (see :class:`PoolProfile`)."""

    def prepare(self, description: htcondor2.Submit, submit_dir: str | os.PathLike | None = None, *,
                itemdata: Sequence[Mapping[str, str]] | None = None) -> tuple[list[str], list[str]]:
        """Check ``description`` (with the ``itemdata`` it will be submitted with) before it is
        submitted from ``submit_dir`` (default: the working directory), and fill in what this pool
        needs that a schedd does not: ``(errors, warnings)``, each a list of messages naming the
        command at fault. With errors, do not submit. A schedd takes whatever condor_submit would,
        so the default finds nothing and changes nothing."""
        return [], []

    @abc.abstractmethod
    def submit(
        self,
        description: htcondor2.Submit,
        itemdata: Sequence[Mapping[str, str]] | None = None,
        count: int = 0,
        *,
        spool: bool = False,
    ) -> SubmitResult:
        """Queue one cluster: with ``itemdata``, one proc per row (times ``count``, if given);
        else as the description's own queue statement says.

        With ``spool=True`` (a pool that cannot spool refuses it) the jobs' input files are
        copied to the pool before the jobs may start (``Schedd.submit(spool=True)`` then
        ``Schedd.spool``), and their outputs stay there until :meth:`retrieve`."""

    @abc.abstractmethod
    def query(self, constraint: str = "true", projection: Sequence[str] = ()) -> list[classad2.ClassAd]:
        """Ads of jobs still in the queue that match ``constraint``."""

    def unmaterialized(self, cluster: int) -> int:
        """How many procs of a late-materialization ``cluster`` this process's pool has not made yet
        (not in :meth:`query`, not in the history): what a watcher must still count. A schedd's
        factories are the schedd's business, so the default is 0."""
        return 0

    @abc.abstractmethod
    def history(
        self,
        constraint: str = "true",
        projection: Sequence[str] = (),
        match: int = -1,
        since: int | str | None = None,
    ) -> Iterator[classad2.ClassAd]:
        """Ads of jobs that left the queue, newest first, as ``Schedd.history`` returns them.

        ``since``: an int is a ClusterId, a ``"C.P"`` string a job id, any other string a ClassAd
        expression; the scan stops at the first record for which it holds (that record excluded)."""

    @abc.abstractmethod
    def act(self, action: htcondor2.JobAction, job_spec: str | Iterable[str]) -> None:
        """Remove, hold or release jobs: ``job_spec`` is a constraint or a list of ``"C.P"`` ids."""

    @abc.abstractmethod
    def edit(self, job_spec: str | Iterable[str], attr: str, value: str) -> None:
        """Set ``attr`` to the ClassAd expression ``value`` in the matching queued jobs."""

    def retrieve(self, job_spec: str | Iterable[str]) -> object:
        """Fetch the spooled output of the jobs ``job_spec`` selects (a constraint or ``"C.P"`` ids) to
        where their descriptions said, as ``Schedd.retrieve`` (condor_transfer_data) does."""
        raise NotImplementedError(f"the {self.profile.name} pool does not keep spooled output")

    @abc.abstractmethod
    def describe_machines(self) -> list[Machine]:
        """The execute nodes' partitionable slots, largest first."""

    @property
    def where(self) -> str:
        """Where this pool is, for people (a heading, a message)."""
        return f"{self.profile.name} pool"

    def largest_machine(self) -> Machine:
        """The node a job that asks for "everything" would be sized to (autolabel's maximum)."""
        return largest(self.describe_machines(), self.profile.name)

    def close(self) -> None:  # noqa: B027 - most pools hold nothing to release
        """Release what the pool holds in this process (threads, connections). Idempotent."""
