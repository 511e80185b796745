"""The fixity-check history (`fixity_checks`, migration 0003): its one writer, used by the storage fixity
audit (services/storage/adapters/index.py) and by the query API's verified downloads."""

from __future__ import annotations

from typing import Any

import asyncpg


async def record_fixity_check(executor: asyncpg.Pool | asyncpg.Connection, row: dict[str, Any]) -> None:
    columns = list(row)
    await executor.execute(
        f"INSERT INTO fixity_checks ({', '.join(columns)}) "
        f"VALUES ({', '.join(f'${i}' for i in range(1, len(columns) + 1))})",
        *row.values(),
    )
