"""Fonts embedded in the Word files (issue 17): subset, renamed per document, obfuscated as
Word does it, and LibreOffice on a machine without any CJK font prints the same text."""

from __future__ import annotations

import ctypes
import io
import json
import os
import re
import shutil
import struct
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from sheetgen.documents.jobs import RenderOptions
from sheetgen.documents.plan import FilingPlan
from sheetgen.pipeline import plan_input
from sheetgen.rendering.docx import fonts as docx_fonts
from sheetgen.rendering.docx.document import DocxFile, read_package, render_docx, write_package
from sheetgen.rendering.fonts import code_points as font_code_points
from sheetgen.resources import FONT_FILES, fonts_dir
from tests.applicants import edit, example, personal
from tests.conftest import EXAMPLES

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
R = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
TITLE = "网站备案信息真实性核验单"
EXAMPLE_NAMES = sorted(p.stem for p in EXAMPLES.glob("*.json"))


def plan_of(data: dict[str, Any]) -> FilingPlan:
    return plan_input(json.dumps(data, ensure_ascii=False).encode(), source="test")


def embedded(document: bytes) -> dict[str, bytes]:
    """The fonts of a DOCX, de-obfuscated, by the family fontTable.xml gives them."""
    from lxml import etree

    parts = read_package(document)
    rels = etree.fromstring(parts["word/_rels/fontTable.xml.rels"])
    targets = {r.get("Id"): r.get("Target") for r in rels}
    found = {}
    for font in etree.fromstring(parts["word/fontTable.xml"]).iter(W + "font"):
        for embed in font:
            if embed.tag in (W + "embedRegular", W + "embedBold"):
                data = parts["word/" + targets[embed.get(R + "id")]]
                found[font.get(W + "name")] = docx_fonts.obfuscate(data,
                                                                   embed.get(W + "fontKey"))
    return found


def code_points(font: bytes) -> frozenset[int]:
    return font_code_points(font)


def family_name(font: bytes) -> str:
    from fontTools.ttLib import TTFont

    return str(TTFont(io.BytesIO(font))["name"].getDebugName(1))


# --- the font file format --------------------------------------------------------------------

def test_families_are_those_of_the_bundled_fonts() -> None:
    from fontTools.ttLib import TTFont

    for role, (family, bold) in docx_fonts.FAMILIES.items():
        with TTFont(fonts_dir() / FONT_FILES[role], lazy=True) as font:
            assert font["name"].getDebugName(1) == family
            assert bool(font["head"].macStyle & 1) == bold
            assert font["OS/2"].fsType == 0  # installable: every reader embeds and uses it


def test_obfuscation_is_the_ecma_algorithm() -> None:
    key = "{0123ABCD-4567-89EF-0011-223344556677}"
    data = bytes(range(40))
    scrambled = docx_fonts.obfuscate(data, key)
    reversed_key = bytes.fromhex("0123ABCD456789EF0011223344556677")[::-1]
    assert scrambled[:16] == bytes(b ^ k for b, k in zip(data[:16], reversed_key, strict=True))
    assert scrambled[16:32] == bytes(b ^ k for b, k in zip(data[16:32], reversed_key,
                                                            strict=True))
    assert scrambled[32:] == data[32:]
    assert docx_fonts.obfuscate(scrambled, key) == data


def test_font_keys_are_upper_case_guids_derived_from_the_font() -> None:
    key = docx_fonts.font_key(b"font bytes")
    assert re.fullmatch(r"\{[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}\}", key)
    assert key == docx_fonts.font_key(b"font bytes") != docx_fonts.font_key(b"other bytes")


def test_a_subset_is_a_whole_font_with_only_those_characters(tmp_path: Path) -> None:
    from fontTools.ttLib import TTFont

    from sheetgen.rendering.fonts import _check_font_file

    wanted = {ord(c) for c in "熊文斌网站ABC123"}
    data = docx_fonts.subset_font("heading", wanted, "Noto Sans SC QWERTY")
    path = tmp_path / "subset.ttf"
    path.write_bytes(data)
    _check_font_file(path)  # table directory, required tables, whole-file checksum
    assert code_points(data) == wanted
    font = TTFont(path)
    names = {record.nameID: str(record) for record in font["name"].names
             if record.platformID == 3}
    assert names[1] == "Noto Sans SC QWERTY" and names[2] == "Bold"
    assert names[6] == "NotoSansSCQWERTY-Bold"
    assert "Open Font License" in names[13] and names[0].startswith("(c)")  # the licence
    assert 16 not in names and 17 not in names
    assert {"GSUB", "GPOS", "glyf", "cmap"} <= set(font.keys())
    with TTFont(fonts_dir() / FONT_FILES["heading"], lazy=True) as original:
        glyph = original.getBestCmap()[ord("熊")]
        assert font["hmtx"][font.getBestCmap()[ord("熊")]] == original["hmtx"][glyph]


