"""Single checks and the validation step's rules: severities, item rules, the virus scanner's modes,
quarantine and rectification — with in-memory fakes."""

from __future__ import annotations

import pytest

from contracts.v1 import Outcome, topics
from samples.defects import defect_corpus, eicar
from samples.defects import ofd_document as ofd_document_for_tests
from services.common.faults import is_transient
from services.validation.adapters.clamav import parse_reply
from services.validation.formats import Format, identify, inspect
from services.validation.identifiers import region_code_is_valid
from services.validation.rules import RuleBook, default_rulebook
from services.validation.steps import validate_case
from tests.fakes import FakeTrustAnchors, FakeVirusScanner, InMemoryObjectStore, InMemoryQuarantine, validation_step
from tests.unit.test_checks_corpus import captured_event

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def corpus():  # type: ignore[no-untyped-def]
    return {c.name: c for c in defect_corpus()}


async def _run(record, *, store=None, quarantine=None, scanner=None, rules=None, mode="wait"):  # type: ignore[no-untyped-def]
    store = store or InMemoryObjectStore()
    event = await captured_event(record, store)
    validate = await validation_step(store, scanner=scanner, quarantine=quarantine, rules=rules, mode=mode)
    [out] = await validate(event)
    return out


def _check(out, code):  # type: ignore[no-untyped-def]
    return [c for c in out.event.data.checks if c.code == code]


async def test_the_validated_event_carries_every_checks_outcome_with_its_severity(corpus):
    out = await _run(corpus["valid-organisation"].record)
    assert out.topic == topics.VALIDATED
    checks = out.event.data.checks
    assert {c.outcome for c in checks} <= {Outcome.PASS, Outcome.NOT_RUN}
    assert all(c.severity in ("reject", "warn") for c in checks)
    virus = _check(out, "SEC-VIRUS")
    assert len(virus) == len(out.event.data.files) and all(c.outcome is Outcome.PASS for c in virus)


async def test_a_rejection_carries_reasons_in_chinese_and_english_that_name_the_file(corpus):
    out = await _run(corpus["scan-blurred"].record)
    [failure] = out.event.data.failures
    assert failure.code == "USAB-SCAN-BLUR" and failure.severity == "reject"
    assert "模糊" in failure.reason_zh and "营业执照复印件" in failure.reason_zh
    assert "blurred" in failure.reason_en and float(failure.details["sharpness"]) < 200


async def test_a_check_configured_as_warn_lets_the_case_through_with_a_warning(corpus):
    rules = RuleBook.from_mapping({"defaults": {"severity": {"USAB-SCAN-BLUR": "warn"}}})
    out = await _run(corpus["scan-blurred"].record, rules=rules)
    assert out.topic == topics.VALIDATED
    assert [c.outcome for c in _check(out, "USAB-SCAN-BLUR") if c.file_name.endswith(".jpg")] == [Outcome.WARN]


async def test_a_check_switched_off_for_an_item_does_not_run(corpus):
    record = corpus["scan-150dpi"].record
    rules = RuleBook.from_mapping({"items": {record.item_code: {"disabled_checks": ["USAB-SCAN-DPI"]}}})
    out = await _run(record, rules=rules)
    assert out.topic == topics.VALIDATED
    assert {c.outcome for c in _check(out, "USAB-SCAN-DPI")} == {Outcome.NOT_RUN}


async def test_an_item_that_requires_300_dpi_rejects_a_200_dpi_scan(corpus):
    record = corpus["valid-organisation"].record
    scan = next(m.material_name for m in record.materials if m.file_name.endswith(".jpg"))
    rules = RuleBook.from_mapping({"items": {record.item_code: {"dpi_300_materials": [scan]}}})
    out = await _run(record, rules=rules)
    assert [f.code for f in out.event.data.failures] == ["USAB-SCAN-DPI"]
    assert float(out.event.data.failures[0].details["min_dpi"]) == 300


