"""Turn a scan into a self-contained archive the node can run without any Python of its own.

Two kinds, picked from the submitting interpreter's prefix:

* ``venv`` (any non-conda interpreter: a venv, virtualenv, pyenv, system Python): the archive is
  assembled from files already on disk -- the *base* interpreter binary, its shared ``libpython`` and
  the non-glibc shared libraries it and its extension modules link to, its standard library (without
  test suites, IDLE, tkinter, ensurepip), and, per distribution the scan found, exactly the files its
  ``RECORD`` lists.  The layout is the one CPython expects under its home (``bin/python3.X``,
  ``lib/python3.X/{,lib-dynload,site-packages}``), so ``PYTHONHOME=<root>`` is all it takes.
  Nothing is downloaded or rebuilt, which is why a cold build takes seconds.
* ``conda`` (``conda-meta/`` in the prefix): the whole environment through ``conda_pack``; the node
  runs ``conda-unpack`` to rewrite prefixes.  Conda packages share shared libraries in ways a
  module scan cannot see, so cherry-picking them would be fragile.

Both kinds carry the app's local modules under ``condorexec-local/`` plus a ``.pth`` file in
``site-packages`` that puts that directory on ``sys.path``.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TextIO

from condorexec.pack import cache
from condorexec.pack.cache import PackedEnv, clear_cache, list_cached
from condorexec.pack.scan import ScanResult, installed_distribution, scan_function

__all__ = [
    "PackError", "PackedEnv", "clear_cache", "list_cached", "pack_distributions", "pack_function",
    "unpack_template_vars",
]

#: Bump when the archive layout changes, so old cache entries are not reused.
FORMAT_VERSION = 3  # 2: packages where the base interpreter looks (Debian: dist-packages); 3: stripped
LOCAL_DIR = "condorexec-local"
PTH_NAME = "_condorexec_local.pth"
COMPRESS_LEVEL = 3

# Standard-library parts nobody runs on an execute node; they are most of the stdlib's size.
_STDLIB_SKIP_DIRS = frozenset(
    {"test", "tests", "idlelib", "tkinter", "turtledemo", "ensurepip", "site-packages", "dist-packages",
     "__phello__", "lib2to3"}
)
_STDLIB_SKIP_FILES = re.compile(
    r"^(turtle\.py|nis\..*|_tkinter.*|_test.*|_xxtest.*|xxlimited.*|xxsubtype.*|_ctypes_test.*)$"
)
# glibc's own libraries: always on a Linux node and must match its loader, so never shipped.
_GLIBC = re.compile(
    r"^(linux-vdso|linux-gate|ld-linux.*|ld64.*|libc|libm|libmvec|libpthread|libdl|librt|libutil|libresolv|"
    r"libanl|libnss_.*|libBrokenLocale|libthread_db|libgcc_s)\.so"
)


class PackError(RuntimeError):
    """The app's environment cannot be packed (e.g. it imports a module nothing here provides)."""


# --------------------------------------------------------------------------- progress


class _Progress:
    """A one-line live counter on stderr, redrawn at most ten times a second."""

    def __init__(self, enabled: bool, total: int, what: str, stream: TextIO | None = None) -> None:
        self.enabled, self.total, self.what = enabled, total, what
        self.stream = stream or sys.stderr
        self.count = 0
        self._last = 0.0

    def step(self, n: int = 1) -> None:
        self.count += n
        now = time.monotonic()
        if self.enabled and now - self._last > 0.1:
            self._last = now
            self.stream.write(f"\r  {self.count}/{self.total} {self.what}")
            self.stream.flush()

    def done(self, message: str) -> None:
        if self.enabled:
            self.stream.write(f"\r  {self.count}/{self.total} {self.what} - {message}\n")
            self.stream.flush()


def _say(progress: bool, message: str) -> None:
    if progress:
        print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- what goes in


def _is_conda(prefix: Path) -> bool:
    return (prefix / "conda-meta").is_dir()


@functools.lru_cache(maxsize=1)
def _interpreter_identity() -> dict[str, str]:
    return {
        "implementation": sys.implementation.cache_tag or sys.implementation.name,
        "version": sys.version,
        "platform": sysconfig.get_platform(),
        "base_prefix": os.path.realpath(sys.base_prefix),
        "executable": os.path.realpath(getattr(sys, "_base_executable", sys.executable)),
    }


