"""The four steps chained in memory with fakes: what each emits, and that redelivery changes nothing."""

import hashlib
from weakref import WeakKeyDictionary

import pytest

from contracts.v1 import (
    ArchivedEvent,
    CapturedEvent,
    ClassifiedEvent,
    RejectedEvent,
    ValidatedEvent,
    topics,
)
from services.capture.domain import neutralise_file_name
from services.classification.config import bundled_schedule_file
from services.classification.domain import OrganisationCodes, format_archival_code
from services.classification.schedule import load_schedule_file
from services.common.series import Series
from tests.factories import completed_event, material, platform_event, record
from tests.fakes import (
    InMemoryClassificationStore,
    InMemoryIndex,
    InMemoryObjectStore,
    capture_step,
    classification_step,
    fixity_validation_step,
    storage_step,
)

pytestmark = pytest.mark.unit

PDF = b"%PDF-1.7 approval decision"
ORGANISATIONS = OrganisationCodes(platforms={"market-regulation": "SCJG"}, departments={"ZJJ-DEPT": "ZJJ"})
SCAN = b"\xff\xd8\xff\xe0 scanned page"
# Classification follows the bundled retention schedule; expected codes take its decision for record().
SCHEDULE = load_schedule_file(bundled_schedule_file())
_RULE = SCHEDULE.evaluate(record())
assert _RULE is not None, "the bundled schedule classifies the sample record"
RET = _RULE.retention.value
_classification_stores: WeakKeyDictionary = WeakKeyDictionary()  # one classification store per test index


async def _run_all(event, store, index):  # type: ignore[no-untyped-def]
    """The four services as their composition roots build them, on fakes, chained in memory."""
    capture = await capture_step(store)
    [captured] = await capture(platform_event(event))
    if captured.topic != topics.CAPTURED:
        return captured
    validate = await fixity_validation_step(store)
    [validated] = await validate(CapturedEvent.model_validate(captured.event.model_dump()))
    if validated.topic != topics.VALIDATED:
        return validated
    classify = await classification_step(
        _classification_stores.setdefault(index, InMemoryClassificationStore()), SCHEDULE, ORGANISATIONS
    )
    [classified] = await classify(ValidatedEvent.model_validate(validated.event.model_dump()))
    archive = await storage_step(store, index)
    [archived] = await archive(ClassifiedEvent.model_validate(classified.event.model_dump()))
    return archived


async def test_a_good_case_is_archived_as_a_bag_with_its_files_and_digests():
    store, index = InMemoryObjectStore(), InMemoryIndex()
    rec = record(materials=[material(PDF), material(SCAN, name="营业执照.jpg")])
    out = await _run_all(completed_event(rec), store, index)
    assert out.topic == topics.ARCHIVED
    archived = ArchivedEvent.model_validate(out.event.model_dump())
    assert archived.data.classification.archival_code == f"Z109-XK·2026-{RET}-SCJG-0001"
    assert archived.correlationid == f"corr-{rec.case_number}"
    # One package object per case: a tar of the BagIt bag (docs/packages.md).
    from services.storage.bag import read_package

    assert set(store.buckets["archive"]) == {archived.data.package.key}
    package = read_package(store.buckets["archive"][archived.data.package.key][0])
    assert {"bagit.txt", "manifest-sha256.txt", "tagmanifest-sha256.txt", "bag-info.txt", "archive-record.json"} <= set(
        package.tag_files
    )
    manifest = package.tag_files["manifest-sha256.txt"].decode()
    assert f"{hashlib.sha256(PDF).hexdigest()}  data/result/001-决定书.pdf" in manifest
    assert f"{hashlib.sha256(SCAN).hexdigest()}  data/result/002-营业执照.jpg" in manifest
    assert archived.data.package.manifest_sha256 == hashlib.sha256(manifest.encode()).hexdigest()
    assert index.records[rec.case_key][0]["archival_code"] == archived.data.classification.archival_code


async def test_a_wrong_declared_digest_is_rejected_back_to_the_platform_with_the_reason():
    store, index = InMemoryObjectStore(), InMemoryIndex()
    rec = record(materials=[material(PDF, declared_sha256="a" * 64)])
    out = await _run_all(completed_event(rec), store, index)
    assert out.topic == topics.REJECTED
    rejected = RejectedEvent.model_validate(out.event.model_dump())
    assert [f.code for f in rejected.data.failures] == ["AUTH-DIGEST-SHA256"]
    assert rejected.data.failures[0].details == {"declared": "a" * 64, "computed": hashlib.sha256(PDF).hexdigest()}
    assert "摘要" in rejected.data.failures[0].reason_zh
    assert index.records == {}


