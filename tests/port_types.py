"""Typing only (never imported at run time): mypy checks that every adapter satisfies its port.

Each function assigns an adapter instance to a variable of its port's type, so a method whose signature
drifts from the Protocol fails `make lint`. tests/unit/test_ports.py checks the same pairs at run time
(and the fakes too); a new adapter is added in both places."""

from __future__ import annotations

from services.capture.adapters.file_fetcher import HttpFileFetcher
from services.capture.adapters.platform_registry import PgPlatformRegistry
from services.capture.ports import FileFetcher, PlatformRegistry
from services.classification.adapters.schedule_store import PgClassificationStore
from services.classification.ports import ClassificationStore, ReviewStore, ScheduleVersions
from services.common.adapters.object_store import MinioObjectStore, ObjectStore
from services.common.producer import KafkaPublisher
from services.common.runner import Publisher
from services.common.stream_app import FaustPublisher
from services.storage.adapters.index import PgIndex
from services.storage.ports import AuditIndex, RecordIndex, ScheduledAuditIndex, StorageIndex
from services.validation.adapters.clamav import ClamdClient
from services.validation.adapters.quarantine import PgQuarantine
from services.validation.ports import Quarantine, VirusScanner


def object_store(adapter: MinioObjectStore) -> None:
    _: ObjectStore = adapter


def capture(registry: PgPlatformRegistry, fetcher: HttpFileFetcher) -> None:
    _registry: PlatformRegistry = registry
    _fetcher: FileFetcher = fetcher


def validation(scanner: ClamdClient, quarantine: PgQuarantine) -> None:
    _scanner: VirusScanner = scanner
    _quarantine: Quarantine = quarantine


def classification(store: PgClassificationStore) -> None:
    _store: ClassificationStore = store
    _versions: ScheduleVersions = store
    _reviews: ReviewStore = store


def storage(index: PgIndex) -> None:
    _records: RecordIndex = index
    _audit: AuditIndex = index
    _scheduled: ScheduledAuditIndex = index
    _whole: StorageIndex = index


def publishers(kafka: KafkaPublisher, faust: FaustPublisher) -> None:
    _kafka: Publisher = kafka
    _faust: Publisher = faust
