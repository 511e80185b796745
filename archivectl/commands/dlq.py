"""Dead letters an operator can work: `archivectl dlq list` (by service, kind, time) and
`archivectl dlq replay` (republish the original input to its origin topic once its cause is fixed).

A replay is recorded in table dead_letter_replays by letter id, in the same transaction that claims it:
replaying a letter twice publishes it once. The input is taken from the letter (base64) or, for an input
too large to travel inside it, from the dead-letter bucket, and checked against the letter's SHA-256."""

from __future__ import annotations

import argparse
import asyncio
import base64
import getpass
import hashlib
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg

from archivectl.topic_reader import read_topics
from contracts.v1 import topics
from services.common.adapters.object_store import MinioObjectStore
from services.common.index.migrate import upgrade
from services.common.producer import producer_for
from services.common.settings import ArchiveSettings

_DURATION = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_since(text: str, now: datetime) -> datetime:
    """`2h`, `30m`, `7d` (that long ago) or an ISO 8601 time (UTC unless it says otherwise)."""
    match = _DURATION.match(text.strip())
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def matches(letter: dict[str, Any], *, service: str | None, kind: str | None, since: datetime | None) -> bool:
    data = letter.get("data") or {}
    if service and data.get("service") != service:
        return False
    if kind and data.get("error_type") != kind:
        return False
    return not since or datetime.fromisoformat(data.get("failed_at", "1970-01-01T00:00:00+00:00")) >= since


async def read_letters(settings: ArchiveSettings) -> list[dict[str, Any]]:
    seen, complete = await read_topics(settings, [topics.DEAD_LETTER], timeout=60)
    if not complete:
        raise RuntimeError(f"could not read {settings.topic(topics.DEAD_LETTER)} to its end within 60 s")
    # A letter is delivered twice if its worker died between publishing it and the ack: same id, kept once.
    letters = {s.event["id"]: s.event for s in seen if s.event.get("type") == topics.DEAD_LETTER}
    return list(letters.values())


async def _replays(settings: ArchiveSettings) -> dict[str, dict[str, Any]]:
    await upgrade(settings)
    conn = await asyncpg.connect(settings.pg_dsn())
    try:
        rows = await conn.fetch("SELECT letter_id, replayed_by, replayed_at FROM dead_letter_replays")
    finally:
        await conn.close()
    return {r["letter_id"]: dict(r) for r in rows}


def cmd_list(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    since = parse_since(args.since, datetime.now(UTC)) if args.since else None

    async def run() -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
        return await read_letters(settings), await _replays(settings)

    letters, replays = asyncio.run(run())
    chosen = [x for x in letters if matches(x, service=args.service, kind=args.kind, since=since)]
    if args.json:
        for letter in chosen:
            print(json.dumps({**letter, "replayed": str(replays.get(letter["id"], {}).get("replayed_at") or "")}))
        return 0
    if not chosen:
        print(f"dead letters: none{' matching' if len(letters) else ''} ({len(letters)} in total)")
        return 0
    for letter in chosen:
        d = letter["data"]
        replay = replays.get(letter["id"])
        where = "object store" if d.get("payload_object") else "inline"
        mark = f"  replayed {replay['replayed_at']:%Y-%m-%d %H:%M} by {replay['replayed_by']}" if replay else ""
        print(f"{letter['id']}  {d['failed_at'][:19]}  {d['service']:<14} {d['error_type']}{mark}")
        print(f"    key {d.get('origin_key')}; input {d.get('payload_bytes', '?')} bytes ({where})")
        print(f"    {d['reason'][:300]}")
    print(f"{len(chosen)} of {len(letters)} dead letters; `archivectl dlq replay LETTER_ID` republishes one")
    return 0


async def original_input(settings: ArchiveSettings, data: dict[str, Any]) -> bytes:
    """The input exactly as the worker received it, checked against the letter's digest."""
    ref = data.get("payload_object")
    if ref:
        payload = await MinioObjectStore.from_settings(settings).get_bytes(ref["bucket"], ref["key"])
    else:
        payload = base64.b64decode(data["payload_base64"])
    expected = data.get("payload_sha256")
    if expected and hashlib.sha256(payload).hexdigest() != expected:
        raise ValueError(f"the kept input does not match the letter's SHA-256 {expected}; not replayed")
    return payload


async def replay(settings: ArchiveSettings, letters: list[dict[str, Any]], replayed_by: str) -> list[str]:
    """Republish each letter's input to its origin topic, once per letter id; returns one line per letter."""
    await upgrade(settings)
    conn = await asyncpg.connect(settings.pg_dsn())
    producer = producer_for(settings)
    await producer.start()
    lines = []
    try:
        for letter in letters:
            data = letter["data"]
            async with conn.transaction():
                claimed = await conn.fetchval(
                    """INSERT INTO dead_letter_replays (letter_id, origin_topic, replayed_by) VALUES ($1, $2, $3)
                       ON CONFLICT DO NOTHING RETURNING letter_id""",
                    letter["id"],
                    data["origin_topic"],
                    replayed_by,
                )
                if claimed is None:
                    lines.append(f"{letter['id']}: already replayed — nothing published")
                    continue
                payload = await original_input(settings, data)
                key = data["origin_key"].encode() if data.get("origin_key") else None
                # Published inside the claiming transaction: if publishing fails, the claim rolls back and
                # the letter can be replayed again; if the commit fails after the publish, a second replay
                # publishes again — harmless, every step is idempotent.
                await producer.send_and_wait(data["origin_topic"], payload, key=key)
            lines.append(f"{letter['id']}: republished to {data['origin_topic']} ({len(payload)} bytes)")
    finally:
        await producer.stop()
        await conn.close()
    return lines


def cmd_replay(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    if not args.letter_ids and not (args.service or args.kind):
        print("error: name letter ids, or choose letters with --service/--kind (and --since)", file=sys.stderr)
        return 2
    since = parse_since(args.since, datetime.now(UTC)) if args.since else None

    async def run() -> tuple[list[str], list[str]]:
        letters = await read_letters(settings)
        by_id = {x["id"]: x for x in letters}
        missing = [i for i in args.letter_ids if i not in by_id]
        chosen = [by_id[i] for i in args.letter_ids if i in by_id]
        if not args.letter_ids:
            chosen = [x for x in letters if matches(x, service=args.service, kind=args.kind, since=since)]
        return await replay(settings, chosen, args.by), missing

    lines, missing = asyncio.run(run())
    for line in lines:
        print(line)
    for letter_id in missing:
        print(f"error: no dead letter {letter_id} (`archivectl dlq list` shows them)", file=sys.stderr)
    return 1 if missing else 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("dlq", help="dead letters: list them, replay them once their cause is fixed")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    for name, helptext, run in [
        ("list", "the dead letters, oldest first (filter by service, kind, time)", cmd_list),
        ("replay", "republish letters' original inputs to their origin topics (once per letter)", cmd_replay),
    ]:
        a = actions.add_parser(name, help=helptext)
        a.add_argument("--service", help="capture, validation, classification or storage")
        a.add_argument("--kind", help="the letter's error_type, e.g. InvalidRecord, UnknownDialect, PoisonPill")
        a.add_argument("--since", help="2h, 30m, 7d, or an ISO 8601 time")
        a.set_defaults(run=run)
        if name == "list":
            a.add_argument("--json", action="store_true", help="one letter per line as JSON")
        else:
            a.add_argument("letter_ids", nargs="*", metavar="LETTER_ID")
            a.add_argument("--by", default=getpass.getuser(), help="who replays (default: the login name)")
