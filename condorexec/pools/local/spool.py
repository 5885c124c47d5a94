"""The local pool's spool as the companion commands see it: published queues, removal requests, and
a read-only :class:`SpoolView` (the paths themselves are :class:`~.layout.SpoolLayout`'s).

The embedded local pool lives inside the ``condorexec submit`` process that runs it, so a
``condorexec q`` or ``condorexec rm`` in another terminal cannot ask it anything directly. The
submitting process therefore publishes its queue as a file, ``spool/queue.<pid>.ads`` (job ads in
HTCondor's long form, blank-line separated, rewritten atomically whenever the queue changes and
deleted at exit); readers merge every such file whose process is still alive, ignoring stale ones.
Removal goes the other way: ``rm`` writes ``spool/rm.<unique>.req`` naming job ids, every running
``submit`` applies the ids that are its own, and ``rm`` deletes the request once the jobs are gone.
History needs nothing extra: the local pool appends it to ``spool/history`` (:class:`SpoolView`
reads it like ``Schedd.history``).

Reading never creates anything: on a machine where no local pool ever ran, the view is just empty.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import classad2
import htcondor2
import psutil

from condorexec.condorfacts import JobStatus, job_constraint
from condorexec.errors import SpoolError
from condorexec.pools.base import Machine, largest
from condorexec.pools.local.historyfile import project, read_history
from condorexec.pools.local.layout import SpoolLayout, as_layout
from condorexec.pools.local.nodes import local_machines
from condorexec.pools.local.spooling import discard, is_spooled, retrieve_job

#: removal requests older than this are ignored and cleaned up by ``rm``
REQUEST_TTL_S = 120.0

_QUEUE_GLOB = "queue.*.ads"
_REQUEST_GLOB = "rm.*.req"


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def ads_text(ads: Iterable[classad2.ClassAd]) -> str:
    """Ads in the long ("old") form, each followed by a blank line, as ``condor_q -long`` prints them."""
    return "".join(ad.printOld() + "\n" for ad in ads)


def history_path(state_dir: SpoolLayout | str | os.PathLike[str]) -> Path:
    """The local pool's history file under ``state_dir``."""
    return as_layout(state_dir).history


class QueueSnapshot:
    """The publishing side: one file per submitting process, written only when its content changes."""

    def __init__(self, state_dir: SpoolLayout | str | os.PathLike[str], pid: int | None = None):
        self.path = as_layout(state_dir).queue_snapshot(pid or os.getpid())
        self._last: str | None = None

    def write(self, ads: Sequence[classad2.ClassAd]) -> bool:
        """Publish ``ads``; returns whether the file changed."""
        text = ads_text(ads)
        if text == self._last:
            return False
        _atomic_write(self.path, text)
        self._last = text
        return True

    def remove(self) -> None:
        self.path.unlink(missing_ok=True)
        self._last = None


def _pid_of(path: Path) -> int | None:
    try:
        return int(path.name.split(".")[1])
    except (IndexError, ValueError):
        return None


def read_queue(state_dir: SpoolLayout | str | os.PathLike[str]) -> list[classad2.ClassAd]:
    """Every live submitting process's queued jobs, in (ClusterId, ProcId) order."""
    ads: list[classad2.ClassAd] = []
    for path in as_layout(state_dir).spool.glob(_QUEUE_GLOB):
        pid = _pid_of(path)
        if pid is None or not psutil.pid_exists(pid):
            continue  # a process that died without cleaning up: its jobs died with it
        try:
            text = path.read_text()
        except FileNotFoundError:
            continue  # it exited between glob and read
        ads.extend(classad2.parseAds(text, classad2.ParserType.Old))
    return sorted(ads, key=lambda ad: (ad.get("ClusterId", 0), ad.get("ProcId", 0)))


def write_removal_request(state_dir: SpoolLayout | str | os.PathLike[str], job_ids: Sequence[str], reason: str) -> Path:
    """Ask every running local pool to remove ``job_ids`` (``"C.P"``); returns the request file."""
    path = as_layout(state_dir).spool / f"rm.{time.time():.6f}.{uuid.uuid4().hex[:8]}.req"
    _atomic_write(path, json.dumps({"jobs": list(job_ids), "reason": reason, "time": time.time()}))
    return path


def pending_removals(state_dir: SpoolLayout | str | os.PathLike[str], seen: set[str]) -> list[tuple[list[str], str]]:
    """Requests not handled yet by this process: (job ids, reason) each; ``seen`` is updated."""
    out = []
    now = time.time()
    for path in sorted(as_layout(state_dir).spool.glob(_REQUEST_GLOB)):
        if path.name in seen:
            continue
        seen.add(path.name)
        try:
            request = json.loads(path.read_text())
        except (OSError, ValueError):
            continue
        if now - float(request.get("time", 0)) > REQUEST_TTL_S:
            continue
        out.append(([str(j) for j in request.get("jobs", [])], str(request.get("reason", ""))))
    return out


def clean_stale(state_dir: SpoolLayout | str | os.PathLike[str]) -> None:
    """Delete queue files of dead processes and expired removal requests."""
    now = time.time()
    spool = as_layout(state_dir).spool
    for path in spool.glob(_QUEUE_GLOB):
        pid = _pid_of(path)
        if pid is not None and not psutil.pid_exists(pid):
            path.unlink(missing_ok=True)
    for path in spool.glob(_REQUEST_GLOB):
        try:
            if now - path.stat().st_mtime > REQUEST_TTL_S:
                path.unlink(missing_ok=True)
        except FileNotFoundError:
            pass


