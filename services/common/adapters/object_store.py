"""The object store port and its MinIO (S3 API) adapter.

The minio client is synchronous; calls run in a worker thread so the event loop keeps serving the
consumer's heartbeats. Only the S3 API is used, so any S3 server with object lock would do.
"""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import IO, Any, Protocol

from minio import Minio
from minio.commonconfig import COMPLIANCE, CopySource
from minio.datatypes import CompleteMultipartUploadResult
from minio.error import S3Error
from minio.helpers import genheaders, md5sum_hash
from minio.retention import Retention
from minio.xml import Element, SubElement, getbytes
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import MaxRetryError, ResponseError

from services.common.digests import Sink
from services.common.settings import ArchiveSettings

# A package up to this size goes up in one PUT; a larger one as a multipart upload of parts this size
# (S3: parts of 5 MiB to 5 GiB, at most 10,000 of them — 64 MiB parts cover 625 GiB). One part is in
# memory at a time, so the part size bounds what a write holds.
MULTIPART_THRESHOLD = 64 * 1024 * 1024
PART_SIZE = 64 * 1024 * 1024
READ_CHUNK = 1024 * 1024  # a streamed download's chunk


class ObjectMissing(LookupError):
    """The object does not exist (S3 NoSuchKey): a wrong reference, never a transient fault."""


class ObjectUnreadable(Exception):
    """The object store answered but would not give the object's bytes — whatever the S3 server or the
    client raised for it (an S3 error such as SlowDownRead, urllib3's MaxRetryError after repeated 5xx, a
    read broken off mid-stream). `detail` says what the server said; the original error is the cause.

    Readers that judge an object (the fixity audit, downloads, the index rebuild) catch this one error.
    Whether retrying may help is the cause's to say (services/common/faults.py asks it): a busy server is
    waited out by the workers, a refusal is not. A server that does not answer at all is not this error."""

    def __init__(self, bucket: str, key: str, detail: str) -> None:
        super().__init__(f"{bucket}/{key} cannot be read: {detail}")
        self.bucket, self.key, self.detail = bucket, key, detail


class ObjectLocked(Exception):
    """The server refused to delete an object version: it is under COMPLIANCE retention or a legal hold
    (S3 object lock; MinIO: "Object is WORM protected and cannot be overwritten"). `detail` is its answer."""

    def __init__(self, bucket: str, key: str, version_id: str | None, detail: str) -> None:
        super().__init__(f"{bucket}/{key} version {version_id} cannot be deleted: {detail}")
        self.bucket, self.key, self.version_id, self.detail = bucket, key, version_id, detail


def _refusal_detail(exc: BaseException) -> str | None:
    """What the server said when it answered and refused the data; None when it did not answer at all."""
    if isinstance(exc, S3Error):
        return f"{exc.code}: {exc.message}"
    if isinstance(exc, MaxRetryError) and isinstance(exc.reason, ResponseError):
        # MinIO answers 503, again and again, for an object whose stored data fails its own bit-rot check.
        return f"the server keeps answering {exc.reason} (MinIO answers so for data that fails its bit-rot check)"
    return None


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    key: str
    size: int
    metadata: dict[str, str]
    version_id: str | None = None


@dataclass(frozen=True)
class WriteOnce:
    """The outcome of a write-once put: the version that holds the key, and whether this call made it."""

    version_id: str | None
    created: bool


@dataclass(frozen=True)
class ObjectVersion:
    key: str
    version_id: str | None
    size: int
    last_modified: datetime | None
    is_delete_marker: bool


class ObjectStore(Protocol):
    async def ensure_bucket(self, bucket: str, *, object_lock: bool = False) -> None: ...
    async def put_bytes(
        self, bucket: str, key: str, data: bytes, *, content_type: str, metadata: dict[str, str] | None = None
    ) -> None: ...
    async def put_file(
        self,
        bucket: str,
        key: str,
        file: IO[bytes],
        length: int,
        *,
        content_type: str,
        metadata: dict[str, str] | None = None,
    ) -> None: ...
    async def get_bytes(self, bucket: str, key: str, *, version_id: str | None = None) -> bytes: ...
    async def get_into(self, bucket: str, key: str, out: Sink, *, version_id: str | None = None) -> int: ...
    async def stat(self, bucket: str, key: str, *, version_id: str | None = None) -> StoredObject | None: ...
    async def copy(self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str) -> None: ...
    async def list_keys(self, bucket: str, prefix: str) -> set[str]: ...
    async def put_write_once(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        content_type: str,
        metadata: dict[str, str] | None = None,
        retain_until: datetime | None = None,
        legal_hold: bool = False,
    ) -> WriteOnce: ...
    async def put_write_once_file(
        self,
        bucket: str,
        key: str,
        path: Path,
        *,
        content_type: str,
        metadata: dict[str, str] | None = None,
        retain_until: datetime | None = None,
        legal_hold: bool = False,
    ) -> WriteOnce: ...
    async def put_new_version(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        content_type: str,
        metadata: dict[str, str] | None = None,
        retain_until: datetime | None = None,
        legal_hold: bool = False,
    ) -> str | None: ...


