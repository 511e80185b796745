"""The PostgreSQL index adapter of storage (asyncpg): archived-record rows, the index rebuild and the
fixity audit's reads. Archival codes are allocated by classification (its store, in one transaction with
the case's classification); search is the query service's (services/query/search.py, the bigram index);
fixity checks are written through services/common/adapters/fixity_log.py, the one writer of `fixity_checks`.

Every write is idempotent by case key: a redelivered case gets back what is already there."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any, cast

import asyncpg

from contracts.envelope import CloudEvent
from contracts.v1 import SupersededRevision, topics
from services.common.adapters import outbox
from services.common.adapters.fixity_log import FixityCheckRow, record_fixity_check
from services.common.composition import open_database
from services.common.runner import Publisher
from services.common.settings import ArchiveSettings
from services.storage.ports import AuditPackageRow

# What a fixity check (and a re-check) needs of a record: AuditPackageRow's columns but its last check.
_AUDIT_COLUMNS = """r.case_key, r.source_platform, r.case_number, r.revision, r.archival_code,
                   r.package_bucket, r.package_prefix, r.package_key, r.package_version_id, r.replica_version_id,
                   r.package_sha256,
                   r.manifest_sha256, r.file_count, r.total_bytes, r.retain_until, r.legal_hold"""


class PgIndex:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def connect(cls, settings: ArchiveSettings, *, migrate: bool = True, max_size: int = 4) -> PgIndex:
        """For commands and tests; a worker builds its adapters on its one pool (its bootstrap.py)."""
        if migrate:
            return cls(await open_database(settings, max_size=max_size))
        return cls(await asyncpg.create_pool(settings.pg_dsn(), min_size=1, max_size=max_size))

    async def close(self) -> None:
        await self.pool.close()

    async def archived_event(self, case_key: str) -> dict[str, Any] | None:
        """The archived event already recorded for the case, if it was archived before."""
        raw = await self.pool.fetchval("SELECT archived_event FROM records WHERE case_key=$1", case_key)
        return json.loads(raw) if raw else None

    async def code_allocated_at(self, case_key: str) -> datetime | None:
        """When the case's archival code was allocated (recorded in the package, so a rebuild keeps it)."""
        return await self.pool.fetchval("SELECT allocated_at FROM archival_codes WHERE case_key=$1", case_key)

    async def archived_revision_before(
        self, platform: str, case_number: str, revision: int
    ) -> SupersededRevision | None:
        """The newest archived revision of the case number below `revision`: what a correction replaces."""
        row = await self.pool.fetchrow(
            """SELECT case_key, revision, archival_code FROM records
               WHERE source_platform=$1 AND case_number=$2 AND revision < $3 ORDER BY revision DESC LIMIT 1""",
            platform,
            case_number,
            revision,
        )
        return SupersededRevision(**dict(row)) if row else None

    async def insert_archived_record(
        self,
        record_row: dict[str, Any],
        file_rows: list[dict[str, Any]],
        archived_event: dict[str, Any],
        *,
        event_rows: Sequence[dict[str, Any]] = (),
        code_row: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Insert the record, its files and preservation events in one transaction; returns the archived
        event of record — the new one, or the one stored by an earlier delivery of the same case.

        With `code_row`, the archival code is recorded too if it is missing (a case classified before an
        index rebuild and archived after it), and its series counter raised to cover it."""
        async with self.pool.acquire() as conn, conn.transaction():
            if code_row is not None:
                await _ensure_code(conn, code_row)
            columns = [*record_row.keys(), "archived_event"]
            values = [*record_row.values(), json.dumps(archived_event, ensure_ascii=False)]
            placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
            inserted = await conn.fetchval(
                f"INSERT INTO records ({', '.join(columns)}) VALUES ({placeholders}) "
                "ON CONFLICT (case_key) DO NOTHING RETURNING case_key",
                *values,
            )
            if inserted is None:
                raw = await conn.fetchval(
                    "SELECT archived_event FROM records WHERE case_key=$1", record_row["case_key"]
                )
                return json.loads(raw)
            await _insert_many(conn, "record_files", file_rows)
            await _insert_many(conn, "preservation_events", event_rows)
            await _link_revisions(conn, record_row["source_platform"], record_row["case_number"])
            return archived_event

    # --- rebuild -----------------------------------------------------------------------------------

    async def replace_all(self, packages: Iterable[PackageRowSet]) -> int:
        """Empty the record tables and fill them from `packages`, in ONE transaction: readers see the
        old index until the new one is complete, and a failed rebuild leaves the old one in place.

        Archival codes are upserted from the packages, and each series' counter is raised to the highest
        item number archived in it; codes of cases not archived yet (classified, in flight) are kept, so
        they are not handed out again. Fixity-check history is not in the packages and is left alone, and
        so are the tombstones of destroyed records with their preservation events."""
        count = 0
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("TRUNCATE record_files, records")
            # A destroyed record's preservation events (its PREMIS deletion event last) are in no package
            # any more: they stay, beside its tombstone (docs/lifecycle.md).
            await conn.execute(
                "DELETE FROM preservation_events WHERE case_key NOT IN (SELECT case_key FROM record_tombstones)"
            )
            for rows in packages:
                await _ensure_code(conn, rows.code, overwrite=True)
                record = {**rows.record, "archived_event": json.dumps(rows.archived_event, ensure_ascii=False)}
                await _insert_many(conn, "records", [record])
                await _insert_many(conn, "record_files", rows.files)
                await _insert_many(conn, "preservation_events", rows.events)
                count += 1
            await _link_revisions(conn)
        return count

    # --- fixity ------------------------------------------------------------------------------------

    async def packages_for_audit(
        self, *, checked_before: datetime | None = None, limit: int | None = None
    ) -> list[AuditPackageRow]:
        """Packages to audit: all, or those whose last fixity check is older than `checked_before`
        (never-checked first, then the longest unchecked)."""
        sql = f"""
            SELECT {_AUDIT_COLUMNS}, last.checked_at
            FROM records r
            LEFT JOIN LATERAL (SELECT max(checked_at) AS checked_at FROM fixity_checks f
                               WHERE f.case_key = r.case_key) last ON true
            WHERE r.package_key IS NOT NULL AND ($1::timestamptz IS NULL OR last.checked_at IS NULL
                  OR last.checked_at < $1)
            ORDER BY last.checked_at NULLS FIRST, r.case_key
        """
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        # The SELECT above names exactly the row type's columns.
        return [cast(AuditPackageRow, dict(r)) for r in await self.pool.fetch(sql, checked_before)]

    async def record_fixity_check(self, row: FixityCheckRow, alert: CloudEvent[Any] | None = None) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await record_fixity_check(conn, row)
            if alert is not None:  # the failure alert commits with its check row (the outbox)
                await outbox.stage(conn, topics.FIXITY_FAILED, alert)

    async def relay_outbox(
        self, publisher: Publisher, topic_name: Callable[[str], str], *, only: str | None = None
    ) -> int:
        return await outbox.relay(self.pool, publisher, topic_name, only=only)

    async def being_destroyed(self, case_key: str) -> bool:
        """A destruction of the case is executing or executed (docs/lifecycle.md): its package is going or
        gone on purpose, so an audit that listed it before is not looking at a fixity failure."""
        return bool(
            await self.pool.fetchval(
                """SELECT 1 FROM disposition_decisions WHERE case_key = $1 AND decision = 'destroy'
                   AND status IN ('executing', 'executed') LIMIT 1""",
                case_key,
            )
        )

    async def record_repair(
        self, case_key: str, *, column: str, version_id: str | None, event: dict[str, Any], check: FixityCheckRow
    ) -> None:
        """A repaired copy, in one transaction: the record points at the repaired version (`column`:
        package_version_id or replica_version_id), the PREMIS replication event is the case's next event,
        and the passing check of the repaired copy joins the fixity history."""
        if column not in {"package_version_id", "replica_version_id"}:
            raise ValueError(f"not a copy's version column: {column}")
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(f"UPDATE records SET {column}=$2 WHERE case_key=$1", case_key, version_id)
            await _append_events(conn, case_key, [event])
            await record_fixity_check(conn, check)

    async def record_copy_version(self, case_key: str, *, column: str, version_id: str) -> None:
        """The version of a verified copy the record had none of; a version already recorded (a repair
        meanwhile) is left as it is."""
        if column not in {"package_version_id", "replica_version_id"}:
            raise ValueError(f"not a copy's version column: {column}")
        await self.pool.execute(
            f"UPDATE records SET {column}=$2 WHERE case_key=$1 AND {column} IS NULL", case_key, version_id
        )

    # --- restore test ------------------------------------------------------------------------------

    async def packages_for_restore_test(self, *, sample: int) -> list[dict[str, Any]]:
        """`sample` packages picked at random among those with a replica copy."""
        rows = await self.pool.fetch(
            """SELECT case_key, package_bucket, package_key, replica_version_id, package_sha256 FROM records
               WHERE package_key IS NOT NULL AND replica_version_id IS NOT NULL ORDER BY random() LIMIT $1""",
            sample,
        )
        return [dict(r) for r in rows]

    async def record_restore_test(self, row: dict[str, Any]) -> None:
        await _insert_many(self.pool, "restore_tests", [row])

    # --- re-checks at preservation time and at transfer -------------------------------------------------

    async def packages_for_revalidation(
        self, *, checked_before: datetime | None = None, limit: int | None = None
    ) -> list[AuditPackageRow]:
        """Packages to re-check: all, or those whose last re-check (at preservation time or at transfer) is
        older than `checked_before` (never-checked first, then the longest unchecked)."""
        sql = f"""
            SELECT {_AUDIT_COLUMNS}, last.checked_at
            FROM records r
            LEFT JOIN LATERAL (SELECT max(checked_at) AS checked_at FROM revalidations v
                               WHERE v.case_key = r.case_key) last ON true
            WHERE r.package_key IS NOT NULL AND ($1::timestamptz IS NULL OR last.checked_at IS NULL
                  OR last.checked_at < $1)
            ORDER BY last.checked_at NULLS FIRST, r.case_key
        """
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [cast(AuditPackageRow, dict(r)) for r in await self.pool.fetch(sql, checked_before)]

    async def record_revalidation(self, row: dict[str, Any], events: Sequence[dict[str, Any]]) -> None:
        """The re-check's row and its PREMIS events (the case's next events), in one transaction."""
        async with self.pool.acquire() as conn, conn.transaction():
            await _append_events(conn, row["case_key"], events)
            await _insert_many(conn, "revalidations", [{**row, "files": json.dumps(row["files"], ensure_ascii=False)}])

    # --- transfer to the state archives -----------------------------------------------------------------

    async def records_for_transfer(
        self,
        *,
        year: int | None,
        retention: str | None,
        category_code: str | None,
        department_code: str | None,
        limit: int | None,
    ) -> list[dict[str, Any]]:
        """Records in no transfer set yet, by the archival code's year, retention, category and department."""
        sql = f"""
            SELECT {_AUDIT_COLUMNS}, NULL::timestamptz AS checked_at, r.case_title, c.year, r.retention,
                   r.category_code, r.department_code
            FROM records r JOIN archival_codes c ON c.case_key = r.case_key
            WHERE r.package_key IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM transfer_set_records t WHERE t.case_key = r.case_key)
              AND ($1::int IS NULL OR c.year = $1) AND ($2::text IS NULL OR r.retention = $2)
              AND ($3::text IS NULL OR r.category_code = $3) AND ($4::text IS NULL OR r.department_code = $4)
            ORDER BY r.archival_code
        """
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        rows = await self.pool.fetch(sql, year, retention, category_code, department_code)
        return [dict(r) for r in rows]

    async def record_transfer_set(
        self, set_row: dict[str, Any], record_rows: Sequence[dict[str, Any]], events: dict[str, dict[str, Any]]
    ) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await _insert_many(conn, "transfer_sets", [{**set_row, "selection": json.dumps(set_row["selection"])}])
            await _insert_many(conn, "transfer_set_records", record_rows)
            for case_key, event in sorted(events.items()):
                await _append_events(conn, case_key, [event])

    async def transfer_set(self, set_id: str) -> dict[str, Any] | None:
        row = await self.pool.fetchrow("SELECT * FROM transfer_sets WHERE set_id=$1", set_id)
        return {**dict(row), "selection": json.loads(row["selection"])} if row else None

    async def transfer_set_cases(self, set_id: str) -> list[str]:
        rows = await self.pool.fetch(
            "SELECT case_key FROM transfer_set_records WHERE set_id=$1 ORDER BY case_key", set_id
        )
        return [r["case_key"] for r in rows]

    async def transfer_sets(self) -> list[dict[str, Any]]:
        rows = await self.pool.fetch("SELECT * FROM transfer_sets ORDER BY created_at DESC")
        return [{**dict(r), "selection": json.loads(r["selection"])} for r in rows]

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
        async with self.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """UPDATE transfer_sets SET status='accepted', accepted_at=$2, accepted_by=$3, acknowledgement=$4,
                          keep_until=$5
                   WHERE set_id=$1 AND status='created' RETURNING *""",
                set_id,
                accepted_at,
                accepted_by,
                acknowledgement,
                keep_until,
            )
            if row is None:
                return None
            for case_key, event in sorted(events.items()):
                await _append_events(conn, case_key, [event])
        return {**dict(row), "selection": json.loads(row["selection"])}

    async def try_lock(self, lock_id: int) -> asyncpg.Connection | None:
        """A session advisory lock held on a dedicated connection (release with `unlock`), or None."""
        conn = await self.pool.acquire()
        if await conn.fetchval("SELECT pg_try_advisory_lock($1)", lock_id):
            return conn
        await self.pool.release(conn)
        return None

    async def unlock(self, conn: asyncpg.Connection, lock_id: int) -> None:
        try:
            await conn.execute("SELECT pg_advisory_unlock($1)", lock_id)
        finally:
            await self.pool.release(conn)


