"""Starting and stopping the services as background processes on this machine: the four pipeline
workers and the query service (HTTP API and dashboard).

`make up` and the end-to-end tests both use this, so the tests run the services exactly the way a
person does: separate processes, their own consumer groups, JSON logs under .stack/logs/.

A service may run as several processes (`replicas`, e.g. three validation workers): they share the
service's consumer group, so Kafka spreads the topics' partitions over them; each has its own pid file,
log, metrics port (REPLICA_PORT_STEP apart) and Faust state folder. `make up` runs one of each."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from services.common.metrics import DEFAULT_PORTS

PIPELINE = ("capture", "validation", "classification", "storage")
SERVICES = (*PIPELINE, "query")
QUERY_HTTP_PORT = 8700  # the query service's API and dashboard; metrics stay on their own port
# Replica r (2, 3, …) of a service serves its metrics on the service's port + (r - 1) * this: 9112, 9122
# for validation, clear of the other services' 9101–9105 and of each other.
REPLICA_PORT_STEP = 10
REPO = Path(__file__).resolve().parent.parent
# Children started by this process, so an exited child is seen as stopped (not as a zombie pid).
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass(frozen=True)
class ServiceProcess:
    name: str
    pid_file: Path
    log_file: Path
    metrics_port: int
    http_port: int | None = None  # the query service's API
    replica: int = 1  # 1 = the service's first (and usually only) process

    @property
    def label(self) -> str:
        """`validation`, `validation-2`, …: unique among the processes of one namespace."""
        return self.name if self.replica == 1 else f"{self.name}-{self.replica}"

    @property
    def url(self) -> str | None:
        return f"http://127.0.0.1:{self.http_port}" if self.http_port else None

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text().strip())
        except (OSError, ValueError):
            return None
        if pid in _children:
            return None if _children[pid].poll() is not None else pid
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        return pid


def metrics_port(service: str, offset: int = 0, replica: int = 1) -> int:
    return DEFAULT_PORTS[service] + offset + (replica - 1) * REPLICA_PORT_STEP


def free_metrics_offset(replicas: Mapping[str, int] | None = None) -> int:
    """An offset at which all services' metrics ports and the query service's HTTP port are free: test
    sessions and benchmarks may run their pipelines beside `make up` and beside each other on one machine.
    `replicas` (service → processes) asks for the further replicas' ports to be free too."""
    wanted = [metrics_port(name, 0, r) for name in DEFAULT_PORTS for r in range(2, (replicas or {}).get(name, 1) + 1)]
    for _ in range(50):
        offset = random.randrange(20000, 40000)
        try:
            for port in (*DEFAULT_PORTS.values(), QUERY_HTTP_PORT, *wanted):
                with socket.socket() as probe:
                    probe.bind(("127.0.0.1", port + offset))
            return offset
        except OSError:
            continue
    raise RuntimeError("no free ports found for an offset between 20000 and 40000 (metrics 91xx, query 8700)")


def _layout(
    namespace: str, metrics_offset: int, stack_dir: Path, replicas: Mapping[str, int] | None = None
) -> list[ServiceProcess]:
    label = namespace or "default"
    procs = []
    for name in SERVICES:
        for replica in range(1, (replicas or {}).get(name, 1) + 1):
            base = f"{label}-{name}" if replica == 1 else f"{label}-{name}-{replica}"
            procs.append(
                ServiceProcess(
                    name,
                    stack_dir / "run" / f"{base}.pid",
                    stack_dir / "logs" / f"{base}.log",
                    metrics_port(name, metrics_offset, replica),
                    QUERY_HTTP_PORT + metrics_offset if name == "query" else None,
                    replica,
                )
            )
    return procs


def _replicas_on_disk(namespace: str, stack_dir: Path) -> dict[str, int]:
    """How many processes of each service have pid files: stop and status see the replicas a caller
    started without having to be told how many there were."""
    label = namespace or "default"
    found = dict.fromkeys(SERVICES, 1)
    for name in SERVICES:
        for pid_file in (stack_dir / "run").glob(f"{label}-{name}-*.pid"):
            suffix = pid_file.stem.removeprefix(f"{label}-{name}-")
            if suffix.isdigit():
                found[name] = max(found[name], int(suffix))
    return found