async def test_a_wrong_declared_size_is_rejected():
    store, index = InMemoryObjectStore(), InMemoryIndex()
    out = await _run_all(completed_event(record(materials=[material(PDF, declared_size=5)])), store, index)
    assert [f.code for f in out.event.data.failures] == ["AUTH-SIZE"]


async def test_undecodable_inline_content_is_rejected_at_capture():
    store, index = InMemoryObjectStore(), InMemoryIndex()
    bad = {**material(PDF), "content_base64": "%%% not base64 %%%"}
    out = await _run_all(completed_event(record(materials=[bad])), store, index)
    assert out.topic == topics.REJECTED
    assert out.event.data.stage == "capture"
    assert [f.code for f in out.event.data.failures] == ["CAP-INLINE-BASE64"]


async def test_redelivering_a_case_changes_nothing_and_re_emits_the_same_archived_event():
    store, index = InMemoryObjectStore(), InMemoryIndex()
    first = await _run_all(completed_event(record(), event_id="e-1"), store, index)
    puts = store.puts
    again = await _run_all(completed_event(record(), event_id="e-1"), store, index)  # a redelivery
    assert store.puts == puts, "a redelivered case must not write objects again"
    resent = await _run_all(completed_event(record(), event_id="e-2"), store, index)  # the platform resends
    assert store.puts == puts + 1, "only the resent event itself is kept beside the first one"
    assert again.event.id == resent.event.id == first.event.id
    assert again.event.model_dump() == resent.event.model_dump() == first.event.model_dump()
    assert len(index.records) == 1


async def test_item_numbers_continue_within_a_series_and_restart_in_another():
    store, index = InMemoryObjectStore(), InMemoryIndex()
    codes = []
    for n in range(1, 4):
        out = await _run_all(completed_event(record(case_number=f"SCJG-2026-{n:06d}")), store, index)
        codes.append(out.event.data.classification.archival_code)
    other = await _run_all(completed_event(record(case_number="ZJ-1", department_code="ZJJ-DEPT")), store, index)
    assert codes == [f"Z109-XK·2026-{RET}-SCJG-000{n}" for n in (1, 2, 3)]
    assert other.event.data.classification.archival_code == f"Z109-XK·2026-{RET}-ZJJ-0001"


def test_archival_code_follows_da_t_22():
    series = Series("Z109", "WS", 2011, "Y", "BGS")
    assert format_archival_code(series, 1) == "Z109-WS·2011-Y-BGS-0001"
    with pytest.raises(ValueError):
        format_archival_code(series, 0)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("a\x00b\nc.pdf", "a_b_c.pdf"),
        ("..", "file"),
        ("决定书.pdf", "决定书.pdf"),
        ("C:\\temp\\x.pdf", "x.pdf"),
        ("dir/", "file"),
        (".hidden", "hidden"),
    ],
)
def test_file_names_are_neutralised(name, expected):
    assert neutralise_file_name(name) == expected


def test_the_progress_journal_reads_case_keys_and_keeps_what_a_platform_needs_of_each_state():
    from services.common.adapters.case_progress import case_of_subject, details_of

    assert case_of_subject("market-regulation/SCJG/2026/7/r12") == ("market-regulation", "SCJG/2026/7", 12)
    assert case_of_subject("dlq:topic:0:1") is None and case_of_subject(None) is None
    failure = {"code": "AUTH-META-USCC", "reason_zh": "错", "reason_en": "wrong", "file_name": None, "details": {}}
    assert details_of(topics.REJECTED, {"stage": "validation", "failures": [failure]}) == {
        "stage": "validation",
        "reasons": [{"code": "AUTH-META-USCC", "reason_zh": "错", "reason_en": "wrong", "file_name": None}],
    }
    archived = {
        "classification": {"archival_code": "Z109-XK·2026-D30-SCJG-0001"},
        "package": {"manifest_sha256": "ab" * 32, "key": "k.tar"},
        "supersedes": None,
    }
    assert details_of(topics.ARCHIVED, archived)["archival_code"] == "Z109-XK·2026-D30-SCJG-0001"
