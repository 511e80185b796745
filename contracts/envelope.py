"""CloudEvents 1.0 envelope (structured JSON mode) shared by every topic.

The envelope is the public interface between approval platforms, the archive's services and
supervision systems. Extension attributes are lowercase alphanumerics, as the CloudEvents spec
requires: `correlationid` follows a case through every topic, `platformsig` (added by the ingest
issue) carries a platform's HMAC signature.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

DataT = TypeVar("DataT", bound=BaseModel)

# Output event ids are derived, not random: a step that redoes an effect it already did re-emits the
# very same event (same id), so consumers that dedupe by id see a redelivery as nothing new.
EVENT_ID_NAMESPACE = uuid.UUID("6f3c8a52-1b7e-4c47-9b1e-5d2a0f4e8c11")


def derived_event_id(event_type: str, case_key: str) -> str:
    """The id of the one event of `event_type` that the archive emits for a case revision."""
    return str(uuid.uuid5(EVENT_ID_NAMESPACE, f"{event_type}|{case_key}"))


def utc_now() -> datetime:
    return datetime.now(UTC)


class CloudEvent(BaseModel, Generic[DataT]):
    """A CloudEvents 1.0 structured-mode event whose `data` is a contract model."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1, max_length=200, description="Unique per source; derived for outputs.")
    source: str = Field(min_length=1, max_length=500, description="URI-reference of the emitter.")
    type: str = Field(min_length=1, max_length=200, description="Event type, equal to the v1 topic name.")
    time: datetime = Field(description="When the occurrence happened (RFC 3339).")
    datacontenttype: Literal["application/json"] = "application/json"
    subject: str | None = Field(default=None, max_length=500, description="The case key.")
    correlationid: str = Field(
        min_length=1, max_length=200, description="Follows one case through every topic; set by the platform."
    )
    data: DataT
