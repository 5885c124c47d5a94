"""Choosing the pool: HTCondor wherever HTCondor is configured, the embedded local pool elsewhere.

``auto`` never switches to the local pool because a configured schedd is slow or down: on a login
node that would run every call (and whole-machine probes) on the login node while the user believes
they run on the pool. A configured schedd that does not answer is an error naming the way to ask for
the local pool (``ASK_FOR_LOCAL``).

The rule lives here once (:func:`resolve_kind`); :func:`choose_pool` and :func:`open_pool` build the
chosen pool, :func:`open_view` gives the commands that must not start a pool what they look at.

The probe runs in a child process with a hard timeout. The htcondor2 bindings hold the GIL while
they wait on a socket (up to HTCondor's ``QUERY_TIMEOUT``, 60 s by default), so neither a thread
nor a signal can cut a hung call short in this process; killing a child always can. The child costs
about a tenth of a second, paid only when an HTCondor configuration exists at all.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from condorexec.pools.base import Pool
from condorexec.pools.condor import CondorPoolError
from condorexec.pools.local.spool import SpoolView

log = logging.getLogger(__name__)

KINDS = ("auto", "local", "condor")

#: options that belong to the HTCondor pool; every other option goes to the local pool
CONDOR_OPTIONS = ("schedd", "collector")

#: seconds the probe may take before the schedd counts as not answering
PROBE_TIMEOUT = 5.0

#: where HTCondor looks for its configuration when CONDOR_CONFIG is unset (condor_config.cpp)
CONFIG_LOCATIONS = ("/etc/condor/condor_config", "/usr/local/etc/condor_config", "~condor/condor_config")

#: how a user asks for the embedded local pool, in each place a pool is chosen
ASK_FOR_LOCAL = ('To run on this machine instead, ask for the embedded local pool: pool="local" '
                 '(CondorExecutor), -backend local or CONDOREXEC_POOL=local (condorexec commands)')


def resolve_kind(kind: str = "auto", *, schedd: str | None = None, collector: str | None = None,
                 probe_timeout: float = PROBE_TIMEOUT) -> tuple[str, str]:
    """Which pool ``kind`` means here and now: ``("local" | "condor", one-line reason)``. The one home
    of the "auto" rule, for :func:`choose_pool` and for the commands that must not start a pool.

    "local" is the embedded pool. "condor" is a schedd, which must answer within ``probe_timeout``
    seconds. "auto" is the local pool only where no HTCondor is configured and ``schedd``/``collector``
    name none; otherwise it is "condor". A schedd that does not answer raises
    :class:`PoolUnreachableError`, never a quiet switch to the local pool."""
    if kind not in KINDS:
        raise ValueError(f"pool kind must be one of {', '.join(KINDS)}; got {kind!r}")
    if isinstance(probe_timeout, bool) or not isinstance(probe_timeout, (int, float)) or probe_timeout <= 0:
        raise ValueError(f"probe_timeout must be a positive number of seconds, got {probe_timeout!r}")
    if kind == "local":
        return "local", "local: the embedded local pool, as asked"
    source = condor_config_source()
    if kind == "auto" and schedd is None and collector is None and source is None:
        return "local", ("auto: no HTCondor configuration (CONDOR_CONFIG unset and "
                         "/etc/condor/condor_config missing), using the embedded local pool")
    log.debug("pool %r: HTCondor configuration %s; probing schedd %s (collector %s), %gs at most", kind,
              source or "(none found)", schedd or "(local)", collector or "(configured)", probe_timeout)
    started = time.monotonic()
    ok, detail = probe_schedd(schedd, collector, timeout=probe_timeout)
    log.debug("probe %s after %.2fs: %s", "answered" if ok else "failed", time.monotonic() - started, detail)
    if ok:
        return "condor", f"{kind}: HTCondor schedd at {detail} answered"
    raise PoolUnreachableError(kind, schedd, collector, source, detail)


class PoolUnreachableError(CondorPoolError):
    """The HTCondor schedd that ``pool`` means did not answer; says why, and how to ask for the local pool."""

    def __init__(self, kind: str, schedd: str | None, collector: str | None, config: str | None, detail: str):
        self.kind, self.detail = kind, detail
        why = [f"the schedd did not answer: {detail.rstrip('.')}"]
        if kind == "auto":
            named = "; ".join(f"{k} {v}" for k, v in (("-name", schedd), ("-pool", collector)) if v)
            why.append(f"pool 'auto' means HTCondor here ({named or 'HTCondor configured at ' + str(config)}) "
                       "and does not switch to the local pool on its own")
        why.append(ASK_FOR_LOCAL)
        super().__init__("probe", schedd or "(local)", ". ".join(why))


def choose_pool(kind: str = "auto", **options: Any) -> tuple[Pool, str]:
    """The pool to run on and a one-line reason for the choice (:func:`resolve_kind`).

    ``schedd``/``collector`` go to :class:`~condorexec.pools.condor.CondorPool`; every other option
    (but ``probe_timeout``) goes to :class:`~condorexec.pools.local.LocalPool`. Options for the pool
    ``kind`` rules out are an error."""
    if kind not in KINDS:
        raise ValueError(f"pool kind must be one of {', '.join(KINDS)}; got {kind!r}")
    condor_opts = {k: options.pop(k) for k in CONDOR_OPTIONS if k in options}
    timeout = options.pop("probe_timeout", PROBE_TIMEOUT)
    explicit_condor = {k: v for k, v in condor_opts.items() if v is not None}
    if kind == "local" and explicit_condor:
        raise ValueError(f"pool kind 'local' takes no HTCondor options, got {explicit_condor}")
    stray = {k: v for k, v in options.items() if v is not None}
    if kind == "condor" and stray:
        raise ValueError(f"pool kind 'condor' takes only {', '.join(CONDOR_OPTIONS)}; got {stray}")
    return open_pool(kind, probe_timeout=timeout, **condor_opts, **options)


def open_pool(kind: str = "auto", *, schedd: str | None = None, collector: str | None = None,
              probe_timeout: float = PROBE_TIMEOUT, **local_options: Any) -> tuple[Pool, str]:
    """Like :func:`choose_pool`, for a caller that holds options for either pool (a command line):
    the chosen pool gets its own, the other pool's are dropped."""
    chosen, reason = resolve_kind(kind, schedd=schedd, collector=collector, probe_timeout=probe_timeout)
    if chosen == "condor":
        return _condor({"schedd": schedd, "collector": collector}), reason
    return _local(local_options), reason


