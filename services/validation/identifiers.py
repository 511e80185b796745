"""Chinese identifiers and their check characters — pure verifiers used by the validation service
(and by the sample generator, which imports them from here).

- Unified social credit code (统一社会信用代码), GB 32100-2015: 18 characters,
  `registration authority (1) + organisation type (1) + region code (6) + organisation code (9) + check (1)`.
  The embedded organisation code (组织机构代码) follows GB 11714-1997 and carries its own check character.
- Resident identity number (公民身份号码), GB 11643-1999: 18 characters,
  `region code (6) + birth date YYYYMMDD (8) + sequence (3, odd for men, even for women) + check (1)`.
- Administrative division code (行政区划代码), GB/T 2260: 6 digits whose first two name a province.

Every function is pure: no clock, no lookup beyond the constants here, no normalisation.
"""

from __future__ import annotations

from datetime import date

__all__ = [
    "USCC_CHARSET",
    "organization_code_check_char",
    "organization_code_is_valid",
    "region_code_is_valid",
    "resident_id_check_char",
    "resident_id_is_valid",
    "uscc_check_char",
    "uscc_is_valid",
]

# --- GB 32100-2015: unified social credit code -------------------------------------------------------

USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # 31 characters: no I, O, S, V, Z
_USCC_VALUE = {ch: i for i, ch in enumerate(USCC_CHARSET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def uscc_check_char(body: str) -> str:
    """The check character of a unified social credit code, given its first 17 characters.

    Raises ValueError if `body` is not 17 characters of the GB 32100 charset.
    """
    if len(body) != 17 or any(ch not in _USCC_VALUE for ch in body):
        raise ValueError(f"a USCC body is 17 characters of {USCC_CHARSET!r}, got {body!r}")
    total = sum(_USCC_VALUE[ch] * w for ch, w in zip(body, _USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def uscc_is_valid(code: str) -> bool:
    """True if `code` is 18 characters of the GB 32100 charset (upper case) with a correct check character.

    The embedded organisation code is not required to pass GB 11714 on its own: the USCC check character
    is what the standard makes authoritative. Use `organization_code_is_valid(code[8:17])` for that.
    """
    if not isinstance(code, str) or len(code) != 18 or any(ch not in _USCC_VALUE for ch in code):
        return False
    return uscc_check_char(code[:17]) == code[17]


# --- GB 11714-1997: organisation code (9 characters, embedded in the USCC) ---------------------------

_ORG_WEIGHTS = (3, 7, 9, 10, 5, 8, 4, 2)
_ORG_BODY_CHARS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _org_value(ch: str) -> int:
    return int(ch) if ch.isdigit() else ord(ch) - ord("A") + 10


def organization_code_check_char(body: str) -> str:
    """The check character of a GB 11714 organisation code, given its first 8 characters."""
    if len(body) != 8 or any(ch not in _ORG_BODY_CHARS for ch in body):
        raise ValueError(f"an organisation code body is 8 characters of 0-9 A-Z, got {body!r}")
    total = sum(_org_value(ch) * w for ch, w in zip(body, _ORG_WEIGHTS, strict=True))
    check = 11 - total % 11
    return "X" if check == 10 else "0" if check == 11 else str(check)


def organization_code_is_valid(code: str) -> bool:
    """True if `code` is a 9-character GB 11714 organisation code with a correct check character."""
    if not isinstance(code, str) or len(code) != 9 or any(ch not in _ORG_BODY_CHARS for ch in code[:8]):
        return False
    return organization_code_check_char(code[:8]) == code[8]


# --- GB 11643-1999: resident identity number ---------------------------------------------------------

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_MAP = "10X98765432"


def resident_id_check_char(body: str) -> str:
    """The check character (0-9 or X) of a resident identity number, given its first 17 digits."""
    if len(body) != 17 or not body.isascii() or not body.isdigit():
        raise ValueError(f"a resident ID body is 17 ASCII digits, got {body!r}")
    total = sum(int(ch) * w for ch, w in zip(body, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_MAP[total % 11]


def resident_id_is_valid(number: str) -> bool:
    """True if `number` is an 18-character resident identity number: 17 digits whose characters 7-14 are a
    real calendar date, and a correct check character (an upper-case X stands for 10).

    First-generation 15-digit numbers are not accepted. The birth date is not compared with today's date,
    so the function stays pure.
    """
    if not isinstance(number, str) or len(number) != 18:
        return False
    body, check = number[:17], number[17]
    if not body.isascii() or not body.isdigit():
        return False
    try:
        date(int(body[6:10]), int(body[10:12]), int(body[12:14]))
    except ValueError:
        return False
    return resident_id_check_char(body) == check


# --- GB/T 2260: administrative division codes ------------------------------------------------------------

# The two-digit codes of the provinces, autonomous regions and municipalities (and 71 Taiwan, 81 Hong Kong,
# 82 Macao, which GB/T 2260 lists too).
PROVINCE_CODES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82".split()
)


def region_code_is_valid(code: str) -> bool:
    """True if `code` is a 6-digit GB/T 2260 code with a real province prefix; `XX0000` (a province),
    `XXYY00` (a prefecture) and `XXYYZZ` (a county) are all accepted, but not `000000`."""
    return isinstance(code, str) and len(code) == 6 and code.isascii() and code.isdigit() and code[:2] in PROVINCE_CODES
