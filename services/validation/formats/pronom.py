"""Formats by PRONOM (The National Archives' registry, the identifiers PREMIS records): FIDO (`opf-fido`),
run in this process with the PRONOM signatures that ship inside the package — no download, no
subprocess. FIDO matches its signatures against the head and the tail of a file, so only those are
read (`HEAD_TAIL_BYTES` each), however large the file.

FIDO's own `match_formats` walks its ElementTree of ~2,300 formats on every call (`find`/`findall` for
each format, signature and pattern, and `re.match(text)` through `re`'s cache, which ~2,300 patterns
overflow), and that walking, not the regexes, was most of a file's identification time (issue 18). So
the signatures are read out of FIDO's tree once per process into tuples with compiled patterns
(`_formats`), and `_match` is FIDO's algorithm over them — the same formats in the same order, the
same priority pruning, the same matches. Three shortcuts that cannot change an answer skip most regexes: a
signature whose first pattern starts the file with literal bytes is tried only on a file that starts
with them, only the formats with a signature that can match the file's first byte are walked
(`_by_first_byte`), and a pattern that scans far into the head for a literal is tried only where the
literal is in that range (`_Guard`). tests/unit/test_pronom.py holds every match list equal to FIDO's `match_formats`.
Nothing is shared between calls but read-only tables, so no lock is needed (FIDO's object keeps per-call
state and needed one).
"""

from __future__ import annotations

import re

# `re`'s own parser (private, but the one that knows what a pattern requires): the literal leads.
import re._constants as sre_constants
import re._parser as sre_parse
from dataclasses import dataclass
from functools import cache
from typing import Any

from services.validation.formats.source import Source

HEAD_TAIL_BYTES = 64 * 1024


@dataclass(frozen=True)
class Pronom:
    puid: str  # e.g. fmt/18
    name: str  # e.g. "Acrobat PDF 1.4 - Portable Document Format"
    version: str | None = None


@cache
def _fido() -> Any:
    from fido.fido import Fido
    from fido.versions import get_local_versions

    versions = get_local_versions()
    return Fido(
        quiet=True,
        bufsize=HEAD_TAIL_BYTES,
        handle_matches=lambda *args: None,
        format_files=[versions.pronom_signature, versions.fido_extension_signature],
    )


class _Unreadable(Exception):
    """A pattern FIDO cannot evaluate (no position or regex, or a regex that does not compile): FIDO's
    `match_formats` raises on it when it reaches it, and skips the rest of that format."""


_POSITIONS = frozenset({"BOF", "EOF", "VAR", "IFB"})


@dataclass(frozen=True)
class _Format:
    element: Any  # FIDO's ElementTree element: the name and version of a match are read from it
    puid: str
    inferior: frozenset[str]  # the PUIDs this format has priority over
    signatures: tuple[_Signature, ...]  # in FIDO's order

    def first_bytes(self) -> frozenset[int] | range:
        """The first bytes of the files some signature of this format can match."""
        if any(not sig.lead for sig in self.signatures):
            return range(256)
        return frozenset(sig.lead[0] for sig in self.signatures)


@dataclass(frozen=True)
class _Guard:
    r"""What a far-scanning BOF pattern, `\A.{lo,hi}LITERAL…`, requires: `literal` starting at an offset in
    [lo, hi]. Such a regex tries every length of its leading repeat before it fails (fmt/1741's
    `\A.{32768,70468}.{0,16}ER\x02\x00…` took ~0.3 ms on a JPEG's 64 KiB head); `bytes.find` in that range
    answers the same "no" in microseconds, and where the literal is there the regex decides."""

    literal: bytes
    lo: int
    hi: int

    def admits(self, head: bytes) -> bool:
        return head.find(self.literal, self.lo, self.hi + len(self.literal)) != -1


# A leading repeat reaching less far than this is cheap for the regex to fail: a guard would cost more.
GUARD_MIN_SPAN = 16 * 1024

Pattern = tuple[str, re.Pattern[bytes] | None, _Guard | None]  # (position, regex or None where FIDO raises, guard)


@dataclass(frozen=True)
class _Signature:
    name: str | None
    patterns: tuple[Pattern, ...]
    # The bytes a file must start with for the signature to match: the literal bytes its first pattern, a
    # BOF one, starts with (b"" where there are none). A file that does not start with them fails that
    # first pattern, so checking them first skips the regex and gives the same answer.
    lead: bytes


def _lead(patterns: tuple[Pattern, ...]) -> bytes:
    if not patterns or patterns[0][0] != "BOF" or patterns[0][1] is None:
        return b""
    regex = patterns[0][1]
    if regex.flags & re.IGNORECASE:
        return b""
    lead = bytearray()
    for op, value in sre_parse.parse(regex.pattern, regex.flags):
        if op is sre_constants.AT and value in (sre_constants.AT_BEGINNING_STRING, sre_constants.AT_BEGINNING):
            if lead:  # `\A` after a literal never matches: leave such a pattern to the regex
                return b""
            continue  # a BOF pattern is matched at the file's start: \A (and ^) hold there
        if op is not sre_constants.LITERAL:
            break
        lead.append(value)
    return bytes(lead)


