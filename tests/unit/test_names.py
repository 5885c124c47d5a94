"""condorexec's own names live in condorexec/names.py: the templates take them from there, and the code
shipped alone to the execute node (which cannot import it) agrees with them."""

from __future__ import annotations

import re

from condorexec import names, render, worker


def test_job_template_writes_no_name_of_its_own():
    text = (render.TEMPLATE_DIR / "job.sub.j2").read_text()
    body = re.sub(r"\{#.*?#\}", "", text, flags=re.S)  # the comment may mention them
    assert not re.search(r"Condorexec[A-Z]|payload\.pkl|result\.pkl|job\.out|job\.err", body)


def test_rendered_job_carries_the_names():
    context = {"batch_name": "b", "wrapper": "/w.sh", "runner": "/r.py", "log": "/l.log", "run_id": "r",
               "fast_launch": True, "lease_expires": 1, "lease_remove": "false", "wrapper_inputs": "",
               "requirements": "true"}
    job = render.job_description(context)
    for attr in (names.RUN_ATTR, names.CATEGORY_ATTR, names.APP_ATTR, names.TASK_ATTR, names.FAST_LAUNCH_ATTR,
                 names.LEASE_ATTR):
        assert f"MY.{attr}" in job.keys()
    assert job["arguments"] == f"{names.PAYLOAD_NAME} {names.RESULT_NAME}"
    assert (job["output"], job["error"]) == (names.STDOUT_NAME, names.STDERR_NAME)


def test_the_node_side_agrees():
    assert worker.STREAMS == (names.STDOUT_NAME, names.STDERR_NAME)
