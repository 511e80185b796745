"""Quarantine entries (PostgreSQL, asyncpg): what the steps that reject a case write — capture and validation.

A rejected case revision gets an `open` entry (idempotent by case key) with its stage (`capture` or
`validation`). When a later revision of the same platform + case number passes validation, earlier open
entries are `closed` with the revision that closed them (a capture-stage entry of the same revision too: a
replay after a mapping fix); when a later revision is rejected again, they become `superseded`. Nothing is
deleted: the history keeps every revision. The case-number registry and the listing are validation's
(services/validation/adapters/quarantine.py).
"""

from __future__ import annotations

import json
from typing import Any, Protocol

import asyncpg


class QuarantineEntries(Protocol):
    """The port of the steps that reject a case (capture, validation): open its quarantine entry."""

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
        stage: str = "validation",
    ) -> None: ...


class PgQuarantineEntries:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

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
        stage: str = "validation",
    ) -> None:
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """INSERT INTO quarantine (case_key, source_platform, case_number, revision, case_title, failures,
                   rejected_event_id, correlation_id, department_code, department_name, item_code, stage)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
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
                stage,
            )
            await self._close_earlier(conn, platform, case_number, revision, "superseded")

    async def close_earlier(self, platform: str, case_number: str, revision: int) -> int:
        async with self.pool.acquire() as conn:
            return await self._close_earlier(conn, platform, case_number, revision, "closed")

    @staticmethod
    async def _close_earlier(
        conn: asyncpg.Connection, platform: str, case_number: str, revision: int, status: str
    ) -> int:
        # Earlier revisions' entries; and, when the revision passed validation, a capture-stage entry of the
        # same revision (capture rejected it, a replay of the same event got through).
        result = await conn.execute(
            """UPDATE quarantine SET status=$4, closed_at=now(), closed_by_revision=$3
               WHERE source_platform=$1 AND case_number=$2 AND status='open'
                 AND (revision < $3 OR ($4 = 'closed' AND revision = $3 AND stage = 'capture'))""",
            platform,
            case_number,
            revision,
            status,
        )
        return int(result.split()[-1])
