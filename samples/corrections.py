"""A way out for every rejection: for each code that can reject a case — every reject-severity check of
the validation catalogue (services/validation/checks/) and every rejection capture declares (services/capture/domain.py
`REJECTION_CODES`) — a case rejected with exactly that code, and its correction as the next revision.

`RECIPES` names one builder per code; tests/unit/test_corrections.py fails when the catalogue or capture
has a code without one, and tests/e2e/test_rectification.py publishes every defective case, then every
correction, and finds each correction archived. The defective cases come from samples/defects.py (one
variant per check); each gets a case number of its own (`…-rx`), so the suite runs beside the defect
corpus of tests/e2e/test_validation.py in the same namespace.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache, partial
from typing import Any
from urllib.parse import quote

from contracts.v1.record import ApplicantType, Material, UnifiedApprovalRecord
from samples.defects import DefectCase, corrected, defect_corpus
from samples.generator import SampleCase, approval_completed_event
from services.capture.domain import REJECTION_CODES
from services.validation.checks import CATALOGUE, Severity

TAG = "rx"
# The platforms of the two unattributed rejections must have an organisation code
# (services/classification/organisations.yaml), or their corrections would wait for a person's review:
# the unknown one is a platform with a code that is not registered yet (registering it is the archive
# centre's part of the correction); the disabled one is a sample platform, disabled while its case is sent.
UNKNOWN_PLATFORM_CANDIDATES = ("online-forms", "zjj-permits", "scjg-registration")
DISABLED_PLATFORM = "construction-permit"
LARGE_FILE_BYTES = 6 * 1024 * 1024  # over the e2e pipeline's AA_MAX_FILE_BYTES (5 MiB)


@dataclass(frozen=True)
class Send:
    """One event to publish. `secret`: sign with this instead of the platform's registered secret."""

    event: dict[str, Any]
    secret: str | None = None


@dataclass(frozen=True)
class Rectification:
    code: str
    rejected: Send  # rejected with exactly `code`
    correction: Send  # the next revision, which must be archived
    setup: tuple[Send, ...] = ()  # archived before the defective case is sent (a number held, an id used)
    staged: dict[str, bytes] = field(default_factory=dict)  # staging-bucket objects placed before sending
    platform_before: tuple[str, str] | None = None  # (platform, "disabled" | "absent") before the correction
    quarantined: bool = True  # whether the rejection opens a quarantine entry (unattributed ones do not)

    @property
    def rejected_key(self) -> str:
        return str(self.rejected.event["subject"])

    @property
    def corrected_key(self) -> str:
        return str(self.correction.event["subject"])

    @property
    def case_number(self) -> str:
        return self.rejected_key.split("/", 1)[1].rsplit("/", 1)[0]


def catalogue_reject_codes() -> list[str]:
    """Every check of the catalogue whose outcome can be `reject` (read from the catalogue itself)."""
    return sorted(code for code, check in CATALOGUE.items() if check.severity is Severity.REJECT)


def rejection_codes() -> list[str]:
    return sorted({*catalogue_reject_codes(), *REJECTION_CODES})


# --- building blocks ------------------------------------------------------------------------------------


def _event(record: UnifiedApprovalRecord, **overrides: Any) -> dict[str, Any]:
    event = approval_completed_event(SampleCase(record=record, defect=None, platform=record.source_platform))
    event.update(overrides)
    return event


def _renumbered(record: UnifiedApprovalRecord, suffix: str = TAG, **changes: Any) -> UnifiedApprovalRecord:
    return record.model_copy(update={"case_number": f"{record.case_number}-{suffix}", **changes})


def _next(record: UnifiedApprovalRecord, valid_like: UnifiedApprovalRecord) -> UnifiedApprovalRecord:
    return corrected(record, valid_like)


@cache
def _corpus() -> dict[str, DefectCase]:
    return {c.name: c for c in defect_corpus()}


def _valid_twin(record: UnifiedApprovalRecord) -> UnifiedApprovalRecord:
    name = "valid-person" if record.applicant.type is ApplicantType.PERSON else "valid-organisation"
    return _corpus()[name].record