def _matching_clusters(ads: Sequence[classad2.ClassAd], constraint: str) -> list[str]:
    """``"C.-1"`` (HTCondor's id of a cluster ad) for each cluster of ``ads`` whose cluster ad the
    constraint matches, judged on one of its procs without its ProcId: the schedd removes a factory's
    procs not made yet when the removal constraint matches the cluster ad (``condor_rm C``), and the
    submitting process, which alone knows whether C is a factory, does the same on seeing ``C.-1``."""
    expr = classad2.ExprTree(constraint or "true")
    out: dict[int, str] = {}
    for ad in ads:
        cluster = int(ad["ClusterId"])
        if cluster in out:
            continue
        cluster_ad = classad2.ClassAd(str(ad))
        del cluster_ad["ProcId"]
        out[cluster] = f"{cluster}.-1" if expr.eval(cluster_ad) is True else ""
    return [v for v in out.values() if v]


class SpoolView:
    """A read-only view of a local pool's spool for the companion commands (``q``, ``history``,
    ``rm``, ``labels``), asked with the same calls as a :class:`~condorexec.pools.base.Pool`: the
    queue the running ``submit`` processes publish, the history they append, removal by request, and
    the machines a local pool with ``nodes`` would have. It never starts a pool."""

    #: seconds :meth:`act` waits for the submitting processes to remove the jobs
    REMOVE_WAIT_S = 10.0

    def __init__(self, state_dir: SpoolLayout | str | os.PathLike[str] | None = None, *, nodes: Sequence[str] = ()):
        self.layout = as_layout(state_dir)
        self.nodes = list(nodes)

    @property
    def state_dir(self) -> Path:
        return self.layout.state_dir

    @property
    def where(self) -> str:
        return f"Local pool: {self.layout.state_dir}"

    def query(self, constraint: str = "true", projection: Sequence[str] = ()) -> list[classad2.ClassAd]:
        """Queued jobs of every live submitting process that match ``constraint``, in job-id order."""
        expr = classad2.ExprTree(constraint or "true")
        return [project(ad, projection) for ad in read_queue(self.layout) if expr.eval(ad) is True]

    def history(self, constraint: str = "true", projection: Sequence[str] = (), match: int = -1,
                since: int | str | None = None) -> Iterator[classad2.ClassAd]:
        """Finished jobs, newest first, as ``Schedd.history`` returns them."""
        if not self.layout.history.exists():
            return iter(())
        return read_history(self.layout.history, constraint, projection, match, since)

    def act(self, action: htcondor2.JobAction, job_spec: str | Iterable[str]) -> None:
        """Remove jobs (the only action a spool can ask for): a removal request the submitting processes
        act on, waited for up to ``REMOVE_WAIT_S``; :class:`SpoolError` if they did not."""
        if action != htcondor2.JobAction.Remove:
            raise ValueError(f"the local pool's spool can only ask for removal, not {action!r}")
        factories: list[str] = []
        if isinstance(job_spec, str):
            ads = self.query(job_spec)
            ids = [f"{ad['ClusterId']}.{ad['ProcId']}" for ad in ads]
            factories = _matching_clusters(ads, job_spec)
        else:
            ids = [str(j) for j in job_spec]
        if not ids:
            return
        request = write_removal_request(self.layout, ids + factories, "via condorexec rm")
        try:
            deadline = time.monotonic() + self.REMOVE_WAIT_S
            left = set(ids)
            while left and time.monotonic() < deadline:
                time.sleep(0.1)
                left &= {f"{ad['ClusterId']}.{ad['ProcId']}" for ad in read_queue(self.layout)}
        finally:
            request.unlink(missing_ok=True)
        if left:
            raise SpoolError(f"job(s) {' '.join(sorted(left))} still queued after {self.REMOVE_WAIT_S:g}s: the "
                             f"submitting process did not act on the removal request")

    def retrieve(self, job_spec: str | Iterable[str]) -> list[str]:
        """Deliver the outputs of the finished ``-spool`` jobs that ``job_spec`` (a constraint, or
        ``"C.P"`` ids) selects to where they would have gone, then delete them from the spool: the
        local pool's "retrieved" mark, like the schedd letting such a job leave its queue. Returns the
        ids delivered. Jobs without spooled output match nothing, as with condor_transfer_data.

        A job's spool directory is first renamed aside, so two transfer-data runs never deliver one
        job twice; when a delivery fails it is put back and :class:`SpoolingError` says which file."""
        if isinstance(job_spec, str):
            constraint = job_spec
        else:
            ids = [str(j) for j in job_spec]
            constraint = " || ".join(f"({job_constraint(i)})" for i in ids) or "false"
        delivered = []
        for ad in self.history(f"({constraint}) && JobStatus == {int(JobStatus.COMPLETED)}"):
            if not is_spooled(ad):
                continue
            job_dir = self.layout.job_spool(int(ad["ClusterId"]), int(ad["ProcId"]))
            claimed = job_dir.with_name(f"{job_dir.name}.retrieving.{os.getpid()}")
            try:
                os.rename(job_dir, claimed)
            except FileNotFoundError:
                continue  # retrieved already, or by another process just now
            try:
                retrieve_job(ad, claimed)
            except BaseException:
                os.rename(claimed, job_dir)
                raise
            discard(claimed)
            delivered.append(f"{ad['ClusterId']}.{ad['ProcId']}")
        return delivered

    def describe_machines(self) -> list[Machine]:
        """The machines of a local pool with these ``nodes`` (none: this machine), largest first."""
        return local_machines(self.nodes, self.layout)

    def largest_machine(self) -> Machine:
        return largest(self.describe_machines(), "local")

    def close(self) -> None:
        """Nothing to release (the same call as ``Pool.close``)."""
