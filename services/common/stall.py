"""Is this worker stuck? The stall watchdog's rule, as a pure function of what it observed.

A consumer can stop fetching while its process stays alive and healthy-looking — seen in a chaos run: a
validation worker idle in `epoll_wait`, 355 cases waiting on its partitions, no log line for minutes
after a broker restart. Nothing in the process notices (its /metrics still answer), so the orchestrator
never restarts it. The watchdog (services/common/stream_app.py) looks every few seconds at three facts —
did a message arrive since the last look, is a step in flight, are there messages waiting on the
partitions assigned to this worker — and this module decides.

A worker is *suspect* from the first look at which nothing arrived, nothing is in flight and messages are
waiting; it is *stuck* when it has stayed suspect, look after look, for the whole timeout. Whatever breaks
the run — a message arriving, a step in flight (a step retrying a server's outage is waiting, not stuck),
nothing waiting, or the waiting not being known (Kafka unreachable: the consumer cannot fetch either, and
must get the timeout afresh once the broker is back) — clears the suspicion."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from services.common.adapters.consumer_lag import PartitionOffsets


def waiting_messages(assigned: Iterable[int], offsets: Iterable[PartitionOffsets]) -> dict[int, int]:
    """Messages waiting per assigned partition (only those with some): end − max(committed, start)."""
    own = set(assigned)
    waiting = {}
    for p in offsets:
        if p.partition in own:
            behind = p.end - max(p.committed if p.committed is not None else p.start, p.start)
            if behind > 0:
                waiting[p.partition] = behind
    return waiting


@dataclass
class StallWatch:
    timeout_seconds: float
    suspect_since: float | None = None

    def observe(self, *, now: float, received: bool, in_flight: bool, waiting: dict[int, int] | None) -> bool:
        """Record one look; True when the worker has been stuck for the whole timeout."""
        if received or in_flight or not waiting:  # None (unknown) and {} (nothing waiting) clear it too
            self.suspect_since = None
            return False
        if self.suspect_since is None:
            self.suspect_since = now
        return now - self.suspect_since >= self.timeout_seconds
