"""The query API against the real PostgreSQL, MinIO and Kafka, served by uvicorn on a loopback port:
search and export with ID numbers masked per role, a record's detail, digest-verified downloads (and a
corrupted package making the download fail), the quarantine and review queues worked through the API.

The helpers at the top (`QueryWorld`, `archive_record`, `serving`) are shared with
test_query_access_matrix.py and test_audit_log.py: each module builds a world of its own in a namespace
of its own (database, bucket), so tampering with one module's audit log touches no other test."""

from __future__ import annotations

import asyncio
import base64
import csv
import hashlib
import io
import json
import logging
import random
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn

from archivectl.kafka_admin import delete_namespace_topics, ensure_topics
from contracts.v1 import (
    CaseMetadata,
    CheckResult,
    Outcome,
    Property,
    RetentionPeriod,
    SharingLevel,
    UnifiedApprovalRecord,
    topics,
)
from samples.documents import application_form_pdf
from samples.staging import classified_event, storage_step
from services.classification.adapters.schedule_store import PgClassificationStore
from services.classification.config import bundled_schedule_file
from services.classification.schedule import load_schedule_file
from services.classification.steps import install_schedule
from services.common.adapters.object_store import MinioObjectStore
from services.common.index.migrate import upgrade
from services.query.adapters.api_keys import PgApiKeys
from services.query.app import create_app
from services.query.config import QuerySettings
from services.storage.adapters.index import PgIndex
from tests.factories import material, record
from tests.integration.minio_files import PRIMARY, REPLICA, corrupt_behind_the_servers_back

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PLATFORM = "market-regulation"
OTHER_PLATFORM = "transport"
PERSON_ID = "110101199003071234"  # a resident ID: masked for operators and supervision systems
ORG_USCC = "91330100MA2B3C4D5E"  # a unified social credit code: public for supervision systems
PERSON_MASKED = "110*************34"
ORG_MASKED = "913*************5E"


# --- shared helpers -------------------------------------------------------------------------------------


async def archive_record(
    settings: QuerySettings,
    store: MinioObjectStore,
    index: PgIndex,
    rec: UnifiedApprovalRecord,
    *,
    sharing: str,
    security: str = "内部",
    retention: RetentionPeriod = RetentionPeriod.TEN_YEARS,
    warnings: list[CheckResult] | None = None,
) -> dict[str, Any]:
    """Stage the record's files, allocate its code and archive it with the real storage step; returns the
    archived event (JSON)."""
    event = await classified_event(
        settings,
        store,
        PgClassificationStore(index.pool),
        rec,
        retention=retention,
        sharing=SharingLevel(sharing),
        security=security,
        warnings=warnings or (),
    )
    [out] = await (await storage_step(settings, store, index))(event)
    return out.event.model_dump(mode="json")


def sample_record(
    number: str,
    *,
    platform: str = PLATFORM,
    applicant: dict[str, str] | None = None,
    title: str = "杭州云栖科技有限公司食品经营许可",
    department: str = "SCJG",
    big_file: bool = False,
    completed_days_ago: int = 3,
) -> UnifiedApprovalRecord:
    rng = random.Random(number)
    decision = b"%PDF-1.7\n" + bytes(rng.getrandbits(8) for _ in range(300_000 if big_file else 2_000))
    # A real PDF (the record page renders its pages); the decision stays random bytes of a chosen size.
    application = application_form_pdf("申请书", [("办件编号", number), ("事项", title)], signer="申请人")
    accepted = datetime.now(UTC) - timedelta(days=completed_days_ago + 2)
    return record(
        number,
        materials=[material(decision, name="准予许可决定书.pdf"), material(application, name="申请书.pdf")],
        source_platform=platform,
        case_title=title,
        department_code=department,
        applicant=applicant
        or {"name": "杭州云栖科技有限公司", "type": "organisation", "id_type": "uscc", "id_number": ORG_USCC},
        accepted_at=accepted.isoformat(),
        completed_at=(accepted + timedelta(days=2)).isoformat(),
        process_records=[],
    )


PERSON = {"name": "王芳", "type": "person", "id_type": "resident_id", "id_number": PERSON_ID}
ORGANISATION = {"name": "杭州云栖科技有限公司", "type": "organisation", "id_type": "uscc", "id_number": ORG_USCC}


async def open_quarantine_entry(settings: QuerySettings, case_number: str, *, platform: str = PLATFORM) -> str:
    """An open quarantine entry as validation writes it; returns its case key."""
    case_key = f"{platform}/{case_number}/r1"
    conn = await asyncpg.connect(settings.pg_dsn())
    try:
        await conn.execute(
            """INSERT INTO quarantine (case_key, source_platform, case_number, revision, case_title, failures,
               rejected_event_id, department_code, department_name, item_code)
               VALUES ($1, $2, $3, 1, '某公司食品经营许可', $4, $5, 'SCJG', '杭州市市场监督管理局', 'XK-SCJG-001')""",
            case_key,
            platform,
            case_number,
            json.dumps(
                [
                    {"code": "AUTH-DIGEST-SHA256", "property": "authenticity", "outcome": "fail"},
                    {"code": "INT-REQUIRED-MATERIALS", "property": "integrity", "outcome": "fail"},
                ]
            ),
            f"rejected-{case_number}",
        )
    finally:
        await conn.close()
    return case_key


async def queue_for_review(world: QueryWorld, rec: UnifiedApprovalRecord, reason: str) -> CaseMetadata:
    """`rec` waiting in the manual review queue, as classification puts it there, under the bundled schedule
    (installed and in force); returns its metadata."""
    from tests.unit.test_classification import validated_event

    store = PgClassificationStore(world.index.pool)
    schedule = load_schedule_file(bundled_schedule_file())
    await install_schedule(store, schedule, source_file="bundled", loaded_by="test", activate=True)
    case = rec.metadata()
    await store.enqueue_review(
        case_key=case.case_key,
        validated_event=validated_event(rec, event_id=f"v-{case.case_number}").model_dump(mode="json"),
        reason=reason,
        schedule_version=schedule.version,
        source_platform=case.source_platform,
        item_code=case.item_code,
        item_name=case.item_name,
        case_title=case.case_title,
    )
    return case


