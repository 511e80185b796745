"""The veraPDF server of the stack (deploy/local/lib/verapdf.sh) through the validation adapter: a PDF that
declares PDF/A-1b without being PDF/A is non-conforming with the ISO 19005 rules it breaks; an unreachable
server is a transient fault (the case waits)."""

from __future__ import annotations

import base64

import pytest

from samples.generator import generate_cases
from samples.signatures import declare_pdfa
from services.common.faults import is_transient
from services.validation.adapters.verapdf import VeraPdfClient, VeraPdfUnavailable
from services.validation.config import ValidationSettings
from services.validation.formats import inspect

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def verapdf():  # type: ignore[no-untyped-def]
    client = VeraPdfClient(ValidationSettings().verapdf_url, timeout=120)
    try:
        await client.health()
    except VeraPdfUnavailable:
        pytest.fail("veraPDF does not answer: start the stack with `make stack-up` (lib/verapdf.sh)", pytrace=False)
    return client


async def test_a_pdf_that_only_claims_pdfa_does_not_conform(verapdf):
    record = generate_cases(1, seed=3, wrong_digest_every=None)[0].record
    pdf = next(base64.b64decode(m.content_base64 or "") for m in record.materials if m.file_name.endswith(".pdf"))
    claimed = declare_pdfa(pdf)
    assert inspect(pdf).pdfa_declared is None and inspect(claimed).pdfa_declared == "1b"
    report = await verapdf.validate(claimed, "1b")
    assert report.compliant is False and report.flavour == "1b" and report.error is None
    assert report.failed_checks > 0 and any(rule.startswith("6.") for rule in report.failed_rules)


async def test_an_unreachable_verapdf_is_a_transient_fault():
    with pytest.raises(VeraPdfUnavailable) as caught:
        await VeraPdfClient("http://127.0.0.1:1", connect_timeout=2).validate(b"%PDF-1.7", "1b")
    assert is_transient(caught.value)