async def test_eicar_is_rejected_as_a_virus_found(corpus):
    out = await _run(corpus["virus-eicar"].record)
    [failure] = out.event.data.failures
    assert failure.code == "SEC-VIRUS" and failure.details["signature"] == "Eicar-Test-Signature"
    assert "病毒" in failure.reason_zh and "virus found" in failure.reason_en


async def test_with_clamd_down_the_case_waits_by_default(corpus):
    with pytest.raises(Exception) as caught:
        await _run(corpus["valid-organisation"].record, scanner=FakeVirusScanner(down=True))
    assert is_transient(caught.value), "the runner must retry (the case waits), not dead-letter"


async def test_a_clamd_error_reply_holds_the_case_by_default_and_it_is_scanned_on_the_retry(corpus):
    scanner = FakeVirusScanner(errors=1)  # "INSTREAM size limit exceeded. ERROR", then clamd answers
    record = corpus["valid-organisation"].record
    with pytest.raises(Exception) as caught:
        await _run(record, scanner=scanner)
    assert is_transient(caught.value), "an ERROR reply must hold the case (runner retries), not let it through"
    assert "size limit" in str(caught.value) and "StreamMaxLength" in str(caught.value)
    out = await _run(record, scanner=scanner)  # the runner's retry: clamd answers this time
    assert out.topic == topics.VALIDATED
    assert {c.outcome for c in _check(out, "SEC-VIRUS")} == {Outcome.PASS}


async def test_a_clamd_error_reply_in_mark_mode_is_not_scanned_never_clean(corpus):
    out = await _run(corpus["virus-eicar"].record, scanner=FakeVirusScanner(errors=99), mode="mark-not-scanned")
    virus = _check(out, "SEC-VIRUS")
    assert {c.outcome for c in virus} == {Outcome.NOT_RUN}
    assert all("size limit" in c.details["not_run"] for c in virus)


async def test_with_clamd_down_and_mark_mode_files_are_not_scanned_never_clean(corpus):
    out = await _run(corpus["virus-eicar"].record, scanner=FakeVirusScanner(down=True), mode="mark-not-scanned")
    assert out.topic == topics.VALIDATED  # nothing else is wrong with it; the scan simply did not happen
    virus = _check(out, "SEC-VIRUS")
    assert {c.outcome for c in virus} == {Outcome.NOT_RUN}
    assert all(c.details["scan"] == "not_scanned" for c in virus)
    assert all(c.outcome is not Outcome.PASS for c in virus)


async def test_a_rejected_case_is_quarantined_and_its_corrected_revision_closes_the_entry(corpus):
    from samples.defects import corrected

    store, quarantine = InMemoryObjectStore(), InMemoryQuarantine()
    bad = corpus["missing-result"].record
    first = await _run(bad, store=store, quarantine=quarantine)
    assert first.topic == topics.REJECTED
    assert quarantine.entries[bad.case_key]["status"] == "open"
    # The entry says where the case came from: the dashboard counts rejects by department.
    assert quarantine.entries[bad.case_key]["department_code"] == bad.department_code
    again = await _run(bad, store=store, quarantine=quarantine)  # redelivery: same verdict, same entry
    assert again.event.id == first.event.id and len(quarantine.entries) == 1
    fixed = corrected(bad, corpus["valid-organisation"].record)
    second = await _run(fixed, store=store, quarantine=quarantine)
    assert second.topic == topics.VALIDATED and fixed.revision == 2
    entry = quarantine.entries[bad.case_key]
    assert (entry["status"], entry["closed_by_revision"]) == ("closed", 2)


