"""Disposition against the real MinIO (both sites) and PostgreSQL: an expired record destroyed through a
proposal, a second person's approval and execution; the same destruction before expiry refused by the
archive and, for the object itself, by MinIO's COMPLIANCE lock; a record under legal hold that cannot
be destroyed; the destruction register archived as a permanent record of the archive.

The clock is injected, never waited for: records completed 11 years ago (a D10 period ended a year
ago), the archive's `now` moved before or after expiry as each test needs. One record is archived with
storage's clock set so that its package lock runs out seconds from now (archiving time + the one-day
minimum lock of a back-filled case): the only real wait is those seconds, for MinIO's own date."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from contracts.v1 import EVENT_MODELS, RetentionPeriod, topics
from samples.staging import classified_event
from services.classification.adapters.schedule_store import PgClassificationStore
from services.common.adapters.object_store import MinioObjectStore, ObjectLocked
from services.common.index.migrate import upgrade
from services.common.settings import ArchiveSettings
from services.query.adapters.audit_log import PgAuditLog
from services.storage import bag, bootstrap, disposal, domain, fixity
from services.storage import destruction_register as register
from services.storage.adapters.disposition_store import PgDispositionStore
from services.storage.adapters.index import PgIndex
from services.storage.config import StorageSettings
from services.storage.copies import PRIMARY, REPLICA
from services.storage.disposition import APPROVING_ROLE, Actor, Decision, DispositionRefused, expiry
from tests.fakes import RecordingPublisher
from tests.integration.test_query_api import sample_record

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ELEVEN_YEARS = 11 * 366  # days: a D10 period completed that long ago ended about a year ago
LOCK_AHEAD = timedelta(seconds=6)  # how far ahead of the real clock the short-lived package lock runs out
OPERATOR = Actor("k1operator00", "档案员李娜", "operator")
SECOND_OPERATOR = Actor("k4operator00", "档案员赵敏", "operator")
AUDITOR = Actor("k3auditor000", "审计员王强", "auditor")
APPROVER = Actor("k2approver00", "馆长张伟", APPROVING_ROLE)


@dataclass
class World:
    settings: ArchiveSettings
    store: MinioObjectStore
    replica: MinioObjectStore
    index: PgIndex
    disposition: PgDispositionStore
    archived: dict[str, dict[str, Any]] = field(default_factory=dict)  # label → archived event (JSON)

    @property
    def sites(self) -> list[disposal.DisposalSite]:
        return [disposal.DisposalSite(PRIMARY, self.store), disposal.DisposalSite(REPLICA, self.replica)]

    def case_key(self, label: str) -> str:
        return str(self.archived[label]["subject"])

    def package(self, label: str) -> dict[str, Any]:
        return dict(self.archived[label]["data"]["package"])

    async def archive(
        self, label: str, *, retention: RetentionPeriod = RetentionPeriod.TEN_YEARS, clock: Any = None
    ) -> None:
        rec = sample_record(f"DISP-{label}", title=f"处置测试{label}", completed_days_ago=ELEVEN_YEARS)
        event = await classified_event(
            self.settings, self.store, PgClassificationStore(self.index.pool), rec, retention=retention
        )
        storage = StorageSettings(**{**self.settings.model_dump(), "fixity_interval_seconds": 0})
        extra = {"clock": clock} if clock is not None else {}
        service = await bootstrap.build(storage, store=self.store, index=self.index, replica=self.replica, **extra)
        [out] = await service.step(event)
        self.archived[label] = out.event.model_dump(mode="json")


@pytest.fixture(scope="module")
async def world(prepared: ArchiveSettings) -> AsyncIterator[World]:
    settings = ArchiveSettings(namespace=f"{prepared.namespace}-disp")
    await upgrade(settings)
    index = await PgIndex.connect(settings, migrate=False)
    w = World(
        settings,
        MinioObjectStore.from_settings(settings),
        MinioObjectStore.from_settings(settings, site="replica"),
        index,
        PgDispositionStore(index.pool),
    )
    try:
        # "soon": storage's clock a day minus a few seconds behind, so the package lock (archiving + the
        # one-day minimum of a back-filled case) runs out LOCK_AHEAD from now.
        behind = domain.MINIMUM_LOCK - LOCK_AHEAD
        await w.archive("soon", clock=lambda: datetime.now(UTC) - behind)
        await w.archive("resume", clock=lambda: datetime.now(UTC) - behind)
        await w.archive("cliexec", clock=lambda: datetime.now(UTC) - behind)
        for label in ("held", "kept", "extended"):
            await w.archive(label)
        await w.archive("d30", retention=RetentionPeriod.THIRTY_YEARS)
        await w.archive("permanent", retention=RetentionPeriod.PERMANENT)
        yield w
    finally:
        await index.close()


def _ends(world: World, label: str) -> datetime:
    record = world.archived[label]["data"]["case"]
    ends = expiry(
        world.archived[label]["data"]["classification"]["retention"], datetime.fromisoformat(record["completed_at"])
    )
    assert ends is not None
    return ends


async def _versions(world: World, label: str) -> dict[str, list[str | None]]:
    key = world.package(label)["key"]
    bucket = world.settings.archive_bucket
    return {
        site.name: [v.version_id for v in await site.store.list_versions(bucket, key) if v.key == key]  # type: ignore[attr-defined]
        for site in world.sites
    }


async def test_due_lists_fixed_term_records_past_their_period_at_the_clock(world: World) -> None:
    now = datetime.now(UTC)
    due = {r["case_key"]: r for r in await disposal.due(world.disposition, now)}
    for label in ("soon", "held", "kept", "extended"):
        assert world.case_key(label) in due, label
        assert due[world.case_key(label)]["expires_at"] == _ends(world, label)
    assert world.case_key("d30") not in due and world.case_key("permanent") not in due
    # The same records a day before their period ended: none due.
    earlier = await disposal.due(world.disposition, _ends(world, "soon") - timedelta(days=1))
    assert world.case_key("soon") not in {r["case_key"] for r in earlier}


async def test_an_expired_record_is_destroyed_through_proposal_second_person_and_execution(world: World) -> None:
    case_key, package = world.case_key("soon"), world.package("soon")
    bucket, key = world.settings.archive_bucket, package["key"]
    lock = datetime.fromisoformat(package["retain_until"])
    assert datetime.now(UTC) < lock <= datetime.now(UTC) + LOCK_AHEAD + timedelta(seconds=1)

    # Before expiry (the archive's clock a day before the period ends): the archive refuses.
    before = _ends(world, "soon") - timedelta(days=1)
    with pytest.raises(DispositionRefused, match="not due"):
        await disposal.decide(world.disposition, case_key, Decision.DESTROY, reason="到期", actor=OPERATOR, now=before)
    # And the object itself: MinIO refuses to delete the locked version on either site, whatever is asked.
    for site in world.sites:
        [version] = (await _versions(world, "soon"))[site.name]
        with pytest.raises(ObjectLocked, match="WORM"):
            await site.store.delete_version(bucket, key, version)

    now = datetime.now(UTC)
    proposal = await disposal.decide(
        world.disposition,
        case_key,
        Decision.DESTROY,
        reason="保管期限已满，经鉴定无继续保存价值",
        actor=OPERATOR,
        now=now,
    )
    assert proposal["status"] == "proposed"
    # The two-person rule: not the proposer's key, not an operator, not an auditor.
    for wrong, why in (
        (Actor(OPERATOR.key_id, "馆长张伟", APPROVING_ROLE), "second person"),
        (SECOND_OPERATOR, "needs role approver"),
        (AUDITOR, "needs role approver"),
    ):
        with pytest.raises(DispositionRefused, match=why):
            await disposal.approve(world.disposition, proposal["id"], approver=wrong, now=now)
    # Not executable before approval.
    with pytest.raises(DispositionRefused, match="only an approved"):
        await disposal.execute(world.disposition, proposal["id"], sites=world.sites, now=now)
    approved = await disposal.approve(world.disposition, proposal["id"], approver=APPROVER, now=now)
    assert approved["status"] == "approved" and approved["approved_by"] == APPROVER.name

    # Approved, due, but the package lock has a few seconds left: the archive waits for MinIO's date.
    if datetime.now(UTC) < lock:
        with pytest.raises(DispositionRefused, match="locked"):
            await disposal.execute(world.disposition, proposal["id"], sites=world.sites, now=datetime.now(UTC))
    await asyncio.sleep(max(0.0, (lock - datetime.now(UTC)).total_seconds()) + 1.5)  # MinIO's own clock

    publisher = RecordingPublisher()
    audit = PgAuditLog(world.index.pool)

    async def audit_trail(action: str, target: str, detail: dict[str, Any]) -> None:
        from services.query.adapters.audit_log import AuditEntry

        await audit.append(AuditEntry(action=action, status=200, principal="test", target=target, detail=detail))

    report = await disposal.execute_approved(
        world.disposition,
        sites=world.sites,
        now=datetime.now(UTC),
        publisher=publisher,
        topic_name=world.settings.topic,
        audit=audit_trail,
        only=[proposal["id"]],
    )
    assert report.refused == {}, report.refused
    [destroyed] = report.destroyed

    # Every version of the package is gone from both sites.
    assert await _versions(world, "soon") == {PRIMARY: [], REPLICA: []}
    assert len(destroyed.tombstone["deleted_versions"]) == 2
    # The index: no record, a tombstone, the PREMIS deletion event kept.
    assert await world.disposition.record(case_key) is None
    tomb = await world.disposition.tombstone(case_key)
    assert tomb is not None and tomb["decision_id"] == proposal["id"] and tomb["archival_code"]
    events = await world.index.pool.fetch(
        "SELECT event_type, event_type_uri, detail FROM preservation_events WHERE case_key=$1 ORDER BY seq", case_key
    )
    assert events[-1]["event_type"] == "deletion" and events[-1]["event_type_uri"].endswith("/del")
    assert APPROVER.name in events[-1]["detail"] and OPERATOR.name in events[-1]["detail"]
    # The disposed event: published (through the outbox) and valid against its contract.
    [(topic, msg_key, value)] = publisher.sent
    assert topic == world.settings.topic(topics.DISPOSED) and msg_key == case_key.encode()
    event = EVENT_MODELS[topics.DISPOSED].model_validate_json(value)
    assert event.data.approved_by == APPROVER.name and event.data.proposed_by == OPERATOR.name  # type: ignore[attr-defined]
    # The audit log has the execution.
    [row] = [r for r in await audit.tail(5) if r["target"] == case_key]
    assert row["action"] == "disposition.execute" and row["detail"]["decision_id"] == proposal["id"]
    assert (await audit.verify()).intact
    # Executing again changes nothing.
    with pytest.raises(DispositionRefused, match="destroyed"):
        await disposal.execute(world.disposition, proposal["id"], sites=world.sites, now=datetime.now(UTC))

    # The destruction register is archived as a permanent record of the archive itself.
    from archivectl.destruction_filing import file_register

    filed = await file_register(
        world.settings, world.index.pool, store=world.store, replica=world.replica, now=datetime.now(UTC)
    )
    assert filed is not None and filed[1] == [case_key]
    register_key = filed[0]
    # Nothing else waits for a register now.
    assert (
        await file_register(world.settings, world.index.pool, store=world.store, replica=None, now=datetime.now(UTC))
        is None
    )
    row = await world.index.pool.fetchrow("SELECT * FROM records WHERE case_key=$1", register_key)
    assert row is not None and row["retention"] == "Y" and row["legal_hold"] is True
    assert row["retain_until"] == domain.PERMANENT_UNTIL
    assert (await world.disposition.tombstone(case_key))["register_case_key"] == register_key  # type: ignore[index]
    data = await world.store.get_bytes(row["package_bucket"], row["package_key"])
    stored = bag.read_package(data)
    xml_path = next(p for p in stored.members if p.endswith(register.XML_NAME))
    [entry] = register.parse_register_xml(stored.member_bytes(xml_path))
    assert entry["case_key"] == case_key and entry["archival_code"] == tomb["archival_code"]
    assert entry["approved_by"] == APPROVER.name and entry["package_sha256"] == tomb["package_sha256"]
    csv_path = next(p for p in stored.members if p.endswith(register.CSV_NAME))
    assert tomb["archival_code"] in stored.member_bytes(csv_path).decode("utf-8-sig")
    # The register's own package is locked for good: MinIO refuses its deletion.
    with pytest.raises(ObjectLocked):
        await world.store.delete_version(row["package_bucket"], row["package_key"], row["package_version_id"])
    assert json.loads(row["archived_event"])["data"]["package"]["legal_hold"] is True


class SiteDown:
    """A site whose server stops answering when asked to delete (after listing its versions)."""

    def __init__(self, store: MinioObjectStore) -> None:
        self.store = store

    async def list_versions(self, bucket: str, prefix: str = "") -> list[Any]:
        return await self.store.list_versions(bucket, prefix)

    async def delete_version(self, bucket: str, key: str, version_id: str | None) -> None:
        raise ConnectionRefusedError("the replica site does not answer")

    async def extend_lock(self, bucket: str, key: str, version_id: str | None, **kwargs: Any) -> None:
        raise ConnectionRefusedError("the replica site does not answer")


async def test_an_execution_stopped_half_way_cannot_be_held_and_the_next_run_finishes_it(world: World) -> None:
    case_key, package = world.case_key("resume"), world.package("resume")
    now = datetime.now(UTC)
    proposal = await disposal.decide(
        world.disposition, case_key, Decision.DESTROY, reason="到期", actor=OPERATOR, now=now
    )
    await disposal.approve(world.disposition, proposal["id"], approver=APPROVER, now=now)
    lock = datetime.fromisoformat(package["retain_until"])
    await asyncio.sleep(max(0.0, (lock - datetime.now(UTC)).total_seconds()) + 1.5)  # MinIO's own clock
    # The fixity audit lists the package now and reads it after its destruction (below).
    listed = [r for r in await world.index.packages_for_audit() if r["case_key"] == case_key]
    broken = [world.sites[0], disposal.DisposalSite(REPLICA, SiteDown(world.replica))]
    report = await disposal.execute_approved(
        world.disposition, sites=broken, now=datetime.now(UTC), only=[proposal["id"]]
    )
    assert "stopped half-way" in report.refused[proposal["id"]] and "does not answer" in report.refused[proposal["id"]]
    assert (await world.disposition.decision(proposal["id"]))["status"] == "executing"  # type: ignore[index]
    assert await _versions(world, "resume") == {PRIMARY: [], REPLICA: [await _replica_version(world, "resume")]}
    # Its primary copy is gone: a hold can no longer stop it.
    with pytest.raises(DispositionRefused, match="being destroyed"):
        await disposal.set_hold(
            world.disposition, case_key, reason="诉讼", reference="（2026）浙01民初2号", by=OPERATOR.name, now=now
        )
    report = await disposal.execute_approved(world.disposition, sites=world.sites, now=datetime.now(UTC))
    assert [d.case_key for d in report.destroyed] == [case_key], report.refused
    assert await _versions(world, "resume") == {PRIMARY: [], REPLICA: []}
    versions = report.destroyed[0].tombstone["deleted_versions"]
    assert versions[0].startswith("replica:") and versions[1].endswith("(deleted by an earlier run)")
    assert versions[1].startswith("primary:")

    # An audit that listed the package before its destruction reads nothing there: not a fixity failure.
    publisher = RecordingPublisher()
    audited = await fixity.audit(
        listed, store=world.store, replica=world.replica, index=world.index, publisher=publisher
    )
    assert audited.destroyed == [case_key] and audited.failed == [] and audited.lost == []
    assert publisher.sent == []
    alerts = await world.index.pool.fetchval(
        "SELECT count(*) FROM outbox WHERE topic=$1 AND key=$2", topics.FIXITY_FAILED, case_key.encode()
    )
    assert alerts == 0


async def _replica_version(world: World, label: str) -> str:
    key = world.package(label)["key"]
    [version] = [v.version_id for v in await world.replica.list_versions(world.settings.archive_bucket, key)]
    assert version is not None
    return version


async def test_a_record_under_legal_hold_cannot_be_destroyed(world: World) -> None:
    case_key, now = world.case_key("held"), datetime.now(UTC)
    hold = await disposal.set_hold(
        world.disposition, case_key, reason="行政复议审理中", reference="浙政复〔2026〕12号", by=OPERATOR.name, now=now
    )
    with pytest.raises(DispositionRefused, match="legal hold"):
        await disposal.decide(world.disposition, case_key, Decision.DESTROY, reason="到期", actor=OPERATOR, now=now)
    with pytest.raises(DispositionRefused, match="reference"):
        await disposal.set_hold(world.disposition, case_key, reason="诉讼", reference=" ", by=OPERATOR.name, now=now)
    # Lifted: proposed and approved; held again before execution: execution refused, the package stays.
    await disposal.lift_hold(world.disposition, hold["id"], reason="复议终结", by=OPERATOR.name, now=now)
    proposal = await disposal.decide(
        world.disposition, case_key, Decision.DESTROY, reason="到期", actor=OPERATOR, now=now
    )
    await disposal.approve(world.disposition, proposal["id"], approver=APPROVER, now=now)
    await disposal.set_hold(
        world.disposition, case_key, reason="诉讼保全", reference="（2026）浙01民初1号", by=OPERATOR.name, now=now
    )
    later = datetime.fromisoformat(world.package("held")["retain_until"]) + timedelta(days=1)  # past the lock too
    with pytest.raises(DispositionRefused, match="legal hold"):
        await disposal.execute(world.disposition, proposal["id"], sites=world.sites, now=later)
    report = await disposal.execute_approved(world.disposition, sites=world.sites, now=later, only=[proposal["id"]])
    assert report.destroyed == [] and "legal hold" in report.refused[proposal["id"]]
    assert await world.disposition.record(case_key) is not None
    assert all(len(v) == 1 for v in (await _versions(world, "held")).values())


async def test_keep_and_extend_lengthen_the_lock_on_both_sites_and_end_the_due(world: World) -> None:
    now = datetime.now(UTC)
    await disposal.decide(
        world.disposition,
        world.case_key("kept"),
        Decision.KEEP,
        reason="具有长期查考价值",
        actor=OPERATOR,
        now=now,
        sites=world.sites,
    )
    await disposal.decide(
        world.disposition,
        world.case_key("extended"),
        Decision.EXTEND,
        reason="相关诉讼时效未届满",
        actor=OPERATOR,
        now=now,
        new_retention="D30",
        sites=world.sites,
    )
    due = {r["case_key"] for r in await disposal.due(world.disposition, now)}
    assert world.case_key("kept") not in due and world.case_key("extended") not in due
    bucket = world.settings.archive_bucket
    for label, until, hold in (
        ("kept", domain.PERMANENT_UNTIL, True),
        (
            "extended",
            _ends(world, "extended").replace(year=_ends(world, "extended").year + 20).replace(microsecond=0),
            False,
        ),
    ):
        key = world.package(label)["key"]
        for site in (world.store, world.replica):
            [version] = [v.version_id for v in await site.list_versions(bucket, key) if v.key == key]
            retention = await asyncio.to_thread(site.client.get_object_retention, bucket, key, version)
            assert retention is not None and retention.retain_until_date == until, (label, site)
            assert await asyncio.to_thread(site.client.is_object_legal_hold_enabled, bucket, key, version) is hold
        row = await world.disposition.record(world.case_key(label))
        assert row is not None and row["retain_until"] == until
    with pytest.raises(DispositionRefused, match="not due"):
        await disposal.decide(
            world.disposition, world.case_key("kept"), Decision.DESTROY, reason="r", actor=OPERATOR, now=now
        )


async def test_the_api_lists_due_records_and_takes_a_proposal_and_a_second_keys_approval(world: World) -> None:
    from services.query.adapters.api_keys import PgApiKeys
    from services.query.config import QuerySettings
    from tests.integration.test_query_api import serving

    await world.archive("api")
    case_key = world.case_key("api")
    keys = PgApiKeys(world.index.pool)
    key = {
        role: await keys.create(f"接口测试 {role}", role, sharing_levels=["01", "02", "03"], created_by="test")
        for role in ("operator", "approver", "auditor")
    }
    settings = QuerySettings(namespace=world.settings.namespace)
    async with serving(settings) as url:

        def client(role: str) -> Any:
            import httpx

            headers = {"Authorization": f"Bearer {key[role]}"}
            return httpx.AsyncClient(base_url=url, headers=headers, timeout=60, trust_env=False)

        async with client("auditor") as c:
            listed = (await c.get("/api/v1/disposition/due")).json()["items"]
        mine = [i for i in listed if i["case_key"] == case_key]
        assert mine and mine[0]["retention"] == "D10" and mine[0]["pending"] is None
        path = f"/api/v1/disposition/{case_key}/decide"
        async with client("approver") as c:  # the approver does not propose
            assert (await c.post(path, json={"decision": "destroy", "reason": "到期"})).status_code == 403
        async with client("operator") as c:
            missing = await c.post(path, json={"decision": "destroy", "reason": " "})
            assert missing.status_code == 422 and "reason" in missing.text
            proposed = await c.post(path, json={"decision": "destroy", "reason": "保管期限已满"})
            assert proposed.status_code == 200, proposed.text
            proposal = proposed.json()
            assert proposal["status"] == "proposed" and proposal["proposed_by"] == "接口测试 operator"
            approve = f"/api/v1/disposition/proposals/{proposal['id']}/approve"
            assert (await c.post(approve)).status_code == 403  # operators hold no approving permission
        async with client("approver") as c:
            approved = await c.post(approve)
            assert approved.status_code == 200, approved.text
            assert approved.json()["status"] == "approved" and approved.json()["approved_by"] == "接口测试 approver"
            again = await c.post(approve)
            assert again.status_code == 422 and "not waiting" in again.text
        async with client("auditor") as c:
            listed = (await c.get("/api/v1/disposition/due")).json()["items"]
        [mine] = [i for i in listed if i["case_key"] == case_key]
        assert mine["pending"] == {"decision_id": proposal["id"], "status": "approved"}
        async with client("auditor") as c:  # the dashboard shows the same list
            part = (await c.get("/api/v1/dashboard")).json()["disposition"]
        assert part["ok"] is True and part["due"] == len(listed) and part["approved"] >= 1
        assert case_key in {r["case_key"] for r in part["oldest"]} or len(part["oldest"]) < part["due"]
        # The approver changes its mind before execution: rejected, nothing destroyed, the record due again.
        reject = f"/api/v1/disposition/proposals/{proposal['id']}/reject"
        async with client("approver") as c:
            rejected = await c.post(reject, json={"reason": "相关行政诉讼尚未终结"})
            assert rejected.status_code == 200 and rejected.json()["status"] == "rejected", rejected.text
        async with client("auditor") as c:
            listed = (await c.get("/api/v1/disposition/due")).json()["items"]
        [mine] = [i for i in listed if i["case_key"] == case_key]
        assert mine["pending"] is None
    assert await world.disposition.record(case_key) is not None
    rows = await world.index.pool.fetch(
        "SELECT action, status, principal, detail FROM audit_log WHERE target=$1 ORDER BY seq", case_key
    )
    assert [(r["action"], r["status"]) for r in rows if r["status"] == 200] == [
        ("disposition.decide", 200),
        ("disposition.approve", 200),
        ("disposition.approve", 200),  # the rejection: the approving permission, exercised
    ]
    assert json.loads(rows[-1]["detail"])["reason"] == "相关行政诉讼尚未终结"


def _archivectl(world: World, *args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AA_NAMESPACE": world.settings.namespace}
    env.pop("AA_API_KEY", None)
    if key is not None:
        env["AA_API_KEY"] = key
    return subprocess.run(
        [sys.executable, "-m", "archivectl", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


async def test_archivectl_lists_due_records_sets_and_lifts_holds_and_needs_a_permitted_key(world: World) -> None:
    from services.query.adapters.api_keys import PgApiKeys

    await world.archive("cli")
    case_key = world.case_key("cli")
    keys = PgApiKeys(world.index.pool)
    operator = await keys.create("命令行 操作员", "operator", sharing_levels=["01"], created_by="test")
    auditor = await keys.create("命令行 审计员", "auditor", sharing_levels=["01"], created_by="test")

    listed = await asyncio.to_thread(_archivectl, world, "disposition", "due", "--json")
    assert listed.returncode == 0, listed.stderr
    assert case_key in {r["case_key"] for r in json.loads(listed.stdout)}
    ahead = await asyncio.to_thread(_archivectl, world, "disposition", "due", "--as-of", "2000-01-01T00:00:00+00:00")
    assert ahead.returncode == 0 and case_key not in ahead.stdout

    hold = ["hold", "set", case_key, "--reason", "纪检调查", "--reference", "杭纪〔2026〕3号"]
    nokey = await asyncio.to_thread(_archivectl, world, *hold)
    assert nokey.returncode == 1 and "needs an API key" in nokey.stderr
    denied = await asyncio.to_thread(_archivectl, world, *hold, key=auditor)
    assert denied.returncode == 1 and "lacks permission disposition.decide" in denied.stderr
    held = await asyncio.to_thread(_archivectl, world, *hold, key=operator)
    assert held.returncode == 0, held.stderr
    [active] = [h for h in await world.disposition.holds([case_key])]
    destroy = ["disposition", "decide", case_key, "--decision", "destroy", "--reason", "到期"]
    refused = await asyncio.to_thread(_archivectl, world, *destroy, key=operator)
    assert refused.returncode == 1 and "legal hold" in refused.stderr
    lifted = await asyncio.to_thread(
        _archivectl, world, "hold", "lift", str(active.hold_id), "--reason", "调查结束", key=operator
    )
    assert lifted.returncode == 0, lifted.stderr
    proposed = await asyncio.to_thread(_archivectl, world, *destroy, key=operator)
    assert proposed.returncode == 0 and "a second person (role approver)" in proposed.stdout, proposed.stderr
    actions = [
        r["action"]
        for r in await world.index.pool.fetch("SELECT action FROM audit_log WHERE target=$1 ORDER BY seq", case_key)
    ]
    assert actions == ["hold.set", "hold.lift", "disposition.decide"]

    # Execution from the console: the approved, expired "cliexec" record destroyed, its register filed.
    target = world.case_key("cliexec")
    now = datetime.now(UTC)
    proposal = await disposal.decide(
        world.disposition, target, Decision.DESTROY, reason="到期", actor=OPERATOR, now=now
    )
    await disposal.approve(world.disposition, proposal["id"], approver=APPROVER, now=now)
    lock = datetime.fromisoformat(world.package("cliexec")["retain_until"])
    await asyncio.sleep(max(0.0, (lock - datetime.now(UTC)).total_seconds()) + 1.5)  # MinIO's own clock
    run = await asyncio.to_thread(_archivectl, world, "disposition", "execute", str(proposal["id"]), key=operator)
    assert run.returncode == 0, run.stdout + run.stderr
    assert (
        f"destroyed {target}" in run.stdout and "destruction register archived as approval-archive/XHQC-" in run.stdout
    )
    tomb = await world.disposition.tombstone(target)
    assert tomb is not None and tomb["register_case_key"] in run.stdout
    # The record destroyed by a run that filed no register ("resume") is listed in this one.
    assert "listing 2 record(s)" in run.stdout
    resumed = await world.disposition.tombstone(world.case_key("resume"))
    assert resumed is not None and resumed["register_case_key"] == tomb["register_case_key"]
    actions = [
        r["action"]
        for r in await world.index.pool.fetch(
            "SELECT action FROM audit_log WHERE target = ANY($1) ORDER BY seq", [target, tomb["register_case_key"]]
        )
    ]
    assert actions == ["disposition.execute", "disposition.register"]


async def test_an_index_rebuild_brings_back_no_destroyed_record_and_keeps_its_deletion_event(world: World) -> None:
    """Runs last in the module: it rebuilds this namespace's index from the bucket."""
    from services.storage.rebuild import rebuild_index

    destroyed = world.case_key("soon")
    assert await world.disposition.tombstone(destroyed) is not None  # the destruction test ran before
    await rebuild_index(world.store, world.index, world.settings.archive_bucket, replica=world.replica)
    assert await world.disposition.record(destroyed) is None
    assert await world.disposition.record(world.case_key("held")) is not None
    events = await world.index.pool.fetch(
        "SELECT event_type FROM preservation_events WHERE case_key=$1 ORDER BY seq", destroyed
    )
    assert events and events[-1]["event_type"] == "deletion"
    registers = await world.index.pool.fetch("SELECT case_key FROM records WHERE source_platform='approval-archive'")
    assert len(registers) == 2  # the destruction registers are back, from their own packages
