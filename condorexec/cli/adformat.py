"""Printing job ads the way condor_q and condor_history do: columns, -af, -long, -json.

Kept apart from the commands so that q and history (queue ads vs history records, local spool vs
schedd) share one rendering, and so the column logic is testable on plain ads.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

import classad2

from condorexec.condorfacts import JobStatus

#: condor_q's ST column
STATUS_LETTER = {JobStatus.IDLE: "I", JobStatus.RUNNING: "R", JobStatus.REMOVED: "X", JobStatus.COMPLETED: "C",
                 JobStatus.HELD: "H", JobStatus.TRANSFERRING_OUTPUT: ">", JobStatus.SUSPENDED: "S"}
#: condor_q's summary line's words
STATUS_NAME = {JobStatus.IDLE: "idle", JobStatus.RUNNING: "running", JobStatus.REMOVED: "removed",
               JobStatus.COMPLETED: "completed", JobStatus.HELD: "held", JobStatus.TRANSFERRING_OUTPUT: "transferring",
               JobStatus.SUSPENDED: "suspended"}

#: the attributes the default columns need (the projection sent to a schedd)
COLUMN_ATTRS = ("ClusterId", "ProcId", "Owner", "QDate", "RemoteWallClockTime", "JobCurrentStartDate", "JobStatus",
                "JobPrio", "ImageSize", "MemoryUsage", "ResidentSetSize", "Cmd", "Args", "Arguments",
                "RequestCpus", "RequestMemory", "RequestDisk", "CompletionDate", "ServerTime",
                "EnteredCurrentStatus")


def _num(ad: classad2.ClassAd, attr: str, default: float = 0.0) -> float:
    try:
        v = ad.eval(attr) if attr in ad else default
    except Exception:  # an expression that does not evaluate here
        return default
    if isinstance(v, bool | classad2.Value) or not isinstance(v, int | float):
        return default  # classad2.Value (undefined, error) is an int subclass: test it first
    return float(v)


def _duration(seconds: float) -> str:
    s = max(int(seconds), 0)
    return f"{s // 86400}+{s % 86400 // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _date(epoch: float) -> str:
    return time.strftime("%m/%d %H:%M", time.localtime(epoch)) if epoch > 0 else "??/?? ??:??"


def run_time(ad: classad2.ClassAd, now: float) -> float:
    total = _num(ad, "RemoteWallClockTime")
    if ad.get("JobStatus") == JobStatus.RUNNING and "JobCurrentStartDate" in ad:
        total += now - _num(ad, "JobCurrentStartDate", now)
    return total


def command_line(ad: classad2.ClassAd) -> str:
    cmd = str(ad.get("Cmd", "")).rsplit("/", 1)[-1]
    args = ad.get("Arguments") or ad.get("Args") or ""
    return f"{cmd} {args}".strip()


def _size_mb(ad: classad2.ClassAd) -> float:
    return _num(ad, "MemoryUsage", _num(ad, "ImageSize") / 1024)


def table(ads: Sequence[classad2.ClassAd], *, history: bool, now: float | None = None) -> str:
    """condor_q -nobatch / condor_history columns, plus the requests (cpus, MB, MB)."""
    now = time.time() if now is None else now
    if history:
        head = ["ID", "OWNER", "SUBMITTED", "RUN_TIME", "ST", "COMPLETED", "CPUS", "MEMORY", "DISK", "CMD"]
    else:
        head = ["ID", "OWNER", "SUBMITTED", "RUN_TIME", "ST", "PRI", "SIZE", "CPUS", "MEMORY", "DISK", "CMD"]
    rows = []
    for ad in ads:
        status = int(_num(ad, "JobStatus"))
        row = [f"{ad.get('ClusterId', '?')}.{ad.get('ProcId', '?')}", str(ad.get("Owner", "?")),
               _date(_num(ad, "QDate")), _duration(run_time(ad, now)), STATUS_LETTER.get(status, "?")]
        if history:
            done = _num(ad, "CompletionDate") or _num(ad, "EnteredCurrentStatus")
            row.append(_date(done))
        else:
            row += [str(int(_num(ad, "JobPrio"))), f"{_size_mb(ad):.1f}"]
        row += [f"{_num(ad, 'RequestCpus', 1):g}", f"{_num(ad, 'RequestMemory'):.0f}",
                f"{_num(ad, 'RequestDisk') / 1024:.0f}", command_line(ad)]
        rows.append(row)
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head) - 1)]

    def line(cells: list[str]) -> str:
        left = {1, 2, 4}
        padded = (c.ljust(w) if i in left else c.rjust(w) for i, (c, w) in enumerate(zip(cells[:-1], widths,
                                                                                          strict=True)))
        return " ".join(padded) + " " + cells[-1]

    return "\n".join([line(head), *(line(r) for r in rows)]) + "\n"


def summary(ads: Sequence[classad2.ClassAd]) -> str:
    """condor_q's closing line: ``Total for query: N jobs; 0 completed, 0 removed, ...``."""
    counts = {name: 0 for name in ("completed", "removed", "idle", "running", "held", "suspended")}
    for ad in ads:
        name = STATUS_NAME.get(int(_num(ad, "JobStatus")))
        if name in counts:
            counts[name] += 1
    return f"Total for query: {len(ads)} jobs; " + ", ".join(f"{v} {k}" for k, v in counts.items()) + "\n"


