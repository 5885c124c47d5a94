"""The label store: per-category usage histograms in SQLite, so that a second run starts warm.

Why SQLite: several processes (a Parsl run, a ``condorexec submit``, a ``condorexec labels`` looking
on) may learn from and read the same categories at once, and the data must survive restarts. WAL
mode lets readers proceed while one writer commits; writers serialize through ``BEGIN IMMEDIATE``
and a busy timeout instead of failing with "database is locked".

What is stored is bounded per category: the histogram buckets (count and wall-time sum per bucket,
at most maximum/bucket-size rows per resource), the maximum seen per resource, the completion counts
at which a new maximum appeared (each raises a maximum by at least one bucket, so these are bounded
too), and the last ``keep_samples`` raw samples (for plots, and to make re-feeding the same history
records harmless). Labels are cached so that they change only every ``window`` completions, as in
Work Queue, and stay the same across a restart.

Per category the store can also keep a fingerprint of the app's code (:meth:`LabelStore.note_app`):
when it changes, the category starts over (docs/labels.md, "When the app changes"), because a label
learned from other code says nothing about this code.
"""

from __future__ import annotations

import functools
import math
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from condorexec.errors import CondorexecError, InvalidSpecError
from condorexec.labels.learning import RECENT_WALLS, Totals, learn, learns_from, mean_wall, progress
from condorexec.labels.policy import RESOURCES, AllocationMode, Bucket, Histogram, Label, Maximum, choose_label

#: the schema this code writes; bump it (and migrate) when the tables change.
#: 2: the ``app`` table (code fingerprints); a version-1 file gets it, empty, on open.
SCHEMA_VERSION = 2

#: raw samples kept per category (the histograms themselves are complete and unbounded in time)
DEFAULT_KEEP_SAMPLES = 2000

#: label cache rows kept per category (one per (mode, maximum, window) combination asked for)
_KEEP_CACHED_LABELS = 16

_SCHEMA = """
CREATE TABLE IF NOT EXISTS category (
    name TEXT PRIMARY KEY,
    completions INTEGER NOT NULL DEFAULT 0,   -- normal completions (= histogram totals)
    samples INTEGER NOT NULL DEFAULT 0,       -- every sample, exhausted ones included
    max_cores REAL, max_memory REAL, max_disk REAL,
    updated_at REAL
);
CREATE TABLE IF NOT EXISTS bucket (
    category TEXT NOT NULL, resource TEXT NOT NULL, value INTEGER NOT NULL,
    count INTEGER NOT NULL, wall_s REAL NOT NULL,
    PRIMARY KEY (category, resource, value)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS new_max (
    category TEXT NOT NULL, at_completion INTEGER NOT NULL,
    PRIMARY KEY (category, at_completion)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sample (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    category TEXT NOT NULL, job_id TEXT NOT NULL, completed_at REAL NOT NULL,
    cores REAL NOT NULL, memory_mb REAL NOT NULL, disk_mb REAL NOT NULL, wall_s REAL NOT NULL,
    exhausted TEXT,
    UNIQUE (category, job_id, completed_at)
);
CREATE INDEX IF NOT EXISTS sample_by_category ON sample (category, id);
CREATE TABLE IF NOT EXISTS label_cache (
    category TEXT NOT NULL, mode TEXT NOT NULL,
    max_cores INTEGER NOT NULL, max_memory INTEGER NOT NULL, max_disk INTEGER NOT NULL,
    window INTEGER NOT NULL,
    reset_at INTEGER NOT NULL, epoch INTEGER NOT NULL,
    cores INTEGER, memory INTEGER, disk INTEGER,
    computed_at REAL NOT NULL,
    PRIMARY KEY (category, mode, max_cores, max_memory, max_disk, window)
);
CREATE TABLE IF NOT EXISTS cursor (source TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS app (
    category TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,                -- condorexec.labels.fingerprint.code_fingerprint
    noted_at REAL NOT NULL,                   -- when this fingerprint was first noted
    changed_at REAL                           -- when the code last changed (NULL: never seen to change)
);
"""


