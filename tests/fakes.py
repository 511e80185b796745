"""In-memory fakes of the ports, for unit tests only (integration and e2e tests use the real servers)."""

from __future__ import annotations

import copy
from typing import Any

from services.common.adapters.object_store import ObjectMissing, StoredObject
from services.common.series import AllocatedCode, Series


class InMemoryObjectStore:
    def __init__(self) -> None:
        self.buckets: dict[str, dict[str, tuple[bytes, dict[str, str]]]] = {}
        self.locked: set[str] = set()
        self.puts = 0
        self.retention: dict[tuple[str, str], tuple[Any, bool]] = {}

    async def ensure_bucket(self, bucket: str, *, object_lock: bool = False) -> None:
        self.buckets.setdefault(bucket, {})
        if object_lock:
            self.locked.add(bucket)

    async def put_bytes(
        self, bucket: str, key: str, data: bytes, *, content_type: str, metadata: dict[str, str] | None = None
    ) -> None:
        if bucket in self.locked and key in self.buckets[bucket]:
            raise AssertionError(f"overwrite of write-once object {bucket}/{key}")
        self.buckets[bucket][key] = (bytes(data), dict(metadata or {}))
        self.puts += 1

    async def put_file(
        self,
        bucket: str,
        key: str,
        file: Any,
        length: int,
        *,
        content_type: str,
        metadata: dict[str, str] | None = None,
    ) -> None:
        await self.put_bytes(bucket, key, file.read(length), content_type=content_type, metadata=metadata)

    async def get_bytes(self, bucket: str, key: str, *, version_id: str | None = None) -> bytes:
        if key not in self.buckets.get(bucket, {}):
            raise ObjectMissing(f"{bucket}/{key}")
        return self.buckets[bucket][key][0]

    async def get_into(self, bucket: str, key: str, out: Any, *, version_id: str | None = None) -> int:
        data = await self.get_bytes(bucket, key, version_id=version_id)
        out.write(data)
        return len(data)

    async def stat(self, bucket: str, key: str, *, version_id: str | None = None) -> StoredObject | None:
        item = self.buckets.get(bucket, {}).get(key)
        return StoredObject(bucket, key, len(item[0]), item[1], "v1") if item else None

    async def put_write_once(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        content_type: str,
        metadata: dict[str, str] | None = None,
        retain_until: Any = None,
        legal_hold: bool = False,
    ) -> Any:
        from services.common.adapters.object_store import WriteOnce

        if key in self.buckets[bucket]:  # If-None-Match: * refused; the version already there stays
            return WriteOnce("v1", created=False)
        await self.put_bytes(bucket, key, data, content_type=content_type, metadata=metadata)
        self.retention[(bucket, key)] = (retain_until, legal_hold)
        return WriteOnce("v1", created=True)

    async def put_write_once_file(
        self,
        bucket: str,
        key: str,
        path: Any,
        *,
        content_type: str,
        metadata: dict[str, str] | None = None,
        retain_until: Any = None,
        legal_hold: bool = False,
    ) -> Any:
        return await self.put_write_once(
            bucket,
            key,
            path.read_bytes(),
            content_type=content_type,
            metadata=metadata,
            retain_until=retain_until,
            legal_hold=legal_hold,
        )

    async def put_new_version(
        self,
        bucket: str,
        key: str,
        data: bytes,
        *,
        content_type: str,
        metadata: dict[str, str] | None = None,
        retain_until: Any = None,
        legal_hold: bool = False,
    ) -> str:
        """A repair's new version: this fake keeps the latest version only (the locked old one is gone)."""
        self.buckets[bucket][key] = (bytes(data), dict(metadata or {}))
        self.retention[(bucket, key)] = (retain_until, legal_hold)
        self.puts += 1
        return f"v{self.puts}"

    async def list_keys(self, bucket: str, prefix: str) -> set[str]:
        return {k for k in self.buckets.get(bucket, {}) if k.startswith(prefix)}

    async def copy(self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str) -> None:
        self.buckets[dst_bucket][dst_key] = self.buckets[src_bucket][src_key]


class RecordingPublisher:
    def __init__(self, failures_before_success: int = 0, fault: Exception | None = None) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []
        self._failures = failures_before_success
        self._fault = fault or ConnectionError("broker unavailable")

    async def publish(self, topic: str, key: bytes, value: bytes) -> None:
        if self._failures > 0:
            self._failures -= 1
            raise self._fault
        self.sent.append((topic, key, value))


