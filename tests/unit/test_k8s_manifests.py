"""deploy/k8s must agree with the code it deploys: services, images, ports, settings, secrets.

No kubectl here: the YAML is read with PyYAML and its structure checked against docker-compose.yml, the
Dockerfile, the settings classes, services/common/metrics.py and docs/benchmarks.md."""

import importlib
import inspect
import os
import re
import tomllib
from pathlib import Path
from typing import Any

import mode
import pytest
import yaml

from archivectl.__main__ import build_parser
from archivectl.commands.pipeline import cmd_migrate, cmd_topics
from archivectl.kafka_admin import PARTITIONS
from archivectl.local_services import PIPELINE, QUERY_HTTP_PORT, SERVICES
from services.common.metrics import DEFAULT_PORTS
from services.common.settings import ArchiveSettings
from tests import dockerfile as df

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
NAMESPACE = "approval-archive"
SECRET_TEMPLATE = "secret.example.yaml"
SECRET_KEYS = {
    "AA_MINIO_ACCESS_KEY",
    "AA_MINIO_SECRET_KEY",
    "AA_MINIO_REPLICA_ACCESS_KEY",
    "AA_MINIO_REPLICA_SECRET_KEY",
    "AA_PG_PASSWORD",
}
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
VERSION = PYPROJECT["project"]["version"]


def load(name: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all((K8S / name).read_text(encoding="utf-8")) if doc is not None]


def manifest_files() -> list[str]:
    return sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")


def objects(kind: str) -> dict[str, dict[str, Any]]:
    found = {}
    for name in manifest_files():
        for doc in load(name):
            if doc["kind"] == kind:
                found[doc["metadata"]["name"]] = doc
    return found


def the_one(kind: str) -> dict[str, Any]:
    found = objects(kind)
    assert len(found) == 1, f"expected one {kind}, found {sorted(found)}"
    return next(iter(found.values()))


def compose() -> dict[str, Any]:
    return yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))


def archive_services_of_compose() -> dict[str, dict[str, Any]]:
    """The services docker-compose.yml builds from this repository (the servers come as ready images)."""
    return {name: spec for name, spec in compose()["services"].items() if "build" in spec}


def pod_specs() -> dict[str, dict[str, Any]]:
    specs = {name: d["spec"]["template"]["spec"] for name, d in objects("Deployment").items()}
    specs.update({name: j["spec"]["template"]["spec"] for name, j in objects("Job").items()})
    return specs


def container(deployment: str) -> dict[str, Any]:
    containers = objects("Deployment")[deployment]["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def port_number(c: dict[str, Any], port: int | str) -> int:
    """A probe's or Service's port, by number or by the container port's name."""
    if isinstance(port, int):
        return port
    named = {p["name"]: p["containerPort"] for p in c.get("ports", [])}
    assert port in named, f"no container port named {port!r} in {c['name']}"
    return named[port]


def settings_classes() -> list[type[ArchiveSettings]]:
    classes: list[type[ArchiveSettings]] = [ArchiveSettings]
    for service in SERVICES:
        module = importlib.import_module(f"services.{service}.config")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, ArchiveSettings) and cls not in classes:
                classes.append(cls)
    return classes


def settings_fields() -> set[str]:
    return {field for cls in settings_classes() for field in cls.model_fields}


def env_of_config_and_secret() -> dict[str, str]:
    return {**the_one("ConfigMap")["data"], **the_one("Secret")["stringData"]}


def quantity(value: str | int) -> float:
    """A Kubernetes quantity as bytes (memory) or cores (cpu)."""
    text = str(value)
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9}
    for suffix, factor in units.items():
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * factor
    return float(text)


# --- the kustomize base ---------------------------------------------------------------------------------


def test_kustomization_lists_every_manifest_except_the_secret_template():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    resources = kustomization["resources"]
    assert len(resources) == len(set(resources))
    assert SECRET_TEMPLATE not in resources, "the secret template must never be applied"
    assert set(resources) == set(manifest_files()) - {SECRET_TEMPLATE}
    assert kustomization["namespace"] == NAMESPACE
    assert "secretGenerator" not in kustomization
    assert not any(doc["kind"] == "Secret" for name in resources for doc in load(name))


