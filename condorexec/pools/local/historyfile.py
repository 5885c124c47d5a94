"""The schedd's job history file, in HTCondor's own format, for the embedded local pool.

HTCondor's schedd appends every job that leaves the queue to ``$(SPOOL)/history``
(``condor_utils/classadHistory.cpp``, ``AppendHistory``): the job ad in the "old" long form, one
``Attr = value`` line per attribute, then a banner line::

    *** Offset = N ClusterId = C ProcId = P Owner = "u" CompletionDate = T CurrentTime = S

where ``Offset`` is the byte offset of the previous last line of the file (the previous banner;
0 for the first record). Writing the same file lets one reader (``read_history``, the same shape
as ``Schedd.history``) and one incremental poller (``HistoryTail``) serve both the local pool and a
real schedd's history file, so nothing above ``pools/`` can tell them apart.

Values are written by ``classad2``'s own old-format printer, so strings, booleans, ints and
expressions (``MemoryUsage = ((ResidentSetSize + 1023) / 1024)``) read back as written; floats are
written with Python's shortest exact ``repr`` (HTCondor prints 16 significant digits, which can lose
the last bit). The old format cannot hold a newline inside a string, so line breaks in top-level
string values are written as spaces (HTCondor would write them raw and corrupt its own file).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import BinaryIO

import classad2

__all__ = ["HistoryTail", "append_ads", "read_history"]

_BLOCK = 1 << 16
_BANNER_PREFIX = b"***"
_BANNER_INT = re.compile(rb"\b(ClusterId|ProcId)\s*=\s*(-?\d+)")
_JOB_ID = re.compile(r"\s*(\d+)\.(\d+)\s*")
#: whether the newest-first scan stops at this record: (its banner's ClusterId/ProcId, its ad)
StopTest = Callable[[dict[bytes, int], classad2.ClassAd], bool]
_ATTR_LINE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*\s*=")
_LINE_BREAKS = re.compile(r"[\r\n]+")

# appends from threads of this process; flock() below covers other processes
_append_lock = threading.Lock()


# -- writing ------------------------------------------------------------------------------------


def _format_ad(ad: classad2.ClassAd) -> str:
    """The ad's ``Attr = value`` lines, one line per attribute, newline-terminated."""
    if not isinstance(ad, classad2.ClassAd):
        raise TypeError(f"history record must be a classad2.ClassAd, got {type(ad).__name__}: {ad!r}")
    clean = classad2.ClassAd()
    floats: dict[str, float] = {}
    for key in ad.keys():
        value = ad[key]
        if isinstance(value, str) and ("\n" in value or "\r" in value):
            clean[key] = _LINE_BREAKS.sub(" ", value)
            continue
        if isinstance(value, float) and math.isfinite(value):
            floats[key.lower()] = value
        clean[key] = ad.lookup(key)
    lines = clean.printOld().splitlines()
    if len(lines) != len(clean) and len(lines) > 0:
        # a line break inside a nested string (a list or an expression): join it back on
        joined: list[str] = []
        for line in lines:
            if joined and not _ATTR_LINE.match(line):
                joined[-1] += " " + line
            else:
                joined.append(line)
        lines = joined
    if floats:
        for i, line in enumerate(lines):
            name = line.split(" = ", 1)[0]
            value = floats.get(name.lower())
            if value is not None:
                lines[i] = f"{name} = {value!r}"
    return "\n".join(lines) + "\n"


def _banner(ad: classad2.ClassAd, offset: int) -> str:
    def lookup(attr: str, kind: type, default: object) -> object:
        value = ad.get(attr, default)
        return value if isinstance(value, kind) and not isinstance(value, bool) else default

    owner = lookup("Owner", str, "?")
    return (f"*** Offset = {offset} ClusterId = {lookup('ClusterId', int, -1)} "
            f"ProcId = {lookup('ProcId', int, -1)} Owner = \"{owner}\" "
            f"CompletionDate = {lookup('CompletionDate', int, -1)} CurrentTime = {int(time.time())}\n")


def _last_line_start(fd: int, size: int) -> int:
    """``findHistoryOffset``: where the file's last line starts (0 for an empty file)."""
    if size <= 1:
        return 0
    end = size - 1  # skip the final newline
    while end > 0:
        start = max(0, end - 4096)
        chunk = os.pread(fd, end - start, start)
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            return start + cut + 1
        end = start
    return 0


