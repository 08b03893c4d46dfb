"""The error classes and the one registry of problem codes (sheetgen/errors.py)."""

from __future__ import annotations

import ast
import re

from sheetgen import errors
from sheetgen.errors import PROBLEM_CODES, ExitCode, SheetgenError
from sheetgen.rules.acceptance import KINDS
from tests.conftest import REPO

#: Calls that report a problem code, and which positional argument is the code (None: the
#: first string literal, after a source name or the like given as a variable).
_REPORTERS = {"Problem": 1, "_coded": 1, "_fail": None, "IdentifierError": None,
              "PydanticCustomError": None,
              # sheetgen.serve: ApiError.one(status, code, …), PoolError(status, code, …),
              # Failure(code, …)
              "one": 1, "PoolError": 1, "Failure": 0,
              # sheetgen.serve.desk: api_error(status, code, …) (the app's ApiError.one)
              "api_error": 1,
              # sheetgen.sources.spreadsheet: a file's problem, a cell's problem
              "_file_error": 1, "Cell": 1,
              # sheetgen.receive: a page's or a file's problem, a page's or a record's problem
              "ScanProblem": 0, "problem": 0}


CODE = re.compile(r"[a-z][a-z0-9_]*")


def _emitted_codes() -> dict[str, set[str]]:
    """Every problem code written as a literal in the package, with the files it is in."""
    found: dict[str, set[str]] = {}
    for path in sorted((REPO / "sheetgen").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            literals: list[ast.expr] = []
            if isinstance(node, ast.Call):
                func = node.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                if name not in _REPORTERS:
                    continue
                index = _REPORTERS[name]
                if index is None:
                    literals = [a for a in node.args if isinstance(a, ast.Constant)
                                and isinstance(a.value, str)][:1]
                elif len(node.args) > index:
                    literals = [node.args[index]]
                literals += [kw.value for kw in node.keywords if kw.arg == "code"]
            elif isinstance(node, ast.ClassDef):  # the error classes' own codes
                literals = [stmt.value for stmt in node.body
                            if isinstance(stmt, ast.Assign | ast.AnnAssign) and stmt.value
                            and any(isinstance(t, ast.Name) and t.id == "code" for t in
                                    (stmt.targets if isinstance(stmt, ast.Assign)
                                     else [stmt.target]))]
            for literal in literals:
                if isinstance(literal, ast.Constant) and isinstance(literal.value, str) \
                        and CODE.fullmatch(literal.value):
                    found.setdefault(literal.value, set()).add(str(path.relative_to(REPO)))
    # The acceptance rules report their kind as the code (sheetgen/rules/acceptance.py):
    # every kind is a code the package can emit.
    for kind in KINDS:
        found.setdefault(kind, set()).add("sheetgen/rules/acceptance.py")
    return found


def test_every_emitted_code_is_registered_and_none_is_stale() -> None:
    emitted = _emitted_codes()
    missing = {code: files for code, files in emitted.items() if code not in PROBLEM_CODES}
    assert not missing, f"add these to sheetgen.errors.PROBLEM_CODES: {missing}"
    stale = set(PROBLEM_CODES) - set(emitted)
    assert not stale, f"registered but never emitted: {sorted(stale)}"
    assert all(PROBLEM_CODES.values())


def test_every_error_class_has_a_registered_code_and_a_contract_exit_code() -> None:
    classes = [value for value in vars(errors).values()
               if isinstance(value, type) and issubclass(value, SheetgenError)]
    assert len(classes) >= 9
    for cls in classes:
        assert cls.code in PROBLEM_CODES, cls
        assert cls.exit_code in set(ExitCode), cls


def test_internal_failures_are_narrow_classes() -> None:
    """Nothing raises the bare base class: each failure says what kind it is."""
    for path in sorted((REPO / "sheetgen").rglob("*.py")):
        source = path.read_text("utf-8")
        assert "raise SheetgenError(" not in source, path
        assert "or SheetgenError(" not in source, path


def test_the_api_docs_point_at_the_registry() -> None:
    assert "sheetgen.errors.PROBLEM_CODES" in (REPO / "docs" / "api.md").read_text("utf-8")
