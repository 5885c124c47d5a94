"""A schedd that restarts under condorexec (issue 27): every call into it is retried, logged, while it
answers with the errors a restarting schedd gives, and fails only when it stays away past the bound; a
submit whose answer was lost is found by its tag, not queued twice. Only the binding seam is replaced
(a schedd whose next calls fail as the real one's did); the live proof is tests/condor/test_schedd_restart.py.
"""

from __future__ import annotations

import logging

import classad2
import htcondor2
import pytest

from condorexec.pools import scheddretry
from condorexec.pools.condor import SUBMIT_ID_ATTR, CondorPool, CondorPoolError
from condorexec.pools.scheddretry import RETRY_SECONDS_ENV, schedd_away

pytestmark = pytest.mark.fault


@pytest.fixture(autouse=True)
def quick_backoff(monkeypatch):
    """The same doubling backoff, from 10 ms instead of 0.5 s, so the suite stays fast."""
    monkeypatch.setattr(scheddretry, "FIRST_DELAY", 0.01)
    monkeypatch.setattr(scheddretry, "MAX_DELAY", 0.04)

#: what htcondor2 raised during `condor_restart -schedd` on the live pool (issue 27) and in its sources
RESTART_ERRORS = [
    htcondor2.HTCondorException("Failed to connect to schedd, errmsg=SECMAN:2004:Server rejected our session id"),
    RuntimeError("Failed to create new cluster."),
    OSError("Failed to fetch ads from schedd, errmsg=SECMAN:2007:Failed to end classad message."),
    RuntimeError("Error when performing action on the schedd."),
    OSError("Unable to connect to schedd"),
    RuntimeError("Unable to commit transaction: SECMAN:2003:TCP connection to schedd failed."),
]


class RestartingSchedd:
    """The binding seam of a schedd that fails the next ``away`` calls with ``error``; its queue is a list
    of cluster ads, so a submit can be "committed but its answer lost" (``lose_answers``)."""

    def __init__(self, error: BaseException, away: int = 2, lose_answers: int = 0):
        self.error, self.away, self.lose_answers = error, away, lose_answers
        self.location = classad2.ClassAd({"Name": "schedd@test", "MyAddress": "<127.0.0.1:1>"})
        self.calls: list[str] = []
        self.queue: list[classad2.ClassAd] = []
        self.clusters = 0

    def _answer(self, name: str) -> None:
        self.calls.append(name)
        if self.away > 0:
            self.away -= 1
            raise self.error

    def relocate(self) -> None:
        self.calls.append("relocate")

    def ping(self) -> None:
        self._answer("ping")

    def submit(self, description, count, itemdata):
        self._answer("submit")
        procs = len(list(itemdata)) if itemdata is not None else max(count, 1)
        self.clusters += 1
        cluster = self.clusters
        for proc in range(procs):
            self.queue.append(classad2.ClassAd({"ClusterId": cluster, "ProcId": proc,
                                                SUBMIT_ID_ATTR: description[f"MY.{SUBMIT_ID_ATTR}"].strip('"')}))
        if self.lose_answers > 0:  # committed on the schedd; the answer never came back
            self.lose_answers -= 1
            raise RuntimeError("Unable to commit transaction: SECMAN:2004:Server rejected our session id")
        return _Result(cluster, procs)

    def submit_spooled(self, description, count, itemdata):
        return self.submit(description, count, itemdata)

    def spool(self, result) -> None:
        self._answer("spool")

    def retrieve(self, job_spec) -> None:
        self._answer("retrieve")

    def query(self, constraint, projection):
        self._answer("query")
        return []

    def query_with_cluster_ads(self, constraint, projection):
        self._answer("query_with_cluster_ads")
        return [ad for ad in self.queue if classad2.ExprTree(constraint).eval(ad) is True]

    def history(self, constraint, projection, match, since):
        self._answer("history")
        return []

    def act(self, action, job_spec):
        self._answer("act")
        if action == htcondor2.JobAction.Remove and isinstance(job_spec, str):
            self.queue = [ad for ad in self.queue if classad2.ExprTree(job_spec).eval(ad) is not True]
        return classad2.ClassAd()

    def edit(self, job_spec, attr, value):
        self._answer("edit")
        return 1

    def startd_ads(self, constraint, projection):
        self._answer("startd_ads")
        return []


class _Result:
    def __init__(self, cluster: int, procs: int):
        self._cluster, self._procs = cluster, procs

    def cluster(self) -> int:
        return self._cluster

    def first_proc(self) -> int:
        return 0

    def num_procs(self) -> int:
        return self._procs


def _submit(pool: CondorPool):
    return pool.submit(htcondor2.Submit("executable = /bin/true\n"), itemdata=[{"x": "a"}, {"x": "b"}])


CALLS = {
    "submit": _submit,
    "query": lambda pool: pool.query("true", ["ClusterId"]),
    "history": lambda pool: list(pool.history("true", ["ClusterId"], 5)),
    "act(Remove)": lambda pool: pool.act(htcondor2.JobAction.Remove, ["1.0"]),
    "edit(CondorexecLease)": lambda pool: pool.edit(["1.0"], "CondorexecLease", "1"),
    "retrieve": lambda pool: pool.retrieve(["1.0"]),
}


