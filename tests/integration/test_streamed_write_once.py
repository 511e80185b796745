"""A package larger than the multipart threshold, written write-once from a file against the real MinIO
(issue 18): the retention lock is on the object the upload completes, a second writer is refused at
completion (If-None-Match: * on CompleteMultipartUpload), and a failed upload leaves neither an object
nor an upload behind. The threshold and part size are set small (5 MiB parts, S3's minimum) so a 12 MiB
package is three parts."""

from __future__ import annotations

import hashlib
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from contracts.v1 import CapturedFile, ObjectRef, RetentionPeriod, Stage
from samples.generator import generate_cases
from samples.staging import classified_event
from services.classification.adapters.schedule_store import PgClassificationStore
from services.common.adapters.object_store import MinioObjectStore
from services.common.digests import DigestWriter, digests_of
from services.common.index.migrate import upgrade
from services.common.settings import ArchiveSettings
from services.storage import bag
from services.storage.adapters.index import PgIndex
from services.storage.steps import store_case

pytestmark = pytest.mark.integration

MIB = 1024 * 1024


@pytest.fixture
async def small_parts(settings: ArchiveSettings) -> MinioObjectStore:
    base = MinioObjectStore.from_settings(settings)
    store = MinioObjectStore(base.client, multipart_threshold=5 * MIB, part_size=5 * MIB)
    await store.ensure_bucket(settings.archive_bucket, object_lock=True)
    return store


@pytest.fixture
def package(tmp_path: Path) -> Path:
    path = tmp_path / "package.tar"
    path.write_bytes(os.urandom(12 * MIB + 123))
    return path


def _uploads(store: MinioObjectStore, bucket: str, key: str) -> list[object]:
    return [u for u in store.client._list_multipart_uploads(bucket, prefix=key).uploads if u.object_name == key]


async def test_a_multipart_package_is_written_once_locked_and_reads_back_whole(
    small_parts, package, settings, tmp_path
):
    bucket, key = settings.archive_bucket, f"streamed/{uuid.uuid4().hex}.tar"
    until = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    written = await small_parts.put_write_once_file(
        bucket,
        key,
        package,
        content_type="application/x-tar",
        metadata={"sha256": digests_of(package.read_bytes()).sha256},
        retain_until=until,
        legal_hold=True,
    )
    assert written.created and written.version_id

    retention = small_parts.client.get_object_retention(bucket, key, version_id=written.version_id)
    assert retention is not None and retention.mode == "COMPLIANCE" and retention.retain_until_date == until
    assert small_parts.client.is_object_legal_hold_enabled(bucket, key, version_id=written.version_id)
    stat = await small_parts.stat(bucket, key)
    assert stat is not None and stat.size == package.stat().st_size
    assert stat.metadata["sha256"] == digests_of(package.read_bytes()).sha256
    head = small_parts.client.stat_object(bucket, key)
    assert (head.etag or "").endswith("-3"), "12 MiB in 5 MiB parts is a three-part upload"

    with (tmp_path / "read-back").open("wb") as out:
        writer = DigestWriter(out)
        assert await small_parts.get_into(bucket, key, writer) == package.stat().st_size
    assert writer.digests() == digests_of(package.read_bytes())

    # A second writer of the same key — a redelivery, another worker — is refused at completion: the
    # version already there stays the only one, and its upload is not left behind.
    other = tmp_path / "other.tar"
    other.write_bytes(os.urandom(11 * MIB))
    again = await small_parts.put_write_once_file(
        bucket, key, other, content_type="application/x-tar", retain_until=until
    )
    assert not again.created and again.version_id == written.version_id
    assert [v.version_id for v in await small_parts.list_versions(bucket, key)] == [written.version_id]
    assert _uploads(small_parts, bucket, key) == []


async def test_an_upload_that_fails_midway_is_aborted_leaving_no_object_and_no_parts(
    small_parts, package, settings, monkeypatch
):
    bucket, key = settings.archive_bucket, f"streamed/{uuid.uuid4().hex}.tar"
    real_upload_part = small_parts.client._upload_part
    calls = 0

    def failing_upload_part(*args, **kwargs):  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionError("the connection broke off in the second part")
        return real_upload_part(*args, **kwargs)

    monkeypatch.setattr(small_parts.client, "_upload_part", failing_upload_part)
    with pytest.raises(ConnectionError):
        await small_parts.put_write_once_file(
            bucket,
            key,
            package,
            content_type="application/x-tar",
            retain_until=datetime.now(UTC) + timedelta(days=1),
        )
    assert calls == 2
    assert await small_parts.stat(bucket, key) is None
    assert _uploads(small_parts, bucket, key) == []


