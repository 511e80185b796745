"""Deciding a case that waits in the manual review queue — one place for `archivectl review decide` and
the query API's `POST /api/v1/reviews/{case_key}/decide`.

A reviewer picks a rule of a schedule version, or gives the values themselves; the decision is recorded
with the archival code in one transaction (services/classification/steps.py `record_decision`), and
`decide_and_publish` publishes the classified event through the caller's publisher so that storage
archives the case. A case decided before is not decided again: its classified event of record is what
gets published (same event id).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from typing import Any

import asyncpg

from contracts.v1 import ClassifiedEvent, RetentionPeriod, SharingLevel, ValidatedEvent, topics
from services.classification.domain import OrganisationCodes
from services.classification.ports import ReviewStore
from services.classification.schedule import SECURITY_LEVELS, Schedule, parse_document
from services.classification.steps import manual_decision, record_decision
from services.common.producer import publish_event
from services.common.runner import Publisher
from services.common.settings import ArchiveSettings

VALUE_KEYS = ("retention", "category", "class", "security", "sharing")


class ReviewRefused(ValueError):
    """The decision cannot be taken as given; the message says what to change."""


async def load_schedule(store: ReviewStore, version: str | None) -> Schedule:
    """The schedule `version`, or the one in force. Raises KeyError with what to do when there is none."""
    version = version or await store.active_version()
    if version is None:
        raise KeyError("no retention schedule is in force: load one with `archivectl schedule load FILE`")
    document, sha256 = await store.schedule_document(version)
    return parse_document(document, f"version {version} (database)", sha256=sha256)


def review_store(pool: asyncpg.Pool) -> ReviewStore:
    """The classification store on a pool the caller owns (the query API lends its own; never closed here)."""
    from services.classification.adapters.schedule_store import PgClassificationStore

    return PgClassificationStore(pool)


@dataclass(frozen=True)
class Filing:
    """Where classification files a decided case: the fonds and the organisation codes it is configured with."""

    fonds_code: str
    organisations: OrganisationCodes


def filing_of(settings: ArchiveSettings) -> Filing:
    """Classification's filing configuration, read from the same AA_* settings the classification worker reads."""
    from services.classification.config import ClassificationSettings

    classification = ClassificationSettings(**settings.model_dump())
    return Filing(classification.fonds_code, classification.organisation_codes())


def check_values(values: Mapping[str, str]) -> dict[str, str]:
    """The reviewer's values, refusing names the decision does not know."""
    unknown = set(values) - {*VALUE_KEYS, "organisation"}
    if unknown:
        raise ValueError(f"unknown value(s) {', '.join(sorted(unknown))}: {', '.join(VALUE_KEYS)}")
    return {k: str(v).strip() for k, v in values.items()}


async def decided_event(store: ReviewStore, review: Mapping[str, Any]) -> ClassifiedEvent:
    """The classified event of record of a case already decided (to publish again, same id)."""
    prior = await store.prior(review["case_key"])
    if prior.classified_event is None:
        raise ReviewRefused(f"{review['case_key']} is marked decided but has no classification; report this")
    return ClassifiedEvent.model_validate(prior.classified_event)


@dataclass(frozen=True)
class ReviewDecision:
    event: ClassifiedEvent
    created: bool  # False: the case had been classified already (a race with another reviewer)
    already_decided: bool = False  # the review was decided before: its event of record was published again


class DecidedButNotPublished(Exception):
    """The decision is recorded and its classified event is in the outbox, but the broker did not take it
    now: the storage worker's outbox relay publishes it (docs/reliability.md); deciding again tries at once."""

    def __init__(self, decision: ReviewDecision) -> None:
        super().__init__(
            f"{decision.event.subject} was decided; its classified event waits in the outbox for the relay"
        )
        self.decision = decision


