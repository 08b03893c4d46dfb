"""sheetgen's PDFs checked by others (issue 28): qpdf over every example and a 200-record
bundle, a golden structural dump of each example, each page against a committed picture
(pdfium), and random applicants read back in pypdf's strict mode.

The goldens are in ``tests/golden/pdf/``: ``<example>.qdf`` (qpdf's QDF form of the example's
PDF, long and binary streams by size and digest, see :func:`tests.pdfcheck.structure`) and
``<example>-<page>.png`` (the page at 50 dpi, 16 grey levels). After an intended change to
the PDFs (a template, the writer):

    SHEETGEN_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_pdf_checked.py

then read the diff of the ``.qdf`` files and look at the changed pictures before committing.
"""

from __future__ import annotations

import functools
import io
import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sheetgen.documents.jobs import RenderOptions, applicant_jobs
from sheetgen.pipeline import plan_input
from sheetgen.rendering.pdf.document import PdfBuilder, render_pdf, render_planned
from tests import pdfcheck
from tests.applicants import edit, personal, unit
from tests.conftest import EXAMPLES

GOLDEN = Path(__file__).parent / "golden" / "pdf"
EXAMPLE_NAMES = sorted(path.stem for path in EXAMPLES.glob("*.json"))
UPDATE = bool(os.environ.get("SHEETGEN_UPDATE_GOLDEN"))


@pytest.fixture(autouse=True)
def _no_date(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)  # goldens carry no date
    yield


@functools.cache
def example_pdf(name: str, pdfa: bool = False) -> bytes:
    """What ``sheetgen fill examples/NAME.json [--pdfa]`` writes."""
    data = (EXAMPLES / f"{name}.json").read_bytes()
    return render_pdf(plan_input(data, source=f"{name}.json"), RenderOptions(pdfa=pdfa)).pdf


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_qpdf_checks_every_example(name: str) -> None:
    pdfcheck.check(example_pdf(name))
    pdfcheck.check(example_pdf(name, pdfa=True))


def test_qpdf_checks_a_200_record_bundle() -> None:
    plans = [plan_input((EXAMPLES / f"{name}.json").read_bytes(), source=name)
             for name in EXAMPLE_NAMES]
    builder = PdfBuilder()
    for number in range(200):
        plan = plans[number % len(plans)]
        builder.add_record(applicant_jobs(plan, RenderOptions()), outline=f"记录 {number + 1}")
        if number % 50 == 49:
            builder.flush()  # in chunks, as a batch writes its bundle
    pdf = builder.finish(title="bundle", subject="s", identity=b"bundle")
    assert builder.page_count > 400
    pdfcheck.check(pdf)


def _golden(path: Path, data: bytes) -> bytes:
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    assert path.is_file(), f"{path} missing: run SHEETGEN_UPDATE_GOLDEN=1 pytest {__file__}"
    return path.read_bytes()


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_structure_is_the_golden_one(name: str) -> None:
    dump = pdfcheck.structure(example_pdf(name))
    expected = _golden(GOLDEN / f"{name}.qdf", dump)
    assert dump == expected, (
        f"the PDF of examples/{name}.json changed: compare with qpdf --qdf, and if intended "
        "refresh with SHEETGEN_UPDATE_GOLDEN=1")


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_pages_look_like_the_golden_pictures(name: str) -> None:
    from PIL import Image

    pages = pdfcheck.render(example_pdf(name))
    if UPDATE:
        for old in GOLDEN.glob(f"{name}-*.png"):
            old.unlink()
    for number, page in enumerate(pages, 1):
        path = GOLDEN / f"{name}-{number}.png"
        expected = Image.open(io.BytesIO(_golden(path, pdfcheck.png(page))))
        differing = pdfcheck.differing_pixels(page, expected)
        assert differing <= pdfcheck.PIXELS, f"page {number} of {name}: {differing} pixels"
    assert not (GOLDEN / f"{name}-{len(pages) + 1}.png").exists()  # no page went missing


def test_the_picture_comparison_sees_a_changed_value() -> None:
    from PIL import Image

    data = json.loads((EXAMPLES / "jiangxi-personal.json").read_text("utf-8"))
    changed = edit(data, "websites[0].name", data["websites"][0]["name"] + "网")
    pdf = render_pdf(plan_input(json.dumps(changed, ensure_ascii=False).encode(),
                                source="t")).pdf
    pages = pdfcheck.render(pdf)
    differing = [pdfcheck.differing_pixels(page, Image.open(
        GOLDEN / f"jiangxi-personal-{number}.png")) for number, page in enumerate(pages, 1)]
    assert max(differing) > pdfcheck.PIXELS, differing


# --- random applicants, read back strictly ----------------------------------------------------

#: Characters values are drawn from: common hanzi, letters, digits (what fits the boxes).
HANZI = ("张王李赵刘陈杨黄周吴徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董潘袁蔡蒋余"
         "于杜叶程魏苏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦傅方白邹孟熊秦邱江尹薛闫段雷侯"
         "龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
WORDS = "市区路号街道村镇科技网络信息服务有限公司工作室博客笔记"


def _text(alphabet: str, low: int, high: int) -> st.SearchStrategy[str]:
    return st.text(st.sampled_from(alphabet), min_size=low, max_size=high)


@st.composite
def applicants(draw: st.DrawFn) -> dict[str, object]:
    data = draw(st.sampled_from([personal(), unit()]))
    data = edit(data, "host.address",
                draw(_text(HANZI + WORDS, 4, 24)) + str(draw(st.integers(1, 999))) + "号")
    data = edit(data, "websites[0].name", draw(_text(HANZI + WORDS, 3, 12)))
    data = edit(data, "websites[0].manager.email",
                draw(_text("abcdefghijklmnopqrstuvwxyz", 1, 12)) + "@example.cn")
    if data.get("access") is not None:
        data = edit(data, "access.provider", draw(_text(HANZI + WORDS, 4, 16)))
    return data


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(applicants(), st.booleans())
def test_random_applicants_parse_strictly_and_extract(data: dict[str, object],
                                                      details: bool) -> None:
    from pypdf import PdfReader

    plan = plan_input(json.dumps(data, ensure_ascii=False).encode(), source="t")
    jobs = applicant_jobs(plan, RenderOptions(details=details))
    builder = PdfBuilder()
    planned = builder.plan_record(jobs)
    pdf = render_planned(plan, planned, builder).pdf
    document = PdfReader(io.BytesIO(pdf), strict=True)
    for number in range(1, int(document.trailer["/Size"])):
        document.get_object(number)  # every object parses
    texts = ["".join(page.extract_text().split()) for page in document.pages]
    page = 0
    checked = 0
    for job, fitted in zip(jobs, planned, strict=True):
        values = job.sheet.values()
        kinds = {field.path: field.kind for field in fitted.layout.fields}
        for fit in fitted.fits:  # every value printed whole, at its size or shrunk
            if fit.status in ("fitted", "shrunk") and kinds[fit.field] == "text":
                assert "".join(values[fit.field].split()) in texts[page], fit.field
                checked += 1
        page += len(fitted.pages)
    assert checked >= 10


def test_without_qpdf_the_checks_fail_in_ci_and_are_skipped_elsewhere(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)
    monkeypatch.setenv("SHEETGEN_REQUIRE_QPDF", "1")
    with pytest.raises(pytest.fail.Exception, match="SHEETGEN_REQUIRE_QPDF"):
        pdfcheck.qpdf()
    monkeypatch.delenv("SHEETGEN_REQUIRE_QPDF")
    with pytest.raises(pytest.skip.Exception):
        pdfcheck.qpdf()
