"""Waiting for fed cases to come out of the pipeline, and telling a person what happened."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from archivectl.topic_reader import Seen, read_topics
from contracts.v1 import topics
from services.common.settings import ArchiveSettings

OUTCOME_TOPICS = (topics.ARCHIVED, topics.REJECTED, topics.DEAD_LETTER)


@dataclass
class Outcomes:
    expected: set[str]
    archived: dict[str, dict[str, Any]] = field(default_factory=dict)
    rejected: dict[str, dict[str, Any]] = field(default_factory=dict)
    dead_lettered: dict[str, dict[str, Any]] = field(default_factory=dict)
    complete: bool = False
    # Rejections and dead letters from before this moment are not this run's: a retried case's earlier
    # rejection is history, its outcome is still to come. (An archived case stays archived: always counted.)
    since: datetime | None = None

    def record(self, seen: Seen) -> None:
        if seen.key not in self.expected:
            return
        if self.since is not None and seen.topic != topics.ARCHIVED and _event_time(seen.event) < self.since:
            return
        target = {
            topics.ARCHIVED: self.archived,
            topics.REJECTED: self.rejected,
            topics.DEAD_LETTER: self.dead_lettered,
        }[seen.topic]
        target[seen.key] = seen.event

    @property
    def pending(self) -> set[str]:
        return self.expected - self.archived.keys() - self.rejected.keys() - self.dead_lettered.keys()


async def await_outcomes(
    settings: ArchiveSettings,
    expected: set[str],
    timeout: float,
    progress: Any = None,
    *,
    since: datetime | None = None,
    done: Callable[[Outcomes], bool] | None = None,
) -> Outcomes:
    """Read the outcome topics until every expected case has one (or `done(outcomes)` says so)."""
    outcomes = Outcomes(expected=set(expected), since=since)

    def on_event(seen: Seen) -> None:
        outcomes.record(seen)
        if progress:
            progress(len(outcomes.expected) - len(outcomes.pending), len(outcomes.expected))

    finished = done or (lambda o: not o.pending)
    _, outcomes.complete = await read_topics(
        settings, OUTCOME_TOPICS, done=lambda _: finished(outcomes), timeout=timeout, on_event=on_event
    )
    return outcomes


def _event_time(event: dict[str, Any]) -> datetime:
    try:
        return datetime.fromisoformat(str(event.get("time")))
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)


def render_summary(outcomes: Outcomes, settings: ArchiveSettings, platforms: Counter[str]) -> str:
    lines = [
        f"approval-archive — {len(outcomes.expected)} sample cases fed from {len(platforms)} platforms "
        f"({', '.join(f'{p} {n}' for p, n in sorted(platforms.items()))})",
        "",
    ]
    lines.append(f"  archived     {len(outcomes.archived):>5}")
    for event in list(outcomes.archived.values())[:3]:
        data = event["data"]
        lines.append(f"               e.g. {data['classification']['archival_code']}  {data['case']['case_title']}")
    lines.append(f"  rejected     {len(outcomes.rejected):>5}   (rectification requests sent back to the platform)")
    reasons: Counter[str] = Counter()
    for event in outcomes.rejected.values():
        for failure in event["data"]["failures"]:
            reasons[f"{failure['code']}: {failure.get('reason_en') or ''}"] += 1
    for reason, count in reasons.most_common(8):
        lines.append(f"               {count:>3} × {reason[:140]}")
    lines.append(f"  dead-letter  {len(outcomes.dead_lettered):>5}")
    for event in list(outcomes.dead_lettered.values())[:5]:
        lines.append(f"               {event['data']['error_type']}: {event['data']['reason'][:140]}")
    if outcomes.pending:
        lines.append(f"  STILL PENDING {len(outcomes.pending)} — see .stack/logs/*.log and the metrics below")
    ns = settings.namespace or "default"
    lines += [
        "",
        "Where to look:",
        f"  packages   bucket {settings.archive_bucket} (one BagIt tar per case, write-once) on "
        f"http://{settings.minio_endpoint}  (staging originals: {settings.staging_bucket})",
        f"  index      psql {settings.pg_dsn()} -c 'select archival_code, case_title from records'",
        f"  topics     {', '.join(settings.topic(t) for t in topics.ALL_TOPICS)} on {settings.kafka_bootstrap}",
        "  metrics    http://127.0.0.1:9101/metrics (capture) … :9104 (storage)",
        f"  logs       .stack/logs/{ns}-<service>.log (JSON, one line per event, with correlation_id)",
    ]
    return "\n".join(lines)