def _from_corpus(code: str) -> Rectification:
    """The corpus variant rejected with exactly `code`, under a number of its own; corrected from its twin."""
    variant = next(c for c in _corpus().values() if c.expected == {code})
    bad = _renumbered(variant.record)
    return Rectification(code, Send(_event(bad)), Send(_event(_next(bad, _valid_twin(bad)))))


def _valid(suffix: str) -> UnifiedApprovalRecord:
    return _renumbered(_corpus()["valid-organisation"].record, suffix)


def _with_material(record: UnifiedApprovalRecord, index: int, **changes: Any) -> UnifiedApprovalRecord:
    materials = list(record.materials)
    materials[index] = Material.model_validate({**materials[index].model_dump(), **changes})
    return record.model_copy(update={"materials": materials})


# --- the catalogue's codes that the corpus cannot provoke by itself -----------------------------------


def _case_number_held() -> Rectification:
    """Revision 1 archived (it binds the number); revision 2 names another applicant → held by revision 1;
    revision 3, back to revision 1's applicant with a corrected title, is archived beside it."""
    held = _valid(f"{TAG}-held")
    person = _corpus()["valid-person"].record
    other = held.model_copy(update={"applicant": person.applicant, "legal_representative": None, "revision": 2})
    fixed = held.model_copy(update={"revision": 3, "case_title": held.case_title + "（更正）"})
    return Rectification("AUTH-CASE-NUMBER", Send(_event(other)), Send(_event(fixed)), setup=(Send(_event(held)),))


def _staging_changed() -> Rectification:
    """The staged copy of a file differs from what capture computed (the archive's own alarm): a copy is
    already at the deterministic staging key, so capture keeps it; the platform resends as revision 2.
    The file declares no digests or size, so that only the staging fixity check can see the change."""
    base = _valid(f"{TAG}-staging")
    original = base64.b64decode(base.materials[0].content_base64 or "")
    bad = _with_material(base, 0, sha256=None, sm3=None, size=None).model_copy(update={"total_bytes": None})
    key = f"{bad.case_key}/000-{hashlib.sha256(original).hexdigest()}"
    return Rectification(
        "AUTH-FIXITY-STAGING",
        Send(_event(bad)),
        Send(_event(_next(bad, _corpus()["valid-organisation"].record))),
        staged={key: original + b"\n% changed in staging\n"},
    )


# --- capture's codes -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Context:
    file_service: str  # base URL of a samples.file_service.FileServer
    unknown_platform: str  # one of UNKNOWN_PLATFORM_CANDIDATES, not registered when the recipes are sent


def _unknown_platform(platform: str) -> Rectification:
    record = _valid(f"{TAG}-unknown").model_copy(update={"source_platform": platform})
    return Rectification(
        "AUTH-PLATFORM-UNKNOWN",
        Send(_event(record), secret="no-secret-yet"),
        Send(_event(record.model_copy(update={"revision": 2}))),
        platform_before=(platform, "absent"),
        quarantined=False,
    )


def _disabled_platform() -> Rectification:
    record = _valid(f"{TAG}-disabled").model_copy(update={"source_platform": DISABLED_PLATFORM})
    return Rectification(
        "AUTH-PLATFORM-DISABLED",
        Send(_event(record)),
        Send(_event(record.model_copy(update={"revision": 2}))),
        platform_before=(DISABLED_PLATFORM, "disabled"),
        quarantined=False,
    )


def _bad_signature() -> Rectification:
    record = _valid(f"{TAG}-signature")
    return Rectification(
        "AUTH-SIGNATURE",
        Send(_event(record), secret="a-guessed-secret"),
        Send(_event(record.model_copy(update={"revision": 2}))),
        quarantined=False,
    )


def _event_id_reused() -> Rectification:
    first = _valid(f"{TAG}-id-owner")
    reuser = _valid(f"{TAG}-id-reuser")
    owner_event = _event(first)
    return Rectification(
        "AUTH-EVENT-ID-REUSED",
        Send(_event(reuser, id=owner_event["id"])),
        Send(_event(reuser.model_copy(update={"revision": 2}))),
        setup=(Send(owner_event),),
    )


