"""The object store port and its MinIO (S3 API) adapter.

The minio client is synchronous; calls run in a worker thread so the event loop keeps serving the
consumer's heartbeats. Only the S3 API is used, so any S3 server with object lock would do.
"""

from __future__ import annotations

import asyncio
import io
from dataclasses import dataclass
from typing import Protocol

from minio import Minio
from minio.commonconfig import CopySource
from minio.error import S3Error

from services.common.settings import ArchiveSettings


class ObjectMissing(LookupError):
    """The object does not exist (S3 NoSuchKey): a wrong reference, never a transient fault."""


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    key: str
    size: int
    metadata: dict[str, str]


class ObjectStore(Protocol):
    async def ensure_bucket(self, bucket: str, *, object_lock: bool = False) -> None: ...
    async def put_bytes(
        self, bucket: str, key: str, data: bytes, *, content_type: str, metadata: dict[str, str] | None = None
    ) -> None: ...
    async def get_bytes(self, bucket: str, key: str) -> bytes: ...
    async def stat(self, bucket: str, key: str) -> StoredObject | None: ...
    async def copy(self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str) -> None: ...
    async def list_keys(self, bucket: str, prefix: str) -> set[str]: ...


class MinioObjectStore:
    def __init__(self, client: Minio) -> None:
        self.client = client
        self._known_buckets: set[str] = set()

    @classmethod
    def from_settings(cls, settings: ArchiveSettings) -> MinioObjectStore:
        return cls(
            Minio(
                settings.minio_endpoint,
                access_key=settings.minio_access_key,
                secret_key=settings.minio_secret_key,
                secure=settings.minio_secure,
            )
        )

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
            metadata=metadata or None,
        )

    async def get_bytes(self, bucket: str, key: str) -> bytes:
        def _get() -> bytes:
            try:
                response = self.client.get_object(bucket, key)
            except S3Error as exc:
                if exc.code in {"NoSuchKey", "NoSuchObject", "NoSuchBucket"}:
                    raise ObjectMissing(f"{bucket}/{key}") from exc
                raise
            try:
                return response.read()
            finally:
                response.close()
                response.release_conn()

        return await asyncio.to_thread(_get)

    async def stat(self, bucket: str, key: str) -> StoredObject | None:
        def _stat() -> StoredObject | None:
            try:
                info = self.client.stat_object(bucket, key)
            except S3Error as exc:
                if exc.code in {"NoSuchKey", "NoSuchObject"}:
                    return None
                raise
            user_meta = {
                k.lower().removeprefix("x-amz-meta-"): v
                for k, v in (info.metadata or {}).items()
                if k.lower().startswith("x-amz-meta-")
            }
            return StoredObject(bucket, key, info.size or 0, user_meta)

        return await asyncio.to_thread(_stat)

    async def list_keys(self, bucket: str, prefix: str) -> set[str]:
        def _list() -> set[str]:
            return {o.object_name for o in self.client.list_objects(bucket, prefix=prefix, recursive=True)}

        return await asyncio.to_thread(_list)

    async def copy(self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str) -> None:
        await asyncio.to_thread(self.client.copy_object, dst_bucket, dst_key, CopySource(src_bucket, src_key))
