"""Late materialization: which submit keys ask for it, how condor_submit reads their limits, and the
:class:`Factory` a description makes (or None)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import classad2

from condorexec.errors import SubmitDescriptionError
from condorexec.submit.values import _Attrs, _expr, _Getter


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
