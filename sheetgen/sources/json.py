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

Batch input (:func:`iter_records`: arrays, JSON Lines, folders, stdin) is streamed record by
record; a :class:`Record` is always where it came from plus its JSON value or its error, so
one broken record is a result, not a crash.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import sys
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

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
    """``text`` quoted for a message: cut to ``limit``, anything invisible as a ``\\u`` escape."""
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
              error: type[SheetgenError] = UsageError, hint: str | None = None,
              regular: bool = False) -> bytes:
    """The bytes of the file ``path`` (at most ``limit + 1`` of them when ``limit`` is given).

    A missing, unreadable or directory path raises ``error`` (a usage error by default) named
    ``what path`` (e.g. ``rules file x.toml``); ``hint`` is the next step for a missing file.
    ``regular``: a FIFO or a device is refused too (a FIFO would block the read forever, a
    device never end), for files that are never streamed (a rules or configuration file).
    """
    name = f"{what} {path}".strip()
    if regular:
        try:
            mode = path.stat().st_mode
        except OSError:
            mode = None  # opening it says why
        if mode is not None and not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            raise error(f"{name}: not a regular file")
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


# --- batch input: records streamed one at a time ---------------------------------------------
#
# ``sheetgen batch`` reads inputs of any size (a JSON array of ten thousand applicants, a JSON
# Lines export, a folder of both) without holding them: only one record's bytes are kept at a
# time. Each record's bytes then go through :func:`parse_json`, so a record obeys exactly the
# rules of a single document (size limit per record, UTF-8, no duplicate keys, no NaN, nesting
# limit) and its errors have the same codes.
#
# Arrays are streamed by a small structural scanner over bytes, not by an incremental JSON
# parser: it only tracks strings and bracket depth to find where each element ends (the
# structural characters are ASCII, which UTF-8 never uses inside a multi-byte sequence, so
# bytes need no decoding), then hands the element to parse_json. json.JSONDecoder.raw_decode
# would need the text decoded and re-tried from the element's start whenever a chunk boundary
# cuts it, and its errors cannot tell "cut off here" from "broken here"; ijson is not
# installed and would apply its own rules (duplicates, NaN) instead of parse_json's. Knowing an
# element's extent also keeps one broken element one failed record: the scan goes on after it.

#: How a file is read, by the ending of its name; other names (and stdin) are sniffed.
DOCUMENT_SUFFIXES = frozenset({".json"})
LINES_SUFFIXES = frozenset({".jsonl"})
#: The files a folder input is walked for (spreadsheets: sheetgen.sources.spreadsheet).
RECORD_SUFFIXES = DOCUMENT_SUFFIXES | LINES_SUFFIXES | {".xlsx", ".csv", ".tsv", ".xls"}
STDIN_NAME = "<stdin>"
_CHUNK = 64 * 1024
_WHITESPACE = b" \t\r\n"
_BOM = b"\xef\xbb\xbf"
_STRUCTURAL = re.compile(rb'["\[\]{},]')
_STRING_BODY = re.compile(rb'(?:[^"\\]|\\.)*', re.DOTALL)


@dataclass(frozen=True)
class Record:
    """One record of a batch input: where it is, and its JSON value or why it has none.

    ``line`` is the 1-based line where the record starts (JSON Lines, and array elements);
    ``index`` its 0-based position in a JSON array (as in a JSON path, ``[2]``). A failed
    record (``error`` set) that is a whole file has neither. A spreadsheet record has its
    ``rows`` (as the sheet numbers them; one per website) and an ``origin``
    (:class:`~sheetgen.sources.spreadsheet.RowOrigin`) that locates its problems by row and
    column and gives its cells back for ``--failed``.
    """

    source: str
    line: int | None = None
    index: int | None = None
    value: object = None
    error: InvalidDataError | None = None
    rows: tuple[int, ...] = ()
    origin: Any = None

    @property
    def locator(self) -> dict[str, int] | None:
        """Where the record is within its source: ``{"line": 3}``, ``{"index": 2, "line": 9}``,
        ``{"row": 21}`` (a spreadsheet: its first row)."""
        place = {key: value for key, value in (("index", self.index), ("line", self.line),
                                               ("row", self.rows[0] if self.rows else None))
                 if value is not None}
        return place or None