def open_view(kind: str = "auto", *, schedd: str | None = None, collector: str | None = None,
              state_dir: str | os.PathLike[str] | None = None, nodes: Sequence[str] = (),
              probe_timeout: float = PROBE_TIMEOUT) -> tuple[Pool | SpoolView, str]:
    """What a command that must not start a pool of its own looks at (``q``, ``history``, ``rm``,
    ``labels``), and why: the schedd, or else the spool of the local pools that ``condorexec submit``
    processes run under ``state_dir`` (sized as ``nodes`` say, for the largest machine)."""
    chosen, reason = resolve_kind(kind, schedd=schedd, collector=collector, probe_timeout=probe_timeout)
    if chosen == "condor":
        return _condor({"schedd": schedd, "collector": collector}), reason
    return SpoolView(state_dir, nodes=nodes), reason


def condor_config_source() -> str | None:
    """Where HTCondor would read its configuration from, or None when there is none.

    ``CONDOR_CONFIG=/dev/null`` counts as none: importing htcondor2 sets exactly that when it finds
    no configuration, so after the import an unset variable is indistinguishable from it."""
    env = os.environ.get("CONDOR_CONFIG")
    if env is not None and env.strip() and env != "/dev/null":
        return env
    for path in CONFIG_LOCATIONS:
        if os.path.isfile(os.path.expanduser(path)):
            return path
    return None


def probe_schedd(schedd: str | None = None, collector: str | None = None,
                 timeout: float = PROBE_TIMEOUT) -> tuple[bool, str]:
    """Ask the schedd a trivial query from a child process: ``(True, address)`` or ``(False, why)``."""
    cmd = [sys.executable, "-c", "from condorexec.pools.select import _probe_main; _probe_main()",
           schedd or "", collector or ""]
    env = os.environ.copy()
    # the child must import this very condorexec, even when it is not installed (a test checkout)
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return False, f"no answer after {timeout:g}s (probe killed)"
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
    if proc.returncode != 0 or not lines:
        err = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return False, f"probe exited with status {proc.returncode}: {err}"
    answer = json.loads(lines[-1])
    if "error" in answer:
        said = " ".join(ln.strip() for ln in proc.stderr.splitlines() if ln.strip())
        return False, answer["error"] + (f" (HTCondor said: {said})" if said else "")
    return True, answer["address"]


def _probe_main() -> None:
    """The child side of :func:`probe_schedd`: prints one JSON line."""
    from condorexec.pools.condor import CondorBindings

    schedd, collector = (sys.argv[1] or None), (sys.argv[2] or None)
    try:
        bindings = CondorBindings(schedd, collector)
        bindings.ping()
    except Exception as exc:  # whatever the bindings raise, the parent wants it as text
        print(json.dumps({"error": f"{type(exc).__name__}: {exc}"}))
        return
    print(json.dumps({"address": str(bindings.location.get("MyAddress", "?")),
                      "version": str(bindings.location.get("CondorVersion", ""))}))


def _local(options: dict[str, Any]) -> Pool:
    from condorexec.pools.local import LocalPool  # written alongside; imported only when chosen

    return LocalPool(**options)


def _condor(options: dict[str, Any]) -> Pool:
    from condorexec.pools.condor import CondorPool

    return CondorPool(**options)
