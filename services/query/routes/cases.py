"""What became of a platform's case: every revision of a case number with its state and when each step
happened — received, captured, validated, classified, archived (archival code, package digest), rejected
(reasons zh/en), dead-lettered, waiting for review (docs/sources.md, "A case's status").

A platform key asks about its own platform's cases only; another platform's case number is answered like
one the archive never heard of (404), so a key cannot probe which case numbers exist elsewhere."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from services.query.access import Caller, Permission
from services.query.adapters.query_store import PgQueryStore
from services.query.auth import note, require
from services.query.routes.present import jsonable

router = APIRouter(prefix="/api/v1/platform", tags=["cases"])

# Ordered from the furthest a revision can get; the first one a revision reached is its state.
_FINAL_FIRST = ("archived", "dead_lettered", "rejected", "classified", "validated", "captured", "received")


def revision_state(revision: dict[str, Any]) -> str:
    """One word for where a revision is. A review waiting for a person, or a quarantine entry closed by a
    later revision, says more than the last step reached."""
    reached = {step["state"] for step in revision["steps"]}
    review = revision.get("review")
    if "archived" in reached or revision.get("record"):
        return "archived"
    if review and review["status"] == "waiting" and "dead_lettered" not in reached:
        return "waiting_for_review"
    for state in _FINAL_FIRST:
        if state in reached:
            return state
    return "rejected" if revision.get("quarantine") else "unknown"


def _departments(revision: dict[str, Any]) -> set[str]:
    found = {
        (revision.get("record") or {}).get("department_code"),
        (revision.get("quarantine") or {}).get("department_code"),
    }
    return {d for d in found if d}


@router.get("/cases/{case_number}", summary="A case's status: every revision, its state and its steps")
async def case_status(
    request: Request,
    case_number: str,
    caller: Annotated[Caller, Depends(require(Permission.CASES_STATUS))],
    platform: Annotated[
        str | None,
        Query(description="The platform the case number belongs to (operators, when several have it)"),
    ] = None,
) -> dict[str, Any]:
    if caller.policy.own_platform_only:
        if platform not in (None, caller.platform_id):
            raise HTTPException(404, f"no case {case_number} (or it is outside what your key may see)")
        platform = caller.platform_id
    queries: PgQueryStore = request.app.state.queries
    if platform is None:  # an operator who did not say: the one platform that has the number
        platforms = await queries.platforms_of_case_number(case_number)
        if len(platforms) > 1:
            raise HTTPException(
                422, f"case number {case_number} exists on platforms {', '.join(platforms)}: add ?platform=ONE_OF_THEM"
            )
        platform = platforms[0] if platforms else ""
    revisions = await queries.case_status(platform, case_number)
    if caller.departments and not any(_departments(r) & caller.departments for r in revisions):
        revisions = []
    if not revisions:
        raise HTTPException(
            404, f"no case {case_number} of platform {platform} (or it is outside what your key may see)"
        )
    for revision in revisions:
        revision["state"] = revision_state(revision)
        for step in revision["steps"]:
            step.pop("department_code", None)
    newest = revisions[-1]
    note(request, platform=platform, case_number=case_number, revisions=len(revisions))
    return jsonable(
        {
            "source_platform": platform,
            "case_number": case_number,
            "state": newest["state"],
            "newest_revision": newest["revision"],
            "revisions": revisions,
        }
    )
