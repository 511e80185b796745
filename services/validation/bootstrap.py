"""Validation's composition root: the object store, clamd, the quarantine and the trust anchors
(PostgreSQL) and veraPDF for every port not passed in, the item rules, and the step."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from contracts.v1 import CapturedEvent
from services.common.adapters.object_store import MinioObjectStore, ObjectStore
from services.common.composition import Service, open_database
from services.common.in_flight import Admission
from services.validation.adapters.clamav import ClamdClient
from services.validation.adapters.quarantine import PgQuarantine
from services.validation.adapters.trust_anchors import CachedTrustAnchors, PgTrustAnchors
from services.validation.adapters.verapdf import VeraPdfClient
from services.validation.config import ValidationSettings
from services.validation.ports import PdfaValidator, Quarantine, TrustAnchorSource, VirusScanner
from services.validation.rules import RuleBook
from services.validation.steps import scratch_bytes, validate_case


async def build(
    settings: ValidationSettings,
    *,
    store: ObjectStore | None = None,
    scanner: VirusScanner | None = None,
    quarantine: Quarantine | None = None,
    rules: RuleBook | None = None,
    trust_anchors: TrustAnchorSource | None = None,
    pdfa: PdfaValidator | None = None,
) -> Service[CapturedEvent]:
    closers: list[Callable[[], Awaitable[Any]]] = []
    if quarantine is None or trust_anchors is None:
        pool = await open_database(settings, max_size=4)
        closers.append(pool.close)
        quarantine = quarantine or PgQuarantine(pool)
        # The anchors live beside the platform registry, in the same database.
        trust_anchors = trust_anchors or CachedTrustAnchors(PgTrustAnchors(pool), settings.trust_anchors_ttl_seconds)
    if pdfa is None and settings.verapdf_url:
        pdfa = VeraPdfClient(settings.verapdf_url, timeout=settings.verapdf_timeout_seconds)
    step = partial(
        validate_case,
        store=store or MinioObjectStore.from_settings(settings),
        scanner=scanner
        or ClamdClient(settings.clamd_host, settings.clamd_port, timeout=settings.clamd_timeout_seconds),
        quarantine=quarantine,
        rules=rules or RuleBook.load(settings.item_rules_file),
        on_scanner_down=settings.clamd_unavailable,
        trust_anchors=trust_anchors,
        pdfa=pdfa,
        measuring=Admission(settings.measure_budget_bytes, settings.measure_max_files),
    )
    return Service(step, closers=closers, weigh=scratch_bytes)
