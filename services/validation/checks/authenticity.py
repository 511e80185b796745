"""Authenticity (真实性): the bytes are the ones captured and declared, signatures verify, and the
case's metadata values are well formed and its case number its own."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from contracts.v1 import ApplicantType, CaseMetadata, IdType, Outcome, Property
from services.validation.checks.engine import (
    PDF_FILES,
    CaseEvidence,
    FileEvidence,
    Finding,
    Scope,
    Severity,
    check,
    fail,
    fail_on,
    ok,
    platform_declared,
    skip,
)
from services.validation.formats import ARCHIVAL_FORMATS, EXTENSIONS, MEDIA_TYPES
from services.validation.formats.signatures import covers_the_file
from services.validation.identifiers import region_code_is_valid, resident_id_is_valid, uscc_is_valid
from services.validation.rules import ItemRules

AU = Property.AUTHENTICITY


@check(
    "AUTH-FIXITY-STAGING",
    AU,
    examines="The file read back from the staging bucket has the SHA-256 that capture computed.",
    examines_zh="从暂存区重新读取的文件与采集时计算的 SHA-256 一致。",
    reason_zh="暂存文件“{file}”在采集后发生变化，请联系档案中心。",
    reason_en="the staged copy of '{file}' changed after capture; contact the archive centre.",
    basis="DA/T 70-2018 authenticity: fixity from capture onwards",
)
def staging_fixity(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    if ev.sha256 != ev.file.sha256:
        return fail(captured_sha256=ev.file.sha256, reread_sha256=ev.sha256)
    captured_sm3 = getattr(ev.file, "sm3", None)
    if captured_sm3 and captured_sm3 != ev.sm3:
        return fail(captured_sm3=captured_sm3, reread_sm3=ev.sm3)
    return ok()


# Both digest checks give this reason, with the algorithm's name; {file} is filled in later.
_DIGEST_MISMATCH_ZH = "文件“{{file}}”的 {algorithm} 摘要与申报值不一致，文件可能被篡改或传输损坏，请核对后重新提交。"
_DIGEST_MISMATCH_EN = (
    "{algorithm} of '{{file}}' differs from the declared digest: the file was altered or damaged in transfer; "
    "check it and resubmit."
)


@check(
    "AUTH-DIGEST-SHA256",
    AU,
    examines="The SHA-256 of the received bytes equals the digest the platform declared.",
    examines_zh="接收文件的 SHA-256 摘要与业务系统申报值一致。",
    reason_zh=_DIGEST_MISMATCH_ZH.format(algorithm="SHA-256"),
    reason_en=_DIGEST_MISMATCH_EN.format(algorithm="SHA-256"),
    basis="DA/T 70-2018 authenticity: digests equal the declared ones",
    when=platform_declared("declared_sha256", "SHA-256"),
)
def digest_sha256(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    return _same_digest(ev.file.declared_sha256, ev.sha256)


@check(
    "AUTH-DIGEST-SM3",
    AU,
    examines="The SM3 (GB/T 32905) digest of the received bytes equals the declared one, where declared.",
    examines_zh="接收文件的 SM3 摘要（GB/T 32905）与申报值一致（申报时）。",
    reason_zh=_DIGEST_MISMATCH_ZH.format(algorithm="SM3"),
    reason_en=_DIGEST_MISMATCH_EN.format(algorithm="SM3"),
    basis="DA/T 70-2018 authenticity; GB/T 32905 SM3",
    when=platform_declared("declared_sm3", "SM3"),
)
def digest_sm3(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    return _same_digest(ev.file.declared_sm3, ev.sm3)


def _same_digest(declared: str | None, computed: str) -> Finding:
    return ok() if computed == declared else fail(declared=declared, computed=computed)


@check(
    "AUTH-SIZE",
    AU,
    examines="The size of the received file equals the declared size.",
    examines_zh="接收文件的大小与申报值一致。",
    reason_zh="文件“{file}”的大小（{size} 字节）与申报值（{declared} 字节）不一致。",
    reason_en="'{file}' is {size} bytes; {declared} were declared.",
    basis="DA/T 70-2018 authenticity: captured size equals the metadata",
    when=platform_declared("declared_size", "size"),
)
def size_matches(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    declared = ev.file.declared_size
    if ev.size != declared:
        return fail({"size": ev.size, "declared": declared}, declared=declared, computed=ev.size)
    return ok()


@check(
    "AUTH-FILE-NAME",
    AU,
    severity=Severity.WARN,
    examines="The declared file name can be stored as it is (no path, control or reserved characters).",
    examines_zh="申报的文件名可原样保存（不含路径、控制字符或保留字符）。",
    reason_zh="文件名“{file}”含有路径或不允许的字符，已按“{stored}”保存，请今后使用规范文件名。",
    reason_en="the file name '{file}' holds a path or forbidden characters; it was stored as '{stored}' — "
    "use plain file names.",
    basis="DA/T 70-2018 authenticity: captured file name equals the metadata",
)
def file_name_kept(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    if ev.file.file_name != ev.file.original_file_name:
        return fail({"stored": ev.file.file_name}, declared=ev.file.original_file_name, stored=ev.file.file_name)
    return ok()


@check(
    "AUTH-FORMAT",
    AU,
    examines="The format identified from the content agrees with the declared media type and the file "
    "name's extension.",
    examines_zh="按内容识别的文件格式与申报的媒体类型及文件扩展名一致。",
    reason_zh="文件“{file}”的实际格式为 {actual}，与申报的类型（{declared}）或扩展名不符，请核对后重新提交。",
    reason_en="'{file}' is really {actual}, which does not agree with its declared type ({declared}) or its "
    "extension; check it and resubmit.",
    basis="DA/T 70-2018 authenticity: captured format equals the metadata",
)
def format_matches(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    fmt = ev.facts.format
    if ev.size == 0 or fmt not in ARCHIVAL_FORMATS:
        return skip("the format could not be identified (USAB-FORMAT)")
    declared = ev.file.media_type.split(";")[0].strip().lower()
    extension = ev.file.original_file_name.rsplit(".", 1)[-1].lower() if "." in ev.file.original_file_name else ""
    problems = []
    if declared not in MEDIA_TYPES[fmt]:
        problems.append("media_type")
    if extension and extension not in EXTENSIONS[fmt]:
        problems.append("extension")
    if problems:
        return fail(
            {"actual": fmt.value.upper(), "declared": declared},
            identified=fmt.value,
            declared_media_type=declared,
            extension=extension,
            mismatch=",".join(problems),
        )
    return ok(identified=fmt.value)


@check(
    "AUTH-PDF-SIGNATURE",
    AU,
    examines="Electronic signatures in a PDF are complete and, where they are standard CMS/PAdES signatures, "
    "verify: the signed bytes are intact, the signature matches the signer's certificate, the signature "
    "covers the file (pyHanko's difference analysis: after it only validation data, document timestamps, "
    "form filling and later signatures — no page content, pages or annotations) and its timestamp, if any, "
    "verifies; materials that the item says must be signed are signed.",
    examines_zh="PDF 中的电子签名完整；标准 CMS/PAdES 签名验证通过：签名范围未被改动、签名与证书相符、签名覆盖整个文件"
    "（pyHanko 差异分析：签名后只允许验证数据、文档时间戳、表单填写和后续签名，不得增改页面内容、页面或批注），"
    "签名时间戳（如有）验证通过；事项要求签名的材料已签名。",
    reason_zh="文件“{file}”的电子签名不完整或验证失败（{problem}），请重新签署后提交。",
    reason_en="the electronic signature of '{file}' is incomplete or does not verify ({problem}); sign it "
    "again and resubmit.",
    basis="DA/T 70-2018 authenticity: electronic signatures verify; ISO 32000-2 §12.8 incremental updates",
    kinds=PDF_FILES,
    needs_open=True,
    required=lambda ev, rules: ev.file.material_name in rules.signature_required_materials,
)
def pdf_signature(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    required = ev.file.material_name in rules.signature_required_materials
    sigs = ev.facts.signatures
    if not sigs:
        if required:
            return fail_on(problem="no signature")
        return skip("the PDF carries no signature")
    unsigned = [s.field_name for s in sigs if not s.signed]
    if unsigned:
        return fail({"problem": "unsigned signature field"}, unsigned_fields=",".join(unsigned))
    broken = [s for s in sigs if s.standard and not (s.intact and s.valid)]
    if broken:
        s = broken[0]
        problem = "signed content altered" if not s.intact else "signature does not match the certificate"
        return fail({"problem": problem}, field=s.field_name, intact=s.intact, valid=s.valid, error=s.error or "")
    uncovered = [s for s in sigs if s.standard and not covers_the_file(s)]
    if uncovered:
        s = uncovered[0]
        return fail(
            {"problem": f"the file was changed after signing ({s.modification_level} modifications)"},
            field=s.field_name,
            coverage=s.coverage or "",
            modification_level=s.modification_level or "",
            docmdp_ok=s.docmdp_ok,
            diff=s.error or "",
        )
    bad_stamp = [s for s in sigs if s.standard and s.timestamp == "invalid"]
    if bad_stamp:
        return fail({"problem": "the signature timestamp does not verify"}, field=bad_stamp[0].field_name)
    if not all(s.standard for s in sigs):
        other = next(s for s in sigs if not s.standard)
        return Finding(
            Outcome.NOT_RUN,
            {
                "not_run": f"signature format {other.sub_filter} is not CMS/PAdES; not verified",
                "field": other.field_name,
            },
            note_zh="签名格式不是标准 CMS/PAdES，未能验证。",
            note_en=f"the signature format {other.sub_filter} is not CMS/PAdES; it was not verified.",
        )
    first = sigs[0]
    return ok(
        signatures=len(sigs),
        signer=first.signer or "",
        fingerprint_sha256=first.fingerprint_sha256 or "",
        coverage=first.coverage or "",
        modification_level=first.modification_level or "",
        timestamp=first.timestamp or "none",
    )


@check(
    "AUTH-META-USCC",
    AU,
    scope=Scope.CASE,
    examines="An organisation applicant's unified social credit code is 18 characters with the right check "
    "character (GB 32100-2015).",
    examines_zh="法人申请人的统一社会信用代码为 18 位且校验码正确（GB 32100-2015）。",
    reason_zh="申请人统一社会信用代码“{value}”不符合 GB 32100 规则（长度、字符或校验码错误），请核对后重新提交。",
    reason_en="the applicant's unified social credit code '{value}' breaks GB 32100 (length, characters or "
    "check character); correct it and resubmit.",
    basis="DA/T 70-2018 authenticity: metadata values well formed; GB 32100-2015",
)
def uscc_valid(case: CaseEvidence, rules: ItemRules) -> Finding:
    return _id_number_valid(case.case, IdType.USCC, "a USCC", uscc_is_valid)


@check(
    "AUTH-META-RESIDENT-ID",
    AU,
    scope=Scope.CASE,
    examines="A person applicant's citizen ID number is 18 characters with a real birth date and the right "
    "check character (GB 11643-1999).",
    examines_zh="自然人申请人的公民身份号码为 18 位、出生日期真实且校验码正确（GB 11643-1999）。",
    reason_zh="申请人公民身份号码“{value}”不符合 GB 11643 规则（长度、出生日期或校验码错误），请核对后重新提交。",
    reason_en="the applicant's citizen ID number '{value}' breaks GB 11643 (length, birth date or check "
    "character); correct it and resubmit.",
    basis="DA/T 70-2018 authenticity: metadata values well formed; GB 11643-1999",
)
def resident_id_valid(case: CaseEvidence, rules: ItemRules) -> Finding:
    return _id_number_valid(case.case, IdType.RESIDENT_ID, "a resident ID", resident_id_is_valid)


def _id_number_valid(meta: CaseMetadata, id_type: IdType, a_name: str, is_valid: Callable[[str], bool]) -> Finding:
    """The number check of one kind of identity document; the pairing of types is AUTH-META-ENUM's."""
    applicant = meta.applicant
    if applicant.id_type is not id_type:
        return skip(f"the applicant's id is not {a_name}")
    if not _id_pair_ok(meta):
        return skip("the applicant's id type does not fit its type (AUTH-META-ENUM)")
    if not is_valid(applicant.id_number):
        return fail_on(value=applicant.id_number)
    return ok()


