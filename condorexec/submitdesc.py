"""Submit description → per-proc job ClassAds, as ``condor_submit`` builds them.

Why this exists: ``htcondor2.Submit`` parses the submit language (macros, queue statements) but its
``jobs()`` is not implemented, so the step *submit commands → job-ad attributes* is ours. Two parts
of condorexec need it: the embedded local pool (it gets what ``Schedd.submit`` gets and must create
the ads a schedd would) and the ``condorexec submit -dry-run`` CLI (which must print what
``condor_submit -dry-run`` prints). The rules follow HTCondor 25.x ``submit_utils.cpp`` and are
checked against real ``condor_submit -dry-run`` output (tests/unit/test_submitdesc.py).

Macro expansion is always done by the real parser (``Submit.expand``) on a private copy of the
description whose per-proc variables ($(Process), $(Step), item variables...) are set per proc.
Keys whose macros cannot reach a per-proc variable are expanded once per call, and everything per
proc is memoised on the values it depends on, which keeps a 2,000-proc cluster well under a second.
Nothing here runs a command: :mod:`condorexec.submitguard` refuses every form that would, first.
"""

from __future__ import annotations

import fnmatch
import itertools
import math
import os
import re
import socket
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import classad2
import htcondor2

from condorexec.condorfacts import HoldCode, JobStatus
from condorexec.errors import MaxJobsExceeded, SubmitDescriptionError
from condorexec.submitguard import find_command_forms
from condorexec.submitqueue import Row, queue_rows, scan_queue_statements

__all__ = ["SubmitDescriptionError", "MaxJobsExceeded", "JobPlan", "Factory", "factory_of", "wants_factory",
           "ads_to_check", "parse_description", "parse_checked", "plan_jobs", "expand_jobs", "statement_rows",
           "job_ad_text", "dry_run_blocks", "dry_run_text"]


# --------------------------------------------------------------------------------------------------
# parse_description

def parse_description(text: str, *, file: str | None = None,
                      variables: Mapping[str, str] = {}) -> htcondor2.Submit:
    """Parse submit-language ``text`` with the real parser, after checks that give line numbers.

    ``variables`` are condor_submit's ``var=value`` arguments: they act as if written at the top of
    the file, so the file's own assignments win (as real condor_submit does)."""
    _check_lines(text, file)
    return parse_checked(text, file=file, variables=variables)


def parse_checked(text: str, *, file: str | None = None, variables: Mapping[str, str] = {}) -> htcondor2.Submit:
    """:func:`parse_description` without its checks, for text cut from a file that has passed them as a
    whole (one queue statement of several, :mod:`condorexec.submitcluster`): checking each cut again
    would rescan the file, and every file it includes, once per statement."""
    prefix = ""
    for name, value in variables.items():
        if not re.fullmatch(r"[A-Za-z_][\w.]*", name):
            raise SubmitDescriptionError(f"invalid variable name {name!r} in {name}={value}", file=file)
        if "\n" in value or "\r" in value:
            raise SubmitDescriptionError(f"variable {name}={value!r} contains a newline", file=file)
        prefix += f"{name} = {value}\n"
    try:
        sub = htcondor2.Submit(prefix + text)
    except Exception as exc:  # the binding raises a bare ValueError without a line
        raise SubmitDescriptionError(f"cannot parse submit description: {exc}", file=file) from exc
    return sub


def _check_lines(text: str, file: str | None) -> None:
    """Catch the command-running forms (:mod:`condorexec.submitguard`), then what the binding
    reports without a line number, and more than one queue statement (the binding would keep the
    first and drop the rest: :mod:`condorexec.submitcluster` reads such files)."""
    problem = find_command_forms(text, file)
    if problem is not None:
        raise SubmitDescriptionError(problem.message, file=problem.file, line=problem.line)
    statements = scan_queue_statements(text, file)
    if len(statements) > 1:
        raise SubmitDescriptionError(
            f"a second queue statement 'queue {statements[1].args}': one description holds one queue "
            "statement (read a file with several through condorexec.submitcluster)",
            file=file, line=statements[1].line)


# --------------------------------------------------------------------------------------------------
# macro expansion

