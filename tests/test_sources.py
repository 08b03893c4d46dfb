"""Reading input documents safely (sheetgen.sources.json): every bad input is a clear problem."""

from __future__ import annotations

import io
import json
import os
import sys
from pathlib import Path

import pytest

from sheetgen.errors import InvalidDataError, UsageError
from sheetgen.model import check_document
from sheetgen.sources.json import (
    MAX_DEPTH,
    MAX_DOCUMENT_BYTES,
    iter_records,
    json_path,
    open_input,
    parse_json,
    read_document,
    read_records,
    sniff_lines,
)
from tests.applicants import personal, unit


def _code(data: bytes) -> tuple[str, str]:
    with pytest.raises(InvalidDataError) as info:
        parse_json(data, source="in.json")
    [problem] = info.value.problems
    assert problem.path == ""
    assert " / " in problem.message
    assert info.value.message.startswith("in.json: ")
    return problem.code, problem.message


@pytest.mark.parametrize(("data", "value"), [
    (b'{"a": 1}', {"a": 1}),
    (b'\xef\xbb\xbf{"a": 1}', {"a": 1}),                # UTF-8 BOM
    ('{"省": "江西"}'.encode(), {"省": "江西"}),
    (b"[1, 2]", [1, 2]),
    (b'"x"', "x"),
])
def test_parse_json_accepts(data: bytes, value: object) -> None:
    assert parse_json(data, source="in.json") == value


def test_parse_json_accepts_the_deepest_nesting_allowed() -> None:
    assert parse_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, source="in.json")


@pytest.mark.parametrize(("data", "code", "fragment"), [
    (b"\xff\xfe{}", "not_utf8", "byte 1"),
    ('{"a": "江西"}'.encode("gb18030"), "not_utf8", "UTF-8"),
    (b"", "not_json", "line 1, column 1"),
    (b'{"a": 1,\n "b": }', "not_json", "line 2, column 7"),
    (b"{'a': 1}", "not_json", "line 1"),
    (b'{"a": NaN}', "not_json", "NaN"),
    (b'{"a": Infinity}', "not_json", "Infinity"),
    (b"[-Infinity]", "not_json", "Infinity"),
    (b'{"a": 1, "a": 2}', "duplicate_key", '"a"'),
    (b'{"x": {"b": 1, "b": 1}}', "duplicate_key", '"b"'),
    (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), "too_deep", str(MAX_DEPTH)),
    (b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1), "too_deep", "nesting"),
    (b"[" * 200_000, "too_deep", "nesting"),     # beyond the parser's recursion limit
    (b" " * (MAX_DOCUMENT_BYTES + 1), "too_large", "MiB"),
])
def test_parse_json_refuses(data: bytes, code: str, fragment: str) -> None:
    got, message = _code(data)
    assert got == code
    assert fragment in message


def test_duplicate_key_with_invisible_characters_is_escaped() -> None:
    _, message = _code('{"a\u202e": 1, "a\u202e": 2}'.encode())
    assert "\u202e" not in message and "\\u202e" in message


@pytest.mark.parametrize(("data", "ok"), [
    (b"{}", True), (b"[]", False), (b'"x"', False), (b"3", False), (b"null", False)])
def test_read_document(data: bytes, ok: bool) -> None:
    if ok:
        assert read_document(data, source="s") == {}
    else:
        with pytest.raises(InvalidDataError) as info:
            read_document(data, source="s")
        assert info.value.problems[0].code == "not_an_object"


@pytest.mark.parametrize(("data", "records"), [
    (b'{"a": 1}', [{"a": 1}]), (b'[{"a": 1}, 2]', [{"a": 1}, 2]), (b"[]", [])])
def test_read_records(data: bytes, records: list[object]) -> None:
    assert read_records(data, source="s") == records


def test_read_records_refuses_scalars() -> None:
    with pytest.raises(InvalidDataError) as info:
        read_records(b"true", source="s")
    assert info.value.problems[0].code == "not_an_object"
    assert "boolean" in info.value.problems[0].message


@pytest.mark.parametrize(("parts", "path"), [
    (("websites", 1, "manager", "mobile"), "websites[1].manager.mobile"),
    (("host", "certificate", "number"), "host.certificate.number"),
    (("websites", 0, "domains", 2), "websites[0].domains[2]"),
    ((2, "host"), "[2].host"),
    ((), ""),
    (("a b",), '["a b"]'),
    (("网站",), '["网站"]'),
    (("x\u202ey",), '["x\\u202ey"]'),
    (("k" * 40,), "k" * 40),
    (("k" * 50,), '["' + "k" * 40 + '…"]'),
    (("k-" * 30,), '["' + ("k-" * 30)[:40] + '…"]'),
])
def test_json_path(parts: tuple[str | int, ...], path: str) -> None:
    assert json_path(parts) == path


def test_open_input_reads_a_file(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_bytes(b"{}")
    assert open_input(str(path)) == b"{}"


def test_open_input_reads_at_most_one_byte_over_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_bytes(b"x" * 100)
    assert len(open_input(str(path), limit=10)) == 11


def test_open_input_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b'{"a": 1}')))
    assert open_input("-") == b'{"a": 1}'


