"""Shared fixtures. Integration and e2e tests run against the real local stack (`make stack-up`),
each test session in a namespace of its own: its own topics, consumer groups, buckets and database,
so a test run never touches what `make up` archived and leaves nothing that the next run trips on."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator

import pytest

from archivectl import local_services as local_services_module
from services.common.settings import ArchiveSettings

STACK_HINT = "the local stack is not running: start it with `make stack-up` (make test does this itself)"


def _reachable(hostport: str) -> bool:
    host, port = hostport.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


# The test layers: every collected test carries at least one of them (so `make test`, which selects by
# layer, never silently skips a test). A new layer marker (e.g. `chaos`) is registered in pyproject.toml
# and added here.
LAYER_MARKERS = frozenset({"unit", "integration", "e2e", "chaos"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unlayered = [item.nodeid for item in items if not LAYER_MARKERS & {mark.name for mark in item.iter_markers()}]
    if unlayered:
        raise pytest.UsageError(
            f"{len(unlayered)} test(s) carry none of the layer markers {sorted(LAYER_MARKERS)}: "
            + ", ".join(unlayered[:10])
            + " — add `pytestmark = pytest.mark.<layer>` to the module"
        )


@pytest.fixture(scope="session")
def settings() -> ArchiveSettings:
    namespace = os.environ.get("AA_TEST_NAMESPACE") or f"t{uuid.uuid4().hex[:10]}"
    s = ArchiveSettings(namespace=namespace, retry_initial_seconds=0.2, retry_max_seconds=2.0)
    base = ArchiveSettings()
    for name, where in [
        ("Kafka", s.kafka_bootstrap),
        ("MinIO", s.minio_endpoint),
        ("PostgreSQL", f"{s.pg_host}:{s.pg_port}"),
    ]:
        if not _reachable(where):
            pytest.fail(f"{name} does not answer on {where}: {STACK_HINT}", pytrace=False)
    assert s.pg_database != base.pg_database
    return s


@pytest.fixture(scope="session")
async def prepared(settings: ArchiveSettings) -> AsyncIterator[ArchiveSettings]:
    """Topics created and the database migrated for the session's namespace."""
    from archivectl.kafka_admin import ensure_topics
    from services.common.index.migrate import upgrade

    await ensure_topics(settings)
    await upgrade(settings)
    yield settings
    if not os.environ.get("AA_TEST_NAMESPACE"):  # a namespace of its own: leave no partitions behind
        from archivectl.kafka_admin import delete_namespace_topics

        await delete_namespace_topics(settings)


@pytest.fixture(scope="session")
def pipeline(prepared: ArchiveSettings) -> Iterator[ArchiveSettings]:
    """The four services running as separate processes, exactly as `make up` runs them."""
    from archivectl import local_services

    env = {
        "AA_RETRY_INITIAL_SECONDS": "0.2",
        "AA_RETRY_MAX_SECONDS": "2",
        "AA_LOG_LEVEL": "INFO",
        # capture: a small cap so that "too large" is quick to provoke; fast retries of a flaky file service
        "AA_MAX_FILE_BYTES": str(5 * 1024 * 1024),
        "AA_FETCH_BACKOFF_INITIAL_SECONDS": "0.2",
    }
    local_services.start(prepared.namespace, metrics_offset=local_services.free_metrics_offset(), extra_env=env)
    try:
        yield prepared
    finally:
        local_services.stop(prepared.namespace)


@pytest.fixture(scope="session")
def query_service(prepared: ArchiveSettings) -> Iterator[local_services_module.ServiceProcess]:
    """The query service (API and dashboard) as its own process in the session's namespace, exactly as
    `make up` runs it; `.url` is its base URL. Works beside `pipeline` (same namespace, same data)."""
    from archivectl import local_services

    offset = local_services.free_metrics_offset()
    (proc,) = local_services.start(
        prepared.namespace, metrics_offset=offset, services=("query",), extra_env={"AA_LOG_LEVEL": "INFO"}
    )
    try:
        local_services.wait_http(f"{proc.url}/healthz", timeout=60, proc=proc)
        yield proc
    finally:
        local_services.stop(prepared.namespace, services=("query",))
