"""A fingerprint of an app function's code, so that the label store notices when the app changed.

autocategory names a category after the function (``pkg.mod.fn``); a label learned for it is only
right while the function does the same thing. When its code changes, the store starts the category
over (docs/labels.md, "When the app changes"). That needs a value that is

* **the same for unchanged code in every process and run**: so not ``hash()`` of objects (strings are
  hashed with a per-process seed), not ``id()``, not ``repr()`` of objects that print addresses;
* **unchanged when the function only moves**: line numbers, the file name and the first line are
  left out (``co_firstlineno``, ``co_lines``/``co_lnotab``, ``co_filename``), so adding a function
  above it or renaming the file is not a change;
* **changed when what it runs changes**: the bytecode (``co_code``), its constants — nested code
  objects (inner functions, lambdas, comprehensions) fingerprinted the same way, recursively — the
  names and variables it uses, its argument layout, and its default arguments.

Bytecode differs between Python versions, so a new interpreter counts as a change; the version is part
of the input so that this is explicit rather than accidental. What the function calls (another
module's functions) is not followed: a change there is not seen.

Callables without code (builtins, C extensions, ``functools.partial`` objects, classes, instances with
``__call__``) get ``None``: no fingerprint, no staleness check — never an error at submission.
"""

from __future__ import annotations

import hashlib
import sys
import types
from typing import Any

#: bump when what goes into the fingerprint changes (every stored fingerprint then counts as changed)
FINGERPRINT_VERSION = 1

#: constants nested deeper than this are summarised by type (a pathological constant cannot hang submit)
_MAX_DEPTH = 50


def _feed(h: Any, tag: bytes, data: bytes) -> None:
    """Length-prefixed, tagged chunks: no two different inputs give the same byte stream."""
    h.update(tag + len(data).to_bytes(8, "little") + data)


def _value(h: Any, value: Any, depth: int) -> None:
    """A constant or default value, by content; anything without a stable content form by type only."""
    if depth > _MAX_DEPTH:
        _feed(h, b"deep", type(value).__qualname__.encode())
    elif isinstance(value, types.CodeType):
        _code(h, value, depth + 1)
    elif value is None or value is Ellipsis or isinstance(value, (bool, int, float, complex)):
        _feed(h, b"num", f"{type(value).__name__}:{value!r}".encode())
    elif isinstance(value, str):
        _feed(h, b"str", value.encode("utf-8", "surrogatepass"))
    elif isinstance(value, bytes):
        _feed(h, b"bytes", value)
    elif isinstance(value, (tuple, list, frozenset, set)):
        items = list(value)
        if isinstance(value, (frozenset, set)):  # iteration order of a set is per-process: sort by content
            items = sorted(items, key=lambda v: _digest(v, depth + 1))
        _feed(h, b"seq", f"{type(value).__name__}:{len(items)}".encode())
        for item in items:
            _value(h, item, depth + 1)
    elif isinstance(value, dict):
        pairs = sorted(value.items(), key=lambda kv: _digest(kv[0], depth + 1))
        _feed(h, b"dict", str(len(pairs)).encode())
        for k, v in pairs:
            _value(h, k, depth + 1)
            _value(h, v, depth + 1)
    elif isinstance(value, (types.FunctionType, types.BuiltinFunctionType, type)):
        # a default that is a function or class: its name is stable, its address is not
        _feed(h, b"ref", f"{getattr(value, '__module__', '')}.{value.__qualname__}".encode())
    else:  # an object default (e.g. a dataclass instance): its repr may hold an address, so by type
        _feed(h, b"obj", f"{type(value).__module__}.{type(value).__qualname__}".encode())


def _digest(value: Any, depth: int) -> bytes:
    h = hashlib.sha256()
    _value(h, value, depth)
    return h.digest()


def _code(h: Any, code: types.CodeType, depth: int) -> None:
    """What a code object does, without where it is: no line numbers, no file name."""
    _feed(h, b"code", code.co_code)
    for field in ("co_argcount", "co_posonlyargcount", "co_kwonlyargcount", "co_flags"):
        _feed(h, field.encode(), str(getattr(code, field)).encode())
    for field in ("co_names", "co_varnames", "co_freevars", "co_cellvars"):
        _value(h, getattr(code, field), depth + 1)
    _value(h, code.co_consts, depth + 1)


def code_fingerprint(func: Any) -> str | None:
    """A hex digest of ``func``'s code and default arguments, or ``None`` when it has no Python code.

    Stable across processes and runs for unchanged code; different when the body, a nested function,
    a constant, a name it uses or a default argument changes; the same when the function only moved
    within or between files."""
    code = getattr(func, "__code__", None)
    if not isinstance(code, types.CodeType):
        return None
    try:
        h = hashlib.sha256()
        _feed(h, b"version", f"{FINGERPRINT_VERSION}:{sys.implementation.cache_tag}".encode())
        _code(h, code, 0)
        _value(h, getattr(func, "__defaults__", None), 0)
        _value(h, getattr(func, "__kwdefaults__", None), 0)
        return h.hexdigest()
    except Exception:  # noqa: BLE001 - a fingerprint is a hint: a function we cannot read is not checked
        return None
