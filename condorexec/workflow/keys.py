"""The key that says "this call is that call" across runs of a workflow (docs/durable.md, "Which call is
which").

A rerun of a script makes its calls again, in new objects, in a new process, maybe in another order. Two
calls are the same when all of these are:

* the app's code — ``labels/fingerprint.py``'s fingerprint of the user's function (bytecode, constants,
  defaults; not line numbers), and its qualified name;
* its arguments, pickled (with the standard pickler where it can, else cloudpickle); dicts keep their order (the
  same script builds them the same way), sets are sorted by the digest of each member, since a set's
  iteration order changes from process to process;
* its resource specification, and the files it reads and where its outputs go.

A value whose pickle is not the same in two processes (an object that pickles its address, say) makes
the key differ, so such a call runs again: the key may be too strict, never too loose — two different
calls never share a key, so a rerun never hands one call another's result. What the function calls
(another module's functions, globals it reads) is not part of the key, as for the label store.
"""

from __future__ import annotations

import hashlib
import pickle
import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import cloudpickle

from condorexec.files import FilePlan
from condorexec.labels.fingerprint import code_fingerprint
from condorexec.spec import ResourceSpec

#: bump when what goes into a key changes (every earlier call then runs again)
KEY_VERSION = 1

_fingerprints: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()

#: values that hold no set, returned by _canonical as they are before any other check (most arguments)
_PLAIN = frozenset({int, float, str, bytes, bool, type(None)})


def _function_part(func: Callable[..., Any]) -> str:
    """The app's name and code fingerprint; computed once per function object."""
    try:
        return _fingerprints[func]
    except (KeyError, TypeError):
        pass
    name = f"{getattr(func, '__module__', '')}.{getattr(func, '__qualname__', getattr(func, '__name__', ''))}"
    part = f"{name}:{code_fingerprint(func) or ''}"
    try:
        _fingerprints[func] = part
    except TypeError:  # not weak-referenceable: not cached
        pass
    return part


class _SortedSet(tuple):
    """What a set becomes in a key: its members' digests, sorted. A type of its own, so that no argument
    that is a plain tuple can pickle the same as a set."""

    __slots__ = ()


def _canonical(value: Any, depth: int = 0) -> Any:
    """``value`` with every set replaced by its sorted member digests (so its pickle is the same in every
    process: a set's order changes with the per-process string hash seed)."""
    if type(value) in _PLAIN or depth > 50:
        return value
    if isinstance(value, (set, frozenset)):
        return (type(value).__name__, _SortedSet(sorted(_digest(_canonical(v, depth + 1)) for v in value)))
    if type(value) in (list, tuple):
        return type(value)([_canonical(v, depth + 1) for v in value])
    if type(value) is dict:
        return {k: _canonical(v, depth + 1) for k, v in value.items()}
    return value


def _pickled(value: Any) -> bytes:
    """``value``'s pickle: the standard pickler's where it can (a few microseconds for plain data), else
    cloudpickle's, which pickles lambdas and the functions and classes of ``__main__`` by value (the
    standard pickler names those by reference, and a changed function of the script must change the key)."""
    try:
        data = pickle.dumps(value, protocol=5)
    except (pickle.PicklingError, TypeError, AttributeError):
        return cloudpickle.dumps(value, protocol=5)
    return data if b"__main__" not in data else cloudpickle.dumps(value, protocol=5)


def _digest(value: Any) -> str:
    return hashlib.sha256(_pickled(value)).hexdigest()


def call_key(func: Callable[..., Any], args: Sequence[Any], kwargs: Mapping[str, Any], spec: ResourceSpec,
             plan: FilePlan) -> str:
    """The call's key (64 hex digits). Raises what pickling raises for an argument that cannot be pickled
    (such a call could not be sent either)."""
    h = hashlib.sha256()
    h.update(f"condorexec-call-key:{KEY_VERSION}\0{_function_part(func)}\0".encode())
    h.update(_pickled((_canonical(tuple(args)), _canonical(dict(kwargs)))))
    h.update(repr(spec).encode())  # a frozen dataclass: its fields and values (astuple's deep copy costs 15 us)
    # not plan.collect: it names where this run's monitoring messages go (a directory per Parsl run)
    h.update(repr((list(plan.inputs), sorted(plan.outputs.items()))).encode())
    return h.hexdigest()
