"""The archive staff's pages: search (`GET /records`), one record (`GET /records/{case_key}`) and the
queues worked as workflows (`GET /queues`), with their script and style (`GET /pages/assets/{name}`).

They are plain HTML, CSS and JavaScript served from services/query/static/ — no front-end build, nothing
from a CDN — and hold no data themselves: the script reads the API (`/api/v1/...`) with the session cookie,
so roles, scopes, ID-number masking and the audit log are the API's, unchanged. Each page needs the
permission of the API it reads; a browser without a session gets the login form (services/query/app.py).
The record page answers 404 for a record outside the key's scope, exactly as the API does.
docs/records.md is the staff's guide."""

from __future__ import annotations

import html
from functools import cache
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from services.query.access import Caller, Permission
from services.query.auth import require
from services.query.routes.records import record_in_scope

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {
    "pages.css": "text/css; charset=utf-8",
    "pages.js": "text/javascript; charset=utf-8",
    "search.js": "text/javascript; charset=utf-8",
    "record.js": "text/javascript; charset=utf-8",
    "queues.js": "text/javascript; charset=utf-8",
}
CALLER_MARKER = "__CALLER__"
CASE_KEY_MARKER = "__CASE_KEY__"

router = APIRouter(tags=["pages"])


@cache
def _static_text(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


def _caller_attributes(caller: Caller) -> str:
    """What the page's script needs to know of the caller (which buttons to offer); the API decides anyway."""
    values = {
        "data-caller-name": caller.name,
        "data-caller-role": caller.role.value,
        "data-may-download": str(caller.may(Permission.FILES_DOWNLOAD)).lower(),
        "data-may-act": str(caller.may(Permission.QUEUES_ACT)).lower(),
        "data-may-queues": str(caller.may(Permission.QUEUES_READ)).lower(),
        "data-may-dashboard": str(caller.may(Permission.DASHBOARD_READ)).lower(),
    }
    return " ".join(f'{name}="{html.escape(value, quote=True)}"' for name, value in values.items())


def _page(name: str, caller: Caller, **markers: str) -> HTMLResponse:
    text = _static_text(name).replace(CALLER_MARKER, _caller_attributes(caller))
    for marker, value in markers.items():
        text = text.replace(marker, html.escape(value, quote=True))
    return HTMLResponse(text, headers={"Cache-Control": "no-store"})


@router.get("/records", response_class=HTMLResponse, include_in_schema=False)
async def search_page(caller: Annotated[Caller, Depends(require(Permission.RECORDS_SEARCH))]) -> HTMLResponse:
    return _page("search.html", caller)


@router.get("/queues", response_class=HTMLResponse, include_in_schema=False)
async def queues_page(caller: Annotated[Caller, Depends(require(Permission.QUEUES_READ))]) -> HTMLResponse:
    return _page("queues.html", caller)


@router.get("/pages/assets/{name}", include_in_schema=False)
async def page_asset(name: str, caller: Annotated[Caller, Depends(require(Permission.RECORDS_SEARCH))]) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise HTTPException(404, f"no page asset named {name!r}; there are {', '.join(sorted(ASSETS))}")
    return Response(_static_text(name), media_type=media_type, headers={"Cache-Control": "no-cache"})


# Last: `{case_key:path}` matches anything below /records/.
@router.get("/records/{case_key:path}", response_class=HTMLResponse, include_in_schema=False)
async def record_page(
    request: Request, case_key: str, caller: Annotated[Caller, Depends(require(Permission.RECORDS_READ))]
) -> HTMLResponse:
    await record_in_scope(request, caller, case_key)  # 404 outside the scope, as GET /api/v1/records/{case_key}
    return _page("record.html", caller, **{CASE_KEY_MARKER: case_key})
