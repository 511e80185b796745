"""PDF/A conformance (ISO 19005) by veraPDF: the PDF/A a PDF declares in its XMP metadata is the PDF/A it
is (USAB-PDFA). veraPDF runs as one long-lived server of the stack (deploy/local/lib/verapdf.sh); the step
asks it for every PDF that declares PDF/A or must be PDF/A, and passes its report in (`FileEvidence.pdfa`).

Warn by default: most platforms' PDFs are not PDF/A and the archive can still keep them; an item whose
archiving scope requires PDF/A lists the materials in `pdfa_required_materials` (a PDF that does not even
declare PDF/A then fails too) and sets `severity: {USAB-PDFA: reject}`.
"""

from __future__ import annotations

from contracts.v1 import Property
from services.validation.checks.engine import (
    PDF_FILES,
    CaseEvidence,
    FileEvidence,
    Finding,
    Severity,
    check,
    fail,
    ok,
    skip,
)
from services.validation.rules import ItemRules


@check(
    "USAB-PDFA",
    Property.USABILITY,
    severity=Severity.WARN,
    examines="A PDF that declares PDF/A (ISO 19005), or that the item requires to be PDF/A, conforms to the "
    "declared part and level as veraPDF (the PDF Association's reference validator) checks it.",
    examines_zh="声明为 PDF/A（ISO 19005）或事项要求为 PDF/A 的 PDF，"
    "经 veraPDF（PDF 协会参考校验器）校验符合其声明的部分与级别。",
    reason_zh="文件“{file}”不符合 PDF/A 长期保存格式（{problem}），请以 PDF/A 格式重新导出后提交。",
    reason_en="'{file}' is not conforming PDF/A ({problem}); export it again as PDF/A and resubmit.",
    basis="DA/T 70-2018 usability; GB/T 18894-2016 and DA/T 47-2009: PDF/A for long-term preservation; ISO 19005",
    kinds=PDF_FILES,
    needs_open=True,
)
def pdfa_conforms(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    declared = ev.facts.pdfa_declared
    if declared is None:
        if rules.needs_pdfa(ev.file):
            return fail({"problem": "it does not declare PDF/A"}, declared="none")
        return skip("the PDF does not declare PDF/A")
    report = ev.pdfa
    if report is None:
        return skip("veraPDF is not configured (AA_VERAPDF_URL): PDF/A not checked")
    if report.error or report.compliant is None:
        return fail({"problem": f"veraPDF could not check it: {report.error}"}, declared=declared, error=report.error)
    if not report.compliant:
        rules_failed = ", ".join(report.failed_rules[:5])
        return fail(
            {"problem": f"PDF/A-{report.flavour}: {report.failed_checks} failed checks, rules {rules_failed}"},
            declared=declared,
            flavour=report.flavour,
            failed_checks=report.failed_checks,
            failed_rules=",".join(report.failed_rules),
        )
    return ok(declared=declared, flavour=report.flavour, validator="veraPDF")
