"""The project's shape: dependency arrows point one way, no import circles, modules stay small.

Why a test: layering and module size erode one convenient import at a time, and nobody notices
until a newcomer cannot hold a module in their head or a change in `reports` breaks `controls`.
The import graph is read from the source (``ast``), so it covers every import statement,
including those inside functions and ``if TYPE_CHECKING:`` blocks: a circle that only
type checking sees still means two modules that cannot be understood apart.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("controls", "collectors", "reports", "flows", "demo")

# What each top-level package may import of the project (DESIGN.md, README "Development").
ALLOWED = {
    "controls": set(),
    "collectors": {"controls"},
    "reports": {"controls"},
    "flows": {"controls", "collectors", "reports", "demo"},
    "demo": {"controls", "collectors", "reports", "flows"},
}

# The demo is a client of the product: of the product, only the module offering `soc2-evidence demo`
# may import it, so the evidence path never depends on the fake company.
DEMO_IMPORTERS = {"flows.run_cli"}

MAX_LINES = 450
# Modules allowed past MAX_LINES, each with the reason the README's "Development" section gives.
LONG_MODULES: dict[str, str] = {}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")) if (ROOT / package).is_dir() else []:
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imported_names(module: str, path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                package = package[: len(package) - node.level + 1]
                base = ".".join([*package, base] if base else package)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports (a ``from pkg import sub`` names ``pkg.sub``)."""
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in modules.items():
        graph[module] = {name for name in _imported_names(module, path) if name in modules and name != module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
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
    return found


def test_cycle_finder_sees_a_circle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_graph_reads_relative_and_function_level_imports(tmp_path: Path) -> None:
    source = tmp_path / "mod.py"
    source.write_text("from .sibling import x\ndef f():\n    import flows.cli\n")
    assert _imported_names("flows.pkg.mod", source) >= {"flows.pkg.sibling", "flows.pkg.sibling.x", "flows.cli"}


def test_no_import_circles() -> None:
    circles = cycles(import_graph())
    assert circles == [], "import circles among the project's modules: " + "; ".join(" <-> ".join(c) for c in circles)


def test_dependency_arrows_point_one_way() -> None:
    wrong = []
    for module, imported in import_graph().items():
        top = module.split(".")[0]
        for name in imported:
            other = name.split(".")[0]
            if other != top and other not in ALLOWED[top]:
                wrong.append(f"{module} -> {name}")
            elif other == "demo" and top != "demo" and module not in DEMO_IMPORTERS:
                wrong.append(f"{module} -> {name} (only {', '.join(sorted(DEMO_IMPORTERS))} may import the demo)")
    assert wrong == [], "imports against the layering: " + ", ".join(sorted(wrong))


@pytest.mark.parametrize("module", sorted(_modules()))
def test_module_is_small_and_says_what_it_owns(module: str) -> None:
    path = _modules()[module]
    text = path.read_text()
    lines = text.count("\n")
    limit = MAX_LINES if module not in LONG_MODULES else 10_000
    assert lines <= limit, f"{path.relative_to(ROOT)} has {lines} lines (limit {MAX_LINES}): split it along a seam"
    if text.strip():
        assert ast.get_docstring(ast.parse(text)), f"{path.relative_to(ROOT)} has no opening docstring"
