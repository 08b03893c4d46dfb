"""Reading input documents safely: bytes in, JSON values out, every failure a clear problem.

This module owns the boundary between the outside world and the model: where the bytes come
from (:func:`open_input`: a path or ``-`` for stdin), and turning them into JSON values
(:func:`parse_json`, :func:`read_document`, :func:`read_records`) under limits that keep a
hostile or broken input from costing more than a clear error: a size limit, UTF-8 only (a BOM
is allowed), a nesting limit, no NaN/Infinity, no duplicate keys. No byte string produces a
traceback; each failure is an :class:`~sheetgen.errors.InvalidDataError` with one
:class:`~sheetgen.errors.Problem` whose code is one of ``too_large``, ``not_utf8``,
``not_json``, ``too_deep``, ``duplicate_key``, ``not_an_object``.

It also owns how places in a document are written (:func:`json_path`:
``websites[1].manager.mobile``), so every error of every layer names places the same way.

Batch input (JSON Lines, folders) will be added here as ``iter_records``; a record is always
the pair (where it came from, its JSON value), so one broken record is a result, not a crash.
"""

from __future__ import annotations

import json
import re
import sys
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sheetgen.errors import InvalidDataError, Problem, SheetgenError, UsageError

#: Largest input document read, in bytes. An applicant is a few KB; 5 MiB holds an array of
#: a thousand or more and keeps a mistaken or hostile input from exhausting memory.
MAX_DOCUMENT_BYTES = 5 * 1024 * 1024
#: Deepest nesting of arrays and objects. The applicant format needs 4 levels.
MAX_DEPTH = 64

_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def json_path(parts: Iterable[str | int]) -> str:
    """A JSON path as users read it: ``websites[1].manager.mobile``, ``[2].host``.

    Keys that are not plain identifiers are quoted (``["网站"]``), cut to 40 characters, with
    invisible and control characters escaped, so a path never hides or reorders text.
    """
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif len(part) <= 40 and _PLAIN_KEY.fullmatch(part):
            out += f".{part}" if out else part
        else:
            out += f"[{printable(part, 40)}]"
    return out


def printable(text: str, limit: int) -> str:
    """``text`` quoted for a message: cut to ``limit``, anything invisible escaped as \\uXXXX."""
    cut = text if len(text) <= limit else text[:limit] + "…"
    escaped = "".join(f"\\u{ord(ch):04x}" if unicodedata.category(ch)[0] in "CZ" and ch != " "
                      else ch for ch in cut)
    return f"\"{escaped}\""


def _fail(source: str, code: str, zh: str, en: str) -> InvalidDataError:
    return _error(source, Problem("", code, f"{zh} / {en}"))


def _error(source: str, problem: Problem) -> InvalidDataError:
    return InvalidDataError(f"{source}: {problem.message.partition(' / ')[2]}",
                            problems=[problem])


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in JSON")


class _DuplicateKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKeyError(key)
        result[key] = value
    return result


def _depth(value: object) -> int:
    """Nesting depth of a parsed JSON value, without recursion (so any depth is measurable)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in item)
    return deepest


def parse_json(data: bytes, *, source: str) -> object:
    """Any JSON value from ``data``, within the limits above; ``source`` names it in errors."""
    if len(data) > MAX_DOCUMENT_BYTES:
        limit = f"{MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB"
        raise _fail(source, "too_large", f"输入超过 {limit} 的上限",
                    f"input is larger than {limit}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _fail(source, "not_utf8", f"输入不是 UTF-8 编码（第 {exc.start + 1} 个字节）",
                    f"input is not UTF-8 text (byte {exc.start + 1}); save it as UTF-8") from None
    deep = f"nesting deeper than {MAX_DEPTH} levels"
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates,
                           parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise _fail(source, "not_json",
                    f"不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列：{exc.msg}）",
                    f"not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})") from None
    except _DuplicateKeyError as exc:
        key = printable(exc.key, 40)
        raise _fail(source, "duplicate_key", f"JSON 对象中的键 {key} 重复",
                    f"key {key} appears twice in one JSON object") from None
    except ValueError as exc:  # NaN / Infinity (from parse_constant)
        raise _fail(source, "not_json", f"不是有效的 JSON（{exc}）",
                    f"not valid JSON ({exc})") from None
    except RecursionError:
        raise _fail(source, "too_deep", f"嵌套超过 {MAX_DEPTH} 层", deep) from None
    if _depth(value) > MAX_DEPTH:
        raise _fail(source, "too_deep", f"嵌套超过 {MAX_DEPTH} 层", deep)
    return value


def read_document(data: bytes, *, source: str) -> dict[str, Any]:
    """One applicant document: a JSON object."""
    value = parse_json(data, source=source)
    if not isinstance(value, dict):
        raise _error(source, object_expected(value))
    return value


def read_records(data: bytes, *, source: str) -> list[object]:
    """The records of a document: an object is one record, an array holds many."""
    value = parse_json(data, source=source)
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return value
    raise _error(source, object_expected(value))


def json_type(value: object) -> tuple[str, str]:
    """The JSON type of a parsed value, in Chinese and English (for messages)."""
    if value is None:
        return "null", "null"
    if isinstance(value, bool):
        return "布尔值", "a boolean"
    if isinstance(value, int | float):
        return "数字", "a number"
    if isinstance(value, str):
        return "字符串", "a string"
    if isinstance(value, list):
        return "数组", "an array"
    return "对象", "an object"


def object_expected(value: object) -> Problem:
    """The ``not_an_object`` problem of a record that is not a JSON object."""
    zh, en = json_type(value)
    return Problem("", "not_an_object", f"应为 JSON 对象（一个申请人），实际为{zh} / "
                                        f"expected a JSON object (one applicant), got {en}")


def open_input(arg: str, *, limit: int = MAX_DOCUMENT_BYTES) -> bytes:
    """The bytes of ``arg``: a file path, or ``-`` for stdin.

    Reads at most ``limit + 1`` bytes, so an oversized input is refused by :func:`parse_json`
    without being read whole. Missing, unreadable and directory paths are usage errors.
    """
    if arg == "-":
        return sys.stdin.buffer.read(limit + 1)
    return read_file(Path(arg), limit=limit, hint="check the path; use - to read stdin")


def read_file(path: Path, *, limit: int | None = None, what: str = "",
              error: type[SheetgenError] = UsageError, hint: str | None = None) -> bytes:
    """The bytes of the file ``path`` (at most ``limit + 1`` of them when ``limit`` is given).

    A missing, unreadable or directory path raises ``error`` (a usage error by default) named
    ``what path`` (e.g. ``rules file x.toml``); ``hint`` is the next step for a missing file.
    """
    name = f"{what} {path}".strip()
    try:
        with path.open("rb") as stream:
            return stream.read(-1 if limit is None else limit + 1)
    except FileNotFoundError:
        raise error(f"{name}: no such file", hint=hint) from None
    except IsADirectoryError:
        raise error(f"{name}: is a directory, expected a file") from None
    except PermissionError:
        raise error(f"{name}: permission denied") from None
    except OSError as exc:
        raise error(f"{name}: cannot be read ({exc.strerror})") from None
