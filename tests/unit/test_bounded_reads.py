"""Validation reads files through handles, windows and chunks (formats/source.py, issue 18): what the
streamed readers see is what the whole-file readers saw."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.validation.formats.pdf import outside_streams
from services.validation.formats.source import Source

pytestmark = pytest.mark.unit

# The whole-file substitution the streamed scan replaces (pdf.py before issue 18).
_WHOLE = re.compile(rb"(?<!end)stream\r?\n.*?endstream", re.DOTALL)
_PIECES = st.sampled_from(
    [b"stream\n", b"stream\r\n", b"endstream", b"/JS ", b"/JavaScript", b"/Launch", b"obj", b"end", b"x" * 40, b"\n"]
)


def _source(data: bytes) -> Source:
    return Source.of_bytes(data)


@settings(max_examples=500, deadline=None)
@given(st.lists(_PIECES | st.binary(max_size=20), max_size=40), st.integers(min_value=1, max_value=50))
def test_the_streamed_scan_outside_streams_equals_the_whole_file_substitution(parts, chunk_size):  # type: ignore[no-untyped-def]
    data = b"".join(parts)
    streamed = b"".join(outside_streams(_source(data), chunk_size))
    assert streamed == _WHOLE.sub(b"stream endstream", data)


def test_every_alignment_of_markers_and_chunk_boundaries_gives_the_whole_file_text():  # type: ignore[no-untyped-def]
    """`endstream` is not a stream's start (the lookbehind), also when the chunk boundary falls inside it."""
    for lead in range(0, 70, 7):
        for gap in range(50, 72):
            data = b"x" * lead + b"stream\nA endstream\n" + b"y" * 5 + b"endstream\r\n" + b"z" * gap + b"/JS stream\nB"
            for size in (1, 3, 8, 9, 16, 64, 65, 100, 4096):
                assert b"".join(outside_streams(_source(data), size)) == _WHOLE.sub(b"stream endstream", data), (
                    lead,
                    gap,
                    size,
                )


def test_a_token_cut_by_a_chunk_boundary_is_still_found():  # type: ignore[no-untyped-def]
    from services.validation.formats.pdf import _ACTIVE_TOKENS

    data = b"1 0 obj << /S /JavaScript /JS (app.alert(1)) >> endobj " + b"stream\n" + b"/JS" * 5 + b"endstream"
    for size in range(1, len(data)):
        previous, found = b"", set()
        for piece in outside_streams(_source(data), size):
            window = previous + piece
            found.update(label for token, label in _ACTIVE_TOKENS if token.search(window))
            previous = window[-64:]
        assert found == {"JavaScript"}, size


def test_tokens_inside_stream_data_are_not_active_content_but_after_an_unterminated_stream_they_are():  # type: ignore[no-untyped-def]
    data = b"4 0 obj << /Length 9 >> stream\n/JS /Launch\nendstream endobj"
    assert b"/JS" not in b"".join(outside_streams(_source(data), 7))
    unterminated = b"4 0 obj << /Length 9 >> stream\n/JS /Launch\n"
    assert b"/JS /Launch" in b"".join(outside_streams(_source(unterminated), 7))


def test_a_source_reads_windows_and_chunks_of_a_file(tmp_path):  # type: ignore[no-untyped-def]
    path = tmp_path / "f.bin"
    data = bytes(range(256)) * 1000
    path.write_bytes(data)
    source = Source.of_path(path)
    assert source.size == len(data) and source.head(10) == data[:10] and source.tail(10) == data[-10:]
    assert b"".join(source.chunks(999)) == data
    with pytest.raises(ValueError, match="over the 100"):
        source.read_all(100)


async def test_clamd_gets_the_file_in_chunks_as_it_is_read(tmp_path):  # type: ignore[no-untyped-def]
    """A fake clamd on a local socket: INSTREAM frames arrive as 256 KiB chunks of the file, then a zero."""
    import asyncio
    import struct

    from services.validation.adapters.clamav import CHUNK, ClamdClient

    data = bytes(range(256)) * (3 * CHUNK // 256 + 7)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    frames: list[int] = []
    received = bytearray()

    async def clamd(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert await reader.readexactly(10) == b"zINSTREAM\0"
        while (size := struct.unpack(">I", await reader.readexactly(4))[0]) != 0:
            frames.append(size)
            received.extend(await reader.readexactly(size))
        writer.write(b"stream: OK\0")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(clamd, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        verdict = await ClamdClient("127.0.0.1", port).scan(Source.of_path(path))
    assert verdict.status == "clean"
    assert bytes(received) == data and frames[:3] == [CHUNK] * 3 and len(frames) == 4


def test_walking_a_scanned_pdf_leaves_no_image_stream_in_pypdf_s_cache(tmp_path):  # type: ignore[no-untyped-def]
    """pypdf caches every object it reads, stream data included: walking every page of a 1 GiB scanned
    document would end with the file in memory. The walk drops each image object once it is placed."""
    import pypdf

    from samples.large_files import write_scanned_pdf
    from services.validation.formats.facts import FileFacts, Limits
    from services.validation.formats.identify import Format
    from services.validation.formats.pdf import _measure_pages

    path = tmp_path / "scan.pdf"
    write_scanned_pdf(path, pages=30, dpi=100)
    with path.open("rb") as fh:
        reader = pypdf.PdfReader(fh)
        facts = FileFacts(format=Format.PDF, size=path.stat().st_size)
        _measure_pages(reader, reader.pages, facts, Limits(pdf_max_images_decoded=4))
        cached_images = [
            obj for obj in reader.resolved_objects.values() if hasattr(obj, "get") and obj.get("/Subtype") == "/Image"
        ]
    assert len(facts.page_images) == 30 and facts.images_not_decoded == 26
    assert cached_images == []
