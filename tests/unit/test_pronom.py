"""PRONOM identification (formats/pronom.py) runs FIDO's matching algorithm over signature tables compiled
once, with a first-byte index and literal leads in front of the regexes (issue 18): it must find exactly
what FIDO's own `match_formats` finds — every match, in order, not only the first — on every file of the
sample, defect and reuse corpora and on files of the other formats FIDO knows."""

from __future__ import annotations

import base64
import io
import random
import zipfile

import pytest
from PIL import Image

from samples.defects import defect_corpus, eicar, iso_bmff, ofd_document, reuse_corpus, wav_recording
from samples.generator import generate_cases
from services.validation.formats import pronom
from services.validation.formats.source import Source

pytestmark = pytest.mark.unit


def _images() -> list[tuple[str, bytes]]:
    out = []
    im = Image.new("RGB", (64, 48), (200, 30, 30))
    for fmt in ("PNG", "TIFF", "GIF", "BMP", "JPEG", "WEBP", "JPEG2000"):
        buf = io.BytesIO()
        try:
            im.save(buf, fmt)
        except (KeyError, OSError):  # a codec this Pillow lacks
            continue
        out.append((fmt.lower(), buf.getvalue()))
    return out


def _others() -> list[tuple[str, bytes]]:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("a.txt", "hello")
    rng = random.Random(18)
    return [
        ("zip", buf.getvalue()),
        ("ofd", ofd_document(2)),
        ("wav", wav_recording()),
        ("mp4", iso_bmff(b"isom")),
        ("mov", iso_bmff(b"qt  ")),
        ("heic", iso_bmff(b"heic")),
        ("mp3", b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 400),
        ("eicar", eicar()),
        ("html", b"<!DOCTYPE html><html><head><title>x</title></head><body>x</body></html>"),
        ("xml", b'<?xml version="1.0" encoding="UTF-8"?><root/>'),
        ("text", "申请书 plain text\r\n".encode() * 50),
        ("rtf", b"{\\rtf1\\ansi hello}"),
        ("one byte", b"%"),
        ("random", rng.randbytes(200_000)),
        ("nul", b"\x00" * 100_000),
        # Formats whose signatures scan far into the head (guarded, `pronom._Guard`): an ISO 9660 image (its
        # volume descriptor at 32,769) and a UDF one (BEA01 beside it), and a file with CD001 just too early.
        ("iso9660", b"\x00" * 32768 + b"\x01CD001\x01\x00" + b"\x00" * 40_000),
        ("udf", b"\x00" * 32768 + b"\x00BEA01\x01" + b"\x00" * 2041 + b"\x00NSR02\x01" + b"\x00" * 40_000),
        ("cd001-too-early", b"\x00" * 1000 + b"\x01CD001\x01\x00" + b"\x00" * 40_000),
    ]


def _corpus() -> list[tuple[str, bytes]]:
    files = []
    for sample in generate_cases(12, seed=1818, wrong_digest_every=None):
        files += [(m.file_name, base64.b64decode(m.content_base64 or "")) for m in sample.record.materials]
    for case in defect_corpus() + reuse_corpus():
        files += [
            (f"{case.name}/{m.file_name}", base64.b64decode(m.content_base64 or "")) for m in case.record.materials
        ]
    return files + _images() + _others()


def test_identification_equals_fidos_own_matching() -> None:
    fido = pronom._fido()
    seen = set()
    corpus = _corpus()
    for name, data in corpus:
        if not data:
            continue
        source = Source.of(data)
        head, tail = source.head(pronom.HEAD_TAIL_BYTES), source.tail(pronom.HEAD_TAIL_BYTES)
        theirs = [(fido.get_puid(fmt), sig) for fmt, sig in fido.match_formats(head, tail)]
        ours = [(fmt.puid, sig) for fmt, sig in pronom._match(pronom._by_first_byte()[head[0]], head, tail)]
        assert ours == theirs, name
        # Without the first-byte index: the full table gives the same answer too.
        assert [(fmt.puid, sig) for fmt, sig in pronom._match(pronom._formats(), head, tail)] == theirs, name
        found = pronom.identify_pronom(data)
        assert (found.puid if found else None) == (theirs[0][0] if theirs else None), name
        seen.add(theirs[0][0] if theirs else None)
    # The corpus reaches many formats, not one: PDF versions, JPEG, PNG, TIFF, zip, WAV…
    assert len(seen) >= 10, seen


def test_leads_are_what_the_patterns_start_with() -> None:
    """A signature's lead is a necessary prefix: every file its first pattern matches starts with it."""
    leads = {sig.lead for fmt in pronom._formats() for sig in fmt.signatures}
    assert b"%PDF" in {lead[:4] for lead in leads}
    for fmt in pronom._formats():
        for sig in fmt.signatures:
            if sig.lead:
                position, regex, _ = sig.patterns[0]
                assert position == "BOF" and regex is not None
                assert not regex.match(bytes([sig.lead[0] ^ 0xFF]) + sig.lead[1:] + b"\x00" * 64), fmt.puid


def test_a_guard_admits_every_head_its_regex_matches() -> None:
    """A guard is a necessary condition: the literal at the first and the last offset its leading repeat
    allows, and just outside them. Wherever the regex matches, the guard must admit (else an answer would
    change); outside the range, neither does."""
    guarded = [
        (fmt.puid, regex, guard)
        for fmt in pronom._formats()
        for sig in fmt.signatures
        for _, regex, guard in sig.patterns
        if guard is not None
    ]
    assert len(guarded) >= 10, "the far-scanning BOF patterns (ISO 9660, UDF, fmt/1741…) lost their guards"
    matched = 0
    for puid, regex, guard in guarded:
        assert regex is not None
        for offset in (guard.lo, guard.hi, (guard.lo + guard.hi) // 2):
            head = (b"\x00" * offset + guard.literal + b"\x00" * 70_000)[: pronom.HEAD_TAIL_BYTES]
            if regex.match(head):
                matched += 1
                assert guard.admits(head), (puid, offset)
        if guard.lo > 0:  # the literal one byte before the range, nowhere else
            pad = next(bytes([b]) for b in range(1, 256) if b not in guard.literal)
            early = pad * (guard.lo - 1) + guard.literal + pad * 1000
            assert not regex.match(early) and not guard.admits(early), puid
    assert matched > 0  # some patterns are whole at those offsets: the admitting branch was exercised
