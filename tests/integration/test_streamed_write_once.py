"""A package larger than the multipart threshold, written write-once from a file against the real MinIO
(issue 18): the retention lock is on the object the upload completes, a second writer is refused at
completion (If-None-Match: * on CompleteMultipartUpload), and a failed upload leaves neither an object
nor an upload behind. The threshold and part size are set small (5 MiB parts, S3's minimum) so a 12 MiB
package is three parts."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.common.adapters.object_store import MinioObjectStore
from services.common.digests import DigestWriter, digests_of
from services.common.settings import ArchiveSettings

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
