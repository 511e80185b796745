"""The retention schedule (归档范围和保管期限表) as data: parsing, checking and evaluating it. Pure code.

A schedule file (YAML) has a `version`, a `title`, the `items` it knows (事项编码 → 事项名称), the
archival `categories` with their `classes`, and `rules`. Each rule says, for the cases whose item code
matches `item` (exact, or a glob: `XK-SCJG-*`, `*`), optionally only for one `item_version`, and whose
metadata meet `when`: which materials are archived at which stage, the retention period (Y/D30/D10),
category and class, security level, sharing level (01/02/03) and its `priority`. The highest-priority
matching rule decides; two rules of equal priority that could ever match the same case are refused
when the file is loaded, so the winner is always unique.

`parse_schedule(text)` checks the whole file and raises `ScheduleError` listing every problem, each
naming the rule (position, id and line). Nothing here touches a database.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from fnmatch import fnmatchcase
from functools import cache, lru_cache
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from contracts.v1 import ApplicantType, CaseMetadata, CaseResult, IdType, RetentionPeriod, SharingLevel, Stage

SECURITY_LEVELS = ("公开", "内部", "秘密", "机密", "绝密")
_CODE = r"^[A-Z0-9]{1,8}$"  # category and class codes go into archival codes: letters and digits only

# Metadata a rule may put conditions on, and how to read each from a case. For enumerations the
# allowed values are checked at load time.
CONDITION_FIELDS: dict[str, tuple[Callable[[CaseMetadata], str], tuple[str, ...] | None]] = {
    "result": (lambda c: c.result.value, tuple(v.value for v in CaseResult)),
    "applicant_type": (lambda c: c.applicant.type.value, tuple(v.value for v in ApplicantType)),
    "applicant_id_type": (lambda c: c.applicant.id_type.value, tuple(v.value for v in IdType)),
    "source_platform": (lambda c: c.source_platform, None),
    "region_code": (lambda c: c.region_code, None),
    "department_code": (lambda c: c.department_code, None),
}


class ScheduleError(ValueError):
    """The schedule file is refused; `problems` lists every defect, each naming where it is."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        shown = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"retention schedule {source} refused ({len(problems)} problem(s)):\n{shown}")


@dataclass(frozen=True)
class Rule:
    id: str
    position: int  # 1-based place in the file
    item_pattern: str
    item_version: str | None
    conditions: Mapping[str, frozenset[str]]
    materials: Mapping[str, tuple[str, ...]]  # stage → material names archived at that stage
    retention: RetentionPeriod
    category_code: str
    class_code: str
    security_level: str
    sharing_level: SharingLevel
    priority: int

    def matches(self, case: CaseMetadata) -> bool:
        if not fnmatchcase(case.item_code, self.item_pattern):
            return False
        if self.item_version is not None and case.item_version != self.item_version:
            return False
        return all(CONDITION_FIELDS[name][0](case) in allowed for name, allowed in self.conditions.items())

    def may_overlap(self, other: Rule) -> bool:
        """Could one case ever match both rules?"""
        if self.item_version and other.item_version and self.item_version != other.item_version:
            return False
        for name in self.conditions.keys() & other.conditions.keys():
            if not self.conditions[name] & other.conditions[name]:
                return False
        return globs_intersect(self.item_pattern, other.item_pattern)


@dataclass(frozen=True)
class Schedule:
    version: str
    title: str
    sha256: str  # of the source text: loading the same version twice must be the same file
    items: Mapping[str, str]
    categories: Mapping[str, Mapping[str, Any]]
    rules: tuple[Rule, ...]
    document: Mapping[str, Any] = field(repr=False, compare=False, default_factory=dict)

    def evaluate(self, case: CaseMetadata) -> Rule | None:
        """The highest-priority rule that matches, or None (the case goes to manual review)."""
        best: Rule | None = None
        for rule in self.rules:
            if rule.matches(case) and (best is None or rule.priority > best.priority):
                best = rule
        return best

    def rule_rows(self) -> list[dict[str, Any]]:
        """The rules as rows for the database (one per rule, JSON-ready)."""
        return [
            {
                "rule_id": r.id,
                "position": r.position,
                "priority": r.priority,
                "item_pattern": r.item_pattern,
                "item_version": r.item_version,
                "conditions": {k: sorted(v) for k, v in r.conditions.items()},
                "materials": {k: list(v) for k, v in r.materials.items()},
                "retention": r.retention.value,
                "category_code": r.category_code,
                "class_code": r.class_code,
                "security_level": r.security_level,
                "sharing_level": r.sharing_level.value,
            }
            for r in self.rules
        ]

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(
            f"schedule {self.version} has no rule {rule_id!r} (rules: {', '.join(r.id for r in self.rules)})"
        )


