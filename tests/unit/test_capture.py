"""The capture step with fakes: authentication, replays, dialect mapping, files inline and by URL."""

import hashlib
import json

import pytest

from contracts.v1 import CapturedEvent, RejectedEvent, topics
from samples.dialects import render
from samples.generator import generate_cases
from services.capture.authentication import Verdict, sign, verify
from tests.factories import PLATFORM_SECRET, completed_event, material, platform_event, record
from tests.fakes import InMemoryObjectStore, InMemoryQuarantine, capture_step

pytestmark = pytest.mark.unit

PDF = b"%PDF-1.7 licence"


def _codes(out) -> list[str]:  # type: ignore[no-untyped-def]
    assert out.topic == topics.REJECTED, f"expected a rejection, got {out.topic}"
    return [f.code for f in RejectedEvent.model_validate(out.event.model_dump()).data.failures]


async def test_a_signed_unified_event_is_captured_with_its_source_event_kept():
    store = InMemoryObjectStore()
    event = platform_event(completed_event(record(materials=[material(PDF)])))
    [out] = await (await capture_step(store))(event)
    captured = CapturedEvent.model_validate(out.event.model_dump()).data
    assert out.topic == topics.CAPTURED
    assert captured.source_dialect == "unified/v1"
    [file] = captured.files
    assert (file.sha256, file.sm3) == (hashlib.sha256(PDF).hexdigest(), hashlib.new("sm3", PDF).hexdigest())
    kept = json.loads(store.buckets["staging"][captured.source_event.key][0])
    assert kept["platformsig"] == event.platformsig and kept["data"] == event.data


async def test_unknown_platform_missing_and_bad_signatures_are_rejected_to_the_platform():
    store = InMemoryObjectStore()
    capture = await capture_step(store)
    stranger = platform_event(source="urn:approval-platform:nobody")
    unsigned = platform_event().model_copy(update={"platformsig": None})
    wrong_key = platform_event(secret="not-the-secret")
    tampered = platform_event().model_copy(update={"data": {**platform_event().data, "case_title": "改过的标题"}})
    assert _codes((await capture(stranger))[0]) == ["AUTH-PLATFORM-UNKNOWN"]
    for bad, verdict in ((unsigned, "missing"), (wrong_key, "mismatch"), (tampered, "mismatch")):
        [out] = await capture(bad)
        assert _codes(out) == ["AUTH-SIGNATURE"]
        assert out.event.data.failures[0].details["verdict"] == verdict
        assert PLATFORM_SECRET not in out.event.model_dump_json()
    assert store.buckets.get("staging", {}) == {}, "nothing is stored for an unauthenticated event"


async def test_an_event_id_reused_for_other_content_is_refused_and_a_plain_replay_is_not():
    capture = await capture_step(InMemoryObjectStore())
    first = platform_event(completed_event(record(), event_id="evt-1"))
    other = platform_event(completed_event(record(case_number="SCJG-2026-000777"), event_id="evt-1"))
    assert (await capture(first))[0].topic == topics.CAPTURED
    assert (await capture(first))[0].topic == topics.CAPTURED  # replay: same result
    assert _codes((await capture(other))[0]) == ["AUTH-EVENT-ID-REUSED"]


def test_signatures_verify_with_either_secret_during_a_rotation():
    content = {"id": "1", "data": {"标题": "中文", "n": 1.0}}
    signature = sign(content, "old")
    assert verify(content, signature, ["new", "old"]) is Verdict.VALID
    assert verify(content, signature, ["new"]) is Verdict.MISMATCH
    assert verify(content, "sha1=abc", ["old"]) is Verdict.MALFORMED


async def test_a_platform_dialect_is_mapped_and_an_unmappable_record_is_rejected_with_the_field():
    case = generate_cases(1, seed=5)[0]
    platforms = {"scjg": ("scjg-registration/2024", PLATFORM_SECRET)}
    capture = await capture_step(InMemoryObjectStore(), platforms=platforms)
    envelope = completed_event(case.record)
    payload = render(case.record, "scjg-registration/2024")
    good = platform_event(envelope, source="urn:approval-platform:scjg", data=payload)
    [out] = await capture(good)
    captured = CapturedEvent.model_validate(out.event.model_dump()).data
    assert captured.case.source_platform == "scjg"
    assert captured.case.applicant == case.record.applicant
    bad_payload = {**payload, "bjjg": "9"}
    bad = platform_event(envelope, source="urn:approval-platform:scjg", data=bad_payload, id="another-id")
    [out] = await capture(bad)
    assert _codes(out) == ["CAP-MAPPING"]
    assert "result: value '9'" in out.event.data.failures[0].reason_en


async def test_url_materials_are_fetched_and_unreachable_or_oversized_ones_rejected():
    url_ok, url_missing, url_big = "http://files/ok.pdf", "http://files/gone.pdf", "http://files/big.pdf"
    files = {url_ok: PDF, url_big: b"x" * 2048}
    materials = [
        {**material(PDF, name="ok.pdf"), "content_base64": None, "url": url_ok},
        {**material(b"", name="gone.pdf"), "content_base64": None, "url": url_missing},
        {**material(b"x" * 2048, name="big.pdf"), "content_base64": None, "url": url_big},
    ]
    store = InMemoryObjectStore()
    capture = await capture_step(store, files=files, max_case_bytes=1024)
    [out] = await capture(platform_event(completed_event(record(materials=materials))))
    assert _codes(out) == ["CAP-FETCH-UNREACHABLE", "CAP-FETCH-TOO-LARGE"]
    assert "HTTP 404" in out.event.data.failures[0].reason_en


async def test_a_rejected_case_of_an_authenticated_platform_is_quarantined_an_unattributed_event_is_not():
    quarantine = InMemoryQuarantine()
    capture = await capture_step(InMemoryObjectStore(), quarantine=quarantine)
    first = platform_event(completed_event(record(), event_id="evt-q"))
    reused = platform_event(completed_event(record(case_number="SCJG-2026-000778"), event_id="evt-q"))
    forged = platform_event(completed_event(record(case_number="SCJG-2026-000779")), secret="not-the-secret")
    await capture(first)
    [out] = await capture(reused)
    await capture(forged)
    entries = quarantine.entries
    assert list(entries) == [out.event.subject]
    assert (entries[out.event.subject]["stage"], entries[out.event.subject]["status"]) == ("capture", "open")
    assert entries[out.event.subject]["failures"][0]["code"] == "AUTH-EVENT-ID-REUSED"


def test_every_rejection_code_capture_raises_is_declared_in_one_place():
    """tests/e2e/test_rectification.py proves a way out for each declared code; a code raised but not
    declared would escape it."""
    import re
    from pathlib import Path

    import services.capture as capture_package
    from services.capture.domain import CASE_REJECTIONS, REJECTION_CODES, UNATTRIBUTED_REJECTIONS

    raised = set()
    for path in Path(capture_package.__file__).parent.rglob("*.py"):
        raised |= set(re.findall(r'"((?:CAP|AUTH)-[A-Z0-9-]+)"', path.read_text(encoding="utf-8")))
    assert raised == set(REJECTION_CODES)
    assert not set(CASE_REJECTIONS) & set(UNATTRIBUTED_REJECTIONS)
