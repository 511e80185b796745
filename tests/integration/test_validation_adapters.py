"""The validation adapters against the real servers: clamd's INSTREAM (EICAR found, clean files OK,
an unreachable clamd is a transient fault) and the quarantine / case-number tables in PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest

from samples.defects import eicar
from services.common.faults import is_transient
from services.validation.adapters.clamav import ClamdClient, ClamdUnavailable
from services.validation.adapters.quarantine import PgQuarantine

pytestmark = pytest.mark.integration

CLAMD = ("127.0.0.1", 13310)


@pytest.fixture(scope="module")
async def clamd():  # type: ignore[no-untyped-def]
    client = ClamdClient(*CLAMD)
    try:
        await client.ping()
    except ClamdUnavailable:
        pytest.fail("clamd does not answer on 127.0.0.1:13310: start the stack with `make stack-up`", pytrace=False)
    return client


async def test_clamd_finds_eicar_inside_a_larger_file_and_passes_a_clean_one(clamd):
    infected = await clamd.scan(b"%PDF-1.7\n" + b"x" * 300_000 + eicar() + b"\n%%EOF")
    assert infected.status == "infected" and "Eicar-Test-Signature" in (infected.signature or "")
    clean = await clamd.scan(b"%PDF-1.7\n" + b"y" * 600_000 + b"\n%%EOF")
    assert clean.status == "clean"


async def test_a_stream_over_clamds_limit_is_an_error_reply_that_holds_the_case(clamd):
    """clamd checks each INSTREAM chunk's declared length against StreamMaxLength before reading it, so a
    chunk header over any possible limit gets the real ERROR reply without sending gigabytes."""
    import struct

    from services.validation.adapters.clamav import parse_reply
    from services.validation.formats.source import Source
    from services.validation.steps import ScannerRefused, _scan

    reply = parse_reply(await clamd._request([b"zINSTREAM\0", struct.pack(">I", 2**32 - 1)]))
    assert reply.status == "error" and "size limit" in reply.raw

    class OverLimit:
        async def scan(self, data: bytes):  # type: ignore[no-untyped-def]
            return reply

    with pytest.raises(ScannerRefused) as caught:
        await _scan(OverLimit(), Source.of_bytes(b"x"), "wait")
    assert is_transient(caught.value) and "StreamMaxLength" in str(caught.value)


async def test_clamd_finds_a_signature_in_a_file_streamed_in_chunks_across_their_boundaries(clamd, tmp_path):  # type: ignore[no-untyped-def]
    """The step hands clamd its spooled copy: INSTREAM is fed from the file, many chunks long, and the
    signature is found wherever the chunk boundaries fall."""
    from samples.defects import eicar
    from services.validation.adapters.clamav import CHUNK
    from services.validation.formats.source import Source

    for offset in (CHUNK - 10, 3 * CHUNK - 30):
        path = tmp_path / f"f{offset}.pdf"
        path.write_bytes(b"%PDF-1.7\n" + b"x" * offset + eicar() + b"\n" + b"y" * CHUNK + b"%%EOF")
        infected = await clamd.scan(Source.of_path(path))
        assert infected.status == "infected" and "Eicar" in (infected.signature or ""), offset


async def test_an_unreachable_clamd_is_a_transient_fault():
    with pytest.raises(ClamdUnavailable) as caught:
        await ClamdClient("127.0.0.1", 1, connect_timeout=2).scan(b"data")
    assert is_transient(caught.value)


async def test_only_a_revision_that_passed_binds_its_case_number_even_when_claimed_at_once(prepared):
    q = await PgQuarantine.connect(prepared)
    try:
        number = "QTEST-BIND"
        rejected = await q.claim_case_number(
            "transport", number, 1, applicant_id_number="WRONG", item_code="I", fingerprint="r1", binds=False
        )
        assert rejected.conflict is None
        fixed = await q.claim_case_number(
            "transport", number, 2, applicant_id_number="RIGHT", item_code="I", fingerprint="r2", binds=True
        )
        assert fixed.conflict is None, "a rejected revision binds nothing: its correction may change the applicant"
        # eight revisions of another number, another applicant each, claimed at the same moment: one binds
        racing = await asyncio.gather(
            *(
                q.claim_case_number(
                    "transport",
                    "QTEST-RACE",
                    n,
                    applicant_id_number=f"P{n}",
                    item_code="I",
                    fingerprint=f"x{n}",
                    binds=True,
                )
                for n in range(1, 9)
            )
        )
        assert sum(a.conflict is None for a in racing) == 1
        binding = await q.pool.fetch("SELECT revision FROM case_numbers WHERE case_number='QTEST-RACE' AND binds")
        assert len(binding) == 1
    finally:
        await q.close()


async def test_quarantine_entries_open_close_and_keep_history(prepared):
    q = await PgQuarantine.connect(prepared)
    try:
        number = "QTEST-0001"
        answer = await q.claim_case_number(
            "transport", number, 1, applicant_id_number="A", item_code="I", fingerprint="f1", binds=True
        )
        assert answer.conflict is None
        again = await q.claim_case_number(
            "transport", number, 1, applicant_id_number="A", item_code="I", fingerprint="f1", binds=True
        )
        assert again.conflict is None, "a redelivery is no conflict"
        changed = await q.claim_case_number(
            "transport", number, 1, applicant_id_number="A", item_code="I", fingerprint="f2", binds=True
        )
        assert changed.conflict == "revision"
        other = await q.claim_case_number(
            "transport", number, 2, applicant_id_number="B", item_code="I", fingerprint="g", binds=True
        )
        assert other.conflict == "other_case"

        common = {"platform": "transport", "case_number": number, "case_title": "t", "correlation_id": "c"}
        failures = [{"code": "INTEG-MATERIALS"}]
        await q.open_entry(
            case_key=f"transport/{number}/r1", revision=1, failures=failures, rejected_event_id="e1", **common
        )
        await q.open_entry(
            case_key=f"transport/{number}/r1", revision=1, failures=failures, rejected_event_id="e1", **common
        )
        await q.open_entry(
            case_key=f"transport/{number}/r2", revision=2, failures=failures, rejected_event_id="e2", **common
        )
        assert await q.close_earlier("transport", number, 3) == 1
        entries = await q.entries(case_number=number)
        assert [(e.revision, e.status, e.closed_by_revision) for e in entries] == [
            (1, "superseded", 2),
            (2, "closed", 3),
        ]
    finally:
        await q.close()
