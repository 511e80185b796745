"""docker-compose.yml and the one Dockerfile cannot run here (no Docker engine); they are read instead: every
service and server named, each service's image built from the Dockerfile's stage for it, with its ports,
its command and nothing of samples/, bench/ or tests/."""

import argparse
import sys
from pathlib import Path

import pytest
import yaml

from archivectl.commands.pipeline import cmd_feed
from archivectl.local_services import PIPELINE, QUERY_HTTP_PORT, SERVICES
from services.common.metrics import DEFAULT_PORTS
from services.common.settings import ArchiveSettings
from tests import dockerfile as df

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]
NOT_IN_IMAGES = ("samples", "bench", "tests")


def compose() -> dict:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text())


def test_compose_names_every_service_and_server():
    spec_of = compose()["services"]
    assert {"kafka", "minio", "postgres", "clamav"} <= set(spec_of)
    assert set(SERVICES) <= set(spec_of)
    for service in PIPELINE:
        spec = spec_of[service]
        assert spec["ports"] == [f"{DEFAULT_PORTS[service]}:{DEFAULT_PORTS[service]}"]
        assert spec["environment"]["AA_KAFKA_BOOTSTRAP"] == "kafka:19092"
        assert spec["environment"]["AA_METRICS_HOST"] == "0.0.0.0"  # else the port mapping reaches nothing
        assert spec["environment"]["AA_STATE_DIR"].startswith("/tmp/")  # writable for the unprivileged user


def test_compose_builds_every_service_from_the_one_dockerfile_with_its_name():
    dockerfile = df.parse()
    for service in SERVICES:
        build = compose()["services"][service]["build"]
        assert build["context"] == "."
        assert (REPO / build["context"] / build.get("dockerfile", "Dockerfile")) == df.DOCKERFILE
        assert build["args"] == {"SERVICE": service}
        df.service_stage(dockerfile, service)  # the argument selects a stage that exists


def test_there_is_one_dockerfile():
    found = sorted(str(p.relative_to(REPO)) for p in REPO.rglob("Dockerfile*") if ".venv" not in p.parts)
    assert found == ["Dockerfile"]


def test_every_service_folder_is_self_contained():
    for service in PIPELINE:
        folder = REPO / "services" / service
        for part in ("domain.py", "steps.py", "app.py", "config.py", "__main__.py"):
            assert (folder / part).exists(), f"services/{service}/{part} is missing"


def test_each_service_stage_exposes_its_ports_and_runs_its_module():
    dockerfile = df.parse()
    for service in SERVICES:
        stage = df.service_stage(dockerfile, service).name
        expected = {DEFAULT_PORTS[service]} | ({QUERY_HTTP_PORT} if service == "query" else set())
        assert df.exposed_ports(dockerfile, stage) == expected, service
        cmd = df.command(dockerfile, stage)
        assert cmd == ["python", "-m", f"services.{service}"], service
        assert (REPO / "services" / service / "__main__.py").exists()  # what `python -m` runs
        assert dockerfile.last(stage, "USER") == "10001", service
    query = df.service_stage(dockerfile, "query").name
    assert f"AA_QUERY_PORT={QUERY_HTTP_PORT}" in dockerfile.last(query, "ENV")
    assert f"127.0.0.1:{QUERY_HTTP_PORT}/healthz" in dockerfile.last(query, "HEALTHCHECK")


def test_the_service_stages_share_one_installed_runtime():
    dockerfile = df.parse()
    for service in SERVICES:
        stage = df.service_stage(dockerfile, service)
        assert not stage.all("COPY") and not stage.all("RUN"), f"{service} builds something of its own"
        assert [s.name for s in dockerfile.chain(stage.name)][-1] == "runtime"
    # The system programs a service runs (ffmpeg, for validation's media decoding), then the package.
    assert dockerfile.stages["runtime"].all("RUN") == [
        "apt-get update && apt-get install -y --no-install-recommends ffmpeg && rm -rf /var/lib/apt/lists/*",
        "pip install --no-cache-dir .",
    ]


def test_production_images_carry_neither_samples_nor_bench_nor_tests():
    sources = df.copied_sources(df.parse())
    assert sources == {"pyproject.toml", "contracts", "services", "archivectl"}
    for path in NOT_IN_IMAGES:
        assert (REPO / path).is_dir()
        assert not df.in_build_context(path) and not df.in_build_context(f"{path}/__init__.py"), path
    for path in sources:
        assert df.in_build_context(path), f".dockerignore keeps out {path}, which the Dockerfile copies"
    for path in (".venv", ".stack", ".git", "docs", "services/capture/__pycache__"):
        assert not df.in_build_context(path), path


def test_the_dockerignore_reading_follows_dockers_rules():
    # the matcher the test above relies on, on the cases it depends on
    assert df.in_build_context("services/capture/app.py")
    assert not df.in_build_context("services/capture/__pycache__/app.cpython-311.pyc")
    assert not df.in_build_context("samples/generator.py")
    assert not df.in_build_context("README.md")


def test_production_code_does_not_import_samples_or_bench_at_import_time():
    # archivectl feed imports the sample generator when it runs (a source checkout's command); nothing
    # the images run may import samples/ or bench/ at the top of a module
    for package in ("contracts", "services", "archivectl"):
        for path in (REPO / package).rglob("*.py"):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.startswith(("import ", "from ")):
                    module = line.split()[1]
                    assert module.split(".")[0] not in NOT_IN_IMAGES, f"{path.relative_to(REPO)}: {line}"


def test_compose_runs_the_query_service_on_its_api_and_metrics_ports():
    spec = compose()["services"]["query"]
    assert spec["ports"] == [
        f"{QUERY_HTTP_PORT}:{QUERY_HTTP_PORT}",
        f"{DEFAULT_PORTS['query']}:{DEFAULT_PORTS['query']}",
    ]
    assert spec["environment"]["AA_KAFKA_BOOTSTRAP"] == "kafka:19092"
    assert spec["environment"]["AA_QUERY_HOST"] == "0.0.0.0"  # reachable from outside its container


def test_archivectl_feed_without_the_samples_says_where_to_run_it(monkeypatch, capsys):
    # as in a production image, where samples/ is not installed
    monkeypatch.setitem(sys.modules, "samples.generator", None)
    args = argparse.Namespace(count=1, seed=1)
    assert cmd_feed(ArchiveSettings(), args) == 2
    err = capsys.readouterr().err
    assert "samples/" in err and "source checkout" in err


def test_clamds_stream_limits_follow_captures_file_cap():
    """A file capture accepts must never be refused by clamd as over its stream limit (issue 12)."""
    import re

    from services.capture.config import CaptureSettings

    script = (REPO / "deploy/local/lib/clamav.sh").read_text(encoding="utf-8")
    default = re.search(r"CLAM_STREAM_MAX_BYTES=\$\{AA_MAX_FILE_BYTES:-(\d+)\}", script)
    assert default and int(default.group(1)) == CaptureSettings.model_fields["max_file_bytes"].default
    assert "StreamMaxLength $CLAM_STREAM_MAX_BYTES" in script and "MaxFileSize $CLAM_STREAM_MAX_BYTES" in script
    assert int(default.group(1)) < 2 * 1024**3, "ClamAV cannot scan files over 2 GB"
