"""The rows of the PostgreSQL index, derived from a package alone (pure).

The storage step and the index rebuild both call `rows_of(package, …)` on the package as stored, so a
rebuilt index holds exactly the rows the step wrote: the package is the source of truth."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts.v1 import ArchivedEvent
from services.storage.bag import Package


@dataclass(frozen=True)
class PackageRows:
    record: dict[str, Any]
    files: list[dict[str, Any]]
    events: list[dict[str, Any]]
    code: dict[str, Any]
    archived_event: dict[str, Any]


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def rows_of(package: Package, *, bucket: str, key: str, version_id: str | None) -> PackageRows:
    document = package.record
    event_json = document["archived_event"]
    event = ArchivedEvent.model_validate(event_json)
    archived = event.data
    case, cls, pkg = archived.case, archived.classification, archived.package
    record = {
        "case_key": case.case_key,
        "source_platform": case.source_platform,
        "case_number": case.case_number,
        "revision": case.revision,
        "region_code": case.region_code,
        "item_code": case.item_code,
        "item_name": case.item_name,
        "case_title": case.case_title,
        "applicant_name": case.applicant.name,
        "applicant_type": case.applicant.type.value,
        "applicant_id_type": case.applicant.id_type.value,
        "applicant_id_number": case.applicant.id_number,
        "department_code": case.department_code,
        "department_name": case.department_name,
        "accepted_at": case.accepted_at,
        "completed_at": case.completed_at,
        "result": case.result.value,
        "certificate_number": case.certificate_number,
        "archival_code": cls.archival_code,
        "category_code": cls.category_code,
        "class_code": cls.class_code,
        "retention": cls.retention.value,
        "security_level": cls.security_level,
        "sharing_level": cls.sharing_level.value,
        "rule_id": cls.rule_id,
        "schedule_version": cls.schedule_version,
        "package_bucket": bucket,
        "package_prefix": pkg.prefix,
        "manifest_sha256": pkg.manifest_sha256,
        "file_count": pkg.file_count,
        "total_bytes": pkg.total_bytes,
        "correlation_id": event.correlationid,
        "archived_at": archived.archived_at,
        "package_key": key,
        "package_version_id": version_id,
        "package_sha256": package.sha256,
        "package_size": package.size,
        "retain_until": pkg.retain_until,
        "legal_hold": pkg.legal_hold,
    }
    # The PRONOM identifier validation recorded for each file (USAB-FORMAT's details); none for OFD.
    puids = {
        c["file_name"]: c["details"].get("puid")
        for c in document.get("checks", [])
        if c.get("code") == "USAB-FORMAT" and c.get("file_name")
    }
    files = [
        {
            "case_key": case.case_key,
            "seq": seq,
            "stage": f["stage"],
            "material_name": f["material_name"],
            "file_name": f["file_name"],
            "original_file_name": f["original_file_name"],
            "media_type": f["media_type"],
            "size": f["size"],
            "sha256": f["sha256"],
            "sm3": f["sm3"],
            "object_key": key,
            "path_in_package": f["path"],
            "byte_offset": package.members[f["path"]].offset,
            "format_puid": puids.get(f["file_name"]) if puids.get(f["file_name"]) != "none" else None,
        }
        for seq, f in enumerate(document["files"], start=1)
    ]
    events = [
        {
            "case_key": case.case_key,
            "seq": e.seq,
            "event_id": e.id,
            "event_type": e.type,
            "event_type_uri": e.type_uri,
            "event_time": _time(e.time),
            "outcome": e.outcome,
            "detail": e.detail,
            "agent": e.agent,
        }
        for e in package.events
    ]
    code = {
        "case_key": case.case_key,
        "archival_code": cls.archival_code,
        "fonds_code": cls.fonds_code,
        "category_code": cls.category_code,
        "year": cls.year,
        "retention": cls.retention.value,
        "organisation_code": cls.organisation_code,
        "item_number": cls.item_number,
        "allocated_at": _time(document.get("archival_code_allocated_at")) or archived.archived_at,
    }
    return PackageRows(record, files, events, code, event_json)
