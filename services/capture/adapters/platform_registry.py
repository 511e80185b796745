"""The platform registry in PostgreSQL: who may send, in which dialect, with which secrets; and the
event ids already seen. Secrets are read here and handed to the pure verifier — never logged."""

from __future__ import annotations

import secrets as secret_source
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum

import asyncpg


@dataclass(frozen=True)
class Platform:
    platform_id: str
    display_name: str
    dialect: str
    enabled: bool
    secrets: tuple[str, ...] = field(repr=False)  # never in a repr, so never in a log line


class Seen(StrEnum):
    NEW = "new"
    REPLAY = "replay"  # the same event id with the same content: a redelivery or a platform's retry
    CONFLICT = "conflict"  # the same event id with other content: refused


def new_secret() -> str:
    return secret_source.token_urlsafe(32)


class PgPlatformRegistry:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def get(self, platform_id: str, *, at: datetime | None = None) -> Platform | None:
        """The platform with the secrets valid at `at` (now by default), or None if unknown."""
        moment = at or datetime.now(UTC)
        row = await self.pool.fetchrow(
            "SELECT platform_id, display_name, dialect, enabled FROM platforms WHERE platform_id=$1", platform_id
        )
        if row is None:
            return None
        valid = await self.pool.fetch(
            """SELECT secret FROM platform_secrets WHERE platform_id=$1
               AND (expires_at IS NULL OR expires_at > $2) ORDER BY secret_id DESC""",
            platform_id,
            moment,
        )
        return Platform(
            row["platform_id"], row["display_name"], row["dialect"], row["enabled"], tuple(r["secret"] for r in valid)
        )

    async def register(self, platform_id: str, display_name: str, dialect: str, secret: str | None = None) -> str:
        """Register a platform (or change its name and dialect) and give it a secret; returns the secret.
        A platform that exists keeps its secrets; `rotate` adds a new one."""
        async with self.pool.acquire() as conn, conn.transaction():
            existing = await conn.fetchval("SELECT 1 FROM platforms WHERE platform_id=$1", platform_id)
            await conn.execute(
                """INSERT INTO platforms (platform_id, display_name, dialect) VALUES ($1, $2, $3)
                   ON CONFLICT (platform_id) DO UPDATE SET display_name=$2, dialect=$3, updated_at=now()""",
                platform_id,
                display_name,
                dialect,
            )
            if existing:
                current = await conn.fetchval(
                    """SELECT secret FROM platform_secrets WHERE platform_id=$1 AND expires_at IS NULL
                       ORDER BY secret_id DESC LIMIT 1""",
                    platform_id,
                )
                if current is not None and secret is None:
                    return current
            chosen = secret or new_secret()
            await self._add_secret(conn, platform_id, chosen)
            return chosen

    async def rotate(self, platform_id: str, overlap: timedelta, secret: str | None = None) -> str:
        """Add a new secret; the secrets valid until now stay valid for `overlap`, then expire."""
        async with self.pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT 1 FROM platforms WHERE platform_id=$1 FOR UPDATE", platform_id):
                raise LookupError(f"platform {platform_id!r} is not registered")
            await conn.execute(
                """UPDATE platform_secrets SET expires_at = now() + $2
                   WHERE platform_id=$1 AND (expires_at IS NULL OR expires_at > now() + $2)""",
                platform_id,
                overlap,
            )
            chosen = secret or new_secret()
            await self._add_secret(conn, platform_id, chosen)
            return chosen

    async def set_enabled(self, platform_id: str, enabled: bool) -> None:
        await self.pool.execute(
            "UPDATE platforms SET enabled=$2, updated_at=now() WHERE platform_id=$1", platform_id, enabled
        )

    async def list(self) -> list[tuple[Platform, int]]:
        """Every platform with the number of its currently valid secrets (the secrets themselves stay here)."""
        rows = await self.pool.fetch("SELECT platform_id FROM platforms ORDER BY platform_id")
        platforms = [await self.get(r["platform_id"]) for r in rows]
        return [(p, len(p.secrets)) for p in platforms if p is not None]

    async def remember_event(self, platform_id: str, event_id: str, content_sha256: str) -> Seen:
        """Record an event id; says whether it is new, a replay of the same content, or a conflict."""
        inserted = await self.pool.fetchval(
            """INSERT INTO platform_events_seen (platform_id, event_id, content_sha256) VALUES ($1, $2, $3)
               ON CONFLICT (platform_id, event_id) DO NOTHING RETURNING true""",
            platform_id,
            event_id,
            content_sha256,
        )
        if inserted:
            return Seen.NEW
        stored = await self.pool.fetchval(
            "SELECT content_sha256 FROM platform_events_seen WHERE platform_id=$1 AND event_id=$2",
            platform_id,
            event_id,
        )
        return Seen.REPLAY if stored == content_sha256 else Seen.CONFLICT

    @staticmethod
    async def _add_secret(conn: asyncpg.Connection, platform_id: str, secret: str) -> None:
        await conn.execute(
            """INSERT INTO platform_secrets (platform_id, secret_id, secret)
               VALUES ($1, COALESCE((SELECT max(secret_id) FROM platform_secrets WHERE platform_id=$1), 0) + 1, $2)""",
            platform_id,
            secret,
        )
