"""The staff's pages and what they read, against the real PostgreSQL and MinIO: the record page answers 404
outside the key's scope exactly as the API does; page images are rendered from the verified bytes, cached
by digest, refused to a role without files.download and never made from bytes that fail their digest; the
record's detail carries every check result from the package's own description, the end of its retention
and its lock; a review's choices come from the schedule; logging out returns to the page."""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator
from datetime import datetime
from urllib.parse import unquote

import pytest
from PIL import Image

from contracts.v1 import CheckResult, Outcome, Property
from services.classification.config import bundled_schedule_file
from services.classification.schedule import load_schedule_file
from services.common.china_time import CHINA_STANDARD_TIME
from services.query.adapters.preview_cache import PreviewCache
from tests.integration.test_query_api import (
    OTHER_PLATFORM,
    PERSON,
    QueryWorld,
    _fixity_failures,
    archive_record,
    build_world,
    create_keys,
    queue_for_review,
    sample_record,
    serving,
)

pytestmark = pytest.mark.integration

HTML = {"Accept": "text/html,application/xhtml+xml"}


@pytest.fixture(scope="module")
async def world(prepared, tmp_path_factory) -> AsyncIterator[QueryWorld]:  # type: ignore[no-untyped-def]
    w = await build_world(prepared, "qpages")
    w.settings = w.settings.model_copy(update={"preview_cache_dir": tmp_path_factory.mktemp("previews")})
    try:
        warning = CheckResult(
            code="USE-FORMAT-PDFA",
            property=Property.USABILITY,
            outcome=Outcome.WARN,
            file_name="申请书.pdf",
            reason_zh="不是PDF/A",
            reason_en="not PDF/A",
        )
        w.archived["own"] = await archive_record(
            w.settings, w.store, w.index, sample_record("QPAGE-001", applicant=PERSON), sharing="02", warnings=[warning]
        )
        w.archived["secret"] = await archive_record(
            w.settings, w.store, w.index, sample_record("QPAGE-003", title="不予共享的许可"), sharing="03"
        )
        other = sample_record("QPAGE-OTHER", platform=OTHER_PLATFORM, title="其他平台的许可")
        w.archived["other"] = await archive_record(w.settings, w.store, w.index, other, sharing="01")
        w.archived["victim"] = await archive_record(
            w.settings, w.store, w.index, sample_record("QPAGE-VICTIM", title="将被损坏的档案包"), sharing="01"
        )
        await create_keys(w)
        async with serving(w.settings) as url:
            w.base_url = url
            yield w
    finally:
        await w.index.close()


async def test_the_record_page_answers_404_outside_the_scope_as_the_api_does(world):
    cases = [("platform", "other"), ("supervision", "secret")]
    for role, label in cases:
        key = world.case_key(label)
        async with world.client(world.keys[role]) as client:
            api = await client.get(f"/api/v1/records/{key}")
            page = await client.get(f"/records/{key}", headers=HTML)
        assert (api.status_code, page.status_code) == (404, 404), (role, label)
        assert 'data-testid="page-error"' in page.text and 'data-status="404"' in page.text
        assert api.json()["detail"] in page.text.replace("&#x27;", "'")  # the same words
        assert key not in page.text.split("page-error", 1)[0]  # nothing of the record but its key in the refusal
    async with world.client(world.keys["supervision"]) as client:  # and the page a key may see
        page = await client.get(f"/records/{world.case_key('own')}", headers=HTML)
    assert page.status_code == 200 and f'data-case-key="{world.case_key("own")}"' in page.text
    assert 'data-caller-role="supervision"' in page.text and 'data-may-act="false"' in page.text


async def test_a_role_without_the_permission_gets_a_page_saying_so(world):
    async with world.client(world.keys["supervision"]) as client:
        page = await client.get("/queues", headers=HTML)
        api = await client.get("/api/v1/reviews")
    assert (page.status_code, api.status_code) == (403, 403)
    assert "queues.read" in page.text and 'data-status="403"' in page.text


