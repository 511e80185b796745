"""Authentication, authorization and the audit row of every request.

`require(permission)` is the FastAPI dependency every data endpoint uses. It reads the API key (header
`Authorization: Bearer aa_…`, header `X-API-Key`, or the `aa_key` cookie that `POST /login` sets),
answers 401 when it is missing or not valid and 403 when the key's role lacks the permission, and returns
the `Caller`. From the moment a credential is presented, the request is audited: `AuditMiddleware` writes
one row to the hash-chained audit log when the response starts — after the status is known and before a
byte of the body leaves — so no data is served without its row (if the row cannot be written, the caller
gets 503 instead of the data). Requests with no credential at all are not audited (anyone can send them
by the million, and they see nothing): they are counted in `archive_query_unauthenticated_total`.

ID numbers never reach the audit log or the service log in clear: the `applicant_id` filter and anything
in a query string that looks like an ID number or credit code are masked (`mask_query`).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fastapi import HTTPException, Request
from prometheus_client import Counter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.query.access import Caller, Permission, mask_id_number
from services.query.adapters.api_keys import KeyCheck, PgApiKeys, key_id_of
from services.query.adapters.audit_log import AuditEntry, PgAuditLog

log = logging.getLogger("services.query.requests")

COOKIE_NAME = "aa_key"
_AUDIT = "aa.audit"  # the request's AuditContext, kept in the ASGI scope

UNAUTHENTICATED = Counter(
    "archive_query_unauthenticated_total",
    "Requests that presented no credential (answered 401 and not written to the audit log).",
)
REQUESTS = Counter("archive_query_requests_total", "Requests answered by the query service, by status.", ["status"])
AUDIT_FAILURES = Counter(
    "archive_query_audit_failures_total",
    "Audit-log rows that could not be written (the request was answered 503 instead).",
)

# An ID number or unified social credit code in free text: 15 or 18 characters of digits and capitals
# (the last may be X), at least 6 of them digits.
_ID_LIKE = re.compile(r"(?<![0-9A-Za-z])(?=(?:[A-Z]*[0-9]){6})[0-9A-Z]{15}(?:[0-9A-Z]{3})?(?![0-9A-Za-z])")
_ID_PARAMETERS = {"applicant_id"}


def mask_identifiers(text: str) -> str:
    """`text` with every ID-number-like token masked (first 3 and last 2 characters kept)."""
    return _ID_LIKE.sub(lambda m: mask_id_number(m.group(0)), text)


def mask_query(params: Mapping[str, str] | list[tuple[str, str]]) -> dict[str, str]:
    """Query parameters fit for a log or the audit log."""
    items = params.items() if isinstance(params, Mapping) else params
    return {key: mask_id_number(value) if key in _ID_PARAMETERS else mask_identifiers(value) for key, value in items}


def masked_query_string(query_string: bytes | str) -> str:
    """The query string, decoded (readable in a log) and masked."""
    raw = query_string.decode("latin-1") if isinstance(query_string, bytes) else query_string
    return "&".join(f"{k}={v}" for k, v in mask_query(parse_qsl(raw, keep_blank_values=True)).items())


@dataclass
class AuditContext:
    """What the audit row of this request will say; the middleware adds the status."""

    action: str
    key_id: str | None
    principal: str | None
    role: str | None
    method: str
    path: str
    target: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    written: bool = False

    def entry(self, status: int, **extra: Any) -> AuditEntry:
        return AuditEntry(
            action=self.action,
            status=status,
            key_id=self.key_id,
            principal=self.principal,
            role=self.role,
            method=self.method,
            path=self.path,
            target=self.target,
            detail={**self.detail, **extra},
        )


def presented_key(request: Request) -> str | None:
    """The credential the request carries: Authorization Bearer, X-API-Key, or the login cookie."""
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        return value.strip() if scheme.lower() == "bearer" else authorization.strip()
    return request.headers.get("x-api-key") or request.cookies.get(COOKIE_NAME) or None


def _unauthenticated(message: str) -> HTTPException:
    return HTTPException(status_code=401, detail=message, headers={"WWW-Authenticate": 'Bearer realm="archive"'})


def _start_audit(request: Request, action: str, check: KeyCheck | None, key: str) -> AuditContext:
    params = mask_query(list(request.query_params.multi_items()))
    context = AuditContext(
        action=action,
        key_id=check.key_id if check else key_id_of(key),
        principal=check.name if check else None,
        role=check.role if check else None,
        method=request.method,
        path=request.url.path,
        target=request.path_params.get("case_key"),
        detail={"query": params} if params else {},
    )
    request.scope[_AUDIT] = context
    return context


async def authenticate(request: Request, action: str, key: str | None = None) -> Caller:
    """The caller behind the request's credential (or `key`); 401 with the reason when there is none.
    A presented credential, valid or not, makes the request audited under `action`."""
    key = key if key is not None else presented_key(request)
    if not key:
        UNAUTHENTICATED.inc()
        raise _unauthenticated(
            "no credentials: send the header 'Authorization: Bearer aa_<key id>_<secret>' (or X-API-Key), "
            "or open the dashboard in a browser to log in; docs/access.md says how keys are issued"
        )
    keys: PgApiKeys = request.app.state.keys
    check = await keys.check(key)
    _start_audit(request, action, check, key)
    if check.caller is None:
        raise _unauthenticated(check.reason or "the API key is not valid")
    return check.caller


def require(permission: Permission) -> Callable[[Request], Awaitable[Caller]]:
    """A dependency: the authenticated caller whose role has `permission` (401 / 403 otherwise)."""

    async def dependency(request: Request) -> Caller:
        caller = await authenticate(request, permission.value)
        if not caller.may(permission):
            raise HTTPException(
                status_code=403,
                detail=f"role {caller.role.value} lacks permission {permission.value} (key {caller.key_id}, "
                f"{caller.name}); docs/access.md lists what each role may do",
            )
        return caller

    dependency.permission = permission  # type: ignore[attr-defined]  # read by the access-matrix test
    return dependency


async def any_caller(request: Request) -> Caller:
    """A dependency for what every valid key may do (log out)."""
    return await authenticate(request, "session.logout")


def audit_context(request: Request) -> AuditContext | None:
    return request.scope.get(_AUDIT)


def note(request: Request, *, target: str | None = None, **detail: Any) -> None:
    """Add to this request's audit row (a target, what was decided, how many rows were exported…)."""
    context = audit_context(request)
    if context is None:
        return
    if target is not None:
        context.target = target
    context.detail.update(_masked(detail))


