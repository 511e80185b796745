"""Per-item validation configuration, as data (services/validation/item_rules.yaml).

`RuleBook.load()` reads the file; `rulebook.for_item(code)` gives the effective `ItemRules` for an
approval item: the defaults, overridden by the item's own entry (lists replace, maps merge).
"""

from __future__ import annotations

from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from contracts.v1 import CapturedFile, Stage

DEFAULT_RULES = Path(__file__).with_name("item_rules.yaml")


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    min_dpi: float = 200
    min_dpi_strict: float = 300
    min_sharpness: float = 200
    # Official seal sizes (docs/validation.md): the long axis of the ring, and the oval's short/long ratio.
    seal_min_mm: float = 38
    seal_max_mm: float = 63
    seal_min_ratio: float = 0.6
    future_tolerance_minutes: float = 10
    earliest_date: date = date(1990, 1, 1)
    zip_max_ratio: float = 100
    zip_max_total_bytes: int = 512 * 1024 * 1024


# The PRONOM formats (PUIDs) of the archival formats DA/T 70 accepts: every version of PDF (incl. PDF/A,
# PDF/X, PDF/E), JPEG (JFIF, SPIFF, Exif), PNG, TIFF (baseline, Exif, TIFF/IT, EP, GeoTIFF, FX), JPEG 2000
# (JP2, JPX), MP3, WAV (incl. Broadcast WAVE) and MP4. OFD has no PUID (the signature decides, see
# docs/validation.md).
ACCEPTED_PUIDS = frozenset(
    [f"fmt/{n}" for n in (14, 15, 16, 17, 18, 19, 20, 276, 1129, 95, 354, 476, 477, 478, 479, 480, 481)]
    + [f"fmt/{n}" for n in (144, 145, 146, 147, 148, 157, 158, 488, 489, 490, 491, 492, 493)]
    + [f"fmt/{n}" for n in (41, 42, 43, 44, 112, 113, 645, 1507)]
    + ["x-fmt/390", "x-fmt/391", "x-fmt/398"]
    + ["fmt/11", "fmt/12", "fmt/13"]
    + ["fmt/353", "fmt/153", "fmt/154", "fmt/155", "fmt/156", "x-fmt/387", "x-fmt/388", "x-fmt/399"]
    + ["x-fmt/392", "fmt/151"]
    + ["fmt/134", "x-fmt/279"]
    + [f"fmt/{n}" for n in (1, 2, 6, 141, 142, 143, 527, 703, 704, 705, 706, 707, 708, 709, 710, 711)]
    + ["fmt/199"]
)


class RequiredMaterial(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    stage: Stage
    material_name: str | None = None

    def matches(self, file: CapturedFile) -> bool:
        return file.stage is self.stage and (self.material_name is None or file.material_name == self.material_name)

    def describe(self) -> str:
        return f"{self.stage.value}" + (f" / {self.material_name}" if self.material_name else "")


class ItemRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    disabled_checks: frozenset[str] = frozenset()
    severity: dict[str, str] = Field(default_factory=dict)
    accepted_puids: frozenset[str] = ACCEPTED_PUIDS
    thresholds: Thresholds = Thresholds()
    seal_required_stages: frozenset[Stage] = frozenset({Stage.RESULT})
    seal_required_materials: frozenset[str] = frozenset()
    colour_required_materials: frozenset[str] = frozenset()
    dpi_300_materials: frozenset[str] = frozenset()
    signature_required_materials: frozenset[str] = frozenset()
    pdfa_required_materials: frozenset[str] = frozenset()
    required_materials: tuple[RequiredMaterial, ...] = (
        RequiredMaterial(stage=Stage.APPLICATION),
        RequiredMaterial(stage=Stage.RESULT),
    )
    mandatory_metadata: tuple[str, ...] = ("item_version",)
    legal_representative_required_for_organisations: bool = True
    certificate_required_when_approved: bool = True

    def needs_seal(self, file: CapturedFile) -> bool:
        return file.stage in self.seal_required_stages or file.material_name in self.seal_required_materials

    def needs_colour(self, file: CapturedFile) -> bool:
        """A material that must carry a seal must show it in colour: a seal is known by its red."""
        return file.material_name in self.colour_required_materials or self.needs_seal(file)

    def needs_pdfa(self, file: CapturedFile) -> bool:
        return file.material_name in self.pdfa_required_materials

    def min_dpi(self, file: CapturedFile) -> float:
        strict = file.material_name in self.dpi_300_materials
        return self.thresholds.min_dpi_strict if strict else self.thresholds.min_dpi


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


class RuleBook:
    def __init__(self, defaults: dict[str, Any], items: dict[str, dict[str, Any]]) -> None:
        self._defaults = defaults
        self._items = items
        self._cache: dict[str, ItemRules] = {}
        self.default = ItemRules.model_validate(defaults)
        for code in items:  # fail at start-up, not on the first case of a badly configured item
            self.for_item(code)

    @classmethod
    def from_mapping(cls, data: dict[str, Any]) -> RuleBook:
        return cls(data.get("defaults") or {}, data.get("items") or {})

    @classmethod
    def load(cls, path: Path = DEFAULT_RULES) -> RuleBook:
        with path.open(encoding="utf-8") as fh:
            return cls.from_mapping(yaml.safe_load(fh) or {})

    def for_item(self, item_code: str) -> ItemRules:
        found = self._cache.get(item_code)
        if found is None:
            override = self._items.get(item_code)
            found = ItemRules.model_validate(_merge(self._defaults, override)) if override else self.default
            self._cache[item_code] = found
        return found


@cache
def default_rulebook() -> RuleBook:
    return RuleBook.load()
