"""The staff's pages in a real browser (Debian's headless Chromium driven by Selenium, as the dashboard's
test does), over a batch that flows through the running services: an auditor logs in, finds an archived
case by a fragment of its company name, opens it, sees a page image of its files and its four-property
checks, downloads a file and compares its SHA-256 with the one recorded at capture; then an operator (a
change of key in the page) decides the batch's case that no retention rule covers, in the page, and the
decision is recorded with the operator key's name and the case is archived.

Screenshots are kept at $AA_ARTIFACTS_DIR (default <repo>/.artifacts/): records-search.png,
records-record.png, records-queues.png — also when the test fails. Nothing here asserts how fast anything
happens; waits have generous deadlines."""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from samples.generator import SampleCase, generate_cases
from services.common.settings import ArchiveSettings
from services.query.access import Role
from services.query.adapters.api_keys import PgApiKeys
from tests.e2e.test_dashboard_browser import (
    PAGE_TIMEOUT,
    api,
    artifacts_dir,
    browser,  # noqa: F401  (the fixture: Debian's chromium through chromedriver)
    feed,
    javascript_errors,
    save_screenshot,
)

pytestmark = pytest.mark.e2e

FLOW_TIMEOUT = 300  # seconds; a deadline for the pipeline on two shared cores, not a speed target
UNSCHEDULED_ITEM = ("XK-WSJK-001", "公共场所卫生许可")  # no rule of the bundled schedule covers it
WIDTH = 1366


def batch() -> tuple[list[SampleCase], SampleCase]:
    """Six cases under case numbers of their own, and a seventh whose item no retention rule covers."""
    tag = f"REC{uuid.uuid4().hex[:6].upper()}"
    cases = [
        dataclasses.replace(c, record=c.record.model_copy(update={"case_number": f"{c.record.case_number}-{tag}"}))
        for c in generate_cases(6, seed=1414, wrong_digest_every=None)
    ]
    sample = cases[0]
    item_code, item_name = UNSCHEDULED_ITEM
    unscheduled = dataclasses.replace(
        sample,
        record=sample.record.model_copy(
            update={"case_number": f"WSJK-{tag}", "item_code": item_code, "item_name": item_name}
        ),
    )
    return cases, unscheduled


async def create_key(settings: ArchiveSettings, name: str, role: Role) -> str:
    pool = await asyncpg.create_pool(settings.pg_dsn(), min_size=1, max_size=1)
    try:
        return await PgApiKeys(pool).create(
            name, role, sharing_levels={"01", "02", "03"}, created_by="tests/e2e/test_records_browser.py"
        )
    finally:
        await pool.close()


