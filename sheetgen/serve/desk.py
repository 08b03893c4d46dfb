"""The desk's HTTP routes (contract.md §8): the register's records, scans back, the export.

Mounted under ``/api/v1`` when ``serve`` runs with a register (``--data DIR`` or
``--database URL``), always behind the token (the register holds ID numbers and phones; the
configuration refuses a desk without one, even on loopback). Every database call runs in a
thread; a register that is gone or busy answers 503 with ``Retry-After`` and the ``register``
problem, and nothing half-written stays (each call is one transaction).

- ``GET /records?status=&province=&q=&page=&per_page=`` — a page of records, newest first;
- ``GET /records/{ref}`` — one record: data (never the filing password), status and why,
  versions, outputs, receipts; ``GET /records/{ref}/pdf`` — its current PDF;
  ``DELETE /records/{ref}`` — the record and everything held of it;
- ``POST /receipts`` — one scan (PDF, PNG, JPEG or TIFF, by ``Content-Type``) → what
  ``sheetgen receive`` reports, each matched record moved forward (originals accumulate);
- ``GET /register?format=csv|xlsx`` — one row per record and website: status and why;
- ``POST /batches`` — many applicants (a JSON array, JSON Lines, XLSX or CSV, by
  ``Content-Type``) → 202 ``{id, status, url}``; a job the instances' runners claim
  (:mod:`sheetgen.desk.jobs`); ``GET /batches/{id}`` its progress, ``…/manifest``,
  ``…/bundle`` and ``…/failed?format=xlsx|csv`` its results.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from sheetgen.desk.jobs import MEDIA_KINDS
from sheetgen.errors import Problem, RegisterError

if TYPE_CHECKING:
    from sheetgen.desk.register import Register

#: Scans by media type, and the suffix ``receive`` reads them by.
SCAN_TYPES = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg",
              "image/tiff": ".tif"}
#: The largest scan one request may send (a feeder's PDF of a few dozen pages at 200 dpi).
SCAN_LIMIT = 64 * 1024 * 1024
#: The largest batch one request may send (the spreadsheet reader's own limit).
BATCH_LIMIT = 32 * 1024 * 1024
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: The export's columns: (key of :meth:`Register.export_rows`, header).
EXPORT_COLUMNS = (("ref", "编号 ref"), ("name", "主办者名称"), ("province", "省份"),
                  ("status", "状态 status"), ("why", "原因 why"), ("version", "版本"),
                  ("website", "网站序号"), ("website_name", "网站名称"), ("domains", "域名"),
                  ("updated", "更新时间 (UTC)"))

_RECORD = {"description": "a record"}
_NOT_FOUND = {"description": "no such record: `{ok: false, problems}`"}
_UNAVAILABLE = {"description": "the register is unavailable or busy: `{ok: false, problems}`, "
                               "with Retry-After"}


# --- what the JSON answers hold: the OpenAPI description (and a generated client's types) ------

Status = Literal["invalid", "ready", "printed", "received", "complete"]


class RecordSummary(BaseModel):
    """A record as a listing shows it."""

    ref: str
    status: Status
    why: str
    province: str | None
    name: str | None
    websites: int
    version: int
    created: str
    updated: str


class RecordsPage(BaseModel):
    """``GET /records``: a page of records, newest first."""

    ok: bool
    total: int
    page: int
    per_page: int
    records: list[RecordSummary]


class RecordDetail(RecordSummary):
    """A record with its current data (never the filing password) and its history."""

    data: dict[str, Any] | None
    problems: list[dict[str, Any]]
    versions: list[dict[str, Any]]
    outputs: list[dict[str, Any]]
    receipts: list[dict[str, Any]]


class RecordAnswer(BaseModel):
    """``GET /records/{ref}``."""

    ok: bool
    record: RecordDetail


class Deleted(BaseModel):
    """``DELETE /records/{ref}``."""

    ok: bool
    deleted: str


class Moved(BaseModel):
    """A record a receipt moved: its status and version now."""

    status: Status
    version: int
    changed: bool


class ReceiptAnswer(BaseModel):
    """``POST /receipts``: what ``sheetgen receive`` reports of the scan, and the records."""

    ok: bool
    summary: dict[str, int]
    pages: list[dict[str, Any]]
    records: dict[str, Moved]


class BatchAccepted(BaseModel):
    """``POST /batches`` (202)."""

    id: str
    status: Literal["queued"]
    url: str


class BatchStatus(BaseModel):
    """``GET /batches/{id}``."""

    id: str
    status: Literal["queued", "running", "done", "failed"]
    total: int | None
    done: int
    failed: int
    error: str | None = None


class RegisterUnavailable(Exception):
    """The register could not answer (gone, busy, newer schema): 503."""

    def __init__(self, error: RegisterError) -> None:
        super().__init__(error.message)
        self.error = error

    def problems(self) -> list[Problem]:
        return [Problem("", "register", f"登记库暂不可用 / the register is unavailable: "
                                        f"{self.error.message}")]


async def _call(request: Request, method: str, *args: Any, **kwargs: Any) -> Any:
    """A method of the register (``records``) or of its job queue (``jobs.submit``), in a
    thread; a RegisterError (the database gone, busy) becomes a 503."""
    owner, _, name = method.rpartition(".")
    target = request.app.state.jobs if owner == "jobs" else request.app.state.register
    try:
        return await asyncio.to_thread(getattr(target, name), *args, **kwargs)
    except RegisterError as err:
        raise RegisterUnavailable(err) from None


def desk_router(api_error: Any, content_disposition: Any) -> APIRouter:
    """The desk's routes; ``api_error(status, code, message, path)`` builds the app's error,
    ``content_disposition(name)`` a download's header (both the app's own)."""
    router = APIRouter()
    common: dict[int | str, dict[str, Any]] = {503: _UNAVAILABLE}

    @router.get("/records", response_model=RecordsPage,
                summary="A page of the register's records, newest first",
                responses={**common, 400: {"description": "an unknown status"}})
    async def records(
        request: Request,
        status: Annotated[Literal["invalid", "ready", "printed", "received", "complete"] | None,
                          Query(description="only records of this status")] = None,
        province: Annotated[str | None, Query(max_length=16)] = None,
        q: Annotated[str | None, Query(max_length=100,
                                       description="in the ref or the 主办者's name")] = None,
        page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
        per_page: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> JSONResponse:
        listing = await _call(request, "records", status=status, province=province, q=q,
                              page=page, per_page=per_page)
        return JSONResponse({"ok": True, **listing})

    @router.get("/records/{ref}", response_model=RecordAnswer,
                summary="One record: data, status and why, versions, "
                                          "outputs, receipts",
                responses={**common, 200: _RECORD, 404: _NOT_FOUND})
    async def record(request: Request, ref: str) -> JSONResponse:
        found = await _call(request, "record", ref)
        if found is None:
            raise api_error(404, "not_found", "登记库中没有此编号 / no such record", "ref")
        return JSONResponse({"ok": True, "record": found})

    @router.get("/records/{ref}/pdf", response_class=Response, summary="The record's current PDF",
                responses={**common, 404: _NOT_FOUND,
                           200: {"content": {"application/pdf": {}},
                                 "description": "the PDF"}})
    async def record_pdf(request: Request, ref: str) -> Response:
        found = await _call(request, "output", ref, "pdf")
        if found is None:
            raise api_error(404, "not_found", "此编号没有 PDF（无此记录或数据无效）/ no PDF for "
                                              "this record (none, or its data is invalid)", "ref")
        name, data = found
        return Response(data, media_type="application/pdf",
                        headers={"content-disposition": content_disposition(name)})

    @router.delete("/records/{ref}", response_model=Deleted,
                   summary="Delete a record and everything held of it",
                   responses={**common, 404: _NOT_FOUND})
    async def delete_record(request: Request, ref: str) -> JSONResponse:
        if not await _call(request, "delete", ref):
            raise api_error(404, "not_found", "登记库中没有此编号 / no such record", "ref")
        return JSONResponse({"ok": True, "deleted": ref})

    @router.post("/receipts", response_model=ReceiptAnswer,
                 summary="One scan of signed originals: matched, checked, and "
                                      "each record moved forward",
                 openapi_extra={"requestBody": {"required": True, "content": {
                     media: {"schema": {"type": "string", "format": "binary"}}
                     for media in SCAN_TYPES}}},
                 responses={**common, 413: {"description": "scan over the limit"},
                            415: {"description": "not a PDF or image"}})
    async def receipts(
        request: Request,
        originals: Annotated[int, Query(ge=1, le=10,
                                        description="originals expected per website")] = 2,
        name: Annotated[str, Query(min_length=1, max_length=100,
                                   description="the scan's file name, for the report")
                        ] = "scan",
    ) -> JSONResponse:
        media = _media(request, SCAN_TYPES, api_error, "扫描件须为 PDF、PNG、JPEG 或 TIFF / the "
                                                     "scan must be a PDF, PNG, JPEG or TIFF")
        data = await _read_limited(request, SCAN_LIMIT, api_error)
        result = await asyncio.to_thread(_receive, request.app.state.register, data,
                                         SCAN_TYPES[media], name, originals)
        return JSONResponse({"ok": True, **result})

    @router.get("/register", response_class=Response,
                summary="The register: one row per record and website",
                responses={**common, 200: {"content": {
                    "text/csv": {}, "application/vnd.openxmlformats-officedocument."
                                    "spreadsheetml.sheet": {}},
                    "description": "the register as CSV or XLSX"}})
    async def register_export(
        request: Request,
        format: Annotated[Literal["csv", "xlsx"], Query(description="csv or xlsx")] = "xlsx",
    ) -> Response:
        rows = await _call(request, "export_rows")
        data, media = await asyncio.to_thread(_export, list(rows), format)
        return Response(data, media_type=media,
                        headers={"content-disposition": content_disposition(
                            f"register.{format}")})

    @router.post("/print", response_class=Response,
                 summary="One PDF of the records to print, which become printed",
                 openapi_extra={"requestBody": {"required": False, "content": {
                     "application/json": {"schema": {
                         "type": "object", "additionalProperties": False,
                         "properties": {"refs": {"type": "array", "maxItems": 1000,
                                                 "items": {"type": "string", "minLength": 1,
                                                           "maxLength": 100}}}}}}}},
                 responses={**common, 200: {"content": {"application/pdf": {}},
                                            "description": "the bundle"},
                            404: {"description": "nothing to print"},
                            422: {"description": "a body that is not {refs: [...]}"}})
    async def print_bundle(request: Request) -> Response:
        body = await _read_limited(request, 1024 * 1024, api_error)
        refs = _refs(body, api_error)
        printable = await _call(request, "printable", refs)
        if not printable:
            raise api_error(404, "not_found", "没有可打印的记录（没有待打印的，或所选记录数据无效）"
                                              " / nothing to print: no record is ready, or "
                                              "those chosen have no valid PDF", "refs")
        data = await asyncio.to_thread(_concatenate, [pdf for _, pdf in printable])
        await _call(request, "mark_printed", [ref for ref, _ in printable])
        return Response(data, media_type="application/pdf", headers={
            "content-disposition": content_disposition("print.pdf"),
            "x-sheetgen-records": str(len(printable))})

    @router.post("/batches", status_code=202, response_model=BatchAccepted,
                 summary="Many applicants at once: a job, run in the background",
                 openapi_extra={"requestBody": {"required": True, "content": {
                     # A JSON body is an array of applicants; the others are files.
                     media: {"schema": {"type": "array", "minItems": 1, "items": {
                         "$ref": "#/components/schemas/Applicant"}}}
                     if media == "application/json"
                     else {"schema": {"type": "string", "format": "binary"}}
                     for media in MEDIA_KINDS}}},
                 responses={**common, 202: {"description": "queued: `{id, status, url}`"},
                            413: {"description": "body over the limit"},
                            415: {"description": "not JSON, JSON Lines, XLSX or CSV"}})
    async def batches(
        request: Request,
        cover: Annotated[bool, Query(description="the cover checklist first")] = True,
        qr: Annotated[bool, Query(description="a QR code on each sheet")] = True,
        details: Annotated[bool, Query(description="the detailed applicant block")] = False,
        variant: Annotated[Literal["auto", "public", "guangdong"], Query()] = "auto",
        provider: Annotated[str | None, Query(min_length=1, max_length=100)] = None,
        copies: Annotated[int | None, Query(
            ge=1, le=10, description="each sheet N times (default: the server's provider "
                                     "configuration's [originals] sheet, else 1)")] = None,
        name: Annotated[str | None, Query(min_length=1, max_length=100,
                                          description="the file's name, for the manifest")
                        ] = None,
    ) -> JSONResponse:
        media = _media(request, MEDIA_KINDS, api_error, "批量数据须为 JSON 数组、JSON Lines、XLSX "
                                                      "或 CSV / the body must be a JSON array, "
                                                      "JSON Lines, XLSX or CSV")
        data = await _read_limited(request, BATCH_LIMIT, api_error)
        # The server's provider configuration travels with the job: another instance of a
        # shared register may run it.
        config = request.app.state.provider
        options = {"cover": cover, "qr": qr, "details": details, "variant": variant,
                   "provider": provider if provider is not None else config.name,
                   "copies": copies if copies is not None else 1, "name": name,
                   "verification": config.flow,
                   "templates": str(config.templates) if config.templates else None,
                   "sheet": True if config.sheet else None,
                   "originals": [[k, n] for k, n in sorted(config.originals)
                                 if not (copies is not None and k == "sheet")]}
        job = await _call(request, "jobs.submit", data, MEDIA_KINDS[media], options)
        url = f"/api/v1/batches/{job}"
        return JSONResponse({"id": job, "status": "queued", "url": url}, status_code=202,
                            headers={"location": url})

    @router.get("/batches/{job}", response_model=BatchStatus, summary="A batch's progress",
                responses={**common, 404: {"description": "no such batch"}})
    async def batch_status(request: Request, job: str) -> JSONResponse:
        found = await _call(request, "jobs.status", job)
        if found is None:
            raise api_error(404, "not_found", "没有这个批次 / no such batch", "id")
        return JSONResponse(found)

    async def finished(request: Request, job: str, what: str) -> Any:
        found = await _call(request, "jobs.result", job, what)
        if found is None:
            raise api_error(404, "not_found", "没有这个批次 / no such batch", "id")
        status, value = found
        if status != "done":
            raise api_error(409, "not_ready", f"批次尚未完成（{status}）/ the batch is not done "
                                              f"yet ({status}): poll GET /api/v1/batches/{job}",
                            "id")
        return value

    not_ready: dict[int | str, dict[str, Any]] = {
        404: {"description": "no such batch, or nothing of that kind"},
                 409: {"description": "the batch is not done yet"}}

    @router.get("/batches/{job}/manifest", summary="A done batch's manifest (batch --report)",
                responses={**common, **not_ready})
    async def batch_manifest(request: Request, job: str) -> JSONResponse:
        return JSONResponse(await finished(request, job, "manifest"))

    @router.get("/batches/{job}/bundle", response_class=Response,
                summary="One PDF of the batch's successful records",
                responses={**common, **not_ready, 200: {"content": {"application/pdf": {}},
                                                        "description": "the bundle"}})
    async def batch_bundle(request: Request, job: str) -> Response:
        data = await finished(request, job, "bundle")
        if data is None:
            raise api_error(404, "not_found", "此批次没有成功的记录 / no record of this batch "
                                              "succeeded: there is no bundle", "id")
        return Response(bytes(data), media_type="application/pdf",
                        headers={"content-disposition": content_disposition(
                            f"batch-{job[:8]}.pdf")})

    @router.get("/batches/{job}/failed", response_class=Response,
                summary="The batch's failed rows (batch --failed)",
                responses={**common, **not_ready, 200: {"content": {
                    "text/csv": {}, XLSX: {}}, "description": "the failed rows"}})
    async def batch_failed(
        request: Request, job: str,
        format: Annotated[Literal["csv", "xlsx"], Query(description="csv or xlsx")] = "xlsx",
    ) -> Response:
        data = await finished(request, job, "failed_rows")
        if data is None:
            raise api_error(404, "not_found", "此批次没有失败的记录 / no record of this batch "
                                              "failed", "id")
        body, media = (bytes(data), XLSX) if format == "xlsx" else (
            await asyncio.to_thread(_xlsx_to_csv, bytes(data)), "text/csv; charset=utf-8")
        return Response(body, media_type=media, headers={
            "content-disposition": content_disposition(f"failed-{job[:8]}.{format}")})

    return router


def _refs(body: bytes, api_error: Any) -> list[str] | None:
    """``{"refs": [...]}`` (None: no body, or no refs: everything ready)."""
    import json

    if not body.strip():
        return None
    wrong = api_error(422, "invalid", "请求体须为 {\"refs\": [编号, …]} / the body must be "
                                      "{\"refs\": [ref, …]} (at most 1000)", "refs")
    try:
        value = json.loads(body)
    except ValueError:
        raise wrong from None
    if not isinstance(value, dict) or set(value) - {"refs"}:
        raise wrong
    refs = value.get("refs")
    if refs is None:
        return None
    if not (isinstance(refs, list) and len(refs) <= 1000 and all(
            isinstance(r, str) and 0 < len(r) <= 100 for r in refs)):
        raise wrong
    return list(refs)


def _concatenate(pdfs: list[bytes]) -> bytes:
    """The records' PDFs, one after the other, as one PDF to print."""
    import io

    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for data in pdfs:
        writer.append(PdfReader(io.BytesIO(data)))
    output = io.BytesIO()
    writer.write(output)
    return output.getvalue()