class MinioObjectStore:
    def __init__(
        self, client: Minio, *, multipart_threshold: int = MULTIPART_THRESHOLD, part_size: int = PART_SIZE
    ) -> None:
        self.client = client
        self.multipart_threshold, self.part_size = multipart_threshold, part_size
        self._known_buckets: set[str] = set()

    @classmethod
    def from_settings(
        cls, settings: ArchiveSettings, *, retry_server_errors: bool = True, site: str = "primary"
    ) -> MinioObjectStore:
        """`retry_server_errors=False`: answer at once when the server returns 5xx instead of retrying
        (minio-py's default retries 503 honouring Retry-After — minutes for an object MinIO finds
        corrupt). The fixity audit wants the server's verdict, not a wait; connection errors are still
        retried. `site="replica"`: the second site's server (settings.minio_replica_*)."""
        prefix = "minio" if site == "primary" else "minio_replica"
        http_client = None
        if not retry_server_errors:
            import certifi
            import urllib3

            http_client = urllib3.PoolManager(
                timeout=urllib3.Timeout(connect=10, read=300),
                maxsize=10,
                cert_reqs="CERT_REQUIRED",
                ca_certs=certifi.where(),
                retries=urllib3.Retry(
                    total=5, backoff_factor=0.2, status_forcelist=[], respect_retry_after_header=False
                ),
            )
        return cls(
            Minio(
                getattr(settings, f"{prefix}_endpoint"),
                access_key=getattr(settings, f"{prefix}_access_key"),
                secret_key=getattr(settings, f"{prefix}_secret_key"),
                secure=getattr(settings, f"{prefix}_secure"),
                http_client=http_client,
            )
        )

    async def presigned_get_url(self, bucket: str, key: str, expires: timedelta) -> str:
        """A URL that reads the object with a plain HTTP GET until `expires` from now (S3 presigned, at most
        7 days): how `archivectl import` hands capture the scans it staged (docs/lifecycle.md)."""
        return await asyncio.to_thread(self.client.presigned_get_object, bucket, key, expires=expires)

    async def ensure_bucket(self, bucket: str, *, object_lock: bool = False) -> None:
        if bucket in self._known_buckets:
            return

        def _ensure() -> None:
            if not self.client.bucket_exists(bucket):
                try:
                    # Object lock can only be switched on when a bucket is made (it implies versioning).
                    self.client.make_bucket(bucket, object_lock=object_lock)
                except S3Error as exc:
                    if exc.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                        raise

        await asyncio.to_thread(_ensure)
        self._known_buckets.add(bucket)

    async def put_bytes(
        self, bucket: str, key: str, data: bytes, *, content_type: str, metadata: dict[str, str] | None = None
    ) -> None:
        await asyncio.to_thread(
            self.client.put_object,
            bucket,
            key,
            io.BytesIO(data),
            len(data),
            content_type=content_type,
            metadata=metadata or None,  # type: ignore[arg-type]  # minio types metadata as an invariant dict[str, str | list | tuple]
        )

    async def put_file(
        self,
        bucket: str,
        key: str,
        file: IO[bytes],
        length: int,
        *,
        content_type: str,
        metadata: dict[str, str] | None = None,
    ) -> None:
        """Upload from an open file, in parts: a large file is never read into memory whole."""
        await asyncio.to_thread(
            self.client.put_object,
            bucket,
            key,
            file,  # type: ignore[arg-type]  # minio wants BinaryIO; any IO[bytes] with read() works
            length,
            content_type=content_type,
            metadata=metadata or None,  # type: ignore[arg-type]  # minio types metadata as an invariant dict[str, str | list | tuple]
            part_size=6 * 1024 * 1024,  # S3's minimum is 5 MiB; small parts keep memory flat
        )

    def _open_object(self, bucket: str, key: str, version_id: str | None) -> Any:
        """minio's GET response (the caller reads, closes and releases it), its errors made ours: ObjectMissing,
        ObjectUnreadable for a refusal, a transient fault where the server does not answer."""
        try:
            return self.client.get_object(bucket, key, version_id=version_id)
        except S3Error as exc:
            if exc.code in {"NoSuchKey", "NoSuchObject", "NoSuchBucket"}:
                raise ObjectMissing(f"{bucket}/{key}") from exc
            raise ObjectUnreadable(bucket, key, f"{exc.code}: {exc.message}") from exc
        except MaxRetryError as exc:
            detail = _refusal_detail(exc)
            if detail is None:
                raise  # the server does not answer: a transient fault, not a verdict on the object
            raise ObjectUnreadable(bucket, key, detail) from exc

    async def get_bytes(self, bucket: str, key: str, *, version_id: str | None = None) -> bytes:
        def _get() -> bytes:
            response = self._open_object(bucket, key, version_id)
            try:
                return response.read()  # a connection lost mid-read is a transient fault, not a verdict
            finally:
                response.close()
                response.release_conn()

        return await asyncio.to_thread(_get)

    async def get_into(self, bucket: str, key: str, out: Sink, *, version_id: str | None = None) -> int:
        """Stream the object into `out` chunk by chunk (never whole in memory); returns the bytes written.
        Errors as get_bytes: ObjectMissing, ObjectUnreadable for a refusal, a transient fault otherwise."""

        def _get() -> int:
            response = self._open_object(bucket, key, version_id)
            written = 0
            try:
                for chunk in response.stream(READ_CHUNK):
                    out.write(chunk)
                    written += len(chunk)
                return written
            finally:
                response.close()
                response.release_conn()

        return await asyncio.to_thread(_get)

    def ranged_read(
        self, bucket: str, key: str, *, offset: int, length: int, version_id: str | None = None, chunk_size: int
    ) -> RangedRead:
        """`length` bytes from `offset` of one object version, read chunk by chunk (open, next_chunk, close):
        a file inside a package is served without reading the package."""
        return RangedRead(self.client, bucket, key, version_id, offset, length, chunk_size)

    async def stat(self, bucket: str, key: str, *, version_id: str | None = None) -> StoredObject | None:
        def _stat() -> StoredObject | None:
            try:
                info = self.client.stat_object(bucket, key, version_id=version_id)
            except S3Error as exc:
                if exc.code in {"NoSuchKey", "NoSuchObject"}:
                    return None
                raise
            user_meta = {
                k.lower().removeprefix("x-amz-meta-"): v
                for k, v in (info.metadata or {}).items()
                if k.lower().startswith("x-amz-meta-")
            }
            return StoredObject(bucket, key, info.size or 0, user_meta, info.version_id)

        return await asyncio.to_thread(_stat)

    async def list_keys(self, bucket: str, prefix: str) -> set[str]:
        def _list() -> set[str]:
            return {o.object_name for o in self.client.list_objects(bucket, prefix=prefix, recursive=True)}

        return await asyncio.to_thread(_list)

    async def copy(self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str) -> None:
        await asyncio.to_thread(self.client.copy_object, dst_bucket, dst_key, CopySource(src_bucket, src_key))

    async def put_write_once(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        content_type: str,
        metadata: dict[str, str] | None = None,
        retain_until: datetime | None = None,
        legal_hold: bool = False,
    ) -> WriteOnce:
        """One PUT with `If-None-Match: *`: the server refuses it when the key already holds an object, so
        an object is never written twice (a retry gets back the version already there). With
        `retain_until`, the version gets COMPLIANCE retention (and `legal_hold` a legal hold) in the same
        request, so it is never visible unlocked. Single PUT: up to 5 GiB.

        minio-py's put_object cannot send If-None-Match (it turns unknown headers into user metadata), so
        this calls its one-request PutObject (`_put_object`) with headers built by its own `genheaders`."""

        def _put() -> WriteOnce:
            try:
                version = self._put_locked(bucket, key, data, content_type, metadata, retain_until, legal_hold, True)
                return WriteOnce(version, created=True)
            except S3Error as exc:
                if exc.code != "PreconditionFailed":
                    raise
            info = self.client.stat_object(bucket, key)
            return WriteOnce(info.version_id, created=False)

        return await asyncio.to_thread(_put)

    async def put_write_once_file(
        self,
        bucket: str,
        key: str,
        path: Path,
        *,
        content_type: str,
        metadata: dict[str, str] | None = None,
        retain_until: datetime | None = None,
        legal_hold: bool = False,
    ) -> WriteOnce:
        """put_write_once from a local file, never whole in memory: up to `multipart_threshold` one PUT,
        above it an S3 multipart upload, one `part_size` part in memory at a time.

        The multipart upload keeps both guarantees of the single PUT: the retention and legal-hold headers
        go on CreateMultipartUpload (S3 applies them to the object the upload completes, so it is never
        visible unlocked), and `If-None-Match: *` on CompleteMultipartUpload — the request that makes the
        object exist — so a second writer is refused at completion (MinIO honours the conditional
        complete; tests/integration/test_streamed_write_once.py checks it). An upload that fails or is
        refused is aborted: no parts are left behind. minio-py's `_complete_multipart_upload` cannot send
        If-None-Match, so the Complete request is sent through its own signed `_execute`."""
        size = await asyncio.to_thread(os.path.getsize, path)
        if size <= self.multipart_threshold:
            data = await asyncio.to_thread(path.read_bytes)
            return await self.put_write_once(
                bucket,
                key,
                data,
                content_type=content_type,
                metadata=metadata,
                retain_until=retain_until,
                legal_hold=legal_hold,
            )

        def _put() -> WriteOnce:
            try:
                version = self._multipart_locked(bucket, key, path, content_type, metadata, retain_until, legal_hold)
                return WriteOnce(version, created=True)
            except S3Error as exc:
                if exc.code != "PreconditionFailed":
                    raise
            info = self.client.stat_object(bucket, key)
            return WriteOnce(info.version_id, created=False)

        return await asyncio.to_thread(_put)

    def _multipart_locked(
        self,
        bucket: str,
        key: str,
        path: Path,
        content_type: str,
        metadata: dict[str, str] | None,
        retain_until: datetime | None,
        legal_hold: bool,
    ) -> str | None:
        retention = Retention(COMPLIANCE, retain_until) if retain_until else None
        headers = genheaders(metadata or None, None, None, retention, legal_hold)  # type: ignore[arg-type]  # minio types its headers as an invariant dict[str, str | list | tuple]
        headers["Content-Type"] = content_type
        upload_id = self.client._create_multipart_upload(bucket, key, headers)
        try:
            etags: list[str] = []
            with path.open("rb") as source:
                while part := source.read(self.part_size):
                    etags.append(self.client._upload_part(bucket, key, part, None, upload_id, len(etags) + 1))
                    del part  # one part in memory at a time
            complete = Element("CompleteMultipartUpload")
            for number, etag in enumerate(etags, start=1):
                tag = SubElement(complete, "Part")
                SubElement(tag, "PartNumber", str(number))
                SubElement(tag, "ETag", f'"{etag}"')
            body = getbytes(complete)
            response = self.client._execute(
                "POST",
                bucket,
                key,
                body=body,
                headers={"Content-Type": "application/xml", "Content-MD5": md5sum_hash(body), "If-None-Match": "*"},  # type: ignore[dict-item]  # md5sum_hash is typed Optional; it is never None for bytes
                query_params={"uploadId": upload_id},
            )
            result = CompleteMultipartUploadResult(response)
        except BaseException:
            self._abort_quietly(bucket, key, upload_id)
            raise
        return result.version_id

    def _abort_quietly(self, bucket: str, key: str, upload_id: str) -> None:
        """Abort an upload that failed: its parts are dropped (the original error is the one raised)."""
        try:
            self.client._abort_multipart_upload(bucket, key, upload_id)
        except (S3Error, Urllib3Error, OSError):
            pass  # the bucket's lifecycle (or MinIO's stale-upload cleanup) removes it; the cause matters more

    async def put_new_version(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        content_type: str,
        metadata: dict[str, str] | None = None,
        retain_until: datetime | None = None,
        legal_hold: bool = False,
    ) -> str | None:
        """A new version of an existing key, locked in the same request (a repair: the locked version it
        replaces stays, as its lock says). Returns the new version id."""
        return await asyncio.to_thread(
            self._put_locked, bucket, key, data, content_type, metadata, retain_until, legal_hold, False
        )

    def _put_locked(
        self,
        bucket: str,
        key: str,
        data: bytes,
        content_type: str,
        metadata: dict[str, str] | None,
        retain_until: datetime | None,
        legal_hold: bool,
        if_none_match: bool,
    ) -> str | None:
        retention = Retention(COMPLIANCE, retain_until) if retain_until else None
        headers = genheaders(metadata or None, None, None, retention, legal_hold)  # type: ignore[arg-type]  # minio types its headers as an invariant dict[str, str | list | tuple]
        headers["Content-Type"] = content_type
        if if_none_match:
            headers["If-None-Match"] = "*"
        return self.client._put_object(bucket, key, data, headers).version_id

    async def list_versions(self, bucket: str, prefix: str = "") -> list[ObjectVersion]:
        """Every version and delete marker under `prefix`, as the server lists them."""

        def _list() -> list[ObjectVersion]:
            found: Iterator = self.client.list_objects(bucket, prefix=prefix, recursive=True, include_version=True)
            return [
                ObjectVersion(o.object_name, o.version_id, o.size or 0, o.last_modified, bool(o.is_delete_marker))
                for o in found
            ]

        return await asyncio.to_thread(_list)

    async def delete_version(self, bucket: str, key: str, version_id: str | None) -> None:
        """Delete one version for good (`DELETE ?versionId=`), not a delete marker. Under retention or a
        legal hold the server refuses: ObjectLocked with what it said."""

        def _delete() -> None:
            try:
                self.client.remove_object(bucket, key, version_id=version_id)
            except S3Error as exc:
                if exc.code == "AccessDenied" or "WORM" in (exc.message or ""):
                    raise ObjectLocked(bucket, key, version_id, f"{exc.code}: {exc.message}") from exc
                raise

        await asyncio.to_thread(_delete)

    async def extend_lock(
        self, bucket: str, key: str, version_id: str | None, *, retain_until: datetime, legal_hold: bool = False
    ) -> None:
        """Lengthen a version's COMPLIANCE retention (the server refuses shortening it) and, with
        `legal_hold`, put a legal hold on it."""

        def _extend() -> None:
            self.client.set_object_retention(bucket, key, Retention(COMPLIANCE, retain_until), version_id=version_id)
            if legal_hold:
                self.client.enable_object_legal_hold(bucket, key, version_id=version_id)

        await asyncio.to_thread(_extend)

    async def list_objects(self, bucket: str, prefix: str = "") -> list[ObjectVersion]:
        """The current objects under `prefix` (latest versions, no delete markers)."""

        def _list() -> list[ObjectVersion]:
            return [
                ObjectVersion(o.object_name, o.version_id, o.size or 0, o.last_modified, False)
                for o in self.client.list_objects(bucket, prefix=prefix, recursive=True)
            ]

        return await asyncio.to_thread(_list)


