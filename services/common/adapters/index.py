"""The PostgreSQL index adapter (asyncpg): archival-code allocation and archived-record rows.

Every write is idempotent by case key: a redelivered case gets back what is already there."""

from __future__ import annotations

import json
from collections.abc import Callable
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

    async def insert_archived_record(
        self, record_row: dict[str, Any], file_rows: list[dict[str, Any]], archived_event: dict[str, Any]
    ) -> dict[str, Any]:
        """Insert the record and its files in one transaction; returns the archived event of record —
        the new one, or the one stored by an earlier delivery of the same case."""
        async with self.pool.acquire() as conn, conn.transaction():
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
            if file_rows:
                file_columns = list(file_rows[0].keys())
                await conn.executemany(
                    f"INSERT INTO record_files ({', '.join(file_columns)}) VALUES "
                    f"({', '.join(f'${i}' for i in range(1, len(file_columns) + 1))})",
                    [tuple(row[c] for c in file_columns) for row in file_rows],
                )
            return archived_event
