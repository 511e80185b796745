"""An archival-code series (DA/T 22-2015), shared by classification's rules and the index adapter."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Series:
    """fonds + category + year + retention + organisation: item numbers run 1, 2, 3 … within it."""

    fonds_code: str
    category_code: str
    year: int
    retention: str
    organisation_code: str


@dataclass(frozen=True)
class AllocatedCode:
    """The archival code a case revision holds, and whether this call is the one that allocated it."""

    item_number: int
    archival_code: str
    newly_allocated: bool
