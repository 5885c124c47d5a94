"""A named workflow's journal: which calls it sent, where each ran, and which finished (docs/durable.md).

One SQLite file per workflow name, ``<user data dir>/condorexec/workflows/NAME.sqlite`` by default. Why
SQLite in WAL mode: a submitter may be killed at any instant (SIGKILL, OOM, a reboot); each batch is one
transaction, so the file is always one of its committed states, and ``condorexec workflow NAME`` can read
it while a run writes it.

What is written when, and why in that order:

* **sent** — before a batch of calls is submitted (one transaction per batch): a call whose job exists
  is always in the journal, so a rerun can find it;
* **placed** — the call's job (``C.P``) or its slot worker (the worker's job, name and the call's id in
  it), once known;
* **done** — the call succeeded: its outcome, inline (up to :data:`INLINE_LIMIT` bytes) or in a file of
  its directory; **failed** — it ended in an error (a rerun runs it again).

``placed`` and ``done`` rows are buffered and written by :meth:`Journal.flush` (the core calls it from
its lease thread and at shutdown), so a run of many short calls pays one transaction per flush, not one
per call. A kill loses at most the last unflushed ends: those calls are found again by their result
files, or run again.

Only one live executor may use a workflow at a time: it holds an exclusive ``flock`` on
``NAME.sqlite.lock`` for its whole run (the kernel drops it when the process dies, however it dies), and
a second one is refused with :class:`WorkflowBusy`, naming the first's process.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import socket
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from condorexec.errors import CondorexecError, InvalidSpecError

log = logging.getLogger(__name__)

#: the schema this code writes (``PRAGMA user_version``); a journal from a newer condorexec is refused
SCHEMA_VERSION = 1

#: a workflow name names a file: letters, digits and _ . - only, not starting with . or -
NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}")

#: outcomes up to this many bytes are kept in the journal; larger ones in a file of the call's directory
INLINE_LIMIT = 1 << 20

#: the file a large outcome is kept in, in the call's directory
KEPT_OUTCOME_NAME = "kept-outcome.pkl"

SENT, DONE, FAILED = "sent", "done", "failed"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS run (
    token TEXT PRIMARY KEY, pid INTEGER NOT NULL, host TEXT NOT NULL, pool TEXT NOT NULL,
    work_dir TEXT NOT NULL, started REAL NOT NULL, ended REAL,
    adopted_finished INTEGER NOT NULL DEFAULT 0, adopted_running INTEGER NOT NULL DEFAULT 0,
    rerun INTEGER NOT NULL DEFAULT 0, fresh INTEGER NOT NULL DEFAULT 0,
    reasons TEXT NOT NULL DEFAULT '{}'          -- JSON: why calls ran again -> how many
);
CREATE TABLE IF NOT EXISTS call (
    key TEXT NOT NULL, ordinal INTEGER NOT NULL,   -- the nth call with this key in a run
    app TEXT NOT NULL, run TEXT NOT NULL, task_dir TEXT NOT NULL,
    state TEXT NOT NULL,                            -- sent | done | failed
    job_id TEXT,                                    -- its own job, "C.P"
    worker_job TEXT, worker TEXT, worker_call INTEGER,  -- or its slot worker's job, name, and its id there
    outcome BLOB, outcome_file TEXT,                -- a done call's outcome (decode_outcome's format)
    sent_at REAL NOT NULL, ended_at REAL,
    PRIMARY KEY (key, ordinal)
) WITHOUT ROWID;
"""


class WorkflowError(CondorexecError):
    """A workflow's journal cannot be used (newer schema, damaged file)."""


class WorkflowBusy(WorkflowError):
    """Another live executor (or process) holds the workflow."""


