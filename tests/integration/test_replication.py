"""Two copies against the two running MinIO servers (minio on 19000, minio-replica on 19010): the index
rebuild over a damaged store and after a repair, the loss alarm when both copies are bad, the restore
test and its row on the operations dashboard, and a lost primary site (a closed port stands in for it:
the shared primary is never stopped).

Tests that damage a package flip a byte in MinIO's own files: run them with AA_STACK_DIR pointing at
the running stack's .stack (tests/integration/minio_files.py)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import asyncpg
import pytest

from archivectl.kafka_admin import ensure_topics
from contracts.v1 import topics
from services.common import metrics
from services.common.adapters.object_store import MinioObjectStore
from services.common.faults import is_transient
from services.common.settings import ArchiveSettings
from services.query.adapters.dashboard_queries import PgDashboardQueries
from services.query.dashboard_data import RESTORE_TEST_WINDOW_DAYS, restore_test_part
from services.storage import bag, fixity, restore_test
from services.storage.rebuild import rebuild_index
from tests.fakes import RecordingPublisher
from tests.integration.minio_files import PRIMARY, REPLICA, corrupt_behind_the_servers_back
from tests.integration.test_storage_archive import INDEX_TABLES, REPO, Archive, _archive, _package

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def damaged(prepared: ArchiveSettings) -> AsyncIterator[Archive]:
    async for a in _archive(prepared, "rp", count=4, seed=1601):
        yield a


@pytest.fixture(scope="module")
async def intact(prepared: ArchiveSettings) -> AsyncIterator[Archive]:
    async for a in _archive(prepared, "rt", count=4, seed=1602):
        yield a


@pytest.fixture(scope="module")
async def repaired(prepared: ArchiveSettings) -> AsyncIterator[Archive]:
    async for a in _archive(prepared, "rr", count=2, seed=1603):
        yield a


@pytest.fixture(scope="module")
async def scheduled(prepared: ArchiveSettings) -> AsyncIterator[Archive]:
    async for a in _archive(prepared, "rs", count=2, seed=1605):
        yield a


@pytest.fixture(scope="module")
async def one_site_rebuilt(prepared: ArchiveSettings) -> AsyncIterator[Archive]:
    async for a in _archive(prepared, "ro", count=2, seed=1606):
        yield a


@pytest.fixture(scope="module")
async def one_site_archived(prepared: ArchiveSettings) -> AsyncIterator[Archive]:
    async for a in _archive(prepared, "r1", count=2, seed=1607, one_site=True):
        yield a


@pytest.fixture(scope="module")
async def restored(prepared: ArchiveSettings) -> AsyncIterator[Archive]:
    async for a in _archive(prepared, "rd", count=3, seed=1604):
        yield a


async def _sql(settings: ArchiveSettings, query: str, *args: Any) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(settings.pg_dsn())
    try:
        return await conn.fetch(query, *args)
    finally:
        await conn.close()


def _archivectl(settings: ArchiveSettings, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "archivectl", *argv],
        cwd=REPO,
        env={**os.environ, "AA_NAMESPACE": settings.namespace, **env},
        capture_output=True,
        text=True,
        timeout=600,
    )


async def test_every_package_has_a_verified_replica_copy_with_the_same_lock(intact):
    bucket = intact.settings.archive_bucket
    for event in intact.archived.values():
        package = event["data"]["package"]
        primary = await intact.store.get_bytes(bucket, package["key"])
        assert await intact.replica.get_bytes(bucket, package["key"]) == primary
        retention = await asyncio.to_thread(intact.replica.client.get_object_retention, bucket, package["key"])
        assert retention.mode == "COMPLIANCE" and retention.retain_until_date == datetime.fromisoformat(
            package["retain_until"]
        )
        hold = await asyncio.to_thread(intact.replica.client.is_object_legal_hold_enabled, bucket, package["key"])
        assert hold is package["legal_hold"]
    rows = await _sql(intact.settings, "SELECT replica_version_id FROM records")
    assert len(rows) == len(intact.archived) and all(r["replica_version_id"] for r in rows)


async def test_the_restore_test_restores_packages_from_the_replica_and_validates_them(intact, tmp_path):
    results = await restore_test.run(replica=intact.replica, index=intact.index, sample=3, scratch=tmp_path)
    assert len(results) == 3 and all(r.passed for r in results), results
    assert not any(tmp_path.iterdir()), "the scratch area is emptied"
    recorded = await _sql(intact.settings, "SELECT case_key, copy, outcome FROM restore_tests")
    assert {(r["case_key"], r["copy"], r["outcome"]) for r in recorded} == {
        (r.case_key, "replica", "pass") for r in results
    }


async def test_with_the_primary_site_unreachable_the_audit_checks_the_replica_and_archiving_waits(intact, tmp_path):
    lost = ArchiveSettings(**{**intact.settings.model_dump(), "minio_endpoint": "127.0.0.1:9"})
    unreachable = MinioObjectStore.from_settings(lost, retry_server_errors=False)
    rows = await intact.index.packages_for_audit()
    report = await fixity.audit(rows, store=unreachable, replica=intact.replica, index=intact.index, publisher=None)
    assert {r.copy for r in report.results} == {"replica"} and all(r.passed for r in report.results)
    assert len(report.unreachable) == len(rows) and not report.lost
    # New archiving: the write to the lost site fails with a transient fault — the runner waits and
    # retries, it never archives a single copy.
    from services.storage import copies

    (tmp_path / "y.tar").write_bytes(b"x")
    package = bag.Package("y", {}, {}, hashlib.sha256(b"x").hexdigest(), 1, path=tmp_path / "y.tar")
    with pytest.raises(Exception) as raised:
        await copies.write_copy(
            copies.Site("primary", unreachable),
            lost.archive_bucket,
            "x/y.tar",
            package,
            metadata={},
            retain_until=None,
            legal_hold=False,
            folder=tmp_path,
        )
    assert is_transient(raised.value), raised.value


async def test_index_rebuild_over_a_flipped_byte_takes_the_package_from_the_replica_or_skips_and_names_it(damaged):
    settings, bucket = damaged.settings, damaged.settings.archive_bucket
    victim = sorted(damaged.archived)[0]
    key = _package(damaged, victim)["key"]
    corrupt_behind_the_servers_back(bucket, key, await damaged.store.get_bytes(bucket, key))

    store = MinioObjectStore.from_settings(settings, retry_server_errors=False)
    report = await rebuild_index(store, damaged.index, bucket, replica=damaged.replica)
    assert report.indexed == len(damaged.archived) and not report.unreadable
    assert [t.split(":", 1)[0] for t in report.from_replica] == [key]

    # Without a replica, the command meant for a damaged store completes and names the package.
    run = await asyncio.to_thread(
        _archivectl, settings, "index", "rebuild", "--skip-unreadable", AA_MINIO_REPLICA_ENDPOINT=""
    )
    assert run.returncode == 0, run.stderr
    assert f"package unreadable: {key}" in run.stderr, run.stderr
    assert f"{len(damaged.archived) - 1} packages indexed" in run.stdout and "1 unreadable skipped" in run.stdout


async def test_both_copies_flipped_raises_the_loss_alarm(damaged):
    bucket = damaged.settings.archive_bucket
    victim = sorted(damaged.archived)[-1]
    key = _package(damaged, victim)["key"]
    package = await damaged.store.get_bytes(bucket, key)
    for site in (PRIMARY, REPLICA):
        corrupt_behind_the_servers_back(bucket, key, package, site=site)
    [row] = [r for r in await damaged.index.packages_for_audit() if r["case_key"] == victim]
    losses = metrics.FIXITY_LOSSES._value.get()
    store = MinioObjectStore.from_settings(damaged.settings, retry_server_errors=False)
    replica = MinioObjectStore.from_settings(damaged.settings, retry_server_errors=False, site="replica")
    report = await fixity.audit([row], store=store, replica=replica, repair=True, index=damaged.index, publisher=None)
    assert report.lost == [victim] and not report.repaired
    assert {(r.copy, r.passed) for r in report.results} == {("primary", False), ("replica", False)}
    assert metrics.FIXITY_LOSSES._value.get() == losses + 1


async def test_index_rebuild_after_a_repair_indexes_the_repaired_primary_version(repaired):
    """`archivectl fixity repair` rewrites the damaged primary copy as a new version; a later
    `archivectl index rebuild` must index that version (not the damaged one, not the replica)."""
    settings, bucket = repaired.settings, repaired.settings.archive_bucket
    victim = sorted(repaired.archived)[0]
    key = _package(repaired, victim)["key"]
    [before] = await _sql(
        settings, "SELECT package_version_id, replica_version_id FROM records WHERE case_key=$1", victim
    )
    corrupt_behind_the_servers_back(bucket, key, await repaired.store.get_bytes(bucket, key))

    store = MinioObjectStore.from_settings(settings, retry_server_errors=False)
    replica = MinioObjectStore.from_settings(settings, retry_server_errors=False, site="replica")
    rows = [r for r in await repaired.index.packages_for_audit() if r["case_key"] == victim]
    report = await fixity.audit(rows, store=store, replica=replica, repair=True, index=repaired.index, publisher=None)
    assert [r.split(" ")[:2] for r in report.repaired] == [[victim, "primary"]], report
    [after_repair] = await _sql(settings, "SELECT package_version_id FROM records WHERE case_key=$1", victim)
    repaired_version = after_repair["package_version_id"]
    assert repaired_version and repaired_version != before["package_version_id"]
    replication = "SELECT seq, event_id, agent, detail FROM preservation_events WHERE event_type = 'replication'"
    [recorded] = await _sql(settings, replication)

    await _sql(settings, f"TRUNCATE {', '.join(INDEX_TABLES)} CASCADE")
    run = await asyncio.to_thread(_archivectl, settings, "index", "rebuild")
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{len(repaired.archived)} packages indexed" in run.stdout, run.stdout
    assert "taken from the replica" not in run.stderr, "the repaired primary copy verifies: no fallback"

    [row] = await _sql(
        settings,
        "SELECT package_version_id, replica_version_id, package_sha256 FROM records WHERE case_key=$1",
        victim,
    )
    assert row["package_version_id"] == repaired_version, "the rebuild indexes the repaired primary version"
    assert row["replica_version_id"] == before["replica_version_id"]
    data = await store.get_bytes(bucket, key, version_id=row["package_version_id"])
    assert hashlib.sha256(data).hexdigest() == row["package_sha256"]
    assert bag.verify(bag.read_package(data)) == []
    # The repair stays on record: its PREMIS replication event is derived again from the repaired version.
    [rebuilt] = await _sql(settings, replication + " AND case_key=$1", victim)
    assert rebuilt["event_id"] == recorded["event_id"] and rebuilt["agent"] == recorded["agent"]
    assert rebuilt["seq"] == recorded["seq"], "after the package's own events, as the repair recorded it"
    assert repaired_version in rebuilt["detail"] and before["package_version_id"] in rebuilt["detail"]
    assert len(await _sql(settings, replication)) == 1, "no other package was repaired"
    # The audit after the rebuild reads the indexed versions: both copies of every package intact.
    audit = await fixity.audit(
        await repaired.index.packages_for_audit(), store=store, replica=replica, index=repaired.index, publisher=None
    )
    assert audit.failed == [] and audit.packages == len(repaired.archived)


async def test_the_dashboard_shows_the_restore_tests_last_run_its_week_and_the_newest_failure(restored):
    settings, bucket = restored.settings, restored.settings.archive_bucket
    now = datetime.now().astimezone()
    # A run nine days ago, all intact: outside the window, and not the last run.
    early = await restore_test.run(
        replica=restored.replica, index=restored.index, sample=3, clock=lambda: now - timedelta(days=9)
    )
    assert len(early) == 3 and all(r.passed for r in early)
    # Then the replica copy of one package is damaged, and the last run (an hour ago) finds it.
    victim = sorted(restored.archived)[1]
    key = _package(restored, victim)["key"]
    corrupt_behind_the_servers_back(bucket, key, await restored.replica.get_bytes(bucket, key), site=REPLICA)
    replica = MinioObjectStore.from_settings(settings, retry_server_errors=False, site="replica")
    last = await restore_test.run(
        replica=replica, index=restored.index, sample=3, clock=lambda: now - timedelta(hours=1)
    )
    assert {r.case_key for r in last if not r.passed} == {victim}
    # A package archived without its replica copy (before the second site, or by a one-site deployment).
    other = sorted(restored.archived)[2]
    await _sql(settings, "UPDATE records SET replica_version_id = NULL WHERE case_key=$1", other)
    [archived] = await _sql(settings, "SELECT archived_at, department_code FROM records WHERE case_key=$1", other)

    queries = PgDashboardQueries(restored.index.pool)
    part = restore_test_part(await queries.restore_test(now, RESTORE_TEST_WINDOW_DAYS, None), now)
    assert part["status"] == "failed"
    assert datetime.fromisoformat(part["last_run"]["at"]) == now - timedelta(hours=1)
    assert (part["last_run"]["tested"], part["last_run"]["passed"], part["last_run"]["failed"]) == (3, 2, 1)
    assert (part["window"]["tested"], part["window"]["passed"], part["window"]["failed"]) == (3, 2, 1)
    failure = part["newest_failure"]
    assert failure["case_key"] == victim and failure["archival_code"]
    assert failure["reason"] == next(r.reason for r in last if not r.passed)
    replica_copies = part["replica"]
    assert (replica_copies["packages"], replica_copies["without_replica"]) == (3, 1)
    assert datetime.fromisoformat(replica_copies["oldest_without_replica_archived_at"]) == archived["archived_at"]

    # A caller scoped to departments counts only theirs; the time of the last run is everyone's.
    [victim_row] = await _sql(settings, "SELECT department_code FROM records WHERE case_key=$1", victim)
    mine = restore_test_part(
        await queries.restore_test(now, RESTORE_TEST_WINDOW_DAYS, [victim_row["department_code"]]), now
    )
    in_department = await _sql(
        settings, "SELECT count(*) AS n FROM records WHERE department_code=$1", victim_row["department_code"]
    )
    assert mine["last_run"]["tested"] == in_department[0]["n"] and mine["last_run"]["failed"] == 1
    nobody = restore_test_part(await queries.restore_test(now, RESTORE_TEST_WINDOW_DAYS, ["NO-SUCH-DEPT"]), now)
    assert nobody["last_run"]["at"] == part["last_run"]["at"]
    assert (nobody["last_run"]["tested"], nobody["window"]["tested"], nobody["newest_failure"]) == (0, 0, None)
    assert nobody["replica"]["packages"] == 0


async def test_the_scheduled_audit_repairs_a_damaged_replica_copy_from_the_primary(scheduled):
    """The storage worker's scheduled round (not only `archivectl fixity repair`) repairs a bad copy."""
    settings, bucket = scheduled.settings, scheduled.settings.archive_bucket
    victim = sorted(scheduled.archived)[0]
    key = _package(scheduled, victim)["key"]
    [before] = await _sql(settings, "SELECT replica_version_id FROM records WHERE case_key=$1", victim)
    primary_bytes = await scheduled.store.get_bytes(bucket, key)
    corrupt_behind_the_servers_back(bucket, key, primary_bytes, site=REPLICA)

    publisher = RecordingPublisher()
    await fixity.scheduled_round(
        publisher,
        store=MinioObjectStore.from_settings(settings, retry_server_errors=False),
        replica=MinioObjectStore.from_settings(settings, retry_server_errors=False, site="replica"),
        index=scheduled.index,
        topic_name=settings.topic,
        max_age_days=30,
        batch=10,
    )
    [after] = await _sql(settings, "SELECT replica_version_id FROM records WHERE case_key=$1", victim)
    assert after["replica_version_id"] and after["replica_version_id"] != before["replica_version_id"]
    assert await scheduled.replica.get_bytes(bucket, key, version_id=after["replica_version_id"]) == primary_bytes
    [event] = await _sql(
        settings,
        "SELECT agent, detail FROM preservation_events WHERE case_key=$1 AND event_type='replication'",
        victim,
    )
    assert event["agent"] == fixity.REPAIR_AGENT and "the replica copy failed its fixity check" in event["detail"]
    checks = await _sql(settings, "SELECT case_key, copy, outcome, agent FROM fixity_checks ORDER BY id")
    assert {(c["case_key"], c["copy"]) for c in checks if c["outcome"] == "fail"} == {(victim, "replica")}
    assert (victim, "replica", "pass", fixity.REPAIR_AGENT) in {tuple(c.values()) for c in checks}
    assert [(topic, key_bytes.decode()) for topic, key_bytes, _ in publisher.sent] == [
        (settings.topic(topics.FIXITY_FAILED), victim)
    ]