async def test_a_small_package_keeps_the_single_put(small_parts, settings, tmp_path):
    bucket, key = settings.archive_bucket, f"streamed/{uuid.uuid4().hex}.tar"
    small = tmp_path / "small.tar"
    small.write_bytes(b"a small package" * 100)
    first = await small_parts.put_write_once_file(bucket, key, small, content_type="application/x-tar")
    second = await small_parts.put_write_once_file(bucket, key, small, content_type="application/x-tar")
    assert first.created and not second.created and second.version_id == first.version_id
    assert "-" not in (small_parts.client.stat_object(bucket, key).etag or ""), "one PUT, not a multipart upload"


class _IndexThatStopsBeforeTheRows:
    """The index of a worker killed between the package write and the index insert."""

    def __init__(self, index: PgIndex) -> None:
        self._index = index

    def __getattr__(self, name: str) -> object:
        return getattr(self._index, name)

    async def insert_archived_record(self, *args: object, **kwargs: object) -> dict[str, object]:
        raise ConnectionError("the worker died before the index")


async def test_the_step_archives_a_multipart_package_and_a_redelivery_indexes_what_was_stored(prepared, tmp_path):
    settings = ArchiveSettings(namespace=f"{prepared.namespace}-mp")
    await upgrade(settings)
    base = MinioObjectStore.from_settings(settings)
    store = MinioObjectStore(base.client, multipart_threshold=5 * MIB, part_size=5 * MIB)
    replica = MinioObjectStore(
        MinioObjectStore.from_settings(settings, site="replica").client, multipart_threshold=5 * MIB, part_size=5 * MIB
    )
    index = await PgIndex.connect(settings, migrate=False)
    try:
        for site in (store, replica):
            await site.ensure_bucket(settings.archive_bucket, object_lock=True)
        [sample] = generate_cases(1, seed=1819, wrong_digest_every=None)
        event = await classified_event(
            settings, store, PgClassificationStore(index.pool), sample.record, retention=RetentionPeriod.TEN_YEARS
        )
        content = os.urandom(12 * MIB + 5)
        digest = hashlib.sha256(content).hexdigest()
        key = f"{event.subject}/large/{digest}"
        await store.put_bytes(settings.staging_bucket, key, content, content_type="application/pdf")
        large = CapturedFile(
            stage=Stage.APPLICATION,
            material_name="大幅面扫描件",
            file_name="large.pdf",
            original_file_name="large.pdf",
            media_type="application/pdf",
            size=len(content),
            sha256=digest,
            stored=ObjectRef(bucket=settings.staging_bucket, key=key),
        )
        event = event.model_copy(update={"data": event.data.model_copy(update={"files": [*event.data.files, large]})})
        clock = lambda: datetime(2026, 12, 2, 9, 0, tzinfo=UTC)  # noqa: E731  # the same package both times

        with pytest.raises(ConnectionError):  # the first attempt stores both copies, then dies
            await store_case(
                event,
                store=store,
                index=_IndexThatStopsBeforeTheRows(index),  # type: ignore[arg-type]
                archive_bucket=settings.archive_bucket,
                replica=replica,
                clock=clock,
            )
        [out] = await store_case(
            event,
            store=store,
            index=index,
            archive_bucket=settings.archive_bucket,
            replica=replica,
            clock=lambda: datetime(2026, 12, 2, 10, 0, tzinfo=UTC),  # a later attempt: its own package would differ
        )
        assert out.event.data.archived_at == clock(), "the package the first attempt stored is the one indexed"
        package = out.event.data.package
        for site in (store, replica):
            versions = await site.list_versions(settings.archive_bucket, package.key)
            assert len(versions) == 1, "the redelivery's write was refused: one version per site"
            head = site.client.stat_object(settings.archive_bucket, package.key)
            assert "-" in (head.etag or ""), "written as a multipart upload"
            assert site.client.get_object_retention(settings.archive_bucket, package.key).mode == "COMPLIANCE"
        stored = bag.read_package(await store.get_bytes(settings.archive_bucket, package.key))
        assert bag.verify(stored) == []
        assert stored.record["archived_event"]["id"] == out.event.id, "the stored package's event is announced"
        assert stored.member_bytes(f"data/application/{len(event.data.files):03d}-large.pdf") == content
    finally:
        await index.close()
