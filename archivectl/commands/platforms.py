"""Commands for the platform registry: register, rotate a secret, list, enable/disable, the signature
trust anchors (`platform trust add|list|remove`); and replaying
kept source events through capture after a mapping was fixed."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import timedelta
from pathlib import Path

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
    _register_trust(actions)
    capture = sub.add_parser("capture", help="capture operations")
    capture_actions = capture.add_subparsers(dest="action", required=True)
    replay = capture_actions.add_parser("replay", help="re-run kept source events through capture")
    replay.add_argument("--platform")
    replay.add_argument("--event-id", action="append")
    replay.set_defaults(run=cmd_replay)


# --- signature trust anchors (issue 12) -------------------------------------------------------------


async def _trust_store(settings: ArchiveSettings):  # type: ignore[no-untyped-def]
    from services.validation.adapters.trust_anchors import PgTrustAnchors

    _, pool = await registry_for(settings)  # migrates first, like every registry command
    return PgTrustAnchors(pool), pool


def cmd_trust_add(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    pem = Path(args.pem_file).read_bytes()

    async def run():  # type: ignore[no-untyped-def]
        store, pool = await _trust_store(settings)
        try:
            return await store.add(args.platform_id, pem)
        finally:
            await pool.close()

    try:
        added = asyncio.run(run())
    except (LookupError, ValueError) as exc:
        print(f"platform trust: {exc}", file=sys.stderr)
        return 2
    for anchor in added:
        until = f"{anchor.not_after:%Y-%m-%d}"
        print(f"{args.platform_id}: trusts {anchor.subject} (SHA-256 {anchor.fingerprint_sha256}, until {until})")
    print("validation picks the change up within AA_TRUST_ANCHORS_TTL_SECONDS (60 s by default).")
    return 0


def cmd_trust_list(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    async def run():  # type: ignore[no-untyped-def]
        store, pool = await _trust_store(settings)
        try:
            return await store.list(args.platform_id)
        finally:
            await pool.close()

    anchors = asyncio.run(run())
    for a in anchors:
        print(f"{a.platform_id:<24} {a.fingerprint_sha256}  until {a.not_after:%Y-%m-%d}  {a.subject}")
    if not anchors:
        print("no trust anchors: every signer is untrusted (AUTH-SIGNER-TRUSTED warns)")
    return 0


def cmd_trust_remove(settings: ArchiveSettings, args: argparse.Namespace) -> int:
    async def run() -> int:
        store, pool = await _trust_store(settings)
        try:
            return await store.remove(args.platform_id, args.fingerprint)
        finally:
            await pool.close()

    try:
        removed = asyncio.run(run())
    except ValueError as exc:
        print(f"platform trust: {exc}", file=sys.stderr)
        return 2
    if removed == 0:
        print(f"platform trust: {args.platform_id} has no anchor with fingerprint {args.fingerprint}…", file=sys.stderr)
        return 1
    print(f"{args.platform_id}: {removed} trust anchor(s) removed")
    return 0


def _register_trust(actions: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    trust = actions.add_parser("trust", help="the CA certificates a platform's signatures are trusted under")
    verbs = trust.add_subparsers(dest="trust_action", required=True)
    add = verbs.add_parser("add", help="trust the CA certificate(s) of a PEM file for a platform")
    add.add_argument("platform_id")
    add.add_argument("pem_file")
    add.set_defaults(run=cmd_trust_add)
    lst = verbs.add_parser("list", help="a platform's trust anchors (all platforms' without an id)")
    lst.add_argument("platform_id", nargs="?")
    lst.set_defaults(run=cmd_trust_list)
    rm = verbs.add_parser("remove", help="stop trusting a CA, by (a prefix of, 8+ hex) its SHA-256 fingerprint")
    rm.add_argument("platform_id")
    rm.add_argument("fingerprint")
    rm.set_defaults(run=cmd_trust_remove)
