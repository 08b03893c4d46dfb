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
- ``GET /register?format=csv|xlsx`` — one row per record and website: status and why.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from sheetgen.errors import Problem, RegisterError

if TYPE_CHECKING:
    from sheetgen.desk.register import Register

#: Scans by media type, and the suffix ``receive`` reads them by.
SCAN_TYPES = {"application/pdf": ".pdf", "image/png": ".png", "image/jpeg": ".jpg",
              "image/tiff": ".tif"}
#: The largest scan one request may send (a feeder's PDF of a few dozen pages at 200 dpi).
SCAN_LIMIT = 64 * 1024 * 1024
#: The export's columns: (key of :meth:`Register.export_rows`, header).
EXPORT_COLUMNS = (("ref", "编号 ref"), ("name", "主办者名称"), ("province", "省份"),
                  ("status", "状态 status"), ("why", "原因 why"), ("version", "版本"),
                  ("website", "网站序号"), ("website_name", "网站名称"), ("domains", "域名"),
                  ("updated", "更新时间 (UTC)"))

_RECORD = {"description": "a record"}
_NOT_FOUND = {"description": "no such record: `{ok: false, problems}`"}
_UNAVAILABLE = {"description": "the register is unavailable or busy: `{ok: false, problems}`, "
                               "with Retry-After"}


class RegisterUnavailable(Exception):
    """The register could not answer (gone, busy, newer schema): 503."""

    def __init__(self, error: RegisterError) -> None:
        super().__init__(error.message)
        self.error = error

    def problems(self) -> list[Problem]:
        return [Problem("", "register", f"登记库暂不可用 / the register is unavailable: "
                                        f"{self.error.message}")]


async def _call(request: Request, method: str, *args: Any, **kwargs: Any) -> Any:
    """A register method, in a thread; its RegisterError becomes a 503."""
    register: Register = request.app.state.register
    try:
        return await asyncio.to_thread(getattr(register, method), *args, **kwargs)
    except RegisterError as err:
        if err.message.startswith("unknown status"):
            raise
        raise RegisterUnavailable(err) from None


def desk_router(api_error: Any, content_disposition: Any) -> APIRouter:
    """The desk's routes; ``api_error(status, code, message, path)`` builds the app's error,
    ``content_disposition(name)`` a download's header (both the app's own)."""
    router = APIRouter()
    common: dict[int | str, dict[str, Any]] = {503: _UNAVAILABLE}

    @router.get("/records", summary="A page of the register's records, newest first",
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

    @router.get("/records/{ref}", summary="One record: data, status and why, versions, "
                                          "outputs, receipts",
                responses={**common, 200: _RECORD, 404: _NOT_FOUND})
    async def record(request: Request, ref: str) -> JSONResponse:
        found = await _call(request, "record", ref)
        if found is None:
            raise api_error(404, "not_found", "登记库中没有此编号 / no such record", "ref")
        return JSONResponse({"ok": True, "record": found})

    @router.get("/records/{ref}/pdf", summary="The record's current PDF",
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

    @router.delete("/records/{ref}", summary="Delete a record and everything held of it",
                   responses={**common, 404: _NOT_FOUND})
    async def delete_record(request: Request, ref: str) -> JSONResponse:
        if not await _call(request, "delete", ref):
            raise api_error(404, "not_found", "登记库中没有此编号 / no such record", "ref")
        return JSONResponse({"ok": True, "deleted": ref})

    @router.post("/receipts", summary="One scan of signed originals: matched, checked, and "
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
        media = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media not in SCAN_TYPES:
            raise api_error(415, "unsupported_media_type",
                            "扫描件须为 PDF、PNG、JPEG 或 TIFF / the scan must be a PDF, PNG, "
                            f"JPEG or TIFF (Content-Type: {', '.join(SCAN_TYPES)})", "")
        data = await _read_limited(request, SCAN_LIMIT, api_error)
        result = await asyncio.to_thread(_receive, request.app.state.register, data,
                                         SCAN_TYPES[media], name, originals)
        return JSONResponse({"ok": True, **result})

    @router.get("/register", summary="The register: one row per record and website",
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

    return router


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
