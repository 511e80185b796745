"""No required property is left unchecked (issue 12, item 4).

For every file that the item's rules require to carry something — a seal, colour, a signature, a
resolution — the check of that property decides (pass, warn or fail), or it is `not_run` naming the
check that decides in its place (`details.decided_by`, or the code at the end of its reason), and that
check did decide. Hypothesis draws the formats, the facts measured in the file, the stage, the material
and the item's rules; the catalogue runs as in the service.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contracts.v1 import CapturedFile, CheckResult, ObjectRef, Outcome, Stage
from samples.generator import generate_cases
from services.validation.checks import CaseEvidence, CaseNumberClaim, FileEvidence, Scan, VirusScan, run_catalogue
from services.validation.formats import FileFacts, Format, ImageFacts, SignatureFacts
from services.validation.formats.seals import SealShape
from services.validation.rules import ItemRules

pytestmark = pytest.mark.unit

MATERIALS = ["营业执照复印件", "准予行政许可决定书", "审查意见表", "现场核查录音", "申请书"]
_CODE_AT_END = re.compile(r"\(([A-Z]+(?:-[A-Z0-9]+)+)\)\s*$")
_CASE = generate_cases(1, seed=12, wrong_digest_every=None)[0].record.metadata()

seals = st.builds(
    SealShape,
    source=st.sampled_from(["vector", "raster"]),
    width_mm=st.floats(2, 90),
    height_mm=st.floats(2, 90),
    ring=st.floats(0.5, 1),
    star=st.booleans(),
    page=st.none() | st.integers(1, 3),
)


def scans(colour: st.SearchStrategy[bool | None] = st.booleans() | st.none()) -> st.SearchStrategy[ImageFacts]:
    return st.builds(
        ImageFacts,
        width=st.integers(100, 3000),
        height=st.integers(100, 3000),
        mode=st.sampled_from(["RGB", "L", "YCbCr", "P"]),
        dpi=st.none() | st.floats(50, 600),
        colour=colour,
        sharpness=st.none() | st.floats(0, 2000),
        chroma=st.none() | st.floats(0, 60),
        seals=st.lists(seals, max_size=2).map(tuple),
        page=st.none() | st.integers(1, 3),
    )


# Signatures the engine's check verifies (the other kinds — SM2 seals, "present, not verified" — are the
# subject of the signature work in branch validation-trust).
signatures = st.builds(
    SignatureFacts,
    field_name=st.just("Signature1"),
    signed=st.booleans(),
    standard=st.just(True),
    intact=st.booleans(),
    valid=st.booleans(),
)


@st.composite
def file_facts(draw: st.DrawFn) -> tuple[FileFacts, int]:
    fmt = draw(st.sampled_from([f for f in Format]))
    size = draw(st.sampled_from([0, 1, 5000]))
    facts = FileFacts(format=fmt, size=size)
    states = ["opens", "opens", "opens", "broken"]
    states += ["encrypted"] if fmt in (Format.PDF, Format.OFD) else []
    states += ["zip_bomb"] if fmt is Format.OFD else []
    state = draw(st.sampled_from(states))
    if size and state == "opens":
        facts.opens = True
    elif state == "encrypted":
        facts.encrypted = True
    elif state == "zip_bomb":
        facts.zip_bomb = "ratio"
    else:
        facts.open_error = "damaged"
    if fmt in (Format.JPEG, Format.PNG, Format.TIFF, Format.JP2):
        facts.image = draw(scans(st.booleans()))
        facts.page_count = 1
    elif fmt in (Format.PDF, Format.OFD):
        facts.page_count = draw(st.integers(1, 3))
        facts.page_images = draw(st.lists(scans(), max_size=3))
        facts.seals = draw(st.lists(seals, max_size=2))
        facts.vector_colour = draw(st.booleans())
        if fmt is Format.PDF:
            facts.signatures = draw(st.lists(signatures, max_size=2))
    return facts, size


rules_strategy = st.builds(
    ItemRules,
    seal_required_stages=st.frozensets(st.sampled_from(list(Stage))),
    seal_required_materials=st.frozensets(st.sampled_from(MATERIALS)),
    colour_required_materials=st.frozensets(st.sampled_from(MATERIALS)),
    dpi_300_materials=st.frozensets(st.sampled_from(MATERIALS)),
    signature_required_materials=st.frozensets(st.sampled_from(MATERIALS)),
)


def _evidence(facts: FileFacts, size: int, stage: Stage, material: str) -> tuple[CaseEvidence, CapturedFile]:
    file = CapturedFile(
        stage=stage,
        material_name=material,
        file_name="f.bin",
        original_file_name="f.bin",
        media_type="application/octet-stream",
        size=size,
        sha256="0" * 64,
        stored=ObjectRef(bucket="staging", key="k"),
    )
    ev = FileEvidence(file=file, sha256="0" * 64, sm3="0" * 64, size=size, facts=facts, scan=VirusScan(Scan.CLEAN))
    case = CaseEvidence(case=_CASE, files=[ev], captured_at=datetime.now(UTC), case_number=CaseNumberClaim())
    return case, file


def _decided(result: CheckResult) -> bool:
    return result.outcome in (Outcome.PASS, Outcome.WARN, Outcome.FAIL)


def _decider(result: CheckResult) -> str | None:
    named = result.details.get("decided_by")
    if named:
        return named
    found = _CODE_AT_END.search(result.details.get("not_run", ""))
    return found.group(1) if found else None


def required_checks(facts: FileFacts, file: CapturedFile, rules: ItemRules) -> dict[str, str]:
    """property → the check that answers for it, for what the rules require of this file."""
    required = {}
    if rules.needs_seal(file):
        required["seal"] = "INTEG-SEAL-RED"
    if rules.needs_colour(file):
        required["colour"] = "USAB-SCAN-COLOUR"
    if file.material_name in rules.signature_required_materials:
        required["signature"] = "AUTH-PDF-SIGNATURE"
    has_pixels = facts.image is not None or bool(facts.page_images)
    if file.material_name in rules.dpi_300_materials and has_pixels:  # a born-digital page has no resolution
        required["resolution"] = "USAB-SCAN-DPI"
    return required


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    drawn=file_facts(),
    stage=st.sampled_from(list(Stage)),
    material=st.sampled_from(MATERIALS),
    rules=rules_strategy,
)
def test_every_required_property_is_decided_by_a_check_that_runs(drawn, stage, material, rules):
    facts, size = drawn
    case, file = _evidence(facts, size, stage, material)
    results = {r.code: r for r in run_catalogue(case, rules)}
    for prop, code in required_checks(facts, file, rules).items():
        result = results[code]
        if _decided(result):
            continue
        decider = _decider(result)
        assert decider is not None, f"{prop}: {code} is not_run and names no check in its place: {result.details}"
        assert decider in results, f"{prop}: {code} defers to {decider}, which is not in the catalogue"
        assert _decided(results[decider]), (
            f"{prop}: {code} defers to {decider}, which did not decide either: {results[decider].details}"
        )


def test_the_grey_result_document_is_checked_for_colour_when_it_must_carry_a_seal():
    """The case of the issue: a result document scanned in grey, not on the colour list."""
    grey = ImageFacts(width=1654, height=2339, mode="L", dpi=200, colour=False, sharpness=900.0, chroma=0.0)
    facts = FileFacts(format=Format.JPEG, size=5000, opens=True, page_count=1, image=grey)
    case, _ = _evidence(facts, 5000, Stage.RESULT, "准予行政许可决定书")
    results = {r.code: r for r in run_catalogue(case, ItemRules())}
    assert results["USAB-SCAN-COLOUR"].outcome is Outcome.FAIL
    assert results["INTEG-SEAL-RED"].outcome is Outcome.NOT_RUN
    assert results["INTEG-SEAL-RED"].details["decided_by"] == "USAB-SCAN-COLOUR"