class InMemoryIndex:
    """Archived records with the same idempotency rules as PgIndex (codes are classification's store)."""

    def __init__(self) -> None:
        self.records: dict[str, tuple[dict[str, Any], list[dict[str, Any]], dict[str, Any]]] = {}

    async def archived_event(self, case_key: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.records[case_key][2]) if case_key in self.records else None

    async def code_allocated_at(self, case_key: str) -> Any:
        return None

    async def archived_revision_before(self, platform: str, case_number: str, revision: int) -> Any:
        from contracts.v1 import SupersededRevision

        earlier = [
            row
            for row, _, _ in self.records.values()
            if (row["source_platform"], row["case_number"]) == (platform, case_number) and row["revision"] < revision
        ]
        if not earlier:
            return None
        newest = max(earlier, key=lambda row: row["revision"])
        return SupersededRevision(
            case_key=newest["case_key"], revision=newest["revision"], archival_code=newest["archival_code"]
        )

    async def insert_archived_record(
        self,
        record_row: dict[str, Any],
        file_rows: list[dict[str, Any]],
        archived_event: dict[str, Any],
        **extra_rows: Any,  # event_rows, code_row (PgIndex)
    ) -> dict[str, Any]:
        key = record_row["case_key"]
        if key not in self.records:
            self.records[key] = (record_row, file_rows, archived_event)
        return copy.deepcopy(self.records[key][2])


class InMemoryClassificationStore:
    """Classification's store (schedule_store.PgClassificationStore) with the same rules, in memory:
    one code and one classification per case, item numbers 1..n per series, a review queue."""

    def __init__(self) -> None:
        from types import SimpleNamespace

        self._ns = SimpleNamespace
        self.series: dict[Series, int] = {}
        self.codes: dict[str, AllocatedCode] = {}
        self.classified: dict[str, dict[str, Any]] = {}
        self.decisions: dict[str, dict[str, Any]] = {}
        self.reviews: dict[str, dict[str, Any]] = {}

    async def prior(self, case_key: str) -> Any:
        review = self.reviews.get(case_key)
        return self._ns(
            classified_event=copy.deepcopy(self.classified.get(case_key)),
            review_status=review["status"] if review else None,
        )

    async def enqueue_review(self, *, case_key: str, **fields: Any) -> bool:
        if case_key in self.reviews:
            return False
        self.reviews[case_key] = {"case_key": case_key, "status": "waiting", **copy.deepcopy(fields)}
        return True

    async def record_classification(
        self,
        *,
        case_key: str,
        item_code: str,
        series: Series,
        decision: dict[str, Any],
        format_code: Any,
        make_event: Any,
        review_decision: dict[str, Any] | None = None,
    ) -> tuple[dict[str, Any], bool]:
        if case_key in self.classified:
            return copy.deepcopy(self.classified[case_key]), False
        number = self.series.get(series, 0) + 1
        self.series[series] = number
        self.codes[case_key] = AllocatedCode(number, format_code(series, number), newly_allocated=True)
        event = make_event(self.codes[case_key], series)
        self.classified[case_key] = copy.deepcopy(event)
        self.decisions[case_key] = dict(decision)
        if review_decision is not None:
            self.reviews[case_key].update(status="decided", decision=review_decision)
        return event, True


class InMemoryPlatformRegistry:
    """The platform registry with one secret per platform, and the event ids seen."""

    def __init__(self, platforms: dict[str, tuple[str, str]]) -> None:  # id → (dialect, secret)
        from services.capture.adapters.platform_registry import Platform

        self.platforms = {
            pid: Platform(pid, pid, dialect, True, (secret,)) for pid, (dialect, secret) in platforms.items()
        }
        self.seen: dict[tuple[str, str], str] = {}

    async def get(self, platform_id: str) -> Any:
        return self.platforms.get(platform_id)

    async def remember_event(self, platform_id: str, event_id: str, content_sha256: str) -> Any:
        from services.capture.adapters.platform_registry import Seen

        key = (platform_id, event_id)
        if key not in self.seen:
            self.seen[key] = content_sha256
            return Seen.NEW
        return Seen.REPLAY if self.seen[key] == content_sha256 else Seen.CONFLICT


class MappingFetcher:
    """Serves URL → bytes from a dict; anything else is unreachable."""

    def __init__(self, files: dict[str, bytes] | None = None) -> None:
        self.files = files or {}

    async def fetch(self, url: str, *, max_bytes: int | None = None) -> Any:
        import io

        from services.capture.adapters.file_fetcher import Fetched, FetchFailed
        from services.common.digests import digests_of

        if url not in self.files:
            raise FetchFailed("unreachable", f"HTTP 404 from {url}")
        data = self.files[url]
        if max_bytes is not None and len(data) > max_bytes:
            raise FetchFailed("too_large", f"more than {max_bytes} bytes")
        digests = digests_of(data)
        return Fetched(io.BytesIO(data), digests.size, digests.sha256, digests.sm3, None)


