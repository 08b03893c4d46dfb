"""The DOCX templates converted from the HTML ones (tools/build_docx_templates.py, issue 22):
a change to a converted template's HTML or CSS reaches its DOCX with no code change, and
anything outside the converter's subset fails the build by name instead of being dropped."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

from sheetgen.rendering.docx.document import W_NS, read_package
from sheetgen.resources import templates_dir
from tests.conftest import REPO

W = f"{{{W_NS}}}"


def tool() -> ModuleType:
    if "build_docx_templates" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "build_docx_templates", REPO / "tools" / "build_docx_templates.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["build_docx_templates"] = module
        spec.loader.exec_module(module)
    return sys.modules["build_docx_templates"]


def cover_copy(tmp_path: Path, html: tuple[str, str] | None = None,
               css: tuple[str, str] | None = None) -> Path:
    """A template set with the bundled cover, ``html``/``css``: (old, new) replaced once."""
    (tmp_path / "common").mkdir()
    for name, edit in (("cover.html", html), ("cover.css", css)):
        text = (templates_dir() / "common" / name).read_text(encoding="utf-8")
        if edit is not None:
            assert edit[0] in text, edit[0]
            text = text.replace(edit[0], edit[1], 1)
        (tmp_path / "common" / name).write_text(text, encoding="utf-8")
    return tmp_path


def converted(root: Path) -> tuple[list[str], list[float | None]]:
    """The texts of the converted cover's paragraphs and the exact heights (mm) of its rows."""
    from lxml import etree

    build = tool()
    result = build.convert("common/cover.html", root)
    body = build.w("body", *result.body)
    texts = ["".join(t.text or "" for t in p.iter(W + "t")) for p in body.iter(W + "p")]
    heights = []
    for row in body.iter(W + "tr"):
        height = row.find(f"{W}trPr/{W}trHeight")
        heights.append(None if height is None else int(height.get(W + "val")) * 25.4 / 1440)
    assert etree.tostring(body)  # a well-formed tree
    return texts, heights


def test_the_bundled_cover_is_converted_from_its_html() -> None:
    """The committed cover.docx is the conversion of cover.html (the --check test compares the
    bytes; this says what it holds): the CSS's page, its blocks and the docxtpl tags."""
    texts, _ = converted(templates_dir())
    assert texts[0] == "网站备案材料清单"
    assert "{%p for item in rules.materials %}" in texts
    assert "{%tr if flags.preapproval %}" in texts
    assert "{{ loop.index }}.{{ line }}" in texts  # an <ol> in a loop numbers by the loop
    parts = read_package((templates_dir() / "common" / "cover.docx").read_bytes())
    document = parts["word/document.xml"].decode()
    css = (templates_dir() / "common" / "cover.css").read_text(encoding="utf-8")
    top, right, bottom, left = (float(x) for x in re.search(
        r"@page \{[^}]*margin: ([\d.]+)mm ([\d.]+)mm ([\d.]+)mm ([\d.]+)mm", css).groups())
    margins = re.search(r'<w:pgMar w:top="(\d+)" w:right="(\d+)" w:bottom="(\d+)" '
                        r'w:left="(\d+)"', document).groups()
    assert [int(x) for x in margins] == [round(v * 1440 / 25.4)
                                         for v in (top, right, bottom, left)]
    footer = parts["word/footer1.xml"].decode()
    assert "第 " in footer and " PAGE " in footer and " NUMPAGES " in footer


def test_a_new_section_in_the_html_reaches_the_docx(tmp_path: Path) -> None:
    """A list of documents and a flow line added to cover.html, and a row whose cells depend
    on a flag: converted with no change to the build tool."""
    section = ("<h2>{{ rules.headings.packet }}</h2>\n<ol class=\"packet\">\n"
               "  {%- for d in rules.packet %}\n  <li>《{{ d.title }}》{{ d.count }}</li>\n"
               "  {%- endfor %}\n</ol>\n<p class=\"flow\">提交 → 核验 → 审核</p>\n\n"
               "<h2>{{ rules.headings.materials }}</h2>")
    row = ("<tr>\n    <td class=\"label\">核验方式</td>\n    {%- if flags.provider %}\n"
           "    <td>{{ rules.flow }}</td>\n    <td class=\"label\">接入商</td>\n"
           "    <td><div class=\"f\" data-field=\"cover.provider\">{{ cover.provider }}</div></td>"
           "\n    {%- else %}\n    <td colspan=\"3\">{{ rules.flow }}</td>\n    {%- endif %}\n"
           "  </tr>\n  <tr>\n    <td class=\"label\">主办者性质</td>")
    root = cover_copy(tmp_path, ("<h2>{{ rules.headings.materials }}</h2>", section))
    html = (root / "common" / "cover.html").read_text(encoding="utf-8")
    (root / "common" / "cover.html").write_text(
        html.replace("<tr>\n    <td class=\"label\">主办者性质</td>", row, 1), encoding="utf-8")
    texts, _ = converted(root)
    start = texts.index("{{ rules.headings.packet }}")
    assert texts[start:start + 5] == [
        "{{ rules.headings.packet }}", "{%p for d in rules.packet %}",
        "{{ loop.index }}.《{{ d.title }}》{{ d.count }}", "{%p endfor %}", "提交 → 核验 → 审核"]
    start = texts.index("{%tr if (flags.provider) %}")
    assert texts[start:start + 10] == [
        "{%tr if (flags.provider) %}", "核验方式", "{{ rules.flow }}", "接入商",
        "{{ cover.provider }}", "{%tr endif %}", "{%tr if not (flags.provider) %}", "核验方式",
        "{{ rules.flow }}", "{%tr endif %}"]
    # The rows print data of unknown length beside the value: they grow, as the HTML's do.
    _, heights = converted(root)
    _, bundled = converted(templates_dir())
    assert heights.count(None) == bundled.count(None) + 6  # two rows, four tag rows


