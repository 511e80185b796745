"""The files of a sample case, rendered from its draft, and the materials that declare them.

Every case carries an application form (PDF), a scanned page (JPEG), a decision or licence (PDF) and,
where the platform asks for one, a process-stage review sheet (PDF). Scanned pages come from a small pool
(`SCAN_POOL_SIZE` per seed) rendered once per process; every PDF is rendered per case.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache

from contracts.v1.record import CaseResult, Material, ProcessRecord, Stage
from samples.dates import cn_date
from samples.documents import application_form_pdf, decision_pdf, pdf_page_count, scanned_page_jpeg
from samples.drafts import CaseContext, Draft

SCAN_POOL_SIZE = 8  # pool entries 0-5 are colour scans with a seal, 6-7 greyscale without
SEALED_SCANS = range(0, 6)


@dataclass
class CaseFile:
    """A file before it becomes a Material."""

    stage: Stage
    material_name: str
    file_name: str
    media_type: str
    data: bytes
    page_count: int | None
    b64: str | None = None
    sha256: str | None = None


@lru_cache(maxsize=4 * SCAN_POOL_SIZE)
def scan(seed: int, index: int) -> tuple[bytes, str, str]:
    """Pool entry `index` for `seed`: (JPEG bytes, base64 text, sha256 hex). Rendered once per process."""
    sealed = index in SEALED_SCANS
    data = scanned_page_jpeg(seed * 100 + index, dpi=200, colour=sealed, with_seal=sealed)
    return data, base64.b64encode(data).decode("ascii"), hashlib.sha256(data).hexdigest()


def _pdf_file(stage: Stage, material_name: str, file_name: str, data: bytes) -> CaseFile:
    return CaseFile(stage, material_name, file_name, "application/pdf", data, pdf_page_count(data))


def _refusal_lines(addressee: str, item_name: str, reason: str) -> list[str]:
    return [
        f"{addressee}：",
        f"　　你（单位）提出的{item_name}申请，本机关已依法受理。经审查，{reason}",
        "　　根据《中华人民共和国行政许可法》第三十八条第二款的规定，本机关决定不予行政许可。",
        "　　如对本决定不服，可以自收到本决定之日起六十日内申请行政复议，或者在六个月内依法提起行政诉讼。",
    ]


def _withdrawal_lines(addressee: str, item_name: str, when: date) -> list[str]:
    return [
        f"{addressee}：",
        f"　　你（单位）于{cn_date(when)}提出的{item_name}申请，本机关已依法受理。"
        "审查期间，你（单位）书面申请撤回该申请。",
        "　　经研究，本机关同意你（单位）撤回申请，决定终止对该行政许可申请的审查。申请材料原件予以退回。",
    ]


def render_files(
    ctx: CaseContext,
    draft: Draft,
    *,
    seed: int,
    case_number: str,
    accepted_at: datetime,
    records: list[ProcessRecord],
    completed_at: datetime,
) -> list[CaseFile]:
    """The case's files in the order the platform lists them; draws from `ctx.rng` (the form's creation
    time, the scan's pool entry)."""
    rng, region, department, serial = ctx.rng, ctx.region, ctx.department, ctx.serial
    docs: list[CaseFile] = []
    form = application_form_pdf(
        draft.form_title,
        draft.form_fields,
        signer=draft.form_signer,
        date_text=cn_date(accepted_at),
        note="本申请人承诺：所提交的申请材料真实、合法、有效，复印件与原件一致，并对申请材料的真实性负责。",
        created=accepted_at - timedelta(minutes=rng.randint(30, 600)),
    )
    docs.append(_pdf_file(Stage.APPLICATION, draft.form_title, f"01_{draft.form_title}.pdf", form))

    pool = SEALED_SCANS if draft.scan_needs_seal else range(SCAN_POOL_SIZE)
    jpeg, jpeg_b64, jpeg_sha = scan(seed, rng.choice(pool))
    docs.append(
        CaseFile(
            Stage.APPLICATION,
            draft.scan_material,
            f"02_{draft.scan_material}.jpg",
            "image/jpeg",
            jpeg,
            1,
            b64=jpeg_b64,
            sha256=jpeg_sha,
        )
    )

    if draft.review_sheet:
        sheet = application_form_pdf(
            f"{draft.item_name}审查意见表",
            [
                ("案件编号", case_number),
                ("申请单位", draft.applicant.name),
                ("事项名称", draft.item_name),
                *((f"{r.node}意见", f"{r.opinion}（{r.actor}，{r.time:%Y-%m-%d %H:%M}）") for r in records),
            ],
            signer=department.name,
            signature_label="经办机构",
            date_text=cn_date(records[-1].time),
            created=records[-1].time,
        )
        docs.append(_pdf_file(Stage.PROCESS, "审查意见表", "03_审查意见表.pdf", sheet))

    addressee = draft.applicant.name
    doc_number: str | None
    if ctx.result is CaseResult.REFUSED:
        title = "不予行政许可决定书"
        lines = _refusal_lines(addressee, draft.item_name, f"{draft.refuse_reason}不符合法定条件。")
        doc_number = f"（{region.short[0]}）不予许可字〔{ctx.year}〕第{serial:06d}号"
    elif ctx.result is CaseResult.WITHDRAWN:
        title, lines = (
            "终止行政许可申请审查通知书",
            _withdrawal_lines(addressee, draft.item_name, ctx.accepted_day),
        )
        doc_number = f"（{region.short[0]}）终止审查字〔{ctx.year}〕第{serial:06d}号"
    else:
        title, lines, doc_number = draft.result_title, draft.result_lines, draft.result_doc_number
    decision = decision_pdf(
        title,
        lines,
        department.name,
        doc_number=doc_number,
        date_text=cn_date(completed_at),
        created=completed_at,
    )
    result_name = draft.result_material or title
    docs.append(
        _pdf_file(
            Stage.RESULT,
            result_name if title == draft.result_title else title,
            f"{len(docs) + 1:02d}_{title}.pdf",
            decision,
        )
    )
    return docs


def to_materials(files: list[CaseFile], *, altered: int | None = None) -> list[Material]:
    """The materials declaring `files`; the one at index `altered` (if any) declares a wrong SHA-256, as
    if the file had been changed after the platform signed its digest."""
    materials = []
    for k, file in enumerate(files):
        digest = file.sha256 or hashlib.sha256(file.data).hexdigest()
        if k == altered:
            digest = hashlib.sha256(file.data + b"\x00altered after signing").hexdigest()
        materials.append(
            Material(
                stage=file.stage,
                material_name=file.material_name,
                file_name=file.file_name,
                media_type=file.media_type,
                size=len(file.data),
                sha256=digest,
                page_count=file.page_count,
                content_base64=file.b64 or base64.b64encode(file.data).decode("ascii"),
            )
        )
    return materials
