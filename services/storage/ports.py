"""Storage's ports: the index of archived records (for the step and the fixity audit) and the object
store. The adapter is services/storage/adapters/index.py; tests/fakes.py has an in-memory index."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, TypedDict

from contracts.envelope import CloudEvent
from contracts.v1 import SupersededRevision
from services.common.adapters.fixity_log import FixityCheckRow
from services.common.adapters.object_store import ObjectStore, ObjectVersion
from services.common.runner import Publisher

__all__ = [
    "AuditIndex",
    "AuditPackageRow",
    "DisposableStore",
    "FixityCheckRow",
    "ObjectStore",
    "RecordIndex",
    "RestoreIndex",
    "RevalidationIndex",
    "ScheduledAuditIndex",
    "ScheduledRevalidationIndex",
    "StorageIndex",
    "TransferIndex",
]


class AuditPackageRow(TypedDict):
    """One package due for a fixity check (PgIndex.packages_for_audit): where it is and what it held."""

    case_key: str
    source_platform: str
    case_number: str
    revision: int
    archival_code: str
    package_bucket: str
    package_prefix: str
    package_key: str
    package_version_id: str | None
    replica_version_id: str | None
    package_sha256: str
    manifest_sha256: str
    file_count: int
    total_bytes: int
    retain_until: datetime | None
    legal_hold: bool
    checked_at: datetime | None


class RecordIndex(Protocol):
    async def archived_event(self, case_key: str) -> dict[str, Any] | None: ...
    async def code_allocated_at(self, case_key: str) -> datetime | None: ...
    async def archived_revision_before(
        self, platform: str, case_number: str, revision: int
    ) -> SupersededRevision | None: ...
    async def insert_archived_record(
        self,
        record_row: dict[str, Any],
        file_rows: list[dict[str, Any]],
        archived_event: dict[str, Any],
        *,
        event_rows: Sequence[dict[str, Any]] = (),
        code_row: dict[str, Any] | None = None,
    ) -> dict[str, Any]: ...


class AuditIndex(Protocol):
    async def record_fixity_check(self, row: FixityCheckRow, alert: CloudEvent[Any] | None = None) -> None:
        """Record the check; with `alert`, stage that event in the outbox in the same transaction."""
        ...

    async def relay_outbox(
        self, publisher: Publisher, topic_name: Callable[[str], str], *, only: str | None = None
    ) -> int: ...
    async def record_repair(
        self, case_key: str, *, column: str, version_id: str | None, event: dict[str, Any], check: FixityCheckRow
    ) -> None: ...
    async def record_copy_version(self, case_key: str, *, column: str, version_id: str) -> None:
        """A verified copy the index had no version of (`column` NULL): record the version it read."""

    async def being_destroyed(self, case_key: str) -> bool:
        """Whether disposition has started deleting the case's package (or has destroyed it)."""
        ...


class ScheduledAuditIndex(AuditIndex, Protocol):
    """What a scheduled audit round needs besides writing checks: the due packages and the one-at-a-time lock."""

    async def packages_for_audit(
        self, *, checked_before: datetime | None = None, limit: int | None = None
    ) -> list[AuditPackageRow]: ...

    async def try_lock(self, lock_id: int) -> Any: ...

    async def unlock(self, conn: Any, lock_id: int) -> None: ...


class RestoreIndex(Protocol):
    """What the restore test needs: random packages with a replica copy, and where to record the result."""

    async def packages_for_restore_test(self, *, sample: int) -> list[dict[str, Any]]: ...
    async def record_restore_test(self, row: dict[str, Any]) -> None: ...
    async def try_lock(self, lock_id: int) -> Any: ...
    async def unlock(self, conn: Any, lock_id: int) -> None: ...


class RevalidationIndex(Protocol):
    """Where a four-property re-check of a package is recorded: its `revalidations` row and its PREMIS events
    (rows of preservation_events without case key and seq), in one transaction."""

    async def record_revalidation(self, row: dict[str, Any], events: Sequence[dict[str, Any]]) -> None: ...


class ScheduledRevalidationIndex(RevalidationIndex, Protocol):
    """What a scheduled re-check round needs besides writing results: the due packages and the lock."""

    async def packages_for_revalidation(
        self, *, checked_before: datetime | None = None, limit: int | None = None
    ) -> list[AuditPackageRow]: ...

    async def try_lock(self, lock_id: int) -> Any: ...

    async def unlock(self, conn: Any, lock_id: int) -> None: ...


class StorageIndex(RecordIndex, ScheduledAuditIndex, RestoreIndex, ScheduledRevalidationIndex, Protocol):
    """The index port of the whole service: the step's, the audit's, the restore test's and the preservation
    re-check's (PgIndex is one)."""


class TransferIndex(RevalidationIndex, Protocol):
    """What `archivectl transfer` needs (services/storage/transfer.py); PgIndex is one."""

    async def records_for_transfer(
        self,
        *,
        year: int | None,
        retention: str | None,
        category_code: str | None,
        department_code: str | None,
        limit: int | None,
    ) -> list[dict[str, Any]]:
        """Records not transferred yet that match: AuditPackageRow's keys plus case_title, year, retention,
        category_code, department_code."""
        ...

    async def record_transfer_set(
        self, set_row: dict[str, Any], record_rows: Sequence[dict[str, Any]], events: dict[str, dict[str, Any]]
    ) -> None:
        """The set, its records and a PREMIS event per record (case key → event), in one transaction."""
        ...

    async def transfer_set(self, set_id: str) -> dict[str, Any] | None: ...

    async def transfer_set_cases(self, set_id: str) -> list[str]: ...

    async def accept_transfer_set(
        self,
        set_id: str,
        *,
        accepted_at: datetime,
        accepted_by: str,
        acknowledgement: str,
        keep_until: datetime,
        events: dict[str, dict[str, Any]],
    ) -> dict[str, Any] | None:
        """Close a set that is still open (None: it was not), with a PREMIS event per record."""
        ...


class DisposableStore(Protocol):
    """What disposition needs of a site's object store (MinioObjectStore is one): the versions of a
    package key, deleting one (refused by the server while locked: ObjectLocked), lengthening a lock."""

    async def list_versions(self, bucket: str, prefix: str = "") -> list[ObjectVersion]: ...
    async def delete_version(self, bucket: str, key: str, version_id: str | None) -> None: ...
    async def extend_lock(
        self, bucket: str, key: str, version_id: str | None, *, retain_until: datetime, legal_hold: bool = False
    ) -> None: ...