# --- validation (issue 4) -------------------------------------------------------------------------------


class FakeVirusScanner:
    """Answers like clamd: FOUND for anything that holds a signature in `signatures`; `down=True` raises
    the same transient fault as an unreachable clamd; `error` is answered (clamd's ERROR line, e.g. a
    stream over StreamMaxLength) for the next `errors` scans."""

    def __init__(
        self,
        signatures: dict[bytes, str] | None = None,
        *,
        down: bool = False,
        errors: int = 0,
        error: str = "INSTREAM size limit exceeded. ERROR",
    ) -> None:
        from samples.defects import eicar

        self.signatures = signatures if signatures is not None else {eicar(): "Eicar-Test-Signature"}
        self.down = down
        self.errors, self.error = errors, error
        self.scanned = 0

    async def scan(self, data):  # type: ignore[no-untyped-def]
        from services.validation.adapters.clamav import ClamdUnavailable, ClamdVerdict
        from services.validation.formats.source import Source

        data = b"".join(Source.of(data).chunks())  # the step hands a spooled file; the test files are small

        if self.down:
            raise ClamdUnavailable("clamd at 127.0.0.1:1 is not reachable: connection refused")
        if self.errors > 0:
            self.errors -= 1
            return ClamdVerdict("error", None, self.error)
        self.scanned += 1
        for needle, name in self.signatures.items():
            if needle in data:
                return ClamdVerdict("infected", name, f"stream: {name} FOUND")
        return ClamdVerdict("clean", None, "stream: OK")


class FakeTrustAnchors:
    """Signature trust anchors per platform; by default every platform trusts the samples CA, as the
    sample platforms are configured (archivectl.platforms.sample_platform_secrets)."""

    def __init__(self, anchors: dict[str, tuple[bytes, ...]] | None = None) -> None:
        self.anchors = anchors
        self.asked: list[str] = []

    async def for_platform(self, platform_id: str):  # type: ignore[no-untyped-def]
        from samples.signatures import sample_ca_der
        from services.validation.formats import TrustAnchors

        self.asked.append(platform_id)
        if self.anchors is None:
            return TrustAnchors(platform_id, (sample_ca_der(),))
        return TrustAnchors(platform_id, self.anchors.get(platform_id, ()))


class InMemoryQuarantine:
    """The quarantine and case-number registry with PgQuarantine's rules."""

    def __init__(self) -> None:
        self.case_numbers: dict[tuple[str, str, int], dict[str, Any]] = {}
        self.entries: dict[str, dict[str, Any]] = {}

    async def claim_case_number(  # type: ignore[no-untyped-def]
        self, platform, case_number, revision, *, applicant_id_number, item_code, fingerprint, binds
    ):
        from services.validation.domain import decide_case_number

        row = {
            "revision": revision,
            "applicant_id_number": applicant_id_number,
            "item_code": item_code,
            "fingerprint": fingerprint,
            "binds": False,
        }
        mine = self.case_numbers.setdefault((platform, case_number, revision), row)
        rows = sorted(
            (v for (p, n, _), v in self.case_numbers.items() if (p, n) == (platform, case_number)),
            key=lambda r: r["revision"],
        )
        answer = decide_case_number(rows, revision, applicant_id_number, item_code, fingerprint)
        if answer.conflict != "revision":
            mine["binds"] = binds and answer.conflict is None
        return answer

    def _close(self, platform: str, case_number: str, revision: int, status: str) -> int:
        n = 0
        for e in self.entries.values():
            earlier = e["revision"] < revision or (
                status == "closed" and e["revision"] == revision and e["stage"] == "capture"
            )
            if (e["platform"], e["case_number"]) == (platform, case_number) and earlier:
                if e["status"] == "open":
                    e.update(status=status, closed_by_revision=revision)
                    n += 1
        return n

    async def open_entry(
        self,
        *,
        case_key,
        platform,
        case_number,
        revision,
        case_title,
        failures,  # type: ignore[no-untyped-def]
        rejected_event_id,
        correlation_id,
        department_code=None,
        department_name=None,
        item_code=None,
        stage="validation",
    ):
        self.entries.setdefault(
            case_key,
            {
                "platform": platform,
                "case_number": case_number,
                "revision": revision,
                "failures": failures,
                "department_code": department_code,
                "status": "open",
                "closed_by_revision": None,
                "rejected_event_id": rejected_event_id,
                "stage": stage,
            },
        )
        self._close(platform, case_number, revision, "superseded")

    async def close_earlier(self, platform: str, case_number: str, revision: int) -> int:
        return self._close(platform, case_number, revision, "closed")


