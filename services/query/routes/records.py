"""Records: search (JSON and CSV), one record with its files, checks and preservation history.

A record outside the caller's scope is answered exactly like a missing one (404), so a scope does not
tell which records exist."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import StreamingResponse

from services.query.access import Caller, Permission, disclose_id, in_scope
from services.query.adapters.package_description import DescriptionUnavailable, read_description
from services.query.adapters.query_store import PgQueryStore
from services.query.auth import note, require
from services.query.routes.present import RECORD_FIELDS, disclosed_row, hide_id, jsonable, retention_ends
from services.query.search import LIST_COLUMNS, MAX_PAGE, BadCursor, SearchFilters, search_records

router = APIRouter(prefix="/api/v1/records", tags=["records"])

CHECK_EVENT_TYPES = ("validation", "virus check", "format identification")


def search_filters(
    q: Annotated[str | None, Query(description="Part of the title, applicant name, item name or archival code")] = None,
    item: Annotated[str | None, Query(description="Approval item code")] = None,
    department: Annotated[str | None, Query(description="Accepting department code")] = None,
    platform: Annotated[str | None, Query(description="Source platform id")] = None,
    applicant_id: Annotated[str | None, Query(description="Applicant ID number or USCC, exact")] = None,
    completed_from: Annotated[date | None, Query(alias="from", description="Completed on or after (date)")] = None,
    completed_to: Annotated[date | None, Query(alias="to", description="Completed on or before (date)")] = None,
    retention: Annotated[str | None, Query(description="Y, D30 or D10")] = None,
    category: Annotated[str | None, Query(description="Category code, e.g. XK")] = None,
    revisions: Annotated[
        Literal["newest", "all"],
        Query(description="newest (default): a corrected case shows its newest archived revision; all: every one"),
    ] = "newest",
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 20,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> SearchFilters:
    return SearchFilters(
        text=q,
        item_code=item,
        department_code=department,
        source_platform=platform,
        applicant_id_number=applicant_id.strip() if applicant_id else None,
        completed_from=completed_from,
        completed_to=completed_to,
        retention=retention,
        category_code=category,
        all_revisions=revisions == "all",
        limit=limit,
        cursor=cursor,
    )


@router.get("", summary="Search archived records (newest first, cursor-paged)")
async def search(
    request: Request,
    caller: Annotated[Caller, Depends(require(Permission.RECORDS_SEARCH))],
    filters: Annotated[SearchFilters, Depends(search_filters)],
) -> dict[str, Any]:
    try:
        page = await search_records(request.app.state.pool, filters, caller)
    except BadCursor as exc:
        raise HTTPException(400, f"{exc}; start again without a cursor") from exc
    note(request, returned=len(page.rows))
    return {"items": [disclosed_row(r, caller) for r in page.rows], "next_cursor": page.next_cursor}


@router.get(
    "/export.csv",
    summary="The search as CSV (UTF-8 with BOM), streamed; at most export_max_rows rows",
    response_class=StreamingResponse,
)
async def export_csv(
    request: Request,
    caller: Annotated[Caller, Depends(require(Permission.RECORDS_SEARCH))],
    filters: Annotated[SearchFilters, Depends(search_filters)],
) -> StreamingResponse:
    cap = request.app.state.settings.export_max_rows
    pool = request.app.state.pool
    first = replace(filters, limit=min(MAX_PAGE, cap), cursor=filters.cursor)
    try:  # the first page before the response starts: a bad cursor is still a clean 400
        page = await search_records(pool, first, caller)
    except BadCursor as exc:
        raise HTTPException(400, f"{exc}; start again without a cursor") from exc
    note(request, export_limit=cap)
    columns = [c for c in LIST_COLUMNS if c in RECORD_FIELDS]

    async def rows() -> AsyncIterator[str]:
        nonlocal page
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(columns)
        yield "\ufeff" + buffer.getvalue()
        sent = 0
        while True:
            buffer.seek(0)
            buffer.truncate()
            for row in page.rows[: cap - sent]:
                shown = disclosed_row(row, caller)
                writer.writerow(["" if shown.get(c) is None else shown[c] for c in columns])
            sent += min(len(page.rows), cap - sent)
            yield buffer.getvalue()
            if page.next_cursor is None:
                return
            if sent >= cap:
                yield (
                    f"# truncated: more than {cap} records match; this export stops at {cap} rows. "
                    "Narrow the filters (from/to, department, item) and export again.\r\n"
                )
                return
            page = await search_records(pool, replace(first, cursor=page.next_cursor), caller)

    return StreamingResponse(
        rows(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="records.csv"',
            "X-Export-Limit": str(cap),
            "Cache-Control": "no-store",
        },
    )


async def record_in_scope(request: Request, caller: Caller, case_key: str) -> dict[str, Any]:
    """The record, or 404 when it is missing or outside the caller's scope (the same answer)."""
    queries: PgQueryStore = request.app.state.queries
    record = await queries.record(case_key)
    if record is None or not in_scope(caller, record):
        raise HTTPException(404, f"no record {case_key} (or it is outside what your key may see)")
    return record