def _xlsx_to_csv(data: bytes) -> bytes:
    """The failed rows' workbook as CSV (UTF-8 with BOM), cell for cell, text never run."""
    import csv
    import io

    from sheetgen.sources.spreadsheet import read_table

    with tempfile.TemporaryDirectory(prefix="sheetgen-failed-") as folder:
        path = Path(folder) / "failed.xlsx"
        path.write_bytes(data)
        table = read_table(path)
    lines = [table.header, *([table.paths_row] if table.paths_row else []),
             *[[cell.text for cell in row.cells] for row in table.rows]]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(
        [[_csv_cell(text) for text in line] for line in lines])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _media(request: Request, allowed: Mapping[str, str], api_error: Any, what: str) -> str:
    """The body's media type, one of ``allowed`` (415 naming them otherwise)."""
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media not in allowed:
        raise api_error(415, "unsupported_media_type",
                        f"{what} (Content-Type: {', '.join(allowed)})", "")
    return media


async def _read_limited(request: Request, limit: int, api_error: Any) -> bytes:
    declared = request.headers.get("content-length")
    too_large = api_error(413, "too_large", f"扫描件超过 {limit} 字节 / the scan is over the "
                                            f"limit of {limit} bytes", "")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def _receive(register: Register, data: bytes, suffix: str, name: str,
             originals: int) -> dict[str, Any]:
    """Check one uploaded scan and store what it matched (in a thread)."""
    from sheetgen.desk.runs import record_receipt
    from sheetgen.receive import receive

    with tempfile.TemporaryDirectory(prefix="sheetgen-scan-") as folder:
        path = Path(folder) / f"scan{suffix}"
        path.write_bytes(data)
        receipt = receive([path], originals=originals)
        for page in receipt.pages:
            page.file = name
        moved = record_receipt(register, receipt, originals=originals, content=data)
    document = receipt.as_dict()
    return {"summary": document["summary"], "pages": document["pages"],
            "records": {ref: {"status": b.status, "version": b.version, "changed": b.changed}
                        for ref, b in moved.items()}}


