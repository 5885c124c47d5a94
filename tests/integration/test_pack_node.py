"""End to end: pack a real app in a real venv (or a conda-style prefix), then run it with condorexec's
runner on an emulated execute node that has NO Python: a bubblewrap sandbox exposing only the job's
sandbox dir, /usr/lib(64) and a dozen shell tools -- not /usr/bin/python3*, not the venv, not ~/.pyenv.

Needs: the `bubblewrap` apt package; PyPI reachable (pip installs six and markupsafe into the test venv).
The conda test builds its conda prefix by hand (conda-meta records + a package cache) because no conda
channel is reachable here; it goes through the real conda_pack API and the real conda-unpack.
"""

import json
import os
import shutil
import subprocess
import sys
import tarfile
import textwrap
import threading
from pathlib import Path

import jinja2
import pytest

import condorexec
from condorexec.pack import ScanResult, pack_distributions, unpack_template_vars
from condorexec.payload import Call, read_outcomes, write_payload
from condorexec.render import TEMPLATE_DIR

REPO = Path(condorexec.__file__).resolve().parent.parent
RUNNER = REPO / "condorexec" / "runner.py"
NODE_TOOLS = ("sh", "tar", "gzip", "awk", "find", "readlink", "mkdir", "mv", "rm", "sleep", "cat")
SANDBOX = "/scratch/job"


def _bwrap_ok() -> bool:
    if shutil.which("bwrap") is None:
        return False
    return subprocess.run(["bwrap", "--ro-bind", "/", "/", "true"], capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(
    not _bwrap_ok(), reason="needs a working bubblewrap (apt-get install bubblewrap)"
)


def _job_script(env) -> str:
    loader = jinja2.ChoiceLoader([
        jinja2.DictLoader({"job.sh": textwrap.dedent("""\
            #!/bin/sh
            if command -v python3 >/dev/null 2>&1 || [ -e /usr/bin/python3 ]; then
                echo "this node was supposed to have no python" >&2; exit 5
            fi
            {% include "unpack.sh.j2" %}
            "$PY" runner.py payload.pkl result.pkl
            """)}),
        jinja2.FileSystemLoader(str(TEMPLATE_DIR)),
    ])
    return jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined).get_template("job.sh").render(
        **unpack_template_vars(env)
    )


def _prepare_sandbox(sandbox: Path, env, call: Call) -> None:
    sandbox.mkdir(parents=True)
    shutil.copy(env.archive, sandbox / env.archive.name)
    shutil.copy(RUNNER, sandbox / "runner.py")
    write_payload(sandbox, [call])
    (sandbox / "job.sh").write_text(_job_script(env))


def _run_on_node(sandbox: Path, node_cache: Path | None = None, extra_env: dict | None = None):
    """Run job.sh inside bwrap, where only the listed tools and system libraries exist."""
    args = ["bwrap", "--ro-bind", "/usr/lib", "/usr/lib", "--symlink", "usr/lib", "/lib"]
    if os.path.isdir("/usr/lib64"):
        args += ["--ro-bind", "/usr/lib64", "/usr/lib64", "--symlink", "usr/lib64", "/lib64"]
    for tool in NODE_TOOLS:
        args += ["--ro-bind", shutil.which(tool), f"/usr/bin/{tool}"]
    args += ["--symlink", "usr/bin", "/bin", "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"]
    args += ["--bind", str(sandbox), SANDBOX, "--chdir", SANDBOX]
    args += ["--clearenv", "--setenv", "PATH", "/usr/bin"]
    if node_cache is not None:
        node_cache.mkdir(exist_ok=True)
        args += ["--bind", str(node_cache), "/node-cache", "--setenv", "CONDOREXEC_NODE_CACHE", "/node-cache"]
    for k, v in (extra_env or {}).items():
        args += ["--setenv", k, v]
    proc = subprocess.run([*args, "/bin/sh", "job.sh"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    [outcome] = read_outcomes(sandbox)
    if not outcome.ok:
        raise AssertionError(f"app failed on the node: {outcome.traceback}")
    return outcome.value


# --------------------------------------------------------------------------- venv kind

APP = textwrap.dedent("""\
    import json, sys
    import shoutlib                      # a local module next to the script: shipped as a file
    from condorexec.pack import pack_function
    from condorexec.payload import Call, write_payload

    def app(text):
        import markupsafe                # compiled extension
        import six                       # pure Python
        import sys as _sys
        return {
            "out": shoutlib.shout(str(markupsafe.escape(text))) + six.ensure_str("!"),
            "speedups": "markupsafe._speedups" in _sys.modules,
            "executable": _sys.executable, "prefix": _sys.prefix, "path": _sys.path,
            "shoutlib": shoutlib.__file__,
        }

    if __name__ == "__main__":
        env = pack_function(app, cache_dir=sys.argv[1], progress=False)
        write_payload(sys.argv[2], [Call(1, app, ("<b>",), {})])
        print(json.dumps({"key": env.key, "archive": str(env.archive), "kind": env.kind,
                          "python": env.python, "size_bytes": env.size_bytes}))
""")


@pytest.fixture(scope="module")
def app_venv(tmp_path_factory):
    """A fresh venv with six + markupsafe (from PyPI) and an app script that packs itself."""
    root = tmp_path_factory.mktemp("appvenv")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
         "six", "markupsafe", "cloudpickle", "platformdirs", "packaging"],
        check=True, timeout=300,
    )
    app_dir = root / "app"
    app_dir.mkdir()
    (app_dir / "app.py").write_text(APP)
    (app_dir / "shoutlib.py").write_text("def shout(s):\n    return s.upper()\n")
    return venv, app_dir


