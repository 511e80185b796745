"""Integrity (完整性): the case holds all it should — metadata, materials, process records, files,
pages and seals."""

from __future__ import annotations

import dataclasses

from contracts.v1 import ApplicantType, CaseResult, Outcome, Property
from services.validation.checks.engine import (
    CaseEvidence,
    Condition,
    FileEvidence,
    Finding,
    Scope,
    check,
    fail,
    fail_on,
    ok,
    platform_declared,
    skip,
)
from services.validation.checks.trust import ofd_seal_verdict
from services.validation.formats import MEDIA_FORMATS, RASTER_FORMATS, Format
from services.validation.rules import ItemRules

IN = Property.INTEGRITY


@check(
    "INTEG-META-REQUIRED",
    IN,
    scope=Scope.CASE,
    examines="Mandatory metadata elements are present and not blank (the item's list, the legal "
    "representative of an organisation, the certificate number of an approved case).",
    examines_zh="必填元数据齐全且非空（事项配置的元素、法人的法定代表人、准予许可案卷的证照编号）。",
    reason_zh="必填元数据缺失或为空：{missing}，请补充后重新提交。",
    reason_en="mandatory metadata missing or blank: {missing}; complete it and resubmit.",
    basis="DA/T 70-2018 integrity: mandatory metadata present",
)
def metadata_complete(case: CaseEvidence, rules: ItemRules) -> Finding:
    meta = case.case
    missing = []
    for name in rules.mandatory_metadata:
        value = getattr(meta, name, None)
        if value is None or (isinstance(value, str) and not value.strip()):
            missing.append(name)
    for name in ("case_title", "item_name", "department_name", "case_number"):
        if not str(getattr(meta, name)).strip():
            missing.append(name)
    if not meta.applicant.name.strip() or not meta.applicant.id_number.strip():
        missing.append("applicant")
    if (
        rules.legal_representative_required_for_organisations
        and meta.applicant.type is ApplicantType.ORGANISATION
        and not (meta.legal_representative or "").strip()
    ):
        missing.append("legal_representative")
    if (
        rules.certificate_required_when_approved
        and meta.result in (CaseResult.APPROVED, CaseResult.PARTIALLY_APPROVED)
        and not (meta.certificate_number or "").strip()
    ):
        missing.append("certificate_number")
    if missing:
        return fail({"missing": ", ".join(missing)}, missing=",".join(missing))
    return ok()


@check(
    "INTEG-MATERIALS",
    IN,
    scope=Scope.CASE,
    examines="Every material the item's archiving scope requires is present (e.g. the result document of a "
    "licence decision).",
    examines_zh="事项归档范围要求的材料齐全（如许可决定的结果文书）。",
    reason_zh="缺少归档范围要求的材料：{missing}，请补齐后重新提交。",
    reason_en="materials required by the item's archiving scope are missing: {missing}; add them and resubmit.",
    basis="DA/T 70-2018 integrity: the case holds the materials its item requires",
)
def materials_complete(case: CaseEvidence, rules: ItemRules) -> Finding:
    missing = [req.describe() for req in rules.required_materials if not any(req.matches(f.file) for f in case.files)]
    if missing:
        return fail({"missing": "; ".join(missing)}, missing=";".join(missing))
    return ok(required=len(rules.required_materials))


@check(
    "INTEG-PROCESS",
    IN,
    scope=Scope.CASE,
    examines="Process records (办理过程) are present and in time order: accepted ≤ each step ≤ completed, "
    "each step no earlier than the one before.",
    examines_zh="办理过程记录存在且时间有序：受理时间 ≤ 各环节时间 ≤ 办结时间，且后一环节不早于前一环节。",
    reason_zh="办理过程记录{problem}，请核对后重新提交。",
    reason_en="the process records {problem_en}; check them and resubmit.",
    basis="DA/T 70-2018 integrity: process records present",
)
def process_in_order(case: CaseEvidence, rules: ItemRules) -> Finding:
    meta = case.case
    records = meta.process_records
    if not records:
        return fail({"problem": "缺失", "problem_en": "are missing"}, records="0")
    previous = meta.accepted_at
    for i, record in enumerate(records):
        if record.time < previous or record.time > meta.completed_at:
            return fail(
                {
                    "problem": f"时间顺序错误（第 {i + 1} 条“{record.node}”）",
                    "problem_en": f"are out of time order (step {i + 1}, {record.node})",
                },
                step=i + 1,
                node=record.node,
                time=record.time.isoformat(),
            )
        previous = record.time
    return ok(records=len(records))


@check(
    "INTEG-FILE-COUNT",
    IN,
    scope=Scope.CASE,
    examines="The declared file count and total bytes equal what was captured, where declared.",
    examines_zh="申报的文件数量与总字节数和实际接收的一致（申报时）。",
    reason_zh="申报文件数 {declared_count}、总字节数 {declared_bytes}，实际接收 {count} 个文件、{bytes} 字节，"
    "请核对后重新提交。",
    reason_en="{declared_count} files and {declared_bytes} bytes were declared; {count} files and {bytes} bytes "
    "arrived; check and resubmit.",
    basis="DA/T 70-2018 integrity: file count and total bytes equal the register",
)
def file_count_matches(case: CaseEvidence, rules: ItemRules) -> Finding:
    meta = case.case
    if meta.file_count is None and meta.total_bytes is None:
        return skip("the platform declared neither a file count nor a total size")
    count, total = len(case.files), sum(f.size for f in case.files)
    wrong = (meta.file_count is not None and meta.file_count != count) or (
        meta.total_bytes is not None and meta.total_bytes != total
    )
    if not wrong:
        return ok(count=count, bytes=total)
    return fail_on(
        declared_count=meta.file_count if meta.file_count is not None else "-",
        declared_bytes=meta.total_bytes if meta.total_bytes is not None else "-",
        count=count,
        bytes=total,
    )