def _signature(fido: Any, sig: Any) -> _Signature:
    patterns = tuple(_pattern(fido, pat) for pat in fido.get_patterns(sig))
    return _Signature(sig.findtext("name"), patterns, _lead(patterns))


def _guard(regex: re.Pattern[bytes]) -> _Guard | None:
    r"""The guard of a BOF pattern that starts `\A`, then repeats of any byte reaching ≥ GUARD_MIN_SPAN, then
    at least two literal bytes (case-sensitive); None for any other pattern."""
    if regex.flags & re.IGNORECASE:
        return None
    items = list(sre_parse.parse(regex.pattern, regex.flags))
    if not items or items[0] != (sre_constants.AT, sre_constants.AT_BEGINNING_STRING):
        return None
    lo = hi = 0
    i = 1
    while i < len(items) and items[i][0] in (sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT):
        low, high, body = items[i][1]
        if len(body) != 1 or body[0][0] is not sre_constants.ANY or high is sre_constants.MAXREPEAT:
            break
        lo, hi, i = lo + low, hi + high, i + 1
    literal = bytearray()
    while i < len(items) and items[i][0] is sre_constants.LITERAL:
        literal.append(items[i][1])
        i += 1
    if hi < GUARD_MIN_SPAN or len(literal) < 2:
        return None
    return _Guard(bytes(literal), lo, hi)


def _pattern(fido: Any, pat: Any) -> Pattern:
    try:
        position = str(fido.get_pos(pat))
        regex = fido.get_regex(pat)
        # FIDO compiles (in `re.match`/`re.search`) only the patterns of the positions it knows.
        compiled = re.compile(regex) if position in _POSITIONS else None
        return position, compiled, _guard(compiled) if compiled is not None and position == "BOF" else None
    except (AttributeError, re.error):
        return "", None, None


@cache
def _formats() -> tuple[_Format, ...]:
    fido = _fido()
    return tuple(
        _Format(
            element=fmt,
            puid=fido.get_puid(fmt),
            inferior=fido.puid_has_priority_over_map[fido.get_puid(fmt)],
            signatures=tuple(_signature(fido, sig) for sig in fido.get_signatures(fmt)),
        )
        for fmt in fido.formats
    )


@cache
def _by_first_byte() -> tuple[tuple[_Format, ...], ...]:
    """For each first byte of a file, the formats (in FIDO's order) with a signature that can match it.
    A format none of whose signatures can match adds nothing to FIDO's matches and prunes nothing, so
    leaving it out changes no answer; ~350 of FIDO's ~2,250 formats remain for any first byte."""
    buckets: list[list[_Format]] = [[] for _ in range(256)]
    for fmt in _formats():  # in FIDO's order, so each bucket keeps it
        for first in fmt.first_bytes():
            buckets[first].append(fmt)
    return tuple(tuple(bucket) for bucket in buckets)


def _as_good_as_any(fmt: _Format, matches: list[tuple[_Format, str | None]]) -> bool:
    """No format matched so far has priority over `fmt` (FIDO's `as_good_as_any`)."""
    return not any(other is not fmt and fmt.puid in other.inferior for other, _ in matches)


def _signature_matches(patterns: tuple[Pattern, ...], head: bytes, tail: bytes) -> bool:
    for position, regex, guard in patterns:
        if position not in _POSITIONS:
            if position == "":
                raise _Unreadable
            continue  # FIDO passes over a position it does not know
        if regex is None:
            raise _Unreadable
        if position == "BOF":
            hit = (guard is None or guard.admits(head)) and regex.match(head)
        elif position == "EOF":
            hit = regex.search(tail)
        else:  # VAR, IFB: anywhere in the head
            hit = regex.search(head)
        if not hit:
            return False
    return True


def _match(formats: tuple[_Format, ...], head: bytes, tail: bytes) -> list[tuple[_Format, str | None]]:
    """FIDO's `match_formats(head, tail)` over the compiled tables: (format, signature name) per matching
    signature, inferior matches removed."""
    result: list[tuple[_Format, str | None]] = []
    for fmt in formats:
        if result and not _as_good_as_any(fmt, result):
            continue
        try:
            for sig in fmt.signatures:
                if head.startswith(sig.lead) and _signature_matches(sig.patterns, head, tail):
                    result.append((fmt, sig.name))
        except _Unreadable:
            continue
    return [m for m in result if _as_good_as_any(m[0], result)]


def signature_file() -> str:
    """The PRONOM signature release FIDO uses (for the record)."""
    from fido.versions import get_local_versions

    return str(get_local_versions().pronom_signature)


def identify_pronom(data: bytes | Source) -> Pronom | None:
    """The most specific PRONOM format FIDO's signatures match, or None where none matches."""
    source = Source.of(data)
    if source.size == 0:
        return None
    head, tail = source.head(HEAD_TAIL_BYTES), source.tail(HEAD_TAIL_BYTES)
    matches = _match(_by_first_byte()[head[0]], head, tail)
    if not matches:
        return None
    fmt = matches[0][0].element
    return Pronom(str(_fido().get_puid(fmt)), fmt.findtext("name") or "", fmt.findtext("version") or None)
