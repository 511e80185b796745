"""The archival package: one tar of a BagIt bag that the Library of Congress validator accepts, with the
national (DA/T 48 EEP) description, SM3 digests, PREMIS events and the retention of the object."""

from __future__ import annotations

import hashlib
import io
import tarfile
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import bagit
import pytest

from contracts.v1 import (
    ArchivedEvent,
    CapturedFile,
    CheckResult,
    Classification,
    ClassifiedCase,
    ClassifiedEvent,
    ObjectRef,
    Outcome,
    Property,
    RetentionPeriod,
    Stage,
    topics,
)
from services.common.faults import InvalidInput
from services.storage import bag, domain
from services.storage.index_rows import rows_of
from tests.factories import record
from tests.fakes import InMemoryIndex, InMemoryObjectStore, storage_step

pytestmark = pytest.mark.unit

PDF = b"%PDF-1.7 approval decision " * 40
FORM = b"%PDF-1.7 application form"
SCAN = b"\xff\xd8\xff\xe0 scanned page" * 30
NOW = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)


def _file(stage: Stage, name: str, data: bytes, n: int) -> CapturedFile:
    digest = hashlib.sha256(data).hexdigest()
    return CapturedFile(
        stage=stage,
        material_name={"application": "申请书", "process": "营业执照复印件", "result": "准予许可决定书"}[stage.value],
        file_name=name,
        original_file_name=name,
        media_type="application/pdf" if name.endswith(".pdf") else "image/jpeg",
        declared_size=len(data),
        declared_sha256=digest,
        size=len(data),
        sha256=digest,
        stored=ObjectRef(bucket="staging", key=f"case/{n:03d}-{digest}"),
    )


def _check(code: str, outcome: Outcome = Outcome.PASS, prop: Property = Property.AUTHENTICITY) -> CheckResult:
    return CheckResult(code=code, property=prop, outcome=outcome)


async def _classified(
    store: InMemoryObjectStore,
    *,
    retention: RetentionPeriod = RetentionPeriod.THIRTY_YEARS,
    checks: list[CheckResult] | None = None,
    case_number: str = "SCJG-2026-000001",
) -> ClassifiedEvent:
    await store.ensure_bucket("staging")
    contents = [
        (Stage.APPLICATION, "申请书.pdf", FORM),
        (Stage.PROCESS, "营业执照.jpg", SCAN),
        (Stage.RESULT, "决定书.pdf", PDF),
    ]
    files = [_file(stage, name, data, n) for n, (stage, name, data) in enumerate(contents)]
    for f, (_, _, data) in zip(files, contents, strict=True):
        await store.put_bytes("staging", f.stored.key, data, content_type=f.media_type)
    case = record(case_number=case_number).metadata()
    code = f"Z109-XK·2026-{retention.value}-SCJG-0001"
    classified = ClassifiedCase(
        case=case,
        files=files,
        checks=checks if checks is not None else [_check("AUTH-DIGEST-SHA256"), _check("AUTH-SIZE")],
        classification=Classification(
            fonds_code="Z109",
            category_code="XK",
            class_code="XK",
            year=2026,
            retention=retention,
            organisation_code="SCJG",
            item_number=1,
            archival_code=code,
            security_level="公开",
            sharing_level="02",
            rule_id="default",
            schedule_version="0-default",
        ),
        classified_at=NOW - timedelta(seconds=1),
        captured_at=NOW - timedelta(seconds=3),
        validated_at=NOW - timedelta(seconds=2),
    )
    return ClassifiedEvent(
        id="classified-1",
        source="urn:approval-archive:classification",
        type=topics.CLASSIFIED,
        time=NOW,
        subject=case.case_key,
        correlationid=f"corr-{case.case_number}",
        data=classified,
    )


async def _store(store, index, event):  # type: ignore[no-untyped-def]
    [out] = await (await storage_step(store, index, clock=lambda: NOW))(event)
    assert out.topic == topics.ARCHIVED
    return ArchivedEvent.model_validate(out.event.model_dump())