def test_every_manifest_is_a_well_formed_object_of_the_namespace():
    assert the_one("Namespace")["metadata"]["name"] == NAMESPACE
    for name in manifest_files():
        docs = load(name)
        assert docs, f"{name} is empty"
        for doc in docs:
            assert {"apiVersion", "kind", "metadata"} <= set(doc), f"{name}: {doc.get('kind')}"
            assert doc["metadata"]["labels"]["app.kubernetes.io/part-of"] == NAMESPACE
            if doc["kind"] != "Namespace":
                assert doc["metadata"]["namespace"] == NAMESPACE, f"{name}: {doc['metadata']['name']}"


# --- services, images, ports --------------------------------------------------------------------------------


def test_every_archive_service_of_compose_has_a_deployment_with_its_image():
    services = archive_services_of_compose()
    assert set(services) == set(SERVICES)
    assert set(objects("Deployment")) == set(services)
    dockerfile = df.parse()
    for service, spec in services.items():
        assert load(f"{service}.yaml")[0]["kind"] == "Deployment"
        assert spec["build"]["args"] == {"SERVICE": service}
        stage = df.service_stage(dockerfile, service).name
        assert df.command(dockerfile, stage) == ["python", "-m", f"services.{service}"]
        image = f"approval-archive/{service}:{VERSION}"
        # the build command the manifest names, the image compose builds and the one the Deployment runs agree
        build = f"docker build --build-arg SERVICE={service} -t {image} ."
        assert build in (K8S / f"{service}.yaml").read_text(encoding="utf-8")
        assert spec["image"] == image
        c = container(service)
        assert c["image"] == image
        assert "command" not in c and "args" not in c, "the image's CMD starts the service"


def test_metrics_ports_are_the_services_default_ports_and_prometheus_is_told():
    for service in SERVICES:
        c = container(service)
        metrics = [p for p in c["ports"] if p["name"] == "metrics"]
        assert [p["containerPort"] for p in metrics] == [DEFAULT_PORTS[service]]
        dockerfile = df.parse()
        assert DEFAULT_PORTS[service] in df.exposed_ports(dockerfile, df.service_stage(dockerfile, service).name)
        annotations = objects("Deployment")[service]["spec"]["template"]["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/port"] == str(DEFAULT_PORTS[service])
        assert annotations["prometheus.io/path"] == "/metrics"
    # the metrics listen beyond the pod's loopback, and nobody moves them off their default ports
    assert the_one("ConfigMap")["data"]["AA_METRICS_HOST"] == "0.0.0.0"
    assert "AA_METRICS_PORT" not in env_of_config_and_secret()