def _cell(ad: classad2.ClassAd, attr: str, raw: bool = False) -> str:
    """One -af value: strings unquoted, undefined/error by name; ``raw``: the expression as written."""
    if raw:  # as the ad's old syntax writes it (=!= where str() of the expression says isnt)
        prefix = attr.lower() + " = "
        return next((line[len(prefix):] for line in ad.printOld().split("\n") if line.lower().startswith(prefix)),
                    "undefined")
    try:
        value = ad.eval(attr) if attr in ad else classad2.ExprTree(attr).eval(ad)
    except Exception:
        value = None
    if isinstance(value, classad2.Value):  # undefined/error: an int subclass, test it first
        return str(value.name).lower()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return "undefined"


def autoformat(ads: Sequence[classad2.ClassAd], attrs: Sequence[str], modifiers: str = "") -> str:
    """``-af a b c``: one line per ad, the values space-separated, strings unquoted. ``-af:MODS`` as
    condor_q/condor_history take them: ``j`` the job id first, ``h`` a header line (each value then
    padded to its name's width), ``l`` each value labelled ``name = value``, ``t`` tab-separated,
    ``,`` comma-separated, ``n`` a newline after each value, ``r`` expressions unevaluated."""
    sep = "\t" if "t" in modifiers else ", " if "," in modifiers else " "
    end = "\n" if "n" in modifiers else ""
    header = "h" in modifiers
    lines = []
    if header:
        lines.append(" ".join(([" ID"] if "j" in modifiers else []) + list(attrs)))
    for ad in ads:
        cells = []
        if "j" in modifiers:
            job = f"{ad.get('ClusterId', '?')}.{ad.get('ProcId', '?')}"
            cells.append(f"ID = {job}" if "l" in modifiers else job)
        for attr in attrs:
            value = _cell(ad, attr, "r" in modifiers)
            if header:
                value = value.ljust(len(attr))
            elif "l" in modifiers:
                value = f"{attr} = {value}"
            cells.append(value + end)
        lines.append(sep.join(cells))
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


_PRINTF_ESCAPES = {"\\n": "\n", "\\t": "\t", "\\\\": "\\"}


def printf_format(ads: Sequence[classad2.ClassAd], pairs: Sequence[tuple[str, str]]) -> str:
    """``-format FMT ATTR`` (repeatable): each ad's attributes through printf-style formats, in order;
    an attribute the ad lacks prints nothing (as condor_q/condor_history do)."""
    out = []
    for ad in ads:
        for fmt, attr in pairs:
            for escape, char in _PRINTF_ESCAPES.items():
                fmt = fmt.replace(escape, char)
            try:
                value = ad.eval(attr) if attr in ad else classad2.ExprTree(attr).eval(ad)
            except Exception:
                continue
            if isinstance(value, classad2.Value):
                continue
            try:
                out.append(fmt % value)
            except (TypeError, ValueError):
                try:
                    out.append(fmt % (int(value) if isinstance(value, float) else str(value)))
                except (TypeError, ValueError):
                    raise ValueError(f"-format {fmt!r} {attr}: the format does not fit the value {value!r}") from None
    return "".join(out)


def hold_table(ads: Sequence[classad2.ClassAd]) -> str:
    """``condor_q -hold``: ID, OWNER, HELD_SINCE, CODE/SUB (the subcode only when not 0), HOLD_REASON."""
    head = ["ID", "OWNER", "HELD_SINCE", "CODE/SUB", "HOLD_REASON"]
    rows = []
    for ad in ads:
        code, sub = int(_num(ad, "HoldReasonCode")), int(_num(ad, "HoldReasonSubCode"))
        rows.append([f"{ad.get('ClusterId', '?')}.{ad.get('ProcId', '?')}", str(ad.get("Owner", "?")),
                     _date(_num(ad, "EnteredCurrentStatus")), f"{code}/{sub}" if sub else str(code),
                     str(ad.get("HoldReason", ""))])
    return _columns(head, rows)


