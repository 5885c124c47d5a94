"""One proc's job ad: the attribute groups condor_submit writes, each a function of the proc's expanded
submit commands, in the order that decides which mistake a description reports first."""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from dataclasses import dataclass

from condorexec.condorfacts import HoldCode, JobStatus
from condorexec.errors import SubmitDescriptionError
from condorexec.submit.argsenv import _arguments, _environment
from condorexec.submit.factory import _materialize_attrs
from condorexec.submit.universes import _GRID, _JAVA, _ON_ACCESS_POINT, _universe_attrs
from condorexec.submit.values import (
    _NOTIFY,
    _Attrs,
    _b,
    _bool_cmd,
    _compress,
    _count_expr,
    _expr,
    _file_list,
    _full_path,
    _Getter,
    _int_cmd,
    _isdir,
    _isfile,
    _or_operand,
    _s,
    _size,
    _size_kb,
)


@dataclass
class _Context:
    submit_dir: str
    owner: str
    cluster_id: int
    qdate: int
    fs_domain: str
    #: proc 0's ExecutableSize: condor_submit sizes the executable of proc 0 only and every later proc
    #: inherits it, even where a later queue statement changed the executable (submit_utils.cpp)
    cluster_exe_kb: int | None = None
    #: the custom resources asked for (``request_<name>``, beyond cpus/memory/disk/gpus), as written
    custom_requests: tuple[str, ...] = ()


# attributes every job gets with the same value (what condor_submit -dry-run shows for a fresh job);
# enum members go through int() because str() of an IntEnum member is its name before Python 3.11
_CONSTANT = {
    "MyType": '"Job"', "TargetType": '"Machine"', "JobStatus": str(int(JobStatus.IDLE)), "NumJobStarts": "0",
    "MaxHosts": "1", "MinHosts": "1", "NumCkpts": "0", "ExitStatus": "0", "NumRestarts": "0", "CurrentHosts": "0",
    "ExitBySignal": "false", "RemoteSysCpu": "0.0", "CommittedTime": "0", "RemoteUserCpu": "0.0",
    "NumSystemHolds": "0", "JobSubmitMethod": "0", "TotalSuspensions": "0",
    "CommittedSlotTime": "0", "NumJobCompletions": "0", "CumulativeSlotTime": "0", "LastSuspensionTime": "0",
    "RemoteWallClockTime": "0.0", "CumulativeRemoteSysCpu": "0.0", "CommittedSuspensionTime": "0",
    "CumulativeRemoteUserCpu": "0.0", "CumulativeSuspensionTime": "0",
}