def _walk_files(root: Path) -> Iterator[Path]:
    """Files of a local package, sorted, without bytecode caches (recompiled on the node if needed)."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
        for name in sorted(filenames):
            if not name.endswith((".pyc", ".pyo")):
                yield Path(dirpath) / name


_digest_memo: dict[tuple[str, tuple[tuple[str, int, int], ...]], str] = {}


def _local_digest(path: str) -> str:
    """Content hash of a local module file or package tree; memoized on (name, size, mtime) of its files."""
    p = Path(path)
    files = [p] if p.is_file() else list(_walk_files(p))
    signature = tuple((str(f), (st := f.stat()).st_size, st.st_mtime_ns) for f in files)
    memo_key = (path, signature)
    if memo_key in _digest_memo:
        return _digest_memo[memo_key]
    h = hashlib.sha256()
    for f in files:
        h.update(str(f.relative_to(p) if f != p else Path(f.name)).encode() + b"\0")
        h.update(f.read_bytes())
        h.update(b"\0")
    _digest_memo[memo_key] = digest = h.hexdigest()
    return digest


def _conda_state(prefix: Path) -> list[str]:
    """What identifies a conda env's content: its package records and any pip-installed dist-infos."""
    names = sorted(p.name for p in (prefix / "conda-meta").glob("*.json"))
    names += sorted(p.name for p in prefix.glob("lib/python*/site-packages/*.dist-info"))
    return names


def _dist_identity(name: str, version: str) -> str:
    """Version plus a hash of the RECORD, so a rebuilt package with an unchanged version is a new key."""
    try:
        record = installed_distribution(name).read_text("RECORD") or ""
    except KeyError:
        return version
    return f"{version} {hashlib.sha256(record.encode()).hexdigest()[:16]}"


def cache_key(scan: ScanResult, prefix: Path) -> tuple[str, dict[str, object]]:
    """Content hash of everything that goes into the archive, and the inputs it was computed from."""
    kind = "conda" if _is_conda(prefix) else "venv"
    inputs: dict[str, object] = {
        "format": FORMAT_VERSION,
        "kind": kind,
        "interpreter": _interpreter_identity() if kind == "venv" else {"prefix": str(prefix)},
        "local_modules": {name: _local_digest(path) for name, path in sorted(scan.local_modules.items())},
    }
    if kind == "venv":
        dists = sorted(scan.distributions.items())
        inputs["distributions"] = {name: _dist_identity(name, version) for name, version in dists}
    else:
        inputs["conda"] = _conda_state(prefix)
    blob = json.dumps(inputs, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:32], inputs


# --------------------------------------------------------------------------- archive helpers


def _add_file(tar: tarfile.TarFile, src: Path, arcname: str) -> None:
    """Add a regular file under ``arcname``, following symlinks, owned by nobody in particular."""
    st = src.stat()
    info = tarfile.TarInfo(arcname)
    info.size, info.mtime, info.mode = st.st_size, int(st.st_mtime), st.st_mode & 0o7777
    with open(src, "rb") as fh:
        tar.addfile(info, fh)


def _add_stripped(tar: tarfile.TarFile, src: Path, arcname: str) -> None:
    """Add an ELF binary without its symbol tables (``strip --strip-unneeded``): a pyenv-built
    libpython is 23 MB with them, ~4 MB without. Falls back to the file as it is without ``strip``."""
    strip = shutil.which("strip")
    if strip is None:
        _add_file(tar, src, arcname)
        return
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / src.name
        shutil.copy2(src, copy)
        result = subprocess.run([strip, "--strip-unneeded", str(copy)], capture_output=True, check=False)
        _add_file(tar, copy if result.returncode == 0 else src, arcname)


def _add_bytes(tar: tarfile.TarFile, data: bytes, arcname: str, mode: int = 0o644) -> None:
    info = tarfile.TarInfo(arcname)
    info.size, info.mtime, info.mode = len(data), int(time.time()), mode
    tar.addfile(info, io.BytesIO(data))


