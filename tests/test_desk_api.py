"""The desk's HTTP routes (sheetgen.serve.desk) on a register, through Starlette's TestClient:
records, a record's PDF, delete, scans back, the export; the token always; 503 when the
register is gone; on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pypdfium2 as pdfium
import pytest
from fastapi.testclient import TestClient

from sheetgen.desk import open_register
from sheetgen.desk.register import OutputFile
from sheetgen.errors import UsageError
from sheetgen.receive.codes import find_codes
from sheetgen.rendering.pdf.layout import cached_layout
from sheetgen.serve.app import create_app
from sheetgen.serve.config import ServeConfig
from tests.applicants import example
from tests.conftest import run_cli
from tests.scans import RENDER_DPI, Sheet, ink, jpeg, scan, scanner_pdf

TOKEN = "t0ken-for-the-desk-tests-0123"
AUTH = {"authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def desk(register_target: str) -> Iterator[TestClient]:
    with TestClient(create_app(ServeConfig(workers=1, token=TOKEN, register=register_target)),
                    raise_server_exceptions=False) as client:
        client.app.state.target = register_target  # type: ignore[attr-defined]
        yield client


def _problems(response: Any, status: int) -> list[dict[str, str]]:
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["ok"] is False and payload["problems"]
    return list(payload["problems"])


def test_the_desk_needs_a_token_even_on_loopback(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="needs a token"):
        ServeConfig(register=str(tmp_path / "desk")).checked()


def test_records_pdf_delete_and_export(desk: TestClient) -> None:
    register = desk.app.state.register  # type: ignore[attr-defined]
    data = example("beijing-unit-two-websites")
    register.bring(data["ref"], data=data, ok=True, input_sha256="1" * 64,
                   outputs=[OutputFile("bj.pdf", "pdf", b"%PDF-1.7 test")])
    register.bring("=HYPERLINK(1)", data={"ref": "x", "host": {"name": "=cmd|' /C calc'!A0"}},
                   ok=False, input_sha256="2" * 64)
    _problems(desk.get("/api/v1/records"), 401)
    listing = desk.get("/api/v1/records", headers=AUTH).json()
    assert listing["ok"] and listing["total"] == 2
    assert desk.get("/api/v1/records?status=ready", headers=AUTH).json()["total"] == 1
    assert desk.get("/api/v1/records?q=示例数据", headers=AUTH).json()["total"] == 1
    _problems(desk.get("/api/v1/records?status=lost", headers=AUTH), 400)
    record = desk.get(f"/api/v1/records/{data['ref']}", headers=AUTH).json()["record"]
    assert record["status"] == "ready" and record["data"]["host"]["name"] == data["host"]["name"]
    pdf = desk.get(f"/api/v1/records/{data['ref']}/pdf", headers=AUTH)
    assert pdf.status_code == 200 and pdf.content == b"%PDF-1.7 test"
    assert "bj.pdf" in pdf.headers["content-disposition"]
    _problems(desk.get("/api/v1/records/NOPE", headers=AUTH), 404)
    _problems(desk.get("/api/v1/records/NOPE/pdf", headers=AUTH), 404)

    exported = desk.get("/api/v1/register?format=csv", headers=AUTH)
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert len(rows) == 1 + 2 + 1  # header, two websites, one record without data
    assert rows[1][:2] == ["'=HYPERLINK(1)", "'=cmd|' /C calc'!A0"]  # never a formula
    book = openpyxl.load_workbook(io.BytesIO(
        desk.get("/api/v1/register?format=xlsx", headers=AUTH).content))
    cells = [[c.value for c in row] for row in book.active.iter_rows()]
    assert cells[1][0] == "=HYPERLINK(1)"
    assert all(c.data_type == "s" for row in book.active.iter_rows() for c in row
               if c.value is not None)
    assert desk.delete(f"/api/v1/records/{data['ref']}", headers=AUTH).json()["ok"]
    _problems(desk.delete(f"/api/v1/records/{data['ref']}", headers=AUTH), 404)


def test_receipts_move_a_printed_record_to_complete(desk: TestClient, tmp_path: Path) -> None:
    target = desk.app.state.target  # type: ignore[attr-defined]
    record = example("jiangxi-personal")
    source = tmp_path / "a.json"
    source.write_text(json.dumps(record, ensure_ascii=False), "utf-8")
    bundle = tmp_path / "bundle.pdf"
    assert run_cli("batch", str(source), "-o", str(tmp_path / "out"), "--jobs", "1",
                   "--no-cover", "--copies", "2", "--bundle", str(bundle),
                   "--register", target).code == 0
    document = pdfium.PdfDocument(bundle)
    images = [document[i].render(scale=RENDER_DPI / 72).to_pil().convert("RGB")
              for i in range(len(document))]
    document.close()
    code = find_codes(images[0])[0].code
    assert code is not None and code.layout is not None
    layout = cached_layout(code.layout)
    assert layout is not None
    sheets = [Sheet(code.reference, 1, image, layout) for image in images]
    first = scanner_pdf(tmp_path / "first.pdf", [jpeg(scan(ink(sheets[0], seed=3), seed=3))])
    answer = desk.post("/api/v1/receipts?name=first.pdf", content=first.read_bytes(),
                       headers={**AUTH, "content-type": "application/pdf"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["records"][record["ref"]]["status"] == "received"
    assert answer.json()["pages"][0]["file"] == "first.pdf"
    # The same scan again counts once; the second original completes the record.
    again = desk.post("/api/v1/receipts", content=first.read_bytes(),
                      headers={**AUTH, "content-type": "application/pdf"})
    assert again.json()["records"][record["ref"]]["status"] == "received"
    second = scanner_pdf(tmp_path / "second.pdf",
                         [jpeg(scan(ink(sheets[1], seed=4), angle=180, seed=4))])
    done = desk.post("/api/v1/receipts", content=second.read_bytes(),
                     headers={**AUTH, "content-type": "application/pdf"})
    assert done.json()["records"][record["ref"]]["status"] == "complete"
    _problems(desk.post("/api/v1/receipts", content=b"x", headers={
        **AUTH, "content-type": "text/plain"}), 415)


def test_a_register_that_is_gone_answers_503(tmp_path: Path) -> None:
    folder = tmp_path / "desk"
    open_register(str(folder)).close()
    with TestClient(create_app(ServeConfig(workers=1, token=TOKEN, register=str(folder))),
                    raise_server_exceptions=False) as client:
        engine = client.app.state.register.engine  # type: ignore[attr-defined]
        engine.dispose()
        for path in folder.iterdir():
            path.unlink()
        folder.rmdir()
        folder.write_text("not a folder")  # the register's file cannot be opened any more
        problems = _problems(client.get("/api/v1/records", headers=AUTH), 503)
        assert problems[0]["code"] == "register"
        assert client.get("/api/v1/records", headers=AUTH).headers["retry-after"] == "5"


def test_openapi_describes_the_desk_routes(desk: TestClient) -> None:
    document = desk.get("/openapi.json").json()
    for path in ("/api/v1/records", "/api/v1/records/{ref}", "/api/v1/records/{ref}/pdf",
                 "/api/v1/receipts", "/api/v1/register"):
        assert path in document["paths"], path
        for operation in document["paths"][path].values():
            assert "503" in operation["responses"], (path, operation["responses"])
