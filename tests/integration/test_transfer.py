"""Transfer to the state archives and the checks at preservation time, against the real MinIO (both sites)
and PostgreSQL: the re-check of every stored package recorded per package and as PREMIS events; a
transfer set that bagit-python validates, whose register's figures and digests equal the index's (and
the objects' own bytes), its records marked transferred; the receiver's acknowledgement closing it.

Tests that damage a package flip a byte in MinIO's own files: run them with AA_STACK_DIR pointing at the
running stack's .stack (tests/integration/minio_files.py)."""

from __future__ import annotations

import hashlib
import io
import shutil
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from datetime import UTC, timedelta
from pathlib import Path
from typing import Any

import bagit
import pytest
from pypdf import PdfReader

from services.common.adapters.object_store import MinioObjectStore
from services.common.digests import sm3_hex
from services.common.settings import ArchiveSettings
from services.query.adapters.dashboard_queries import PgDashboardQueries
from services.storage import domain, revalidation, transfer
from services.storage.transfer_register import NAMESPACE, gigabytes
from tests.integration.minio_files import corrupt_behind_the_servers_back
from tests.integration.test_replication import _archivectl, _sql
from tests.integration.test_storage_archive import Archive, _archive

pytestmark = pytest.mark.integration

NS = {"r": NAMESPACE}


@pytest.fixture(scope="module")
async def archive(prepared: ArchiveSettings) -> AsyncIterator[Archive]:
    # Retentions cycle D30, D10, Y: six cases, two of each.
    async for a in _archive(prepared, "tr", count=6, seed=1301):
        yield a


def _no_retry(archive: Archive) -> tuple[MinioObjectStore, MinioObjectStore]:
    """Both sites as the command and the scheduled job read them: a damaged object's 5xx answered at once."""
    settings = archive.settings
    return (
        MinioObjectStore.from_settings(settings, retry_server_errors=False),
        MinioObjectStore.from_settings(settings, retry_server_errors=False, site="replica"),
    )


async def _create(archive: Archive, out: Path, **selection: Any) -> transfer.TransferReport:
    store, replica = _no_retry(archive)
    return await transfer.create(
        transfer.Selection(**selection),
        out=out,
        store=store,
        replica=replica,
        index=archive.index,
        receiver="某市档案馆",
        transferring_unit="某市政务服务中心档案室",
        created_by="tester",
    )


async def test_the_re_check_at_preservation_time_passes_every_intact_package_and_is_recorded(archive):
    due = await archive.index.packages_for_revalidation()
    assert {r["case_key"] for r in due} == set(archive.archived), "never-checked packages are all due"
    store, replica = _no_retry(archive)
    results = await revalidation.run(due, store=store, replica=replica, index=archive.index)
    assert [r.reason for r in results if not r.passed] == []
    assert all((r.fixity, r.format, r.opens) == ("pass", "pass", "pass") for r in results)
    assert all(r.files and all(f.identified for f in r.files) for r in results), "every file identified again"

    rows = await _sql(archive.settings, "SELECT case_key, purpose, outcome, files FROM revalidations")
    assert {r["case_key"] for r in rows} == set(archive.archived)
    assert {(r["purpose"], r["outcome"]) for r in rows} == {("preservation", "pass")}
    events = await _sql(
        archive.settings,
        "SELECT case_key, event_type, outcome FROM preservation_events WHERE agent=$1",
        revalidation.AGENT,
    )
    assert sorted((e["event_type"], e["outcome"]) for e in events if e["case_key"] == rows[0]["case_key"]) == [
        ("fixity check", "success"),
        ("validation", "success"),
    ]
    assert {e["case_key"] for e in events} == set(archive.archived)
    # The dashboard's row reads the same table.
    shown = await PgDashboardQueries(archive.index.pool).revalidation(None, 10)
    assert (shown["packages"], shown["checked"], shown["passed"], shown["failed"]) == (6, 6, 6, 0)

    # Checked now: not due again until the age limit has passed.
    [first] = await _sql(archive.settings, "SELECT min(checked_at) AS t FROM revalidations")
    assert await archive.index.packages_for_revalidation(checked_before=first["t"]) == []
    later = first["t"] + timedelta(days=400)
    assert len(await archive.index.packages_for_revalidation(checked_before=later)) == len(archive.archived)


