"""The record page's pure parts: page images of PDFs and scans, their bounded cache, the package description
read from the first bytes of a package, the end of a retention period, and a review's choices."""

from __future__ import annotations

import hashlib
import io
import os
import time
from datetime import UTC, datetime

import pytest
from PIL import Image

from samples.documents import application_form_pdf, scanned_page_jpeg
from services.classification.config import bundled_schedule_file
from services.classification.review import review_choices
from services.classification.schedule import load_schedule_file
from services.query.adapters.package_description import (
    RECORD_DESCRIPTION,
    TAG_MANIFEST,
    DescriptionUnavailable,
    tag_files,
    verified_description,
)
from services.query.adapters.preview_cache import PreviewCache
from services.query.previews import NoPreview, clamp_width, image_media_type, previewable, render_page
from services.query.routes.present import retention_ends
from services.storage import bag

pytestmark = pytest.mark.unit


def two_page_pdf() -> bytes:
    fields = [(f"栏目{i}", "很长的内容" * 30) for i in range(40)]  # overflows onto a second page
    return application_form_pdf("申请书", fields, signer="王芳")


def _size(data: bytes, kind: str = "PNG") -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as image:
        assert image.format == kind
        return image.size


def test_a_pdf_page_is_rendered_at_the_asked_width_and_counts_its_pages():
    pdf = two_page_pdf()
    first = render_page(pdf, "application/pdf", page=1, width=300)
    second = render_page(pdf, "application/pdf", page=2, width=300)
    assert first.pages == second.pages >= 2
    assert image_media_type(first.data) == "image/png"  # a PDF page is text and lines: PNG
    assert _size(first.data)[0] == 300 and _size(first.data)[1] > 300  # A4 is taller than wide
    assert first.data != second.data
    with pytest.raises(NoPreview, match="no page"):
        render_page(pdf, "application/pdf", page=first.pages + 1)


def test_a_scan_is_shrunk_to_the_width_and_never_enlarged():
    scan = scanned_page_jpeg(seed=7, dpi=200)
    shrunk = render_page(scan, "image/jpeg", width=400)
    assert shrunk.pages == 1 and _size(shrunk.data, "JPEG")[0] == 400  # a scan is a photograph: JPEG
    assert image_media_type(shrunk.data) == "image/jpeg"
    small = io.BytesIO()
    Image.new("RGB", (120, 80), "white").save(small, format="PNG")
    assert _size(render_page(small.getvalue(), "image/png", width=480).data, "JPEG") == (120, 80)


def test_a_multi_page_tiff_has_its_pages():
    frames = [Image.new("L", (200, 280), shade) for shade in (30, 220)]
    tiff = io.BytesIO()
    frames[0].save(tiff, format="TIFF", save_all=True, append_images=frames[1:])
    second = render_page(tiff.getvalue(), "image/tiff", page=2, width=200)
    assert second.pages == 2
    with Image.open(io.BytesIO(second.data)) as image:
        assert image.convert("L").getpixel((10, 10)) == 220


@pytest.mark.parametrize(
    ("data", "media_type", "why"),
    [
        (b"%PDF-1.7\n" + bytes(500), "application/pdf", "does not open"),
        (b"\xff\xd8\xff not really a jpeg", "image/jpeg", "does not decode"),
        (b"ID3....", "audio/mpeg", "no page images"),
    ],
)
def test_what_does_not_render_says_why(data, media_type, why):
    with pytest.raises(NoPreview, match=why):
        render_page(data, media_type)


def test_which_types_have_page_images_and_the_width_bounds():
    assert previewable("application/pdf") and previewable("image/tiff") and previewable("image/jpeg; q=1")
    assert not previewable("audio/mpeg") and not previewable("application/ofd") and not previewable(None)
    assert (clamp_width(None), clamp_width(5), clamp_width(99_999)) == (480, 80, 1600)


# --- the cache --------------------------------------------------------------------------------------------