# --- the file's shape, checked with pydantic ------------------------------------------------------------


class _RuleSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,63}$")
    item: str = Field(pattern=r"^[A-Za-z0-9*?._\-]{1,64}$", description="Item code: exact, or a glob (* and ?).")
    item_version: str | None = None
    when: dict[str, str | list[str]] = Field(default_factory=dict)
    materials: dict[Stage, list[str]] = Field(min_length=1)
    retention: RetentionPeriod
    category: str = Field(pattern=_CODE)
    class_: str = Field(alias="class", pattern=_CODE)
    security: str
    sharing: SharingLevel
    priority: int = Field(ge=0, le=1_000_000)

    @field_validator("sharing", mode="before")
    @classmethod
    def _unquoted_sharing(cls, value: Any) -> Any:
        # YAML reads an unquoted 02 as the integer 2; accept it rather than make people guess.
        return f"{value:02d}" if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("security")
    @classmethod
    def _known_security(cls, value: str) -> str:
        if value not in SECURITY_LEVELS:
            raise ValueError(f"unknown security level {value!r}; one of {', '.join(SECURITY_LEVELS)}")
        return value

    @field_validator("materials")
    @classmethod
    def _named_materials(cls, value: dict[Stage, list[str]]) -> dict[Stage, list[str]]:
        for stage, names in value.items():
            if not names or any(not isinstance(n, str) or not n.strip() for n in names):
                raise ValueError(f"stage {stage.value}: list at least one material name, none empty")
        return value


class _CategorySpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1)
    classes: dict[str, str] = Field(min_length=1)


class _FileSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]{0,39}$")
    title: str = Field(min_length=1)
    effective_from: date | None = None
    items: dict[str, str] = Field(min_length=1)
    categories: dict[str, _CategorySpec] = Field(min_length=1)
    rules: list[Any] = Field(min_length=1)


def _messages(error: ValidationError) -> list[str]:
    out = []
    for item in error.errors():
        where = ".".join(str(p) for p in item["loc"] if p != "class_") or "(top level)"
        message = item["msg"]
        if item["type"] == "string_type" and isinstance(item.get("input"), int | float):
            message += ' — write it in quotes, e.g. "2026.1"'
        if item["type"] == "missing":
            message = "missing field"
        out.append(f"{where}: {message}")
    return out


@lru_cache(maxsize=4096)
def globs_intersect(a: str, b: str) -> bool:
    """Is there a string matched by both glob patterns (`*` any run, `?` one character)?"""

    @cache
    def walk(i: int, j: int) -> bool:
        if i == len(a) and j == len(b):
            return True
        if i < len(a) and a[i] == "*":
            if walk(i + 1, j) or (j < len(b) and walk(i, j + 1)):
                return True
            return False
        if j < len(b) and b[j] == "*":
            return walk(i, j + 1) or (i < len(a) and walk(i + 1, j))
        if i == len(a) or j == len(b):
            return False
        return (a[i] == b[j] or a[i] == "?" or b[j] == "?") and walk(i + 1, j + 1)

    return walk(0, 0)


def _rule_lines(text: str) -> list[int]:
    """The line (1-based) where each rule starts, for error messages; empty if the text will not compose."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return []
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if getattr(key, "value", None) == "rules" and isinstance(value, yaml.SequenceNode):
            return [node.start_mark.line + 1 for node in value.value]
    return []


def parse_schedule(text: str, source: str = "<schedule>") -> Schedule:
    """Parse and check a schedule file's text. Raises ScheduleError naming every offending rule."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ScheduleError(source, [f"not valid YAML: {exc}"]) from exc
    return parse_document(document, source, lines=_rule_lines(text), sha256=hashlib.sha256(text.encode()).hexdigest())