async def test_one_case_is_one_tar_object_that_bagit_python_validates(tmp_path):
    store, index = InMemoryObjectStore(), InMemoryIndex()
    archived = await _store(store, index, await _classified(store))
    package = archived.data.package
    assert package.key == "market-regulation/SCJG-2026-000001/r1/market-regulation_SCJG-2026-000001_r1.tar"
    assert set(store.buckets["archive"]) == {package.key}, "one object per package"
    data = store.buckets["archive"][package.key][0]
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        names = tar.getnames()
        tar.extractall(tmp_path, filter="data")
    assert {n.split("/", 1)[0] for n in names} == {"market-regulation_SCJG-2026-000001_r1"}
    bag_dir = tmp_path / "market-regulation_SCJG-2026-000001_r1"
    loc_bag = bagit.Bag(str(bag_dir))
    loc_bag.validate()  # the Library of Congress validator: manifests, tag manifest, Payload-Oxum
    assert set(loc_bag.payload_files()) == {
        "data/application/001-申请书.pdf",
        "data/process/002-营业执照.jpg",
        "data/result/003-决定书.pdf",
    }
    assert (bag_dir / "data/result/003-决定书.pdf").read_bytes() == PDF
    assert package.manifest_sha256 == hashlib.sha256((bag_dir / "manifest-sha256.txt").read_bytes()).hexdigest()
    assert loc_bag.info["External-Identifier"] == "Z109-XK·2026-D30-SCJG-0001"


async def test_the_bag_describes_itself_record_sm3_eep_and_preservation_events():
    store, index = InMemoryObjectStore(), InMemoryIndex()
    checks = [_check("AUTH-DIGEST-SHA256"), _check("SEC-VIRUS-CLAMAV", prop=Property.SECURITY)]
    archived = await _store(store, index, await _classified(store, checks=checks))
    package = bag.read_package(store.buckets["archive"][archived.data.package.key][0])

    document = package.record
    assert document["case"]["case_title"] == "杭州云栖科技有限公司设立登记"
    assert [f["sm3"] for f in document["files"]] == [hashlib.new("sm3", d).hexdigest() for d in (FORM, SCAN, PDF)]
    assert document["archived_event"]["id"] == archived.id

    eep = ET.fromstring(package.tag_files["metadata/eep.xml"])
    assert eep.tag == "电子文件封装包"
    content = eep.find("被签名对象/封装内容")
    assert [child.tag for child in content] == ["文件实体块", "业务实体块", "机构人员实体块"]
    assert content.findtext("文件实体块/文件实体/档号/档号全文") == "Z109-XK·2026-D30-SCJG-0001"
    digests = content.findall("文件实体块/文件实体/文件数据/文档/文档数据/编码/电子属性/数字摘要[@算法='SM3']")
    assert [d.text for d in digests] == [hashlib.new("sm3", d).hexdigest() for d in (FORM, SCAN, PDF)]

    events = {e.type: e for e in package.events}
    assert list(events) == [
        "capture",
        "message digest calculation",
        "virus check",
        "format identification",
        "validation",
        "classification",
        "information package creation",
    ]
    assert events["virus check"].outcome == "success"
    assert events["format identification"].outcome == "not performed", "a check not run is never reported as passed"
    assert events["capture"].time == (NOW - timedelta(seconds=3)).isoformat()
    assert events["capture"].type_uri == "http://id.loc.gov/vocabulary/preservation/eventType/cap"
    assert events["information package creation"].agent == "urn:approval-archive:storage"
    assert all(e.time for e in package.events)


async def test_retention_is_completion_plus_the_period_and_permanent_is_a_far_date_with_a_legal_hold():
    completed = datetime(2026, 3, 5, 1, 30, tzinfo=UTC)
    assert domain.retention_lock(RetentionPeriod.TEN_YEARS, completed, NOW) == domain.RetentionLock(
        datetime(2036, 3, 5, 1, 30, tzinfo=UTC), legal_hold=False
    )
    assert domain.retention_lock(RetentionPeriod.THIRTY_YEARS, completed, NOW).retain_until.year == 2056
    assert domain.retention_lock(RetentionPeriod.PERMANENT, completed, NOW) == domain.RetentionLock(
        datetime(9999, 12, 31, tzinfo=UTC), legal_hold=True
    )
    leap = datetime(2024, 2, 29, tzinfo=UTC)
    assert domain.retention_lock(RetentionPeriod.TEN_YEARS, leap, NOW).retain_until == datetime(2034, 2, 28, tzinfo=UTC)
    long_ago = datetime(2001, 1, 1, tzinfo=UTC)  # back-filled: the period ran out before archiving
    assert domain.retention_lock(RetentionPeriod.TEN_YEARS, long_ago, NOW).retain_until == NOW + timedelta(days=1)


