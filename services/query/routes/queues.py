"""The exception queues people work: the quarantine of rejected cases and the manual classification review.

A platform key sees its own platform's entries only; a key limited to departments sees those departments'.
An entry outside the caller's scope is answered like a missing one (404)."""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from contracts.v1 import topics
from services.classification.review import (
    DecidedButNotPublished,
    ReviewRefused,
    ReviewStore,
    decide_and_publish,
    describe,
    filing_of,
    load_schedule,
    review_choices,
    review_store,
)
from services.query.access import Caller, Permission
from services.query.adapters.query_store import BadQueueCursor, PgQueryStore, QueueScope
from services.query.auth import note, require
from services.query.dashboard_data import overdue_summary
from services.query.routes.present import jsonable

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1", tags=["queues"])


def queue_scope(caller: Caller) -> QueueScope:
    return QueueScope(
        platform_id=caller.platform_id if caller.policy.own_platform_only else None, departments=caller.departments
    )


def _in_queue_scope(scope: QueueScope, platform: str | None, department: str | None) -> bool:
    if scope.platform_id is not None and platform != scope.platform_id:
        return False
    return not scope.departments or department in scope.departments


# --- quarantine ------------------------------------------------------------------------------------------


@router.get("/quarantine", summary="Quarantined (rejected) case revisions, oldest first")
async def quarantine(
    request: Request,
    caller: Annotated[Caller, Depends(require(Permission.QUEUES_READ))],
    status: Annotated[Literal["open", "closed", "superseded", "resolved", "all"], Query()] = "open",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    queries: PgQueryStore = request.app.state.queries
    try:
        items, next_cursor = await queries.quarantine_page(
            status=None if status == "all" else status, scope=queue_scope(caller), limit=limit, cursor=cursor
        )
    except BadQueueCursor as exc:
        raise HTTPException(400, f"{exc}; start again without a cursor") from exc
    return {"items": [jsonable(i) for i in items], "next_cursor": next_cursor}


@router.get("/quarantine/overdue", summary="Overdue rectifications: rejected cases nobody resubmitted in time")
async def overdue(
    request: Request,
    caller: Annotated[Caller, Depends(require(Permission.QUEUES_READ))],
    days: Annotated[int | None, Query(ge=1, description="Overdue after this many days (default: the setting)")] = None,
) -> dict[str, Any]:
    queries: PgQueryStore = request.app.state.queries
    days = days or request.app.state.settings.rectification_overdue_days
    now = request.app.state.clock()
    items = await queries.overdue_rectifications(now=now, days=days, scope=queue_scope(caller))
    return jsonable({"days": days, "as_of": now, "by_platform_department": overdue_summary(items), "items": items})


class Resolution(BaseModel):
    resolution: Literal["withdrawn", "settled_outside", "duplicate", "other"] = Field(
        description="withdrawn by the applicant, settled outside the system, a duplicate, or other (say why)"
    )
    note: str | None = Field(default=None, max_length=2000, description="Why, for the record")


@router.post("/quarantine/{case_key:path}/resolve", summary="Resolve an open quarantine entry by hand")
async def resolve(
    request: Request,
    case_key: str,
    body: Annotated[Resolution, Body()],
    caller: Annotated[Caller, Depends(require(Permission.QUEUES_ACT))],
) -> dict[str, Any]:
    queries: PgQueryStore = request.app.state.queries
    note(request, resolution=body.resolution, note=body.note)
    entry = await queries.quarantine_entry(case_key)
    if entry is None or not _in_queue_scope(queue_scope(caller), entry["source_platform"], entry["department_code"]):
        raise HTTPException(404, f"no quarantine entry {case_key} (or it is outside what your key may see)")
    if body.resolution == "other" and not (body.note or "").strip():
        raise HTTPException(422, 'resolution "other" needs a note saying how the case was settled')
    outcome = await queries.resolve_quarantine(
        case_key, resolved_by=caller.name, resolution=body.resolution, note=body.note
    )
    if outcome.refused is not None:
        raise HTTPException(409, outcome.refused)
    return jsonable(outcome.entry)


# --- manual review ---------------------------------------------------------------------------------------


@router.get("/reviews", summary="Cases waiting for (or given) a manual classification decision")
async def reviews(
    request: Request,
    caller: Annotated[Caller, Depends(require(Permission.QUEUES_READ))],
    status: Annotated[Literal["waiting", "decided", "all"], Query()] = "waiting",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    queries: PgQueryStore = request.app.state.queries
    try:
        items, next_cursor = await queries.reviews_page(
            status=None if status == "all" else status, scope=queue_scope(caller), limit=limit, cursor=cursor
        )
    except BadQueueCursor as exc:
        raise HTTPException(400, f"{exc}; start again without a cursor") from exc
    return {"items": [jsonable(i) for i in items], "next_cursor": next_cursor}


async def _review_in_scope(request: Request, caller: Caller, case_key: str) -> tuple[ReviewStore, dict]:
    store = review_store(request.app.state.pool)  # shares the service's pool; never closed here
    review = await store.review(case_key)
    case = (review or {}).get("validated_event", {}).get("data", {}).get("case", {})
    scope = queue_scope(caller)
    if review is None or not _in_queue_scope(scope, review["source_platform"], case.get("department_code")):
        raise HTTPException(404, f"{case_key} is not in the review queue (or it is outside what your key may see)")
    return store, review


@router.get(
    "/reviews/{case_key:path}/choices",
    summary="What a reviewer may choose for a case: the schedule's rules (those of its item first) and values",
)
async def choices(
    request: Request,
    case_key: str,
    caller: Annotated[Caller, Depends(require(Permission.QUEUES_READ))],
    version: Annotated[str | None, Query(description="Schedule version (default: the one in force)")] = None,
) -> dict[str, Any]:
    store, review = await _review_in_scope(request, caller, case_key)
    try:
        schedule = await load_schedule(store, version or review["schedule_version"])
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0])) from exc
    return review_choices(schedule, review["item_code"])


