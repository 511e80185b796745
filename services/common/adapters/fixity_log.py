"""The fixity-check history (`fixity_checks`, migration 0003): its one writer, used by the storage fixity
audit (services/storage/adapters/index.py) and by the query API's verified downloads."""

from __future__ import annotations

from datetime import datetime
from typing import TypedDict

import asyncpg


class FixityCheckRow(TypedDict):
    """One row of `fixity_checks`, as the audit and the verified download write it."""

    case_key: str
    package_bucket: str
    package_key: str
    version_id: str | None
    checked_at: datetime
    outcome: str  # "pass" | "fail"
    reason: str | None
    expected_sha256: str | None
    computed_sha256: str | None
    failed_paths: list[str]
    agent: str
    copy: str  # "primary" | "replica" (migration 0010)


async def record_fixity_check(executor: asyncpg.Pool | asyncpg.Connection, row: FixityCheckRow) -> None:
    columns = list(row)
    await executor.execute(
        f"INSERT INTO fixity_checks ({', '.join(columns)}) "
        f"VALUES ({', '.join(f'${i}' for i in range(1, len(columns) + 1))})",
        *row.values(),
    )
