"""The classification step: archive.validated → retention schedule → archival code → archive.classified,
or — when no rule covers the case — the manual review queue (and no event until a person decides)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from contracts.envelope import utc_now
from contracts.v1 import (
    Classification,
    ClassifiedCase,
    ClassifiedEvent,
    RetentionPeriod,
    SharingLevel,
    ValidatedEvent,
    topics,
)
from services.classification.domain import (
    MANUAL_RULE_ID,
    Decision,
    OrganisationCodes,
    clean_code,
    decide,
    decision_from_rule,
    format_archival_code,
    series_for,
)
from services.classification.ports import ClassificationStore, ScheduleSource, ScheduleVersions
from services.classification.schedule import SECURITY_LEVELS, Schedule, parse_document
from services.common.events import follow_on
from services.common.faults import TransientFault
from services.common.runner import Outbound
from services.common.series import AllocatedCode, Series

SERVICE = "classification"
log = logging.getLogger(__name__)


class ActiveSchedule:
    """The schedule version in force, as a worker sees it.

    Every case asks the database for the active version id (one single-row query) and the rules are
    re-read only when it changed: a version put in force by `archivectl schedule load` applies from the
    next case on, in every worker, without a restart."""

    def __init__(self, versions: ScheduleVersions) -> None:
        self.versions = versions
        self._cached: Schedule | None = None

    async def current(self) -> Schedule:
        version = await self.versions.active_version()
        if version is None:
            raise TransientFault("no retention schedule is in force: load one with `archivectl schedule load FILE`")
        if self._cached is None or self._cached.version != version:
            document, sha256 = await self.versions.schedule_document(version)
            self._cached = parse_document(document, f"version {version} (database)", sha256=sha256)
        return self._cached


class FixedSchedule:
    """One schedule, always (unit tests, and reclassification under a chosen version)."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule

    async def current(self) -> Schedule:
        return self.schedule


async def install_schedule(
    store: Any, schedule: Schedule, *, source_file: str, loaded_by: str, activate: bool = True
) -> Any:
    """Store a checked schedule as a version (and put it in force): one transaction, all or nothing."""
    return await store.load_schedule(
        version=schedule.version,
        title=schedule.title,
        sha256=schedule.sha256,
        document=dict(schedule.document),
        rules=schedule.rule_rows(),
        source_file=source_file,
        loaded_by=loaded_by,
        activate=activate,
    )


def review_reason(case: Any, schedule: Schedule, decision: Decision | None, organisations: OrganisationCodes) -> str:
    """Why a case needs a person, or "" when the rules decide it."""
    if decision is None:
        version = f" version {case.item_version}" if case.item_version else ""
        return (
            f"no rule of retention schedule {schedule.version} covers item {case.item_code}{version} "
            f"({case.item_name}) with result={case.result.value}, applicant_type={case.applicant.type.value}"
        )
    if organisations.lookup(case) is None:
        return (
            f"no organisation code is configured for platform {case.source_platform} or department "
            f"{case.department_code} (services/classification/organisations.yaml)"
        )
    return ""


async def record_decision(
    event: ValidatedEvent,
    decision: Decision,
    *,
    store: ClassificationStore,
    fonds_code: str,
    organisations: OrganisationCodes,
    review_decision: dict[str, Any] | None = None,
) -> tuple[ClassifiedEvent, bool]:
    """Allocate the code and record the classification; the classified event of record (the one the case
    already had, if any) and whether this call created it. Used by the step and by `archivectl review`."""
    validated = event.data
    case = validated.case
    series = series_for(case, decision, fonds_code, organisations)

    def make_event(allocated: AllocatedCode, in_series: Series) -> dict[str, Any]:
        classification = Classification(
            fonds_code=in_series.fonds_code,
            category_code=in_series.category_code,
            class_code=decision.class_code,
            year=in_series.year,
            retention=in_series.retention,
            organisation_code=in_series.organisation_code,
            item_number=allocated.item_number,
            archival_code=allocated.archival_code,
            security_level=decision.security_level,
            sharing_level=decision.sharing_level,
            rule_id=decision.rule_id,
            schedule_version=decision.schedule_version,
            decided_by=decision.decided_by,
            decided_at=decision.decided_at,
        )
        classified = ClassifiedCase(
            case=case,
            files=validated.files,
            checks=validated.checks,
            signatures=validated.signatures,  # carried on for storage's preservation events
            classification=classification,
            classified_at=utc_now(),
            captured_at=validated.captured_at,  # carried on for storage's preservation events
            validated_at=validated.validated_at,
        )
        out = follow_on(event, topics.CLASSIFIED, classified, service=SERVICE, case_key=case.case_key)
        return out.event.model_dump(mode="json")

    stored, created = await store.record_classification(
        case_key=case.case_key,
        item_code=case.item_code,
        series=series,
        decision=decision.as_json(),
        format_code=format_archival_code,
        make_event=make_event,
        review_decision=review_decision,
    )
    return ClassifiedEvent.model_validate(stored), created


