"""The operations dashboard in a real browser (Debian's headless Chromium driven by Selenium): an operator
logs in through the login form, watches the numbers change while a batch with defective cases flows
through the running services, works one quarantine entry to resolution through the page, and sees the
restore test's runs (one that finds a damaged replica copy, then a clean one).

A screenshot is kept at $AA_ARTIFACTS_DIR/dashboard.png (default <repo>/.artifacts/), also when the test
fails. Waits poll the page with generous deadlines; nothing here asserts how fast anything happens."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
import os
import urllib.request
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from archivectl.feed import publish_events
from archivectl.platforms import sample_platform_secrets, sign_all
from contracts.envelope import utc_now
from samples.generator import SampleCase, approval_completed_event, generate_cases
from services.common.adapters.object_store import MinioObjectStore
from services.common.settings import ArchiveSettings
from services.query.access import Role
from services.query.adapters.api_keys import PgApiKeys
from services.storage import restore_test
from services.storage.adapters.index import PgIndex

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CASES = 9  # every third declares a wrong SHA-256 and is rejected: 6 archived, 3 quarantined
FLOW_TIMEOUT = 300  # seconds; a deadline for the pipeline on two shared cores, not a speed target
PAGE_TIMEOUT = 60


def artifacts_dir() -> Path:
    folder = Path(os.environ.get("AA_ARTIFACTS_DIR") or REPO / ".artifacts")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not (p.is_file() and os.access(p, os.X_OK))]
    if missing:
        message = (
            f"the dashboard's browser test needs Debian's chromium and chromedriver; missing: {', '.join(missing)}. "
            "Install them with deploy/local/browser.sh (apt-get install chromium chromium-driver)"
        )
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message, pytrace=False)  # CI must run it: a missing browser is a broken machine
        pytest.skip(message)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-extensions",
        "--no-first-run",
        "--window-size=1400,1000",
        "--lang=zh-CN",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium Manager (which would download a driver) is never consulted.
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(PAGE_TIMEOUT)
    try:
        yield driver
    finally:
        driver.quit()


def save_screenshot(driver: Any, name: str = "dashboard.png") -> Path:
    """The whole page, kept as the test's artifact (Chrome's DevTools capture beyond the viewport; the plain
    viewport screenshot if that fails, so a page that did not load still leaves a picture)."""
    path = artifacts_dir() / name
    try:
        driver.execute_script("window.scrollTo(0, 0)")
        metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
        size = metrics.get("cssContentSize") or metrics["contentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 8000), "scale": 1}
        shot = driver.execute_cdp_cmd(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
        )
        path.write_bytes(base64.b64decode(shot["data"]))
    except Exception:
        driver.save_screenshot(str(path))
    print(f"dashboard screenshot: {path}")
    return path


async def operator_key(settings: ArchiveSettings) -> str:
    pool = await asyncpg.create_pool(settings.pg_dsn(), min_size=1, max_size=1)
    try:
        return await PgApiKeys(pool).create(
            "dashboard browser test (operator)",
            Role.OPERATOR,
            sharing_levels={"01", "02", "03"},
            created_by="tests/e2e/test_dashboard_browser.py",
        )
    finally:
        await pool.close()


def fresh_batch() -> list[SampleCase]:
    """Sample cases under case numbers of their own: other tests of the session feed the generator's case
    numbers, and an archived case is never archived again (its count would not move)."""
    tag = f"DASH{uuid.uuid4().hex[:6].upper()}"
    return [
        dataclasses.replace(
            case, record=case.record.model_copy(update={"case_number": f"{case.record.case_number}-{tag}"})
        )
        for case in generate_cases(CASES, seed=4242, wrong_digest_every=3)
    ]


async def feed(settings: ArchiveSettings, cases: list[SampleCase]) -> None:
    secrets = await sample_platform_secrets(settings)
    await publish_events(settings, sign_all((approval_completed_event(c) for c in cases), secrets))


class FlippingReplica(MinioObjectStore):
    """The replica as it would read with one byte flipped in every package: a damaged copy the restore
    test must find (the shared replica itself is never damaged by this test)."""

    async def get_bytes(self, bucket: str, key: str, *, version_id: str | None = None) -> bytes:
        data = bytearray(await super().get_bytes(bucket, key, version_id=version_id))
        data[len(data) // 2] ^= 0xFF
        return bytes(data)


async def restore_test_runs(settings: ArchiveSettings) -> tuple[list[restore_test.RestoreResult], ...]:
    """Two runs of the restore test over the namespace's packages, as the storage worker's schedule runs
    them: an hour ago through a damaged replica (one package), then now through the real one (two)."""
    index = await PgIndex.connect(settings, migrate=False)
    try:
        earlier = utc_now() - timedelta(hours=1)
        damaged = await restore_test.run(
            replica=FlippingReplica.from_settings(settings, site="replica"),
            index=index,
            sample=1,
            clock=lambda: earlier,
        )
        clean = await restore_test.run(
            replica=MinioObjectStore.from_settings(settings, site="replica"), index=index, sample=2
        )
        return damaged, clean
    finally:
        await index.close()


def api(base_url: str, path: str, key: str) -> Any:
    request = urllib.request.Request(
        f"{base_url}{path}", headers={"Authorization": f"Bearer {key}", "Accept": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


# --- reading the page ------------------------------------------------------------------------------------

READ_PAGE = """
const root = document.getElementById("dashboard");
const value = (id) => {
  const v = document.getElementById(id).dataset.value;
  return v === undefined || v === "" ? null : Number(v);
};
return {
  updates: Number(root.dataset.updates),
  state: root.dataset.state,
  archived_total: value("archived-total"),
  last_hour: value("throughput-last-hour"),
  quarantine_open: value("quarantine-open-count"),
  quarantine_keys: [...document.querySelectorAll('[data-testid="quarantine-row"]')].map((r) => r.dataset.caseKey),
  backlog_services: [...document.querySelectorAll('[data-testid="backlog-row"]')].map((r) => r.dataset.service),
  backlog_end: Object.fromEntries([...document.querySelectorAll('[data-testid="backlog-row"]')].map(
    (r) => [r.dataset.service, Number(r.querySelector('[data-testid="backlog-end-offset"]').dataset.value)])),
  fixity_packages: value("fixity-packages"),
  restore_status: document.getElementById("restore-test-status").dataset.status || null,
  restore_last_run: document.getElementById("restore-test-last-run").textContent,
  restore_last_tested: value("restore-test-last-tested"),
  restore_last_passed: value("restore-test-last-passed"),
  restore_last_failed: value("restore-test-last-failed"),
  restore_window_failed: value("restore-test-window-failed"),
  restore_failure_shown: !document.getElementById("restore-test-failure").hidden,
  restore_failure_case: document.getElementById("restore-test-failure-case").textContent,
  restore_failure_reason: document.getElementById("restore-test-failure-reason").textContent,
  restore_command: document.getElementById("restore-test-command").textContent,
  revalidation_packages: value("revalidation-packages"),
  reject_codes: Object.fromEntries([...document.querySelectorAll('[data-testid="reject-defect-row"]')].map(
    (r) => [r.dataset.code, Number(r.querySelector('[data-testid="reject-last-24-hours"]').dataset.value)])),
  banner: document.getElementById("error-banner").hidden ? null : document.getElementById("error-banner").textContent,
  last_updated: document.getElementById("last-updated").getAttribute("datetime"),
};
"""


def read_page(driver: Any) -> dict[str, Any]:
    return driver.execute_script(READ_PAGE)


def wait_for(driver: Any, what: str, condition: Any, timeout: float) -> dict[str, Any]:
    """Poll the page until `condition(page)` holds; fail with what the page showed last."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    seen: dict[str, Any] = {}

    def check(d: Any) -> bool:
        seen.update(read_page(d))
        return bool(condition(seen))

    try:
        WebDriverWait(driver, timeout, poll_frequency=0.5).until(check)
    except TimeoutException:
        pytest.fail(f"the dashboard never showed {what} within {timeout:.0f}s; it showed: {seen}", pytrace=False)
    return dict(seen)


