"""Bring a database to the newest schema. Safe to run from several processes at once: the upgrade
runs under a PostgreSQL advisory lock, so one migrates and the others find the work done."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config

from services.common.settings import ArchiveSettings

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_ID = 0x41524348  # "ARCH"


def alembic_config(dsn: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", dsn.replace("postgresql://", "postgresql+asyncpg://", 1))
    return config


async def ensure_database(settings: ArchiveSettings) -> None:
    """Create the namespace's database if it does not exist (the `archive` role may create databases)."""
    admin = await asyncpg.connect(settings.pg_dsn("postgres"))
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", settings.pg_database)
        if not exists:
            try:
                await admin.execute(f'CREATE DATABASE "{settings.pg_database}"')
            except asyncpg.DuplicateDatabaseError:
                pass  # another process won the race
    finally:
        await admin.close()


async def upgrade(settings: ArchiveSettings) -> None:
    await ensure_database(settings)
    lock = await asyncpg.connect(settings.pg_dsn())
    try:
        await lock.execute("SELECT pg_advisory_lock($1)", _LOCK_ID)
        # Alembic runs its own event loop in env.py, so it goes to a thread.
        # "heads": migrations of independent features may branch from the same parent; all are applied.
        await asyncio.to_thread(command.upgrade, alembic_config(settings.pg_dsn()), "heads")
    finally:
        await lock.execute("SELECT pg_advisory_unlock($1)", _LOCK_ID)
        await lock.close()


if __name__ == "__main__":
    s = ArchiveSettings()
    asyncio.run(upgrade(s))
    print(f"database {s.pg_database} is at the newest schema")