def append_ads(path: str | os.PathLike[str], ads: Iterable[classad2.ClassAd]) -> None:
    """Append each ad and its banner with one ``write()`` (atomic for readers; unbuffered, so
    nothing waits in a buffer). An exclusive ``flock`` keeps ``Offset`` right when several
    processes append to the same file."""
    records = [(ad, _format_ad(ad)) for ad in ads]  # validate everything before writing anything
    if not records:
        return
    fd = os.open(os.fspath(path), os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        with _append_lock:
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                size = os.fstat(fd).st_size
                offset = _last_line_start(fd, size)
                for ad, text in records:
                    data = text.encode("utf-8", "surrogateescape")
                    banner_at = size + len(data)
                    data += _banner(ad, offset).encode("utf-8", "surrogateescape")
                    view = memoryview(data)
                    try:
                        while view:
                            view = view[os.write(fd, view):]
                    except OSError:  # a full disk: no half record (the flock keeps others out)
                        with contextlib.suppress(OSError):
                            os.ftruncate(fd, size)
                        raise
                    size += len(data)
                    offset = banner_at
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# -- reading ------------------------------------------------------------------------------------


def _parse_record(lines: Sequence[bytes]) -> classad2.ClassAd:
    text = b"\n".join(lines).decode("utf-8", "surrogateescape")
    return classad2.parseOne(text, classad2.ParserType.Old)


def _reverse_lines(f: BinaryIO, block: int = _BLOCK) -> Iterator[bytes]:
    """The file's complete lines, last first, reading fixed-size blocks from the end. A final line
    without its newline is still being written: it is skipped."""
    pos = f.seek(0, os.SEEK_END)
    tail = b""
    unfinished = True  # until the last newline is seen, bytes belong to an unfinished line
    while pos > 0:
        step = min(block, pos)
        pos -= step
        f.seek(pos)
        parts = (f.read(step) + tail).split(b"\n")
        tail = parts[0]
        rest = parts[1:]
        if unfinished:
            if not rest:
                tail = b""
                continue
            rest.pop()  # empty if the file ends with a newline, else the unfinished line
            unfinished = False
        yield from reversed(rest)
    if tail and not unfinished:
        yield tail


def _records_newest_first(path: str | os.PathLike[str]) -> Iterator[tuple[bytes, list[bytes]]]:
    """(banner, ad lines) per record, newest first. Lines after the last banner belong to an ad
    whose banner is not written yet (HTCondor writes the two separately) and are skipped."""
    with open(path, "rb") as f:
        banner: bytes | None = None
        lines: list[bytes] = []
        for line in _reverse_lines(f):
            if line.startswith(_BANNER_PREFIX):
                if banner is not None:
                    lines.reverse()
                    yield banner, lines
                banner, lines = line, []
            elif banner is not None and line.strip():
                lines.append(line)
        if banner is not None:
            lines.reverse()
            yield banner, lines


def _expr(text: str | classad2.ExprTree, field: str) -> classad2.ExprTree:
    if isinstance(text, classad2.ExprTree):
        return text
    if not isinstance(text, str):
        raise TypeError(f"history {field} must be a str or classad2.ExprTree, got {text!r}")
    try:
        return classad2.ExprTree(text)
    except Exception as exc:  # classad2 raises its own ClassAdException
        raise ValueError(f"history {field} is not a valid ClassAd expression: {text!r}") from exc


def _stop_test(since: int | str | classad2.ExprTree | None) -> StopTest | None:
    """A predicate on (banner ids, ad) that is true at the record where the scan stops."""
    if since is None:
        return None
    if isinstance(since, bool):
        raise TypeError(f"history since must be an int ClusterId, a 'C.P' job id or an expression, "
                        f"got {since!r}")
    if isinstance(since, int):
        return lambda ids, ad: ids.get(b"ClusterId", ad.get("ClusterId")) == since
    if isinstance(since, str) and (m := _JOB_ID.fullmatch(since)):
        job = (int(m.group(1)), int(m.group(2)))
        return lambda ids, ad: (ids.get(b"ClusterId", ad.get("ClusterId")),
                                ids.get(b"ProcId", ad.get("ProcId"))) == job
    expr = _expr(since, "since")
    return lambda ids, ad: expr.eval(ad) is True


def project(ad: classad2.ClassAd, projection: Iterable[str]) -> classad2.ClassAd:
    """A copy of ``ad`` with only the attributes in ``projection`` (all of them when it is empty), as a
    schedd answers a query with a projection: names match case-insensitively, the ad's spelling stays."""
    wanted = {attr.lower() for attr in projection}
    out = classad2.ClassAd()
    for key in ad.keys():
        if not wanted or key.lower() in wanted:
            out[key] = ad.lookup(key)
    return out


def read_history(
    path: str | os.PathLike[str],
    constraint: str | classad2.ExprTree | None = "true",
    projection: Sequence[str] = (),
    match: int = -1,
    since: int | str | classad2.ExprTree | None = None,
) -> Iterator[classad2.ClassAd]:
    """Records of a history file, newest first, with ``Schedd.history``'s arguments.

    ``constraint``: a ClassAd expression; only records for which it evaluates to ``true``.
    ``projection``: when non-empty, keep only these attributes (names are case-insensitive).
    ``match``: at most this many records (negative: unlimited).
    ``since``: an int is a ClusterId, a ``"C.P"`` string a job id, any other string (or ExprTree)
    an expression; the scan stops at the first record (matching the constraint or not) that is
    that cluster / that job / makes the expression true, and that record is not returned.

    Streaming: the file is read backwards in 64 KiB blocks, so time is O(bytes of the records
    scanned), memory O(one block + one record); a missing file yields nothing.
    """
    where = _expr("true" if constraint is None else constraint, "constraint")
    wanted = {p.lower() for p in projection}
    stop = _stop_test(since)
    if isinstance(match, bool) or not isinstance(match, int):
        raise TypeError(f"history match must be an int, got {match!r}")
    return _scan(path, where, wanted, match, stop)


def _scan(path: str | os.PathLike[str], where: classad2.ExprTree, wanted: Iterable[str], match: int,
          stop: StopTest | None) -> Iterator[classad2.ClassAd]:
    if match == 0:
        return
    found = 0
    try:
        records = _records_newest_first(path)
        for banner, lines in records:
            ad = _parse_record(lines)
            if stop is not None:
                ids = {k: int(v) for k, v in _BANNER_INT.findall(banner)}
                if stop(ids, ad):
                    return
            if where.eval(ad) is not True:
                continue
            yield project(ad, wanted) if wanted else ad
            found += 1
            if found == match:
                return
    except FileNotFoundError:
        return


class HistoryTail:
    """Reads records appended since the last call (oldest first) by remembering a byte offset;
    survives the file being rotated or truncated (starts again at 0) — the poller uses this to be
    incremental. ``offset`` can be saved and passed back to resume in a later process."""

    def __init__(self, path: str | os.PathLike[str], offset: int = 0) -> None:
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise ValueError(f"history tail offset must be a non-negative int, got {offset!r}")
        self.path = os.fspath(path)
        self.offset = offset
        self._inode: tuple[int, int] | None = None

    def read_new(self, max_records: int | None = None) -> list[classad2.ClassAd]:
        """Complete records after ``offset`` (at most ``max_records``); advances ``offset`` past
        them only, so an ad still waiting for its banner is read next time."""
        if max_records is not None and max_records <= 0:
            return []
        try:
            f = open(self.path, "rb")
        except FileNotFoundError:
            return []
        except OSError as exc:
            if exc.errno == errno.ENOENT:
                return []
            raise
        with f:
            st = os.fstat(f.fileno())
            inode = (st.st_dev, st.st_ino)
            if st.st_size < self.offset or (self._inode is not None and inode != self._inode):
                self.offset = 0  # rotated or truncated: a new file
            self._inode = inode
            f.seek(self.offset)
            out: list[classad2.ClassAd] = []
            lines: list[bytes] = []
            pos = self.offset
            while max_records is None or len(out) < max_records:
                line = f.readline()
                if not line.endswith(b"\n"):
                    break  # end of file, or a line still being written
                pos += len(line)
                if line.startswith(_BANNER_PREFIX):
                    out.append(_parse_record(lines))
                    lines = []
                    self.offset = pos
                elif line.strip():
                    lines.append(line.rstrip(b"\r\n"))
            return out
