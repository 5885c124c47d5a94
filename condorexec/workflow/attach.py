"""Re-attaching a rerun to what an earlier run of the workflow left: finished results, jobs still in the
queue, calls in slot workers still running (docs/durable.md).

:func:`decide` is the rule, a pure function of one journal row and what is true now; :class:`Resume`
gathers those facts once at the start of a run (the journal's rows, one schedd query for the earlier
runs' jobs, the earlier workers' unread results) and answers per call; :class:`Follower` is the thread
that waits for adopted calls that still run and hands each to its future, or back to be run again.
"""

from __future__ import annotations

import logging
import os
import pickle
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import classad2

from condorexec.names import RESULT_NAME, RUN_ATTR, TASK_ATTR, WORKER_ATTR, WORKERS_DIR
from condorexec.payload import Outcome, decode_outcome, read_outcomes
from condorexec.workflow.journal import DONE, FAILED, CallRow, Journal

log = logging.getLogger(__name__)

#: seconds between two looks at the adopted jobs and workers still running
FOLLOW_PERIOD = 2.0

#: HTCondor JobStatus values
_HELD, _COMPLETED, _REMOVED = 5, 4, 3


def _will_run(ad: Mapping[str, Any] | None) -> bool:
    """Whether a job, by its queue ad (None: not in the queue), may still run: not held, completing or
    being removed."""
    return ad is not None and ad.get("JobStatus") not in (_HELD, _COMPLETED, _REMOVED)


# ---- the rule --------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Finished:
    """The call ended well in an earlier run: its outcome is at hand (``blob``) or in a file."""

    blob: bytes | None = None
    result_file: str | None = None  # a result file (runner format) in the call's directory
    kept_file: str | None = None    # an outcome kept beside the call (journal.KEPT_OUTCOME_NAME)


@dataclass(frozen=True)
class FollowJob:
    """The call's own job is still in the queue: follow it to its end."""

    job_id: str


@dataclass(frozen=True)
class FollowWorker:
    """The call is in a slot worker whose job is still in the queue: wait for its result."""

    worker_job: str
    worker: str
    call: int


@dataclass(frozen=True)
class Rerun:
    reason: str


Decision = Finished | FollowJob | FollowWorker | Rerun


#: why a call that was running runs again on a pool whose jobs run inside their submitter
IN_PROCESS = "its {} ended with the earlier submitter (the local pool runs its jobs inside the submitting process)"


def decide(row: CallRow, *, queued: Mapping[str, Mapping[str, Any]], job_of_task: str | None,
           worker_result: Mapping[str, Any] | None, result_file: bool, jobs_survive: bool = True) -> Decision:
    """What a rerun does with the call of journal row ``row``.

    ``queued``: the earlier runs' jobs still in the queue, by id (with their ``JobStatus``);
    ``job_of_task``: the queued job that runs this call, found by its task id (for a call whose placement
    was not yet written when its submitter died); ``worker_result``: the result its slot worker wrote and
    nobody read; ``result_file``: a result file is in the call's directory; ``jobs_survive``: the pool's
    jobs outlive their submitter (not the local pool's)."""
    if row.state == DONE:
        if row.outcome is not None:
            return Finished(blob=row.outcome)
        if row.outcome_file is not None and os.path.exists(row.outcome_file):
            return Finished(kept_file=row.outcome_file)
        if result_file:
            return Finished(result_file=str(Path(row.task_dir) / RESULT_NAME))
        return Rerun("its result is gone from disk")
    if row.state == FAILED:
        return Rerun("it failed in the earlier run")
    job_id = row.job_id or job_of_task
    if job_id is not None or row.worker_job is None:  # its own job (or not yet placed)
        if result_file:
            return Finished(result_file=str(Path(row.task_dir) / RESULT_NAME))
        if job_id is None:
            return Rerun("it had not been sent when its submitter stopped")
        if not jobs_survive:
            return Rerun(IN_PROCESS.format("job"))
        ad = queued.get(job_id)
        if _will_run(ad):
            return FollowJob(job_id)
        return Rerun("its job left the queue without a result" if ad is None else "its job was held or removed")
    if worker_result is not None:
        if worker_result.get("outcome") is not None:
            return Finished(blob=worker_result["outcome"])
        return Rerun("its worker gave it back unrun")
    if not jobs_survive:
        return Rerun(IN_PROCESS.format("worker"))
    if _will_run(queued.get(row.worker_job)):
        return FollowWorker(row.worker_job, row.worker or "", int(row.worker_call or 0))
    return Rerun("its worker is gone")


def outcome_of(decision: Finished) -> Outcome:
    """The outcome a Finished decision points at (raises what reading or unpickling raises)."""
    if decision.blob is not None:
        return decode_outcome(decision.blob)
    if decision.kept_file is not None:
        return decode_outcome(Path(decision.kept_file).read_bytes())
    assert decision.result_file is not None
    return read_outcomes(Path(decision.result_file).parent)[0]


