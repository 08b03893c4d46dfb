"""The FastAPI application of ``sheetgen serve``: the HTTP API (contract.md §6) and the form.

Requests and answers
    Bodies are read here, not by FastAPI: at most ``body_limit`` bytes (413 beyond, also for a
    chunked body without Content-Length), ``application/json`` only (415), then parsed by the
    CLI's own reader (:mod:`sheetgen.sources.json`: UTF-8, duplicate keys, depth) and model, so
    a body gets exactly the problems ``sheetgen check`` prints for the same file. Every error
    is ``{"ok": false, "problems": [{path, code, message}]}``: 422 for the data (invalid,
    does not fit, a character no font has), 400 for a bad or unknown query option (each
    route's options are those its OpenAPI description lists) and for a refused CORS
    preflight, 401 without the token, 404/405/415, 413 for a body over the limit or a request
    for more pages than one request may have (counted before rendering), 503 with
    ``Retry-After`` when no worker is free in time, 504 when a render overruns the timeout,
    500 for a bug (no traceback, no detail). 408 for a request not sent in time and 503 for a
    full server come from the connection layer (:mod:`sheetgen.serve.protocol`), in the same
    shape. ``GET /api/v1/live`` needs no token and answers ``{"ok": true}`` only.

Privacy
    Nothing sent is stored: bodies live in memory for the request only, no file is written,
    and the access log (logger ``sheetgen.serve.access``) records method, path without the
    query, status, size and time, never a body, a query value or a header; control
    characters in every line of the server's loggers are escaped (:class:`EscapeControls`), so
    a path cannot forge a line. A client gone before its body was read is that line with 499,
    not an error. Problems are the model's, built from error codes, never from the input
    (an unknown query option is named, never its value), so the filing password cannot be
    echoed; API answers carry ``Cache-Control: no-store``.

Security headers on every answer: a Content-Security-Policy that allows only this origin's
own scripts, styles, fonts and images (no inline script or style; ``data:``/``blob:`` images
for the previews, ``blob:`` for the downloads), ``nosniff``, no framing, no referrer. CORS is
off unless origins are configured. With a token, every ``/api/`` call but ``/api/v1/live`` needs
``Authorization: Bearer <token>`` (compared in constant time); the form page and its static
files do not, and the page asks for the token when the API answers 401.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import html
import json
import logging
import re
import time
import unicodedata
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from importlib.resources import files
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect

import sheetgen.serve.render as engine
from sheetgen import __version__
from sheetgen.errors import Problem, UsageError
from sheetgen.resources import font_path
from sheetgen.rules import load_rules
from sheetgen.serve.config import MAX_PAGES, MAX_PNG_PIXELS, ServeConfig, default_workers
from sheetgen.serve.form import form_spec
from sheetgen.serve.pool import PoolError, RenderPool
from sheetgen.serve.protocol import RETRY_AFTER, install_accept_log

access_log = logging.getLogger("sheetgen.serve.access")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; font-src 'self'; "
       "img-src 'self' data: blob:; connect-src 'self'; form-action 'self'; "
       "base-uri 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
    "permissions-policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}
STATIC = files("sheetgen.serve") / "static"
#: The files the page loads; fonts are the bundled ones (no CJK font needed on the client).
STATIC_FILES = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8",
                "desk.js": "text/javascript; charset=utf-8", "desk.css": "text/css; charset=utf-8"}
FONTS = {"serif.ttf": "body", "serif-supplement.ttf": "supplement"}


#: Where a PNG page's pixels come from: the preview's resolution (fixed; no request sets it).
_PNG_DPI = 110
_A4_PIXELS = round(210 / 25.4 * _PNG_DPI) * round(297 / 25.4 * _PNG_DPI)
#: The status logged for a request whose client went away before it was answered (nginx's).
CLIENT_CLOSED = 499


def escape_controls(text: str) -> str:
    """``text`` with every control, format and line/paragraph separator character written as a
    ``\\xNN``/``\\uNNNN`` escape (and ``\\`` doubled), so a request cannot write a line
    break, a forged log line or a terminal escape into the log (a path with ``%0A``)."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs"):
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


