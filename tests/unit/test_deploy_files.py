"""docker-compose.yml cannot run here (no Docker engine); it must still name every service and server."""

from pathlib import Path

import pytest
import yaml

from archivectl.local_services import PIPELINE, QUERY_HTTP_PORT
from services.common.metrics import DEFAULT_PORTS

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]


def test_compose_names_every_service_and_server():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    names = set(compose["services"])
    assert {"kafka", "minio", "postgres", "clamav"} <= names
    assert set(PIPELINE) <= names
    for service in PIPELINE:
        spec = compose["services"][service]
        assert spec["build"]["dockerfile"] == f"services/{service}/Dockerfile"
        assert (REPO / spec["build"]["dockerfile"]).exists()
        assert spec["ports"] == [f"{DEFAULT_PORTS[service]}:{DEFAULT_PORTS[service]}"]
        assert spec["environment"]["AA_KAFKA_BOOTSTRAP"] == "kafka:19092"
        assert spec["environment"]["AA_METRICS_HOST"] == "0.0.0.0"  # else the port mapping reaches nothing
        assert spec["environment"]["AA_STATE_DIR"].startswith("/tmp/")  # writable for the unprivileged user


def test_every_service_folder_is_self_contained():
    for service in PIPELINE:
        folder = REPO / "services" / service
        for part in ("domain.py", "steps.py", "app.py", "config.py", "Dockerfile", "__main__.py"):
            assert (folder / part).exists(), f"services/{service}/{part} is missing"


def test_compose_runs_the_query_service_on_its_api_and_metrics_ports():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    spec = compose["services"]["query"]
    assert spec["build"]["dockerfile"] == "services/query/Dockerfile"
    assert (REPO / spec["build"]["dockerfile"]).exists()
    assert spec["ports"] == [
        f"{QUERY_HTTP_PORT}:{QUERY_HTTP_PORT}",
        f"{DEFAULT_PORTS['query']}:{DEFAULT_PORTS['query']}",
    ]
    assert spec["environment"]["AA_KAFKA_BOOTSTRAP"] == "kafka:19092"
    assert spec["environment"]["AA_QUERY_HOST"] == "0.0.0.0"  # reachable from outside its container
