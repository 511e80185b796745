"""Validation's re-check of archived files at a later moment — DA/T 70-2018 names archiving, transfer and
long-term preservation as the three moments of the four-property check. At transfer and at preservation
time, storage re-reads each package and asks this module whether every file is still in an accepted
format and still opens.

The same functions as at archiving, not new ones: `measure` (formats.inspect: the format by signature
and PRONOM, opened with the library that reads it) and the catalogue's own USAB-EMPTY, USAB-FORMAT and
USAB-OPENS checks run through the engine (`run_file_checks`), with the item's rules as they are NOW
(item_rules.yaml): a format taken off an item's accepted list fails its re-check.

This module is validation's published entry point for that (tests/unit/test_import_rules.py PUBLISHED).
Pure: bytes and contract models in, check results out; CPU-heavy, so callers run it in a worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from contracts.v1 import CapturedFile, CaseMetadata, CheckResult
from services.validation.checks import CaseEvidence, CaseNumberClaim, FileEvidence, Scan, VirusScan
from services.validation.checks.engine import run_file_checks
from services.validation.domain import limits_for, measure
from services.validation.rules import DEFAULT_RULES, RuleBook, default_rulebook

__all__ = ["FORMAT_CHECK", "OPENS_CHECK", "RECHECKED", "RuleBook", "load_rules", "recheck"]

# The checks re-run on an archived file: the format is still accepted, the file still opens (USAB-EMPTY
# decides for an empty file, as at archiving, so that the two others name it instead of failing twice).
FORMAT_CHECK = "USAB-FORMAT"
OPENS_CHECK = "USAB-OPENS"
RECHECKED = ("USAB-EMPTY", FORMAT_CHECK, OPENS_CHECK)
_NOT_RESCANNED = VirusScan(Scan.NOT_SCANNED, reason="not re-scanned: a re-check reads format and opening only")


def load_rules(path: Path | None = None) -> RuleBook:
    """The item rules a re-check judges by: validation's file (AA_ITEM_RULES_FILE), by default the shipped one."""
    return default_rulebook() if path is None or path == DEFAULT_RULES else RuleBook.load(path)


def recheck(
    case: CaseMetadata,
    files: Sequence[tuple[CapturedFile, bytes]],
    *,
    captured_at: datetime,
    rules: RuleBook | None = None,
) -> list[CheckResult]:
    """The RECHECKED checks on each (file as archived, its bytes read back now), one result per check per
    file, in file order."""
    item_rules = (rules or default_rulebook()).for_item(case.item_code)
    limits = limits_for(item_rules)
    evidence: list[FileEvidence] = []
    for file, data in files:
        m = measure(data, limits)
        evidence.append(
            FileEvidence(file=file, sha256=m.sha256, sm3=m.sm3, size=m.size, facts=m.facts, scan=_NOT_RESCANNED)
        )
    case_evidence = CaseEvidence(case=case, files=evidence, captured_at=captured_at, case_number=CaseNumberClaim(None))
    return run_file_checks(case_evidence, item_rules, RECHECKED)
