"""The HTTP API of ``sheetgen serve`` (contract.md §6), through Starlette's TestClient.

The app runs with its real render pool (one warm worker process), as ``sheetgen serve`` runs
it; every answer is checked for its status, its shape and for the filing password.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from typing import Any

import pypdf
import pytest
from fastapi.testclient import TestClient

from sheetgen import __version__
from sheetgen.errors import ExitCode, UsageError
from sheetgen.model import check_document, json_schema
from sheetgen.rules import load_rules
from sheetgen.serve.app import create_app
from sheetgen.serve.config import ServeConfig
from sheetgen.serve.form import LABELS, form_spec, schema_keys
from sheetgen.vocabulary import FilingType, Nature
from tests.applicants import SECRET, edit, personal, unit
from tests.conftest import REPO, run_cli
from tests.pdfs import page_texts
from tests.test_sheets import LONG_DOMAINS

TOKEN = "t0ken-for-the-serve-tests-0123"


def start(config: ServeConfig) -> TestClient:
    return TestClient(create_app(config), raise_server_exceptions=False)


def wait_ready(client: TestClient, headers: dict[str, str] | None = None) -> None:
    """Until every render worker has warmed up (the first compile takes a few seconds)."""
    for _ in range(600):
        workers = client.get("/api/v1/health", headers=headers).json()["workers"]
        if workers["idle"] == workers["workers"]:
            return
        time.sleep(0.1)
    raise AssertionError("render workers never became ready")


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with start(ServeConfig(workers=1)) as test_client:
        wait_ready(test_client)
        yield test_client


def body(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False).encode()


def post(client: TestClient, path: str, data: Any, headers: dict[str, str] | None = None) -> Any:
    return client.post(path, content=body(data),
                       headers={"content-type": "application/json", **(headers or {})})


def assert_problems(response: Any, status: int) -> list[dict[str, str]]:
    """The error shape of contract.md §6, and no secret in it."""
    assert response.status_code == status, response.text
    payload = response.json()
    assert payload["ok"] is False
    assert set(payload) == {"ok", "problems"}
    assert payload["problems"], payload
    for problem in payload["problems"]:
        assert set(problem) == {"path", "code", "message", "severity"}
        assert all(isinstance(v, str) for v in problem.values())
    assert_no_secret(response)
    return list(payload["problems"])


def assert_no_secret(response: Any) -> None:
    assert SECRET.encode() not in response.content
    assert SECRET not in json.dumps(dict(response.headers))


# --- health, schema, rules, form ------------------------------------------------------------

def test_health(client: TestClient) -> None:
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    payload = response.json()
    assert payload["ok"] is True and payload["version"] == __version__
    assert payload["workers"]["workers"] == 1


def test_schema_is_the_cli_schema(client: TestClient) -> None:
    response = client.get("/api/v1/schema")
    assert response.status_code == 200
    assert response.json() == json_schema(load_rules())


def test_rules_of_a_province(client: TestClient) -> None:
    for name in ("江西", "江西省", "赣", "jiangxi"):
        response = client.get(f"/api/v1/rules/{name}")
        assert response.status_code == 200
        assert response.json() == load_rules().facts(load_rules().resolve_province("江西"))
    assert client.get("/api/v1/rules/江西").json()["fingerprint"]["personal"] is True
    assert client.get("/api/v1/rules/广东").json()["variant"]["name"] == "guangdong"
    problems = assert_problems(client.get("/api/v1/rules/火星"), 404)
    assert problems[0]["code"] == "province_unknown"


def test_form_labels_cover_the_schema_exactly() -> None:
    # A key added to the model needs its Chinese label; a label of a removed key must go.
    assert set(LABELS) == schema_keys(load_rules())


def test_form_is_generated_from_the_schema_and_vocabularies(client: TestClient) -> None:
    spec = client.get("/api/v1/form").json()
    rules = load_rules()
    assert spec == json.loads(json.dumps(form_spec(rules)))
    schema = json_schema(rules)
    assert [f["key"] for f in spec["fields"]] == list(schema["properties"])
    assert [n["value"] for n in spec["choices"]["nature"]] == [n.code for n in Nature]
    assert [t["label"] for t in spec["choices"]["filing_type"]] == [t.label for t in FilingType]
    assert {p["value"] for p in spec["choices"]["province"]} == {p.name for p in rules.provinces}
    host_certs = {c["value"] for c in spec["choices"]["host_certificate"]["enterprise"]}
    assert host_certs == {c.name for c in rules.certificates_for(Nature.ENTERPRISE)}

    def walk(fields: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for field in fields:
            yield field
            yield from walk(field.get("fields", []))

    fields = list(walk(spec["fields"]))
    for field in fields:
        if field["kind"] == "select":
            assert field["choices"] in spec["choices"], field
    password = [f for f in fields if f["key"] == "filing_password"]
    assert password and password[0]["kind"] == "password"
    manager = next(f for f in fields if f["key"] == "manager")
    assert manager["from_host"]["certificate.number"] == "host.certificate.number"


# --- check ----------------------------------------------------------------------------------

def test_check_valid(client: TestClient) -> None:
    response = post(client, "/api/v1/check", personal())
    assert response.status_code == 200, response.text
    assert response.json() == {"ok": True, "problems": []}
    assert_no_secret(response)


def test_check_warns_of_sample_values_as_the_cli_does(client: TestClient) -> None:
    """A valid record still holding `sheetgen example`'s values: ok, with the CLI's
    example_data warnings (severity "warning"), as response=json reports them (issue 27.2)."""
    from sheetgen.documents.example import make_example

    sample = make_example(load_rules(), "江西", "personal")
    response = post(client, "/api/v1/check", sample)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["ok"] is True and answer["problems"]
    assert {p["code"] for p in answer["problems"]} == {"example_data"}
    assert {p["severity"] for p in answer["problems"]} == {"warning"}
    assert "host.name" in {p["path"] for p in answer["problems"]}


def test_form_shows_access_fields_for_the_filing_types_that_need_them() -> None:
    fields = form_spec(load_rules())["fields"]
    websites = next(f for f in fields if f["key"] == "websites")["fields"]
    access = next(f for f in fields if f["key"] == "access")["fields"]
    shown = {f["key"]: f.get("filing_types") for f in websites + access}
    assert shown["ips"] == ["new_access"] and shown["username"] == ["new_access"]
    assert shown["filing_number"] == ["new_access", "change"]
    assert shown["name"] is None and shown["provider"] is None


def test_check_reports_every_problem_in_the_cli_words(client: TestClient) -> None:
    data = edit(edit(edit(personal(), "websites[0].manager.mobile", "1380000"),
                     "host.certificate.number", "360426199101010072"),
                "websites[0].domains[0]", "www.example.cn")
    problems = assert_problems(post(client, "/api/v1/check", data), 422)
    cli = check_document(body(data), source="<request>")[0].problems
    assert problems == [p.as_dict() for p in cli]
    assert {p["path"] for p in problems} >= {"websites[0].manager.mobile",
                                              "host.certificate.number", "websites[0].domains[0]"}


def test_check_unknown_keys(client: TestClient) -> None:
    problems = assert_problems(post(client, "/api/v1/check", edit(personal(), "hots", {})), 422)
    assert [(p["path"], p["code"]) for p in problems] == [("hots", "unknown_key")]
    assert "host" in problems[0]["message"]  # did you mean


def test_check_invalid_json(client: TestClient) -> None:
    text = '{"province": "江西",\n "filing_type": "new_filing",\n}'
    response = client.post("/api/v1/check", content=text.encode(),
                           headers={"content-type": "application/json"})
    problems = assert_problems(response, 422)
    assert problems[0]["code"] == "not_json"
    assert "line 3" in problems[0]["message"]


@pytest.mark.parametrize(("content", "code"), [
    (b"[1, 2]", "not_an_object"),
    (b"\xff\xfe{}", "not_utf8"),
    (b'{"a": 1, "a": 2}', "duplicate_key"),
    (b"[" * 100 + b"]" * 100, "too_deep"),
])
def test_check_unreadable_documents(client: TestClient, content: bytes, code: str) -> None:
    response = client.post("/api/v1/check", content=content,
                           headers={"content-type": "application/json"})
    assert assert_problems(response, 422)[0]["code"] == code


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])
def test_wrong_content_type(client: TestClient, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    for path in ("/api/v1/check", "/api/v1/sheets"):
        response = client.post(path, content=body(personal()), headers=headers)
        assert assert_problems(response, 415)[0]["code"] == "unsupported_media_type"


def test_json_content_type_with_charset(client: TestClient) -> None:
    response = client.post("/api/v1/check", content=body(personal()),
                           headers={"content-type": "application/json; charset=utf-8"})
    assert response.status_code == 200


def test_oversized_body(client: TestClient) -> None:
    big = edit(personal(), "host.address", "长" * 400_000)  # 1.2 MB of UTF-8
    for path in ("/api/v1/check", "/api/v1/sheets"):
        problems = assert_problems(post(client, path, big), 413)
        assert problems[0]["code"] == "too_large"


def test_oversized_chunked_body_without_length(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b" " * 50_000

    response = client.post("/api/v1/check", content=chunks(),
                           headers={"content-type": "application/json"})
    assert "content-length" not in response.request.headers
    assert assert_problems(response, 413)[0]["code"] == "too_large"


def test_a_smaller_body_limit() -> None:
    with start(ServeConfig(workers=1, body_limit=2048)) as small:
        assert post(small, "/api/v1/check", personal()).status_code == 200
        big = edit(personal(), "host.address", "长" * 1000)
        assert post(small, "/api/v1/check", big).status_code == 413


# --- sheets ---------------------------------------------------------------------------------

def test_sheets_pdf(client: TestClient) -> None:
    response = post(client, "/api/v1/sheets", personal())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("attachment;")
    assert "QY-2026-000123.pdf" in response.headers["content-disposition"]
    assert response.headers["x-sheetgen-variant"] == "public"
    reader = pypdf.PdfReader(io.BytesIO(response.content))
    assert response.headers["x-sheetgen-pages"] == str(len(reader.pages))
    texts = page_texts(response.content)
    assert "备案材料清单" in texts[0]
    assert "网站备案信息真实性核验单" in texts[-1] and "按手印处" in texts[-1]
    fit = json.loads(response.headers["x-sheetgen-fit"])
    assert fit["fields"] > 10 and fit["shrunk"] == [] and fit["continued"] == []
    assert_no_secret(response)
    assert not any(SECRET in text for text in texts)


def test_sheets_options(client: TestClient) -> None:
    response = post(client, "/api/v1/sheets?cover=false&qr=false&copies=2", personal())
    assert response.status_code == 200, response.text
    texts = page_texts(response.content)
    assert len(texts) == 2 and all("备案材料清单" not in t for t in texts)
    guangdong = post(client, "/api/v1/sheets?cover=false&variant=guangdong", personal())
    assert guangdong.headers["x-sheetgen-variant"] == "guangdong"
    assert "广东" in page_texts(guangdong.content)[0]
    provided = post(client, "/api/v1/sheets?cover=false&provider=某某数据有限公司",
                    edit(personal(), "access.provider", None))
    assert "某某数据有限公司" in page_texts(provided.content)[0]
    address = personal()["host"]["address"][:6]  # printed in the detailed block only
    plain = post(client, "/api/v1/sheets?cover=false", personal())
    detailed = post(client, "/api/v1/sheets?cover=false&details=true", personal())
    assert address not in page_texts(plain.content)[0]
    assert address in page_texts(detailed.content)[0]


def test_sheets_docx(client: TestClient) -> None:
    response = post(client, "/api/v1/sheets?format=docx", personal())
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == ["QY-2026-000123-cover.docx", "QY-2026-000123-sheet1.docx"]
    for name in archive.namelist():
        document = zipfile.ZipFile(io.BytesIO(archive.read(name)))
        xml = b"".join(document.read(part) for part in document.namelist())
        assert SECRET.encode() not in xml
    assert "x-sheetgen-pages" not in response.headers
    single = post(client, "/api/v1/sheets?format=docx&cover=false", personal())
    assert single.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document")
    assert "QY-2026-000123-sheet1.docx" in single.headers["content-disposition"]


def test_sheets_png_and_json_answers(client: TestClient) -> None:
    response = post(client, "/api/v1/sheets?format=png", personal())
    assert response.status_code == 200
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == ["QY-2026-000123-1.png", "QY-2026-000123-2.png"]
    assert all(archive.read(n).startswith(b"\x89PNG") for n in archive.namelist())
    answer = post(client, "/api/v1/sheets?format=png&response=json", personal())
    assert answer.headers["content-type"] == "application/json"
    payload = answer.json()
    assert payload["ok"] is True and payload["pages"] == 2 and payload["variant"] == "public"
    assert [f["name"] for f in payload["files"]] == archive.namelist()
    assert base64.b64decode(payload["files"][0]["data"]).startswith(b"\x89PNG")
    assert payload["report"]["sheets"][1]["fit"]
    assert_no_secret(answer)


def test_sheets_invalid_data(client: TestClient) -> None:
    data = edit(personal(), "websites[0].manager.mobile", "12345")
    problems = assert_problems(post(client, "/api/v1/sheets", data), 422)
    assert ("websites[0].manager.mobile", "mobile_format") in {
        (p["path"], p["code"]) for p in problems}


def test_sheets_does_not_fit(client: TestClient) -> None:
    data = edit(unit(), "websites[0].domains",
                [{"name": d, "registrar": "某某" * 40} for d in LONG_DOMAINS])
    problems = assert_problems(post(client, "/api/v1/sheets?details=true", data), 422)
    assert problems[0]["code"] == "does_not_fit"
    assert problems[0]["path"].startswith("websites[0].domains")


def test_sheets_character_without_font(client: TestClient) -> None:
    problems = assert_problems(post(client, "/api/v1/sheets",
                                    edit(personal(), "host.address", "江西省 \U0001f600 路")), 422)
    assert problems[0]["code"] == "font_missing_char" and problems[0]["path"] == "host.address"


@pytest.mark.parametrize(("query", "where"), [
    ("format=xlsx", "query.format"), ("copies=0", "query.copies"),
    ("cover=maybe", "query.cover"), ("response=xml", "query.response"),
])
def test_sheets_bad_query(client: TestClient, query: str, where: str) -> None:
    problems = assert_problems(post(client, f"/api/v1/sheets?{query}", personal()), 400)
    assert problems[0]["path"] == where and problems[0]["code"] == "usage"


def test_sheets_unknown_variant(client: TestClient) -> None:
    problems = assert_problems(post(client, "/api/v1/sheets?variant=fancy", personal()), 400)
    assert "fancy" in problems[0]["message"]


# --- the password never comes back ----------------------------------------------------------

def test_password_absent_from_every_answer(client: TestClient,
                                           caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="sheetgen.serve")
    bad = edit(personal(), "websites[0].manager.email", "not-an-email")
    cases = [
        ("/api/v1/check", personal()), ("/api/v1/check", bad),
        ("/api/v1/check", edit(personal(), "access.filing_password", SECRET * 10)),
        ("/api/v1/check", edit(personal(), "access.filing_password", [SECRET])),
        ("/api/v1/check", edit(personal(), "access.pasword", SECRET)),
        ("/api/v1/sheets", personal()), ("/api/v1/sheets", bad),
        ("/api/v1/sheets?format=png&response=json", personal()),
        ("/api/v1/sheets?format=docx&response=json", personal()),
        (f"/api/v1/sheets?provider={SECRET}&format=pdf", edit(personal(), "access", {})),
    ]
    for path, data in cases:
        response = post(client, path, data)
        assert response.status_code in (200, 422), (path, response.text)
        assert_no_secret(response)
        if path.endswith("response=json"):
            for item in response.json()["files"]:
                raw = base64.b64decode(item["data"])
                assert SECRET.encode() not in raw
    # The access log has the path only: no body, no query value.
    lines = [r.getMessage() for r in caplog.records if r.name == "sheetgen.serve.access"]
    assert len(lines) >= len(cases)
    assert all(SECRET not in line and "?" not in line and "provider" not in line
               for line in lines)
    assert any(re.fullmatch(r"POST /api/v1/sheets 200 \d+B [\d.]+ms", line) for line in lines)


# --- errors, headers, the page -------------------------------------------------------------

def test_unknown_path_and_method(client: TestClient) -> None:
    assert assert_problems(client.get("/api/v1/nothing"), 404)[0]["code"] == "not_found"
    assert assert_problems(client.get("/api/v1/check"), 405)[0]["code"] == "method_not_allowed"
    assert assert_problems(client.get("/static/../pyproject.toml"), 404)
    assert assert_problems(client.get("/static/nothing.js"), 404)


def test_security_headers_everywhere(client: TestClient) -> None:
    for path in ("/", "/api/v1/health", "/static/app.js", "/static/app.css", "/docs",
                 "/api/v1/nothing"):
        response = client.get(path)
        csp = response.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "server" not in response.headers or "uvicorn" not in response.headers["server"]
    assert client.get("/api/v1/health").headers["cache-control"] == "no-store"
    assert client.get("/").headers["cache-control"] == "no-store"


def test_page_has_no_inline_script_or_style_and_no_external_resource(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and "网站备案信息真实性核验单" in page.text
    for tag in re.findall(r"<script\b[^>]*>(.*?)</script>", page.text, re.S):
        assert tag.strip() == ""
    assert re.findall(r"<script\b[^>]*>", page.text) == [
        '<script src="/static/app.js" defer>']
    assert not re.search(r"\son\w+=|\sstyle=|<style", page.text)
    sources = re.findall(r"(?:src|href)=\"([^\"]+)\"", page.text)
    assert sources and all(s.startswith("/") or s == "data:," for s in sources), sources
    css = client.get("/static/app.css").text
    assert re.findall(r"url\(\"([^\"]+)\"\)", css) == ["/static/serif.ttf",
                                                        "/static/serif-supplement.ttf"]
    script = client.get("/static/app.js").text
    assert "innerHTML" not in script and "eval(" not in script
    assert not re.search(r"https?://", script)


def test_bundled_fonts_are_served(client: TestClient) -> None:
    for name in ("serif.ttf", "serif-supplement.ttf"):
        response = client.get(f"/static/{name}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "font/ttf"
        assert response.content[:4] == b"\x00\x01\x00\x00"  # TrueType outlines


def test_docs_and_openapi(client: TestClient) -> None:
    docs = client.get("/docs")
    assert docs.status_code == 200 and "POST /api/v1/sheets" in docs.text
    assert "<script" not in docs.text
    openapi = client.get("/openapi.json").json()
    assert {"/api/v1/check", "/api/v1/sheets", "/api/v1/health", "/api/v1/schema",
            "/api/v1/rules/{province}"} <= set(openapi["paths"])
    applicant = openapi["components"]["schemas"]["Applicant"]
    assert applicant["properties"]["host"] == {"$ref": "#/components/schemas/Host"}
    assert "Host" in openapi["components"]["schemas"]


def test_cors_off_by_default_and_on_when_configured(client: TestClient) -> None:
    origin = {"origin": "https://provider.example"}
    assert "access-control-allow-origin" not in client.get("/api/v1/health",
                                                           headers=origin).headers
    with start(ServeConfig(workers=1, cors_origins=("https://provider.example",))) as cors:
        allowed = cors.get("/api/v1/health", headers=origin)
        assert allowed.headers["access-control-allow-origin"] == "https://provider.example"
        other = cors.get("/api/v1/health", headers={"origin": "https://elsewhere.example"})
        assert "access-control-allow-origin" not in other.headers


# --- the token -----------------------------------------------------------------------------

def test_token_required_on_every_api_call() -> None:
    with start(ServeConfig(host="0.0.0.0", token=TOKEN, workers=1)) as guarded:
        calls = [("GET", "/api/v1/health"), ("GET", "/api/v1/schema"),
                 ("GET", "/api/v1/rules/江西"), ("GET", "/api/v1/form"),
                 ("POST", "/api/v1/check"), ("POST", "/api/v1/sheets")]
        for method, path in calls:
            for headers in ({}, {"authorization": "Bearer wrong-token-wrong-token"},
                            {"authorization": TOKEN}):
                response = guarded.request(method, path, content=body(personal()),
                                           headers={"content-type": "application/json",
                                                    **headers})
                assert assert_problems(response, 401)[0]["code"] == "unauthorized"
                assert response.headers["www-authenticate"] == "Bearer"
        good = {"authorization": f"Bearer {TOKEN}"}
        assert guarded.get("/api/v1/health", headers=good).status_code == 200
        assert post(guarded, "/api/v1/check", personal(), headers=good).status_code == 200
        assert guarded.get("/").status_code == 200  # the page itself asks for the token
        assert TOKEN not in guarded.get("/").text


def test_public_bind_needs_a_token() -> None:
    with pytest.raises(UsageError, match="needs a token"):
        ServeConfig(host="0.0.0.0").checked()
    with pytest.raises(UsageError, match="16"):
        ServeConfig(host="0.0.0.0", token="short").checked()
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        assert ServeConfig(host=host).checked().host == host
    # Under another server (gunicorn) the bind is unknown: a token, unless said to be local.
    with pytest.raises(UsageError, match="SHEETGEN_SERVE_LOCAL"):
        ServeConfig.from_env({})
    assert ServeConfig.from_env({"SHEETGEN_SERVE_LOCAL": "1"}).token is None
    with pytest.raises(UsageError, match="not a number"):
        ServeConfig.from_env({"SHEETGEN_SERVE_LOCAL": "1", "SHEETGEN_SERVE_WORKERS": "two"})
    config = ServeConfig.from_env({"SHEETGEN_SERVE_TOKEN": TOKEN,
                                   "SHEETGEN_SERVE_WORKERS": "3",
                                   "SHEETGEN_SERVE_CORS": "https://a.example, https://b.example"})
    assert (config.token, config.workers, config.cors_origins) == (
        TOKEN, 3, ("https://a.example", "https://b.example"))


def test_cli_refuses_a_public_bind_without_token() -> None:
    env = {k: v for k, v in os.environ.items() if k != "SHEETGEN_SERVE_TOKEN"}
    result = run_cli("serve", "--host", "0.0.0.0", env=env)
    assert result.code == ExitCode.USAGE
    assert "sheetgen: error:" in result.stderr and "token" in result.stderr


def test_cli_serve_help_is_cheap() -> None:
    result = run_cli("serve", "--help")
    assert result.code == 0 and "--token" in result.text and "SHEETGEN_SERVE_TOKEN" in result.text


# --- the pool: timeouts and crashes ---------------------------------------------------------

def test_a_render_over_the_timeout_is_stopped() -> None:
    with start(ServeConfig(workers=1, timeout=0.005)) as hurried:
        wait_ready(hurried)
        problems = assert_problems(post(hurried, "/api/v1/sheets", personal()), 504)
        assert problems[0]["code"] == "timeout"
        assert hurried.get("/api/v1/health").json()["workers"]["replaced"] == 1
        # Validation does not need a worker and keeps answering.
        assert post(hurried, "/api/v1/check", personal()).status_code == 200


def test_workers_killed_while_idle_are_seen_and_replaced_before_a_request() -> None:
    """Issue 26.6: after SIGKILL of both idle workers, health says so, and the next two
    requests are rendered by new workers (not 500 worker_crashed)."""
    with start(ServeConfig(workers=2)) as fragile:
        wait_ready(fragile)
        pool = fragile.app.state.pool  # type: ignore[attr-defined]
        for pid in pool.pids():
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while fragile.get("/api/v1/health").json()["workers"]["idle"] == 2:
            assert time.monotonic() < deadline, "dead workers still counted as idle"
            time.sleep(0.01)
        for _ in range(2):
            assert post(fragile, "/api/v1/sheets", personal()).status_code == 200
        workers = fragile.get("/api/v1/health").json()["workers"]
        assert workers["replaced"] == 2 and workers["served"] == 2


def test_the_cli_does_not_import_the_web_stack() -> None:
    code = ("import sys, sheetgen.cli; "
            "print([m for m in ('fastapi', 'starlette', 'uvicorn') if m in sys.modules])")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, timeout=60)
    assert proc.stdout.strip() == "[]"


# --- issue 26 and 27: limits, contract gaps, the names of things ------------------------------

def test_live_needs_no_token_and_says_nothing_else() -> None:
    with start(ServeConfig(host="0.0.0.0", token=TOKEN, workers=1)) as guarded:
        response = guarded.get("/api/v1/live")
        assert response.status_code == 200 and response.json() == {"ok": True}
        assert response.headers["cache-control"] == "no-store"
        assert assert_problems(guarded.get("/api/v1/health"), 401)[0]["code"] == "unauthorized"


def test_unknown_query_options_are_refused_by_name(client: TestClient) -> None:
    problems = assert_problems(post(client, "/api/v1/sheets?formt=png&foo=1", personal()), 400)
    assert [(p["path"], p["code"]) for p in problems] == [
        ("query.foo", "unknown_parameter"), ("query.formt", "unknown_parameter")]
    assert "formt" in problems[0]["message"] and "foo" in problems[0]["message"]
    for method, path in (("GET", "/api/v1/health?foo=1"), ("GET", "/api/v1/schema?x="),
                         ("GET", "/api/v1/rules/江西?province=x"), ("POST", "/api/v1/check?a=1"),
                         ("GET", "/api/v1/live?probe=1"), ("GET", "/api/v1/example?nture=unit")):
        response = client.request(method, path, content=body(personal()),
                                  headers={"content-type": "application/json"})
        assert assert_problems(response, 400)[0]["code"] == "unknown_parameter", path
    # What a route takes still works.
    assert client.get("/api/v1/example?province=广东&nature=personal").status_code == 200
    assert post(client, "/api/v1/sheets?cover=false&format=pdf&copies=1",
                personal()).status_code == 200


def test_sheets_pdf_and_docx_at_once_as_the_cli(client: TestClient) -> None:
    for fmt in ("pdf,docx", "docx,pdf"):
        response = post(client, f"/api/v1/sheets?format={fmt}&cover=false", personal())
        assert response.status_code == 200, response.text
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        assert archive.namelist() == ["QY-2026-000123.pdf", "QY-2026-000123-sheet1.docx"]
        assert archive.read("QY-2026-000123.pdf").startswith(b"%PDF")
    for bad in ("pdf,png", "pdf,pdf", "pdf,"):
        problems = assert_problems(post(client, f"/api/v1/sheets?format={bad}", personal()),
                                   400)
        assert problems[0]["path"] == "query.format"


class _BusyPool:
    """A pool whose workers are always busy: what the server answers then."""

    def start(self) -> None:
        pass

    def close(self) -> None:
        pass

    def stats(self) -> dict[str, int]:
        return {"workers": 1, "idle": 0, "served": 0, "replaced": 0}

    async def render(self, request: Any) -> Any:
        from sheetgen.serve.pool import PoolError

        raise PoolError(503, "busy", "every render worker stayed busy")


def test_503_says_when_to_retry() -> None:
    with TestClient(create_app(ServeConfig(workers=1), pool=_BusyPool()),  # type: ignore[arg-type]
                    raise_server_exceptions=False) as busy:
        response = post(busy, "/api/v1/sheets", personal())
        assert assert_problems(response, 503)[0]["code"] == "busy"
        assert int(response.headers["retry-after"]) > 0


#: Issue 26's request body: a valid unit with 10 websites of 10 domains each.
TEN_WEBSITES = json.loads((REPO / "tests" / "fixtures" / "hostile" / "http" /
                           "ten-websites-ten-domains.json").read_text("utf-8"))


def test_a_request_for_too_many_pages_is_refused_before_rendering(client: TestClient) -> None:
    from sheetgen.serve.config import MAX_PAGES, MAX_PNG_PIXELS

    started = time.monotonic()
    # Issue 26's request: 10 websites × 10 domains, ten copies, as PNG (a 22.7 MB ZIP).
    assert check_document(body(TEN_WEBSITES), source="s")[0].ok  # valid: only too big
    problems = assert_problems(post(client, "/api/v1/sheets?format=png&copies=10&details=true",
                                    TEN_WEBSITES), 413)
    assert problems[0]["code"] == "too_many_pages" and "101" in problems[0]["message"]
    png_limit = MAX_PNG_PIXELS // (909 * 1286)
    assert f"limit of {png_limit} per request" in problems[0]["message"]
    problems = assert_problems(post(client, "/api/v1/sheets?copies=5", TEN_WEBSITES), 413)
    assert f"limit of {MAX_PAGES} per request" in problems[0]["message"]
    assert time.monotonic() - started < 5  # nothing was rendered


def test_png_pages_have_the_previews_fixed_resolution() -> None:
    from PIL import Image

    from sheetgen.rendering.pdf.preview import DPI, page_images
    from sheetgen.serve import app

    assert app._PNG_DPI == DPI  # the pixel limit counts pages at this resolution
    writer = pypdf.PdfWriter()
    writer.add_blank_page(595.28, 841.89)  # A4
    pdf = io.BytesIO()
    writer.write(pdf)
    [png] = page_images(pdf.getvalue())
    width, height = Image.open(io.BytesIO(png)).size
    assert abs(width * height - app._A4_PIXELS) < 0.01 * app._A4_PIXELS


def test_a_refused_cors_preflight_answers_in_the_error_shape() -> None:
    with start(ServeConfig(workers=1, cors_origins=("https://provider.example",))) as cors:
        preflight = {"access-control-request-method": "POST",
                     "access-control-request-headers": "content-type"}
        allowed = cors.options("/api/v1/check",
                               headers={"origin": "https://provider.example", **preflight})
        assert allowed.status_code == 200
        refused = cors.options("/api/v1/check",
                               headers={"origin": "https://elsewhere.example", **preflight})
        assert refused.headers["content-type"] == "application/json"
        problems = assert_problems(refused, 400)
        assert problems[0]["code"] == "cors_refused" and "origin" in problems[0]["message"]


def test_openapi_describes_every_error_answer(client: TestClient) -> None:
    openapi = client.get("/openapi.json").json()
    paths = openapi["paths"]
    assert {"400", "401", "413", "415", "422", "503", "504"} <= set(
        paths["/api/v1/sheets"]["post"]["responses"])
    assert "400" in paths["/api/v1/example"]["get"]["responses"]
    assert "404" in paths["/api/v1/rules/{province}"]["get"]["responses"]
    assert "/api/v1/live" in paths
    for path, methods in paths.items():
        for op in methods.values():
            for status, answer in op["responses"].items():
                if status.startswith(("4", "5")):
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema == {"$ref": "#/components/schemas/Problems"}, (path, status)
    schemas = openapi["components"]["schemas"]
    assert schemas["Problems"]["required"] == ["ok", "problems"]
    # FastAPI's own 422 for a bad parameter is not what the server answers (400): not listed.
    assert "HTTPValidationError" not in schemas
    # A required string that the validator refuses empty says so (minLength), also in arrays.
    assert schemas["Host"]["properties"]["name"]["minLength"] == 1
    assert schemas["Person"]["properties"]["mobile"]["minLength"] == 1
    domains = schemas["Website"]["properties"]["domains"]["items"]["anyOf"]
    assert {"type": "string", "minLength": 1} in domains


def test_every_required_string_of_the_schema_refuses_empty_as_the_validator_does() -> None:
    schema = json_schema(load_rules())
    empties = {"host.name": "host.name", "host.address": "host.address",
               "websites[0].manager.name": "websites[0].manager.name",
               "websites[0].domains[0]": "websites[0].domains[0]"}
    for path in empties:
        problems = check_document(body(edit(personal(), path, "")), source="s")[0].problems
        assert any(p.path.startswith(path) for p in problems), path
    assert schema["$defs"]["Host"]["properties"]["address"]["minLength"] == 1


def test_the_cli_and_the_api_call_problems_by_one_name(client: TestClient) -> None:
    data = edit(personal(), "websites[0].manager.mobile", "1380000")
    result = run_cli("check", "-", "--json", stdin=body(data))
    report = json.loads(result.text)
    http = post(client, "/api/v1/check", data).json()
    assert report["problems"] == http["problems"]
    assert report["errors"] == report["problems"]  # the old name, an alias for one release
    failed = json.loads(run_cli("check", "-", "--json", stdin=b"{").text)
    assert failed["problems"] == failed["errors"] and failed["problems"][0]["code"] == "not_json"


def test_control_characters_are_escaped_in_every_log_line(
        client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    from sheetgen.serve.app import escape_controls

    assert escape_controls("a\nb\x1b[2J\u2028\u202e\\") == "a\\x0ab\\x1b[2J\\u2028\\u202e\\\\"
    caplog.set_level(logging.INFO, logger="sheetgen.serve")
    client.get("/api/v1/x%0AGET%20/api/v1/sheets%20200%1b[2J")
    [line] = [r.getMessage() for r in caplog.records if r.name == "sheetgen.serve.access"]
    assert line.startswith("GET /api/v1/x\\x0aGET /api/v1/sheets 200\\x1b[2J 404 ")
    assert "\n" not in line and "\x1b" not in line


def test_serve_limits_are_checked() -> None:
    for bad in ({"header_timeout": 0}, {"body_timeout": -1}, {"max_connections": 2},
                {"header_timeout": float("nan")}):
        with pytest.raises(UsageError):
            ServeConfig(**bad).checked()  # type: ignore[arg-type]
    assert ServeConfig(max_connections=0).checked().max_connections == 0


def test_connection_limits_from_the_environment() -> None:
    config = ServeConfig.from_env({"SHEETGEN_SERVE_LOCAL": "1",
                                   "SHEETGEN_SERVE_HEADER_TIMEOUT": "4",
                                   "SHEETGEN_SERVE_BODY_TIMEOUT": "12.5",
                                   "SHEETGEN_SERVE_MAX_CONNECTIONS": "200"})
    assert (config.header_timeout, config.body_timeout, config.max_connections) == (4, 12.5, 200)
    with pytest.raises(UsageError, match="SHEETGEN_SERVE_BODY_TIMEOUT"):
        ServeConfig.from_env({"SHEETGEN_SERVE_LOCAL": "1", "SHEETGEN_SERVE_BODY_TIMEOUT": "x"})
    with pytest.raises(UsageError, match="--header-timeout"):
        ServeConfig.from_env({"SHEETGEN_SERVE_LOCAL": "1", "SHEETGEN_SERVE_HEADER_TIMEOUT": "0"})


def test_a_body_nested_too_deep_for_the_page_count_is_the_readers_422(client: TestClient) -> None:
    for content in (b"[" * 100_000 + b"]" * 100_000, b'{"websites": ' + b"[" * 100_000):
        response = client.post("/api/v1/sheets", content=content,
                               headers={"content-type": "application/json"})
        assert assert_problems(response, 422)[0]["code"] in ("too_deep", "not_json")