async def decide_and_publish(
    store: ReviewStore,
    review: Mapping[str, Any],
    *,
    publisher: Publisher,
    topic_name: Callable[[str], str],
    decided_by: str,
    fonds_code: str,
    organisations: OrganisationCodes,
    rule_id: str | None = None,
    values: Mapping[str, str] | None = None,
    organisation: str | None = None,
    note: str | None = None,
    version: str | None = None,
    organisation_hint: str = "--organisation CODE",
) -> ReviewDecision:
    """The one review path of `archivectl review decide` and the query API: decide the waiting case (or take
    the event of record of a case decided before) and publish it to archive.classified.v1.

    Raises ReviewRefused when the decision cannot be taken (nothing recorded, nothing published), and
    DecidedButNotPublished when a new decision is recorded but the broker did not take its event."""
    if review["status"] == "decided":
        event = await decided_event(store, review)
        if not await store.relay_outbox(publisher, topic_name, only=event.id):  # still waiting there, or sent
            await publish_event(publisher, topic_name(topics.CLASSIFIED), event)
        return ReviewDecision(event, created=False, already_decided=True)
    if review["status"] != "waiting":
        raise ReviewRefused(f"{review['case_key']} is {review['status']}, not waiting for a decision")
    if bool(rule_id) == bool(values):
        raise ReviewRefused("give exactly one of a rule id or the values (retention, category, class, ...)")
    try:
        given = check_values(values or {})
        if organisation:
            given["organisation"] = organisation
        schedule = await load_schedule(store, version)
        validated = ValidatedEvent.model_validate(review["validated_event"])
        decision = manual_decision(
            schedule=schedule,
            decided_by=decided_by,
            decided_at=datetime.now(UTC),
            rule_id=rule_id or None,
            values=given or None,
        )
    except KeyError as exc:
        raise ReviewRefused(str(exc.args[0])) from exc
    except ValueError as exc:
        raise ReviewRefused(str(exc)) from exc
    if decision.organisation_code is None and organisations.lookup(validated.data.case) is None:
        raise ReviewRefused(
            f"no organisation code is configured for {validated.data.case.source_platform}: "
            f"give one with {organisation_hint} (or add it to organisations.yaml)"
        )
    record = {
        "rule_id": rule_id or None,
        "values": given or None,
        "schedule_version": schedule.version,
        "note": note,
    }
    classified, created = await record_decision(
        validated,
        decision,
        store=store,
        fonds_code=fonds_code,
        organisations=organisations,
        review_decision=record,
    )
    outcome = ReviewDecision(classified, created)
    try:
        # A new decision staged its event in the outbox with the decision; send it now (the relay job would
        # within seconds). A case classified meanwhile by another path has no outbox row: publish it directly.
        if not (created and await store.relay_outbox(publisher, topic_name, only=outcome.event.id)):
            await publish_event(publisher, topic_name(topics.CLASSIFIED), outcome.event)
    except Exception as exc:
        raise DecidedButNotPublished(outcome) from exc
    return outcome


def review_choices(schedule: Schedule, item_code: str | None) -> dict[str, Any]:
    """What a reviewer may choose for a case of `item_code` (a rule id, or values — decide_and_publish takes
    either): every rule of the schedule, those whose item pattern covers the item first, and the values a
    decision by hand may take. The query API offers them (GET /api/v1/reviews/{case_key}/choices)."""
    rules = [
        {
            "rule_id": r.id,
            "item": r.item_pattern,
            "covers_item": bool(item_code) and fnmatchcase(item_code or "", r.item_pattern),
            "retention": r.retention.value,
            "category": r.category_code,
            "class": r.class_code,
            "class_name": schedule.categories.get(r.category_code, {}).get("classes", {}).get(r.class_code),
            "security": r.security_level,
            "sharing": r.sharing_level.value,
            "conditions": {k: sorted(v) for k, v in r.conditions.items()},
        }
        for r in schedule.rules
    ]
    rules.sort(key=lambda r: not r["covers_item"])  # stable: the schedule's order within each group
    return {
        "schedule_version": schedule.version,
        "schedule_title": schedule.title,
        "item_code": item_code,
        "rules": rules,
        "values": {
            "retention": [p.value for p in RetentionPeriod],
            "categories": {
                code: {"name": c.get("name"), "classes": dict(c.get("classes", {}))}
                for code, c in schedule.categories.items()
            },
            "security": list(SECURITY_LEVELS),
            "sharing": [level.value for level in SharingLevel],
        },
    }


def describe(decision: ReviewDecision) -> str:
    """One line on what was decided (CLI output, API logs)."""
    c = decision.event.data.classification
    return (
        f"{'decided' if decision.created else 'was already classified'} — {c.archival_code} "
        f"({c.category_code}/{c.class_code}, {c.retention.value}, {c.security_level}, sharing {c.sharing_level.value}, "
        f"rule {c.rule_id})"
    )
