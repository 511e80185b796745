"""Platform dialects declared as data: a mapping file per dialect turns a platform's own event payload
into the unified approval record (统一元数据标准). Pure: no I/O here; the files are read by `load_dialects`.

A mapping file (services/capture/dialects/<name>.yaml) says, for every field of the unified record,
where its value comes from:

    path: a.b.0.c         dotted path into the platform's JSON (integers index lists)
    value: organisation   a constant
    default: 1            used when the path is absent or empty
    map: {"1": approved}  a value map; a value missing from it is an error naming the value
    datetime: "%Y%m%d%H%M%S"   parse with this format; naive times are in `timezone` (default +08:00)
    transform: [strip, upper]  named pure functions, for what data cannot express

Lists (process records, materials) are declared with `each: <path>` and `fields:` for one element,
or — where the source has one flat row and no list, like a paper catalogue — with `items:`, a fixed list
of elements each mapped from the whole payload.
Materials may take their stage from their name (`stage_by_material_name`) with a `default_stage`.
`passthrough: true` declares the unified record itself (no mapping).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import yaml
from pydantic import ValidationError

from contracts.v1 import CaseIdentity, UnifiedApprovalRecord

DIALECT_DIR = Path(__file__).with_name("dialects")

_MEDIA_TYPES = {
    "pdf": "application/pdf",
    "ofd": "application/ofd",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "tif": "image/tiff",
    "tiff": "image/tiff",
    "jp2": "image/jp2",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "mp4": "video/mp4",
}


def _url_file_name(url: Any) -> str:
    path = urlsplit(str(url)).path
    return unquote(path.rsplit("/", 1)[-1]) or "file"


def _media_type_from_name(name: Any) -> str:
    extension = _url_file_name(name).rpartition(".")[2].lower()
    return _MEDIA_TYPES.get(extension, "application/octet-stream")


TRANSFORMS: dict[str, Callable[[Any], Any]] = {
    "url_file_name": _url_file_name,
    "media_type_from_name": _media_type_from_name,
    "strip": lambda v: v.strip() if isinstance(v, str) else v,
    "upper": lambda v: v.upper() if isinstance(v, str) else v,
    "lower": lambda v: v.lower() if isinstance(v, str) else v,
    "int": lambda v: int(v),
    "str": lambda v: str(v),
    "empty_to_none": lambda v: None if v in ("", []) else v,
}

_RULE_KEYS = {"path", "value", "default", "map", "datetime", "timezone", "transform", "required"}
_MISSING = object()


class MappingError(ValueError):
    """The payload cannot be mapped; `problems` name each field and what is wrong."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Dialect:
    name: str
    description: str
    spec: Mapping[str, Any]

    @property
    def passthrough(self) -> bool:
        return bool(self.spec.get("passthrough"))

    def map(self, payload: Mapping[str, Any], platform: str) -> UnifiedApprovalRecord:
        """The unified record for `payload` sent by `platform` (the authenticated sender, which is
        what `source_platform` becomes), or MappingError listing every problem found."""
        if self.passthrough:
            document: Any = payload
            claimed = payload.get("source_platform") if isinstance(payload, Mapping) else None
            if claimed != platform:
                raise MappingError([f"source_platform: {claimed!r} is not the sending platform {platform!r}"])
        else:
            problems: list[str] = []
            document = _map_object(self.spec["record"], payload, "", problems)
            for key in ("process_records", "materials"):
                if key in self.spec:
                    document[key] = _map_list(self.spec[key], payload, key, problems)
            if problems:
                raise MappingError(problems)
            document["source_platform"] = platform
        try:
            return UnifiedApprovalRecord.model_validate(document)
        except ValidationError as exc:
            raise MappingError(
                [f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:10]]
            ) from exc

    def identity(self, payload: Mapping[str, Any], platform: str) -> CaseIdentity | None:
        """The case number and revision the payload names, by the mapping's own rules — also for a payload
        that does not map as a whole (what a rejection of it is addressed to); None when not even those map."""
        if self.passthrough:
            document: Any = payload
        else:
            problems: list[str] = []
            rules = {k: self.spec["record"][k] for k in ("case_number", "revision") if k in self.spec["record"]}
            document = _map_object(rules, payload, "", problems)
            if problems:
                return None
        try:
            return CaseIdentity(
                source_platform=platform,
                case_number=str(document.get("case_number") or ""),
                revision=document.get("revision") or 1,
            )
        except (ValidationError, ValueError, TypeError):
            return None


