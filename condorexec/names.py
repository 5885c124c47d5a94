"""condorexec's own names, in one place: the job attributes it sets and reads, and the files it puts in
a call's directory and sandbox (htmap's ``names.py`` is the model).

The submit templates (top-level ``templates/``) get this module as ``names`` (:mod:`condorexec.render`),
so ``job.sub.j2`` writes ``+{{ names.RUN_ATTR }}`` rather than the literal. Code that runs on the
execute node (``runner.py``, ``worker.py``) is shipped alone and imports nothing of condorexec: its
file names (``job.out``/``job.err`` in ``worker.STREAMS``, ``result.pkl`` from its arguments) must agree
with these, which ``tests/unit/test_names.py`` checks.
"""

from __future__ import annotations

# ---- job attributes condorexec sets on its jobs (custom ClassAd attributes, ``+Name`` / ``MY.Name``)

#: names the run (one executor's lifetime) a job belongs to: shutdown removes exactly its jobs
RUN_ATTR = "CondorexecRun"
#: the autolabel category a job's usage is learned for (also set by condor_submit users, docs/labels.md)
CATEGORY_ATTR = "CondorexecCategory"
#: the Parsl app a job runs (only a label: odd characters are replaced, ``render.safe_app_name``)
APP_ATTR = "CondorexecApp"
#: the executor's task id of the call a job runs
TASK_ATTR = "CondorexecTask"
#: ``true`` on a job whose wrapper is plain Python: the local pool may fork it from a warm process
FAST_LAUNCH_ATTR = "CondorexecFastLaunch"
#: set on a slot worker's job: the worker's id (its mailbox's name)
WORKER_ATTR = "CondorexecWorker"
#: the category a category worker's job ran calls of (set by category workers before slot workers; runstats
#: still reads it in older history)
WORKER_CATEGORY_ATTR = "CondorexecWorkerCategory"
#: the time (epoch seconds) after which the job's submitter counts as gone (``core/lease.py``)
LEASE_ATTR = "CondorexecLeaseExpires"
#: ``true`` on a job that a rerun of a named workflow adopted from an earlier run (its ``RUN_ATTR`` is the
#: rerun's now): one query finds the adopted jobs among the run's own (``workflow/attach.py``)
ADOPTED_ATTR = "CondorexecAdopted"

# ---- files of a call, in its directory on the submit side and in its job's sandbox

#: the pickled call(s) a job runs
PAYLOAD_NAME = "payload.pkl"
#: the pickled outcome(s) a job writes
RESULT_NAME = "result.pkl"
#: the script that runs a payload in a job (``condorexec/runner.py``)
RUNNER_NAME = "runner.py"
#: the job's standard output and error
STDOUT_NAME, STDERR_NAME = "job.out", "job.err"
#: names an app's own files may not take: they would overwrite condorexec's in the sandbox
RESERVED_NAMES = frozenset({PAYLOAD_NAME, RESULT_NAME, RUNNER_NAME, STDOUT_NAME, STDERR_NAME})

# ---- a run's work directory

#: the job event log of a run's jobs
EVENT_LOG_NAME = "jobs.log"
#: the directory holding one directory per call
TASKS_DIR = "tasks"
#: the directory holding each slot worker's mailbox and its own output (docs/design.md §7)
WORKERS_DIR = "workers"
#: a slot worker's standard output and error, in its directory under WORKERS_DIR
WORKER_STDOUT_NAME, WORKER_STDERR_NAME = "worker.out", "worker.err"
