"""Signature trust anchors per platform, in PostgreSQL beside the platform registry (table
platform_trust_anchors, migration 0011): `PgTrustAnchors` adds, lists and removes a platform's CA
certificates (`archivectl platform trust add|list|remove`) and reads them for validation;
`CachedTrustAnchors` keeps each platform's anchors for a short time, so validating a case costs no
database round trip per file — nor per case, within the TTL. A removed anchor stops being trusted within
the TTL (60 s by default, `AA_TRUST_ANCHORS_TTL_SECONDS`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.validation.formats.signatures import TrustAnchors, certificate_sha256


@dataclass(frozen=True)
class TrustAnchor:
    platform_id: str
    fingerprint_sha256: str
    subject: str
    not_after: datetime
    added_at: datetime | None = None


def parse_pem_certificates(pem: bytes) -> list[tuple[bytes, str, datetime]]:
    """Every certificate in a PEM file as (DER, subject, not_after). Raises ValueError when the file holds
    none or one does not parse — a trust anchor is never added half-read."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise ValueError(f"not a PEM certificate file: {exc}") from exc
    if not certs:
        raise ValueError("the file holds no PEM certificate")
    return [
        (c.public_bytes(serialization.Encoding.DER), c.subject.rfc4514_string(), c.not_valid_after_utc) for c in certs
    ]


class PgTrustAnchors:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def add(self, platform_id: str, pem: bytes) -> list[TrustAnchor]:
        """Add every certificate of the PEM file as an anchor of the platform (again: no change)."""
        parsed = parse_pem_certificates(pem)
        async with self.pool.acquire() as conn, conn.transaction():
            if not await conn.fetchval("SELECT 1 FROM platforms WHERE platform_id=$1", platform_id):
                raise LookupError(f"platform {platform_id!r} is not registered (archivectl platform register)")
            for der, subject, not_after in parsed:
                await conn.execute(
                    """INSERT INTO platform_trust_anchors
                       (platform_id, fingerprint_sha256, subject, not_after, certificate_der)
                       VALUES ($1, $2, $3, $4, $5) ON CONFLICT (platform_id, fingerprint_sha256) DO NOTHING""",
                    platform_id,
                    certificate_sha256(der),
                    subject,
                    not_after,
                    der,
                )
        return [
            TrustAnchor(platform_id, certificate_sha256(der), subject, not_after) for der, subject, not_after in parsed
        ]

    async def list(self, platform_id: str | None = None) -> list[TrustAnchor]:
        rows = await self.pool.fetch(
            """SELECT platform_id, fingerprint_sha256, subject, not_after, added_at FROM platform_trust_anchors
               WHERE $1::text IS NULL OR platform_id=$1 ORDER BY platform_id, added_at""",
            platform_id,
        )
        return [TrustAnchor(**dict(r)) for r in rows]

    async def remove(self, platform_id: str, fingerprint_prefix: str) -> int:
        """Remove the platform's anchors whose fingerprint starts with the given hex (at least 8 digits)."""
        prefix = fingerprint_prefix.lower().replace(":", "")
        if len(prefix) < 8:
            raise ValueError("give at least 8 hex digits of the fingerprint")
        result = await self.pool.execute(
            "DELETE FROM platform_trust_anchors WHERE platform_id=$1 AND starts_with(fingerprint_sha256, $2)",
            platform_id,
            prefix,
        )
        return int(result.split()[-1])

    async def for_platform(self, platform_id: str) -> TrustAnchors:
        rows = await self.pool.fetch(
            "SELECT certificate_der FROM platform_trust_anchors WHERE platform_id=$1 ORDER BY fingerprint_sha256",
            platform_id,
        )
        return TrustAnchors(platform_id, tuple(bytes(r["certificate_der"]) for r in rows))


class CachedTrustAnchors:
    """A platform's anchors, loaded once per `ttl_seconds` (`source`: PgTrustAnchors, or a fake)."""

    def __init__(
        self, source: PgTrustAnchors, ttl_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.source, self.ttl, self.clock = source, ttl_seconds, clock
        self._cache: dict[str, tuple[float, TrustAnchors]] = {}
        self.loads = 0

    async def for_platform(self, platform_id: str) -> TrustAnchors:
        now = self.clock()
        cached = self._cache.get(platform_id)
        if cached is not None and now - cached[0] < self.ttl:
            return cached[1]
        anchors = await self.source.for_platform(platform_id)
        self.loads += 1
        self._cache[platform_id] = (now, anchors)
        return anchors