def test_a_css_change_reaches_the_docx(tmp_path: Path) -> None:
    """The height of a value's box sets its row's exact height (its padding and rule added)."""
    _, before = converted(templates_dir())
    _, after = converted(cover_copy(tmp_path, css=(".f.sites { height: 12mm; }",
                                                   ".f.sites { height: 20mm; }")))
    changed = [(a, b) for a, b in zip(before, after, strict=True) if a != b]
    assert len(changed) == 1 and changed[0][1] - changed[0][0] == pytest.approx(8, abs=0.05)


@pytest.mark.parametrize(("where", "old", "new", "message"), [
    ("html", "<h1>网站备案材料清单</h1>", "{% macro x() %}{% endmacro %}<h1>x</h1>", "{% macro %}"),
    ("html", "<h1>网站备案材料清单</h1>", "<h1 class=\"{{ rules.as_of }}\">x</h1>",
     "Jinja in the attribute class"),
    ("html", "<h1>网站备案材料清单</h1>", "<h1>x</h1><canvas></canvas>", "<canvas"),
    ("html", "<tr>\n    <td class=\"label\">编号</td>",
     "<tr>{% for x in rules.materials %}<td>x</td>{% endfor %}</tr><tr><td>编号</td>",
     "{% for %} between cells"),
    ("css", "body { margin: 0; }", "body { margin: 0; } h1 { position: absolute; }",
     "position: absolute"),
    ("css", "body { margin: 0; }", "body { margin: 0; float: left; }", "the property float"),
    ("css", "body { margin: 0; }", "body { margin: 0; } h1::after { content: 'x'; }", "::after"),
    ("css", ".intro {", ".intro { display: flex; ", "display: flex"),
    ("css", ".intro {", ".intro { height: 9mm; ", "a width or height on a block"),
    ("css", ".intro {", ".intro { text-decoration: underline; ", "text-decoration"),
])
def test_outside_the_subset_fails_by_name(tmp_path: Path, where: str, old: str, new: str,
                                          message: str) -> None:
    root = cover_copy(tmp_path, (old, new) if where == "html" else None,
                      (old, new) if where == "css" else None)
    with pytest.raises(SystemExit) as failed:
        tool().convert("common/cover.html", root)
    assert message in str(failed.value), str(failed.value)


def test_the_check_names_a_template_that_is_not_the_build(tmp_path: Path) -> None:
    shutil.copytree(templates_dir(), tmp_path / "templates")
    build = tool()
    built = build.build()
    assert build.differences(built, tmp_path / "templates") == []
    cover = tmp_path / "templates" / "common" / "cover.docx"
    cover.write_bytes(build.package([build.tiny()], "x", build.Page(10, 10, 10, 10)))
    found = build.differences(built, tmp_path / "templates")
    assert found and all(line.startswith("common/cover.docx: ") for line in found)


# --- the check sheets: rendered per combination of flags, converted, merged --------------------

SHEET_FILES = ("common/sheet.html", "common/sheet.css", "public/sheet.html")


def sheet_copy(tmp_path: Path, css: tuple[str, str] | None = None) -> Path:
    """A template set with the bundled public sheet, ``css``: (old, new) replaced once."""
    for name in SHEET_FILES:
        text = (templates_dir() / name).read_text(encoding="utf-8")
        if css is not None and name.endswith(".css"):
            assert css[0] in text, css[0]
            text = text.replace(css[0], css[1], 1)
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def sheet_xml(root: Path, uses: set[tuple[bool, bool]]) -> str:
    from lxml import etree

    result = tool().convert_sheet("public/sheet.html", root, uses)
    body = etree.Element(W + "body", nsmap={"w": W_NS})
    body.extend(result.body)
    return etree.tostring(body, encoding="unicode")


