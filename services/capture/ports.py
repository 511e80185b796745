"""Capture's ports: what the capture step needs of the world. The adapters (services/capture/adapters/,
services/common/adapters/object_store.py) satisfy them; tests/fakes.py has in-memory ones."""

from __future__ import annotations

from typing import Protocol

from services.capture.adapters.file_fetcher import Fetched
from services.capture.adapters.platform_registry import Platform, Seen
from services.common.adapters.object_store import ObjectStore
from services.common.adapters.quarantine_entries import QuarantineEntries

__all__ = ["FileFetcher", "ObjectStore", "PlatformRegistry", "QuarantineEntries"]


class PlatformRegistry(Protocol):
    async def get(self, platform_id: str) -> Platform | None: ...
    async def remember_event(self, platform_id: str, event_id: str, content_sha256: str) -> Seen: ...


class FileFetcher(Protocol):
    async def fetch(self, url: str, *, max_bytes: int | None = None) -> Fetched: ...
