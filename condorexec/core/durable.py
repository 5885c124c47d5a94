"""The core's side of a named workflow (``CondorExecutor(workflow="NAME")``, docs/durable.md).

The core asks this module three things: the key of each call it is handed (and whether an earlier run
of the workflow already ran it, or still runs it); to journal calls as they are sent, placed and ended;
and, at shutdown, to say what happened and clear away what the earlier runs left in the queue that this
run did not take. What "already ran" means is ``workflow/attach.py``'s rule; the journal is
``workflow/journal.py``; nothing here knows Parsl.

A call an earlier run finished is handed its result from disk, on this module's own thread (never inside
``submit``: a future done before the caller holds it would run the caller's callbacks on its own stack).
A call whose job is still in the queue is *adopted*: its job is re-tagged as this run's
(``RUN_ATTR``, so this run's lease renewals and shutdown cover it, and ``ADOPTED_ATTR``) and its lease is
renewed at once, then the :class:`~condorexec.workflow.attach.Follower` waits for it. Whatever cannot be
adopted runs again, once, as a new call of this run, and the journal keeps why.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import htcondor2

from condorexec.condorfacts import lease_value, run_constraint
from condorexec.core.calls import CallRequest, Task
from condorexec.names import ADOPTED_ATTR, LEASE_ATTR, RUN_ATTR, TASKS_DIR
from condorexec.payload import Outcome, encode_outcome
from condorexec.pools.base import Pool
from condorexec.workflow.attach import (
    Finished,
    Followed,
    Follower,
    FollowJob,
    Rerun,
    Resume,
    outcome_of,
    queued_constraint,
)
from condorexec.workflow.journal import Journal
from condorexec.workflow.keys import call_key

log = logging.getLogger(__name__)

#: seconds between two writes of the buffered placements and ends (a kill loses at most these)
FLUSH_PERIOD = 0.5


class DurableHost(Protocol):
    """What this module needs of the core."""

    pool: Pool
    work_dir: Path
    run_token: str
    batch_name: str

    def resolve(self, task: Task, outcome: Outcome, job_id: str) -> None: ...
    def run_again(self, task: Task) -> None: ...
    def lease_seconds(self) -> int: ...


class Durable:
    """One run of a named workflow: its journal, what the earlier runs left, and the adopted calls."""

    def __init__(self, host: DurableHost, name: str, directory: str | None):
        self.host = host
        self.journal = Journal(name, directory)  # refuses a workflow another live process holds
        try:
            self.journal.begin_run(host.run_token, host.pool.profile.name, str(host.work_dir))
            self.resume = Resume(self.journal, host.pool.query, host.run_token,
                                 jobs_survive=not host.pool.profile.in_process)
        except BaseException:
            self.journal.close()
            raise
        self.name = name
        self.counts: Counter[str] = Counter()
        self.reasons: Counter[str] = Counter()
        self._ordinals: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._retagged: set[str] = set()
        self._counted: tuple[dict, dict] = ({}, {})
        self._payloads: dict[int, Callable[[], bytes]] = {}  # an adopted call's, should it run again
        self._read_messages: list[Path] = []  # worker messages whose results' ends are not written yet
        self.follower = Follower(host.pool.query, self._remove,
                                 f"{run_constraint(host.run_token)} && {ADOPTED_ATTR} =?= true", host.batch_name)
        self._finished: queue.SimpleQueue[tuple[Task, Finished, str, str] | None] = queue.SimpleQueue()
        self._handing = threading.Thread(target=self._hand_finished, name=f"{host.batch_name}-adopt", daemon=True)
        self._handing.start()
        self._retag_all()
        idle = self.resume.idle_workers()
        if idle:  # they hold machine shares no call of this run will use
            log.info("workflow %s: removing %d slot workers of earlier runs that hold none of its calls: %s", name,
                     len(idle), ", ".join(idle))
            try:
                self._remove(idle)
            except Exception as exc:  # noqa: BLE001 - their idle timeout or lease ends them anyway
                log.warning("workflow %s: could not remove them: %s", name, exc)
        if self.resume.rows:
            log.info("workflow %s: %d calls of earlier runs in the journal (%d of their jobs still in the "
                     "queue); read in %.2f s", name, len(self.resume.rows), len(self.resume.queued),
                     self.resume.seconds)

    # ---- each call -------------------------------------------------------------------------------

    def key(self, call: CallRequest) -> tuple[str, int]:
        """The call's key and its ordinal (the nth call with that key in this run)."""
        args, kwargs = call.identity if call.identity is not None else (call.args, call.kwargs)
        key = call_key(call.source or call.func, args, kwargs, call.spec, call.plan)
        with self._lock:
            ordinal = self._ordinals[key]
            self._ordinals[key] += 1
        return key, ordinal

    def adopt(self, task: Task, payload: Callable[[], bytes]) -> bool:
        """Whether an earlier run has this call (then this module ends it); False: send it as usual.
        ``payload`` makes the call's payload, should it have to run again after all."""
        assert task.key is not None
        claimed = self.resume.claim(task.key, task.ordinal)
        if claimed is None:
            self._count("fresh")
            return False
        row, decision = claimed
        if isinstance(decision, Rerun):
            self._rerun_count(decision.reason)
            return False
        with self._lock:
            self._payloads[task.id] = payload
        if isinstance(decision, Finished):
            self._finished.put((task, decision, row.task_dir, row.run))
            return True
        job_id = decision.job_id if isinstance(decision, FollowJob) else decision.worker_job
        try:
            self._retag(job_id)
        except Exception as exc:  # noqa: BLE001 - an adopted job we cannot renew would die with its lease
            with self._lock:
                del self._payloads[task.id]
            self._rerun_count(f"its job could not be adopted ({type(exc).__name__})")
            log.warning("workflow %s: could not adopt job %s (%s); its call runs again", self.name, job_id, exc)
            return False
        self.journal.adopted(task.key, task.ordinal, row.run, self.host.run_token)
        task.task_dir = Path(row.task_dir)
        work_dir = self.resume.work_dirs.get(row.run, Path(row.task_dir).parent.parent)
        self._count("adopted_running")
        self.follower.follow(Followed(
            decision, Path(row.task_dir), work_dir,
            finished=lambda outcome, where: self._resolve(task, outcome, where),
            again=lambda why: self._again(task, why)))
        return True

    def _retag_all(self) -> None:
        """Make the earlier runs' queued jobs that may run a call of this run this run's at once, before the
        first call comes: three schedd edits for all of them, where a job at a time cost three each (2.6 ms
        a job on the test pool: 1,000 jobs held up the rerun's submissions 5 s). The cost: a job whose call
        this run does not make again is renewed until the run ends (and then removed with it), rather
        than left to its lease."""
        job_ids = self.resume.followable_jobs()
        if not job_ids:
            return
        try:
            self._make_ours(job_ids)
        except Exception as exc:  # noqa: BLE001 - each is re-tagged alone when its call comes
            log.warning("workflow %s: could not adopt the earlier runs' %d queued jobs at once (%s); each is "
                        "adopted when its call comes", self.name, len(job_ids), exc)

    def _retag(self, job_id: str) -> None:
        """Make ``job_id`` this run's: this run's lease renewals and shutdown cover it from now on."""
        with self._lock:
            if job_id in self._retagged:
                return
        self._make_ours([job_id])

    def _make_ours(self, job_ids: list[str]) -> None:
        pool = self.host.pool
        pool.edit(job_ids, LEASE_ATTR, lease_value(time.time(), self.host.lease_seconds()))
        pool.edit(job_ids, ADOPTED_ATTR, "true")
        pool.edit(job_ids, RUN_ATTR, f'"{self.host.run_token}"')
        with self._lock:
            self._retagged.update(job_ids)

    def _hand_finished(self) -> None:
        """The thread that hands finished calls their results from disk (checking their output files)."""
        while (item := self._finished.get()) is not None:
            task, decision, old_dir, old_run = item
            try:
                outcome = outcome_of(decision)
                if not outcome.ok:
                    self._again(task, "it failed in the earlier run", adopted=False)
                    continue
                task.task_dir = Path(old_dir)
                task.plan.deliver(old_dir)  # outputs that came back after the earlier submitter died
                missing = [dest for dest, _ in task.plan.outputs.values() if not os.path.exists(dest)]
                if missing:
                    self._again(task, "an output file it wrote is gone", adopted=False)
                    continue
                assert task.key is not None
                self.journal.adopted(task.key, task.ordinal, old_run, self.host.run_token)
                self._count("adopted_finished")
                task.key = None  # the journal has its outcome already: resolve writes no end for it
                self._resolve(task, outcome, "an earlier run")
            except Exception as exc:  # noqa: BLE001 - an unreadable result: the call runs again
                self._again(task, f"its result is unreadable ({type(exc).__name__})", adopted=False)

    def _resolve(self, task: Task, outcome: Outcome, where: str) -> None:
        with self._lock:
            self._payloads.pop(task.id, None)
        self.host.resolve(task, outcome, where)

    def _again(self, task: Task, why: str, *, adopted: bool = True) -> None:
        """An adopted call that cannot be finished from the earlier run: it runs again, as this run's."""
        log.info("workflow %s: call %s runs again: %s", self.name, task.id, why)
        if adopted:
            self._count("adopted_running", -1)
        self._rerun_count(why)
        with self._lock:
            payload = self._payloads.pop(task.id)
        task.payload = payload()
        task.task_dir = self.host.work_dir / TASKS_DIR / str(task.id)
        task.job_id = None
        self.host.run_again(task)

    def _count(self, what: str, n: int = 1) -> None:
        with self._lock:
            self.counts[what] += n

    def _rerun_count(self, reason: str) -> None:
        with self._lock:
            self.counts["rerun"] += 1
            self.reasons[reason] += 1

    # ---- the journal, as calls go ----------------------------------------------------------------

    def sent(self, tasks: list[Task]) -> None:
        """Calls about to be submitted as their own jobs (those for the workers are journaled when placed)."""
        rows = [(t.key, t.ordinal, t.app, self.host.run_token, str(t.task_dir)) for t in tasks
                if t.key is not None and not t.to_workers]
        if rows:
            self.journal.sent(rows)

    def placed_job(self, task: Task, job_id: str) -> None:
        if task.key is not None:
            self.journal.placed_job(task.key, task.ordinal, self.host.run_token, job_id)

    def placed_in_workers(self, placements: list[tuple[Task, str, str]]) -> None:
        """Calls about to be handed to slot workers, as (call, worker job, worker name): one transaction."""
        run = self.host.run_token
        self.journal.placed_worker([(t.key, t.ordinal, t.app, run, str(t.task_dir), worker_job, worker, t.id)
                                    for t, worker_job, worker in placements if t.key is not None])

    def ended(self, task: Task, outcome: Outcome | None) -> None:
        """``task`` ended: well with ``outcome`` (kept for a rerun), or not (None: a rerun runs it again)."""
        if task.key is None:
            return
        if outcome is not None and outcome.ok:
            self.journal.done(task.key, task.ordinal, self.host.run_token, encode_outcome(outcome), str(task.task_dir))
        else:
            self.journal.failed(task.key, task.ordinal, self.host.run_token)

    def delete_after_flush(self, message: Path) -> None:
        """Delete a worker's message of results once the ends of its calls are written (the next flush)."""
        with self._lock:
            self._read_messages.append(message)

    def flush(self) -> None:
        """Write what is buffered, with the run's counts if they changed (so a killed run keeps them); then
        delete the worker messages whose results that wrote."""
        with self._lock:
            counts, reasons = dict(self.counts), dict(self.reasons)
            messages, self._read_messages = self._read_messages, []
        if (counts, reasons) != self._counted:
            self.journal.counted(self.host.run_token, counts, reasons)
            self._counted = (counts, reasons)
        try:
            self.journal.flush()
        except BaseException:
            with self._lock:
                self._read_messages[:0] = messages
            raise
        for message in messages:
            message.unlink(missing_ok=True)

    # ---- the end of the run ----------------------------------------------------------------------

    def following(self) -> int:
        return self.follower.following()

    def stop_following(self) -> None:
        """The run is ending: stop looking at the adopted calls before their jobs are removed with the run's
        (a look after the removal would find each gone and count it run again)."""
        self.follower.stop()

    def close(self) -> None:
        """Stop following; remove what the earlier runs left in the queue that this run did not take;
        say what happened, in the log and in the journal."""
        self._finished.put(None)
        self._handing.join(timeout=10)
        self.follower.stop()
        if self.resume.tokens:
            try:
                self.host.pool.act(htcondor2.JobAction.Remove, queued_constraint(self.resume.tokens))
            except Exception as exc:  # noqa: BLE001 - their leases end them anyway
                log.warning("workflow %s: could not remove the earlier runs' jobs (%s); their leases end them",
                            self.name, exc)
        with self._lock:
            counts, reasons = dict(self.counts), dict(self.reasons)
        log.info("workflow %s: %s", self.name, summary(counts, reasons))
        try:
            self.journal.end_run(self.host.run_token, counts, reasons)
            self.flush()  # and the worker messages whose results it wrote
        finally:
            self.journal.close()

    def _remove(self, job_ids: list[str]) -> None:
        self.host.pool.act(htcondor2.JobAction.Remove, job_ids)


def summary(counts: dict[str, int], reasons: dict[str, int]) -> str:
    """One line: how many calls were adopted finished, adopted running, run again (and why), new."""
    why = "; ".join(f"{n} because {reason}" for reason, n in sorted(reasons.items(), key=lambda kv: -kv[1]))
    finished = counts.get("adopted_finished", 0)
    return (f"{finished} {'call' if finished == 1 else 'calls'} adopted finished, {counts.get('adopted_running', 0)} "
            f"adopted running, {counts.get('rerun', 0)} run again{f' ({why})' if why else ''}, "
            f"{counts.get('fresh', 0)} new")

