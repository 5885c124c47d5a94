"""condorexec.submit.cluster: a file with several queue statements as the one cluster condor_submit
makes of it. The corpus files c28-c31 check the result against real condor_submit -dry-run output
(tests/unit/test_submitdesc.py) and against what the schedd stores (tests/cli/test_cli_vs_condor_live.py);
these check the rules one at a time, and the refusals."""

from __future__ import annotations

from pathlib import Path

import classad2
import pytest

from condorexec.errors import SubmitDescriptionError
from condorexec.submit import expand_jobs
from condorexec.submit.cluster import read_submission


def _ads(text: str, where: Path, **options) -> list[classad2.ClassAd]:
    submission = read_submission(text, file="job.sub", submit_dir=str(where), **options)
    return expand_jobs(submission.description, itemdata=submission.itemdata, cluster_id=7,
                       submit_dir=str(where), owner="someone", qdate=1_700_000_000)


def test_one_statement_is_passed_as_it_is(tmp_path: Path) -> None:
    """One statement keeps its own queue statement (no item data), so late materialization still works."""
    submission = read_submission("executable = /bin/true\nmax_materialize = 2\nqueue 5\n# done\n",
                                 submit_dir=str(tmp_path))
    assert submission.itemdata is None and submission.statements == 1
    assert submission.description.getQArgs() == "5"


def test_each_statement_gets_the_commands_above_it_and_its_own_step_and_row(tmp_path: Path) -> None:
    ads = _ads("executable = /bin/echo\narguments = a $(Process) $(Step) $(Row) $(Cluster)\n"
               "request_memory = 100\nqueue 2\n"
               "request_memory = 200\narguments = b $(Process) $(Step) $(Row) $(v)\nqueue 2 v in (x, y)\n", tmp_path)
    assert [ad["Args"] for ad in ads] == ["a 0 0 0 7", "a 1 1 0 7", "b 2 0 0 x", "b 3 1 0 x", "b 4 0 1 y",
                                          "b 5 1 1 y"]
    assert [ad["RequestMemory"] for ad in ads] == [100, 100, 200, 200, 200, 200]
    assert [ad["ProcId"] for ad in ads] == list(range(6))


def test_a_loop_variable_reads_queue_item_after_its_statement_until_set_again(tmp_path: Path) -> None:
    ads = _ads("executable = /bin/echo\narguments = $(v)\nqueue v in (one)\nqueue\nv = two\nqueue\n", tmp_path)
    assert [ad["Args"] for ad in ads] == ["one", "<Queue_item>", "two"]


def test_a_loop_variable_named_as_a_command_is_that_command(tmp_path: Path) -> None:
    ads = _ads("executable = /bin/true\nrequest_memory = 64\nqueue\nqueue request_memory in (300, 400)\n", tmp_path)
    assert [ad["RequestMemory"] for ad in ads] == [64, 300, 400]


def test_a_macro_set_before_each_statement(tmp_path: Path) -> None:
    """The idiom HTCondor's docs show for multiple queue statements: the same command, a macro that changes."""
    (tmp_path / "a.in").write_text("a")
    (tmp_path / "b.in").write_text("bb")
    ads = _ads("executable = /bin/cat\narguments = $(f)\ntransfer_input_files = $(f)\n"
               "f = a.in\nqueue\nf = b.in\nqueue\n", tmp_path)
    assert [(ad["Args"], ad["TransferInput"]) for ad in ads] == [("a.in", "a.in"), ("b.in", "b.in")]


def test_queue_zero_queues_one_proc(tmp_path: Path) -> None:
    assert len(_ads("executable = /bin/true\nqueue 0\n", tmp_path)) == 1
    assert len(_ads("executable = /bin/true\nqueue\nqueue 0\n", tmp_path)) == 2


def test_a_proc_inherits_what_its_statement_leaves_unset_from_proc_0(tmp_path: Path) -> None:
    """A proc's ad is chained to the cluster ad (proc 0's): an empty command later changes nothing."""
    (tmp_path / "in.txt").write_text("x")
    ads = _ads("executable = /bin/true\ntransfer_input_files = in.txt\nqueue\ntransfer_input_files =\nqueue\n",
               tmp_path)
    assert [ad.get("TransferInput") for ad in ads] == ["in.txt", "in.txt"]


def test_multi_line_matching_list(tmp_path: Path) -> None:
    for name in ("b.txt", "a.txt", "c.dat", "skip.log"):
        (tmp_path / name).write_text(name)
    (tmp_path / "d.txt").mkdir()
    ads = _ads("executable = /bin/echo\narguments = $(f)\nqueue f matching files (\n*.txt\n# a comment\n*.dat\n)\n",
               tmp_path)
    assert [ad["Args"] for ad in ads] == ["a.txt", "b.txt", "c.dat"]


def test_multi_line_matching_pattern_with_a_space_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SubmitDescriptionError, match=r"'my file\*' holds a space"):
        _ads("executable = /bin/echo\nqueue f matching (\nmy file*\n)\n", tmp_path)


