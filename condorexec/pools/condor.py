"""The HTCondor pool: condorexec's Pool interface over a real schedd, through htcondor2.

Every call into the bindings goes through :class:`CondorBindings`, a deliberately thin seam that
holds the ``Schedd`` and ``Collector`` objects and does nothing but forward. Everything with a
decision in it (validating job specs and item data, converting units, wrapping errors) lives in
:class:`CondorPool`, so unit tests replace only the seam with a recording fake and still exercise
all of our logic, while the live tests in ``tests/condor`` prove the seam against a real schedd.

Facts the bindings do not advertise but this module relies on (htcondor2 25.x):

- ``Schedd.submit(itemdata=...)`` takes an *iterator* (it calls ``next()`` on it) of plain ``dict``
  rows and reads only the first row's keys: a later row missing a key silently gets ``""`` and extra
  keys are dropped, so rows are checked here to all have the same keys.
- ``Schedd.history(since="123")`` does not treat a bare number as a ClusterId (a digits-only string
  is passed on as the ClassAd expression ``123``); an int is, so such strings are converted.
- The bindings hold the GIL while they wait on the network (up to ``QUERY_TIMEOUT``, 60 s), so a
  hung daemon cannot be timed out from another thread; :mod:`condorexec.pools.select` probes in a
  child process instead.
"""

from __future__ import annotations

import contextlib
import getpass
import math
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import classad2
import htcondor2

from condorexec.condorfacts import SCHEDD_JOB_START_SECONDS, job_constraint, starter_update_interval
from condorexec.errors import CondorexecError
from condorexec.pools.base import Machine, Pool, PoolProfile, SubmitResult
from condorexec.pools.scheddretry import Retrier, ScheddAway, retry_seconds_from_env

#: what describe_machines asks the collector for, per partitionable slot
MACHINE_PROJECTION = ["Machine", "Name", "TotalSlotCpus", "TotalSlotMemory", "TotalSlotDisk", "TotalSlotGPUs"]

#: rows per submit call callers should stay under: the bindings build the submit text by repeated
#: string concatenation, so one call's client-side cost grows with the square of its rows
#: (measured: 1,000 rows 3 ms, 10,000 rows 1.3 s, 40,000 rows 13 s; tests/bench/submit_scale.py)
RECOMMENDED_ROWS_PER_SUBMIT = 1000

#: ``retry_request_memory`` appeared in HTCondor 25.2.1 (see docs/design.md §3)
RETRY_REQUEST_MEMORY_SINCE = (25, 2, 1)

#: the job attribute each submit is tagged with (a fresh id per call), so that a submit retried after
#: a schedd restart first asks whether the schedd had already queued it (its answer lost on the way)
SUBMIT_ID_ATTR = "CondorexecSubmitId"

_JOB_ID = re.compile(r"\d+(\.\d+)?")
_PROC_ID = re.compile(r"\d+\.\d+")
_SUBMIT_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VERSION = re.compile(r"\$CondorVersion:\s*(\d+)\.(\d+)\.(\d+)")


class CondorPoolError(CondorexecError, RuntimeError):
    """A call to the HTCondor bindings failed; says which call, against which schedd, and why."""

    def __init__(self, call: str, schedd: str, cause: BaseException | str):
        self.call, self.schedd, self.cause = call, schedd, cause
        detail = cause if isinstance(cause, (str, ScheddAway)) else f"{type(cause).__name__}: {cause}"
        super().__init__(f"HTCondor {call} failed (schedd {schedd}): {detail}")