#: ``_MIGRATIONS[i]`` takes a store of version i >= 1 to version i + 1. A file that claims a version
#: but lacks that version's tables still fails ``_check`` afterwards: only the new table is added.
_MIGRATIONS = (
    "",  # (no version 0 -> 1 step: a version-0 file is empty and gets the whole schema)
    _SCHEMA[_SCHEMA.index("CREATE TABLE IF NOT EXISTS app"):].rstrip().rstrip(";"),  # 1 -> 2
)
assert len(_MIGRATIONS) == SCHEMA_VERSION, "add a migration step when SCHEMA_VERSION is bumped"


class LabelStoreError(CondorexecError):
    """The label store file cannot be used (newer schema, not a database, ...)."""


@dataclass(frozen=True)
class Sample:
    """One finished job's measured peak usage, as the history poller reads it.

    ``exhausted`` is ``None`` for a normal completion, else the resource the job ran out of; its
    usage then counts only toward the maximum seen ("it needed at least this much")."""

    category: str
    job_id: str
    cores: float
    memory_mb: float
    disk_mb: float
    wall_s: float
    exhausted: str | None
    completed_at: float

    def __post_init__(self) -> None:
        for name in ("category", "job_id"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value:
                raise InvalidSpecError(f"Sample.{name}", value, "must be a non-empty string")
        for name in ("cores", "memory_mb", "disk_mb", "wall_s", "completed_at"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                    or value < 0:
                raise InvalidSpecError(f"Sample.{name}", value, "must be a finite number >= 0")
        if self.exhausted is not None and self.exhausted not in RESOURCES:
            raise InvalidSpecError("Sample.exhausted", self.exhausted, f"must be None or one of {RESOURCES}")

    def usage(self, resource: str) -> float:
        return {"cores": self.cores, "memory": self.memory_mb, "disk": self.disk_mb}[resource]


def default_path() -> Path:
    """``<user data dir>/condorexec/labels.sqlite`` (e.g. ``~/.local/share/condorexec/labels.sqlite``)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("condorexec")) / "labels.sqlite"


def _check_maximum(maximum: Maximum) -> None:
    for r in RESOURCES:
        v = getattr(maximum, r, None)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InvalidSpecError(f"maximum.{r}", v, "must be an integer >= 1")


def _columns(db: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in db.execute(f"PRAGMA table_info({table})")}


@functools.cache
def _expected_columns() -> dict[str, set[str]]:
    """Each table of ``_SCHEMA`` and its columns, read from a database made from it."""
    db = sqlite3.connect(":memory:")
    try:
        db.executescript(_SCHEMA)
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                               "AND name NOT LIKE 'sqlite_%'")]
        return {table: _columns(db, table) for table in tables}
    finally:
        db.close()


class LabelStore:
    """Per-category usage histograms and labels in one SQLite file. Safe to share between threads
    (one connection behind a lock) and between processes (SQLite locking)."""

    def __init__(self, path: str | os.PathLike | None = None, *, keep_samples: int = DEFAULT_KEEP_SAMPLES,
                 busy_timeout_s: float = 30.0):
        if isinstance(keep_samples, bool) or not isinstance(keep_samples, int) or keep_samples < 1:
            raise InvalidSpecError("keep_samples", keep_samples, "must be an integer >= 1")
        self.path = Path(path) if path is not None else default_path()
        self.keep_samples = keep_samples
        if self.path.is_dir():
            raise LabelStoreError(f"cannot use {self.path} as a label store: it is a directory "
                                  "(give the path of a file, e.g. labels.sqlite)")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, timeout=busy_timeout_s, isolation_level=None,
                                   check_same_thread=False)
        try:
            self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout_s * 1000)}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
            self._check()
        except sqlite3.DatabaseError as e:
            self._db.close()
            raise LabelStoreError(f"cannot use {self.path} as a label store: {e}") from e
        except LabelStoreError:
            self._db.close()
            raise

    # -- plumbing -------------------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken up front so that concurrent writers wait instead of failing."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise LabelStoreError(
                f"label store {self.path} has schema version {version}, newer than this condorexec "
                f"understands ({SCHEMA_VERSION}); upgrade condorexec or point it at another file")
        if version == SCHEMA_VERSION:
            return
        with self._write() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version == SCHEMA_VERSION:
                return  # another process created or migrated it meanwhile
            if version == 0:  # a new file: the whole schema
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
            else:  # an older store: only what each later version added, so its labels are kept
                for step in _MIGRATIONS[version:]:
                    db.execute(step)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _check(self) -> None:
        """Refuse, at open, a file whose pages are damaged or whose tables are not this schema's:
        otherwise every call would fail later with a raw sqlite error."""
        damage = [row[0] for row in self._db.execute("PRAGMA quick_check").fetchall()]
        if damage != ["ok"]:
            found = " ".join(" ".join(damage[:3]).split())
            raise LabelStoreError(f"label store {self.path} is damaged ({found}); move it aside and condorexec "
                                  "starts a new one (labels are relearned)")
        missing = [f"{table}.{column}" for table, columns in _expected_columns().items()
                   for column in columns - _columns(self._db, table)]
        if missing:
            raise LabelStoreError(f"{self.path} is not a condorexec label store: it lacks {', '.join(missing[:5])}")

    def close(self) -> None:
        """Close the connection. Idempotent."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> LabelStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- learning -------------------------------------------------------------------------------

    def add_samples(self, samples: Iterable[Sample]) -> int:
        """Add finished jobs' usage; returns how many were new. Re-adding a sample already stored
        (same category, job id and completion time) changes nothing, so pollers may overlap."""
        batch = sorted(samples, key=lambda s: s.completed_at)  # learn in completion order
        for s in batch:
            if not isinstance(s, Sample):
                raise InvalidSpecError("sample", s, "must be a condorexec.labels.store.Sample")
        if not batch:
            return 0
        added = 0
        now = time.time()
        with self._write() as db:
            rows: dict[str, Totals] = {}
            since: dict[str, float | None] = {}
            for s in batch:
                cur = db.execute(
                    "INSERT OR IGNORE INTO sample (category, job_id, completed_at, cores, memory_mb, disk_mb,"
                    " wall_s, exhausted) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (s.category, s.job_id, s.completed_at, s.cores, s.memory_mb, s.disk_mb, s.wall_s,
                     s.exhausted))
                if cur.rowcount == 0:
                    continue
                added += 1
                if s.category not in since:
                    found = db.execute("SELECT changed_at FROM app WHERE category = ?", (s.category,)).fetchone()
                    since[s.category] = found[0] if found else None
                if not learns_from(s, since[s.category]):
                    continue  # a job of the app's previous code, read late: kept raw, not learned from
                totals = rows.get(s.category)
                if totals is None:
                    found = db.execute("SELECT completions, samples, max_cores, max_memory, max_disk"
                                       " FROM category WHERE name = ?", (s.category,)).fetchone()
                    totals = Totals(found[0], found[1], tuple(found[2:5])) if found else Totals()
                step = learn(totals, s)
                rows[s.category] = step.totals
                if step.new_max_at is not None:
                    db.execute("INSERT OR IGNORE INTO new_max VALUES (?, ?)", (s.category, step.new_max_at))
                for r, value in step.buckets:
                    db.execute(
                        "INSERT INTO bucket VALUES (?, ?, ?, 1, ?)"
                        " ON CONFLICT (category, resource, value) DO UPDATE SET count = count + 1,"
                        " wall_s = wall_s + excluded.wall_s",
                        (s.category, r, value, s.wall_s))
            for name, totals in rows.items():
                db.execute(
                    "INSERT INTO category VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET"
                    " completions = excluded.completions, samples = excluded.samples,"
                    " max_cores = excluded.max_cores, max_memory = excluded.max_memory,"
                    " max_disk = excluded.max_disk, updated_at = excluded.updated_at",
                    (name, totals.completions, totals.samples, *totals.max_seen, now))
                db.execute(
                    "DELETE FROM sample WHERE category = ? AND id <= "
                    "(SELECT id FROM sample WHERE category = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (name, name, self.keep_samples))
        return added

    # -- the app behind a category ---------------------------------------------------------------

    def note_app(self, category: str, fingerprint: str, *, now: float | None = None) -> bool:
        """Record the code fingerprint of the one app behind ``category``; True if it changed.

        A changed fingerprint starts the category over: its histograms, maxima, resets and cached
        labels are dropped (the raw samples are kept, for plots), and samples of jobs that completed
        before ``now`` no longer count, so that late history of the old code cannot steer the new
        label. The first fingerprint noted for a category — also one learned before fingerprints were
        stored — is not a change. Idempotent: noting the same fingerprint again returns False, so of
        several processes starting the changed app at once exactly one sees True and starts it over."""
        if not isinstance(category, str) or not category:
            raise InvalidSpecError("category", category, "must be a non-empty string")
        if not isinstance(fingerprint, str) or not fingerprint:
            raise InvalidSpecError("fingerprint", fingerprint, "must be a non-empty string")
        now = time.time() if now is None else now
        with self._write() as db:
            found = db.execute("SELECT fingerprint FROM app WHERE category = ?", (category,)).fetchone()
            if found is None:
                db.execute("INSERT INTO app VALUES (?, ?, ?, NULL)", (category, fingerprint, now))
                return False
            if found[0] == fingerprint:
                return False
            db.execute("UPDATE app SET fingerprint = ?, noted_at = ?, changed_at = ? WHERE category = ?",
                       (fingerprint, now, now, category))
            for table in ("bucket", "new_max", "label_cache"):
                db.execute(f"DELETE FROM {table} WHERE category = ?", (category,))
            db.execute("UPDATE category SET completions = 0, samples = 0, max_cores = NULL, max_memory = NULL,"
                       " max_disk = NULL, updated_at = ? WHERE name = ?", (now, category))
            return True

    def code_changed_at(self, category: str) -> float | None:
        """When the app behind the category last changed its code (the category started over then),
        or None if it was never seen to change (or no fingerprint was ever noted)."""
        with self._lock:
            found = self._db.execute("SELECT changed_at FROM app WHERE category = ?", (category,)).fetchone()
        return found[0] if found else None

    # -- reading --------------------------------------------------------------------------------

    def histograms(self, category: str) -> dict[str, Histogram]:
        """The category's histogram per resource (empty ones for a category never seen)."""
        with self._lock:
            found = self._db.execute("SELECT max_cores, max_memory, max_disk FROM category WHERE name = ?",
                                     (category,)).fetchone()
            rows = self._db.execute("SELECT resource, value, count, wall_s FROM bucket WHERE category = ?"
                                    " ORDER BY resource, value", (category,)).fetchall()
        maxes = dict(zip(RESOURCES, found or (None, None, None), strict=True))
        result: dict[str, Histogram] = {}
        for r in RESOURCES:
            buckets = tuple(Bucket(v, c, w) for res, v, c, w in rows if res == r)
            result[r] = Histogram(r, buckets, float(maxes[r] or 0.0), sum(b.count for b in buckets))
        return result

    def completions(self, category: str) -> int:
        """Normal completions learned for the category (exhausted jobs not counted)."""
        with self._lock:
            found = self._db.execute("SELECT completions FROM category WHERE name = ?",
                                     (category,)).fetchone()
        return found[0] if found else 0

    def sample_count(self, category: str) -> int:
        """Every sample learned for the category, exhausted ones included."""
        with self._lock:
            found = self._db.execute("SELECT samples FROM category WHERE name = ?", (category,)).fetchone()
        return found[0] if found else 0

    def categories(self) -> list[str]:
        with self._lock:
            return [r[0] for r in self._db.execute("SELECT name FROM category ORDER BY name")]

    def recent_samples(self, category: str, limit: int | None = None) -> list[Sample]:
        """The newest raw samples kept for the category, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT category, job_id, cores, memory_mb, disk_mb, wall_s, exhausted, completed_at FROM"
                " sample WHERE category = ? ORDER BY id DESC LIMIT ?",
                (category, -1 if limit is None else limit)).fetchall()
        return [Sample(*row) for row in reversed(rows)]

    def label(self, category: str, mode: AllocationMode, maximum: Maximum, window: int) -> Label:
        """The category's current label (see :func:`condorexec.labels.policy.choose_label`).

        Learning: until ``window`` normal completions since the last reset, the label is all ``None``
        (= the maximum); a new maximum seen while learning resets that count. After that the label is
        recomputed only when another ``window`` completions have arrived, and is kept in the store so
        that it is the same after a restart."""
        mode = AllocationMode(mode)
        _check_maximum(maximum)
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise InvalidSpecError("window", window, "must be an integer >= 1")
        with self._lock:
            completions = self.completions(category)
            where = progress(self._new_max_at(category), completions, window)
            if where.asks_maximum(mode):
                return Label(None, None, None)
            reset_at, epoch = where.epoch
            key = (category, mode.value, maximum.cores, maximum.memory, maximum.disk, window)
            cached = self._db.execute(
                "SELECT reset_at, epoch, cores, memory, disk FROM label_cache WHERE category = ? AND mode = ?"
                " AND max_cores = ? AND max_memory = ? AND max_disk = ? AND window = ?", key).fetchone()
            if cached and cached[:2] == (reset_at, epoch):
                return Label(*cached[2:])
            label = choose_label(self.histograms(category), mode, maximum, window)
            with self._write() as db:
                db.execute("INSERT OR REPLACE INTO label_cache VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                           (*key, reset_at, epoch, label.cores, label.memory, label.disk, time.time()))
                db.execute("DELETE FROM label_cache WHERE category = ? AND rowid NOT IN (SELECT rowid FROM"
                           " label_cache WHERE category = ? ORDER BY computed_at DESC LIMIT ?)",
                           (category, category, _KEEP_CACHED_LABELS))
            return label

    def in_steady_state(self, category: str, window: int) -> bool:
        """Whether the category has left learning (``window`` completions since its last reset)."""
        with self._lock:
            return progress(self._new_max_at(category), self.completions(category), window).steady

    def _new_max_at(self, category: str) -> list[int]:
        """The completion counts at which the category saw a new maximum, in order."""
        with self._lock:
            return [r[0] for r in self._db.execute(
                "SELECT at_completion FROM new_max WHERE category = ? ORDER BY at_completion", (category,))]

    def mean_wall(self, category: str) -> float | None:
        """The category's mean wall time over its recent normal completions with the current code
        (:func:`condorexec.labels.learning.mean_wall`); None if there are none."""
        return mean_wall(self.recent_samples(category, RECENT_WALLS), self.code_changed_at(category))

    # -- poller cursors -------------------------------------------------------------------------

    def get_cursor(self, source: str) -> str | None:
        with self._lock:
            found = self._db.execute("SELECT value FROM cursor WHERE source = ?", (source,)).fetchone()
        return found[0] if found else None

    def set_cursor(self, source: str, value: str) -> None:
        if not isinstance(value, str):
            raise InvalidSpecError("cursor value", value, "must be a string")
        with self._write() as db:
            db.execute("INSERT OR REPLACE INTO cursor VALUES (?, ?)", (source, value))
