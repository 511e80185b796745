"""classification's settings (environment prefix AA_): the fonds code and the organisation codes file."""

from pathlib import Path

import yaml

from services.classification.domain import OrganisationCodes
from services.common.settings import ArchiveSettings


class ClassificationSettings(ArchiveSettings):
    organisation_codes_file: Path = Path(__file__).with_name("organisations.yaml")

    def organisation_codes(self) -> OrganisationCodes:
        data = yaml.safe_load(self.organisation_codes_file.read_text(encoding="utf-8")) or {}
        return OrganisationCodes(platforms=data.get("platforms") or {}, departments=data.get("departments") or {})