def _unmappable() -> Rectification:
    record = _valid(f"{TAG}-mapping")
    event = _event(record)
    event["data"] = {k: v for k, v in event["data"].items() if k != "item_code"}
    return Rectification("CAP-MAPPING", Send(event), Send(_event(record.model_copy(update={"revision": 2}))))


def _by_url(suffix: str, url: Callable[[Material], str]) -> tuple[UnifiedApprovalRecord, UnifiedApprovalRecord]:
    record = _valid(f"{TAG}-{suffix}")
    first = record.materials[0]
    bad = _with_material(record, 0, content_base64=None, url=url(first))
    return bad, record.model_copy(update={"revision": 2})


def _unreachable(file_service: str) -> Rectification:
    bad, fixed = _by_url("unreachable", lambda m: f"{file_service}/missing/{quote(m.file_name)}")
    return Rectification("CAP-FETCH-UNREACHABLE", Send(_event(bad)), Send(_event(fixed)))


def _too_large(file_service: str) -> Rectification:
    bad, fixed = _by_url("too-large", lambda m: f"{file_service}/stream/{LARGE_FILE_BYTES}/{quote(m.file_name)}")
    bad = _with_material(bad, 0, size=None, sha256=None, sm3=None)
    return Rectification("CAP-FETCH-TOO-LARGE", Send(_event(bad)), Send(_event(fixed)))


def _not_base64() -> Rectification:
    record = _valid(f"{TAG}-base64")
    bad = _with_material(record, 0, content_base64="这不是 base64!!")
    return Rectification(
        "CAP-INLINE-BASE64", Send(_event(bad)), Send(_event(record.model_copy(update={"revision": 2})))
    )


def _corpus_recipe(code: str, _: Context) -> Rectification:
    return _from_corpus(code)


_SPECIAL: dict[str, Callable[[Context], Rectification]] = {
    "AUTH-CASE-NUMBER": lambda _: _case_number_held(),
    "AUTH-FIXITY-STAGING": lambda _: _staging_changed(),
    "AUTH-PLATFORM-UNKNOWN": lambda c: _unknown_platform(c.unknown_platform),
    "AUTH-PLATFORM-DISABLED": lambda _: _disabled_platform(),
    "AUTH-SIGNATURE": lambda _: _bad_signature(),
    "AUTH-EVENT-ID-REUSED": lambda _: _event_id_reused(),
    "CAP-MAPPING": lambda _: _unmappable(),
    "CAP-FETCH-UNREACHABLE": lambda c: _unreachable(c.file_service),
    "CAP-FETCH-TOO-LARGE": lambda c: _too_large(c.file_service),
    "CAP-INLINE-BASE64": lambda _: _not_base64(),
}

# One recipe per rejection code: the corpus variant for the catalogue's checks, a recipe of its own where
# the corpus cannot provoke the code. A code missing here fails tests/unit/test_corrections.py.
_CORPUS_CODES = (
    "AUTH-DIGEST-SHA256",
    "AUTH-DIGEST-SM3",
    "AUTH-SIZE",
    "AUTH-FORMAT",
    "AUTH-META-USCC",
    "AUTH-META-RESIDENT-ID",
    "AUTH-META-REGION",
    "AUTH-META-ENUM",
    "AUTH-META-DATES",
    "AUTH-PDF-SIGNATURE",
    "AUTH-OFD-SIGNATURE",
    "INTEG-MATERIALS",
    "INTEG-META-REQUIRED",
    "INTEG-PROCESS",
    "INTEG-FILE-COUNT",
    "INTEG-PAGE-COUNT",
    "INTEG-SEAL-RED",
    "USAB-SCAN-COLOUR",
    "USAB-SCAN-DPI",
    "USAB-SCAN-BLUR",
    "USAB-EMPTY",
    "USAB-FORMAT",
    "USAB-OPENS",
    "USAB-ENCRYPTED",
    "USAB-ZIP-BOMB",
    "SEC-VIRUS",
    "SEC-PDF-ACTIVE",
)
RECIPES: dict[str, Callable[[Context], Rectification]] = {
    **{code: partial(_corpus_recipe, code) for code in _CORPUS_CODES},
    **_SPECIAL,
}


def rectifications(context: Context) -> list[Rectification]:
    """Every recipe, built."""
    return [RECIPES[code](context) for code in sorted(RECIPES)]
