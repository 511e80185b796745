"""Authenticating platform events: HMAC-SHA256 over the RFC 8785 (JCS) canonical form of the event
without its `platformsig` attribute. Pure; secrets come from the platform registry.

    platformsig = "hmac-sha256=" + hex(HMAC-SHA256(secret, JCS(event minus platformsig)))

JCS gives every platform, in any language, the same bytes for the same event. During a secret
rotation two secrets are valid; an event signed with either is accepted.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

import rfc8785

SCHEME = "hmac-sha256="


class Verdict(StrEnum):
    VALID = "valid"
    MISSING = "missing"
    MALFORMED = "malformed"
    MISMATCH = "mismatch"


def canonical(content: Mapping[str, Any]) -> bytes:
    return rfc8785.dumps(dict(content))


def sign(content: Mapping[str, Any], secret: str) -> str:
    """The `platformsig` value for an event (given without its platformsig)."""
    return SCHEME + hmac.new(secret.encode("utf-8"), canonical(content), hashlib.sha256).hexdigest()


def verify(content: Mapping[str, Any], signature: str | None, secrets: Sequence[str]) -> Verdict:
    if not signature:
        return Verdict.MISSING
    if not signature.startswith(SCHEME) or len(signature) != len(SCHEME) + 64:
        return Verdict.MALFORMED
    body = canonical(content)
    for secret in secrets:
        expected = SCHEME + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
        if hmac.compare_digest(expected, signature.lower()):
            return Verdict.VALID
    return Verdict.MISMATCH


def content_digest(content: Mapping[str, Any]) -> str:
    """What identifies an event's content, to tell a replay from an id reused for something else."""
    return hashlib.sha256(canonical(content)).hexdigest()
