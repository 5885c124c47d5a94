"""Riding out a schedd restart: which binding errors mean "the schedd is not there just now", and how
long a call keeps trying before it fails.

HTCondor promises that a schedd restart (``condor_restart -schedd``, an upgrade, a crash the master
recovers from) loses no job: the queue is replayed from ``job_queue.log``. A client sees the gap as
errors from every call in it. Read from the bindings' sources (``src/python-bindings/htcondor2/
schedd.cpp``, 25.x), they are ``OSError``/``RuntimeError``/``HTCondorException`` whose text says the
connection or the transaction failed: "Failed to connect to schedd" (with ``SECMAN:2003`` connection
refused, ``SECMAN:2004`` "Server rejected our session id" — the new schedd does not know the old one's
security session — or ``SECMAN:2007``), "Failed to create new cluster", "Unable to commit transaction",
"Error when performing action on the schedd", "Failed to fetch ads from schedd", "Unable to connect to
schedd" and the history stream's "Failed to receive ...". Anything else (a ``ValueError``, a parse
error, a refused submit description) is the caller's and is not retried.

The bound is :data:`DEFAULT_RETRY_SECONDS`, or ``$CONDOREXEC_SCHEDD_RETRY_SECONDS``, or the pool's
``retry_seconds`` argument: how long the schedd may stay away before a call fails. Delays between
attempts double from :data:`FIRST_DELAY` up to :data:`MAX_DELAY`.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import htcondor2

log = logging.getLogger(__name__)

T = TypeVar("T")

#: seconds the schedd may stay away before a call fails: a restart replays the job queue log, which on
#: a busy schedd takes tens of seconds; 5 minutes covers that with room and still ends a real outage
DEFAULT_RETRY_SECONDS = 300.0
#: the environment variable that overrides it (``0`` turns retrying off)
RETRY_SECONDS_ENV = "CONDOREXEC_SCHEDD_RETRY_SECONDS"
#: the first wait after a failed attempt; each next one doubles, up to MAX_DELAY
FIRST_DELAY = 0.5
MAX_DELAY = 8.0

#: the texts of the bindings' errors that mean the schedd is restarting or briefly unreachable
_SCHEDD_AWAY = re.compile(
    r"Failed to connect to schedd|Unable to connect to schedd|Failed to create new (cluster|proc)"
    r"|Failed to send (cluster|proc) attributes|Unable to commit transaction"
    r"|Error when performing action on the schedd|Failed to fetch ads from schedd"
    r"|Failed to receive (history ad|end-of-message)|Unable to send (history request|end-of-message)"
    r"|SECMAN:200[0-9]|CEDAR:6\d{3}|Connection refused|Connection reset",
    re.IGNORECASE)
#: the exception types those errors come as; ValueError, TypeError and ClassAdException never mean "away"
_AWAY_TYPES = (OSError, RuntimeError, htcondor2.HTCondorException)


def schedd_away(exc: BaseException) -> bool:
    """Whether ``exc`` from the bindings says the schedd is not answering (so a later attempt may work)."""
    return (isinstance(exc, _AWAY_TYPES) and not isinstance(exc, (ValueError, TypeError))
            and bool(_SCHEDD_AWAY.search(str(exc))))


def retry_seconds_from_env(default: float = DEFAULT_RETRY_SECONDS) -> float:
    """The bound from ``$CONDOREXEC_SCHEDD_RETRY_SECONDS``, refused by name when it is not a number >= 0."""
    text = os.environ.get(RETRY_SECONDS_ENV)
    if text is None or not text.strip():
        return default
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0:  # also NaN
        raise ValueError(f"{RETRY_SECONDS_ENV}={text!r} must be a number of seconds >= 0")
    return value


class ScheddAway(Exception):
    """The schedd stayed away past the bound; ``cause`` is the last error, ``waited`` the seconds spent."""

    def __init__(self, cause: BaseException, attempts: int, waited: float):
        self.cause, self.attempts, self.waited = cause, attempts, waited
        super().__init__(f"{type(cause).__name__}: {cause} (the schedd did not answer for {waited:.0f} s, "
                         f"{attempts} attempts; the bound is ${RETRY_SECONDS_ENV} or retry_seconds)")


@dataclass
class Retrier:
    """Runs one schedd call until it answers, the error is not a schedd-away one, or ``bound`` passes.

    ``already_done``, when given, runs before every attempt but the first and may return the call's
    result instead of repeating it: for a submit whose answer was lost after the schedd committed it.
    ``between`` runs after each wait (the pool locates the schedd again there)."""

    schedd: str
    bound: float = DEFAULT_RETRY_SECONDS
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic

    def run(self, what: str, attempt: Callable[[], T], already_done: Callable[[], T | None] | None = None,
            between: Callable[[], None] | None = None) -> T:
        started, tries, delay = self.clock(), 0, FIRST_DELAY
        while True:
            tries += 1
            try:
                done = already_done() if (already_done is not None and tries > 1) else None
                result = done if done is not None else attempt()
            except Exception as exc:  # noqa: BLE001 - sorted just below; the caller wraps what is raised
                waited = self.clock() - started
                if not schedd_away(exc):
                    raise
                if waited + delay > self.bound:
                    if tries == 1:
                        raise
                    raise ScheddAway(exc, tries, waited) from exc
                log.warning("schedd %s did not answer %s (%s: %s); attempt %d, retrying in %.1f s "
                            "(gives up %.0f s after the first failure)", self.schedd, what,
                            type(exc).__name__, exc, tries, delay, self.bound)
                self.sleep(delay)
                delay = min(delay * 2, MAX_DELAY)
                if between is not None:
                    between()
                continue
            if tries > 1:
                log.warning("schedd %s answered %s after %d attempts (%.1f s)%s", self.schedd, what, tries,
                            self.clock() - started, ": it had already taken the submission" if done is not None
                            else "")
            return result
