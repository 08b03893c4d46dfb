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
    # The token is a security scheme; every route but /live needs it and says 401 with the
    # error shape; a file's bytes are a binary string, never an empty schema.
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for path, methods in document["paths"].items():
        for operation in methods.values():
            if path.startswith("/api/v1/") and path != "/api/v1/live":
                assert operation["security"] == [{"bearer": []}], path
                problems = operation["responses"]["401"]["content"]["application/json"]
                assert problems["schema"] == {"$ref": "#/components/schemas/Problems"}, path
            for code, answer in operation["responses"].items():
                for media, spec in answer.get("content", {}).items():
                    if not media.endswith("json"):
                        assert spec["schema"] == {"type": "string", "format": "binary"}, (
                            path, code, media)
                    if code.startswith(("4", "5")):
                        assert spec["schema"] == {"$ref": "#/components/schemas/Problems"}


# --- batches: jobs the instances run --------------------------------------------------------

def _wait_done(client: TestClient, url: str, timeout: float = 300.0) -> dict[str, Any]:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(url, headers=AUTH).json()
        if status["status"] in ("done", "failed"):
            return dict(status)
        time.sleep(0.2)
    raise AssertionError(f"the batch did not finish: {status}")


def test_a_batch_job_from_json_lines_to_register_bundle_and_failed_rows(desk: TestClient
                                                                        ) -> None:
    good = [example("jiangxi-personal"), example("guangdong-personal")]
    bad = example("zhejiang-personal")
    bad["websites"][0]["domains"][0] = "https://bad/help"
    lines = "\n".join(json.dumps(r, ensure_ascii=False) for r in (*good, bad)) + "\n"
    _problems(desk.post("/api/v1/batches", content=b"x", headers={
        **AUTH, "content-type": "text/plain"}), 415)
    _problems(desk.post("/api/v1/batches?copies=0", content=lines.encode(), headers={
        **AUTH, "content-type": "application/x-ndjson"}), 400)
    answer = desk.post("/api/v1/batches?cover=false", content=lines.encode(),
                       headers={**AUTH, "content-type": "application/x-ndjson"})
    assert answer.status_code == 202, answer.text
    job = answer.json()
    assert job["status"] == "queued" and answer.headers["location"] == job["url"]
    status = _wait_done(desk, job["url"])
    assert status == {"id": job["id"], "status": "done", "total": 3, "done": 3, "failed": 1}
    manifest = desk.get(job["url"] + "/manifest", headers=AUTH).json()
    assert manifest["summary"]["ok"] == 2 and manifest["outdir"] is None
    bundle = desk.get(job["url"] + "/bundle", headers=AUTH)
    assert bundle.status_code == 200 and bundle.content.startswith(b"%PDF")
    assert len(pdfium.PdfDocument(bundle.content)) == 2  # no cover: one sheet each
    failed = desk.get(job["url"] + "/failed?format=csv", headers=AUTH)
    assert failed.status_code == 200 and "domain_invalid" in failed.content.decode("utf-8-sig")
    assert desk.get(job["url"] + "/failed", headers=AUTH).content.startswith(b"PK")
    records = desk.get("/api/v1/records", headers=AUTH).json()
    assert {r["ref"]: r["status"] for r in records["records"]} == {
        good[0]["ref"]: "ready", good[1]["ref"]: "ready", bad["ref"]: "invalid"}
    _problems(desk.get("/api/v1/batches/nope", headers=AUTH), 404)


def test_results_of_a_running_batch_are_409(desk: TestClient) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from sheetgen.desk.schema import JobRow

    register = desk.app.state.register  # type: ignore[attr-defined]
    now = datetime.now(UTC)
    with register.transaction() as db:  # held by another instance, its lease still running
        db.execute(insert(JobRow).values(
            id="busy", status="running", kind="json", options={}, input=b"[]", done=0,
            failed=0, attempts=1, claimed_by="other", lease_until=now + timedelta(hours=1),
            created=now, updated=now))
    assert desk.get("/api/v1/batches/busy", headers=AUTH).json()["status"] == "running"
    problems = _problems(desk.get("/api/v1/batches/busy/manifest", headers=AUTH), 409)
    assert problems[0]["code"] == "not_ready"