def check_name(name: object, field: str = "workflow") -> str:
    """The workflow name, if it can name a file: no path separator, no control character, not ``.`` or
    ``..`` (it cannot start with a dot)."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise InvalidSpecError(field, name, "must be 1-100 letters, digits and _ . - (starting with a letter, "
                                            "digit or _): it names the workflow's journal file")
    return name


def default_directory() -> Path:
    """``<user data dir>/condorexec/workflows`` (e.g. ``~/.local/share/condorexec/workflows``)."""
    import platformdirs

    return Path(platformdirs.user_data_dir("condorexec")) / "workflows"


def journal_path(name: str, directory: str | os.PathLike | None = None) -> Path:
    return Path(directory if directory is not None else default_directory()) / f"{check_name(name)}.sqlite"


def lock_path(path: Path) -> Path:
    """The lock file beside journal ``path``, flocked by whoever uses the workflow (a run, ``--forget``)."""
    return path.with_name(path.name + ".lock")


def forget(name: str, path: Path) -> None:
    """Delete the journal of workflow ``name`` at ``path`` (with SQLite's -wal and -shm files and the lock
    file), holding the workflow's lock meanwhile so that no run starts on it. Raises WorkflowBusy naming
    the holder if a live process holds it."""
    handle = _hold(lock_path(path), name, refusal="not forgotten (wait for its run to end)")
    try:
        for extra in ("", "-wal", "-shm"):
            path.with_name(path.name + extra).unlink(missing_ok=True)
        lock_path(path).unlink(missing_ok=True)  # held until closed: a run starting now makes a new one
    finally:
        handle.close()


@dataclass(frozen=True)
class CallRow:
    """What the journal knows of one call (one row)."""

    key: str
    ordinal: int
    app: str
    run: str
    task_dir: str
    state: str
    job_id: str | None = None
    worker_job: str | None = None
    worker: str | None = None
    worker_call: int | None = None
    outcome: bytes | None = None
    outcome_file: str | None = None


@dataclass(frozen=True)
class RunRow:
    token: str
    pid: int
    host: str
    pool: str
    work_dir: str
    started: float
    ended: float | None
    adopted_finished: int
    adopted_running: int
    rerun: int
    fresh: int
    reasons: dict[str, int]


_CALL_COLUMNS = ("key, ordinal, app, run, task_dir, state, job_id, worker_job, worker, worker_call, outcome, "
                 "outcome_file")


#: filesystem types on which SQLite's WAL mode does not work (its shared memory needs one machine's
#: memory map; sqlite.org/wal.html): the journal falls back to a rollback journal there
NETWORK_FILESYSTEMS = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "lustre", "gpfs", "fuse.sshfs", "9p",
                                 "afs", "ceph", "glusterfs", "beegfs"})


def filesystem_type(path: Path) -> str | None:
    """The type of the filesystem ``path`` is on (from /proc/self/mountinfo), or None where it is unknown."""
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    target, best, kind = str(path.resolve()), "", None
    for line in lines:
        fields = line.split(" - ")
        mount_point = fields[0].split()[4].replace("\\040", " ") if len(fields[0].split()) > 4 else ""
        inside = target == mount_point or target.startswith(mount_point.rstrip("/") + "/")
        if len(fields) == 2 and inside and len(mount_point) >= len(best):
            best, kind = mount_point, fields[1].split()[0]
    return kind


def _connect(path: Path) -> sqlite3.Connection:
    """The journal, checked (a newer schema is refused before anything is written to the file), in WAL mode
    (a rollback journal on a network filesystem, where WAL does not work)."""
    db = sqlite3.connect(path, timeout=30, check_same_thread=False, isolation_level=None)
    try:
        _check_schema(db, path, create=False)
        kind = filesystem_type(path.parent)
        if kind in NETWORK_FILESYSTEMS:
            log.warning("the workflow journal %s is on a network filesystem (%s), where SQLite's WAL mode does not "
                        "work: it uses a rollback journal, slower; give workflow_dir a local disk", path, kind)
            db.execute("PRAGMA journal_mode=DELETE")
            db.execute("PRAGMA synchronous=FULL")
        else:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a commit survives a killed process
        _check_schema(db, path, create=True)
    except BaseException:
        db.close()
        raise
    return db


def _check_schema(db: sqlite3.Connection, path: Path, *, create: bool) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise WorkflowError(f"the workflow journal {path} has schema {version}, newer than this condorexec's "
                            f"({SCHEMA_VERSION}): it was written by a newer condorexec; use that one, or "
                            f"another workflow name (nothing was changed)")
    if version < SCHEMA_VERSION and create:
        db.executescript(_SCHEMA)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def read_only(path: Path) -> Reader:
    """The journal at ``path`` for reading (``condorexec workflow``): no lock, nothing written."""
    if not path.exists():
        raise WorkflowError(f"no workflow journal at {path}")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        _check_schema(db, path, create=False)
        if db.execute("PRAGMA user_version").fetchone()[0] != SCHEMA_VERSION:
            empty = db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
            raise WorkflowError(f"{path} is empty: a run may be creating it (look again in a moment)" if empty
                                else f"{path} is not a workflow journal (no condorexec schema in it)")
    except sqlite3.DatabaseError as exc:
        db.close()
        raise WorkflowError(f"the workflow journal {path} is not readable ({exc})") from exc
    except BaseException:
        db.close()
        raise
    return Reader(db)


class Reader:
    """Queries over a journal, shared by the live :class:`Journal` and the read-only view."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def calls(self) -> list[CallRow]:
        return [CallRow(*row) for row in self.db.execute(f"SELECT {_CALL_COLUMNS} FROM call")]

    def runs(self) -> list[RunRow]:
        rows = self.db.execute("SELECT token, pid, host, pool, work_dir, started, ended, adopted_finished, "
                               "adopted_running, rerun, fresh, reasons FROM run ORDER BY started")
        return [RunRow(token, pid, host, pool, work_dir, started, ended, finished, running, rerun, fresh,
                       json.loads(reasons))
                for token, pid, host, pool, work_dir, started, ended, finished, running, rerun, fresh, reasons in rows]

    def states(self) -> dict[str, int]:
        return dict(self.db.execute("SELECT state, count(*) FROM call GROUP BY state").fetchall())

    def tally(self) -> list[tuple[str, str, str, int]]:
        """(run, state, where, count) over the calls; where is ``job``, ``worker`` or ``unplaced``. One
        query that reads no outcome (:meth:`calls` loads every inline result)."""
        rows = self.db.execute(
            "SELECT run, state, CASE WHEN job_id IS NOT NULL THEN 'job' WHEN worker_job IS NOT NULL THEN 'worker' "
            "ELSE 'unplaced' END, count(*) FROM call GROUP BY 1, 2, 3")
        return [(str(run), str(state), str(where), int(n)) for run, state, where, n in rows]

    def close(self) -> None:
        self.db.close()