def _job_attrs(get: _Getter, ctx: _Context, custom: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Every attribute of one proc's ad except ClusterId/ProcId, as ClassAd source text.

    One function per group of attributes, in a fixed order: it decides which error a description with
    several mistakes reports, and a later group may use what an earlier one decided (Iwd, ExecutableSize,
    whether stdin is transferred, RequestGPUs). The dict's own order matters only where a name is set
    twice: the custom attributes come last and win, and in expand_jobs these attributes override the
    constant ones (JobStatus of a held job). ClassAds keep no order; job_ad_text sorts for printing."""
    get = _with_attribute_names(get)
    a = _universe_attrs(get)
    universe = int(a["JobUniverse"])
    iwd = _initial_dir(get, ctx.submit_dir)
    a["Iwd"] = _s(iwd)
    a |= _executable_attrs(get, ctx.submit_dir, java=universe == _JAVA)
    if ctx.cluster_exe_kb is not None:
        a["ExecutableSize"] = str(ctx.cluster_exe_kb)
    a |= _arguments_environment_attrs(get)
    a |= _stdio_attrs(get)
    a |= _user_log_attrs(get, iwd)
    a |= _dagman_attrs(get, iwd)
    should, when = _transfer_mode(get)
    inputs = _file_list(get("transfer_input_files"))
    a |= _transfer_attrs(get, should, when, inputs, ctx.fs_domain)
    sized = [*inputs, _full_path(get("executable") or "", ctx.submit_dir)] if universe == _JAVA else inputs
    a |= _transfer_size_attrs(get, int(a["ExecutableSize"]), sized, a.get("TransferIn") != "false", iwd)
    if universe != _GRID:  # a grid job's resources are the remote system's business
        a |= _request_attrs(get)
        a |= _custom_request_attrs(get, ctx.custom_requests)
    a |= _batch_attrs(get)
    a |= _duration_attrs(get)
    a |= _accounting_attrs(get, ctx.owner)
    a |= _exit_attrs(get)
    a |= _periodic_attrs(get)
    a |= _rank_attrs(get)
    a |= _notification_attrs(get)
    a |= _description_attrs(get)
    a |= _materialize_attrs(get)
    a |= _hold_attrs(get)
    a |= _kill_signal_attrs(get)
    a |= _misc_attrs(get)
    a["Requirements"] = "true" if universe == _GRID else _requirements(
        get("requirements"), should, universe, (get("request_cpus") or "1").strip() != "1", "RequestGPUs" in a,
        tuple(n for n in ctx.custom_requests if f"Request{n}" in a), a.get("ContainerImageSource"))
    a |= _custom_attrs(get, custom)  # last: a +Attr or MY.Attr replaces the value computed above
    return a


#: submit commands and the job attribute names condor_submit also reads for them (``submit_param(key,
#: ATTR)``; recorded: corpus c100, c104). ``ConcurrencyLimits`` is not one: condor_submit warns it unused.
_ATTRIBUTE_NAMES = {
    "request_cpus": "RequestCpus", "request_disk": "RequestDisk", "request_memory": "RequestMemory",
    "request_gpus": "RequestGPUs", "priority": "JobPrio", "notify_user": "NotifyUser", "log": "UserLog",
    "should_transfer_files": "ShouldTransferFiles", "when_to_transfer_output": "WhenToTransferOutput",
    "transfer_input_files": "TransferInputFiles", "transfer_output_files": "TransferOutputFiles",
    "job_max_vacate_time": "JobMaxVacateTime", "periodic_remove": "PeriodicRemove",
    "periodic_hold": "PeriodicHold", "periodic_release": "PeriodicRelease", "on_exit_remove": "OnExitRemove",
    "on_exit_hold": "OnExitHold", "accounting_group": "AccountingGroup", "batch_name": "JobBatchName",
    "core_size": "CoreSize",
}


def spellings(command: str) -> set[str]:
    """The lower-cased names that set ``command``: itself and its attribute's name, if it has one."""
    alternate = _ATTRIBUTE_NAMES.get(command.lower())
    return {command.lower()} | ({alternate.lower()} if alternate else set())


def _with_attribute_names(get: _Getter) -> _Getter:
    """``get`` that falls back from a submit command to its attribute's name (:data:`_ATTRIBUTE_NAMES`)."""
    def read(key: str) -> str | None:
        value = get(key)
        alternate = _ATTRIBUTE_NAMES.get(key)
        return get(alternate) if value is None and alternate is not None else value
    return read


# The groups of _job_attrs. Each is a function of the proc's expanded submit commands (``get``: None for
# a command that is absent or empty) and of what earlier groups decided, and returns the attributes it
# sets as ClassAd source text. A group reads a command only where the single function it came from did,
# in the same order: get() can raise (a macro the binding cannot expand), and validation order is behaviour.


def _initial_dir(get: _Getter, submit_dir: str) -> str:
    """The job's Iwd: ``initialdir`` (or its synonyms) relative to the submit directory; it must exist."""
    text = get("initialdir") or get("iwd") or get("initial_dir") or get("job_iwd")
    iwd = _compress(submit_dir) if not text else _full_path(text, submit_dir)
    if not _isdir(iwd):
        raise SubmitDescriptionError(f"initialdir = {text}: no such directory: {iwd}")
    return iwd


def _executable_attrs(get: _Getter, submit_dir: str, java: bool = False) -> _Attrs:
    """Cmd, TransferExecutable and ExecutableSize (KiB; 0 when the executable is not transferred).

    A relative executable resolves against the submit directory, not Iwd (condor's full_path(name, false)).
    A java job's executable is its class file: Cmd is ``java``, the class file is sized (and counted again
    as input, :func:`_job_attrs`) and the first argument names the class (corpus c94, c95)."""
    if get("shell"):
        raise SubmitDescriptionError("shell = ... is not supported; use executable and arguments")
    exe = get("executable")
    if not exe:
        raise SubmitDescriptionError("no executable given (executable = ...)")
    transfer_exe = _bool_cmd("transfer_executable", get("transfer_executable"), True)
    cmd = _full_path(exe, submit_dir) if transfer_exe else exe
    if transfer_exe and not _isfile(cmd):
        raise SubmitDescriptionError(f"executable = {exe}: no such file: {cmd}")
    if java:
        if not (get("arguments") or get("args") or get("arguments2")):
            raise SubmitDescriptionError("arguments: in the java universe the first argument must name the class "
                                         "to run (condor_submit: you must specify the class name to run)")
        return {"Cmd": _s("java"), "TransferExecutable": "false", "ExecutableSize": str(_size_kb(cmd))}
    a = {"Cmd": _s(cmd)}
    if not transfer_exe:
        a["TransferExecutable"] = "false"
    a["ExecutableSize"] = str(_size_kb(cmd) if transfer_exe else 0)
    return a


def _arguments_environment_attrs(get: _Getter) -> _Attrs:
    """Args (V1) or Arguments (V2), then Environment (V2) or Env and EnvDelim (V1, asked for with ``env``)."""
    attr, value = _arguments(get("arguments") or get("args"), get("arguments2"))
    a = {attr: _s(value)}
    env_key = get("environment") is None and get("env") is not None
    a.update(_environment(get("environment") or get("env"), get("environment2"), env_key, get("getenv")))
    return a


# (command, its synonym, file attribute, transfer command, stream command, transfer attribute, stream attribute)
_STDIO = (
    ("input", "stdin", "In", "transfer_input", "stream_input", "TransferIn", "StreamIn"),
    ("output", "stdout", "Out", "transfer_output", "stream_output", "TransferOut", "StreamOut"),
    ("error", "stderr", "Err", "transfer_error", "stream_error", "TransferErr", "StreamErr"),
)


def _stdio_attrs(get: _Getter) -> _Attrs:
    """In/Out/Err with their Transfer*/Stream* attributes.

    A missing file is /dev/null and not transferred (Transfer* = false); a transferred one gets its Stream*
    flag, and Transfer* = true only when the transfer_* command was given."""
    a: _Attrs = {}
    for key, alt, attr_file, transfer_key, stream_key, tattr, sattr in _STDIO:
        name = get(key) or get(alt)
        transfer = _bool_cmd(transfer_key, get(transfer_key), True)
        stream = _bool_cmd(stream_key, get(stream_key), False)
        if not name or name == "/dev/null":
            name, transfer = "/dev/null", False
        a[attr_file] = _s(name)
        if transfer:
            a[sattr] = _b(stream)
            if get(transfer_key) is not None:
                a[tattr] = "true"
        else:
            a[tattr] = "false"
    return a


def _user_log_attrs(get: _Getter, iwd: str) -> _Attrs:
    """UserLog: the ``log`` file, relative to Iwd."""
    log = get("log")
    return {"UserLog": _s(_full_path(log, iwd))} if log else {}


def _dagman_attrs(get: _Getter, iwd: str) -> _Attrs:
    """What DAGMan appends to each node's submit (``-a``): DAGNodeName, the nodes log DAGMan reads
    (DAGManNodesLog, relative to Iwd like ``log``; the schedd and shadow write every event there too),
    SubmitEventNotes and KeepClaimIdle."""
    a: _Attrs = {}
    node = get("dag_node_name")
    if node:
        a["DAGNodeName"] = _s(node)
    nodes_log = get("dagman_log")
    if nodes_log:
        a["DAGManNodesLog"] = _s(_full_path(nodes_log, iwd))
    notes = get("submit_event_notes")
    if notes:
        a["SubmitEventNotes"] = _s(notes)
    keep = get("keep_claim_idle")
    if keep:
        a["KeepClaimIdle"] = _int_cmd("keep_claim_idle", keep)
    return a


#: the should_transfer_files values condor_submit 25.14 takes, and what each means (recorded: corpus c89, c93)
_SHOULD_TRANSFER = {"YES": "YES", "TRUE": "YES", "NO": "NO", "FALSE": "NO", "NEVER": "NO",
                    "IF_NEEDED": "IF_NEEDED", "ALWAYS": "YES"}


def _transfer_mode(get: _Getter) -> tuple[str, str]:
    """(should_transfer_files, when_to_transfer_output) upper-cased and checked against each other.

    ON_EXIT_OR_EVICT turns the default IF_NEEDED into YES (an explicit IF_NEEDED is refused)."""
    should_text = (get("should_transfer_files") or "IF_NEEDED").strip().upper()
    should = _SHOULD_TRANSFER.get(should_text)
    if should is None:
        raise SubmitDescriptionError(f"should_transfer_files = {should_text}: must be YES, NO or IF_NEEDED")
    when_text = get("when_to_transfer_output")
    when = (when_text or "ON_EXIT").strip().upper()
    if when not in ("ON_EXIT", "ON_EXIT_OR_EVICT", "ON_SUCCESS"):
        raise SubmitDescriptionError(
            f"when_to_transfer_output = {when_text}: must be ON_EXIT, ON_EXIT_OR_EVICT or ON_SUCCESS")
    if when == "ON_EXIT_OR_EVICT" and should == "IF_NEEDED":
        if get("should_transfer_files") is not None:
            raise SubmitDescriptionError(
                "when_to_transfer_output = ON_EXIT_OR_EVICT and should_transfer_files = IF_NEEDED are "
                "incompatible; set should_transfer_files = YES or when_to_transfer_output = ON_EXIT")
        should = "YES"
    if should == "NO" and when_text is not None and when != "ON_EXIT":
        raise SubmitDescriptionError(
            f"when_to_transfer_output = {when_text} contradicts should_transfer_files = NO")
    return should, when


def _transfer_attrs(get: _Getter, should: str, when: str, inputs: Sequence[str], fs_domain: str) -> _Attrs:
    """ShouldTransferFiles, WhenToTransferOutput (unless NO), FileSystemDomain (unless YES), and the
    comma-joined TransferInput/TransferOutput lists and TransferOutputRemaps when given."""
    if should == "NO" and inputs:  # condor_submit's refusal (corpus c91)
        raise SubmitDescriptionError(
            f"transfer_input_files = {','.join(inputs)} names files to transfer, but should_transfer_files = NO "
            "disables file transfer")
    a = {"ShouldTransferFiles": _s(should)}
    if should != "NO":
        a["WhenToTransferOutput"] = _s(when)
    if should != "YES":
        a["FileSystemDomain"] = _s(fs_domain)
    if inputs:
        a["TransferInput"] = _s(",".join(inputs))
    outputs = _file_list(get("transfer_output_files"))
    if outputs:
        a["TransferOutput"] = _s(",".join(outputs))
    remaps = get("transfer_output_remaps")
    if remaps:
        a["TransferOutputRemaps"] = _s(remaps.strip().strip('"'))
    return a


def _transfer_size_attrs(get: _Getter, exe_kb: int, inputs: Sequence[str], stdin_transferred: bool,
                         iwd: str) -> _Attrs:
    """DiskUsage and TransferInputSizeMB from the executable, a transferred stdin and the input files
    (each must exist; URLs count 0), and ImageSize (``image_size``, KiB, else the executable's size)."""
    stdin_name = get("input") or get("stdin")
    sent = [stdin_name, *inputs] if stdin_transferred and stdin_name else inputs
    input_kb = 0
    for f in sent:
        if "://" in f:
            continue
        path = _full_path(f, iwd)
        if not os.path.lexists(path):
            raise SubmitDescriptionError(f"transfer_input_files: no such file: {path}")
        input_kb += _size_kb(path)
    a = {"DiskUsage": str(exe_kb + input_kb), "TransferInputSizeMB": str((exe_kb + input_kb + 1023) // 1024)}
    image = get("image_size")
    a["ImageSize"] = _size("image_size", image, 1024) if image else str(exe_kb)
    return a


#: condor_submit's RequestDisk when request_disk is not given (KiB: 1.25 times the input, at least 1 GiB)
_DEFAULT_REQUEST_DISK = "MAX({ 1024,(TransferInputSizeMB + 1) * 1.25 }) * 1024"


def _request_attrs(get: _Getter) -> _Attrs:
    """RequestCpus (default 1), RequestMemory (MiB, default 128), RequestDisk (KiB) and RequestGPUs.

    A plain number is in those units, K/M/G/T suffixes are binary and round up; an expression is copied;
    ``undefined`` leaves the attribute out."""
    a: _Attrs = {}
    cpus = _count_expr("request_cpus", get("request_cpus") or "1")
    if cpus:
        a["RequestCpus"] = cpus
    mem = _size("request_memory", get("request_memory") or "128", 1 << 20)
    if mem:
        a["RequestMemory"] = mem
    disk_text = get("request_disk")
    disk = _size("request_disk", disk_text, 1024) if disk_text else _DEFAULT_REQUEST_DISK
    if disk:
        a["RequestDisk"] = disk
    gpus_text = get("request_gpus")
    if gpus_text:
        gpus = _count_expr("request_gpus", gpus_text)
        if gpus:
            a["RequestGPUs"] = gpus
    return a


def _batch_attrs(get: _Getter) -> _Attrs:
    """JobBatchName (``batch_name``, its quotes dropped), JobBatchId (``batch_id``, DAGMan sets it) and
    JobPrio (``priority``/``prio``, default 0)."""
    a: _Attrs = {}
    batch = get("batch_name")
    if batch:
        a["JobBatchName"] = _s(batch.strip().strip('"'))
    batch_id = get("batch_id")
    if batch_id:
        a["JobBatchId"] = _s(batch_id.strip().strip('"'))
    prio = get("priority") or get("prio")
    a["JobPrio"] = _int_cmd("priority", prio) if prio else "0"
    return a


def _duration_attrs(get: _Getter) -> _Attrs:
    """AllowedJobDuration: seconds or an expression, copied as is ("undefined" = no limit)."""
    duration = get("allowed_job_duration")
    return {"AllowedJobDuration": duration.strip()} if duration else {}


def _accounting_attrs(get: _Getter, owner: str) -> _Attrs:
    """AcctGroup, AcctGroupUser and AccountingGroup: the nice-user group (which also sets
    MaxJobRetirementTime = 0) or ``accounting_group`` with ``accounting_group_user`` (default: the owner)."""
    if _bool_cmd("nice_user", get("nice_user"), False):
        return {"AcctGroup": _s("nice-user"), "AcctGroupUser": _s(owner),
                "AccountingGroup": _s(f"nice-user.{owner}"), "MaxJobRetirementTime": "0"}
    group = get("accounting_group")
    if not group:
        return {}
    user = get("accounting_group_user") or owner
    return {"AcctGroup": _s(group), "AcctGroupUser": _s(user), "AccountingGroup": _s(f"{group}.{user}")}


def _exit_attrs(get: _Getter) -> _Attrs:
    """OnExitRemove and OnExitHold; with max_retries / success_exit_code / retry_until also JobMaxRetries
    (default 2) and JobSuccessExitCode, and the OnExitRemove that retries (condor_submit's SetJobRetries)."""
    erc, ehc = get("on_exit_remove"), get("on_exit_hold")
    retries, code, until = get("max_retries"), get("success_exit_code"), get("retry_until")
    a: _Attrs = {}
    if retries is None and code is None and until is None:
        if erc:
            a["OnExitRemove"] = _expr("on_exit_remove", erc)
        if ehc:
            a["OnExitHold"] = _expr("on_exit_hold", ehc)
        return a
    n = int(_int_cmd("max_retries", retries)) if retries is not None else 2
    if n < 0:
        raise SubmitDescriptionError(f"max_retries = {retries}: must not be negative")
    a["JobMaxRetries"] = str(n)
    a["OnExitHold"] = _expr("on_exit_hold", ehc) if ehc else "false"
    check = "0"
    if code is not None:
        a["JobSuccessExitCode"] = _int_cmd("success_exit_code", code)
        check = "JobSuccessExitCode"
    if until:
        try:
            check += f" || ExitCode =?= {int(until.strip())}"
        except ValueError:
            check += f" || {_or_operand(_expr('retry_until', until))}"
    expr = f"NumJobCompletions > JobMaxRetries || ExitCode =?= {check}"
    if erc:
        expr += f" || {_or_operand(_expr('on_exit_remove', erc))}"
    a["OnExitRemove"] = expr
    return a


_PERIODIC = (("periodic_hold", "PeriodicHold"), ("periodic_remove", "PeriodicRemove"),
             ("periodic_release", "PeriodicRelease"), ("leave_in_queue", "LeaveJobInQueue"),
             ("job_max_vacate_time", "JobMaxVacateTime"))


def _periodic_attrs(get: _Getter) -> _Attrs:
    """PeriodicHold/Remove/Release, LeaveJobInQueue (default false) and JobMaxVacateTime, each the
    command's expression as written."""
    a: _Attrs = {}
    for key, attr in _PERIODIC:
        text = get(key)
        if text:
            a[attr] = _expr(key, text)
    a.setdefault("LeaveJobInQueue", "false")
    return a


def _rank_attrs(get: _Getter) -> _Attrs:
    """Rank: the ``rank`` expression, default 0.0."""
    rank = get("rank")
    return {"Rank": _expr("rank", rank) if rank else "0.0"}


def _notification_attrs(get: _Getter) -> _Attrs:
    """JobNotification (never 0, always 1, complete 2, error 3; default never) and NotifyUser."""
    notify = get("notification")
    if notify:
        if notify.strip().lower() not in _NOTIFY:
            raise SubmitDescriptionError(f"notification = {notify}: must be one of {', '.join(_NOTIFY)}")
        a = {"JobNotification": str(_NOTIFY[notify.strip().lower()])}
    else:
        a = {"JobNotification": "0"}
    notify_user = get("notify_user")
    if notify_user:
        a["NotifyUser"] = _s(notify_user)
    return a


def _description_attrs(get: _Getter) -> _Attrs:
    """JobDescription and ConcurrencyLimits: ``description`` and ``concurrency_limits`` as strings."""
    a: _Attrs = {}
    for key, attr in (("description", "JobDescription"), ("concurrency_limits", "ConcurrencyLimits")):
        text = get(key)
        if text:
            a[attr] = _s(text)
    return a


def _hold_attrs(get: _Getter) -> _Attrs:
    """``hold = true``: JobStatus held, with the HoldReason and HoldReasonCode condor_submit gives it."""
    if not _bool_cmd("hold", get("hold"), False):
        return {}
    return {"JobStatus": str(int(JobStatus.HELD)), "HoldReason": _s("submitted on hold at user's request"),
            "HoldReasonCode": str(int(HoldCode.SUBMITTED_ON_HOLD))}


def _signal(key: str, text: str) -> str:
    """A signal as condor_submit writes it: a number becomes its name (3 is SIGQUIT), a name stays."""
    value = text.strip()
    if value.isdigit():
        try:
            return _s(signal.Signals(int(value)).name)
        except ValueError:
            raise SubmitDescriptionError(f"{key} = {text}: no such signal number") from None
    return _s(value)


def _kill_signal_attrs(get: _Getter) -> _Attrs:
    """KillSig, HoldKillSig and RemoveKillSig from ``kill_sig``, ``hold_kill_sig`` and ``remove_kill_sig``
    (a given kill_sig replaces the access-point universes' default SIGTERM)."""
    a: _Attrs = {}
    for key, attr in (("kill_sig", "KillSig"), ("hold_kill_sig", "HoldKillSig"), ("remove_kill_sig", "RemoveKillSig")):
        text = get(key)
        if text:
            a[attr] = _signal(key, text)
    return a


def _misc_attrs(get: _Getter) -> _Attrs:
    """CoreSize (``core_size``, bytes) and UserLogUseXML (``log_xml``)."""
    a: _Attrs = {}
    core = get("core_size")
    if core:
        a["CoreSize"] = _int_cmd("coresize", core)
    if get("log_xml") is not None:
        a["UserLogUseXML"] = _b(_bool_cmd("log_xml", get("log_xml"), False))
    return a


#: the request_ commands with attributes of their own; any other request_<name> asks for a custom resource
STANDARD_REQUESTS = ("cpus", "memory", "disk", "gpus")


def _custom_request_attrs(get: _Getter, names: Sequence[str]) -> _Attrs:
    """Request<name> for each custom resource ``request_<name>`` (an expression; ``undefined`` leaves it out)."""
    a: _Attrs = {}
    for name in names:
        text = get(f"request_{name}")
        if text and text.strip().lower() != "undefined":
            a[f"Request{name}"] = _expr(f"request_{name}", text)
    return a


def _custom_attrs(get: _Getter, custom: Sequence[tuple[str, str]]) -> _Attrs:
    """The ``+Name`` / ``MY.Name`` attributes, given as (Name, submit key): each value an expression."""
    a: _Attrs = {}
    for name, key in custom:
        text = get(key)
        if text:
            a[name] = _expr(key, text)
    return a


#: the HTCondor version from which a startd, not the job's Requirements, checks the disk request
_DISK_ENFORCED_SINCE = "25.12.0"
#: the universes whose Requirements keep the plain disk term (recorded: corpus c83, c84, c94, c97)
_DISK_IN_REQUIREMENTS = (7, 10, 11, 12)


def _requirements(user: str | None, should: str, universe: int, cpus: bool, gpus: bool,
                  custom_requests: Sequence[str] = (), container: str | None = None) -> str:
    """A Requirements expression of the shape condor_submit 25.14 writes (Arch and OpSys are the access
    point's; corpus c83, c88, c92, c94, c96, c97): the user's; the platform (a java job: HasJava; a
    container job: the architecture and the container kind); disk, left to machines new enough to
    enforce it themselves except in the universes that do not match such machines; memory; cpus when
    asked for other than as a plain 1 (fixture 02, corpus c14), gpus when asked for, each custom
    resource; then file transfer, except for jobs of the scheduler and local universes, which run on
    the access point. Grid jobs get ``true`` (:func:`_job_attrs`)."""
    parts = []
    if user:
        parts.append(f"({_expr('requirements', user)})")
    if universe == _JAVA:
        parts.append("TARGET.HasJava")
    elif container is not None:
        parts += ['(TARGET.Arch == "X86_64")', "TARGET.HasContainer",
                  "TARGET.HasDockerURL" if container == '"docker"' else "TARGET.HasSIF"]
    else:
        parts += ['(TARGET.Arch == "X86_64")', '(TARGET.OpSys == "LINUX")']
    parts += ["(TARGET.Disk >= RequestDisk)" if universe in _DISK_IN_REQUIREMENTS else
              f'(versionGE(split(TARGET.CondorVersion)[1],"{_DISK_ENFORCED_SINCE}") || (TARGET.Disk >= RequestDisk))',
              "(TARGET.Memory >= RequestMemory)"]
    if cpus:
        parts.append("(TARGET.Cpus >= RequestCpus)")
    if gpus:
        parts.append("(TARGET.GPUs >= RequestGPUs)")
    parts += [f"(TARGET.{name} >= Request{name})" for name in custom_requests]
    if universe not in _ON_ACCESS_POINT:
        parts.append("(TARGET.HasFileTransfer)" if should == "YES" else
                     "((TARGET.FileSystemDomain == MY.FileSystemDomain) || (TARGET.HasFileTransfer))")
    return " && ".join(parts)
