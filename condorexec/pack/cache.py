"""The content-addressed store of packed environments on the submit side.

Why its own module: the builder decides *what* goes into an archive; this module decides where it
lives, how two processes building the same key stay out of each other's way (an exclusive ``flock``
per key, building into a temporary name, one atomic ``os.replace``), and how a later call finds it in
milliseconds (one ``stat`` of the archive, plus an in-process memo of the metadata).

Layout of the cache directory (``platformdirs.user_cache_dir("condorexec")/packs`` by default)::

    condorexec-env-<key>.tar.gz    the archive (appears only when complete)
    condorexec-env-<key>.json      kind, interpreter path inside the archive, size, what went in
    condorexec-env-<key>.lock      the builders' lock file
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import platformdirs

PREFIX = "condorexec-env-"
SUFFIX = ".tar.gz"


@dataclass(frozen=True)
class PackedEnv:
    """One packed environment in the cache: what the executor ships and how the node runs it."""

    key: str
    archive: Path
    kind: str
    python: str
    size_bytes: int


def cache_root(cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The cache directory (created), the user cache dir by default."""
    default = Path(platformdirs.user_cache_dir("condorexec")) / "packs"
    root = Path(cache_dir) if cache_dir is not None else default
    root.mkdir(parents=True, exist_ok=True)
    return root


def archive_path(root: Path, key: str) -> Path:
    return root / f"{PREFIX}{key}{SUFFIX}"


def _meta_path(root: Path, key: str) -> Path:
    return root / f"{PREFIX}{key}.json"


_memo: dict[tuple[str, str], PackedEnv] = {}


def lookup(root: Path, key: str) -> PackedEnv | None:
    """The cached pack for ``key``, or None; the archive's presence is the commit point."""
    archive = archive_path(root, key)
    memo_key = (str(root), key)
    if not archive.exists():
        _memo.pop(memo_key, None)
        return None
    hit = _memo.get(memo_key)
    if hit is not None:
        return hit
    try:
        meta = json.loads(_meta_path(root, key).read_text())
    except (OSError, ValueError):
        return None  # archive without metadata: an older crash; the builder will redo it
    env = PackedEnv(
        key=key, archive=archive, kind=meta["kind"], python=meta["python"], size_bytes=archive.stat().st_size
    )
    _memo[memo_key] = env
    return env


@contextlib.contextmanager
def build_lock(root: Path, key: str) -> Iterator[None]:
    """Exclusive per-key lock between processes (released by the kernel if the holder dies)."""
    with open(root / f"{PREFIX}{key}.lock", "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def temp_archive(root: Path, key: str) -> Path:
    """A unique temporary name next to the final one (same filesystem, so the rename is atomic)."""
    fd, name = tempfile.mkstemp(prefix=f".{PREFIX}{key}.", suffix=".tmp", dir=root)
    os.close(fd)
    return Path(name)


def commit(root: Path, key: str, tmp_archive: Path, meta: dict[str, object]) -> PackedEnv:
    """Write the metadata, then atomically move the finished archive into place."""
    meta_tmp = root / f".{PREFIX}{key}.json.{os.getpid()}.tmp"
    meta_tmp.write_text(json.dumps(meta, indent=1, sort_keys=True))
    os.replace(meta_tmp, _meta_path(root, key))
    os.chmod(tmp_archive, 0o644)
    os.replace(tmp_archive, archive_path(root, key))
    env = lookup(root, key)
    assert env is not None
    return env


def list_cached(cache_dir: str | os.PathLike[str] | None = None) -> list[PackedEnv]:
    """Every complete pack in the cache, newest first."""
    root = cache_root(cache_dir)
    found = []
    for archive in root.glob(f"{PREFIX}*{SUFFIX}"):
        env = lookup(root, archive.name[len(PREFIX) : -len(SUFFIX)])
        if env is not None:
            found.append(env)
    return sorted(found, key=lambda e: e.archive.stat().st_mtime, reverse=True)


def clear_cache(cache_dir: str | os.PathLike[str] | None = None) -> int:
    """Remove every pack (and leftover temporary files); returns how many packs were removed.

    A pack being built right now is skipped (its lock is held), so clearing never breaks a builder.
    """
    root = cache_root(cache_dir)
    removed = 0
    for lock in root.glob(f"{PREFIX}*.lock"):
        key = lock.name[len(PREFIX) : -len(".lock")]
        with open(lock, "a") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue
            archive = archive_path(root, key)
            if archive.exists():
                archive.unlink()
                removed += 1
            _meta_path(root, key).unlink(missing_ok=True)
            for tmp in root.glob(f".{PREFIX}{key}.*"):
                tmp.unlink(missing_ok=True)
            lock.unlink(missing_ok=True)
            _memo.pop((str(root), key), None)
    return removed