async def test_a_revision_rejected_for_its_applicant_id_binds_nothing_and_its_correction_passes(corpus):
    """Before: every registered revision bound the case number, so the corrected ID number of revision 2
    was "held by revision 1" (AUTH-CASE-NUMBER) and the case could never be archived."""
    from samples.defects import corrected

    quarantine = InMemoryQuarantine()
    bad = corpus["bad-uscc"].record
    first = await _run(bad, quarantine=quarantine)
    assert [f.code for f in first.event.data.failures] == ["AUTH-META-USCC"]
    fixed = corrected(bad, corpus["valid-organisation"].record)
    assert fixed.applicant.id_number != bad.applicant.id_number
    second = await _run(fixed, quarantine=quarantine)
    assert second.topic == topics.VALIDATED, [f.code for f in getattr(second.event.data, "failures", [])]
    assert quarantine.entries[bad.case_key]["status"] == "closed"


async def test_a_revision_that_passed_binds_its_number_and_a_later_one_may_not_change_the_applicant(corpus):
    from samples.defects import corrected

    quarantine = InMemoryQuarantine()
    held = corpus["valid-organisation"].record
    assert (await _run(held, quarantine=quarantine)).topic == topics.VALIDATED
    other = corrected(held, corpus["valid-person"].record).model_copy(update={"case_title": held.case_title})
    refused = await _run(other, quarantine=quarantine)
    [failure] = refused.event.data.failures
    assert (failure.code, failure.details["held_by_revision"]) == ("AUTH-CASE-NUMBER", "1")
    # the refused revision bound nothing: revision 3, back to the bound applicant, passes
    third = corrected(other, held)
    assert (await _run(third, quarantine=quarantine)).topic == topics.VALIDATED


async def test_two_revisions_with_different_applicants_cannot_both_bind_the_number(corpus):
    """The race: revision 1 validated and still on its way to storage when revision 2 arrives."""
    from services.validation.domain import decide_case_number

    rows = [
        {"revision": 1, "applicant_id_number": "A", "item_code": "I", "fingerprint": "f1", "binds": True},
        {"revision": 2, "applicant_id_number": "B", "item_code": "I", "fingerprint": "f2", "binds": False},
    ]
    assert decide_case_number(rows, 2, "B", "I", "f2").conflict == "other_case"
    assert decide_case_number(rows, 1, "A", "I", "f1").conflict is None
    released = [{**rows[0], "binds": False}, rows[1]]
    assert decide_case_number(released, 2, "B", "I", "f2").conflict is None
    assert decide_case_number(rows, 1, "A", "I", "changed").conflict == "revision"


async def test_the_staged_copy_changing_after_capture_is_the_archives_alarm(corpus):
    store = InMemoryObjectStore()
    record = corpus["valid-organisation"].record
    event = await captured_event(record, store)
    key = event.data.files[0].stored.key
    store.buckets["staging"][key] = (b"%PDF-1.4 replaced", {})
    [out] = await (await validation_step(store))(event)
    assert "AUTH-FIXITY-STAGING" in {f.code for f in out.event.data.failures}


async def test_an_item_that_requires_a_signature_rejects_an_unsigned_form_and_accepts_a_signed_one(corpus):
    record = corpus["valid-organisation"].record
    form = next(m.material_name for m in record.materials if m.file_name.endswith(".pdf"))
    rules = RuleBook.from_mapping({"items": {record.item_code: {"signature_required_materials": [form]}}})
    unsigned = await _run(record, rules=rules)
    assert [f.code for f in unsigned.event.data.failures] == ["AUTH-PDF-SIGNATURE"]
    signed = await _run(corpus["valid-signed-pdf"].record, rules=rules)
    assert signed.topic == topics.VALIDATED
    [result] = [c for c in _check(signed, "AUTH-PDF-SIGNATURE") if c.outcome is Outcome.PASS]
    assert result.details["modification_level"] == "NONE" and result.details["coverage"] == "ENTIRE_FILE"