async def _check_results(request: Request, record: dict[str, Any], files: list[dict[str, Any]]) -> dict[str, Any]:
    """Every check result of the four-property check, per check and file, from the package's own verified
    description (the index keeps only the warnings); `results` is None, and `results_unavailable` says why,
    when it cannot be read — the rest of the record is still answered."""
    try:
        description = await read_description(request.app.state.store, record, files)
    except DescriptionUnavailable as exc:
        return {"results": None, "results_unavailable": str(exc)}
    return {"results": description.get("checks", []), "results_unavailable": None}


def _file_json(row: dict[str, Any], case_key: str) -> dict[str, Any]:
    shown = {
        k: row[k]
        for k in ("seq", "stage", "material_name", "file_name", "original_file_name", "media_type", "size", "sha256")
    }
    shown["sm3"] = row.get("sm3")
    shown["path_in_package"] = row.get("path_in_package")
    shown["download"] = f"/api/v1/records/{case_key}/files/{row['seq']}"
    return shown


@router.get("/{case_key:path}", summary="One record: metadata, classification, package, files, checks, history")
async def record_detail(
    request: Request,
    case_key: str,
    caller: Annotated[Caller, Depends(require(Permission.RECORDS_READ))],
) -> dict[str, Any]:
    record = await record_in_scope(request, caller, case_key)
    queries: PgQueryStore = request.app.state.queries
    files = await queries.files(case_key)
    events = await queries.preservation_events(case_key)
    fixity = await queries.fixity_checks(case_key)
    archived = record["archived_event"]["data"]
    classification = archived.get("classification", {})
    id_number = record["applicant_id_number"]
    shown_id = disclose_id(caller, id_number, record["applicant_id_type"], record["applicant_type"])
    body = {
        **disclosed_row(record, caller),
        "classification": {
            k: classification.get(k)
            for k in (
                "fonds_code",
                "category_code",
                "class_code",
                "year",
                "retention",
                "organisation_code",
                "item_number",
                "archival_code",
                "security_level",
                "sharing_level",
                "rule_id",
                "schedule_version",
                "decided_by",
                "decided_at",
            )
        },
        "package": {
            "bucket": record["package_bucket"],
            "key": record["package_key"],
            "version_id": record["package_version_id"],
            "sha256": record["package_sha256"],
            "size": record["package_size"],
            "manifest_sha256": record["manifest_sha256"],
            "retain_until": jsonable(record["retain_until"]),
            # Storage writes every package version with COMPLIANCE retention (docs/packages.md).
            "retention_mode": "COMPLIANCE" if record["retain_until"] else None,
            "legal_hold": record["legal_hold"],
        },
        "files": [_file_json(f, case_key) for f in files],
        "retention_ends": retention_ends(record["retention"], record["completed_at"]),
        "checks": {
            "warnings": archived.get("warnings", []),
            **await _check_results(request, record, files),
            "events": [
                {k: jsonable(e[k]) for k in ("event_type", "event_time", "outcome", "detail", "agent")}
                for e in events
                if e["event_type"] in CHECK_EVENT_TYPES
            ],
        },
        "preservation_events": [jsonable(e) for e in events],
        "fixity_checks": [jsonable(f) for f in fixity],
        # Every archived revision of the case number, oldest first: a correction supersedes the one before.
        "revisions": [
            jsonable(r) for r in await queries.archived_revisions(record["source_platform"], record["case_number"])
        ],
        "supersedes": archived.get("supersedes"),
        "superseded_by_revision": record.get("superseded_by_revision"),
    }
    return hide_id(body, id_number, shown_id)
