"""classification's settings (environment prefix AA_): the fonds code, the organisation codes file and the
retention schedule file a fresh database starts with."""

from pathlib import Path

import yaml

from services.classification.domain import OrganisationCodes
from services.common.settings import ArchiveSettings

SCHEDULE_DIR = Path(__file__).with_name("schedule")


def bundled_schedule_file() -> Path:
    """The newest schedule file shipped with the code (by file name: retention-schedule-<version>.yaml)."""
    files = sorted(SCHEDULE_DIR.glob("retention-schedule-*.yaml"))
    if not files:
        raise FileNotFoundError(f"no retention-schedule-*.yaml in {SCHEDULE_DIR}")
    return files[-1]


class ClassificationSettings(ArchiveSettings):
    organisation_codes_file: Path = Path(__file__).with_name("organisations.yaml")
    # Loaded and put in force at start-up ONLY when the database has no schedule in force yet (a fresh
    # namespace); afterwards versions change only through `archivectl schedule load`.
    retention_schedule_file: Path | None = None

    def organisation_codes(self) -> OrganisationCodes:
        data = yaml.safe_load(self.organisation_codes_file.read_text(encoding="utf-8")) or {}
        return OrganisationCodes(platforms=data.get("platforms") or {}, departments=data.get("departments") or {})

    def bootstrap_schedule_file(self) -> Path:
        return self.retention_schedule_file or bundled_schedule_file()