async def test_after_a_one_site_rebuild_the_audit_records_the_replica_versions_it_verifies(one_site_rebuilt):
    """A rebuild run without the replica configured leaves records without a replica version, although the
    copies are there: the next audit verifies each copy and records its version, so the restore test and
    the dashboard see the replica again."""
    archive, settings = one_site_rebuilt, one_site_rebuilt.settings
    expected = {
        r["case_key"]: r["replica_version_id"]
        for r in await _sql(settings, "SELECT case_key, replica_version_id FROM records")
    }
    run = await asyncio.to_thread(_archivectl, settings, "index", "rebuild", AA_MINIO_REPLICA_ENDPOINT="")
    assert run.returncode == 0, run.stderr
    assert [r["replica_version_id"] for r in await _sql(settings, "SELECT replica_version_id FROM records")] == [
        None
    ] * len(expected)
    assert await archive.index.packages_for_restore_test(sample=10) == [], "nothing to restore-test any more"

    store = MinioObjectStore.from_settings(settings, retry_server_errors=False)
    replica = MinioObjectStore.from_settings(settings, retry_server_errors=False, site="replica")
    report = await fixity.audit(
        await archive.index.packages_for_audit(), store=store, replica=replica, index=archive.index, publisher=None
    )
    assert report.failed == [] and len(report.results) == 2 * len(expected)
    after = {
        r["case_key"]: r["replica_version_id"]
        for r in await _sql(settings, "SELECT case_key, replica_version_id FROM records")
    }
    assert after == expected, "the versions the storage step wrote, found again"
    checks = await _sql(settings, "SELECT case_key, version_id FROM fixity_checks WHERE copy = 'replica'")
    assert {(c["case_key"], c["version_id"]) for c in checks} == set(expected.items())
    assert len(await archive.index.packages_for_restore_test(sample=10)) == len(expected)