@check(
    "INTEG-PAGE-COUNT",
    IN,
    examines="A document's page count (PDF, OFD, multi-page TIFF) equals the declared page count, where declared.",
    examines_zh="文档页数（PDF、OFD、多页 TIFF）与申报页数一致（申报时）。",
    reason_zh="文件“{file}”实际 {pages} 页，申报 {declared} 页，可能缺页，请核对后重新提交。",
    reason_en="'{file}' has {pages} pages; {declared} were declared — pages may be missing; check and resubmit.",
    basis="DA/T 70-2018 integrity: page count equals the metadata",
    when=platform_declared("declared_page_count", "page count"),
    needs_open=True,
)
def page_count_matches(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    declared = ev.file.declared_page_count
    pages = ev.facts.page_count
    if pages is None:
        return skip("the format has no pages")
    if pages != declared:
        return fail({"pages": pages, "declared": declared}, declared=declared, counted=pages)
    return ok(pages=pages)


@check(
    "INTEG-SEAL-RED",
    IN,
    examines="Result documents and the scanned copies the item names carry a red seal, recognised by its "
    "shape: a red ring, round or oval, whose size on paper is that of an official seal (38-63 mm across by "
    "default) — a ring drawn as a vector path in a PDF, or red ink forming a ring in a scan or in the "
    "images of a PDF. Red letterheads, rules and text are not seals, and neither is a small red curve.",
    examines_zh="结果文书及事项指定的扫描件带有红色印章，按形状识别：圆形或椭圆形的红色印圈，"
    "其纸面尺寸符合公章规格（默认直径 38-63 毫米）——PDF 中的矢量印圈，或扫描件及 PDF 内图像中构成印圈的红色墨迹。"
    "红头、红线、红字及过小的红色曲线均不视为印章。",
    reason_zh="文件“{file}”未检测到符合规格的红色印章（{found}），可能盖章不全，请加盖印章后重新扫描提交。",
    reason_en="no red seal of an official seal's size was found on '{file}' ({found_en}): the seal may be "
    "missing; seal it, scan it again and resubmit.",
    basis="source paper: incomplete seals (盖章不全); DA/T 70-2018 authenticity of seals; seal sizes: 国发〔1999〕25号",
    when=Condition(lambda ev, rules: rules.needs_seal(ev.file), "the item does not require a seal on this material"),
    needs_open=True,
)
def red_seal(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    f = ev.facts
    if f.format in MEDIA_FORMATS:
        what = f.format.value
        return fail(
            {"found": f"{what} 文件无法承载印章", "found_en": f"a {what} file cannot carry a seal"}, format=what
        )
    if f.format is Format.OFD and not f.seals:
        # No seal shape on its page images: the electronic seal (Signatures.xml) is OFD's evidence.
        verdict = ofd_seal_verdict(f)
        if verdict.outcome is Outcome.FAIL and "found" not in verdict.params:
            found = {
                "found": "未发现电子印章，页面图像中亦无印章",
                "found_en": "no electronic seal, none on its page images",
            }
            verdict = dataclasses.replace(verdict, params={**found, **verdict.params})
        return verdict
    if f.format in RASTER_FORMATS:
        assert f.image is not None
        if not f.image.colour:
            return skip("a grey image cannot show a red seal", decided_by="USAB-SCAN-COLOUR")
        shapes = list(f.image.seals)
    else:
        shapes = list(f.seals)
        decoded = [p for p in f.page_images if p.colour is not None]
        if not shapes and decoded and not any(p.colour for p in decoded) and not f.vector_colour:
            return skip("grey scanned pages cannot show a red seal", decided_by="USAB-SCAN-COLOUR")
    t = rules.thresholds
    seals = [
        s
        for s in shapes
        if t.seal_min_mm <= s.major_mm <= t.seal_max_mm and s.minor_mm / s.major_mm >= t.seal_min_ratio
    ]
    if seals:
        return ok(seals=len(seals), seal="; ".join(s.describe() for s in seals[:3]))
    if shapes:
        biggest = max(shapes, key=lambda s: s.major_mm)
        mark = f"红色圆形印迹 {biggest.width_mm:.0f}×{biggest.height_mm:.0f} 毫米，不符合印章规格"
        mark_en = f"a red round mark {biggest.width_mm:.0f}x{biggest.height_mm:.0f} mm, not an official seal's size"
    else:
        mark, mark_en = "未发现红色圆形印圈", "no red round or oval ring"
    return fail(
        {"found": mark, "found_en": mark_en},
        shapes="; ".join(s.describe() for s in shapes[:3]) or "none",
        range_mm=f"{t.seal_min_mm:g}-{t.seal_max_mm:g}",
    )
