"""The quarantine of rejected cases and the registry of case numbers (PostgreSQL, asyncpg).

Quarantine: a case revision that validation rejects gets an `open` entry (idempotent by case key); when
a later revision of the same platform + case number passes validation, earlier open entries are
`closed` with the revision that closed them; when a later revision is rejected again, they become
`superseded`. Nothing is deleted: the history keeps every revision.

Case numbers: every case revision validation sees is registered once with its applicant, item and a
content fingerprint, so that a case number held by another case — or a revision resubmitted with other
content — is found (AUTH-CASE-NUMBER).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.common.composition import open_database
from services.common.settings import ArchiveSettings
from services.validation.domain import CaseNumberAnswer, decide_case_number


@dataclass(frozen=True)
class QuarantineEntry:
    case_key: str
    source_platform: str
    case_number: str
    revision: int
    case_title: str | None
    failures: list[dict[str, Any]]
    status: str
    opened_at: datetime
    closed_at: datetime | None
    closed_by_revision: int | None


class PgQuarantine:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def connect(cls, settings: ArchiveSettings, *, migrate: bool = True, max_size: int = 4) -> PgQuarantine:
        """For commands and tests; a worker builds its adapters on its one pool (its bootstrap.py)."""
        if migrate:
            return cls(await open_database(settings, max_size=max_size))
        return cls(await asyncpg.create_pool(settings.pg_dsn(), min_size=1, max_size=max_size))

    async def close(self) -> None:
        await self.pool.close()

    async def claim_case_number(
        self,
        platform: str,
        case_number: str,
        revision: int,
        *,
        applicant_id_number: str,
        item_code: str,
        fingerprint: str,
    ) -> CaseNumberAnswer:
        async with self.pool.acquire() as conn:
            await conn.execute(
                """INSERT INTO case_numbers (source_platform, case_number, revision, applicant_id_number, item_code,
                   fingerprint) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
                platform,
                case_number,
                revision,
                applicant_id_number,
                item_code,
                fingerprint,
            )
            rows = await conn.fetch(
                """SELECT revision, applicant_id_number, item_code, fingerprint FROM case_numbers
                   WHERE source_platform=$1 AND case_number=$2 ORDER BY revision""",
                platform,
                case_number,
            )
        return decide_case_number(rows, revision, applicant_id_number, item_code, fingerprint)

    async def open_entry(
        self,
        *,
        case_key: str,
        platform: str,
        case_number: str,
        revision: int,
        case_title: str | None,
        failures: list[dict[str, Any]],
        rejected_event_id: str,
        correlation_id: str | None,
        department_code: str | None = None,
        department_name: str | None = None,
        item_code: str | None = None,
    ) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """INSERT INTO quarantine (case_key, source_platform, case_number, revision, case_title, failures,
                   rejected_event_id, correlation_id, department_code, department_name, item_code)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                   ON CONFLICT (case_key) DO NOTHING""",
                case_key,
                platform,
                case_number,
                revision,
                case_title,
                json.dumps(failures, ensure_ascii=False),
                rejected_event_id,
                correlation_id,
                department_code,
                department_name,
                item_code,
            )
            await self._close_earlier(conn, platform, case_number, revision, "superseded")

    async def close_earlier(self, platform: str, case_number: str, revision: int) -> int:
        async with self.pool.acquire() as conn:
            return await self._close_earlier(conn, platform, case_number, revision, "closed")

    @staticmethod
    async def _close_earlier(
        conn: asyncpg.Connection, platform: str, case_number: str, revision: int, status: str
    ) -> int:
        result = await conn.execute(
            """UPDATE quarantine SET status=$4, closed_at=now(), closed_by_revision=$3
               WHERE source_platform=$1 AND case_number=$2 AND revision < $3 AND status='open'""",
            platform,
            case_number,
            revision,
            status,
        )
        return int(result.split()[-1])

    async def entries(
        self, *, status: str | None = None, platform: str | None = None, case_number: str | None = None
    ) -> list[QuarantineEntry]:
        rows = await self.pool.fetch(
            """SELECT * FROM quarantine WHERE ($1::text IS NULL OR status=$1)
               AND ($2::text IS NULL OR source_platform=$2) AND ($3::text IS NULL OR case_number=$3)
               ORDER BY opened_at, case_key""",
            status,
            platform,
            case_number,
        )
        return [
            QuarantineEntry(
                case_key=r["case_key"],
                source_platform=r["source_platform"],
                case_number=r["case_number"],
                revision=r["revision"],
                case_title=r["case_title"],
                failures=json.loads(r["failures"]),
                status=r["status"],
                opened_at=r["opened_at"],
                closed_at=r["closed_at"],
                closed_by_revision=r["closed_by_revision"],
            )
            for r in rows
        ]