async def test_a_signature_that_no_longer_covers_the_file_fails_with_the_modification_named(corpus):
    out = await _run(corpus["signature-page-content-appended"].record)
    [failure] = out.event.data.failures
    assert failure.code == "AUTH-PDF-SIGNATURE" and failure.details["modification_level"] == "OTHER"
    assert "changed after signing" in failure.reason_en
    assert failure.details["docmdp_ok"] == "False" and failure.details["coverage"] == "ENTIRE_REVISION"
    # the same file before the update passes: the update alone makes it fail
    assert (await _run(corpus["valid-signed-pdf"].record)).topic == topics.VALIDATED


async def test_a_ca_issued_signer_is_trusted_only_where_the_platform_has_the_ca_as_anchor(corpus):
    record = corpus["valid-signed-pdf"].record
    trusted = await _run(record)  # FakeTrustAnchors: the sample platforms trust the samples CA
    [check] = [c for c in _check(trusted, "AUTH-SIGNER-TRUSTED") if c.outcome is not Outcome.NOT_RUN]
    assert check.outcome is Outcome.PASS
    [verdict] = trusted.event.data.signatures
    assert verdict.status.value == "valid_trusted" and verdict.fingerprint_sha256 == check.details["fingerprint_sha256"]
    assert "交通运输局" in (verdict.signer or "") and "CN" in (verdict.subject or "")

    store = InMemoryObjectStore()
    event = await captured_event(record, store)
    [untrusted] = await validate_case(
        event,
        store=store,
        scanner=FakeVirusScanner(),
        quarantine=InMemoryQuarantine(),
        rules=default_rulebook(),
        trust_anchors=FakeTrustAnchors({}),  # this platform trusts no CA
    )
    assert untrusted.topic == topics.VALIDATED
    [warned] = [c for c in _check(untrusted, "AUTH-SIGNER-TRUSTED") if c.outcome is not Outcome.NOT_RUN]
    assert warned.outcome is Outcome.WARN and warned.details["anchors"] == "0"
    assert [v.status.value for v in untrusted.event.data.signatures] == ["valid_untrusted"]


async def test_an_item_that_requires_trusted_signatures_rejects_a_self_signed_signer(corpus):
    record = corpus["signature-untrusted-signer"].record
    rules = RuleBook.from_mapping({"items": {record.item_code: {"severity": {"AUTH-SIGNER-TRUSTED": "reject"}}}})
    out = await _run(record, rules=rules)
    [failure] = out.event.data.failures
    assert failure.code == "AUTH-SIGNER-TRUSTED" and "自签名" in failure.details["subject"]
    assert len(failure.details["fingerprint_sha256"]) == 64


async def test_an_ofd_seal_is_present_not_verified_never_pass_and_the_verdict_travels_on(corpus):
    out = await _run(corpus["ofd-result-sealed"].record)
    assert out.topic == topics.VALIDATED
    for code in ("INTEG-SEAL-RED", "AUTH-OFD-SIGNATURE"):
        [judged] = [c for c in _check(out, code) if c.file_name and c.file_name.endswith(".ofd")]
        assert judged.outcome is Outcome.WARN and "not verified" in (judged.reason_en or ""), code
    [seal] = [v for v in out.event.data.signatures if v.kind == "seal"]
    assert seal.status.value == "not_verified"


@pytest.mark.parametrize(
    ("reply", "status", "signature"),
    [
        ("stream: OK", "clean", None),
        ("stream: Eicar-Test-Signature-Body.UNOFFICIAL FOUND", "infected", "Eicar-Test-Signature-Body.UNOFFICIAL"),
        ("INSTREAM size limit exceeded. ERROR", "error", None),
    ],
)
def test_clamd_replies_are_read(reply, status, signature):
    verdict = parse_reply(reply)
    assert (verdict.status, verdict.signature) == (status, signature)


