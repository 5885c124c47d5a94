"""A regular (non-editable) install ships the top-level templates/ inside the package (and py.typed,
the LICENSE, the version condorexec/__init__.py says).

The templates live beside setup.cfg, not under condorexec/, so only setup.py's package_dir mapping puts
them into a wheel; an editable install would hide a broken mapping. The test builds a wheel from a copy
of the source tree, installs it into its own directory and renders a job description there.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCES = ("setup.py", "setup.cfg", "pyproject.toml", "README.md", "LICENSE", "condorexec", "templates")

RENDER = """
import sys
from condorexec import render
description = render.job_description({
    "batch_name": "b", "wrapper": "/w.sh", "runner": "/r.py", "log": "/l.log", "run_id": "r",
    "fast_launch": False, "lease_attr": "CondorexecLeaseExpires", "lease_expires": 1,
    "lease_remove": "false", "wrapper_inputs": "", "requirements": "true"})
print(render.TEMPLATE_DIR)
print(description["request_memory"])
"""


@pytest.mark.slow
def test_a_wheel_ships_the_templates_and_renders_a_job_from_them(tmp_path):
    source = tmp_path / "source"
    source.mkdir()
    for name in SOURCES:
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy
        copy(REPO / name, source / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"),
                    str(source)], check=True, capture_output=True)
    [wheel] = (tmp_path / "dist").glob("condorexec-*.whl")
    shipped = set(zipfile.ZipFile(wheel).namelist())
    templates = ("job.sub.j2", "worker.sub.j2", "wrapper.sh.j2", "unpack.sh.j2")
    assert {f"condorexec/templates/{name}" for name in templates} <= shipped
    assert "condorexec/py.typed" in shipped  # PEP 561: type checkers read the installed package's hints
    dist_info = wheel.name.split("-py")[0]  # condorexec-0.1.0
    assert any(n.startswith(f"{dist_info}.dist-info/") and n.endswith("LICENSE") for n in shipped), shipped
    from condorexec import __version__  # the one source of the version reached the wheel's metadata
    assert dist_info == f"condorexec-{__version__}"

    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    # cwd and PYTHONPATH keep the source checkout out of sys.path: only the installed copy can answer
    done = subprocess.run([sys.executable, "-c", RENDER], cwd=tmp_path, env={"PYTHONPATH": str(site)},
                          check=True, capture_output=True, text=True)
    template_dir, request_memory = done.stdout.splitlines()
    assert Path(template_dir) == site / "condorexec" / "templates"
    assert request_memory == "$(ce_memory_mb)MB"
