"""End to end: cases in at approval.completed.v1 with a plain Kafka client, archived records out at
the back — checked the way a user would: events, objects in the bucket, rows in the index."""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter

import asyncpg
import pytest

from archivectl.feed import publish_events
from archivectl.outcomes import await_outcomes
from archivectl.platforms import sample_platform_secrets, sign_all, signed
from contracts.v1 import topics
from samples.generator import approval_completed_event, generate_cases
from services.common.adapters.object_store import MinioObjectStore

pytestmark = pytest.mark.e2e

CASES = 24


@pytest.fixture(scope="module")
async def batch(pipeline):  # type: ignore[no-untyped-def]
    cases = generate_cases(CASES, seed=20261125, wrong_digest_every=6)
    secrets = await sample_platform_secrets(pipeline)
    events = sign_all((approval_completed_event(c) for c in cases), secrets)
    await publish_events(pipeline, events)
    outcomes = await await_outcomes(pipeline, {e["subject"] for e in events}, timeout=240)
    assert outcomes.complete, f"no outcome for {sorted(outcomes.pending)}"
    return cases, events, outcomes


async def test_good_cases_are_archived_and_wrong_digests_rejected_and_nothing_else(batch):
    cases, events, outcomes = batch
    wrong = {e["subject"] for c, e in zip(cases, events, strict=True) if c.defect == "wrong_digest"}
    good = {e["subject"] for c, e in zip(cases, events, strict=True) if c.defect is None}
    assert wrong and good and len(wrong) + len(good) == CASES
    assert set(outcomes.archived) == good
    assert set(outcomes.rejected) == wrong
    assert outcomes.dead_lettered == {}
    for key in wrong:
        failures = outcomes.rejected[key]["data"]["failures"]
        assert [f["code"] for f in failures] == ["AUTH-DIGEST-SHA256"]
        assert outcomes.rejected[key]["data"]["case"]["source_platform"] == key.split("/")[0]


async def test_archived_files_are_in_the_bucket_with_the_declared_digests(batch, pipeline, tmp_path):
    """Each archived case is ONE package object (a tar of a BagIt bag, docs/packages.md) that the Library
    of Congress validator (bagit-python) accepts, holding the declared files."""
    import io
    import tarfile

    import bagit

    cases, events, outcomes = batch
    store = MinioObjectStore.from_settings(pipeline)
    by_key = {e["subject"]: c for c, e in zip(cases, events, strict=True)}
    for key, event in outcomes.archived.items():
        package = event["data"]["package"]
        assert package["key"].startswith(package["prefix"]) and package["key"].endswith(".tar")
        with tarfile.open(fileobj=io.BytesIO(await store.get_bytes(package["bucket"], package["key"]))) as tar:
            [bag_name] = {name.split("/", 1)[0] for name in tar.getnames()}
            tar.extractall(tmp_path, filter="data")
        bag_dir = tmp_path / bag_name
        bagit.Bag(str(bag_dir)).validate()  # raises BagValidationError with the details
        manifest = (bag_dir / "manifest-sha256.txt").read_text(encoding="utf-8")
        assert hashlib.sha256(manifest.encode()).hexdigest() == package["manifest_sha256"]
        declared = sorted(m.sha256 for m in by_key[key].record.materials)
        listed = [line.split("  ", 1) for line in manifest.splitlines()]
        assert sorted(digest for digest, _ in listed) == declared
        for digest, path in listed:
            assert hashlib.sha256((bag_dir / path).read_bytes()).hexdigest() == digest


async def test_the_index_holds_one_row_per_archived_case_with_its_files(batch, pipeline):
    _, _, outcomes = batch
    conn = await asyncpg.connect(pipeline.pg_dsn())
    try:
        rows = await conn.fetch(
            "SELECT case_key, archival_code, file_count FROM records WHERE case_key = ANY($1)", list(outcomes.archived)
        )
        files = await conn.fetch(
            "SELECT case_key, count(*) AS n FROM record_files WHERE case_key = ANY($1) GROUP BY case_key",
            list(outcomes.archived),
        )
    finally:
        await conn.close()
    assert {r["case_key"] for r in rows} == set(outcomes.archived)
    assert {r["case_key"]: r["archival_code"] for r in rows} == {
        k: e["data"]["classification"]["archival_code"] for k, e in outcomes.archived.items()
    }
    assert {r["case_key"]: r["n"] for r in files} == {r["case_key"]: r["file_count"] for r in rows}
    assert len({r["archival_code"] for r in rows}) == len(rows)


async def test_the_same_case_published_twice_is_archived_once(batch, pipeline):
    cases, events, outcomes = batch
    original = next(e for c, e in zip(cases, events, strict=True) if c.defect is None)
    secrets = await sample_platform_secrets(pipeline)
    again = signed({**original, "id": original["id"] + "-redelivered"}, secrets[original["source"].rsplit(":", 1)[1]])
    await publish_events(pipeline, [again, original])
    key = original["subject"]

    from archivectl.topic_reader import read_topics

    def three_archived(seen):  # type: ignore[no-untyped-def]
        return sum(1 for s in seen if s.topic == topics.ARCHIVED and s.key == key) >= 3

    seen, complete = await read_topics(pipeline, [topics.ARCHIVED], done=three_archived, timeout=120)
    assert complete
    ids = Counter(s.event["id"] for s in seen if s.key == key)
    assert len(ids) == 1, f"archived events for one case must share one id, got {ids}"

    conn = await asyncpg.connect(pipeline.pg_dsn())
    try:
        assert await conn.fetchval("SELECT count(*) FROM records WHERE case_key=$1", key) == 1
    finally:
        await conn.close()
    store = MinioObjectStore.from_settings(pipeline)
    prefix = outcomes.archived[key]["data"]["package"]["prefix"]
    versions = await asyncio.to_thread(
        lambda: list(
            store.client.list_objects(pipeline.archive_bucket, prefix=prefix, recursive=True, include_version=True)
        )
    )
    assert [v.object_name for v in versions] == [outcomes.archived[key]["data"]["package"]["key"]], (
        "one package object, written exactly once (no second version)"
    )
