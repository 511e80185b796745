"""API keys of systems and people (table `api_keys`, migration 0006).

A key is `aa_<key_id>_<secret>`: the key id (12 lowercase letters and digits) names the key in lists, logs
and the audit log; the secret is 256 random bits in hex. Only the secret's SHA-256 is stored — a random
256-bit secret cannot be guessed from its digest, so no salt or slow hash is needed — and the digests are
compared in constant time. The full key is shown once, when it is created.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from services.query.access import POLICY, Caller, Role, check_grant

KEY_PATTERN = re.compile(r"^aa_([a-z0-9]{8,32})_([0-9a-f]{64})$")
_KEY_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
_KEY_ID_LENGTH = 12
# Compared against when the key id is unknown, so that an unknown id costs the same as a wrong secret.
_DUMMY_DIGEST = hashlib.sha256(b"no such key").hexdigest()


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def parse_key(key: str) -> tuple[str, str] | None:
    """(key id, secret) of a well-formed key, else None."""
    match = KEY_PATTERN.match(key.strip())
    return (match.group(1), match.group(2)) if match else None


def key_id_of(key: str) -> str | None:
    """The key id a presented credential claims, for logs and the audit log (never the secret)."""
    parsed = parse_key(key)
    return parsed[0] if parsed else None


@dataclass(frozen=True)
class KeyCheck:
    """The verdict on a presented key: the caller, or why not."""

    caller: Caller | None
    key_id: str | None = None  # the key id the credential claims (None: not even well-formed)
    name: str | None = None  # the key's name, when the key id exists
    role: str | None = None
    reason: str | None = None  # why it was refused; says what to do


def _caller(row: asyncpg.Record) -> Caller:
    role = Role(row["role"])
    return Caller(
        key_id=row["key_id"],
        name=row["name"],
        role=role,
        # Defence in depth: a scope edited into the table beyond what the role may have is not honoured.
        sharing_levels=frozenset(row["sharing_levels"]) & POLICY[role].grantable_sharing,
        max_security=row["max_security"],
        departments=frozenset(row["departments"] or ()),
        platform_id=row["platform_id"],
    )


def judge(row: asyncpg.Record | dict[str, Any] | None, key_id: str, secret: str, now: datetime) -> KeyCheck:
    """The verdict for a key whose id found `row` (or nothing). Pure, so the rules are unit-tested."""
    stored = row["secret_sha256"] if row is not None else _DUMMY_DIGEST
    matches = hmac.compare_digest(secret_digest(secret), stored)
    if row is None or not matches:
        return KeyCheck(
            None,
            key_id,
            reason=f"API key {key_id} is not valid (unknown key id or wrong secret); check the key you were given",
        )
    base = {"key_id": key_id, "name": row["name"], "role": row["role"]}
    if row["revoked_at"] is not None:
        return KeyCheck(
            None,
            **base,
            reason=f"API key {key_id} ({row['name']}) was revoked at {row['revoked_at']:%Y-%m-%d %H:%M:%S%z}; "
            "ask the archive centre for a new key",
        )
    if row["expires_at"] is not None and row["expires_at"] <= now:
        return KeyCheck(
            None,
            **base,
            reason=f"API key {key_id} ({row['name']}) expired at {row['expires_at']:%Y-%m-%d %H:%M:%S%z}; "
            "ask the archive centre for a new key",
        )
    return KeyCheck(_caller(row), **base)


class PgApiKeys:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def create(
        self,
        name: str,
        role: Role | str,
        *,
        sharing_levels: Iterable[str],
        max_security: str = "内部",
        departments: Iterable[str] = (),
        platform_id: str | None = None,
        created_by: str,
        expires_at: datetime | None = None,
    ) -> str:
        """Store a new key and return it in full (`aa_<key_id>_<secret>`): the only time it is shown.
        Raises services.query.access.ScopeError for a scope the role may not have."""
        role = Role(role)
        sharing = frozenset(sharing_levels)
        check_grant(role, sharing, max_security, platform_id)
        if not name.strip():
            raise ValueError("a key needs a name saying whose it is (a system or a person)")
        if expires_at is not None and expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")
        key_id = "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(_KEY_ID_LENGTH))
        secret = secrets.token_hex(32)
        await self.pool.execute(
            """INSERT INTO api_keys (key_id, secret_sha256, name, role, departments, sharing_levels, max_security,
               platform_id, created_by, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)""",
            key_id,
            secret_digest(secret),
            name.strip(),
            role.value,
            sorted(set(departments)),
            sorted(sharing),
            max_security,
            platform_id,
            created_by,
            expires_at,
        )
        return f"aa_{key_id}_{secret}"

    async def check(self, key: str, *, now: datetime | None = None) -> KeyCheck:
        parsed = parse_key(key)
        if parsed is None:
            return KeyCheck(
                None, reason="the credential is not an archive API key (expected aa_<key id>_<64 hex digits>)"
            )
        key_id, secret = parsed
        row = await self.pool.fetchrow("SELECT * FROM api_keys WHERE key_id=$1", key_id)
        return judge(row, key_id, secret, now or datetime.now(UTC))

    async def authenticate(self, key: str) -> Caller | None:
        return (await self.check(key)).caller

    async def revoke(self, key_id: str) -> dict[str, Any]:
        """Revoke the key (from now on every use answers 401); revoking twice keeps the first time.
        Raises KeyError for an unknown key id."""
        row = await self.pool.fetchrow(
            """UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE key_id=$1
               RETURNING key_id, name, role, revoked_at""",
            key_id,
        )
        if row is None:
            raise KeyError(f"no API key {key_id!r} (`archivectl key list` shows the keys)")
        return dict(row)

    async def list(self) -> list[dict[str, Any]]:
        """Every key without its secret digest, newest first."""
        rows = await self.pool.fetch(
            """SELECT key_id, name, role, departments, sharing_levels, max_security, platform_id, created_by,
                      created_at, expires_at, revoked_at FROM api_keys ORDER BY created_at DESC, key_id"""
        )
        return [dict(r) for r in rows]
