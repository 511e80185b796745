"""Audio and video (MP3, WAV, MP4): the header reads with mutagen and declares a duration."""

from __future__ import annotations

import io

from services.validation.formats.facts import FileFacts
from services.validation.formats.identify import Format


def inspect_media(data: bytes, facts: FileFacts) -> None:
    from mutagen.mp3 import MP3
    from mutagen.mp4 import MP4
    from mutagen.wave import WAVE

    reader = {Format.MP3: MP3, Format.WAV: WAVE, Format.MP4: MP4}[facts.format]
    media = reader(io.BytesIO(data))
    length = float(getattr(media.info, "length", 0.0) or 0.0)
    if length <= 0:
        facts.open_error = "the media header reads, but declares no duration"
        return
    facts.media_seconds = length
    facts.opens = True
