"""Validation's ports: the virus scanner, the quarantine (with the case-number registry), the platforms'
signature trust anchors and veraPDF. The adapters
are services/validation/adapters/; tests/fakes.py has in-memory ones."""

from __future__ import annotations

from typing import Protocol

from services.common.adapters.object_store import ObjectStore
from services.common.adapters.quarantine_entries import QuarantineEntries
from services.validation.adapters.clamav import ClamdVerdict
from services.validation.domain import CaseNumberAnswer
from services.validation.formats import Source, TrustAnchors
from services.validation.formats.facts import PdfaReport

__all__ = ["ObjectStore", "PdfaValidator", "Quarantine", "TrustAnchorSource", "VirusScanner"]


class VirusScanner(Protocol):
    async def scan(self, data: bytes | Source) -> ClamdVerdict: ...


class TrustAnchorSource(Protocol):
    """A platform's signature trust anchors (adapters/trust_anchors.py: CachedTrustAnchors, loaded per
    platform and cached briefly, so no file costs a database round trip)."""

    async def for_platform(self, platform_id: str) -> TrustAnchors: ...


class PdfaValidator(Protocol):
    """veraPDF (adapters/verapdf.py): the PDF/A verdict on a PDF for the flavour it declares."""

    async def validate(self, data: bytes | Source, flavour: str) -> PdfaReport: ...


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
