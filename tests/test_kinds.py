"""Document kinds (issue 22): the registry, kind-naming sheet codes, receive per document, and
a new kind added with one definition, one registry entry and one rules entry."""

from __future__ import annotations

import importlib.util
import io
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pypdfium2 as pdfium
import pytest

from sheetgen.batch import BatchOptions, run_batch
from sheetgen.documents import sheetcode
from sheetgen.documents.forms import Field, Form
from sheetgen.documents.jobs import RenderOptions
from sheetgen.documents.kinds import (
    COVER,
    SHEET,
    DocumentKind,
    kinds,
    letter_context,
    register,
    unregister,
)
from sheetgen.pipeline import Produced, plan_input, produce
from sheetgen.receive import PageResult, receive
from sheetgen.receive.codes import find_codes
from sheetgen.receive.records import group, load_manifest
from sheetgen.rendering.pdf.layout import cached_layout
from sheetgen.rendering.templating import TemplateSet
from sheetgen.resources import rules_file, templates_dir
from sheetgen.rules import Rules, load_rules
from tests.applicants import example, personal, unit
from tests.pdfs import outline_titles, page_sizes, page_texts
from tests.scans import RENDER_DPI, Sheet, ink, scan


def test_the_registry_holds_the_cover_and_the_sheet_in_print_order() -> None:
    names = [kind.name for kind in kinds()]
    assert names.index(COVER.name) < names.index(SHEET.name)
    assert SHEET.code and SHEET.originals and SHEET.per_website
    assert SHEET.boxes == {"signature", "seal", "fingerprint", "date"}
    assert not COVER.code and COVER.switch == "cover" and COVER.max_pages == 2


def test_a_sheet_keeps_its_version_1_code_and_other_kinds_name_theirs() -> None:
    assert sheetcode.sheet_code("QY-1", 0, 2) == "SG1:QY-1:1/2:{layout}"
    payload = sheetcode.complete(sheetcode.sheet_code("QY-1", 0, 1, "letter"), "3fa9c2d10b77")
    assert payload == "SG2:LETTER:QY-1:1/1:3FA9C2D10B"
    code = sheetcode.parse(payload)
    assert code is not None and (code.version, code.kind, code.reference, code.website,
                                 code.count, code.layout) == (2, "letter", "QY-1", 1, 1,
                                                              "3FA9C2D10B")
    old = sheetcode.parse("SG1:QY-1:2/2:3FA9C2D10B")
    assert old is not None and old.kind == "sheet" and old.website == 2
    assert sheetcode.parse("QY-1") is not None  # a reference-only code, older still
    for bad in ("SG2:letter:QY-1:1/1:3FA9C2D10B", "SG2:LETTER:QY-1:2/1:3FA9C2D10B",
                "SG2::QY-1:1/1:3FA9C2D10B", "SG2:LETTER:QY 1:1/1:3FA9C2D10B"):
        assert sheetcode.parse(bad) is None, bad


def _page(kind: str, number: int, count: int, name: str) -> PageResult:
    return PageResult(name, 1, version=2, reference="QY-1", kind=kind, website=number,
                      count=count, layout="0" * 10, signed=True)


def test_originals_are_counted_per_document_not_only_per_website() -> None:
    pages = [_page("sheet", 1, 1, "a"), _page("sheet", 1, 1, "b"), _page("letter", 1, 1, "c")]
    [record] = group(pages, None, originals=2)
    assert not record.complete
    missing = [p for p in record.problems if p["code"] == "missing_originals"]
    assert [(p["website"], p.get("kind"), p.get("number")) for p in missing] == [
        (None, "letter", 1)]
    assert "1 of 2 originals" in missing[0]["message"]
    assert set(record.received) == {1}  # the sheets' view the spreadsheet report prints
    kinds_received = [(r["kind"], r["website"], r["originals"])
                      for r in record.as_dict()["received"]]
    assert kinds_received == [("sheet", 1, 2), ("letter", 1, 1)]
    [complete] = group([*pages, _page("letter", 1, 1, "d")], None, originals=2)
    assert complete.complete, complete.problems


