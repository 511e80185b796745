"""storage's settings: the shared ones (environment prefix AA_)."""

from services.common.settings import ArchiveSettings


class StorageSettings(ArchiveSettings):
    pass
