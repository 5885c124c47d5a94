"""The pure parts of -spool and transfer-data: transfer-list and remap reading, the job-ad rewrite
(compared with what HTCondor 25.14's condor_submit -spool and schedd made of the same job), the
selection condor_transfer_data builds, the submit options, and what CondorPool asks the seam."""

from __future__ import annotations

from pathlib import Path

import classad2
import htcondor2
import pytest

from condorexec.cli import spoolopts
from condorexec.cli.options import UsageError
from condorexec.cli.submit import parser as submit_parser
from condorexec.cli.transfer_data import selection
from condorexec.pools.condor import CondorPoolError
from condorexec.pools.local import spooling
from condorexec.pools.local.spool import SpoolLayout
from condorexec.pools.local.transfer import output_target, parse_remaps, returned_name, split_list
from tests.unit.test_condor_pool import description, make_pool


def test_remaps_honour_condor_submits_escapes() -> None:
    assert parse_remaps("a = b; c=d/e ;") == {"a": "b", "c": "d/e"}
    assert parse_remaps(r"_condor_stdout=dir/we\;ird\=name") == {"_condor_stdout": "dir/we;ird=name"}
    assert parse_remaps(r"x=back\\slash") == {"x": "back\\slash"}
    assert parse_remaps("") == {} and parse_remaps(None) == {}
    assert parse_remaps("no-equals-sign; y = z") == {"y": "z"}


def test_output_targets_and_lists(tmp_path: Path) -> None:
    assert split_list(" a, b ,,c ") == ["a", "b", "c"]
    assert returned_name("sub/dir/") == "dir"
    remaps = {"a/b.txt": "/abs/x", "c.txt": "rel/y"}
    assert output_target("a/b.txt", remaps, tmp_path) == Path("/abs/x")
    assert output_target("d/c.txt", remaps, tmp_path) == tmp_path / "rel/y"  # by the name it arrives as
    assert output_target("d/e.txt", remaps, tmp_path) == tmp_path / "e.txt"


def _ad(tmp_path: Path, **attrs) -> classad2.ClassAd:
    base = {"ClusterId": 7, "ProcId": 0, "Iwd": str(tmp_path), "Cmd": str(tmp_path / "run.sh"),
            "In": "/dev/null", "Out": "/dev/null", "Err": "/dev/null", "LeaveJobInQueue": False,
            "JobStatus": 1, "EnteredCurrentStatus": 100}
    base.update(attrs)
    return classad2.ClassAd(base)


def test_the_ad_is_rewritten_as_condor_submit_spool_and_the_schedd_do(tmp_path: Path) -> None:
    """Seen on HTCondor 25.14 for this job: Cmd run.sh (SUBMIT_Cmd the path), In in.txt with no
    SUBMIT_In (unchanged), Out _condor_stdout remapped to sub/out.txt, err.txt kept, remaps only as
    SUBMIT_TransferOutputRemaps, Iwd the spool directory and SUBMIT_Iwd the submit directory."""
    (tmp_path / "run.sh").write_text("#!/bin/sh\n")
    (tmp_path / "in.txt").write_text("in\n")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f.txt").write_text("f\n")
    (tmp_path / "d" / "inner").mkdir()
    (tmp_path / "d" / "inner" / "g").write_text("g\n")
    ad = _ad(tmp_path, In="in.txt", Out="sub/out.txt", Err="err.txt",
             TransferInput="in.txt,d/f.txt,d/inner/,https://example.org/x")
    job_dir = tmp_path / "spool" / "7" / "0" / "cluster7.proc0.subproc0"
    spooling.spool_job(ad, job_dir)
    assert spooling.is_spooled(ad)
    assert (ad["Iwd"], ad["SUBMIT_Iwd"]) == (str(job_dir), str(tmp_path))
    assert (ad["Cmd"], ad["SUBMIT_Cmd"]) == ("run.sh", str(tmp_path / "run.sh"))
    assert ad["In"] == "in.txt" and "SUBMIT_In" not in ad
    assert ad["TransferInput"] == "in.txt,f.txt,inner/,https://example.org/x"
    assert ad["SUBMIT_TransferInput"] == "in.txt,d/f.txt,d/inner/,https://example.org/x"
    assert (ad["Out"], ad["Err"]) == ("_condor_stdout", "err.txt")
    assert "TransferOutputRemaps" not in ad
    assert ad["SUBMIT_TransferOutputRemaps"] == "_condor_stdout=sub/out.txt"
    assert ad.eval("LeaveJobInQueue") is False  # not completed yet
    assert sorted(p.name for p in job_dir.iterdir()) == ["f.txt", "in.txt", "inner", "run.sh"]
    assert (job_dir / "inner" / "g").read_text() == "g\n"


def test_error_same_as_output_shares_stdouts_working_name_and_escapes(tmp_path: Path) -> None:
    ad = _ad(tmp_path, Out="a;b/o", Err="a;b/o", TransferExecutable=False,
             TransferOutputRemaps="r = s")
    spooling.spool_job(ad, tmp_path / "j")
    assert (ad["Out"], ad["Err"]) == ("_condor_stdout", "_condor_stdout")
    assert parse_remaps(ad["SUBMIT_TransferOutputRemaps"]) == {"r": "s", "_condor_stdout": "a;b/o"}
    assert "SUBMIT_Cmd" not in ad and not (tmp_path / "j" / "run.sh").exists()


