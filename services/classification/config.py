"""classification's settings: the shared ones (environment prefix AA_; AA_FONDS_CODE names the fonds)."""

from services.common.settings import ArchiveSettings


class ClassificationSettings(ArchiveSettings):
    pass