def test_subset_tags_name_the_characters() -> None:
    tag = docx_fonts.subset_tag("body", [1, 2, 3])
    assert re.fullmatch("[A-Z]{6}", tag)
    assert tag == docx_fonts.subset_tag("body", [3, 2, 1])
    assert tag not in (docx_fonts.subset_tag("body", [1, 2]),
                       docx_fonts.subset_tag("heading", [1, 2, 3]))


# --- the package -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def jiangxi() -> list[DocxFile]:
    return render_docx(plan_of(example("jiangxi-personal")))


def test_every_word_file_embeds_what_it_prints(jiangxi: list[DocxFile]) -> None:
    from lxml import etree

    for document in jiangxi:
        parts = read_package(document.data)
        fonts = embedded(document.data)
        # The cover's headings are in the sans face; the sheet prints its headings in the text
        # face, as its HTML does (one font: sheet.css), so its Word file embeds that one only.
        assert {docx_fonts.FAMILIES[f.role][0] for f in document.fonts} == (
            {"Noto Serif SC", "Noto Sans SC"} if document.name == "cover" else {"Noto Serif SC"})
        used = docx_fonts.used_characters(parts)
        for family, font in fonts.items():
            assert family_name(font) == family
            assert {ord(c) for c in used[family]} <= code_points(font)
        # Every run names a family that is embedded (or a supplement no sheet here needs).
        named = {value for name, part in parts.items() if name.endswith(".xml")
                 for element in etree.fromstring(part).iter(W + "rFonts")
                 for value in element.attrib.values()}
        assert named - set(fonts) <= {"Noto Serif SC Supplement"}, named
        assert not ({"Noto Serif SC", "Noto Sans SC"} & named)
        settings = parts["word/settings.xml"].decode()
        assert settings.index("<w:zoom") < settings.index("<w:embedTrueTypeFonts/>") < \
            settings.index("<w:saveSubsetFonts/>") < settings.index("<w:defaultTabStop")
        assert ('<Default Extension="odttf" ContentType="application/vnd.openxmlformats-'
                'officedocument.obfuscatedFont"/>') in parts["[Content_Types].xml"].decode()
        table = parts["word/fontTable.xml"].decode()
        assert bool(re.search(r'<w:embedBold r:id="[^"]+" w:fontKey="\{[0-9A-F-]{36}\}" '
                              r'w:subsetted="1"/>', table)) == (document.name == "cover")
        assert all(part.startswith("word/fonts/") for part in parts
                   if part.endswith(".odttf"))


def test_the_host_name_is_in_the_body_font(jiangxi: list[DocxFile]) -> None:
    sheet = jiangxi[1]
    body = next(f for name, f in embedded(sheet.data).items()
                if name.startswith("Noto Serif SC "))
    assert {ord(c) for c in "熊文斌0123456789"} <= code_points(body)  # the host, page numbers
    # The sheet's title is in the text face too, as its HTML prints it (sheet.css).
    assert {ord(c) for c in TITLE} <= code_points(body)
    cover = jiangxi[0]
    heading = next(f for name, f in embedded(cover.data).items()
                   if name.startswith("Noto Sans SC "))
    assert ord("熊") not in code_points(heading)  # only what headings print


def test_rare_characters_embed_the_supplement() -> None:
    # The website's name is printed in the detailed block (--details).
    files = render_docx(plan_of(edit(personal(), "websites[0].name", "吉𠮷的技术笔记")),
                        RenderOptions(details=True))
    fonts = embedded(files[1].data)
    supplement = next(f for name, f in fonts.items()
                      if name.startswith("Noto Serif SC Supplement "))
    assert code_points(supplement) == {0x20BB7}


def test_different_documents_never_share_a_family_name(jiangxi: list[DocxFile]) -> None:
    cover, sheet = (set(embedded(f.data)) for f in jiangxi)
    assert not cover & sheet
    again = render_docx(plan_of(example("jiangxi-personal")))
    assert [f.data for f in again] == [f.data for f in jiangxi]  # and are reproducible


