"""The CI-sized fault-injection run: the harness of `make chaos` (bench/chaos/) with 200 cases and one fault
of each kind — a worker SIGKILLed with a step in flight, each server SIGKILLed and restarted, latency,
a stall and connection resets on a link, MinIO's data folder full and read-only — on a stack of its own
(shared ports + 400, .stack-chaos-ci/), started and removed by the test. Fails naming every broken check."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bench.chaos.__main__ import run
from bench.chaos.faults import plan
from bench.chaos.run import Options
from bench.chaos.stack import REPO, ChaosStack

pytestmark = pytest.mark.chaos

CASES = 200
STACK_DIR = REPO / ".stack-chaos-ci"


def _processes_naming(folder: Path) -> list[str]:
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(folder) in text:
            found.append(f"{cmdline.parent.name}: {text[:120]}")
    return found


async def test_nothing_is_lost_or_doubled_under_one_fault_of_each_kind():
    if os.geteuid() != 0:
        pytest.fail(
            "needs root: MinIO's data folder is a tmpfs that the run fills and remounts read-only", pytrace=False
        )
    seed = int(os.environ.get("AA_CHAOS_SEED", "17"))
    opts = Options(
        cases=CASES,
        seed=seed,
        faults=plan(seed, worker_kills=1, server_kills=1, net_faults=1, disk_faults=1, ci=True),
        stack=ChaosStack(stack_dir=STACK_DIR, port_offset=400, minio_data_size="1g"),
        record=False,
        stall_timeout=150,
        recovery_timeout=90,
        command=f"pytest -m chaos (AA_CHAOS_SEED={seed})",
    )
    try:
        verdict = await run(opts)
    finally:
        left = _processes_naming(STACK_DIR)
        assert not left, f"the chaos stack left processes running: {left}"
        assert not STACK_DIR.exists(), f"{STACK_DIR} was not removed"
    not_injected = [f"{f.label}: {f.note}" for f in opts.faults if f.not_injected]
    assert not not_injected, f"faults the harness could not inject: {not_injected}"
    assert len({f.group for f in opts.faults}) >= 8
    failed = [f"{c.name}: {c.detail}" for c in verdict.checks if not c.ok]
    assert not failed, f"under faults (seed {seed}):\n  " + "\n  ".join(failed)