# ---- the facts, gathered once ----------------------------------------------------------------------

def queued_constraint(tokens: list[str]) -> str:
    """Matches the jobs of the runs ``tokens``."""
    return f"member({RUN_ATTR}, {{{', '.join(classad2.quote(t) for t in tokens)}}})"


def read_worker_results(work_dir: Path, workers: list[str] | None = None) -> dict[tuple[str, int], dict]:
    """The results the slot workers of an earlier run (or only ``workers``) wrote that its submitter did
    not read (and unlink), by (worker, call id). A half-written or damaged message is skipped: it is
    read again at the next look, or its calls run again."""
    found: dict[tuple[str, int], dict] = {}
    if workers is None:
        try:
            workers = os.listdir(work_dir / WORKERS_DIR)
        except OSError:
            return found
    for worker in workers:
        out = work_dir / WORKERS_DIR / worker / "out"
        try:
            entries = sorted((e for e in os.listdir(out) if e.isdigit()), key=int)
        except OSError:
            continue
        for entry in entries:
            try:
                message = pickle.loads((out / entry).read_bytes())
            except Exception:  # noqa: BLE001
                continue
            for result in message.get("results", ()) if isinstance(message, dict) else ():
                if isinstance(result, dict) and isinstance(result.get("id"), int):
                    found[(worker, result["id"])] = result
    return found


class Resume:
    """What an earlier run of the workflow left, read once when a run starts (journal rows, one schedd
    query, the earlier workers' unread results), and the decision for each call as the rerun makes it."""

    def __init__(self, journal: Journal, query: Callable[[str, list[str]], list], own_token: str, *,
                 jobs_survive: bool = True):
        started = time.monotonic()
        self.rows = {(row.key, row.ordinal): row for row in journal.calls()}
        runs = journal.runs()
        self.work_dirs = {run.token: Path(run.work_dir) for run in runs}
        # the runs that may have left jobs: a run that never ended (killed), or one with calls not ended
        unfinished = {run.token for run in runs if run.ended is None}
        tokens = sorted((unfinished | {row.run for row in self.rows.values() if row.state not in (DONE, FAILED)})
                        - {own_token})
        self.queued: dict[str, dict[str, Any]] = {}
        self.by_task: dict[tuple[str, str], str] = {}
        self.jobs_survive = jobs_survive
        if tokens and jobs_survive:
            try:
                ads = query(queued_constraint(tokens), ["ClusterId", "ProcId", "JobStatus", RUN_ATTR, TASK_ATTR,
                                                        WORKER_ATTR, "RequestCpus", "RequestMemory", "RequestDisk"])
            except Exception as exc:  # noqa: BLE001 - without the queue, calls still running run again
                log.warning("workflow %s: could not ask the pool for the earlier runs' jobs (%s); calls that "
                            "were still running will run again", journal.name, exc)
                ads = []
            for ad in ads:
                job_id = f"{ad['ClusterId']}.{ad['ProcId']}"
                self.queued[job_id] = {k: ad.get(k) for k in ("JobStatus", RUN_ATTR, TASK_ATTR, WORKER_ATTR)}
                if ad.get(TASK_ATTR) is not None and ad.get(WORKER_ATTR) is None:
                    self.by_task[(str(ad.get(RUN_ATTR)), str(ad.get(TASK_ATTR)))] = job_id
        self.worker_results: dict[str, dict[tuple[str, int], dict]] = {}
        for token in {row.run for row in self.rows.values() if row.worker_job and row.state not in (DONE, FAILED)}:
            if token in self.work_dirs:
                self.worker_results[token] = read_worker_results(self.work_dirs[token])
        self.tokens = tokens
        self.seconds = time.monotonic() - started

    def followable_jobs(self) -> list[str]:
        """The earlier runs' jobs still in the queue (not held, not leaving) that run a call of the journal,
        as its own job or as its slot worker: the jobs a rerun of the same calls follows."""
        running = {row.job_id or row.worker_job for row in self.rows.values() if row.state not in (DONE, FAILED)}
        running |= set(self.by_task.values())  # calls whose job id was not written before the kill
        return sorted(job_id for job_id, ad in self.queued.items()
                      if job_id in running and _will_run(ad))

    def idle_workers(self) -> list[str]:
        """The earlier runs' slot worker jobs still in the queue that hold no call of the journal's: no
        rerun can adopt them, and each would hold its share of a machine until its idle timeout."""
        holding = {row.worker_job for row in self.rows.values() if row.worker_job and row.state not in (DONE, FAILED)}
        return sorted(job_id for job_id, ad in self.queued.items()
                      if ad.get(WORKER_ATTR) is not None and job_id not in holding)

    def claim(self, key: str, ordinal: int) -> tuple[CallRow, Decision] | None:
        """The earlier run's row of this call and what to do with it; None for a call never seen before."""
        row = self.rows.pop((key, ordinal), None)
        if row is None:
            return None
        worker_result = None
        if row.worker_job is not None and row.worker is not None and row.worker_call is not None:
            worker_result = self.worker_results.get(row.run, {}).get((row.worker, row.worker_call))
        task_id = Path(row.task_dir).name
        result_file = row.state != DONE or row.outcome is None
        has_result = result_file and os.path.exists(os.path.join(row.task_dir, RESULT_NAME))
        return row, decide(row, queued=self.queued, job_of_task=self.by_task.get((row.run, task_id)),
                           worker_result=worker_result, result_file=has_result, jobs_survive=self.jobs_survive)


