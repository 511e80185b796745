"""Pure capture rules: decoding inline content, safe file names, deterministic object keys."""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import unicodedata
from dataclasses import dataclass

from contracts.v1 import CheckResult, Material, Outcome, Property
from services.common.digests import digests_of

# Every code capture can reject a case with, in one place: the per-code correction tests
# (tests/e2e/test_rectification.py) read them from here, and `failure()` refuses a code not declared.
# Unauthenticated: the event cannot be attributed to its platform (unknown, disabled, forged), so its
# rejection opens no quarantine entry — anyone could otherwise fill a platform's quarantine.
UNATTRIBUTED_REJECTIONS = ("AUTH-PLATFORM-UNKNOWN", "AUTH-PLATFORM-DISABLED", "AUTH-SIGNATURE")
# The platform's own case, authenticated: quarantined like validation's rejections.
CASE_REJECTIONS = (
    "AUTH-EVENT-ID-REUSED",
    "CAP-MAPPING",
    "CAP-FETCH-UNREACHABLE",
    "CAP-FETCH-TOO-LARGE",
    "CAP-INLINE-BASE64",
)
REJECTION_CODES = UNATTRIBUTED_REJECTIONS + CASE_REJECTIONS

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
    sm3: str

    @classmethod
    def of(cls, data: bytes) -> Content:
        digests = digests_of(data)
        return cls(data, digests.sha256, digests.sm3)


def failure(
    code: str,
    prop: Property,
    reason_zh: str,
    reason_en: str,
    *,
    file_name: str | None = None,
    details: dict[str, str] | None = None,
) -> CheckResult:
    assert code in REJECTION_CODES, f"{code} is not declared in REJECTION_CODES"
    return CheckResult(
        code=code,
        property=prop,
        outcome=Outcome.FAIL,
        reason_zh=reason_zh,
        reason_en=reason_en,
        file_name=file_name,
        details=details or {},
    )


def decode_inline(material: Material) -> Content | CheckResult:
    """The material's inline content, or the reason it cannot be read."""
    assert material.content_base64 is not None
    try:
        data = base64.b64decode(material.content_base64, validate=True)
    except (binascii.Error, ValueError) as exc:
        return failure(
            "CAP-INLINE-BASE64",
            Property.INTEGRITY,
            f"材料“{material.material_name}”的内嵌内容不是有效的 Base64 编码，请重新提交文件。",
            f"inline content of '{material.material_name}' is not valid base64 ({exc}); resubmit the file.",
            file_name=material.file_name,
        )
    return Content.of(data)


def unknown_platform(platform: str | None, source: str) -> CheckResult:
    return failure(
        "AUTH-PLATFORM-UNKNOWN",
        Property.SECURITY,
        f"发送方“{source}”不是已登记的审批平台，事件未被接收。请联系档案中心登记平台。",
        f"the sender '{source}' is not a registered approval platform; ask the archive centre to register it.",
        details={"source": source, "platform": platform or ""},
    )


def disabled_platform(platform: str) -> CheckResult:
    return failure(
        "AUTH-PLATFORM-DISABLED",
        Property.SECURITY,
        f"审批平台“{platform}”已停用，事件未被接收。",
        f"the approval platform '{platform}' is disabled; its events are not accepted.",
    )


def bad_signature(verdict: str) -> CheckResult:
    zh = {
        "missing": "事件缺少平台签名（platformsig）",
        "malformed": "平台签名格式不正确",
        "mismatch": "平台签名校验失败，事件可能被篡改或使用了错误的密钥",
    }[verdict]
    en = {
        "missing": "the event carries no platform signature (platformsig)",
        "malformed": "the platform signature is malformed (expected hmac-sha256=<64 hex>)",
        "mismatch": "the platform signature does not verify: the event was altered or signed with a wrong key",
    }[verdict]
    return failure(
        "AUTH-SIGNATURE",
        Property.SECURITY,
        zh + "，请按接入规范签名后重新发送。",
        en + "; sign it as docs/sources.md describes and send it again.",
        details={"verdict": verdict},
    )


def reused_event_id(event_id: str) -> CheckResult:
    return failure(
        "AUTH-EVENT-ID-REUSED",
        Property.AUTHENTICITY,
        f"事件编号“{event_id}”已被另一内容不同的事件使用，请为新事件使用新的编号。",
        f"event id '{event_id}' was already used for an event with other content; give every new event a new id.",
        details={"event_id": event_id},
    )


def unmappable(dialect: str, problems: list[str]) -> CheckResult:
    shown = problems[:10]
    return failure(
        "CAP-MAPPING",
        Property.INTEGRITY,
        f"事件内容不符合平台数据规范“{dialect}”：{'；'.join(shown)}。请修正后重新发送。",
        f"the event does not follow the platform's dialect '{dialect}': {'; '.join(shown)}. Fix and send it again.",
        details={"dialect": dialect, "problems": " | ".join(problems)},
    )


def unreachable(material: Material, detail: str) -> CheckResult:
    return failure(
        "CAP-FETCH-UNREACHABLE",
        Property.INTEGRITY,
        f"无法从平台文件服务获取材料“{material.material_name}”（{detail}），请确认链接可访问后重新发送。",
        f"'{material.material_name}' could not be fetched from the platform's file service ({detail}); "
        "make the URL reachable and send the case again.",
        file_name=material.file_name,
        details={"url": material.url or "", "error": detail},
    )


def too_large(material: Material, detail: str) -> CheckResult:
    return failure(
        "CAP-FETCH-TOO-LARGE",
        Property.USABILITY,
        f"材料“{material.material_name}”超过档案接收的大小上限（{detail}），请拆分或压缩后重新发送。",
        f"'{material.material_name}' is over the archive's size limit ({detail}); split or reduce it and resend.",
        file_name=material.file_name,
        details={"url": material.url or "", "limit": detail},
    )


def raw_event_key(platform: str, event_id: str) -> str:
    """Where the platform's event is kept as received: by platform and a digest of the event id."""
    return f"_source-events/{platform}/{hashlib.sha256(event_id.encode()).hexdigest()[:32]}.json"