@dataclass
class QueryWorld:
    settings: QuerySettings
    store: MinioObjectStore
    index: PgIndex
    keys: dict[str, str] = field(default_factory=dict)  # role (or a label) → full API key
    archived: dict[str, dict[str, Any]] = field(default_factory=dict)  # label → archived event
    base_url: str = ""

    def case_key(self, label: str) -> str:
        return self.archived[label]["subject"]

    def client(self, key: str | None = None, **kwargs: Any) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        # trust_env=False: proxy variables must not route loopback traffic elsewhere
        return httpx.AsyncClient(base_url=self.base_url, headers=headers, timeout=60, trust_env=False, **kwargs)

    async def sql(self, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await asyncpg.connect(self.settings.pg_dsn())
        try:
            return await conn.fetch(query, *args)
        finally:
            await conn.close()


@asynccontextmanager
async def serving(settings: QuerySettings) -> AsyncIterator[str]:
    """The query service on an ephemeral loopback port, in this event loop; yields its base URL."""
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, access_log=False, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()  # raises the start-up error
        await asyncio.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def build_world(prepared: Any, suffix: str, *, kafka: bool = False) -> QueryWorld:
    settings = QuerySettings(
        namespace=f"{prepared.namespace}-{suffix}", retry_initial_seconds=0.2, retry_max_seconds=2.0
    )
    await upgrade(settings)
    if kafka:
        await ensure_topics(settings)
    store = MinioObjectStore.from_settings(settings)
    index = await PgIndex.connect(settings, migrate=False)
    return QueryWorld(settings, store, index)


async def create_keys(world: QueryWorld) -> None:
    """One key per role with the widest scope its role may have (the platform's for PLATFORM)."""
    keys = PgApiKeys(world.index.pool)
    for role, sharing, platform in [
        ("operator", ["01", "02", "03"], None),
        ("auditor", ["01", "02", "03"], None),
        ("supervision", ["01", "02"], None),
        ("platform", ["01", "02", "03"], PLATFORM),
        ("approver", ["01", "02", "03"], None),
    ]:
        world.keys[role] = await keys.create(
            f"测试 {role}", role, sharing_levels=sharing, platform_id=platform, created_by="test"
        )


# --- this module's world -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def world(prepared) -> AsyncIterator[QueryWorld]:  # type: ignore[no-untyped-def]
    w = await build_world(prepared, "qapi", kafka=True)
    try:
        archived = [
            ("person", sample_record("QAPI-PERSON-001", applicant=PERSON, title="王芳个体工商户食品经营许可"), "01"),
            ("org", sample_record("QAPI-ORG-001", applicant=ORGANISATION, big_file=True), "01"),
            ("org-secret", sample_record("QAPI-ORG-002", applicant=ORGANISATION, title="内部共享许可"), "03"),
            ("victim", sample_record("QAPI-VICTIM-001", big_file=True, title="被损坏的档案包"), "02"),
            ("both-bad", sample_record("QAPI-VICTIM-002", big_file=True, title="两份都损坏的档案包"), "02"),
        ]
        for label, rec, sharing in archived:
            warning = CheckResult(
                code="USE-FORMAT-PDFA",
                property=Property.USABILITY,
                outcome=Outcome.WARN,
                details={"applicant": rec.applicant.id_number},
                severity="warn",
            )
            w.archived[label] = await archive_record(
                w.settings, w.store, w.index, rec, sharing=sharing, warnings=[warning]
            )
        await create_keys(w)
        async with serving(w.settings) as url:
            w.base_url = url
            yield w
    finally:
        await w.index.close()
        await delete_namespace_topics(w.settings)


# --- health and credentials ---------------------------------------------------------------------------------


async def test_healthz_answers_without_credentials_and_data_does_not(world):
    async with world.client() as client:
        health = await client.get("/healthz")
        assert health.status_code == 200 and health.json() == {"status": "ok"}
        search = await client.get("/api/v1/records")
        assert search.status_code == 401
        assert "Authorization: Bearer" in search.json()["detail"]
        assert (await client.get("/docs")).status_code == 401
        assert (await client.get("/openapi.json")).status_code == 401
        assert (await client.get("/redoc")).status_code == 404


async def test_openapi_needs_a_key_and_describes_the_endpoints(world):
    async with world.client(world.keys["supervision"]) as client:
        spec = (await client.get("/openapi.json")).json()
        docs = await client.get("/docs")
    assert "/api/v1/records" in spec["paths"] and "/api/v1/records/{case_key}/files/{seq}" in spec["paths"]
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert docs.status_code == 200 and "/openapi.json" in docs.text
    # Swagger UI comes from the service itself: nothing is loaded from a CDN a closed network cannot reach.
    assert "https://" not in docs.text and "http://" not in docs.text
    async with world.client(world.keys["supervision"]) as client:
        script = await client.get("/docs/assets/swagger-ui-bundle.js")
        unknown = await client.get("/docs/assets/..%2Fapp.py")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert unknown.status_code == 404


async def test_revoked_and_expired_keys_are_refused_with_the_reason(world):
    keys = PgApiKeys(world.index.pool)
    revoked = await keys.create("撤销测试", "auditor", sharing_levels=["01"], created_by="test")
    await keys.revoke(revoked.split("_")[1])
    expired = await keys.create(
        "过期测试", "auditor", sharing_levels=["01"], created_by="test", expires_at=datetime.now(UTC) - timedelta(1)
    )
    wrong = world.keys["auditor"][:-4] + "0000"
    for key, reason in [(revoked, "was revoked"), (expired, "expired at"), (wrong, "not valid"), ("nonsense", "not")]:
        async with world.client(key) as client:
            answer = await client.get("/api/v1/records")
        assert answer.status_code == 401, key
        assert reason in answer.json()["detail"]


async def test_the_login_form_sets_a_cookie_that_authenticates(world):
    async with world.client() as client:
        # A browser without a session gets the form as the 401's body, which returns it to the page it asked for.
        form = await client.get("/api/v1/records?q=x", headers={"Accept": "text/html"})
        assert form.status_code == 401 and 'name="key"' in form.text
        assert 'name="next" value="/api/v1/records?q=x"' in form.text
        refused = await client.post("/login", data={"key": "aa_nosuchkey1_" + "0" * 64})
        assert refused.status_code == 401 and "not valid" in refused.text
        elsewhere = await client.post("/login", data={"key": world.keys["operator"], "next": "//evil.example/"})
        assert elsewhere.headers["location"] == "/dashboard"  # never sent off the service
        done = await client.post("/login", data={"key": world.keys["operator"], "next": "/api/v1/records?q=x"})
        assert done.status_code == 303 and done.headers["location"] == "/api/v1/records?q=x"
        cookie = done.headers["set-cookie"]
        assert "aa_key=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
        # the client keeps the cookie: the API now answers
        assert (await client.get("/api/v1/records")).status_code == 200
        out = await client.post("/logout")
        assert out.status_code == 303
        client.cookies.clear()
        assert (await client.get("/api/v1/records")).status_code == 401


# --- search, detail, export, masking -----------------------------------------------------------------------


async def _search(world: QueryWorld, role: str, **params: str) -> dict[str, Any]:
    async with world.client(world.keys[role]) as client:
        answer = await client.get("/api/v1/records", params=params)
    assert answer.status_code == 200, answer.text
    return answer.json()


async def test_search_filters_and_pages_with_a_cursor(world):
    found = await _search(world, "auditor", q="食品经营")
    assert {i["case_key"] for i in found["items"]} == {world.case_key("person"), world.case_key("org")}
    by_person = await _search(world, "auditor", applicant_id=PERSON_ID)
    assert [i["case_key"] for i in by_person["items"]] == [world.case_key("person")]
    seen, cursor = [], None
    while True:
        page = await _search(world, "auditor", limit="1", **({"cursor": cursor} if cursor else {}))
        seen += [i["case_key"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(world.case_key(label) for label in world.archived)
    async with world.client(world.keys["auditor"]) as client:
        bad = await client.get("/api/v1/records", params={"cursor": "not-a-cursor"})
    assert bad.status_code == 400 and "cursor" in bad.json()["detail"]


def _id_of(items: list[dict[str, Any]], case_key: str) -> str:
    return next(i["applicant_id_number"] for i in items if i["case_key"] == case_key)


async def _csv_rows(world: QueryWorld, role: str, **params: str) -> list[dict[str, str]]:
    async with world.client(world.keys[role]) as client:
        answer = await client.get("/api/v1/records/export.csv", params=params)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    text = answer.content.decode("utf-8-sig")
    return [r for r in csv.DictReader(io.StringIO(text)) if not r["case_key"].startswith("#")]


async def _detail(world: QueryWorld, role: str, label: str) -> httpx.Response:
    async with world.client(world.keys[role]) as client:
        return await client.get(f"/api/v1/records/{world.case_key(label)}")


@pytest.mark.parametrize(
    ("role", "person_shown", "org_shown"),
    [
        ("operator", PERSON_MASKED, ORG_MASKED),
        ("auditor", PERSON_ID, ORG_USCC),
        ("supervision", PERSON_MASKED, ORG_USCC),
    ],
)
async def test_id_numbers_are_disclosed_per_role_in_list_detail_and_csv(world, role, person_shown, org_shown):
    person, org = world.case_key("person"), world.case_key("org")
    items = (await _search(world, role, q="食品经营"))["items"]
    assert _id_of(items, person) == person_shown and _id_of(items, org) == org_shown
    rows = await _csv_rows(world, role, q="食品经营")
    assert {r["case_key"]: r["applicant_id_number"] for r in rows} == {person: person_shown, org: org_shown}
    detail = await _detail(world, role, "person")
    assert detail.status_code == 200
    body = detail.text
    assert detail.json()["applicant_id_number"] == person_shown
    if person_shown != PERSON_ID:
        assert PERSON_ID not in body, "the ID number leaks through the detail (checks, events…)"
    assert detail.json()["checks"]["warnings"][0]["details"]["applicant"] == person_shown


async def test_healthy_probes_are_not_logged_at_info(world, caplog):
    caplog.set_level(logging.INFO, logger="services.query.requests")
    async with world.client() as client:
        assert (await client.get("/healthz")).status_code == 200
        assert (await client.get("/api/v1/records")).status_code == 401
    paths = [getattr(r, "path", None) for r in caplog.records if r.name == "services.query.requests"]
    assert "/healthz" not in paths and "/api/v1/records" in paths


async def test_a_search_by_id_number_is_audited_and_logged_masked(world, caplog):
    caplog.set_level(logging.INFO, logger="services.query.requests")
    await _search(world, "operator", applicant_id=PERSON_ID)
    rows = await world.sql(
        "SELECT detail, principal, role, action, status FROM audit_log WHERE path='/api/v1/records' "
        "AND detail::text LIKE '%applicant_id%' ORDER BY seq DESC LIMIT 1"
    )
    detail = json.loads(rows[0]["detail"])
    assert detail["query"]["applicant_id"] == PERSON_MASKED
    assert (rows[0]["role"], rows[0]["action"], rows[0]["status"]) == ("operator", "records.search", 200)
    everything = await world.sql("SELECT detail::text AS d, path FROM audit_log")
    assert not any(PERSON_ID in (r["d"] + (r["path"] or "")) for r in everything)
    logged = [r for r in caplog.records if getattr(r, "path", None) == "/api/v1/records"]
    assert logged and all(PERSON_ID not in str(r.__dict__) for r in caplog.records)
    assert any(PERSON_MASKED in str(getattr(r, "query", "")) for r in logged)


async def test_the_detail_has_files_checks_and_preservation_history(world):
    answer = await _detail(world, "auditor", "org")
    assert answer.status_code == 200
    body = answer.json()
    assert body["archival_code"] == world.archived["org"]["data"]["classification"]["archival_code"]
    assert body["classification"]["sharing_level"] == "01"
    assert body["package"]["key"] == world.archived["org"]["data"]["package"]["key"]
    assert [f["file_name"] for f in body["files"]] == ["准予许可决定书.pdf", "申请书.pdf"]
    assert body["files"][0]["download"].endswith("/files/1")
    assert body["checks"]["warnings"][0]["code"] == "USE-FORMAT-PDFA"
    assert {e["event_type"] for e in body["checks"]["events"]} >= {"validation", "virus check"}
    assert "information package creation" in {e["event_type"] for e in body["preservation_events"]}
    assert body["fixity_checks"] == []
    async with world.client(world.keys["auditor"]) as client:
        missing = await client.get("/api/v1/records/market-regulation/NOPE/r1")
    assert missing.status_code == 404


async def test_a_record_out_of_scope_is_404_like_a_missing_one(world):
    secret = await _detail(world, "supervision", "org-secret")  # sharing 03: never shared outside
    assert secret.status_code == 404
    async with world.client(world.keys["supervision"]) as client:
        missing = await client.get("/api/v1/records/market-regulation/NOPE/r1")
    assert missing.status_code == 404
    assert secret.json()["detail"].replace(world.case_key("org-secret"), "X") == missing.json()["detail"].replace(
        "market-regulation/NOPE/r1", "X"
    )
    assert world.case_key("org-secret") not in {i["case_key"] for i in (await _search(world, "supervision"))["items"]}


async def test_the_export_stops_at_its_cap_and_says_so(world):
    capped = QuerySettings(**{**world.settings.model_dump(), "export_max_rows": 2})
    async with serving(capped) as url, httpx.AsyncClient(base_url=url, timeout=60, trust_env=False) as client:
        answer = await client.get(
            "/api/v1/records/export.csv", headers={"Authorization": f"Bearer {world.keys['auditor']}"}
        )
    lines = answer.content.decode("utf-8-sig").strip().splitlines()
    assert answer.headers["x-export-limit"] == "2"
    assert len(lines) == 1 + 2 + 1 and lines[-1].startswith("# truncated: more than 2 records match")


# --- download ---------------------------------------------------------------------------------------------------


async def test_a_download_streams_the_archived_bytes_with_their_digests(world):
    detail = (await _detail(world, "auditor", "org")).json()
    rows = await world.sql("SELECT seq, sha256, sm3, size FROM record_files WHERE case_key=$1", world.case_key("org"))
    async with world.client(world.keys["supervision"]) as client:
        for row in rows:
            answer = await client.get(f"/api/v1/records/{world.case_key('org')}/files/{row['seq']}")
            assert answer.status_code == 200
            assert len(answer.content) == row["size"] > 0
            assert hashlib.sha256(answer.content).hexdigest() == row["sha256"]
            expected = base64.b64encode(bytes.fromhex(row["sha256"])).decode()
            assert answer.headers["repr-digest"] == f"sha-256=:{expected}:"
            assert answer.headers["x-archive-sm3"] == row["sm3"]
            assert answer.headers["content-type"] == "application/pdf"
    name = detail["files"][0]["file_name"]
    async with world.client(world.keys["auditor"]) as client:
        first = await client.get(detail["files"][0]["download"])
    assert "filename*=UTF-8''" + "%E5%87%86" in first.headers["content-disposition"]  # 准…
    assert name == "准予许可决定书.pdf"
    async with world.client(world.keys["operator"]) as client:  # operators do not download files
        assert (await client.get(detail["files"][0]["download"])).status_code == 403
    async with world.client(world.keys["auditor"]) as client:
        assert (await client.get(f"/api/v1/records/{world.case_key('org')}/files/99")).status_code == 404


async def _fixity_failures(world: QueryWorld, case_key: str) -> list[asyncpg.Record]:
    return await world.sql(
        "SELECT outcome, reason, agent, failed_paths FROM fixity_checks WHERE case_key=$1 AND outcome='fail'", case_key
    )


async def test_a_file_whose_bytes_do_not_match_its_digest_is_aborted_and_recorded(world):
    """The index says one digest, the package holds other bytes: the client never gets a clean body."""
    case_key = world.case_key("person")
    [row] = await world.sql("SELECT sha256, size FROM record_files WHERE case_key=$1 AND seq=1", case_key)
    wrong = hashlib.sha256(b"something else").hexdigest()
    conn = await asyncpg.connect(world.settings.pg_dsn())
    try:
        await conn.execute("UPDATE record_files SET sha256=$2 WHERE case_key=$1 AND seq=1", case_key, wrong)
        async with world.client(world.keys["auditor"]) as client:
            # A file of this size is read whole and verified before a byte is sent: with both copies failing
            # their digest the answer is a 502 (larger files stream and are aborted: routes/files.py).
            answer = await client.get(f"/api/v1/records/{case_key}/files/1")
        assert answer.status_code == 502 and "cannot be read from the archive" in answer.json()["detail"]
    finally:
        await conn.execute("UPDATE record_files SET sha256=$2 WHERE case_key=$1 AND seq=1", case_key, row["sha256"])
        await conn.close()
    failures = await _fixity_failures(world, case_key)
    assert failures and all("SHA-256 of the bytes read from the" in f["reason"] for f in failures)
    assert all(f["agent"].endswith("#download") for f in failures)
    audit = await world.sql(
        "SELECT status, detail FROM audit_log WHERE target=$1 AND action='files.download' ORDER BY seq", case_key
    )
    assert audit[-1]["status"] == 502


async def test_a_download_whose_primary_copy_is_corrupted_returns_verified_bytes_from_the_replica(world):
    case_key = world.case_key("victim")
    package = world.archived["victim"]["data"]["package"]
    bucket, key = package["bucket"], package["key"]
    [row] = await world.sql(
        "SELECT path_in_package, size, sha256 FROM record_files WHERE case_key=$1 AND seq=1", case_key
    )
    original = await world.store.get_bytes(bucket, key)
    corrupt_behind_the_servers_back(bucket, key, original, member_path=row["path_in_package"])
    async with world.client(world.keys["auditor"]) as client:
        answer = await client.get(f"/api/v1/records/{case_key}/files/1")
    assert answer.status_code == 200, answer.text
    assert hashlib.sha256(answer.content).hexdigest() == row["sha256"] and len(answer.content) == row["size"]
    failures = await _fixity_failures(world, case_key)
    assert len(failures) == 1 and failures[0]["failed_paths"] == [row["path_in_package"]]
    assert failures[0]["agent"].endswith("#download")
    [copy] = await world.sql("SELECT copy FROM fixity_checks WHERE case_key=$1 AND outcome='fail'", case_key)
    assert copy["copy"] == "primary", "the failed check names the copy that failed"


async def test_a_download_fails_and_is_recorded_when_both_copies_are_corrupted(world):
    case_key = world.case_key("both-bad")
    package = world.archived["both-bad"]["data"]["package"]
    bucket, key = package["bucket"], package["key"]
    [row] = await world.sql("SELECT path_in_package FROM record_files WHERE case_key=$1 AND seq=1", case_key)
    original = await world.store.get_bytes(bucket, key)
    for site in (PRIMARY, REPLICA):
        corrupt_behind_the_servers_back(bucket, key, original, member_path=row["path_in_package"], site=site)
    async with world.client(world.keys["auditor"]) as client:
        answer = await client.get(f"/api/v1/records/{case_key}/files/1")
    assert answer.status_code == 502 and "cannot be read" in answer.json()["detail"], answer.text
    failures = await world.sql("SELECT copy FROM fixity_checks WHERE case_key=$1 AND outcome='fail'", case_key)
    assert sorted(f["copy"] for f in failures) == ["primary", "replica"]


async def test_with_the_primary_site_unreachable_a_download_is_served_from_the_replica(world):
    case_key = world.case_key("org")
    [row] = await world.sql("SELECT sha256 FROM record_files WHERE case_key=$1 AND seq=1", case_key)
    # A closed port stands in for a lost site: the shared primary is never stopped by a test.
    lost = QuerySettings(**{**world.settings.model_dump(), "minio_endpoint": "127.0.0.1:9"})
    async with serving(lost) as url, httpx.AsyncClient(base_url=url, timeout=120, trust_env=False) as client:
        answer = await client.get(
            f"/api/v1/records/{case_key}/files/1", headers={"Authorization": f"Bearer {world.keys['auditor']}"}
        )
    assert answer.status_code == 200, answer.text
    assert hashlib.sha256(answer.content).hexdigest() == row["sha256"]


# --- queues ------------------------------------------------------------------------------------------------------


async def test_the_quarantine_queue_pages_oldest_first_with_a_cursor(world):
    opened = [await open_quarantine_entry(world.settings, f"QAPI-PAGE-{n}") for n in range(3)]
    seen: list[str] = []
    cursor = None
    async with world.client(world.keys["operator"]) as client:
        while True:
            params = {"status": "all", "limit": 2, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/api/v1/quarantine", params=params)).json()
            seen += [i["case_key"] for i in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        forged = await client.get("/api/v1/quarantine", params={"cursor": "not-a-cursor"})
        reviews = await client.get("/api/v1/reviews", params={"status": "all", "limit": 1})
    assert len(seen) == len(set(seen)) and set(opened) <= set(seen)
    assert [seen.index(k) for k in opened] == sorted(seen.index(k) for k in opened)  # oldest first
    assert forged.status_code == 400
    assert reviews.status_code == 200 and "items" in reviews.json()


async def test_a_quarantine_entry_is_resolved_once_and_audited(world):
    case_key = await open_quarantine_entry(world.settings, "QAPI-REJ-001")
    other = await open_quarantine_entry(world.settings, "QAPI-REJ-002", platform=OTHER_PLATFORM)
    async with world.client(world.keys["platform"]) as client:  # its own platform's entries only
        listed = (await client.get("/api/v1/quarantine")).json()
    assert case_key in {i["case_key"] for i in listed["items"]} and other not in {
        i["case_key"] for i in listed["items"]
    }
    async with world.client(world.keys["operator"]) as client:
        listed = (await client.get("/api/v1/quarantine", params={"status": "open"})).json()
        assert {case_key, other} <= {i["case_key"] for i in listed["items"]}
        body = {"resolution": "withdrawn", "note": "申请人撤回申请"}
        done = await client.post(f"/api/v1/quarantine/{case_key}/resolve", json=body)
        assert done.status_code == 200, done.text
        entry = done.json()
        assert (entry["status"], entry["resolution"], entry["resolved_by"]) == (
            "resolved",
            "withdrawn",
            "测试 operator",
        )
        assert entry["resolution_note"] == "申请人撤回申请" and entry["closed_at"]
        again = await client.post(f"/api/v1/quarantine/{case_key}/resolve", json=body)
        assert again.status_code == 409 and "already resolved by 测试 operator" in again.json()["detail"]
        bad = await client.post(f"/api/v1/quarantine/{other}/resolve", json={"resolution": "forgotten"})
        assert bad.status_code == 422
        missing = await client.post("/api/v1/quarantine/x/NOPE/r1/resolve", json={"resolution": "duplicate"})
        assert missing.status_code == 404
        resolved = (await client.get("/api/v1/quarantine", params={"status": "resolved"})).json()
        assert case_key in {i["case_key"] for i in resolved["items"]}
    async with world.client(world.keys["auditor"]) as client:  # read-only
        assert (await client.post(f"/api/v1/quarantine/{other}/resolve", json=body)).status_code == 403
    rows = await world.sql(
        "SELECT status, principal, detail FROM audit_log WHERE target=$1 AND action='queues.act' ORDER BY seq",
        case_key,
    )
    assert [r["status"] for r in rows] == [200, 409]
    assert json.loads(rows[0]["detail"])["resolution"] == "withdrawn" and rows[0]["principal"] == "测试 operator"


async def test_a_review_is_decided_through_the_api_and_its_event_published(world):
    from archivectl.topic_reader import read_topics

    rec = sample_record("QAPI-REVIEW-001", applicant=PERSON).model_copy(
        update={"item_code": "XK-WSJK-001", "item_name": "公共场所卫生许可"}
    )
    case = await queue_for_review(world, rec, "no rule covers XK-WSJK-001")
    async with world.client(world.keys["operator"]) as client:
        waiting = (await client.get("/api/v1/reviews")).json()
        assert case.case_key in {i["case_key"] for i in waiting["items"]}
        both = await client.post(f"/api/v1/reviews/{case.case_key}/decide", json={"rule_id": "X", "values": {}})
        assert both.status_code == 422
        unknown = await client.post(f"/api/v1/reviews/{case.case_key}/decide", json={"rule_id": "NO-SUCH-RULE"})
        assert unknown.status_code == 422 and "NO-SUCH-RULE" in unknown.json()["detail"]
        values = {"retention": "D10", "category": "XK", "class": "BYXK", "security": "内部", "sharing": "03"}
        decided = await client.post(
            f"/api/v1/reviews/{case.case_key}/decide", json={"values": values, "note": "卫生许可未列入保管期限表"}
        )
        assert decided.status_code == 200, decided.text
        classification = decided.json()["classification"]
        assert (classification["retention"], classification["rule_id"]) == ("D10", "manual")
        assert classification["decided_by"] == "测试 operator"
        again = await client.post(f"/api/v1/reviews/{case.case_key}/decide", json={"rule_id": "SCJG-SL-ZY"})
        assert again.status_code == 409 and "published again" in again.json()["detail"]
        decided_list = (await client.get("/api/v1/reviews", params={"status": "decided"})).json()
        assert case.case_key in {i["case_key"] for i in decided_list["items"]}
    seen, complete = await read_topics(world.settings, [topics.CLASSIFIED], done=lambda s: len(s) >= 2, timeout=60)
    assert complete, "the classified event was not published (twice: decided, then re-published)"
    assert {s.event["subject"] for s in seen} == {case.case_key}
    assert len({s.event["id"] for s in seen}) == 1, "a re-publication carries the same event id"
    rows = await world.sql(
        "SELECT status FROM audit_log WHERE target=$1 AND action='queues.act' ORDER BY seq", case.case_key
    )
    assert [r["status"] for r in rows] == [422, 422, 200, 409]


async def test_a_review_decision_whose_publish_dies_after_the_commit_still_goes_out(world):
    """The decision and its classified event commit together (the outbox): the publisher dying between the
    commit and the publish loses nothing — the relay (the storage worker's job) sends it, once."""
    from services.classification.review import DecidedButNotPublished, decide_and_publish, filing_of
    from tests.fakes import RecordingPublisher
    from tests.unit.test_classification import validated_event

    class DiesAfterTheCommit:
        async def publish(self, topic: str, key: bytes, value: bytes) -> None:
            raise ConnectionResetError("the query service lost Kafka (or died) right after the commit")

    store = PgClassificationStore(world.index.pool)
    schedule = load_schedule_file(bundled_schedule_file())
    await install_schedule(store, schedule, source_file="bundled", loaded_by="test", activate=True)
    rec = sample_record("QAPI-REVIEW-OUTBOX", applicant=PERSON).model_copy(
        update={"item_code": "XK-WSJK-001", "item_name": "公共场所卫生许可"}
    )
    case = rec.metadata()
    await store.enqueue_review(
        case_key=case.case_key,
        validated_event=validated_event(rec, event_id="v-qapi-review-outbox").model_dump(mode="json"),
        reason="no rule covers XK-WSJK-001",
        schedule_version=schedule.version,
        source_platform=case.source_platform,
        item_code=case.item_code,
        item_name=case.item_name,
        case_title=case.case_title,
    )
    filing = filing_of(world.settings)
    values = {"retention": "D10", "category": "XK", "class": "BYXK", "security": "内部", "sharing": "03"}
    with pytest.raises(DecidedButNotPublished) as caught:
        await decide_and_publish(
            store,
            await store.review(case.case_key),
            publisher=DiesAfterTheCommit(),
            topic_name=world.settings.topic,
            decided_by="测试 operator",
            fonds_code=filing.fonds_code,
            organisations=filing.organisations,
            values=values,
        )
    assert (await store.review(case.case_key))["status"] == "decided"
    relay = RecordingPublisher()
    assert await store.relay_outbox(relay, world.settings.topic, only=caught.value.decision.event.id) == 1
    assert await store.relay_outbox(relay, world.settings.topic, only=caught.value.decision.event.id) == 0
    [(topic, key, value)] = relay.sent
    assert topic == world.settings.topic(topics.CLASSIFIED) and key == case.case_key.encode()
    assert json.loads(value)["id"] == caught.value.decision.event.id


# --- statistics and the audit endpoints ---------------------------------------------------------------------


async def test_statistics_per_day_platform_department_and_defect(world):
    await open_quarantine_entry(world.settings, "QAPI-REJ-STATS")
    async with world.client(world.keys["auditor"]) as client:
        by_platform = (await client.get("/api/v1/stats", params={"by": "platform"})).json()
        by_day = (await client.get("/api/v1/stats", params={"by": "day"})).json()
        by_department = (await client.get("/api/v1/stats", params={"by": "department"})).json()
        defects = (await client.get("/api/v1/stats", params={"by": "defect"})).json()
        empty = await client.get("/api/v1/stats", params={"by": "day", "from": "2001-01-01", "to": "2001-01-31"})
        reversed_range = await client.get("/api/v1/stats", params={"from": "2026-02-01", "to": "2026-01-01"})
    archived = len(world.archived)
    rejected = (await world.sql("SELECT count(*) AS n FROM quarantine"))[0]["n"]
    platform = {i["key"]: i for i in by_platform["items"]}
    assert platform[PLATFORM]["archived"] == archived
    assert sum(i["rejected"] for i in by_platform["items"]) == rejected
    assert sum(i["archived"] for i in by_day["items"]) == archived
    assert {i["key"] for i in by_department["items"]} >= {"SCJG"}
    codes = {i["code"]: i for i in defects["items"]}
    assert codes["AUTH-DIGEST-SHA256"]["cases"] == rejected
    assert empty.json()["items"] == [] and reversed_range.status_code == 422
    async with world.client(world.keys["supervision"]) as client:
        assert (await client.get("/api/v1/stats")).status_code == 403


async def test_statistics_days_are_china_standard_time_days(world):
    # 17:00 UTC on 1 March is 01:00 on 2 March in Beijing: the archive's day is the local one.
    [row] = await world.sql("SELECT case_key, archived_at FROM records ORDER BY case_key LIMIT 1")
    await world.sql("UPDATE records SET archived_at = '2026-03-01T17:00:00Z' WHERE case_key = $1", row["case_key"])
    try:
        async with world.client(world.keys["auditor"]) as client:
            day = {"by": "day", "from": "2026-03-02", "to": "2026-03-02"}
            answer = (await client.get("/api/v1/stats", params=day)).json()
    finally:
        await world.sql("UPDATE records SET archived_at = $2 WHERE case_key = $1", row["case_key"], row["archived_at"])
    assert [(i["key"], i["archived"]) for i in answer["items"]] == [("2026-03-02", 1)]


async def test_the_audit_log_is_paged_and_verified_for_auditors_only(world):
    async with world.client(world.keys["auditor"]) as client:
        first = (await client.get("/api/v1/audit", params={"limit": 5})).json()
        assert [r["seq"] for r in first["items"]] == [1, 2, 3, 4, 5]
        second = (await client.get("/api/v1/audit", params={"limit": 5, "cursor": first["next_cursor"]})).json()
        assert second["items"][0]["seq"] == 6
        verdict = (await client.get("/api/v1/audit/verify")).json()
    assert verdict["intact"] is True and verdict["rows"] >= 10
    async with world.client(world.keys["operator"]) as client:
        denied = await client.get("/api/v1/audit/verify")
    assert denied.status_code == 403 and "lacks permission audit.read" in denied.json()["detail"]


# --- rectification: corrections of archived cases, a case's status, overdue rectifications (issue 15) ------


async def test_a_correction_of_an_archived_case_supersedes_it_in_search_and_the_record_shows_the_chain(world):
    first = sample_record("QAPI-CORR-001", title="更正前的许可")
    second = first.model_copy(update={"revision": 2, "case_title": "更正后的许可"})
    archived_first = await archive_record(world.settings, world.store, world.index, first, sharing="01")
    archived_second = await archive_record(world.settings, world.store, world.index, second, sharing="01")
    assert archived_first["data"]["supersedes"] is None
    assert archived_second["data"]["supersedes"]["case_key"] == first.case_key
    async with world.client(world.keys["operator"]) as client:
        newest = (await client.get("/api/v1/records", params={"q": "更正"})).json()
        every = (await client.get("/api/v1/records", params={"q": "更正", "revisions": "all"})).json()
        detail = (await client.get(f"/api/v1/records/{first.case_key}")).json()
    assert [r["case_key"] for r in newest["items"]] == [second.case_key]
    assert {r["case_key"] for r in every["items"]} == {first.case_key, second.case_key}
    assert detail["superseded_by_revision"] == 2
    assert [(r["revision"], r["superseded_by_revision"]) for r in detail["revisions"]] == [(1, 2), (2, None)]
    assert detail["archival_code"] != archived_second["data"]["classification"]["archival_code"]


def _rejected_event(case_key: str, code: str) -> Any:
    from contracts.v1 import CaseIdentity, RejectedCase, RejectedEvent, RejectionStage

    platform, number, revision = case_key.split("/")
    failure = CheckResult(
        code=code, property=Property.INTEGRITY, outcome=Outcome.FAIL, reason_zh="缺少结果文件", reason_en="no result"
    )
    return RejectedEvent(
        id=f"rejected-{case_key}",
        source="urn:approval-archive:validation",
        type=topics.REJECTED,
        time=datetime.now(UTC),
        subject=case_key,
        correlationid=case_key,
        data=RejectedCase(
            case=CaseIdentity(source_platform=platform, case_number=number, revision=int(revision[1:])),
            stage=RejectionStage.VALIDATION,
            failures=[failure],
            rejected_at=datetime.now(UTC),
        ),
    )


async def test_a_platform_sees_each_state_of_its_cases_and_another_platforms_case_is_404(world):
    from types import SimpleNamespace

    from contracts.v1 import ArchivedEvent, DeadLetter, DeadLetterEvent
    from services.common.adapters.case_progress import PgCaseProgress
    from services.common.runner import Outbound

    journal = PgCaseProgress(world.index.pool)
    archived_key = world.case_key("org")
    number = archived_key.split("/")[1]
    await journal.started("capture", topics.APPROVAL_COMPLETED, SimpleNamespace(subject=archived_key, id="evt-1"))  # type: ignore[arg-type]
    archived = ArchivedEvent.model_validate(world.archived["org"])
    await journal.handled("storage", topics.CLASSIFIED, archived, [Outbound(topics.ARCHIVED, archived)])
    await journal.handled("storage", topics.CLASSIFIED, archived, [Outbound(topics.ARCHIVED, archived)])  # again
    # revision 2 of the same number: rejected; revision 3: dead-lettered; revision 4: waiting for a person
    rejected_key = f"{PLATFORM}/{number}/r2"
    await journal.handled(
        "validation",
        topics.CAPTURED,
        archived,
        [Outbound(topics.REJECTED, _rejected_event(rejected_key, "INTEG-MATERIALS"))],
    )
    dead_key = f"{PLATFORM}/{number}/r3"
    letter = DeadLetterEvent(
        id="dlq:x:0:1",
        source="urn:approval-archive:storage",
        type=topics.DEAD_LETTER,
        time=datetime.now(UTC),
        subject=dead_key,
        correlationid=dead_key,
        data=DeadLetter(
            service="storage",
            origin_topic="archive.classified.v1",
            origin_partition=0,
            origin_offset=1,
            origin_key=dead_key,
            error_type="FixityMismatch",
            reason="staged file no longer matches its captured SHA-256",
            payload_base64="",
            failed_at=datetime.now(UTC),
        ),
    )
    await journal.dead_lettered(letter)
    review_key = f"{PLATFORM}/{number}/r4"
    await journal.started("capture", topics.APPROVAL_COMPLETED, SimpleNamespace(subject=review_key, id="evt-4"))  # type: ignore[arg-type]
    await world.sql(
        """INSERT INTO classification_reviews (case_key, status, reason, schedule_version, source_platform, item_code,
           item_name, case_title, validated_event) VALUES ($1, 'waiting', 'no rule matches', '2026.1', $2, 'X', 'X',
           'X', '{}')""",
        review_key,
        PLATFORM,
    )
    async with world.client(world.keys["platform"]) as client:
        answer = await client.get(f"/api/v1/platform/cases/{number}")
        elsewhere = await client.get(f"/api/v1/platform/cases/{number}", params={"platform": OTHER_PLATFORM})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    states = {r["revision"]: r["state"] for r in body["revisions"]}
    assert states == {1: "archived", 2: "rejected", 3: "dead_lettered", 4: "waiting_for_review"}
    first, second, third, fourth = body["revisions"]
    assert [s["state"] for s in first["steps"]] == ["received", "archived"]
    assert (
        first["steps"][-1]["archival_code"]
        == first["record"]["archival_code"]
        == world.archived["org"]["data"]["classification"]["archival_code"]
    )
    assert len(first["record"]["package_sha256"]) == 64
    [reason] = second["steps"][0]["reasons"]
    assert (reason["code"], reason["reason_zh"], reason["reason_en"]) == (
        "INTEG-MATERIALS",
        "缺少结果文件",
        "no result",
    )
    assert third["steps"][0]["error_type"] == "FixityMismatch" and "SHA-256" in third["steps"][0]["reason"]
    assert fourth["review"]["status"] == "waiting" and fourth["review"]["reason"] == "no rule matches"
    assert elsewhere.status_code == 404

    other_case = await open_quarantine_entry(world.settings, "QAPI-OTHER-001", platform=OTHER_PLATFORM)
    async with world.client(world.keys["platform"]) as client:
        theirs = await client.get("/api/v1/platform/cases/QAPI-OTHER-001")
        nobody = await client.get("/api/v1/platform/cases/QAPI-NEVER-SENT")
    assert theirs.status_code == nobody.status_code == 404
    assert theirs.json()["detail"].startswith("no case QAPI-OTHER-001")
    async with world.client(world.keys["operator"]) as client:  # operators see any platform's case
        seen = await client.get("/api/v1/platform/cases/QAPI-OTHER-001")
    assert seen.status_code == 200 and seen.json()["revisions"][0]["case_key"] == other_case
    assert seen.json()["revisions"][0]["state"] == "rejected"


async def test_overdue_rectifications_are_listed_per_platform_and_department_by_the_clock_given(world, capsys):
    from archivectl.commands.validation import overdue
    from services.query.adapters.query_store import PgQueryStore, QueueScope

    waiting = await open_quarantine_entry(world.settings, "QAPI-LATE-001")
    answered = await open_quarantine_entry(world.settings, "QAPI-LATE-002")
    await world.sql(
        """INSERT INTO case_progress (case_key, source_platform, case_number, revision, state, service)
           VALUES ($1, $2, 'QAPI-LATE-002', 2, 'received', 'capture')""",
        answered.replace("/r1", "/r2"),
        PLATFORM,
    )
    queries = PgQueryStore(world.index.pool)
    now = datetime.now(UTC)
    scope = QueueScope()
    late = {
        r["case_key"] for r in await queries.overdue_rectifications(now=now + timedelta(days=16), days=15, scope=scope)
    }
    early = {
        r["case_key"] for r in await queries.overdue_rectifications(now=now + timedelta(days=14), days=15, scope=scope)
    }
    assert waiting in late and answered not in late  # a resubmission was received: not overdue
    assert waiting not in early
    assert await overdue(world.settings, 15, PLATFORM, now=now + timedelta(days=16)) == 0  # archivectl
    printed = capsys.readouterr().out
    assert waiting in printed and answered not in printed and "more than 15 days" in printed

    await world.sql("UPDATE quarantine SET opened_at = now() - interval '20 days' WHERE case_key = $1", waiting)
    async with world.client(world.keys["operator"]) as client:
        listed = (await client.get("/api/v1/quarantine/overdue")).json()
        longer = (await client.get("/api/v1/quarantine/overdue", params={"days": 30})).json()
    async with world.client(world.keys["supervision"]) as client:
        denied = await client.get("/api/v1/quarantine/overdue")
    assert listed["days"] == 15 and waiting in {i["case_key"] for i in listed["items"]}
    group = next(g for g in listed["by_platform_department"] if g["source_platform"] == PLATFORM)
    assert group["department_code"] == "SCJG" and group["cases"] >= 1 and group["oldest_days_open"] >= 20
    assert waiting not in {i["case_key"] for i in longer["items"]}
    assert denied.status_code == 403