_PER_PROC = ("Process", "ProcId", "Step", "Row", "ItemIndex", "Node", "JobId", "Item")
_REF = re.compile(r"\$[A-Za-z_]*\(\s*([A-Za-z_][\w.]*)")
_RANDOM = re.compile(r"\$RANDOM_", re.IGNORECASE)


class _Expander:
    """Expands submit keys for one proc at a time on a private copy of the description.

    Each key's set of reachable per-proc variables is computed once; a key that reaches none is
    expanded once, the others are memoised on the values of the variables they reach."""

    def __init__(self, description: htcondor2.Submit, live_names: Iterable[str], cluster_id: int):
        self._sub = htcondor2.Submit()
        raw: dict[str, str] = {}
        self._key_of: dict[str, str] = {}
        for key in description.keys():
            value = description[key]
            self._sub[key] = value
            raw[key.lower()] = value
            self._key_of[key.lower()] = key
        for name in ("Cluster", "ClusterId"):
            self._sub[name] = str(cluster_id)
        self._live = {n.lower(): n for n in (*_PER_PROC, *live_names)}
        self._all_live = tuple(sorted(self._live))
        self._deps: dict[str, tuple[str, ...]] = {}
        refs = {k: {r.lower() for r in _REF.findall(v)} | ({"process"} if _RANDOM.search(v) else set())
                for k, v in raw.items()}
        for k in raw:
            own = {k} if k in self._live else set()  # a key named as an item variable takes its value
            self._deps[k] = tuple(sorted(self._reach(k, refs, set()) | own))
        self._current: dict[str, str] = {}
        self._memo: dict[tuple[str, tuple[str, ...]], str | None] = {}

    def _reach(self, key: str, refs: dict[str, set[str]], seen: set[str]) -> set[str]:
        out: set[str] = set()
        if key in seen:
            return out
        seen.add(key)
        for r in refs.get(key, ()):
            if r in self._live:
                out.add(r)
            if r in refs and r not in self._live:
                out |= self._reach(r, refs, seen)
        return out

    def is_per_proc(self, key: str) -> bool:
        return bool(self._deps.get(key.lower()))

    def keys(self) -> list[str]:
        return list(self._key_of.values())

    def get(self, key: str, live: Mapping[str, str]) -> str | None:
        """The expanded value of ``key`` (None when absent or empty, as condor treats it)."""
        k = key.lower()
        real = self._key_of.get(k)
        if real is not None:
            deps = self._deps[k]
        elif k in self._live:  # 'queue initialdir in (...)': an item variable named as a command is it
            real, deps = self._live[k], (k,)
        else:
            return None
        values = tuple(live.get(d, "") for d in deps)
        if any("$" in v for v in values):  # an item value with macros of its own (submitcluster's rows)
            deps = self._all_live
            values = tuple(live.get(d, "") for d in deps)
        memo_key = (k, values)
        try:
            return self._memo[memo_key]
        except KeyError:
            pass
        for d, v in zip(deps, memo_key[1], strict=True):
            if self._current.get(d) != v:
                self._sub[self._live[d]] = v
                self._current[d] = v
        try:
            value = self._sub.expand(real).strip()
        except KeyError:  # htcondor2 raises KeyError for a key whose value is empty ("executable =")
            value = ""
        result = value if value else None
        if len(self._memo) >= _MEMO_VALUES:  # values that differ per proc are not worth keeping
            self._memo.clear()
        self._memo[memo_key] = result
        return result

    def expand_text(self, text: str) -> str:
        """Expand free text (the queue arguments) with no per-proc variables set."""
        self._sub["CondorexecQueueArgs__"] = text
        return self._sub.expand("CondorexecQueueArgs__").strip()


# --------------------------------------------------------------------------------------------------
# argument / environment syntaxes (HTCondor's V1 and V2 formats)


def _v2_split(raw: str, what: str) -> list[str]:
    """Split V2 raw text: whitespace separates, single quotes group, '' is a literal quote."""
    out: list[str] = []
    buf: list[str] = []
    token = False
    i, n = 0, len(raw)
    while i < n:
        c = raw[i]
        if c == "'":
            start = i
            i += 1
            token = True
            while True:
                if i >= n:
                    raise SubmitDescriptionError(f"{what}: unbalanced quote starting here: {raw[start:]}")
                if raw[i] == "'":
                    if i + 1 < n and raw[i + 1] == "'":
                        buf.append("'")
                        i += 2
                        continue
                    i += 1
                    break
                buf.append(raw[i])
                i += 1
        elif c in " \t\r\n":
            i += 1
            if token:
                out.append("".join(buf))
                buf, token = [], False
        else:
            buf.append(c)
            token = True
            i += 1
    if token:
        out.append("".join(buf))
    return out


