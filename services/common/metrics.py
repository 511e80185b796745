"""Prometheus metrics, one registry per process, served on the service's own port."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

MESSAGES_CONSUMED = Counter("archive_messages_consumed_total", "Messages taken from a topic.", ["service", "topic"])
MESSAGES_PRODUCED = Counter(
    "archive_messages_produced_total",
    "Events delivered to a topic (after the broker acknowledged).",
    ["service", "topic"],
)
MESSAGES_FAILED = Counter(
    "archive_messages_failed_total",
    "Messages that could not be processed, by reason (dead-lettered or retried).",
    ["service", "reason"],
)
TRANSIENT_RETRIES = Counter(
    "archive_transient_retries_total",
    "Retries after a transient fault (broker, object store, database).",
    ["service", "fault"],
)
STEP_DURATION = Histogram(
    "archive_step_duration_seconds",
    "Time from decoding a message to its outputs being delivered.",
    ["service", "step"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
DEAD_LETTER_SHARE = Gauge(
    "archive_dead_letter_share",
    "Share of the worker's recent messages (the guard's window) that were dead-lettered.",
    ["service"],
)
GUARD_TRIPS = Counter(
    "archive_dead_letter_guard_trips_total",
    "Times the dead-letter guard stopped the worker: most recent messages failed (alert on any increase).",
    ["service"],
)
POISON_PILLS = Counter(
    "archive_poison_pills_total",
    "Messages set aside because the worker died on them too often (alert on any increase).",
    ["service"],
)
WORKER_STOPS = Counter(
    "archive_worker_stops_total",
    "Times a worker stopped itself with its input unacknowledged, by cause.",
    ["service", "cause"],
)
IN_FLIGHT = Gauge("archive_step_in_flight", "Messages being handled right now.", ["service"])
JOB_ROUNDS = Counter(
    "archive_job_rounds_total", "Rounds of a scheduled job, by outcome.", ["service", "job", "outcome"]
)
JOB_DURATION = Histogram(
    "archive_job_duration_seconds",
    "Time one round of a scheduled job took.",
    ["service", "job"],
    buckets=(0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600),
)
FIXITY_CHECKS = Counter("archive_fixity_checks_total", "Fixity checks of stored packages, by outcome.", ["outcome"])
FIXITY_FAILURES = Counter(
    "archive_fixity_failures_total",
    "Packages found altered or unreadable by the fixity audit or a download (alert on any increase).",
)
FIXITY_REPAIRS = Counter(
    "archive_fixity_repairs_total", "Bad package copies rewritten from the good copy (services/storage/fixity.py)."
)
RESTORE_TESTS = Counter(
    "archive_restore_tests_total", "Packages restored from the replica and validated, by outcome.", ["outcome"]
)
REVALIDATIONS = Counter(
    "archive_revalidations_total",
    "Four-property re-checks of stored packages (at preservation time, at transfer), by purpose and outcome.",
    ["purpose", "outcome"],
)
FIXITY_LOSSES = Counter(
    "archive_fixity_losses_total",
    "Packages with no intact copy at any site: loss (page someone on any increase).",
)

DEFAULT_PORTS = {"capture": 9101, "validation": 9102, "classification": 9103, "storage": 9104, "query": 9105}


def serve_metrics(service: str, port: int = 0, host: str = "127.0.0.1") -> int:
    """Start the /metrics endpoint (on loopback unless `host` says otherwise); returns the port used."""
    chosen = port or DEFAULT_PORTS.get(service, 9100)
    start_http_server(chosen, addr=host)
    return chosen
