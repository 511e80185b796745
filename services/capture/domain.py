"""Pure capture rules: decoding inline content, safe file names, deterministic object keys."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import unicodedata
from dataclasses import dataclass

from contracts.v1 import CheckResult, Material, Outcome, Property

_MAX_NAME_LENGTH = 120
_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f/\\:*?\"<>|]+")


def neutralise_file_name(name: str, fallback: str = "file") -> str:
    """A name that is safe as one path component on any system: the last component of any path the
    platform sent (so no `../`), NFC-normalised, no control or reserved characters, no leading dots,
    bounded length. The original is kept beside it as metadata."""
    last = re.split(r"[/\\]", unicodedata.normalize("NFC", name))[-1]
    cleaned = _FORBIDDEN.sub("_", last).strip(" .") or fallback
    if len(cleaned) > _MAX_NAME_LENGTH:
        stem, dot, ext = cleaned.rpartition(".")
        cleaned = (
            (stem[: _MAX_NAME_LENGTH - len(ext) - 1] + dot + ext)
            if dot and len(ext) <= 10
            else cleaned[:_MAX_NAME_LENGTH]
        )
    return cleaned


def staging_key(case_key: str, index: int, sha256: str) -> str:
    """Derived from case identity and content digest: capturing the same case twice writes the same key."""
    return f"{case_key}/{index:03d}-{sha256}"


@dataclass(frozen=True)
class Content:
    data: bytes
    sha256: str

    @classmethod
    def of(cls, data: bytes) -> Content:
        return cls(data, hashlib.sha256(data).hexdigest())


def decode_inline(material: Material) -> Content | CheckResult:
    """The material's inline content, or the reason it cannot be read."""
    assert material.content_base64 is not None
    try:
        data = base64.b64decode(material.content_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        return capture_failure(
            "CAP-INLINE-BASE64",
            material,
            f"材料“{material.material_name}”的内嵌内容不是有效的 Base64 编码，请重新提交文件。",
            f"inline content of '{material.material_name}' is not valid base64 ({exc}); resubmit the file.",
        )
    return Content.of(data)


def capture_failure(code: str, material: Material, reason_zh: str, reason_en: str) -> CheckResult:
    return CheckResult(
        code=code,
        property=Property.INTEGRITY,
        outcome=Outcome.FAIL,
        reason_zh=reason_zh,
        reason_en=reason_en,
        file_name=material.file_name,
    )


def url_not_supported(material: Material) -> CheckResult:
    # Fetching by URL (timeouts, retries, size caps, streaming) is the ingest issue's work; until then a
    # URL material is answered with a clear reason instead of being silently skipped.
    return capture_failure(
        "CAP-URL-UNSUPPORTED",
        material,
        f"材料“{material.material_name}”以链接提交，当前版本仅接收内嵌文件，请以内嵌方式重新提交。",
        f"'{material.material_name}' was sent by URL; this version accepts inline content only — resubmit inline.",
    )
