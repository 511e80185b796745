"""The authorization matrix: every role × every route × every sharing level against the running service,
as docs/access.md's tables say. A route of create_app() without a row in the table fails; a row naming
no route fails; without credentials everything but /healthz answers 401."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import iter_route_contexts

from services.query.app import create_app
from tests.integration.test_query_api import (
    ORGANISATION,
    OTHER_PLATFORM,
    PERSON,
    QueryWorld,
    archive_record,
    build_world,
    create_keys,
    open_quarantine_entry,
    sample_record,
    serving,
)

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "access.md"
ROLES = ("operator", "auditor", "supervision", "platform", "approver")
LEVELS = ("01", "02", "03")
NO_REVIEW = "market-regulation/NO-SUCH-REVIEW/r1"
NO_RECORD = "market-regulation/NO-SUCH-RECORD/r1"
NO_PROPOSAL = "999999999"


def _table(marker: str) -> list[dict[str, str]]:
    text = DOC.read_text(encoding="utf-8")
    block = re.search(rf"<!-- access-matrix:{marker} -->\n(.*?)<!-- /access-matrix:{marker} -->", text, re.S)
    assert block, f"docs/access.md has no <!-- access-matrix:{marker} --> table"
    lines = [line.strip() for line in block.group(1).strip().splitlines()]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = []
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert len(cells) == len(header), f"malformed row in docs/access.md: {line}"
        rows.append(dict(zip(header, cells, strict=True)))
    return rows


ENDPOINTS = {row["endpoint"]: row for row in _table("endpoints")}
SHARING = {row["role"]: row for row in _table("sharing")}


def app_routes() -> set[str]:
    routes = set()
    for route in iter_route_contexts(create_app().routes):
        for method in sorted(route.methods or ()):
            if method != "HEAD":
                routes.add(f"{method} {route.path}")
    return routes


def test_every_route_has_a_row_and_every_row_a_route():
    routes = app_routes()
    assert routes - set(ENDPOINTS) == set(), "routes without a row in docs/access.md (add them to the table)"
    assert set(ENDPOINTS) - routes == set(), "rows of docs/access.md naming no route"
    for endpoint, row in ENDPOINTS.items():
        assert {row[r] for r in ROLES} <= {"allow", "deny"}, endpoint
    assert set(SHARING) == set(ROLES)


# --- the world: one record per sharing level, a key per role -------------------------------------------------


@pytest.fixture(scope="module")
async def world(prepared) -> AsyncIterator[QueryWorld]:  # type: ignore[no-untyped-def]
    w = await build_world(prepared, "qacl")
    try:
        for level, security in (("01", "公开"), ("02", "内部"), ("03", "内部")):
            applicant = PERSON if level != "02" else ORGANISATION
            rec = sample_record(f"QACL-{level}", applicant=applicant, title=f"共享级别{level}的许可")
            w.archived[level] = await archive_record(
                w.settings, w.store, w.index, rec, sharing=level, security=security
            )
        other = sample_record("QACL-OTHER", platform=OTHER_PLATFORM, title="其他平台的许可")
        w.archived["other"] = await archive_record(w.settings, w.store, w.index, other, sharing="01", security="公开")
        await create_keys(w)
        async with serving(w.settings) as url:
            w.base_url = url
            yield w
    finally:
        await w.index.close()


def _fill(endpoint: str, world: QueryWorld, level: str, resolvable: dict[str, str]) -> tuple[str, str, dict]:
    """The method, a concrete URL and a request body for one row of the table."""
    method, path = endpoint.split(" ", 1)
    body: dict[str, Any] = {}
    if path.startswith("/api/v1/quarantine/"):
        path = path.replace("{case_key:path}", resolvable[level])
        body = {"resolution": "duplicate", "note": "matrix"}
    elif path.startswith("/api/v1/reviews/"):
        path = path.replace("{case_key:path}", NO_REVIEW)
        body = {"rule_id": "SCJG-SL-ZY"}
    elif path.startswith("/api/v1/disposition/"):
        path = path.replace("{case_key:path}", NO_RECORD).replace("{decision_id:int}", NO_PROPOSAL)
        body = {"decision": "keep", "reason": "matrix"}  # the reject body needs only the reason
    # file 2 of sample_record is a real PDF (a preview renders it); file 1 is random bytes
    seq = "2" if path.endswith("/preview") else "1"
    path = path.replace("{case_key:path}", world.case_key(level)).replace("{seq:int}", seq)
    path = path.replace("{case_number}", world.case_key(level).split("/")[1])
    assets = {"/docs/": "swagger-ui.css", "/dashboard/": "dashboard.js", "/pages/": "pages.css"}
    path = path.replace("{name}", next((v for k, v in assets.items() if path.startswith(k)), "?"))
    return method, path, body


async def _call(world: QueryWorld, key: str | None, method: str, path: str, body: dict, params: dict) -> Any:
    async with world.client(key, follow_redirects=False) as client:
        if path == "/login" and method == "POST":
            return await client.post(path, data={"key": key or ""})
        if method == "POST":
            return await client.post(path, json=body)
        return await client.get(path, params=params)


def _expected(endpoint: str, role: str, level: str) -> tuple[int, bool | None]:
    """(status, whether the level's record is listed) the docs promise."""
    row = ENDPOINTS[endpoint]
    if row[role] == "deny":
        return 403, None
    visible = SHARING[role][level] == "allow"
    path = endpoint.split(" ", 1)[1]
    if endpoint in ("POST /login", "POST /logout"):
        return 303, None
    if path.endswith(("/decide", "/choices", "/approve", "/reject")):
        return 404, None  # allowed: it gets as far as looking the review, record or proposal up
    if row["record scope"] == "yes":
        if path in ("/api/v1/records", "/api/v1/records/export.csv"):
            return 200, visible
        return (200 if visible else 404), None
    return 200, None


async def test_every_role_on_every_route_at_every_sharing_level(world):
    # one open quarantine entry per sharing level: the operator resolves each exactly once
    resolvable = {level: await open_quarantine_entry(world.settings, f"QACL-REJ-{level}") for level in LEVELS}
    failures = []
    for level in LEVELS:
        case_key = world.case_key(level)
        for endpoint in sorted(ENDPOINTS):
            method, path, body = _fill(endpoint, world, level, resolvable)
            params = {"q": f"共享级别{level}"} if path.startswith("/api/v1/records") else {}
            for role in ROLES:
                status, listed = _expected(endpoint, role, level)
                answer = await _call(world, world.keys[role], method, path, body, params)
                if answer.status_code != status:
                    failures.append(f"{role:<11} {level} {endpoint}: {answer.status_code}, expected {status}")
                    continue
                if listed is not None:
                    present = case_key in answer.text
                    if present != listed:
                        failures.append(f"{role:<11} {level} {endpoint}: record listed={present}, expected {listed}")
                if status == 403:
                    permission = ENDPOINTS[endpoint]["permission"]
                    if f"lacks permission {permission}" not in answer.json()["detail"]:
                        failures.append(f"{role} {endpoint}: 403 does not name {permission}")
    assert not failures, "\n".join(failures)


async def test_nothing_but_healthz_answers_without_credentials(world):
    resolvable = {"01": "market-regulation/QACL-ANON/r1"}
    answers = {}
    for endpoint in sorted(ENDPOINTS):
        method, path, body = _fill(endpoint, world, "01", resolvable)
        answer = await _call(world, None, method, path, body, {})
        answers[endpoint] = answer.status_code
    public = {e for e, row in ENDPOINTS.items() if row["credentials"] == "none"}
    assert public == {"GET /healthz"}
    assert {e: s for e, s in answers.items() if e not in public and s != 401} == {}
    assert {answers[e] for e in public} == {200}


@pytest.mark.parametrize(
    ("page", "marker"), [("/dashboard", "吞吐"), ("/records", "search-form"), ("/queues", "review-list")]
)
async def test_a_browser_without_a_session_gets_the_login_form_and_no_data(world, page, marker):
    async with world.client(None, follow_redirects=False) as client:
        answer = await client.get(page, headers={"Accept": "text/html,application/xhtml+xml"})
        data = await client.get("/api/v1/dashboard", headers={"Accept": "application/json"})
    assert answer.status_code == 401 and 'action="/login"' in answer.text  # the form, and no data
    assert f'name="next" value="{page}"' in answer.text  # back to this page after logging in
    assert marker not in answer.text
    assert data.status_code == 401


async def test_a_platform_key_sees_its_own_platform_only(world):
    other = world.case_key("other")
    async with world.client(world.keys["platform"]) as client:
        assert (await client.get(f"/api/v1/records/{other}")).status_code == 404
        assert other not in (await client.get("/api/v1/records", params={"q": "其他平台"})).text
    async with world.client(world.keys["supervision"]) as client:
        assert (await client.get(f"/api/v1/records/{other}")).status_code == 200


async def test_scopes_narrow_a_key_below_its_role(world):
    from services.query.access import ScopeError
    from services.query.adapters.api_keys import PgApiKeys

    keys = PgApiKeys(world.index.pool)
    only_public = await keys.create("仅公开", "supervision", sharing_levels=["01"], created_by="test")
    other_department = await keys.create(
        "其他部门", "auditor", sharing_levels=["01", "02", "03"], departments=["ZJJ"], created_by="test"
    )
    public_only = await keys.create(
        "公开级", "auditor", sharing_levels=["01", "02"], max_security="公开", created_by="t"
    )
    async with world.client(only_public) as client:
        assert (await client.get(f"/api/v1/records/{world.case_key('01')}")).status_code == 200
        assert (await client.get(f"/api/v1/records/{world.case_key('02')}")).status_code == 404
    async with world.client(other_department) as client:
        assert (await client.get(f"/api/v1/records/{world.case_key('01')}")).status_code == 404
        assert (await client.get("/api/v1/records")).json()["items"] == []
    async with world.client(public_only) as client:  # level 02 is 内部: above the key's ceiling
        assert (await client.get(f"/api/v1/records/{world.case_key('02')}")).status_code == 404
        assert (await client.get(f"/api/v1/records/{world.case_key('01')}")).status_code == 200
    for level, row in SHARING.items():
        for sharing in LEVELS:
            granted = [sharing]
            platform = "market-regulation" if level == "platform" else None
            if row[sharing] == "allow":
                await keys.create("grant", level, sharing_levels=granted, platform_id=platform, created_by="t")
            else:
                with pytest.raises(ScopeError):
                    await keys.create("grant", level, sharing_levels=granted, platform_id=platform, created_by="t")