def test_the_query_service_forwards_its_http_port():
    service = objects("Service")["query"]
    c = container("query")
    assert [p["port"] for p in service["spec"]["ports"]] == [QUERY_HTTP_PORT]
    assert port_number(c, service["spec"]["ports"][0]["targetPort"]) == QUERY_HTTP_PORT
    pod_labels = objects("Deployment")["query"]["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    config = the_one("ConfigMap")["data"]
    assert config["AA_QUERY_PORT"] == str(QUERY_HTTP_PORT)
    assert config["AA_QUERY_HOST"] == "0.0.0.0"


def test_deployment_selectors_match_their_pods():
    for name, d in objects("Deployment").items():
        selector = d["spec"]["selector"]["matchLabels"]
        assert selector.items() <= d["spec"]["template"]["metadata"]["labels"].items(), name
        assert selector["app.kubernetes.io/name"] == name
        assert d["spec"]["template"]["metadata"]["labels"]["app"] == name  # the `service` label in Prometheus


def test_replicas_one_per_worker_two_for_the_stateless_query_service():
    deployments = objects("Deployment")
    for service in PIPELINE:
        assert deployments[service]["spec"]["replicas"] == 1
        text = (K8S / f"{service}.yaml").read_text(encoding="utf-8")
        assert f"partition count ({PARTITIONS})" in text and "consumer group" in text
    assert deployments["query"]["spec"]["replicas"] == 2
    # storage's comment promises one fixity audit at a time: the code must take the lock
    assert "try_lock(AUDIT_LOCK_ID)" in (REPO / "services" / "storage" / "fixity.py").read_text(encoding="utf-8")
    assert "advisory lock" in (K8S / "storage.yaml").read_text(encoding="utf-8")


# --- settings and secrets ------------------------------------------------------------------------------------


def test_every_env_key_is_a_setting_the_code_reads():
    fields = settings_fields()
    keys = set(env_of_config_and_secret())
    for spec in pod_specs().values():
        for c in spec["containers"]:
            keys |= {e["name"] for e in c.get("env", [])}
    for key in sorted(keys):
        assert key.startswith("AA_") and key[3:].lower() in fields, f"{key} is read by no settings class"


def test_every_settings_class_accepts_the_config_and_secret(monkeypatch):
    for name in [n for n in os.environ if n.startswith("AA_")]:
        monkeypatch.delenv(name)
    for key, value in env_of_config_and_secret().items():
        monkeypatch.setenv(key, value)
    for cls in settings_classes():
        cls()  # raises on a value the class rejects
    settings = ArchiveSettings()
    assert settings.metrics_host == "0.0.0.0"
    assert settings.namespace == ""
    assert settings.state_dir.is_absolute()


def test_every_pod_takes_the_config_and_the_secret():
    config, secret = the_one("ConfigMap")["metadata"]["name"], the_one("Secret")["metadata"]["name"]
    for name, spec in pod_specs().items():
        for c in spec["containers"]:
            refs = c["envFrom"]
            assert {"configMapRef": {"name": config}} in refs, name
            assert {"secretRef": {"name": secret}} in refs, name


def test_the_secret_is_a_template_with_placeholders():
    text = (K8S / SECRET_TEMPLATE).read_text(encoding="utf-8")
    assert "replace before applying" in text.lower()
    secret = the_one("Secret")
    assert set(secret["stringData"]) == SECRET_KEYS
    assert "data" not in secret
    for key, value in secret["stringData"].items():
        assert "REPLACE" in value, key
    assert not SECRET_KEYS & set(the_one("ConfigMap")["data"])
    assert not [k for k in the_one("ConfigMap")["data"] if re.search("PASSWORD|SECRET|ACCESS_KEY", k)]


def test_no_manifest_carries_a_credential_of_the_local_stack():
    credentials = set()
    for spec in compose()["services"].values():
        for key, value in (spec.get("environment") or {}).items():
            if re.search("PASSWORD|SECRET|ACCESS_KEY|ROOT_USER", key):
                credentials.add(str(value))
    credentials |= {str(ArchiveSettings.model_fields[k[3:].lower()].default) for k in SECRET_KEYS}
    assert "archive-admin-secret" in credentials
    for value in the_one("Secret")["stringData"].values():
        assert value not in credentials
    for path in K8S.iterdir():
        text = path.read_text(encoding="utf-8")
        for credential in credentials:
            if len(credential) >= 8:  # "archive" is also the user and database name
                assert credential not in text, f"{path.name} contains {credential!r}"


# --- how the pods run ----------------------------------------------------------------------------------------


def test_pods_run_as_the_images_user_with_a_read_only_root():
    for name, spec in pod_specs().items():
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True, name
        assert pod["runAsUser"] == 10001, name
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, name
        assert spec["automountServiceAccountToken"] is False, name
        empty_dirs = {v["name"] for v in spec.get("volumes", []) if "emptyDir" in v}
        for c in spec["containers"]:
            sc = c["securityContext"]
            assert sc["allowPrivilegeEscalation"] is False, name
            assert sc["readOnlyRootFilesystem"] is True, name
            assert sc["capabilities"]["drop"] == ["ALL"], name
            mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts", [])}
            assert mounts.get("/tmp") in empty_dirs, f"{name}: /tmp must be a writable emptyDir"
    dockerfile = df.parse()
    for service in SERVICES:
        assert dockerfile.last(df.service_stage(dockerfile, service).name, "USER") == "10001", service


def test_the_query_service_keeps_its_page_images_on_a_bounded_volume_of_its_own():
    spec = objects("Deployment")["query"]["spec"]["template"]["spec"]
    env = {e["name"]: e["value"] for e in container("query").get("env", [])}
    volumes = {v["name"]: v for v in spec["volumes"]}
    [mount] = [m for m in container("query")["volumeMounts"] if m["mountPath"] == env["AA_PREVIEW_CACHE_DIR"]]
    limit = volumes[mount["name"]]["emptyDir"]["sizeLimit"]
    assert limit.endswith("Mi") and int(env["AA_PREVIEW_CACHE_MAX_BYTES"]) < int(limit[:-2]) * 2**20


def test_every_worker_can_write_fausts_state_dir():
    state_dir = Path(the_one("ConfigMap")["data"]["AA_STATE_DIR"])
    assert state_dir.is_absolute()
    for service in PIPELINE:
        spec = objects("Deployment")[service]["spec"]["template"]["spec"]
        empty_dirs = {v["name"] for v in spec["volumes"] if "emptyDir" in v}
        mounts = [m for m in container(service)["volumeMounts"] if m["name"] in empty_dirs]
        assert any(state_dir.is_relative_to(m["mountPath"]) for m in mounts), service


def test_resources_follow_the_measured_peak_rss():
    benchmarks = (REPO / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    line = re.search(r"Peak RSS per service: (.*)\.", benchmarks)
    assert line, "docs/benchmarks.md lost its peak RSS line"
    peak = {name: int(mib) * 2**20 for name, mib in re.findall(r"(\w+) (\d+) MiB", line.group(1))}
    assert set(peak) == set(PIPELINE)
    # The largest cases the archive accepts (bench.memory, issue 18): each worker's peak, and in brackets
    # with its child processes — the container limit counts both.
    memory_runs = benchmarks.partition("<!-- bench:memory:begin -->")[2].partition("<!-- bench:memory:end -->")[0]
    header = next(row for row in memory_runs.splitlines() if row.startswith("| scenario |"))
    columns = [c.strip() for c in header.strip("|").split("|")]
    rows = [r for r in memory_runs.splitlines() if r.startswith("| ") and "MiB (" in r]
    assert rows, "docs/benchmarks.md lost bench.memory's table"
    for row in rows:
        cells = dict(zip(columns, (c.strip() for c in row.strip("|").split("|")), strict=True))
        for service in PIPELINE:
            worker, tree = re.fullmatch(r"(\d+) MiB \((\d+)\)", cells[service]).groups()  # type: ignore[union-attr]
            peak[service] = max(peak[service], int(worker) * 2**20, int(tree) * 2**20)
    for name, spec in pod_specs().items():
        for c in spec["containers"]:
            resources = c["resources"]
            for what in ("cpu", "memory"):
                assert quantity(resources["requests"][what]) <= quantity(resources["limits"][what]), (name, what)
    memory = {s: container(s)["resources"] for s in PIPELINE}
    for service, rss in peak.items():
        assert quantity(memory[service]["requests"]["memory"]) >= rss, service
        assert quantity(memory[service]["limits"]["memory"]) >= 1.5 * rss, service
    for kind in ("requests", "limits"):
        largest = max(PIPELINE, key=lambda s: quantity(memory[s][kind]["memory"]))
        assert largest == max(peak, key=peak.__getitem__) == "validation"


def test_probes_workers_on_metrics_query_on_healthz():
    for service in PIPELINE:
        c = container(service)
        for probe in ("readinessProbe", "livenessProbe"):
            action = c[probe].get("httpGet") or c[probe]["tcpSocket"]
            assert port_number(c, action["port"]) == DEFAULT_PORTS[service], (service, probe)
            if "httpGet" in c[probe]:
                assert action["path"] == "/metrics"
    c = container("query")
    for probe in ("startupProbe", "readinessProbe"):
        assert c[probe]["httpGet"]["path"] == "/healthz"
        assert port_number(c, c[probe]["httpGet"]["port"]) == QUERY_HTTP_PORT
    liveness = c["livenessProbe"].get("httpGet") or c["livenessProbe"]["tcpSocket"]
    assert port_number(c, liveness["port"]) == QUERY_HTTP_PORT
    assert '@app.get("/healthz"' in (REPO / "services" / "query" / "app.py").read_text(encoding="utf-8")


def test_workers_get_time_to_stop_in_order():
    for service in PIPELINE:
        grace = objects("Deployment")[service]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        assert grace > mode.Service.shutdown_timeout, service  # Faust's services wait this long to stop
    assert objects("Deployment")["query"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] >= 30


def test_the_set_up_jobs_run_real_archivectl_commands_from_the_query_image():
    assert PYPROJECT["project"]["scripts"]["archivectl"] == "archivectl.__main__:main"
    dockerfile = df.parse()  # archivectl is installed as a script in the query image
    assert "pip install --no-cache-dir ." in dockerfile.effective(df.service_stage(dockerfile, "query").name, "RUN")
    assert "archivectl" in df.copied_sources(dockerfile)
    runs = {}
    for job in objects("Job").values():
        spec = job["spec"]["template"]["spec"]
        assert spec["restartPolicy"] in {"Never", "OnFailure"}
        (c,) = spec["containers"]
        assert c["image"] == f"approval-archive/query:{VERSION}"
        assert c["command"][0] == "archivectl"
        try:
            runs[c["command"][1]] = build_parser().parse_args(c["command"][1:]).run
        except SystemExit:
            pytest.fail(f"{c['command']} is not a command archivectl knows")
    assert runs == {"topics": cmd_topics, "migrate": cmd_migrate}
