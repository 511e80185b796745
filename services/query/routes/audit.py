"""The audit log, for auditors: its rows in seq order, and the verification of its hash chain."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from services.query.access import Caller, Permission
from services.query.adapters.audit_log import PgAuditLog
from services.query.auth import require
from services.query.routes.present import jsonable

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])


@router.get("", summary="Audit-log rows, oldest first, paged by seq")
async def audit_rows(
    request: Request,
    caller: Annotated[Caller, Depends(require(Permission.AUDIT_READ))],
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page (a seq)")] = None,
    target: Annotated[str | None, Query(description="Only rows about this case key")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    try:
        after = int(cursor) if cursor else 0
    except ValueError as exc:
        raise HTTPException(400, f"cursor {(cursor or '')[:40]!r} is not one this service handed out") from exc
    audit: PgAuditLog = request.app.state.audit
    rows = await audit.page(after_seq=after, limit=limit, target=target)
    return {
        "items": [jsonable(r) for r in rows],
        "next_cursor": str(rows[-1]["seq"]) if len(rows) == limit else None,
    }


@router.get("/verify", summary="Verify the hash chain (the same check as `archivectl audit verify`)")
async def audit_verify(
    request: Request, caller: Annotated[Caller, Depends(require(Permission.AUDIT_READ))]
) -> dict[str, Any]:
    audit: PgAuditLog = request.app.state.audit
    return (await audit.verify()).as_json()