def _masked(value: Any) -> Any:
    """Free text a caller typed (a note) may quote an ID number: masked before it is written down."""
    if isinstance(value, str):
        return mask_identifiers(value)
    if isinstance(value, Mapping):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return value


async def audit_now(request: Request, status: int, *, action: str | None = None, **detail: Any) -> None:
    """Write an extra row for this request now, e.g. a download aborted after its first row was written."""
    context = audit_context(request)
    if context is None:
        return
    entry = context.entry(status, **detail)
    if action is not None:
        entry = AuditEntry(**{**entry.__dict__, "action": action})
    await request.app.state.audit.append(entry)


class AuditMiddleware:
    """Writes the audit row of an audited request when its response starts (status known, body not yet
    sent), logs one line per request with ID numbers masked, and counts requests by status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status_sent: list[int] = []

        async def send_audited(message: Message) -> None:
            if message["type"] == "http.response.start" and not status_sent:
                status = int(message["status"])
                if not await self._write(scope, status):
                    message = {"type": "http.response.start", "status": 503, "headers": _JSON_HEADERS}
                    status_sent.append(503)
                    await send(message)
                    await send({"type": "http.response.body", "body": _AUDIT_DOWN_BODY, "more_body": False})
                    raise _AuditUnavailable
                status_sent.append(status)
            await send(message)

        try:
            await self.app(scope, receive, send_audited)
        except _AuditUnavailable:
            pass
        except BaseException:
            if not status_sent:  # the server will answer 500: that is the request's audited status
                await self._write(scope, 500)
                status_sent.append(500)
            raise
        finally:
            status = status_sent[0] if status_sent else 0
            REQUESTS.labels(str(status)).inc()
            context: AuditContext | None = scope.get(_AUDIT)
            query = masked_query_string(scope.get("query_string", b""))
            # Orchestrators probe /healthz every few seconds per replica: a healthy answer is not news.
            quiet = scope.get("path") == "/healthz" and status == 200
            log.log(
                logging.DEBUG if quiet else logging.INFO,
                "request",
                extra={
                    "method": scope.get("method"),
                    "path": scope.get("path"),
                    "query": query or None,
                    "status": status,
                    "key_id": context.key_id if context else None,
                    "duration_ms": round((time.monotonic() - started) * 1000, 1),
                },
            )

    @staticmethod
    async def _write(scope: Scope, status: int) -> bool:
        context: AuditContext | None = scope.get(_AUDIT)
        if context is None or context.written:
            return True
        context.written = True
        audit: PgAuditLog = scope["app"].state.audit
        try:
            await audit.append(context.entry(status))
        except Exception:
            AUDIT_FAILURES.inc()
            log.exception(
                "the audit-log row of a request could not be written; the request was answered 503 and no data "
                "was served. Check that PostgreSQL answers, then `archivectl audit verify`",
                extra={"path": context.path, "key_id": context.key_id, "action": context.action},
            )
            return False
        return True


class _AuditUnavailable(Exception):
    pass


_JSON_HEADERS = [(b"content-type", b"application/json")]
_AUDIT_DOWN_BODY = (
    b'{"detail": "the audit log could not be written, so nothing was served; try again later '
    b'(operators: see the query service log)"}'
)
