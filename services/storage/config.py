"""storage's settings: the shared ones (environment prefix AA_) and the fixity audit's schedule."""

from pathlib import Path

from pydantic import Field

from services.common.settings import ArchiveSettings


class StorageSettings(ArchiveSettings):
    # The scheduled fixity audit inside the storage worker: every `fixity_interval_seconds`, audit up to
    # `fixity_batch` packages whose last check is older than `fixity_max_age_days`. 0 switches it off.
    fixity_interval_seconds: float = Field(default=600.0, ge=0)
    fixity_max_age_days: float = Field(default=30.0, gt=0)
    fixity_batch: int = Field(default=200, ge=1)
    # The scheduled restore test (services/storage/restore_test.py): every `restore_test_interval_seconds`,
    # restore `restore_test_sample` random packages from the replica alone and validate them. 0: off.
    restore_test_interval_seconds: float = Field(default=86400.0, ge=0)
    restore_test_sample: int = Field(default=5, ge=1)
    # The scheduled re-check at preservation time (services/storage/revalidation.py): every
    # `revalidation_interval_seconds`, re-check (fixity, format still accepted, file still opens) up to
    # `revalidation_batch` packages whose last re-check is older than `revalidation_max_age_days`. 0: off.
    revalidation_interval_seconds: float = Field(default=3600.0, ge=0)
    revalidation_max_age_days: float = Field(default=365.0, gt=0)
    revalidation_batch: int = Field(default=20, ge=1)
    # The item rules the re-check judges formats by: validation's file (the same AA_ITEM_RULES_FILE), by
    # default the one shipped with validation.
    item_rules_file: Path | None = None