def run_table(ads: Sequence[classad2.ClassAd], now: float | None = None) -> str:
    """``condor_q -run``: ID, OWNER, SUBMITTED, RUN_TIME, HOST(S)."""
    now = time.time() if now is None else now
    head = ["ID", "OWNER", "SUBMITTED", "RUN_TIME", "HOST(S)"]
    rows = [[f"{ad.get('ClusterId', '?')}.{ad.get('ProcId', '?')}", str(ad.get("Owner", "?")),
             _date(_num(ad, "QDate")), _duration(run_time(ad, now)), str(ad.get("RemoteHost", ""))] for ad in ads]
    return _columns(head, rows)


#: condor_q's batch view header after its OWNER, BATCH_NAME and SUBMITTED columns, as it prints it
_BATCH_COUNTS_HEAD = "   DONE   RUN    IDLE   HOLD  TOTAL JOB_IDS"


def _batch_date(epoch: float) -> str:
    """condor_q's SUBMITTED in the batch view: ``12/6  05:00`` (day not zero-padded)."""
    if epoch <= 0:
        return "??/?? ??:??"
    tm = time.localtime(epoch)
    return f"{tm.tm_mon}/{tm.tm_mday:<2} {tm.tm_hour:02d}:{tm.tm_min:02d}"


def _job_ids(ids: list[tuple[int, int]]) -> str:
    """``503.0-2`` for one cluster's consecutive procs, else the first and last: ``503.0 ... 504.1``."""
    ids = sorted(ids)
    (c0, p0), (c1, p1) = ids[0], ids[-1]
    if len(ids) == 1:
        return f"{c0}.{p0}"
    if c0 == c1 and p1 - p0 + 1 == len(ids):
        return f"{c0}.{p0}-{p1}"
    return f"{c0}.{p0} ... {c1}.{p1}"


def batch_table(ads: Sequence[classad2.ClassAd]) -> str:
    """``condor_q -batch`` (its default view): one line per owner and batch (JobBatchName, else the
    cluster as ``ID: C``) with its counts (``_`` for none); DONE is what the clusters queued
    (TotalSubmitProcs) less what is still in the queue."""
    groups: dict[tuple[str, str], list[classad2.ClassAd]] = {}
    for ad in ads:
        batch = str(ad["JobBatchName"]) if "JobBatchName" in ad else f"ID: {ad.get('ClusterId', '?')}"
        groups.setdefault((str(ad.get("Owner", "?")), batch), []).append(ad)
    rows = []
    for (owner, batch), members in groups.items():
        status = [int(_num(ad, "JobStatus")) for ad in members]
        submitted: dict[int, int] = {}
        for ad in members:
            cluster = int(_num(ad, "ClusterId"))
            submitted[cluster] = max(submitted.get(cluster, 0), int(_num(ad, "TotalSubmitProcs", 1)))
        total = max(sum(submitted.values()), len(members))
        counts = [total - len(members), status.count(JobStatus.RUNNING), status.count(JobStatus.IDLE),
                  status.count(JobStatus.HELD), total]
        cells = " ".join(f"{n if n else '_':>6}" for n in counts)
        ids = [(int(_num(ad, "ClusterId")), int(_num(ad, "ProcId"))) for ad in members]
        rows.append((owner, batch, _batch_date(min(_num(ad, "QDate") for ad in members)), cells, _job_ids(ids)))
    owner_w = max([len("OWNER"), *(len(r[0]) for r in rows)])
    batch_w = max([len("BATCH_NAME"), *(len(r[1]) for r in rows)])
    lines = [f"{'OWNER':<{owner_w}} {'BATCH_NAME':<{batch_w}} {'SUBMITTED':>12}{_BATCH_COUNTS_HEAD}"]
    lines += [f"{o:<{owner_w}} {b:<{batch_w}} {d:>12} {c} {i}" for o, b, d, c, i in rows]
    return "".join(line + "\n" for line in lines)


def _columns(head: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head) - 1)]
    return "".join(" ".join(c.ljust(w) for c, w in zip(r[:-1], widths, strict=True)) + " " + r[-1] + "\n"
                   for r in [head, *rows])


def long_form(ads: Sequence[classad2.ClassAd]) -> str:
    return "".join(ad.printOld() + "\n" for ad in ads)


def json_form(ads: Sequence[classad2.ClassAd]) -> str:
    return json.dumps([json.loads(ad.printJson()) for ad in ads], indent=2) + "\n"
