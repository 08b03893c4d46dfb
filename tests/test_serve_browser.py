"""The form of ``sheetgen serve`` in a real browser: Debian's chromium, driven by Selenium.

The server runs as a subprocess on a free loopback port, started the way a user starts it.
The test fills the form for a Jiangxi personal applicant by typing, as a person would; sees
the fingerprint hint; types a bad mobile and sees the CLI's message at that field; fixes it;
sees the preview of every page; downloads the PDF and reads it with pypdf. The tests after it
cover what applicants tripped on (issue 27): the draft kept over a reload and saved/opened as
JSON, the sample asked for first and its warnings at their fields, the preview brought into
view and the first error focused, the summary's count, the linked website manager, the Chinese
labels and the fields only some filing types show.

It never skips in CI (``CI`` set): there, a missing chromium is a failure. Elsewhere it skips
when chromium is not installed (``make test`` installs it through apt).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.applicants import ID_BJ, ID_JX, SECRET, edit, messages, personal
from tests.conftest import REPO
from tests.pdfs import is_a4, page_sizes, page_texts

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
HAVE_BROWSER = Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()

if not HAVE_BROWSER and not os.environ.get("CI"):
    pytest.skip("Debian's chromium and chromium-driver are not installed (make test installs "
                "them)", allow_module_level=True)

from selenium import webdriver  # noqa: E402  (after the skip: CI must have it)
from selenium.common.exceptions import StaleElementReferenceException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support import expected_conditions  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

WAIT = 60  # seconds; a busy 2-core machine compiling its first layouts is slow


def served(folder: Path, *options: str) -> Iterator[str]:
    """``sheetgen serve --port 0 --workers 1 OPTIONS`` as a subprocess, as a user starts it;
    yields its base URL, and checks on the way out that its log has no traceback (the log
    itself is ``folder/stderr.log``)."""
    log = folder / "stderr.log"
    with log.open("wb") as stderr:
        proc = subprocess.Popen([sys.executable, "-m", "sheetgen", "serve", "--port", "0",
                                 "--workers", "1", *options], stdout=subprocess.DEVNULL,
                                stderr=stderr, stdin=subprocess.DEVNULL, cwd=REPO)
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
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The form's server; yields its base URL."""
    yield from served(tmp_path_factory.mktemp("serve"))


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



DRAFT = "sheetgen.form.draft.v1"


def fresh(driver: Any, server: str) -> WebDriverWait:  # type: ignore[type-arg]
    """The form, loaded anew with no draft in the browser."""
    # The form re-renders as it changes: an element looked up a moment ago may be gone.
    wait = WebDriverWait(driver, WAIT, ignored_exceptions=(StaleElementReferenceException,))
    driver.get(server)
    driver.execute_script("window.localStorage.clear()")
    driver.get(server)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-path="province"]'))
    return wait


def stored_draft(driver: Any) -> dict[str, Any] | None:
    text = driver.execute_script(f"return window.localStorage.getItem('{DRAFT}')")
    return None if text is None else dict(json.loads(text))


def choose(driver: Any, path: str, value: str) -> None:
    """Pick a drop-down's value; those that reshape the form are waited for until it has."""
    renders = driver.find_element(By.ID, "form").get_attribute("data-renders")
    Select(field(driver, path)).select_by_value(value)
    if path in ("province", "host.nature", "filing_type"):
        WebDriverWait(driver, WAIT).until(lambda d: d.find_element(By.ID, "form").get_attribute(
            "data-renders") != renders)


def test_the_draft_survives_a_reload_and_never_holds_the_password(server: str,
                                                                    browser: Any) -> None:
    wait = fresh(browser, server)
    assert not browser.find_element(By.ID, "draft-box").is_displayed()
    choose(browser, "province", "江西")
    choose(browser, "filing_type", "new_access")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-path="access.filing_password"]'))
    type_into(browser, "host.name", "张三")
    type_into(browser, "access.filing_password", SECRET)
    type_into(browser, "access.username", "zhangsan")
    wait.until(lambda d: (stored_draft(d) or {}).get("data", {}).get("access"))
    draft = stored_draft(browser)
    assert draft is not None and draft["data"]["host"]["name"] == "张三"
    assert draft["data"]["access"] == {"username": "zhangsan"}
    assert SECRET not in json.dumps(draft)

    browser.refresh()
    wait.until(lambda d: d.find_element(By.ID, "draft-box").is_displayed())
    assert "草稿" in browser.find_element(By.ID, "draft-text").text
    browser.find_element(By.ID, "draft-resume").click()
    wait.until(lambda d: field(d, "host.name").get_attribute("value") == "张三")
    assert Select(field(browser, "filing_type")).first_selected_option.get_attribute(
        "value") == "new_access"
    assert field(browser, "access.username").get_attribute("value") == "zhangsan"
    assert field(browser, "access.filing_password").get_attribute("value") == ""
    assert "按手印" in browser.find_element(By.ID, "hints").text  # the province's rules too

    # Discarded, it is gone for good.
    browser.refresh()
    wait.until(lambda d: d.find_element(By.ID, "draft-box").is_displayed())
    browser.find_element(By.ID, "draft-discard").click()
    assert stored_draft(browser) is None
    assert field(browser, "host.name").get_attribute("value") == ""


