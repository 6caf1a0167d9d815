"""The house's shape (issue 27): no import cycle between the application's modules, not even through an
import inside a function. The layers (core ← membership ← campaigns ← pos, analytics, memberweb ←
portal) are import-linter's contract in pyproject.toml, run by `make lint`; this test guards the cycles,
which that contract does not see inside one app."""

import ast
from pathlib import Path

import grimp
import pytest

PACKAGES = ("core", "membership", "campaigns", "pos", "analytics", "memberweb", "portal")


def import_cycles(graph) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    edges = {m: sorted(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    index, low, on_stack, stack, found = {}, {}, set(), [], []
    for root in sorted(edges):
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = len(index)
                stack.append(node)
                on_stack.add(node)
            for j, nxt in enumerate(edges[node][i:], start=i):
                if nxt not in index:
                    work += [(node, j + 1), (nxt, 0)]
                    break
                if nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
            else:
                if low[node] == index[node]:
                    component = []
                    while (member := stack.pop()) != node:
                        on_stack.discard(member)
                        component.append(member)
                    on_stack.discard(node)
                    if component:
                        found.append(sorted([node, *component]))
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
    return found


@pytest.fixture
def graph():
    root = Path(__file__).resolve().parents[2]
    assert all((root / p / "__init__.py").exists() for p in PACKAGES)
    built = grimp.build_graph(*PACKAGES, cache_dir=None)
    assert len(built.modules) > 150  # every app's modules, not an empty tree
    return built


def test_no_import_cycle_between_modules(graph):
    assert import_cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle(graph):
    """The finder itself: two modules that import each other, and a three-module ring, are reported."""
    graph.add_import(importer="core.rows", imported="core.errors")
    graph.add_import(importer="core.errors", imported="core.rows")
    graph.add_import(importer="core.clock", imported="core.money")
    graph.add_import(importer="core.money", imported="core.sms")
    graph.add_import(importer="core.sms", imported="core.clock")
    cycles = import_cycles(graph)
    assert sorted(["core.errors", "core.rows"]) in cycles
    assert sorted(["core.clock", "core.money", "core.sms"]) in cycles


MAX_MODULE_LINES, MAX_FUNCTION_LINES = 800, 80


def application_files():
    root = Path(__file__).resolve().parents[2]
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "migrations" not in path.parts:
                yield path.relative_to(root), path.read_text()


def test_no_application_module_over_800_lines_nor_function_over_80():
    """Issue 27's size limits (complexity 15 is ruff's C90 in `make lint`)."""
    too_long = []
    for path, source in application_files():
        if (lines := source.count("\n")) > MAX_MODULE_LINES:
            too_long.append(f"{path}: {lines} lines")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                if (length := node.end_lineno - node.lineno + 1) > MAX_FUNCTION_LINES:
                    too_long.append(f"{path}:{node.lineno} {node.name}: {length} lines")
    assert too_long == []