async def test_a_transfer_set_validates_and_its_register_equals_the_index(archive, tmp_path):
    report = await _create(archive, tmp_path, retention="Y")
    assert report.register is not None and report.path is not None and report.excluded == []
    folder = report.path
    assert folder.name == report.set_id and not (tmp_path / f"{report.set_id}.partial").exists()

    # The external validator: the Library of Congress's bagit-python.
    bag = bagit.Bag(str(folder))
    bag.validate(processes=1)
    assert bag.is_valid()
    assert set(bag.payload_files()) >= {"data/register/register.xml", "data/register/register.pdf"}

    # The index: the permanent records, their files, their package digests.
    records = await _sql(
        archive.settings,
        "SELECT case_key, archival_code, file_count, package_size, package_sha256, package_key FROM records "
        "WHERE retention='Y' ORDER BY archival_code",
    )
    files = await _sql(
        archive.settings,
        "SELECT f.case_key, f.path_in_package, f.size, f.sha256, f.sm3 FROM record_files f "
        "JOIN records r USING (case_key) WHERE r.retention='Y'",
    )
    assert len(records) == 2

    root = ET.parse(folder / "data/register/register.xml").getroot()
    counts = root.find("r:counts", NS)
    volume = root.find("r:volume", NS)
    assert counts is not None and volume is not None
    assert int(counts.get("records", "")) == len(records)
    assert int(counts.get("files", "")) == sum(r["file_count"] for r in records) == len(files)
    assert int(volume.get("bytes", "")) == sum(r["package_size"] for r in records)
    assert volume.get("gigabytes") == gigabytes(sum(r["package_size"] for r in records))
    assert root.find("r:selection", NS).attrib == {"retention": "Y"}  # type: ignore[union-attr]
    properties = {p.get("name"): p.attrib for p in root.findall("r:checkResults/r:property", NS)}
    for name in ("authenticity", "integrity", "usability"):
        assert (properties[name]["passed"], properties[name]["failed"]) == ("2", "0")
    assert properties["security"]["measuredBy"] == "not_run"

    listed = root.findall("r:records/r:record", NS)
    assert [r.get("archivalCode") for r in listed] == [r["archival_code"] for r in records]
    by_path = {(f["case_key"], f["path_in_package"]): f for f in files}
    for element, row in zip(listed, records, strict=True):
        package = element.find("r:package", NS)
        assert package is not None
        digests = {d.get("algorithm"): d.text for d in package.findall("r:digest", NS)}
        stored = await archive.store.get_bytes(archive.settings.archive_bucket, row["package_key"])
        assert digests["SHA-256"] == row["package_sha256"] == hashlib.sha256(stored).hexdigest()
        assert digests["SM3"] == sm3_hex(stored)
        assert int(package.get("bytes", "")) == row["package_size"] == len(stored)
        in_set = (folder / package.get("path", "")).read_bytes()
        assert in_set == stored, "the package is transferred as stored, byte for byte"
        for f in package.findall("r:file", NS):
            indexed = by_path[(row["case_key"], f.get("path"))]
            fd = {d.get("algorithm"): d.text for d in f.findall("r:digest", NS)}
            assert (int(f.get("bytes", "")), fd["SHA-256"], fd["SM3"]) == (
                indexed["size"],
                indexed["sha256"],
                indexed["sm3"],
            )

    # The SM3 manifest covers the same payload as the SHA-256 one, and its digests hold.
    sm3 = domain.parse_manifest((folder / "manifest-sm3.txt").read_bytes())
    assert set(sm3) == set(bag.payload_files())
    assert all(sm3_hex((folder / p).read_bytes()) == d for p, d in sm3.items())
    assert "manifest-sm3.txt" in domain.parse_manifest((folder / "tagmanifest-sha256.txt").read_bytes())

    # The PDF for people carries the same figures.
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(bag_bytes(folder, "register.pdf"))).pages)
    assert "电子档案移交登记表" in text and report.set_id in text
    assert f"{volume.get('gigabytes')} GB" in text
    assert all(r["archival_code"] in text for r in records)

    # The index: the set and its figures, the records marked transferred, a PREMIS transfer event each.
    [row] = await _sql(archive.settings, "SELECT * FROM transfer_sets WHERE set_id=$1", report.set_id)
    assert (row["record_count"], row["file_count"], row["total_bytes"], row["status"]) == (
        len(records),
        len(files),
        sum(r["package_size"] for r in records),
        "created",
    )
    assert row["register_sha256"] == hashlib.sha256(bag_bytes(folder, "register.xml")).hexdigest()
    marked = await _sql(archive.settings, "SELECT case_key FROM transfer_set_records WHERE set_id=$1", report.set_id)
    assert {m["case_key"] for m in marked} == {r["case_key"] for r in records}
    events = await _sql(
        archive.settings,
        "SELECT case_key FROM preservation_events WHERE event_type='transfer' AND agent=$1",
        transfer.AGENT,
    )
    assert sorted(e["case_key"] for e in events) == sorted(r["case_key"] for r in records)
    checks = await _sql(
        archive.settings, "SELECT case_key, outcome FROM revalidations WHERE transfer_set=$1", report.set_id
    )
    assert sorted((c["case_key"], c["outcome"]) for c in checks) == sorted((r["case_key"], "pass") for r in records)

    # A record is transferred once: the same selection finds nothing more.
    again = await _create(archive, tmp_path / "again", retention="Y")
    assert again.selected == 0 and again.path is None

    # And the validator does fail a set altered after it was written.
    altered = tmp_path / "altered"
    shutil.copytree(folder, altered)
    target = altered / listed[0].find("r:package", NS).get("path", "")  # type: ignore[union-attr]
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    target.chmod(0o644)
    target.write_bytes(bytes(raw))
    with pytest.raises(bagit.BagValidationError):
        bagit.Bag(str(altered)).validate(processes=1)
    assert transfer.verify_set(altered) != []


