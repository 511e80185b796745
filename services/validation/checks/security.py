"""Security (安全性): no virus and no executable content."""

from __future__ import annotations

from contracts.v1 import Outcome, Property
from services.validation.checks.engine import (
    PDF_FILES,
    CaseEvidence,
    FileEvidence,
    Finding,
    Scan,
    check,
    fail,
    fail_on,
    ok,
)
from services.validation.rules import ItemRules

SE = Property.SECURITY


@check(
    "SEC-VIRUS",
    SE,
    examines="Every file is scanned by ClamAV (clamd); a file that could not be scanned is 'not scanned' "
    "(not_run), never 'clean'.",
    examines_zh="每个文件均经 ClamAV（clamd）查毒；无法查毒的文件记为“未查毒”（not_run），绝不记为“无毒”。",
    reason_zh="文件“{file}”检出病毒（{signature}），已拒绝，请查杀病毒后重新提交。",
    reason_en="virus found in '{file}' ({signature}); it was refused — clean the file and resubmit.",
    basis="DA/T 70-2018 security: virus check",
)
def virus_free(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    scan = ev.scan
    if scan.status is Scan.INFECTED:
        return fail({"signature": scan.signature or "?"}, signature=scan.signature or "", scanner="clamd")
    if scan.status is Scan.NOT_SCANNED:
        return Finding(
            Outcome.NOT_RUN,
            {"not_run": f"not scanned: {scan.reason or 'scanner unavailable'}", "scan": "not_scanned"},
            note_zh="未查毒：查毒服务不可用，该文件不得视为无毒。",
            note_en=f"not scanned ({scan.reason or 'scanner unavailable'}); the file must not be taken as clean.",
        )
    return ok(scanner="clamd", scan="clean")


@check(
    "SEC-PDF-ACTIVE",
    SE,
    examines="A PDF carries no active content: JavaScript, launch or import actions, automatic actions on open.",
    examines_zh="PDF 不含主动内容：JavaScript、启动或导入动作、打开时自动执行的动作。",
    reason_zh="文件“{file}”含有可执行内容（{found}），存在安全风险，请去除后重新提交。",
    reason_en="'{file}' holds executable content ({found}), a security risk; remove it and resubmit.",
    basis="DA/T 70-2018 security; PDF/A forbids JavaScript and launch actions",
    kinds=PDF_FILES,
    needs_open=True,
)
def pdf_inactive(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    if ev.facts.active_content:
        found = ", ".join(ev.facts.active_content)
        return fail_on(found=found)
    return ok()