async def test_the_package_object_gets_its_retention_and_the_event_says_so():
    store, index = InMemoryObjectStore(), InMemoryIndex()
    archived = await _store(store, index, await _classified(store, retention=RetentionPeriod.PERMANENT))
    key = archived.data.package.key
    assert store.retention[("archive", key)] == (datetime(9999, 12, 31, tzinfo=UTC), True)
    assert archived.data.package.legal_hold is True
    assert archived.data.package.retain_until == datetime(9999, 12, 31, tzinfo=UTC)


async def test_index_rows_locate_every_file_inside_the_tar_for_a_ranged_read():
    store, index = InMemoryObjectStore(), InMemoryIndex()
    archived = await _store(store, index, await _classified(store))
    key = archived.data.package.key
    data = store.buckets["archive"][key][0]
    rows = rows_of(bag.read_package(data), bucket="archive", key=key, version_id="v1")
    for row, content in zip(rows.files, (FORM, SCAN, PDF), strict=True):
        assert data[row["byte_offset"] : row["byte_offset"] + row["size"]] == content
        assert row["object_key"] == key and row["sm3"] == hashlib.new("sm3", content).hexdigest()
    assert rows.record["package_sha256"] == hashlib.sha256(data).hexdigest()
    assert rows.record["archival_code"] == rows.code["archival_code"] == "Z109-XK·2026-D30-SCJG-0001"
    assert [e["event_type"] for e in rows.events][-1] == "information package creation"
    # the step adds the version of the replica's copy (the package itself names no site)
    assert index.records[archived.subject][0] == {**rows.record, "replica_version_id": "v1"}


async def test_a_package_stored_by_an_interrupted_attempt_is_indexed_as_stored_not_written_again():
    store = InMemoryObjectStore()
    event = await _classified(store)
    first = await _store(store, InMemoryIndex(), event)
    puts = store.puts
    # The index never got the row (crash after the PUT): a redelivery, later, with a fresh index.
    index = InMemoryIndex()
    [out] = await (await storage_step(store, index, clock=lambda: NOW + timedelta(hours=1)))(event)
    assert store.puts == puts, "the write-once object is not written twice"
    assert out.event.model_dump() == first.model_dump(), "the stored package's archived event is announced"


async def test_fixity_verification_names_the_altered_file():
    store, index = InMemoryObjectStore(), InMemoryIndex()
    archived = await _store(store, index, await _classified(store))
    data = bytearray(store.buckets["archive"][archived.data.package.key][0])
    package = bag.read_package(bytes(data))
    assert bag.verify(package) == []
    offset = package.members["data/process/002-营业执照.jpg"].offset
    data[offset + 5] ^= 0xFF
    problems = bag.verify(bag.read_package(bytes(data)))
    assert problems == ["data/process/002-营业执照.jpg: SHA-256 differs from manifest-sha256.txt"]
    with pytest.raises(bag.PackageUnreadable):
        bag.read_package(b"not a tar at all" * 100)


async def test_the_fixity_check_of_a_copy_streams_it_and_names_the_altered_file(tmp_path):
    """Issue 18: the audit's read of a copy goes through get_into into a scratch file — a package is never
    whole in memory (get_bytes on the archive bucket fails the test) — and still finds the damage."""
    from services.storage import fixity
    from services.storage.copies import PRIMARY, Site

    class NoWholeReads(InMemoryObjectStore):
        async def get_bytes(self, bucket, key, *, version_id=None):  # type: ignore[no-untyped-def]
            assert bucket != "archive", "a package was read whole"
            return await super().get_bytes(bucket, key, version_id=version_id)

        async def get_into(self, bucket, key, out, *, version_id=None):  # type: ignore[no-untyped-def]
            data = self.buckets[bucket][key][0]
            for at in range(0, len(data), 4096):  # in chunks, as the real adapter streams
                out.write(data[at : at + 4096])
            return len(data)

    store, index = NoWholeReads(), InMemoryIndex()
    archived = await _store(store, index, await _classified(store))
    key = archived.data.package.key
    data = store.buckets["archive"][key][0]
    row = {
        "case_key": archived.subject,
        "archival_code": archived.data.classification.archival_code,
        "package_bucket": "archive",
        "package_key": key,
        "package_version_id": "v1",
        "package_sha256": hashlib.sha256(data).hexdigest(),
    }
    result, local = await fixity.check_copy(Site(PRIMARY, store), row, scratch=tmp_path)  # type: ignore[arg-type]
    assert result.passed and local is not None and local.read_bytes() == data
    damaged = bytearray(data)
    damaged[bag.read_package(data).members["data/process/002-营业执照.jpg"].offset + 5] ^= 0xFF
    store.buckets["archive"][key] = (bytes(damaged), store.buckets["archive"][key][1])
    result, local = await fixity.check_copy(Site(PRIMARY, store), row, scratch=tmp_path)  # type: ignore[arg-type]
    assert not result.passed and local is None
    assert result.failed_paths == ("data/process/002-营业执照.jpg",)
    assert result.computed_sha256 == hashlib.sha256(damaged).hexdigest()


