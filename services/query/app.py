"""The query service's composition root: `create_app(settings)` builds the FastAPI app, its routes, the
audit middleware, and (at start-up) the database pool and object-store client it keeps in `app.state`.

Only `/healthz` answers without credentials. A browser that opens a page without a session gets a 401 whose
body is the login form (it posts the key to `POST /login`, which sets the session cookie and returns to
the page); the OpenAPI description (`/docs`, `/openapi.json`) needs a key with `docs.read` like any other
endpoint."""

from __future__ import annotations

import asyncio
import html
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any

import fastapi_offline
from fastapi import Depends, FastAPI, Form, HTTPException, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response

from contracts.envelope import utc_now
from services.common.adapters.object_store import MinioObjectStore
from services.common.composition import open_database
from services.common.producer import KafkaPublisher
from services.query import dashboard, pages
from services.query.access import Caller, Permission
from services.query.adapters.api_keys import PgApiKeys
from services.query.adapters.audit_log import PgAuditLog
from services.query.adapters.query_store import PgQueryStore
from services.query.auth import COOKIE_NAME, AuditMiddleware, any_caller, authenticate, presented_key, require
from services.query.config import QuerySettings
from services.query.routes import audit, cases, disposition, files, queues, records, stats

log = logging.getLogger(__name__)

SWAGGER_DIR = Path(fastapi_offline.__file__).parent / "static"
SWAGGER_ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}

TITLE = "approval-archive query API"

