"""The node-side unpack snippet (templates/unpack.sh.j2), run by /bin/sh on small hand-made archives.

The "interpreter" in these archives is a shell script, so the tests are fast; the real interpreter is
exercised in tests/integration/test_pack_node.py.
"""

import io
import os
import subprocess
import tarfile
import threading
from pathlib import Path

import jinja2
import pytest

from condorexec.pack.build import unpack_template_vars
from condorexec.pack.cache import PackedEnv
from condorexec.render import TEMPLATE_DIR

TEMPLATES = TEMPLATE_DIR
KEY = "0123456789abcdef0123456789abcdef"
ARCHIVE = f"condorexec-env-{KEY}.tar.gz"

FAKE_PYTHON = """#!/bin/sh
# stands in for the interpreter: records how it was called
here=$(cd "$(dirname "$0")" && pwd -P)
if [ "$1" = "$here/conda-unpack" ]; then echo "$here" > "$here/../conda-unpacked-at"; exit 0; fi
echo "ran $* home=${PYTHONHOME:-unset} ld=${LD_LIBRARY_PATH:-unset} nousersite=$PYTHONNOUSERSITE"
"""


def _wrapper(kind: str = "venv") -> str:
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader([
            jinja2.DictLoader({"job.sh": '#!/bin/sh\nset -eu\n{% include "unpack.sh.j2" %}\n"$PY" runner.py\n'}),
            jinja2.FileSystemLoader(str(TEMPLATES)),
        ]),
        undefined=jinja2.StrictUndefined,
    )
    packed = PackedEnv(key=KEY, archive=Path(ARCHIVE), kind=kind, python="bin/python3", size_bytes=0)
    return env.get_template("job.sh").render(**unpack_template_vars(packed))


def _add(tar, name, data=b"", mode=0o644, symlink=None):
    info = tarfile.TarInfo(name)
    if symlink is not None:
        info.type, info.linkname = tarfile.SYMTYPE, symlink
        tar.addfile(info)
    else:
        info.size, info.mode = len(data), mode
        tar.addfile(info, io.BytesIO(data))


def _archive(path: Path, extra=()):
    with tarfile.open(path, "w:gz") as tar:
        _add(tar, "bin/python3.11", FAKE_PYTHON.encode(), mode=0o755)
        _add(tar, "bin/python3", symlink="python3.11")
        _add(tar, "bin/conda-unpack", b"# conda-unpack stand-in\n", mode=0o755)
        _add(tar, "lib/python3.11/os.py", b"")
        for args in extra:
            _add(tar, *args[:1], **args[1])


def _job(sandbox: Path, kind="venv", node_cache: Path | None = None, extra=()):
    sandbox.mkdir(parents=True, exist_ok=True)
    _archive(sandbox / ARCHIVE, extra)
    (sandbox / "job.sh").write_text(_wrapper(kind))
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": "/should/be/dropped"}
    if node_cache is not None:
        env["CONDOREXEC_NODE_CACHE"] = str(node_cache)
    return subprocess.run(
        ["/bin/sh", "job.sh"], cwd=sandbox, env=env, capture_output=True, text=True, timeout=60
    )


def test_venv_unpacks_into_sandbox_and_sets_py(tmp_path):
    proc = _job(tmp_path / "job1")
    assert proc.returncode == 0, proc.stderr
    root = tmp_path / "job1" / "condorexec-env"
    assert proc.stdout.strip() == f"ran runner.py home={root} ld={root}/lib nousersite=1"
    assert (root / ".condorexec-ready").exists()
    assert not (tmp_path / "job1" / ARCHIVE).exists()  # the archive no longer takes sandbox space


def test_conda_runs_conda_unpack_at_the_final_place(tmp_path):
    proc = _job(tmp_path / "job1", kind="conda")
    assert proc.returncode == 0, proc.stderr
    root = tmp_path / "job1" / "condorexec-env"
    assert (root / "conda-unpacked-at").read_text().strip() == str((root / "bin").resolve())
    assert "home=unset" in proc.stdout and "ld=unset" in proc.stdout


def test_node_cache_unpacks_once_per_key(tmp_path):
    cache = tmp_path / "node-cache"
    assert _job(tmp_path / "job1", node_cache=cache).returncode == 0
    ready = cache / "packs" / KEY / ".condorexec-ready"
    first = ready.stat().st_mtime_ns, ready.stat().st_ino
    (cache / "packs" / KEY / "marker").write_text("still here")
    proc = _job(tmp_path / "job2", node_cache=cache)
    assert proc.returncode == 0, proc.stderr
    assert (ready.stat().st_mtime_ns, ready.stat().st_ino) == first
    assert (cache / "packs" / KEY / "marker").exists()  # reused, not re-extracted
    assert not (tmp_path / "job2" / "condorexec-env").exists()
    assert f"home={cache}/packs/{KEY}" in proc.stdout


def test_node_cache_concurrent_jobs_share_one_unpack(tmp_path):
    cache = tmp_path / "node-cache"
    results = {}

    def run(i):
        results[i] = _job(tmp_path / f"job{i}", node_cache=cache)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.returncode == 0 for r in results.values()), [r.stderr for r in results.values()]
    assert sorted(p.name for p in (cache / "packs").iterdir()) == [KEY]  # no tmp dirs, no lock left


def test_stale_lock_of_dead_job_is_broken(tmp_path):
    cache = tmp_path / "node-cache"
    lock = cache / "packs" / f"{KEY}.lock"
    lock.mkdir(parents=True)
    dead = subprocess.Popen(["true"])
    dead.wait()
    (lock / "pid").write_text(f"{dead.pid}\n")
    half = cache / "packs" / KEY
    half.mkdir()  # a half-finished unpack without the ready marker
    (half / "garbage").write_text("x")
    proc = _job(tmp_path / "job1", node_cache=cache)
    assert proc.returncode == 0, proc.stderr
    assert not (half / "garbage").exists() and (half / ".condorexec-ready").exists()


@pytest.mark.parametrize(
    "member",
    [
        ("../escaped.txt", {"data": b"x"}),
        ("lib/../../escaped.txt", {"data": b"x"}),
        ("/tmp/condorexec-abs-escape.txt", {"data": b"x"}),
        ("lib/evil", {"symlink": "/etc"}),
        ("lib/evil", {"symlink": "../../../.."}),
    ],
)
@pytest.mark.security
def test_unsafe_archives_are_refused(tmp_path, member):
    proc = _job(tmp_path / "sb" / "job1", extra=[member])
    assert proc.returncode == 97, proc.stdout + proc.stderr
    assert "condorexec unpack:" in proc.stderr and "unsafe" in proc.stderr
    assert not (tmp_path / "sb" / "escaped.txt").exists() and not (tmp_path / "escaped.txt").exists()
    assert not (tmp_path / "sb" / "job1" / "condorexec-env").exists()  # nothing half-unpacked left
    assert "ran" not in proc.stdout


def test_template_vars_are_checked():
    bad = PackedEnv(key="k'; rm -rf /", archive=Path("a.tar.gz"), kind="venv", python="bin/python3",
                    size_bytes=1)
    with pytest.raises(ValueError, match="pack_key="):
        unpack_template_vars(bad)
    with pytest.raises(ValueError, match="pack_kind="):
        unpack_template_vars(PackedEnv("k", Path("a.tar.gz"), "docker", "bin/python3", 1))
