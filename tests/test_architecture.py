"""The layering rules of docs/ARCHITECTURE.md, checked on the source: each layer imports only
the layers above it, no import cycles between modules, and no private name imported across
modules.

Imports are read with ``ast`` (nothing is imported). Module-level imports count, and so do
imports inside functions: a lazy import that closes a cycle still ties the two modules
together. Imports under ``if TYPE_CHECKING:`` do not count (they never run).
"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"
PACKAGE = "embedrec"


def _module_name(path: Path) -> str:
    rel = path.relative_to(SRC).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(path: Path) -> list[tuple[str, list[str], int]]:
    """(imported module, names imported from it, line) for each import that runs."""
    module = _module_name(path)
    is_pkg = path.name == "__init__.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: list[tuple[str, list[str], int]] = []

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(sub)
                continue
            if isinstance(child, ast.Import):
                for alias in child.names:
                    if alias.name.split(".")[0] == PACKAGE:
                        out.append((alias.name, [], child.lineno))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = module.split(".")
                    base = base if is_pkg else base[:-1]
                    base = base[: len(base) - (child.level - 1)]
                    target = ".".join([*base, child.module] if child.module else base)
                else:
                    target = child.module or ""
                if target.split(".")[0] == PACKAGE:
                    out.append((target, [a.name for a in child.names], child.lineno))
            visit(child)

    visit(tree)
    return out


@functools.cache
def _graph() -> tuple[dict[str, set[str]], dict[str, Path]]:
    files = {_module_name(p): p for p in SRC.rglob("*.py")}
    edges: dict[str, set[str]] = {m: set() for m in files}
    for module, path in files.items():
        for target, names, _ in _imports(path):
            # "from pkg import mod" imports the submodule pkg.mod
            for name in names:
                if f"{target}.{name}" in files:
                    edges[module].add(f"{target}.{name}")
            if target in files and target != module:
                edges[module].add(target)
    return edges, files


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    import sys

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for v in edges:
        if v not in index:
            strong(v)
    return out


def _is_package_parent(a: str, b: str) -> bool:
    """A package and its own submodule: ``pkg/__init__.py`` re-exporting ``pkg.mod``."""
    return b.startswith(a + ".") or a.startswith(b + ".")


def test_cycle_finder_finds_a_planted_cycle():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(edges) == [["a", "b", "c"]]


def test_no_import_cycles():
    edges, _ = _graph()
    # a package's __init__ re-exporting its submodules is not a cycle of concepts
    pruned = {m: {t for t in ts if not _is_package_parent(m, t)} for m, ts in edges.items()}
    cycles = _cycles(pruned)
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("module", sorted(_graph()[1]))
def test_no_private_name_imported_across_modules(module):
    path = _graph()[1][module]
    bad = [
        f"{path.relative_to(SRC)}:{line}: from {target} import {name}"
        for target, names, line in _imports(path)
        for name in names
        if name.startswith("_") and not name.startswith("__") and target != module
    ]
    assert not bad, "\n".join(bad)


#: docs/ARCHITECTURE.md's layers, top first: a module imports only modules of its own layer or
#: of a layer above it (the longest matching prefix decides a module's layer)
LAYERS = [
    ("kernels", ["embedrec.kernels"]),
    ("foundations", ["embedrec.keys", "embedrec.artifacts", "embedrec._io", "embedrec.progress"]),
    (
        "vectors",
        ["embedrec.vectors", "embedrec.formats", "embedrec.index.topk", "embedrec.eval.word"],
    ),
    ("data", ["embedrec.data"]),
    ("index", ["embedrec.index"]),
    ("eval", ["embedrec.eval"]),
    ("models", ["embedrec.models"]),
    (
        "products",
        ["embedrec.export", "embedrec.nn", "embedrec.tune", "embedrec.plot", "embedrec.report"],
    ),
    ("service", ["embedrec.service"]),
    ("cli", ["embedrec.cli", "embedrec.__main__"]),
]


def _layer(module: str) -> int | None:
    best: tuple[int, int] | None = None
    for i, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (
                best is None or len(prefix) > best[1]
            ):
                best = (i, len(prefix))
    return None if best is None else best[0]


def test_every_module_has_a_layer():
    _, files = _graph()
    assert [m for m in files if m != PACKAGE and _layer(m) is None] == []


def test_layers_only_import_upward():
    edges, _ = _graph()
    bad = []
    for module, targets in edges.items():
        here = _layer(module)
        for target in targets:
            there = _layer(target)
            if here is not None and there is not None and there > here:
                bad.append(f"{module} ({LAYERS[here][0]}) imports {target} ({LAYERS[there][0]})")
    assert not bad, "\n".join(sorted(bad))
