"""Preservation events of a case so far, in the PREMIS vocabulary (pure).

Built from what the pipeline carries to storage: capture and validation times, the check results, the
signature verdicts (one "digital signature validation" event per signature or OFD seal) and the
classification. A check the validation service did not run (no virus scan, no format
identification in the case's check results) is recorded as "not performed" — never as passed.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from contracts.v1 import CheckResult, ClassifiedCase, Outcome, SignatureStatus, SignatureVerdict

EVENT_TYPE_VOCABULARY = "http://id.loc.gov/vocabulary/preservation/eventType"
# PREMIS event type → its code in the Library of Congress vocabulary (None: not in the vocabulary).
EVENT_TYPES: dict[str, str | None] = {
    "capture": "cap",
    "message digest calculation": "mes",
    "virus check": "vir",
    "format identification": "for",
    "validation": "val",
    # PREMIS 3 names it; its code in the LoC vocabulary was not verifiable offline, so no URI is claimed.
    "digital signature validation": None,
    "classification": None,  # retention schedule + archival code (DA/T 22); local to this archive
    "information package creation": "inf",
    "fixity check": "fix",
    "replication": "rep",  # a copy written to the second site, or a bad copy rewritten from the good one
    # A package copied into a transfer set for the state archives, and the receiver's acknowledgement
    # (docs/lifecycle.md); its code in the LoC vocabulary was not verifiable offline, so no URI is claimed.
    "transfer": None,
    "deletion": "del",  # the package destroyed at the end of its retention (docs/lifecycle.md)
}

SUCCESS, WARNING, FAILURE, NOT_PERFORMED = "success", "warning", "failure", "not performed"
_NAMESPACE = uuid.UUID("5d0b7a52-4c36-4c8e-9e0e-2b7f3c1d9a41")


@dataclass(frozen=True)
class Agent:
    id: str
    name: str
    type: str = "software"


def agent(service: str) -> Agent:
    return Agent(f"urn:approval-archive:{service}", f"approval-archive {service} service")


@dataclass(frozen=True)
class PreservationEvent:
    seq: int
    id: str
    type: str
    type_uri: str | None
    time: str | None  # ISO 8601; None when the pipeline did not carry the moment
    outcome: str
    detail: str
    agent: str
    objects: tuple[str, ...] = ()


def event_type_uri(event_type: str) -> str | None:
    code = EVENT_TYPES[event_type]
    return f"{EVENT_TYPE_VOCABULARY}/{code}" if code else None


def outcome_of(checks: Sequence[CheckResult]) -> str:
    """One PREMIS outcome for a group of check results."""
    if not checks:
        return NOT_PERFORMED
    outcomes = {c.outcome for c in checks}
    if Outcome.FAIL in outcomes:
        return FAILURE
    if Outcome.WARN in outcomes:
        return WARNING
    if outcomes == {Outcome.NOT_RUN}:
        return NOT_PERFORMED
    return SUCCESS


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _codes(checks: Sequence[CheckResult]) -> str:
    counts: dict[str, int] = {}
    for c in checks:
        counts[f"{c.code}={c.outcome.value}"] = counts.get(f"{c.code}={c.outcome.value}", 0) + 1
    return ", ".join(f"{k}×{n}" if n > 1 else k for k, n in sorted(counts.items()))


_SIGNATURE_OUTCOMES = {
    SignatureStatus.VALID_TRUSTED: SUCCESS,
    SignatureStatus.VALID_UNTRUSTED: WARNING,
    SignatureStatus.NOT_VERIFIED: WARNING,
    SignatureStatus.MODIFIED: FAILURE,
    SignatureStatus.INVALID: FAILURE,
}


def _signature_detail(sig: SignatureVerdict) -> str:
    """Who signed (or sealed) which file, with which certificate, and the verdict."""
    who = f"signer {sig.signer!r}" if sig.signer else "signer unknown"
    cert = f", certificate {sig.subject} SHA-256 {sig.fingerprint_sha256}" if sig.fingerprint_sha256 else ""
    stamp = f", timestamp {sig.timestamp}" if sig.timestamp and sig.timestamp != "none" else ""
    return f"{sig.kind} {sig.field_name} of {sig.file_name}: {sig.status.value}; {who}{cert}{stamp}" + (
        f" — {sig.note}" if sig.note else ""
    )


def _pronom(formats: Sequence[CheckResult]) -> str:
    """Each file's PRONOM identifier, as validation recorded it (USAB-FORMAT's details)."""
    found = [f"{c.file_name}: {c.details.get('puid', 'none')}" for c in formats if c.file_name]
    return "; PRONOM (FIDO): " + ", ".join(found) if found else ""


def case_events(
    classified: ClassifiedCase, payload_paths: Sequence[str], *, packaged_at: datetime
) -> list[PreservationEvent]:
    """The events from capture to package creation, in order."""
    case, cls, checks = classified.case, classified.classification, classified.checks
    not_carried = " (time not carried to storage by this pipeline version)"
    virus = [c for c in checks if c.code.startswith("SEC-VIRUS")]
    formats = [c for c in checks if c.code.startswith("USAB-FORMAT")]
    validated_at = classified.validated_at
    paths = tuple(payload_paths)
    specs: list[tuple[str, datetime | None, str, str, str]] = [
        (
            "capture",
            classified.captured_at,
            SUCCESS,
            f"{len(paths)} files received from platform {case.source_platform}, case {case.case_number}"
            + ("" if classified.captured_at else not_carried),
            "capture",
        ),
        (
            "message digest calculation",
            classified.captured_at,
            SUCCESS,
            "SHA-256 of every file computed at capture" + ("" if classified.captured_at else not_carried),
            "capture",
        ),
        (
            "virus check",
            validated_at,
            outcome_of(virus),
            _codes(virus) if virus else "no virus check result was carried for this case: not performed",
            "validation",
        ),
        (
            "format identification",
            validated_at,
            outcome_of(formats),
            _codes(formats) + _pronom(formats)
            if formats
            else "no format identification result was carried for this case: not performed",
            "validation",
        ),
        (
            "validation",
            validated_at,
            outcome_of(checks),
            ("four-property checks (DA/T 70-2018): " + _codes(checks) if checks else "no check results")
            + ("" if validated_at else not_carried),
            "validation",
        ),
        *(
            (
                "digital signature validation",
                validated_at,
                _SIGNATURE_OUTCOMES[sig.status],
                _signature_detail(sig),
                "validation",
            )
            for sig in classified.signatures
        ),
        (
            "classification",
            cls.decided_at or classified.classified_at,
            SUCCESS,
            f"archival code {cls.archival_code}, retention {cls.retention.value}, category {cls.category_code}, "
            f"rule {cls.rule_id} (schedule {cls.schedule_version})"
            + (f", decided in manual review by {cls.decided_by}" if cls.decided_by else ""),
            "classification",
        ),
        (
            "message digest calculation",
            packaged_at,
            SUCCESS,
            "SM3 (GB/T 32905) of every file computed at packaging; SHA-256 re-verified against capture",
            "storage",
        ),
        (
            "information package creation",
            packaged_at,
            SUCCESS,
            "BagIt 1.0 bag (RFC 8493) with SHA-256 manifests and a DA/T 48 EEP description, one tar object",
            "storage",
        ),
    ]
    events = []
    for seq, (kind, moment, outcome, detail, service) in enumerate(specs, start=1):
        events.append(
            PreservationEvent(
                seq=seq,
                id=str(uuid.uuid5(_NAMESPACE, f"{case.case_key}|{seq}|{kind}")),
                type=kind,
                type_uri=event_type_uri(kind),
                time=_iso(moment),
                outcome=outcome,
                detail=detail,
                agent=agent(service).id,
                objects=paths,
            )
        )
    return events


def events_document(case_key: str, events: Sequence[PreservationEvent]) -> bytes:
    agents = sorted({e.agent for e in events})
    document: dict[str, Any] = {
        "profile": "approval-archive/preservation-events/v1",
        "object": case_key,
        "event_type_vocabulary": EVENT_TYPE_VOCABULARY,
        "agents": [asdict(agent(a.rsplit(":", 1)[-1])) for a in agents],
        "events": [{**asdict(e), "objects": list(e.objects)} for e in events],
    }
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8")


def parse_events(content: bytes) -> list[PreservationEvent]:
    raw = json.loads(content)
    return [PreservationEvent(**{**e, "objects": tuple(e.get("objects", ()))}) for e in raw["events"]]
