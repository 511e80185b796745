"""Statistics: archived and rejected counts per day, platform or department; failures per check code."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from services.query.access import Caller, Permission
from services.query.adapters.query_store import PgQueryStore, RecordScope
from services.query.auth import require

router = APIRouter(prefix="/api/v1", tags=["statistics"])


@router.get("/stats", summary="Archived and rejected counts per day / platform / department; defects per check")
async def stats(
    request: Request,
    caller: Annotated[Caller, Depends(require(Permission.STATS_READ))],
    by: Annotated[Literal["day", "platform", "department", "defect"], Query()] = "day",
    since: Annotated[date | None, Query(alias="from", description="From this day (UTC), inclusive")] = None,
    until: Annotated[date | None, Query(alias="to", description="To this day (UTC), inclusive")] = None,
) -> dict[str, Any]:
    if since is not None and until is not None and since > until:
        raise HTTPException(422, f"from ({since}) is after to ({until})")
    scope = RecordScope(
        sharing_levels=caller.sharing_levels,
        security_levels=caller.security_levels,
        departments=caller.departments,
        platform_id=caller.platform_id if caller.policy.own_platform_only else None,
    )
    queries: PgQueryStore = request.app.state.queries
    items = await queries.stats(by, scope=scope, since=since, until=until)
    return {
        "by": by,
        "from": since.isoformat() if since else None,
        "to": until.isoformat() if until else None,
        "items": items,
    }
