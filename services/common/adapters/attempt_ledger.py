"""The poison-pill ledger, outside the worker (PostgreSQL): which messages a worker started and never
finished. A worker that dies on a message (out of memory, a native crash, SIGKILL) cannot count its own
death; the next worker that receives the message finds the unfinished starts here.

    begin(message)      → the number of earlier starts that never finished (= deaths), then records this one
    finish(message)     → after the input is acknowledged: forgets the message
    interrupted(message)→ a graceful stop in the middle (SIGTERM): this start was no death
    set_aside(...)      → after K deaths: recorded for the dashboard; the runner dead-letters the message
"""

from __future__ import annotations

from typing import Any

import asyncpg

from services.common.runner import InboundMessage


class PgAttemptLedger:
    def __init__(self, pool: asyncpg.Pool, group_id: str) -> None:
        self.pool, self.group_id = pool, group_id

    def _position(self, message: InboundMessage) -> tuple[Any, ...]:
        return (self.group_id, message.topic, message.partition, message.offset)

    async def begin(self, message: InboundMessage) -> int:
        starts = await self.pool.fetchval(
            """INSERT INTO message_attempts (group_id, topic, partition, "offset", starts) VALUES ($1, $2, $3, $4, 1)
               ON CONFLICT (group_id, topic, partition, "offset")
               DO UPDATE SET starts = message_attempts.starts + 1, last_started_at = now()
               RETURNING starts""",
            *self._position(message),
        )
        return int(starts) - 1

    async def finish(self, message: InboundMessage) -> None:
        await self.pool.execute(
            """DELETE FROM message_attempts WHERE group_id=$1 AND topic=$2 AND partition=$3 AND "offset"=$4""",
            *self._position(message),
        )

    async def interrupted(self, message: InboundMessage) -> None:
        await self.pool.execute(
            """UPDATE message_attempts SET starts = starts - 1
               WHERE group_id=$1 AND topic=$2 AND partition=$3 AND "offset"=$4""",
            *self._position(message),
        )

    async def set_aside(self, message: InboundMessage, *, service: str, deaths: int) -> None:
        await self.pool.execute(
            """INSERT INTO poison_pills (group_id, topic, partition, "offset", service, origin_key, deaths)
               VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING""",
            *self._position(message),
            service,
            message.key.decode("utf-8", "replace") if message.key else None,
            deaths,
        )
