"""Signature trust anchors in PostgreSQL (migration 0011) through `archivectl platform trust`, and the
validation step's cache of them: loaded once per platform within the TTL, a removal seen after it."""

from __future__ import annotations

import argparse
import asyncio

import asyncpg
import pytest

from archivectl.commands.platforms import cmd_trust_add, cmd_trust_list, cmd_trust_remove
from archivectl.platforms import ensure_platforms
from samples.signatures import sample_ca_der, sample_ca_pem
from services.validation.adapters.trust_anchors import CachedTrustAnchors, PgTrustAnchors
from services.validation.formats.signatures import certificate_sha256

pytestmark = pytest.mark.integration


async def test_trust_add_list_remove_and_the_cache_that_validation_reads(prepared, tmp_path, capsys):
    await ensure_platforms(prepared, {"trust-test": ("trust test platform", "unified/v1")})
    pem = tmp_path / "ca.pem"
    pem.write_bytes(sample_ca_pem())
    fingerprint = certificate_sha256(sample_ca_der())

    assert (
        await asyncio.to_thread(
            cmd_trust_add, prepared, argparse.Namespace(platform_id="trust-test", pem_file=str(pem))
        )
        == 0
    )
    assert fingerprint in capsys.readouterr().out
    assert (
        await asyncio.to_thread(
            cmd_trust_add, prepared, argparse.Namespace(platform_id="trust-test", pem_file=str(pem))
        )
        == 0
    )  # again
    capsys.readouterr()
    assert await asyncio.to_thread(cmd_trust_list, prepared, argparse.Namespace(platform_id="trust-test")) == 0
    listed = capsys.readouterr().out
    assert listed.count(fingerprint) == 1 and "approval-archive samples CA" in listed

    garbage = tmp_path / "not.pem"
    garbage.write_bytes(b"not a certificate")
    assert (
        await asyncio.to_thread(
            cmd_trust_add, prepared, argparse.Namespace(platform_id="trust-test", pem_file=str(garbage))
        )
        == 2
    )
    assert (
        await asyncio.to_thread(cmd_trust_add, prepared, argparse.Namespace(platform_id="nobody", pem_file=str(pem)))
        == 2
    )
    assert "not registered" in capsys.readouterr().err

    pool = await asyncpg.create_pool(prepared.pg_dsn(), min_size=1, max_size=2)
    try:
        now = [0.0]
        cached = CachedTrustAnchors(PgTrustAnchors(pool), ttl_seconds=60, clock=lambda: now[0])
        first = await cached.for_platform("trust-test")
        assert first.certificates == (sample_ca_der(),)
        for _ in range(5):  # every file of every case within the TTL: no database round trip
            await cached.for_platform("trust-test")
        assert cached.loads == 1

        assert (
            await asyncio.to_thread(
                cmd_trust_remove, prepared, argparse.Namespace(platform_id="trust-test", fingerprint=fingerprint[:12])
            )
            == 0
        )
        assert (await cached.for_platform("trust-test")).certificates == (sample_ca_der(),)  # still cached
        now[0] = 61.0
        assert (await cached.for_platform("trust-test")).certificates == ()  # removal seen after the TTL
        assert cached.loads == 2
    finally:
        await pool.close()
    assert (
        await asyncio.to_thread(
            cmd_trust_remove, prepared, argparse.Namespace(platform_id="trust-test", fingerprint=fingerprint[:12])
        )
        == 1
    )
