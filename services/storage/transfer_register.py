"""The transfer register (电子档案移交登记表, DA/T 93-2022 and 档发〔2012〕7号) of a transfer set, as data and
as its two documents (pure: values in, bytes out):

- register.xml — for the receiving archive's systems: the set, the selection, the counts, the volume, the
  four-property check results at transfer (DA/T 70-2018), the digest algorithms, and every record with
  its package's SHA-256 and SM3 and every file's;
- register.pdf — the same for a person to read and sign (reportlab, the built-in CID font STSong-Light,
  which a PDF reader supplies: nothing is embedded).

Volume is in decimal gigabytes (10⁹ bytes) to three decimals, of the packages transferred (the tar
objects, as stored); the payload's own size is given beside it in bytes.
"""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

NAMESPACE = "urn:approval-archive:transfer-register:v1"
PROFILE = "approval-archive/transfer-register/v1"
FONT = "STSong-Light"
PASS, FAIL, NOT_RUN = "pass", "fail", "not_run"

# DA/T 70-2018's four properties, and what the re-check at transfer measures for each (services/storage/
# revalidation.py). Security (安全性) is not re-measured: the virus check ran at archiving, and fixity shows
# the bytes are the ones it checked.
PROPERTIES = (
    ("authenticity", "真实性", "fixity", "package SHA-256 equal to the one recorded at archiving, on every copy"),
    ("integrity", "完整性", "fixity", "every file present and equal to the bag's manifest"),
    ("usability", "可用性", "format+opens", "every file in an accepted format (item rules now), and it opens"),
    ("security", "安全性", "-", "not re-measured: virus check at archiving, bytes unchanged since (fixity)"),
)
_ZH = {PASS: "通过", FAIL: "未通过", NOT_RUN: "未检测"}


@dataclass(frozen=True)
class RegisterFile:
    path: str
    size: int
    sha256: str
    sm3: str


@dataclass(frozen=True)
class RegisterRecord:
    case_key: str
    archival_code: str
    title: str
    year: int
    retention: str
    category_code: str
    department_code: str
    package_path: str  # in the transfer set, e.g. data/packages/<bag>.tar
    package_size: int
    package_sha256: str
    package_sm3: str
    fixity: str
    format: str
    opens: str
    files: tuple[RegisterFile, ...]


@dataclass(frozen=True)
class Excluded:
    """A selected record left out of the set because its re-check at transfer failed."""

    case_key: str
    archival_code: str
    reason: str


@dataclass(frozen=True)
class Register:
    set_id: str
    created_at: datetime
    created_by: str
    transferring_unit: str
    receiver: str
    selection: dict[str, str]
    records: tuple[RegisterRecord, ...]
    excluded: tuple[Excluded, ...] = field(default=())

    @property
    def record_count(self) -> int:
        return len(self.records)

    @property
    def file_count(self) -> int:
        return sum(len(r.files) for r in self.records)

    @property
    def total_bytes(self) -> int:
        return sum(r.package_size for r in self.records)

    @property
    def payload_bytes(self) -> int:
        return sum(f.size for r in self.records for f in r.files)

    @property
    def volume_gb(self) -> str:
        return gigabytes(self.total_bytes)

    def passed(self, check: str) -> int:
        return sum(1 for r in self.records if getattr(r, check) == PASS)


def gigabytes(size: int) -> str:
    """Decimal gigabytes to three decimals, rounded half up on the byte count (no float error)."""
    thousandths = (size + 500_000) // 1_000_000
    return f"{thousandths // 1000}.{thousandths % 1000:03d}"


def _property_results(register: Register) -> list[tuple[str, str, str, int, int, str]]:
    """(property, 中文, measured by, passed, failed, note) per property, over the records in the set."""
    n = register.record_count
    rows = []
    for name, zh, measured_by, note in PROPERTIES:
        if measured_by == "-":
            rows.append((name, zh, NOT_RUN, 0, 0, note))
            continue
        checks = measured_by.split("+")
        passed = sum(1 for r in register.records if all(getattr(r, c) == PASS for c in checks))
        rows.append((name, zh, measured_by, passed, n - passed, note))
    return rows


