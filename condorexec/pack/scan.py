"""Which top-level modules an app needs on the node, and which installed distributions provide them.

Why a static scan instead of "ship everything": a researcher's environment often holds gigabytes of
packages of which one app uses two.  Shipping only what the function can reach keeps the archive small
and the first transfer fast.  The scan looks at what cloudpickle will need to rebuild and run the
function on the node:

* every code object of the function, its nested functions, lambdas and comprehensions
  (``IMPORT_NAME`` instructions: ``import x`` and ``from x import y`` inside the body);
* the globals those code objects load (``LOAD_GLOBAL``/``LOAD_NAME``), its closure cells, its
  defaults: a module value names itself; a function or class defined in an importable module names
  that module (cloudpickle pickles it by reference); one defined in ``__main__`` is pickled by value,
  so its own code is scanned in turn; any other object names the module of its type.

Standard-library modules are left out (the packed interpreter brings its stdlib).  A top-level module
is mapped to distributions with :func:`importlib.metadata.packages_distributions`; the result is then
closed over the distributions' requirements (markers evaluated for this interpreter, extras followed).
A module that no distribution provides but that can be found on ``sys.path`` is a *local module*
(a script's helper, a project checkout on ``PYTHONPATH``, an editable install) and is shipped as files.
"""

from __future__ import annotations

import dis
import functools
import importlib.metadata as md
import importlib.util
import json
import sys
import types
import warnings
import weakref
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

#: The node-side runner unpickles with cloudpickle: it must be in every package.
ALWAYS_INCLUDE: tuple[str, ...] = ("cloudpickle",)

_IMPORT_OPS = frozenset({"IMPORT_NAME"})
_GLOBAL_OPS = frozenset({"LOAD_GLOBAL", "LOAD_NAME", "STORE_GLOBAL"})


@dataclass(frozen=True)
class ScanResult:
    """What one app needs on the node besides the interpreter and its standard library."""

    distributions: dict[str, str]
    """Distribution name -> installed version, closed over installed requirements."""
    local_modules: dict[str, str]
    """Top-level module name -> its file (a module) or directory (a package); provided by no distribution."""
    unresolved: tuple[str, ...] = field(default=())
    """Imported top-level names that nothing on this machine provides."""


def _stdlib_names() -> frozenset[str]:
    return frozenset(sys.stdlib_module_names) | frozenset(sys.builtin_module_names) | {"__main__"}


# --------------------------------------------------------------------------- walking the function


def _code_objects(code: types.CodeType) -> Iterator[types.CodeType]:
    """The code object and every code object nested in its constants (inner defs, lambdas, comprehensions)."""
    stack = [code]
    while stack:
        c = stack.pop()
        yield c
        stack.extend(k for k in c.co_consts if isinstance(k, types.CodeType))


def _resolve_relative(name: str, level: int, package: str | None) -> str | None:
    if level == 0:
        return name
    if not package:
        return None
    try:
        return importlib.util.resolve_name("." * level + name, package)
    except (ImportError, ValueError):
        return None


def _imports_in(code: types.CodeType, package: str | None) -> Iterator[str]:
    """Absolute dotted names of the ``import`` statements in one code object."""
    level = 0
    for ins in dis.get_instructions(code):
        if ins.opname == "LOAD_CONST" and isinstance(ins.argval, int):
            level = ins.argval  # IMPORT_NAME pops (level, fromlist); level is loaded just before
        elif ins.opname in _IMPORT_OPS:
            resolved = _resolve_relative(ins.argval or "", level, package)
            if resolved:
                yield resolved
            level = 0


def _globals_in(code: types.CodeType) -> Iterator[str]:
    for ins in dis.get_instructions(code):
        if ins.opname in _GLOBAL_OPS:
            yield ins.argval


def _pickled_by_value(obj: object) -> bool:
    """True for functions/classes cloudpickle serialises by value (defined in ``__main__`` or registered)."""
    modname = getattr(obj, "__module__", None)
    if modname in (None, "__main__"):
        return True
    try:
        import cloudpickle.cloudpickle as cp

        registered: set[str] = getattr(cp, "_PICKLE_BY_VALUE_MODULES", set())
        return any(modname == m or modname.startswith(m + ".") for m in registered)
    except ImportError:  # pragma: no cover - cloudpickle is a hard dependency
        return False


