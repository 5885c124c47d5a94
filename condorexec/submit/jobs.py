"""A description → how many jobs and their ads, counted at once and made one at a time as they are read
(:func:`plan_jobs`)."""

from __future__ import annotations

import itertools
import os
import re
import socket
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import classad2
import htcondor2

from condorexec.errors import MaxJobsExceeded, SubmitDescriptionError
from condorexec.submit.expand import _Expander
from condorexec.submit.factory import Factory, factory_of
from condorexec.submit.jobad import _CONSTANT, STANDARD_REQUESTS, _Context, _job_attrs
from condorexec.submit.queue import Row, queue_rows
from condorexec.submit.values import _Getter, _s

#: how many distinct ad bodies plan_jobs remembers; procs that share their per-proc values share one
_MEMO_BODIES = 1024


@dataclass
class JobPlan:
    """How many jobs a description makes, and their ads, made one at a time as they are read (a
    ``queue 100000000`` is counted at once and streamed, never held in memory whole).

    ``distinct`` is a second, independent stream with one ad for each different proc body (procs that
    differ only in ProcId share one): checking those checks every proc, at a cost that does not grow
    with the count when the procs do not differ. It may repeat a body (what it remembers is bounded).
    None (a plan made without one) means: check ``ads``, every proc.
    ``factory`` says whether the description asks for late materialization (:func:`factory_of`)."""

    count: int
    ads: Iterator[classad2.ClassAd]
    distinct: Iterator[classad2.ClassAd] | None = None
    factory: Factory | None = None


def wants_factory(description: htcondor2.Submit) -> bool:
    """Whether the description itself asks for late materialization (condor_submit's
    ``want_factory_submit``); an invalid limit is condor_submit's error."""
    expander, live = _Expander(description, (), 0), dict[str, str]()
    return factory_of(lambda key: expander.get(key, live), 1) is not None


def ads_to_check(plan: JobPlan) -> Iterator[classad2.ClassAd]:
    """The ads to check before ``plan`` is submitted: each different proc once; for a factory only the
    first, as condor_submit makes only the cluster ad from proc 0 (the schedd makes, and so checks, each
    later proc as it materializes it), which keeps a ``queue 1000000`` of distinct procs cheap."""
    every = plan.ads if plan.distinct is None else plan.distinct
    return itertools.islice(every, 1) if plan.factory is not None else every


def expand_jobs(description: htcondor2.Submit, **options) -> list[classad2.ClassAd]:
    """Every job ad ``Schedd.submit`` would create, in a list (see :func:`plan_jobs`)."""
    return list(plan_jobs(description, **options).ads)


def statement_rows(description: htcondor2.Submit, submit_dir: str, *, cluster_id: int = 0,
                   count: int = 0) -> tuple[list[Row], list[str], int]:
    """The items (rows), item variable names and per-item count of the description's own queue
    statement, its macros expanded first as condor_submit does (``queue $(N)``)."""
    qargs = description.getQArgs() or ""
    if "$" in qargs and not qargs.rstrip().endswith("("):
        qargs = _Expander(description, (), cluster_id).expand_text(qargs)
    return queue_rows(description, qargs, os.path.abspath(submit_dir), count)