class Journal(Reader):
    """The journal of workflow ``name``, held by this process until :meth:`close`.

    Raises WorkflowBusy if another process holds it, WorkflowError for a journal of a newer schema or a
    file that is not one; either way before anything is written."""

    def __init__(self, name: str, directory: str | os.PathLike | None = None):
        self.name = check_name(name)
        self.path = journal_path(name, directory)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock_file = _hold(lock_path(self.path), name)
        try:
            db = _connect(self.path)
        except sqlite3.DatabaseError as exc:
            self._release()
            raise WorkflowError(f"the workflow journal {self.path} is not readable ({exc}); move it away to "
                                f"start the workflow afresh") from exc
        except BaseException:
            self._release()
            raise
        super().__init__(db)
        self._write = threading.Lock()
        self._buffer: list[tuple[str, tuple]] = []

    # ---- runs --------------------------------------------------------------------------------

    def begin_run(self, token: str, pool: str, work_dir: str) -> None:
        with self._write:
            self.db.execute("INSERT OR REPLACE INTO run (token, pid, host, pool, work_dir, started) "
                            "VALUES (?, ?, ?, ?, ?, ?)",
                            (token, os.getpid(), socket.gethostname(), pool, work_dir, time.time()))

    def counted(self, token: str, counts: dict[str, int], reasons: dict[str, int]) -> None:
        """The run's counts so far (buffered: a killed run keeps what its last flush wrote)."""
        self._buffered("UPDATE run SET adopted_finished = ?, adopted_running = ?, rerun = ?, fresh = ?, reasons = ? "
                       "WHERE token = ?", (counts.get("adopted_finished", 0), counts.get("adopted_running", 0),
                                           counts.get("rerun", 0), counts.get("fresh", 0), json.dumps(reasons), token))

    def end_run(self, token: str, counts: dict[str, int], reasons: dict[str, int]) -> None:
        self.counted(token, counts, reasons)
        self._buffered("UPDATE run SET ended = ? WHERE token = ?", (time.time(), token))
        self.flush()

    # ---- calls -------------------------------------------------------------------------------

    def sent(self, rows: Iterable[tuple[str, int, str, str, str]]) -> None:
        """Calls about to be submitted, as (key, ordinal, app, run, task_dir): one transaction, committed
        before the submit (a row replaces what an earlier run wrote for the same call)."""
        now = time.time()
        with self._write:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                self.db.executemany(
                    "INSERT OR REPLACE INTO call (key, ordinal, app, run, task_dir, state, sent_at) "
                    "VALUES (?, ?, ?, ?, ?, 'sent', ?)", [(*row, now) for row in rows])
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def placed_job(self, key: str, ordinal: int, run: str, job_id: str) -> None:
        self._buffered("UPDATE call SET job_id = ?, worker_job = NULL, worker = NULL, worker_call = NULL "
                       "WHERE key = ? AND ordinal = ? AND run = ?", (job_id, key, ordinal, run))

    def placed_worker(self, rows: Iterable[tuple[str, int, str, str, str, str, str, int]]) -> None:
        """Calls about to be handed to a slot worker, as (key, ordinal, app, run, task_dir, worker job,
        worker, call id): written at once (with what was buffered before), before the worker can see
        them, as the call's row (a call sent to the workers is journaled here, not when it is sent:
        one transaction per call, not two). Unlike a job, a worker holds no trace of which of the run's
        calls it has: a placement lost in a kill would make a rerun run the call a second time beside
        the worker that still runs it."""
        now = time.time()
        self._write_now([("INSERT OR REPLACE INTO call (key, ordinal, app, run, task_dir, state, worker_job, worker, "
                          "worker_call, sent_at) VALUES (?, ?, ?, ?, ?, 'sent', ?, ?, ?, ?)", (*row, now))
                         for row in rows])

    def adopted(self, key: str, ordinal: int, old_run: str, run: str) -> None:
        """An earlier run's call is this run's now: its row moves to this run (where it runs is unchanged)."""
        self._buffered("UPDATE call SET run = ? WHERE key = ? AND ordinal = ? AND run = ?",
                       (run, key, ordinal, old_run))

    def done(self, key: str, ordinal: int, run: str, outcome: bytes, task_dir: str) -> None:
        """The call succeeded with ``outcome`` (an encoded outcome): kept inline, or beside the call."""
        inline: bytes | None = outcome
        kept: str | None = None
        if len(outcome) > INLINE_LIMIT:
            path = Path(task_dir) / KEPT_OUTCOME_NAME
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(outcome)
                inline, kept = None, str(path)
            except OSError:
                inline = outcome  # the disk of the run directory refused it: keep it in the journal
        self._buffered("UPDATE call SET state = 'done', outcome = ?, outcome_file = ?, ended_at = ? "
                       "WHERE key = ? AND ordinal = ? AND run = ?", (inline, kept, time.time(), key, ordinal, run))

    def failed(self, key: str, ordinal: int, run: str) -> None:
        self._buffered("UPDATE call SET state = 'failed', ended_at = ? WHERE key = ? AND ordinal = ? AND run = ?",
                       (time.time(), key, ordinal, run))

    def _buffered(self, sql: str, values: tuple) -> None:
        with self._write:
            self._buffer.append((sql, values))

    def flush(self) -> None:
        """Write the buffered placements and ends, in the order they came, as one transaction."""
        self._write_now([])

    def _write_now(self, statements: list[tuple[str, tuple]]) -> None:
        """The buffered statements, then ``statements``, in one transaction (kept buffered if it fails)."""
        with self._write:
            todo, self._buffer = self._buffer + statements, []
            if not todo:
                return
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for sql, values in todo:
                    self.db.execute(sql, values)
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                self._buffer[:0] = todo
                raise

    def close(self) -> None:
        try:
            self.flush()
        finally:
            try:
                self.db.close()
            finally:
                self._release()

    def _release(self) -> None:
        if self._lock_file is not None:
            self._lock_file.close()  # closing the descriptor drops the flock
            self._lock_file = None


#: what a second executor on a workflow is told after who holds it
BUSY = "one executor at a time may run a workflow (wait for it to end, or give this one another workflow name)"


def _hold(lock_path: Path, name: str, refusal: str = BUSY):
    """An exclusive flock on ``lock_path``, with this process's id written in it for whoever is refused."""
    handle = open(lock_path, "a+")  # noqa: SIM115 - held open for the run: closing it releases the lock
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "a process that wrote nothing"
        handle.close()
        raise WorkflowBusy(f"workflow {name!r} is in use by {holder}; {refusal}") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"process {os.getpid()} on {socket.gethostname()} since "
                 f"{time.strftime('%Y-%m-%d %H:%M:%S')}\n")
    handle.flush()
    return handle
