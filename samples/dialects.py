"""The sample cases as each platform dialect would send them — the inverse of the mapping files in
services/capture/dialects/, used to show that every dialect arrives at the same unified record.

`render(case, dialect, file_url=None)` returns the `data` of an approval.completed.v1 event in that
dialect. The generic-form dialect carries only names and URLs: `file_url(material)` says where the
platform's file service serves each material.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from contracts.v1 import Material, UnifiedApprovalRecord
from services.common.china_time import CHINA_STANDARD_TIME

DIALECTS = ("unified/v1", "scjg-registration/2024", "zjj-permit/2023", "generic-form/1")

_CST = CHINA_STANDARD_TIME
_RESULT_CODES = {"approved": "1", "refused": "2", "withdrawn": "3", "partially_approved": "4"}
_SCJG_ID = {"uscc": "01", "resident_id": "10", "passport": "20", "other": "99"}
_SCJG_STAGE = {"application": "sq", "process": "gc", "result": "jg"}
_ZJJ_RESULT = {"approved": "APPROVED", "partially_approved": "PARTIAL", "refused": "REFUSED", "withdrawn": "WITHDRAWN"}
_ZJJ_ID = {"uscc": "USCC", "resident_id": "ID_CARD", "passport": "PASSPORT", "other": "OTHER"}
_ZJJ_STAGE = {"application": "APPLY", "process": "REVIEW", "result": "RESULT"}
_FORM_RESULT = {"approved": "准予", "partially_approved": "部分准予", "refused": "不予", "withdrawn": "撤回"}
_FORM_ID = {"uscc": "统一社会信用代码", "resident_id": "居民身份证", "passport": "护照", "other": "其他"}
_FORM_APPLICANT = {"organisation": "法人", "person": "自然人"}


def _local(moment: Any, fmt: str) -> str:
    return moment.astimezone(_CST).strftime(fmt)


def render(record: UnifiedApprovalRecord, dialect: str, file_url: Callable[[Material], str] | None = None) -> dict:
    if dialect == "unified/v1":
        return record.model_dump(mode="json")
    if dialect == "scjg-registration/2024":
        return _scjg(record)
    if dialect == "zjj-permit/2023":
        return _zjj(record)
    if dialect == "generic-form/1":
        if file_url is None:
            raise ValueError("the generic-form dialect needs file_url: its materials are URLs only")
        return _form(record, file_url)
    raise ValueError(f"unknown dialect {dialect!r}")


def _scjg(r: UnifiedApprovalRecord) -> dict:
    return {
        "ywlsh": r.case_number,
        "bbh": str(r.revision),
        "xzqhdm": r.region_code,
        "sxbm": r.item_code,
        "sxmc": r.item_name,
        "sxbb": r.item_version,
        "ywbt": r.case_title,
        "sqr": {
            "mc": r.applicant.name,
            "lx": "1" if r.applicant.type == "organisation" else "2",
            "zjlx": _SCJG_ID[r.applicant.id_type],
            "zjhm": r.applicant.id_number,
        },
        "fddbr": r.legal_representative,
        "djjg": {"dm": r.department_code, "mc": r.department_name},
        "slsj": _local(r.accepted_at, "%Y-%m-%d %H:%M:%S"),
        "bjsj": _local(r.completed_at, "%Y%m%d%H%M%S"),
        "bjjg": _RESULT_CODES[r.result],
        "zzbh": r.certificate_number,
        "hjjl": [
            {
                "hjmc": p.node,
                "blry": p.actor,
                "dz": p.action,
                "yj": p.opinion,
                "sj": _local(p.time, "%Y-%m-%d %H:%M:%S"),
            }
            for p in r.process_records
        ],
        "fj": [
            {
                "jd": _SCJG_STAGE[m.stage],
                "clmc": m.material_name,
                "wjm": m.file_name,
                "wjlx": m.media_type,
                "dx": str(m.size),
                "zy": m.sha256.upper() if m.sha256 is not None else None,
                "ys": m.page_count,
                "nr": m.content_base64,
            }
            for m in r.materials
        ],
    }


def _zjj(r: UnifiedApprovalRecord) -> dict:
    return {
        "project": {"code": f"PRJ-{r.case_number}", "name": r.case_title, "address": r.department_name},
        "permit": {
            "caseNo": r.case_number,
            "revision": r.revision,
            "itemCode": r.item_code,
            "itemName": r.item_name,
            "itemVersion": r.item_version,
            "title": r.case_title,
            "region": r.region_code,
            "result": _ZJJ_RESULT[r.result],
            "permitNo": r.certificate_number,
            "acceptedAt": _local(r.accepted_at, "%Y-%m-%dT%H:%M:%S+0800"),
            "issuedAt": _local(r.completed_at, "%Y-%m-%dT%H:%M:%S+0800"),
        },
        "builder": {
            "name": r.applicant.name,
            "kind": "ORG" if r.applicant.type == "organisation" else "PERSON",
            "idKind": _ZJJ_ID[r.applicant.id_type],
            "idNo": r.applicant.id_number,
            "legalRep": r.legal_representative,
        },
        "authority": {"code": r.department_code, "name": r.department_name},
        "stages": [
            {
                "stage": p.node,
                "handler": p.actor,
                "action": p.action,
                "opinion": p.opinion,
                "at": _local(p.time, "%Y/%m/%d %H:%M:%S"),
            }
            for p in r.process_records
        ],
        "documents": [
            {
                "phase": _ZJJ_STAGE[m.stage],
                "title": m.material_name,
                "fileName": m.file_name,
                "mime": m.media_type,
                "bytes": m.size,
                "sha256": m.sha256,
                "pages": m.page_count,
                "data": m.content_base64,
            }
            for m in r.materials
        ],
    }


def _form(r: UnifiedApprovalRecord, file_url: Callable[[Material], str]) -> dict:
    return {
        "formId": f"FORM-{r.case_number}",
        "values": {
            "caseNumber": r.case_number,
            "revision": str(r.revision),
            "regionCode": r.region_code,
            "itemCode": r.item_code,
            "itemName": r.item_name,
            "itemVersion": r.item_version,
            "title": r.case_title,
            "applicantName": r.applicant.name,
            "applicantType": _FORM_APPLICANT[r.applicant.type],
            "applicantIdType": _FORM_ID[r.applicant.id_type],
            "applicantIdNumber": r.applicant.id_number,
            "legalRepresentative": r.legal_representative or "",
            "departmentCode": r.department_code,
            "departmentName": r.department_name,
            "acceptedAt": _local(r.accepted_at, "%Y-%m-%d %H:%M:%S"),
            "completedAt": _local(r.completed_at, "%Y-%m-%d %H:%M:%S"),
            "result": _FORM_RESULT[r.result],
            "certificateNumber": r.certificate_number or "",
        },
        "steps": [
            {
                "node": p.node,
                "actor": p.actor,
                "action": p.action,
                "opinion": p.opinion or "",
                "time": _local(p.time, "%Y-%m-%d %H:%M:%S"),
            }
            for p in r.process_records
        ],
        "attachments": [{"name": m.material_name, "url": file_url(m)} for m in r.materials],
    }
