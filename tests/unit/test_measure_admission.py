"""Several files measured at once, by the memory their measuring takes (issue 18).

A validation worker with several cases in flight measures their files in threads (numpy and Pillow release
the GIL). `formats.working_set` estimates from an image's header what measuring it will hold; the step's
`measuring` admission (bootstrap: AA_MEASURE_MAX_FILES, AA_MEASURE_BUDGET_BYTES) lets files run together
while their estimates fit the budget, and measures a document — whose page images are known only once it is
parsed — alone."""

from __future__ import annotations

import asyncio
import io
import threading
import time
import tracemalloc

import pytest
from PIL import Image

from samples.documents import scanned_page_jpeg
from samples.generator import generate_cases
from samples.large_files import a3_scan_jpeg
from services.validation import steps
from services.validation.formats import Limits, Source, inspect, page_images, working_set
from tests.fakes import InMemoryObjectStore, validation_step
from tests.unit.test_checks_corpus import captured_event

pytestmark = pytest.mark.unit


def _jpeg(width: int, height: int, dpi: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "white").save(out, "JPEG", dpi=(dpi, dpi))
    return out.getvalue()


def test_an_images_working_set_comes_from_its_header_and_a_documents_is_unknown() -> None:
    scan = _jpeg(1654, 2339, 200)  # an A4 page at 200 dpi
    assert working_set(scan) == page_images.working_set(1654, 2339, 200.0, "JPEG")
    assert working_set(scan, Limits(image_max_pixels=1_000_000)) == 0  # refused undecoded: takes nothing
    assert working_set(b"%PDF-1.7\n" + b"0" * 100) is None  # a document: measured alone
    assert working_set(b"\xff\xd8\xff\xe0" + b"\x00" * 30) is None  # a JPEG whose header does not read
    assert working_set(b"") is None


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: scanned_page_jpeg(3, dpi=200, colour=True, with_seal=True), id="a4-200dpi-colour"),
        pytest.param(lambda: scanned_page_jpeg(4, dpi=300, colour=False), id="a4-300dpi-grey"),
        pytest.param(lambda: a3_scan_jpeg(seed=1), id="a3-600dpi-colour"),
    ],
)
def test_the_estimate_covers_what_measuring_the_image_allocates(make) -> None:  # type: ignore[no-untyped-def]
    """numpy's arrays are traced by tracemalloc (Pillow's image memory is not, so it is added as the decoded
    copy's bytes): the estimate must be at least their peak, or two "fitting" files could overrun."""
    data = make()
    estimate = working_set(data)
    assert estimate is not None
    with Image.open(io.BytesIO(data)) as im:
        dpi = float(min(im.info["dpi"]))
        decoded, _ = page_images.decode_reduced(im, dpi)
        pillow = decoded.width * decoded.height * len(decoded.getbands())
    inspect(Source.of_bytes(data))  # once before: PRONOM's tables are compiled on first use
    tracemalloc.start()
    try:
        facts = inspect(Source.of_bytes(data))
        _, numpy_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert facts.opens and facts.image is not None
    assert numpy_peak + pillow <= estimate, (numpy_peak, pillow, estimate)


async def test_images_of_different_cases_are_measured_together_and_a_document_alone(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Four cases (a decision PDF + a 200-dpi scan each) validated at once, as the in-flight window does:
    two scans are measured together, never a PDF beside anything."""
    running: list[str] = []
    seen_together: list[tuple[str, ...]] = []
    lock = threading.Lock()
    measure = steps.measure

    def tracking(source, *args):  # type: ignore[no-untyped-def]
        kind = "pdf" if source.head(5) == b"%PDF-" else "image"
        with lock:
            running.append(kind)
            seen_together.append(tuple(sorted(running)))
        time.sleep(0.05)  # long enough for the others to arrive
        try:
            return measure(source, *args)
        finally:
            with lock:
                running.remove(kind)

    monkeypatch.setattr(steps, "measure", tracking)
    store = InMemoryObjectStore()
    records = [c.record for c in generate_cases(4, seed=77, wrong_digest_every=None)]
    assert all(any(m.file_name.endswith(".jpg") for m in r.materials) for r in records)
    events = [await captured_event(r, store) for r in records]
    validate = await validation_step(store)
    outs = await asyncio.gather(*(validate(e) for e in events))
    assert all(len(o) == 1 for o in outs)
    assert ("image", "image") in seen_together  # two scans at once
    assert all(len(group) == 1 for group in seen_together if "pdf" in group)  # a PDF alone
    assert max(len(group) for group in seen_together) == 2  # AA_MEASURE_MAX_FILES