def javascript_errors(driver: Any) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e.get("source") == "javascript"]


# --- the test --------------------------------------------------------------------------------------------


def test_an_operator_watches_a_batch_flow_and_resolves_a_quarantine_entry(browser, pipeline, query_service):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    settings: ArchiveSettings = pipeline
    base = query_service.url
    key = asyncio.run(operator_key(settings))
    try:
        # Log in as a person would: the dashboard without a session shows the login form, which sets the
        # HttpOnly cookie and comes back to the dashboard.
        browser.get(f"{base}/dashboard")
        browser.find_element(By.NAME, "key").send_keys(key)
        browser.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        WebDriverWait(browser, PAGE_TIMEOUT).until(ec.url_contains("/dashboard"))
        assert "aa_key" in {c["name"] for c in browser.get_cookies()}

        browser.get(f"{base}/dashboard?refresh=1&rows=100")
        before = wait_for(browser, "its first numbers", lambda p: p["updates"] >= 1 and p["state"] == "ok", 60)
        assert before["banner"] is None
        assert before["backlog_services"] == ["capture", "validation", "classification", "storage"]
        assert before["archived_total"] is not None and before["quarantine_open"] is not None

        cases = fresh_batch()
        defective = {c.record.case_key for c in cases if c.defect == "wrong_digest"}
        assert len(defective) == CASES // 3
        asyncio.run(feed(settings, cases))

        # The numbers move while the batch flows: records archived, our rejected cases in the open queue.
        during = wait_for(
            browser,
            "more records archived and the batch's rejected cases in the open quarantine queue",
            lambda p: p["archived_total"] > before["archived_total"] and defective & set(p["quarantine_keys"]),
            FLOW_TIMEOUT,
        )
        assert during["last_hour"] >= 1
        assert during["quarantine_open"] > before["quarantine_open"]
        target = sorted(defective & set(during["quarantine_keys"]))[0]

        # Work one entry to resolution through the page.
        row = browser.find_element(By.CSS_SELECTOR, f'[data-testid="quarantine-row"][data-case-key="{target}"]')
        assert "AUTH-DIGEST-SHA256" in row.text
        row.find_element(By.CSS_SELECTOR, '[data-testid="resolve-button"]').click()
        panel = browser.find_element(By.ID, "resolve-panel")
        WebDriverWait(browser, 10).until(lambda _: panel.is_displayed())
        assert browser.find_element(By.ID, "resolve-case-key").text == target
        Select(browser.find_element(By.ID, "resolve-resolution")).select_by_value("duplicate")
        browser.find_element(By.ID, "resolve-note").send_keys(
            "同一申请已在另一案件号下归档 — the same application was archived under another number"
        )
        browser.find_element(By.ID, "resolve-submit").click()

        after = wait_for(
            browser,
            f"{target} gone from the open quarantine queue",
            lambda p: p["updates"] > during["updates"] and target not in p["quarantine_keys"] and p["state"] == "ok",
            PAGE_TIMEOUT,
        )
        assert not panel.is_displayed(), browser.find_element(By.ID, "resolve-error").text
        assert target in browser.find_element(By.ID, "notice").text
        assert after["banner"] is None

        # The API agrees: the entry is resolved, by this key's holder, as chosen in the page.
        resolved = api(base, "/api/v1/quarantine?status=resolved&limit=200", key)["items"]
        [entry] = [i for i in resolved if i["case_key"] == target]
        assert entry["status"] == "resolved"
        assert entry["resolution"] == "duplicate"
        assert entry["resolved_by"] == "dashboard browser test (operator)"
        still_open = {i["case_key"] for i in api(base, "/api/v1/quarantine?status=open&limit=200", key)["items"]}
        # ... and only that one: the batch's other rejected cases the page listed are still open.
        assert target not in still_open and (defective & set(after["quarantine_keys"])) <= still_open

        # The slower parts catch up too (they are cached for a few seconds): the approval topic's end offset
        # counts the batch, the batch's defect is among the rejects of the last 24 hours, and the archived
        # records are packages the fixity status and the checks at preservation time count.
        wait_for(
            browser,
            "the batch in the capture topic's end offset, AUTH-DIGEST-SHA256 among the rejects, packages in fixity "
            "and in the checks at preservation time",
            lambda p: (
                p["backlog_end"].get("capture", 0) >= CASES
                and p["reject_codes"].get("AUTH-DIGEST-SHA256", 0) >= 1
                and (p["fixity_packages"] or 0) >= 1
                and (p["revalidation_packages"] or 0) >= 1
                and p["banner"] is None
            ),
            PAGE_TIMEOUT,
        )

        # The restore test: a run that found a damaged replica copy, then a clean last run. The part is
        # cached for 30 s, so the wait is longer than the page's refresh.
        damaged, clean = asyncio.run(restore_test_runs(settings))
        assert [r.passed for r in damaged] == [False] and [r.passed for r in clean] == [True, True], (damaged, clean)
        shown = wait_for(
            browser,
            "the restore test's clean last run of 2 packages and the earlier failure",
            lambda p: (
                p["restore_last_tested"] == 2
                and p["restore_last_failed"] == 0
                and (p["restore_window_failed"] or 0) >= 1
                and p["restore_failure_shown"]
            ),
            PAGE_TIMEOUT + 40,
        )
        assert shown["restore_status"] == "ok" and shown["restore_last_passed"] == 2
        assert shown["restore_last_run"] not in ("", "—")
        assert shown["restore_failure_case"] == damaged[0].case_key
        assert damaged[0].reason and shown["restore_failure_reason"] == damaged[0].reason
        assert shown["restore_command"].startswith("archivectl restore-test")
        assert javascript_errors(browser) == []
    finally:
        save_screenshot(browser)
