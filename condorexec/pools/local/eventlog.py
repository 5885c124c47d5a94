"""Job event logs in HTCondor's own text format, written by the embedded local pool.

Every job names its own ``log = ...`` file and callers follow it with ``htcondor2.JobEventLog``
exactly as on a real schedd, so the local pool must write the same bytes HTCondor's shadow and
schedd write (``condor_utils/condor_event.cpp``, ``formatHeader``/``formatBody``): a header line
``NNN (CCC.PPP.SSS) YYYY-MM-DD HH:MM:SS text`` in local time, tab-indented body lines and a
``...`` line that closes the event.

Each event is built as one string and appended with a single ``os.write`` on an ``O_APPEND``
descriptor, so a reader polling the file (``events(stop_after=0)``) never sees half an event and
several writers (threads, or processes sharing a log) never interleave inside one. Free text
(reasons, hosts, paths) is folded onto one line first: a newline in a hold reason would otherwise
end the body early, and a line starting with ``...`` would close the event.
"""

from __future__ import annotations

import contextlib
import math
import os
import re
import threading
import time
from dataclasses import dataclass

import classad2
import htcondor2

__all__ = ["DEFAULT_SUBMIT_HOST", "EventLogWriter", "EventLogs", "ResourceUsage"]

#: what the local pool claims as its schedd address in submit events (HTCondor writes a sinful string)
DEFAULT_SUBMIT_HOST = "<127.0.0.1:0?addrs=127.0.0.1-0&alias=localpool>"

#: event numbers: ULogEventNumber in condor_event.h, which is htcondor2's own JobEventType
ET = htcondor2.JobEventType
#: the proc id of events about a cluster itself (a late-materialization factory): "(011.-01.000)"
CLUSTER_AD_PROC = -1

_LINE_BREAKS = re.compile(r"[\r\n\v\f\x00\x1c-\x1e\x85\u2028\u2029]+")


def _one_line(text: str, field: str) -> str:
    """Fold ``text`` onto one line so it cannot break the event's framing."""
    if not isinstance(text, str):
        raise TypeError(f"event log field {field!r} must be a str, got {type(text).__name__}: {text!r}")
    if _LINE_BREAKS.search(text) is None:
        return text
    return _LINE_BREAKS.sub(" ", text).strip()


def _old_classad_string(text: str) -> str:
    """Quote ``text`` as the reader parses ``Attr = value`` body lines (old ClassAd syntax, where a
    backslash is only special before a quote): let classad2's own printer decide when needed."""
    if "\\" not in text and '"' not in text:
        return f'"{text}"'
    printed: str = classad2.ClassAd({"v": text}).printOld()
    return printed.split(" = ", 1)[1].rstrip("\n")


def _check_id(cluster: int, proc: int) -> None:
    for name, value in (("cluster", cluster), ("proc", proc)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"event log job id field {name!r} must be a non-negative int, got {value!r}")


