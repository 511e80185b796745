"""The classification step: archive.validated → archival code allocated → archive.classified."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from contracts.envelope import utc_now
from contracts.v1 import Classification, ClassifiedCase, ValidatedEvent, topics
from services.classification.domain import OrganisationCodes, decide, format_archival_code, series_for
from services.common.events import follow_on
from services.common.runner import Outbound
from services.common.series import AllocatedCode, Series

SERVICE = "classification"


class ArchivalCodes(Protocol):
    async def allocate_archival_code(self, case_key: str, series: Series, format_code) -> AllocatedCode: ...  # type: ignore[no-untyped-def]


async def classify_case(
    event: ValidatedEvent, *, codes: ArchivalCodes, fonds_code: str, organisations: OrganisationCodes
) -> Sequence[Outbound]:
    validated = event.data
    case = validated.case
    decision = decide(case)
    series = series_for(case, decision, fonds_code, organisations)
    allocated = await codes.allocate_archival_code(case.case_key, series, format_archival_code)
    classification = Classification(
        fonds_code=series.fonds_code,
        category_code=decision.category_code,
        class_code=decision.class_code,
        year=series.year,
        retention=decision.retention,
        organisation_code=series.organisation_code,
        item_number=allocated.item_number,
        archival_code=allocated.archival_code,
        security_level=decision.security_level,
        sharing_level=decision.sharing_level,
        rule_id=decision.rule_id,
        schedule_version=decision.schedule_version,
    )
    classified = ClassifiedCase(
        case=case,
        files=validated.files,
        checks=validated.checks,
        classification=classification,
        classified_at=utc_now(),
    )
    return [follow_on(event, topics.CLASSIFIED, classified, service=SERVICE, case_key=case.case_key)]
