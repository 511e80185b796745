"""The checks at the end of a chaos run, made from the outside the way an auditor would: the public topics
read from their start, the bucket listed with its versions, the index and its code series queried, the
audit chain verified with the operator's own command. Nothing here trusts what a service says of itself."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

from contracts.v1 import topics
from services.common.adapters.object_store import MinioObjectStore
from services.common.settings import ArchiveSettings

from .stack import REPO


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Verdict:
    published: int
    archived: int = 0
    rejected: int = 0
    dead_letters: int = 0
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    lost_to_dead_letters: list[str] = field(default_factory=list)  # lost cases sent to the dead-letter topic
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))


async def read_whole_topic(settings: ArchiveSettings, topic: str) -> list[tuple[int, int, str | None, bytes]]:
    """Every message of the topic up to its end now: (partition, offset, key, value)."""
    name = settings.topic(topic)
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=2 * settings.kafka_max_message_bytes,
        fetch_max_bytes=4 * settings.kafka_max_message_bytes,
    )
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(name) or set()
        for _ in range(50):
            if parts:
                break
            await consumer._client.force_metadata_update()
            await asyncio.sleep(0.1)
            parts = consumer.partitions_for_topic(name) or set()
        tps = [TopicPartition(name, p) for p in sorted(parts)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[tuple[int, int, str | None, bytes]] = []

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in tps])

        while await behind():
            batch = await consumer.getmany(timeout_ms=1000, max_records=500)
            for tp, messages in batch.items():
                for m in messages:
                    out.append((tp.partition, m.offset, m.key.decode("utf-8", "replace") if m.key else None, m.value))
        return out
    finally:
        await consumer.stop()


def _events(messages: list[tuple[int, int, str | None, bytes]]) -> list[dict[str, Any]]:
    events = []
    for _, _, _, value in messages:
        try:
            events.append(json.loads(value))
        except ValueError:
            events.append({"undecodable": True})
    return events


async def audit(
    settings: ArchiveSettings, published: set[str], invalid: dict[str, str], env: dict[str, str]
) -> Verdict:
    """`published`: the case keys fed; `invalid`: key -> description of each deliberately invalid input."""
    verdict = Verdict(published=len(published))
    archived_by_key: dict[str, set[str]] = defaultdict(set)
    archived_events: dict[str, dict[str, Any]] = {}
    for event in _events(await read_whole_topic(settings, topics.ARCHIVED)):
        archived_by_key[str(event.get("subject"))].add(str(event.get("id")))
        archived_events[str(event.get("id"))] = event
    rejected_by_key: dict[str, set[str]] = defaultdict(set)
    for event in _events(await read_whole_topic(settings, topics.REJECTED)):
        rejected_by_key[str(event.get("subject"))].add(str(event.get("id")))
    letters: dict[tuple[Any, Any, Any], dict[str, Any]] = {}
    for event in _events(await read_whole_topic(settings, topics.DEAD_LETTER)):
        data = event.get("data") or {}
        letters[(data.get("origin_topic"), data.get("origin_partition"), data.get("origin_offset"))] = data

    archived, rejected = set(archived_by_key), set(rejected_by_key)
    verdict.archived, verdict.rejected, verdict.dead_letters = (
        len(archived & published),
        len(rejected & published),
        len(letters),
    )
    verdict.lost = sorted(published - archived - rejected)
    both = sorted(archived & rejected)
    verdict.duplicated = sorted(
        {k for k, ids in archived_by_key.items() if len(ids) > 1}
        | {k for k, ids in rejected_by_key.items() if len(ids) > 1}
    )
    unexpected = sorted((archived | rejected) - published)
    verdict.lost_to_dead_letters = sorted(set(verdict.lost) & {d.get("origin_key") for d in letters.values()})
    verdict.check(
        "every published case revision has exactly one outcome",
        not verdict.lost and not both and not verdict.duplicated and not unexpected,
        f"{len(verdict.lost)} without outcome{_sample(verdict.lost)} ({len(verdict.lost_to_dead_letters)} of them "
        f"dead-lettered), {len(both)} both archived and rejected"
        f"{_sample(both)}, {len(verdict.duplicated)} with more than one outcome id{_sample(verdict.duplicated)}, "
        f"{len(unexpected)} never published{_sample(unexpected)}",
    )
    verdict.check(
        "archived events, deduplicated by id, = archived cases",
        len(archived_events) == len(archived),
        f"{len(archived_events)} distinct archived event ids, {len(archived)} archived cases",
    )

    # --- the bucket: one package object per archived case, one version, locked --------------------------
    store = MinioObjectStore.from_settings(settings)
    versions = await asyncio.to_thread(
        lambda: list(store.client.list_objects(settings.archive_bucket, recursive=True, include_version=True))
    )
    by_object: dict[str, list[Any]] = defaultdict(list)
    for v in versions:
        by_object[v.object_name].append(v)
    package_keys = {e["data"]["package"]["key"] for e in archived_events.values() if "data" in e}
    packages = {k for k in by_object if k.endswith(".tar")}
    multi = sorted(k for k in packages if len(by_object[k]) != 1)
    unlocked = await asyncio.to_thread(_unlocked, store, settings.archive_bucket, by_object, packages)
    verdict.check(
        "packages in the bucket = archived cases, one locked version each",
        packages == package_keys and len(packages) == len(archived) and not multi and not unlocked,
        f"{len(packages)} package objects for {len(archived)} archived cases; "
        f"{len(package_keys - packages)} archived without package{_sample(sorted(package_keys - packages))}, "
        f"{len(packages - package_keys)} packages without archived event, {len(multi)} with ≠1 version"
        f"{_sample(multi)}, {len(unlocked)} without retention lock{_sample(unlocked)}",
    )

    # --- the index and the archival-code series -------------------------------------------------------
    conn = await asyncpg.connect(settings.pg_dsn())
    try:
        rows = {
            r["case_key"]: r["archival_code"] for r in await conn.fetch("SELECT case_key, archival_code FROM records")
        }
        codes = await conn.fetch(
            "SELECT case_key, archival_code, fonds_code, category_code, year, retention, organisation_code, item_number"
            " FROM archival_codes"
        )
        quarantined = {r["case_key"] for r in await conn.fetch("SELECT case_key FROM quarantine")}
    finally:
        await conn.close()
    event_codes = {
        e["subject"]: e["data"]["classification"]["archival_code"] for e in archived_events.values() if "data" in e
    }
    verdict.check(
        "index rows = archived cases (same codes)",
        set(rows) == archived and all(rows[k] == event_codes.get(k) for k in rows),
        f"{len(rows)} rows, {len(archived)} archived; {len(archived - set(rows))} archived without row, "
        f"{len(set(rows) - archived)} rows without archived event, "
        f"{sum(1 for k in rows if rows[k] != event_codes.get(k))} with another code than the event",
    )
    series: dict[tuple[Any, ...], list[int]] = defaultdict(list)
    for r in codes:
        series[(r["fonds_code"], r["category_code"], r["year"], r["retention"], r["organisation_code"])].append(
            r["item_number"]
        )
    gaps = [s for s, numbers in series.items() if sorted(numbers) != list(range(1, len(numbers) + 1))]
    duplicate_codes = len(codes) - len({r["archival_code"] for r in codes})
    unarchived_codes = sorted({r["case_key"] for r in codes} - archived)
    verdict.check(
        "archival codes gapless per series, no duplicates",
        not gaps and not duplicate_codes and not unarchived_codes,
        f"{len(series)} series, {len(codes)} codes; {len(gaps)} series with a gap or a repeated number"
        f"{_sample(['/'.join(map(str, s)) for s in gaps])}, {duplicate_codes} duplicate codes, "
        f"{len(unarchived_codes)} codes held by a case that was not archived{_sample(unarchived_codes)}",
    )

    # --- dead letters: exactly the deliberately invalid inputs, never a transient fault ------------------
    lettered = {d.get("origin_key") for d in letters.values()}
    strays = [d for d in letters.values() if d.get("origin_key") not in invalid]
    missing = sorted(set(invalid) - lettered)
    stray_text = [f"{d.get('service')}: {d.get('error_type')}: {str(d.get('reason'))[:120]}" for d in strays]
    missing_text = [f"{k} ({invalid[k]})" for k in missing]
    verdict.check(
        "dead-letter topic holds only the deliberately invalid inputs",
        not strays and not missing,
        f"{len(letters)} letters for {len(invalid)} planted invalid inputs; "
        f"{len(missing)} planted without a letter{_sample(missing_text)}, "
        f"{len(strays)} letters for something else{_sample(stray_text)}",
    )
    verdict.check(
        "quarantine entries = rejections",
        quarantined == rejected,
        f"{len(quarantined)} quarantine entries, {len(rejected)} rejected cases; "
        f"{len(rejected - quarantined)} rejected without entry, "
        f"{len(quarantined - rejected)} entries without rejection",
    )
    chain = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "archivectl", "audit", "verify"],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    verdict.check(
        "the audit chain verifies (archivectl audit verify)",
        chain.returncode == 0,
        (chain.stdout.strip() or chain.stderr.strip()).splitlines()[-1][:300] if (chain.stdout or chain.stderr) else "",
    )
    return verdict


def _unlocked(store: MinioObjectStore, bucket: str, by_object: dict[str, list[Any]], packages: set[str]) -> list[str]:
    unlocked = []
    for key in sorted(packages):
        version = by_object[key][0]
        retention = store.client.get_object_retention(bucket, key, version_id=version.version_id)
        if retention is None or retention.mode is None:
            unlocked.append(key)
    return unlocked


def _sample(items: list[str], n: int = 3) -> str:
    return f" (e.g. {', '.join(items[:n])})" if items else ""
