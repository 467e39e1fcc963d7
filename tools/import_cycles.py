"""Import cycles among a package's modules, read from the source (nothing is imported).

    python tools/import_cycles.py [src/citygraph] [--lazy] [--typing]

Every ``import``/``from … import`` is resolved to the package's own modules (relative ones too; ``from . import x``
names the submodule ``x`` when there is one). By default only imports that run *at import time* count (not
inside a function, not under ``if TYPE_CHECKING:``); ``--lazy`` adds those inside functions (a cycle through
them cannot fail at import, but still ties the modules together), ``--typing`` those under TYPE_CHECKING.
A module's implicit import of its own parent packages is not an edge. Prints each cycle (a strongly
connected component, with one path around it); exits 1 if there is any, 0 if none.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path


def module_names(root: Path) -> dict[str, Path]:
    """Dotted name → file, for every module of the package at ``root`` (a folder with ``__init__.py``)."""
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*.py")):
        parts = [root.name, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
    """Every import statement of a module and its kind: ``eager`` (runs at import time), ``lazy`` (inside a
    function) or ``typing`` (under TYPE_CHECKING, never runs)."""

    def walk(nodes: list[ast.stmt], kind: str) -> Iterator[tuple[ast.Import | ast.ImportFrom, str]]:
        for node in nodes:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                yield node, kind
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                yield from walk(node.body, "typing" if kind == "typing" else "lazy")
            elif isinstance(node, ast.If) and _is_type_checking(node.test):
                yield from walk(node.body, "typing")
                yield from walk(node.orelse, kind)
            else:
                for field in ("body", "orelse", "finalbody", "handlers"):
                    children = getattr(node, field, None)
                    if isinstance(children, list):
                        statements = [c for c in children if isinstance(c, ast.stmt)]
                        for handler in (c for c in children if isinstance(c, ast.ExceptHandler)):
                            statements += handler.body
                        yield from walk(statements, kind)

    yield from walk(tree.body, "eager")


def edges(root: Path, kinds: frozenset[str] = frozenset({"eager"})) -> dict[str, set[str]]:
    """Module → the package's modules it imports by an import of one of ``kinds`` (see :func:`_imports`)."""
    modules = module_names(root)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node, kind in _imports(tree):
            if kind not in kinds:
                continue
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - (node.level - 1)]
                    stem = ".".join(base + ([node.module] if node.module else []))
                else:
                    stem = node.module or ""
                targets = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in modules else stem for a in node.names]
            for target in targets:
                while target and target not in modules:  # `import a.b.c` of a non-module: its nearest module
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0

    def visit(node: str) -> None:
        nonlocal counter
        index[node] = low[node] = counter
        counter += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(graph) + 100))
    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def path_around(graph: dict[str, set[str]], component: list[str]) -> list[str]:
    """One cycle through the component's first module, by breadth-first search inside the component."""
    start, members = component[0], set(component)
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for target in sorted(graph[node] & members):
                if target == start:
                    chain = [node]
                    while chain[-1] != start:
                        chain.append(previous[chain[-1]])
                    return [start, *reversed(chain[:-1]), start]
                if target not in previous:
                    previous[target] = node
                    following.append(target)
        frontier = following
    return component


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = Path(__file__).resolve().parents[1] / "src" / "citygraph"
    parser.add_argument("package", nargs="?", type=Path, default=default, help=f"default: {default}")
    parser.add_argument("--lazy", action="store_true", help="count imports inside functions too")
    parser.add_argument("--typing", action="store_true", help="count imports under TYPE_CHECKING too")
    args = parser.parse_args(argv)
    if not (args.package / "__init__.py").is_file():
        print(f"import_cycles.py: {args.package}: not a package (no __init__.py)", file=sys.stderr)
        return 2
    kinds = {"eager"} | ({"lazy"} if args.lazy else set()) | ({"typing"} if args.typing else set())
    graph = edges(args.package, frozenset(kinds))
    found = cycles(graph)
    kind = "module-to-module imports (" + ", ".join(sorted(kinds)) + ")"
    for component in found:
        print(f"cycle ({len(component)} modules): {' -> '.join(path_around(graph, component))}")
    print(f"{len(graph)} modules, {sum(map(len, graph.values()))} {kind}: {len(found) or 'no'} cycle(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
