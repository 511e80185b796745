"""Chinese identifiers with correct check characters: generators for sample data, verifiers for everyone.

- Unified social credit code (统一社会信用代码), GB 32100-2015: 18 characters,
  `registration authority (1) + organisation type (1) + region code (6) + organisation code (9) + check (1)`.
  The embedded organisation code (组织机构代码) follows GB 11714-1997 and carries its own check character.
- Resident identity number (公民身份号码), GB 11643-1999: 18 characters,
  `region code (6) + birth date YYYYMMDD (8) + sequence (3, odd for men, even for women) + check (1)`.

The verifiers (`uscc_is_valid`, `resident_id_is_valid`, `organization_code_is_valid`) are pure functions
of their argument: no clock, no lookup tables, no normalisation. They live in services/validation/identifiers.py (the
validation service owns them) and are re-exported here.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, timedelta

from services.validation.identifiers import (
    USCC_CHARSET,
    organization_code_check_char,
    organization_code_is_valid,
    resident_id_check_char,
    resident_id_is_valid,
    uscc_check_char,
    uscc_is_valid,
)

__all__ = [
    "REGIONS",
    "USCC_CHARSET",
    "District",
    "Region",
    "make_organization_code",
    "make_resident_id",
    "make_uscc",
    "organization_code_check_char",
    "organization_code_is_valid",
    "region_by_code",
    "resident_id_check_char",
    "resident_id_is_valid",
    "uscc_check_char",
    "uscc_is_valid",
]

# --- region codes (GB/T 2260) --------------------------------------------------------------------------


@dataclass(frozen=True)
class District:
    code: str
    name: str


@dataclass(frozen=True)
class Region:
    """A prefecture-level city, with some of its districts (county-level codes are used in ID numbers)."""

    code: str
    name: str  # 杭州市
    short: str  # 杭州
    province: str  # 浙江省
    province_short: str  # 浙江
    province_abbr: str  # 浙 (used in licence numbers)
    districts: tuple[District, ...]


REGIONS: tuple[Region, ...] = (
    Region(
        "330100",
        "杭州市",
        "杭州",
        "浙江省",
        "浙江",
        "浙",
        (
            District("330102", "上城区"),
            District("330105", "拱墅区"),
            District("330106", "西湖区"),
            District("330108", "滨江区"),
            District("330109", "萧山区"),
            District("330110", "余杭区"),
        ),
    ),
    Region(
        "320500",
        "苏州市",
        "苏州",
        "江苏省",
        "江苏",
        "苏",
        (
            District("320505", "虎丘区"),
            District("320506", "吴中区"),
            District("320507", "相城区"),
            District("320508", "姑苏区"),
            District("320509", "吴江区"),
            District("320582", "张家港市"),
        ),
    ),
    Region(
        "440300",
        "深圳市",
        "深圳",
        "广东省",
        "广东",
        "粤",
        (
            District("440303", "罗湖区"),
            District("440304", "福田区"),
            District("440305", "南山区"),
            District("440306", "宝安区"),
            District("440307", "龙岗区"),
            District("440309", "龙华区"),
        ),
    ),
    Region(
        "350100",
        "福州市",
        "福州",
        "福建省",
        "福建",
        "闽",
        (
            District("350102", "鼓楼区"),
            District("350103", "台江区"),
            District("350104", "仓山区"),
            District("350111", "晋安区"),
            District("350121", "闽侯县"),
        ),
    ),
    Region(
        "510100",
        "成都市",
        "成都",
        "四川省",
        "四川",
        "川",
        (
            District("510104", "锦江区"),
            District("510105", "青羊区"),
            District("510106", "金牛区"),
            District("510107", "武侯区"),
            District("510108", "成华区"),
            District("510116", "双流区"),
        ),
    ),
    Region(
        "420100",
        "武汉市",
        "武汉",
        "湖北省",
        "湖北",
        "鄂",
        (
            District("420102", "江岸区"),
            District("420103", "江汉区"),
            District("420106", "武昌区"),
            District("420111", "洪山区"),
            District("420115", "江夏区"),
        ),
    ),
)

# Birthplaces of people in the samples: any district above, plus some elsewhere (people move).
_BIRTHPLACES: tuple[str, ...] = (
    *(d.code for r in REGIONS for d in r.districts),
    "110105",
    "110108",
    "310104",
    "310115",
    "370102",
    "410105",
    "430104",
    "340104",
    "360102",
    "500103",
)


def region_by_code(code: str) -> Region:
    for region in REGIONS:
        if region.code == code:
            return region
    raise KeyError(code)


# --- generators ----------------------------------------------------------------------------------------

_ORG_GEN_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"  # organisation codes inside a USCC use the USCC charset


def make_organization_code(rng: random.Random, *, prefix: str = "MA", digits_only: bool = False) -> str:
    """A GB 11714 organisation code as assigned since 2015 (`MA` + 6 characters + check).

    The body is drawn from the USCC charset so that the code can be embedded in a USCC; the check
    character (a digit or X) is in that charset too.
    """
    chars = "0123456789" if digits_only else _ORG_GEN_CHARS
    body = prefix + "".join(rng.choice(chars) for _ in range(8 - len(prefix)))
    return body + organization_code_check_char(body)


def make_uscc(
    rng: random.Random,
    region_code: str,
    *,
    registration_authority: str = "9",
    organisation_type: str = "1",
    org_prefix: str = "MA",
    org_digits_only: bool = False,
) -> str:
    """A unified social credit code with a valid check character and a valid embedded organisation code.

    Defaults give an enterprise registered by market regulation (`91...`); government bodies are `11...`
    with an all-digit organisation code (`org_prefix="00", org_digits_only=True`).
    """
    if len(region_code) != 6 or not region_code.isdigit():
        raise ValueError(f"region code is 6 digits, got {region_code!r}")
    body = (
        registration_authority
        + organisation_type
        + region_code
        + make_organization_code(rng, prefix=org_prefix, digits_only=org_digits_only)
    )
    return body + uscc_check_char(body)


def make_resident_id(
    rng: random.Random,
    *,
    region_code: str | None = None,
    birth_date: date | None = None,
    male: bool | None = None,
) -> str:
    """A resident identity number with a valid check character.

    Without arguments the birthplace is drawn from a list of real county-level codes, the birth date
    from 1960-1999, and the sex at random (odd sequence numbers are men, even are women).
    """
    region = region_code or rng.choice(_BIRTHPLACES)
    born = birth_date or date(1960, 1, 1) + timedelta(days=rng.randrange(365 * 40))
    is_male = rng.random() < 0.5 if male is None else male
    seq = rng.randrange(0, 500) * 2 + (1 if is_male else 0)
    if seq == 0:
        seq = 2
    body = f"{region}{born:%Y%m%d}{seq:03d}"
    return body + resident_id_check_char(body)