def fixity_validation_ports() -> dict[str, Any]:
    """Validation's ports for step-chaining tests whose files are placeholders, not real PDFs or scans:
    only the fixity checks of the catalogue apply (the full catalogue: tests/unit/test_checks*.py)."""
    from services.validation.checks import CATALOGUE
    from services.validation.rules import RuleBook

    fixity = {"AUTH-FIXITY-STAGING", "AUTH-DIGEST-SHA256", "AUTH-DIGEST-SM3", "AUTH-SIZE", "SEC-VIRUS"}
    rules = RuleBook.from_mapping({"defaults": {"disabled_checks": sorted(set(CATALOGUE) - fixity)}})
    return {"scanner": FakeVirusScanner(), "quarantine": InMemoryQuarantine(), "rules": rules}


# --- the services built through their composition roots, with these fakes ------------------------------


async def capture_step(
    store: InMemoryObjectStore,
    *,
    platforms: dict[str, tuple[str, str]] | None = None,
    files: dict[str, bytes] | None = None,
    bucket: str = "staging",
    quarantine: Any = None,
    **settings: Any,
) -> Any:
    """Capture as services/capture/bootstrap.py builds it, on the fakes (`settings`: CaptureSettings fields)."""
    from services.capture import bootstrap
    from services.capture.config import CaptureSettings
    from tests.factories import PLATFORM_SECRET

    registry = InMemoryPlatformRegistry(platforms or {"market-regulation": ("unified/v1", PLATFORM_SECRET)})
    service = await bootstrap.build(
        CaptureSettings(staging_bucket_base=bucket, **settings),
        store=store,
        registry=registry,
        fetcher=MappingFetcher(files),
        quarantine=quarantine if quarantine is not None else InMemoryQuarantine(),
    )
    return service.step


async def validation_step(
    store: InMemoryObjectStore,
    *,
    scanner: Any = None,
    quarantine: Any = None,
    rules: Any = None,
    mode: str = "wait",
    trust_anchors: Any = None,
    pdfa: Any = None,
) -> Any:
    """Validation as services/validation/bootstrap.py builds it, on fakes (a clean scanner, an empty
    quarantine, the sample platforms' trust anchors and the bundled item rules unless given; no veraPDF
    unless a fake one is given)."""
    from services.validation import bootstrap
    from services.validation.config import ValidationSettings
    from services.validation.rules import default_rulebook

    built = await bootstrap.build(
        ValidationSettings(clamd_unavailable=mode, verapdf_url=""),
        store=store,
        scanner=scanner or FakeVirusScanner(),
        quarantine=quarantine if quarantine is not None else InMemoryQuarantine(),
        rules=rules or default_rulebook(),
        trust_anchors=trust_anchors or FakeTrustAnchors(),
        pdfa=pdfa,
    )
    return built.step


async def fixity_validation_step(store: InMemoryObjectStore) -> Any:
    """Validation as services/validation/bootstrap.py builds it, on the fakes of `fixity_validation_ports`."""
    return await validation_step(store, **fixity_validation_ports())


async def classification_step(store: InMemoryClassificationStore, schedule: Any, organisations: Any) -> Any:
    """Classification as services/classification/bootstrap.py builds it, on a fake store and a fixed schedule."""
    from services.classification import bootstrap
    from services.classification.config import ClassificationSettings
    from services.classification.steps import FixedSchedule

    settings = ClassificationSettings(fonds_code="Z109")
    built = await bootstrap.build(settings, store=store, schedules=FixedSchedule(schedule), organisations=organisations)
    return built.step


async def storage_step(
    store: InMemoryObjectStore,
    index: InMemoryIndex,
    *,
    bucket: str = "archive",
    clock: Any = None,
    replica: InMemoryObjectStore | None = None,
) -> Any:
    """Storage as services/storage/bootstrap.py builds it (no scheduled audit), on the fakes: two sites,
    the replica a fresh in-memory store unless given."""
    from contracts.envelope import utc_now
    from services.storage import bootstrap
    from services.storage.config import StorageSettings

    settings = StorageSettings(archive_bucket_base=bucket, fixity_interval_seconds=0)
    replica = replica if replica is not None else InMemoryObjectStore()
    built = await bootstrap.build(
        settings,
        store=store,
        replica=replica,
        index=index,  # type: ignore[arg-type]
        clock=clock or utc_now,
    )
    return built.step