class CondorBindings:
    """The seam: the only code that touches ``htcondor2.Schedd``/``Collector`` objects.

    Kept free of logic on purpose, so a recording fake with the same methods is a faithful
    stand-in in unit tests. ``schedd``/``collector`` mean what condor_submit's ``-name``/``-pool`` do.
    """

    def __init__(self, schedd: str | None = None, collector: str | None = None):
        self.collector = htcondor2.Collector(collector)
        self._schedd_name, self._collector_name = schedd, collector
        #: the schedd's location ad: Name, MyAddress, CondorVersion, ...
        self.location: classad2.ClassAd = self._locate()
        self.schedd = htcondor2.Schedd(self.location)

    def _locate(self) -> classad2.ClassAd:
        schedd, collector = self._schedd_name, self._collector_name
        if schedd is None and collector is None:
            location = self.collector.locate(htcondor2.DaemonTypes.Schedd)
        else:
            location = self.collector.locate(htcondor2.DaemonTypes.Schedd, schedd)
        if location is None:
            where = f"collector {collector}" if collector else "the configured collector"
            raise LookupError(f"no schedd {'named ' + repr(schedd) + ' ' if schedd else ''}known to {where}")
        return location

    def relocate(self) -> None:
        """Ask the collector again where the schedd is (a restarted schedd may listen elsewhere)."""
        self.location = self._locate()
        self.schedd = htcondor2.Schedd(self.location)

    def ping(self) -> None:
        """The cheapest question a schedd must answer itself: a query that matches no job."""
        self.schedd.query("false", ["ClusterId"], limit=1)

    def submit(self, description: htcondor2.Submit, count: int, itemdata: Iterator[dict] | None):
        if itemdata is None:
            return self.schedd.submit(description, count=count)
        return self.schedd.submit(description, count=count, itemdata=itemdata)

    def submit_spooled(self, description: htcondor2.Submit, count: int, itemdata: Iterator[dict] | None):
        if itemdata is None:
            return self.schedd.submit(description, count=count, spool=True)
        return self.schedd.submit(description, count=count, itemdata=itemdata, spool=True)

    def spool(self, result) -> None:
        self.schedd.spool(result)

    def retrieve(self, job_spec: str) -> None:
        self.schedd.retrieve(job_spec)

    def query(self, constraint: str, projection: list[str]) -> list[classad2.ClassAd]:
        return self.schedd.query(constraint, projection)

    def query_with_cluster_ads(self, constraint: str, projection: list[str]) -> list[classad2.ClassAd]:
        return self.schedd.query(constraint, projection, opts=htcondor2.QueryOpt.IncludeClusterAd)

    def history(self, constraint: str, projection: list[str], match: int, since: int | str | None):
        return self.schedd.history(constraint, projection, match, since)

    def act(self, action: htcondor2.JobAction, job_spec: str | list[str]) -> classad2.ClassAd:
        return self.schedd.act(action, job_spec)

    def edit(self, job_spec: str | list[str], attr: str, value: str) -> int:
        return self.schedd.edit(job_spec, attr, value)

    def startd_ads(self, constraint: str, projection: list[str]) -> list[classad2.ClassAd]:
        return self.collector.query(htcondor2.AdTypes.Startd, constraint=constraint, projection=projection)


def _with_accounting_user(description: htcondor2.Submit) -> htcondor2.Submit:
    """condor_submit fills in the accounting user for ``nice_user``/``accounting_group``; the bindings'
    ``Schedd.submit`` leaves it empty (AccountingGroup "nice-user.", every user's jobs charged to one
    nameless user — found comparing the schedd's ads of both). Do what condor_submit does."""
    keys = {k.lower() for k in description.keys()}
    # AccountingGroup: the attribute's name works as the command too (corpus c104)
    if "accounting_group_user" in keys or not ({"nice_user", "accounting_group", "accountinggroup"} & keys):
        return description
    copy = htcondor2.Submit(str(description))
    copy.setSubmitMethod(description.getSubmitMethod(), allow_reserved_values=True)
    copy["accounting_group_user"] = getpass.getuser()
    return copy


#: seconds between reads of the job event log when nothing wakes the reader (the schedd cannot)
EVENT_POLL_INTERVAL = 1.0
#: seconds between the label poller's history queries (each is a schedd round trip)
HISTORY_POLL_INTERVAL = 10.0


def history_source_of(location: classad2.ClassAd, fallback: str) -> str:
    """The id of the history a schedd's finished jobs go to: ``condor:<schedd Name>``, from the schedd's
    own location ad, so every way of reaching one schedd (its default, ``-name``, a collector) names
    one history; ``fallback`` only for an ad without a Name (then MyAddress, if any)."""
    name = location.get("Name") or location.get("MyAddress") or fallback
    return f"condor:{name}"


