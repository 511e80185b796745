"""CPU per process during a benchmark phase, so that a reader sees what bounds the pipeline.

A process's CPU is counted with its children (ffmpeg, Alembic, PostgreSQL's backends): user + system
of every live process of its tree plus what the tree's finished children used (the kernel adds a
reaped child's time to its parent's children_user/children_system). "Cores used" is CPU seconds over
the phase's wall seconds: 1.0 is one core kept busy the whole phase. The machine's total (all
processes, from /proc/stat) says whether the machine itself was the limit.

The stack's infrastructure processes are found by the pid files deploy/local/stack.sh writes
(AA_STACK_DIR, else .stack) and, for any not found that way, by the port they listen on.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psutil

from services.common.settings import ArchiveSettings

# cpu_times() fields that are not time spent: guest time is already inside user (Linux), idle and
# iowait are a core waiting.
_NOT_BUSY = ("idle", "iowait")
_COUNTED_TWICE = ("guest", "guest_nice")


def tree_cpu_seconds(root: psutil.Process) -> float:
    """User + system CPU of `root` and of all its descendants, living or finished and reaped."""
    total = 0.0
    for proc in (root, *root.children(recursive=True)):
        try:
            t = proc.cpu_times()
        except psutil.Error:
            continue  # a child that ended just now: its time is in its parent's children_* at the next look
        total += t.user + t.system + t.children_user + t.children_system
    return total


def busy_seconds(start: Mapping[str, float], end: Mapping[str, float]) -> tuple[float, float]:
    """(busy, total) CPU seconds over all cores between two psutil.cpu_times()._asdict() snapshots."""
    delta = {k: end[k] - start[k] for k in start if k not in _COUNTED_TWICE}
    total = sum(delta.values())
    return total - sum(delta.get(k, 0.0) for k in _NOT_BUSY), total


def cores_used(cpu_seconds: float, wall_seconds: float) -> float:
    return cpu_seconds / wall_seconds if wall_seconds > 0 else 0.0


@dataclass
class CpuReport:
    wall_seconds: float
    cpu_seconds: dict[str, float | None]  # label → CPU s of its tree; None: the process went away
    machine_busy_seconds: float
    machine_cores: int
    own_seconds: float  # this benchmark process alone (publisher and reader), without its children

    def cores(self, label: str) -> float | None:
        cpu = self.cpu_seconds.get(label)
        return None if cpu is None else cores_used(cpu, self.wall_seconds)

    def total(self, labels: Iterable[str]) -> float:
        return sum(self.cpu_seconds.get(label) or 0.0 for label in labels)

    @property
    def machine_busy_share(self) -> float:
        """Share of all the machine's cores that were busy, 0..1 (the kernel's counters tick at 100 Hz: a
        short phase can read a hair above 1)."""
        return min(1.0, cores_used(self.machine_busy_seconds, self.wall_seconds * self.machine_cores))


@dataclass
class CpuMeter:
    """start() before a phase, stop() after it: CPU seconds per labelled process tree in between."""

    procs: dict[str, psutil.Process]
    _t0: float = 0.0
    _cpu0: dict[str, float | None] = field(default_factory=dict)
    _machine0: dict[str, float] = field(default_factory=dict)
    _own0: float = 0.0

    @classmethod
    def of_pids(cls, pids: Mapping[str, int]) -> CpuMeter:
        procs = {}
        for label, pid in pids.items():
            if pid <= 0:  # a process that was not running (pid 0 would be the kernel's idle task)
                continue
            try:
                procs[label] = psutil.Process(pid)
            except psutil.Error:
                continue
        return cls(procs)

    def _snapshot(self) -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        for label, proc in self.procs.items():
            try:
                out[label] = tree_cpu_seconds(proc)
            except psutil.Error:
                out[label] = None
        return out

    @staticmethod
    def _own() -> float:
        t = psutil.Process().cpu_times()
        return t.user + t.system

    def start(self) -> None:
        self._cpu0, self._own0 = self._snapshot(), self._own()
        # The machine's snapshot and the clock together: its busy share is over exactly this wall time.
        self._machine0, self._t0 = psutil.cpu_times()._asdict(), time.monotonic()

    def stop(self) -> CpuReport:
        machine1, wall = psutil.cpu_times()._asdict(), time.monotonic() - self._t0
        cpu1, own1 = self._snapshot(), self._own()
        deltas: dict[str, float | None] = {}
        for label, before in self._cpu0.items():
            after = cpu1.get(label)
            deltas[label] = None if before is None or after is None else max(0.0, after - before)
        busy, _ = busy_seconds(self._machine0, machine1)
        return CpuReport(wall, deltas, busy, psutil.cpu_count() or 1, own1 - self._own0)


def _port(address: str) -> int | None:
    """The port of `host:port` or of a URL."""
    parsed = urlsplit(address if "//" in address else f"//{address}")
    return parsed.port


def infrastructure_ports(settings: ArchiveSettings) -> dict[str, int]:
    """The ports the stack's servers listen on, as the services are configured to reach them."""
    from services.validation.config import ValidationSettings  # the validation worker's own settings

    validation = ValidationSettings()
    ports = {
        "kafka": _port(settings.kafka_bootstrap.split(",")[0]),
        "minio": _port(settings.minio_endpoint),
        "minio-replica": _port(settings.minio_replica_endpoint) if settings.minio_replica_endpoint else None,
        "postgres": settings.pg_port,
        "clamd": validation.clamd_port,
        "verapdf": _port(validation.verapdf_url) if validation.verapdf_url else None,
    }
    return {name: port for name, port in ports.items() if port}