def test_a_json_file_opens_and_saves_as_sheetgen_check_reads_it(server: str, browser: Any,
                                                                  tmp_path: Path) -> None:
    wait = fresh(browser, server)
    record = personal()
    source = tmp_path / "mine.json"
    source.write_text(json.dumps(record, ensure_ascii=False), "utf-8")
    browser.find_element(By.ID, "open-json").send_keys(str(source))
    wait.until(lambda d: field(d, "host.name").get_attribute("value") == "张三")
    assert field(browser, "websites[0].domains[1].name").get_attribute("value") == "例子.中国"

    downloads: Path = browser.downloads
    before = set(downloads.iterdir())
    browser.find_element(By.ID, "save-json").click()
    wait.until(lambda d: [p for p in set(downloads.iterdir()) - before if p.suffix == ".json"])
    saved = next(p for p in set(downloads.iterdir()) - before if p.suffix == ".json")
    assert saved.name == "QY-2026-000123.json"
    text = saved.read_text("utf-8")
    assert SECRET not in text
    data = json.loads(text)
    assert messages(data) == []  # valid for sheetgen check, as the record opened
    assert data["host"]["name"] == "张三" and data["websites"][0]["manager"]["mobile"]

    # Not JSON: a clear message, the form as it was.
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", "utf-8")
    browser.find_element(By.ID, "open-json").send_keys(str(bad))
    wait.until(lambda d: "不是有效的 JSON" in d.find_element(By.ID, "status").text)
    assert field(browser, "host.name").get_attribute("value") == "张三"


def test_the_sample_asks_first_and_its_warnings_show_at_their_fields(server: str,
                                                                      browser: Any) -> None:
    wait = fresh(browser, server)
    choose(browser, "province", "江西")
    type_into(browser, "host.name", "李雷")
    browser.find_element(By.ID, "load-example").click()
    wait.until(expected_conditions.alert_is_present())
    assert "替换" in browser.switch_to.alert.text
    browser.switch_to.alert.dismiss()
    assert field(browser, "host.name").get_attribute("value") == "李雷"

    browser.find_element(By.ID, "load-example").click()
    wait.until(expected_conditions.alert_is_present())
    browser.switch_to.alert.accept()
    wait.until(lambda d: field(d, "host.name").get_attribute("value") != "李雷")
    # The sample's values are the CLI's example_data warnings: at their field, not errors.
    warning = '.warning[data-warn-for="host.name"]'
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, warning).text)
    assert "虚构示例值" in browser.find_element(By.CSS_SELECTOR, warning).text
    assert error_at(browser, "host.name") == ""
    holder = browser.find_element(By.CSS_SELECTOR, warning).find_element(By.XPATH, "..")
    assert "warned" in holder.get_attribute("class").split()
    assert "invalid" not in holder.get_attribute("class").split()
    color = browser.execute_script("return getComputedStyle(arguments[0]).color",
                                   browser.find_element(By.CSS_SELECTOR, warning))
    assert color != browser.execute_script(
        "return getComputedStyle(arguments[0]).color",
        browser.find_element(By.CSS_SELECTOR, '.error[data-for="host.name"]'))
    assert "提醒" in browser.find_element(By.ID, "summary").text
    # Editing the value clears its warning, live.
    type_into(browser, "host.name", "韩梅梅")
    wait.until(lambda d: d.find_element(By.CSS_SELECTOR, warning).text == "")

    # Warnings do not block: the preview comes, and into view.
    browser.find_element(By.ID, "preview").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#previews img")) >= 2)
    # The first page's image is wholly on screen (the page scrolls as far as it can).
    box = browser.execute_script(
        "const r = document.querySelector('#previews img').getBoundingClientRect();"
        "return [r.top, r.bottom, window.innerHeight]")
    assert box[0] >= 0 and box[1] <= box[2], box
    assert browser.execute_script("return document.activeElement.id") == "previews"
    # Chinese labels only: the variant's name, the rules' date (no provenance notes).
    status_text = browser.find_element(By.ID, "status").text
    assert "公共版本" in status_text and "public" not in status_text
    hints = browser.find_element(By.ID, "hints").text
    assert "doc:" not in hints and "GB/T" not in hints and "截至" in hints


