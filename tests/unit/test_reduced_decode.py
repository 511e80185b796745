"""Images are decoded reduced (formats/page_images.py `decode_reduced`) and the blur threshold is calibrated
for it: the verdict-equality test runs every file of the sample and defect corpora — and a blur ladder
around the threshold — through the measurements both ways (`Limits(full_decode=True)` and the default) and
through the whole catalogue, and requires the same outcome for every check. Also here: a truncated JPEG
still fails when decoded reduced, and the pixel limit refuses from the header, exactly at its value."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime

import pytest
from PIL import Image, ImageFilter

from contracts.v1 import UnifiedApprovalRecord
from samples.defects import _material, _swap, defect_corpus, reuse_corpus, scanned_pdf
from samples.documents import scanned_page_jpeg
from samples.generator import generate_cases
from services.validation.checks import CaseEvidence, run_catalogue
from services.validation.checks.engine import CaseNumberClaim, FileEvidence, Scan, VirusScan
from services.validation.domain import measure
from services.validation.formats import Format, Limits, inspect
from services.validation.formats import page_images as page_images_module
from services.validation.rules import RuleBook
from tests.fakes import InMemoryObjectStore
from tests.unit.test_checks_corpus import captured_event

pytestmark = pytest.mark.unit

FULL, REDUCED = Limits(full_decode=True), Limits()
# Gaussian radii (px at 200 dpi) on both sides of the blur threshold: the full decode passes 0 and 0.5 and
# fails the others, and a reduced decode left uncalibrated would pass 1.2 and 1.6 (its scores grow ~6x).
# Radii of 0.6-0.9 are left out: there (full-decode scores ~150-450) a half-size decode no longer tells
# the blur reliably — the ratio of the two scores varies 3.9-5.9x with the page (docs/benchmarks.md).
LADDER = (0.0, 0.5, 1.2, 1.6, 2.0)


def _jpeg(image: Image.Image, dpi: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=70, dpi=(dpi, dpi))
    return buf.getvalue()


def _ladder(base: UnifiedApprovalRecord) -> list[tuple[str, UnifiedApprovalRecord]]:
    """The valid case with its scan replaced by blurred copies, as a JPEG file and as a scanned PDF."""
    index = next(i for i, m in enumerate(base.materials) if m.file_name.endswith(".jpg"))
    scan = base.materials[index]
    with Image.open(io.BytesIO(scanned_page_jpeg(77, dpi=200, colour=True, with_seal=True))) as page:
        page.load()
        out = []
        for radius in LADDER:
            jpeg = _jpeg(page.filter(ImageFilter.GaussianBlur(radius)) if radius else page, 200)
            for kind, data in (("jpeg", jpeg), ("pdf", scanned_pdf(jpeg))):
                overrides = {"file_name": scan.file_name[:-4] + ".pdf", "media_type": "application/pdf"}
                material = _material(scan, data, **(overrides if kind == "pdf" else {}))
                fields = base.model_dump() | {"materials": _swap(base, index, material)}
                out.append((f"ladder-{kind}-blur-{radius}", UnifiedApprovalRecord.model_validate(fields)))
    return out


@pytest.fixture(scope="module")
def corpus() -> list[tuple[str, UnifiedApprovalRecord]]:
    """Built outside the event loop: the corpora sign PDFs with pyHanko, which runs its own."""
    samples = [(f"sample-{i}", s.record) for i, s in enumerate(generate_cases(12, seed=9090, wrong_digest_every=None))]
    defects = [(c.name, c.record) for c in defect_corpus() + reuse_corpus()]
    valid = next(r for name, r in defects if name == "valid-organisation")
    return samples + defects + _ladder(valid)


async def _verdicts(record: UnifiedApprovalRecord, limits: Limits, rules: RuleBook) -> dict[tuple[str, str], str]:
    event = await captured_event(record, InMemoryObjectStore())
    files = []
    for captured, material in zip(event.data.files, record.materials, strict=True):
        m = measure(base64.b64decode(material.content_base64 or ""), limits)
        files.append(
            FileEvidence(
                file=captured, sha256=m.sha256, sm3=m.sm3, size=m.size, facts=m.facts, scan=VirusScan(Scan.CLEAN)
            )
        )
    evidence = CaseEvidence(
        case=event.data.case, files=files, captured_at=datetime.now(UTC), case_number=CaseNumberClaim(None)
    )
    results = run_catalogue(evidence, rules.for_item(record.item_code))
    return {(r.code, r.file_name or "-"): r.outcome.value for r in results}


async def _differences(corpus: list[tuple[str, UnifiedApprovalRecord]]) -> list[str]:
    rules = RuleBook.load()
    differ = []
    for name, record in corpus:
        full, reduced = await _verdicts(record, FULL, rules), await _verdicts(record, REDUCED, rules)
        differ += [
            f"{name} {key}: full {full[key]}, reduced {reduced.get(key)}"
            for key in full
            if full[key] != reduced.get(key)
        ]
    return differ


async def test_the_reduced_decode_gives_the_full_decodes_verdicts_on_every_corpus(corpus):
    assert len(corpus) > 60
    assert await _differences(corpus) == []


async def test_the_ladder_tells_an_uncalibrated_threshold(corpus, monkeypatch):
    """The equality test above has teeth: left at 1 (no calibration), the reduced scores change verdicts."""
    monkeypatch.setattr(page_images_module, "SHARPNESS_REDUCED_FACTOR", 1.0)
    differ = await _differences(corpus)
    assert differ and all("USAB-SCAN-BLUR" in d and "ladder" in d for d in differ), differ


def test_a_200_dpi_scan_is_decoded_at_half_size_and_reports_its_own_resolution():
    data = scanned_page_jpeg(5, dpi=200, colour=True, with_seal=True)
    with Image.open(io.BytesIO(data)) as im:
        copy, scale = page_images_module.decode_reduced(im, 200.0)
        assert (scale, copy.size) == (2, (827, 1170))
    facts = inspect(data)
    assert facts.opens and facts.image is not None
    assert (facts.image.width, facts.image.height, facts.image.dpi) == (1654, 2339, 200.0)


def test_a_truncated_jpeg_still_fails_when_decoded_reduced():
    data = scanned_page_jpeg(5, dpi=200, colour=True, with_seal=True)
    truncated = data[: len(data) * 2 // 3]
    with Image.open(io.BytesIO(truncated)) as im:
        assert page_images_module.decode_scale(200.0, im.width) == 2  # the reduced path is the one taken
    for limits in (REDUCED, FULL):
        facts = inspect(truncated, limits)
        assert facts.format is Format.JPEG
        assert not facts.opens and "truncated" in (facts.open_error or "")


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF"])
def test_the_pixel_limit_refuses_one_pixel_over_it_from_the_header_and_accepts_it_exactly(fmt):
    buf = io.BytesIO()
    Image.new("RGB", (40, 25), "white").save(buf, fmt, dpi=(200, 200))
    data = buf.getvalue()
    exactly = inspect(data, Limits(image_max_pixels=1000))
    assert exactly.opens, exactly.open_error
    over = inspect(data, Limits(image_max_pixels=999))
    assert not over.opens and over.image is None
    assert over.open_error == (
        "the image is 40 x 25 = 1,000 pixels, over the limit of 999 "
        "(refused undecoded: a decompression bomb or an oversized scan)"
    )


def test_an_image_over_the_pixel_limit_is_refused_by_usab_opens():
    from unittest.mock import Mock

    from services.validation.checks.usability import opens

    buf = io.BytesIO()
    Image.new("L", (10, 10)).save(buf, "PNG")
    facts = inspect(buf.getvalue(), Limits(image_max_pixels=99))
    ev = FileEvidence(file=Mock(), sha256="", sm3="", size=facts.size, facts=facts, scan=VirusScan(Scan.CLEAN))
    finding = opens(ev, Mock(), Mock())
    assert finding.outcome.value == "fail" and "over the limit of 99" in str(finding.params["error"])


@pytest.mark.parametrize("shape", [(50, 70), (300, 200), (3, 3), (1, 5), (40, 1)])
def test_the_seal_masks_closing_is_scipys(shape):
    import numpy as np
    from scipy import ndimage

    from services.validation.formats.seals import close_3x3

    mask = np.random.default_rng(sum(shape)).random(shape) < 0.3
    assert (close_3x3(mask) == ndimage.binary_closing(mask, structure=np.ones((3, 3), bool))).all()


@pytest.mark.parametrize("fmt", ["JPEG2000", "PNG", "TIFF"])
def test_other_formats_are_measured_on_a_reduced_copy(fmt):
    """JPEG 2000 skips a resolution level while decoding; PNG and TIFF decode in full, then are reduced."""
    page = Image.open(io.BytesIO(scanned_page_jpeg(5, dpi=200, colour=True, with_seal=True)))
    buf = io.BytesIO()
    page.save(buf, fmt, **({} if fmt == "JPEG2000" else {"dpi": (200, 200)}))  # a JP2 here records none
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        copy, scale = page_images_module.decode_reduced(im, 200.0 if fmt != "JPEG2000" else None)
        assert (scale, copy.size) == (2, (827, 1170))
    facts = inspect(buf.getvalue())
    assert facts.opens and facts.image is not None and facts.image.width == 1654


def test_the_seal_red_mask_is_the_int16_predicate():
    import numpy as np

    from services.validation.formats.seals import seal_red_mask

    rgb = np.random.default_rng(3).integers(0, 256, (120, 90, 3), dtype=np.uint8)
    r, g, b = (rgb[..., i].astype(np.int16) for i in range(3))
    top = np.maximum(g, b)
    expected = (r >= 45) & (r - top >= 30) & (r - top >= 0.3 * r) & (np.abs(g - b) <= 0.45 * (r - np.minimum(g, b)))
    assert expected.any() and (seal_red_mask(rgb) == expected).all()
