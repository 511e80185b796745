"""The case-progress journal (PostgreSQL, asyncpg): what became of each case revision, step by step.

The shared runner tells it about every message a step handled (`ProgressJournal` in
services/common/runner.py); it keeps the first time each state was reached, so a redelivery changes
nothing. `GET /api/v1/platform/cases/{case_number}` reads it (docs/sources.md, "A case's status").

States: `received` (capture read the platform's event), `captured`, `validated`, `rejected` (with the
reasons), `classified`, `archived` (with the archival code and the manifest digest), `dead_lettered`
(with the service and the reason). Waiting for manual review is read from the review queue itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import asyncpg

from contracts.envelope import CloudEvent
from contracts.v1 import DeadLetterEvent, topics
from services.common.runner import Outbound
from services.common.settings import ArchiveSettings

STATE_OF_OUTPUT = {
    topics.CAPTURED: "captured",
    topics.VALIDATED: "validated",
    topics.REJECTED: "rejected",
    topics.CLASSIFIED: "classified",
    topics.ARCHIVED: "archived",
}


def case_of_subject(subject: str | None) -> tuple[str, str, int] | None:
    """(platform, case number, revision) of a case key `platform/number/rN`, or None for other subjects."""
    if not subject:
        return None
    platform, _, rest = subject.partition("/")
    number, _, rev = rest.rpartition("/")
    if not platform or not number or not rev.startswith("r") or not rev[1:].isdigit():
        return None
    return platform, number, int(rev[1:])


def details_of(topic: str, data: dict[str, Any]) -> dict[str, Any]:
    """What the status page shows of a state, taken from the event that reached it."""
    if topic == topics.REJECTED:
        return {
            "stage": data.get("stage"),
            "reasons": [
                {k: f.get(k) for k in ("code", "reason_zh", "reason_en", "file_name")} for f in data.get("failures", [])
            ],
        }
    if topic == topics.CLASSIFIED:
        return {"archival_code": data["classification"]["archival_code"]}
    if topic == topics.ARCHIVED:
        package = data["package"]
        return {
            "archival_code": data["classification"]["archival_code"],
            "manifest_sha256": package.get("manifest_sha256"),
            "package_key": package.get("key"),
            "supersedes": data.get("supersedes"),
        }
    return {}


class PgCaseProgress:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    @classmethod
    async def connect(cls, settings: ArchiveSettings, *, max_size: int = 2) -> PgCaseProgress:
        return cls(await asyncpg.create_pool(settings.pg_dsn(), min_size=1, max_size=max_size))

    async def close(self) -> None:
        await self.pool.close()

    async def started(self, service: str, input_topic: str, event: CloudEvent[Any]) -> None:
        if input_topic == topics.APPROVAL_COMPLETED:
            await self._record(event.subject, "received", service, event.id, {})

    async def handled(
        self, service: str, input_topic: str, event: CloudEvent[Any], outputs: Sequence[Outbound]
    ) -> None:
        for out in outputs:
            state = STATE_OF_OUTPUT.get(out.topic)
            if state is not None:
                data = out.event.model_dump(mode="json")["data"]
                await self._record(out.event.subject, state, service, out.event.id, details_of(out.topic, data))

    async def dead_lettered(self, letter: DeadLetterEvent) -> None:
        data = letter.data
        details = {"origin_topic": data.origin_topic, "error_type": data.error_type, "reason": data.reason[:2000]}
        await self._record(letter.subject, "dead_lettered", data.service, letter.id, details)

    async def _record(
        self, subject: str | None, state: str, service: str, event_id: str, details: dict[str, Any]
    ) -> None:
        case = case_of_subject(subject)
        if case is None:
            return  # not a case (an undecodable message without a key): nothing to show a platform
        await self.pool.execute(
            """INSERT INTO case_progress (case_key, source_platform, case_number, revision, state, service,
               event_id, details) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING""",
            subject,
            *case,
            state,
            service,
            event_id,
            json.dumps(details, ensure_ascii=False),
        )
