"""Building the events a step emits. Ids are derived from (event type, case key), so a step that
redoes its work after a crash or redelivery emits the very same event id again."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from contracts.envelope import CloudEvent, derived_event_id, utc_now
from services.common.runner import Outbound


def follow_on(previous: CloudEvent[Any], topic: str, data: BaseModel, *, service: str, case_key: str) -> Outbound:
    """An event that continues the case `previous` was about, on `topic` (type = topic name)."""
    event = CloudEvent[type(data)](  # type: ignore[misc]
        id=derived_event_id(topic, case_key),
        source=f"urn:approval-archive:{service}",
        type=topic,
        time=utc_now(),
        subject=case_key,
        correlationid=previous.correlationid,
        data=data,
    )
    return Outbound(topic, event)
