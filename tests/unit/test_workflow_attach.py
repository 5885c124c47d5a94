"""Re-attaching a rerun (condorexec/workflow/attach.py): the rule for every kind of journal row, the facts
a rerun gathers once (a real journal, a real worker mailbox, a schedd query whose constraint is checked),
and the follower of adopted calls, on real directories with real result files."""

from __future__ import annotations

import pickle
from pathlib import Path

import classad2
import cloudpickle
import pytest

from condorexec import runner
from condorexec.names import RESULT_NAME, RUN_ATTR, TASK_ATTR, TASKS_DIR, WORKER_ATTR, WORKERS_DIR
from condorexec.payload import Call, Outcome, decode_outcome, encode_outcome, write_payload
from condorexec.workflow import attach
from condorexec.workflow.attach import (
    IN_PROCESS,
    Finished,
    Followed,
    Follower,
    FollowJob,
    FollowWorker,
    Rerun,
    Resume,
    decide,
    outcome_of,
    queued_constraint,
    read_worker_results,
)
from condorexec.workflow.journal import DONE, FAILED, KEPT_OUTCOME_NAME, SENT, CallRow, Journal

IDLE, RUNNING, REMOVED, COMPLETED, HELD = 1, 2, 3, 4, 5
TASK = "/runs/old/tasks/7"


def square(x):
    return x * x


def _blob(value, call_id: int = 7) -> bytes:
    return encode_outcome(Outcome(call_id, True, value=value, wall_s=0.1))


def _run_job(task_dir: Path, value: int, call_id: int = 7) -> None:
    """What a per-call job leaves in its directory: the real runner's result file."""
    task_dir.mkdir(parents=True, exist_ok=True)
    payload = write_payload(task_dir, [Call(call_id, square, (value,), {})])
    assert runner.main([str(payload), str(task_dir / RESULT_NAME)]) == 0