async def test_a_staged_file_changed_after_validation_is_never_archived():
    store, index = InMemoryObjectStore(), InMemoryIndex()
    event = await _classified(store)
    staged = event.data.files[0].stored
    store.buckets["staging"][staged.key] = (b"tampered", {})
    with pytest.raises(InvalidInput) as caught:
        await (await storage_step(store, index))(event)
    assert caught.value.kind == "FixityMismatch"
    assert not store.buckets.get("archive"), "nothing is archived"


async def test_times_the_pipeline_did_not_carry_are_recorded_as_unknown_not_invented():
    store, index = InMemoryObjectStore(), InMemoryIndex()
    event = await _classified(store)
    event = event.model_copy(update={"data": event.data.model_copy(update={"captured_at": None, "validated_at": None})})
    archived = await _store(store, index, event)
    events = {e.type: e for e in bag.read_package(store.buckets["archive"][archived.data.package.key][0]).events}
    assert events["capture"].time is None and "not carried" in events["capture"].detail
    assert events["virus check"].outcome == "not performed"
    assert events["information package creation"].time == NOW.isoformat()


def test_the_rebuild_indexes_the_version_the_archive_wrote_and_reports_later_ones():
    from services.common.adapters.object_store import ObjectVersion
    from services.storage.rebuild import archived_versions

    key = "p/c-1/r1/p_c-1_r1.tar"
    early, late = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)
    chosen, skipped, shadowed = archived_versions(
        [
            ObjectVersion(key, "forged", 14, late, False),
            ObjectVersion(key, "archived", 4096, early, False),
            ObjectVersion("p/c-2/r1/p_c-2_r1.tar", "only", 4096, early, False),
            ObjectVersion("p/c-3/r1/bagit.txt", "old-layout", 55, early, False),
        ]
    )
    assert {k: v.version_id for k, v in chosen.items()} == {key: "archived", "p/c-2/r1/p_c-2_r1.tar": "only"}
    assert skipped == ["p/c-3/r1/bagit.txt"] and shadowed == [key]


def test_the_rebuild_derives_a_replication_event_for_every_repair_of_either_copy_after_the_packages_own():
    from services.storage.fixity import REPAIR_AGENT, replication_event_id
    from services.storage.index_rows import PackageRows
    from services.storage.rebuild import Repair, repair_events

    key = "p/c-1/r1/p_c-1_r1.tar"
    rows = PackageRows(
        record={"case_key": "p/c-1/r1"},
        files=[],
        events=[{"seq": 1}, {"seq": 8}],
        code={},
        archived_event={},
    )
    early, late = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)
    events = repair_events(
        rows,
        "archive",
        key,
        {"primary": [Repair("p-2", "p-1", late)], "replica": [Repair("r-2", "missing", early)]},
    )
    assert [(e["seq"], e["event_time"]) for e in events] == [(9, early), (10, late)], "oldest first, after seq 8"
    replica, primary = events
    assert primary["event_id"] == replication_event_id("p/c-1/r1", "primary", "p-2")
    assert {e["event_type"] for e in events} == {"replication"} and {e["agent"] for e in events} == {REPAIR_AGENT}
    assert "the primary copy was rewritten from the replica copy as version p-2" in primary["detail"]
    assert "repair of version p-1" in primary["detail"]
    assert "the replica copy was rewritten from the primary copy" in replica["detail"]
    assert "it was missing" in replica["detail"]
    assert repair_events(rows, "archive", key, {"primary": [], "replica": []}) == []