class _Reader:
    """A binary stream read in chunks; offsets are absolute (from the start of the stream)."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.buf = b""
        self.base = 0        # offset of buf[0]
        self.base_line = 1   # line number at buf[0]
        self.eof = False

    @property
    def end(self) -> int:
        return self.base + len(self.buf)

    def fill(self, keep: int) -> bool:
        """Read another chunk, forgetting the bytes before offset ``keep``; False at the end."""
        if self.eof:
            return False
        chunk = self.stream.read(_CHUNK)
        if not chunk:
            self.eof = True
            return False
        drop = keep - self.base
        if drop > 0:
            self.base_line += self.buf.count(b"\n", 0, drop)
            self.buf = self.buf[drop:]
            self.base = keep
        self.buf += chunk
        return True

    def line_at(self, offset: int) -> int:
        return self.base_line + self.buf.count(b"\n", 0, offset - self.base)

    def skip_space(self, offset: int) -> tuple[int, int | None]:
        """The offset and value of the first byte at or after ``offset`` that is not blank."""
        while True:
            at = offset - self.base
            while at < len(self.buf) and self.buf[at] in _WHITESPACE:
                at += 1
            offset = self.base + at
            if at < len(self.buf):
                return offset, self.buf[at]
            if not self.fill(offset):
                return offset, None

    def take(self, start: int, end: int) -> bytes:
        return self.buf[start - self.base:end - self.base]


#: Reads the records of one spreadsheet file: :func:`sheetgen.sources.spreadsheet.reader`
#: makes one. Passed in rather than imported: the spreadsheet reader imports this module.
SpreadsheetReader = Callable[[Path], Iterator["Record"]]
SPREADSHEET_FILES = frozenset({".xlsx", ".csv", ".tsv"})


def is_spreadsheet(arg: str) -> bool:
    """Whether an INPUT argument names a spreadsheet: by the ending of its name, or by its
    first bytes (an old ``.xls`` or a renamed workbook gets the spreadsheet reader's clear
    message, not "not UTF-8"). Here, not in :mod:`sheetgen.sources.spreadsheet`, so that a
    command asking it about a JSON file does not import the spreadsheet reader."""
    return arg != "-" and (Path(arg).suffix.lower() in SPREADSHEET_FILES
                           or _workbook_file(Path(arg)))


#: The first bytes of a workbook: an OLE2 compound file (.xls, encrypted .xlsx), a zip (.xlsx).
_WORKBOOK_MAGICS = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", b"PK\x03\x04", b"PK\x05\x06")


def _workbook_file(path: Path) -> bool:
    """Whether ``path`` is a regular file that begins as a workbook does (never opens a FIFO
    or a device: reading from one would take bytes a later reader needs)."""
    try:
        if not path.is_file():
            return False
        with path.open("rb") as file:
            return file.read(8).startswith(_WORKBOOK_MAGICS)
    except OSError:
        return False


def iter_records(inputs: Sequence[str], *, exclude: Iterable[Path] = (),
                 stdin: BinaryIO | None = None,
                 spreadsheets: SpreadsheetReader | None = None) -> Iterator[Record]:
    """Every record of ``inputs``, in order, one at a time (contract.md §1, batch input).

    An input is a JSON file (an object, or an array of them), a JSON Lines file (``.jsonl``:
    one record per line; blank lines are skipped), a spreadsheet (``.xlsx``, ``.csv``,
    ``.tsv``: read by ``spreadsheets``; without one each is a failed record), a directory (its
    ``.json``, ``.jsonl`` and spreadsheet files, walked recursively in sorted order; hidden
    entries, symbolic links to directories and the paths in ``exclude`` are passed over), or
    ``-`` for stdin. Stdin and files with other names are sniffed: ``[`` starts an array; a
    first line that is a whole JSON value makes JSON Lines; anything else is one document.

    Every failure of the data is a record with ``error`` set, never an exception: a JSON Lines
    line that is not JSON is one failed record, an unreadable file or a document that is
    neither an object nor an array one failed record with the file's name. An input that does
    not exist is a UsageError, raised before any record is yielded.
    """
    if list(inputs).count("-") > 1:
        raise UsageError("stdin (-) is given more than once")
    for arg in inputs:
        if arg != "-" and not Path(arg).exists():
            raise UsageError(f"{arg}: no such file or directory",
                             hint="check the path; use - to read stdin")
    skip = {path.resolve() for path in exclude}
    for arg in inputs:
        if arg == "-":
            yield from _stream_records(stdin or sys.stdin.buffer, STDIN_NAME, "sniff")
        elif Path(arg).is_dir():
            for path in _walk(Path(arg), skip):
                yield from _any_file_records(path, spreadsheets, regular_only=True)
        else:
            yield from _any_file_records(Path(arg), spreadsheets)


def _any_file_records(path: Path, spreadsheets: SpreadsheetReader | None, *,
                      regular_only: bool = False) -> Iterator[Record]:
    if not is_spreadsheet(str(path)):
        yield from _file_records(path, regular_only=regular_only)
    elif regular_only and not path.is_file():  # a FIFO named .xlsx would block the reader
        yield _unreadable(str(path), "不是普通文件", "it is not a regular file")
    elif spreadsheets is not None:
        yield from spreadsheets(path)
    else:
        yield Record(str(path), error=_error(str(path), Problem(
            "", "unreadable", "此处不读取电子表格 / spreadsheets are not read here")))


def _walk(root: Path, skip: set[Path]) -> Iterator[Path]:
    """The record files below ``root``, sorted by name at each level (files before folders)."""
    for directory, folders, files in os.walk(root, followlinks=False):
        folders[:] = sorted(f for f in folders if not f.startswith("."))
        for name in sorted(files):
            path = Path(directory) / name
            if (not name.startswith(".") and path.suffix.lower() in RECORD_SUFFIXES
                    and path.resolve() not in skip):
                yield path


def _unreadable(source: str, zh: str, en: str) -> Record:
    return Record(source, error=_error(source, Problem(
        "", "unreadable", f"文件无法读取（{zh}）/ the file cannot be read ({en})")))


def _open_regular(path: Path) -> BinaryIO:
    """``path`` opened for reading if it is a regular file; OSError(ENODEV) if it is not.

    Opened without blocking and checked on the open descriptor: a FIFO found in a folder
    would otherwise block the open until some writer came, and a check before the open
    could be outwitted by a rename in between.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = ("FIFO" if stat.S_ISFIFO(mode) else "socket" if stat.S_ISSOCK(mode)
                    else "device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "special file")
            raise OSError(errno.ENODEV, f"a {kind}, not a regular file")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _file_records(path: Path, *, regular_only: bool = False) -> Iterator[Record]:
    """The records of one input file. Files found in a folder (``regular_only``) must be
    regular files; a path given by name may also be a pipe (``<(export-tool)``)."""
    source = str(path)
    suffix = path.suffix.lower()
    mode = "lines" if suffix in LINES_SUFFIXES else (
        "document" if suffix in DOCUMENT_SUFFIXES else "sniff")
    try:
        stream = _open_regular(path) if regular_only else path.open("rb")
    except OSError as exc:
        if isinstance(exc, IsADirectoryError):
            yield _unreadable(source, "是目录", "is a directory")
        elif regular_only and exc.errno == errno.ENODEV:
            yield _unreadable(source, "不是普通文件", f"it is {exc.strerror}")
        else:
            reason = exc.strerror or type(exc).__name__
            yield _unreadable(source, reason, reason)
        return
    with stream:
        yield from _stream_records(stream, source, mode)


def _stream_records(stream: BinaryIO, source: str, mode: str) -> Iterator[Record]:
    reader = _Reader(stream)
    try:
        reader.fill(0)
        if reader.buf.startswith(_BOM):
            reader.buf, reader.base = reader.buf[len(_BOM):], len(_BOM)
        start, first = reader.skip_space(reader.base)
        if mode == "lines":
            yield from _line_records(reader, source, reader.base)
        elif first == ord("["):
            yield from _array_records(reader, source, start)
        elif mode == "document":
            yield _document_record(reader, source)
        elif first is None:
            return  # empty stdin (or an empty file of another name): no records
        else:  # sniff (see sniff_lines): JSON Lines, or one document
            while (reader.buf.count(b"\n", start - reader.base) < 2
                   and len(reader.buf) <= MAX_DOCUMENT_BYTES and reader.fill(0)):
                pass  # up to the end of the second line: enough to tell
            if sniff_lines(reader.buf[start - reader.base:]):
                yield from _line_records(reader, source, reader.base)
            else:
                yield _document_record(reader, source)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        yield Record(source, error=_error(source, Problem(
            "", "unreadable", f"读取中断（{reason}）/ reading failed ({reason})")))


def _first_lines(data: bytes, count: int) -> list[bytes]:
    """The first ``count`` non-blank lines of ``data`` (without reading further)."""
    lines: list[bytes] = []
    start = 0
    while len(lines) < count and start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end
        if data[start:end].strip():
            lines.append(data[start:end])
        start = end + 1
    return lines


def _parses(line: bytes, *, object_only: bool = False) -> bool:
    try:
        value = parse_json(line, source="")
    except InvalidDataError:
        return False
    return isinstance(value, dict) or not object_only


def sniff_lines(data: bytes) -> bool:
    """Whether input of no telling name (stdin) is JSON Lines rather than one document.

    JSON Lines when the first non-blank line is a whole JSON value; and also when it is not
    (a broken first record) but the second non-blank line is a whole JSON object: a document
    written over several lines has no line that is an object by itself after its first, so a
    broken first line does not turn a JSON Lines stream into one broken document. ``data``
    needs to hold only the first two lines.
    """
    first = _first_lines(data, 2)
    if not first:
        return False
    return _parses(first[0]) or (len(first) > 1 and _parses(first[1], object_only=True))


def read_lines(data: bytes, *, source: str) -> Iterator[Record]:
    """The records of JSON Lines input held in memory (``sheetgen check``), as batch reads them."""
    import io

    yield from _stream_records(io.BytesIO(data), source, "lines")


def _document_record(reader: _Reader, source: str) -> Record:
    """The whole input as one document: an object is one record (at most the size limit)."""
    while len(reader.buf) <= MAX_DOCUMENT_BYTES and reader.fill(reader.base):
        pass
    try:
        value = parse_json(reader.buf, source=source)
    except InvalidDataError as err:
        return Record(source, error=err)
    if not isinstance(value, dict):
        return Record(source, error=_error(source, object_expected(value)))
    return Record(source, value=value)


def _parsed(data: bytes, source: str, *, line: int, index: int | None = None) -> Record:
    place = f"{source} [{index}]" if index is not None else f"{source} line {line}"
    try:
        return Record(source, line, index, value=parse_json(data, source=place))
    except InvalidDataError as err:
        return Record(source, line, index, error=err)


def _too_large(source: str, line: int, index: int | None = None) -> Record:
    limit = f"{MAX_DOCUMENT_BYTES // (1024 * 1024)} MiB"
    place = f"{source} [{index}]" if index is not None else f"{source} line {line}"
    return Record(source, line, index, error=_fail(
        place, "too_large", f"记录超过 {limit} 的上限", f"record is larger than {limit}"))


def _line_records(reader: _Reader, source: str, offset: int) -> Iterator[Record]:
    """JSON Lines: each non-blank line is one record (a line over the limit is skipped over)."""
    while True:
        line = reader.line_at(offset)
        newline = reader.buf.find(b"\n", offset - reader.base)
        too_large = False
        while newline < 0:
            if reader.end - offset > MAX_DOCUMENT_BYTES + 1:
                too_large = True
                offset = reader.end  # forget the line's bytes read so far; find its end
            if not reader.fill(offset):
                break
            newline = reader.buf.find(b"\n", offset - reader.base)
        end = reader.base + newline if newline >= 0 else reader.end
        if too_large or end - offset > MAX_DOCUMENT_BYTES + 1:
            yield _too_large(source, line)
        else:
            data = reader.take(offset, end)
            if data.strip():
                yield _parsed(data, source, line=line)
        if newline < 0:
            return
        offset = end + 1


def _array_records(reader: _Reader, source: str, start: int) -> Iterator[Record]:
    """The elements of a JSON array starting at offset ``start`` (its ``[``), one at a time."""
    offset, byte = reader.skip_space(start + 1)
    index = 0
    if byte == ord("]"):
        yield from _after_array(reader, source, offset + 1)
        return
    while True:
        line = reader.line_at(offset)
        end, complete = _element_end(reader, offset)
        if complete:
            yield _parsed(reader.take(offset, end), source, line=line, index=index)
        else:
            yield _too_large(source, line, index)
        last_ok = complete
        index += 1
        offset, byte = reader.skip_space(end)
        if byte == ord(","):
            offset, byte = reader.skip_space(offset + 1)
            continue
        if byte == ord("]"):
            yield from _after_array(reader, source, offset + 1)
            return
        if byte is None:
            if last_ok:  # a whole element, then the end: the file was cut short
                yield Record(source, reader.line_at(offset), error=_fail(
                    f"{source} line {reader.line_at(offset)}", "not_json",
                    "数组没有结束（缺少 ]，文件被截断？）",
                    "the array is not closed (no ]; is the file cut short?)"))
            return
        line = reader.line_at(offset)
        yield Record(source, line, error=_fail(
            f"{source} line {line}", "not_json", f"不是有效的 JSON（第 {line} 行：应为 , 或 ]）",
            f"not valid JSON (line {line}: expected , or ] after element [{index - 1}]); "
            "the rest of the file is not read"))
        return


def _after_array(reader: _Reader, source: str, offset: int) -> Iterator[Record]:
    offset, byte = reader.skip_space(offset)
    if byte is not None:
        line = reader.line_at(offset)
        yield Record(source, line, error=_fail(
            f"{source} line {line}", "not_json", f"不是有效的 JSON（第 {line} 行：数组后还有内容）",
            f"not valid JSON (line {line}: more data after the array)"))


def _element_end(reader: _Reader, start: int) -> tuple[int, bool]:
    """Where the array element at ``start`` ends (exclusive), and whether it is within the size
    limit (an oversized element is scanned past without keeping its bytes).

    The element ends at a ``,`` or ``]`` outside strings and brackets, or just after the
    bracket that closes it. A malformed element ends somewhere; parse_json then says why.
    """
    depth = 0
    in_string = False
    keep = start
    pos = start
    while True:
        buf, base = reader.buf, reader.base
        at = pos - base
        while at < len(buf):
            if in_string:
                body = _STRING_BODY.match(buf, at)
                at = body.end() if body else at
                if at < len(buf) and buf[at] == ord('"'):
                    in_string = False
                    at += 1
                    continue
                break  # the string goes on past the buffer (maybe after a backslash)
            match = _STRUCTURAL.search(buf, at)
            if match is None:
                at = len(buf)
                break
            at = match.end()
            char = buf[match.start()]
            if char == ord('"'):
                in_string = True
            elif char in b"[{":
                depth += 1
            elif char == ord(",") and depth == 0:
                return base + match.start(), keep == start
            elif char in b"]}":
                if depth == 0:
                    return base + match.start(), keep == start
                depth -= 1
                if depth == 0:
                    return base + at, keep == start
        pos = base + at
        if pos - start > MAX_DOCUMENT_BYTES:
            keep = pos  # too large: forget what was scanned, only find the element's end
        if not reader.fill(keep):
            return reader.end, keep == start
