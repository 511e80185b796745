"""Audio and video (MP3, WAV, MP4): the header reads with mutagen and declares a duration, and the stream
is decoded through to the end by ffmpeg (Debian's `ffmpeg` package) — a file cut short decodes less than
its header declares, or ffmpeg reports the damage, and does not open.

ffmpeg runs once per media file with a time limit, on the validation step's spooled copy of it (an MP4
whose index sits at the end cannot be read from a pipe); given bytes, on a private temporary copy.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile

from services.validation.formats.facts import FileFacts
from services.validation.formats.identify import Format
from services.validation.formats.source import Source

log = logging.getLogger(__name__)

FFMPEG_TIMEOUT_S = 120.0
# A decode that stops this much short of the declared duration is a truncated file: allows for the
# rounding of frame-based formats (an MP3 frame is 26 ms; container durations round to the timescale).
_SHORT_BY_S = 0.1
_SHORT_BY_SHARE = 0.02


def inspect_media(source: Source, facts: FileFacts) -> None:
    from mutagen.mp3 import MP3
    from mutagen.mp4 import MP4
    from mutagen.wave import WAVE

    reader = {Format.MP3: MP3, Format.WAV: WAVE, Format.MP4: MP4}[facts.format]
    with source.open() as fh:
        media = reader(fh)
    length = float(getattr(media.info, "length", 0.0) or 0.0)
    if length <= 0:
        facts.open_error = "the media header reads, but declares no duration"
        return
    facts.media_seconds = length
    decoded, error = decode_to_end(source, facts.format)
    if error:
        facts.open_error = error
        return
    if decoded is not None and decoded + max(_SHORT_BY_S, _SHORT_BY_SHARE * length) < length:
        facts.open_error = f"it decodes for {decoded:.2f} s of the {length:.2f} s its header declares: it is truncated"
        return
    facts.opens = True


def decode_to_end(data: bytes | Source, fmt: Format) -> tuple[float | None, str | None]:
    """(seconds decoded, ffmpeg's error) — (None, None) where ffmpeg is not installed (logged)."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        log.warning("ffmpeg is not installed: media is judged by its header only (apt-get install ffmpeg)")
        return None, None
    source = Source.of(data)
    if source.path is not None:
        return _run_ffmpeg(ffmpeg, str(source.path))
    fd, path = tempfile.mkstemp(suffix=f".{fmt.value}")
    try:
        with os.fdopen(fd, "wb") as fh:
            for chunk in source.chunks():
                fh.write(chunk)
        return _run_ffmpeg(ffmpeg, path)
    finally:
        os.unlink(path)


def _run_ffmpeg(ffmpeg: str, path: str) -> tuple[float | None, str | None]:
    try:
        done = subprocess.run(
            [ffmpeg, "-nostdin", "-hide_banner", "-v", "error", "-i", path, "-f", "null", "-", "-progress", "pipe:1"],
            capture_output=True,
            timeout=FFMPEG_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None, f"decoding did not finish within {FFMPEG_TIMEOUT_S:.0f} s"
    errors = done.stderr.decode("utf-8", "replace").strip()
    if done.returncode != 0 or errors:
        first = errors.splitlines()[0] if errors else f"ffmpeg exited with {done.returncode}"
        return None, f"it does not decode to the end: {first[:200]}"
    times = [line.split("=", 1)[1] for line in done.stdout.decode().splitlines() if line.startswith("out_time_us=")]
    usable = [int(t) for t in times if t.strip().lstrip("-").isdigit()]
    return (max(usable) / 1e6 if usable else 0.0), None
