"""HTCondor's two syntaxes (V1 and V2) for ``arguments`` and ``environment``: written into a job ad, and read
back from one (the local pool runs what the ad says)."""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable
from functools import lru_cache

import classad2

from condorexec.errors import SubmitDescriptionError
from condorexec.submit.values import _boolean, _s


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
    # V1 arguments split at spaces, tabs and newlines only (a \x0b stays in its argument: corpus c103)
    return "Args", " ".join(t for t in re.split(r"[ \t\r\n]+", "".join(raw)) if t)


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