# ---- the thread that follows adopted calls ----------------------------------------------------------

@dataclass
class Followed:
    """An adopted call still running: where, and what to call when it ends."""

    decision: FollowJob | FollowWorker
    task_dir: Path
    work_dir: Path  # the earlier run's work directory (the worker's mailbox is there)
    finished: Callable[[Outcome, str], None]  # (outcome, where)
    again: Callable[[str], None]  # (why it runs again)


class Follower:
    """Waits for adopted calls still running, each in its own job or in an earlier run's slot worker.

    Every FOLLOW_PERIOD seconds: one query for the adopted jobs (``ADOPTED_ATTR``) that are still in the
    queue, and a look at each followed worker's mailbox. A call whose job has left the queue is finished
    from its result file, or run again; so is a call whose worker has left without its result. A held
    adopted job is removed and its call runs again (this run decides its size anew)."""

    def __init__(self, query: Callable[[str, list[str]], list], remove: Callable[[list[str]], None],
                 constraint: str, name: str):
        self._query, self._remove, self._constraint = query, remove, constraint
        self._lock = threading.Lock()
        self._followed: list[Followed] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"{name}-follower", daemon=True)
        self._started = False
        self.counts: Counter[str] = Counter()

    def follow(self, followed: Followed) -> None:
        with self._lock:
            self._followed.append(followed)
            if not self._started:
                self._started = True
                self._thread.start()

    def following(self) -> int:
        with self._lock:
            return len(self._followed)

    def stop(self) -> None:
        self._stop.set()
        if self._started:
            self._thread.join(timeout=10)

    def _loop(self) -> None:
        while not self._stop.wait(FOLLOW_PERIOD):
            try:
                self.look()
            except Exception:  # noqa: BLE001 - the next look tries again; calls are never dropped here
                log.exception("workflow: following the adopted calls failed; trying again")

    def look(self) -> None:
        """One look at every followed call (the thread's step; tests call it directly)."""
        with self._lock:
            followed = list(self._followed)
        if not followed:
            return
        ads = self._query(self._constraint, ["ClusterId", "ProcId", "JobStatus", "HoldReason"])
        queued = {f"{ad['ClusterId']}.{ad['ProcId']}": ad for ad in ads}
        ended: list[Followed] = []
        results: dict[tuple[Path, str], dict[tuple[str, int], dict]] = {}
        for item in followed:
            decision = item.decision
            if isinstance(decision, FollowJob):
                ad = queued.get(decision.job_id)
                if ad is not None and ad.get("JobStatus") == _HELD:
                    self._remove([decision.job_id])
                    item.again(f"its adopted job {decision.job_id} was held: {ad.get('HoldReason')}")
                    ended.append(item)
                elif ad is None or ad.get("JobStatus") in (_COMPLETED, _REMOVED):
                    self._job_ended(item, decision.job_id)
                    ended.append(item)
                continue
            mailbox = (item.work_dir, decision.worker)
            if mailbox not in results:
                results[mailbox] = read_worker_results(item.work_dir, [decision.worker])
            result = results[mailbox].get((decision.worker, decision.call))
            if result is not None:
                if result.get("outcome") is not None:
                    try:
                        item.finished(decode_outcome(result["outcome"]), f"{decision.worker_job}/call {decision.call}")
                    except Exception as exc:  # noqa: BLE001 - unpickling can raise anything
                        item.again(f"its result from worker job {decision.worker_job} is unreadable: {exc}")
                else:
                    item.again(f"worker job {decision.worker_job} gave it back unrun")
                ended.append(item)
            elif not _will_run(queued.get(decision.worker_job)):
                if decision.worker_job in queued:  # held: it would never write the result
                    self._remove([decision.worker_job])
                item.again("its worker ended without its result")
                ended.append(item)
        if ended:
            with self._lock:
                self._followed = [f for f in self._followed if f not in ended]

    def _job_ended(self, item: Followed, job_id: str) -> None:
        try:
            outcome = read_outcomes(item.task_dir)[0]
        except FileNotFoundError:
            item.again(f"its adopted job {job_id} left the queue without a result")
            return
        except Exception as exc:  # noqa: BLE001 - unpickling can raise anything
            item.again(f"its adopted job {job_id} left an unreadable result: {type(exc).__name__}: {exc}")
            return
        item.finished(outcome, job_id)
