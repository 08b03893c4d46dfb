"""Reading a rules file: bounded, validated, every problem located by file, line and key.

A ``--rules FILE`` is untrusted input, so reading it is bounded like an applicant document: at
most :data:`MAX_RULES_BYTES`, nesting at most :data:`MAX_RULES_DEPTH` levels (a 4 KB file nested
2000 deep would otherwise exhaust the parser's recursion), numbers of at most a few thousand
digits; each such problem is a RulesError (exit 2) naming the file, the line and the key.

Validation is strict and complete: the TOML shape (:mod:`~.data`), then the cross-references
(:mod:`~.consistency`). Any failure is a :class:`~sheetgen.errors.RulesError` naming the file
and each problem with its line; TOML syntax errors keep their line and column.
"""

from __future__ import annotations

import hashlib
import re

from pydantic import ValidationError as PydanticValidationError

from sheetgen.errors import Problem, RulesError
from sheetgen.rules.consistency import _consistency
from sheetgen.rules.ruleset import Rules
from sheetgen.sources.json import json_path, printable

#: Largest rules file read; the built-in one is about 35 KB.
MAX_RULES_BYTES = 1024 * 1024
#: Deepest nesting of tables and arrays; the built-in file needs 4.
MAX_RULES_DEPTH = 32


def parse_rules(data: bytes, *, origin: str) -> Rules:
    """Rules from the bytes of a TOML file; ``origin`` names it in errors."""
    if len(data) > MAX_RULES_BYTES:
        raise RulesError(f"rules file {origin} is larger than {MAX_RULES_BYTES // 1024} KiB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RulesError(f"rules file {origin} is not UTF-8 (byte {exc.start})") from None
    too_deep = _too_deep(text)
    if too_deep is not None:
        raise _bounds_error(origin, *too_deep, "rules_too_deep",
                            f"nested more than {MAX_RULES_DEPTH} levels deep")
    import tomllib  # only when a file is parsed: the built-in editions come parsed

    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RulesError(f"rules file {origin}: TOML syntax error: {exc}") from None
    except (ValueError, RecursionError, MemoryError):
        # Python refuses to convert integers of over 4300 digits (ValueError); the depth
        # check above keeps the parser's recursion bounded, RecursionError is the last guard.
        line, key = _long_number(text)
        raise _bounds_error(origin, line, key, "rules_number_too_long",
                            "a number too long to read") from None
    try:
        rules = Rules.model_validate(raw)
    except PydanticValidationError as exc:
        problems = [Problem(json_path(err["loc"]), "rules_invalid", err["msg"])
                    for err in exc.errors(include_url=False, include_input=False)]
        raise _located(origin, text, "invalid", problems) from None
    problems = _consistency(rules)
    if problems:
        raise _located(origin, text, "inconsistent", problems)
    rules._origin = origin
    rules._version = hashlib.sha256(data).hexdigest()[:16]
    return rules


def _located(origin: str, text: str, what: str, problems: list[Problem]) -> RulesError:
    """The RulesError of ``problems``, each naming the line of its key in the file where it
    can be found (``line 412: …``); the message names the first one's line and key."""
    lines = [_line_of(text, p.path) for p in problems]
    problems = [Problem(p.path, p.code, f"line {line}: {p.message}" if line else p.message)
                for p, line in zip(problems, lines, strict=True)]
    first = next(((line, p.path) for line, p in zip(lines, problems, strict=True) if line),
                 None)
    where = f"; first at line {first[0]}, key {first[1]}" if first else ""
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    return RulesError(f"rules file {origin} is {what} ({count}{where})", problems=problems,
                      hint=_RULES_HINT)


def _line_of(text: str, path: str) -> int | None:
    """The line of ``path`` (``acceptance[3].kind``, ``sms.valid_hours``) in the TOML
    ``text``: the key's own line, else its table's header; None when not found (a key
    written as an inline table or a dotted key is not looked for)."""
    parts = re.findall(r"([A-Za-z0-9_-]+)(?:\[(\d+)\])?", path)
    if not parts:
        return None
    lines = text.splitlines()
    table, index = parts[0]
    header = None
    start = 0
    if index:
        pattern = re.compile(rf"^\s*\[\[\s*{re.escape(table)}\s*\]\]")
        seen = -1
        for number, line in enumerate(lines):
            if pattern.match(line):
                seen += 1
                if seen == int(index):
                    header, start = number + 1, number + 1
                    break
        if header is None:
            return None
        keys = parts[1:]
    else:
        pattern = re.compile(rf"^\s*\[\s*{re.escape(table)}\s*\]")
        found = next((n for n, line in enumerate(lines) if pattern.match(line)), None)
        if found is None:  # a top-level key
            keys, start = list(parts), 0
        else:
            header, start, keys = found + 1, found + 1, parts[1:]
    if not keys:
        return header
    key = keys[0][0]
    key_pattern = re.compile(rf"^\s*{re.escape(key)}\s*=")
    for number in range(start, len(lines)):
        if number > start and lines[number].lstrip().startswith("[") and \
                not key_pattern.match(lines[number]):
            break
        if key_pattern.match(lines[number]):
            return number + 1
    return header


def _bounds_error(origin: str, line: int, key: str, code: str, what: str) -> RulesError:
    # The key as a path (``sms.valid_hours``), quoted where it is not plain, and cut short.
    path = json_path(part.strip().strip("\"'") for part in key.split(".")[:8] if part.strip())
    shown = printable(key, 60) if key else "(top level)"
    return RulesError(f"rules file {origin} line {line}: key {shown}: {what}",
                      problems=[Problem(path, code, f"line {line}: {what}")], hint=_RULES_HINT)


def _key(table: str, key: str) -> str:
    return ".".join(part for part in (table, key) if part)[:200]


def _too_deep(text: str) -> tuple[int, str] | None:
    """(line, key) where arrays and inline tables nest deeper than MAX_RULES_DEPTH, or where a
    table header or dotted key has more parts than that; None when the nesting is fine.

    A lexical scan, not a parser: it skips strings and comments and counts brackets, which is
    all a depth bound needs, and it runs before tomllib so that the parser never recurses
    deeply. Syntax errors are tomllib's to report.
    """
    depth = 0
    line = 1
    key = ""
    table = ""
    start = 0  # where the current line's key begins
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
            if depth == 0:
                start = i + 1
        elif c == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif c in "\"'":
            quote = text[i:i + 3] if text[i:i + 3] in ('"""', "'''") else c
            j = i + len(quote)
            while j < n:
                if text[j] == "\\" and quote[0] == '"':
                    j += 2
                    continue
                if text.startswith(quote, j):
                    break
                j += 1
            line += text.count("\n", i, j)
            i = j + len(quote)
            continue
        elif c == "[" and depth == 0 and not text[start:i].strip():  # a table header
            end = text.find("\n", i)
            end = n if end < 0 else end
            table = text[i:end].strip().strip("[]").strip()
            if table.count(".") >= MAX_RULES_DEPTH:
                return line, _key(table, "")
            key = ""
            i = end
            continue
        elif c == "=" and depth == 0:
            key = text[start:i].strip()
            if _key(table, key).count(".") >= MAX_RULES_DEPTH:
                return line, _key(table, key)
        elif c in "[{":
            depth += 1
            if depth > MAX_RULES_DEPTH:
                return line, _key(table, key)
        elif c in "]}":
            depth = max(depth - 1, 0)
            if depth == 0:
                start = i + 1
        i += 1
    return None


def _long_number(text: str) -> tuple[int, str]:
    """(line, key) of the first run of more than 4000 digits, for the error message."""
    found = re.search(r"[0-9_]{4000,}", text)
    at = found.start() if found else 0
    line = text.count("\n", 0, at) + 1
    key, table = "", ""
    for number, content in enumerate(text.splitlines()[:line], start=1):
        stripped = content.strip()
        if stripped.startswith("["):
            table, key = stripped.strip("[]").strip(), ""
        elif "=" in stripped and not stripped.startswith("#"):
            key = stripped.partition("=")[0].strip()
        if number == line:
            break
    return line, _key(table, key)


_RULES_HINT = "compare with the built-in file: python -c 'import sheetgen.resources as r; " \
              "print(r.rules_file())'"
