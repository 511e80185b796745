"""Checks at preservation time and transfer, without servers: validation's own format and opening checks run
again on archived files (and judge by the item rules as they are now), a package's re-check from the
in-memory store, the register's figures, and the transfer set's own validation (bagit-python + SM3)."""

from __future__ import annotations

import hashlib
import shutil
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import bagit
import pytest

from contracts.v1 import CapturedFile, ObjectRef, Stage
from samples.documents import decision_pdf, scanned_page_jpeg
from services.common.digests import digests_of
from services.storage import domain, revalidation, transfer
from services.storage.domain import PayloadEntry
from services.storage.ports import AuditPackageRow
from services.storage.transfer_register import (
    NAMESPACE,
    Excluded,
    Register,
    RegisterFile,
    RegisterRecord,
    gigabytes,
    register_pdf,
    register_xml,
)
from services.validation.recheck import recheck
from services.validation.rules import ACCEPTED_PUIDS, RuleBook
from tests.factories import record
from tests.fakes import InMemoryIndex, InMemoryObjectStore, storage_step

pytestmark = pytest.mark.unit

NOW = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
PDF = decision_pdf("准予行政许可决定书", ["经审查，准予许可。"], "某市市场监督管理局")
JPEG = scanned_page_jpeg(7, dpi=200)


def _file(name: str, data: bytes, media_type: str) -> CapturedFile:
    digest = hashlib.sha256(data).hexdigest()
    return CapturedFile(
        stage=Stage.RESULT,
        material_name="准予许可决定书",
        file_name=name,
        original_file_name=name,
        media_type=media_type,
        size=len(data),
        sha256=digest,
        stored=ObjectRef(bucket="archive", key=f"pkg.tar#data/result/{name}"),
    )


def _outcomes(results):  # type: ignore[no-untyped-def]
    return [(r.file_name, r.code, r.outcome.value) for r in results]