def _is_rule(spec: Any) -> bool:
    return isinstance(spec, Mapping) and bool(set(spec) & _RULE_KEYS) and set(spec) <= _RULE_KEYS


def _lookup(payload: Any, path: str) -> Any:
    node = payload
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def _apply_rule(rule: Mapping[str, Any], payload: Any, where: str, problems: list[str]) -> Any:
    value = rule["value"] if "value" in rule else _lookup(payload, rule["path"]) if "path" in rule else _MISSING
    if value is _MISSING or value is None or value == "":
        if "default" in rule:
            return rule["default"]
        if rule.get("required", True) and "path" in rule:
            problems.append(f"{where}: missing (expected at '{rule['path']}')")
        return None
    for name in rule.get("transform", []):
        value = TRANSFORMS[name](value)
    if "map" in rule:
        table = {str(k): v for k, v in rule["map"].items()}
        if str(value) not in table:
            problems.append(f"{where}: value {value!r} is not one of {sorted(table)}")
            return None
        value = table[str(value)]
    if "datetime" in rule:
        try:
            parsed = datetime.strptime(str(value), rule["datetime"])
        except ValueError:
            problems.append(f"{where}: {value!r} does not match the date format {rule['datetime']!r}")
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=_zone(rule.get("timezone", "+08:00")))
        value = parsed.isoformat()
    return value


def _zone(offset: str) -> timezone:
    sign = -1 if offset.startswith("-") else 1
    hours, _, minutes = offset.lstrip("+-").partition(":")
    return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes or 0)))


def _map_object(spec: Mapping[str, Any], payload: Any, prefix: str, problems: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field, rule in spec.items():
        where = f"{prefix}{field}"
        if _is_rule(rule):
            value = _apply_rule(rule, payload, where, problems)
            if value is not None:
                out[field] = value
        elif isinstance(rule, Mapping):
            out[field] = _map_object(rule, payload, where + ".", problems)
        else:
            raise ValueError(f"mapping of {where} is neither a rule nor an object: {rule!r}")
    return out


def _map_list(spec: Mapping[str, Any], payload: Any, name: str, problems: list[str]) -> list[dict[str, Any]]:
    if "items" in spec:  # a fixed list of elements, each mapped from the whole payload
        return [_map_object(element, payload, f"{name}.{i}.", problems) for i, element in enumerate(spec["items"])]
    items = _lookup(payload, spec["each"])
    if items is _MISSING or items is None:
        return []
    if not isinstance(items, list):
        problems.append(f"{name}: expected a list at '{spec['each']}'")
        return []
    stages = spec.get("stage_by_material_name") or {}
    mapped = []
    for i, item in enumerate(items):
        element = _map_object(spec["fields"], item, f"{name}.{i}.", problems)
        if name == "materials" and "stage" not in element:
            stage = stages.get(element.get("material_name")) or spec.get("default_stage")
            if stage is None:
                problems.append(f"{name}.{i}.stage: no stage for material {element.get('material_name')!r}")
            else:
                element["stage"] = stage
        mapped.append(element)
    return mapped


def parse_dialect(text: str, origin: str) -> Dialect:
    spec = yaml.safe_load(text)
    if not isinstance(spec, Mapping) or "dialect" not in spec:
        raise ValueError(f"{origin}: not a dialect mapping (no 'dialect' key)")
    if not spec.get("passthrough") and "record" not in spec:
        raise ValueError(f"{origin}: a mapping needs 'record' (or 'passthrough: true')")
    _check_transforms(spec, origin)
    return Dialect(name=spec["dialect"], description=spec.get("description", ""), spec=spec)


def _check_transforms(spec: Any, origin: str) -> None:
    if isinstance(spec, Mapping):
        for name in spec.get("transform", []) if _is_rule(spec) else []:
            if name not in TRANSFORMS:
                raise ValueError(f"{origin}: unknown transform {name!r} (known: {sorted(TRANSFORMS)})")
        for value in spec.values():
            _check_transforms(value, origin)


def load_dialects(directory: Path = DIALECT_DIR) -> dict[str, Dialect]:
    dialects = {}
    for path in sorted(directory.glob("*.yaml")):
        dialect = parse_dialect(path.read_text(encoding="utf-8"), str(path))
        if dialect.name in dialects:
            raise ValueError(f"{path}: dialect {dialect.name!r} is declared twice")
        dialects[dialect.name] = dialect
    return dialects