class _Walker:
    """Collects dotted module names reachable from a function; visits each object once."""

    def __init__(self) -> None:
        self.modules: set[str] = set()
        self.soft: set[str] = set()  # named by an object's __module__: C types may claim odd names
        self._seen: set[int] = set()

    def function(self, func: types.FunctionType) -> None:
        if id(func) in self._seen:
            return
        self._seen.add(id(func))
        package = func.__globals__.get("__package__") or None
        if package is None and func.__globals__.get("__name__", "__main__") != "__main__":
            package = func.__globals__["__name__"].rpartition(".")[0] or None
        for code in _code_objects(func.__code__):
            self.modules.update(_imports_in(code, package))
            for name in _globals_in(code):
                if name in func.__globals__:
                    self.value(func.__globals__[name])
        for cell in func.__closure__ or ():
            try:
                self.value(cell.cell_contents)
            except ValueError:  # empty cell
                pass
        for v in func.__defaults__ or ():
            self.value(v)
        for v in (func.__kwdefaults__ or {}).values():
            self.value(v)

    def value(self, v: object) -> None:
        if isinstance(v, types.ModuleType):
            self.modules.add(v.__name__)
        elif isinstance(v, types.FunctionType):
            if _pickled_by_value(v):
                self.function(v)
            else:
                self.soft.add(v.__module__)
        elif isinstance(v, types.BuiltinFunctionType) and isinstance(getattr(v, "__module__", None), str):
            self.soft.add(v.__module__)  # a C function of an extension module, e.g. yaml._yaml.foo
        elif isinstance(v, types.MethodType):
            self.value(v.__func__)
            self.value(v.__self__)
        elif isinstance(v, type):
            if _pickled_by_value(v):
                if id(v) in self._seen:
                    return
                self._seen.add(id(v))
                for base in v.__mro__[1:]:
                    self.value(base)
                for attr in vars(v).values():
                    inner = getattr(attr, "__func__", attr)
                    if isinstance(inner, types.FunctionType):
                        self.function(inner)
            elif isinstance(v.__module__, str):
                self.soft.add(v.__module__)
        elif isinstance(v, functools.partial):
            self.value(v.func)
            for a in (*v.args, *v.keywords.values()):
                self.value(a)
        elif isinstance(v, (list, tuple, set, frozenset)):
            for item in v:
                self.value(item)
        elif isinstance(v, dict):
            for item in v.values():
                self.value(item)
        elif v is not None:
            self.value(type(v))


# --------------------------------------------------------------------------- modules -> distributions


@functools.lru_cache(maxsize=1)
def _packages_distributions() -> dict[str, tuple[str, ...]]:
    return {k: tuple(dict.fromkeys(v)) for k, v in md.packages_distributions().items()}


@functools.cache
def _distribution(name: str) -> md.Distribution | None:
    try:
        return md.distribution(name)
    except md.PackageNotFoundError:
        return None


def _is_editable(dist: md.Distribution) -> bool:
    """True when the installed files are not the code: editable installs and source-tree egg-info.

    An editable install's RECORD holds a .pth or finder pointing at a checkout; an ``*.egg-info`` found
    in a source tree (``setup.py develop``, a project on ``PYTHONPATH``) has no RECORD at all.  Either
    way the modules are shipped as local files rather than from the distribution's file list.
    """
    if dist.read_text("RECORD") is None:
        return True
    try:
        info = json.loads(dist.read_text("direct_url.json") or "{}")
    except ValueError:
        return False
    return bool(isinstance(info, dict) and info.get("dir_info", {}).get("editable"))


def _providers(dotted: str, top: str) -> tuple[str, ...]:
    """Distributions providing ``dotted``; several dists share a namespace package, so narrow by path."""
    names = _packages_distributions().get(top, ())
    if len(names) <= 1 or "." not in dotted:
        return names
    sub = "/".join(dotted.split(".")[:2])
    narrowed = []
    for n in names:
        dist = _distribution(n)
        files = dist.files if dist is not None else None
        if files and any(str(f).startswith((sub + "/", sub + ".")) for f in files):
            narrowed.append(n)
    return tuple(narrowed) or names


def _local_path(top: str) -> str | None:
    """Where a top-level module not owned by any distribution lives: a .py/.so file or a package dir."""
    mod = sys.modules.get(top)
    spec = getattr(mod, "__spec__", None) if mod is not None else None
    if spec is None:
        try:
            spec = importlib.util.find_spec(top)
        except (ImportError, ValueError):
            return None
    if spec is None:
        return None
    if spec.submodule_search_locations:
        locations = list(spec.submodule_search_locations)
        return locations[0] if locations else None
    if spec.origin and spec.origin not in ("built-in", "frozen") and Path(spec.origin).is_file():
        return spec.origin
    return None


