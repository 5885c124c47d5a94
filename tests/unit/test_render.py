"""Every rendered description is parsed by HTCondor's own parser and checked for what it expands to."""

import htcondor2
import pytest

from condorexec import render
from condorexec.condorfacts import claim_fits_requirements, lease_periodic_remove
from condorexec.errors import UnsafeValueError
from condorexec.names import LEASE_ATTR

CONTEXT = {
    "batch_name": "condorexec-test-run1", "wrapper": "/opt/run dir/wrapper-plain.sh",
    "runner": "/site/condorexec/runner.py", "log": "/runs/$HOME/jobs.log", "run_id": "run1",
    "fast_launch": True, "lease_attr": LEASE_ATTR, "lease_expires": 1800000000,
    "lease_remove": lease_periodic_remove(), "wrapper_inputs": "", "requirements": claim_fits_requirements(),
}


def _row(**overrides):
    values = {"task_dir": "/runs/tasks/0", "task_id": "0", "app": "align", "category": "align", "cpus": "2",
              "memory_mb": "1500", "disk_mb": "200", "gpus": "0", "priority": "0", "max_seconds": "undefined",
              "inputs": ""}
    values.update(overrides)
    return {k: render.check_item_value(k, values[k.removeprefix("ce_")]) for k in render.ITEM_KEYS}


def _expand(description: htcondor2.Submit, row: dict) -> htcondor2.Submit:
    """Substitute one itemdata row the way the schedd does: item variables become submit variables."""
    expanded = htcondor2.Submit(str(description))
    for key, value in row.items():
        expanded[key] = value
    return expanded


def test_description_parses_and_carries_sizes_with_units():
    description = render.job_description(CONTEXT)
    job = _expand(description, _row())
    assert job.expand("request_cpus") == "2"
    assert job.expand("request_memory") == "1500MB"
    assert job.expand("request_disk") == "200MB"  # explicit unit: bare request_disk would be KiB
    assert job.expand("should_transfer_files") == "YES"
    assert job.expand("transfer_input_files") == "/site/condorexec/runner.py,payload.pkl"
    assert "transfer_output_files" not in job.keys()  # HTCondor brings back every new file (see template)
    assert job.expand("executable") == "/opt/run dir/wrapper-plain.sh"
    assert job.expand("initialdir") == "/runs/tasks/0"
    assert job.expand("MY.CondorexecRun") == '"run1"'
    assert job.expand("MY.CondorexecCategory") == '"align"'
    assert job.expand("MY.CondorexecFastLaunch") == "true"
    assert job.expand("log") == "/runs/$HOME/jobs.log"  # "$" is literal, not a macro


def test_only_a_pool_that_fast_launches_gets_the_fast_launch_attribute_and_every_job_has_the_lease():
    fast = _expand(render.job_description(CONTEXT), _row())
    plain = _expand(render.job_description({**CONTEXT, "fast_launch": False}), _row())
    assert "MY.CondorexecFastLaunch" in fast.keys() and "MY.CondorexecFastLaunch" not in plain.keys()
    for job in (fast, plain):
        assert job.expand(f"MY.{LEASE_ATTR}") == "1800000000"
        assert job.expand("periodic_remove") == lease_periodic_remove()
        assert job.expand("requirements") == claim_fits_requirements()  # no reuse of a far bigger claim


def test_inputs_extend_the_transfer_list():
    job = _expand(render.job_description(CONTEXT), _row(inputs=",/data/a.txt,/data/b.txt"))
    assert job.expand("transfer_input_files") == "/site/condorexec/runner.py,payload.pkl,/data/a.txt,/data/b.txt"


def test_packed_environment_travels_with_every_job():
    job = _expand(render.job_description({**CONTEXT, "wrapper_inputs": ",/cache/packs/abc.tar.gz"}), _row())
    assert job.expand("transfer_input_files") == "/site/condorexec/runner.py,payload.pkl,/cache/packs/abc.tar.gz"


@pytest.mark.security
@pytest.mark.parametrize("evil", ["x\nqueue 1000", "x\rexecutable=/bin/rm", "x\x1fy"])
def test_newlines_in_item_values_are_refused(evil):
    with pytest.raises(UnsafeValueError, match="newline"):
        render.check_item_value("app", evil)


@pytest.mark.security
def test_newline_in_template_value_is_refused():
    with pytest.raises(UnsafeValueError):
        render.job_description({**CONTEXT, "log": "/tmp/log\nexecutable = /bin/evil"})


@pytest.mark.security
def test_macro_in_item_value_stays_literal():
    row = _row(task_dir="/runs/$(Cluster)/$ENV(HOME)")
    job = _expand(render.job_description(CONTEXT), row)
    assert job.expand("initialdir") == "/runs/$(Cluster)/$ENV(HOME)"


@pytest.mark.security
def test_keys_are_not_injectable_through_the_description():
    description = render.job_description({**CONTEXT, "batch_name": 'b" +Evil = "1'})
    assert "Evil" not in " ".join(description.keys())


def test_safe_app_name_replaces_odd_characters():
    assert render.safe_app_name('f"\n$(x)') == "f____x_"
    assert render.safe_app_name("outer.<locals>.inner") == "outer.<locals>.inner"


@pytest.mark.security
@pytest.mark.parametrize("path", ["/a,b", "/a b", '/a"b', "/a\nb"])
def test_transfer_paths_that_htcondor_cannot_carry(path):
    with pytest.raises(UnsafeValueError):
        render.check_transfer_path("inputs", path)


def test_wrapper_quotes_the_interpreter():
    text = render.render_script("wrapper.sh.j2", {"pack": False, "python": "/opt/my python/bin/python3",
                                                  "script": "runner.py"})
    assert "PY='/opt/my python/bin/python3'" in text
    assert 'exec "$PY" runner.py "$@"' in text


def test_running_time_min_becomes_allowed_job_duration():
    description = render.job_description(CONTEXT)
    assert _expand(description, _row()).expand("allowed_job_duration") == "undefined"  # 0 would mean 0 s
    assert _expand(description, _row(max_seconds="600")).expand("allowed_job_duration") == "600"