# --- a new kind: one definition, one registry entry, one rules entry --------------------------

REPO = Path(__file__).resolve().parent.parent
#: The definition: a one-page letter with three fields, a signature line, a seal box, a code.
LETTER = Form("网站负责人授权书",
              (Field("授权单位", "host.name"), Field("被授权人", "principal.name"),
               Field("证件号码", "principal.certificate_number")),
              text=("兹授权上述人员作为本单位的网站负责人，办理网站备案的相关事宜。",),
              signature="被授权人签字：", seal="单位公章")
STEM = "letters/authorisation"
#: The registry entry.
KIND = DocumentKind(name="authorisation", title="网站负责人授权书", context=letter_context,
                    template=STEM, order=10, originals=True, code=True,
                    boxes=frozenset({"signature", "seal", "date"}))
#: The rules entry: units only.
RULES_ENTRY = '\n[documents.authorisation]\nwhen = ["unit"]\n'
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "build_docx_templates", REPO / "tools" / "build_docx_templates.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def _template_set(root: Path) -> TemplateSet:
    """The bundled templates with the letter's two, both made from its one definition."""
    shutil.copytree(templates_dir(), root)
    for name, data in _tool().form_templates(STEM, LETTER).items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return TemplateSet(root)


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TemplateSet, Rules]]:
    folder = tmp_path_factory.mktemp("letter")
    templates = _template_set(folder / "templates")
    (folder / "rules.toml").write_text(rules_file().read_text("utf-8") + RULES_ENTRY, "utf-8")
    register(KIND)
    try:
        yield templates, load_rules(folder / "rules.toml")
    finally:
        unregister(KIND.name)


def _produce(data: dict[str, object], templates: TemplateSet, rules: Rules) -> Produced:
    plan = plan_input(json.dumps(data, ensure_ascii=False).encode(), source="t.json",
                      rules=rules)
    return produce(plan, RenderOptions(templates=templates), formats=("pdf", "docx"),
                   stem="out")


def test_a_new_kind_prints_in_the_pdf_the_docx_and_the_bookmarks(
        setup: tuple[TemplateSet, Rules]) -> None:
    templates, rules = setup
    produced = _produce(unit(), templates, rules)
    assert [f.name for f in produced.files] == [
        "out.pdf", "out-cover.docx", "out-authorisation.docx", "out-sheet1.docx"]
    assert produced.pdf is not None
    titles = outline_titles(produced.pdf)
    assert titles[1] == "网站负责人授权书" and titles[0] == "备案材料清单"
    [letter] = [job for job in produced.rendered.jobs if job.template == f"{STEM}.html"] \
        if produced.rendered else []
    assert letter.pages == 1
    assert {fit.path for fit in letter.fits} >= {"host.name", "host.principal.name",
                                                  "host.principal.certificate.number"}
    assert [d["kind"] for d in produced.documents] == ["cover", "authorisation", "sheet"]
    docx = next(f for f in produced.files if f.name == "out-authorisation.docx")
    with zipfile.ZipFile(io.BytesIO(docx.data)) as package:
        body = package.read("word/document.xml").decode()
    host = unit()["host"]
    assert isinstance(host, dict)
    assert host["name"] in body and "被授权人签字" in body and "单位公章" in body
    # The rules entry: a person gets no letter.
    assert "authorisation" not in [d["kind"] for d in _produce(personal(), templates,
                                                                 rules).documents]


def _letter_sheet(pdf: bytes) -> Sheet:
    """The letter's page of ``pdf`` as tests.scans renders a sheet, found by its code."""
    document = pdfium.PdfDocument(pdf)
    try:
        for index in range(len(document)):
            image = document[index].render(scale=RENDER_DPI / 72).to_pil().convert("RGB")
            found = find_codes(image)
            if found and found[0].code is not None and found[0].code.kind == KIND.name:
                code = found[0].code
                assert code.layout is not None
                layout = cached_layout(code.layout)
                assert layout is not None
                return Sheet(code.reference, code.website or 0, image, layout)
    finally:
        document.close()
    raise AssertionError("no page carries the letter's code")