def texts_of(xml: str) -> list[str]:
    return ["".join(re.findall(r"<w:t[^>]*>([^<]*)</w:t>", p))
            for p in re.findall(r"<w:p>.*?</w:p>|<w:p .*?</w:p>", xml, re.S)]


def test_the_bundled_sheet_is_converted_from_its_html() -> None:
    """Its rows under conditions on the flags that tell the renderings apart (the fewest),
    its values and regions for docxtpl, its dashed boxes as the seal and fingerprint marks."""
    xml = sheet_xml(templates_dir(), {(False, False), (True, False)})
    texts = texts_of(xml)
    # The principal's row: the detailed block of a unit only.
    start = texts.index("{%tr if flags.details and flags.unit %}")
    assert texts[start + 1:start + 5] == ["主体负责人", "{{ principal.name }}", "负责人手机",
                                          "{{ principal.mobile }}"]
    assert "{%tr if flags.landline_check %}" in texts and "{%tr if flags.qr %}" in texts
    assert "{{ sheet.code }}{# kind=qr #}" in texts  # the PDF's code, as its .qr box
    assert "{{ website.domains }}{# overflow=remarks overflow-caption=网站域名（续）： #}" \
        in texts
    assert "{# region=remarks #}" in texts
    # The foot's text differs for a unit: a paragraph under each condition.
    assert "{%p if flags.unit %}" in texts and "{%p if not flags.unit %}" in texts
    assert re.findall(r'<a:prstGeom prst="(\w+)"', xml).count("rect") == 1  # 按手印处
    assert "日期：　　　　年　　月　　日" in texts  # ideographic spaces kept, as the HTML's


def test_a_sheet_css_change_reaches_its_docx(tmp_path: Path) -> None:
    """The seal's size in sheet.css is the mark's; a height of the official form's domains
    box, its row's."""
    def seal(xml: str) -> float:
        shape = next(s for s in re.findall(r"<wp:inline.*?</wp:inline>", xml, re.S)
                     if 'prst="ellipse"' in s and "单位公章" not in s)
        return int(re.search(r'<wp:extent cx="(\d+)"', shape).group(1)) / 36000

    def heights(xml: str) -> list[float]:
        return [int(h) * 25.4 / 1440 for h in re.findall(r'<w:trHeight w:val="(\d+)"', xml)]

    unit = {(True, False)}
    before = sheet_xml(templates_dir(), unit)
    after = sheet_xml(sheet_copy(tmp_path, (
        ".promise .seal { right: 4mm; top: 16mm; width: 28mm; height: 28mm;",
        ".promise .seal { right: 4mm; top: 16mm; width: 24mm; height: 24mm;")), unit)
    assert seal(before) == pytest.approx(28) and seal(after) == pytest.approx(24)
    shutil.rmtree(tmp_path / "common")
    after = sheet_xml(sheet_copy(tmp_path, ("body.official { --domains: 42mm;",
                                            "body.official { --domains: 40mm;")), unit)
    gone = sorted(set(heights(before)) - set(heights(after)))
    new = sorted(set(heights(after)) - set(heights(before)))
    assert len(gone) == len(new) == 1 and new[0] == pytest.approx(gone[0] - 2, abs=0.05)


def test_boxes_placed_over_each_other_fail_by_name(tmp_path: Path) -> None:
    root = sheet_copy(tmp_path, (".promise .date { position: absolute; left: 2.5mm; bottom: 2.5mm;",
                                 ".promise .date { position: absolute; left: 2.5mm; top: 17mm;"))
    with pytest.raises(SystemExit, match="boxes placed over each other"):
        tool().convert_sheet("public/sheet.html", root, {(True, False)})


def test_a_condition_names_the_fewest_flags() -> None:
    build = tool()
    combinations = [{"a": a, "b": b, "c": c} for a in (False, True) for b in (False, True)
                    for c in (False, True)]
    members = {i for i, c in enumerate(combinations) if c["a"] and not c["c"]}
    assert build.flag_condition(members, combinations, ["a", "b", "c"]) == \
        "flags.a and not flags.c"
    members = {i for i, c in enumerate(combinations) if not (c["b"] and c["c"])}
    assert build.flag_condition(members, combinations, ["a", "b", "c"]) == \
        "not (flags.b and flags.c)"
    assert build.flag_condition(set(range(8)), combinations, ["a", "b", "c"]) is None


