"""The government departments that decide sample cases: one per platform and region, stable entities
that do not change with the seed (a department keeps its code across every generated data set)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

from samples.identifiers import make_uscc, region_by_code


@dataclass(frozen=True)
class Department:
    code: str  # the department's unified social credit code
    name: str


def department_code(rng: random.Random, region_code: str) -> str:
    """A government body's unified social credit code (`11...`, all-digit organisation code) in a region."""
    return make_uscc(
        rng,
        region_code,
        registration_authority="1",
        organisation_type="1",
        org_prefix="00",
        org_digits_only=True,
    )


@lru_cache(maxsize=64)
def department(platform_id: str, name_suffix: str, region_code: str) -> Department:
    """The department of platform `platform_id` in region `region_code`, named `<city><name_suffix>`."""
    rng = random.Random(f"department:{platform_id}:{region_code}")
    return Department(code=department_code(rng, region_code), name=f"{region_by_code(region_code).name}{name_suffix}")
