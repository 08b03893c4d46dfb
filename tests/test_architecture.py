"""The package's shape (docs/how-it-works.md): stages as folders, one-way imports, no cycles."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import REPO

PACKAGE = REPO / "sheetgen"

#: Each stage may import only the stages below it in this order (and the base modules).
ORDER = ["base", "sources", "rules", "model", "documents", "rendering", "pipeline", "api",
         "receive", "batch", "desk", "serve", "cli"]
BASE = {"errors", "resources", "vocabulary", "output", "scratch", "workers"}
#: Inside a package split into modules, each may import only those before it (its
#: ``__init__`` re-exports them all): the rules stage, from its vocabulary to its loader.
INSIDE = {
    "sheetgen.rules": ["flags", "editions", "acceptance", "data", "ruleset", "consistency",
                       "parsing", "precompiled", "loader"],
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """The sheetgen modules ``path`` imports when it is run (not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text("utf-8"))
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(child) for child in ast.walk(node))
    found = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module.startswith("sheetgen"):
                found.add(node.module)
                found.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("sheetgen"))
    modules = {_module_name(p) for p in PACKAGE.rglob("*.py")}
    return {name for name in found if name in modules}


def _stage(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1:
        return "api"  # the package itself: the lazy public API
    head = parts[1]
    if head in BASE:
        return "base"
    return {"identifiers": "model", "doctor": "cli", "__main__": "cli"}.get(head, head)


GRAPH = {_module_name(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def test_at_most_a_dozen_modules_at_the_top() -> None:
    top = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert len(top) <= 12, top


def test_every_module_has_a_docstring() -> None:
    for path in PACKAGE.rglob("*.py"):
        assert ast.get_docstring(ast.parse(path.read_text("utf-8"))), path


def test_stages_depend_only_on_the_stages_below() -> None:
    wrong = []
    for module, imported in GRAPH.items():
        stage = _stage(module)
        for target in imported:
            other = _stage(target)
            if other == "api" or stage == other:
                continue
            if ORDER.index(other) > ORDER.index(stage):
                wrong.append(f"{module} ({stage}) imports {target} ({other})")
    assert not wrong, "\n".join(wrong)


def test_the_modules_inside_a_package_import_only_those_before_them() -> None:
    wrong = []
    for package, order in INSIDE.items():
        modules = {_module_name(p) for p in (PACKAGE / package.split(".", 1)[1]).glob("*.py")}
        assert modules == {package, *(f"{package}.{m}" for m in order)}, "update INSIDE"
        for position, name in enumerate(order):
            module = f"{package}.{name}"
            allowed = {f"{package}.{m}" for m in order[:position]}  # never the package
            wrong += [f"{module} imports {target}" for target in GRAPH[module]
                      if target.startswith(package) and target not in allowed | {module}]
    assert not wrong, "\n".join(wrong)


def test_the_word_side_does_not_import_the_pdf_side_nor_the_other_way() -> None:
    for module, imported in GRAPH.items():
        if module.startswith("sheetgen.rendering.docx"):
            assert not {m for m in imported if m.startswith("sheetgen.rendering.pdf")}, module
        if module.startswith("sheetgen.rendering.pdf"):
            assert not {m for m in imported if m.startswith("sheetgen.rendering.docx")}, module


def test_no_import_cycles() -> None:
    state: dict[str, int] = {}  # 1: on the path, 2: done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in GRAPH.get(module, ()):
            if target == module or target == "sheetgen":
                continue
            if state.get(target) == 1:
                raise AssertionError(" -> ".join([*path, module, target]))
            if target not in state:
                visit(target, [*path, module])
        state[module] = 2

    for module in sorted(GRAPH):
        if module not in state:
            visit(module, [])
