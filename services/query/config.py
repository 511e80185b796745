"""The query service's settings: the shared ones (environment prefix AA_) and its HTTP side."""

import tempfile
from pathlib import Path

from pydantic import Field

from services.common.settings import ArchiveSettings


class QuerySettings(ArchiveSettings):
    query_host: str = "127.0.0.1"
    query_port: int = Field(default=8700, ge=1, le=65535)
    # Connections to the namespace's database; every request also appends one audit-log row.
    query_pg_pool_size: int = Field(default=10, ge=2)
    # A CSV export stops after this many rows and says so in its last line (docs/query.md).
    export_max_rows: int = Field(default=10_000, ge=1)
    # The login cookie (aa_key): sent over HTTPS only when the service is behind TLS.
    cookie_secure: bool = False
    session_max_age_seconds: int = Field(default=8 * 3600, ge=60)
    # Page images of the record page (services/query/previews.py): a bounded disk cache keyed by file digest.
    preview_cache_dir: Path = Field(default_factory=lambda: Path(tempfile.gettempdir()) / "approval-archive-previews")
    preview_cache_max_bytes: int = Field(default=256 * 1024 * 1024, ge=1024 * 1024)
    # A file larger than this is not read for a preview (the page offers its download instead).
    preview_max_file_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
