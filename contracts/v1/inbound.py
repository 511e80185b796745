"""approval.completed.v1 as a platform sends it: a CloudEvents 1.0 envelope whose `data` is in the
platform's own dialect (the unified record is one of them), signed by the platform.

The registry (docs/sources.md) says which dialect a platform speaks; capture authenticates the event,
maps `data` to the unified record and goes on from there. Envelope attributes are kept exactly as
sent (strings), so that the signature is checked over the bytes' meaning, not over a re-rendering.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

PLATFORM_SOURCE = re.compile(r"^urn:approval-platform:(?P<platform>[a-z0-9][a-z0-9\-]{1,62})$")
SIGNATURE_ATTRIBUTE = "platformsig"


class PlatformEvent(BaseModel):
    """The envelope of approval.completed.v1 in any dialect."""

    model_config = ConfigDict(extra="allow", frozen=True)

    specversion: Literal["1.0"]
    id: str = Field(min_length=1, max_length=200, description="Unique per platform; a replay is recognised by it.")
    source: str = Field(max_length=500, description="urn:approval-platform:<platform id> — who sends.")
    type: Literal["approval.completed.v1"]
    time: str = Field(description="RFC 3339 time the case completed, kept as sent.")
    datacontenttype: Literal["application/json"] | None = None
    subject: str | None = Field(default=None, max_length=500)
    correlationid: str = Field(min_length=1, max_length=200)
    dataschema: str | None = Field(default=None, max_length=500, description="Informational: the dialect name.")
    platformsig: str | None = Field(
        default=None, description="hmac-sha256=<hex> over the RFC 8785 canonical event without this attribute."
    )
    data: dict[str, Any] = Field(description="The case in the platform's dialect.")

    @field_validator("time")
    @classmethod
    def _rfc3339(cls, value: str) -> str:
        try:
            datetime.fromisoformat(value)
        except ValueError as exc:
            raise ValueError(f"time {value!r} is not an RFC 3339 timestamp") from exc
        return value

    @property
    def platform(self) -> str | None:
        """The platform id named by `source`, or None when `source` is not a platform URN."""
        match = PLATFORM_SOURCE.match(self.source)
        return match["platform"] if match else None

    def signed_content(self) -> dict[str, Any]:
        """The event as the platform signed it: every attribute it sent, except the signature."""
        return self.model_dump(mode="json", exclude_unset=True, exclude={SIGNATURE_ATTRIBUTE})
