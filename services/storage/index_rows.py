"""Mapping an archived record to the rows of the PostgreSQL index (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from contracts.v1 import ArchivedRecord, ClassifiedCase
from services.storage.domain import PayloadEntry


def record_row(archived: ArchivedRecord, correlation_id: str) -> dict[str, Any]:
    case, cls, pkg = archived.case, archived.classification, archived.package
    return {
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
        "package_bucket": pkg.bucket,
        "package_prefix": pkg.prefix,
        "manifest_sha256": pkg.manifest_sha256,
        "file_count": pkg.file_count,
        "total_bytes": pkg.total_bytes,
        "correlation_id": correlation_id,
        "archived_at": archived.archived_at,
    }


def file_rows(classified: ClassifiedCase, entries: Sequence[PayloadEntry]) -> list[dict[str, Any]]:
    case_key = classified.case.case_key
    return [
        {
            "case_key": case_key,
            "seq": seq,
            "stage": f.stage.value,
            "material_name": f.material_name,
            "file_name": f.file_name,
            "original_file_name": f.original_file_name,
            "media_type": f.media_type,
            "size": f.size,
            "sha256": f.sha256,
            "object_key": classified.case.case_key + "/" + e.path,
        }
        for seq, (f, e) in enumerate(zip(classified.files, entries, strict=True), start=1)
    ]