def _v2_join(args: Iterable[str]) -> str:
    """HTCondor's join_args: quote whitespace and quotes with single quotes, merging adjacent runs."""
    result = ""
    for arg in args:
        if result:
            result += " "
        if not arg:
            result += "''"
        for ch in arg:
            if ch in " \t\n\r'":
                if result.endswith("'"):
                    result = result[:-1]
                else:
                    result += "'"
                if ch == "'":
                    result += "'"
                result += ch + "'"
            else:
                result += ch
    return result


def _v2_unquote(text: str, what: str) -> str:
    """The inside of a V2 double-quoted string ("" is a literal double quote)."""
    s = text.strip()
    out: list[str] = []
    i = 1
    while i < len(s):
        if s[i] == '"':
            if i + 1 < len(s) and s[i + 1] == '"':
                out.append('"')
                i += 2
                continue
            rest = s[i + 1:].strip()
            if rest:
                raise SubmitDescriptionError(
                    f"{what}: unexpected characters following double-quote: {s[i:]} "
                    "(did you forget to escape the double-quote by repeating it?)")
            return "".join(out)
        out.append(s[i])
        i += 1
    raise SubmitDescriptionError(f"{what}: unterminated double-quote in {text}")


@lru_cache(maxsize=4096)
def _arguments(args1: str | None, args2: str | None) -> tuple[str, str]:
    """(attribute, value) for the job's arguments: Args for V1 input, Arguments for V2."""
    if args1 and args2:
        raise SubmitDescriptionError("both 'arguments' and 'arguments2' given; use one of them")
    if args2 is not None:
        if not args2.lstrip().startswith('"'):
            raise SubmitDescriptionError(
                f"arguments2 = {args2}: expecting a double-quoted string (V2 format)")
        return "Arguments", _v2_join(_v2_split(_v2_unquote(args2, "arguments2"), "arguments2"))
    if args1 is None:
        return "Arguments", ""
    if args1.lstrip().startswith('"'):
        return "Arguments", _v2_join(_v2_split(_v2_unquote(args1, "arguments"), "arguments"))
    raw = []
    i = 0
    while i < len(args1):
        if args1[i] == '"':
            raise SubmitDescriptionError(f"arguments = {args1}: found illegal unescaped double-quote: "
                                         f"{args1[i:]}")
        if args1[i] == "\\" and i + 1 < len(args1) and args1[i + 1] == '"':
            raw.append('"')
            i += 2
            continue
        raw.append(args1[i])
        i += 1
    return "Args", " ".join("".join(raw).split())


def _env_set(env: dict[str, str], entry: str, what: str) -> None:
    name, eq, value = entry.partition("=")
    if not eq:
        if "$$" in entry:
            env[entry] = "\x00"
            return
        raise SubmitDescriptionError(f"{what}: missing '=' after environment variable {entry!r}")
    if not name:
        raise SubmitDescriptionError(f"{what}: missing variable name in {entry!r}")
    env[name] = value