def register_xml(register: Register) -> bytes:
    ET.register_namespace("", NAMESPACE)

    def q(tag: str) -> str:
        return f"{{{NAMESPACE}}}{tag}"

    root = ET.Element(q("transferRegister"), {"profile": PROFILE, "setId": register.set_id})
    ET.SubElement(root, q("title")).text = "电子档案移交登记表"
    ET.SubElement(root, q("createdAt")).text = register.created_at.isoformat()
    ET.SubElement(root, q("createdBy")).text = register.created_by
    ET.SubElement(root, q("transferringUnit")).text = register.transferring_unit
    ET.SubElement(root, q("receivingUnit")).text = register.receiver
    ET.SubElement(root, q("selection"), {k: v for k, v in sorted(register.selection.items())})
    ET.SubElement(
        root,
        q("counts"),
        {
            "records": str(register.record_count),
            "packages": str(register.record_count),
            "files": str(register.file_count),
            "excluded": str(len(register.excluded)),
        },
    )
    ET.SubElement(
        root,
        q("volume"),
        {
            "bytes": str(register.total_bytes),
            "gigabytes": register.volume_gb,
            "unit": "GB (10^9 bytes) of the packages",
            "payloadBytes": str(register.payload_bytes),
        },
    )
    algorithms = ET.SubElement(root, q("digestAlgorithms"))
    ET.SubElement(algorithms, q("algorithm"), {"name": "SHA-256", "standard": "FIPS 180-4"})
    ET.SubElement(algorithms, q("algorithm"), {"name": "SM3", "standard": "GB/T 32905-2016"})
    checks = ET.SubElement(root, q("checkResults"), {"basis": "DA/T 70-2018", "moment": "transfer"})
    for name, zh, measured_by, passed, failed, note in _property_results(register):
        ET.SubElement(
            checks,
            q("property"),
            {
                "name": name,
                "nameZh": zh,
                "measuredBy": measured_by,
                "passed": str(passed),
                "failed": str(failed),
                "note": note,
            },
        )
    records = ET.SubElement(root, q("records"))
    for r in register.records:
        el = ET.SubElement(
            records,
            q("record"),
            {
                "archivalCode": r.archival_code,
                "caseKey": r.case_key,
                "year": str(r.year),
                "retention": r.retention,
                "category": r.category_code,
                "department": r.department_code,
            },
        )
        ET.SubElement(el, q("title")).text = r.title
        ET.SubElement(el, q("checks"), {"fixity": r.fixity, "format": r.format, "opens": r.opens})
        pkg = ET.SubElement(
            el, q("package"), {"path": r.package_path, "bytes": str(r.package_size), "files": str(len(r.files))}
        )
        ET.SubElement(pkg, q("digest"), {"algorithm": "SHA-256"}).text = r.package_sha256
        ET.SubElement(pkg, q("digest"), {"algorithm": "SM3"}).text = r.package_sm3
        for f in r.files:
            fe = ET.SubElement(pkg, q("file"), {"path": f.path, "bytes": str(f.size)})
            ET.SubElement(fe, q("digest"), {"algorithm": "SHA-256"}).text = f.sha256
            ET.SubElement(fe, q("digest"), {"algorithm": "SM3"}).text = f.sm3
    if register.excluded:
        excluded = ET.SubElement(root, q("excluded"))
        for x in register.excluded:
            ET.SubElement(
                excluded, q("record"), {"archivalCode": x.archival_code, "caseKey": x.case_key}
            ).text = x.reason
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _ensure_font() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def register_pdf(register: Register) -> bytes:
    """The register for a person: A4, the figures first, then one row per record (digests in full)."""
    _ensure_font()
    body = ParagraphStyle("body", fontName=FONT, fontSize=9, leading=12, wordWrap="CJK")
    small = ParagraphStyle("small", parent=body, fontSize=6.5, leading=8)
    title = ParagraphStyle("title", parent=body, fontSize=16, leading=22, alignment=1)
    grid = TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), FONT, 8.5),
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("BACKGROUND", (0, 0), (0, -1), colors.whitesmoke),
        ]
    )

    def p(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(text.replace("&", "&amp;").replace("<", "&lt;"), style)

    selection = ", ".join(f"{k}={v}" for k, v in sorted(register.selection.items())) or "—"
    summary = [
        [p("移交批次 Set"), p(register.set_id)],
        [p("移交单位 Transferring unit"), p(register.transferring_unit)],
        [p("接收单位 Receiving unit"), p(register.receiver)],
        [p("编制时间 Created"), p(f"{register.created_at.isoformat()} ({register.created_by})")],
        [p("选择条件 Selection"), p(selection)],
        [p("档案数量 Records"), p(f"{register.record_count} 件 (packages {register.record_count})")],
        [p("文件数量 Files"), p(str(register.file_count))],
        [p("数据量 Volume"), p(f"{register.volume_gb} GB ({register.total_bytes} bytes of packages)")],
        [p("摘要算法 Digests"), p("SHA-256 (FIPS 180-4); SM3 (GB/T 32905-2016)")],
        [p("未移交 Excluded"), p(str(len(register.excluded)))],
    ]
    checks = [[p("四性 Property"), p("检测项 Measured by"), p("通过 Passed"), p("未通过 Failed"), p("说明 Note")]]
    for name, zh, measured_by, passed, failed, note in _property_results(register):
        shown = (str(passed), str(failed)) if measured_by != NOT_RUN else (_ZH[NOT_RUN], _ZH[NOT_RUN])
        checks.append([p(f"{zh} {name}"), p(measured_by), p(shown[0]), p(shown[1]), p(note, small)])
    records = [[p("档号 Archival code"), p("题名 Title"), p("文件 Files / bytes"), p("SHA-256 / SM3", small)]]
    for r in register.records:
        records.append(
            [
                p(r.archival_code, small),
                p(r.title, small),
                p(f"{len(r.files)} / {r.package_size}", small),
                p(f"{r.package_sha256}<br/>{r.package_sm3}".replace("&", "&amp;"), small),
            ]
        )
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"电子档案移交登记表 {register.set_id}",
        author=register.transferring_unit,
        invariant=1,  # the same register gives the same bytes
    )
    width = A4[0] - 30 * mm
    story = [
        p("电子档案移交登记表", title),
        p("Transfer register of electronic records", ParagraphStyle("sub", parent=body, alignment=1)),
        Spacer(1, 6 * mm),
        Table(summary, colWidths=[45 * mm, width - 45 * mm], style=grid),
        Spacer(1, 5 * mm),
        p("移交检测结果（DA/T 70-2018 四性检测） Four-property check at transfer"),
        Spacer(1, 2 * mm),
        Table(checks, colWidths=[30 * mm, 32 * mm, 22 * mm, 25 * mm, width - 109 * mm], style=grid),
        Spacer(1, 5 * mm),
        p("移交档案清单 Records transferred"),
        Spacer(1, 2 * mm),
        Table(records, colWidths=[42 * mm, 48 * mm, 22 * mm, width - 112 * mm], style=grid, repeatRows=1),
    ]
    if register.excluded:
        story += [Spacer(1, 5 * mm), p("未移交（移交检测未通过） Excluded: failed the check at transfer")]
        story.append(
            Table(
                [[p(x.archival_code, small), p(x.reason, small)] for x in register.excluded],
                colWidths=[42 * mm, width - 42 * mm],
                style=grid,
            )
        )
    story += [
        Spacer(1, 10 * mm),
        p("移交单位（签章）：　　　　　　　　接收单位（签章）：　　　　　　　　日期："),
    ]
    doc.build(story)
    return buffer.getvalue()