def _export(rows: list[dict[str, Any]], fmt: str) -> tuple[bytes, str]:
    """The register's rows as CSV (UTF-8 with BOM, for Excel) or XLSX, text kept as text."""
    header = [title for _, title in EXPORT_COLUMNS]
    table = [["" if row.get(key) is None else str(row[key]) for key, _ in EXPORT_COLUMNS]
             for row in rows]
    if fmt == "csv":
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(header)
        writer.writerows([[_csv_cell(cell) for cell in line] for line in table])
        return ("\ufeff" + buffer.getvalue()).encode("utf-8"), "text/csv; charset=utf-8"
    import io

    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = "登记 register"
    sheet.append(header)
    for line in table:
        sheet.append([None] * len(line))
        for column, value in enumerate(line, 1):
            cell = sheet.cell(row=sheet.max_row, column=column)
            cell.value = value
            cell.data_type = "s"  # text stays text: a value starting with = is no formula
    for column, (_, title) in enumerate(EXPORT_COLUMNS, 1):
        widest = max([len(title), *(len(line[column - 1]) for line in table[:500])])
        sheet.column_dimensions[get_column_letter(column)].width = min(60, 4 + widest * 1.6)
    sheet.freeze_panes = "A2"
    output = io.BytesIO()
    book.save(output)
    return output.getvalue(), ("application/vnd.openxmlformats-officedocument."
                               "spreadsheetml.sheet")


def _csv_cell(text: str) -> str:
    """A CSV cell a spreadsheet will not run: one starting with = + - @, a tab or a CR gets a
    leading apostrophe (OWASP's advice for CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
