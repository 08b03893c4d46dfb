"""The CLI's output helpers: human messages on stderr, the one JSON payload on stdout.

Shared by the commands of ``sheetgen.cli`` and the command modules beside it (``receive``),
which import them from here rather than from the package that registers them.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Iterator
from typing import Any

from sheetgen.errors import SheetgenError


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
