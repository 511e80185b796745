"""Bring a database to the newest schema. Safe to run from several processes at once: the upgrade
runs under a PostgreSQL advisory lock, so one migrates and the others find the work done.

Alembic (with SQLAlchemy) runs in a short-lived child process: the long-running workers never load it,
which keeps their memory small (the capture worker must stay flat while streaming large files)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import asyncpg

from services.common.settings import ArchiveSettings

MIGRATIONS = Path(__file__).parent / "migrations"
_LOCK_ID = 0x41524348  # "ARCH"


def alembic_config(dsn: str) -> Any:
    from alembic.config import Config

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
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.common.index.migrate",
            "--dsn",
            settings.pg_dsn(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"migrating {settings.pg_database} failed:\n{output.decode(errors='replace')[-3000:]}")
    finally:
        await lock.execute("SELECT pg_advisory_unlock($1)", _LOCK_ID)
        await lock.close()


def upgrade_in_this_process(dsn: str) -> None:
    from alembic import command

    # "heads": migrations of independent features may branch from the same parent; all are applied.
    command.upgrade(alembic_config(dsn), "heads")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--dsn"]:  # the child started by upgrade(), under its caller's advisory lock
        upgrade_in_this_process(sys.argv[2])
    else:
        s = ArchiveSettings()
        asyncio.run(upgrade(s))
        print(f"database {s.pg_database} is at the newest schema")