@pytest.mark.parametrize("text", [
    "executable = /bin/true\nmax_materialize = 2\nqueue 3\narguments = x\nqueue\n",
    "executable = /bin/true\nmax_idle = 2\nqueue 3\n\nexecutable = /bin/echo\n",
    # the attribute names count too, as condor_submit reads them (checked with its -dry-run: a factory)
    "executable = /bin/true\nJobMaterializeLimit = 2\nqueue 3\narguments = x\nqueue\n",
    "executable = /bin/true\nJobMaterializeMaxIdle = 2\nqueue 3\narguments = x\nqueue\n",
])
def test_late_materialization_allows_nothing_after_the_queue_statement(text: str, tmp_path: Path) -> None:
    with pytest.raises(SubmitDescriptionError, match=r"line \d: Extra data found after queue statement"):
        _ads(text, tmp_path)


def test_factory_and_prevent_multi_queue_refuse_extra_data_and_allow_comments(tmp_path: Path, monkeypatch) -> None:
    text = "executable = /bin/true\nqueue\nqueue 2\n"
    with pytest.raises(SubmitDescriptionError, match="line 3: Extra data found"):
        _ads(text, tmp_path, factory=True)
    with pytest.raises(SubmitDescriptionError, match="line 3: Extra data found"):
        _ads(text, tmp_path, prevent_multi_queue=True)
    monkeypatch.setenv("_CONDOR_SUBMIT_PREVENT_MULTI_QUEUE", "true")
    with pytest.raises(SubmitDescriptionError, match="line 3: Extra data found"):
        _ads(text, tmp_path)
    assert len(_ads("executable = /bin/true\nqueue 2\n\n# only a comment\n", tmp_path)) == 2
    with pytest.raises(SubmitDescriptionError, match="Extra data was provided to STDIN"):
        _ads("executable = /bin/true\nqueue\n# a comment\n", tmp_path, from_stdin=True)


@pytest.mark.parametrize(("text", "said"), [
    ("executable = /bin/true\nqueue\n+Late = 1\nqueue\n", r"line 2: \+Late is set for some queue statements"),
    ("executable = /bin/true\nqueue\nMY.Late = 1\nqueue\n", r"\+Late is set for some queue statements"),
    ("executable = /bin/true\nif defined X\nqueue\nendif\nqueue 2\n", r"line 3: 'queue' is inside an if block"),
    ("executable = /bin/true\nqueue\narguments @=END\na\nb\n@END\nqueue\n", r"arguments: a multi-line value"),
], ids=["+attr", "MY.attr", "if block", "multi-line value"])
def test_what_one_submission_cannot_carry_is_refused(text: str, said: str, tmp_path: Path) -> None:
    with pytest.raises(SubmitDescriptionError, match=said):
        _ads(text, tmp_path)


def test_a_bad_line_between_statements_is_reported_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(SubmitDescriptionError, match=r"line 3: not a submit command: 'oops'"):
        _ads("executable = /bin/true\nqueue\noops\nqueue\n", tmp_path)
    # after the last statement condor_submit reads nothing more
    assert len(_ads("executable = /bin/true\nqueue\noops\n", tmp_path)) == 1


def test_fill_unset_gives_a_value_only_to_the_procs_that_leave_a_command_out(tmp_path: Path) -> None:
    """What a learned request does with several statements: a request the user wrote stays."""
    submission = read_submission("executable = /bin/true\nqueue\nrequest_memory = 300\nqueue 2\n",
                                 submit_dir=str(tmp_path))
    assert submission.leaves_unset("request_memory") and submission.leaves_unset("request_cpus")
    submission.fill_unset("request_memory", "1000MB")
    submission.fill_unset("request_cpus", "3")
    assert not submission.leaves_unset("request_memory")
    ads = expand_jobs(submission.description, itemdata=submission.itemdata, cluster_id=1,
                      submit_dir=str(tmp_path), owner="someone", qdate=0)
    assert [(ad["RequestCpus"], ad["RequestMemory"]) for ad in ads] == [(3, 1000), (3, 300), (3, 300)]
    single = read_submission("executable = /bin/true\nrequest_memory = 5\nqueue\n", submit_dir=str(tmp_path))
    assert not single.leaves_unset("request_memory") and single.leaves_unset("request_disk")
    single.fill_unset("request_memory", "9")
    assert single.description["request_memory"] == "5"


def test_a_request_written_under_its_attribute_name_is_not_unset(tmp_path: Path) -> None:
    """``RequestMemory = 300`` sets request_memory for condor_submit (corpus c104): a learned request must
    not be filled in over it."""
    single = read_submission("executable = /bin/true\nRequestMemory = 300\nqueue\n", submit_dir=str(tmp_path))
    assert not single.leaves_unset("request_memory") and single.leaves_unset("request_cpus")
    single.fill_unset("request_memory", "9")
    (ad,) = expand_jobs(single.description, itemdata=single.itemdata, cluster_id=1, submit_dir=str(tmp_path),
                        owner="someone", qdate=0)
    assert ad["RequestMemory"] == 300
