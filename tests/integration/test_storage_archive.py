"""The archive against the real MinIO and PostgreSQL: write-once packages under object lock, the index
rebuilt from the bucket alone, the fixity audit finding a package corrupted behind the server's back,
and search over Chinese titles and names.

Each fixture works in a namespace of its own (bucket + database): the rebuild empties the index tables,
so it must not share them with the rest of the session. COMPLIANCE-locked test objects cannot be
deleted — the namespaced buckets accumulate on the local stack, by design."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from minio.error import S3Error

from archivectl.kafka_admin import ensure_topics
from archivectl.topic_reader import read_topics
from contracts.v1 import (
    RetentionPeriod,
    topics,
)
from samples.generator import generate_cases
from samples.staging import classified_event, storage_step
from services.classification.adapters.schedule_store import PgClassificationStore
from services.common.adapters.object_store import MinioObjectStore
from services.common.china_time import CHINA_STANDARD_TIME
from services.common.index.migrate import upgrade
from services.common.settings import ArchiveSettings
from services.query.access import console_caller
from services.query.search import SearchFilters, search_records
from services.storage.adapters.index import PgIndex
from services.storage.rebuild import rebuild_index
from tests.integration.minio_files import corrupt_behind_the_servers_back

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
RETENTIONS = [RetentionPeriod.THIRTY_YEARS, RetentionPeriod.TEN_YEARS, RetentionPeriod.PERMANENT]
INDEX_TABLES = {
    "records": "case_key",
    "record_files": "case_key, seq",
    "preservation_events": "case_key, seq",
    "archival_codes": "case_key",
    "archival_series": "fonds_code, category_code, year, retention, organisation_code",
}


class Archive:
    def __init__(self, settings: ArchiveSettings, store: MinioObjectStore, index: PgIndex) -> None:
        self.settings, self.store, self.index = settings, store, index
        self.replica = MinioObjectStore.from_settings(settings, site="replica")
        self.archived: dict[str, dict[str, Any]] = {}  # case key → archived event (JSON)
        self.titles: dict[str, str] = {}


async def _archive(
    prepared: ArchiveSettings, suffix: str, count: int, seed: int, *, one_site: bool = False
) -> AsyncIterator[Archive]:
    """`count` cases archived in a namespace of their own; `one_site`: by a storage step configured
    without the replica (AA_MINIO_REPLICA_ENDPOINT=""), as a one-site deployment archives."""
    settings = ArchiveSettings(namespace=f"{prepared.namespace}-{suffix}")
    await upgrade(settings)
    store = MinioObjectStore.from_settings(settings)
    index = await PgIndex.connect(settings, migrate=False)
    archive = Archive(settings, store, index)
    try:
        samples = [s for s in generate_cases(count + 2, seed=seed, wrong_digest_every=None)][:count]
        storing = ArchiveSettings(**{**settings.model_dump(), "minio_replica_endpoint": ""}) if one_site else settings
        archive_case = await storage_step(storing, store, index)
        for n, sample in enumerate(samples):
            event = await classified_event(
                settings,
                store,
                PgClassificationStore(index.pool),
                sample.record,
                retention=RETENTIONS[n % len(RETENTIONS)],
            )
            [out] = await archive_case(event)
            assert event.subject is not None  # staged events carry the case key as subject
            archive.archived[event.subject] = out.event.model_dump(mode="json")
            archive.titles[event.subject] = sample.record.case_title
        yield archive
    finally:
        await index.close()


@pytest.fixture(scope="module")
async def archive(prepared: ArchiveSettings) -> AsyncIterator[Archive]:
    async for a in _archive(prepared, "pk", count=6, seed=611):
        yield a


@pytest.fixture(scope="module")
async def audited_archive(prepared: ArchiveSettings) -> AsyncIterator[Archive]:
    async for a in _archive(prepared, "fx", count=4, seed=612):
        yield a


def _package(archive: Archive, case_key: str) -> dict[str, Any]:
    return archive.archived[case_key]["data"]["package"]


async def _version(archive: Archive, key: str) -> str:
    info = await archive.store.stat(archive.settings.archive_bucket, key)
    assert info is not None and info.version_id
    return info.version_id


# --- write-once ----------------------------------------------------------------------------------------


async def test_each_case_is_one_object_with_compliance_retention_and_permanent_ones_a_legal_hold(archive):
    client, bucket = archive.store.client, archive.settings.archive_bucket
    keys = {v.key for v in await archive.store.list_versions(bucket)}
    assert keys == {_package(archive, k)["key"] for k in archive.archived}, "one object per case, nothing else"
    seen = set()
    for event in archive.archived.values():
        package = event["data"]["package"]
        retention = await asyncio.to_thread(client.get_object_retention, bucket, package["key"])
        assert retention.mode == "COMPLIANCE"
        assert retention.retain_until_date == datetime.fromisoformat(package["retain_until"])
        hold = await asyncio.to_thread(client.is_object_legal_hold_enabled, bucket, package["key"])
        assert hold is (event["data"]["classification"]["retention"] == "Y") is package["legal_hold"]
        seen.add(event["data"]["classification"]["retention"])
        if package["legal_hold"]:
            assert retention.retain_until_date == datetime(9999, 12, 31, tzinfo=UTC)
    assert seen == {"Y", "D30", "D10"}


async def test_deleting_an_archived_package_is_refused_by_object_lock(archive):
    client, bucket = archive.store.client, archive.settings.archive_bucket
    case_key = next(iter(archive.archived))
    key = _package(archive, case_key)["key"]
    version = await _version(archive, key)
    original = await archive.store.get_bytes(bucket, key, version_id=version)
    with pytest.raises(S3Error) as refused:
        await asyncio.to_thread(client.remove_object, bucket, key, version_id=version)
    assert "WORM protected" in refused.value.message
    # Shortening the retention (the way to unlock it) is refused as well.
    from minio.commonconfig import COMPLIANCE
    from minio.retention import Retention

    with pytest.raises(S3Error) as shortened:
        await asyncio.to_thread(
            client.set_object_retention,
            bucket,
            key,
            Retention(COMPLIANCE, datetime(2030, 1, 1, tzinfo=UTC)),
            version_id=version,
        )
    assert "WORM protected" in shortened.value.message
    assert await archive.store.get_bytes(bucket, key, version_id=version) == original


async def test_overwriting_an_archived_package_is_refused_and_nothing_replaces_it(archive):
    client, bucket = archive.store.client, archive.settings.archive_bucket
    case_key = list(archive.archived)[1]
    key = _package(archive, case_key)["key"]
    version = await _version(archive, key)
    original = await archive.store.get_bytes(bucket, key, version_id=version)
    # The archive's own writes are conditional (If-None-Match: *): the server refuses to overwrite.
    again = await archive.store.put_write_once(bucket, key, b"forged package", content_type="application/x-tar")
    assert not again.created and again.version_id == version
    from minio.helpers import genheaders

    headers = {**genheaders(None, None, None, None, False), "If-None-Match": "*"}
    with pytest.raises(S3Error) as refused:
        await asyncio.to_thread(client._put_object, bucket, key, b"forged package", headers)
    assert refused.value.code == "PreconditionFailed"
    # Overwriting the archived package itself — a PUT addressed to its version — is refused by object lock.
    with pytest.raises(S3Error) as locked:
        await asyncio.to_thread(
            client._execute,
            "PUT",
            bucket,
            key,
            body=b"forged package",
            headers={"Content-Length": "14"},
            query_params={"versionId": version},
        )
    assert locked.value.message == "Object is WORM protected and cannot be overwritten"
    assert await archive.store.get_bytes(bucket, key, version_id=version) == original
    # An unconditional PUT cannot touch the archived version either: S3 adds a new version beside it,
    # and the locked one stays byte for byte (it cannot be deleted, see above; the index, the fixity
    # audit and the rebuild read the archived version).
    await asyncio.to_thread(client.put_object, bucket, key, io.BytesIO(b"forged package"), 14)
    assert await archive.store.get_bytes(bucket, key, version_id=version) == original
    versions = [v for v in await archive.store.list_versions(bucket, key) if v.key == key]
    assert len(versions) == 2
    with pytest.raises(S3Error) as still_locked:
        await asyncio.to_thread(client.remove_object, bucket, key, version_id=version)
    assert "WORM protected" in still_locked.value.message


# --- the index, rebuilt from the bucket alone -----------------------------------------------------------


async def _snapshot(dsn: str) -> dict[str, list[tuple]]:
    conn = await asyncpg.connect(dsn)
    try:
        return {
            table: [tuple(r.values()) for r in await conn.fetch(f"SELECT * FROM {table} ORDER BY {order}")]
            for table, order in INDEX_TABLES.items()
        }
    finally:
        await conn.close()


async def test_dropping_the_index_and_rebuilding_it_from_the_packages_gives_back_the_same_rows(archive):
    dsn = archive.settings.pg_dsn()
    before = await _snapshot(dsn)
    assert len(before["records"]) == len(archive.archived)
    assert len(before["preservation_events"]) == 8 * len(archive.archived)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f"TRUNCATE {', '.join(INDEX_TABLES)} CASCADE")
    finally:
        await conn.close()
    assert (await _snapshot(dsn))["records"] == []

    done: list[int] = []
    report = await rebuild_index(
        archive.store,
        archive.index,
        archive.settings.archive_bucket,
        replica=archive.replica,  # the replica's version ids are index rows too
        progress=lambda n, total: done.append(n),
    )
    assert report.indexed == len(archive.archived) and not report.unreadable
    assert done[-1] == len(archive.archived)
    after = await _snapshot(dsn)
    for table in INDEX_TABLES:
        assert after[table] == before[table], f"{table} differs after the rebuild"
    # The key overwritten by a stranger's PUT in the test above is reported, and its archived version indexed.
    assert len(report.shadowed) == 1


async def test_search_finds_chinese_titles_and_names_and_filters(archive):
    """The one search (the query service's, which `archivectl index search` runs) over what storage indexed."""
    caller = console_caller("test")

    async def search(**filters: Any) -> list[dict[str, Any]]:
        return (await search_records(archive.index.pool, SearchFilters(limit=200, **filters), caller)).rows

    some_key, title = next(iter(archive.titles.items()))
    fragment = title[2:7]
    found = await search(text=fragment)
    assert some_key in {r["case_key"] for r in found}
    assert all(
        fragment in r["case_title"] or fragment in r["applicant_name"] or fragment in r["archival_code"] for r in found
    )
    event = archive.archived[some_key]["data"]
    applicant = event["case"]["applicant"]
    by_name = await search(text=applicant["name"][-4:])
    assert some_key in {r["case_key"] for r in by_name}
    exact = await search(
        applicant_id_number=applicant["id_number"],
        item_code=event["case"]["item_code"],
        department_code=event["case"]["department_code"],
    )
    assert some_key in {r["case_key"] for r in exact}
    permanent = await search(retention="Y", category_code="XK")
    assert {r["case_key"] for r in permanent} == {
        k for k, e in archive.archived.items() if e["data"]["classification"]["retention"] == "Y"
    }
    completed = datetime.fromisoformat(event["case"]["completed_at"]).astimezone(CHINA_STANDARD_TIME).date()
    window = await search(completed_from=completed, completed_to=completed.replace(year=completed.year + 1))
    assert some_key in {r["case_key"] for r in window}
    assert await search(text="不存在的标题片段") == []


# --- fixity -------------------------------------------------------------------------------------------


async def test_the_fixity_audit_reports_the_corrupted_copy_and_only_it_and_repair_rewrites_it(audited_archive):
    archive = audited_archive
    settings, bucket = archive.settings, archive.settings.archive_bucket
    await ensure_topics(settings)
    victim = sorted(archive.archived)[1]
    key = _package(archive, victim)["key"]
    bad_version = await _version(archive, key)
    corrupt_behind_the_servers_back(bucket, key, await archive.store.get_bytes(bucket, key))

    env = {**os.environ, "AA_NAMESPACE": settings.namespace}
    run = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "archivectl", "fixity", "audit", "--all"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 2, run.stderr
    assert run.stdout.count("FAILED") == 1 and victim in run.stdout and "(primary copy)" in run.stdout, run.stdout
    assert "packages audited [" in run.stderr  # the progress bar
    count = len(archive.archived)
    assert f"{count} packages checked ({2 * count} copies), {count - 1} intact, 1 with a bad copy" in run.stdout

    conn = await asyncpg.connect(settings.pg_dsn())
    try:
        checks = await conn.fetch("SELECT case_key, copy, outcome, reason FROM fixity_checks ORDER BY case_key")
    finally:
        await conn.close()
    assert {(r["case_key"], r["copy"]) for r in checks} == {
        (k, c) for k in archive.archived for c in ("primary", "replica")
    }, "one fixity-check event per copy of each package"
    assert {(r["case_key"], r["copy"]) for r in checks if r["outcome"] == "fail"} == {(victim, "primary")}
    assert next(r["reason"] for r in checks if r["case_key"] == victim and r["outcome"] == "fail")

    repair = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "archivectl", "fixity", "repair", "--all"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert repair.returncode == 0, repair.stdout + repair.stderr
    assert f"REPAIRED {victim} primary" in repair.stdout and "1 copies repaired, 0 lost" in repair.stdout
    conn = await asyncpg.connect(settings.pg_dsn())
    try:
        version = await conn.fetchval("SELECT package_version_id FROM records WHERE case_key=$1", victim)
        events = await conn.fetch(
            "SELECT event_type, detail FROM preservation_events WHERE case_key=$1 AND event_type='replication'", victim
        )
    finally:
        await conn.close()
    assert version != bad_version, "the index follows the repaired version"
    assert len(events) == 1 and "rewritten from the replica copy" in events[0]["detail"]
    repaired = await archive.store.get_bytes(bucket, key, version_id=version)
    assert repaired == await archive.replica.get_bytes(bucket, key)
    versions = [v.version_id for v in await archive.store.list_versions(bucket, key)]
    assert bad_version in versions and version in versions, "the locked bad version stays beside the repair"
    again = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "archivectl", "fixity", "audit", "--all"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0 and f"{count} intact" in again.stdout, again.stdout + again.stderr

    # one alert from the audit, one from the repair run that found the same bad copy
    seen, complete = await read_topics(settings, [topics.FIXITY_FAILED], done=lambda s: len(s) >= 2, timeout=60)
    assert complete
    assert [s.event["subject"] for s in seen] == [victim, victim]
    assert seen[0].event["data"]["package"]["key"] == key
    assert seen[0].event["data"]["reason"].startswith("primary copy: ")
