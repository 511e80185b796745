"""storage's settings: the shared ones (environment prefix AA_) and the fixity audit's schedule."""

from pydantic import Field

from services.common.settings import ArchiveSettings


class StorageSettings(ArchiveSettings):
    # The scheduled fixity audit inside the storage worker: every `fixity_interval_seconds`, audit up to
    # `fixity_batch` packages whose last check is older than `fixity_max_age_days`. 0 switches it off.
    fixity_interval_seconds: float = Field(default=600.0, ge=0)
    fixity_max_age_days: float = Field(default=30.0, gt=0)
    fixity_batch: int = Field(default=200, ge=1)
