"""The compile-once engine: strict templates, field maps, the layout cache (design.md §2)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from sheetgen.errors import TemplateError
from sheetgen.rendering.fields import sizes, wrap
from sheetgen.rendering.pdf import layout
from sheetgen.rendering.pdf.layout import compile_layout, get_layout
from sheetgen.rendering.templating import (
    Blank,
    BlankValueUsedError,
    TemplateSet,
    blank_context,
    bundled,
)

CONTEXT: dict[str, Any] = {
    "host": {"name": "张三"},
    "flags": {"wide": False},
    "rules": {"label": "单位公章"},
}
PAGE = """<!DOCTYPE html><html><head><style>
@page {{ size: A4; margin: 10mm }}
body {{ margin: 0; font-family: "Sheetgen Serif"; font-size: 10pt }}
.f {{ height: 6mm; width: 60mm }}
</style></head><body>{body}</body></html>"""


def template_set(tmp_path: Path, body: str, name: str = "t.html") -> TemplateSet:
    (tmp_path / name).write_text(PAGE.format(body=body), "utf-8")
    return TemplateSet(tmp_path)


def compile_body(tmp_path: Path, body: str, context: dict[str, Any] | None = None) -> Any:
    return compile_layout(template_set(tmp_path, body), "t.html", context or CONTEXT, key="k")


def test_a_field_box_is_measured_in_points(tmp_path: Path) -> None:
    compiled = compile_body(tmp_path, '<div class="f" data-field="host.name" '
                                      'data-min-size="6.5">{{ host.name }}</div>')
    (field,) = compiled.fields
    assert field.path == "host.name" and field.min_size == 6.5 and field.font_size == 10
    assert field.box.width == pytest.approx(60 / 25.4 * 72, abs=0.1)
    assert field.box.height == pytest.approx(6 / 25.4 * 72, abs=0.1)
    assert field.box.x == pytest.approx(10 / 25.4 * 72, abs=0.1)
    top = 297 - 10 - 6  # mm from the page's bottom edge to the box's bottom edge
    assert field.box.y == pytest.approx(top / 25.4 * 72, abs=0.1)
    assert compiled.page_sizes == ((pytest.approx(595.28, abs=0.1),
                                    pytest.approx(841.89, abs=0.1)),)


@pytest.mark.parametrize(("body", "message"), [
    ('{% if host.name %}x{% endif %}', "tests or measures the value host.name"),
    ("{{ host.name|length }}", "tests or measures the value host.name"),
    ("{{ host.nickname }}", "unknown variable"),
    ("{{ nothing }}", "'nothing' is undefined"),
    ('<div class="f" data-field="host.name">姓名：{{ host.name }}</div>', "holds text of its own"),
    ('<div class="f" data-field="host.name" data-min-size="small"></div>', "not a positive number"),
    ('<div class="f" data-field="host.name" data-overflow="nowhere"></div>', "'nowhere'"),
    ('{% if flags.wide %}', "syntax error"),
    ('<div style="page-break-after: always">1</div><div>2</div>', "on 2 pages"),
    ('<img src="https://example.com/x.png">', "may only load bundled files"),
    ('<img src="file:///etc/passwd">', "may only load bundled files"),
    ('<div style="colour: red">x</div>', "colour"),
    ("{{ 1 / 0 }}", "ZeroDivisionError: division by zero"),  # not a bug of sheetgen (exit 1)
    ('{{ "x" + host.name }}', "TypeError"),
])
def test_template_mistakes_are_template_errors(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(TemplateError) as caught:
        compile_body(tmp_path, body)
    assert message in caught.value.message
    assert caught.value.exit_code == 5


def test_flags_and_rules_may_steer_structure(tmp_path: Path) -> None:
    body = ('{% if flags.wide %}<div class="f" data-field="host.name"></div>{% endif %}'
            '<p>{{ rules.label }}</p>')
    assert compile_body(tmp_path, body).fields == ()
    wide = {**CONTEXT, "flags": {"wide": True}}
    assert len(compile_body(tmp_path, body, wide).fields) == 1


def test_blank_values_print_nothing_and_refuse_inspection() -> None:
    blanked = blank_context(CONTEXT, frozenset({"flags", "rules"}))
    value = blanked["host"]["name"]
    assert isinstance(value, Blank) and str(value) == ""
    assert blanked["flags"] == CONTEXT["flags"] and blanked["rules"] == CONTEXT["rules"]
    with pytest.raises(BlankValueUsedError, match=r"host\.name"):
        bool(value)


def test_layouts_are_cached_in_process_and_on_disk(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SHEETGEN_CACHE_DIR", str(tmp_path / "cache"))
    (tmp_path / "t").mkdir()
    templates = template_set(tmp_path / "t", '<div class="f" data-field="host.name"></div>')
    first = get_layout(templates, "t.html", CONTEXT)
    assert get_layout(templates, "t.html", CONTEXT) is first  # in-process
    stored = sorted(p.suffix for p in (tmp_path / "cache").iterdir())
    assert stored == [".json", ".lock", ".pdf"]  # the lock lets processes share a compile
    layout._cache.clear()
    compiled: list[str] = []
    real = layout.compile_layout
    monkeypatch.setattr(layout, "compile_layout",
                        lambda *a, **k: compiled.append("x") or real(*a, **k))
    again = get_layout(templates, "t.html", CONTEXT)
    assert compiled == [] and again == first  # from disk, identical
    # A damaged entry is compiled again, not trusted.
    layout._cache.clear()
    (tmp_path / "cache" / f"{first.key}.pdf").write_bytes(b"%PDF-garbage")
    assert get_layout(templates, "t.html", CONTEXT) == first and compiled == ["x"]


def test_a_layout_knows_its_bundled_fonts_from_compile_time(tmp_path: Path) -> None:
    import dataclasses

    from sheetgen.rendering.pdf import compose
    from sheetgen.rendering.pdf.layout import BackgroundFonts, identify_fonts

    (tmp_path / "t").mkdir()
    templates = template_set(tmp_path / "t", '<div class="f" data-field="host.name">'
                                             '</div><p>网站备案</p>')
    compiled = compile_layout(templates, "t.html", CONTEXT, key="k")
    assert compiled.fonts is not None and compiled.fonts.current()
    ((role, glyphs),) = compiled.fonts.programs.values()
    assert role == "body" and len(glyphs) >= 5  # .notdef and the four hanzi at least
    assert len(compiled.fonts.descriptors) == len(compiled.fonts.cid_fonts) == 1
    assert BackgroundFonts.from_json(compiled.fonts.as_json()) == compiled.fonts
    assert BackgroundFonts.from_json({"faces": "x"}) is None
    # Checked against another build of the font file: recognised again when composing.
    stale = dataclasses.replace(compiled.fonts, faces={"body": compiled.fonts.faces["body"] ^ 1},
                                programs={})
    assert not stale.current()
    relaid = dataclasses.replace(compiled, key="k-stale", fonts=stale)
    assert compose._background(relaid).fonts == identify_fonts(compiled.background)
    assert compose._background(relaid).fonts.programs == compiled.fonts.programs


def test_the_cache_key_follows_templates_and_static_context(tmp_path: Path) -> None:
    templates = template_set(tmp_path, "")
    key = layout.layout_key(templates, "t.html", CONTEXT)
    assert layout.layout_key(templates, "t.html", {**CONTEXT, "host": {"name": "李四"}}) == key
    assert layout.layout_key(templates, "t.html", {**CONTEXT, "flags": {"wide": True}}) != key
    assert layout.layout_key(templates, "t.html", {**CONTEXT, "rules": {"label": "x"}}) != key
    copy = tmp_path / "copy"
    shutil.copytree(tmp_path, copy, ignore=shutil.ignore_patterns("copy"))
    (copy / "t.html").write_text(PAGE.format(body="<p>changed</p>"), "utf-8")
    assert layout.layout_key(TemplateSet(copy), "t.html", CONTEXT) != key


def test_the_bundled_sheet_declares_its_fields() -> None:
    from tests.applicants import personal
    from tests.test_sheets import render

    plan, _ = render(personal())
    from sheetgen.documents.context import sheet_context

    detailed = {"host.certificate_number", "manager.mobile", "manager.email", "host.address"}
    for details in (False, True):
        sheet = sheet_context(plan, plan.sheets[0], details=details)
        compiled = get_layout(bundled(), sheet.template, sheet.context)
        paths = {f.path for f in compiled.fields}
        assert {"host.name", "host.type", "website.domains", "provider.name", "sheet.ref"} <= paths
        # The official form has no detailed block; --details adds it.
        assert (detailed <= paths) is details and (detailed & paths == set()) is not details
        assert set(compiled.regions) == {"remarks"}
        assert paths <= set(sheet.values())  # every box has a value in the context


# --- fitting ------------------------------------------------------------------------------------

def measure(text: str, size: float) -> float:
    return len(text) * size  # one em per character: easy to reason about


def test_sizes_step_down_to_the_minimum() -> None:
    assert sizes(10.5, 7) == [10.5, 10.0, 9.5, 9.0, 8.5, 8.0, 7.5, 7]
    assert sizes(7, 7) == [7]


def test_wrap_breaks_cjk_and_keeps_closing_marks_off_line_starts() -> None:
    lines = wrap("江西省南昌市红谷滩区某某路，一号", 80, 10, measure)
    assert "".join(lines) == "江西省南昌市红谷滩区某某路，一号"
    assert not any(line.startswith("，") for line in lines)
    long_domain = "a" * 120 + ".example.com"
    lines = wrap(long_domain, 200, 10, measure)
    assert "".join(lines) == long_domain and len(lines) > 1


def test_word_split_is_reportlabs_word_split() -> None:
    # The line breaker replaced reportlab's textsplit.wordSplit (90 ms of imports): the same
    # lines and unused widths for CJK, Latin, spaces, closing marks, rare characters.
    import random

    from reportlab.lib.textsplit import wordSplit

    from sheetgen.rendering import fonts
    from sheetgen.rendering.fields import word_split

    from .conftest import reportlab_body

    font = reportlab_body()
    pool = list("江西省南昌市红谷滩区某某路，一号。、）」abcdefghij ABC.-_@0123456789 𠮷（《!?")
    rng = random.Random(5)
    for _ in range(3000):
        text = "".join(rng.choice(pool) for _ in range(rng.randint(1, 60)))
        size, width = rng.choice([6, 7.5, 9, 10.5]), rng.uniform(10, 200)
        expected = [(extra, line) for extra, line in wordSplit(text, [width], font, size)]
        assert word_split(text, width, [fonts.measure(c, size) for c in text]) == expected


def test_a_sheetgen_error_met_while_rendering_keeps_its_own_code(tmp_path: Path) -> None:
    from sheetgen.errors import FontError

    def refuse() -> str:
        raise FontError("no glyph")

    (tmp_path / "t.html").write_text("{{ refuse() }}", "utf-8")
    with pytest.raises(FontError):  # not re-labelled a template's own failure
        TemplateSet(tmp_path).render("t.html", {"refuse": refuse})


def test_no_disk_cache_without_a_usable_home(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHEETGEN_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setattr(Path, "home", classmethod(lambda cls: Path("~")))
    assert layout.cache_dir() is None
    monkeypatch.setenv("XDG_CACHE_HOME", "/var/cache/x")
    assert layout.cache_dir() == Path("/var/cache/x/sheetgen/layouts")
    monkeypatch.setenv("SHEETGEN_CACHE_DIR", "off")
    assert layout.cache_dir() is None