class RangedRead:
    """A ranged GET through the minio client (synchronous; every call runs in a worker thread). A refusal
    of the object store, at the start or mid-stream, is ObjectUnreadable; a server that does not answer
    when the read is opened raises what the client raised (the caller answers "try again later")."""

    def __init__(
        self, client: Minio, bucket: str, key: str, version_id: str | None, offset: int, length: int, chunk_size: int
    ) -> None:
        self.client, self.bucket, self.key = client, bucket, key
        self.version_id, self.offset, self.length, self.chunk_size = version_id, offset, length, chunk_size
        self.response: Any = None
        self.chunks: Any = None

    async def open(self) -> None:
        def _open() -> Any:
            return self.client.get_object(
                self.bucket, self.key, offset=self.offset, length=self.length, version_id=self.version_id
            )

        if self.length == 0:
            self.chunks = iter(())
            return
        try:
            self.response = await asyncio.to_thread(_open)
        except (S3Error, MaxRetryError) as exc:
            detail = _refusal_detail(exc)
            if detail is None:
                raise
            raise ObjectUnreadable(self.bucket, self.key, detail) from exc
        self.chunks = self.response.stream(self.chunk_size)

    async def next_chunk(self) -> bytes | None:
        try:
            return await asyncio.to_thread(next, self.chunks, None)
        except (Urllib3Error, S3Error, OSError) as exc:
            raise ObjectUnreadable(self.bucket, self.key, f"the read broke off: {exc}") from exc

    async def close(self) -> None:
        if self.response is not None:
            response, self.response = self.response, None
            await asyncio.to_thread(lambda: (response.close(), response.release_conn()))
