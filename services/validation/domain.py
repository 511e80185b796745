"""Pure validation rules: what is measured in a file's bytes, the fingerprint that identifies a case
revision's content, and the verdict. The check catalogue itself is services/validation/checks/."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from contracts.v1 import CapturedFile, CaseMetadata, CheckResult
from services.common.digests import Digests, DigestStream
from services.validation.checks import CaseEvidence, rejections, run_catalogue
from services.validation.formats import NO_ANCHORS, FileFacts, Limits, Source, TrustAnchors, inspect
from services.validation.rules import ItemRules

__all__ = ["Measured", "case_fingerprint", "failures", "limits_for", "measure", "verdict"]


@dataclass(frozen=True)
class Measured:
    """What validation measured by reading a stored file again."""

    sha256: str
    sm3: str
    size: int
    facts: FileFacts


def limits_for(rules: ItemRules) -> Limits:
    return Limits(
        zip_max_ratio=rules.thresholds.zip_max_ratio, zip_max_total_bytes=rules.thresholds.zip_max_total_bytes
    )


def measure(
    data: bytes | Source, limits: Limits, trust: TrustAnchors = NO_ANCHORS, digests: Digests | None = None
) -> Measured:
    """`digests`: taken while the file was read back (the step spools and digests in one pass); else here,
    chunk by chunk."""
    source = Source.of(data)
    if digests is None:
        stream = DigestStream()
        for chunk in source.chunks():
            stream.update(chunk)
        digests = stream.digests()
    return Measured(
        sha256=digests.sha256,
        sm3=digests.sm3,
        size=digests.size,
        facts=inspect(source, limits, trust),
    )


def case_fingerprint(case: CaseMetadata, files: Sequence[CapturedFile]) -> str:
    """SHA-256 of the metadata and the files' digests: equal for a redelivery, different for other content."""
    payload = {
        # `legacy` (a v1 addition) is left out when absent, so that fingerprints taken before it stay equal
        "case": case.model_dump(mode="json", exclude={"legacy"} if case.legacy is None else None),
        "files": [[f.stage.value, f.material_name, f.original_file_name, f.sha256] for f in files],
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def verdict(evidence: CaseEvidence, rules: ItemRules) -> tuple[list[CheckResult], list[CheckResult]]:
    """(every check's result, the failures that reject the case)."""
    results = run_catalogue(evidence, rules)
    return results, rejections(results)


def failures(results: Sequence[CheckResult]) -> list[CheckResult]:
    return rejections(list(results))


@dataclass(frozen=True)
class CaseNumberAnswer:
    """Whether a case revision's number is held by another case, or its revision by other content."""

    conflict: str | None = None  # "revision": same revision, other content; "other_case": other applicant/item
    details: dict[str, str] = field(default_factory=dict)


def decide_case_number(
    rows: list[Any], revision: int, applicant_id_number: str, item_code: str, fingerprint: str
) -> CaseNumberAnswer:
    """Given every registered revision of a case number (this one included), is this revision in conflict?

    The same revision with other content always is. Another applicant or item is a conflict only with a
    revision that *binds* the number (it passed validation); rejected revisions bind nothing
    (docs/validation.md, "What binds a case number")."""
    for row in rows:
        if row["revision"] == revision and row["fingerprint"] != fingerprint:
            return CaseNumberAnswer("revision", {"revision": str(revision)})
    for row in rows:
        if row["revision"] == revision or not row["binds"]:
            continue
        if row["applicant_id_number"] != applicant_id_number or row["item_code"] != item_code:
            return CaseNumberAnswer(
                "other_case",
                {"held_by_revision": str(row["revision"]), "held_for_item": row["item_code"]},
            )
    return CaseNumberAnswer()
