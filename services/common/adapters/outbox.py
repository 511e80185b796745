"""The transactional outbox (PostgreSQL): an event that must follow a database commit — a manual review
decision, a fixity alert — is written into table `outbox` in the SAME transaction as the row it announces,
so a crash can never leave one without the other. A relay then publishes what is unsent and marks it sent.

Delivery is at least once: a relay that dies between the broker's acknowledgement and its "sent" mark
publishes the event again on its next pass. Every outbox event has a derived, stable id (the classified
event's id is derived from the case key; a fixity alert's from the case key and the check time), so
consumers deduplicate by id and a second copy changes nothing.

Who relays (docs/reliability.md): whoever committed tries at once, right after the commit; the storage
worker's scheduled job `outbox-relay` sends whatever that attempt did not (a crash, the broker down)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

import asyncpg

from contracts.envelope import CloudEvent
from services.common.codec import encode_event

log = logging.getLogger(__name__)


class Publisher(Protocol):
    async def publish(self, topic: str, key: bytes, value: bytes) -> None: ...


async def stage(conn: asyncpg.Connection, topic: str, event: CloudEvent[Any]) -> None:
    """Put `event` (for the contract topic `topic`) in the outbox, inside the caller's open transaction.
    The same event staged twice (a retried transaction) is kept once."""
    if not conn.is_in_transaction():
        raise RuntimeError("outbox.stage must run inside the transaction that commits what the event announces")
    await conn.execute(
        """INSERT INTO outbox (event_id, topic, key, value) VALUES ($1, $2, $3, $4)
           ON CONFLICT (event_id) DO NOTHING""",
        event.id,
        topic,
        (event.subject or event.id).encode("utf-8"),
        encode_event(event),
    )


async def relay(
    pool: asyncpg.Pool,
    publisher: Publisher,
    topic_name: Callable[[str], str],
    *,
    only: str | None = None,
    limit: int = 500,
) -> int:
    """Publish unsent outbox events, oldest first, each in a short transaction of its own (row locked with
    SKIP LOCKED, so several relays never send the same row at once); returns how many were sent.
    `only`: just that event id (the immediate attempt after a commit). A failed publish raises, and the
    row stays unsent for the next pass."""
    sent = 0
    while sent < limit:
        async with pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow(
                """SELECT event_id, topic, key, value FROM outbox
                   WHERE sent_at IS NULL AND ($1::text IS NULL OR event_id = $1)
                   ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED""",
                only,
            )
            if row is None:
                return sent
            try:
                await publisher.publish(topic_name(row["topic"]), bytes(row["key"]), bytes(row["value"]))
            except Exception as exc:
                log.warning(
                    "outbox event not published yet; it stays for the next relay pass",
                    extra={"event_id": row["event_id"], "error": f"{type(exc).__name__}: {exc}"[:500]},
                )
                raise
            await conn.execute("UPDATE outbox SET sent_at = now() WHERE event_id = $1", row["event_id"])
        sent += 1
    return sent


async def unsent(pool: asyncpg.Pool) -> int:
    return int(await pool.fetchval("SELECT count(*) FROM outbox WHERE sent_at IS NULL"))
