"""A supervision system (事中事后监管) following the archive: one line per newly archived record of its
departments and items. docs/subscribing.md explains every choice made here; this file runs with only
aiokafka and the standard library.

    python examples/supervision_consumer.py --bootstrap 127.0.0.1:19092 \\
        --topic archive.record.archived.v1 --group my-supervision \\
        --department 11010501 --item XK-0001 [--sharing-levels 01,02] \\
        [--from-beginning] [--max-events N] [--idle-exit SECONDS]

Output (stdout), one JSON object per matching record; everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
import time
from collections import OrderedDict
from typing import Any

from aiokafka import AIOKafkaConsumer

EVENT_TYPE = "archive.record.archived.v1"


def note(text: str) -> None:
    print(f"supervision-consumer: {text}", file=sys.stderr, flush=True)


class SeenIds:
    """Event ids already handled. Delivery is at-least-once and the archive re-emits the same event (same
    id) when it redoes a step, so a consumer dedupes by id. A real system keeps the ids in its own
    database, in the transaction that stores the record; here the last `capacity` ids live in memory."""

    def __init__(self, capacity: int = 100_000) -> None:
        self.capacity, self.ids = capacity, OrderedDict[str, None]()

    def first_time(self, event_id: str) -> bool:
        if event_id in self.ids:
            return False
        self.ids[event_id] = None
        if len(self.ids) > self.capacity:
            self.ids.popitem(last=False)
        return True


def parse(raw: bytes | None) -> tuple[dict[str, Any] | None, str | None]:
    """(the event, None) or (None, why it is not an archived-record event)."""
    try:
        event = json.loads(raw or b"")
    except ValueError as exc:
        return None, f"not JSON ({exc})"
    if not isinstance(event, dict):
        return None, "not a CloudEvent (not a JSON object)"
    if event.get("type") != EVENT_TYPE:
        return None, f"event type {event.get('type')!r}, expected {EVENT_TYPE!r}"
    try:
        case, classification = event["data"]["case"], event["data"]["classification"]
        _ = (event["id"], case["department_code"], case["item_code"], classification["archival_code"])
    except (KeyError, TypeError) as exc:
        return None, f"an {EVENT_TYPE} event without {exc}"
    return event, None


def summary(event: dict[str, Any]) -> dict[str, Any]:
    data = event["data"]
    case, classification, package = data["case"], data["classification"], data.get("package") or {}
    return {
        "event_id": event["id"],
        "case_key": event.get("subject"),
        "archival_code": classification["archival_code"],
        "title": case.get("case_title"),
        "applicant_name": (case.get("applicant") or {}).get("name"),
        "department_code": case["department_code"],
        "department_name": case.get("department_name"),
        "item_code": case["item_code"],
        "item_name": case.get("item_name"),
        "sharing_level": classification.get("sharing_level"),
        "package": f"s3://{package.get('bucket')}/{package.get('key')}",
        "completed_at": case.get("completed_at"),
    }


def wanted(event: dict[str, Any], args: argparse.Namespace) -> bool:
    """Client-side filtering: the topic carries every department's records (docs/subscribing.md)."""
    case, classification = event["data"]["case"], event["data"]["classification"]
    return (
        (not args.department or case["department_code"] in args.department)
        and (not args.item or case["item_code"] in args.item)
        and classification.get("sharing_level") in args.sharing_levels
    )


async def consume(args: argparse.Namespace) -> int:
    consumer = AIOKafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        enable_auto_commit=False,  # commit only what has been handled
        auto_offset_reset="earliest" if args.from_beginning else "latest",  # only when the group has no offsets
        max_poll_records=500,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    seen, printed, counts = SeenIds(), 0, {"duplicates": 0, "filtered out": 0, "skipped": 0}
    await consumer.start()
    try:
        last_activity = None  # the idle clock starts once partitions are assigned
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500)
            if last_activity is None and consumer.assignment():
                last_activity = time.monotonic()
            for partition, messages in batches.items():
                for message in messages:
                    where = f"{partition.topic}[{partition.partition}]@{message.offset}"
                    event, problem = parse(message.value)
                    if event is None:
                        counts["skipped"] += 1
                        note(f"skipping {where}: {problem}")
                    elif not seen.first_time(event["id"]):
                        counts["duplicates"] += 1
                    elif not wanted(event, args):
                        counts["filtered out"] += 1
                    else:
                        print(json.dumps(summary(event), ensure_ascii=False), flush=True)
                        printed += 1
                # Handled (printed, or knowingly skipped): only now is the position committed.
                await consumer.commit({partition: messages[-1].offset + 1})
            if batches:
                last_activity = time.monotonic()
            if args.max_events and printed >= args.max_events:
                break
            if args.idle_exit and last_activity and time.monotonic() - last_activity > args.idle_exit:
                note(f"no message for {args.idle_exit:g} s; stopping")
                break
    finally:
        await consumer.stop()
    note(f"printed {printed} records; " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--bootstrap", default="127.0.0.1:19092", help="Kafka brokers, host:port[,host:port]")
    parser.add_argument("--topic", default=EVENT_TYPE)
    parser.add_argument("--group", required=True, help="consumer group: one per subscribing system")
    parser.add_argument("--department", action="append", help="department code to keep (repeatable)")
    parser.add_argument("--item", action="append", help="approval item code to keep (repeatable)")
    parser.add_argument(
        "--sharing-levels",
        default="01",
        type=lambda text: set(text.split(",")),
        help="sharing levels this system is entitled to: 01, or 01,02 under a sharing agreement; never 03",
    )
    parser.add_argument("--from-beginning", action="store_true", help="a new group starts at the oldest event")
    parser.add_argument("--max-events", type=int, default=0, help="stop after printing N records")
    parser.add_argument("--idle-exit", type=float, default=0, help="stop after SECONDS without a message")
    return asyncio.run(consume(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
