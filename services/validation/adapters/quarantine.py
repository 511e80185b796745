"""The quarantine of rejected cases and the registry of case numbers (PostgreSQL, asyncpg).

Quarantine: a case revision that validation rejects gets an `open` entry (idempotent by case key); when
a later revision of the same platform + case number passes validation, earlier open entries are
`closed` with the revision that closed them; when a later revision is rejected again, they become
`superseded`. Nothing is deleted: the history keeps every revision.

Opening and closing entries is services/common/adapters/quarantine_entries.py: capture's rejections of an
authenticated platform's case open an entry too (stage `capture`).

Case numbers: every case revision validation sees is registered once with its applicant, item and a
content fingerprint. Only a revision that passed validation *binds* the number to its applicant and item;
a rejected one is registered without binding (its fingerprint still refuses the same revision resent with
other content). docs/validation.md, "What binds a case number".
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.common.adapters.quarantine_entries import PgQuarantineEntries
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


class PgQuarantine(PgQuarantineEntries):
    """The quarantine as validation uses it: the entries (PgQuarantineEntries), the case-number registry and
    the listing of entries (archivectl quarantine)."""

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
        binds: bool,
    ) -> CaseNumberAnswer:
        """Register the revision and say whether it conflicts. `binds`: the revision passed every other
        check, so — unless it conflicts — it now binds the number. Under a transaction lock per case number,
        so two revisions validated at once cannot both bind the number to different applicants."""
        async with self.pool.acquire() as conn, conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))", platform, case_number)
            await conn.execute(
                """INSERT INTO case_numbers (source_platform, case_number, revision, applicant_id_number, item_code,
                   fingerprint, binds) VALUES ($1, $2, $3, $4, $5, $6, false) ON CONFLICT DO NOTHING""",
                platform,
                case_number,
                revision,
                applicant_id_number,
                item_code,
                fingerprint,
            )
            rows = await conn.fetch(
                """SELECT revision, applicant_id_number, item_code, fingerprint, binds FROM case_numbers
                   WHERE source_platform=$1 AND case_number=$2 ORDER BY revision""",
                platform,
                case_number,
            )
            answer = decide_case_number(rows, revision, applicant_id_number, item_code, fingerprint)
            if answer.conflict != "revision":  # the row is this content's own: record whether it binds
                await conn.execute(
                    "UPDATE case_numbers SET binds=$4 WHERE source_platform=$1 AND case_number=$2 AND revision=$3",
                    platform,
                    case_number,
                    revision,
                    binds and answer.conflict is None,
                )
        return answer

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
