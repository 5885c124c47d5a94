"""Code fingerprints: the same for the same code in any process, different when the app changes."""

from __future__ import annotations

import functools
import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from condorexec.labels.fingerprint import code_fingerprint

SRC = str(Path(__file__).resolve().parents[2])

APP = textwrap.dedent('''
    import math

    SIZES = {"small": 1, "large": 3}


    def app(x, scale=2, *, mode="fast"):
        """Squares and more."""
        def inner(y):
            return [math.sqrt(i) for i in range(y)]
        if mode in {"fast", "quick", "rapid"}:  # a frozenset constant: its order is per-process
            return inner(x * scale)
        return SIZES.get(mode, x) ** 2
''')


def _load(tmp_path: Path, source: str, name: str = "appmod"):
    """Import ``source`` as a fresh module (its own file), and return its ``app``."""
    path = tmp_path / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.app


def _in_fresh_process(path: Path, hash_seed: str) -> str:
    code = ("import importlib.util, sys\n"
            "from condorexec.labels.fingerprint import code_fingerprint\n"
            "spec = importlib.util.spec_from_file_location(sys.argv[2], sys.argv[1])\n"
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m)\n"
            "print(code_fingerprint(m.app))\n")
    env = {**os.environ, "PYTHONPATH": SRC, "PYTHONHASHSEED": hash_seed, "PYTHONDONTWRITEBYTECODE": "1"}
    out = subprocess.run([sys.executable, "-c", code, str(path), path.stem], env=env, capture_output=True, text=True,
                         check=True, timeout=60)
    return out.stdout.strip()


def test_same_code_gives_the_same_fingerprint_in_fresh_processes(tmp_path):
    here = code_fingerprint(_load(tmp_path, APP))
    assert here is not None and len(here) == 64
    # different hash seeds: str hashes and set iteration order differ between these processes
    assert _in_fresh_process(tmp_path / "appmod.py", "1") == here
    assert _in_fresh_process(tmp_path / "appmod.py", "12345") == here


def test_moving_the_function_is_not_a_change(tmp_path):
    moved = "\n\n# a comment and another function above it\ndef other():\n    return 1\n\n" + APP
    assert code_fingerprint(_load(tmp_path, moved, "elsewhere")) == code_fingerprint(_load(tmp_path, APP))


@pytest.mark.parametrize(("old", "new"), [
    ("x * scale", "x * scale + 1"),                  # the body
    ("math.sqrt(i)", "math.log1p(i)"),               # a name used, in a nested comprehension of a nested function
    ("scale=2", "scale=3"),                          # a default argument
    ('mode="fast"', 'mode="slow"'),                  # a keyword-only default
    ('"rapid"}', '"swift"}'),                         # a member of a set constant
    ("** 2", "** 3"),                                # a constant
    ("def app(x, scale=2, *,", "def app(x, scale=2, extra=0, *,"),  # the signature
])
def test_a_change_in_what_the_app_runs_changes_the_fingerprint(tmp_path, old, new):
    assert old in APP
    before = code_fingerprint(_load(tmp_path, APP, "before"))
    after = code_fingerprint(_load(tmp_path, APP.replace(old, new), "after"))
    assert before != after


class _Callable:
    def __call__(self, x):
        return x


@pytest.mark.parametrize("func", [len, print, functools.partial(int, base=2), _Callable(), object(), "len", None])
def test_callables_without_python_code_get_no_fingerprint(func):
    assert code_fingerprint(func) is None


def test_a_default_with_an_address_in_its_repr_is_taken_by_type(tmp_path):
    source = "class Opt:\n    pass\n\ndef app(x, opt=Opt()):\n    return x\n"
    path = tmp_path / "withobj.py"
    path.write_text(source)
    here = code_fingerprint(_load(tmp_path, source, "withobj"))
    assert here is not None and _in_fresh_process(path, "7") == here