class CondorPool(Pool):
    """A Pool backed by an HTCondor schedd (``schedd`` like ``-name``, ``collector`` like ``-pool``).

    Every call into the schedd rides out a schedd restart (condorexec/pools/scheddretry.py): it is
    retried, logged, while the schedd answers with connection errors, for up to ``retry_seconds``
    (default ``$CONDOREXEC_SCHEDD_RETRY_SECONDS`` or 300; 0 turns it off)."""

    def __init__(self, schedd: str | None = None, collector: str | None = None, *,
                 bindings: CondorBindings | None = None, retry_seconds: float | None = None):
        super().__init__()
        if retry_seconds is None:
            retry_seconds = retry_seconds_from_env()
        elif isinstance(retry_seconds, bool) or not isinstance(retry_seconds, (int, float)) \
                or math.isnan(retry_seconds) or retry_seconds < 0:
            raise ValueError(f"retry_seconds must be a number of seconds >= 0, got {retry_seconds!r}")
        self.schedd_name, self.collector_address = schedd, collector
        where = schedd or "(local)"
        if bindings is None:
            try:
                bindings = CondorBindings(schedd, collector)
            except Exception as exc:  # the bindings raise HTCondorException, LookupError, ...
                at = f" via collector {collector}" if collector else ""
                raise CondorPoolError("locate schedd", where + at, exc) from exc
        self._b = bindings
        location = bindings.location
        self.schedd_label = f"{location.get('Name', where)} at {location.get('MyAddress', '?')}"
        self._retrier = Retrier(self.schedd_label, float(retry_seconds))
        self._profile = PoolProfile(
            name="condor", event_poll_interval=EVENT_POLL_INTERVAL, history_poll_interval=HISTORY_POLL_INTERVAL,
            history_source=history_source_of(location, where), fast_launch=False, in_process=False,
            tune_switch_interval=False, worker_mailbox="chirp", job_start_seconds=SCHEDD_JOB_START_SECONDS,
            usage_report_seconds=starter_update_interval(htcondor2.param))

    @property
    def profile(self) -> PoolProfile:
        return self._profile

    @property
    def where(self) -> str:
        return f"Schedd: {self.schedd_label}"

    # -- submit ---------------------------------------------------------------------------------

    def submit(
        self,
        description: htcondor2.Submit,
        itemdata: Sequence[Mapping[str, str]] | None = None,
        count: int = 0,
        *,
        spool: bool = False,
    ) -> SubmitResult:
        """One cluster: with ``itemdata`` one proc per row (times ``count``); else the description's
        own queue statement (``count`` overrides its number when non-zero).

        ``spool``: what condor_submit -spool does. The schedd queues the jobs held ("Spooling input data
        files", code 16), the input files are uploaded to its SPOOL (``Schedd.spool``), and the schedd
        releases them; their outputs stay in SPOOL (the job stays in the queue, ``LeaveJobInQueue``)
        until :meth:`retrieve`. If the upload fails the held cluster is removed — nothing could ever
        release it — and the error says why."""
        if not isinstance(description, htcondor2.Submit):
            raise TypeError(f"description must be an htcondor2.Submit, not {type(description).__name__}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"count must be a non-negative int, got {count!r}")
        if not isinstance(spool, bool):
            raise ValueError(f"spool must be True or False, got {spool!r}")
        rows = None if itemdata is None else _checked_rows(itemdata)
        token = uuid.uuid4().hex
        call = self._b.submit_spooled if spool else self._b.submit
        with _tagged(_with_accounting_user(description), token) as tagged:
            result = self._call("submit", lambda: call(tagged, count, None if rows is None else iter(rows)),
                                already_done=lambda: self._submitted_before(token, spool))
        if isinstance(result, SubmitResult):
            return result  # queued by an attempt whose answer was lost
        submitted = SubmitResult(cluster=int(result.cluster()), first_proc=int(result.first_proc()),
                                 num_procs=int(result.num_procs()))
        if spool:
            try:
                self._call("spool", lambda: self._b.spool(result))
            except CondorPoolError:
                with contextlib.suppress(CondorPoolError):
                    self.act(htcondor2.JobAction.Remove, job_constraint(str(submitted.cluster)))
                raise
        return submitted

    def _submitted_before(self, token: str, spool: bool) -> SubmitResult | None:
        """Before a submit is tried again: the cluster an earlier attempt queued, if the schedd has it.

        A spooled one is removed instead (None): its input upload needs the lost answer, and a held
        cluster waiting for an upload that never comes would stay forever."""
        constraint = f'{SUBMIT_ID_ATTR} == "{token}"'
        ads = self._b.query_with_cluster_ads(constraint, ["ClusterId", "ProcId", "TotalSubmitProcs"])
        if not ads:
            return None
        if spool:
            self._b.act(htcondor2.JobAction.Remove, constraint)
            return None
        # a new cluster's procs start at 0; its cluster ad counts them all, also those a factory has yet to make
        cluster_ads = [ad for ad in ads if "ProcId" not in ad]
        total = cluster_ads[0].get("TotalSubmitProcs") if cluster_ads else None
        procs = int(total) if total is not None else sum(1 for ad in ads if "ProcId" in ad)
        return SubmitResult(cluster=int(ads[0]["ClusterId"]), first_proc=0, num_procs=procs)

    def retrieve(self, job_spec: str | Iterable[str]) -> None:
        """``Schedd.retrieve``: fetch the spooled output of the selected jobs into their submitters'
        directories (condor_transfer_data). ``job_spec``: a constraint, or ``"C"``/``"C.P"`` ids."""
        spec = _checked_job_spec(job_spec)
        if isinstance(spec, list) or _JOB_ID.fullmatch(spec):
            ids = spec if isinstance(spec, list) else [spec]
            spec = " || ".join(f"({job_constraint(i)})" for i in ids)
        self._call("retrieve", lambda: self._b.retrieve(spec))

    # -- queue and history ------------------------------------------------------------------------

    def query(self, constraint: str = "true", projection: Sequence[str] = ()) -> list[classad2.ClassAd]:
        constraint = _checked_expr("constraint", constraint)
        projection = _checked_projection(projection)
        return self._call("query", lambda: self._b.query(constraint, projection))

    def history(
        self,
        constraint: str = "true",
        projection: Sequence[str] = (),
        match: int = -1,
        since: int | str | None = None,
    ) -> Iterator[classad2.ClassAd]:
        constraint = _checked_expr("constraint", constraint)
        if isinstance(match, bool) or not isinstance(match, int):
            raise ValueError(f"match must be an int (-1 for all), got {match!r}")
        since = _checked_since(since)
        projection = _checked_projection(projection)
        return iter(self._call("history", lambda: list(self._b.history(constraint, projection, match, since))))

    # -- changing jobs --------------------------------------------------------------------------

    def act(self, action: htcondor2.JobAction, job_spec: str | Iterable[str]) -> None:
        if not isinstance(action, htcondor2.JobAction):
            raise ValueError(f"action must be an htcondor2.JobAction, got {action!r}")
        spec = _checked_job_spec(job_spec)
        self._call(f"act({action.name})", lambda: self._b.act(action, spec))

    def edit(self, job_spec: str | Iterable[str], attr: str, value: str) -> None:
        if not isinstance(attr, str) or not _SUBMIT_VAR.fullmatch(attr):
            raise ValueError(f"attr must be a ClassAd attribute name, got {attr!r}")
        value = _checked_expr("value", value)
        spec = _checked_job_spec(job_spec)
        self._call(f"edit({attr})", lambda: self._b.edit(spec, attr, value))

    # -- the pool's shape -----------------------------------------------------------------------

    def describe_machines(self) -> list[Machine]:
        """One entry per partitionable slot, largest first.

        A job lands in exactly one partitionable slot, so a machine configured with several
        (how a heterogeneous pool is emulated on one host) shows as several nodes: named by the
        slot's ``Name`` then, by ``Machine`` when the host has only one."""
        ads = self._call("Collector.query(Startd)",
                         lambda: self._b.startd_ads("PartitionableSlot", list(MACHINE_PROJECTION)))
        per_host: dict[str, int] = {}
        for ad in ads:
            host = str(ad.get("Machine", ad.get("Name", "?")))
            per_host[host] = per_host.get(host, 0) + 1
        machines = []
        for ad in ads:
            host = str(ad.get("Machine", ad.get("Name", "?")))
            name = host if per_host[host] == 1 else str(ad.get("Name", host))
            machines.append(Machine(
                name=name,
                cores=int(_number(ad, "TotalSlotCpus")),
                memory=int(_number(ad, "TotalSlotMemory")),          # MiB already
                disk=int(_number(ad, "TotalSlotDisk") // 1024),       # KiB -> MiB
                gpus=int(_number(ad, "TotalSlotGPUs")),
            ))
        return sorted(machines, key=lambda m: (*m.resources.ordering_key(), m.name), reverse=True)

    def condor_version(self) -> str:
        """The schedd's ``CondorVersion`` string (``$CondorVersion: 25.14.0 ... $``)."""
        return str(self._b.location.get("CondorVersion", ""))

    def version_tuple(self) -> tuple[int, int, int]:
        """The schedd's version as numbers; (0, 0, 0) when it does not say."""
        return parse_condor_version(self.condor_version())

    def supports_retry_request_memory(self) -> bool:
        """Whether the schedd understands ``retry_request_memory`` (HTCondor 25.2.1+)."""
        return self.version_tuple() >= RETRY_REQUEST_MEMORY_SINCE

    # -- plumbing -------------------------------------------------------------------------------

    def _call(self, what: str, attempt: Callable[[], Any], already_done: Callable[[], Any] | None = None):
        """One call into the bindings, retried across a schedd restart; any failure as a CondorPoolError."""
        try:
            return self._retrier.run(what, attempt, already_done, between=self._relocate)
        except ScheddAway as exc:
            raise CondorPoolError(what, self.schedd_label, exc) from exc.cause
        except Exception as exc:  # HTCondorException, ClassAdException, or the binding's own checks
            raise CondorPoolError(what, self.schedd_label, exc) from exc

    def _relocate(self) -> None:
        """Between attempts: a restarted schedd may have a new address (without a shared port)."""
        relocate = getattr(self._b, "relocate", None)
        if relocate is not None:
            with contextlib.suppress(Exception):  # the collector may not know yet; the next attempt says
                relocate()

    def __repr__(self) -> str:
        return f"CondorPool(schedd={self.schedd_label!r})"


@contextlib.contextmanager
def _tagged(description: htcondor2.Submit, token: str) -> Iterator[htcondor2.Submit]:
    """``description`` whose jobs carry ``SUBMIT_ID_ATTR = token`` (a hex id: nothing to escape) while the
    block runs. The caller's object is tagged in place, not copied: ``str(d)`` and ``d.getQArgs()`` cut a
    multi-line inline item list (``queue x in (`` ... ``)``) after its first line, so a copy would not
    submit (seen in the CLI's live comparison with condor_submit). Submit keys cannot be removed:
    afterwards the tag is "" — a job submitted from the object again by other code gets the attribute
    as ``undefined``, and CondorPool.submit sets a fresh one."""
    key = f"MY.{SUBMIT_ID_ATTR}"
    description[key] = f'"{token}"'
    try:
        yield description
    finally:
        description[key] = ""


def parse_condor_version(text: str) -> tuple[int, int, int]:
    """``"$CondorVersion: 25.14.0 2026-11-26 ... $"`` -> ``(25, 14, 0)``; (0, 0, 0) if unparseable."""
    m = _VERSION.search(text or "")
    return (int(m[1]), int(m[2]), int(m[3])) if m else (0, 0, 0)


def _number(ad: classad2.ClassAd, attr: str) -> float:
    value = ad.get(attr, 0)
    if isinstance(value, classad2.ExprTree):
        value = value.eval(ad)
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _checked_rows(itemdata: Iterable[Mapping[str, str]]) -> list[dict[str, str]]:
    """Plain dicts with identical keys and single-line string values, as the bindings need."""
    if isinstance(itemdata, (str, bytes, Mapping)):
        raise ValueError(f"itemdata must be a sequence of mappings (rows), got {type(itemdata).__name__}")
    rows: list[dict[str, str]] = []
    keys: list[str] | None = None
    for i, row in enumerate(itemdata):
        if not isinstance(row, Mapping):
            raise ValueError(f"itemdata[{i}] must be a mapping of submit variables, got {row!r}")
        if keys is None:
            keys = list(row)
            if not keys:
                raise ValueError("itemdata[0] has no variables")
            for k in keys:
                if not isinstance(k, str) or not _SUBMIT_VAR.fullmatch(k):
                    raise ValueError(f"itemdata[0] key {k!r} is not a submit variable name")
        elif set(row) != set(keys):
            raise ValueError(f"itemdata[{i}] has keys {sorted(row)}, but itemdata[0] has {sorted(keys)}: "
                             "every row must set the same variables")
        for k, v in row.items():
            if not isinstance(v, str):
                raise ValueError(f"itemdata[{i}][{k!r}] must be a str, got {v!r}")
            if "\n" in v or "\x1f" in v:
                raise ValueError(f"itemdata[{i}][{k!r}] = {v!r} contains a newline or unit separator")
        first = str(row[keys[0]]).lstrip()
        if first.startswith(("#", ")")):  # the bindings write each row as one line of an inline list
            raise ValueError(f"itemdata[{i}][{keys[0]!r}] = {first!r}: a row whose first value starts with "
                             "'#' or ')' would be read as a comment or as the end of the item list")
        rows.append(dict(row))
    if not rows:
        raise ValueError("itemdata is empty: pass None to use the description's own queue statement")
    return rows


def _checked_expr(field: str, expr: str) -> str:
    if not isinstance(expr, str) or not expr.strip():
        raise ValueError(f"{field} must be a non-empty ClassAd expression string, got {expr!r}")
    try:
        classad2.ExprTree(expr)
    except Exception as exc:
        raise ValueError(f"{field} {expr!r} is not a valid ClassAd expression: {exc}") from exc
    return expr


def _checked_projection(projection: Sequence[str]) -> list[str]:
    if isinstance(projection, str):
        raise ValueError(f"projection must be a list of attribute names, got the string {projection!r}")
    out = list(projection)
    for attr in out:
        if not isinstance(attr, str) or not _SUBMIT_VAR.fullmatch(attr):
            raise ValueError(f"projection entry {attr!r} is not a ClassAd attribute name")
    return out


def _checked_since(since: int | str | None) -> int | str | None:
    if since is None:
        return None
    if isinstance(since, bool) or not isinstance(since, (int, str)):
        raise ValueError(f"since must be a ClusterId int, a 'C.P' job id or an expression, got {since!r}")
    if isinstance(since, int):
        if since < 0:
            raise ValueError(f"since must be a non-negative ClusterId, got {since!r}")
        return since
    text = since.strip()
    if text.isdigit():
        return int(text)  # the bindings would read a bare number as an (always true) expression
    if _PROC_ID.fullmatch(text):
        return text
    return _checked_expr("since", text)


def _checked_job_spec(job_spec: str | Iterable[str]) -> str | list[str]:
    """A constraint string, one ``"C"``/``"C.P"`` id, or a non-empty list of such ids."""
    if isinstance(job_spec, str):
        if _JOB_ID.fullmatch(job_spec.strip()):
            return job_spec.strip()
        return _checked_expr("job_spec", job_spec)
    ids = list(job_spec)
    if not ids:
        raise ValueError("job_spec is an empty list of job ids: nothing to act on")
    for jid in ids:
        if not isinstance(jid, str) or not _JOB_ID.fullmatch(jid):
            raise ValueError(f"job_spec entry {jid!r} is not a 'ClusterId.ProcId' job id")
    return ids
