"""What the command line prints: human messages on stderr, the one JSON payload on stdout.

Shared by the Typer app (:mod:`sheetgen.cli`) and the command modules beside it
(:mod:`sheetgen.cli.fonts`, :mod:`sheetgen.cli.receive`), which cannot import the app without
an import cycle.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterable, Iterator
from typing import Any

from sheetgen.errors import Problem, SheetgenError, problem_fields


def say(message: str) -> None:
    """A human message on stderr."""
    print(f"sheetgen: {message}", file=sys.stderr)


def emit_json(payload: Any) -> None:
    """The one JSON payload on stdout."""
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()


@contextlib.contextmanager
def json_errors(enabled: bool, **fields: Any) -> Iterator[None]:
    """With ``--json``, a command that fails still prints its one JSON document (ok false,
    every error) before the error takes its usual way to stderr and the exit code."""
    try:
        yield
    except SheetgenError as err:
        if enabled:
            emit_json({"ok": False, **fields, **err.as_dict()})
        raise
    except Exception as exc:  # a bug: still one JSON document, then main's exit 1
        if enabled:
            emit_json({"ok": False, **fields, "code": "internal", "exit_code": 1,
                       "message": f"internal error ({type(exc).__name__})",
                       **problem_fields([Problem("", "internal",
                                                 f"internal error ({type(exc).__name__})")])})
        raise


def report_error(err: SheetgenError) -> None:
    """``sheetgen: error: …`` on stderr, every problem on its own line, then the next step."""
    say(f"error: {err.message}")
    show_problems(err.problems)
    if err.hint:
        print(f"  hint: {err.hint}", file=sys.stderr)


def show_problems(problems: Iterable[Problem]) -> None:
    """Each problem on its own indented line of stderr: ``  path: message [code]``."""
    for problem in problems:
        where = f"{problem.where}: " if problem.where else ""
        print(f"  {where}{problem.message} [{problem.code}]", file=sys.stderr)
