"""The form of ``sheetgen serve`` in a real browser: Debian's chromium, driven by Selenium.

The server runs as a subprocess on a free loopback port, started the way a user starts it.
The test fills the form for a Jiangxi personal applicant by typing, as a person would; sees
the fingerprint hint; types a bad mobile and sees the CLI's message at that field; fixes it;
sees the preview of every page; downloads the PDF and reads it with pypdf.

It never skips in CI (``CI`` set): there, a missing chromium is a failure. Elsewhere it skips
when chromium is not installed (``make test`` installs it through apt).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.applicants import ID_JX, edit, messages, personal
from tests.conftest import REPO
from tests.pdfs import is_a4, page_sizes, page_texts

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
HAVE_BROWSER = Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()

if not HAVE_BROWSER and not os.environ.get("CI"):
    pytest.skip("Debian's chromium and chromium-driver are not installed (make test installs "
                "them)", allow_module_level=True)

from selenium import webdriver  # noqa: E402  (after the skip: CI must have it)
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

WAIT = 60  # seconds; a busy 2-core machine compiling its first layouts is slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``sheetgen serve --port 0`` as a subprocess; yields its base URL."""
    log = tmp_path_factory.mktemp("serve") / "stderr.log"
    with log.open("wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "sheetgen", "serve", "--port", "0",
                                 "--workers", "1"], stdout=subprocess.DEVNULL, stderr=stderr,
                                stdin=subprocess.DEVNULL, cwd=REPO)
    try:
        url = None
        for _ in range(WAIT * 10):
            found = re.search(r"the form is at (http://127\.0\.0\.1:\d+/)", log.read_text())
            if found:
                url = found.group(1)
                break
            assert proc.poll() is None, log.read_text()
            time.sleep(0.1)
        assert url, log.read_text()
        yield url
    finally:
        proc.terminate()
        proc.wait(30)
    output = log.read_text()
    assert "Traceback" not in output, output


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    downloads = tmp_path_factory.mktemp("downloads")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--disable-gpu", "--disable-background-networking", "--disable-sync",
                     "--disable-extensions", "--disable-component-update",
                     "--disable-default-apps", "--no-first-run", "--window-size=1300,1800"):
        options.add_argument(argument)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.execute_cdp_cmd("Page.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": str(downloads)})
    driver.downloads = downloads
    try:
        yield driver
    finally:
        driver.quit()


def field(driver: Any, path: str) -> Any:
    return driver.find_element(By.CSS_SELECTOR, f'[data-path="{path}"]')


def error_at(driver: Any, path: str) -> str:
    return str(driver.find_element(By.CSS_SELECTOR, f'.error[data-for="{path}"]').text)


def type_into(driver: Any, path: str, text: str) -> None:
    element = field(driver, path)
    element.clear()
    element.send_keys(text)
    element.send_keys(Keys.TAB)  # leave the field, as a person moving on


def test_a_jiangxi_personal_applicant_fills_the_form(server: str, browser: Any) -> None:
    wait = WebDriverWait(browser, WAIT)
    browser.get(server)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-path="province"]'))

    # The page is whole: its fonts came from this server and nothing else was asked for.
    assert browser.execute_script("return document.fonts.check('16px \"Sheetgen Serif\"')")
    requested = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)")
    assert requested and all(name.startswith(server) for name in requested), requested

    Select(field(browser, "province")).select_by_value("江西")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-hint="fingerprint"]'))
    hint = browser.find_element(By.CSS_SELECTOR, '[data-hint="fingerprint"]').text
    assert "按手印" in hint
    assert "江西" in browser.find_element(By.ID, "hints").text
    # A personal filing: no principal, no seal; the manager's name and ID come from the host.
    assert Select(field(browser, "host.nature")).first_selected_option.text == "个人"
    assert not browser.find_elements(By.CSS_SELECTOR, '[data-path="host.principal.name"]')
    assert not field(browser, "websites[0].manager.name").is_displayed()

    type_into(browser, "host.name", "张三")
    type_into(browser, "host.certificate.number", ID_JX)
    type_into(browser, "host.address", "江西省南昌市红谷滩区某某路 1 号")
    type_into(browser, "websites[0].name", "张三的技术笔记")
    type_into(browser, "websites[0].domains[0].name", "zhangsan-notes.cn")
    type_into(browser, "websites[0].manager.email", "zs@zhangsan-notes.cn")
    type_into(browser, "websites[0].manager.mobile", "1380000")

    wait.until(lambda d: "手机号码" in error_at(d, "websites[0].manager.mobile"))
    # The CLI's own message for this value, word for word (masked as there).
    cli = messages(edit(personal(), "websites[0].manager.mobile", "1380000"))
    assert error_at(browser, "websites[0].manager.mobile") == cli[0]
    assert error_at(browser, "host.name") == ""

    type_into(browser, "websites[0].manager.mobile", "13800000000")
    wait.until(lambda d: error_at(d, "websites[0].manager.mobile") == "")

    browser.find_element(By.ID, "preview").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#previews img")) >= 2)
    images = browser.find_elements(By.CSS_SELECTOR, "#previews img")
    assert all(browser.execute_script("return arguments[0].naturalWidth", img) > 500
               for img in images)
    assert browser.find_element(By.ID, "download-pdf").is_enabled()
    assert not browser.find_elements(By.CSS_SELECTOR, ".error:not(:empty)")

    browser.find_element(By.ID, "download-pdf").click()
    downloads: Path = browser.downloads
    wait.until(lambda d: [p for p in downloads.iterdir() if p.suffix == ".pdf"])
    pdf_path = next(p for p in downloads.iterdir() if p.suffix == ".pdf")
    wait.until(lambda d: not list(downloads.glob("*.crdownload")))
    pdf = pdf_path.read_bytes()
    texts = page_texts(pdf)
    assert len(texts) == len(images) == 2
    assert all(is_a4(size) for size in page_sizes(pdf))
    assert "备案材料清单" in texts[0]
    assert "网站备案信息真实性核验单" in texts[1] and "按手印处" in texts[1]
    # The official form carries the host's name and the domains (not the website's name).
    assert "张三" in texts[1] and "zhangsan-notes.cn" in texts[1]
    assert "单位公章" not in texts[1]

    # No script error and no CSP violation; the 422 answers of the live checks are expected.
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"
              and not (e["source"] == "network" and "status of 422" in e["message"])]
    assert severe == [], severe