class Decision(BaseModel):
    rule_id: str | None = Field(default=None, description="A rule of the schedule version (default: in force)")
    values: dict[str, str] | None = Field(
        default=None, description="retention, category, class, security, sharing (instead of a rule)"
    )
    organisation: str | None = Field(default=None, description="Organisation code, if none is configured")
    version: str | None = Field(default=None, description="Schedule version (default: the one in force)")
    note: str | None = Field(default=None, max_length=2000, description="Why, for the record")


@router.post("/reviews/{case_key:path}/decide", summary="Decide a waiting case; publishes its classified event")
async def decide(
    request: Request,
    case_key: str,
    body: Annotated[Decision, Body()],
    caller: Annotated[Caller, Depends(require(Permission.QUEUES_ACT))],
) -> Any:
    settings = request.app.state.settings
    note(request, **body.model_dump(exclude_none=True))
    store, review = await _review_in_scope(request, caller, case_key)
    filing = filing_of(settings)
    try:
        decision = await decide_and_publish(
            store,
            review,
            publisher=request.app.state.publisher,
            topic_name=settings.topic,
            decided_by=caller.name,
            fonds_code=filing.fonds_code,
            organisations=filing.organisations,
            rule_id=body.rule_id,
            values=body.values,
            organisation=body.organisation,
            note=body.note,
            version=body.version,
            organisation_hint='"organisation": "CODE" in the request body',
        )
    except ReviewRefused as exc:
        raise HTTPException(422, str(exc)) from exc
    except DecidedButNotPublished as exc:
        log.warning(
            "a review decision was recorded; its classified event waits in the outbox for the relay",
            extra={"case_key": case_key, "error": repr(exc.__cause__)[:500]},
        )
        archival_code = exc.decision.event.data.classification.archival_code
        note(request, archival_code=archival_code)
        return JSONResponse(
            status_code=202,
            content={
                "detail": f"{case_key} was decided ({archival_code}); Kafka did not take its classified event now, "
                "so it waits in the outbox and the storage worker's relay publishes it within seconds "
                "(POST decide again to try at once)",
                "case_key": case_key,
                "archival_code": archival_code,
                "published_to": None,
            },
        )
    event = decision.event
    if decision.already_decided:
        return JSONResponse(
            status_code=409,
            content={
                "detail": f"{case_key} was already decided by {review['decided_by']}; its classified event "
                f"({event.data.classification.archival_code}) was published again, with the same id",
                "archival_code": event.data.classification.archival_code,
            },
        )
    note(request, archival_code=event.data.classification.archival_code)
    log.info(f"{case_key}: {describe(decision)}", extra={"case_key": case_key, "key_id": caller.key_id})
    return {
        "case_key": case_key,
        "created": decision.created,
        "classification": decision.event.data.classification.model_dump(mode="json"),
        "published_to": settings.topic(topics.CLASSIFIED),
    }
