"""What HTCondor means by its numbers, in one place (docs/design.md §3).

Job states, hold codes and the event types condorexec reacts to are HTCondor's own facts; every
module that needs one imports it from here, so the executor, the label poller, the local pool and the
CLI cannot disagree about, say, which hold means "out of memory". The ClassAd expressions condorexec
writes into jobs are built here too, as pure functions tested on their text.

Sources: ``src/condor_utils/condor_holdcodes.h`` (``CONDOR_HOLD_CODE``, ``OUT_OF_RESOURCES_SUB_CODE``)
and ``src/condor_utils/param_info.in`` (the ``POLICY:HOLD_IF_*_EXCEEDED`` metaknobs) in
``htcondor/htcondor``; ``docs/codes-other-values/hold-reason-codes.rst``.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

import classad2
import htcondor2

# re-exported: code written before names.py and resources.py imports these from here
from condorexec.names import LEASE_ATTR as LEASE_ATTR
from condorexec.names import RUN_ATTR as RUN_ATTR
from condorexec.resources import Resource as Resource  # what a hold can say a job ran out of (docs/design.md §3)

#: JobStatus as HTCondor numbers it (1 idle ... 7 suspended); htcondor2's own enum.
JobStatus = htcondor2.JobStatus


class HoldCode(enum.IntEnum):
    """The ``HoldReasonCode`` values condorexec reads or writes (``CONDOR_HOLD_CODE``)."""

    USER_REQUEST = 1
    JOB_POLICY = 3
    FAILED_TO_CREATE_PROCESS = 6
    TRANSFER_OUTPUT_ERROR = 12
    TRANSFER_INPUT_ERROR = 13
    #: ``hold = true`` in the submit description
    SUBMITTED_ON_HOLD = 15
    #: the startd's WANT_HOLD, which the ``POLICY:HOLD_IF_*_EXCEEDED`` metaknobs set
    STARTD_HELD_JOB = 21
    #: an administrator's ``SYSTEM_PERIODIC_HOLD``: only its reason text says why
    SYSTEM_POLICY = 26
    #: the starter's own enforcement (cgroup out-of-memory, disk limits)
    JOB_OUT_OF_RESOURCES = 34
    JOB_DURATION_EXCEEDED = 46


class HoldSubCode(enum.IntEnum):
    """Subcodes that name the exhausted resource.

    With code 34 the starter sets 102/104 (``OUT_OF_RESOURCES_SUB_CODE``, from 24.0.12; 0 before).
    With code 21 the ``POLICY:HOLD_IF_CPUS/MEMORY/DISK_EXCEEDED`` metaknobs set 101/102/104 by default
    (``HOLD_SUBCODE_*_EXCEEDED``, which an administrator may change)."""

    UNSPECIFIED = 0
    CPUS = 101
    MEMORY = 102
    DISK = 104


class Universe(enum.IntEnum):
    """``JobUniverse`` values (``CONDOR_UNIVERSE`` in ``src/condor_includes/condor_universe.h``);
    docker and container jobs are vanilla-universe jobs with an image."""

    VANILLA = 5
    SCHEDULER = 7
    GRID = 9
    JAVA = 10
    PARALLEL = 11
    LOCAL = 12
    VM = 13


_BY_SUBCODE: dict[int, Resource] = {HoldSubCode.CPUS: "cores", HoldSubCode.MEMORY: "memory",
                                    HoldSubCode.DISK: "disk"}


def _resource_in_text(reason: str) -> Resource | None:
    text = reason.lower()
    if "memory" in text:
        return "memory"
    if "disk" in text:
        return "disk"
    if "cpu" in text or "core" in text:
        return "cores"
    return None


def classify_hold(code: int | float | None, subcode: int | float | None, reason: str = "") -> Resource | None:
    """The resource a hold says the job ran out of, or None for a hold of any other kind.

    - 34 (the starter): 102 memory, 104 disk; another subcode (0 before 24.0.12) is memory unless the
      reason says disk — the starter holds with 34 only for exhausted resources.
    - 21 (the startd's policy): the subcode the HOLD_IF_*_EXCEEDED metaknobs set (101/102/104); any
      other subcode is a policy condorexec knows nothing about.
    - 26 (an administrator's SYSTEM_PERIODIC_HOLD): only the reason text tells.
    Every other code (the user's hold, transfer errors, ...) is not an exhaustion."""
    if code is None:
        return None
    sub = int(subcode) if subcode is not None else HoldSubCode.UNSPECIFIED
    if code == HoldCode.JOB_OUT_OF_RESOURCES:
        if sub in (HoldSubCode.MEMORY, HoldSubCode.DISK):
            return _BY_SUBCODE[sub]
        return "disk" if _resource_in_text(reason) == "disk" else "memory"
    if code == HoldCode.STARTD_HELD_JOB:
        return _BY_SUBCODE.get(sub)
    if code == HoldCode.SYSTEM_POLICY:
        return _resource_in_text(reason)
    return None


class Transition(enum.Enum):
    """What an event in a job's event log means for the call it runs."""

    RUNNING = "running"
    TERMINATED = "terminated"
    HELD = "held"
    ABORTED = "aborted"
    REQUEUED = "requeued"  # evicted or released: back to idle, will run again
    USAGE = "usage"  # still running; the shadow (or the local pool) reports its memory so far


ET = htcondor2.JobEventType

#: HTCondor's default seconds between a starter's updates of a running job (its usage among them)
STARTER_UPDATE_INTERVAL_S = 300


def starter_update_interval(config: Mapping[str, str]) -> float:
    """STARTER_UPDATE_INTERVAL from a configuration (``htcondor2.param``), or HTCondor's default. The
    execute nodes' configuration may differ from the submit side's; this is the submitter's best guess."""
    try:
        seconds = float(config.get("STARTER_UPDATE_INTERVAL", STARTER_UPDATE_INTERVAL_S))
    except (TypeError, ValueError):
        return float(STARTER_UPDATE_INTERVAL_S)
    return seconds if seconds >= 1 else float(STARTER_UPDATE_INTERVAL_S)


#: the event types condorexec acts on; all others (file transfer, ...) change nothing. IMAGE_SIZE: the
#: shadow logs one whenever a starter update changes the job's measured memory (the first update
#: comes STARTER_INITIAL_UPDATE_INTERVAL, 8 s by default, after the start, then one every
#: STARTER_UPDATE_INTERVAL, 300 s), long before the history ad has the peak
EVENT_TRANSITIONS: dict[htcondor2.JobEventType, Transition] = {
    ET.EXECUTE: Transition.RUNNING,
    ET.JOB_TERMINATED: Transition.TERMINATED,
    ET.JOB_HELD: Transition.HELD,
    ET.JOB_ABORTED: Transition.ABORTED,
    ET.JOB_EVICTED: Transition.REQUEUED,
    ET.JOB_RELEASED: Transition.REQUEUED,
    ET.IMAGE_SIZE: Transition.USAGE,
}


#: slot seconds a job start costs on a schedd, roughly (shadow, starter, file transfer; measured on the
#: 2-core test pool at ~2 trivial jobs/s). Production pools, with negotiation cycles of 20-60 s, cost
#: more. ``mode="auto"`` compares calls' wall time with it (core/modes.py, PoolProfile.job_start_seconds).
SCHEDD_JOB_START_SECONDS = 1.0


# ---- ClassAd expressions condorexec writes -----------------------------------------------------


def run_constraint(run_token: str) -> str:
    """Matches every job of one run."""
    return f"{RUN_ATTR} == {classad2.quote(run_token)}"  # the bindings' quoting: escapes newlines too


def job_constraint(job_id: str) -> str:
    """Matches the one job ``"C.P"``, or every job of cluster ``"C"``."""
    cluster, _, proc = job_id.partition(".")
    if not proc:
        return f"ClusterId == {int(cluster)}"
    return f"ClusterId == {int(cluster)} && ProcId == {int(proc)}"


def lease_periodic_remove() -> str:
    """The ``periodic_remove`` that ends a job whose submitter stopped renewing its lease: the schedd
    evaluates it, so jobs of a submitter that died (no shutdown) do not run on forever."""
    return f"{LEASE_ATTR} =!= undefined && time() > {LEASE_ATTR}"


#: the startd carves a dynamic slot's memory as the request rounded up to a multiple of this many MB
#: (MODIFY_REQUEST_EXPR_REQUESTMEMORY = quantize(RequestMemory, {128})): two 3000 MB requests take
#: 6144 MB, more than a 6000 MB machine has
MEMORY_QUANTUM_MB = 128


def claim_fits_requirements() -> str:
    """A job ``requirements`` clause that keeps the schedd from running the job on a claimed dynamic
    slot much bigger than it asks for.

    When a job ends, the schedd runs the next idle job that matches on the same claim, and a claimed
    dynamic slot keeps its size: a 1-core, 250 MB call that follows a whole-machine probe (or a call
    retried at the maximum) would run alone on all of that machine, and so would every call after it
    (measured on the live pool: cold autolabel at 3.7x exact specs). The schedd checks the job's
    Requirements against the slot before it reuses a claim, so refusing slots with more cores or well
    more memory than asked sends those calls to the partitionable slot instead, where the negotiator
    carves a slot of their size. Partitionable slots, and pools with no dynamic slots (the local pool),
    are not affected: ``DynamicSlot`` is not true there."""
    return (f"(TARGET.DynamicSlot =!= true || (TARGET.Cpus <= RequestCpus && "
            f"TARGET.Memory <= RequestMemory * 5 / 4 + {MEMORY_QUANTUM_MB}))")


def lease_value(now: float, lease_seconds: int) -> str:
    """The lease attribute's value for a lease renewed at ``now``."""
    return str(int(now + lease_seconds))


#: the job attribute that holds each resource's request, and the factor from condorexec's MB into it
REQUEST_ATTRS: dict[Resource, tuple[str, int]] = {
    "cores": ("RequestCpus", 1),
    "memory": ("RequestMemory", 1),  # MiB
    "disk": ("RequestDisk", 1024),  # KiB
}


def request_edit(resource: Resource, amount: int) -> tuple[str, str]:
    """``(attribute, value)`` that sets a queued job's request of ``resource`` to ``amount``
    (cores, or MB for memory and disk), for ``Schedd.edit``."""
    attr, factor = REQUEST_ATTRS[resource]
    return attr, str(int(amount) * factor)


#: the usage attribute for each resource in a job or history ad, and the factor from it to MB
USAGE_ATTRS: dict[Resource, tuple[str, float]] = {
    "cores": ("CpusUsage", 1.0),
    "memory": ("MemoryUsage", 1.0),  # MiB
    "disk": ("DiskUsage", 1 / 1024),  # KiB
}