@check(
    "AUTH-META-REGION",
    AU,
    scope=Scope.CASE,
    examines="The region code is a 6-digit administrative division code with a real province (GB/T 2260).",
    examines_zh="行政区划代码为 6 位数字且省级代码真实（GB/T 2260）。",
    reason_zh="行政区划代码“{value}”不是有效的 6 位区划代码（GB/T 2260），请核对后重新提交。",
    reason_en="the region code '{value}' is not a valid 6-digit administrative division code (GB/T 2260); "
    "correct it and resubmit.",
    basis="DA/T 70-2018 authenticity: metadata values well formed; GB/T 2260",
)
def region_valid(case: CaseEvidence, rules: ItemRules) -> Finding:
    if not region_code_is_valid(case.case.region_code):
        return fail_on(value=case.case.region_code)
    return ok()


def _id_pair_ok(case: CaseMetadata) -> bool:
    allowed = {
        ApplicantType.ORGANISATION: {IdType.USCC, IdType.OTHER},
        ApplicantType.PERSON: {IdType.RESIDENT_ID, IdType.PASSPORT, IdType.OTHER},
    }
    return case.applicant.id_type in allowed[case.applicant.type]


@check(
    "AUTH-META-ENUM",
    AU,
    scope=Scope.CASE,
    examines="Enumerated values fit together: an organisation is identified by a credit code, a person by an "
    "identity document.",
    examines_zh="枚举值相互匹配：法人以统一社会信用代码标识，自然人以身份证件标识。",
    reason_zh="申请人类型（{type}）与证件类型（{id_type}）不匹配，请核对后重新提交。",
    reason_en="the applicant type ({type}) does not fit the identity document type ({id_type}); correct it "
    "and resubmit.",
    basis="DA/T 70-2018 authenticity: enumerated metadata values",
)
def enumerations_fit(case: CaseEvidence, rules: ItemRules) -> Finding:
    applicant = case.case.applicant
    if not _id_pair_ok(case.case):
        return fail_on(type=applicant.type.value, id_type=applicant.id_type.value)
    return ok()