def test_a_rendering_taller_than_its_page_fails_naming_its_flags(tmp_path: Path) -> None:
    """Every combination of flags is laid out: the official form's remarks grown by 60 mm
    overflow the page of the official (not --details) renderings only."""
    root = sheet_copy(tmp_path, ("body.official { --domains: 42mm; --promise: 54mm; "
                                 "--remarks: 64mm; }",
                                 "body.official { --domains: 42mm; --promise: 54mm; "
                                 "--remarks: 124mm; }"))
    with pytest.raises(SystemExit) as failed:
        tool().convert_sheet("public/sheet.html", root, {(True, False)})
    message = str(failed.value)
    assert "public/sheet.html (" in message and "mm tall; one A4 page holds" in message
    assert "details" not in message.split("(")[1].split(")")[0]


def test_each_combination_of_flags_prints_its_own_rendering() -> None:
    """The merge: evaluating the merged template's conditions for a combination of flags
    keeps exactly the rows and paragraphs of that combination's own conversion."""
    import jinja2
    from lxml import etree

    build = tool()
    name, uses = "guangdong/personal.html", {(False, True)}
    merged = build.convert_sheet(name, templates_dir(), uses)
    env = jinja2.Environment()

    def shown(row_or_p: etree._Element) -> tuple[str, str | None]:
        height = row_or_p.find(f"{W}trPr/{W}trHeight")
        texts = "|".join("".join(t.text or "" for t in c.iter(W + "t"))
                         for c in (row_or_p.iterfind(W + "tc") if row_or_p.tag == W + "tr"
                                   else [row_or_p]))
        return texts, None if height is None else height.get(W + "val")

    def selected(body: list[etree._Element], flags: dict[str, bool]) -> list[tuple[str, ...]]:
        out: list[tuple[str, ...]] = []
        held: list[bool] = []
        items = [r for e in body for r in (e.iterfind(W + "tr") if e.tag == W + "tbl"
                                           else [e])]
        for item in items:
            text, height = shown(item)
            tag = re.fullmatch(r"\{%(?:tr|p) (if (.*)|endif) %\}", text.split("|")[0])
            if tag and tag.group(2) is not None:
                held.append(bool(env.compile_expression(tag.group(2))(flags=flags)))
            elif tag:
                held.pop()
            elif all(held) and text.strip("|"):
                out.append((text, height or ""))
        return out

    read: set[str] = set()
    build.render_sheet(name, build.flag_combinations(set(), uses)[0], read)
    combinations = build.flag_combinations(
        {"details", "fingerprint", "landline", "landline_check", "preapproval", "qr",
         "unit", "seal", "no_seal", "commitment"}, uses)
    assert len(combinations) == 32
    for flags in combinations:
        pieces, _ = build.sheet_pieces(name, build.render_sheet(name, flags, set()),
                                       templates_dir())
        own: list[etree._Element] = []
        for piece in pieces:
            if piece.rows is None:
                own.append(piece.element)
            else:
                own += list(build.table(piece.rows).iterfind(W + "tr"))
        expected = [(t, h or "") for t, h in map(shown, own) if t.strip("|")]
        assert selected(merged.body, flags) == expected, flags


def test_a_sheet_structure_on_a_flag_that_is_not_boolean_fails_by_name(tmp_path: Path) -> None:
    root = sheet_copy(tmp_path)
    html = root / "common" / "sheet.html"
    text = html.read_text(encoding="utf-8")
    html.write_text(text.replace('<div class="sheet-head">',
                                 '{% if flags.variant == "public" %}{% endif %}'
                                 '<div class="sheet-head">', 1), encoding="utf-8")
    with pytest.raises(SystemExit, match=r"flags\.variant"):
        tool().convert_sheet("public/sheet.html", root, {(True, False)})


def test_a_forms_docx_is_converted_from_its_html() -> None:
    """A Form's DOCX is its generated HTML converted as a sheet's: its conditional seal and
    fingerprint boxes as marks under the flags they need, its values in fitted cells."""
    from sheetgen.documents.forms import Field, Form

    form = Form("承诺书", (Field("承诺人", "host.name"),
                          Field("证件号码", "host.certificate_number")),
                text=("本人承诺所填报的信息真实有效。",), signature="承诺人签字：",
                seal="单位公章", seal_when="unit", fingerprint=True,
                fingerprint_when="commitment")
    built = tool().form_templates("letters/pledge", form)
    assert set(built) == {"letters/pledge.html", "letters/pledge.docx"}
    xml = read_package(built["letters/pledge.docx"])["word/document.xml"].decode()
    texts = texts_of(xml)
    assert "{{ host.name }}" in texts and "{{ document.code }}{# kind=qr #}" in texts
    assert "{%tr if flags.unit %}" in texts and "{%tr if flags.commitment %}" in texts
    assert sorted(re.findall(r'prst="(\w+)"', xml)) == ["ellipse", "rect"]
    assert "本人承诺所填报的信息真实有效。" in texts
