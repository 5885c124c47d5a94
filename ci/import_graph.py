#!/usr/bin/env python3
"""Print condorexec's import graph and line counts, from the source alone (``ast``, nothing imported).

Each line: a module, its line count, and the condorexec modules it imports (``parsl`` too, when it
imports Parsl), so a layering rule such as "Parsl only in the adapter" or "nothing above pools/ imports
the local pool" can be checked by eye or by grep. Usage: ``python ci/import_graph.py [PACKAGE_DIR]``.
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


def imports_of(path: Path, name: str, package: str) -> set[str]:
    """The condorexec modules (and ``parsl``) that the module ``name`` at ``path`` imports."""
    found: set[str] = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")[: len(name.split(".")) - node.level + is_package]
                base = ".".join(anchor + ([base] if base else []))
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
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
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
