"""bench/cpu.py's arithmetic and tables, bench/pipeline.py's section and options, and the replicas of
archivectl/local_services.py — the pure parts, without a stack."""

import argparse
import re
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

from archivectl import local_services
from bench.cpu import CpuReport, ScalingRun, busy_seconds, cores_used, cpu_table, scaling_table, tree_cpu_seconds
from bench.pipeline import parse_scaling, render
from services.common.metrics import DEFAULT_PORTS

pytestmark = pytest.mark.unit


def test_busy_seconds_leaves_out_idle_iowait_and_guest_counted_in_user():
    start = {"user": 10.0, "system": 5.0, "idle": 100.0, "iowait": 1.0, "guest": 2.0, "guest_nice": 0.0}
    end = {"user": 16.0, "system": 7.0, "idle": 110.0, "iowait": 2.0, "guest": 4.0, "guest_nice": 0.0}
    busy, total = busy_seconds(start, end)
    assert (busy, total) == (8.0, 19.0)


def test_cores_used_is_cpu_over_wall():
    assert cores_used(30.0, 20.0) == 1.5
    assert cores_used(5.0, 0.0) == 0.0


def report() -> CpuReport:
    return CpuReport(
        wall_seconds=10.0,
        cpu_seconds={"capture": 2.0, "validation": 9.0, "kafka": 3.0, "postgres": None},
        machine_busy_seconds=19.0,
        machine_cores=2,
        own_seconds=1.0,
    )


def test_cpu_report_shares():
    r = report()
    assert r.cores("validation") == 0.9
    assert r.cores("postgres") is None
    assert r.total(["capture", "validation", "postgres"]) == 11.0
    assert r.machine_busy_share == 0.95
    assert CpuReport(1.0, {}, 2.1, 2, 0.0).machine_busy_share == 1.0  # a tick over: not 105 % busy


def test_cpu_table_rows_and_the_rest_of_the_machine():
    rows = cpu_table(report(), {"capture": 100 * 2**20, "validation": 240 * 2**20}, {"kafka": 0, "postgres": 0})
    assert rows[0] == "| process | CPU s | cores used | peak RSS |"
    assert "| validation | 9.0 | 0.90 | 240 MiB |" in rows
    assert "| **all services** | 11.0 | 1.10 | |" in rows
    assert "| kafka | 3.0 | 0.30 | |" in rows
    assert "| postgres | – | – | |" in rows  # the process went away
    assert "| bench process (publisher, reader) | 1.0 | 0.10 | |" in rows
    assert "| everything else on the machine | 4.0 | 0.40 | |" in rows  # 19 - (11 + 3 + 1)
    assert rows[-1] == "| **machine, all 2 cores** | 19.0 | 1.90 (95% busy) | |"
    assert all(row.count("|") == 5 for row in rows)


def test_scaling_table():
    runs = [
        ScalingRun(1, 600, 6.0, 90.0, 100.0, 150.0, 0.99, True, 30.0),
        ScalingRun(3, 600, 7.5, 120.0, 80.0, 160.0, 1.0, False),
    ]
    header, rule, one, three = scaling_table(runs)
    assert header.count("|") == rule.count("|") == one.count("|") == 9
    assert one == "| 1 | 600 | 6.0 | 90.0 s | 0.90 | 1.50 | 0.30 | 99% |"
    assert three == "| 3 | 600 (incomplete) | 7.5 | 120.0 s | 1.50 | 2.00 | 0.00 | 100% |"


def test_parse_scaling():
    assert parse_scaling("1,2,3") == (1, 2, 3)
    assert parse_scaling("off") == ()
    with pytest.raises(argparse.ArgumentTypeError):
        parse_scaling("0,2")
    with pytest.raises(ValueError):
        parse_scaling("one")


