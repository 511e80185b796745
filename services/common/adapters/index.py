"""The PostgreSQL index adapter (asyncpg): archival-code allocation, archived-record rows, search,
the index rebuild and the fixity-check history.

Every write is idempotent by case key: a redelivered case gets back what is already there."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.common.index.migrate import upgrade
from services.common.series import AllocatedCode, Series
from services.common.settings import ArchiveSettings


class PgIndex:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def connect(cls, settings: ArchiveSettings, *, migrate: bool = True, max_size: int = 4) -> PgIndex:
        if migrate:
            await upgrade(settings)
        pool = await asyncpg.create_pool(settings.pg_dsn(), min_size=1, max_size=max_size)
        return cls(pool)

    async def close(self) -> None:
        await self.pool.close()

    async def allocate_archival_code(
        self, case_key: str, series: Series, format_code: Callable[[Series, int], str]
    ) -> AllocatedCode:
        """The case's archival code: the one it already has, or the series' next number.

        The series row is locked for the transaction, so concurrent workers take numbers one after
        another; the case is looked up again under the lock, so the same case racing itself cannot
        take two numbers. A rolled-back transaction gives its number back: no gaps."""
        async with self.pool.acquire() as conn, conn.transaction():
            existing = await self._existing_code(conn, case_key)
            if existing:
                return existing
            key = (series.fonds_code, series.category_code, series.year, series.retention, series.organisation_code)
            await conn.execute(
                """INSERT INTO archival_series (fonds_code, category_code, year, retention, organisation_code)
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING""",
                *key,
            )
            await conn.execute(
                """SELECT 1 FROM archival_series WHERE fonds_code=$1 AND category_code=$2 AND year=$3
                   AND retention=$4 AND organisation_code=$5 FOR UPDATE""",
                *key,
            )
            existing = await self._existing_code(conn, case_key)
            if existing:
                return existing
            number = await conn.fetchval(
                """UPDATE archival_series SET last_item_number = last_item_number + 1
                   WHERE fonds_code=$1 AND category_code=$2 AND year=$3 AND retention=$4 AND organisation_code=$5
                   RETURNING last_item_number""",
                *key,
            )
            code = format_code(series, number)
            await conn.execute(
                """INSERT INTO archival_codes (case_key, archival_code, fonds_code, category_code, year, retention,
                   organisation_code, item_number) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)""",
                case_key,
                code,
                *key,
                number,
            )
            return AllocatedCode(number, code, newly_allocated=True)

    @staticmethod
    async def _existing_code(conn: asyncpg.Connection, case_key: str) -> AllocatedCode | None:
        row = await conn.fetchrow("SELECT item_number, archival_code FROM archival_codes WHERE case_key=$1", case_key)
        return AllocatedCode(row["item_number"], row["archival_code"], newly_allocated=False) if row else None

    async def archived_event(self, case_key: str) -> dict[str, Any] | None:
        """The archived event already recorded for the case, if it was archived before."""
        raw = await self.pool.fetchval("SELECT archived_event FROM records WHERE case_key=$1", case_key)
        return json.loads(raw) if raw else None

    async def code_allocated_at(self, case_key: str) -> datetime | None:
        """When the case's archival code was allocated (recorded in the package, so a rebuild keeps it)."""
        return await self.pool.fetchval("SELECT allocated_at FROM archival_codes WHERE case_key=$1", case_key)

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
            return archived_event

    # --- search ------------------------------------------------------------------------------------

    async def search(self, query: RecordQuery) -> list[dict[str, Any]]:
        """Archived records matching every given filter, best title/name match first, then newest.

        `text` matches case titles, applicant names and archival codes as substrings (Chinese included);
        the pg_trgm GIN indexes serve it for three characters or more, shorter text scans."""
        where, args = query.where()
        order = "completed_at DESC, case_key"
        if query.text:
            order = (
                f"greatest(similarity(case_title, ${len(args) + 1}), similarity(applicant_name, ${len(args) + 1})) "
                f"DESC, {order}"
            )
            args.append(query.text)
        args += [query.limit, query.offset]
        sql = (
            f"SELECT {', '.join(SEARCH_COLUMNS)} FROM records WHERE {where} ORDER BY {order} "
            f"LIMIT ${len(args) - 1} OFFSET ${len(args)}"
        )
        return [dict(r) for r in await self.pool.fetch(sql, *args)]

    async def count(self, query: RecordQuery) -> int:
        where, args = query.where()
        return int(await self.pool.fetchval(f"SELECT count(*) FROM records WHERE {where}", *args))

    # --- rebuild -----------------------------------------------------------------------------------

    async def replace_all(self, packages: Iterable[PackageRowSet]) -> int:
        """Empty the record tables and fill them from `packages`, in ONE transaction: readers see the
        old index until the new one is complete, and a failed rebuild leaves the old one in place.

        Archival codes are upserted from the packages, and each series' counter is raised to the highest
        item number archived in it; codes of cases not archived yet (classified, in flight) are kept, so
        they are not handed out again. Fixity-check history is not in the packages and is left alone."""
        count = 0
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("TRUNCATE preservation_events, record_files, records")
            for rows in packages:
                await _ensure_code(conn, rows.code, overwrite=True)
                record = {**rows.record, "archived_event": json.dumps(rows.archived_event, ensure_ascii=False)}
                await _insert_many(conn, "records", [record])
                await _insert_many(conn, "record_files", rows.files)
                await _insert_many(conn, "preservation_events", rows.events)
                count += 1
        return count

    # --- fixity ------------------------------------------------------------------------------------

    async def packages_for_audit(
        self, *, checked_before: datetime | None = None, limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Packages to audit: all, or those whose last fixity check is older than `checked_before`
        (never-checked first, then the longest unchecked)."""
        sql = """
            SELECT r.case_key, r.source_platform, r.case_number, r.revision, r.archival_code,
                   r.package_bucket, r.package_prefix, r.package_key, r.package_version_id, r.package_sha256,
                   r.manifest_sha256, r.file_count, r.total_bytes, r.retain_until, r.legal_hold, last.checked_at
            FROM records r
            LEFT JOIN LATERAL (SELECT max(checked_at) AS checked_at FROM fixity_checks f
                               WHERE f.case_key = r.case_key) last ON true
            WHERE r.package_key IS NOT NULL AND ($1::timestamptz IS NULL OR last.checked_at IS NULL
                  OR last.checked_at < $1)
            ORDER BY last.checked_at NULLS FIRST, r.case_key
        """
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        return [dict(r) for r in await self.pool.fetch(sql, checked_before)]

    async def record_fixity_check(self, row: dict[str, Any]) -> None:
        await _insert_many(self.pool, "fixity_checks", [row])

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


SEARCH_COLUMNS = (
    "case_key",
    "archival_code",
    "case_title",
    "applicant_name",
    "applicant_id_number",
    "item_code",
    "item_name",
    "department_code",
    "department_name",
    "completed_at",
    "retention",
    "category_code",
    "file_count",
    "package_bucket",
    "package_key",
)


@dataclass(frozen=True)
class RecordQuery:
    """Filters of a record search; every given one must hold."""

    text: str | None = None  # substring of title, applicant name or archival code
    item_code: str | None = None
    department_code: str | None = None
    applicant_id_number: str | None = None
    completed_from: datetime | None = None  # inclusive
    completed_to: datetime | None = None  # exclusive
    retention: str | None = None
    category_code: str | None = None
    limit: int = 50
    offset: int = 0

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []

        def arg(value: Any) -> str:
            args.append(value)
            return f"${len(args)}"

        if self.text:
            pattern = arg("%" + self.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%")
            clauses.append(
                f"(case_title ILIKE {pattern} OR applicant_name ILIKE {pattern} OR archival_code ILIKE {pattern})"
            )
        for column, value in [
            ("item_code", self.item_code),
            ("department_code", self.department_code),
            ("applicant_id_number", self.applicant_id_number),
            ("retention", self.retention),
            ("category_code", self.category_code),
        ]:
            if value is not None:
                clauses.append(f"{column} = {arg(value)}")
        if self.completed_from is not None:
            clauses.append(f"completed_at >= {arg(self.completed_from)}")
        if self.completed_to is not None:
            clauses.append(f"completed_at < {arg(self.completed_to)}")
        return (" AND ".join(clauses) or "true"), args


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
