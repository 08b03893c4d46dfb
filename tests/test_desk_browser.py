"""The desk page (/desk) in a real browser: a clerk takes a spreadsheet of 30 applicants with
mistakes through upload, the failed rows fixed and uploaded again, printing, the signed scans
back, and the register export — in Debian's chromium, driven by Selenium, against ``sheetgen
serve --data DIR`` started as a user starts it.

It never skips in CI (``CI`` set); elsewhere it skips when chromium is not installed.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pypdfium2 as pdfium
import pytest

from sheetgen.documents.example import make_example
from sheetgen.receive.codes import find_codes
from sheetgen.rendering.pdf.layout import cached_layout
from sheetgen.rules import load_rules
from tests.scans import RENDER_DPI, Sheet, ink, jpeg, scan, scanner_pdf
from tests.test_serve_browser import HAVE_BROWSER, browser, served  # noqa: F401 (fixture)
from tests.test_spreadsheet import table, write_xlsx

if not HAVE_BROWSER:
    pytest.skip("Debian's chromium is not installed", allow_module_level=True)

from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

TOKEN = "desk-token-for-the-browser-test-42"
WAIT = 120


@pytest.fixture(scope="module")
def desk_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("desk")
    yield from served(folder, "--data", str(folder / "register"), "--token", TOKEN)
    output = (folder / "stderr.log").read_text()
    assert "13912345678" not in output and "filing_password" not in output  # no data logged


def _applicants() -> list[dict[str, Any]]:
    """30 applicants of three provinces; three of them with a mobile that is not one."""
    from stdnum.cn import ric

    rules = load_rules()
    people = []
    for n in range(30):
        data = make_example(rules, ("江西", "浙江", "北京")[n % 3], "personal")
        data["ref"] = f"C-{n + 1:02d}"
        # Each a person of their own (rows are grouped by certificate number).
        number = data["host"]["certificate"]["number"]
        own = number[:14] + f"{n:03d}"
        data = json.loads(json.dumps(data, ensure_ascii=False).replace(
            number, own + ric.calc_check_digit(own + "0")))
        data.get("access", {}).pop("filing_password", None)
        if n in (4, 11, 25):
            data["websites"][0]["manager"]["mobile"] = "1234"
        people.append(data)
    return people


def _rows(driver: Any) -> dict[str, tuple[str, str]]:
    """The records table: ref → (status shown, why)."""
    rows = {}
    for row in driver.find_elements(By.CSS_SELECTOR, "#records tbody tr"):
        cells = row.find_elements(By.TAG_NAME, "td")
        rows[cells[1].text] = (cells[4].text, cells[5].text)
    return rows


def _downloaded(folder: Path, name: str, since: float) -> Path:
    path = folder / name
    for _ in range(WAIT * 10):
        if path.exists() and path.stat().st_mtime >= since - 1 and not list(
                folder.glob("*.crdownload")):
            return path
        time.sleep(0.1)
    raise AssertionError(f"{name} was not downloaded: {list(folder.iterdir())}")


def test_a_clerk_takes_thirty_applicants_from_spreadsheet_to_complete(
        desk_server: str, browser: Any, tmp_path: Path) -> None:  # noqa: F811
    # The table is redrawn while it is read: a row gone stale is read again.
    wait = WebDriverWait(browser, WAIT, ignored_exceptions=(StaleElementReferenceException,))
    downloads: Path = browser.downloads
    sheet = write_xlsx(tmp_path / "applicants.xlsx", table(*_applicants()))

    browser.get(desk_server + "desk")
    browser.find_element(By.ID, "token").send_keys(TOKEN)
    browser.find_element(By.ID, "token-save").click()
    wait.until(lambda d: "共 0 位申请人" in d.find_element(By.ID, "records-count").text)

    # 1. Upload: a progress bar, then the three rows with errors by row and column.
    browser.find_element(By.ID, "sheet-file").send_keys(str(sheet))
    browser.find_element(By.ID, "sheet-upload").click()
    wait.until(lambda d: "27 位无误" in d.find_element(By.ID, "job-result").text)
    result = browser.find_element(By.ID, "job-result").text
    assert "3 位有错误" in result
    for row in (6, 13, 27):  # the header is row 1
        assert f"第 {row} 行" in result, result
    assert "手机" in result
    wait.until(lambda d: "共 30 位申请人" in d.find_element(By.ID, "records-count").text)
    statuses = _rows(browser)
    assert sum(1 for s, _ in statuses.values() if s == "数据有误") == 3

    # 2. The failed rows, downloaded, fixed as a clerk would, uploaded again: merged.
    since = time.time()
    browser.find_element(By.ID, "download-failed").click()
    failed = _downloaded(downloads, "failed.xlsx", since)
    book = openpyxl.load_workbook(failed)
    fixes = 0
    for row in book.worksheets[0].iter_rows(min_row=2):
        for cell in row:
            if cell.value == "1234":
                cell.value = "13912345678"
                fixes += 1
    assert fixes == 3
    fixed = tmp_path / "fixed.xlsx"
    book.save(fixed)
    browser.find_element(By.ID, "sheet-file").send_keys(str(fixed))
    browser.find_element(By.ID, "sheet-upload").click()
    wait.until(lambda d: "3 位无误" in d.find_element(By.ID, "job-result").text)
    browser.find_element(By.ID, "filter-apply").click()
    wait.until(lambda d: all(s == "待打印" for s, _ in _rows(d).values()) and len(_rows(d)) == 30)

    # 3. Print everything ready: one PDF, and every record is printed.
    since = time.time()
    browser.find_element(By.ID, "print").click()
    printed = _downloaded(downloads, "print.pdf", since)
    wait.until(lambda d: all(s == "已打印" for s, _ in _rows(d).values()))

    # 4. Two applicants' signed originals come back, scanned; the others are still missing.
    document = pdfium.PdfDocument(printed)
    sheets: dict[str, list[Sheet]] = {}
    for index in range(len(document)):
        image = document[index].render(scale=RENDER_DPI / 72).to_pil().convert("RGB")
        found = find_codes(image)
        code = found[0].code if found else None
        if code is None or code.reference not in ("C-01", "C-02") or code.layout is None:
            continue
        layout = cached_layout(code.layout)
        assert layout is not None
        sheets.setdefault(code.reference, []).append(Sheet(code.reference, 1, image, layout))
    document.close()
    assert set(sheets) == {"C-01", "C-02"}
    pages = [jpeg(scan(ink(s, seed=n + copy), angle=90 * copy, seed=n + copy))
             for n, ref in enumerate(sorted(sheets)) for s in sheets[ref] for copy in (0, 1)]
    scans = scanner_pdf(tmp_path / "scans.pdf", pages)
    browser.find_element(By.ID, "scan-files").send_keys(str(scans))
    browser.find_element(By.ID, "scan-upload").click()
    wait.until(lambda d: "已对应到申请人" in d.find_element(By.ID, "scan-result").text)
    Select(browser.find_element(By.ID, "filter-status")).select_by_value("complete")
    browser.find_element(By.ID, "filter-apply").click()
    wait.until(lambda d: set(_rows(d)) == {"C-01", "C-02"})

    # 5. The register export says what happened: 2 complete, 28 printed.
    since = time.time()
    browser.find_element(By.ID, "export").click()
    exported = _downloaded(downloads, "register.xlsx", since)
    rows = list(openpyxl.load_workbook(io.BytesIO(exported.read_bytes())).active.values)
    status = {row[0]: row[3] for row in rows[1:]}
    assert len(status) == 30
    assert {ref for ref, s in status.items() if s == "complete"} == {"C-01", "C-02"}
    assert sum(1 for s in status.values() if s == "printed") == 28
    logs = [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert not logs, logs