def _add_symlink(tar: tarfile.TarFile, target: str, arcname: str) -> None:
    info = tarfile.TarInfo(arcname)
    info.type, info.linkname, info.mode, info.mtime = tarfile.SYMTYPE, target, 0o777, int(time.time())
    tar.addfile(info)


def _local_entries(scan: ScanResult) -> list[tuple[Path, str]]:
    entries = []
    for name, path in sorted(scan.local_modules.items()):
        p = Path(path)
        if p.is_file():
            entries.append((p, f"{LOCAL_DIR}/{p.name}"))
        else:
            entries.extend((f, f"{LOCAL_DIR}/{name}/{f.relative_to(p).as_posix()}") for f in _walk_files(p))
    return entries


def _pth_line(site_packages_arc: str) -> bytes:
    """A ``.pth`` line pointing from site-packages to the local-module dir (relative: the root moves)."""
    depth = len(Path(site_packages_arc).parts)
    return ("/".join([".."] * depth + [LOCAL_DIR]) + "\n").encode()


# --------------------------------------------------------------------------- venv kind


def _ldd(paths: Iterable[Path]) -> dict[str, Path]:
    """soname -> resolved path of the non-glibc shared libraries the given ELF files need."""
    found: dict[str, Path] = {}
    if shutil.which("ldd") is None:
        return found
    for p in paths:
        try:
            out = subprocess.run(["ldd", str(p)], capture_output=True, text=True, timeout=30).stdout
        except (OSError, subprocess.SubprocessError):
            continue
        for line in out.splitlines():
            m = re.match(r"\s*(\S+)\s+=>\s+(/\S+)", line)
            if m and not _GLIBC.match(m.group(1)):
                found.setdefault(m.group(1), Path(m.group(2)))
    return found


def _stdlib_entries(lib_arc: str) -> tuple[list[tuple[Path, str]], list[Path]]:
    """(file, arcname) of the trimmed stdlib, and its extension modules (for ``ldd``)."""
    paths = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_prefix})
    stdlib, platstdlib = Path(paths["stdlib"]), Path(paths["platstdlib"])
    tag = sys.implementation.cache_tag
    entries: list[tuple[Path, str]] = []
    extensions: list[Path] = []
    for root in dict.fromkeys([stdlib, platstdlib]):
        for dirpath, dirnames, filenames in os.walk(root):
            rel_dir = Path(dirpath).relative_to(root)
            dirnames[:] = sorted(
                d for d in dirnames if d not in _STDLIB_SKIP_DIRS and not d.startswith(("config-", "."))
            )
            in_cache = rel_dir.name == "__pycache__"
            for name in sorted(filenames):
                if _STDLIB_SKIP_FILES.match(name) or name.endswith((".a", ".o")):
                    continue
                if in_cache and not name.endswith(f".{tag}.pyc"):
                    continue  # keep plain .pyc (fast start), drop -O/-OO variants
                if in_cache and _STDLIB_SKIP_FILES.match(name.split(".", 1)[0] + ".py"):
                    continue
                src = Path(dirpath) / name
                entries.append((src, f"{lib_arc}/{(rel_dir / name).as_posix()}"))
                if name.endswith(".so"):
                    extensions.append(src)
    return entries, extensions


def _distribution_entries(scan: ScanResult, site_arc: str) -> list[tuple[Path, str]]:
    """Each distribution's files as its RECORD lists them (scripts outside site-packages skipped)."""
    entries: dict[str, Path] = {}
    for name in sorted(scan.distributions):
        try:
            dist = installed_distribution(name)
        except KeyError as exc:
            raise PackError(str(exc.args[0])) from None
        for f in dist.files or ():
            rel = Path(str(f))
            if rel.is_absolute() or ".." in rel.parts:
                continue
            src = Path(str(dist.locate_file(f)))
            if src.is_file():
                entries.setdefault(f"{site_arc}/{rel.as_posix()}", src)
    return [(src, arc) for arc, src in entries.items()]


