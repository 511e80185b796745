"""The destruction register (销毁清册) of one execution run (pure): what was destroyed, why, on whose
proposal and approval, with the package digests and the deleted versions — as XML (for machines) and
CSV with Chinese column names (for people; opens in a spreadsheet). Both files are archived as one
permanent record of the archive itself (docs/lifecycle.md, "Disposition"); the numbers are the index's.
"""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

NAMESPACE = "urn:approval-archive:destruction-register:1"
XML_NAME, CSV_NAME = "destruction-register.xml", "destruction-register.csv"
TITLE = "档案销毁清册"

# CSV column (Chinese heading) → the entry's field
COLUMNS: tuple[tuple[str, str], ...] = (
    ("序号", "seq"),
    ("档号", "archival_code"),
    ("题名", "case_title"),
    ("案件", "case_key"),
    ("保管期限", "retention"),
    ("办结时间", "completed_at"),
    ("期满时间", "expired_at"),
    ("文件数", "file_count"),
    ("字节数", "total_bytes"),
    ("档案包SHA-256", "package_sha256"),
    ("已删除版本", "deleted_versions"),
    ("销毁理由", "reason"),
    ("提议人", "proposed_by"),
    ("批准人", "approved_by"),
    ("决定编号", "decision_id"),
    ("销毁时间", "destroyed_at"),
)


def register_number(first_decision_id: int, at: datetime) -> str:
    """XHQC-<date>-<first decision id>: one number per run, the same again if the run is filed again."""
    return f"XHQC-{at:%Y%m%d}-{first_decision_id:06d}"


def entries_of(destroyed: Sequence[tuple[Mapping[str, Any], Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """One register entry per (tombstone, decision row), in decision order."""
    out = []
    for seq, (tomb, decision) in enumerate(sorted(destroyed, key=lambda td: int(td[1]["id"])), start=1):
        out.append(
            {
                "seq": seq,
                "archival_code": tomb["archival_code"],
                "case_title": tomb["case_title"],
                "case_key": tomb["case_key"],
                "retention": tomb["retention"],
                "completed_at": _iso(tomb["completed_at"]),
                "expired_at": _iso(tomb["expired_at"]),
                "file_count": int(tomb["file_count"]),
                "total_bytes": int(tomb["total_bytes"]),
                "package_sha256": tomb.get("package_sha256") or "",
                "deleted_versions": " ".join(tomb["deleted_versions"]),
                "reason": decision["reason"],
                "proposed_by": decision["proposed_by"],
                "approved_by": decision["approved_by"],
                "decision_id": int(decision["id"]),
                "destroyed_at": _iso(tomb["destroyed_at"]),
            }
        )
    return out


def _iso(value: Any) -> str:
    return value.isoformat() if isinstance(value, datetime) else str(value)


def register_xml(number: str, entries: Sequence[Mapping[str, Any]], compiled_at: datetime) -> bytes:
    root = ET.Element(
        f"{{{NAMESPACE}}}destructionRegister",
        {"number": number, "title": TITLE, "compiledAt": compiled_at.isoformat()},
    )
    for entry in entries:
        record = ET.SubElement(root, f"{{{NAMESPACE}}}record", {"seq": str(entry["seq"])})
        for _, name in COLUMNS[1:]:
            ET.SubElement(record, f"{{{NAMESPACE}}}{_camel(name)}").text = str(entry[name])
    ET.SubElement(
        root,
        f"{{{NAMESPACE}}}totals",
        {
            "records": str(len(entries)),
            "files": str(sum(int(e["file_count"]) for e in entries)),
            "bytes": str(sum(int(e["total_bytes"]) for e in entries)),
        },
    )
    ET.register_namespace("", NAMESPACE)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def register_csv(entries: Sequence[Mapping[str, Any]]) -> bytes:
    """UTF-8 with a byte-order mark, so that spreadsheet programs read the Chinese headings."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([heading for heading, _ in COLUMNS])
    for entry in entries:
        writer.writerow([entry[name] for _, name in COLUMNS])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def parse_register_xml(content: bytes) -> list[dict[str, str]]:
    """The entries of a register written by `register_xml` (for checks and tests)."""
    root = ET.fromstring(content)
    out = []
    for record in root.findall(f"{{{NAMESPACE}}}record"):
        out.append({name: record.findtext(f"{{{NAMESPACE}}}{_camel(name)}") or "" for _, name in COLUMNS[1:]})
    return out


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.capitalize() for part in rest)