class PackageRowSet:
    """What replace_all needs of one package's rows (services.storage.index_rows.PackageRows)."""

    record: dict[str, Any]
    files: list[dict[str, Any]]
    events: list[dict[str, Any]]
    code: dict[str, Any]
    archived_event: dict[str, Any]


async def _link_revisions(
    conn: asyncpg.Connection, platform: str | None = None, case_number: str | None = None
) -> None:
    """Point every archived revision at the next archived revision of its case number (or NULL: it is the
    newest). Derived from revision order alone, so it does not matter which revision reached storage
    first, and a rebuild from the packages gives the same links. Under a lock per case number: two
    revisions indexed at once see each other."""
    if platform is not None:
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))", platform, case_number)
    await conn.execute(
        """UPDATE records r SET superseded_by_revision = n.next FROM (
               SELECT case_key, lead(revision) OVER (PARTITION BY source_platform, case_number ORDER BY revision)
                      AS next FROM records
               WHERE ($1::text IS NULL OR (source_platform = $1 AND case_number = $2::text))) n
           WHERE n.case_key = r.case_key AND r.superseded_by_revision IS DISTINCT FROM n.next""",
        platform,
        case_number,
    )


async def _append_events(conn: asyncpg.Connection, case_key: str, events: Sequence[dict[str, Any]]) -> None:
    """Append PREMIS events to the case's preservation events, numbered after the last one (under a lock on
    the case, so two writers do not take the same number)."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('preservation_events'), hashtext($1))", case_key)
    seq = await conn.fetchval("SELECT coalesce(max(seq), 0) FROM preservation_events WHERE case_key=$1", case_key)
    rows = [{"case_key": case_key, "seq": seq + n, **event} for n, event in enumerate(events, start=1)]
    await _insert_many(conn, "preservation_events", rows)


async def _insert_many(conn: Any, table: str, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    columns = list(rows[0].keys())
    await conn.executemany(
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(f'${i}' for i in range(1, len(columns) + 1))})",
        [tuple(row[c] for c in columns) for row in rows],
    )


async def _ensure_code(conn: asyncpg.Connection, code: dict[str, Any], *, overwrite: bool = False) -> None:
    """Record an archival code that is missing (or, with `overwrite`, restore it to what the package
    says), and raise its series' counter to cover it."""
    on_conflict = (
        """DO UPDATE SET archival_code=EXCLUDED.archival_code, fonds_code=EXCLUDED.fonds_code,
           category_code=EXCLUDED.category_code, year=EXCLUDED.year, retention=EXCLUDED.retention,
           organisation_code=EXCLUDED.organisation_code, item_number=EXCLUDED.item_number,
           allocated_at=EXCLUDED.allocated_at"""
        if overwrite
        else "DO NOTHING"
    )
    inserted = await conn.fetchval(
        f"""INSERT INTO archival_codes (case_key, archival_code, fonds_code, category_code, year, retention,
           organisation_code, item_number, allocated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (case_key) {on_conflict} RETURNING case_key""",
        code["case_key"],
        code["archival_code"],
        code["fonds_code"],
        code["category_code"],
        code["year"],
        code["retention"],
        code["organisation_code"],
        code["item_number"],
        code["allocated_at"],
    )
    if inserted is not None:
        await conn.execute(
            """INSERT INTO archival_series (fonds_code, category_code, year, retention, organisation_code,
               last_item_number) VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT (fonds_code, category_code, year, retention, organisation_code)
               DO UPDATE SET last_item_number =
                   greatest(archival_series.last_item_number, EXCLUDED.last_item_number)""",
            code["fonds_code"],
            code["category_code"],
            code["year"],
            code["retention"],
            code["organisation_code"],
            code["item_number"],
        )
