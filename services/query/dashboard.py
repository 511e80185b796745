"""The operations dashboard: `GET /dashboard` (the page), its script and style, and `GET /api/v1/dashboard`
(the JSON the page polls). All of them need the dashboard permission (operator, auditor). A browser without
a session gets the login form as the 401's body; `POST /login` sets the `aa_key` cookie the page's
requests carry.

The numbers come from services/query/dashboard_data.py; docs/dashboard.md says what each one means."""

from __future__ import annotations

import html
from contextlib import asynccontextmanager
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from services.common.adapters.consumer_lag import KafkaConsumerLag
from services.query.access import Caller, Permission
from services.query.adapters.dashboard_queries import PgDashboardQueries
from services.query.auth import require
from services.query.dashboard_data import (
    DEFAULT_QUEUE_ROWS,
    MAX_QUEUE_ROWS,
    Dashboard,
    group_inputs,
    refresh_seconds,
)

STATIC = Path(__file__).resolve().parent / "static"
ASSETS = {"dashboard.js": "text/javascript; charset=utf-8", "dashboard.css": "text/css; charset=utf-8"}
REFRESH_MARKER = "__REFRESH_SECONDS__"


@asynccontextmanager
async def _lifespan(app: FastAPI):  # type: ignore[no-untyped-def]
    yield
    dashboard: Dashboard | None = getattr(app.state, "dashboard", None)
    if dashboard is not None:
        await dashboard.close()  # the Kafka clients kept between polls


router = APIRouter(tags=["dashboard"], lifespan=_lifespan)


def dashboard_for(request: Request) -> Dashboard:
    """The app's one Dashboard (its cache is what keeps many open pages cheap), made on first use."""
    state = request.app.state
    dashboard: Dashboard | None = getattr(state, "dashboard", None)
    if dashboard is None:
        settings = state.settings
        dashboard = Dashboard(
            queries=PgDashboardQueries(state.pool),
            lag=KafkaConsumerLag(settings.kafka_bootstrap, client_id="archive-dashboard"),
            groups=group_inputs(settings),
            overdue_days=settings.rectification_overdue_days,
            replica_configured=bool(settings.minio_replica_endpoint),
        )
        state.dashboard = dashboard
    return dashboard


@cache
def _static_text(name: str) -> str:
    return (STATIC / name).read_text(encoding="utf-8")


@router.get("/dashboard", response_class=HTMLResponse, include_in_schema=False)
async def dashboard_page(
    refresh: str | None = Query(default=None, description="Seconds between refreshes (1–300, default 5)."),
    caller: Caller = Depends(require(Permission.DASHBOARD_READ)),
) -> HTMLResponse:
    page = _static_text("dashboard.html").replace(REFRESH_MARKER, html.escape(str(refresh_seconds(refresh))))
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})


@router.get("/dashboard/assets/{name}", include_in_schema=False)
async def dashboard_asset(name: str, caller: Caller = Depends(require(Permission.DASHBOARD_READ))) -> Response:
    media_type = ASSETS.get(name)
    if media_type is None:
        raise HTTPException(404, f"no dashboard asset named {name!r}; there are {', '.join(sorted(ASSETS))}")
    return Response(_static_text(name), media_type=media_type, headers={"Cache-Control": "no-cache"})


@router.get("/api/v1/dashboard", summary="The operations dashboard's numbers (polled by /dashboard)")
async def dashboard_data(
    request: Request,
    rows: int = Query(
        default=DEFAULT_QUEUE_ROWS, ge=1, le=MAX_QUEUE_ROWS, description="How many of the oldest queue entries to list."
    ),
    caller: Caller = Depends(require(Permission.DASHBOARD_READ)),
) -> JSONResponse:
    snapshot: dict[str, Any] = await dashboard_for(request).snapshot(sorted(caller.departments), queue_rows=rows)
    snapshot["caller"] = {
        "name": caller.name,
        "role": str(caller.role),
        "departments": sorted(caller.departments),
        "may_resolve": caller.may(Permission.QUEUES_ACT),
    }
    return JSONResponse(snapshot, headers={"Cache-Control": "no-store"})