def parse_document(
    document: Any, source: str = "<schedule>", *, lines: list[int] | None = None, sha256: str = ""
) -> Schedule:
    """Check an already-loaded schedule document (the YAML as Python data); see parse_schedule."""
    if not isinstance(document, dict):
        raise ScheduleError(source, ["the file must be a mapping with version, title, items, categories, rules"])
    try:
        spec = _FileSpec.model_validate(document)
    except ValidationError as exc:
        raise ScheduleError(source, _messages(exc)) from exc

    problems: list[str] = []
    for code in spec.categories:
        if not re.match(_CODE, code):
            problems.append(f"categories.{code}: a category code is 1-8 capital letters or digits")
    lines = lines or []
    rules: list[Rule] = []
    seen_ids: dict[str, int] = {}
    for position, raw in enumerate(spec.rules, start=1):
        label_id = raw.get("id") if isinstance(raw, dict) else None
        line = f", line {lines[position - 1]}" if position <= len(lines) else ""
        label = f"rule {position} ({label_id or 'no id'}{line})"
        if not isinstance(raw, dict):
            problems.append(f"{label}: a rule is a mapping of fields")
            continue
        try:
            rs = _RuleSpec.model_validate(raw)
        except ValidationError as exc:
            problems += [f"{label}: {m}" for m in _messages(exc)]
            continue
        rule_problems = []
        if rs.id in seen_ids:
            rule_problems.append(f"id {rs.id!r} is used by rule {seen_ids[rs.id]} too")
        seen_ids.setdefault(rs.id, position)
        if not any(fnmatchcase(code, rs.item) for code in spec.items):
            rule_problems.append(f"unknown item code {rs.item!r}: it matches none of the file's items")
        category = spec.categories.get(rs.category)
        if category is None:
            rule_problems.append(f"unknown category {rs.category!r} (known: {', '.join(spec.categories)})")
        elif rs.class_ not in category.classes:
            rule_problems.append(
                f"unknown class {rs.class_!r} in category {rs.category} (known: {', '.join(category.classes)})"
            )
        conditions: dict[str, frozenset[str]] = {}
        for name, value in rs.when.items():
            if name not in CONDITION_FIELDS:
                rule_problems.append(f"when.{name}: unknown field (known: {', '.join(CONDITION_FIELDS)})")
                continue
            values = frozenset([value] if isinstance(value, str) else value)
            allowed = CONDITION_FIELDS[name][1]
            if not values:
                rule_problems.append(f"when.{name}: list at least one value")
            if allowed is not None and not values <= set(allowed):
                wrong = ", ".join(sorted(values - set(allowed)))
                rule_problems.append(f"when.{name}: unknown value {wrong} (one of {', '.join(allowed)})")
            conditions[name] = values
        if rule_problems:
            problems += [f"{label}: {p}" for p in rule_problems]
            continue
        rules.append(
            Rule(
                id=rs.id,
                position=position,
                item_pattern=rs.item,
                item_version=rs.item_version,
                conditions=conditions,
                materials={stage.value: tuple(names) for stage, names in rs.materials.items()},
                retention=rs.retention,
                category_code=rs.category,
                class_code=rs.class_,
                security_level=rs.security,
                sharing_level=rs.sharing,
                priority=rs.priority,
            )
        )
    for k, first in enumerate(rules):
        for second in rules[k + 1 :]:
            if first.priority == second.priority and first.may_overlap(second):
                line = f", line {lines[second.position - 1]}" if second.position <= len(lines) else ""
                problems.append(
                    f"rule {second.position} ({second.id}{line}): overlaps rule {first.position} ({first.id}) "
                    f"at equal priority {first.priority} — a case could match both; give one a higher priority "
                    "or make their item codes or conditions exclusive"
                )
    if problems:
        raise ScheduleError(source, problems)
    return Schedule(
        version=spec.version,
        title=spec.title,
        sha256=sha256,
        items=dict(spec.items),
        categories={code: c.model_dump() for code, c in spec.categories.items()},
        rules=tuple(rules),
        document=document,
    )


def load_schedule_file(path: Any) -> Schedule:
    from pathlib import Path

    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScheduleError(str(p), [f"cannot read the file: {exc}"]) from exc
    return parse_schedule(text, source=str(p))