def _digest(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


async def test_the_cache_keeps_images_by_digest_page_and_width(tmp_path):
    cache = PreviewCache(tmp_path, max_bytes=10_000_000)
    assert await cache.get(_digest(1), 1, 480) is None
    await cache.put(_digest(1), 1, 480, b"png-1", 3)
    assert await cache.get(_digest(1), 1, 480) == (b"png-1", 3)
    assert await cache.get(_digest(1), 2, 480) is None
    assert await cache.get(_digest(1), 1, 300) is None


async def test_the_cache_evicts_the_least_recently_used_past_its_size(tmp_path):
    cache = PreviewCache(tmp_path, max_bytes=2500)
    for n in range(3):
        await cache.put(_digest(n), 1, 480, bytes(1000), 1)
        past = time.time() - 100 + n
        for file in tmp_path.glob(f"*/{_digest(n)}-*.img"):
            os.utime(file, (past, past))
    # The oldest was removed when the third arrived; a hit on the second makes the third the oldest.
    assert await cache.get(_digest(0), 1, 480) is None
    assert await cache.get(_digest(1), 1, 480) is not None
    await cache.put(_digest(3), 1, 480, bytes(1000), 1)
    assert await cache.get(_digest(2), 1, 480) is None
    assert await cache.get(_digest(1), 1, 480) is not None
    assert cache.size() <= 2500


async def test_the_cache_takes_only_digests_as_names(tmp_path):
    cache = PreviewCache(tmp_path, max_bytes=10_000)
    with pytest.raises(ValueError, match="not a SHA-256"):
        await cache.put("../../etc/passwd", 1, 480, b"x", 1)


# --- the package description --------------------------------------------------------------------------------


def _package(description: bytes, *, tamper: bool = False) -> tuple[bytes, int]:
    payload = {"data/result/001-a.pdf": b"%PDF" + bytes(5000)}
    manifest_of_payload = "".join(f"{hashlib.sha256(v).hexdigest()}  {k}\n" for k, v in payload.items())
    tags = {
        "bagit.txt": b"BagIt-Version: 1.0\n",
        "manifest-sha256.txt": manifest_of_payload.encode(),
        RECORD_DESCRIPTION: description,
    }
    manifest = "".join(f"{hashlib.sha256(v).hexdigest()}  {k}\n" for k, v in tags.items())
    tags[TAG_MANIFEST] = manifest.encode()
    if tamper:
        tags[RECORD_DESCRIPTION] = description.replace(b"pass", b"fail")
    data = bag.build_tar("p_c_r1", tags, payload, datetime(2026, 3, 1, tzinfo=UTC))
    first_payload = bag.read_package(data).members["data/result/001-a.pdf"].offset
    return data, first_payload


def test_the_description_is_read_from_the_bytes_before_the_payload_and_verified():
    description = b'{"checks": [{"code": "AUTH-DIGEST-SHA256", "outcome": "pass"}]}'
    data, first_payload = _package(description)
    found = tag_files(data[:first_payload], (RECORD_DESCRIPTION, TAG_MANIFEST))
    assert verified_description(found)["checks"][0]["code"] == "AUTH-DIGEST-SHA256"


def test_a_description_that_does_not_match_its_tag_manifest_is_not_believed():
    data, first_payload = _package(b'{"checks": [{"outcome": "pass"}]}', tamper=True)
    with pytest.raises(DescriptionUnavailable, match="does not match"):
        verified_description(tag_files(data[:first_payload], (RECORD_DESCRIPTION, TAG_MANIFEST)))


def test_a_prefix_too_short_for_the_tag_files_says_so():
    data, _ = _package(b'{"checks": []}')
    with pytest.raises(DescriptionUnavailable):
        verified_description(tag_files(data[:700], (RECORD_DESCRIPTION, TAG_MANIFEST)))


# --- retention and review choices ------------------------------------------------------------------------


def test_retention_ends_on_the_completion_day_in_china_plus_the_years():
    late_evening_utc = datetime(2026, 3, 1, 20, 0, tzinfo=UTC)  # 2 March in Beijing
    assert retention_ends("D10", late_evening_utc) == "2036-03-02"
    assert retention_ends("D30", datetime(2024, 2, 28, 17, 0, tzinfo=UTC)) == "2054-02-28"  # 29 Feb → 28 Feb
    assert retention_ends("Y", late_evening_utc) is None
    assert retention_ends("长期", late_evening_utc) is None


def test_a_reviews_choices_put_the_rules_of_its_item_first():
    schedule = load_schedule_file(bundled_schedule_file())
    item = schedule.rules[-1].item_pattern.replace("*", "X")
    options = review_choices(schedule, item)
    covering = [r for r in options["rules"] if r["covers_item"]]
    assert covering and options["rules"][: len(covering)] == covering
    assert {r["rule_id"] for r in options["rules"]} == {r.id for r in schedule.rules}
    assert options["values"]["retention"] == ["Y", "D30", "D10"]
    assert set(options["values"]["categories"]) == set(schedule.categories)
    nothing = review_choices(schedule, "XK-NOWHERE-999")
    assert not any(r["covers_item"] for r in nothing["rules"])