LOGIN_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>登录 · approval-archive</title>
<style>body{{font-family:sans-serif;max-width:28rem;margin:4rem auto}}input{{width:100%;padding:.4rem}}
.error{{color:#a00}}</style></head>
<body><h1>档案查询 · 登录</h1>
<p>Paste the API key the archive centre gave you (aa_…). 请输入档案中心发放的访问密钥。</p>
{error}
<form method="post" action="/login"><input type="hidden" name="next" value="{next}">
<label for="key">API key</label>
<input id="key" name="key" type="password" autocomplete="off" required>
<p><button type="submit">Log in · 登录</button></p></form></body></html>
"""


def _login_page(error: str | None = None, *, next_page: str = "/dashboard") -> HTMLResponse:
    """The login form, answered with 401: it is what a page says to a browser without a session."""
    shown = f'<p class="error">{html.escape(error)}</p>' if error else ""
    body = LOGIN_PAGE.format(error=shown, next=html.escape(_local_page(next_page), quote=True))
    return HTMLResponse(
        body,
        status_code=401,
        headers={"Cache-Control": "no-store", "WWW-Authenticate": 'Bearer realm="archive"'},
    )


def _local_page(target: str) -> str:
    """Where to go after logging in: a path of this service only (never `//host` or `https://…`)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/dashboard"
    return target


def _openapi_with_security(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schema.setdefault("components", {})["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer", "description": "aa_<key id>_<secret>"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            "cookie": {"type": "apiKey", "in": "cookie", "name": COOKIE_NAME},
        }
        schema["security"] = [{"bearer": []}, {"apiKey": []}, {"cookie": []}]
        app.openapi_schema = schema
    return app.openapi_schema


def create_app(settings: QuerySettings | None = None) -> FastAPI:
    settings = settings or QuerySettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = await open_database(settings, max_size=settings.query_pg_pool_size)
        app.state.pool = pool
        app.state.store = MinioObjectStore.from_settings(settings, retry_server_errors=False)
        app.state.replica_store = (  # the second site: a download falls back to it (routes/files.py)
            MinioObjectStore.from_settings(settings, retry_server_errors=False, site="replica")
            if settings.minio_replica_endpoint
            else None
        )
        app.state.keys = PgApiKeys(pool)
        app.state.audit = PgAuditLog(pool)
        app.state.queries = PgQueryStore(pool)
        app.state.publisher = KafkaPublisher(settings)  # started by the first review decision
        try:
            yield
        finally:
            await app.state.publisher.close()
            await pool.close()

    app = FastAPI(
        title=TITLE,
        version="1",
        description="Search, retrieval, exception queues, statistics and the audit log of the archive. "
        "Every request needs an API key (docs/access.md) and is written to the audit log.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        swagger_ui_oauth2_redirect_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.clock = utc_now  # what "now" is for overdue rectifications; tests set their own
    app.add_middleware(AuditMiddleware)

    @app.get("/healthz", include_in_schema=False)
    async def healthz(request: Request) -> JSONResponse:
        try:
            ok = await asyncio.wait_for(request.app.state.queries.ping(), timeout=2)
        except Exception as exc:  # the pool is not there or the database does not answer
            return JSONResponse({"status": "unavailable", "detail": f"database: {exc!r}"}, status_code=503)
        return JSONResponse({"status": "ok" if ok else "unavailable"}, status_code=200 if ok else 503)

    @app.post("/login", include_in_schema=False)
    async def login(
        request: Request,
        key: Annotated[str, Form()] = "",
        next_page: Annotated[str, Form(alias="next")] = "/dashboard",
    ) -> Response:
        try:
            caller = await authenticate(request, "session.login", key=key.strip() or None)
        except HTTPException as exc:
            return _login_page(str(exc.detail), next_page=next_page)
        response = RedirectResponse(_local_page(next_page), status_code=303)
        response.set_cookie(
            COOKIE_NAME,
            key.strip(),
            max_age=settings.session_max_age_seconds,
            httponly=True,
            samesite="strict",
            secure=settings.cookie_secure,
            path="/",
        )
        log.info("logged in", extra={"key_id": caller.key_id, "role": caller.role.value})
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(
        caller: Annotated[Caller, Depends(any_caller)],
        next_page: Annotated[str, Form(alias="next")] = "/dashboard",
    ) -> Response:
        response = RedirectResponse(_local_page(next_page), status_code=303)  # which asks for a key again
        response.delete_cookie(COOKIE_NAME, path="/")
        return response

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi(caller: Annotated[Caller, Depends(require(Permission.DOCS_READ))]) -> JSONResponse:
        return JSONResponse(_openapi_with_security(app))

    @app.get("/docs", include_in_schema=False)
    async def docs(caller: Annotated[Caller, Depends(require(Permission.DOCS_READ))]) -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{TITLE} — docs",
            swagger_js_url="/docs/assets/swagger-ui-bundle.js",
            swagger_css_url="/docs/assets/swagger-ui.css",
            swagger_favicon_url="data:,",
        )

    @app.get("/docs/assets/{name}", include_in_schema=False)
    async def docs_asset(name: str, caller: Annotated[Caller, Depends(require(Permission.DOCS_READ))]) -> Response:
        # Swagger UI from the fastapi-offline wheel, not a CDN: archive networks are often closed.
        if name not in SWAGGER_ASSETS:
            raise HTTPException(404, f"no docs asset {name!r}")
        return FileResponse(
            SWAGGER_DIR / name, media_type=SWAGGER_ASSETS[name], headers={"Cache-Control": "max-age=86400"}
        )

    # The file route first: `/records/{case_key:path}` would otherwise swallow `…/files/1`.
    app.include_router(files.router)
    app.include_router(records.router)
    app.include_router(queues.router)
    app.include_router(cases.router)
    app.include_router(stats.router)
    app.include_router(audit.router)
    app.include_router(disposition.router)
    app.include_router(dashboard.router)
    app.include_router(pages.router)
    _show_browsers_the_login_form(app)
    return app


def _show_browsers_the_login_form(app: FastAPI) -> None:
    """A person who opens /dashboard (or /docs) without a session gets the login form as the body of the 401,
    not JSON; programs (no `text/html` in Accept) keep getting the JSON answer."""
    from fastapi.exception_handlers import http_exception_handler
    from starlette.exceptions import HTTPException as StarletteHTTPException

    @app.exception_handler(StarletteHTTPException)
    async def login_or_json(request: Request, exc: StarletteHTTPException) -> Response:
        wants_page = request.method == "GET" and "text/html" in request.headers.get("accept", "")
        if exc.status_code == 401 and wants_page:
            page = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            # A first visit is no error; a refused key (expired, revoked) says why.
            return _login_page(str(exc.detail) if presented_key(request) else None, next_page=page)
        if exc.status_code in (403, 404) and wants_page and _is_page(request.url.path):
            return _error_page(exc.status_code, str(exc.detail))
        return await http_exception_handler(request, exc)


def _is_page(path: str) -> bool:
    """A path of the staff's pages (not of the API): a refusal there is shown as a page, not as JSON."""
    return path in ("/records", "/queues", "/dashboard") or path.startswith("/records/")


ERROR_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{title}</title>
<link rel="stylesheet" href="/pages/assets/pages.css"></head>
<body><main class="page narrow"><h1>{title}</h1>
<p class="banner" data-testid="page-error" data-status="{status}">{detail}</p>
<p><a href="/records">档案检索 Search records</a> · <a href="/queues">工作队列 Queues</a></p>
<form method="post" action="/logout"><input type="hidden" name="next" value="/records">
<button type="submit">切换密钥 Change key</button></form></main></body></html>
"""
ERROR_TITLES = {403: "无权访问 Not permitted (403)", 404: "没有该档案 Not found (404)"}


def _error_page(status: int, detail: str) -> HTMLResponse:
    """A refusal as a page: the same status and the same words as the API's JSON answer."""
    body = ERROR_PAGE.format(title=ERROR_TITLES[status], status=status, detail=html.escape(detail))
    return HTMLResponse(body, status_code=status, headers={"Cache-Control": "no-store"})