def test_a_template_without_a_font_table_gets_one() -> None:
    from sheetgen.rendering.templating import bundled

    data = (bundled().root / "common" / "cover.docx").read_bytes()  # both faces
    parts = read_package(data)
    del parts["word/fontTable.xml"]
    parts["word/_rels/document.xml.rels"] = re.sub(
        rb'<Relationship [^>]*fontTable[^>]*/>', b"", parts["word/_rels/document.xml.rels"])
    fonts = docx_fonts.embed_fonts(parts)
    assert [f.role for f in fonts] == ["body", "heading"]
    assert b"fontTable.xml" in parts["word/_rels/document.xml.rels"]
    assert set(embedded(write_package(parts))) == {f.family for f in fonts}


def test_the_size_cost_is_small(jiangxi: list[DocxFile]) -> None:
    # Measured: about 50 KB for a sheet, 80 KB for a cover (200-odd distinct characters,
    # about 240 bytes each, compressed). A regression to whole fonts would be megabytes.
    for document in jiangxi:
        limit = 120_000 if document.name == "cover" else 80_000
        assert len(document.data) < limit, (document.name, len(document.data))


def test_filing_password_stays_out_of_the_fonts() -> None:
    # A character printed nowhere else: the subsets must not reveal it.
    secret = "Pw-龘-NEVER-PRINTED"
    files = render_docx(plan_of(edit(example("shanghai-new-access"),
                                     "access.filing_password", secret)))
    for document in files:
        for font in embedded(document.data).values():
            assert ord("龘") not in code_points(font)


# --- LibreOffice without any CJK font ------------------------------------------------------

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
needs_libreoffice = pytest.mark.skipif(
    SOFFICE is None and not os.environ.get("SHEETGEN_REQUIRE_LIBREOFFICE"),
    reason="LibreOffice (soffice) is not installed: apt-get install libreoffice-writer-nogui "
           "(make test does it when run as root)")
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")


def no_cjk_fontconfig(tmp_path: Path) -> Path:
    """A fontconfig that knows the DejaVu fonts only: no font on it has a single hanzi."""
    config = tmp_path / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        f"  <dir>{DEJAVU}</dir>\n  <cachedir>{tmp_path / 'fc-cache'}</cachedir>\n"
        "</fontconfig>\n", "utf-8")
    return config


def convert(docx: Path, config: Path, scratch: Path) -> Path:
    """``docx`` converted to PDF by its own soffice process with a fresh profile."""
    assert SOFFICE is not None
    profile = scratch / f"profile-{docx.stem}"
    proc = subprocess.run(
        [SOFFICE, "--headless", "--norestore", f"-env:UserInstallation={profile.as_uri()}",
         "--convert-to", "pdf", "--outdir", str(docx.parent), str(docx)],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "FONTCONFIG_FILE": str(config), "HOME": str(scratch)})
    pdf = docx.with_suffix(".pdf")
    assert proc.returncode == 0 and pdf.is_file(), (docx.name, proc.stderr)
    return pdf