async def classify_case(
    event: ValidatedEvent,
    *,
    schedules: ScheduleSource,
    store: ClassificationStore,
    fonds_code: str,
    organisations: OrganisationCodes,
) -> Sequence[Outbound]:
    case = event.data.case
    prior = await store.prior(case.case_key)
    if prior.classified_event is not None:  # redelivered: the very same event again
        return [Outbound(topics.CLASSIFIED, ClassifiedEvent.model_validate(prior.classified_event))]
    if prior.review_status == "waiting":  # redelivered while a person has it: the queue is the record
        log.info("case is waiting in the manual review queue; nothing to emit")
        return []
    schedule = await schedules.current()
    decision = decide(case, schedule)
    reason = review_reason(case, schedule, decision, organisations)
    if reason or decision is None:
        await store.enqueue_review(
            case_key=case.case_key,
            validated_event=event.model_dump(mode="json"),
            reason=reason,
            schedule_version=schedule.version,
            source_platform=case.source_platform,
            item_code=case.item_code,
            item_name=case.item_name,
            case_title=case.case_title,
        )
        log.warning("case sent to manual review", extra={"reason": reason, "schedule_version": schedule.version})
        return []
    classified, _ = await record_decision(
        event, decision, store=store, fonds_code=fonds_code, organisations=organisations
    )
    return [Outbound(topics.CLASSIFIED, classified)]


def manual_decision(
    *,
    schedule: Schedule,
    decided_by: str,
    decided_at: datetime,
    rule_id: str | None = None,
    values: dict[str, str] | None = None,
) -> Decision:
    """A reviewer's decision: one of the schedule's rules, or the values themselves (rule id `manual`).
    `values` may also carry `organisation` to set the organisation code of the archival code."""
    organisation = (values or {}).get("organisation")
    if rule_id is not None:
        return replace(
            decision_from_rule(schedule.rule(rule_id), schedule.version),
            decided_by=decided_by,
            decided_at=decided_at,
            organisation_code=clean_code(organisation) if organisation else None,
        )
    given = dict(values or {})
    missing = [k for k in ("retention", "category", "class", "security", "sharing") if not given.get(k)]
    if missing:
        raise ValueError(f"give the values {', '.join(missing)} (or pick a rule with --rule)")
    category = schedule.categories.get(given["category"])
    if category is None:
        raise ValueError(f"unknown category {given['category']!r} (known: {', '.join(schedule.categories)})")
    if given["class"] not in category["classes"]:
        raise ValueError(f"unknown class {given['class']!r} in category {given['category']}")
    if given["security"] not in SECURITY_LEVELS:
        raise ValueError(f"unknown security level {given['security']!r} (one of {', '.join(SECURITY_LEVELS)})")
    return Decision(
        category_code=given["category"],
        class_code=given["class"],
        retention=RetentionPeriod(given["retention"]),
        security_level=given["security"],
        sharing_level=SharingLevel(given["sharing"]),
        rule_id=MANUAL_RULE_ID,
        schedule_version=schedule.version,
        decided_by=decided_by,
        decided_at=decided_at,
        organisation_code=clean_code(organisation) if organisation else None,
    )