def start(
    namespace: str = "",
    metrics_offset: int = 0,
    stack_dir: Path | None = None,
    extra_env: dict[str, str] | None = None,
    services: tuple[str, ...] = PIPELINE,
    replicas: Mapping[str, int] | None = None,
) -> list[ServiceProcess]:
    """Start what is not running yet; `replicas` (service → processes, default 1) runs several workers of
    a service in its one consumer group — take the offset from free_metrics_offset(replicas)."""
    stack = stack_dir or REPO / ".stack"
    (stack / "run").mkdir(parents=True, exist_ok=True)
    (stack / "logs").mkdir(parents=True, exist_ok=True)
    started = []
    for proc in _layout(namespace, metrics_offset, stack, replicas):
        if proc.name not in services:
            continue
        if proc.pid() is not None:
            started.append(proc)
            continue
        # Faust's local state is a folder per service; a second process of the service gets one of its own.
        state = {"AA_STATE_DIR": str(stack / "faust" / f"replica-{proc.replica}")} if proc.replica > 1 else {}
        env = {
            **os.environ,
            **state,
            **(extra_env or {}),
            "AA_NAMESPACE": namespace,
            "AA_METRICS_PORT": str(proc.metrics_port),
            **({"AA_QUERY_PORT": str(proc.http_port)} if proc.http_port else {}),
            "PYTHONUNBUFFERED": "1",
        }
        with proc.log_file.open("ab") as log:
            child = subprocess.Popen(
                [sys.executable, "-m", f"services.{proc.name}"],
                cwd=REPO,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        _children[child.pid] = child
        proc.pid_file.write_text(str(child.pid))
        started.append(proc)
    return started


def stop(
    namespace: str = "", stack_dir: Path | None = None, timeout: float = 20.0, services: tuple[str, ...] = PIPELINE
) -> None:
    stack = stack_dir or REPO / ".stack"
    procs = [p for p in _layout(namespace, 0, stack, _replicas_on_disk(namespace, stack)) if p.name in services]
    for proc in procs:
        pid = proc.pid()
        if pid is not None:
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for proc in procs:
        pid = proc.pid()
        while pid is not None and time.monotonic() < deadline:
            time.sleep(0.2)
            pid = proc.pid()
        if pid is not None:
            os.kill(pid, signal.SIGKILL)
        proc.pid_file.unlink(missing_ok=True)


def status(
    namespace: str = "", stack_dir: Path | None = None, services: tuple[str, ...] = SERVICES
) -> list[tuple[ServiceProcess, int | None]]:
    stack = stack_dir or REPO / ".stack"
    layout = _layout(namespace, 0, stack, _replicas_on_disk(namespace, stack))
    return [(p, p.pid()) for p in layout if p.name in services]


def exit_status(namespace: str, service: str, stack_dir: Path | None = None) -> int | None:
    """The exit status of a service this process started and that has exited (None otherwise)."""
    [proc] = [p for p in _layout(namespace, 0, stack_dir or REPO / ".stack") if p.name == service]
    try:
        child = _children.get(int(proc.pid_file.read_text().strip()))
    except (OSError, ValueError):
        return None
    return child.poll() if child is not None else None


def wait_http(url: str, timeout: float = 60.0, proc: ServiceProcess | None = None) -> None:
    """Wait until `url` answers (any HTTP status); fail early, naming the log, if the process died."""
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return  # it answered
        except OSError as exc:
            if proc is not None and proc.pid() is None:
                raise RuntimeError(f"{proc.name} exited during start-up; see {proc.log_file}") from exc
            if time.monotonic() > deadline:
                where = f"; see {proc.log_file}" if proc else ""
                raise RuntimeError(f"{url} did not answer within {timeout:.0f}s{where}") from exc
        time.sleep(0.3)