def test_receive_matches_a_scan_of_the_new_kind_and_checks_its_boxes(
        setup: tuple[TemplateSet, Rules], tmp_path: Path) -> None:
    templates, rules = setup
    produced = _produce(unit(), templates, rules)
    assert produced.pdf is not None
    letter = _letter_sheet(produced.pdf)
    assert set(letter.layout.areas) == {"signature", "seal", "date"}
    signed = scan(ink(letter, seed=3), angle=0.6, seed=3)
    signed.save(tmp_path / "signed.png")
    unsealed = scan(ink(letter, seal=False, seed=4), angle=-0.4, seed=4)
    unsealed.save(tmp_path / "unsealed.png")
    receipt = receive([tmp_path / "signed.png", tmp_path / "unsealed.png"],
                      templates=templates, rules=rules)
    first, second = receipt.pages
    for page in (first, second):
        assert page.kind == KIND.name and page.version == 2
        assert page.reference == letter.reference
        assert page.signed is True and page.date_blank is True
        assert page.fingerprint is None  # a box the kind does not declare is never checked
    assert first.seal is True and not first.problems
    assert second.seal is False and [p.code for p in second.problems] == ["no_seal"]
    [record] = receipt.records
    assert [(r["kind"], r["originals"]) for r in record.as_dict()["received"]] == [
        (KIND.name, 2)]
    assert [p["code"] for p in record.problems] == ["no_seal"]
    assert record.problems[0]["kind"] == KIND.name
    assert "网站负责人授权书" in record.problems[0]["message"]


#: A provider's kind, no Python: the same letter defined by its rules entry alone.
PROVIDER_ENTRY = f'''
[documents.authorisation]
when = ["unit"]
title = "网站负责人授权书"
template = "{STEM}"
order = 10
code = true
originals = true
boxes = ["signature", "seal", "date"]
'''


def test_a_kind_the_rules_define_is_in_the_bundle_and_the_manifest(tmp_path: Path) -> None:
    _template_set(tmp_path / "templates")
    rules_path = tmp_path / "rules.toml"
    rules_path.write_text(rules_file().read_text("utf-8") + PROVIDER_ENTRY, "utf-8")
    records = tmp_path / "in.jsonl"
    records.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n"
                               for d in ({**unit(), "ref": "QY-U"},
                                         {**personal(), "ref": "QY-P"})), "utf-8")
    out = tmp_path / "out"
    run_batch([str(records)], BatchOptions(
        outdir=out, jobs=1, formats=("pdf", "docx"), templates=tmp_path / "templates",
        rules=rules_path, bundle=tmp_path / "bundle.pdf", report=tmp_path / "manifest.json"),
        mp_context=multiprocessing.get_context("fork"))
    manifest = json.loads((tmp_path / "manifest.json").read_text("utf-8"))
    by_ref = {r["reference"]: r for r in manifest["records"]}
    assert [(d["kind"], d["code"]) for d in by_ref["QY-U"]["documents"]] == [
        ("cover", False), ("authorisation", True), ("sheet", True)]
    assert "QY-U-authorisation.docx" in [o["path"] for o in by_ref["QY-U"]["outputs"]]
    assert "authorisation" not in [d["kind"] for d in by_ref["QY-P"]["documents"]]
    assert outline_titles((tmp_path / "bundle.pdf").read_bytes()) == [
        "北京某某科技有限公司（QY-U）",
        ["备案材料清单", "网站负责人授权书", "网站 1：某某科技官网"],
        "张三（QY-P）", ["备案材料清单", "网站 1：张三的技术笔记"]]
    # receive --manifest expects the letter back like the sheet: one letter page, one short.
    [expected] = [e for e in load_manifest(tmp_path / "manifest.json")
                  if e.reference == "QY-U"]
    assert expected.documents == {"authorisation": 1, "sheet": 1}
    page = PageResult("a.png", None, version=2, reference="QY-U", kind="authorisation",
                      website=1, count=1, layout="0" * 10, signed=True)
    [record] = [r for r in group([page], [expected]) if r.reference == "QY-U"]
    problems = {(p["code"], p.get("kind"), p["website"]) for p in record.problems}
    assert problems == {("missing_originals", None, 1),
                        ("missing_originals", "authorisation", None)}