class EscapeControls(logging.Filter):
    """Every line of the server's loggers with its control characters escaped."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        escaped = escape_controls(message)
        if escaped != message:
            record.msg, record.args = escaped, None
        return True


class ApiError(Exception):
    """An answer in the error shape: ``status`` and the problems."""

    def __init__(self, status: int, problems: list[Problem],
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(problems[0].message if problems else str(status))
        self.status = status
        self.problems = problems
        self.headers = headers or {}

    @classmethod
    def one(cls, status: int, code: str, message: str, path: str = "") -> ApiError:
        return cls(status, [Problem(path, code, message)])


def _example_warnings(body: bytes) -> list[Problem]:
    """The ``example_data`` warnings of a valid applicant's JSON (what ``sheetgen check``
    prints on stderr)."""
    from sheetgen.api import load
    from sheetgen.documents.example import applicant_warnings

    return applicant_warnings(load(body, source=engine.SOURCE), load_rules())


#: What an error answer holds, as an OpenAPI content map (the schema is added to components).
PROBLEMS_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Problems"}}}
#: The answers every ``/api/v1`` route may give besides its own (the token, a query option).
COMMON_ANSWERS = {"400": "an unknown or invalid query option", "401": "no or wrong token"}


def _complete(document: dict[str, Any], *, token: bool) -> None:
    """Make the description say what every route answers: the token as a security scheme
    (every ``/api/v1`` route but ``/live``), each error status with the Problems schema, and
    a file's bytes as a binary string rather than an empty schema."""
    if token:
        document.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": "Authorization: Bearer <the server's token>"}}
    for path, methods in document.get("paths", {}).items():
        for op in methods.values():
            answers = op.setdefault("responses", {})
            if path.startswith("/api/v1/") and path != "/api/v1/live":
                if token:
                    op["security"] = [{"bearer": []}]
                for code, text in COMMON_ANSWERS.items():
                    answers.setdefault(code, {"description": text})
            for code, answer in answers.items():
                if code[:1] in ("4", "5") and not answer.get("content"):
                    answer["content"] = PROBLEMS_CONTENT
                for media, spec in (answer.get("content") or {}).items():
                    if (spec or {}).get("schema"):
                        continue
                    # A file: its bytes. A JSON answer whose route declares no model of its
                    # own (rules, schema, form, example, health, a manifest): an object.
                    answer["content"][media] = {"schema": {"type": "object"}} if media.endswith(
                        "json") else {"schema": {"type": "string", "format": "binary"}}


def problems_response(status: int, problems: list[Problem],
                      headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"ok": False, "problems": [p.as_dict() for p in problems]},
                        status_code=status, headers=headers)


# --- ASGI middleware: headers and the access log --------------------------------------------

class Guard:
    """Security headers on every answer, ``no-store`` on the API, and the access log line."""

    def __init__(self, app: ASGIApp, *, log: bool) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        path: str = scope.get("path", "")
        status = 500
        size = 0

        async def guarded_send(message: Message) -> None:
            nonlocal status, size
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.decode("latin-1").lower() not in SECURITY_HEADERS]
                headers += [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
                if path.startswith("/api/") or path in ("/", "/desk"):
                    headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"]
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            elif message["type"] == "http.response.body":
                size += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, guarded_send)
        finally:
            if self.log:
                note = ""
                if scope.get("sheetgen.read_timeout"):
                    status, note = 408, " request body not sent in time"
                elif status == CLIENT_CLOSED:
                    note = " client closed the connection"
                # The path only: a query string can carry values (a provider name); its
                # control characters are escaped by the logger's filter (EscapeControls).
                access_log.info("%s %s %d %dB %.1fms%s", scope.get("method", "-"),
                                path, status, size,
                                (time.perf_counter() - started) * 1000, note)


# --- request helpers -------------------------------------------------------------------------

