"""The audit log on the real PostgreSQL: one row per credentialed request, a gapless chain under concurrent
appends, the append-only trigger, and `archivectl audit verify` naming the row someone edited or deleted
behind the trigger's back."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from services.query.adapters.api_keys import PgApiKeys
from services.query.adapters.audit_log import row_digest
from tests.integration.test_query_api import (
    PERSON,
    PERSON_ID,
    QueryWorld,
    archive_record,
    build_world,
    create_keys,
    sample_record,
    serving,
)

pytestmark = pytest.mark.integration
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
async def world(prepared) -> AsyncIterator[QueryWorld]:  # type: ignore[no-untyped-def]
    w = await build_world(prepared, "qaud")
    try:
        rec = sample_record("QAUD-001", applicant=PERSON, title="审计测试许可")
        w.archived["one"] = await archive_record(w.settings, w.store, w.index, rec, sharing="01")
        await create_keys(w)
        async with serving(w.settings) as url:
            w.base_url = url
            yield w
    finally:
        await w.index.close()


def archivectl(world: QueryWorld, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "AA_NAMESPACE": world.settings.namespace}
    return subprocess.run(
        [sys.executable, "-m", "archivectl", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def audit_verify(world: QueryWorld) -> subprocess.CompletedProcess[str]:
    return archivectl(world, "audit", "verify")


async def tamper(world: QueryWorld, sql: str, *args: object) -> None:
    """Run `sql` with the append-only trigger disabled, as a table owner acting on purpose could."""
    conn = await asyncpg.connect(world.settings.pg_dsn())
    try:
        await conn.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
        try:
            await conn.execute(sql, *args)
        finally:
            await conn.execute("ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only")
    finally:
        await conn.close()


async def test_each_credentialed_request_is_one_row_and_anonymous_ones_are_not(world):
    before = (await world.sql("SELECT count(*) AS n FROM audit_log"))[0]["n"]
    case_key = world.case_key("one")
    keys = PgApiKeys(world.index.pool)
    revoked = await keys.create("将被撤销", "auditor", sharing_levels=["01"], created_by="test")
    revoked_id = revoked.split("_")[1]
    await keys.revoke(revoked_id)
    async with world.client(world.keys["auditor"]) as client:
        assert (await client.get("/api/v1/records", params={"applicant_id": PERSON_ID})).status_code == 200
        assert (await client.get(f"/api/v1/records/{case_key}")).status_code == 200
    async with world.client(world.keys["supervision"]) as client:
        assert (await client.get("/api/v1/quarantine")).status_code == 403
        assert (await client.get("/api/v1/records/market-regulation/NOPE/r1")).status_code == 404
    async with world.client(revoked) as client:
        assert (await client.get("/api/v1/records")).status_code == 401
    async with world.client() as client:
        assert (await client.get("/api/v1/records")).status_code == 401  # no credential: not audited
        assert (await client.get("/healthz")).status_code == 200
    rows = await world.sql(
        "SELECT key_id, principal, role, action, method, path, target, detail, status FROM audit_log "
        "WHERE seq > $1 ORDER BY seq",
        before,
    )
    summary = [(r["role"], r["action"], r["status"], r["target"]) for r in rows]
    assert summary == [
        ("auditor", "records.search", 200, None),
        ("auditor", "records.read", 200, case_key),
        ("supervision", "queues.read", 403, None),
        ("supervision", "records.read", 404, "market-regulation/NOPE/r1"),
        ("auditor", "records.search", 401, None),
    ]
    assert rows[-1]["key_id"] == revoked_id and rows[-1]["principal"] == "将被撤销"
    assert json.loads(rows[0]["detail"])["query"]["applicant_id"] == "110*************34"
    assert all(r["method"] == "GET" and r["path"].startswith("/api/v1/") for r in rows)


async def test_keys_are_created_listed_and_revoked_with_archivectl(world):
    made = archivectl(
        world,
        "key",
        "create",
        "--name",
        "住建监管系统",
        "--role",
        "supervision",
        "--sharing",
        "01,02",
        "--departments",
        "SCJG",
        "--expires",
        "2099-12-31",
        "--by",
        "张伟",
    )
    assert made.returncode == 0, made.stderr
    key = made.stdout.strip()
    key_id = key.split("_")[1]
    assert key.startswith("aa_") and "shown only now" in made.stderr
    async with world.client(key) as client:
        assert (await client.get(f"/api/v1/records/{world.case_key('one')}")).status_code == 200
    listed = archivectl(world, "key", "list")
    assert key_id in listed.stdout and "住建监管系统" in listed.stdout and "departments SCJG" in listed.stdout
    assert key.split("_")[2] not in listed.stdout, "the secret is never listed"
    stored = await world.sql("SELECT secret_sha256 FROM api_keys WHERE key_id=$1", key_id)
    assert stored[0]["secret_sha256"] != key.split("_")[2]
    refused = archivectl(world, "key", "create", "--name", "x", "--role", "supervision", "--sharing", "03")
    assert refused.returncode == 1 and "cannot be granted sharing level(s) 03" in refused.stderr
    no_platform = archivectl(world, "key", "create", "--name", "x", "--role", "platform")
    assert no_platform.returncode == 1 and "--platform" in no_platform.stderr
    revoked = archivectl(world, "key", "revoke", key_id)
    assert revoked.returncode == 0 and "revoked at" in revoked.stdout
    async with world.client(key) as client:
        answer = await client.get(f"/api/v1/records/{world.case_key('one')}")
    assert answer.status_code == 401 and "was revoked" in answer.json()["detail"]
    assert archivectl(world, "key", "revoke", "nosuchkey123").returncode == 1
    tail = archivectl(world, "audit", "tail", "-n", "2")
    assert tail.returncode == 0 and len(tail.stdout.strip().splitlines()) == 2
    assert "住建监管系统" in tail.stdout and "401" in tail.stdout


async def test_concurrent_requests_get_gapless_seqs_and_the_chain_verifies(world):
    async def one(n: int) -> int:
        async with world.client(world.keys["auditor"]) as client:
            return (await client.get("/api/v1/records", params={"q": f"审计{n}"})).status_code

    assert set(await asyncio.gather(*(one(n) for n in range(25)))) == {200}
    seqs = [r["seq"] for r in await world.sql("SELECT seq FROM audit_log ORDER BY seq")]
    assert seqs == list(range(1, len(seqs) + 1))
    done = audit_verify(world)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"chain intact: {len(seqs)} rows" in done.stdout
    assert "audit rows verified [" in done.stderr  # the progress bar


async def test_the_trigger_refuses_update_delete_and_truncate(world):
    conn = await asyncpg.connect(world.settings.pg_dsn())
    try:
        for sql in (
            "UPDATE audit_log SET status=200 WHERE seq=1",
            "DELETE FROM audit_log WHERE seq=1",
            "TRUNCATE audit_log",
        ):
            with pytest.raises(asyncpg.RaiseError, match="append-only"):
                await conn.execute(sql)
    finally:
        await conn.close()


async def test_removing_the_newest_rows_is_caught_by_a_head_kept_elsewhere(world):
    first = audit_verify(world)
    assert first.returncode == 0, first.stdout + first.stderr
    head = re.search(r"--head (\d+:[0-9a-f]{64})", first.stdout).group(1)
    assert archivectl(world, "audit", "verify", "--head", head).returncode == 0
    async with world.client(world.keys["auditor"]) as client:  # the log grows after the head was kept
        await client.get("/api/v1/records")
    assert archivectl(world, "audit", "verify", "--head", head).returncode == 0
    seq = int(head.split(":")[0])
    await tamper(world, "DELETE FROM audit_log WHERE seq >= $1", seq)  # the newest rows, the kept head among them
    assert audit_verify(world).returncode == 0  # what is left is a valid chain: alone, verify cannot tell
    anchored = archivectl(world, "audit", "verify", "--head", head)
    assert anchored.returncode == 1
    assert f"the log ends at seq {seq - 1}" in anchored.stdout and "were removed" in anchored.stdout


async def test_an_edited_row_and_a_deleted_row_are_named_by_verify(world):
    rows = await world.sql("SELECT seq, detail, status FROM audit_log ORDER BY seq")
    edited = rows[3]["seq"]
    await tamper(world, "UPDATE audit_log SET status=200, detail='{}'::jsonb WHERE seq=$1", edited)
    broken = audit_verify(world)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert f"chain BROKEN at row seq {edited}: digest mismatch" in broken.stdout
    async with world.client(world.keys["auditor"]) as client:
        verdict = (await client.get("/api/v1/audit/verify")).json()
    assert verdict["intact"] is False
    assert verdict["first_bad_row"]["seq"] == edited and verdict["first_bad_row"]["kind"] == "digest mismatch"

    # put it back as it was: the chain verifies again
    original = rows[3]
    await tamper(
        world,
        "UPDATE audit_log SET status=$2, detail=$3::jsonb WHERE seq=$1",
        edited,
        original["status"],
        original["detail"],
    )
    assert audit_verify(world).returncode == 0

    # an editor who also recomputes the digest breaks the link of the next row
    [row] = await world.sql("SELECT * FROM audit_log WHERE seq=$1", edited + 1)
    forged = {**dict(row), "detail": {"forged": True}, "at": row["at"]}
    await tamper(
        world,
        "UPDATE audit_log SET detail=$2::jsonb, digest=$3 WHERE seq=$1",
        edited + 1,
        json.dumps({"forged": True}),
        row_digest(row["prev_digest"], forged),
    )
    relinked = audit_verify(world)
    assert relinked.returncode == 1 and f"chain BROKEN at row seq {edited + 2}: broken link" in relinked.stdout

    # a deleted row leaves a gap, named by the row that follows it
    deleted = edited - 2
    await tamper(world, "DELETE FROM audit_log WHERE seq=$1", deleted)
    gap = audit_verify(world)
    assert gap.returncode == 1
    assert f"chain BROKEN at row seq {deleted + 1}: gap" in gap.stdout and f"seq {deleted} missing" in gap.stdout
