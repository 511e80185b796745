"""The engine of the check catalogue: the evidence a check looks at, the one decorator that registers a
check, the gates that decide whether a file check applies at all, and `run_catalogue`.

A check is a plain function in its property's module (authenticity, integrity, usability, security)
under `@check(...)`. The decorator takes what the check needs, so the function only says what it finds:

- `scope`: `Scope.FILE` (run once per file, the default) or `Scope.CASE` (run once per case);
- `when`: a condition on the file and the item's rules (something was declared, the item requires a
  seal on this material); when it does not hold the check is `not_run` with the condition's note;
- `kinds`: the kinds of file it applies to (PDF files, scanned images); other files are `not_run`;
- `needs_open`: the file must be measurable and really open (USAB-OPENS); otherwise `not_run`, naming
  the check that failed (`details.decided_by`), so one defect is reported once and not again by every
  check after it;
- `required`: the item's rules require what the check looks for on this file (a signature, colour); a
  file of a kind the check does not apply to then fails instead of being `not_run` — it cannot carry it.

They are tried in that order, then the function runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TypeVar

from contracts.v1 import CapturedFile, CaseMetadata, CheckResult, Outcome, Property
from services.validation.formats import ARCHIVAL_FORMATS, NO_ANCHORS, RASTER_FORMATS, FileFacts, Format, TrustAnchors
from services.validation.formats.facts import PdfaReport
from services.validation.rules import ItemRules


class Severity(StrEnum):
    REJECT = "reject"
    WARN = "warn"


class Scope(StrEnum):
    FILE = "file"
    CASE = "case"


class Scan(StrEnum):
    CLEAN = "clean"
    INFECTED = "infected"
    NOT_SCANNED = "not_scanned"


# --- the evidence: what the step gathered through its ports ------------------------------------------


@dataclass(frozen=True)
class VirusScan:
    status: Scan
    signature: str | None = None
    reason: str | None = None  # why a file was not scanned


@dataclass(frozen=True)
class CaseNumberClaim:
    """What the registry of case numbers answered for this case revision."""

    conflict: str | None = None  # "revision" | "other_case" | None
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FileEvidence:
    file: CapturedFile
    sha256: str  # of the bytes read back from staging
    sm3: str
    size: int
    facts: FileFacts
    scan: VirusScan
    pdfa: PdfaReport | None = None  # veraPDF's verdict, for a PDF that declares PDF/A (USAB-PDFA)


@dataclass(frozen=True)
class CaseEvidence:
    case: CaseMetadata
    files: list[FileEvidence]
    captured_at: datetime
    case_number: CaseNumberClaim
    trust_anchors: TrustAnchors = NO_ANCHORS  # the platform's signature trust anchors (AUTH-SIGNER-TRUSTED)


# --- what a check returns ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """What a check function found; the engine turns it into a CheckResult."""

    outcome: Outcome  # PASS, FAIL or NOT_RUN (severity turns a FAIL into WARN); WARN only from warn_only
    details: dict[str, str] = field(default_factory=dict)
    params: dict[str, object] = field(default_factory=dict)  # for the reason templates
    note_zh: str | None = None  # why it did not run, when that matters to a person
    note_en: str | None = None


def ok(**details: object) -> Finding:
    return Finding(Outcome.PASS, {k: str(v) for k, v in details.items()})


def fail(params: Mapping[str, object] | None = None, **details: object) -> Finding:
    return Finding(Outcome.FAIL, {k: str(v) for k, v in details.items()}, dict(params or {}))


def fail_on(**params: object) -> Finding:
    """A failure whose reason parameters are also its details (the common case)."""
    return fail(params, **params)


def warn_only(zh: str, en: str, **details: object) -> Finding:
    """A finding that can only warn, whatever the check's severity, in its own words: something is
    present but could not be verified ("present, not verified") — never a pass, never a rejection."""
    return Finding(Outcome.WARN, {k: str(v) for k, v in details.items()}, note_zh=zh, note_en=en)


def skip(why: str, *, decided_by: str | None = None, zh: str | None = None, en: str | None = None) -> Finding:
    """Not run, and why. `decided_by` names the check that decides in this one's place (it must run: see
    tests/unit/test_required_properties.py); the reason then ends with that code."""
    if decided_by is None:
        return Finding(Outcome.NOT_RUN, {"not_run": why}, note_zh=zh, note_en=en)
    details = {"not_run": f"{why} ({decided_by})", "decided_by": decided_by}
    return Finding(Outcome.NOT_RUN, details, note_zh=zh, note_en=en)


# --- when a file check applies -----------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """A file check applies only where `holds`; elsewhere it is not_run with `otherwise` as the note."""

    holds: Callable[[FileEvidence, ItemRules], bool]
    otherwise: str


def platform_declared(attribute: str, what: str) -> Condition:
    """The platform declared the CapturedFile attribute (a digest, a size, a page count)."""
    return Condition(lambda ev, rules: getattr(ev.file, attribute) is not None, f"the platform declared no {what}")


@dataclass(frozen=True)
class Kinds:
    """The kinds of file a check applies to."""

    formats: frozenset[Format]
    otherwise: str


PDF_FILES = Kinds(frozenset({Format.PDF}), "not a PDF")
ZIP_PACKAGES = Kinds(frozenset({Format.OFD}), "not a zip package")
SELF_ENCRYPTING = Kinds(frozenset({Format.PDF, Format.OFD}), "the format has no encryption of its own")
SCANS_AND_DOCUMENTS = Kinds(RASTER_FORMATS | {Format.PDF, Format.OFD}, "neither a scan nor a document with pages")


def unmeasurable(ev: FileEvidence) -> Finding | None:
    """A file that is empty, unidentified, refused or encrypted is not measured further: the check named
    in the note has already said so."""
    f = ev.facts
    if ev.size == 0:
        return skip("the file is empty", decided_by="USAB-EMPTY")
    if f.format not in ARCHIVAL_FORMATS:
        return skip("the format is not an accepted archival format", decided_by="USAB-FORMAT")
    if f.zip_bomb:
        return skip("the package was refused unopened", decided_by="USAB-ZIP-BOMB")
    if f.encrypted:
        return skip("the file is encrypted", decided_by="USAB-ENCRYPTED")
    return None


def unopened(ev: FileEvidence) -> Finding | None:
    """`unmeasurable`, or the file does not open (USAB-OPENS)."""
    gate = unmeasurable(ev)
    if gate:
        return gate
    if not ev.facts.opens:
        return skip("the file does not open", decided_by="USAB-OPENS")
    return None


# --- the catalogue -----------------------------------------------------------------------------------

FileCheckFn = Callable[[FileEvidence, CaseEvidence, ItemRules], Finding]
CaseCheckFn = Callable[[CaseEvidence, ItemRules], Finding]
Fn = TypeVar("Fn", bound=Callable[..., Finding])


@dataclass(frozen=True)
class Check:
    code: str
    property: Property
    examines: str
    examines_zh: str
    severity: Severity
    reason_zh: str  # str.format templates; {file} is the platform's file name, others come from the finding
    reason_en: str
    basis: str  # the rule it implements
    scope: Scope
    fn: Callable[..., Finding]
    when: Condition | None = None
    kinds: Kinds | None = None
    needs_open: bool = False
    required: Callable[[FileEvidence, ItemRules], bool] | None = None

    def on_file(self, ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
        if self.when and not self.when.holds(ev, rules):
            return skip(self.when.otherwise)
        if self.kinds and ev.facts.format not in self.kinds.formats:
            if self.required and self.required(ev, rules):
                # The item requires what this check looks for, and the file is of a kind that cannot carry it
                # (unless it cannot be measured at all: then the check that says so decides).
                problem = f"a {ev.facts.format.value} file cannot carry it"
                return unopened(ev) or fail({"problem": problem}, format=ev.facts.format.value)
            return skip(self.kinds.otherwise)
        gate = unopened(ev) if self.needs_open else None
        return gate or self.fn(ev, case, rules)

    def on_case(self, case: CaseEvidence, rules: ItemRules) -> Finding:
        return self.fn(case, rules)


# Results are reported property by property in the contract's order (authenticity, integrity, usability,
# security), each property's checks in the order its module defines them — whatever order the modules
# are imported in.
CATALOGUE: dict[str, Check] = {}
_PROPERTIES = list(Property)


def _register(new: Check) -> None:
    ordered = sorted([*CATALOGUE.values(), new], key=lambda c: _PROPERTIES.index(c.property))
    CATALOGUE.clear()
    CATALOGUE.update((c.code, c) for c in ordered)


def check(
    code: str,
    prop: Property,
    *,
    examines: str,
    examines_zh: str,
    reason_zh: str,
    reason_en: str,
    basis: str,
    severity: Severity = Severity.REJECT,
    scope: Scope = Scope.FILE,
    when: Condition | None = None,
    kinds: Kinds | None = None,
    needs_open: bool = False,
    required: Callable[[FileEvidence, ItemRules], bool] | None = None,
) -> Callable[[Fn], Fn]:
    """Register the decorated function as the check `code` (see the module's docstring)."""
    if code in CATALOGUE:
        raise ValueError(f"check {code} is registered twice: codes are stable and unique")
    if scope is Scope.CASE and (when or kinds or needs_open):
        raise ValueError(f"check {code}: when, kinds and needs_open look at a file; a case check has none")

    def register(fn: Fn) -> Fn:
        _register(
            Check(
                code,
                prop,
                examines,
                examines_zh,
                severity,
                reason_zh,
                reason_en,
                basis,
                scope,
                fn,
                when,
                kinds,
                needs_open,
                required,
            )
        )
        return fn

    return register


# --- running the catalogue ---------------------------------------------------------------------------


def severity_of(check: Check, rules: ItemRules) -> Severity:
    configured = rules.severity.get(check.code)
    return Severity(configured) if configured else check.severity


def _result(check: Check, finding: Finding, rules: ItemRules, file: CapturedFile | None) -> CheckResult:
    severity = severity_of(check, rules)
    outcome = finding.outcome
    reason_zh = reason_en = None
    if outcome is Outcome.FAIL:
        params = {"file": file.original_file_name if file else "", **finding.params}
        reason_zh = check.reason_zh.format(**params)
        reason_en = check.reason_en.format(**params)
        if severity is Severity.WARN:
            outcome = Outcome.WARN
    elif outcome in (Outcome.NOT_RUN, Outcome.WARN):  # WARN: warn_only's own words
        reason_zh, reason_en = finding.note_zh, finding.note_en
    return CheckResult(
        code=check.code,
        property=check.property,
        outcome=outcome,
        reason_zh=reason_zh,
        reason_en=reason_en,
        file_name=file.file_name if file else None,
        details=finding.details,
        severity=severity.value,
    )


_SWITCHED_OFF = "switched off for this item"


def run_catalogue(evidence: CaseEvidence, rules: ItemRules) -> list[CheckResult]:
    """Every check of the catalogue on the case: case checks once, file checks once per file."""
    results: list[CheckResult] = []
    for c in CATALOGUE.values():
        if c.scope is Scope.CASE:
            finding = skip(_SWITCHED_OFF) if c.code in rules.disabled_checks else c.on_case(evidence, rules)
            results.append(_result(c, finding, rules, None))
    for ev in evidence.files:
        for c in CATALOGUE.values():
            if c.scope is Scope.FILE:
                finding = skip(_SWITCHED_OFF) if c.code in rules.disabled_checks else c.on_file(ev, evidence, rules)
                results.append(_result(c, finding, rules, ev.file))
    return results


def run_file_checks(evidence: CaseEvidence, rules: ItemRules, codes: Sequence[str]) -> list[CheckResult]:
    """The file checks `codes` only, on every file of `evidence`, exactly as `run_catalogue` runs them (the
    re-check of an archived file at transfer and at preservation time: services/validation/recheck.py)."""
    chosen = [CATALOGUE[code] for code in codes]
    if any(c.scope is not Scope.FILE for c in chosen):
        raise ValueError(f"not all of {list(codes)} are file checks")
    results: list[CheckResult] = []
    for ev in evidence.files:
        for c in chosen:
            finding = skip(_SWITCHED_OFF) if c.code in rules.disabled_checks else c.on_file(ev, evidence, rules)
            results.append(_result(c, finding, rules, ev.file))
    return results


def rejections(results: list[CheckResult]) -> list[CheckResult]:
    """The failures that send the case back: outcome fail (a warn-severity failure has outcome warn)."""
    return [r for r in results if r.outcome is Outcome.FAIL]
