"""Benchmark of pack=True: an app importing numpy, in a venv that also holds unrelated packages.

Measures the cold build, the cache hit (same process and a fresh process), the archive size against a
plain tar.gz of the whole venv, and the node-side unpack (job sandbox, then a node-cache hit).

    /work/venv/bin/python tests/bench/pack.py [--workdir DIR] [--packages numpy requests ...]

Needs PyPI (pip installs the packages into a fresh venv under --workdir).  Not run by pytest.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import time
from pathlib import Path

import jinja2

import condorexec
from condorexec.pack import PackedEnv, unpack_template_vars
from condorexec.render import TEMPLATE_DIR

REPO = Path(condorexec.__file__).resolve().parent.parent
UNRELATED = ["requests", "pyyaml", "jinja2", "pygments", "sympy", "six"]

APP = textwrap.dedent("""\
    import json, sys, time
    t0 = time.perf_counter()
    from condorexec.pack import pack_function
    t_import = time.perf_counter() - t0

    def app(n):
        import numpy
        return float(numpy.arange(n).sum())

    t0 = time.perf_counter(); env = pack_function(app, cache_dir=sys.argv[1], progress=False)
    first = time.perf_counter() - t0
    t0 = time.perf_counter(); pack_function(app, cache_dir=sys.argv[1], progress=False)
    again = time.perf_counter() - t0
    print(json.dumps({"first_s": first, "again_s": again, "import_s": t_import, "key": env.key,
                      "archive": str(env.archive), "kind": env.kind, "python": env.python,
                      "size_bytes": env.size_bytes}))
""")

NODE = """#!/bin/sh
{% include "unpack.sh.j2" %}
"$PY" -c "import numpy; print(numpy.arange(10).sum())"
"""


def _pack(venv: Path, script: Path, cache: Path) -> dict:
    t0 = time.perf_counter()
    out = subprocess.run([str(venv / "bin" / "python"), str(script), str(cache)], check=True,
                         capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)}).stdout
    info = json.loads(out)
    info["process_s"] = time.perf_counter() - t0
    return info


def _node_run(env: PackedEnv, sandbox: Path, node_cache: Path | None) -> float:
    sandbox.mkdir(parents=True)
    shutil.copy(env.archive, sandbox / env.archive.name)
    loader = jinja2.ChoiceLoader([jinja2.DictLoader({"n.sh": NODE}),
                                  jinja2.FileSystemLoader(str(TEMPLATE_DIR))])
    (sandbox / "n.sh").write_text(jinja2.Environment(loader=loader).get_template("n.sh").render(
        **unpack_template_vars(env)))
    environ = {"PATH": "/usr/bin:/bin"}
    if node_cache is not None:
        environ["CONDOREXEC_NODE_CACHE"] = str(node_cache)
    t0 = time.perf_counter()
    proc = subprocess.run(["/bin/sh", "n.sh"], cwd=sandbox, env=environ, capture_output=True, text=True)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0 or proc.stdout.strip() != "45":
        raise RuntimeError(f"node run failed: {proc.stdout} {proc.stderr}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=None)
    ap.add_argument("--packages", nargs="*", default=UNRELATED, help="unrelated packages in the venv")
    args = ap.parse_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="condorexec-bench-pack-"))
    work.mkdir(parents=True, exist_ok=True)
    venv = work / "venv"
    if not (venv / "bin" / "python").exists():
        print(f"creating {venv} with numpy + {' '.join(args.packages)} ...", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "numpy",
                        "cloudpickle", "platformdirs", "packaging", *args.packages], check=True)
    script = work / "app.py"
    script.write_text(APP)
    cache = work / "cache"
    shutil.rmtree(cache, ignore_errors=True)

    cold = _pack(venv, script, cache)
    warm = _pack(venv, script, cache)
    env = PackedEnv(cold["key"], Path(cold["archive"]), cold["kind"], cold["python"], cold["size_bytes"])

    plain = work / "plain-venv.tar.gz"
    t0 = time.perf_counter()
    with tarfile.open(plain, "w:gz", compresslevel=3) as tar:
        tar.add(venv, arcname="venv")
    plain_s = time.perf_counter() - t0

    nodes = work / "nodes"
    shutil.rmtree(nodes, ignore_errors=True)
    sandbox_s = _node_run(env, nodes / "job-sandbox", None)
    node_cache = nodes / "node-cache"
    first_node_s = _node_run(env, nodes / "job-a", node_cache)
    hit_node_s = _node_run(env, nodes / "job-b", node_cache)

    rows = [
        ("cold build (pack_function, fresh cache)", f"{cold['first_s']:.2f} s"),
        ("cache hit, same process (memoized scan)", f"{cold['again_s'] * 1000:.2f} ms"),
        ("cache hit, fresh process (scan + key + stat)", f"{warm['first_s'] * 1000:.1f} ms"),
        ("packed archive size", f"{env.size_bytes / 1e6:.1f} MB"),
        ("plain tar.gz of the whole venv (no interpreter)", f"{plain.stat().st_size / 1e6:.1f} MB"
         f" (took {plain_s:.1f} s)"),
        ("node: unpack into job sandbox + run numpy", f"{sandbox_s:.2f} s"),
        ("node: first job with CONDOREXEC_NODE_CACHE", f"{first_node_s:.2f} s"),
        ("node: later job, node-cache hit", f"{hit_node_s:.3f} s"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  value")
    print(f"{'-' * width}  {'-' * 24}")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(f"\n(venv: {venv}; unrelated packages: {' '.join(args.packages)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
