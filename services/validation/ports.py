"""Validation's ports: the virus scanner and the quarantine (with the case-number registry). The adapters
are services/validation/adapters/; tests/fakes.py has in-memory ones."""

from __future__ import annotations

from typing import Protocol

from services.common.adapters.object_store import ObjectStore
from services.common.adapters.quarantine_entries import QuarantineEntries
from services.validation.adapters.clamav import ClamdVerdict
from services.validation.domain import CaseNumberAnswer

__all__ = ["ObjectStore", "Quarantine", "VirusScanner"]


class VirusScanner(Protocol):
    async def scan(self, data: bytes) -> ClamdVerdict: ...


class Quarantine(QuarantineEntries, Protocol):
    """The quarantine entries (shared with capture) and the case-number registry."""

    async def claim_case_number(
        self,
        platform: str,
        case_number: str,
        revision: int,
        *,
        applicant_id_number: str,
        item_code: str,
        fingerprint: str,
        binds: bool,
    ) -> CaseNumberAnswer: ...

    async def close_earlier(self, platform: str, case_number: str, revision: int) -> int: ...
