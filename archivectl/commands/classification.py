"""Classification commands: the retention schedule (check, load, list, activate), the manual review
queue (list, show, decide) and reclassification of classified cases under another schedule version."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import sys
from pathlib import Path
from typing import Any

from contracts.v1 import ClassifiedEvent, topics
from services.classification.adapters.schedule_store import PgClassificationStore, ScheduleVersionConflict
from services.classification.domain import decision_from_rule
from services.classification.review import (
    DecidedButNotPublished,
    ReviewRefused,
    check_values,
    decide_and_publish,
    describe,
    filing_of,
    load_schedule,
)
from services.classification.schedule import Schedule, ScheduleError, load_schedule_file
from services.classification.steps import install_schedule
from services.common.producer import KafkaPublisher
from services.common.settings import ArchiveSettings

_COMPARED = ("category_code", "class_code", "retention", "security_level", "sharing_level")


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 1


async def _schedule(store: PgClassificationStore, version: str | None) -> Schedule:
    return await load_schedule(store, version)


def _progress(done: int, total: int) -> None:
    if total > 1:
        print(f"  {done}/{total}", file=sys.stderr, flush=True)


# --- schedule ------------------------------------------------------------------------------------------


def cmd_schedule(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    if args.action == "check":
        try:
            schedule = load_schedule_file(args.file)
        except ScheduleError as exc:
            return _fail(str(exc))
        print(f"schedule {args.file}: version {schedule.version}, {len(schedule.rules)} rules — OK (nothing loaded)")
        return 0
    return asyncio.run(_schedule_db(settings, args))


async def _schedule_db(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    if args.action == "load":
        try:  # checked completely before the database is touched: a refused file changes nothing
            schedule = load_schedule_file(args.file)
        except ScheduleError as exc:
            return _fail(f"{exc}\nnothing was loaded; the version in force stays in force")
    store = await PgClassificationStore.connect(settings)
    try:
        if args.action == "load":
            try:
                outcome = await install_schedule(
                    store, schedule, source_file=Path(args.file).name, loaded_by=args.by, activate=not args.no_activate
                )
            except ScheduleVersionConflict as exc:
                return _fail(f"{exc}\nnothing was loaded; the version in force stays in force")
            state = "loaded" if outcome.newly_loaded else "already loaded (same file)"
            active = await store.active_version()
            print(f"schedule {schedule.version}: {state}, {outcome.rule_count} rules; in force: {active}")
            return 0
        if args.action == "activate":
            try:
                await store.activate(args.version, activated_by=args.by)
            except KeyError as exc:
                return _fail(str(exc.args[0]))
            print(f"schedule {args.version} is now in force (new cases are classified by it)")
            return 0
        # list
        active = await store.active_version()
        rows = await store.versions()
        if not rows:
            print("no schedule loaded (the classification service loads the bundled one at its first start)")
        for row in rows:
            mark = "*" if row["version"] == active else " "
            print(
                f"{mark} {row['version']:<12} {row['rules']:>3} rules  loaded {row['loaded_at']:%Y-%m-%d %H:%M} "
                f"by {row['loaded_by']} from {row['source_file']}  {row['title']}"
            )
        if rows:
            print("(* = in force)")
        return 0
    finally:
        await store.close()


# --- review ------------------------------------------------------------------------------------------


def _parse_values(pairs: list[str] | None) -> dict[str, str]:
    values = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not value:
            raise ValueError(f"--values takes KEY=VALUE pairs, got {pair!r}")
        values[key.strip()] = value.strip()
    return check_values(values)


def cmd_review(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    return asyncio.run(_review(settings, args))


async def _review(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    store = await PgClassificationStore.connect(settings)
    try:
        if args.action == "list":
            rows = await store.reviews(None if args.all else "waiting")
            if not rows:
                print("review queue: empty" if not args.all else "review queue: nothing ever queued")
            for r in rows:
                print(f"{r['status']:<8} {r['case_key']}  {r['item_code']} {r['case_title']}")
                print(f"         queued {r['queued_at']:%Y-%m-%d %H:%M} under {r['schedule_version']}: {r['reason']}")
                if r["status"] == "decided":
                    print(f"         decided by {r['decided_by']} at {r['decided_at']:%Y-%m-%d %H:%M}: {r['decision']}")
            return 0
        review = await store.review(args.case_key)
        if review is None:
            return _fail(f"{args.case_key} is not in the review queue (`archivectl review list` shows what is)")
        if args.action == "show":
            shown = {k: v for k, v in review.items() if k != "validated_event"}
            shown["case"] = review["validated_event"]["data"]["case"]
            print(json.dumps(shown, ensure_ascii=False, indent=2, default=str))
            return 0
        return await _decide(settings, store, review, args)
    finally:
        await store.close()


async def _decide(
    settings: ArchiveSettings, store: PgClassificationStore, review: dict[str, Any], args: argparse.Namespace
) -> int:
    case_key = review["case_key"]
    if review["status"] != "decided" and bool(args.rule) == bool(args.values):
        return _fail("give exactly one of --rule RULE_ID or --values KEY=VALUE ...")
    filing = filing_of(settings)
    try:
        async with KafkaPublisher(settings) as publisher:
            decision = await decide_and_publish(
                store,
                review,
                publisher=publisher,
                topic_name=settings.topic,
                decided_by=args.by,
                fonds_code=filing.fonds_code,
                organisations=filing.organisations,
                rule_id=args.rule,
                values=_parse_values(args.values) or None,
                organisation=args.organisation,
                note=args.note,
                version=args.version,
            )
    except (ReviewRefused, ValueError) as exc:
        return _fail(str(exc))
    except DecidedButNotPublished as exc:
        code = exc.decision.event.data.classification.archival_code
        print(
            f"{case_key}: decided ({code}); Kafka did not take its classified event now — it waits in the outbox "
            "and the storage worker's relay publishes it (or run this command again to try at once)"
        )
        return 0
    if decision.already_decided:
        print(
            f"{case_key} was already decided by {review['decided_by']}; its classified event "
            f"({decision.event.data.classification.archival_code}) was published again, with the same id"
        )
        return 0
    print(
        f"{case_key}: {describe(decision)}; published to {settings.topic(topics.CLASSIFIED)}, storage archives it next"
    )
    return 0


# --- reclassify ----------------------------------------------------------------------------------------


def cmd_reclassify(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    return asyncio.run(_reclassify(settings, args))


async def _reclassify(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    store = await PgClassificationStore.connect(settings)
    failures = 0
    try:
        try:
            schedule = await _schedule(store, args.version)
        except KeyError as exc:
            return _fail(str(exc.args[0]))
        for n, case_key in enumerate(args.case_keys, start=1):
            row = await store.classification(case_key)
            if row is None:
                print(f"  {case_key}: not classified — skipped", file=sys.stderr)
                failures += 1
                continue
            case = ClassifiedEvent.model_validate(row["classified_event"]).data.case
            old = {
                "rule_id": row["current_rule_id"],
                "schedule_version": row["current_schedule_version"],
                "category_code": row["current_category_code"],
                "class_code": row["current_class_code"],
                "retention": row["current_retention"],
                "security_level": row["current_security_level"],
                "sharing_level": row["current_sharing_level"],
            }
            rule = schedule.evaluate(case)
            new = None
            if rule is None:
                outcome = "unmatched"
            else:
                decided = decision_from_rule(rule, schedule.version).as_json()
                new = {k: decided[k] for k in old}
                outcome = "changed" if any(old[k] != new[k] for k in _COMPARED) else "unchanged"
            await store.record_reclassification(
                case_key=case_key,
                to_version=schedule.version,
                outcome=outcome,
                old=old,
                new=new,
                requested_by=args.by,
                note=args.note,
            )
            detail = ""
            if outcome == "changed" and new is not None:
                detail = ": " + ", ".join(f"{k} {old[k]} → {new[k]}" for k in _COMPARED if old[k] != new[k])
            elif outcome == "unmatched":
                detail = ": no rule of this version covers it; its decision stays"
            print(f"  {case_key} ({row['archival_code']}) under {schedule.version}: {outcome}{detail}")
            _progress(n, len(args.case_keys))
        print("archival codes are never changed; the audit is in table reclassifications")
        return 1 if failures else 0
    finally:
        await store.close()


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    who = getpass.getuser()

    p = sub.add_parser("schedule", help="the retention schedule: check, load, list, activate versions")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = actions.add_parser("check", help="check a schedule file without loading it")
    a.add_argument("file")
    a = actions.add_parser("load", help="check a schedule file, store it as a version and put it in force")
    a.add_argument("file")
    a.add_argument("--by", default=who, help="who loads it (default: the login name)")
    a.add_argument("--no-activate", action="store_true", help="store the version without putting it in force")
    a = actions.add_parser("activate", help="put an already loaded version in force (e.g. roll back)")
    a.add_argument("version")
    a.add_argument("--by", default=who)
    actions.add_parser("list", help="the loaded versions, the one in force marked *")
    p.set_defaults(run=cmd_schedule)

    p = sub.add_parser("review", help="the manual classification queue: list, show, decide")
    actions = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = actions.add_parser("list", help="cases waiting for a person")
    a.add_argument("--all", action="store_true", help="also the decided ones")
    a = actions.add_parser("show", help="one queued case in full")
    a.add_argument("case_key")
    a = actions.add_parser(
        "decide",
        help="decide a waiting case (pick a rule or give the values); publishes its classified event",
        description="Examples:  archivectl review decide market-regulation/X-1/r1 --rule SCJG-SL-ZY\n"
        "  archivectl review decide health/W-1/r1 --values retention=D10 category=XK class=BYXK "
        "security=内部 sharing=03 --organisation WJW",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    a.add_argument("case_key")
    a.add_argument("--rule", help="a rule id of the schedule version (default: the version in force)")
    a.add_argument("--values", nargs="+", metavar="KEY=VALUE", help="retention, category, class, security, sharing")
    a.add_argument("--organisation", help="organisation code for the archival code, if none is configured")
    a.add_argument("--version", help="schedule version whose rule/categories apply (default: in force)")
    a.add_argument("--by", default=who, help="who decides (default: the login name)")
    a.add_argument("--note", help="why, for the record")
    p.set_defaults(run=cmd_review)

    p = sub.add_parser(
        "reclassify", help="re-evaluate classified cases under a schedule version; audit only, codes never change"
    )
    p.add_argument("--version", required=True, help="the schedule version to apply")
    p.add_argument("case_keys", nargs="+", metavar="CASE_KEY")
    p.add_argument("--by", default=who)
    p.add_argument("--note")
    p.set_defaults(run=cmd_reclassify)