def pdf_characters(pdf: Path, png: Path | None = None) -> list[list[tuple[str, str]]]:
    """(character, name of the font it is drawn in) of each page, as pdfium reads them;
    each page also rendered to PNG when ``png`` is given (``png`` with the page number)."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    document = pdfium.PdfDocument(str(pdf))
    pages = []
    for number, page in enumerate(document):
        if png is not None:
            page.render(scale=1).to_pil().save(png.with_name(f"{png.stem}-{number + 1}.png"))
        text = page.get_textpage()
        found = []
        for index in range(text.count_chars()):
            char = chr(raw.FPDFText_GetUnicode(text.raw, index))
            size = raw.FPDFText_GetFontInfo(text.raw, index, None, 0, None)
            name = ctypes.create_string_buffer(size)
            raw.FPDFText_GetFontInfo(text.raw, index, name, size, None)
            found.append((char, name.value.decode("latin-1")))
        pages.append(found)
    document.close()
    return pages


def hanzi_fonts(page: list[tuple[str, str]]) -> dict[str, set[str]]:
    """The fonts each CJK character of a page is drawn in."""
    fonts: dict[str, set[str]] = {}
    for char, name in page:
        if "\u3400" <= char <= "\u9fff" or ord(char) > 0xFFFF:
            fonts.setdefault(char, set()).add(name)
    return fonts


def check_conversion(pdf: Path, document: DocxFile, host_name: str) -> list[str]:
    problems = []
    pages = pdf_characters(pdf, pdf.with_suffix(".png"))
    pngs = sorted(pdf.parent.glob(f"{pdf.stem}-*.png"))
    # A cover's second page may hold only its last lines: the first page must show ink.
    if len(pngs) != len(pages) or not pngs or pngs[0].stat().st_size <= 10_000:
        problems.append(f"{pdf.stem}: pages not rendered to PNG")
    if document.name.startswith("sheet") and len(pages) != 1:
        problems.append(f"{pdf.stem}: {len(pages)} pages, not one")
    if not 1 <= len(pages) <= 2:
        problems.append(f"{pdf.stem}: {len(pages)} pages")
    text = re.sub(r"\s+", "", "".join(c for page in pages for c, _ in page))
    wanted = [host_name, TITLE if document.name.startswith("sheet") else "备案材料清单"]
    problems += [f"{pdf.stem}: {value!r} not in the text" for value in wanted
                 if re.sub(r"\s+", "", value) not in text]
    families = {f.family.replace(" ", "") for f in document.fonts}
    for char, fonts in hanzi_fonts([c for page in pages for c in page]).items():
        # Drawn from a font of the document's own (the PDF names it SUBSET+Family-Style),
        # not a substitute: a substitute without the glyph is the box of the issue.
        if not all(name.split("+")[-1].split("-")[0] in families for name in fonts):
            problems.append(f"{pdf.stem}: {char} drawn in {sorted(fonts)}")
    return problems


@needs_libreoffice
def test_libreoffice_without_cjk_fonts_prints_the_text(tmp_path: Path) -> None:
    # .ci/run sets SHEETGEN_REQUIRE_LIBREOFFICE: there a missing LibreOffice fails the test.
    assert SOFFICE is not None, "LibreOffice (soffice) is required here but not installed"
    assert DEJAVU.is_dir(), "the DejaVu fonts (fonts-dejavu-core) are expected"
    config = no_cjk_fontconfig(tmp_path)
    out = tmp_path / "docx"
    out.mkdir()
    jobs: list[tuple[Path, DocxFile, str]] = []
    for name in EXAMPLE_NAMES:
        data = example(name)
        for document in render_docx(plan_of(data)):
            path = out / f"{name}-{document.name}.docx"
            path.write_bytes(document.data)
            jobs.append((path, document, data["host"]["name"]))
    # One document per soffice process: a process keeps the embedded fonts of the files it
    # opened (test_one_process_keeps_each_documents_fonts_apart checks the renaming for that).
    with ThreadPoolExecutor(max_workers=2) as pool:
        pdfs = list(pool.map(lambda job: convert(job[0], config, tmp_path), jobs))
    problems = [p for pdf, (_, document, host) in zip(pdfs, jobs, strict=True)
                for p in check_conversion(pdf, document, host)]
    assert not problems, "\n".join(problems)


@needs_libreoffice
def test_without_embedded_fonts_the_same_machine_prints_boxes(tmp_path: Path) -> None:
    """The control: the test machine really has no CJK font for LibreOffice to fall back on,
    so what the previous test sees comes from the embedded fonts."""
    assert SOFFICE is not None
    sheet = render_docx(plan_of(example("zhejiang-personal")))[1]
    parts = read_package(sheet.data)
    for name in [n for n in parts if n.endswith(".odttf")]:
        del parts[name]
    parts["word/fontTable.xml"] = re.sub(rb"<w:embed\w+ [^>]*/>", b"",
                                         parts["word/fontTable.xml"])
    path = tmp_path / "bare.docx"
    path.write_bytes(write_package(parts))
    pages = pdf_characters(convert(path, no_cjk_fontconfig(tmp_path), tmp_path))
    fonts = {name for names in hanzi_fonts(pages[0]).values() for name in names}
    assert fonts and not any("Noto" in name for name in fonts), fonts


@needs_libreoffice
def test_one_process_keeps_each_documents_fonts_apart(tmp_path: Path) -> None:
    """A sheet and then a cover (many more characters) in one soffice process: the cover's
    own subset is used, not the sheet's (the families are named per subset)."""
    assert SOFFICE is not None
    files = render_docx(plan_of(example("guangdong-unit")))
    sheet, cover = tmp_path / "a-sheet.docx", tmp_path / "b-cover.docx"
    sheet.write_bytes(files[1].data)
    cover.write_bytes(files[0].data)
    proc = subprocess.run(
        [SOFFICE, "--headless", "--norestore",
         f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
         "--convert-to", "pdf", "--outdir", str(tmp_path), str(sheet), str(cover)],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "FONTCONFIG_FILE": str(no_cjk_fontconfig(tmp_path)),
             "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    problems = check_conversion(cover.with_suffix(".pdf"), files[0],
                                example("guangdong-unit")["host"]["name"])
    assert not problems, "\n".join(problems)


def test_struct_layout_of_a_name_table() -> None:
    records = [(3, 1, 0x409, 1, "Ab".encode("utf-16-be")), (1, 0, 0, 1, b"Ab")]
    table = docx_fonts._name_table(records)
    assert struct.unpack_from(">HHH", table) == (0, 2, 6 + 24)
    assert docx_fonts._name_records(table) == sorted(records)