@lru_cache(maxsize=1024)
def _environment(env1: str | None, env2: str | None, env_key: bool, getenv: str | None
                 ) -> tuple[tuple[str, str], ...]:
    """The environment attributes: Environment (V2), or Env + EnvDelim when V1 was asked for."""
    if env1 and env2:
        raise SubmitDescriptionError("both 'environment' and 'environment2' given; use one of them")
    env: dict[str, str] = {}
    prefer_v1 = False
    if env2 is not None:
        if not env2.lstrip().startswith('"'):
            raise SubmitDescriptionError(
                f"environment2 = {env2}: expecting a double-quoted string (V2 format)")
        for e in _v2_split(_v2_unquote(env2, "environment2"), "environment2"):
            _env_set(env, e, "environment2")
    elif env1 is not None:
        what = "env" if env_key else "environment"
        if env1.lstrip().startswith('"'):
            for e in _v2_split(_v2_unquote(env1, what), what):
                _env_set(env, e, what)
        else:
            prefer_v1 = env_key
            delim = ";"
            text = env1
            if text and text[0] in "!#$%&*+,-/:;<>?@^`|~":
                delim, text = text[0], text[1:]
            for part in re.split("[\n" + re.escape(delim) + "]", text):
                part = part.lstrip(" \t\r\n")
                if part:
                    _env_set(env, part, what)
    if getenv:
        truth = _boolean(getenv)
        if truth is None:
            pats = [p for p in re.split(r"[\s,]+", getenv) if p]
            allow = [p for p in pats if not p.startswith("-")]
            deny = [p[1:] for p in pats if p.startswith("-")]
            for k, v in os.environ.items():
                if k in env or any(fnmatch.fnmatchcase(k.upper(), d.upper()) for d in deny):
                    continue
                if not allow or any(fnmatch.fnmatchcase(k.upper(), a.upper()) for a in allow):
                    env[k] = v
        elif truth:
            for k, v in os.environ.items():
                env.setdefault(k, v)
    items = sorted(env.items())
    if prefer_v1:
        for k, v in items:
            if ";" in k or ";" in v or "\n" in v:
                raise SubmitDescriptionError(f"env: entry {k}={v} cannot be written in V1 syntax")
        text = ";".join(k if v == "\x00" else f"{k}={v}" for k, v in items)
        return (("Env", _s(text)), ("EnvDelim", _s(";")))
    for k, v in items:
        if "\n" in v:
            raise SubmitDescriptionError(f"environment: value of {k} contains a newline")
    return (("Environment", _s(_v2_join(k if v == "\x00" else f"{k}={v}" for k, v in items))),)


# --------------------------------------------------------------------------------------------------
# values

_UNIVERSES = {"vanilla": 5, "scheduler": 7, "grid": 9, "java": 10, "parallel": 11, "local": 12, "vm": 13,
              "docker": 5, "container": 5}
_NOTIFY = {"never": 0, "always": 1, "complete": 2, "error": 3}