async def test_the_detail_has_every_check_result_retention_end_and_lock(world):
    async with world.client(world.keys["auditor"]) as client:
        body = (await client.get(f"/api/v1/records/{world.case_key('own')}")).json()
    results = body["checks"]["results"]
    assert body["checks"]["results_unavailable"] is None
    assert [(r["code"], r["file_name"], r["outcome"]) for r in results] == [  # every check the case carried
        ("AUTH-DIGEST-SHA256", None, "pass"),  # a pass, which the index does not keep
        ("USE-FORMAT-PDFA", "申请书.pdf", "warn"),
    ]
    assert [w["code"] for w in body["checks"]["warnings"]] == ["USE-FORMAT-PDFA"]
    completed = body["completed_at"][:10]
    assert body["retention"] == "D10" and body["retention_ends"][:4] == str(int(completed[:4]) + 10)
    assert body["package"]["retention_mode"] == "COMPLIANCE"
    # The lock ends at completion + 10 years; retention_ends is that day in China Standard Time, so the
    # comparison is in China time (in UTC the lock's date is the day before for a completion after 16:00 UTC).
    lock_day = datetime.fromisoformat(body["package"]["retain_until"]).astimezone(CHINA_STANDARD_TIME).date()
    assert lock_day.isoformat() >= body["retention_ends"]


async def _preview(world: QueryWorld, role: str, label: str, seq: int = 2, **params: str):
    async with world.client(world.keys[role]) as client:
        return await client.get(f"/api/v1/records/{world.case_key(label)}/files/{seq}/preview", params=params)


async def test_a_page_image_is_rendered_from_the_verified_file_and_cached_by_digest(world):
    answer = await _preview(world, "auditor", "own", width="320")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/png" and answer.headers["x-page-count"] == "1"  # a PDF page
    with Image.open(io.BytesIO(answer.content)) as image:
        assert image.width == 320
    async with world.client(world.keys["auditor"]) as client:
        sha256 = (await client.get(f"/api/v1/records/{world.case_key('own')}")).json()["files"][1]["sha256"]
    cache = PreviewCache(world.settings.preview_cache_dir, world.settings.preview_cache_max_bytes)
    assert await cache.get(sha256, 1, 320) == (answer.content, 1)
    assert (await _preview(world, "auditor", "own", page="2")).status_code == 422  # a one-page PDF
    not_a_pdf = await _preview(world, "auditor", "own", seq=1)  # random bytes named .pdf
    assert not_a_pdf.status_code == 422 and "does not open" in not_a_pdf.json()["detail"]
    refused = await _preview(world, "operator", "own")
    assert refused.status_code == 403 and "files.download" in refused.json()["detail"]
    assert (await _preview(world, "platform", "other")).status_code == 404


async def test_no_page_image_is_made_from_bytes_that_fail_their_digest(world):
    """The index says one digest, the package holds other bytes: no image, a 502, a failed fixity check."""
    case_key = world.case_key("victim")
    wrong = hashlib.sha256(b"other bytes").hexdigest()
    await world.sql("UPDATE record_files SET sha256=$2 WHERE case_key=$1 AND seq=2", case_key, wrong)
    answer = await _preview(world, "auditor", "victim")
    # Both copies hold those bytes: neither verifies (routes/files.py reads the other copy first).
    assert answer.status_code == 502 and "cannot be read from the archive" in answer.json()["detail"]
    failures = await _fixity_failures(world, case_key)
    assert failures and all("SHA-256 of the bytes read from the" in f["reason"] for f in failures)
    cache = PreviewCache(world.settings.preview_cache_dir, world.settings.preview_cache_max_bytes)
    assert await cache.get(wrong, 1, 480) is None


async def test_a_reviews_choices_come_from_the_schedule(world):
    rec = sample_record("QPAGE-REVIEW").model_copy(update={"item_code": "XK-SCJG-001"})
    case = await queue_for_review(world, rec, "test")
    schedule_version = load_schedule_file(bundled_schedule_file()).version
    async with world.client(world.keys["operator"]) as client:
        choices = (await client.get(f"/api/v1/reviews/{case.case_key}/choices")).json()
        missing = await client.get("/api/v1/reviews/market-regulation/NO-SUCH/r1/choices")
    assert choices["schedule_version"] == schedule_version
    assert choices["rules"][0]["covers_item"] and choices["rules"][0]["item"] in ("XK-SCJG-001", "XK-SCJG-*")
    assert missing.status_code == 404
    async with world.client(world.keys["platform"]) as client:  # the case is market-regulation's
        assert (await client.get(f"/api/v1/reviews/{case.case_key}/choices")).status_code == 200


async def test_logging_out_returns_to_the_page_which_asks_for_a_key(world):
    async with world.client(None, follow_redirects=False) as client:
        client.cookies.set("aa_key", world.keys["auditor"])
        out = await client.post("/logout", data={"next": "/records?q=云栖"})
        assert out.status_code == 303 and unquote(out.headers["location"]) == "/records?q=云栖"
        away = await client.post("/logout", data={"next": "https://elsewhere.example/"})
        assert away.headers["location"] == "/dashboard"  # never off this service
