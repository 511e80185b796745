"""capture's settings (environment prefix AA_): fetching limits and where dialect mappings live."""

from pathlib import Path

from services.capture.adapters.file_fetcher import FetchLimits
from services.capture.dialect import DIALECT_DIR
from services.common.settings import ArchiveSettings


class CaptureSettings(ArchiveSettings):
    dialect_dir: Path = DIALECT_DIR
    fetch_connect_timeout_seconds: float = 5.0
    fetch_read_timeout_seconds: float = 30.0
    fetch_attempts: int = 4
    fetch_backoff_initial_seconds: float = 0.5
    max_file_bytes: int = 1024**3  # per material
    max_case_bytes: int = 4 * 1024**3  # all materials of one case
    spool_dir: Path | None = None  # temporary files while fetching; the system's temp dir by default

    def fetch_limits(self) -> FetchLimits:
        return FetchLimits(
            connect_timeout=self.fetch_connect_timeout_seconds,
            read_timeout=self.fetch_read_timeout_seconds,
            attempts=self.fetch_attempts,
            backoff_initial=self.fetch_backoff_initial_seconds,
            max_file_bytes=self.max_file_bytes,
        )
