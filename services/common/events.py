"""Building the events a step emits. Ids are derived from (event type, case key), so a step that
redoes its work after a crash or redelivery emits the very same event id again."""

from __future__ import annotations

from pydantic import BaseModel

from contracts.envelope import CloudEvent, derived_event_id, utc_now
from services.common.codec import InboundEnvelope
from services.common.runner import Outbound


def follow_on(previous: InboundEnvelope, topic: str, data: BaseModel, *, service: str, case_key: str) -> Outbound:
    """An event that continues the case `previous` was about, on `topic` (type = topic name)."""
    # Parametrised at run time by the data's class (so the event validates as that contract); mypy cannot
    # type a generic subscripted with a runtime value.
    event = CloudEvent[type(data)](  # type: ignore[misc,operator]
        id=derived_event_id(topic, case_key),
        source=f"urn:approval-archive:{service}",
        type=topic,
        time=utc_now(),
        subject=case_key,
        correlationid=previous.correlationid,
        data=data,
    )
    return Outbound(topic, event)
