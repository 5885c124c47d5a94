"""Bad inputs, as a hostile-but-fair new user types them: each gets a clear error that names the field
and the value, before anything is submitted, and takes nothing already running or learned with it."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from condorexec import CondorExecutor
from condorexec.cli import main
from condorexec.errors import CondorexecError, InvalidSpecError, MissingInputError
from condorexec.labels.store import LabelStoreError
from condorexec.spec import parse_spec

pytestmark = pytest.mark.bad_input

#: (CondorExecutor keyword arguments, what the error must name): refused when built or started
EXECUTOR_OPTIONS = [
    ({"label": "../../x"}, "label='../../x'"),
    ({"label": "two\nlines"}, "label="),
    ({"label": ""}, "label=''"),
    ({"pool": "nosuch"}, "pool='nosuch'"),
    ({"nodes": "cpus=2"}, "nodes='cpus=2'"),
    ({"nodes": ["cpus=two,memory=100"]}, "cpus=two"),
    ({"nodes": ["memory=100"]}, "memory=100"),
    ({"nodes": ["cpus=0,memory=100"]}, "cpus=0"),
    ({"nodes": ["cpus=1,memory=100,colour=red"]}, "colour"),
    ({"nodes": ["cpus=1,memory=100", "cpus=1,memory=100,name=node1"]}, "node1"),
    ({"batch_window": "0.1"}, "batch_window='0.1'"),
    ({"batch_window": -1}, "batch_window=-1"),
    ({"max_batch": 1.5}, "max_batch=1.5"),
    ({"max_batch": 0}, "max_batch=0"),
    ({"max_retries": -1}, "max_retries=-1"),
    ({"lease_minutes": 0}, "lease_minutes=0"),
    ({"autolabel_window": 0}, "autolabel_window=0"),
    ({"allocation_mode": "fastest"}, "allocation_mode='fastest'"),
    ({"switch_interval": 1}, "switch_interval=1"),
    ({"category": "two words"}, "category='two words'"),
    ({"worker_python": ""}, "worker_python=''"),
    ({"autolabel": "yes"}, "autolabel='yes'"),
    ({"autolabel_early_release": "yes"}, "autolabel_early_release='yes'"),
    ({"pack": 1}, "pack=1"),
    ({"autocategory": "no"}, "autocategory='no'"),
    ({"monitor_period": 0}, "monitor_period"),
]


@pytest.mark.parametrize(("options", "named"), EXECUTOR_OPTIONS, ids=[repr(o) for o, _ in EXECUTOR_OPTIONS])
def test_executor_options(options: dict, named: str, tmp_path: Path) -> None:
    with pytest.raises((InvalidSpecError, ValueError)) as info:
        executor = CondorExecutor(**{"pool": "local", "state_dir": str(tmp_path / "state"), **options})
        executor.run_dir = str(tmp_path / "run")
        executor.start()
        executor.shutdown()
    assert named in str(info.value), info.value
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").rglob("*.sub"))


def test_a_label_store_that_is_a_directory_is_refused_at_start_naming_it(tmp_path: Path) -> None:
    executor = CondorExecutor(pool="local", state_dir=str(tmp_path / "state"), autolabel=True,
                              label_store=str(tmp_path))
    executor.run_dir = str(tmp_path / "run")
    with pytest.raises(LabelStoreError, match=f"{tmp_path}.*is a directory"):
        executor.start()
    executor.shutdown()


#: (parsl_resource_specification, what the error must name)
SPECS = [
    ({"cores": -1}, "cores=-1"),
    ({"cores": "2"}, "cores='2'"),
    ({"cores": True}, "cores=True"),
    ({"cores": 2.5}, "cores=2.5"),
    ({"memory": math.nan}, "memory=nan"),
    ({"memory": 10**15}, "memory="),
    ({"disk": -5}, "disk=-5"),
    ({"colour": "red"}, "colour='red'"),
    ({"priority": "high"}, "priority='high'"),
    ({"running_time_min": 0}, "running_time_min=0"),
    ({"category": "a\nb"}, "category="),
    ({"category": "$(HOME)"}, "category='$(HOME)'"),
    ("cores=2", "parsl_resource_specification='cores=2'"),
]


@pytest.mark.parametrize(("spec", "named"), SPECS, ids=[repr(s) for s, _ in SPECS])
def test_resource_specifications(spec, named: str) -> None:
    with pytest.raises(InvalidSpecError) as info:
        parse_spec(spec)
    assert named in str(info.value), info.value


def _double(x):
    return 2 * x


@pytest.mark.parametrize(("spec", "named"), [
    ({"memory": 4000}, "memory=4000"),
    ({"cores": 3}, "cores=3"),
    ({"disk": 10_000}, "disk=10000"),
    ({"gpus": 1}, "gpus=1"),
], ids=["memory", "cores", "disk", "gpus"])
def test_sizes_no_machine_has_are_refused_before_submission_and_the_run_goes_on(running, spec, named) -> None:
    before = dict(running.stats)
    with pytest.raises(InvalidSpecError) as info:
        running.submit(_double, spec, 1)
    assert named in str(info.value) and "largest" in str(info.value), info.value
    assert running.stats == before  # nothing submitted
    assert running.submit(_double, {"memory": 100}, 21).result(timeout=60) == 42


def test_a_missing_input_file_is_refused_before_submission(running, tmp_path: Path) -> None:
    from parsl.data_provider.files import File

    missing = tmp_path / "not-there.txt"
    with pytest.raises(MissingInputError, match="not-there.txt"):
        running.submit(_double, {}, 1, inputs=[File(str(missing))])


#: (submit file text, extra condorexec submit arguments, what stderr must say)
SUBMIT_FILES = [
    ("executable = /bin/true\nrequest_memory = lots\nqueue\n", [], "request_memory"),
    ("executable = /bin/true\nrequest_cpus = -1\nqueue\n", [], "request_cpus"),
    ("executable = /bin/true\nmax_materialize = abc\nqueue 3\n", [], "max_materialize=abc is invalid"),
    ('executable = /bin/true\nmax_idle = "x"\nqueue 3\n', [], 'max_idle="x" is invalid'),
    ("executable = /bin/true\nqueue abc\n", [], "queue count 'abc'"),
    ("executable = /bin/true\nqueue 1/0\n", [], "queue count '1/0'"),
    ("executable = /bin/true\nqueue undefined\n", [], "queue count 'undefined'"),
    ('executable = /bin/true\nqueue "x"\n', [], "queue count '\"x\"'"),
    ("executable =\nqueue\n", [], "no executable"),
    ("executable = /bin/true\nthis is not a command\nqueue\n", [], "not a submit command"),
    ("executable = /bin/true\nmax_materialize = 2\nqueue\nqueue 2\n", [], "line 4: Extra data found after queue"),
    ("executable = /bin/true\nqueue\n+Late = 1\nqueue 2\n", [], "+Late is set for some queue statements"),
    ("executable = /bin/true\nqueue 100000000\n", ["-maxjobs", "10"], "-maxjobs (10): 100000000 jobs"),
    ("executable = /bin/true\nuniverse = banana\nqueue\n", [], "universe = banana"),
    ("executable = /bin/true\nqueue x from missing-items.txt\n", [], "missing-items.txt"),
    ("executable = /bin/true\nqueue\n", ["-append", "request_memory = \n"], "-append"),
    ("executable = /bin/true\nqueue\n", ["badvar name=1"], "badvar name"),
]


@pytest.mark.parametrize(("text", "extra", "said"), SUBMIT_FILES, ids=[s for *_, s in SUBMIT_FILES])
def test_submit_files(text: str, extra: list[str], said: str, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "j.sub").write_text(text)
    status = main(["submit", "-dry-run", "-", *extra, "j.sub"])
    captured = capsys.readouterr()
    assert status != 0 and said in captured.err and "Traceback" not in captured.err, captured.err
    assert captured.out == ""


@pytest.mark.parametrize(("argv", "said"), [
    (["labels", "--window", "0"], "--window 0"),
    (["labels", "--maximum", "4,8000"], "--maximum '4,8000'"),
    (["q", "not-a-job-id!"], "not-a-job-id!"),
    (["wait", "-num", "0", "x.log"], "-num 0"),
    (["frobnicate"], "frobnicate"),
], ids=["labels window", "labels maximum", "q selector", "wait num", "unknown command"])
def test_companion_commands(argv: list[str], said: str, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    status = main([*argv[:1], *(["--state-dir", str(tmp_path / "s")] if argv[0] in ("labels", "q") else []),
                   *argv[1:]])
    captured = capsys.readouterr()
    assert status != 0 and said in captured.err and "Traceback" not in captured.err, captured.err


def test_the_errors_are_condorexec_errors_users_can_catch_by_type() -> None:
    with pytest.raises(CondorexecError):
        parse_spec({"cores": -1})