def plan_jobs(description: htcondor2.Submit, *, cluster_id: int, submit_dir: str, owner: str, qdate: int,
              itemdata: Sequence[Mapping[str, str]] | None = None, count: int = 0,
              first_proc: int = 0, max_jobs: int | None = None, force_factory: bool = False) -> JobPlan:
    """The job ads ``Schedd.submit(description, count=count, itemdata=itemdata)`` would create.

    With ``itemdata``, one proc per row, ``count`` (default 1) times each, and the description's own
    queue statement is ignored; without it, the queue statement decides and a non-zero ``count``
    replaces its count. Relative paths resolve against ``submit_dir`` (and ``initialdir``).
    More than ``max_jobs`` jobs is :class:`MaxJobsExceeded`, found by counting, before any ad is made.
    What is wrong with the description as a whole is raised here; what is wrong with one proc's values,
    when its ad is made. ``force_factory``: a late-materialization plan even without ``max_materialize``
    or ``max_idle`` (condor_submit ``-factory``)."""
    if count < 0:
        raise SubmitDescriptionError(f"count = {count}: must not be negative")
    submit_dir = os.path.abspath(submit_dir)
    if itemdata is not None:
        rows, names = _rows_from_itemdata(itemdata)
        per_row = count or 1
    else:
        rows, names, per_row = statement_rows(description, submit_dir, cluster_id=cluster_id, count=count)
    if max_jobs is not None and len(rows) * per_row > max_jobs:
        raise MaxJobsExceeded(max_jobs, len(rows) * per_row)
    for row in rows:
        for k, v in row.values.items():
            if "\n" in v or "\r" in v:
                raise SubmitDescriptionError(f"item {row.index}: value of {k} contains a newline: {v!r}")

    expander = _Expander(description, names, cluster_id)
    custom: list[tuple[str, str]] = []
    for key in expander.keys():
        low = key.lower()
        if low.startswith("my.") or low.startswith("+"):
            name = key.split(".", 1)[1] if low.startswith("my.") else key[1:]
            if not re.fullmatch(r"[A-Za-z_]\w*", name):
                raise SubmitDescriptionError(f"{key}: invalid attribute name {name!r}")
            custom.append((name, key))
    requests = tuple(key[len("request_"):] for key in expander.keys() if key.lower().startswith("request_")
                     and key[len("request_"):].lower() not in STANDARD_REQUESTS
                     and re.fullmatch(r"[A-Za-z_]\w*", key[len("request_"):]))
    ctx = _Context(submit_dir, owner, cluster_id, qdate, filesystem_domain(), custom_requests=requests)
    common = {"ClusterId": str(cluster_id), "Owner": _s(owner), "QDate": str(int(qdate)),
              "EnteredCurrentStatus": str(int(qdate)), **_CONSTANT}
    # item variables too: one named as a command ('queue request_memory in (...)') is that command
    commands = {k.lower() for k in expander.keys()}
    proc_keys = tuple(k for k in expander.keys() if expander.is_per_proc(k)) + tuple(
        n for n in names if n.lower() not in commands)

    cluster_attrs: dict[str, str] = {}

    memo: dict[tuple[str | None, ...], str] = {}

    def procs() -> Iterator[tuple[int, tuple[str | None, ...], _Getter]]:
        """Each proc's id, the values of its per-proc keys and its getter, in ProcId order."""
        proc = first_proc
        for row in rows:
            for step in range(per_row):
                live = {"process": str(proc), "procid": str(proc), "step": str(step), "row": str(row.index),
                        "itemindex": str(row.index), "node": "", "jobid": f"{cluster_id}.{proc}"}
                for n in names:
                    live[n.lower()] = row.values.get(n, "")

                def get(key: str, _live: Mapping[str, str] = live) -> str | None:
                    return expander.get(key, _live)

                yield proc, tuple(get(k) for k in proc_keys), get
                proc += 1

    def body(proc: int, signature: tuple[str | None, ...], get: _Getter) -> str:
        text = memo.get(signature)
        if text is None:
            attrs = {**common, **_job_attrs(get, ctx, custom)}
            if proc == 0:
                ctx.cluster_exe_kb = int(attrs["ExecutableSize"])
                cluster_attrs.update(attrs)
            else:  # a proc's ad is chained to proc 0's (the cluster ad): what it lacks, it inherits
                if attrs.get("Arguments") == '""':  # empty arguments set nothing in a later proc: it
                    del attrs["Arguments"]          # keeps proc 0's (condor_submit, corpus c106)
                attrs = {**cluster_attrs, **attrs}
            text = ";".join(f"{k}={v}" for k, v in attrs.items())
            if len(memo) >= _MEMO_BODIES:  # procs that all differ ($(Process) in a command)
                memo.clear()
            memo[signature] = text
        return text

    def ads() -> Iterator[classad2.ClassAd]:
        for proc, signature, get in procs():
            yield classad2.ClassAd(f"[{body(proc, signature, get)};ProcId={proc}]")

    def distinct() -> Iterator[classad2.ClassAd]:
        if not proc_keys:  # no command depends on the proc: every proc is the first one
            for proc, signature, get in itertools.islice(procs(), 1):
                yield classad2.ClassAd(f"[{body(proc, signature, get)};ProcId={proc}]")
            return
        seen: set[tuple[str | None, ...]] = set()
        for proc, signature, get in procs():
            if signature not in seen:
                if len(seen) >= _MEMO_BODIES:
                    seen.clear()
                seen.add(signature)
                yield classad2.ClassAd(f"[{body(proc, signature, get)};ProcId={proc}]")

    total = len(rows) * per_row
    stream = ads()
    first = next(stream, None)  # the first proc's errors are the description's: raise them here
    empty: dict[str, str] = {}
    factory = factory_of(lambda key: expander.get(key, empty), total, forced=force_factory)
    return JobPlan(total, itertools.chain([] if first is None else [first], stream), distinct(), factory)


def filesystem_domain() -> str:
    """The FileSystemDomain condor_submit writes: HTCondor's FILESYSTEM_DOMAIN (by default its full host
    name), the host's name only where no HTCondor configuration gives one."""
    return htcondor2.param.get("FILESYSTEM_DOMAIN") or socket.getfqdn()


def _rows_from_itemdata(itemdata: Sequence[Mapping[str, str]]) -> tuple[list[Row], list[str]]:
    """Rows as Schedd.submit takes them: the first row's keys name the variables; values trimmed."""
    rows: list[Row] = []
    names: list[str] = []
    for i, item in enumerate(itemdata):
        if not isinstance(item, Mapping):
            raise SubmitDescriptionError(f"itemdata row {i} is a {type(item).__name__}, not a mapping")
        if i == 0:
            names = list(item.keys())
            for n in names:
                if not isinstance(n, str) or not re.fullmatch(r"[A-Za-z_]\w*", n):
                    raise SubmitDescriptionError(f"itemdata key {n!r} is not a valid submit variable name")
        values = {}
        for n in names:
            v = item.get(n, "")
            if not isinstance(v, str):
                raise SubmitDescriptionError(f"itemdata row {i}: value of {n} is {type(v).__name__}, not str")
            if "\n" in v or "\r" in v or "\x1f" in v:
                raise SubmitDescriptionError(f"itemdata row {i}: value of {n} contains a newline: {v!r}")
            values[n] = v.strip()
        rows.append(Row(i, values))
    return rows, names
