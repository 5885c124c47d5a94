"""Building real venv-kind packs from this interpreter: contents, the cache, concurrent builders."""

import subprocess
import sys
import tarfile
import textwrap
import time

import pytest

from condorexec.pack import ScanResult, clear_cache, list_cached, pack_distributions
from condorexec.pack.build import cache_key

SMALL = ScanResult(distributions={"cloudpickle": "any"}, local_modules={})


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One real pack of {cloudpickle} into a fresh cache (about two seconds)."""
    cache = tmp_path_factory.mktemp("pack-cache")
    started = time.monotonic()
    env = pack_distributions(SMALL, cache_dir=cache, progress=False)
    return cache, env, time.monotonic() - started


def test_archive_holds_interpreter_stdlib_and_only_the_scanned_distributions(built):
    _, env, _ = built
    assert env.kind == "venv" and env.python == "bin/python3" and env.archive.exists()
    assert env.size_bytes == env.archive.stat().st_size
    with tarfile.open(env.archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
    v = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert f"bin/python{v}" in members and members["bin/python3"].issym()
    assert members["bin/python3"].linkname == f"python{v}"
    assert f"lib/python{v}/os.py" in members and f"lib/python{v}/json/__init__.py" in members
    assert any(n.startswith(f"lib/python{v}/lib-dynload/_ssl") for n in members)
    assert f"lib/python{v}/site-packages/cloudpickle/__init__.py" in members
    assert any(n.startswith(f"lib/python{v}/site-packages/cloudpickle-") for n in members)  # dist-info
    # installed here but not scanned: not shipped; test suites and IDLE trimmed from the stdlib
    assert not any("site-packages/numpy" in n or "site-packages/parsl" in n for n in members)
    assert not any(n.startswith((f"lib/python{v}/test/", f"lib/python{v}/idlelib/")) for n in members)
    import sysconfig

    if sysconfig.get_config_var("Py_ENABLE_SHARED"):
        assert any(n.startswith("lib/libpython") for n in members)
    assert all(not m.name.startswith("/") and ".." not in m.name.split("/") for m in members.values())
    assert all(m.linkname == f"python{v}" for m in members.values() if m.issym())


def test_cache_hit_returns_same_archive_without_rebuilding(built, capsys):
    cache, env, _ = built
    mtime = env.archive.stat().st_mtime_ns
    again = pack_distributions(SMALL, cache_dir=cache, progress=True)
    assert again == env and env.archive.stat().st_mtime_ns == mtime
    assert "packing" not in capsys.readouterr().err  # no build, no progress
    assert [e.key for e in list_cached(cache)] == [env.key]


def test_cache_miss_on_new_input_builds_with_progress(built, tmp_path, capsys):
    cache, env, _ = built
    helper = tmp_path / "helper_mod_q.py"
    helper.write_text("X = 1\n")
    scan = ScanResult(distributions={"cloudpickle": "any"}, local_modules={"helper_mod_q": str(helper)})
    other = pack_distributions(scan, cache_dir=cache, progress=True)
    assert other.key != env.key and other.key == cache_key(scan, __import__("pathlib").Path(sys.prefix))[0]
    err = capsys.readouterr().err
    assert "packing 1 distributions, 1 local modules" in err and "files" in err
    with tarfile.open(other.archive) as tar:
        names = tar.getnames()
        pth = tar.extractfile(f"lib/python{sys.version_info.major}.{sys.version_info.minor}"
                              "/site-packages/_condorexec_local.pth").read()
    assert "condorexec-local/helper_mod_q.py" in names and pth == b"../../../condorexec-local\n"
    assert {e.key for e in list_cached(cache)} == {env.key, other.key}
    assert clear_cache(cache) == 2 and list_cached(cache) == []


BUILDER = textwrap.dedent("""
    import sys, time
    from condorexec.pack import ScanResult, pack_distributions
    while time.time() < float(sys.argv[2]):   # start together
        time.sleep(0.005)
    env = pack_distributions(ScanResult({"cloudpickle": "any"}, {}), cache_dir=sys.argv[1])
    print(env.key, env.archive, env.size_bytes)
""")


def test_concurrent_builders_produce_one_valid_archive(tmp_path):
    cache = tmp_path / "cache"
    start = str(time.time() + 1.0)
    procs = [
        subprocess.Popen([sys.executable, "-c", BUILDER, str(cache), start],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [e for _, e in outs]
    lines = {o.strip() for o, _ in outs}
    assert len(lines) == 1  # same key, same archive, same size
    assert sum("packing" in e for _, e in outs) == 1  # the second waited and reused the first's build
    archives = list(cache.glob("*.tar.gz"))
    assert len(archives) == 1 and not list(cache.glob(".*tmp"))
    with tarfile.open(archives[0]) as tar:
        assert len(tar.getmembers()) > 500  # a complete, readable archive


def test_bad_prefixes_are_refused_by_name(tmp_path):
    from condorexec.pack import PackError

    with pytest.raises(PackError, match="is not a conda environment and not this interpreter"):
        pack_distributions(SMALL, cache_dir=tmp_path / "c", prefix=tmp_path, progress=False)
    (tmp_path / "conda-meta").mkdir()
    with pytest.raises(PackError, match="no conda-meta/history"):
        pack_distributions(SMALL, cache_dir=tmp_path / "c", prefix=tmp_path, progress=False)