def wait_until(what: str, condition: Any, timeout: float, interval: float = 1.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except Exception as exc:  # not there yet (404, a connection reset while services start)
            last = exc
        if last and not isinstance(last, Exception):
            return last
        time.sleep(interval)
    pytest.fail(f"{what} did not happen within {timeout:.0f}s (last: {last!r})", pytrace=False)


def archived(base: str, key: str, case_key: str) -> dict[str, Any] | None:
    import urllib.error

    try:
        return api(base, f"/api/v1/records/{case_key}", key)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise


def log_in(driver: Any, base: str, path: str, key: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(f"{base}{path}")
    field = driver.find_element(By.NAME, "key")  # the page without a session is the login form
    field.send_keys(key)
    field.submit()
    WebDriverWait(driver, PAGE_TIMEOUT).until(lambda d: d.find_elements(By.CSS_SELECTOR, "header.top nav a"))


def page_state(driver: Any, root_id: str) -> str:
    return driver.execute_script(f"return document.getElementById('{root_id}').dataset.state")


def test_staff_find_open_verify_and_decide_in_the_browser(browser, pipeline, query_service, tmp_path):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait

    settings: ArchiveSettings = pipeline
    base = query_service.url
    auditor = asyncio.run(create_key(settings, "档案审计员 records browser test", Role.AUDITOR))
    operator = asyncio.run(create_key(settings, "档案员李娜 records browser test", Role.OPERATOR))
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    browser.set_window_size(WIDTH, 900)
    browser.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    shot = "records-search.png"
    try:
        cases, unscheduled = batch()
        asyncio.run(feed(settings, [*cases, unscheduled]))
        target = next(c for c in cases if c.record.applicant.type == "organisation")
        for case in cases:
            wait_until(f"{case.case_key} archived", lambda c=case: archived(base, auditor, c.case_key), FLOW_TIMEOUT)

        # --- search by a fragment of the company name: typed, then Enter ---------------------------------
        log_in(browser, base, "/records", auditor)
        WebDriverWait(browser, PAGE_TIMEOUT).until(lambda d: page_state(d, "search-page") in ("ok", "error"))
        company = target.record.applicant.name
        fragment = company[2:6]  # 杭州恒信科技有限公司 → 恒信科技
        box = browser.find_element(By.ID, "q")
        assert browser.switch_to.active_element == box, "the search box has the focus when the page opens"
        box.send_keys(fragment, Keys.ENTER)
        row_selector = f'[data-testid="result-row"][data-case-key="{target.case_key}"]'

        def our_row() -> Any:
            if page_state(browser, "search-page") != "ok":
                return None
            rows = browser.find_elements(By.CSS_SELECTOR, row_selector)
            if rows:
                return rows[0]
            more = browser.find_element(By.ID, "next-page")  # other batches hold the company too
            if more.is_enabled():
                more.click()
            return None

        row = wait_until(f"{target.case_key} among the results for {fragment!r}", our_row, PAGE_TIMEOUT, 0.5)
        assert fragment in row.text
        assert browser.execute_script("return document.documentElement.scrollWidth") <= WIDTH
        export = browser.find_element(By.ID, "export").get_attribute("href")
        assert "export.csv" in export and "q=" in export
        save_screenshot(browser, shot)

        # --- the record page: page image, checks, history; a verified download ----------------------------
        row.find_element(By.CSS_SELECTOR, '[data-testid="record-link"]').click()
        shot = "records-record.png"
        WebDriverWait(browser, PAGE_TIMEOUT).until(lambda d: page_state(d, "record") in ("ok", "error"))
        assert page_state(browser, "record") == "ok", browser.find_element(By.ID, "error-banner").text
        assert browser.find_element(By.ID, "record-title").text == target.record.case_title
        detail = api(base, f"/api/v1/records/{target.case_key}", auditor)
        assert browser.find_element(By.ID, "record-code").text == detail["archival_code"]

        def preview_shown() -> bool:
            return browser.execute_script(
                "return [...document.querySelectorAll('[data-testid=preview-image]')]"
                ".some((i) => i.complete && i.naturalWidth > 0)"
            )

        wait_until("a page image of one of the files", preview_shown, PAGE_TIMEOUT, 0.5)
        checks = browser.find_elements(By.CSS_SELECTOR, '[data-testid="check-row"]')
        assert len(checks) == len(detail["checks"]["results"]) > 0
        assert {c.get_attribute("data-outcome") for c in checks} <= {"pass", "warn", "not_run"}
        properties = {
            p.get_attribute("data-property"): p.get_attribute("data-outcome")
            for p in browser.find_elements(By.CSS_SELECTOR, '[data-testid="property"]')
        }
        assert set(properties) == {"authenticity", "integrity", "usability", "security"}
        timeline = browser.find_elements(By.CSS_SELECTOR, '[data-testid="timeline-event"]')
        events = [e.get_attribute("data-type") for e in timeline]
        assert events[0] == "capture" and "information package creation" in events

        first = browser.find_elements(By.CSS_SELECTOR, '[data-testid="file"]')[0]
        recorded = first.get_attribute("data-sha256")
        assert recorded == detail["files"][0]["sha256"]
        button = first.find_element(By.CSS_SELECTOR, '[data-testid="download"]')
        button.send_keys(Keys.ENTER)  # keyboard-reachable: Enter on the focused button
        verdict = first.find_element(By.CSS_SELECTOR, '[data-testid="download-verdict"]')
        wait_until(
            "the download verified in the page",
            lambda: verdict.get_attribute("data-state") == "verified",
            PAGE_TIMEOUT,
            0.5,
        )
        saved: Path = wait_until(
            "the downloaded file on disk",
            lambda: next((p for p in downloads.iterdir() if not p.name.endswith(".crdownload")), None),
            PAGE_TIMEOUT,
            0.5,
        )
        assert hashlib.sha256(saved.read_bytes()).hexdigest() == recorded == verdict.get_attribute("data-sha256")
        save_screenshot(browser, shot)

        # --- change key: the operator decides the review in the page ---------------------------------------
        browser.find_element(By.CSS_SELECTOR, '[data-testid="logout"]').click()
        WebDriverWait(browser, PAGE_TIMEOUT).until(lambda d: d.find_elements(By.NAME, "key"))
        shot = "records-queues.png"
        key = unscheduled.case_key
        wait_until(
            f"{key} in the review queue",
            lambda: key in {i["case_key"] for i in api(base, "/api/v1/reviews?limit=200", operator)["items"]},
            FLOW_TIMEOUT,
        )
        log_in(browser, base, f"/queues?open={key}", operator)
        entry_selector = f'[data-testid="review-entry"][data-case-key="{key}"]'
        form = wait_until(
            "the decision form with the schedule's choices",
            lambda: browser.find_elements(By.CSS_SELECTOR, f'{entry_selector} [data-testid="decide-form"]'),
            PAGE_TIMEOUT,
            0.5,
        )[0]
        assert form.find_elements(By.CSS_SELECTOR, '[data-testid="rule-choice"]'), "the schedule's rules are offered"
        form.find_element(By.CSS_SELECTOR, '[data-testid="mode-values"]').click()
        values = {"retention": "D10", "category": "XK", "class": "BYXK", "security": "内部", "sharing": "03"}
        for name, value in values.items():
            Select(form.find_element(By.CSS_SELECTOR, f'[data-testid="value-{name}"]')).select_by_value(value)
        form.find_element(By.CSS_SELECTOR, '[data-testid="decide-note"]').send_keys("卫生许可事项尚未列入保管期限表")
        save_screenshot(browser, shot)
        form.find_element(By.CSS_SELECTOR, '[data-testid="decide-submit"]').click()
        notice = wait_until(
            "the decision confirmed in the page",
            lambda: browser.find_element(By.ID, "notice").is_displayed() and browser.find_element(By.ID, "notice").text,
            PAGE_TIMEOUT,
            0.5,
        )
        assert key in notice and "档案员李娜 records browser test" in notice

        decided = {i["case_key"]: i for i in api(base, "/api/v1/reviews?status=decided&limit=200", operator)["items"]}
        assert decided[key]["decided_by"] == "档案员李娜 records browser test"
        record = wait_until("the decided case archived", lambda: archived(base, operator, key), FLOW_TIMEOUT)
        assert record["classification"]["decided_by"] == "档案员李娜 records browser test"
        assert (record["retention"], record["classification"]["class_code"]) == ("D10", "BYXK")
        assert javascript_errors(browser) == []
    finally:
        save_screenshot(browser, shot)
        print(f"screenshots in {artifacts_dir()}")
