"""Submit-command values → ClassAd source text: strings, booleans, expressions, sizes, paths, file lists.
Each function checks one kind of value and names the command in its error."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from functools import lru_cache

import classad2

from condorexec.errors import SubmitDescriptionError

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
    evaluated: object
    try:
        evaluated = classad2.ExprTree(expr).eval()
    except Exception:
        evaluated = None
    if isinstance(evaluated, int | float) and not isinstance(evaluated, bool) and evaluated < 0:
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


#: reads one submit command of one proc, expanded (None when absent or empty)
_Getter = Callable[..., str | None]
#: attributes as ClassAd source text, by name
_Attrs = dict[str, str]


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