@pytest.mark.parametrize(("name", "fragment"), [
    ("missing.json", "no such file"), (".", "is a directory")])
def test_open_input_usage_errors(tmp_path: Path, name: str, fragment: str) -> None:
    with pytest.raises(UsageError, match=fragment):
        open_input(str(tmp_path / name))


# --- issue 15: JSON Lines everywhere, and no input that hangs a batch ---------------------------

def _lines(*records: object) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False).encode() + b"\n" for r in records)


@pytest.mark.parametrize(("data", "lines"), [
    (b'{"a": 1}\n{"b": 2}\n', True),
    (b'{"a": broken\n{"b": 2}\n', True),             # a broken first record
    (b'\n\n{"a": broken\n\n{"b": 2}', True),         # blank lines between
    (b'{\n  "a": 1\n}\n', False),                     # a document over several lines
    (b'{\n  "a": {"b": 1}\n', False),                 # a broken one: its 2nd line is no object
    (b'{"a": broken', False),                         # one broken line: one document
    (b'', False),
])
def test_sniff_lines(data: bytes, lines: bool) -> None:
    assert sniff_lines(data) is lines


def test_stdin_json_lines_with_a_broken_first_line_is_still_json_lines() -> None:
    data = b'{"ref": "A", oops\n' + _lines(personal(), unit())
    records = list(iter_records(["-"], stdin=io.BytesIO(data)))
    assert [(r.line, r.error is None) for r in records] == [(1, False), (2, True), (3, True)]
    assert records[0].error is not None and records[0].error.problems[0].code == "not_json"


@pytest.mark.parametrize("source", ["in.jsonl", "<stdin>", "export.txt"])
def test_check_reads_json_lines_like_batch(source: str) -> None:
    data = b'{"broken\n' + _lines(personal(), {**unit(), "province": "火星"})
    results = check_document(data, source=source)
    assert [(r.line, r.index, r.ok) for r in results] == [
        (1, None, False), (2, None, True), (3, None, False)]
    assert results[0].problems[0].code == "not_json"
    assert [p.path for p in results[2].located()] == ["line 3: province"]


def test_check_reads_a_one_line_jsonl_file_as_json_lines() -> None:
    [result] = check_document(_lines(personal()), source="one.jsonl")
    assert result.ok and result.line == 1


def test_check_keeps_documents_and_arrays_as_before() -> None:
    [one] = check_document(json.dumps(personal()).encode(), source="me.json")
    assert one.ok and one.index is None and one.line is None
    many = check_document(json.dumps([personal(), unit()]).encode(), source="<stdin>")
    assert [(r.index, r.ok) for r in many] == [(0, True), (1, True)]
    # A .json file is one document, as batch reads it: JSON Lines in it is not JSON.
    [bad] = check_document(_lines(personal(), unit()), source="two.json")
    assert bad.problems[0].code == "not_json"


def test_a_fifo_in_an_input_folder_is_an_unreadable_record_not_a_hang(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps(personal()), encoding="utf-8")
    os.mkfifo(tmp_path / "b.json")  # nobody ever writes to it: opening it would block
    (tmp_path / "c.jsonl").write_bytes(_lines(unit()))
    records = list(iter_records([str(tmp_path)]))
    assert [(Path(r.source).name, r.error is None) for r in records] == [
        ("a.json", True), ("b.json", False), ("c.jsonl", True)]
    error = records[1].error
    assert error is not None and error.problems[0].code == "unreadable"
    assert "FIFO, not a regular file" in error.problems[0].message


def test_a_pipe_given_by_name_is_still_read(tmp_path: Path) -> None:
    """`sheetgen batch <(export-tool)` passes a pipe by name: that one is meant to be read."""
    read_end, write_end = os.pipe()
    os.write(write_end, _lines(personal()))
    os.close(write_end)
    try:
        records = list(iter_records([f"/proc/self/fd/{read_end}"]))
    finally:
        os.close(read_end)
    assert [r.error is None for r in records] == [True]


def test_a_workbook_is_recognised_by_its_first_bytes_not_its_name(tmp_path: Path) -> None:
    from sheetgen.sources.json import is_spreadsheet

    old = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)
    cases = {"a.xls": old, "a.json": old, "b.jsonl": b"PK\x03\x04" + bytes(40),
             "c.json": json.dumps(personal()).encode(), "d.txt": b"PK but not a zip"}
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    assert {name: is_spreadsheet(str(tmp_path / name)) for name in cases} == {
        "a.xls": True, "a.json": True, "b.jsonl": True, "c.json": False, "d.txt": False}
    assert is_spreadsheet("-") is False and is_spreadsheet(str(tmp_path / "none.xls")) is False
    if hasattr(os, "mkfifo"):  # a FIFO is never opened to look (it would block)
        os.mkfifo(tmp_path / "pipe.json")
        assert is_spreadsheet(str(tmp_path / "pipe.json")) is False
