"""``condorexec submit`` without running anything: -dry-run against real condor_submit output,
the option set, the output text and the error paths (through ``main`` and the console script)."""

from __future__ import annotations

import getpass
import io
import re
import shutil
import subprocess
import sys
from pathlib import Path

import classad2
import pytest

from condorexec import submit
from condorexec.cli import main
from condorexec.submit import expand
from condorexec.submit.cluster import read_submission

CORPUS = Path(__file__).resolve().parent / "corpus"
FIXTURES = Path("/work/shared/condor-fixtures/submit")
CONSOLE = Path(sys.executable).with_name("condorexec")

# pool-, time- or binary-dependent attributes (fixtures README)
NOT_COMPARED = {"QDate", "EnteredCurrentStatus", "CondorVersion", "CondorPlatform", "SubmitVersion", "Owner",
                "FileSystemDomain"}


def read_ads(text: str, iwd: str) -> list[dict[str, str]]:
    """condor_submit -dry-run blocks → per-proc {attr: value text} (later blocks hold changes only)."""
    text = text.replace("@IWD@", iwd)
    procs: list[dict[str, str]] = []
    # blocks are separated by a blank line in a file, by the progress dot's "." line on stdout
    for block in (b for b in re.split(r"\n(?:\s*|\.)\n", text.strip("\n")) if b.strip() not in ("", ".")):
        attrs = dict(procs[0]) if procs else {}
        for line in block.split("\n"):  # not splitlines: a value may hold a \x0b (c103)
            name, sep, value = line.partition("=")
            if sep:
                attrs[name] = value
        procs.append(attrs)
    return procs


def _value(attrs: dict[str, str], name: str):
    ad = classad2.ClassAd("[" + ";".join(f"{k}={v}" for k, v in attrs.items()) + "]")
    value = ad.eval(name)
    return re.sub(r"[\s()]", "", str(ad.lookup(name))) if isinstance(value, classad2.Value) else value


def run(argv: list[str], capsys, stdin: str | None = None, monkeypatch=None) -> tuple[int, str, str]:
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


CASES = [(p.with_suffix(".sub"), p, CORPUS) for p in sorted(CORPUS.glob("*.ads")) if p.name.count(".") == 1] + \
        [(p.with_suffix(".sub"), p, FIXTURES) for p in sorted(FIXTURES.glob("*.ads"))]


@pytest.mark.parametrize("sub,ads,where", CASES, ids=lambda x: x.stem if isinstance(x, Path) else "")
def test_dry_run_matches_condor_submit(sub: Path, ads: Path, where: Path, tmp_path: Path, monkeypatch,
                                       capsys) -> None:
    monkeypatch.chdir(where)  # Iwd is the directory condor_submit runs in
    submit_file = tmp_path / sub.name
    submit_file.write_text(sub.read_text().replace("@IWD@", str(where)))
    out_file = tmp_path / "dry.ads"
    status, out, _ = run(["submit", "-dry-run", str(out_file), str(submit_file)], capsys)
    assert status == 0
    # the corpus was made as user condoruser: owner-derived values (AcctGroupUser) follow the user
    user = getpass.getuser()
    expected = read_ads(ads.read_text().replace('"condoruser"', f'"{user}"').replace('.condoruser"', f'.{user}"'),
                        str(where))
    got = read_ads(out_file.read_text(), str(where))
    submission = read_submission(submit_file.read_text(), submit_dir=str(where))
    plan = submit.plan_jobs(submission.description, itemdata=submission.itemdata, cluster_id=1,
                                submit_dir=str(where), owner=user, qdate=0)
    if plan.factory is not None:  # late materialization: the cluster ad alone, and no dot per proc
        assert out == f"Dry-Run job(s)\n{plan.count} job(s) dry-run to cluster 1.\n"
        assert len(expected) == 1
    else:
        assert out == f"Dry-Run job(s){'.' * len(expected)}\n{len(expected)} job(s) dry-run to cluster 1.\n"
    assert len(got) == len(expected)
    for proc, (want, ours) in enumerate(zip(expected, got, strict=True)):
        for name in sorted(set(want) - NOT_COMPARED - {"JobSubmitFile"}):
            assert name in ours, f"{sub.name} proc {proc}: {name} missing"
            assert _value(ours, name) == _value(want, name), f"{sub.name} proc {proc}: {name}"
        assert ours["JobSubmitFile"] == f'"{submit_file}"'