async def test_a_package_archived_at_one_site_gets_its_replica_copy_from_the_repair(one_site_archived):
    """Packages archived while the deployment had one site, then a replica site added (its bucket not made
    yet): `archivectl fixity repair` finds each replica copy missing, writes it from the primary — locked
    like the primary — and the index records it."""
    archive, settings, bucket = one_site_archived, one_site_archived.settings, one_site_archived.settings.archive_bucket
    rows = await archive.index.packages_for_audit()
    assert len(rows) == 2 and all(r["replica_version_id"] is None for r in rows)
    store = MinioObjectStore.from_settings(settings, retry_server_errors=False)
    replica = MinioObjectStore.from_settings(settings, retry_server_errors=False, site="replica")
    assert not await asyncio.to_thread(replica.client.bucket_exists, bucket)
    await ensure_topics(settings)
    run = await asyncio.to_thread(_archivectl, settings, "fixity", "repair", "--all")
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.count("(replica copy)") == 2 and run.stdout.count("the replica copy is missing") == 2
    assert "2 copies repaired, 0 lost" in run.stdout, run.stdout
    for row in await archive.index.packages_for_audit():
        package = _package(archive, row["case_key"])
        version = row["replica_version_id"]
        assert version, row["case_key"]
        assert await replica.get_bytes(bucket, row["package_key"], version_id=version) == await store.get_bytes(
            bucket, row["package_key"], version_id=row["package_version_id"]
        )
        retention = await asyncio.to_thread(
            replica.client.get_object_retention, bucket, row["package_key"], version_id=version
        )
        assert retention.mode == "COMPLIANCE"
        assert retention.retain_until_date == datetime.fromisoformat(package["retain_until"])
    again = await fixity.audit(
        await archive.index.packages_for_audit(), store=store, replica=replica, index=archive.index, publisher=None
    )
    assert again.failed == [] and len(again.results) == 4