def test_tree_cpu_counts_a_child_that_has_finished():
    me = psutil.Process()

    def reaped() -> float:
        t = me.cpu_times()
        return t.children_user + t.children_system

    before, reaped_before = tree_cpu_seconds(me), reaped()
    subprocess.run([sys.executable, "-c", "sum(i * i for i in range(3_000_000))"], check=True)
    child = reaped() - reaped_before
    assert child > 0  # the child's CPU, added to ours when it was reaped
    assert tree_cpu_seconds(me) - before >= child - 1e-9  # sums of 10 ms ticks, in floats


def test_render_keeps_the_peak_rss_line_that_deploy_k8s_is_checked_against():
    figures = {"cases": 10, "cases_per_second": 5.0, "p50": 1.0, "p95": 2.0, "p99": 3.0, "counts": {}}
    peaks = {name: 100 * 2**20 for name in local_services.PIPELINE}
    section = render(
        10,
        {**figures, "cpu": report()},
        {**figures, "cpu": None},
        {"cases": 13, "cases_per_second": 50.0},
        peaks,
        {"kafka": 300 * 2**20},
        [ScalingRun(1, 40, 3.0, 9.0, 10.0, 15.0, 0.9, True)],
    )
    line = re.search(r"Peak RSS per service: (.*)\.", section)
    assert line
    assert dict(re.findall(r"(\w+) (\d+) MiB", line.group(1))) == dict.fromkeys(local_services.PIPELINE, "100")
    assert "| kafka | 3.0 | 0.30 | 300 MiB |" in section
    assert "| 1 | 40 | 3.0 | 9.0 s | 0.90 | 1.50 | 0.00 | 90% |" in section
    assert section.startswith("<!-- bench:pipeline:begin -->") and section.endswith("<!-- bench:pipeline:end -->")


def test_replicas_get_their_own_files_and_metrics_ports(tmp_path: Path):
    layout = local_services._layout("ns", 20000, tmp_path, {"validation": 3})
    validation = [p for p in layout if p.name == "validation"]
    assert [p.label for p in validation] == ["validation", "validation-2", "validation-3"]
    assert [p.pid_file.name for p in validation] == ["ns-validation.pid", "ns-validation-2.pid", "ns-validation-3.pid"]
    assert [p.metrics_port for p in validation] == [29102, 29112, 29122]
    ports = [p.metrics_port for p in layout]
    assert len(ports) == len(set(ports))
    # One of each, as `make up` runs them: the layout it always had.
    plain = local_services._layout("", 0, tmp_path)
    assert [(p.label, p.metrics_port) for p in plain] == list(DEFAULT_PORTS.items())
    assert [p.pid_file.name for p in plain] == [f"default-{name}.pid" for name in local_services.SERVICES]


def test_stop_and_status_find_the_replicas_from_their_pid_files(tmp_path: Path):
    (tmp_path / "run").mkdir()
    for name in ("ns-validation.pid", "ns-validation-2.pid", "ns-validation-3.pid", "ns-validation-x.pid"):
        (tmp_path / "run" / name).write_text("999999999")
    assert local_services._replicas_on_disk("ns", tmp_path)["validation"] == 3
    assert local_services._replicas_on_disk("ns", tmp_path)["storage"] == 1
    labels = [p.label for p, pid in local_services.status("ns", tmp_path, services=("validation",))]
    assert labels == ["validation", "validation-2", "validation-3"]


def test_free_metrics_offset_with_replicas_leaves_their_ports_free():
    import socket

    offset = local_services.free_metrics_offset({"validation": 3})
    for replica in (1, 2, 3):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", local_services.metrics_port("validation", offset, replica)))


def test_render_names_a_failed_scaling_run_and_leaves_out_what_was_not_measured():
    figures = {"cases": 10, "cases_per_second": 5.0, "p50": 1.0, "p95": 2.0, "p99": 3.0, "counts": {}}
    peaks = {name: 100 * 2**20 for name in local_services.PIPELINE}
    floor = {"cases": 13, "cases_per_second": 50.0}
    section = render(10, figures, figures, floor, peaks, None, [], ["3 validation worker(s): TimeoutError: x"])
    assert "Scaling run failed: 3 validation worker(s): TimeoutError: x" in section
    assert "| process |" not in section and "| validation workers |" not in section
