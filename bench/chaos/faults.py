"""The faults a chaos run injects, planned from a seed: what, where, for how long, in which order."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from archivectl.local_services import PIPELINE

from .stack import SERVERS

NET_KINDS = ("latency", "stall", "reset")
MINIO_DISK = ("disk-full", "read-only")


@dataclass
class Fault:
    kind: str  # worker-kill | worker-kill-in-flight | server-kill | latency | stall | reset | disk-full | read-only
    target: str  # a service or a server
    hold: float  # seconds the fault lasts before it is healed (down time, toxic time, full time)
    gap: float  # seconds of normal running before it
    started: float = 0.0
    healed: float = 0.0
    recovered: float | None = None  # the pipeline moved again (None: not seen before the wait ended)
    note: str = ""
    not_injected: bool = False  # the harness failed to inject it (its note says why)
    events: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        return {
            "worker-kill": f"SIGKILL {self.target}",
            "worker-kill-in-flight": f"SIGKILL {self.target}, step in flight",
            "server-kill": f"SIGKILL {self.target}",
            "disk-full": "MinIO data folder full",
            "read-only": "MinIO data folder read-only",
        }.get(self.kind, f"{self.kind} to {self.target}")

    @property
    def group(self) -> str:
        """The row of the results table."""
        return {
            "worker-kill": "SIGKILL of a worker (idle or between steps)",
            "worker-kill-in-flight": "SIGKILL of a worker, step in flight",
            "server-kill": f"SIGKILL + restart of {self.target}",
            "latency": "network latency (400±200 ms)",
            "stall": "network stall (bytes held)",
            "reset": "connection resets (TCP RST)",
            "disk-full": "MinIO data folder full",
            "read-only": "MinIO data folder read-only",
        }[self.kind]


def plan(
    seed: int, *, worker_kills: int, server_kills: int, net_faults: int, disk_faults: int, ci: bool = False
) -> list[Fault]:
    """Each worker (and the query service) killed `worker_kills` times (alternately timed to a step in
    flight), each server killed `server_kills` times, `net_faults` of each network kind spread over the
    servers, `disk_faults` of each MinIO disk kind; shuffled, with seeded gaps and hold times.
    `ci`: one seeded worker only, killed with a step in flight (one fault of each kind)."""
    rng = random.Random(seed)
    faults: list[Fault] = []
    for worker in (rng.choice(PIPELINE),) if ci else (*PIPELINE, "query"):
        for n in range(worker_kills):
            kind = "worker-kill-in-flight" if (n % 2 == 0 and worker != "query") else "worker-kill"
            faults.append(Fault(kind, worker, hold=rng.uniform(0.5, 4.0), gap=0))
    for server in SERVERS:
        for _ in range(server_kills):
            faults.append(Fault("server-kill", server, hold=rng.uniform(1.0, 5.0), gap=0))
    servers = list(SERVERS)
    for kind in NET_KINDS:
        rng.shuffle(servers)
        for n in range(net_faults):
            hold = {"latency": rng.uniform(6, 12), "stall": rng.uniform(4, 10), "reset": rng.uniform(1, 3)}[kind]
            faults.append(Fault(kind, servers[n % len(servers)], hold=hold, gap=0))
    for kind in MINIO_DISK:
        for _ in range(disk_faults):
            faults.append(Fault(kind, "minio", hold=rng.uniform(8, 15), gap=0))
    rng.shuffle(faults)
    for fault in faults:
        fault.gap = rng.uniform(2.0, 8.0)
    return faults