def _pid_from_file(path: Path) -> int | None:
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def _listeners() -> dict[int, int]:
    """port → pid of the process listening on it (all users' processes need root; others are skipped)."""
    found: dict[int, int] = {}
    try:
        connections = psutil.net_connections(kind="inet")
    except psutil.Error:
        return {}
    for conn in connections:
        if conn.status == psutil.CONN_LISTEN and conn.pid and conn.laddr:
            found.setdefault(conn.laddr.port, conn.pid)
    return found


def infrastructure_pids(settings: ArchiveSettings, stack_dir: Path | None = None) -> dict[str, int]:
    """name → pid of each infrastructure process of the stack that can be found on this machine."""
    repo = Path(__file__).resolve().parent.parent
    stack = stack_dir or Path(os.environ.get("AA_STACK_DIR") or repo / ".stack")
    ports = infrastructure_ports(settings)
    pids: dict[str, int] = {}
    for name in ports:
        pid = _pid_from_file(stack / "run" / f"{name}.pid")
        if name == "postgres":  # stack.sh leaves PostgreSQL's own pid file in its data folder
            pid = pid or _pid_from_file(stack / "postgres" / "data" / "postmaster.pid")
        if pid and psutil.pid_exists(pid):
            pids[name] = pid
    missing = {name: port for name, port in ports.items() if name not in pids}
    if missing:
        listening = _listeners()
        for name, port in missing.items():
            if port in listening:
                pids[name] = listening[port]
    return pids


def cpu_table(
    report: CpuReport,
    services: Mapping[str, int],
    infrastructure: Mapping[str, int],
    *,
    services_label: str = "",
) -> list[str]:
    """Markdown rows: process | CPU s | cores used | peak RSS — the services (their peak RSS in bytes),
    their sum, the infrastructure, this benchmark process, the rest of the machine and its total."""

    def row(label: str, cpu: float | None, rss: int | None = None) -> str:
        if cpu is None:
            return f"| {label} | – | – | |"
        mib = f" {rss / 2**20:.0f} MiB |" if rss else " |"
        return f"| {label} | {cpu:.1f} | {cores_used(cpu, report.wall_seconds):.2f} |{mib}"

    lines = ["| process | CPU s | cores used | peak RSS |", "|---|---:|---:|---:|"]
    for label, rss in services.items():
        lines.append(row(label, report.cpu_seconds.get(label), rss))
    lines.append(row(f"**all services{services_label}**", report.total(services)))
    for label, rss in infrastructure.items():
        lines.append(row(label, report.cpu_seconds.get(label), rss))
    lines.append(row("bench process (publisher, reader)", report.own_seconds))
    counted = report.total(services) + report.total(infrastructure) + report.own_seconds
    lines.append(row("everything else on the machine", max(0.0, report.machine_busy_seconds - counted)))
    lines.append(
        f"| **machine, all {report.machine_cores} cores** | {report.machine_busy_seconds:.1f} | "
        f"{cores_used(report.machine_busy_seconds, report.wall_seconds):.2f} "
        f"({report.machine_busy_share:.0%} busy) | |"
    )
    return lines


@dataclass(frozen=True)
class ScalingRun:
    workers: int
    cases: int
    cases_per_second: float
    validation_cpu_seconds: float
    wall_seconds: float
    all_services_cpu_seconds: float
    machine_busy_share: float
    complete: bool
    stack_cpu_seconds: float = 0.0  # the stack's servers (Kafka, MinIO, PostgreSQL, clamd, veraPDF)


def scaling_table(runs: Iterable[ScalingRun]) -> list[str]:
    """Markdown rows: validation workers | cases/s | validation CPU (sum) | cores used by validation, by
    all workers, by the stack's servers | machine CPU busy."""
    lines = [
        "| validation workers | cases | cases/s | validation CPU (sum) | cores used by validation "
        "| cores used by all workers | cores used by the stack | machine CPU busy |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run in runs:
        mark = "" if run.complete else " (incomplete)"
        lines.append(
            f"| {run.workers} | {run.cases}{mark} | {run.cases_per_second:.1f} | "
            f"{run.validation_cpu_seconds:.1f} s | {cores_used(run.validation_cpu_seconds, run.wall_seconds):.2f} | "
            f"{cores_used(run.all_services_cpu_seconds, run.wall_seconds):.2f} | "
            f"{cores_used(run.stack_cpu_seconds, run.wall_seconds):.2f} | {run.machine_busy_share:.0%} |"
        )
    return lines