def test_the_re_check_runs_validations_own_format_and_opening_checks_on_archived_files() -> None:
    case = record().metadata()
    files = [
        (_file("决定书.pdf", PDF, "application/pdf"), PDF),
        (_file("扫描件.jpg", JPEG, "image/jpeg"), JPEG),
        (_file("截断.pdf", PDF[: len(PDF) // 3], "application/pdf"), PDF[: len(PDF) // 3]),
    ]
    results = recheck(case, files, captured_at=NOW)
    assert _outcomes(results) == [
        ("决定书.pdf", "USAB-EMPTY", "pass"),
        ("决定书.pdf", "USAB-FORMAT", "pass"),
        ("决定书.pdf", "USAB-OPENS", "pass"),
        ("扫描件.jpg", "USAB-EMPTY", "pass"),
        ("扫描件.jpg", "USAB-FORMAT", "pass"),
        ("扫描件.jpg", "USAB-OPENS", "pass"),
        ("截断.pdf", "USAB-EMPTY", "pass"),
        ("截断.pdf", "USAB-FORMAT", "pass"),
        ("截断.pdf", "USAB-OPENS", "fail"),
    ]


def test_a_format_taken_off_the_accepted_list_since_archiving_fails_its_re_check() -> None:
    """The item rules as they are now decide: PDF removed from the accepted PUIDs fails the PDF (it still
    opens: validation judges opening by the format's signature, not the list), while the JPEG still passes."""
    pdf_puids = {"fmt/14", "fmt/15", "fmt/16", "fmt/17", "fmt/18", "fmt/19", "fmt/20", "fmt/276", "fmt/1129"}
    pdf_puids |= {"fmt/95", "fmt/354", "fmt/476", "fmt/477", "fmt/478", "fmt/479", "fmt/480", "fmt/481"}
    narrowed = RuleBook.from_mapping({"defaults": {"accepted_puids": sorted(ACCEPTED_PUIDS - pdf_puids)}})
    case = record().metadata()
    files = [(_file("决定书.pdf", PDF, "application/pdf"), PDF), (_file("扫描件.jpg", JPEG, "image/jpeg"), JPEG)]
    results = recheck(case, files, captured_at=NOW, rules=narrowed)
    checks = revalidation._file_checks(
        results, {"决定书.pdf": "data/result/001-决定书.pdf", "扫描件.jpg": "data/x.jpg"}
    )
    pdf, jpeg = checks
    assert (pdf.format, pdf.opens) == ("fail", "pass")
    assert pdf.reason and "USAB-FORMAT" in pdf.reason and pdf.puid in pdf_puids
    assert (jpeg.format, jpeg.opens, jpeg.reason) == ("pass", "pass", None)


def _register(records: int = 2) -> Register:
    rows = tuple(
        RegisterRecord(
            case_key=f"p/{n}/r1",
            archival_code=f"Z109-XK·2025-Y-SCJG-{n:04d}",
            title=f"第{n}件 食品经营许可",
            year=2025,
            retention="Y",
            category_code="XK",
            department_code="SCJG",
            package_path=f"data/packages/p_{n}_r1.tar",
            package_size=700_000 * n,
            package_sha256=f"{n:064x}",
            package_sm3=f"{n + 100:064x}",
            fixity="pass",
            format="pass",
            opens="pass",
            files=(RegisterFile("data/result/001-决定书.pdf", 1000 * n, "a" * 64, "b" * 64),),
        )
        for n in range(1, records + 1)
    )
    return Register(
        "TS-1", NOW, "tester", "全宗 Z109", "某市档案馆", {"retention": "Y"}, rows, (Excluded("p/9/r1", "Z-9", "x"),)
    )


def test_volume_is_decimal_gigabytes_to_three_decimals_rounded_on_the_byte_count() -> None:
    assert [gigabytes(n) for n in (0, 499_999, 500_000, 1_000_000_000, 1_234_567_890, 2_999_500_000)] == [
        "0.000",
        "0.000",
        "0.001",
        "1.000",
        "1.235",
        "3.000",
    ]


def test_the_register_xml_carries_counts_volume_results_and_both_digests() -> None:
    register = _register()
    root = ET.fromstring(register_xml(register))
    ns = {"r": NAMESPACE}
    assert root.find("r:counts", ns).attrib == {"records": "2", "packages": "2", "files": "2", "excluded": "1"}  # type: ignore[union-attr]
    volume = root.find("r:volume", ns).attrib  # type: ignore[union-attr]
    assert (volume["bytes"], volume["gigabytes"], volume["payloadBytes"]) == ("2100000", "0.002", "3000")
    usability = root.find("r:checkResults/r:property[@name='usability']", ns).attrib  # type: ignore[union-attr]
    assert (usability["passed"], usability["failed"]) == ("2", "0")
    first = root.find("r:records/r:record/r:package", ns)
    assert first is not None
    assert {d.get("algorithm"): d.text for d in first.findall("r:digest", ns)} == {
        "SHA-256": f"{1:064x}",
        "SM3": f"{101:064x}",
    }
    assert [e.get("caseKey") for e in root.findall("r:excluded/r:record", ns)] == ["p/9/r1"]


def test_a_failed_property_is_counted_as_failed_in_the_register() -> None:
    register = _register()
    bad = register.records[1].__class__(**{**register.records[1].__dict__, "opens": "fail"})
    register = Register(**{**register.__dict__, "records": (register.records[0], bad)})
    root = ET.fromstring(register_xml(register))
    usability = root.find(f"{{{NAMESPACE}}}checkResults/{{{NAMESPACE}}}property[@name='usability']")
    assert usability is not None and (usability.get("passed"), usability.get("failed")) == ("1", "1")


def test_the_register_pdf_is_deterministic_and_readable() -> None:
    from io import BytesIO

    from pypdf import PdfReader

    register = _register()
    pdf = register_pdf(register)
    assert pdf == register_pdf(register), "the same register gives the same bytes"
    text = "".join(p.extract_text() for p in PdfReader(BytesIO(pdf)).pages)
    assert "电子档案移交登记表" in text and "0.002 GB" in text and "Z109-XK·2025-Y-SCJG-0002" in text


def _set(folder: Path) -> Path:
    register = _register(1)
    entries = [transfer._write(folder, "data/packages/p_1_r1.tar", b"package bytes" * 100)]
    entries.append(transfer._write(folder, transfer.REGISTER_XML, register_xml(register)))
    transfer._write_tag_files(folder, register, entries)
    return folder


def test_a_written_set_passes_bagit_python_and_the_sm3_manifest(tmp_path: Path) -> None:
    folder = _set(tmp_path / "set")
    bagit.Bag(str(folder)).validate(processes=1)
    assert transfer.verify_set(folder) == []
    info = (folder / "bag-info.txt").read_text(encoding="utf-8")
    assert "Payload-Oxum: " in info and "manifest-sm3.txt" in info and "External-Identifier: TS-1" in info


def test_the_set_validation_finds_a_changed_file_and_a_wrong_sm3(tmp_path: Path) -> None:
    folder = _set(tmp_path / "set")
    changed = tmp_path / "changed"
    shutil.copytree(folder, changed)
    (changed / "data/packages/p_1_r1.tar").write_bytes(b"package bytes" * 99 + b"PACKAGE BYTES")
    problems = transfer.verify_set(changed)
    assert any("p_1_r1.tar" in p and "SM3" in p for p in problems)
    assert any("sha256" in p.lower() for p in problems if "SM3" not in p)

    # Only the SM3 manifest wrong (tag manifest kept consistent): bagit-python passes it, our check does not.
    wrong = tmp_path / "wrong-sm3"
    shutil.copytree(folder, wrong)
    entry = digests_of((wrong / "data/packages/p_1_r1.tar").read_bytes())
    bad = PayloadEntry("data/packages/p_1_r1.tar", entry.sha256, "0" * 64, entry.size)
    xml = (wrong / transfer.REGISTER_XML).read_bytes()
    good_xml = digests_of(xml)
    manifest = domain.manifest_sm3([bad, PayloadEntry(transfer.REGISTER_XML, good_xml.sha256, good_xml.sm3, len(xml))])
    (wrong / "manifest-sm3.txt").write_bytes(manifest)
    tags = {
        n: (wrong / n).read_bytes() for n in ("bagit.txt", "bag-info.txt", "manifest-sha256.txt", "manifest-sm3.txt")
    }
    (wrong / "tagmanifest-sha256.txt").write_bytes(domain.tag_manifest(tags))
    bagit.Bag(str(wrong)).validate(processes=1)
    assert transfer.verify_set(wrong) == ["data/packages/p_1_r1.tar: SM3 differs from manifest-sm3.txt"]


def test_the_centres_copy_is_kept_five_years_after_the_acknowledgement() -> None:
    assert transfer.CENTRE_COPY_YEARS == 5
    assert domain._add_years(datetime(2028, 2, 29, tzinfo=UTC), 5) == datetime(2033, 2, 28, tzinfo=UTC)


class _Recorded:
    """A RevalidationIndex that keeps what it is given."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []

    async def record_revalidation(self, row: dict[str, Any], events: Sequence[dict[str, Any]]) -> None:
        self.rows.append(row)
        self.events.extend(events)


async def _stored_package() -> tuple[InMemoryObjectStore, InMemoryObjectStore, AuditPackageRow]:
    """A package the storage step wrote from test_storage_packages' case: files that say PDF and JPEG in
    their first bytes but do not open (a few bytes repeated)."""
    from tests.unit.test_storage_packages import _classified

    store, replica, index = InMemoryObjectStore(), InMemoryObjectStore(), InMemoryIndex()
    event = await _classified(store)
    await (await storage_step(store, index, clock=lambda: NOW, replica=replica))(event)
    [(row, _, _)] = index.records.values()
    return store, replica, cast(AuditPackageRow, {**row, "replica_version_id": None})


async def test_a_package_whose_files_no_longer_open_fails_its_re_check_with_premis_failure_events() -> None:
    store, replica, row = await _stored_package()
    index = _Recorded()
    check = await revalidation.revalidate(row, store=store, replica=replica, index=index, clock=lambda: NOW)
    assert (check.fixity, check.format, check.opens, check.passed) == ("pass", "pass", "fail", False)
    assert check.data is None, "the bytes of a package that failed are not handed on (not transferred)"
    assert {f.path: f.opens for f in check.files} == {
        "data/application/001-申请书.pdf": "fail",
        "data/process/002-营业执照.jpg": "fail",
        "data/result/003-决定书.pdf": "fail",
    }
    [recorded] = index.rows
    assert (recorded["purpose"], recorded["outcome"], recorded["opens"]) == ("preservation", "fail", "fail")
    assert [(e["event_type"], e["outcome"]) for e in index.events] == [
        ("fixity check", "success"),
        ("validation", "failure"),
    ]
    assert "USAB-OPENS" in index.events[1]["detail"] and "long-term preservation" in index.events[1]["detail"]


async def test_a_package_altered_in_the_store_fails_fixity_and_its_files_are_then_checked_on_no_copy() -> None:
    store, replica, row = await _stored_package()
    bucket, key = row["package_bucket"], row["package_key"]
    for site in (store, replica):  # behind the stores' back: no write-once refusal
        data, metadata = site.buckets[bucket][key]
        flipped = bytearray(data)
        flipped[len(data) // 2] ^= 0xFF
        site.buckets[bucket][key] = (bytes(flipped), metadata)
    check = await revalidation.check_package(store, row, replica=replica)
    assert (check.fixity, check.format, check.opens) == ("fail", "not_run", "not_run")
    assert "primary copy" in (check.reason or "") and "no copy verifies" in (check.reason or "")


class _Scheduled(_Recorded):
    """A ScheduledRevalidationIndex over one stored package: due unless re-checked since `checked_before`."""

    def __init__(self, row: AuditPackageRow, *, locked: bool = False) -> None:
        super().__init__()
        self.row, self.locked = row, locked
        self.asked: list[Any] = []
        self.unlocked = 0

    async def packages_for_revalidation(
        self, *, checked_before: datetime | None = None, limit: int | None = None
    ) -> list[AuditPackageRow]:
        self.asked.append((checked_before, limit))
        return [self.row]

    async def try_lock(self, lock_id: int) -> Any:
        assert lock_id == revalidation.REVALIDATION_LOCK_ID
        return None if self.locked else "conn"

    async def unlock(self, conn: Any, lock_id: int) -> None:
        self.unlocked += 1


async def test_a_scheduled_round_re_checks_the_due_packages_under_the_lock_and_skips_when_another_holds_it() -> None:
    store, replica, row = await _stored_package()
    index = _Scheduled(row)
    await revalidation.scheduled_round(None, store=store, replica=replica, index=index, max_age_days=365, batch=7)  # type: ignore[arg-type]
    [(before, limit)] = index.asked
    assert limit == 7 and before is not None and (datetime.now(UTC) - before).days == 365
    assert [r["case_key"] for r in index.rows] == [row["case_key"]] and index.unlocked == 1

    busy = _Scheduled(row, locked=True)
    await revalidation.scheduled_round(None, store=store, replica=replica, index=busy, max_age_days=365, batch=7)  # type: ignore[arg-type]
    assert (busy.asked, busy.rows, busy.unlocked) == ([], [], 0), "another worker is re-checking"