def test_every_document_context_key_is_documented_for_template_authors() -> None:
    """templates/README.md lists what a kind's form receives (document_context)."""
    import re

    from sheetgen.documents.context import document_context, flatten

    readme = (REPO / "templates" / "README.md").read_text("utf-8")
    documented = set(re.findall(r"`([a-z_]+(?:\.[a-z_*]+)+)`", readme))
    for data in (unit(), personal()):
        plan = plan_input(json.dumps(data, ensure_ascii=False).encode(), source="t.json")
        context = document_context(plan, "letter", "letters/x.html").context
        keys = {key for key, _ in flatten(context)}
        assert {key for key in keys if key not in documented
                and f"{key.split('.')[0]}.*" not in documented} == set()


def test_receive_can_find_a_letters_layout_it_never_compiled(
        setup: tuple[TemplateSet, Rules]) -> None:
    """A scan of a letter printed elsewhere (no cached layout): the kind's layouts enumerate
    every flag combination, the personal and the unit ones alike."""
    from sheetgen.documents.sheetcode import layout_id
    from sheetgen.receive.layouts import Layouts
    from sheetgen.rendering.pdf.layout import layout_key

    templates, rules = setup
    known = {layout_id(layout_key(templates, template, context))
             for template, context in Layouts(templates, rules)._enumerate()}
    for data in (unit(), example("shanghai-new-access")):
        produced = _produce(data, templates, rules)
        assert produced.pdf is not None
        assert _letter_sheet(produced.pdf).layout.key[:10].upper() in known


def test_a_form_refuses_template_syntax_bad_paths_and_a_second_page() -> None:
    with pytest.raises(ValueError, match="template syntax"):
        Form("{{ host.name }}", ())
    with pytest.raises(ValueError, match="bad field"):
        Form("信", (Field("名称", "host name"),))
    with pytest.raises(ValueError, match="bad condition"):
        Form("信", (), seal="公章", seal_when="unit or personal")
    with pytest.raises(ValueError, match="one A4 page"):
        Form("信", tuple(Field(f"第 {n} 行", "host.name", 20) for n in range(13)))


def test_a_rules_defined_kind_needs_a_title_and_a_template(tmp_path: Path) -> None:
    from sheetgen.errors import RulesError

    path = tmp_path / "rules.toml"
    path.write_text(rules_file().read_text("utf-8")
                    + '\n[documents.letter]\ntemplate = "letters/x"\n', "utf-8")
    with pytest.raises(RulesError):
        load_rules(path)


@pytest.mark.skipif(SOFFICE is None and not os.environ.get("SHEETGEN_REQUIRE_LIBREOFFICE"),
                    reason="LibreOffice (soffice) is not installed")
def test_libreoffice_prints_the_new_kinds_word_file_on_one_a4_page(
        setup: tuple[TemplateSet, Rules], tmp_path: Path) -> None:
    assert SOFFICE is not None, "LibreOffice (soffice) is required here but not installed"
    templates, rules = setup
    docx = next(f for f in _produce(unit(), templates, rules).files
                if f.name == "out-authorisation.docx")
    path = tmp_path / docx.name
    path.write_bytes(docx.data)
    proc = subprocess.run(
        [SOFFICE, "--headless", "--norestore",
         f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
         "--convert-to", "pdf", "--outdir", str(tmp_path), str(path)],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    pdf = path.with_suffix(".pdf").read_bytes()
    assert [(round(w), round(h)) for w, h in page_sizes(pdf)] == [(595, 842)]
    [text] = page_texts(pdf)
    host = unit()["host"]
    assert isinstance(host, dict)
    for printed in (host["name"], "网站负责人授权书", "被授权人签字", "单位公章", "日期"):
        assert printed in text