def _int(value: object, field: str) -> int:
    """HTCondor prints these with ``%d``/``%lld``: accept ints and integral floats only."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"event log field {field!r} must be a finite number, got {value!r}")
    return int(value)


def _rusage(user_s: float, sys_s: float) -> str:
    """``formatRusage``: whole seconds as ``D HH:MM:SS`` for user and system CPU."""

    def dhms(seconds: int) -> str:
        days, rest = divmod(seconds, 86400)
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{days} {hours:02d}:{minutes:02d}:{secs:02d}"

    return f"\tUsr {dhms(max(0, _int(user_s, 'user_cpu_s')))}, Sys {dhms(max(0, _int(sys_s, 'sys_cpu_s')))}"


def _usage_number(value: float | int) -> tuple[str, bool]:
    """How ``formatUsageAd`` prints a value: ``%.2f`` only when it has a fractional part."""
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"resource usage value must be finite, got {value!r}")
        whole = math.trunc(value)
        if value - whole > 0.0:
            return f"{value:.2f}", True
        return str(whole), False
    return str(value), False


@dataclass(frozen=True)
class ResourceUsage:
    """One job's row set of the "Partitionable Resources" table closing terminated/evicted events.

    ``None`` leaves a cell empty, as HTCondor does when the job ad lacks the attribute (e.g. no
    ``CpusUsage`` sample yet for a very short job, no ``TimeExecute`` before the job ran)."""

    cpus_usage: float | None
    request_cpus: int
    allocated_cpus: int
    disk_usage_kib: int | None
    request_disk_kib: int
    allocated_disk_kib: int
    memory_usage_mb: int | None
    request_memory_mb: int
    allocated_memory_mb: int
    time_execute_s: int | None = None
    time_slot_busy_s: int | None = None
    allocated_gpus: int = 0

    def format(self) -> str:
        """The table exactly as ``formatUsageAd`` lays it out (column widths, trailing blanks)."""
        # resource -> (use, request, allocated); rows sorted by resource name as HTCondor's std::map
        rows: dict[str, list[tuple[str, bool]]] = {}
        empty = ("", False)

        def cell(value: float | int | None, field: str) -> tuple[str, bool]:
            if value is None:
                return empty
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"resource usage field {field!r} must be a number, got {value!r}")
            return _usage_number(value)

        rows["Cpus"] = [cell(self.cpus_usage, "cpus_usage"), cell(self.request_cpus, "request_cpus"),
                        cell(self.allocated_cpus, "allocated_cpus")]
        rows["Disk"] = [cell(self.disk_usage_kib, "disk_usage_kib"),
                        cell(self.request_disk_kib, "request_disk_kib"),
                        cell(self.allocated_disk_kib, "allocated_disk_kib")]
        rows["GPUs"] = [empty, empty, cell(self.allocated_gpus, "allocated_gpus")]
        rows["Memory"] = [cell(self.memory_usage_mb, "memory_usage_mb"),
                          cell(self.request_memory_mb, "request_memory_mb"),
                          cell(self.allocated_memory_mb, "allocated_memory_mb")]
        if self.time_execute_s is not None:
            rows["TimeExecute"] = [cell(self.time_execute_s, "time_execute_s"), empty, empty]
        if self.time_slot_busy_s is not None:
            rows["TimeSlotBusy"] = [cell(self.time_slot_busy_s, "time_slot_busy_s"), empty, empty]

        # a column with any fractional value pads its integers with 3 blanks to align the dots
        columns: list[list[str]] = [[], [], []]
        for col in range(3):
            fractional = any(r[col][1] for r in rows.values())
            for r in rows.values():
                text = r[col][0]
                if fractional and text.isdigit():
                    text += "   "
                columns[col].append(text)
        w_use = max(8, *(len(t) for t in columns[0]))
        w_req = max(8, *(len(t) for t in columns[1]))
        w_alloc = max(9, *(len(t) for t in columns[2]))
        w_res = max(12, *(len(n) for n in rows)) + 8
        labels = {"Memory": "Memory (MB)", "Disk": "Disk (KB)", "TimeExecute": "TimeExecute (s)",
                  "TimeSlotBusy": "TimeSlotBusy (s)"}
        out = [f"\tPartitionable Resources : {'Usage':>{w_use}} {'Request':>{w_req}} "
               f"{'Allocated':>{w_alloc}} \n"]
        for i, name in enumerate(rows):
            label = labels.get(name, name)
            out.append(f"\t   {label:<{w_res}} : {columns[0][i]:>{w_use}} {columns[1][i]:>{w_req}} "
                       f"{columns[2][i]:>{w_alloc}} \n")
        return "".join(out)


class EventLogWriter:
    """Appends events for many jobs to one event-log file; thread-safe; each event written with one
    ``write()`` (``O_APPEND``, unbuffered) so a concurrent reader never sees half an event."""

    def __init__(self, path: str | os.PathLike[str], submit_host: str = DEFAULT_SUBMIT_HOST) -> None:
        self.path = os.fspath(path)
        self.submit_host = _one_line(submit_host, "submit_host")
        self._lock = threading.Lock()
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        self._fd: int | None = os.open(self.path, flags, 0o644)
        self._stamp_second: int | None = None
        self._stamp_text = ""

    # -- framing -------------------------------------------------------------------------------

    def _header(self, number: int, cluster: int, proc: int, when: float) -> str:
        _check_id(cluster, proc if proc != CLUSTER_AD_PROC else 0)
        if isinstance(when, bool) or not isinstance(when, int | float) or not math.isfinite(when) or when < 0:
            raise ValueError(f"event log field 'when' must be a non-negative epoch time, got {when!r}")
        second = int(when)
        stamp = self._stamp_text if second == self._stamp_second else self._format_time(second)
        return f"{int(number):03d} ({cluster:03d}.{proc:03d}.000) {stamp} "

    def _format_time(self, second: int) -> str:
        # HTCondor's default (ISO_DATE) header time, in local time, whole seconds
        lt = time.localtime(second)
        text = (f"{lt.tm_year:04d}-{lt.tm_mon:02d}-{lt.tm_mday:02d} "
                f"{lt.tm_hour:02d}:{lt.tm_min:02d}:{lt.tm_sec:02d}")
        self._stamp_second, self._stamp_text = second, text
        return text

    def _emit(self, number: int, cluster: int, proc: int, when: float, body: str) -> None:
        """``body`` starts with the header's text and ends with a newline; add the sync line."""
        with self._lock:
            if self._fd is None:
                raise ValueError(f"event log {self.path} is closed")
            data = (self._header(number, cluster, proc, when) + body + "...\n").encode("utf-8", "replace")
            view = memoryview(data)
            start = os.fstat(self._fd).st_size
            try:
                while view:  # a regular-file append is not split in practice; loop for the letter of POSIX
                    written = os.write(self._fd, view)
                    view = view[written:]
            except OSError:  # a full disk: no half event for a reader to stumble on
                if len(view) < len(data):
                    with contextlib.suppress(OSError):
                        os.ftruncate(self._fd, start)
                raise

    # -- events ----------------------------------------------------------------------------------

    def submit(self, cluster: int, proc: int, when: float) -> None:
        self._emit(ET.SUBMIT, cluster, proc, when, f"Job submitted from host: {self.submit_host}\n")

    def execute(self, cluster: int, proc: int, when: float, *, host: str, slot_name: str,
                cpus: int, memory_mb: int, disk_kib: int, scratch_dir: str) -> None:
        """The execute event with the slot's ``ExecuteProps`` (sorted, as ``sPrintAdAttrs`` does)."""
        scratch = _old_classad_string(_one_line(scratch_dir, "scratch_dir"))
        self._emit(ET.EXECUTE, cluster, proc, when,
                   f"Job executing on host: {_one_line(host, 'host')}\n"
                   f"\tSlotName: {_one_line(slot_name, 'slot_name')}\n"
                   f"\tCondorScratchDir = {scratch}\n"
                   f"\tCpus = {_int(cpus, 'cpus')}\n"
                   f"\tDisk = {_int(disk_kib, 'disk_kib')}\n"
                   f"\tGPUs = 0\n"
                   f"\tMemory = {_int(memory_mb, 'memory_mb')}\n")

    def image_size(self, cluster: int, proc: int, when: float, *, image_size_kib: int, memory_usage_mb: int,
                   resident_set_size_kib: int) -> None:
        self._emit(ET.IMAGE_SIZE, cluster, proc, when,
                   f"Image size of job updated: {_int(image_size_kib, 'image_size_kib')}\n"
                   f"\t{_int(memory_usage_mb, 'memory_usage_mb')}  -  MemoryUsage of job (MB)\n"
                   f"\t{_int(resident_set_size_kib, 'resident_set_size_kib')}"
                   "  -  ResidentSetSize of job (KB)\n")

    def terminated(self, cluster: int, proc: int, when: float, *, return_value: int | None = None,
                   signal: int | None = None, user_cpu_s: float, sys_cpu_s: float, bytes_sent: int,
                   bytes_received: int, cpus_usage: float, request_cpus: int, allocated_cpus: int,
                   disk_usage_kib: int, request_disk_kib: int, allocated_disk_kib: int,
                   memory_usage_mb: int, request_memory_mb: int, allocated_memory_mb: int,
                   time_execute_s: int, time_slot_busy_s: int | None = None) -> None:
        """Exactly one of ``return_value`` / ``signal``. The local pool has no shadow, so the run and
        total usage lines carry the same values; ``time_slot_busy_s`` defaults to ``time_execute_s``."""
        if (return_value is None) == (signal is None):
            raise ValueError(f"terminated event needs exactly one of return_value / signal, "
                             f"got return_value={return_value!r}, signal={signal!r}")
        if return_value is not None:
            outcome = f"\t(1) Normal termination (return value {_int(return_value, 'return_value')})\n"
        else:
            outcome = f"\t(0) Abnormal termination (signal {_int(signal, 'signal')})\n\t(0) No core file\n"
        cpu = _rusage(user_cpu_s, sys_cpu_s)
        local = _rusage(0, 0)
        sent, received = _int(bytes_sent, "bytes_sent"), _int(bytes_received, "bytes_received")
        usage = ResourceUsage(
            cpus_usage=cpus_usage, request_cpus=request_cpus, allocated_cpus=allocated_cpus,
            disk_usage_kib=disk_usage_kib, request_disk_kib=request_disk_kib,
            allocated_disk_kib=allocated_disk_kib, memory_usage_mb=memory_usage_mb,
            request_memory_mb=request_memory_mb, allocated_memory_mb=allocated_memory_mb,
            time_execute_s=time_execute_s,
            time_slot_busy_s=time_execute_s if time_slot_busy_s is None else time_slot_busy_s,
        )
        self._emit(ET.JOB_TERMINATED, cluster, proc, when,
                   "Job terminated.\n" + outcome
                   + f"\t{cpu}  -  Run Remote Usage\n\t{local}  -  Run Local Usage\n"
                   f"\t{cpu}  -  Total Remote Usage\n\t{local}  -  Total Local Usage\n"
                   f"\t{sent}  -  Run Bytes Sent By Job\n\t{received}  -  Run Bytes Received By Job\n"
                   f"\t{sent}  -  Total Bytes Sent By Job\n\t{received}  -  Total Bytes Received By Job\n"
                   + usage.format())

    def held(self, cluster: int, proc: int, when: float, *, reason: str, code: int, subcode: int) -> None:
        text = _one_line(reason, "reason") or "Reason unspecified"
        self._emit(ET.JOB_HELD, cluster, proc, when,
                   f"Job was held.\n\t{text}\n"
                   f"\tCode {_int(code, 'code')} Subcode {_int(subcode, 'subcode')}\n")

    def released(self, cluster: int, proc: int, when: float, *, reason: str = "via condor_release") -> None:
        text = _one_line(reason, "reason")
        self._emit(ET.JOB_RELEASED, cluster, proc, when, "Job was released.\n" + (f"\t{text}\n" if text else ""))

    def evicted(self, cluster: int, proc: int, when: float, *, reason: str, code: int, subcode: int,
                user_cpu_s: float = 0, sys_cpu_s: float = 0, bytes_sent: int = 0, bytes_received: int = 0,
                usage: ResourceUsage | None = None) -> None:
        """HTCondor writes this (then a held event) when it stops a job to hold it, e.g. for memory;
        ``usage`` appends the resource table as the shadow does."""
        code, subcode = _int(code, "code"), _int(subcode, "subcode")
        first = f"Job was evicted. Code {code} Subcode {subcode}\n" if code != 0 else "Job was evicted.\n"
        text = _one_line(reason, "reason")
        self._emit(ET.JOB_EVICTED, cluster, proc, when,
                   first + "\t(0) CPU times\n"
                   f"\t{_rusage(user_cpu_s, sys_cpu_s)}  -  Run Remote Usage\n"
                   f"\t{_rusage(0, 0)}  -  Run Local Usage\n"
                   f"\t{_int(bytes_sent, 'bytes_sent')}  -  Run Bytes Sent By Job\n"
                   f"\t{_int(bytes_received, 'bytes_received')}  -  Run Bytes Received By Job\n"
                   + (f"\tReason: {text}\n" if text else "")
                   + (usage.format() if usage is not None else ""))

    def cluster_submitted(self, cluster: int, when: float) -> None:
        """A late-materialization cluster (factory) was made: the schedd's event 035, proc -1."""
        self._emit(ET.CLUSTER_SUBMIT, cluster, CLUSTER_AD_PROC, when,
                   f"Cluster submitted from host: {self.submit_host}\n")

    def cluster_removed(self, cluster: int, when: float, *, materialized: int, complete: bool) -> None:
        """The factory's cluster left the queue (036): every proc made and gone (Complete), or removed
        before that (Incomplete). ``materialized``: how many procs it made ("from 0 items" is a plain
        ``queue N``, as the schedd writes it)."""
        self._emit(ET.CLUSTER_REMOVE, cluster, CLUSTER_AD_PROC, when,
                   f"Cluster removed\n\tMaterialized {_int(materialized, 'materialized')} jobs from 0 items.\t"
                   f"{'Complete' if complete else 'Incomplete'}\n")

    def aborted(self, cluster: int, proc: int, when: float, *, reason: str) -> None:
        text = _one_line(reason, "reason")
        self._emit(ET.JOB_ABORTED, cluster, proc, when, "Job was aborted.\n" + (f"\t{text}\n" if text else ""))

    def close(self) -> None:
        """Close the file; idempotent. Writing afterwards raises ValueError."""
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> EventLogWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class EventLogs:
    """Writers by path: jobs name their own log files, and many jobs share one, so the local pool
    keeps one open writer per distinct file rather than reopening it for every event."""

    def __init__(self, submit_host: str = DEFAULT_SUBMIT_HOST) -> None:
        self.submit_host = submit_host
        self._writers: dict[str, EventLogWriter] = {}
        self._lock = threading.Lock()

    def get(self, path: str | os.PathLike[str]) -> EventLogWriter:
        key = os.path.abspath(os.fspath(path))
        writer = self._writers.get(key)
        if writer is None:
            with self._lock:
                writer = self._writers.get(key)
                if writer is None:
                    writer = EventLogWriter(key, self.submit_host)
                    self._writers[key] = writer
        return writer

    def close(self, path: str | os.PathLike[str]) -> None:
        """Close and forget one file's writer (e.g. once its last job has left the queue)."""
        with self._lock:
            writer = self._writers.pop(os.path.abspath(os.fspath(path)), None)
        if writer is not None:
            writer.close()

    def close_all(self) -> None:
        with self._lock:
            writers, self._writers = list(self._writers.values()), {}
        for writer in writers:
            writer.close()

    def __len__(self) -> int:
        return len(self._writers)