async def read_json_body(request: Request, limit: int) -> bytes:
    """The body of a JSON request: within the limit (413), declared as JSON (415)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media != "application/json" and not (media.startswith("application/")
                                            and media.endswith("+json")):
        raise ApiError.one(415, "unsupported_media_type",
                           f"请求体须为 JSON（Content-Type: application/json），实际为 "
                           f"{media[:40] or '未指定'} / the body must be JSON "
                           f"(Content-Type: application/json), got {media[:40] or 'none'}")
    chunks: list[bytes] = []
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > limit:
                raise _too_large(limit)
            chunks.append(chunk)
    except ClientDisconnect:
        raise ClientGone from None
    return b"".join(chunks)


class ClientGone(Exception):
    """The client closed the connection before its body was read (an aborted upload): not
    an error of the server, logged as one access line with status 499."""


def _check_pages(body: bytes, *, format: str, cover: bool, copies: int) -> None:
    """413 before any rendering when the request would produce more pages than one request
    may (:data:`~sheetgen.serve.config.MAX_PAGES`; PNG pages: :data:`MAX_PNG_PIXELS`), so a
    5 KB request cannot hold a render worker for long. Counted from the body as sheets
    (websites × copies) plus the cover; a body that is not an applicant is left to the
    renderer's own 422."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # not JSON, or nested too deep: the reader says so
        return
    websites = data.get("websites") if isinstance(data, dict) else None
    if not isinstance(websites, list):
        return
    pages = max(1, len(websites)) * copies + (1 if cover else 0)
    png = format == "png"
    limit = MAX_PNG_PIXELS // _A4_PIXELS if png else MAX_PAGES
    if pages > limit:
        what = f"PNG pages at {_PNG_DPI} dpi" if png else "pages"
        raise ApiError.one(413, "too_many_pages",
                           f"此请求将生成 {pages} 页，超过每次请求 {limit} 页的上限；请减少 copies "
                           f"或分批请求 / this request would produce {pages} {what}, over the "
                           f"limit of {limit} per request; ask for fewer copies or fewer "
                           "websites per request", path="query.copies")


#: The error shape, as an OpenAPI component.
PROBLEMS_SCHEMA: dict[str, Any] = {
    "type": "object", "required": ["ok", "problems"], "additionalProperties": False,
    "properties": {
        "ok": {"const": False},
        "problems": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["path", "code", "message"],
            "additionalProperties": False,
            "properties": {"path": {"type": "string"}, "code": {"type": "string"},
                           "message": {"type": "string"},
                           "severity": {"enum": ["error", "warning"]},
                           "source": {"type": "string"}, "row": {"type": "integer"},
                           "column": {"type": "string"}}}}}}