def bag_bytes(folder: Path, name: str) -> bytes:
    return (folder / "data" / "register" / name).read_bytes()


async def test_the_receivers_acknowledgement_closes_the_set_and_the_centre_keeps_its_copy(archive, tmp_path):
    made = _archivectl(
        archive.settings,
        *("transfer", "create", "--out", str(tmp_path), "--receiver", "某市档案馆", "--retention", "D30"),
        *("--limit", "1", "--by", "档案员"),
    )
    assert made.returncode == 0, made.stderr
    [set_id] = [p.name for p in tmp_path.iterdir()]
    assert f"transfer set {set_id}: 1 records" in made.stdout
    bagit.Bag(str(tmp_path / set_id)).validate(processes=1)
    done = _archivectl(archive.settings, "transfer", "accept", set_id, "--reference", "接收〔2026〕12号")
    assert done.returncode == 0, done.stderr
    [row] = await _sql(archive.settings, "SELECT * FROM transfer_sets WHERE set_id=$1", set_id)
    assert row["created_by"] == "档案员"
    assert row["status"] == "accepted" and row["acknowledgement"] == "接收〔2026〕12号"
    accepted = row["accepted_at"].astimezone(UTC)
    assert row["keep_until"].astimezone(UTC) == accepted.replace(year=accepted.year + transfer.CENTRE_COPY_YEARS)
    listed = _archivectl(archive.settings, "transfer", "list")
    assert next(line for line in listed.stdout.splitlines() if line.startswith(set_id)).count("accepted") == 1
    again = _archivectl(archive.settings, "transfer", "accept", set_id, "--reference", "x")
    assert again.returncode == 1 and "already accepted" in again.stderr
    unknown = _archivectl(archive.settings, "transfer", "accept", "TS-none", "--reference", "x")
    assert unknown.returncode == 1 and "no transfer set" in unknown.stderr


async def test_a_damaged_package_fails_its_re_check_and_stays_out_of_the_transfer_set(archive, tmp_path):
    [victim] = await _sql(
        archive.settings,
        "SELECT r.case_key, r.archival_code, r.package_key FROM records r WHERE r.retention='D10' "
        "ORDER BY archival_code LIMIT 1",
    )
    bucket = archive.settings.archive_bucket
    stored = await archive.store.get_bytes(bucket, victim["package_key"])
    corrupt_behind_the_servers_back(bucket, victim["package_key"], stored)

    report = await _create(archive, tmp_path, retention="D10")
    assert [x.case_key for x in report.excluded] == [victim["case_key"]]
    assert "primary copy" in report.excluded[0].reason
    assert report.register is not None and victim["case_key"] not in {r.case_key for r in report.register.records}
    bagit.Bag(str(report.path)).validate(processes=1)
    root = ET.parse(report.path / "data/register/register.xml").getroot()  # type: ignore[operator]
    assert [x.get("caseKey") for x in root.findall("r:excluded/r:record", NS)] == [victim["case_key"]]
    [check] = await _sql(
        archive.settings,
        "SELECT fixity, format, opens, outcome FROM revalidations WHERE case_key=$1 AND transfer_set=$2",
        victim["case_key"],
        report.set_id,
    )
    # The replica copy verifies, so the files were still checked on it.
    assert dict(check) == {"fixity": "fail", "format": "pass", "opens": "pass", "outcome": "fail"}
    transferred = await _sql(
        archive.settings, "SELECT 1 FROM transfer_set_records WHERE case_key=$1", victim["case_key"]
    )
    assert transferred == [], "a record that failed its re-check is not marked transferred"