# --- sheetgen fonts path | install, and doctor --------------------------------------------------

def isolated_env(tmp_path: Path) -> dict[str, str]:
    """A home of its own and a fontconfig whose cache lives in ``tmp_path``: installing the
    fonts in a test touches nothing of the machine's."""
    config = tmp_path / "fonts.conf"
    config.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n'
        f"  <dir>{DEJAVU}</dir>\n  <dir>{tmp_path / 'home/.local/share/fonts'}</dir>\n"
        f"  <cachedir>{tmp_path / 'fc-cache'}</cachedir>\n</fontconfig>\n", "utf-8")
    env = {k: v for k, v in os.environ.items() if k != "XDG_DATA_HOME"}
    return {**env, "HOME": str(tmp_path / "home"), "FONTCONFIG_FILE": str(config),
            "XDG_CACHE_HOME": str(tmp_path / "cache")}


def test_fonts_path_prints_the_folder_of_the_bundled_fonts() -> None:
    from tests.conftest import run_cli

    result = run_cli("fonts", "path")
    assert result.code == 0, result.stderr
    folder = Path(result.text.strip())
    assert folder == fonts_dir().resolve()
    assert all((folder / name).is_file() for name in FONT_FILES.values())
    report = json.loads(run_cli("fonts", "path", "--json").text)
    assert [(f["role"], f["family"]) for f in report["fonts"]] == [
        (role, family) for role, (family, _) in docx_fonts.FAMILIES.items()]


@pytest.mark.skipif(shutil.which("fc-list") is None, reason="fontconfig is not installed")
def test_fonts_install_user_makes_fontconfig_see_them(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    env = isolated_env(tmp_path)
    before = run_cli("doctor", "--json", env=env)
    checks = {c["name"]: c for c in json.loads(before.text)["checks"]}
    assert checks["system-fonts"]["ok"] is False
    assert checks["system-fonts"]["required"] is False  # a warning: doctor still exits 0
    assert "sheetgen fonts install --user" in checks["system-fonts"]["fix"]

    result = run_cli("fonts", "install", "--user", env=env)
    assert result.code == 0, result.stderr
    folder = tmp_path / "home/.local/share/fonts/sheetgen"
    assert Path(result.text.strip()) == folder
    for name in (*FONT_FILES.values(), "OFL.txt"):
        assert (folder / name).read_bytes() == (fonts_dir() / name).read_bytes()
    listed = subprocess.run(["fc-list", ":", "family"], capture_output=True, text=True,
                            env=env, check=True).stdout
    assert "Noto Serif SC Supplement" in listed and "Noto Sans SC" in listed
    after = {c["name"]: c for c in json.loads(run_cli("doctor", "--json", env=env).text)
             ["checks"]}
    assert after["system-fonts"]["ok"] is True

    again = run_cli("fonts", "install", "--user", "--json", env=env)
    report = json.loads(again.text)
    assert again.code == 0 and report["written"] == [] and len(report["unchanged"]) == 4
    assert report["fc_cache"] is True


def test_fonts_install_into_an_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    from tests.conftest import run_cli

    env = isolated_env(tmp_path)
    (tmp_path / "data").write_text("a file where the folder should be", "utf-8")
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    result = run_cli("fonts", "install", "--user", env=env)
    assert result.code == 2, result.stderr
    assert result.stderr.startswith("sheetgen: error: cannot write")
    assert "Traceback" not in result.stderr
    failed = run_cli("fonts", "install", "--user", "--json", env=env)
    assert json.loads(failed.text)["ok"] is False


def test_system_wide_install_goes_to_the_shared_folder(monkeypatch: pytest.MonkeyPatch) -> None:
    from sheetgen.rendering import system_fonts

    monkeypatch.setattr(system_fonts.sys, "platform", "linux")
    assert system_fonts.font_folder(user=False) == Path("/usr/local/share/fonts/sheetgen")
    monkeypatch.setenv("XDG_DATA_HOME", "/x/data")
    assert system_fonts.font_folder(user=True) == Path("/x/data/fonts/sheetgen")
    monkeypatch.setattr(system_fonts.sys, "platform", "darwin")
    assert system_fonts.font_folder(user=True) == Path.home() / "Library" / "Fonts"
    monkeypatch.setattr(system_fonts.sys, "platform", "win32")
    from sheetgen.errors import UsageError

    with pytest.raises(UsageError, match="fonts path"):
        system_fonts.font_folder(user=True)
