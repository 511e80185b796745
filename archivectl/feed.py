"""Publishing sample cases to approval.completed.v1, the way an approval platform would."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from contracts.v1 import topics
from services.common.producer import KafkaPublisher
from services.common.settings import ArchiveSettings


async def publish_events(
    settings: ArchiveSettings,
    events: Iterable[dict[str, Any]],
    topic: str = topics.APPROVAL_COMPLETED,
    progress: Any = None,
) -> int:
    """Send each CloudEvent dict keyed by its subject; returns the number acknowledged by the broker."""
    sent = 0
    async with KafkaPublisher(settings) as publisher:
        pending = []
        for event in events:
            key = (event.get("subject") or event.get("id") or "").encode("utf-8")
            pending.append(
                await publisher.send(settings.topic(topic), key, json.dumps(event, ensure_ascii=False).encode())
            )
            if len(pending) >= 200:
                for fut in pending:
                    await fut
                sent += len(pending)
                pending.clear()
                if progress:
                    progress(sent)
        for fut in pending:
            await fut
        sent += len(pending)
        if progress:
            progress(sent)
        return sent
