"""The house read from its imports (issue 25): no import circles in ``engine`` or ``tui``, and the
engine imports nothing of the TUI.

Every ``import`` and ``from ... import`` statement of every module is an edge, at module level or
inside a function (a lazy import is still a dependency: ``tui/cli/run.py`` and ``run_ensemble.py``
imported each other that way); only imports under ``if TYPE_CHECKING:`` are left out (they never
run). A circle is a strongly connected component of two or more modules (Tarjan's algorithm).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("engine", "tui")


def modules() -> dict[str, Path]:
    """Dotted name → file, for every module of the two packages."""
    found = {}
    for pkg in PACKAGES:
        for f in (ROOT / pkg).rglob("*.py"):
            parts = list(f.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found["mbsim." + ".".join(parts)] = f
    return found


def _type_checking_only(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def imported(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The modules of ``known`` that module ``name`` imports (at any depth of its code)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    skip = {id(sub) for node in ast.walk(tree) if isinstance(node, ast.If) and _type_checking_only(node)
            for sub in ast.walk(node)}
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name in known}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for a in node.names:
                if f"{source}.{a.name}" in known:       # from package import module
                    out.add(f"{source}.{a.name}")
                elif source in known:
                    out.add(source)
    out.discard(name)
    return out


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of two or more modules (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
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
                found.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imported(name, path, known) for name, path in known.items()}


def test_the_walk_finds_the_imports_it_should(graph: dict[str, set[str]]) -> None:
    """The walk itself: a module-level import, a relative one, a lazy one inside a function."""
    assert "mbsim.engine.runs" in graph["mbsim.engine.simulation"]          # from .runs import Runs
    assert "mbsim.engine.scenario" in graph["mbsim.engine"]                 # from .scenario import ...
    assert "mbsim.tui.cli.run_ensemble" in graph["mbsim.tui.cli.run"]       # from . import run_ensemble, in a function
    assert "mbsim.tui.screens.settings" in graph["mbsim.tui.live"]          # a lazy import in action_settings


def test_circles_are_found_when_there_are_some() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": {"e"}}
    assert circles(edges) == [["a", "b", "c"]]


def test_no_import_circles(graph: dict[str, set[str]]) -> None:
    found = circles(graph)
    assert not found, "import circles (each must become one-way, e.g. through a shared module): " + \
        "; ".join(" <-> ".join(c) for c in found)


def test_the_engine_imports_nothing_of_the_tui(graph: dict[str, set[str]]) -> None:
    for name, deps in graph.items():
        if name.split(".")[1] == "engine":
            assert not {d for d in deps if d.split(".")[1] == "tui"}, name