@pytest.mark.parametrize("error", RESTART_ERRORS, ids=[str(e)[:40] for e in RESTART_ERRORS])
@pytest.mark.parametrize("call", list(CALLS))
def test_every_schedd_call_rides_out_a_restart_and_says_so(call: str, error: BaseException, caplog) -> None:
    schedd = RestartingSchedd(error, away=2)
    pool = CondorPool(bindings=schedd, retry_seconds=30)
    with caplog.at_level(logging.WARNING, logger="condorexec.pools.scheddretry"):
        CALLS[call](pool)
    assert schedd.away == 0 and schedd.calls.count("relocate") == 2
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2 and all(call in m and "schedd@test" in m for m in retries), retries
    assert any("answered" in r.getMessage() for r in caplog.records)
    if call == "submit":
        assert len(schedd.queue) == 2  # one cluster of two procs


def test_a_submit_whose_answer_was_lost_is_not_queued_twice(caplog) -> None:
    schedd = RestartingSchedd(RuntimeError("Failed to create new cluster."), away=0, lose_answers=1)
    pool = CondorPool(bindings=schedd, retry_seconds=30)
    with caplog.at_level(logging.WARNING, logger="condorexec.pools.scheddretry"):
        result = _submit(pool)
    assert schedd.calls.count("submit") == 1  # the first attempt queued it; the retry found it
    assert {int(ad["ClusterId"]) for ad in schedd.queue} == {1} and len(schedd.queue) == 2
    assert (result.cluster, result.first_proc, result.num_procs) == (1, 0, 2)
    assert any("already taken the submission" in r.getMessage() for r in caplog.records)


def test_a_spooled_submit_whose_answer_was_lost_is_removed_and_queued_again() -> None:
    """Its input upload needs the lost answer: the held cluster could never be released, so it goes."""
    schedd = RestartingSchedd(RuntimeError("Failed to create new cluster."), away=0, lose_answers=1)
    pool = CondorPool(bindings=schedd, retry_seconds=30)
    result = pool.submit(htcondor2.Submit("executable = /bin/true\n"), itemdata=[{"x": "a"}], spool=True)
    assert schedd.calls.count("submit") == 2 and "act" in schedd.calls and "spool" in schedd.calls
    assert [int(ad["ClusterId"]) for ad in schedd.queue] == [result.cluster] == [2]


def test_a_schedd_that_stays_away_fails_the_call_after_the_bound_naming_it() -> None:
    schedd = RestartingSchedd(OSError("Unable to connect to schedd"), away=10**6)
    pool = CondorPool(bindings=schedd, retry_seconds=0.3)
    with pytest.raises(CondorPoolError) as info:
        pool.query("true", ["ClusterId"])
    message = str(info.value)
    assert "HTCondor query failed (schedd schedd@test" in message and "did not answer for 0 s" in message
    attempts = schedd.calls.count("query")
    assert 6 <= attempts <= 12 and f"{attempts} attempts" in message and RETRY_SECONDS_ENV in message, message
    assert isinstance(info.value.__cause__, OSError)


@pytest.mark.parametrize("error", [
    ValueError("Failed to connect to schedd"),  # a ValueError is the caller's, whatever it says
    RuntimeError("Parse error in constraint"),
    RuntimeError("Failed to create job ad"),
    htcondor2.HTCondorException("Submit requirements not met"),
], ids=["ValueError", "parse error", "job ad", "submit requirements"])
def test_errors_that_are_not_a_restart_fail_at_once(error: BaseException) -> None:
    schedd = RestartingSchedd(error, away=1)
    with pytest.raises(CondorPoolError):
        _submit(CondorPool(bindings=schedd, retry_seconds=300))
    assert schedd.calls == ["submit"] and not schedd_away(error)


@pytest.mark.parametrize("value", ["-1", "soon", "nan"])
def test_a_bad_bound_is_refused_naming_it(value: str, monkeypatch) -> None:
    monkeypatch.setenv(RETRY_SECONDS_ENV, value)
    with pytest.raises(ValueError, match=f"{RETRY_SECONDS_ENV}={value!r}"):
        CondorPool(bindings=RestartingSchedd(OSError(), away=0))
    monkeypatch.delenv(RETRY_SECONDS_ENV)
    with pytest.raises(ValueError, match="retry_seconds must be"):
        CondorPool(bindings=RestartingSchedd(OSError(), away=0), retry_seconds=float(value) if value != "soon" else -2)


def test_the_bound_comes_from_the_environment(monkeypatch) -> None:
    monkeypatch.setenv(RETRY_SECONDS_ENV, "0")
    schedd = RestartingSchedd(OSError("Unable to connect to schedd"), away=1)
    with pytest.raises(CondorPoolError):
        CondorPool(bindings=schedd).query("true", ["ClusterId"])
    assert schedd.calls == ["query"]
