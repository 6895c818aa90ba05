"""The package's shape: its modules import each other without circles, counting every import (at the top,
inside functions and under TYPE_CHECKING: a circle there still ties the modules' designs together), and no
function is over 50 lines."""

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "aibeats"


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_names(tree: ast.AST) -> set[str]:
    """Every module name an import statement could mean, `from a import b` being either a or a.b."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def import_graph() -> dict[str, set[str]]:
    modules = {module_name(path): path for path in PACKAGE.rglob("*.py")}
    return {name: (imported_names(ast.parse(path.read_text())) & modules.keys()) - {name}
            for name, path in modules.items()}


def test_the_package_imports_without_circles():
    graph = import_graph()
    assert {"aibeats.plan", "aibeats.recipes", "aibeats.pipeline"} <= graph.keys()
    try:
        TopologicalSorter(graph).prepare()
    except CycleError as error:
        raise AssertionError(f"modules importing each other in a circle: {' -> '.join(error.args[1])}") from None


def test_an_import_under_type_checking_counts():
    tree = ast.parse("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from aibeats.plan import Project\n")
    assert "aibeats.plan" in imported_names(tree)


def test_no_function_of_the_package_is_over_50_lines():
    longest = {}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                longest[f"{module_name(path)}.{node.name}"] = node.end_lineno - node.lineno + 1
    assert "aibeats.workers.client.request_item" in longest
    assert {name: lines for name, lines in longest.items() if lines > 50} == {}
