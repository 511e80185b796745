"""Every adapter satisfies the ports it is wired into, structurally: each method of the Protocol exists on
the adapter, is async where the port's is, and accepts every argument the port promises (same names and
kinds, defaults where the port has them; extra parameters only with defaults). The fakes of tests/fakes.py
are held to the same ports, so a unit test cannot pass on a fake the real adapter does not match."""

from __future__ import annotations

import inspect
from typing import Any, Protocol

import pytest

from services.capture.adapters.file_fetcher import HttpFileFetcher
from services.capture.adapters.platform_registry import PgPlatformRegistry
from services.capture.ports import FileFetcher, PlatformRegistry, QuarantineEntries
from services.classification.adapters.schedule_store import PgClassificationStore
from services.classification.ports import ClassificationStore, ReviewStore, ScheduleVersions
from services.common.adapters.case_progress import PgCaseProgress
from services.common.adapters.object_store import MinioObjectStore, ObjectStore
from services.common.adapters.quarantine_entries import PgQuarantineEntries
from services.common.producer import KafkaPublisher
from services.common.runner import ProgressJournal, Publisher
from services.common.stream_app import FaustPublisher
from services.storage.adapters.index import PgIndex
from services.storage.ports import AuditIndex, RecordIndex, ScheduledAuditIndex, StorageIndex
from services.validation.adapters.clamav import ClamdClient
from services.validation.adapters.quarantine import PgQuarantine
from services.validation.ports import Quarantine, VirusScanner
from tests import fakes

pytestmark = pytest.mark.unit

WIRED: list[tuple[type, type]] = [
    (MinioObjectStore, ObjectStore),
    (PgPlatformRegistry, PlatformRegistry),
    (HttpFileFetcher, FileFetcher),
    (ClamdClient, VirusScanner),
    (PgQuarantine, Quarantine),
    (PgQuarantineEntries, QuarantineEntries),
    (PgCaseProgress, ProgressJournal),
    (PgClassificationStore, ClassificationStore),
    (PgClassificationStore, ScheduleVersions),
    (PgClassificationStore, ReviewStore),
    (PgIndex, RecordIndex),
    (PgIndex, AuditIndex),
    (PgIndex, ScheduledAuditIndex),
    (PgIndex, StorageIndex),
    (KafkaPublisher, Publisher),
    (FaustPublisher, Publisher),
    # tests/port_types.py holds the same adapters to their ports for mypy (`make lint`).
    # The fakes stand in for the adapters in the unit tests (services built through bootstrap.build).
    (fakes.InMemoryObjectStore, ObjectStore),
    (fakes.InMemoryPlatformRegistry, PlatformRegistry),
    (fakes.MappingFetcher, FileFetcher),
    (fakes.FakeVirusScanner, VirusScanner),
    (fakes.InMemoryQuarantine, Quarantine),
    (fakes.InMemoryQuarantine, QuarantineEntries),
    (fakes.InMemoryClassificationStore, ClassificationStore),
    (fakes.InMemoryIndex, RecordIndex),
    (fakes.RecordingPublisher, Publisher),
]


def port_methods(port: type) -> dict[str, Any]:
    """The methods a Protocol declares, its bases' included."""
    methods: dict[str, Any] = {}
    for cls in reversed(port.__mro__):
        if cls in (object, Protocol) or not getattr(cls, "_is_protocol", False):
            continue
        methods.update({n: f for n, f in vars(cls).items() if inspect.isfunction(f) and not n.startswith("_")})
    return methods


def mismatches(adapter: type, port: type) -> list[str]:
    found = []
    for name, promised in port_methods(port).items():
        given = getattr(adapter, name, None)
        if given is None:
            found.append(f"{name}: missing")
            continue
        if inspect.iscoroutinefunction(promised) != inspect.iscoroutinefunction(given):
            found.append(f"{name}: async in one, not in the other")
        want = list(inspect.signature(promised).parameters.values())[1:]
        have = inspect.signature(given).parameters
        takes_kwargs = any(p.kind is p.VAR_KEYWORD for p in have.values())
        for p in want:
            q = have.get(p.name)
            if q is None:
                if not (takes_kwargs and p.kind is p.KEYWORD_ONLY):
                    found.append(f"{name}: no parameter {p.name!r}")
                continue
            positional = (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
            if (p.kind in positional) != (q.kind in positional) and q.kind is not q.POSITIONAL_OR_KEYWORD:
                found.append(f"{name}: {p.name!r} is {p.kind.description} in the port, {q.kind.description} here")
            if p.default is not p.empty and q.default is q.empty:
                found.append(f"{name}: {p.name!r} has a default in the port, none here")
        promised_names = {p.name for p in want}
        for q in list(have.values())[1:]:
            extra = q.name not in promised_names and q.kind not in (q.VAR_POSITIONAL, q.VAR_KEYWORD)
            if extra and q.default is q.empty:
                found.append(f"{name}: extra parameter {q.name!r} without a default")
    return found


@pytest.mark.parametrize(("adapter", "port"), WIRED, ids=[f"{a.__name__}-{p.__name__}" for a, p in WIRED])
def test_the_adapter_satisfies_its_port(adapter: type, port: type) -> None:
    assert port_methods(port), f"{port.__name__} declares no methods"
    assert mismatches(adapter, port) == []


def test_the_check_finds_a_missing_method_a_renamed_parameter_and_a_sync_method() -> None:
    class Broken:
        def archived_event(self, case_key: str) -> None: ...  # not async

        async def code_allocated_at(self, key: str) -> None: ...  # renamed parameter

    found = mismatches(Broken, RecordIndex)
    assert "insert_archived_record: missing" in found
    assert "archived_event: async in one, not in the other" in found
    assert "code_allocated_at: no parameter 'case_key'" in found