def _s(value: str) -> str:
    """A ClassAd string literal."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _b(value: bool) -> str:
    return "true" if value else "false"


def _boolean(text: str) -> bool | None:
    t = text.strip().lower()
    if t in ("true", "t", "yes", "y", "1"):
        return True
    if t in ("false", "f", "no", "n", "0"):
        return False
    return None


def _bool_cmd(key: str, text: str | None, default: bool) -> bool:
    if text is None:
        return default
    value = _boolean(text)
    if value is None:
        raise SubmitDescriptionError(f"{key} = {text} is invalid, must be a boolean (true/false)")
    return value


@lru_cache(maxsize=4096)
def _expr(key: str, text: str) -> str:
    """Validate that ``text`` is exactly one ClassAd expression and return it."""
    if "\n" in text or "\r" in text:
        raise SubmitDescriptionError(f"{key} = {text!r}: contains a newline")
    try:
        probe = classad2.ClassAd(f"[CondorexecProbe__ = ({text}); CondorexecEnd__ = 1]")
    except Exception:
        raise SubmitDescriptionError(f"{key} = {text}: not a valid ClassAd expression") from None
    if sorted(probe.keys()) != ["CondorexecEnd__", "CondorexecProbe__"]:
        raise SubmitDescriptionError(f"{key} = {text}: not a single ClassAd expression")
    return text


_SIZE = re.compile(r"\s*(-?\d+)(?:\.(\d*))?\s*(?:([KMGTkmgt])[bB]?)?\s*$")


@lru_cache(maxsize=4096)
def _size(key: str, text: str, base: int) -> str:
    """request_memory/disk: an integer with optional K/M/G/T (binary) suffix → units of ``base``
    bytes, rounded up (as condor's parse_int64_bytes); else a ClassAd expression."""
    m = _SIZE.match(text)
    if m:
        whole, frac, unit = m.groups()
        fraction = 0.0
        if frac:
            digits = frac[:3]
            fraction = int(digits) / (10 ** len(digits)) if digits else 0.0
        mult = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[unit.lower()] if unit else base
        number = int(whole)
        if number < 0 or whole.startswith("-"):
            raise SubmitDescriptionError(f"{key} = {text}: a resource request cannot be negative")
        value = int((number + fraction) * mult + base - 1) // base
        return str(value)
    if text.strip().lower() == "undefined":
        return ""
    if re.fullmatch(r"\s*-?\d[\w.]*\s*", text) or re.fullmatch(r"\s*[A-Za-z_]\w*\s*", text) \
            or re.search(r"\d\s*[A-Za-z]", text) and not re.search(r"[()*+/<>=&|?]", text):
        raise SubmitDescriptionError(
            f"{key} = {text}: not a size (use an integer with an optional K, M, G or T suffix)")
    expr = _expr(key, text)
    try:
        value = classad2.ExprTree(expr).eval()
    except Exception:
        value = None
    if isinstance(value, int | float) and not isinstance(value, bool) and value < 0:
        raise SubmitDescriptionError(f"{key} = {text}: a resource request cannot be negative")
    return expr


@lru_cache(maxsize=1024)
def _count_expr(key: str, text: str) -> str:
    """request_cpus/gpus: an expression; a constant must be a non-negative number."""
    if text.strip().lower() == "undefined":
        return ""
    expr = _expr(key, text)
    try:
        value = classad2.ExprTree(expr).eval()
    except Exception:
        value = None
    if isinstance(value, bool) or (isinstance(value, int | float) and value < 0):
        raise SubmitDescriptionError(f"{key} = {text}: must be a non-negative number")
    if isinstance(value, str):
        raise SubmitDescriptionError(f"{key} = {text}: must be a number, not a string")
    return expr


@lru_cache(maxsize=4096)
def _size_kb(path: str) -> int:
    """Whole KiB a file occupies (condor's calc_image_size_kb rounds up)."""
    try:
        return (os.stat(path).st_size + 1023) // 1024
    except OSError:
        return 0


def _compress(path: str) -> str:
    return re.sub(r"/+", "/", path)


def _full_path(name: str, base: str) -> str:
    return _compress(name if name.startswith("/") else f"{base}/{name}")


def _file_list(text: str | None) -> list[str]:
    return [p for p in re.split(r"[\s,]+", text or "") if p]


# --------------------------------------------------------------------------------------------------
# the job ad


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


_Getter = Callable[..., str | None]


# attributes every job gets with the same value (what condor_submit -dry-run shows for a fresh job);
# enum members go through int() because str() of an IntEnum member is its name before Python 3.11
_CONSTANT = {
    "MyType": '"Job"', "TargetType": '"Machine"', "JobStatus": str(int(JobStatus.IDLE)), "NumJobStarts": "0",
    "MaxHosts": "1", "MinHosts": "1", "NumCkpts": "0", "ExitStatus": "0", "NumRestarts": "0", "CurrentHosts": "0",
    "ExitBySignal": "false", "RemoteSysCpu": "0.0", "CommittedTime": "0", "RemoteUserCpu": "0.0",
    "NumSystemHolds": "0", "JobSubmitMethod": "0", "JobLeaseDuration": "2400", "TotalSuspensions": "0",
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
    a = _universe_attrs(get)
    iwd = _initial_dir(get, ctx.submit_dir)
    a["Iwd"] = _s(iwd)
    a |= _executable_attrs(get, ctx.submit_dir)
    if ctx.cluster_exe_kb is not None:
        a["ExecutableSize"] = str(ctx.cluster_exe_kb)
    a |= _arguments_environment_attrs(get)
    a |= _stdio_attrs(get)
    a |= _user_log_attrs(get, iwd)
    should, when = _transfer_mode(get)
    inputs = _file_list(get("transfer_input_files"))
    a |= _transfer_attrs(get, should, when, inputs, ctx.fs_domain)
    a |= _transfer_size_attrs(get, int(a["ExecutableSize"]), inputs, a.get("TransferIn") != "false", iwd)
    a |= _request_attrs(get)
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
    a["Requirements"] = _requirements(get("requirements"), should, int(a["JobUniverse"]),
                                      get("request_cpus") is not None, "RequestGPUs" in a)
    a |= _custom_attrs(get, custom)  # last: a +Attr or MY.Attr replaces the value computed above
    return a


# The groups of _job_attrs. Each is a function of the proc's expanded submit commands (``get``: None for
# a command that is absent or empty) and of what earlier groups decided, and returns the attributes it
# sets as ClassAd source text. A group reads a command only where the single function it came from did,
# in the same order: get() can raise (a macro the binding cannot expand), and validation order is behaviour.

_Attrs = dict[str, str]

#: the universes whose jobs run on the access point itself (no matchmaking, no file transfer)
_ON_ACCESS_POINT = (7, 12)  # scheduler, local


def _universe_attrs(get: _Getter) -> _Attrs:
    """JobUniverse (vanilla unless ``universe`` says otherwise) and the KillSig of access-point jobs."""
    text = get("universe") or "vanilla"
    uni = _UNIVERSES.get(text.strip().lower())
    if uni is None:
        raise SubmitDescriptionError(
            f"universe = {text}: unknown universe (one of {', '.join(sorted(_UNIVERSES))})")
    a = {"JobUniverse": str(uni)}
    if uni in _ON_ACCESS_POINT:
        a["KillSig"] = _s("SIGTERM")
    return a


def _initial_dir(get: _Getter, submit_dir: str) -> str:
    """The job's Iwd: ``initialdir`` (or its synonyms) relative to the submit directory; it must exist."""
    text = get("initialdir") or get("iwd") or get("initial_dir") or get("job_iwd")
    iwd = _compress(submit_dir) if not text else _full_path(text, submit_dir)
    if not _isdir(iwd):
        raise SubmitDescriptionError(f"initialdir = {text}: no such directory: {iwd}")
    return iwd


def _executable_attrs(get: _Getter, submit_dir: str) -> _Attrs:
    """Cmd, TransferExecutable and ExecutableSize (KiB; 0 when the executable is not transferred).

    A relative executable resolves against the submit directory, not Iwd (condor's full_path(name, false))."""
    if get("shell"):
        raise SubmitDescriptionError("shell = ... is not supported; use executable and arguments")
    exe = get("executable")
    if not exe:
        raise SubmitDescriptionError("no executable given (executable = ...)")
    transfer_exe = _bool_cmd("transfer_executable", get("transfer_executable"), True)
    cmd = _full_path(exe, submit_dir) if transfer_exe else exe
    if transfer_exe and not _isfile(cmd):
        raise SubmitDescriptionError(f"executable = {exe}: no such file: {cmd}")
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


def _transfer_mode(get: _Getter) -> tuple[str, str]:
    """(should_transfer_files, when_to_transfer_output) upper-cased and checked against each other.

    ON_EXIT_OR_EVICT turns the default IF_NEEDED into YES (an explicit IF_NEEDED is refused)."""
    should = (get("should_transfer_files") or "IF_NEEDED").strip().upper()
    if should not in ("YES", "NO", "IF_NEEDED"):
        raise SubmitDescriptionError(f"should_transfer_files = {should}: must be YES, NO or IF_NEEDED")
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
    """JobBatchName (``batch_name``, its quotes dropped) and JobPrio (``priority``/``prio``, default 0)."""
    a: _Attrs = {}
    batch = get("batch_name")
    if batch:
        a["JobBatchName"] = _s(batch.strip().strip('"'))
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


def _materialize_attrs(get: _Getter) -> _Attrs:
    """JobMaterializeMaxIdle from ``max_idle`` (or its other name ``materialize_max_idle``), kept as the
    expression it was written as. ``max_materialize`` is checked but sets nothing here: condor_submit
    hands it to the schedd with the factory (``set_Factory``), which stores it as JobMaterializeLimit, so
    it is not in a dry-run ad (see :func:`factory_of`)."""
    limit_key = _setting_key(get, MAX_MATERIALIZE_KEYS)
    if limit_key:
        _materialize_int(get, limit_key)
    key = _setting_key(get, MAX_IDLE_KEYS)
    if key is None:
        return {}
    _materialize_int(get, key)
    return {"JobMaterializeMaxIdle": _expr(key, get(key) or "")}


#: the submit keys that ask for late materialization, in the order condor_submit reads them: each
#: setting's name, then the attribute name (``submit_param(name, alt_name)``), then its other name
MAX_MATERIALIZE_KEYS = ("max_materialize", "JobMaterializeLimit")
MAX_IDLE_KEYS = ("max_idle", "JobMaterializeMaxIdle", "materialize_max_idle")


def _setting_key(get: _Getter, keys: Sequence[str]) -> str | None:
    """The first of ``keys`` the description gives a value."""
    return next((k for k in keys if get(k)), None)


def _materialize_int(get: _Getter, key: str) -> int | None:
    """``key``'s value as condor_submit's ``submit_param_long_exists(..., int_range)`` reads it
    (``string_is_long_param``): an integer, else an expression that ``EvalInteger`` takes — a real is
    truncated, a boolean is 1 or 0 (``1.5`` and ``true`` are accepted) — in the int range; None when
    absent; otherwise condor_submit's error."""
    text = get(key)
    if not text:
        return None
    try:
        value = int(text.strip())
    except ValueError:
        try:
            value = classad2.ExprTree(text).eval()
        except Exception:  # noqa: BLE001 - any parse failure is the same refusal
            value = None
        if isinstance(value, bool) or (isinstance(value, float) and math.isfinite(value)):
            value = int(value)
    if isinstance(value, classad2.Value) or not isinstance(value, int) or not _INT_MIN <= value < _INT_MAX:
        raise SubmitDescriptionError(f"{key}={text} is invalid, must eval to an integer.")
    return value


_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1


@dataclass(frozen=True)
class Factory:
    """A late-materialization cluster: the schedd keeps the description and makes procs as it goes.

    ``limit`` is the JobMaterializeLimit the schedd stores: ``max_materialize``, or every proc when it is
    absent, not positive or larger than the cluster (condor_submit: MIN(max, total), at least 1).
    ``max_idle`` is JobMaterializeMaxIdle's value (None: no such policy; negative: none either, as the
    schedd reads it): at most that many procs not running (idle or held) at once."""

    limit: int
    max_idle: int | None
    total: int


def factory_of(get: _Getter, total: int, *, forced: bool = False) -> Factory | None:
    """The factory condor_submit (``want_factory_submit``) or ``Schedd.submit`` would make, or None for an
    ordinary submit: ``max_materialize`` or ``max_idle`` asks for one, ``-factory`` (``forced``) too."""
    limit_key = _setting_key(get, MAX_MATERIALIZE_KEYS)
    limit = _materialize_int(get, limit_key) if limit_key else None
    key = _setting_key(get, MAX_IDLE_KEYS)
    max_idle = _materialize_int(get, key) if key else None
    if limit is None and key is None and not forced:
        return None
    if limit is None or limit <= 0:
        limit = _INT_MAX
    return Factory(max(min(limit, total), 1), max_idle, total)


def _hold_attrs(get: _Getter) -> _Attrs:
    """``hold = true``: JobStatus held, with the HoldReason and HoldReasonCode condor_submit gives it."""
    if not _bool_cmd("hold", get("hold"), False):
        return {}
    return {"JobStatus": str(int(JobStatus.HELD)), "HoldReason": _s("submitted on hold at user's request"),
            "HoldReasonCode": str(int(HoldCode.SUBMITTED_ON_HOLD))}


def _custom_attrs(get: _Getter, custom: Sequence[tuple[str, str]]) -> _Attrs:
    """The ``+Name`` / ``MY.Name`` attributes, given as (Name, submit key): each value an expression."""
    a: _Attrs = {}
    for name, key in custom:
        text = get(key)
        if text:
            a[name] = _expr(key, text)
    return a


@lru_cache(maxsize=1024)
def _isdir(path: str) -> bool:
    return os.path.isdir(path)


@lru_cache(maxsize=4096)
def _isfile(path: str) -> bool:
    return os.path.isfile(path)


def _int_cmd(key: str, text: str) -> str:
    try:
        return str(int(text.strip()))
    except ValueError:
        raise SubmitDescriptionError(f"{key} = {text} is invalid, must be an integer") from None


def _or_operand(expr: str) -> str:
    """Parenthesise an expression joined with || only when its own operators bind more loosely."""
    return f"({expr})" if "?" in expr or "=" in re.sub(r"[=!<>]=|=[?!]=", "", expr) else expr


def _requirements(user: str | None, should: str, universe: int, cpus: bool, gpus: bool) -> str:
    """A Requirements expression of the shape condor_submit writes (it varies from pool to pool)."""
    parts = []
    if user:
        parts.append(f"({_expr('requirements', user)})")
    parts += ['(TARGET.Arch == "X86_64")', '(TARGET.OpSys == "LINUX")', "(TARGET.Disk >= RequestDisk)",
              "(TARGET.Memory >= RequestMemory)"]
    if cpus:
        parts.append("(TARGET.Cpus >= RequestCpus)")
    if gpus:
        parts.append("(TARGET.GPUs >= RequestGPUs)")
    if universe not in _ON_ACCESS_POINT:  # scheduler and local universe jobs run on the access point
        parts.append("(TARGET.HasFileTransfer)" if should == "YES" else
                     "((TARGET.FileSystemDomain == MY.FileSystemDomain) || (TARGET.HasFileTransfer))")
    return " && ".join(parts)


# --------------------------------------------------------------------------------------------------
# expand_jobs


#: how many distinct ad bodies plan_jobs remembers; procs that share their per-proc values share one
_MEMO_BODIES = 1024
#: how many expanded values an expander remembers (a key and the per-proc values it depends on)
_MEMO_VALUES = 65536


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
    expander, live = _Expander(description, (), 0), {}
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
    ctx = _Context(submit_dir, owner, cluster_id, qdate, socket.getfqdn())
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


# --------------------------------------------------------------------------------------------------
# text output


def _order(name: str) -> tuple[int, int, str]:
    if name == "ClusterId":
        return (0, 0, "")
    if name in ("ProcId", "JobStatus"):
        return (2, 0 if name == "ProcId" else 1, "")
    return (1, len(name), name.lower())


def _ad_lines(ad: classad2.ClassAd) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in ad.printOld().splitlines():
        name, sep, value = line.partition(" = ")
        if sep:
            out[name] = value
    return out


def ad_arguments(ad: classad2.ClassAd) -> list[str]:
    """The argv a job ad describes, read back the way it was written: V2 ``Arguments`` or V1 ``Args``."""
    if "Arguments" in ad:
        return _v2_split(str(ad["Arguments"]), "Arguments")
    return str(ad.get("Args", "")).split()


def ad_environment(ad: classad2.ClassAd) -> dict[str, str]:
    """The environment a job ad describes: V2 ``Environment``, or V1 ``Env`` split at ``EnvDelim``."""
    if "Environment" in ad:
        entries = _v2_split(str(ad["Environment"]), "Environment")
    elif "Env" in ad:
        entries = str(ad["Env"]).split(str(ad.get("EnvDelim", ";")))
    else:
        return {}
    env = {}
    for entry in entries:
        name, _, value = entry.partition("=")
        if name:
            env[name] = value
    return env


def job_ad_text(ad: classad2.ClassAd) -> str:
    """``Attr=Value`` lines in condor_submit -dry-run's order (ClusterId first, ProcId/JobStatus last)."""
    lines = _ad_lines(ad)
    return "".join(f"{k}={lines[k]}\n" for k in sorted(lines, key=_order))


def dry_run_blocks(ads: Iterable[classad2.ClassAd]) -> Iterator[str]:
    """``condor_submit -dry-run FILE``'s text, a piece per proc as the ads come: the first ad in full,
    then per proc only what differs (ProcId and JobStatus always), each block after a blank line."""
    first: dict[str, str] | None = None
    for ad in ads:
        lines = _ad_lines(ad)
        if first is None:
            first = lines
            yield "\n" + job_ad_text(ad)
            continue
        keep = {k: v for k, v in lines.items() if k in ("ProcId", "JobStatus") or first.get(k) != v}
        yield "\n" + "".join(f"{k}={keep[k]}\n" for k in sorted(keep, key=_proc_order))


def dry_run_text(ads: Iterable[classad2.ClassAd]) -> str:
    """The whole ``condor_submit -dry-run FILE`` text (:func:`dry_run_blocks`, joined)."""
    return "".join(dry_run_blocks(ads)) or "\n"


def _proc_order(name: str) -> tuple[int, int, str]:
    if name in ("ProcId", "JobStatus"):
        return (0, 0 if name == "ProcId" else 1, "")
    return (1, len(name), name.lower())