def test_a_missing_input_is_named(tmp_path: Path) -> None:
    ad = _ad(tmp_path, TransferExecutable=False, TransferInput="gone.txt")
    with pytest.raises(spooling.SpoolError, match="gone.txt"):
        spooling.spool_job(ad, tmp_path / "j")


def test_retrieval_goes_through_the_submitters_remaps(tmp_path: Path) -> None:
    job_dir = tmp_path / "j"
    job_dir.mkdir()
    for name in ("_condor_stdout", "e", "r.txt", "plain"):
        (job_dir / name).write_text(name)
    ad = _ad(tmp_path, SUBMIT_Iwd=str(tmp_path / "home"), Out="_condor_stdout", Err="e",
             SUBMIT_TransferOutputRemaps="_condor_stdout=o/out;r.txt=" + str(tmp_path / "abs.txt"),
             SpooledOutputFiles="sub/r.txt,plain")
    spooling.retrieve_job(ad, job_dir)
    home = tmp_path / "home"
    assert (home / "o" / "out").read_text() == "_condor_stdout"
    assert (home / "e").read_text() == "e" and (home / "plain").read_text() == "plain"
    assert (tmp_path / "abs.txt").read_text() == "r.txt"
    ad["SUBMIT_TransferOutputRemaps"] = "r.txt=/dev/null/cannot"
    with pytest.raises(spooling.SpoolError, match="job 7.0: writing to file /dev/null/cannot"):
        spooling.retrieve_job(ad, job_dir)


def test_discard_removes_the_empty_number_directories_only(tmp_path: Path) -> None:
    layout = SpoolLayout(tmp_path)
    a, b = layout.job_spool(10003, 0), layout.job_spool(3, 0)
    assert a.parent == b.parent  # 10003 % 10000 == 3: the schedd's fan-out
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    spooling.discard(a)
    assert b.exists()
    spooling.discard(b)
    assert not (layout.spool / "3").exists() and layout.spool.exists()


def test_selection_ors_everything_like_condor_transfer_data() -> None:
    assert selection(["12", "3.4", "alice"], ["JobPrio > 1"], False) == (
        '(ClusterId == 12) || (ClusterId == 3 && ProcId == 4) || (Owner == "alice") || (JobPrio > 1)')
    assert selection([], [], True) == "(ClusterId >= 0)"
    for bad, words in ((["a\"b"], "a\"b"), (["-1x"], "-1x"), (["0"], "Invalid cluster # from 0.")):
        with pytest.raises(UsageError, match=words.replace(".", r"\.")):
            selection(bad, [], False)


def test_remote_is_spool_to_a_named_schedd() -> None:
    args = submit_parser().parse_args(["-remote", "s1", "x.sub"])
    assert spoolopts.resolve(args) is True and args.name == "s1"
    args = submit_parser().parse_args(["--spool", "x.sub"])
    assert spoolopts.resolve(args) is True and args.name is None
    assert spoolopts.resolve(submit_parser().parse_args(["x.sub"])) is False
    with pytest.raises(UsageError, match="'s1'.*'s2'"):
        spoolopts.resolve(submit_parser().parse_args(["-remote", "s1", "-name", "s2", "x.sub"]))
    with pytest.raises(UsageError, match="-remote needs a schedd name"):
        spoolopts.resolve(submit_parser().parse_args(["-remote", " ", "x.sub"]))


def test_hold_true_cannot_be_spooled() -> None:
    assert spoolopts.problems(htcondor2.Submit({"executable": "x", "Hold": "True"})) == [
        "Cannot set hold to 'true' when using -remote or -spool"]
    assert spoolopts.problems(htcondor2.Submit({"executable": "x", "hold": "false"})) == []


def test_condor_pool_spools_after_submitting_and_retrieves_by_constraint() -> None:
    pool, fake = make_pool()
    result = pool.submit(description(), spool=True)
    assert [c[0] for c in fake.calls] == ["submit_spooled", "spool"]
    assert fake.calls[1] == ("spool", result.cluster)
    pool.retrieve(["3.1", "4"])
    assert fake.calls[-1] == ("retrieve", "(ClusterId == 3 && ProcId == 1) || (ClusterId == 4)")
    pool.retrieve('Owner == "alice"')
    assert fake.calls[-1] == ("retrieve", 'Owner == "alice"')
    with pytest.raises(ValueError, match="job_spec"):
        pool.retrieve("ClusterId ==")
    with pytest.raises(ValueError, match="spool must be True or False"):
        pool.submit(description(), spool="yes")  # type: ignore[arg-type]


def test_a_failed_upload_removes_the_held_cluster() -> None:
    pool, fake = make_pool()

    def refuse(result):
        fake._record("spool", result.cluster())
        raise RuntimeError("connection lost")

    fake.spool = refuse
    with pytest.raises(CondorPoolError, match="spool.*connection lost"):
        pool.submit(description(), spool=True)
    assert fake.calls[-1][0] == "act" and fake.calls[-1][1] == htcondor2.JobAction.Remove
    assert fake.calls[-1][2] == f"ClusterId == {fake._next_cluster}"