async def test_a_correction_of_an_archived_case_is_a_package_of_its_own_naming_what_it_supersedes():
    store, index = InMemoryObjectStore(), InMemoryIndex()
    first = await _store(store, index, await _classified(store))
    event = await _classified(store)
    data = event.data
    case = data.case.model_copy(update={"revision": 2})
    classification = data.classification.model_copy(
        update={"item_number": 2, "archival_code": data.classification.archival_code[:-4] + "0002"}
    )
    second_event = event.model_copy(
        update={
            "id": "classified-2",
            "subject": case.case_key,
            "data": data.model_copy(update={"case": case, "classification": classification}),
        }
    )
    second = await _store(store, index, second_event)
    assert first.data.supersedes is None
    assert second.data.supersedes is not None
    assert (second.data.supersedes.case_key, second.data.supersedes.revision) == (first.subject, 1)
    assert second.data.supersedes.archival_code == first.data.classification.archival_code
    assert second.data.package.key != first.data.package.key
    tags = bag.read_package(store.buckets["archive"][second.data.package.key][0]).tag_files
    assert first.subject in tags[domain.RECORD_TAG_FILE].decode()  # the package says it too


async def test_every_signature_verdict_is_a_premis_digital_signature_validation_event():
    from contracts.v1 import SignatureStatus, SignatureVerdict
    from services.storage.preservation import case_events

    store = InMemoryObjectStore()
    plain = (await _classified(store)).data
    signatures = [
        SignatureVerdict(
            file_name="申请书.pdf",
            field_name="Signature1",
            kind="signature",
            status=SignatureStatus.VALID_UNTRUSTED,
            signer="自签名 电子签章（测试）",
            subject="CN=自签名 电子签章（测试）",
            fingerprint_sha256="ab" * 32,
            timestamp="none",
        ),
        SignatureVerdict(
            file_name="决定书.ofd", field_name="1", kind="seal", status=SignatureStatus.NOT_VERIFIED, note="present"
        ),
    ]
    signed = plain.model_copy(update={"signatures": signatures})
    events = case_events(signed, ["data/a.pdf"], packaged_at=NOW)
    found = [e for e in events if e.type == "digital signature validation"]
    assert [e.outcome for e in found] == ["warning", "warning"]
    assert "自签名" in found[0].detail and "ab" * 32 in found[0].detail and "valid_untrusted" in found[0].detail
    assert "seal 1 of 决定书.ofd: not_verified" in found[1].detail
    order = [e.type for e in events]
    assert order.index("validation") < order.index("digital signature validation") < order.index("classification")
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert not any(e.type == "digital signature validation" for e in case_events(plain, [], packaged_at=NOW))


async def test_the_pronom_identifier_validation_found_goes_into_premis_and_the_index():
    """USAB-FORMAT's details carry each file's PUID (FIDO); the package's PREMIS "format identification"
    event names them and the index's file rows keep them (record_files.format_puid). Before issue 12 the
    event looked for a code no check has (USE-FORMAT) and always said "not performed"."""
    store, index = InMemoryObjectStore(), InMemoryIndex()
    puids = {"申请书.pdf": "fmt/17", "营业执照.jpg": "fmt/43", "决定书.pdf": "fmt/18"}
    checks = [
        CheckResult(
            code="USAB-FORMAT",
            property=Property.USABILITY,
            outcome=Outcome.PASS,
            file_name=name,
            details={"identified": "pdf", "puid": puid, "pronom": "-"},
        )
        for name, puid in puids.items()
    ]
    archived = await _store(store, index, await _classified(store, checks=checks))
    package = bag.read_package(store.buckets["archive"][archived.data.package.key][0])
    event = next(e for e in package.events if e.type == "format identification")
    assert event.outcome == "success"
    assert all(f"{name}: {puid}" in event.detail for name, puid in puids.items()), event.detail
    rows = rows_of(package, bucket="archive", key=archived.data.package.key, version_id=None)
    assert {r["file_name"]: r["format_puid"] for r in rows.files} == puids
