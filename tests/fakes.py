"""In-memory fakes of the ports, for unit tests only (integration and e2e tests use the real servers)."""

from __future__ import annotations

import copy
from typing import Any

from services.common.adapters.object_store import ObjectMissing, StoredObject
from services.common.series import AllocatedCode, Series


class InMemoryObjectStore:
    def __init__(self) -> None:
        self.buckets: dict[str, dict[str, tuple[bytes, dict[str, str]]]] = {}
        self.locked: set[str] = set()
        self.puts = 0

    async def ensure_bucket(self, bucket: str, *, object_lock: bool = False) -> None:
        self.buckets.setdefault(bucket, {})
        if object_lock:
            self.locked.add(bucket)

    async def put_bytes(
        self, bucket: str, key: str, data: bytes, *, content_type: str, metadata: dict[str, str] | None = None
    ) -> None:
        if bucket in self.locked and key in self.buckets[bucket]:
            raise AssertionError(f"overwrite of write-once object {bucket}/{key}")
        self.buckets[bucket][key] = (bytes(data), dict(metadata or {}))
        self.puts += 1

    async def get_bytes(self, bucket: str, key: str) -> bytes:
        if key not in self.buckets.get(bucket, {}):
            raise ObjectMissing(f"{bucket}/{key}")
        return self.buckets[bucket][key][0]

    async def stat(self, bucket: str, key: str) -> StoredObject | None:
        item = self.buckets.get(bucket, {}).get(key)
        return StoredObject(bucket, key, len(item[0]), item[1]) if item else None

    async def list_keys(self, bucket: str, prefix: str) -> set[str]:
        return {k for k in self.buckets.get(bucket, {}) if k.startswith(prefix)}

    async def copy(self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str) -> None:
        self.buckets[dst_bucket][dst_key] = self.buckets[src_bucket][src_key]


class RecordingPublisher:
    def __init__(self, failures_before_success: int = 0, fault: Exception | None = None) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        self._failures = failures_before_success
        self._fault = fault or ConnectionError("broker unavailable")

    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        if self._failures > 0:
            self._failures -= 1
            raise self._fault
        self.sent.append((topic, key, value))


class InMemoryIndex:
    """Archival codes and archived records with the same idempotency rules as PgIndex."""

    def __init__(self) -> None:
        self.series: dict[Series, int] = {}
        self.codes: dict[str, AllocatedCode] = {}
        self.records: dict[str, tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]] = {}

    async def allocate_archival_code(self, case_key: str, series: Series, format_code: Any) -> AllocatedCode:
        if case_key in self.codes:
            found = self.codes[case_key]
            return AllocatedCode(found.item_number, found.archival_code, newly_allocated=False)
        number = self.series.get(series, 0) + 1
        self.series[series] = number
        self.codes[case_key] = AllocatedCode(number, format_code(series, number), newly_allocated=True)
        return self.codes[case_key]

    async def archived_event(self, case_key: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.records[case_key][2]) if case_key in self.records else None

    async def insert_archived_record(
        self, record_row: dict[str, Any], file_rows: list[dict[str, Any]], archived_event: dict[str, Any]
    ) -> dict[str, Any]:
        key = record_row["case_key"]
        if key not in self.records:
            self.records[key] = (record_row, file_rows, archived_event)
        return copy.deepcopy(self.records[key][2])
