"""Alembic environment: runs the migrations over SQLAlchemy's asyncpg dialect, so the project needs
no second PostgreSQL driver. The URL comes from the Config (see services/common/index/migrate.py)."""

import asyncio

from alembic import context
from sqlalchemy.ext.asyncio import create_async_engine

config = context.config


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(connection=connection, target_metadata=None, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


async def _main() -> None:
    url = config.get_main_option("sqlalchemy.url")
    if url is None:  # services/common/index/migrate.py sets it; alembic run any other way lacks it
        raise RuntimeError("alembic has no sqlalchemy.url: run migrations with `make migrate`")
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        await connection.run_sync(_run)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline SQL generation is not supported; run against a database")
asyncio.run(_main())