@check(
    "AUTH-META-DATES",
    AU,
    scope=Scope.CASE,
    examines="Dates are plausible: acceptance is not after completion, and no date lies before the "
    "configured earliest date or after the moment of capture.",
    examines_zh="日期合理：受理不晚于办结，且所有日期不早于配置的最早日期、不晚于采集时间。",
    reason_zh="案卷日期不合理（{problem}），请核对受理、办结及办理过程时间后重新提交。",
    reason_en="the case's dates are implausible ({problem}); check the acceptance, completion and process "
    "times and resubmit.",
    basis="DA/T 70-2018 authenticity: metadata values well formed (dates)",
)
def dates_plausible(case: CaseEvidence, rules: ItemRules) -> Finding:
    meta = case.case
    stamps = {"accepted_at": meta.accepted_at, "completed_at": meta.completed_at}
    stamps.update({f"process[{i}]": r.time for i, r in enumerate(meta.process_records)})
    naive = [k for k, v in stamps.items() if v.tzinfo is None]
    if naive:
        return fail({"problem": f"no time zone: {', '.join(naive)}"}, no_time_zone=",".join(naive))
    latest = case.captured_at + timedelta(minutes=rules.thresholds.future_tolerance_minutes)
    future = [k for k, v in stamps.items() if v > latest]
    if future:
        return fail({"problem": f"after capture: {', '.join(future)}"}, after_capture=",".join(future))
    earliest = rules.thresholds.earliest_date
    early = [k for k, v in stamps.items() if v.date() < earliest]
    if early:
        return fail({"problem": f"before {earliest}: {', '.join(early)}"}, too_early=",".join(early))
    if meta.accepted_at > meta.completed_at:
        return fail(
            {"problem": "accepted after completed"}, accepted_at=meta.accepted_at, completed_at=meta.completed_at
        )
    return ok()


@check(
    "AUTH-CASE-NUMBER",
    AU,
    scope=Scope.CASE,
    examines="The case number is not held by another case: the same platform's number always names the same "
    "applicant and item, and one revision is never submitted twice with different content.",
    examines_zh="办件编号未被其他案卷占用：同一平台的编号始终对应同一申请人和事项，同一版本不得以不同内容重复提交。",
    reason_zh="办件编号“{number}”{problem}，请使用正确的办件编号，或以新的版本号重新提交。",
    reason_en="case number '{number}' {problem_en}; use the right case number, or resubmit under the next revision.",
    basis="DA/T 70-2018 authenticity: no duplicate case numbers",
)
def case_number_unique(case: CaseEvidence, rules: ItemRules) -> Finding:
    claim = case.case_number
    if claim.conflict is None:
        return ok()
    if claim.conflict == "revision":
        zh, en = "的该版本已以不同内容提交过", "was already submitted in this revision with different content"
    else:
        zh, en = "已被另一案卷（不同申请人或事项）使用", "is already held by another case (other applicant or item)"
    return fail(
        {"number": case.case.case_number, "problem": zh, "problem_en": en}, conflict=claim.conflict, **claim.details
    )
