"""Late materialization on a live pool (``-m condor``; run as the pool's user): the schedd is the judge.

The same late-materialization file is queued by the real ``condor_submit`` and by ``condorexec submit
--backend condor``, and what the schedd then holds must agree: the procs it materialized and their
attributes, JobMaterializeLimit and TotalSubmitProcs included (condorexec hands the description to
``Schedd.submit``, whose bindings make the factory). Every job gets a Requirements no slot matches, so
nothing runs and the materialized procs stay put: ``hold = true`` would not do, because the schedd
materializes a factory's procs idle even then (HTCondor 25.14: they run, with a HoldReason set).
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import htcondor2
import pytest

from condorexec.cli import main
from tests.cli import test_cli_vs_condor_live as vs
from tests.cli.test_cli_vs_condor_live import (
    ACCEPTED,
    CONDOR,
    NOT_COMPARED,
    _condor_submit,
    _condorexec_submit,
    _procs,
    _same,
    _text,
)

# that file's fixtures: the schedd and a readable corpus copy (clusters, removed at the end: conftest.py)
schedd, work = vs.schedd, vs.work

pytestmark = pytest.mark.condor
NOWHERE = 'requirements = (TARGET.Name == "condorexec-latemat-nowhere")'
LATE = re.compile(r"^\s*(max_materialize|max_idle|materialize_max_idle)\s*=", re.IGNORECASE | re.MULTILINE)
#: the corpus files that ask for late materialization (test_cli_vs_condor_live leaves them to this file)
FACTORY_CORPUS = [p for p in sorted(Path(__file__).resolve().parent.glob("corpus/c*.sub"))
                  if p.with_suffix(".ads").exists() and LATE.search(p.read_text())]
#: written by the negotiator when a cycle tried the job (these jobs match no slot): timing, as AutoClusterId
NEGOTIATION = {"LastRejMatchNegotiator", "LastRejMatchReason", "LastRejMatchTime", "NumJobMatchesRejected",
               "LastMatchTime", "NumJobMatches", "JobMaterializeDate"}
#: also compared for the factory (absent on both sides is equal)
FACTORY_ATTRS = ("JobMaterializeLimit", "JobMaterializeMaxIdle", "TotalSubmitProcs", "JobMaterializeNextProcId")


def _settled(schedd: htcondor2.Schedd, cluster: int, want: int, timeout: float = 20) -> list:
    """The cluster's procs once the schedd has materialized ``want`` of them (it does so on a timer)."""
    deadline = time.monotonic() + timeout
    procs = _procs(schedd, cluster)
    while len(procs) < want and time.monotonic() < deadline:
        time.sleep(0.25)
        procs = _procs(schedd, cluster)
    return procs


def _compare(schedd: htcondor2.Schedd, theirs: int, ours: int, name: str) -> int:
    """Assert both clusters hold the same procs with the same attributes; how many procs that is."""
    want = _settled(schedd, theirs, 1)
    if want:  # as many as the limits let the schedd make (no proc runs, so max_idle counts them all)
        first = want[0]
        most = min(first["JobMaterializeLimit"], first["TotalSubmitProcs"])
        max_idle = first.eval("JobMaterializeMaxIdle") if "JobMaterializeMaxIdle" in first else -1
        want = _settled(schedd, theirs, min(most, max_idle) if max_idle >= 0 else most, timeout=5)
    got = _settled(schedd, ours, len(want))
    assert want, f"{name}: condor_submit's factory materialized no proc"
    assert [ad["ProcId"] for ad in got] == [ad["ProcId"] for ad in want], name
    differences = []
    for w, g in zip(want, got, strict=True):
        names = (set(w.keys()) | set(g.keys()) | set(FACTORY_ATTRS)) - NOT_COMPARED - NEGOTIATION
        for attr in sorted(names):
            a, b = _text(w, attr), _text(g, attr)
            if not _same(a, theirs, b, ours):
                differences.append(f"proc {w['ProcId']} {attr}: condor_submit {a} != condorexec {b}")
    assert not differences, f"{name}:\n" + "\n".join(differences)
    return len(want)


def test_the_corpus_has_late_materialization_files() -> None:
    assert len(FACTORY_CORPUS) >= 4
    assert not set(FACTORY_CORPUS) & set(ACCEPTED)  # the hold-based comparison would race running jobs


@pytest.mark.parametrize("sub", FACTORY_CORPUS, ids=lambda p: p.stem)
def test_schedd_holds_the_same_factory_procs(sub: Path, schedd: htcondor2.Schedd, clusters: list[int],
                                             work: Path, capsys) -> None:
    theirs = _condor_submit(sub.name, work, "-append", NOWHERE)
    clusters.append(theirs)
    ours = _condorexec_submit(sub.name, capsys, "-append", NOWHERE)
    clusters.append(ours)
    _compare(schedd, theirs, ours, sub.name)


def test_factory_option_makes_the_same_factory(schedd: htcondor2.Schedd, clusters: list[int], work: Path,
                                               capsys) -> None:
    (work / "plain.sub").write_text(f"executable = /bin/true\narguments = $(Process)\n{NOWHERE}\nqueue 4\n")
    theirs = _condor_submit("plain.sub", work, "-factory")
    clusters.append(theirs)
    ours = _condorexec_submit("plain.sub", capsys, "-factory")
    clusters.append(ours)
    assert _compare(schedd, theirs, ours, "plain.sub -factory") == 4  # the limit: every proc
    assert {ad["JobMaterializeLimit"] for ad in _procs(schedd, ours)} == {4}


def test_queue_a_million_is_cheap_and_the_schedd_materializes_two(schedd: htcondor2.Schedd, clusters: list[int],
                                                                   work: Path, capsys) -> None:
    (work / "big.sub").write_text(f"executable = /bin/true\n{NOWHERE}\nmax_materialize = 2\nqueue 1000000\n")
    capsys.readouterr()
    started = time.monotonic()
    status = main(["submit", *CONDOR, "big.sub"])
    took = time.monotonic() - started
    out, err = capsys.readouterr()
    assert status == 0, err
    cluster = int(out.rsplit("cluster ", 1)[1].rstrip(".\n"))
    clusters.append(cluster)
    assert out == f"Submitting job(s)\n1000000 job(s) submitted to cluster {cluster}.\n"
    assert took < 30, f"condorexec submit of queue 1000000 took {took:.1f}s"
    procs = _settled(schedd, cluster, 2)
    time.sleep(2)  # a schedd that would make more has had its timer run by now
    procs = _procs(schedd, cluster)
    assert [ad["ProcId"] for ad in procs] == [0, 1]
    assert {(ad["JobMaterializeLimit"], ad["TotalSubmitProcs"]) for ad in procs} == {(2, 1_000_000)}
    assert main(["rm", *CONDOR, str(cluster)]) == 0
    deadline = time.monotonic() + 20  # the factory (the cluster ad) goes too, not only procs 0 and 1
    while time.monotonic() < deadline and schedd.query(f"ClusterId == {cluster}", ["ProcId"],
                                                        opts=htcondor2.QueryOpt.IncludeClusterAd):
        time.sleep(0.25)
    assert not schedd.query(f"ClusterId == {cluster}", ["ProcId"], opts=htcondor2.QueryOpt.IncludeClusterAd)