def _base_site_packages(exe: Path, default: str) -> str:
    """Where the BASE interpreter, run with ``PYTHONHOME=<root>``, looks for packages (relative to root).

    Not always ``lib/python3.X/site-packages``: Debian's Python uses ``dist-packages`` directories, and
    packages put elsewhere are simply not found on the node."""
    probe = "import site, sys; print(site.getsitepackages([sys.argv[1]])[0])"
    try:
        out = subprocess.run([str(exe), "-I", "-S", "-c", probe, "/CONDOREXEC_ROOT"], capture_output=True,
                             text=True, timeout=30, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return default
    return out.removeprefix("/CONDOREXEC_ROOT/") if out.startswith("/CONDOREXEC_ROOT/") else default


def _build_venv(scan: ScanResult, out: Path, progress: bool) -> str:
    """Write the venv-kind archive to ``out``; returns the interpreter path inside it."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    exe = Path(os.path.realpath(getattr(sys, "_base_executable", sys.executable)))
    if not exe.is_file():
        raise PackError(f"cannot find the base interpreter binary: sys._base_executable={exe}")
    lib_arc = f"lib/python{version}"
    site_arc = _base_site_packages(exe, f"{lib_arc}/site-packages")
    stdlib, extensions = _stdlib_entries(lib_arc)
    dists = _distribution_entries(scan, site_arc)
    local = _local_entries(scan)
    libs = _ldd([exe, *extensions])
    if not any(n.startswith("libpython") for n in libs) and sysconfig.get_config_var("Py_ENABLE_SHARED"):
        libdir, soname = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("INSTSONAME")
        if libdir and soname and (Path(libdir) / soname).is_file():
            libs[soname] = Path(libdir) / soname
    entries = [(exe, f"bin/python{version}")]
    entries += [(path, f"lib/{soname}") for soname, path in sorted(libs.items())]
    # the interpreter's own binaries (not the distributions'): their debug symbols are dead weight
    compiled = set(extensions)
    strip_these = {arc for _, arc in entries} | {arc for path, arc in stdlib if path in compiled}
    entries += stdlib + dists + local

    _say(
        progress,
        f"condorexec: packing {len(scan.distributions)} distributions, {len(scan.local_modules)} local "
        f"modules and the Python {version} interpreter (first build may take a minute)...",
    )
    bar = _Progress(progress, len(entries), "files")
    with tarfile.open(out, "w:gz", compresslevel=COMPRESS_LEVEL, format=tarfile.PAX_FORMAT) as tar:
        for src, arc in entries:
            if arc in strip_these:
                _add_stripped(tar, src, arc)
            else:
                _add_file(tar, src, arc)
            bar.step()
        _add_symlink(tar, f"python{version}", "bin/python3")
        _add_symlink(tar, f"python{version}", "bin/python")
        if local:
            _add_bytes(tar, _pth_line(site_arc), f"{site_arc}/{PTH_NAME}")
    bar.done(f"{out.stat().st_size / 1e6:.1f} MB")
    return "bin/python3"


# --------------------------------------------------------------------------- conda kind


def _build_conda(scan: ScanResult, prefix: Path, out: Path, progress: bool) -> str:
    """Write the conda-kind archive with conda-pack (whole env + local modules); returns the interpreter."""
    try:
        import conda_pack
        from conda_pack.core import find_site_packages
    except ImportError:
        raise PackError(
            f"{prefix} is a conda environment; packing it needs conda-pack: pip install 'condorexec[pack]'"
        ) from None
    if not (prefix / "conda-meta" / "history").is_file():
        # conda writes it with every environment; conda-pack needs it (it dates the archive members)
        raise PackError(f"{prefix} has conda-meta/ but no conda-meta/history: not an environment conda made")
    try:
        env = conda_pack.CondaEnv.from_prefix(str(prefix), ignore_editable_packages=True)
    except conda_pack.CondaPackException as exc:
        raise PackError(f"conda-pack cannot pack {prefix}: {exc}") from exc
    python = next((p for p in ("bin/python3", "bin/python") if (prefix / p).exists()), None)
    if python is None:
        raise PackError(f"conda environment {prefix} has no bin/python3: the node would have nothing to run")
    files = list(env.files)
    local = _local_entries(scan)
    with tempfile.TemporaryDirectory(prefix="condorexec-pack-") as tmp:
        if local:
            fallback = "lib/python{}.{}/site-packages".format(*sys.version_info)
            site = find_site_packages(str(prefix)) or fallback
            pth = Path(tmp) / PTH_NAME
            pth.write_bytes(_pth_line(site))
            files.append(conda_pack.File(str(pth), f"{site}/{PTH_NAME}", is_conda=False))
            files += [conda_pack.File(str(src), arc, is_conda=False) for src, arc in local]
        _say(
            progress,
            f"condorexec: packing conda environment {prefix} ({len(files)} files; "
            "first build may take a minute)...",
        )
        env = conda_pack.CondaEnv(str(prefix), files)
        env.pack(
            output=str(out), format="tar.gz", force=True, compress_level=COMPRESS_LEVEL,
            n_threads=-1, verbose=False,
        )
    _say(progress, f"  {len(files)} files - {out.stat().st_size / 1e6:.1f} MB")
    return python


# --------------------------------------------------------------------------- public API


def pack_distributions(
    scan: ScanResult,
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool = True,
    prefix: str | os.PathLike[str] | None = None,
) -> PackedEnv:
    """Return the cached archive for ``scan``, building it first if no process has.

    ``prefix`` is the environment to pack, this interpreter's ``sys.prefix`` by default; another prefix
    is accepted only for conda environments (a venv's files are read through this interpreter).
    """
    if scan.unresolved:
        raise PackError(
            f"cannot pack: module(s) {', '.join(scan.unresolved)} are imported but no installed "
            f"distribution in {sys.prefix} and no file on sys.path provides them; "
            "install them or remove the import"
        )
    root_prefix = Path(prefix) if prefix is not None else Path(sys.prefix)
    if not _is_conda(root_prefix) and root_prefix.resolve() != Path(sys.prefix).resolve():
        raise PackError(
            f"prefix={str(prefix)!r} is not a conda environment and not this interpreter's sys.prefix"
        )
    root = cache.cache_root(cache_dir)
    key, inputs = cache_key(scan, root_prefix)
    hit = cache.lookup(root, key)
    if hit is not None:
        return hit
    with cache.build_lock(root, key):
        hit = cache.lookup(root, key)  # another process may have built it while we waited
        if hit is not None:
            return hit
        tmp = cache.temp_archive(root, key)
        try:
            started = time.monotonic()
            if inputs["kind"] == "conda":
                python = _build_conda(scan, root_prefix, tmp, progress)
            else:
                python = _build_venv(scan, tmp, progress)
            meta = {
                "key": key, "kind": inputs["kind"], "python": python, "inputs": inputs,
                "build_seconds": round(time.monotonic() - started, 3),
            }
            return cache.commit(root, key, tmp, meta)
        finally:
            tmp.unlink(missing_ok=True)


def pack_function(
    func: object, *, cache_dir: str | os.PathLike[str] | None = None, progress: bool = True
) -> PackedEnv:
    """Scan ``func`` and return the packed environment it needs (from the cache when possible)."""
    scan = scan_function(func)
    if scan.unresolved:
        name = getattr(func, "__qualname__", repr(func))
        raise PackError(
            f"cannot pack {name}: it imports {', '.join(scan.unresolved)}, which no installed distribution "
            f"in {sys.prefix} and no file on sys.path provides; install it or remove the import"
        )
    return pack_distributions(scan, cache_dir=cache_dir, progress=progress)


_SAFE = re.compile(r"^[A-Za-z0-9._/+-]+$")


def unpack_template_vars(env: PackedEnv) -> dict[str, str]:
    """The Jinja variables ``unpack.sh.j2`` expects for ``env`` (checked: they are pasted into sh quotes)."""
    values = {
        "pack_archive": env.archive.name,
        "pack_key": env.key,
        "pack_kind": env.kind,
        "pack_python": env.python,
    }
    for name, value in values.items():
        if not _SAFE.match(value) or ".." in value.split("/"):
            raise ValueError(f"{name}={value!r} is not safe to paste into the node's unpack script")
    if env.kind not in ("venv", "conda"):
        raise ValueError(f"pack_kind={env.kind!r} must be 'venv' or 'conda'")
    return values