def test_the_first_error_is_focused_and_each_problem_counted_once(server: str,
                                                                   browser: Any) -> None:
    wait = fresh(browser, server)
    choose(browser, "province", "江西")
    type_into(browser, "host.name", "张三")
    type_into(browser, "host.certificate.number", ID_JX[:-1] + "2")  # a wrong check digit
    browser.execute_script("window.scrollTo(0, document.body.scrollHeight)")
    browser.find_element(By.ID, "preview").click()
    wait.until(lambda d: "请先修改" in d.find_element(By.ID, "status").text)
    shown = [line for node in browser.find_elements(By.CSS_SELECTOR, ".error")
             for line in node.text.splitlines() if line]
    # The host's ID is copied to the (hidden) manager's: its problem is shown and counted once.
    assert sum("证件号码" in line or "校验" in line for line in shown) >= 1
    heading = browser.find_element(By.CSS_SELECTOR, "#summary h2").text
    assert heading == f"还有 {len(shown)} 个问题需要修改", (heading, shown)
    first = browser.find_element(By.CSS_SELECTOR, ".error:not(:empty)").get_attribute("data-for")
    assert browser.execute_script("return document.activeElement.dataset.path") == first
    assert browser.execute_script(
        "const r = document.activeElement.getBoundingClientRect();"
        "return r.top >= 0 && r.bottom <= window.innerHeight")


def test_the_manager_stays_linked_and_fields_follow_the_filing_type(server: str,
                                                                     browser: Any) -> None:
    wait = fresh(browser, server)
    choose(browser, "province", "北京")
    choose(browser, "host.nature", "enterprise")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-path="host.principal.name"]'))
    # 新增备案: no filing number, IPs, username or password to fill.
    for path in ("websites[0].filing_number", "websites[0].ips", "access.username",
                 "access.filing_password"):
        assert not browser.find_elements(By.CSS_SELECTOR, f'[data-path="{path}"]'), path
    choose(browser, "filing_type", "change")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR,
                                         '[data-path="websites[0].filing_number"]'))
    assert not browser.find_elements(By.CSS_SELECTOR, '[data-path="websites[0].ips"]')
    choose(browser, "filing_type", "new_access")
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '[data-path="websites[0].ips"]'))
    assert field(browser, "access.username").is_displayed()
    choose(browser, "filing_type", "new_filing")
    wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, '[data-path="websites[0].ips"]'))

    type_into(browser, "host.principal.name", "李四")
    type_into(browser, "host.principal.certificate.number", ID_BJ)
    type_into(browser, "host.principal.mobile", "13911112222")
    type_into(browser, "host.principal.office_phone", "010-6666777")
    browser.find_element(By.CSS_SELECTOR, '[data-link="0"]').click()
    wait.until(lambda d: not field(d, "websites[0].manager.name").is_displayed())
    # A later fix of the principal's landline is the manager's too while the box is ticked.
    type_into(browser, "host.principal.office_phone", "010-66667777")
    wait.until(lambda d: ((stored_draft(d) or {}).get("data", {}).get("websites") or [{}])[0]
               .get("manager", {}).get("office_phone") == "010-66667777")
    draft = stored_draft(browser)
    assert draft is not None and draft["linked"] == [True]
    assert draft["data"]["websites"][0]["manager"] == draft["data"]["host"]["principal"]
    # Unticked, the manager keeps those values and can be edited on its own.
    browser.find_element(By.CSS_SELECTOR, '[data-link="0"]').click()
    wait.until(lambda d: field(d, "websites[0].manager.name").is_displayed())
    assert field(browser, "websites[0].manager.office_phone").get_attribute(
        "value") == "010-66667777"