def test_claims_skip_locked_jobs_and_take_over_a_dead_instance(register_target: str,
                                                               tmp_path: Path) -> None:
    from sqlalchemy import update

    from sheetgen.desk.jobs import Jobs
    from sheetgen.desk.schema import JobRow

    with open_register(register_target) as register:
        one = Jobs(register, workdir=tmp_path / "one", instance="one")
        two = Jobs(register, workdir=tmp_path / "two", instance="two")
        first = one.submit(b"[]", "json", {})
        second = one.submit(b"[]", "json", {})
        claimed = [one.claim(), two.claim()]
        assert {c.id for c in claimed if c is not None} == {first, second}
        assert one.claim() is None and two.claim() is None  # both held under a lease
        # Instance "one" dies: its lease runs out, and "two" takes the job over.
        job = claimed[0]
        assert job is not None
        with register.transaction() as db:
            db.execute(update(JobRow).where(JobRow.id == job.id).values(
                lease_until=JobRow.created))
        taken = two.claim()
        assert taken is not None and taken.id == job.id
        assert not one._update(job.id, done=1)  # the dead instance cannot write any more
        two.run(taken, workers=1)
        assert two.status(job.id) == {"id": job.id, "status": "done", "total": 0, "done": 0,
                                      "failed": 0}


def test_two_instances_on_postgresql_share_a_queue(postgres: Any, tmp_path: Path) -> None:
    """Several instances claim concurrently: every job exactly once (SKIP LOCKED)."""
    import threading

    from sheetgen.desk.jobs import Jobs

    url = postgres.new_database()
    with open_register(url) as register:
        queue = [Jobs(register, workdir=tmp_path, instance=f"i{n}") for n in range(4)]
        submitted = {queue[0].submit(b"[]", "json", {}) for _ in range(20)}
        claimed: list[str] = []
        lock = threading.Lock()

        def claim_all(jobs: Jobs) -> None:
            while (job := jobs.claim()) is not None:
                with lock:
                    claimed.append(job.id)

        threads = [threading.Thread(target=claim_all, args=(jobs,)) for jobs in queue]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert sorted(claimed) == sorted(submitted)


def test_purge_deletes_finished_jobs_with_their_inputs(register_target: str,
                                                      tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from sheetgen.desk.jobs import Jobs

    with open_register(register_target) as register:
        jobs = Jobs(register, workdir=tmp_path)
        done = jobs.submit(b'[{"ref": "PURGE-ME"}]', "json", {})
        waiting = jobs.submit(b"[]", "json", {})
        claimed = jobs.claim()
        assert claimed is not None and claimed.id == done
        jobs.run(claimed, workers=1)
        assert register.purge(datetime.now(UTC) + timedelta(seconds=1)) == 1  # PURGE-ME
        assert jobs.status(done) is None  # its input went with it
        assert jobs.status(waiting) is not None  # not run yet: kept


def _blank_pdf(pages: int) -> bytes:
    from pypdf import PdfWriter

    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def test_print_the_records_ready_then_marked_printed(desk: TestClient) -> None:
    register = desk.app.state.register  # type: ignore[attr-defined]
    for ref, pages in (("P-1", 2), ("P-2", 1)):
        register.bring(ref, data={"ref": ref}, ok=True, input_sha256=ref.ljust(64, "0"),
                       outputs=[OutputFile(f"{ref}.pdf", "pdf", _blank_pdf(pages))])
    register.bring("P-BAD", data={"ref": "P-BAD"}, ok=False, input_sha256="9" * 64)
    printed = desk.post("/api/v1/print", headers=AUTH)
    assert printed.status_code == 200, printed.text
    assert len(pdfium.PdfDocument(printed.content)) == 3
    assert printed.headers["x-sheetgen-records"] == "2"
    statuses = {r["ref"]: r["status"] for r in
                desk.get("/api/v1/records", headers=AUTH).json()["records"]}
    assert statuses == {"P-1": "printed", "P-2": "printed", "P-BAD": "invalid"}
    _problems(desk.post("/api/v1/print", headers=AUTH), 404)  # nothing left to print
    again = desk.post("/api/v1/print", json={"refs": ["P-2", "P-BAD"]}, headers=AUTH)
    assert again.status_code == 200 and len(pdfium.PdfDocument(again.content)) == 1
    for wrong in (b"[1]", b'{"refs": "P-1"}', b'{"refs": [], "x": 1}', b"{"):
        _problems(desk.post("/api/v1/print", content=wrong, headers=AUTH), 422)
