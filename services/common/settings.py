"""Settings shared by every service, read from the environment (prefix `AA_`).

The defaults point at the local stack that `make stack-up` starts on 127.0.0.1 (deploy/local/stack.env
holds the same numbers). `AA_NAMESPACE` prefixes topics, consumer groups and buckets and picks the
database, so that tests and benchmarks run beside `make up` without touching its data.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ArchiveSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AA_", extra="ignore")

    namespace: str = Field(default="", pattern=r"^[a-z0-9\-]*$")

    kafka_bootstrap: str = "127.0.0.1:19092"
    # Inline attachments make approval events large; the broker is configured to accept this too.
    kafka_max_message_bytes: int = 8 * 1024 * 1024

    minio_endpoint: str = "127.0.0.1:19000"
    minio_access_key: str = "archive-admin"
    minio_secret_key: str = "archive-admin-secret"
    minio_secure: bool = False
    # The second site (docs/packages.md "Two copies"): the storage step writes every package there too,
    # under the same bucket name, lock and hold. Empty = one site only (a package is then archived with
    # one copy: say so in the deployment, it is not what the archive promises).
    minio_replica_endpoint: str = "127.0.0.1:19010"
    minio_replica_access_key: str = "archive-admin"
    minio_replica_secret_key: str = "archive-admin-secret"
    minio_replica_secure: bool = False
    staging_bucket_base: str = "archive-staging"
    archive_bucket_base: str = "archive-packages"

    pg_host: str = "127.0.0.1"
    pg_port: int = 15432
    pg_user: str = "archive"
    pg_password: str = "archive"
    pg_database_base: str = "archive"

    # Faust keeps a little local state (table changelogs, none used yet) per worker.
    state_dir: Path = Path(__file__).resolve().parents[2] / ".stack" / "faust"

    metrics_port: int = Field(default=0, description="0 = the service's own default port.")
    # Loopback by default: the metrics say a lot about the archive and need no outside reader on a laptop.
    # A container sets 0.0.0.0 so that Prometheus can scrape it (docker-compose.yml does).
    metrics_host: str = "127.0.0.1"
    log_level: str = "INFO"

    # Retries of transient faults (broker, object store, database unavailable): never given up,
    # backoff doubles from the initial delay up to the cap.
    retry_initial_seconds: float = 0.5
    retry_max_seconds: float = 30.0

    # Dead letters (docs/reliability.md): inputs larger than this travel in the dead-letter bucket, not
    # inside their letter. The guard stops a worker that dead-letters more than `dlq_guard_max_share` of
    # its last `dlq_guard_window` messages (judged from `dlq_guard_min_messages` on): a bad deploy.
    dead_letter_bucket_base: str = "archive-dead-letters"
    dead_letter_inline_max_bytes: int = 1024 * 1024
    dlq_guard_window: int = Field(default=100, ge=1)
    dlq_guard_max_share: float = Field(default=0.5, gt=0, le=1)
    dlq_guard_min_messages: int = Field(default=20, ge=1)
    # A message on which a worker died this many times is set aside (poison pill).
    poison_pill_deaths: int = Field(default=3, ge=1)
    # A worker that must stop (its input unacknowledged) waits this long first, so that Prometheus scrapes
    # the metric saying why; then it exits with status 75 for its orchestrator to restart it.
    worker_stop_delay_seconds: float = 15.0
    # The stall watchdog (docs/reliability.md "A consumer that stops consuming"): a worker with messages
    # waiting on its own partitions, nothing in flight and nothing received for this long exits with
    # status 75 for its orchestrator to restart it. 0 turns the watchdog off.
    stall_timeout_seconds: float = Field(default=180.0, ge=0)
    # The transactional outbox's relay (a job of the storage worker): how often it sends what is unsent.
    outbox_relay_seconds: float = 5.0
    # Inputs a worker settles at once (services/common/in_flight.py, docs/decisions.md 41): different cases
    # overlap while one waits on I/O; one case's inputs stay in order and offsets are committed in order.
    # 1 = one at a time, as before issue 18.
    in_flight_max_inputs: int = Field(default=4, ge=1)
    # ...and at most this much of their declared scratch space (files spooled, packages built) at once; an
    # input declaring more runs alone. So the scratch disk of a worker stays within
    # max(this, its heaviest single case): deploy/k8s sizes /tmp for the heaviest case, plus this.
    in_flight_max_scratch_bytes: int = Field(default=512 * 1024 * 1024, ge=0)
    # glibc's malloc: an allocation of at least `malloc_mmap_threshold_bytes` gets an mmap of its own, returned
    # to the kernel when freed, and the heap keeps at most `malloc_trim_threshold_bytes` free at its top.
    # glibc's defaults move both up (to 32 and 64 MiB) each time a large block is freed; a big scan's arrays
    # then land on the heap and their fragments stay resident, and a worker's peak depends on the order of
    # earlier frees (issue 18; docs/benchmarks.md, memory). Fixed values keep the peak at what the files
    # need; 4 MiB keeps a 200-dpi page's arrays on the heap, where reusing them costs no page faults. 0 =
    # leave glibc's dynamic default (services/common/allocator.py).
    malloc_mmap_threshold_bytes: int = Field(default=4 * 1024 * 1024, ge=0, le=32 * 1024 * 1024)
    malloc_trim_threshold_bytes: int = Field(default=32 * 1024 * 1024, ge=0)
    # Fault injection (tests, the chaos harness): SIGKILL the worker on a message with this key. Empty = off.
    fault_kill_on_key: str = ""
    # Fault injection: after settling the message with this key, the consumer loop waits for ever — what a
    # consumer that stopped fetching looks like from inside (the stall watchdog's test). Empty = off.
    fault_hang_after_key: str = ""

    # The archive's identity in archival codes (DA/T 22): fonds (全宗号).
    fonds_code: str = "Z109"

    # A rejected case with no resubmission after this many days is an overdue rectification (整改逾期):
    # listed by `archivectl quarantine overdue`, GET /api/v1/quarantine/overdue and the dashboard.
    # 15 days: half a month, the period approval practice usually gives an applicant to 补正 (supplement
    # or correct) materials; a mistyped field is fixed in a day, a rescan in a week. docs/validation.md.
    rectification_overdue_days: int = Field(default=15, ge=1)

    @model_validator(mode="after")
    def _endpoint_without_scheme(self) -> ArchiveSettings:
        # deploy/local/stack.env exports the endpoint as a URL; the S3 client wants host:port.
        for site in ("minio", "minio_replica"):
            endpoint = getattr(self, f"{site}_endpoint")
            if "://" in endpoint:
                scheme, _, rest = endpoint.partition("://")
                setattr(self, f"{site}_endpoint", rest.rstrip("/"))
                setattr(self, f"{site}_secure", scheme == "https")
        return self

    def topic(self, name: str) -> str:
        return f"{self.namespace}.{name}" if self.namespace else name

    def group_id(self, service: str) -> str:
        return f"{self.namespace}.approval-archive-{service}" if self.namespace else f"approval-archive-{service}"

    @property
    def staging_bucket(self) -> str:
        return f"{self.namespace}-{self.staging_bucket_base}" if self.namespace else self.staging_bucket_base

    @property
    def archive_bucket(self) -> str:
        return f"{self.namespace}-{self.archive_bucket_base}" if self.namespace else self.archive_bucket_base

    @property
    def dead_letter_bucket(self) -> str:
        return f"{self.namespace}-{self.dead_letter_bucket_base}" if self.namespace else self.dead_letter_bucket_base

    @property
    def pg_database(self) -> str:
        suffix = self.namespace.replace("-", "_")
        return f"{self.pg_database_base}_{suffix}" if suffix else self.pg_database_base

    def pg_dsn(self, database: str | None = None) -> str:
        db = database or self.pg_database
        return f"postgresql://{self.pg_user}:{self.pg_password}@{self.pg_host}:{self.pg_port}/{db}"
