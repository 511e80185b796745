"""Decoding and encoding of CloudEvents in structured JSON mode, with reasons a person can act on."""

from __future__ import annotations

import json
from typing import Any, Protocol, Self, TypeVar

from pydantic import BaseModel, ValidationError

from services.common.faults import InvalidInput


class InboundEnvelope(Protocol):
    """What the runner reads of an input event: a CloudEvent[...] or capture's PlatformEvent (whose data is
    still in the platform's dialect)."""

    @property
    def id(self) -> str: ...
    @property
    def subject(self) -> str | None: ...
    @property
    def correlationid(self) -> str: ...
    @classmethod
    def model_validate(cls, obj: Any) -> Self: ...


E = TypeVar("E", bound=InboundEnvelope)

_REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type", "time", "correlationid", "data")


def _summarise(error: ValidationError, prefix: str = "", limit: int = 5) -> str:
    parts = []
    for item in error.errors()[:limit]:
        where = ".".join(str(p) for p in item["loc"]) or "(root)"
        parts.append(f"{prefix}{where}: {item['msg']}")
    more = error.error_count() - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def decode_event(raw: bytes | None, model: type[E], expected_type: str) -> E:
    """Bytes → a validated envelope of `model`, or InvalidInput saying precisely what is wrong."""
    if not raw:
        raise InvalidInput("empty message: expected a CloudEvents 1.0 JSON object", kind="NotJson")
    try:
        document = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"not JSON: {exc}", kind="NotJson") from exc
    if not isinstance(document, dict):
        raise InvalidInput(f"not a CloudEvent: top level is a JSON {type(document).__name__}", kind="NotCloudEvent")
    missing = [name for name in _REQUIRED_ATTRIBUTES if name not in document]
    if missing or document.get("specversion") != "1.0":
        detail = f"missing attributes {missing}" if missing else f"specversion {document.get('specversion')!r}"
        raise InvalidInput(f"not a CloudEvents 1.0 event: {detail}", kind="NotCloudEvent")
    if document["type"] != expected_type:
        raise InvalidInput(
            f"unexpected event type {document['type']!r} on this topic (expected {expected_type!r})",
            kind="WrongEventType",
        )
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        data_errors = all(err["loc"][:1] == ("data",) for err in exc.errors())
        kind = "InvalidRecord" if data_errors else "InvalidEnvelope"
        raise InvalidInput(
            f"{'record' if data_errors else 'envelope'} breaks the contract: {_summarise(exc)}", kind=kind
        ) from exc


def encode_event(event: BaseModel) -> bytes:
    return event.model_dump_json(exclude_none=False).encode("utf-8")
