"""deploy/monitoring/: the Prometheus scrape configuration scrapes every service on its metrics port, and
every metric the Grafana dashboard queries is one the code defines (a renamed metric must not leave a
panel silently empty). Prometheus and Grafana cannot run here; these are checks on the files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from services.common.metrics import DEFAULT_PORTS

pytestmark = pytest.mark.unit
REPO = Path(__file__).resolve().parents[2]
MONITORING = REPO / "deploy" / "monitoring"

# prometheus_client metric constructors with a literal name: Counter("archive_…", …).
_DEFINITION = re.compile(r"\b(Counter|Gauge|Histogram|Summary)\(\s*[\"']([a-zA-Z_:][a-zA-Z0-9_:]*)[\"']")
# The project's metrics all start with archive_; PromQL functions, label names and values never do.
_METRIC_IN_EXPR = re.compile(r"\barchive_[a-z0-9_]+")


def defined_series() -> dict[str, str]:
    """Every series name the services expose, mapped to the file defining it. prometheus_client exposes a
    counter as <name>_total (it adds the suffix if missing), a histogram or summary as _bucket/_count/_sum."""
    series: dict[str, str] = {}
    for path in sorted((REPO / "services").rglob("*.py")):
        for kind, name in _DEFINITION.findall(path.read_text(encoding="utf-8")):
            where = str(path.relative_to(REPO))
            if kind == "Counter":
                base = name.removesuffix("_total")
                names = [f"{base}_total", f"{base}_created"]
            elif kind in ("Histogram", "Summary"):
                names = [name, f"{name}_bucket", f"{name}_count", f"{name}_sum"]
            else:
                names = [name]
            for n in names:
                series[n] = where
    return series


def dashboard() -> dict:  # type: ignore[type-arg]
    return json.loads((MONITORING / "grafana-dashboard.json").read_text(encoding="utf-8"))


def panel_expressions(board: dict) -> list[tuple[str, str]]:  # type: ignore[type-arg]
    found = []
    for panel in board["panels"]:
        for inner in [panel, *panel.get("panels", [])]:
            for target in inner.get("targets", []):
                found.append((inner["title"], target["expr"]))
    return found


def test_the_code_defines_the_metrics_this_test_relies_on():
    series = defined_series()
    assert "archive_messages_consumed_total" in series
    assert "archive_step_duration_seconds_bucket" in series
    assert "archive_fixity_failures_total" in series


def test_every_metric_a_panel_queries_is_defined_in_the_code():
    series = defined_series()
    unknown = {
        (title, name)
        for title, expr in panel_expressions(dashboard())
        for name in _METRIC_IN_EXPR.findall(expr)
        if name not in series
    }
    assert unknown == set(), "panels query metrics no service defines (renamed? grep services/ for the new name)"


def test_the_dashboard_covers_flow_failures_retries_latency_in_flight_fixity_and_both_copies():
    queried = {name for _, expr in panel_expressions(dashboard()) for name in _METRIC_IN_EXPR.findall(expr)}
    assert {
        "archive_messages_consumed_total",
        "archive_messages_produced_total",
        "archive_messages_failed_total",
        "archive_transient_retries_total",
        "archive_step_duration_seconds_bucket",
        "archive_step_in_flight",
        "archive_fixity_failures_total",
        "archive_fixity_repairs_total",
        "archive_fixity_losses_total",
        "archive_restore_tests_total",
    } <= queried
    exprs = [expr for _, expr in panel_expressions(dashboard())]
    assert any("histogram_quantile(0.5," in e for e in exprs) and any("histogram_quantile(0.99," in e for e in exprs)


def test_the_dashboard_is_importable_with_a_prometheus_datasource_input():
    board = dashboard()
    assert board["schemaVersion"] >= 36 and board["uid"] and board["title"]
    [source] = board["__inputs"]
    assert (source["name"], source["type"], source["pluginId"]) == ("DS_PROMETHEUS", "datasource", "prometheus")
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in board["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        assert {"x", "y", "w", "h"} <= panel["gridPos"].keys()
        assert [t["refId"] for t in panel["targets"]] == sorted({t["refId"] for t in panel["targets"]})


def test_prometheus_scrapes_every_service_on_its_metrics_port_with_a_service_label():
    config = yaml.safe_load((MONITORING / "prometheus.yml").read_text(encoding="utf-8"))
    scraped: dict[str, int] = {}
    for job in config["scrape_configs"]:
        assert job.get("metrics_path", "/metrics") == "/metrics"
        for static in job["static_configs"]:
            service = static["labels"]["service"]
            [target] = static["targets"]
            port = target.rsplit(":", 1)[1]
            assert service not in scraped, f"{service} is scraped twice"
            scraped[service] = int(port)
            assert job["job_name"] == service
    assert scraped == DEFAULT_PORTS


def test_the_readme_names_both_files():
    readme = (MONITORING / "README.md").read_text(encoding="utf-8")
    assert "prometheus.yml" in readme and "grafana-dashboard.json" in readme
