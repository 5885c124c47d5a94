#!/usr/bin/env python3
"""Print condorexec's import graph and line counts, from the source alone (``ast``, nothing imported).

Each line: a module, its line count, and the condorexec modules it imports (``parsl`` too, when it
imports Parsl), so a layering rule such as "Parsl only in the adapter" or "nothing above pools/ imports
the local pool" can be checked by eye or by grep. Usage: ``python ci/import_graph.py [PACKAGE_DIR]``.

Then it checks the layering (CI runs it; exit status 1 on a violation): every module belongs to one of
LAYERS, lowest first, and imports nothing from a higher layer; and no modules import each other in a
cycle. For the checks, imports under ``if TYPE_CHECKING:`` (annotations only) do not count, nor does the
root package itself (``from condorexec import names`` runs the package's ``__init__`` by Python's rules,
which only re-exports the executor: the dependency is on ``names``).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path


def module_name(root: Path, path: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


#: the layers, lowest first, each by the module names (below the package) that start it; a module may
#: import only from its own layer and those below (docs/design.md §2)
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("node side (shipped alone: imports nothing of condorexec)", ("worker", "runner")),
    ("facts and vocabulary", ("errors", "names", "resources", "condorfacts", "autorule", "spec", "logsetup")),
    ("rendering and the call's files", ("render", "payload", "files")),
    ("the submit language", ("submit",)),
    ("pools and job state", ("pools", "tracker")),
    ("learning, packing environments, the workflow journal", ("labels", "sizing", "pack", "runstats", "workflow")),
    ("the Parsl-free core", ("core",)),
    ("the Parsl adapter", ("executor", "executor_config", "parslfiles", "parslmonitor")),
    ("the command line", ("cli",)),
]


def layer_of(name: str, package: str) -> int | None:
    """The index in LAYERS of module ``name`` (the root package is above them all); None if unplaced."""
    if name == package:
        return len(LAYERS)
    top = name.removeprefix(package + ".").split(".")[0]
    return next((i for i, (_, tops) in enumerate(LAYERS) if top in tops), None)


def _type_checking_only(tree: ast.AST) -> set[int]:
    """ids of the import nodes under ``if TYPE_CHECKING:``."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(id(inner) for stmt in node.body for inner in ast.walk(stmt))
    return skipped


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The groups of modules that import each other (Tarjan's strongly connected components)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for dep in edges.get(node, ()):
            if dep not in index:
                visit(dep)
                low[node] = min(low[node], low[dep])
            elif dep in stack:
                low[node] = min(low[node], index[dep])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1 or node in edges.get(node, ()):
                found.append(sorted(group))

    sys.setrecursionlimit(10000)
    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def imports_of(path: Path, name: str, package: str, *, at_run_time: bool = False,
               modules: dict[str, Path] | None = None) -> set[str]:
    """The condorexec modules (and ``parsl``) that the module ``name`` at ``path`` imports (``at_run_time``:
    not those under ``if TYPE_CHECKING:``)."""
    found: set[str] = set()
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text(), str(path))
    skipped = _type_checking_only(tree) if at_run_time else set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")[: len(name.split(".")) - node.level + is_package]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            if at_run_time and modules is not None and all(t in modules for t in targets[1:]):
                targets = targets[1:]  # from a package import its modules: the dependency is on them
        else:
            continue
        for target in targets:
            if target == "parsl" or target.startswith("parsl."):
                found.add("parsl")
            elif target.startswith(package):
                found.add(target)
    return found


def main(argv: list[str]) -> int:
    root = Path(argv[1] if len(argv) > 1 else Path(__file__).resolve().parents[1] / "condorexec")
    package = root.name
    paths = sorted(root.rglob("*.py"))
    modules = {module_name(root, p): p for p in paths}
    total = 0
    for name, path in modules.items():
        lines = len(path.read_text().splitlines())
        total += lines
        # keep only names that are modules (from x import name may name a function)
        deps = sorted(d for d in imports_of(path, name, package) if d in modules or d == "parsl")
        deps = [d for d in deps if d != name]
        print(f"{name:40} {lines:5}  -> {', '.join(d.removeprefix(package + '.') for d in deps) or '-'}")
    print(f"{len(modules)} modules, {total} lines")
    return check(modules, package)


def check(modules: dict[str, Path], package: str) -> int:
    """Print the layering's violations (upward imports, unplaced modules, cycles); 1 if there is any."""
    edges = {name: {d for d in imports_of(path, name, package, at_run_time=True, modules=modules)
                    if d in modules and d not in (name, package)}
             for name, path in modules.items()}
    unplaced = sorted(name for name in modules if layer_of(name, package) is None)
    upward = sorted((name, dep) for name, deps in edges.items() for dep in deps
                    if None not in (layer_of(name, package), layer_of(dep, package))
                    and layer_of(dep, package) > layer_of(name, package))  # type: ignore[operator]
    loops = cycles(edges)
    for name in unplaced:
        print(f"unplaced: {name} is in none of LAYERS (ci/import_graph.py): say which layer it belongs to")
    for name, dep in upward:
        print(f"upward import: {name} ({LAYERS[layer_of(name, package)][0]}) imports {dep} "  # type: ignore[index]
              f"({LAYERS[layer_of(dep, package)][0]})")  # type: ignore[index]
    for group in loops:
        print(f"cycle: {' <-> '.join(group)}")
    print(f"layering: {len(upward)} upward imports, {len(loops)} cycles, {len(unplaced)} unplaced modules")
    return 1 if upward or loops or unplaced else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
