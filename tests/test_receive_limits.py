"""What a hostile scan or code cannot make ``sheetgen receive`` do (issue 26.8).

A QR code is printed text anyone can forge: with a manifest, a record's website count is the
manifest's, and a code that disagrees is a problem of its page. A PDF that names one page
20 000 times (``tests/fixtures/hostile/scans``) is read once per page object, a run reads at
most ``--max-pages`` pages, and Ctrl-C reports the pages read so far.
"""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path
from typing import Any

import pytest

import sheetgen.receive
from sheetgen.documents.sheetcode import layout_id
from sheetgen.receive import MAX_PAGES, receive
from sheetgen.receive import scans as scan_files
from tests.conftest import REPO, run_cli
from tests.scans import Sheet, ink, jpeg, rendered_sheets, scan, scanner_pdf
from tests.test_receive import _with_code

HOSTILE = REPO / "tests" / "fixtures" / "hostile" / "scans"


def _maker() -> Any:
    spec = importlib.util.spec_from_file_location("make_hostile_scans", HOSTILE / "make.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def jiangxi() -> list[Sheet]:
    return rendered_sheets("jiangxi-personal")[1]


def _manifest(path: Path, reference: str, websites: int | None) -> Path:
    entry: dict[str, Any] = {"index": 1, "source": "a.jsonl", "ok": True, "reference": reference}
    if websites is not None:
        entry["websites"] = websites
    path.write_text(json.dumps({"ok": True, "records": [entry]}), "utf-8")
    return path


def test_a_forged_website_count_is_a_page_problem_not_998_missing(tmp_path: Path,
                                                                  jiangxi: list[Sheet]) -> None:
    sheet = jiangxi[0]  # a record with one website
    forged = f"SG1:{sheet.reference}:1/999:{layout_id(sheet.layout.key)}"
    pages = [scan(ink(sheet, seed=1), seed=1),
             scan(_with_code(sheet, forged, ink(sheet, seed=2)), seed=2)]
    scans = scanner_pdf(tmp_path / "scans.pdf", [jpeg(p) for p in pages])
    receipt = receive([scans], manifest=_manifest(tmp_path / "m.json", sheet.reference, 1))
    record = receipt.records[0]
    assert record.websites == 1
    assert [p["code"] for p in record.problems] == ["website_count_mismatch"]
    assert [p.code for p in receipt.pages[1].problems] == ["website_count_mismatch"]
    assert "1 of 999, the manifest printed 1" in receipt.pages[1].problems[0].message
    assert receipt.pages[0].problems == []
    # A manifest from before the count was written: the codes' count, as before.
    older = receive([scans], manifest=_manifest(tmp_path / "o.json", sheet.reference, None))
    assert older.records[0].websites == 999


def test_a_batch_manifest_gives_each_printed_record_its_website_count(tmp_path: Path) -> None:
    from tests.applicants import example

    applicants = tmp_path / "a.jsonl"
    applicants.write_text("\n".join(json.dumps(example(n), ensure_ascii=False) for n in (
        "jiangxi-personal", "beijing-unit-two-websites")) + "\n{}\n", "utf-8")
    report = tmp_path / "report.json"
    result = run_cli("batch", str(applicants), "-o", str(tmp_path / "out"), "--jobs", "1",
                     "--report", str(report), "--format", "docx")
    assert result.code == 6, result.stderr  # the empty record fails
    records = json.loads(report.read_text("utf-8"))["records"]
    assert [r.get("websites") for r in records] == [1, 2, None]


def test_one_page_named_20000_times_is_read_once_and_the_run_is_capped(
        monkeypatch: pytest.MonkeyPatch) -> None:
    hostile = HOSTILE / "one-page-20000-times.pdf"
    assert hostile.read_bytes() == _maker().one_page_many_times()  # the fixture is make.py's
    rendered: list[int] = []
    real = scan_files._render_pdf_page
    monkeypatch.setattr(scan_files, "_render_pdf_page",
                        lambda doc, index, dpi: rendered.append(index) or real(doc, index, dpi))
    started = time.perf_counter()
    receipt = receive([hostile])
    assert time.perf_counter() - started < 60
    assert len(receipt.pages) == MAX_PAGES + 1
    assert {tuple(p.code for p in page.problems) for page in receipt.pages[:-1]} == {("no_code",)}
    assert [p.page for p in receipt.pages[:3]] == [1, 2, 3]
    last = receipt.pages[-1]
    assert (last.page, [p.code for p in last.problems]) == (MAX_PAGES + 1, ["page_limit"])
    assert rendered == [0, 0]  # at 200 dpi, then once more at 300 for the code: page 1 only


def test_a_branch_named_again_and_again_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    hostile = HOSTILE / "one-branch-many-times.pdf"
    assert hostile.read_bytes() == _maker().one_branch_many_times()
    rendered: list[int] = []
    real = scan_files._render_pdf_page
    monkeypatch.setattr(scan_files, "_render_pdf_page",
                        lambda doc, index, dpi: rendered.append(index) or real(doc, index, dpi))
    started = time.perf_counter()
    receipt = receive([hostile])  # 125 000 pages
    assert time.perf_counter() - started < 60
    assert len(receipt.pages) == MAX_PAGES + 1 and rendered == [0, 0]
    assert [p.code for p in receipt.pages[-1].problems] == ["page_limit"]


def test_the_page_limit_is_a_flag(tmp_path: Path) -> None:
    hostile = HOSTILE / "one-page-20000-times.pdf"
    started = time.perf_counter()
    result = run_cli("receive", str(hostile), "--max-pages", "20000", "--json")
    assert time.perf_counter() - started < 60
    assert result.code == 6, result.stderr
    assert json.loads(result.text)["summary"]["pages"] == 20000
    small = run_cli("receive", str(hostile), "--max-pages", "3", "--json")
    document = json.loads(small.text)
    assert [[p["code"] for p in page["problems"]] for page in document["pages"]] == [
        ["no_code"], ["no_code"], ["no_code"], ["page_limit"]]
    assert "--max-pages N reads more" in small.stderr
    assert run_cli("receive", str(hostile), "--max-pages", "0").code == 2


def test_blank_pages_are_rendered_once(monkeypatch: pytest.MonkeyPatch) -> None:
    rendered: list[int] = []
    real = scan_files._render_pdf_page
    monkeypatch.setattr(scan_files, "_render_pdf_page",
                        lambda doc, index, dpi: rendered.append(index) or real(doc, index, dpi))
    receipt = receive([HOSTILE / "empty-pages.pdf"])
    assert [p.page for p in receipt.pages] == list(range(1, 51))
    assert all([p.code for p in page.problems] == ["no_code"] for page in receipt.pages)
    assert rendered == [0, 0]


def test_ctrl_c_reports_the_pages_read_so_far(tmp_path: Path, jiangxi: list[Sheet],
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    sheet = jiangxi[0]
    pages = [scan(ink(sheet, seed=i), seed=i) for i in range(4)]
    scans = scanner_pdf(tmp_path / "scans.pdf", [jpeg(p) for p in pages])
    real = sheetgen.receive.check_page
    calls: list[int] = []

    def interrupted_at_the_third(*args: Any) -> Any:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(sheetgen.receive, "check_page", interrupted_at_the_third)
    report = tmp_path / "received.json"
    result = run_cli("receive", str(scans), "--report", str(report))
    assert result.code == 130, result.stderr
    assert "scans.pdf p. 1: " in result.stderr and "scans.pdf p. 2: " in result.stderr
    assert "p. 3" not in result.stderr
    assert "interrupted after 2 pages: 2 matched" in result.stderr
    document = json.loads(report.read_text("utf-8"))
    assert document["interrupted"] is True and document["ok"] is False
    assert [p["page"] for p in document["pages"]] == [1, 2]


def test_ctrl_c_in_a_real_run_lists_and_reports_what_was_read(tmp_path: Path) -> None:
    """SIGINT to ``sheetgen receive`` once it has printed its first page: exit 130, every page
    read so far on stderr and in the report."""
    import signal
    import subprocess
    import sys

    make = _maker()
    count = 200  # distinct pages that each draw a line: each is read in full (no code found)
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Count %d /Kids [%s] >>" % (
                   count, b" ".join(b"%d 0 R" % (3 + 2 * i) for i in range(count)))]
    for i in range(count):
        content = b"1 w %d 100 m 400 %d l S" % (50 + i, 300 + i)
        objects += [b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents %d 0 R >>"
                    % (4 + 2 * i),
                    b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"]
    scans = tmp_path / "long.pdf"
    scans.write_bytes(make.pdf(objects))
    report = tmp_path / "received.json"
    with subprocess.Popen([sys.executable, "-m", "sheetgen", "receive", str(scans),
                           "--report", str(report)], stderr=subprocess.PIPE,
                          stdout=subprocess.DEVNULL, cwd=tmp_path) as proc:
        assert proc.stderr is not None
        try:
            first = proc.stderr.readline().decode()
            assert "long.pdf p. 1: " in first, first
            proc.send_signal(signal.SIGINT)
            rest = proc.stderr.read().decode()
            assert proc.wait(timeout=120) == 130, first + rest
        finally:
            if proc.poll() is None:
                proc.kill()
    document = json.loads(report.read_text("utf-8"))
    read = document["summary"]["pages"]
    assert document["interrupted"] is True and 1 <= read < count
    assert f"sheetgen: interrupted after {read} pages:" in rest
    assert (first + rest).count("long.pdf p. ") == read


def test_identical_frames_of_a_tiff_are_checked_once(tmp_path: Path, jiangxi: list[Sheet],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    page = jpeg(scan(ink(jiangxi[0], seed=4), seed=4))
    other = jpeg(scan(ink(jiangxi[0], seed=5), seed=5))
    tiff = tmp_path / "frames.tif"
    frames = [page] * 10 + [other]
    frames[0].save(tiff, save_all=True, append_images=frames[1:], compression="tiff_deflate")
    real = sheetgen.receive.check_page
    checked: list[int | None] = []
    monkeypatch.setattr(sheetgen.receive, "check_page",
                        lambda scan, layouts: checked.append(scan.page) or real(scan, layouts))
    receipt = receive([tiff])
    assert checked == [1, 11]
    assert [p.page for p in receipt.pages] == list(range(1, 12))
    assert all(p.reference == jiangxi[0].reference and p.signed for p in receipt.pages)