def _post(work_dir: Path, worker: str, seq: int, results: list[dict], *, cut: bool = False) -> None:
    """A slot worker's message in its mailbox (as worker.py writes it); ``cut``: only its first half."""
    out = work_dir / WORKERS_DIR / worker / "out"
    out.mkdir(parents=True, exist_ok=True)
    data = pickle.dumps({"version": 1, "consumed": seq, "ops": seq + 1, "results": results})
    (out / str(seq)).write_bytes(data[: len(data) // 2] if cut else data)


# ---- the rule --------------------------------------------------------------------------------------

def _row(state: str = SENT, **fields) -> CallRow:
    return CallRow(key="k", ordinal=0, app="app", run="old", task_dir=TASK, state=state, **fields)


JOB = {"job_id": "5.0"}
WORKER = {"worker_job": "9.0", "worker": "w1", "worker_call": 4}
RESULT = Finished(result_file=f"{TASK}/{RESULT_NAME}")

#: (case, the row's fields, the facts now, the decision); "KEPT" stands for an existing kept-outcome file,
#: "GONE" for one that is gone
CASES = [
    ("done inline", _row(DONE, outcome=b"o"), {}, Finished(blob=b"o")),
    ("done inline, in-process pool", _row(DONE, outcome=b"o"), {"jobs_survive": False}, Finished(blob=b"o")),
    ("done kept file present", _row(DONE, outcome_file="KEPT"), {}, Finished(kept_file="KEPT")),
    ("done kept file gone, result file", _row(DONE, outcome_file="GONE"), {"result_file": True}, RESULT),
    ("done kept file gone, nothing", _row(DONE, outcome_file="GONE"), {}, Rerun("its result is gone from disk")),
    ("failed", _row(FAILED, **JOB), {}, Rerun("it failed in the earlier run")),
    ("failed with a result file", _row(FAILED, **JOB), {"result_file": True}, Rerun("it failed in the earlier run")),
    ("job idle", _row(**JOB), {"queued": {"5.0": {"JobStatus": IDLE}}}, FollowJob("5.0")),
    ("job running", _row(**JOB), {"queued": {"5.0": {"JobStatus": RUNNING}}}, FollowJob("5.0")),
    ("job queued but held", _row(**JOB), {"queued": {"5.0": {"JobStatus": HELD}}},
     Rerun("its job was held or removed")),
    ("job queued but removed", _row(**JOB), {"queued": {"5.0": {"JobStatus": REMOVED}}},
     Rerun("its job was held or removed")),
    ("job completed, result file", _row(**JOB), {"queued": {"5.0": {"JobStatus": COMPLETED}}, "result_file": True},
     RESULT),
    ("job gone, result file", _row(**JOB), {"result_file": True}, RESULT),
    ("job gone, no result file", _row(**JOB), {}, Rerun("its job left the queue without a result")),
    ("job running, in-process pool", _row(**JOB), {"queued": {"5.0": {"JobStatus": RUNNING}}, "jobs_survive": False},
     Rerun(IN_PROCESS.format("job"))),
    ("job gone, result file, in-process pool", _row(**JOB), {"result_file": True, "jobs_survive": False}, RESULT),
    ("unplaced, job found by its task", _row(), {"job_of_task": "6.0", "queued": {"6.0": {"JobStatus": RUNNING}}},
     FollowJob("6.0")),
    ("unplaced, job found by its task but gone", _row(), {"job_of_task": "6.0"},
     Rerun("its job left the queue without a result")),
    ("unplaced, no job", _row(), {}, Rerun("it had not been sent when its submitter stopped")),
    ("unplaced, result file", _row(), {"result_file": True}, RESULT),
    ("worker result with outcome", _row(**WORKER), {"worker_result": {"id": 4, "outcome": b"w"}}, Finished(blob=b"w")),
    ("worker result with outcome, in-process pool", _row(**WORKER),
     {"worker_result": {"id": 4, "outcome": b"w"}, "jobs_survive": False}, Finished(blob=b"w")),
    ("worker result without outcome", _row(**WORKER),
     {"worker_result": {"id": 4, "outcome": None, "returned": "recalled"},
      "queued": {"9.0": {"JobStatus": RUNNING}}}, Rerun("its worker gave it back unrun")),
    ("worker running", _row(**WORKER), {"queued": {"9.0": {"JobStatus": RUNNING}}}, FollowWorker("9.0", "w1", 4)),
    ("worker idle", _row(**WORKER), {"queued": {"9.0": {"JobStatus": IDLE}}}, FollowWorker("9.0", "w1", 4)),
    ("worker held", _row(**WORKER), {"queued": {"9.0": {"JobStatus": HELD}}}, Rerun("its worker is gone")),
    ("worker gone", _row(**WORKER), {"queued": {"5.0": {"JobStatus": RUNNING}}}, Rerun("its worker is gone")),
    ("worker running, in-process pool", _row(**WORKER), {"queued": {"9.0": {"JobStatus": RUNNING}},
                                                         "jobs_survive": False}, Rerun(IN_PROCESS.format("worker"))),
]


@pytest.mark.parametrize(("case", "row", "facts", "expected"), CASES, ids=[c[0] for c in CASES])
def test_decide(tmp_path: Path, case: str, row: CallRow, facts: dict, expected) -> None:
    kept = tmp_path / KEPT_OUTCOME_NAME
    kept.write_bytes(b"kept")
    paths = {"KEPT": str(kept), "GONE": str(tmp_path / "gone" / KEPT_OUTCOME_NAME)}
    if row.outcome_file is not None:
        row = CallRow(**{**row.__dict__, "outcome_file": paths[row.outcome_file]})
    if isinstance(expected, Finished) and expected.kept_file is not None:
        expected = Finished(kept_file=paths[expected.kept_file])
    facts = {"queued": {}, "job_of_task": None, "worker_result": None, "result_file": False, **facts}
    assert decide(row, **facts) == expected


def test_outcome_of_reads_each_kind_of_finished_call(tmp_path: Path) -> None:
    _run_job(tmp_path / "job", 6)
    kept = tmp_path / KEPT_OUTCOME_NAME
    kept.write_bytes(_blob([1, 2]))
    assert outcome_of(Finished(blob=_blob("inline"))).value == "inline"
    assert outcome_of(Finished(kept_file=str(kept))).value == [1, 2]
    from_job = outcome_of(Finished(result_file=str(tmp_path / "job" / RESULT_NAME)))
    assert (from_job.ok, from_job.value, from_job.id) == (True, 36, 7)


# ---- the facts a rerun gathers ---------------------------------------------------------------------

def test_the_queued_constraint_matches_exactly_the_given_runs() -> None:
    constraint = classad2.ExprTree(queued_constraint(["run-b", "run_d"]))
    assert [constraint.eval(classad2.ClassAd({RUN_ATTR: run})) is True
            for run in ("run-b", "run_d", "run-a", "run-bb")] == [True, True, False, False]


def test_read_worker_results_skips_what_is_half_written_or_not_a_message(tmp_path: Path) -> None:
    _post(tmp_path, "w1", 0, [{"id": 3, "outcome": b"three"}, {"id": 4, "outcome": None}])
    _post(tmp_path, "w1", 1, [{"id": 5, "outcome": b"five"}], cut=True)  # its writer died mid-write
    _post(tmp_path, "w1", 2, [{"id": 6, "outcome": b"six"}, {"id": "seven"}, "not a result"])
    (tmp_path / WORKERS_DIR / "w1" / "out" / "3.tmp").write_bytes(pickle.dumps({"results": [{"id": 8}]}))
    (tmp_path / WORKERS_DIR / "w1" / "out" / "4").write_bytes(pickle.dumps(["a list, not a message"]))
    _post(tmp_path, "w2", 0, [{"id": 1, "outcome": b"one"}])
    (tmp_path / WORKERS_DIR / "w3").mkdir()  # a worker that never wrote anything

    found = read_worker_results(tmp_path)
    assert sorted(found) == [("w1", 3), ("w1", 4), ("w1", 6), ("w2", 1)]
    assert found[("w1", 3)]["outcome"] == b"three" and found[("w1", 4)]["outcome"] is None
    assert sorted(read_worker_results(tmp_path, ["w2", "nobody"])) == [("w2", 1)]
    assert read_worker_results(tmp_path / "no-such-run") == {}


class Schedd:
    """A ``query`` callable that answers with the given ads and records what it was asked."""

    def __init__(self, ads: list[dict] | Exception = ()):
        self.ads, self.asked = ads, []

    def __call__(self, constraint: str, projection: list[str]) -> list[dict]:
        self.asked.append((constraint, projection))
        if isinstance(self.ads, Exception):
            raise self.ads
        return list(self.ads)


@pytest.fixture
def earlier(tmp_path: Path) -> Journal:
    """A journal that five earlier runs wrote, each in its own work directory:

    * ``a``: ended, all done (one inline outcome, one whose outcome was too large for the journal);
    * ``b``: killed: one call in its own job 10.0, two in slot worker w1 (job 11.0), one whose job
      finished after the submitter died (its result file is there), one sent but never placed;
    * ``c``: ended, only a failed call;
    * ``d``: killed: one call sent whose placement was not written (its job 12.0 is found by its task id);
    * ``f``: killed after its one call was done (it may have left a job it had not journaled yet).
    The run being made (``e``) has a row of its own, which no query may ask about."""
    journal = Journal("wf", tmp_path / "journals")
    for run in "abcdef":
        journal.begin_run(run, "condor", str(tmp_path / run))

    def task(run: str, n: int) -> str:
        return str(tmp_path / run / TASKS_DIR / str(n))

    journal.sent([("a-inline", 0, "app", "a", task("a", 1)), ("a-kept", 0, "app", "a", task("a", 2))])
    journal.done("a-inline", 0, "a", _blob("a1"), task("a", 1))
    big = _blob(b"x" * (1 << 20))
    journal.done("a-kept", 0, "a", big, task("a", 2))
    journal.sent([(f"b-{n}", 0, "app", "b", task("b", n)) for n in range(1, 6)])
    journal.placed_job("b-1", 0, "b", "10.0")
    journal.placed_worker([("b-2", 0, "app", "b", task("b", 2), "11.0", "w1", 2),
                           ("b-3", 0, "app", "b", task("b", 3), "11.0", "w1", 3)])
    journal.placed_job("b-4", 0, "b", "13.0")
    _run_job(Path(task("b", 4)), 4)
    journal.sent([("c-1", 0, "app", "c", task("c", 1))])
    journal.failed("c-1", 0, "c")
    journal.sent([("d-4", 0, "app", "d", task("d", 4)), ("e-1", 0, "app", "e", task("e", 1)),
                  ("f-1", 0, "app", "f", task("f", 1))])
    journal.done("f-1", 0, "f", _blob("f1"), task("f", 1))
    for run in "ac":
        journal.end_run(run, {}, {})
    journal.flush()
    _post(tmp_path / "b", "w1", 0, [{"id": 2, "outcome": _blob("from w1", 2)}])
    yield journal
    journal.close()


QUEUE = [
    {"ClusterId": 10, "ProcId": 0, "JobStatus": RUNNING, RUN_ATTR: "b", TASK_ATTR: 1},
    {"ClusterId": 11, "ProcId": 0, "JobStatus": RUNNING, RUN_ATTR: "b", WORKER_ATTR: "w1"},
    {"ClusterId": 12, "ProcId": 0, "JobStatus": IDLE, RUN_ATTR: "d", TASK_ATTR: 4},
]


def test_resume_asks_once_for_the_jobs_of_the_earlier_runs_that_may_have_left_some_and_decides_each_call(
        earlier: Journal, tmp_path: Path) -> None:
    schedd = Schedd(QUEUE)
    resume = Resume(earlier, schedd, "e")
    assert len(schedd.asked) == 1
    constraint, projection = schedd.asked[0]
    # the runs that may have left jobs: not a (ended, all done) nor c (ended, failed) nor e (this run)
    assert constraint == f'member({RUN_ATTR}, {{"b", "d", "f"}})'
    assert {"ClusterId", "ProcId", "JobStatus", RUN_ATTR, TASK_ATTR, WORKER_ATTR} <= set(projection)

    decisions = {key: resume.claim(key, 0) for key in ("a-inline", "a-kept", "b-1", "b-2", "b-3", "b-4", "b-5",
                                                        "c-1", "d-4")}
    assert {key: decision for key, (_, decision) in decisions.items()} == {
        "a-inline": Finished(blob=_blob("a1")),
        "a-kept": Finished(kept_file=str(tmp_path / "a" / TASKS_DIR / "2" / KEPT_OUTCOME_NAME)),
        "b-1": FollowJob("10.0"),
        "b-2": Finished(blob=_blob("from w1", 2)),  # its worker wrote the result nobody read
        "b-3": FollowWorker("11.0", "w1", 3),
        "b-4": Finished(result_file=str(tmp_path / "b" / TASKS_DIR / "4" / RESULT_NAME)),
        "b-5": Rerun("it had not been sent when its submitter stopped"),
        "c-1": Rerun("it failed in the earlier run"),
        "d-4": FollowJob("12.0"),  # its placement was never written: found by its task id
    }
    assert resume.claim("f-1", 0)[1] == Finished(blob=_blob("f1"))
    assert outcome_of(decisions["a-kept"][1]).value == b"x" * (1 << 20)
    assert outcome_of(decisions["b-4"][1]).value == 16
    assert decisions["b-3"][0].run == "b"
    assert resume.claim("b-1", 0) is None  # each call is claimed once
    assert resume.claim("never-seen", 0) is None and resume.claim("a-inline", 1) is None


def test_resume_on_a_pool_whose_jobs_die_with_their_submitter_asks_nothing(earlier: Journal) -> None:
    schedd = Schedd(QUEUE)
    resume = Resume(earlier, schedd, "e", jobs_survive=False)
    assert schedd.asked == []
    assert resume.claim("b-1", 0)[1] == Rerun(IN_PROCESS.format("job"))
    assert resume.claim("b-3", 0)[1] == Rerun(IN_PROCESS.format("worker"))
    assert isinstance(resume.claim("b-2", 0)[1], Finished)  # a result on disk is taken on any pool
    assert isinstance(resume.claim("b-4", 0)[1], Finished)


def test_resume_without_the_schedd_reruns_what_was_running_and_keeps_what_finished(earlier: Journal) -> None:
    resume = Resume(earlier, Schedd(OSError("the schedd did not answer")), "e")
    assert resume.claim("b-1", 0)[1] == Rerun("its job left the queue without a result")
    assert resume.claim("b-3", 0)[1] == Rerun("its worker is gone")
    assert resume.claim("a-inline", 0)[1] == Finished(blob=_blob("a1"))


# ---- the follower ----------------------------------------------------------------------------------

class Ended:
    """What the follower said about each followed call."""

    def __init__(self):
        self.finished: dict[str, tuple[Outcome, str]] = {}
        self.again: dict[str, str] = {}

    def followed(self, name: str, decision, task_dir: Path, work_dir: Path) -> Followed:
        return Followed(decision, task_dir, work_dir,
                        finished=lambda outcome, where: self.finished.__setitem__(name, (outcome, where)),
                        again=lambda why: self.again.__setitem__(name, why))


@pytest.fixture
def follower_parts(monkeypatch):
    """A Follower whose own thread never looks (the test looks), its query and its removals."""
    monkeypatch.setattr(attach, "FOLLOW_PERIOD", 3600.0)
    schedd, removed = Schedd(), []
    follower = Follower(schedd, removed.extend, 'CondorexecRun == "new" && CondorexecAdopted =?= true', "test")
    yield follower, schedd, removed
    follower.stop()


def test_the_follower_ends_each_adopted_job_by_what_it_left(follower_parts, tmp_path: Path) -> None:
    follower, schedd, removed = follower_parts
    ended = Ended()
    _run_job(tmp_path / "left", 5)
    _run_job(tmp_path / "completed", 6)
    (tmp_path / "unreadable").mkdir()
    (tmp_path / "unreadable" / RESULT_NAME).write_bytes(b"half a pickle")
    jobs = {"left": "20.0", "vanished": "21.0", "held": "22.0", "running": "23.0", "completed": "24.0",
            "unreadable": "25.0"}
    for name, job_id in jobs.items():
        follower.follow(ended.followed(name, FollowJob(job_id), tmp_path / name, tmp_path))
    schedd.ads = [{"ClusterId": 22, "ProcId": 0, "JobStatus": HELD, "HoldReason": "out of memory"},
                  {"ClusterId": 23, "ProcId": 0, "JobStatus": RUNNING},
                  {"ClusterId": 24, "ProcId": 0, "JobStatus": COMPLETED}]

    follower.look()

    assert [constraint for constraint, _ in schedd.asked] == ['CondorexecRun == "new" && CondorexecAdopted =?= true']
    assert {name: (o.value, where) for name, (o, where) in ended.finished.items()} == {
        "left": (25, "20.0"), "completed": (36, "24.0")}
    assert set(ended.again) == {"vanished", "held", "unreadable"}
    assert "left the queue without a result" in ended.again["vanished"]
    assert "held" in ended.again["held"] and "out of memory" in ended.again["held"]
    assert "unreadable" in ended.again["unreadable"]
    assert removed == ["22.0"]  # a held adopted job is removed: its call runs again, sized anew
    assert follower.following() == 1

    _run_job(tmp_path / "running", 7)
    schedd.ads = []
    follower.look()
    assert ended.finished["running"][0].value == 49 and follower.following() == 0
    follower.look()  # nothing followed: the schedd is not asked
    assert len(schedd.asked) == 2


def test_the_follower_takes_a_workers_result_when_it_appears(follower_parts, tmp_path: Path) -> None:
    follower, schedd, removed = follower_parts
    ended = Ended()
    for name, decision in {"three": FollowWorker("30.0", "w1", 3), "four": FollowWorker("30.0", "w1", 4),
                           "bad": FollowWorker("30.0", "w1", 5), "orphan": FollowWorker("31.0", "w2", 1)}.items():
        follower.follow(ended.followed(name, decision, tmp_path / "tasks" / name, tmp_path))
    schedd.ads = [{"ClusterId": 30, "ProcId": 0, "JobStatus": RUNNING}]

    follower.look()
    assert ended.finished == {} and ended.again == {"orphan": "its worker ended without its result"}

    _post(tmp_path, "w1", 0, [{"id": 3, "outcome": _blob("three", 3)}, {"id": 4, "outcome": None},
                              {"id": 5, "outcome": b"not a pickle"}])
    follower.look()
    outcome, where = ended.finished["three"]
    assert (outcome.value, where) == ("three", "30.0/call 3")
    assert "gave it back unrun" in ended.again["four"] and "unreadable" in ended.again["bad"]
    assert follower.following() == 0 and removed == []


def test_the_follower_gives_back_the_calls_of_a_held_worker(follower_parts, tmp_path: Path) -> None:
    follower, schedd, removed = follower_parts
    ended = Ended()
    follower.follow(ended.followed("call", FollowWorker("30.0", "w1", 3), tmp_path / "tasks" / "3", tmp_path))
    schedd.ads = [{"ClusterId": 30, "ProcId": 0, "JobStatus": HELD, "HoldReason": "disk quota"}]
    follower.look()
    assert "call" in ended.again and follower.following() == 0


def test_a_worker_outcome_the_follower_hands_over_is_the_runners(follower_parts, tmp_path: Path) -> None:
    """The blob in a worker's message is the runner's pickled outcome (not ours): decoded as such."""
    follower, schedd, _ = follower_parts
    ended = Ended()
    follower.follow(ended.followed("call", FollowWorker("30.0", "w1", 8), tmp_path / "tasks" / "8", tmp_path))
    blob = runner._dumps_outcome(cloudpickle, runner._run_call({"id": 8, "func": square, "args": (9,), "kwargs": {}}))
    _post(tmp_path, "w1", 0, [{"id": 8, "outcome": blob}])
    follower.look()
    outcome, _ = ended.finished["call"]
    assert outcome == decode_outcome(blob) and outcome.value == 81