class ProblemsCORS(CORSMiddleware):
    """Starlette's CORS, with a refused preflight answered in the error shape (it answers
    ``text/plain`` "Disallowed CORS origin" otherwise)."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if response.status_code < 400:
            return response
        refused = bytes(response.body).decode("utf-8", "replace").removeprefix(
            "Disallowed CORS ")
        return problems_response(response.status_code, [Problem(
            "", "cors_refused", f"跨域请求被拒绝（{refused}）/ cross-origin request refused: "
                                f"{refused} not allowed")])


def _too_large(limit: int) -> ApiError:
    return ApiError.one(413, "too_large", f"请求体超过 {limit} 字节 / the request body is over "
                                          f"the limit of {limit} bytes")


def _content_disposition(name: str) -> str:
    """``attachment`` with an ASCII fallback name and the UTF-8 one (RFC 6266 / 5987)."""
    ascii_name = "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_"
                         for c in name)
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


# --- the application -------------------------------------------------------------------------

def create_app(config: ServeConfig | None = None, *, pool: RenderPool | None = None) -> FastAPI:
    """The ASGI application. Without ``config``, from ``SHEETGEN_SERVE_*`` variables (for
    ``gunicorn -k sheetgen.serve.gunicorn.Worker 'sheetgen.serve:create_app()'``)."""
    config = (config or ServeConfig.from_env()).checked()
    _log_to_stderr()
    # The provider configuration (sheetgen.toml): every render's defaults, checked once.
    rules = load_rules(verification=config.provider.flow)
    config.provider.check_kinds(rules)
    if config.provider.templates is not None:
        from sheetgen.documents.kinds import provider_documents
        from sheetgen.rendering.templating import TemplateSet

        provider_documents(TemplateSet(config.provider.templates).provided, rules.documents)
    sheet_originals = dict(config.provider.originals).get("sheet", 1)
    spec = form_spec(rules)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # accept() failing for lack of file descriptors: one line per burst, not a traceback
        # per attempt (the server's event loop is running now, under any ASGI server).
        install_accept_log(asyncio.get_running_loop())
        workers = pool or RenderPool(config.workers or default_workers(),
                                     timeout=config.timeout)
        workers.start()
        app.state.pool = workers
        app.state.provider = config.provider  # the desk's batches take it too
        app.state.register = None
        if config.register is not None:  # opened (and migrated) before the first request
            from sheetgen.desk import open_register
            from sheetgen.desk.jobs import JobRunner, Jobs

            app.state.register = await asyncio.to_thread(open_register, config.register)
            app.state.jobs = Jobs(app.state.register, workdir=config.jobs_folder())
            runner = JobRunner(app.state.jobs, workers=config.workers or default_workers())
            runner.start()
        # The validator's first call imports and builds the model and the identifier checks
        # (about a second): pay it before the first request.
        await asyncio.to_thread(engine.check, engine.example_body())
        try:
            yield
        finally:
            if app.state.register is not None:
                await asyncio.to_thread(runner.close)
                app.state.register.close()
            workers.close()

    app = FastAPI(title="sheetgen", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None,
                  description="ICP filing check sheets (网站备案信息真实性核验单) from applicant "
                              "JSON: validate, render PDF/DOCX/PNG. Errors are "
                              "`{ok: false, problems: [{path, code, message}]}`. An unknown "
                              "query option is refused (400).")
    # Each route's query options by method, as (path pattern, names), from the OpenAPI
    # description. By the path: the scope's route of a router included in another names its
    # path without the outer prefix.
    allowed_query: dict[str, list[tuple[re.Pattern[str], frozenset[str]]]] = {}

    async def known_query(request: Request) -> None:
        """400 for a query option the route does not take (a typo would otherwise be ignored
        silently: ``?formt=png`` answered with a PDF). Async: it runs on the event loop, so
        the table is filled once, whole, before any request reads it."""
        method = "GET" if request.method == "HEAD" else request.method
        if not allowed_query:
            for path, methods in app.openapi().get("paths", {}).items():
                pattern = re.compile(re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(path)))
                for verb, op in methods.items():
                    allowed_query.setdefault(verb.upper(), []).append((pattern, frozenset(
                        p["name"] for p in op.get("parameters", []) if p.get("in") == "query")))
        allowed = next((names for pattern, names in allowed_query.get(method, ())
                        if pattern.fullmatch(request.url.path)), frozenset())
        unknown = sorted({name for name in request.query_params if name not in allowed})
        if unknown:
            shown = ", ".join(escape_controls(name)[:40] for name in unknown[:10])
            raise ApiError(400, [Problem(f"query.{escape_controls(name)[:40]}",
                                         "unknown_parameter",
                                         f"未知的参数 {shown} / unknown query option(s): "
                                         f"{shown}") for name in unknown[:10]])

    def authorize(request: Request) -> None:
        if config.token is None:
            return
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), config.token.encode()):
            raise ApiError(401, [Problem("", "unauthorized",
                                         "缺少或错误的令牌 / missing or wrong token: send "
                                         "'Authorization: Bearer <token>'")],
                           headers={"www-authenticate": "Bearer"})

    api = APIRouter(prefix="/api/v1", dependencies=[Depends(authorize), Depends(known_query)])
    body_doc: dict[str, Any] = {"requestBody": {"required": True, "content": {
        "application/json": {"schema": {"$ref": "#/components/schemas/Applicant"}}}}}

    def answers(**statuses: str) -> dict[int | str, dict[str, Any]]:
        """OpenAPI responses in the error shape, ``s400="…"`` for 400."""
        return {int(key[1:]): {"description": text, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/Problems"}}}}
            for key, text in statuses.items()}

    common = {"s400": "an unknown or invalid query option", "s401": "no or wrong token"}
    problems_doc = answers(**common, s422="invalid data: every problem with its JSON path",
                           s413="body over the limit", s415="not JSON")

    @api.post("/check", openapi_extra=body_doc, responses=problems_doc,
              summary="Validate one applicant: every problem with its JSON path")
    async def check(request: Request) -> JSONResponse:
        body = await read_json_body(request, config.body_limit)
        problems = await asyncio.to_thread(engine.check, body)
        # Warnings (acceptance rules the sources are not firm on) come in the same list, with
        # ``severity``; only errors make the data invalid.
        if any(p.severity == "error" for p in problems):
            return problems_response(422, problems)
        # A valid record still holding `sheetgen example`'s values: the CLI's warnings too, as
        # problems of severity "warning" (ok stays true), as response=json reports them.
        warnings = await asyncio.to_thread(_example_warnings, body)
        return JSONResponse({"ok": True, "problems": [p.as_dict()
                                                      for p in (*problems, *warnings)]})

    @api.post("/sheets", openapi_extra=body_doc, responses={
        200: {"content": {engine.MEDIA_TYPES[k]: {} for k in ("pdf", "docx", "png", "zip")},
              "description": "the PDF; one DOCX or PNG, or a ZIP of several; with "
                             "response=json, the files (base64) and the fill report"},
        **problems_doc, **answers(
            s413=f"body over the limit, or more than {MAX_PAGES} pages (PNG: "
                 f"{MAX_PNG_PIXELS // _A4_PIXELS} pages) in one request",
            s503="no render worker free in time (Retry-After)",
            s504="the render took longer than the timeout")},
        summary="Render one applicant's documents: the cover, the companion documents and "
                "the check sheets",
        description="What is printed follows the server's provider configuration "
                    "(`sheetgen serve --config FILE`, `SHEETGEN_CONFIG` or ./sheetgen.toml): "
                    "its verification flow (the paper flow prints the check sheets; the "
                    "electronic flow prints the cover and the companion documents, and the "
                    "check sheets only when the configuration says `sheet = true`), its "
                    "templates and its originals per document; `provider` and `copies` given "
                    "here win over it.")
    async def sheets(
        request: Request,
        format: Annotated[str, Query(
            pattern=r"^(pdf|docx|png|pdf,docx|docx,pdf)$",
            description="pdf; docx (one file per sheet and the cover: a ZIP); pdf,docx (both, "
                        "a ZIP, as the CLI's --format pdf,docx); png (a page each: a ZIP when "
                        "several)")] = "pdf",
        cover: Annotated[bool, Query(description="the cover checklist first")] = True,
        qr: Annotated[bool, Query(description="a QR code of the sheet's reference")] = True,
        details: Annotated[bool, Query(
            description="the detailed applicant block (certificate numbers, mobiles, e-mail, "
                        "address) on each sheet, as --details")] = False,
        variant: Annotated[str, Query(description="auto, public or guangdong")] = "auto",
        provider: Annotated[str | None, Query(
            description="接入服务单位, when the data has none (default: the server's provider "
                        "configuration's name)", max_length=100)] = None,
        copies: Annotated[int | None, Query(
            ge=1, le=10, description="each sheet N times (default: the server's provider "
                                     "configuration's [originals] sheet, else 1)")] = None,
        response: Annotated[Literal["file", "json"], Query(
            description="file: the file itself, report in X-Sheetgen-* headers; json: "
                        "{ok, variant, pages, report, files: [{name, media_type, data}]}")
        ] = "file",
    ) -> Response:
        body = await read_json_body(request, config.body_limit)
        _check_pages(body, format=format, cover=cover,
                     copies=copies if copies is not None else sheet_originals)
        kind: engine.Format = ("pdf,docx" if "," in format
                               else "docx" if format == "docx"
                               else "png" if format == "png" else "pdf")
        # The server's provider configuration, under this request's own options.
        job = engine.SheetRequest(
            body, format=kind, cover=cover, qr=qr, variant=variant,
            provider=provider if provider is not None else config.provider.name,
            copies=copies if copies is not None else 1, details=details,
            verification=config.provider.flow,
            templates=str(config.provider.templates) if config.provider.templates else None,
            sheet=True if config.provider.sheet else None,
            originals=tuple(sorted((k, n) for k, n in config.provider.originals
                                   if not (copies is not None and k == "sheet"))))
        try:
            result = await request.app.state.pool.render(job)
        except PoolError as err:
            retry = {"retry-after": str(RETRY_AFTER)} if err.status == 503 else None
            return problems_response(err.status, list(err.failure.problems), retry)
        if isinstance(result, engine.Failure):
            return problems_response(result.status, list(result.problems))
        report = result.report
        if response == "json":
            return JSONResponse({
                "ok": True, "variant": report.get("variant"), "pages": report.get("pages"),
                "report": report,
                "files": [{"name": f.name, "media_type": f.media_type, "size": len(f.data),
                           "data": base64.b64encode(f.data).decode()} for f in result.files]})
        single = result.single()
        headers = {"content-disposition": _content_disposition(single.name),
                   "x-sheetgen-variant": str(report.get("variant")),
                   "x-sheetgen-fit": engine.fit_summary(report)}
        if report.get("pages") is not None:
            headers["x-sheetgen-pages"] = str(report["pages"])
        return Response(single.data, media_type=single.media_type, headers=headers)

    @api.get("/rules/{province}", summary="The rules for a province (sheetgen rules --json)",
             responses=answers(**common, s404="no such province"))
    async def province_rules(province: str) -> JSONResponse:
        found = rules.find_province(province)
        if found is None:
            shown = province.strip()[:20]
            raise ApiError.one(404, "province_unknown",
                               f"未知的省份 {shown}（可写 江西、江西省、赣 或 jiangxi）/ "
                               f"unknown province {shown}", path="province")
        return JSONResponse(rules.facts(found))

    @api.get("/schema", summary="The JSON Schema of one applicant (sheetgen schema)",
             responses=answers(**common))
    async def schema() -> JSONResponse:
        from sheetgen.model import json_schema

        return JSONResponse(json_schema(rules))

    @api.get("/form", summary="The form's fields and choices, generated from the schema",
             responses=answers(**common))
    async def form() -> JSONResponse:
        return JSONResponse(spec)

    @api.get("/example", summary="A valid, fictitious applicant (sheetgen example)",
             responses=answers(**common))
    async def example(province: str = "江西", nature: str = "personal") -> JSONResponse:
        from sheetgen.documents.example import make_example

        try:
            return JSONResponse(make_example(rules, province, nature))
        except UsageError as err:
            raise ApiError.one(400, "usage", err.message) from None

    @api.get("/health", summary="Liveness and the render workers",
             responses=answers(**common))
    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True, "version": __version__,
                             "workers": request.app.state.pool.stats()})

    if config.register is not None:
        from sheetgen.serve.desk import desk_router

        api.include_router(desk_router(ApiError.one, _content_disposition))
    app.include_router(api)

    @app.get("/api/v1/live", dependencies=[Depends(known_query)],
             summary="Liveness for load-balancer probes: no token, `{\"ok\": true}`, nothing "
                     "else", responses=answers(s400="an unknown query option"))
    async def live() -> JSONResponse:
        return JSONResponse({"ok": True})

    def openapi() -> dict[str, Any]:
        """FastAPI's description, with the applicant schema the JSON bodies follow."""
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            from sheetgen.model import json_schema

            document = get_openapi(title=app.title, version=app.version,
                                   description=app.description, routes=app.routes)
            # FastAPI lists a 422 of its own for every route with parameters; a bad parameter
            # is answered 400 here (bad_query), in the error shape, which the routes list.
            for methods in document.get("paths", {}).values():
                for op in methods.values():
                    answer = op.get("responses", {}).get("422", {})
                    if "HTTPValidationError" in json.dumps(answer):
                        del op["responses"]["422"]
            for name in ("HTTPValidationError", "ValidationError"):
                document.get("components", {}).get("schemas", {}).pop(name, None)
            _complete(document, token=config.token is not None)
            applicant = json_schema(rules)
            applicant.pop("$schema", None)
            definitions = {"Applicant": applicant, **applicant.pop("$defs", {}),
                           "Problems": PROBLEMS_SCHEMA}
            text = json.dumps(definitions).replace('"#/$defs/', '"#/components/schemas/')
            document.setdefault("components", {}).setdefault("schemas", {}).update(
                json.loads(text))
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    # --- the form and its files ---------------------------------------------------------------

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text("utf-8"))

    if config.register is not None:
        @app.get("/desk", include_in_schema=False)
        async def desk_page() -> HTMLResponse:
            return HTMLResponse((STATIC / "desk.html").read_text("utf-8"))

    @app.get("/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name in STATIC_FILES:
            return Response((STATIC / name).read_bytes(), media_type=STATIC_FILES[name],
                            headers={"cache-control": "no-cache"})
        if name in FONTS:
            return FileResponse(font_path(FONTS[name]), media_type="font/ttf",
                                headers={"cache-control": "public, max-age=604800"})
        raise ApiError.one(404, "not_found", "没有这个文件 / no such file")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return HTMLResponse(api_docs(app.openapi()))

    # --- errors: always the problems shape, never a traceback ----------------------------------

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return problems_response(exc.status, exc.problems, exc.headers)

    @app.exception_handler(ClientGone)
    async def client_gone(request: Request, exc: ClientGone) -> Response:
        # Nobody reads this answer; the access line says 499 (no traceback, no 500).
        return Response(status_code=CLIENT_CLOSED)
    if config.register is not None:
        from sheetgen.serve.desk import RegisterUnavailable

        @app.exception_handler(RegisterUnavailable)
        async def register_unavailable(request: Request, exc: RegisterUnavailable
                                       ) -> JSONResponse:
            return problems_response(503, exc.problems(), {"retry-after": "5"})

    @app.exception_handler(RequestValidationError)
    async def bad_query(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err.get("loc", ()))
            # pydantic's message names the rule ("Input should be 'pdf', 'docx' or 'png'"),
            # never the value given.
            problems.append(Problem(where, "usage", f"参数无效 / invalid parameter: "
                                                    f"{err.get('msg', 'invalid')}"))
        return problems_response(400, problems)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 404:
            problem = Problem("", "not_found", "没有这个地址 / not found")
        elif exc.status_code == 405:
            problem = Problem("", "method_not_allowed", "不支持的请求方法 / method not allowed")
        else:
            problem = Problem("", "http_error", f"HTTP {exc.status_code}")
        return problems_response(exc.status_code, [problem], dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        logging.getLogger("sheetgen.serve").error("internal error (%s) on %s %s",
                                                  type(exc).__name__, request.method,
                                                  request.url.path)
        return problems_response(500, [Problem("", "internal", "内部错误 / internal error; "
                                                                "this is a bug in sheetgen")])

    if config.cors_origins:
        app.add_middleware(ProblemsCORS, allow_origins=list(config.cors_origins),
                           allow_methods=["GET", "POST"],
                           allow_headers=["Authorization", "Content-Type"],
                           expose_headers=["Content-Disposition", "X-Sheetgen-Variant",
                                           "X-Sheetgen-Pages", "X-Sheetgen-Fit"])
    app.add_middleware(Guard, log=config.access_log)
    return app


#: The loggers of the server; a filter on each escapes control characters in every line.
LOGGERS = ("sheetgen.serve", "sheetgen.serve.access", "sheetgen.serve.http")


def _log_to_stderr() -> None:
    """Access and error lines go to stderr also under a server that configures only its own
    loggers (gunicorn); where logging is set up (the CLI, pytest), records propagate to it."""
    for name in LOGGERS:
        named = logging.getLogger(name)
        if not any(isinstance(f, EscapeControls) for f in named.filters):
            named.addFilter(EscapeControls())
    logger = logging.getLogger("sheetgen.serve")
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    if not logger.handlers and not logging.getLogger().hasHandlers():
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("sheetgen serve: %(message)s"))
        logger.addHandler(handler)
        logger.propagate = False


def api_docs(openapi: dict[str, Any]) -> str:
    """``/docs``: the OpenAPI description as a plain page (no script, nothing from a CDN)."""
    rows = []
    for path, methods in openapi.get("paths", {}).items():
        for method, op in methods.items():
            params = "".join(
                f"<li><code>{html.escape(p['name'])}</code> ({html.escape(p['in'])}) "
                f"{html.escape(p.get('description', '') or '')}</li>"
                for p in op.get("parameters", []))
            answers = "".join(
                f"<li><code>{html.escape(str(code))}</code> "
                f"{html.escape(r.get('description', '') or '')}</li>"
                for code, r in op.get("responses", {}).items())
            body = "<p>Body: one applicant, <code>application/json</code> (see " \
                   "<a href=\"/api/v1/schema\">the schema</a>).</p>" if "requestBody" in op else ""
            rows.append(f"<section><h2><code>{method.upper()} {html.escape(path)}</code></h2>"
                        f"<p>{html.escape(op.get('summary', ''))}</p>{body}"
                        + (f"<h3>Query and path</h3><ul>{params}</ul>" if params else "")
                        + f"<h3>Answers</h3><ul>{answers}</ul></section>")
    title = html.escape(openapi.get("info", {}).get("title", "sheetgen"))
    description = html.escape(openapi.get("info", {}).get("description", ""))
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} "
            f"API</title><link rel=\"stylesheet\" href=\"/static/app.css\"></head>"
            f"<body class=\"docs\"><main><h1>{title} HTTP API</h1><p>{description}</p>"
            f"<p>Machine-readable: <a href=\"/openapi.json\">/openapi.json</a>. The form: "
            f"<a href=\"/\">/</a>.</p>{''.join(rows)}</main></body></html>")

