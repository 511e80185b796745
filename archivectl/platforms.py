"""Registering platforms and signing events as a platform would — for the samples, tests and benchmarks
(real platforms sign with their own code; docs/sources.md shows how)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import asyncpg

from services.capture.adapters.platform_registry import PgPlatformRegistry
from services.capture.authentication import sign
from services.common.index.migrate import upgrade
from services.common.settings import ArchiveSettings

SAMPLE_PLATFORMS = {
    "market-regulation": "市场监督管理局 企业登记平台",
    "construction-permit": "住房和城乡建设局 施工许可平台",
    "transport": "交通运输局 道路运输许可平台",
}


async def registry_for(settings: ArchiveSettings) -> tuple[PgPlatformRegistry, asyncpg.Pool]:
    await upgrade(settings)
    pool = await asyncpg.create_pool(settings.pg_dsn(), min_size=1, max_size=2)
    return PgPlatformRegistry(pool), pool


async def ensure_platforms(settings: ArchiveSettings, platforms: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Register each platform id → (display name, dialect) if needed; returns id → its current secret."""
    registry, pool = await registry_for(settings)
    try:
        return {pid: await registry.register(pid, name, dialect) for pid, (name, dialect) in platforms.items()}
    finally:
        await pool.close()


async def sample_platform_secrets(settings: ArchiveSettings) -> dict[str, str]:
    """The sample platforms registered, with the samples CA as their signature trust anchor (so the
    samples' CA-issued signatures are trusted and the self-signed one is not: samples/signatures.py)."""
    from samples.signatures import sample_ca_pem
    from services.validation.adapters.trust_anchors import PgTrustAnchors

    secrets = await ensure_platforms(settings, {p: (name, "unified/v1") for p, name in SAMPLE_PLATFORMS.items()})
    pool = await asyncpg.create_pool(settings.pg_dsn(), min_size=1, max_size=2)
    try:
        for platform in SAMPLE_PLATFORMS:
            await PgTrustAnchors(pool).add(platform, sample_ca_pem())
    finally:
        await pool.close()
    return secrets


def signed(event: dict[str, Any], secret: str) -> dict[str, Any]:
    content = {k: v for k, v in event.items() if k != "platformsig"}
    return {**content, "platformsig": sign(content, secret)}


def sign_all(events: Iterable[dict[str, Any]], secrets: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for event in events:
        platform = event["source"].rsplit(":", 1)[-1]
        out.append(signed(event, secrets[platform]))
    return out
