"""Disposition in the API (docs/lifecycle.md, "Disposition"): the records due, an appraisal decision on one,
the second person's approval of a destruction. The rules and the writes are storage's
(services/storage/disposal.py, the same path as `archivectl disposition`); execution — deleting the
packages and filing the destruction register — is `archivectl disposition execute`.

A record outside the caller's scope is answered like a missing one (404)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

import services.storage.disposal as disposal
from services.query.access import Caller, Permission, in_scope
from services.query.auth import note, require
from services.query.routes.present import jsonable
from services.storage.disposition import Actor, Decision, DispositionRefused

router = APIRouter(prefix="/api/v1/disposition", tags=["disposition"])

DUE_FIELDS = (
    "case_key",
    "archival_code",
    "case_title",
    "department_code",
    "department_name",
    "retention",
    "classified_retention",
    "completed_at",
    "expires_at",
    "retain_until",
    "holds",
    "pending",
)


def _actor(caller: Caller) -> Actor:
    return Actor(caller.key_id, caller.name, caller.role.value)


def _sites(request: Request) -> list[disposal.DisposalSite]:
    sites = [disposal.DisposalSite(disposal.PRIMARY, request.app.state.store)]
    if request.app.state.replica_store is not None:
        sites.append(disposal.DisposalSite(disposal.REPLICA, request.app.state.replica_store))
    return sites


async def _record_in_scope(request: Request, caller: Caller, case_key: str) -> dict[str, Any]:
    record = await disposal.disposition_store(request.app.state.pool).record(case_key)
    if record is None or not in_scope(caller, record):
        raise HTTPException(404, f"no archived record {case_key}")
    return record


@router.get("/due", summary="Records past their retention period, oldest expiry first, with holds and proposals")
async def due(
    request: Request,
    caller: Annotated[Caller, Depends(require(Permission.DISPOSITION_READ))],
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> dict[str, Any]:
    rows = await disposal.due(disposal.disposition_store(request.app.state.pool), request.app.state.clock())
    items = [{k: jsonable(r.get(k)) for k in DUE_FIELDS} for r in rows if in_scope(caller, r)][:limit]
    note(request, rows=len(items))
    return {"items": items, "count": len(items)}


class DispositionDecision(BaseModel):
    decision: Literal["extend", "keep", "destroy"]
    reason: str = Field(min_length=1, max_length=2000, description="Why: written into the record's history")
    retention: str | None = Field(default=None, description="extend only: the new period, D<years> from completion")


@router.post("/{case_key:path}/decide", summary="Decide a due record: extend, keep permanently, or propose destruction")
async def decide(
    request: Request,
    case_key: str,
    body: Annotated[DispositionDecision, Body()],
    caller: Annotated[Caller, Depends(require(Permission.DISPOSITION_DECIDE))],
) -> dict[str, Any]:
    note(request, target=case_key, **body.model_dump(exclude_none=True))
    await _record_in_scope(request, caller, case_key)
    try:
        row = await disposal.decide(
            disposal.disposition_store(request.app.state.pool),
            case_key,
            Decision(body.decision),
            reason=body.reason,
            actor=_actor(caller),
            now=request.app.state.clock(),
            new_retention=body.retention,
            sites=_sites(request),
        )
    except DispositionRefused as exc:
        raise HTTPException(422, str(exc)) from exc
    note(request, decision_id=row["id"], status=row["status"])
    return {k: jsonable(v) for k, v in row.items()}


class Rejection(BaseModel):
    reason: str = Field(min_length=1, max_length=2000, description="Why the record is not destroyed")


@router.post("/proposals/{decision_id:int}/reject", summary="Reject a destruction proposal; nothing is destroyed")
async def reject(
    request: Request,
    decision_id: int,
    body: Annotated[Rejection, Body()],
    caller: Annotated[Caller, Depends(require(Permission.DISPOSITION_APPROVE))],
) -> dict[str, Any]:
    store = disposal.disposition_store(request.app.state.pool)
    proposal = await store.decision(decision_id)
    if proposal is None:
        raise HTTPException(404, f"no destruction proposal #{decision_id}")
    note(request, target=proposal["case_key"], decision_id=decision_id, reason=body.reason)
    await _record_in_scope(request, caller, proposal["case_key"])
    try:
        row = await disposal.reject(
            store, decision_id, actor=_actor(caller), reason=body.reason, now=request.app.state.clock()
        )
    except DispositionRefused as exc:
        raise HTTPException(422, str(exc)) from exc
    return {k: jsonable(v) for k, v in row.items()}


@router.post("/proposals/{decision_id:int}/approve", summary="Approve a destruction proposed by another key")
async def approve(
    request: Request,
    decision_id: int,
    caller: Annotated[Caller, Depends(require(Permission.DISPOSITION_APPROVE))],
) -> dict[str, Any]:
    store = disposal.disposition_store(request.app.state.pool)
    proposal = await store.decision(decision_id)
    if proposal is None:
        raise HTTPException(404, f"no destruction proposal #{decision_id}")
    note(request, target=proposal["case_key"], decision_id=decision_id)
    await _record_in_scope(request, caller, proposal["case_key"])
    try:
        row = await disposal.approve(store, decision_id, approver=_actor(caller), now=request.app.state.clock())
    except DispositionRefused as exc:
        raise HTTPException(422, str(exc)) from exc
    return {k: jsonable(v) for k, v in row.items()}