@pytest.mark.parametrize(
    ("data", "fmt"),
    [
        (b"%PDF-1.7\n", Format.PDF),
        (b"\xff\xd8\xff\xe0", Format.JPEG),
        (b"\x89PNG\r\n\x1a\n", Format.PNG),
        (b"II*\x00", Format.TIFF),
        (b"\x00\x00\x00\x0cjP  \r\n\x87\n", Format.JP2),
        (b"RIFF\x00\x00\x00\x00WAVEfmt ", Format.WAV),
        (b"\x00\x00\x00\x18ftypmp42", Format.MP4),
        (b"ID3\x04\x00", Format.MP3),
        (b"MZ\x90\x00", Format.UNKNOWN),
        (b"", Format.UNKNOWN),
    ],
)
def test_formats_are_identified_from_content(data, fmt):
    assert identify(data) is fmt


def test_an_ofd_is_a_zip_with_ofd_xml_and_its_pages_are_counted():
    data = ofd_document_for_tests(3)
    facts = inspect(data)
    assert (facts.format, facts.opens, facts.page_count) == (Format.OFD, True, 3)


def test_eicar_is_built_at_run_time():
    assert len(eicar()) == 68 and eicar().startswith(b"X5O")


@pytest.mark.parametrize(("code", "ok"), [("330100", True), ("110105", True), ("990100", False), ("33010", False)])
def test_region_codes(code, ok):
    assert region_code_is_valid(code) is ok


class _VeraPdfAnswering:
    """The veraPDF port answering with a given report; records what it was asked."""

    def __init__(self, report):  # type: ignore[no-untyped-def]
        self.report, self.asked = report, []

    async def validate(self, data: bytes, flavour: str):  # type: ignore[no-untyped-def]
        self.asked.append(flavour)
        return self.report


async def _run_pdfa(record, pdfa, rules=None):  # type: ignore[no-untyped-def]
    store = InMemoryObjectStore()
    [out] = await validate_case(
        await captured_event(record, store),
        store=store,
        scanner=FakeVirusScanner(),
        quarantine=InMemoryQuarantine(),
        rules=rules or default_rulebook(),
        trust_anchors=FakeTrustAnchors(),
        pdfa=pdfa,
    )
    return out


async def test_pdfa_is_asked_only_for_pdfs_that_declare_it_and_a_non_conforming_one_warns(corpus):
    from services.validation.formats.facts import PdfaReport

    broken = _VeraPdfAnswering(PdfaReport("1b", False, 41, ("6.7.3-6", "6.3.4-1")))
    plain = await _run_pdfa(corpus["valid-organisation"].record, broken)
    assert broken.asked == [] and plain.topic == topics.VALIDATED  # no PDF declares PDF/A: no call, no warning
    assert {c.outcome for c in _check(plain, "USAB-PDFA")} <= {Outcome.NOT_RUN}

    claimed = corpus["pdfa-declared-not-conforming"].record
    out = await _run_pdfa(claimed, broken)
    assert broken.asked == ["1b"] and out.topic == topics.VALIDATED
    [warned] = [c for c in _check(out, "USAB-PDFA") if c.outcome is Outcome.WARN]
    assert "41 failed checks" in (warned.reason_en or "") and warned.details["failed_rules"] == "6.7.3-6,6.3.4-1"

    conforming = await _run_pdfa(claimed, _VeraPdfAnswering(PdfaReport("1b", True)))
    assert Outcome.PASS in {c.outcome for c in _check(conforming, "USAB-PDFA")}


async def test_an_item_that_requires_pdfa_rejects_a_pdf_that_is_not(corpus):
    from services.validation.formats.facts import PdfaReport

    record = corpus["valid-organisation"].record
    form = next(m.material_name for m in record.materials if m.file_name.endswith(".pdf"))
    rules = RuleBook.from_mapping(
        {"items": {record.item_code: {"pdfa_required_materials": [form], "severity": {"USAB-PDFA": "reject"}}}}
    )
    out = await _run_pdfa(record, _VeraPdfAnswering(PdfaReport("1b", True)), rules)
    [failure] = out.event.data.failures
    assert failure.code == "USAB-PDFA" and failure.details["declared"] == "none"
