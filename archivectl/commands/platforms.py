"""Commands for the platform registry: register, rotate a secret, list, enable/disable; and replaying
kept source events through capture after a mapping was fixed."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import timedelta

from archivectl.feed import publish_events
from archivectl.platforms import registry_for
from services.capture.dialect import load_dialects
from services.common.adapters.object_store import MinioObjectStore
from services.common.settings import ArchiveSettings


def cmd_register(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    if args.dialect not in load_dialects():
        print(
            f"platform: unknown dialect {args.dialect!r}; known: {', '.join(sorted(load_dialects()))}", file=sys.stderr
        )
        return 2

    async def run() -> str:
        registry, pool = await registry_for(settings)
        try:
            return await registry.register(args.platform_id, args.name or args.platform_id, args.dialect)
        finally:
            await pool.close()

    secret = asyncio.run(run())
    print(f"platform {args.platform_id} registered with dialect {args.dialect}.")
    print(f"secret (give it to the platform over a controlled channel; it is not shown again): {secret}")
    return 0


def cmd_rotate(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    async def run() -> str:
        registry, pool = await registry_for(settings)
        try:
            return await registry.rotate(args.platform_id, timedelta(hours=args.overlap_hours))
        finally:
            await pool.close()

    try:
        secret = asyncio.run(run())
    except LookupError as exc:
        print(f"platform: {exc}", file=sys.stderr)
        return 2
    print(f"new secret for {args.platform_id} (the previous ones stay valid for {args.overlap_hours} h): {secret}")
    return 0


def cmd_list(settings: ArchiveSettings, _: argparse.Namespace) -> int:
    async def run():  # type: ignore[no-untyped-def]
        registry, pool = await registry_for(settings)
        try:
            return await registry.list()
        finally:
            await pool.close()

    for platform, valid in asyncio.run(run()):
        state = "enabled" if platform.enabled else "DISABLED"
        print(
            f"{platform.platform_id:<24} {platform.dialect:<24} {state:<8} {valid} valid secret(s)  "
            f"{platform.display_name}"
        )
    return 0


def cmd_enable(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    async def run() -> None:
        registry, pool = await registry_for(settings)
        try:
            await registry.set_enabled(args.platform_id, args.enabled)
        finally:
            await pool.close()

    asyncio.run(run())
    print(f"platform {args.platform_id} {'enabled' if args.enabled else 'disabled'}")
    return 0


def cmd_replay(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    """Publish kept source events again, unchanged (their signatures still apply): capture maps them with
    today's mapping files. Cases already archived stay as archived; the ones rejected for their mapping
    are captured anew."""
    store = MinioObjectStore.from_settings(settings)
    prefix = f"_source-events/{args.platform}/" if args.platform else "_source-events/"
    wanted = set(args.event_id or [])

    async def run() -> int:
        keys = sorted(await store.list_keys(settings.staging_bucket, prefix))
        events = [json.loads(await store.get_bytes(settings.staging_bucket, k)) for k in keys]
        return await publish_events(settings, [e for e in events if not wanted or e.get("id") in wanted])

    sent = asyncio.run(run())
    print(f"replay: {sent} kept source event(s) published to {settings.topic('approval.completed.v1')}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    platform = sub.add_parser("platform", help="the platform registry: who may send, in which dialect")
    actions = platform.add_subparsers(dest="action", required=True)
    reg = actions.add_parser("register", help="register a platform (or change its dialect) and print its secret")
    reg.add_argument("platform_id")
    reg.add_argument("--dialect", required=True)
    reg.add_argument("--name")
    reg.set_defaults(run=cmd_register)
    rot = actions.add_parser("rotate", help="give a platform a new secret; the old one stays valid for a while")
    rot.add_argument("platform_id")
    rot.add_argument("--overlap-hours", type=float, default=24.0)
    rot.set_defaults(run=cmd_rotate)
    actions.add_parser("list", help="the registered platforms").set_defaults(run=cmd_list)
    for name, enabled in (("enable", True), ("disable", False)):
        p = actions.add_parser(name, help=f"{name} a platform's events")
        p.add_argument("platform_id")
        p.set_defaults(run=cmd_enable, enabled=enabled)
    capture = sub.add_parser("capture", help="capture operations")
    capture_actions = capture.add_subparsers(dest="action", required=True)
    replay = capture_actions.add_parser("replay", help="re-run kept source events through capture")
    replay.add_argument("--platform")
    replay.add_argument("--event-id", action="append")
    replay.set_defaults(run=cmd_replay)
