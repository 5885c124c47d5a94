"""Macro expansion per proc: each submit key expanded by the real parser (``Submit.expand``) on a private
copy of the description, memoised on the per-proc variables the key can reach."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import htcondor2

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
        if any("$" in v for v in values):  # an item value with macros of its own (the rows of submit.cluster)
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


#: how many expanded values an expander remembers (a key and the per-proc values it depends on)
_MEMO_VALUES = 65536
