"""The validation step: archive.captured → archive.validated, or archive.record.rejected (退回整改) with
every reject-severity failure, and an entry in the quarantine until a corrected revision passes."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from contracts.envelope import utc_now
from contracts.v1 import CapturedEvent, CapturedFile, FileFormat, RejectedCase, RejectionStage, ValidatedCase, topics
from services.common.adapters.object_store import ObjectMissing, ObjectStore
from services.common.digests import Digests, DigestWriter
from services.common.events import follow_on
from services.common.faults import InvalidInput, TransientFault
from services.common.in_flight import Admission
from services.common.runner import Outbound
from services.validation.adapters.clamav import ClamdUnavailable
from services.validation.checks import CaseEvidence, CaseNumberClaim, FileEvidence, Scan, VirusScan
from services.validation.checks.trust import signature_verdicts
from services.validation.domain import Measured, case_fingerprint, limits_for, measure, verdict
from services.validation.formats import NO_ANCHORS, Format, Limits, Source, TrustAnchors, working_set
from services.validation.formats.facts import PdfaReport
from services.validation.ports import PdfaValidator, Quarantine, TrustAnchorSource, VirusScanner
from services.validation.rules import RuleBook

SERVICE = "validation"
log = logging.getLogger(__name__)


async def _spool(store: ObjectStore, file: CapturedFile, path: Path) -> tuple[Source, Digests]:
    """The stored file, read back into a local file and digested in the same pass: every later read (the
    format checks, clamd, veraPDF) comes from there, so no file is ever whole in memory (issue 18)."""
    try:
        with path.open("wb") as out:
            writer = DigestWriter(out)
            await store.get_into(file.stored.bucket, file.stored.key, writer)
    except ObjectMissing as exc:
        raise InvalidInput(f"captured file {exc} does not exist", kind="MissingObject") from exc
    return Source.of_path(path), writer.digests()


@dataclass(frozen=True)
class _FileChecked:
    measured: Measured
    scan: VirusScan
    pdfa: PdfaReport | None


async def _check_file(
    store: ObjectStore,
    file: CapturedFile,
    path: Path,
    *,
    limits: Limits,
    anchors: TrustAnchors,
    scanner: VirusScanner,
    on_scanner_down: str,
    pdfa: PdfaValidator | None,
    measuring: Admission | None,
) -> _FileChecked:
    """One file: spooled, measured (CPU work, off the event loop so the consumer keeps its heartbeats),
    scanned and, when it declares PDF/A, validated — then its spooled copy is deleted. Files are taken one
    at a time, so a case's scratch space is its largest file. With several cases in flight, `measuring`
    admits files to be measured by the memory their measuring takes (an image's from its header; a
    document's is unknown until parsed, so it is measured alone): the decoding is what takes memory, while
    the spooling, clamd and veraPDF of the other cases overlap it."""
    source, digests = await _spool(store, file, path)
    try:
        if measuring is None:
            measured = await asyncio.to_thread(measure, source, limits, anchors, digests)
        else:
            weight = await asyncio.to_thread(working_set, source, limits)
            async with measuring.hold(weight if weight is not None else measuring.budget + 1):
                measured = await asyncio.to_thread(measure, source, limits, anchors, digests)
        scan = await _scan(scanner, source, on_scanner_down)
        facts = measured.facts
        report = (
            await pdfa.validate(source, facts.pdfa_declared)
            if pdfa and facts.format is Format.PDF and facts.opens and facts.pdfa_declared
            else None
        )
        return _FileChecked(measured, scan, report)
    finally:
        await asyncio.to_thread(path.unlink, missing_ok=True)


class ScannerRefused(TransientFault):
    """clamd was reached but answered ERROR: the file was not scanned. Under `wait` the case is held (the
    runner retries with backoff) exactly as when clamd is down — a file is never let through unscanned."""


async def _scan(scanner: VirusScanner, source: Source, on_scanner_down: str) -> VirusScan:
    try:
        answer = await scanner.scan(source)
    except ClamdUnavailable as exc:
        if on_scanner_down == "wait":
            raise  # transient: the runner retries; the case waits for clamd
        log.warning("clamd unavailable; file marked not scanned", extra={"error": str(exc)[:300]})
        return VirusScan(Scan.NOT_SCANNED, reason="clamd unavailable")
    if answer.status == "infected":
        return VirusScan(Scan.INFECTED, signature=answer.signature)
    if answer.status == "clean":
        return VirusScan(Scan.CLEAN)
    if on_scanner_down == "wait":
        raise ScannerRefused(
            f"clamd answered {answer.raw[:200]!r} for a {source.size}-byte file: it was not scanned, the case waits. "
            "A size limit means clamd's StreamMaxLength/MaxFileSize are below capture's AA_MAX_FILE_BYTES "
            "(deploy/local/lib/clamav.sh aligns them; restart clamd after changing them)."
        )
    log.warning("clamd answered ERROR; file marked not scanned", extra={"reply": answer.raw[:300]})
    return VirusScan(Scan.NOT_SCANNED, reason=f"clamd answered {answer.raw[:200]!r}")


async def validate_case(
    event: CapturedEvent,
    *,
    store: ObjectStore,
    scanner: VirusScanner,
    quarantine: Quarantine,
    rules: RuleBook,
    on_scanner_down: Literal["wait", "mark-not-scanned"] = "wait",
    trust_anchors: TrustAnchorSource | None = None,
    pdfa: PdfaValidator | None = None,
    measuring: Admission | None = None,
) -> Sequence[Outbound]:
    captured = event.data
    case = captured.case
    case_key = case.case_key
    item_rules = rules.for_item(case.item_code)
    limits = limits_for(item_rules)
    anchors = await trust_anchors.for_platform(case.source_platform) if trust_anchors else NO_ANCHORS
    with tempfile.TemporaryDirectory(prefix="aa-validation-") as scratch:
        checked = [
            await _check_file(
                store,
                file,
                Path(scratch) / f"{n:04d}",
                limits=limits,
                anchors=anchors,
                scanner=scanner,
                on_scanner_down=on_scanner_down,
                pdfa=pdfa,
                measuring=measuring,
            )
            for n, file in enumerate(captured.files)
        ]
    measured = [c.measured for c in checked]
    evidence = CaseEvidence(
        case=case,
        files=[
            FileEvidence(
                file=f,
                sha256=c.measured.sha256,
                sm3=c.measured.sm3,
                size=c.measured.size,
                facts=c.measured.facts,
                scan=c.scan,
                pdfa=c.pdfa,
            )
            for f, c in zip(captured.files, checked, strict=True)
        ],
        captured_at=captured.captured_at,
        case_number=CaseNumberClaim(None),
        trust_anchors=anchors,
    )
    results, failed = verdict(evidence, item_rules)
    # Only a revision that passes binds its case number (docs/validation.md, "What binds a case number"):
    # the claim is made once the other checks are known, and a conflict it finds is judged in turn.
    answer = await quarantine.claim_case_number(
        case.source_platform,
        case.case_number,
        case.revision,
        applicant_id_number=case.applicant.id_number,
        item_code=case.item_code,
        fingerprint=case_fingerprint(case, captured.files),
        binds=not failed,
    )
    if answer.conflict is not None:
        evidence = replace(evidence, case_number=CaseNumberClaim(answer.conflict, answer.details))
        results, failed = verdict(evidence, item_rules)
    if failed:
        rejected = RejectedCase(
            case=case.identity(),
            case_title=case.case_title,
            stage=RejectionStage.VALIDATION,
            failures=failed,
            rejected_at=utc_now(),
        )
        out = follow_on(event, topics.REJECTED, rejected, service=SERVICE, case_key=case_key)
        await quarantine.open_entry(
            case_key=case_key,
            platform=case.source_platform,
            case_number=case.case_number,
            revision=case.revision,
            case_title=case.case_title,
            department_code=case.department_code,
            department_name=case.department_name,
            item_code=case.item_code,
            failures=[f.model_dump(mode="json") for f in failed],
            rejected_event_id=out.event.id,
            correlation_id=event.correlationid,
        )
        return [out]
    await quarantine.close_earlier(case.source_platform, case.case_number, case.revision)
    formats = [
        FileFormat(
            file_name=f.file_name, puid=m.facts.puid, format_name=m.facts.pronom_name, identified_as=m.facts.format
        )
        for f, m in zip(captured.files, measured, strict=True)
    ]
    validated = ValidatedCase(
        case=case,
        files=captured.files,
        checks=results,
        signatures=signature_verdicts(evidence),
        validated_at=utc_now(),
        captured_at=captured.captured_at,
        file_formats=formats,
    )
    return [follow_on(event, topics.VALIDATED, validated, service=SERVICE, case_key=case_key)]


def scratch_bytes(event: CapturedEvent) -> int:
    """The scratch space validating this case takes: its largest file, spooled one at a time."""
    return max((f.size for f in event.data.files), default=0)