def _requirement_closure(roots: Iterable[tuple[str, frozenset[str]]]) -> dict[str, md.Distribution]:
    """Follow ``Requires-Dist`` of installed distributions; markers evaluated, requested extras honoured."""
    env = {name: str(value) for name, value in default_environment().items()}  # all str: PEP 508
    found: dict[str, md.Distribution] = {}
    done: set[tuple[str, frozenset[str]]] = set()
    todo = list(roots)
    while todo:
        name, extras = todo.pop()
        key = (canonicalize_name(name), extras)
        if key in done:
            continue
        done.add(key)
        dist = _distribution(name)
        if dist is None:
            continue  # required but not installed: the app ran without it here, so it can on the node
        found[canonicalize_name(dist.metadata["Name"])] = dist
        for text in dist.requires or ():
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            if req.marker is not None:
                wanted = extras or frozenset({""})
                if not any(req.marker.evaluate({**env, "extra": e}) for e in wanted):
                    continue
            todo.append((req.name, frozenset(req.extras)))
    return found


# --------------------------------------------------------------------------- public API

_memo: weakref.WeakKeyDictionary[object, ScanResult] = weakref.WeakKeyDictionary()


def scan_function(func: object) -> ScanResult:
    """Find the distributions and local modules ``func`` needs on the node.

    Results are memoized per function object (a cache hit must cost milliseconds); a module that
    nothing provides is warned about once and listed in ``unresolved``.
    """
    target = getattr(func, "__wrapped__", func)
    if isinstance(target, functools.partial):
        target = target.func
    if not isinstance(target, types.FunctionType):
        raise TypeError(f"scan_function: func must be a Python function, got {type(func).__name__}: {func!r}")
    try:
        return _memo[target]
    except KeyError:
        pass
    walker = _Walker()
    walker.function(target)
    result = scan_modules(walker.modules, soft=walker.soft - walker.modules)
    if result.unresolved:
        warnings.warn(
            f"{target.__qualname__} imports module(s) {', '.join(result.unresolved)} that no installed "
            "distribution or file on sys.path provides",
            stacklevel=2,
        )
    _memo[target] = result
    return result


def scan_modules(dotted_names: Iterable[str], soft: Iterable[str] = ()) -> ScanResult:
    """Map dotted module names to distributions (closed over requirements) and local modules.

    ``soft`` names come from objects' ``__module__`` rather than import statements; one that nothing
    provides is dropped instead of reported (extension types often name a private C module).
    """
    hard, soft = list(dotted_names), list(soft)
    hard_tops = {n.partition(".")[0] for n in hard}
    soft_tops = {n.partition(".")[0] for n in soft}
    dotted_names = [*hard, *soft]
    stdlib = _stdlib_names()
    roots: dict[str, frozenset[str]] = {n: frozenset() for n in ALWAYS_INCLUDE}
    local: dict[str, str] = {}
    unresolved: list[str] = []
    for dotted in sorted(set(dotted_names)):
        top = dotted.partition(".")[0]
        if not top or top in stdlib or top in local:
            continue
        providers = _providers(dotted, top)
        editable = [p for p in providers if (d := _distribution(p)) is not None and _is_editable(d)]
        for p in providers:
            roots.setdefault(p, frozenset())
        if providers and not editable:
            continue
        path = _local_path(top)
        if path is not None:
            local[top] = path
        elif not providers and (top in hard_tops or top not in soft_tops):
            unresolved.append(top)
    closure = _requirement_closure(roots.items())
    distributions = {
        d.metadata["Name"]: d.version for key, d in sorted(closure.items()) if not _is_editable(d)
    }
    return ScanResult(
        distributions=distributions, local_modules=dict(sorted(local.items())), unresolved=tuple(unresolved)
    )


def installed_distribution(name: str) -> md.Distribution:
    """The installed distribution called ``name`` (used by the builder); KeyError naming it if absent."""
    dist = _distribution(name)
    if dist is None:
        raise KeyError(f"distribution {name!r} is not installed in {sys.prefix}")
    return dist


def clear_memo() -> None:
    """Forget memoized scans and the module->distribution map (after installing packages in-process)."""
    _memo.clear()
    _packages_distributions.cache_clear()
    _distribution.cache_clear()
