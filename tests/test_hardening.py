"""Hostile input, secrets, reproducible output (issue 8), for the PDF path."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sheetgen.documents.jobs import RenderOptions
from sheetgen.errors import SheetgenError
from sheetgen.pipeline import plan_input
from sheetgen.rendering.pdf.document import render_pdf
from tests.applicants import SECRET, edit, example, personal
from tests.conftest import run_cli
from tests.pdfs import is_a4, page_sizes, page_texts, reader

INJECTIONS = {
    "html": "<b>粗</b><script>alert(1)</script><img src=x onerror=alert(1)>",
    "jinja": "{{ 7*7 }}{% raw %}{{ host.name }}{% endraw %}{# x #}",
    "wordml": "</w:t></w:r><w:r><w:t>注入</w:t>",
    "css": "</style><style>*{display:none}@import url(//example.com/x)",
    "javascript_url": "javascript:alert(document.cookie)",
    "file_url": "file:///etc/passwd",
    "entities": "&lt;&amp;&#x41;&#0;",
}
# Free-text fields, where such strings pass validation and must print literally.
TEXT_FIELDS = ["host.address", "websites[0].name", "access.provider"]


def render(data: dict[str, Any], **options: Any) -> Any:
    plan = plan_input(json.dumps(data, ensure_ascii=False).encode(), source="test")
    return render_pdf(plan, RenderOptions(**options))


@pytest.mark.parametrize("kind", sorted(INJECTIONS))
def test_markup_in_values_prints_literally_and_fetches_nothing(
        kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from weasyprint.urls import URLFetcher

    fetched: list[str] = []
    real_fetch = URLFetcher.fetch
    monkeypatch.setattr(URLFetcher, "fetch",
                        lambda self, url, *a, **k: fetched.append(url) or real_fetch(
                            self, url, *a, **k))
    value = "某某" + INJECTIONS[kind]
    data = personal()
    for path in TEXT_FIELDS:
        data = edit(data, path, value)
    rendered = render(data)
    assert all(is_a4(size) for size in page_sizes(rendered.pdf))
    assert rendered.pages == 2  # cover + one sheet: nothing added or lost
    # Address and website name, verbatim (a space may fall where a line wraps).
    sheet = page_texts(rendered.pdf)[1].replace(" ", "")
    assert sheet.count(value.replace(" ", "")) >= 2
    assert not any("passwd" in url or "example.com" in url for url in fetched)


def test_the_filing_password_is_in_no_output_of_fill(tmp_path: Path) -> None:
    data = edit(example("shanghai-new-access"), "access.filing_password", SECRET)
    payload = json.dumps(data, ensure_ascii=False).encode()
    outputs = []
    for args in (["-o", str(tmp_path / "a.pdf"), "--json"], ["-o", "-"]):
        result = run_cli("fill", "-", *args, stdin=payload)
        assert result.code == 0, result.stderr
        outputs += [result.stdout, result.stderr.encode()]
    outputs.append((tmp_path / "a.pdf").read_bytes())
    # …and none when the record is invalid, whatever is wrong with the password itself.
    for password in (SECRET, [SECRET], {"p": SECRET}, SECRET * 100):
        bad = edit(edit(data, "access.filing_password", password), "host.name", "")
        result = run_cli("fill", "-", "-o", str(tmp_path / "b.pdf"), "--json",
                         stdin=json.dumps(bad).encode())
        assert result.code == 3
        outputs += [result.stdout, result.stderr.encode()]
    for blob in outputs:
        assert SECRET.encode() not in blob
        assert SECRET.encode("utf-16-be") not in blob


def test_same_input_same_bytes(tmp_path: Path) -> None:
    source = str(Path(__file__).parent.parent / "examples" / "beijing-unit-two-websites.json")
    digests = set()
    for n, env in enumerate(({}, {"SHEETGEN_CACHE_DIR": "off"})):
        out = tmp_path / f"{n}.pdf"
        result = run_cli("fill", source, "-o", str(out), env={**_env(), **env})
        assert result.code == 0, result.stderr
        digests.add(hashlib.sha256(out.read_bytes()).hexdigest())
    assert len(digests) == 1
    assert render(example("guangdong-unit")).pdf == render(example("guangdong-unit")).pdf


def test_source_date_epoch_sets_the_dates(tmp_path: Path) -> None:
    env = {**_env(), "SOURCE_DATE_EPOCH": "1767225600"}  # 2026-01-01T00:00:00Z
    out = [tmp_path / "1.pdf", tmp_path / "2.pdf"]
    for path in out:
        assert run_cli("fill", "-", "-o", str(path), env=env,
                       stdin=json.dumps(personal()).encode()).code == 0
    assert out[0].read_bytes() == out[1].read_bytes()
    info = reader(out[0].read_bytes()).metadata
    assert info is not None and info["/CreationDate"] == "D:20260101000000Z"
    bad = run_cli("fill", "-", "-o", str(tmp_path / "3.pdf"), env={**env,
                  "SOURCE_DATE_EPOCH": "yesterday"}, stdin=json.dumps(personal()).encode())
    assert bad.code == 2 and "SOURCE_DATE_EPOCH" in bad.stderr


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "SOURCE_DATE_EPOCH"}


# --- any applicant: one A4 page per website, or a documented failure with a path ----------------

STRING_FIELDS = ["host.name", "host.address", "websites[0].name", "websites[0].manager.name",
                 "websites[0].manager.email", "websites[0].domains[0]", "access.provider", "ref"]
ANY_TEXT = st.text(st.characters(codec="utf-8"), max_size=120)
CJK_TEXT = st.text(st.sampled_from("张王李赵网站备案科技有限公司北京市海淀区路号𠮷䶮ABCxyz-.·（）"),
                   min_size=1, max_size=160)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.lists(st.tuples(st.sampled_from(STRING_FIELDS), st.one_of(ANY_TEXT, CJK_TEXT)),
                min_size=1, max_size=4),
       st.integers(min_value=1, max_value=10))
def test_any_applicant_renders_or_fails_with_a_documented_code(
        edits: list[tuple[str, str]], domains: int) -> None:
    data = personal()
    data = edit(data, "websites[0].domains", [f"d{n}-example.cn" for n in range(domains)])
    data = edit(data, "websites[0].homepage", None)
    for path, value in edits:
        data = edit(data, path, value)
    try:
        rendered = render(data)
    except SheetgenError as err:
        assert err.exit_code in (3, 4, 5)
        assert err.problems and all(p.code for p in err.problems)
        if err.exit_code in (4, 5):
            assert all(p.path for p in err.problems)
        return
    sheets = [job for job in rendered.jobs if job.template != "common/cover.html"]
    assert len(sheets) == 1 and sheets[0].pages == 1
    assert all(is_a4(size) for size in page_sizes(rendered.pdf))