WARNED = sorted(CORPUS.glob("*.warnings"))


@pytest.mark.parametrize("warnings", WARNED, ids=lambda p: p.stem)
def test_typo_warnings_are_condor_submits(warnings: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    """The lines condor_submit said were unused (recorded beside the corpus file) are the ones condorexec
    names, in condor_submit's words."""
    monkeypatch.chdir(CORPUS)
    status, _, err = run(["submit", "-dry-run", str(tmp_path / "dry.ads"), warnings.with_suffix(".sub").name], capsys)
    assert status == 0
    ours = sorted(line.replace("condorexec submit", "condor_submit") for line in err.splitlines()
                  if line.startswith("WARNING"))
    assert ours == warnings.read_text().splitlines()


def test_dagmans_command_line_gives_the_recorded_node_ad(tmp_path: Path, monkeypatch, capsys) -> None:
    """DAGMan (DAGMAN_USE_DIRECT_SUBMIT = False) runs the submit executable with var=value arguments before
    *and after* its -a commands, the file last (dagman_submit.cpp); corpus c82 holds the same commands
    written into the file, recorded with condor_submit -dry-run: the command line must give that ad."""
    monkeypatch.chdir(CORPUS)
    (tmp_path / "a.sub").write_text("executable = /bin/echo\narguments = node $(JOB) retry $(RETRY)\n"
                                    "output = $(JOB).out\nlog = c82.log\nqueue\n")
    argv = ["submit", "-dry-run", str(tmp_path / "dry.ads"), "JOB=A", "RETRY=0", "DAG_PARENT_NAMES=",
            "batch_name=diamond.dag+142", "batch_id=142.0", "keep_claim_idle=20", "-a", "dag_node_name=A",
            "-a", "submit_event_notes=DAG Node: A", "-a", f"dagman_log={CORPUS}/diamond.dag.nodes.log",
            "-a", 'My.DAGManNodesMask="0,1,2,4,5,7,8,9,10,11,12,13,16,17,24,27,35,36"', "-a", "My.DAGManJobId=142",
            "-a", "DAGManJobId=142", 'MY.DAGParentNodeNames="$(DAG_PARENT_NAMES)"', str(tmp_path / "a.sub")]
    status, out, err = run(argv, capsys)
    assert status == 0, err
    assert out == "Dry-Run job(s).\n1 job(s) dry-run to cluster 1.\n"  # DAGMan reads the count and cluster
    (want,) = read_ads((CORPUS / "c82-dagman-node.ads").read_text(), str(CORPUS))
    (got,) = read_ads((tmp_path / "dry.ads").read_text(), str(CORPUS))
    for name in sorted(set(want) - NOT_COMPARED - {"JobSubmitFile"}):
        assert name in got and _value(got, name) == _value(want, name), name


def test_rm_takes_dagmans_command_line(tmp_path: Path, capsys) -> None:
    """DAGMAN_CONDOR_RM_EXE is run as ``RM CLUSTER -const DAGManJobId==N -reason TEXT``: the cluster and the
    constraint both narrow the selection (DAGMan adds its id so as not to remove another DAG's jobs)."""
    status, out, err = run(["rm", "--backend", "local", "--state-dir", str(tmp_path), "16", "-const",
                            "DAGManJobId==12", "-reason", "Node Error: DAG node C (16.0.0) failed"], capsys)
    assert status == 1 and out == ""
    assert "Couldn't find/remove all jobs matching constraint (((ClusterId == 16)) && (DAGManJobId==12))" in err


def test_dry_run_to_stdout_from_stdin_with_options(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    text = "executable = /bin/echo\narguments = $(greeting) $(Process)\n"
    status, out, _ = run(["submit", "--dry-run", "-", "-batch-name", "nightly", "-a", "request_memory = 2GB",
                          "greeting=hi", "-queue", "2"], capsys, stdin=text, monkeypatch=monkeypatch)
    assert status == 0
    header, _, rest = out.partition("\n")
    assert header == "Dry-Run job(s)"  # to stdout, condor_submit 25.14 puts each proc's dot after its block
    assert rest.count("\n.\n") == 2 and rest.endswith("\n.\n2 job(s) dry-run to cluster 1.\n")
    procs = read_ads(rest.rpartition("2 job(s) dry-run to cluster 1.")[0], str(tmp_path))
    assert [p["Args"] for p in procs] == ['"hi 0"', '"hi 1"']
    assert procs[0]["JobBatchName"] == '"nightly"' and procs[0]["RequestMemory"] == "2048"
    assert "JobSubmitFile" not in procs[0]  # none when read from stdin, as condor_submit


def test_terse_dry_run_prints_the_id_range(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "j.sub").write_text("executable = /bin/true\nqueue 4\n")
    status, out, _ = run(["submit", "-terse", "-dry-run", str(tmp_path / "x.ads"), "j.sub"], capsys)
    assert (status, out) == (0, "1.0 - 1.3\n")


def test_unknown_option_is_rejected_with_usage(capsys) -> None:
    status, out, err = run(["submit", "-frobnicate", "x.sub"], capsys)
    assert status == 1
    assert "unrecognized arguments: -frobnicate" in err and "usage: condorexec submit" in err


def test_queue_option_conflicts_with_a_queue_statement(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "j.sub").write_text("executable = /bin/true\n\nqueue 2\n")
    status, _, err = run(["submit", "-dry-run", "-", "j.sub", "-queue", "3"], capsys)
    assert status == 1 and "j.sub, line 3:" in err and "-queue 3" in err


def test_maxjobs_refuses_a_larger_cluster(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "j.sub").write_text("executable = /bin/true\nqueue 5\n")
    status, _, err = run(["submit", "-maxjobs", "4", "-dry-run", "-", "j.sub"], capsys)
    assert status == 1 and "-maxjobs (4)" in err


def test_a_huge_cluster_is_counted_at_once_and_its_ads_are_made_as_they_are_read(tmp_path: Path) -> None:
    """queue 1000000000 used to build every ad before the first was printed (2.5 GB for 10^8)."""
    description = submit.parse_description("executable = /bin/true\narguments = $(Process)\nqueue 1000000000\n")
    plan = submit.plan_jobs(description, cluster_id=1, submit_dir=str(tmp_path), owner="u", qdate=1)
    assert plan.count == 10**9
    first = [next(plan.ads) for _ in range(3)]
    assert [ad["ProcId"] for ad in first] == [0, 1, 2] and first[2]["Args"] == "2"


@pytest.mark.bad_input
def test_maxjobs_counts_before_it_expands(tmp_path: Path, monkeypatch, capsys) -> None:
    """queue 100000000 used to expand every ad first (2.5 GB, 25 s) and only then compare."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "j.sub").write_text("executable = /bin/true\nqueue 100000000\n")
    calls: list[int] = []
    real_ad = expand._Expander.__init__

    def counting(self, *args, **kwargs):
        calls.append(1)
        real_ad(self, *args, **kwargs)

    monkeypatch.setattr(expand._Expander, "__init__", counting)
    status, out, err = run(["submit", "-maxjobs", "10", "-dry-run", "-", "j.sub"], capsys)
    assert status == 1 and "would exceed -maxjobs (10): 100000000 jobs" in err and out == ""
    assert len(calls) <= 1  # at most the probe for the queue arguments, never the per-proc expander


@pytest.mark.bad_input
def test_an_inline_item_list_the_binding_cannot_read_is_a_clear_error(tmp_path: Path, monkeypatch, capsys) -> None:
    """htcondor2 cannot read an inline list with an empty line (condor_submit makes an empty item of it):
    condorexec says which statement and why, where it used to print the binding's bare 'invalid qargs'."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "j.sub").write_text("executable = /bin/echo\narguments = $(x)\nqueue x from (\nhello\n\n)\n")
    status, out, err = run(["submit", "-dry-run", "-", "j.sub"], capsys)
    assert status == 1 and out == ""
    assert "queue x from (: the item list cannot be read" in err and "empty line inside an inline item list" in err


@pytest.mark.parametrize("body,line,pattern", [
    ("executable = /bin/true\nthis is not a command\nqueue\n", 2, "not a submit command"),
    ("executable = /bin/true\n\nrequest_memory = lots\nqueue\n", 3, "request_memory = lots"),
    ("executable = /bin/true\narguments = one \"two\"\nqueue\n", 2, "illegal unescaped double-quote"),
])
def test_bad_description_names_file_and_line(body: str, line: int, pattern: str, tmp_path: Path, monkeypatch,
                                             capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "bad.sub").write_text(body)
    status, _, err = run(["submit", "--backend", "local", "--state-dir", str(tmp_path / "st"), "bad.sub"], capsys)
    assert status == 1
    assert f"ERROR: bad.sub, line {line}: " in err and pattern in err


def test_local_pool_refuses_what_it_cannot_run_and_warns_about_what_it_ignores(tmp_path: Path, monkeypatch,
                                                                               capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "c.sub").write_text("universe = container\ncontainer_image = docker://alpine\n"
                                    "executable = /bin/true\nperiodic_remove = false\n+Color = \"red\"\nqueue\n")
    status, out, err = run(["submit", "--backend", "local", "--state-dir", str(tmp_path / "st"), "c.sub"], capsys)
    assert status == 1 and out == ""
    assert "ERROR: c.sub: container_image = docker://alpine: not supported on the local pool" in err
    assert "universe = container: containers are not supported" in err
    assert "WARNING: c.sub: periodic_remove = false: ignored on the local pool" in err
    assert "MY.Color: kept in the job ad, but the local pool gives it no meaning" in err
    (tmp_path / "s.sub").write_text("universe = scheduler\nexecutable = /bin/true\nqueue\n")
    status, _, err = run(["submit", "--backend", "local", "--state-dir", str(tmp_path / "st"), "s.sub"], capsys)
    assert status == 1 and "the local pool runs only vanilla-universe jobs" in err


def test_a_request_no_node_can_meet_is_refused(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "g.sub").write_text("executable = /bin/true\nrequest_gpus = 1\nqueue\n")
    status, _, err = run(["submit", "--backend", "local", "--state-dir", str(tmp_path / "st"),
                          "--local-node", "cpus=1,memory=500", "g.sub"], capsys)
    assert status == 1 and "1 gpus: no local node is that big" in err


@pytest.mark.skipif(not CONSOLE.exists(), reason="console script not installed")
def test_console_script_dry_run_and_rejection(tmp_path: Path) -> None:
    shutil.copy(CORPUS / "c02-queue-n.sub", tmp_path / "j.sub")
    done = subprocess.run([str(CONSOLE), "submit", "-dry-run", "-", "j.sub"], cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("Dry-Run job(s)\nClusterId=1\n")
    assert done.stdout.endswith("\n.\n3 job(s) dry-run to cluster 1.\n")
    want = read_ads((CORPUS / "c02-queue-n.ads").read_text(), str(tmp_path))
    got = read_ads(done.stdout.split("\n", 1)[1].rsplit("3 job(s)", 1)[0], str(tmp_path))
    assert [p["Arguments"] for p in got] == [p["Arguments"] for p in want]
    bad = subprocess.run([str(CONSOLE), "submit", "--nope"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "unrecognized arguments: --nope" in bad.stderr


@pytest.mark.bad_input
def test_a_log_that_cannot_be_written_is_refused_before_anything_is_queued(tmp_path: Path, monkeypatch,
                                                                          capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "j.sub").write_text(f"executable = /bin/true\nlog = {tmp_path}/missing/dir/j.log\nqueue\n")
    state = tmp_path / "state"
    status, out, err = run(["submit", "--backend", "local", "--state-dir", str(state), "j.sub"], capsys)
    assert status == 1 and f'Invalid log file: "{tmp_path}/missing/dir/j.log" (No such file or directory)' in err
    assert out == "" and not (state / "localpool" / "spool" / "history").exists()  # nothing ran, nothing queued