def _pack_in_venv(app_venv, cache: Path, payload_dir: Path):
    venv, app_dir = app_venv
    payload_dir.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [str(venv / "bin" / "python"), str(app_dir / "app.py"), str(cache), str(payload_dir)],
        env={"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)
    from condorexec.pack import PackedEnv

    return PackedEnv(info["key"], Path(info["archive"]), info["kind"], info["python"], info["size_bytes"])


def test_packed_app_runs_on_a_node_without_python(app_venv, tmp_path):
    env = _pack_in_venv(app_venv, tmp_path / "cache", tmp_path / "payload")
    assert env.kind == "venv"
    with tarfile.open(env.archive) as tar:
        names = tar.getnames()
    assert any(n.endswith("/site-packages/six.py") for n in names)
    assert any("site-packages/markupsafe/_speedups" in n for n in names)
    assert "condorexec-local/shoutlib.py" in names
    assert not any("site-packages/pip/" in n for n in names)  # in the venv, not imported: not shipped

    sandbox = tmp_path / "node" / "job1"
    sandbox.mkdir(parents=True)
    shutil.copy(env.archive, sandbox / env.archive.name)
    shutil.copy(RUNNER, sandbox / "runner.py")
    shutil.copy(tmp_path / "payload" / "payload.pkl", sandbox / "payload.pkl")
    (sandbox / "job.sh").write_text(_job_script(env))
    value = _run_on_node(sandbox)

    root = f"{SANDBOX}/condorexec-env"
    assert value["out"] == "&LT;B&GT;!"
    assert value["speedups"] is True  # the compiled extension loaded, not the pure-Python fallback
    assert value["executable"].startswith(f"{root}/bin/python") and value["prefix"] == root
    assert value["shoutlib"] == f"{root}/condorexec-local/shoutlib.py"
    venv, _ = app_venv
    assert not any(str(venv) in p or ".pyenv" in p or "/work/" in p for p in value["path"])


def test_second_pack_of_same_app_is_a_cache_hit(app_venv, tmp_path):
    cache = tmp_path / "cache"
    first = _pack_in_venv(app_venv, cache, tmp_path / "p1")
    mtime = first.archive.stat().st_mtime_ns
    second = _pack_in_venv(app_venv, cache, tmp_path / "p2")
    assert second == first and first.archive.stat().st_mtime_ns == mtime


# --------------------------------------------------------------------------- node cache, shared by jobs


@pytest.fixture(scope="module")
def small_pack(tmp_path_factory):
    return pack_distributions(ScanResult({"cloudpickle": "any"}, {}), cache_dir=tmp_path_factory.mktemp("c"),
                              progress=False)


def _where():
    import sys

    return sys.prefix


def _main_fn(src: str, name: str):
    """A function defined in __main__, so cloudpickle ships it by value (like a script's app)."""
    ns = {"__name__": "__main__"}
    exec(compile(textwrap.dedent(src), "<app>", "exec"), ns)
    return ns[name]


def test_jobs_on_one_node_share_one_unpack(small_pack, tmp_path):
    where = _main_fn("def where():\n    import sys\n    return sys.prefix\n", "where")
    node_cache = tmp_path / "node-cache"
    sandboxes = [tmp_path / f"job{i}" for i in range(3)]
    for sb in sandboxes:
        _prepare_sandbox(sb, small_pack, Call(1, where, (), {}))
    results = {}
    threads = [threading.Thread(target=lambda sb=sb: results.__setitem__(sb, _run_on_node(sb, node_cache)))
               for sb in sandboxes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert set(results.values()) == {f"/node-cache/packs/{small_pack.key}"}
    assert sorted(p.name for p in (node_cache / "packs").iterdir()) == [small_pack.key]
    assert not any((sb / "condorexec-env").exists() for sb in sandboxes)


# --------------------------------------------------------------------------- conda kind

PLACEHOLDER = "/opt/anaconda1anaconda2anaconda3"


def _conda_prefix(base: Path, small_pack) -> Path:
    """A conda-style env: conda-meta records + a package cache, its python taken from a venv-kind pack."""
    prefix, pkgs = base / "envs" / "demo", base / "pkgs"
    prefix.mkdir(parents=True)
    with tarfile.open(small_pack.archive) as tar:
        tar.extractall(prefix, filter="tar")
    (prefix / "conda-meta").mkdir()
    (prefix / "conda-meta" / "history").write_text("==> 2026-01-01 00:00:00 <==\n")  # conda always writes one

    def record(name, version, files, paths):
        pkg = pkgs / f"{name}-{version}-0"
        (pkg / "info").mkdir(parents=True, exist_ok=True)
        (pkg / "info" / "paths.json").write_text(json.dumps({"paths": paths, "paths_version": 1}))
        (prefix / "conda-meta" / f"{name}-{version}-0.json").write_text(json.dumps({
            "name": name, "version": version, "build": "0", "build_number": 0,
            "url": f"https://conda.invalid/{name}-{version}-0.tar.bz2", "files": files,
            "link": {"source": str(pkg), "type": 1},
        }))
        return pkg

    files = sorted(str(p.relative_to(prefix)) for p in prefix.rglob("*")
                   if (p.is_file() or p.is_symlink()) and "conda-meta" not in p.parts)
    pkg = record("python", "3.11.7", files, [
        {"_path": f, "path_type": "softlink" if (prefix / f).is_symlink() else "hardlink"} for f in files
    ])
    for f in files:
        (pkg / f).parent.mkdir(parents=True, exist_ok=True)
        if (prefix / f).is_symlink():
            (pkg / f).symlink_to(os.readlink(prefix / f))
        else:
            os.link(prefix / f, pkg / f)
    # A package with a text file holding the install prefix, as conda packages do.
    data = "share/demo/where.txt"
    pkg = record("demo-data", "1.0", [data], [
        {"_path": data, "path_type": "hardlink", "prefix_placeholder": PLACEHOLDER, "file_mode": "text"}
    ])
    (pkg / data).parent.mkdir(parents=True)
    (pkg / data).write_text(f"prefix={PLACEHOLDER}\n")
    (prefix / data).parent.mkdir(parents=True)
    (prefix / data).write_text(f"prefix={prefix}\n")
    return prefix


def test_conda_env_packed_with_conda_pack_and_unpacked_on_node(small_pack, tmp_path):
    pytest.importorskip("conda_pack")
    prefix = _conda_prefix(tmp_path / "conda", small_pack)
    helper = tmp_path / "local" / "condalocal_helper.py"
    helper.parent.mkdir()
    helper.write_text("VALUE = 'local ok'\n")
    scan = ScanResult({"cloudpickle": "any"}, {"condalocal_helper": str(helper)})
    env = pack_distributions(scan, cache_dir=tmp_path / "cache", prefix=prefix, progress=False)
    assert env.kind == "conda" and env.python == "bin/python3"
    with tarfile.open(env.archive) as tar:
        names = tar.getnames()
    assert "bin/conda-unpack" in names and "condorexec-local/condalocal_helper.py" in names

    app = _main_fn("""
        def app():
            import os, sys
            import condalocal_helper
            with open(os.path.join(sys.prefix, "share/demo/where.txt")) as f:
                return f.read(), sys.prefix, condalocal_helper.VALUE
    """, "app")
    sandbox = tmp_path / "node" / "job1"
    _prepare_sandbox(sandbox, env, Call(1, app, (), {}))
    root = f"{SANDBOX}/condorexec-env"
    # Real conda pythons find libpython through RPATH $ORIGIN/../lib; our stand-in (a pyenv build) has an
    # absolute RUNPATH, so the node gets the equivalent search path from the environment.
    text, sys_prefix, local = _run_on_node(sandbox, extra_env={"LD_LIBRARY_PATH": f"{root}/lib"})
    assert text == f"prefix={root}\n"  # conda-unpack replaced the placeholder with the node's path
    assert sys_prefix == root and local == "local ok"
