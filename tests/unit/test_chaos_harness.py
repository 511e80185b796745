"""The fault-injection harness's own rules (bench/chaos/): what a seed plans, which ports it may touch, and
how its table joins docs/reliability.md without disturbing what others wrote there."""

from __future__ import annotations

import pytest

from bench.chaos import run as chaos_run
from bench.chaos.faults import plan
from bench.chaos.stack import SHARED_PORTS, ChaosStack, StackError

pytestmark = pytest.mark.unit


def test_the_default_plan_kills_every_worker_and_server_and_has_every_kind_of_fault():
    faults = plan(7, worker_kills=3, server_kills=2, net_faults=2, disk_faults=1)
    assert len(faults) >= 30
    assert len({f.group for f in faults}) >= 8
    kills = [(f.kind, f.target) for f in faults if f.kind.startswith("worker-kill")]
    for worker in ("capture", "validation", "classification", "storage", "query"):
        assert sum(1 for _, t in kills if t == worker) == 3
    assert {t for k, t in kills if k == "worker-kill-in-flight"} == {
        "capture",
        "validation",
        "classification",
        "storage",
    }
    for server in ("kafka", "minio", "postgres", "clamd"):
        assert sum(1 for f in faults if f.kind == "server-kill" and f.target == server) == 2
    assert {f.kind for f in faults} >= {"latency", "stall", "reset", "disk-full", "read-only"}


def test_a_seed_repeats_its_run_and_another_seed_does_not():
    def shape(seed: int) -> list[tuple[str, str, float, float]]:
        return [
            (f.kind, f.target, f.hold, f.gap)
            for f in plan(seed, worker_kills=1, server_kills=1, net_faults=1, disk_faults=1)
        ]

    assert shape(42) == shape(42)
    assert shape(42) != shape(43)


def test_the_ci_plan_has_one_fault_of_each_kind():
    faults = plan(17, worker_kills=1, server_kills=1, net_faults=1, disk_faults=1, ci=True)
    kinds = [(f.kind, f.target if f.kind == "server-kill" else "") for f in faults]
    assert len(kinds) == len(set(kinds)) == 10
    assert sum(1 for f in faults if f.kind == "worker-kill-in-flight") == 1


def test_the_chaos_stack_never_uses_the_shared_stacks_ports_or_folder(tmp_path):
    stack = ChaosStack(stack_dir=tmp_path / ".stack-chaos")
    used = {*stack.server_ports().values(), *stack.proxy_ports().values(), stack.toxiproxy_port}
    assert not used & set(SHARED_PORTS.values())
    assert stack.service_env()["AA_KAFKA_BOOTSTRAP"].endswith(str(stack.proxy_ports()["kafka"]))
    assert stack.stack_env()["AA_KAFKA_ADVERTISED_PORT"] == str(stack.proxy_ports()["kafka"])
    with pytest.raises(StackError):
        ChaosStack(stack_dir=tmp_path, port_offset=0)
    with pytest.raises(StackError):
        ChaosStack(stack_dir=chaos_run.RESULTS.parents[1] / ".stack")


def test_the_table_goes_under_its_own_heading_and_replaces_only_its_last_run(tmp_path, monkeypatch):
    results = tmp_path / "reliability.md"
    results.write_text("# Reliability\n\n## Poison pills\n\nWritten by someone else.\n", encoding="utf-8")
    monkeypatch.setattr(chaos_run, "RESULTS", results)
    first = f"{chaos_run.MARK_BEGIN}\nrun one\n{chaos_run.MARK_END}"
    chaos_run.record(first)
    chaos_run.record(first.replace("run one", "run two"))
    text = results.read_text(encoding="utf-8")
    assert "Written by someone else." in text and "## Poison pills" in text
    assert text.count(chaos_run.HEADING) == 1
    assert "run two" in text and "run one" not in text
    assert text.index(chaos_run.HEADING) < text.index("run two")
