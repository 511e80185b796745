"""The catalogue of four-property checks (DA/T 70-2018) and the functions that run them.

Every check has a stable code, the property it belongs to, what it examines, a default severity
(reject: a failure sends the case back to its platform; warn: the failure travels on with the record)
and a reason in Chinese and English that a clerk can act on. Item rules (item_rules.yaml) may switch a
check off or change its severity. docs/checks.md is generated from this module
(`python -m services.validation.docs`), so the documentation cannot drift from the code.

The functions are pure: they look at `CaseEvidence` — the case metadata, what was measured in each
file's bytes, the virus scanner's answer and the case-number registry's answer, which the step gathers
through its ports — and return one `CheckResult` per check (per file for file checks).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from contracts.v1 import (
    ApplicantType,
    CapturedFile,
    CaseMetadata,
    CaseResult,
    CheckResult,
    IdType,
    Outcome,
    Property,
)
from services.validation.formats import ARCHIVAL_FORMATS, EXTENSIONS, MEDIA_TYPES, RASTER_FORMATS, FileFacts, Format
from services.validation.identifiers import region_code_is_valid, resident_id_is_valid, uscc_is_valid
from services.validation.rules import ItemRules


class Severity(StrEnum):
    REJECT = "reject"
    WARN = "warn"


class Scan(StrEnum):
    CLEAN = "clean"
    INFECTED = "infected"
    NOT_SCANNED = "not_scanned"


@dataclass(frozen=True)
class VirusScan:
    status: Scan
    signature: str | None = None
    reason: str | None = None  # why a file was not scanned


@dataclass(frozen=True)
class CaseNumberClaim:
    """What the registry of case numbers answered for this case revision."""

    conflict: str | None = None  # "revision" | "other_case" | None
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FileEvidence:
    file: CapturedFile
    sha256: str  # of the bytes read back from staging
    sm3: str
    size: int
    facts: FileFacts
    scan: VirusScan


@dataclass(frozen=True)
class CaseEvidence:
    case: CaseMetadata
    files: list[FileEvidence]
    captured_at: datetime
    case_number: CaseNumberClaim


@dataclass(frozen=True)
class Finding:
    """What a check function found; the catalogue turns it into a CheckResult."""

    outcome: Outcome  # PASS, FAIL or NOT_RUN (severity turns a FAIL into WARN)
    details: dict[str, str] = field(default_factory=dict)
    params: dict[str, object] = field(default_factory=dict)  # for the reason templates
    note_zh: str | None = None  # why it did not run, when that matters to a person
    note_en: str | None = None


def ok(**details: object) -> Finding:
    return Finding(Outcome.PASS, {k: str(v) for k, v in details.items()})


def fail(params: dict[str, object] | None = None, **details: object) -> Finding:
    return Finding(Outcome.FAIL, {k: str(v) for k, v in details.items()}, params or {})


def skip(why: str, *, zh: str | None = None, en: str | None = None) -> Finding:
    return Finding(Outcome.NOT_RUN, {"not_run": why}, note_zh=zh, note_en=en)


FileCheckFn = Callable[[FileEvidence, CaseEvidence, ItemRules], Finding]
CaseCheckFn = Callable[[CaseEvidence, ItemRules], Finding]


@dataclass(frozen=True)
class Check:
    code: str
    property: Property
    examines: str
    examines_zh: str
    severity: Severity
    reason_zh: str  # str.format templates; {file} is the platform's file name, others come from the finding
    reason_en: str
    basis: str  # the rule it implements
    file_fn: FileCheckFn | None = None
    case_fn: CaseCheckFn | None = None

    @property
    def scope(self) -> str:
        return "file" if self.file_fn else "case"


CATALOGUE: dict[str, Check] = {}


def _register(check: Check) -> Check:
    assert check.code not in CATALOGUE, check.code
    assert (check.file_fn is None) != (check.case_fn is None), check.code
    CATALOGUE[check.code] = check
    return check


def file_check(
    code: str,
    prop: Property,
    *,
    examines: str,
    examines_zh: str,
    severity: Severity = Severity.REJECT,
    reason_zh: str,
    reason_en: str,
    basis: str,
):  # type: ignore[no-untyped-def]
    def wrap(fn: FileCheckFn) -> FileCheckFn:
        _register(Check(code, prop, examines, examines_zh, severity, reason_zh, reason_en, basis, file_fn=fn))
        return fn

    return wrap


def case_check(
    code: str,
    prop: Property,
    *,
    examines: str,
    examines_zh: str,
    severity: Severity = Severity.REJECT,
    reason_zh: str,
    reason_en: str,
    basis: str,
):  # type: ignore[no-untyped-def]
    def wrap(fn: CaseCheckFn) -> CaseCheckFn:
        _register(Check(code, prop, examines, examines_zh, severity, reason_zh, reason_en, basis, case_fn=fn))
        return fn

    return wrap


AU, IN, US, SE = Property.AUTHENTICITY, Property.INTEGRITY, Property.USABILITY, Property.SECURITY


# --- gates: a file that is empty, unidentified, encrypted or refused is not measured further ----------


def _gate(ev: FileEvidence) -> Finding | None:
    f = ev.facts
    if ev.size == 0:
        return skip("the file is empty (USAB-EMPTY)")
    if f.format not in ARCHIVAL_FORMATS:
        return skip("the format is not an accepted archival format (USAB-FORMAT)")
    if f.zip_bomb:
        return skip("the package was refused unopened (USAB-ZIP-BOMB)")
    if f.encrypted:
        return skip("the file is encrypted (USAB-ENCRYPTED)")
    return None


def _opened(ev: FileEvidence) -> Finding | None:
    gate = _gate(ev)
    if gate:
        return gate
    if not ev.facts.opens:
        return skip("the file does not open (USAB-OPENS)")
    return None


# --- authenticity ------------------------------------------------------------------------------------


@file_check(
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


@file_check(
    "AUTH-DIGEST-SHA256",
    AU,
    examines="The SHA-256 of the received bytes equals the digest the platform declared.",
    examines_zh="接收文件的 SHA-256 摘要与业务系统申报值一致。",
    reason_zh="文件“{file}”的 SHA-256 摘要与申报值不一致，文件可能被篡改或传输损坏，请核对后重新提交。",
    reason_en="SHA-256 of '{file}' differs from the declared digest: the file was altered or damaged in "
    "transfer; check it and resubmit.",
    basis="DA/T 70-2018 authenticity: digests equal the declared ones",
)
def digest_sha256(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    if ev.file.declared_sha256 is None:
        return skip("the platform declared no SHA-256")
    if ev.sha256 != ev.file.declared_sha256:
        return fail(declared=ev.file.declared_sha256, computed=ev.sha256)
    return ok()


@file_check(
    "AUTH-DIGEST-SM3",
    AU,
    examines="The SM3 (GB/T 32905) digest of the received bytes equals the declared one, where declared.",
    examines_zh="接收文件的 SM3 摘要（GB/T 32905）与申报值一致（申报时）。",
    reason_zh="文件“{file}”的 SM3 摘要与申报值不一致，文件可能被篡改或传输损坏，请核对后重新提交。",
    reason_en="SM3 of '{file}' differs from the declared digest: the file was altered or damaged in transfer; "
    "check it and resubmit.",
    basis="DA/T 70-2018 authenticity; GB/T 32905 SM3",
)
def digest_sm3(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    if ev.file.declared_sm3 is None:
        return skip("the platform declared no SM3")
    if ev.sm3 != ev.file.declared_sm3:
        return fail(declared=ev.file.declared_sm3, computed=ev.sm3)
    return ok()


@file_check(
    "AUTH-SIZE",
    AU,
    examines="The size of the received file equals the declared size.",
    examines_zh="接收文件的大小与申报值一致。",
    reason_zh="文件“{file}”的大小（{size} 字节）与申报值（{declared} 字节）不一致。",
    reason_en="'{file}' is {size} bytes; {declared} were declared.",
    basis="DA/T 70-2018 authenticity: captured size equals the metadata",
)
def size_matches(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    declared = ev.file.declared_size
    if declared is None:
        return skip("the platform declared no size")
    if ev.size != declared:
        return fail({"size": ev.size, "declared": declared}, declared=declared, computed=ev.size)
    return ok()


@file_check(
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


@file_check(
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


@file_check(
    "AUTH-PDF-SIGNATURE",
    AU,
    examines="Electronic signatures in a PDF are complete and, where they are standard CMS/PAdES signatures, "
    "verify (the signed bytes are intact and the signature matches the signer's certificate); materials "
    "that the item says must be signed are signed.",
    examines_zh="PDF 中的电子签名完整；标准 CMS/PAdES 签名验证通过（签名范围未被改动、签名与证书相符）；"
    "事项要求签名的材料已签名。",
    reason_zh="文件“{file}”的电子签名不完整或验证失败（{problem}），请重新签署后提交。",
    reason_en="the electronic signature of '{file}' is incomplete or does not verify ({problem}); sign it "
    "again and resubmit.",
    basis="DA/T 70-2018 authenticity: electronic signatures verify",
)
def pdf_signature(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    required = ev.file.material_name in rules.signature_required_materials
    if ev.facts.format is not Format.PDF:
        return skip("not a PDF")
    gate = _opened(ev)
    if gate:
        return gate
    sigs = ev.facts.signatures
    if not sigs:
        if required:
            return fail({"problem": "no signature"}, problem="no signature")
        return skip("the PDF carries no signature")
    unsigned = [s.field_name for s in sigs if not s.signed]
    if unsigned:
        return fail({"problem": "unsigned signature field"}, unsigned_fields=",".join(unsigned))
    broken = [s for s in sigs if s.standard and not (s.intact and s.valid)]
    if broken:
        s = broken[0]
        problem = "signed content altered" if not s.intact else "signature does not match the certificate"
        return fail({"problem": problem}, field=s.field_name, intact=s.intact, valid=s.valid, error=s.error or "")
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
        trusted=first.trusted,
        covers_whole_file=first.covers_whole_file,
    )


@case_check(
    "AUTH-META-USCC",
    AU,
    examines="An organisation applicant's unified social credit code is 18 characters with the right check "
    "character (GB 32100-2015).",
    examines_zh="法人申请人的统一社会信用代码为 18 位且校验码正确（GB 32100-2015）。",
    reason_zh="申请人统一社会信用代码“{value}”不符合 GB 32100 规则（长度、字符或校验码错误），请核对后重新提交。",
    reason_en="the applicant's unified social credit code '{value}' breaks GB 32100 (length, characters or "
    "check character); correct it and resubmit.",
    basis="DA/T 70-2018 authenticity: metadata values well formed; GB 32100-2015",
)
def uscc_valid(case: CaseEvidence, rules: ItemRules) -> Finding:
    applicant = case.case.applicant
    if applicant.id_type is not IdType.USCC:
        return skip("the applicant's id is not a USCC")
    if not _id_pair_ok(case.case):
        return skip("the applicant's id type does not fit its type (AUTH-META-ENUM)")
    if not uscc_is_valid(applicant.id_number):
        return fail({"value": applicant.id_number}, value=applicant.id_number)
    return ok()


@case_check(
    "AUTH-META-RESIDENT-ID",
    AU,
    examines="A person applicant's citizen ID number is 18 characters with a real birth date and the right "
    "check character (GB 11643-1999).",
    examines_zh="自然人申请人的公民身份号码为 18 位、出生日期真实且校验码正确（GB 11643-1999）。",
    reason_zh="申请人公民身份号码“{value}”不符合 GB 11643 规则（长度、出生日期或校验码错误），请核对后重新提交。",
    reason_en="the applicant's citizen ID number '{value}' breaks GB 11643 (length, birth date or check "
    "character); correct it and resubmit.",
    basis="DA/T 70-2018 authenticity: metadata values well formed; GB 11643-1999",
)
def resident_id_valid(case: CaseEvidence, rules: ItemRules) -> Finding:
    applicant = case.case.applicant
    if applicant.id_type is not IdType.RESIDENT_ID:
        return skip("the applicant's id is not a resident ID")
    if not _id_pair_ok(case.case):
        return skip("the applicant's id type does not fit its type (AUTH-META-ENUM)")
    if not resident_id_is_valid(applicant.id_number):
        return fail({"value": applicant.id_number}, value=applicant.id_number)
    return ok()


@case_check(
    "AUTH-META-REGION",
    AU,
    examines="The region code is a 6-digit administrative division code with a real province (GB/T 2260).",
    examines_zh="行政区划代码为 6 位数字且省级代码真实（GB/T 2260）。",
    reason_zh="行政区划代码“{value}”不是有效的 6 位区划代码（GB/T 2260），请核对后重新提交。",
    reason_en="the region code '{value}' is not a valid 6-digit administrative division code (GB/T 2260); "
    "correct it and resubmit.",
    basis="DA/T 70-2018 authenticity: metadata values well formed; GB/T 2260",
)
def region_valid(case: CaseEvidence, rules: ItemRules) -> Finding:
    if not region_code_is_valid(case.case.region_code):
        return fail({"value": case.case.region_code}, value=case.case.region_code)
    return ok()


def _id_pair_ok(case: CaseMetadata) -> bool:
    allowed = {
        ApplicantType.ORGANISATION: {IdType.USCC, IdType.OTHER},
        ApplicantType.PERSON: {IdType.RESIDENT_ID, IdType.PASSPORT, IdType.OTHER},
    }
    return case.applicant.id_type in allowed[case.applicant.type]


@case_check(
    "AUTH-META-ENUM",
    AU,
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
        params = {"type": applicant.type.value, "id_type": applicant.id_type.value}
        return fail(params, **params)
    return ok()


@case_check(
    "AUTH-META-DATES",
    AU,
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


@case_check(
    "AUTH-CASE-NUMBER",
    AU,
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


# --- integrity ---------------------------------------------------------------------------------------


@case_check(
    "INTEG-META-REQUIRED",
    IN,
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


@case_check(
    "INTEG-MATERIALS",
    IN,
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


@case_check(
    "INTEG-PROCESS",
    IN,
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


@case_check(
    "INTEG-FILE-COUNT",
    IN,
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
    params = {
        "declared_count": meta.file_count if meta.file_count is not None else "-",
        "declared_bytes": meta.total_bytes if meta.total_bytes is not None else "-",
        "count": count,
        "bytes": total,
    }
    return fail(params, **params) if wrong else ok(count=count, bytes=total)


@file_check(
    "INTEG-PAGE-COUNT",
    IN,
    examines="A document's page count (PDF, OFD, multi-page TIFF) equals the declared page count, where declared.",
    examines_zh="文档页数（PDF、OFD、多页 TIFF）与申报页数一致（申报时）。",
    reason_zh="文件“{file}”实际 {pages} 页，申报 {declared} 页，可能缺页，请核对后重新提交。",
    reason_en="'{file}' has {pages} pages; {declared} were declared — pages may be missing; check and resubmit.",
    basis="DA/T 70-2018 integrity: page count equals the metadata",
)
def page_count_matches(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    declared = ev.file.declared_page_count
    if declared is None:
        return skip("the platform declared no page count")
    gate = _opened(ev)
    if gate:
        return gate
    pages = ev.facts.page_count
    if pages is None:
        return skip("the format has no pages")
    if pages != declared:
        return fail({"pages": pages, "declared": declared}, declared=declared, counted=pages)
    return ok(pages=pages)


@file_check(
    "INTEG-SEAL-RED",
    IN,
    examines="Result documents and the scanned copies the item names carry a red seal: a red curved vector "
    "shape in a PDF, or enough seal-red ink (colour segmentation) on a colour page.",
    examines_zh="结果文书及事项指定的扫描件带有红色印章：PDF 中的红色曲线图形，"
    "或彩色页面上足量的印章红色（颜色分割）。",
    reason_zh="文件“{file}”未检测到红色印章，可能盖章不全，请加盖印章后重新扫描提交。",
    reason_en="no red seal was found on '{file}': the seal may be missing; seal it, scan it again and resubmit.",
    basis="source paper: incomplete seals (盖章不全); DA/T 70-2018 authenticity of seals",
)
def red_seal(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    if not rules.needs_seal(ev.file):
        return skip("the item does not require a seal on this material")
    gate = _opened(ev)
    if gate:
        return gate
    f = ev.facts
    threshold = rules.thresholds.min_seal_red_area_mm2
    if f.format is Format.PDF:
        if f.red_vector_shapes > 0 or f.red_raster_area_mm2 >= threshold:
            return ok(red_vector_shapes=f.red_vector_shapes, red_area_mm2=round(f.red_raster_area_mm2, 1))
        return fail(red_vector_shapes=0, red_area_mm2=round(f.red_raster_area_mm2, 1))
    if f.format in RASTER_FORMATS and f.image is not None:
        if not f.image.colour:
            return skip("a grey image cannot show a red seal (USAB-SCAN-COLOUR)")
        if f.image.red_area_mm2 >= threshold:
            return ok(red_area_mm2=round(f.image.red_area_mm2, 1))
        return fail(red_area_mm2=round(f.image.red_area_mm2, 1), threshold_mm2=threshold)
    return skip(f"seal detection is not available for {f.format.value}")


# --- usability ---------------------------------------------------------------------------------------


@file_check(
    "USAB-EMPTY",
    US,
    examines="The file is not empty (zero bytes).",
    examines_zh="文件不为空（0 字节）。",
    reason_zh="文件“{file}”为空文件（0 字节），请重新提交完整文件。",
    reason_en="'{file}' is empty (0 bytes); resubmit the complete file.",
    basis="DA/T 70-2018 usability: zero-byte files are unusable",
)
def not_empty(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    return fail(size=0) if ev.size == 0 else ok()


@file_check(
    "USAB-FORMAT",
    US,
    examines="The format, identified from the content and not the name, is an accepted archival format: PDF, "
    "OFD, JPEG, PNG, TIFF, JPEG 2000, MP3, WAV or MP4.",
    examines_zh="按内容（而非文件名）识别的格式属于可归档格式：PDF、OFD、JPEG、PNG、TIFF、JPEG 2000、MP3、WAV、MP4。",
    reason_zh="文件“{file}”不是可归档格式（识别为 {actual}），请转换为 PDF、OFD 或标准图像、音视频格式后重新提交。",
    reason_en="'{file}' is not in an accepted archival format (identified as {actual}); convert it to PDF, OFD "
    "or a standard image, audio or video format and resubmit.",
    basis="DA/T 70-2018 usability: accepted archival formats",
)
def format_accepted(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    if ev.size == 0:
        return skip("the file is empty (USAB-EMPTY)")
    fmt = ev.facts.format
    if fmt not in ARCHIVAL_FORMATS:
        return fail({"actual": "ZIP" if fmt is Format.ZIP else "unknown"}, identified=fmt.value)
    return ok(identified=fmt.value)


@file_check(
    "USAB-ZIP-BOMB",
    US,
    examines="A zip-based package (OFD) stays within the limits on compression ratio, unpacked size and "
    "entry count; a zip bomb is refused unopened.",
    examines_zh="基于 zip 的文件包（OFD）的压缩比、解压后大小和条目数不超过限值；压缩炸弹拒绝解压。",
    reason_zh="文件“{file}”解压后体积异常（{why}），疑似压缩炸弹，已拒绝，请重新生成文件后提交。",
    reason_en="'{file}' would unpack to an abnormal size ({why}), like a zip bomb; it was refused — produce the "
    "file again and resubmit.",
    basis="DA/T 70-2018 usability: no zip bombs",
)
def no_zip_bomb(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    if ev.facts.format is not Format.OFD:
        return skip("not a zip package")
    if ev.facts.zip_bomb:
        return fail({"why": ev.facts.zip_bomb}, why=ev.facts.zip_bomb)
    return ok()


@file_check(
    "USAB-ENCRYPTED",
    US,
    examines="The file is not encrypted (PDF encryption, encrypted OFD entries).",
    examines_zh="文件未加密（PDF 加密、OFD 条目加密）。",
    reason_zh="文件“{file}”已加密，档案无法长期读取，请提交未加密的文件。",
    reason_en="'{file}' is encrypted, so the archive cannot keep it readable; resubmit it unencrypted.",
    basis="DA/T 70-2018 usability: no encryption",
)
def not_encrypted(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    if ev.facts.format not in (Format.PDF, Format.OFD):
        return skip("the format has no encryption of its own")
    if ev.facts.zip_bomb:
        return skip("the package was refused unopened (USAB-ZIP-BOMB)")
    return fail() if ev.facts.encrypted else ok()


@file_check(
    "USAB-OPENS",
    US,
    examines="The file really opens: a PDF parses and has pages, OFD.xml and its document parse, an image "
    "decodes completely, a media header reads; truncated files fail.",
    examines_zh="文件可正常打开：PDF 可解析且有页面，OFD.xml 及文档可解析，图像可完整解码，"
    "音视频文件头可读取；截断文件不通过。",
    reason_zh="文件“{file}”无法正常打开（{error}），可能已损坏或不完整，请重新提交完整文件。",
    reason_en="'{file}' does not open ({error}): it is damaged or incomplete; resubmit the complete file.",
    basis="DA/T 70-2018 usability: files open; source paper: damaged pages (档案页破损)",
)
def opens(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    gate = _gate(ev)
    if gate:
        return gate
    if not ev.facts.opens:
        return fail({"error": ev.facts.open_error or "unknown error"}, error=ev.facts.open_error or "")
    return ok(pages=ev.facts.page_count if ev.facts.page_count is not None else "-")


def _raster(ev: FileEvidence) -> Finding | None:
    if ev.facts.format not in RASTER_FORMATS:
        return skip("not a scanned image")
    gate = _opened(ev)
    if gate:
        return gate
    return None


@file_check(
    "USAB-SCAN-DPI",
    US,
    examines="A scanned image records a resolution of at least 200 dpi (300 dpi for the materials the item names).",
    examines_zh="扫描图像记录的分辨率不低于 200 dpi（事项指定的材料不低于 300 dpi）。",
    reason_zh="扫描件“{file}”分辨率为 {dpi}，低于要求的 {min_dpi} dpi，请按要求重新扫描后提交。",
    reason_en="the scan '{file}' is {dpi}, below the required {min_dpi} dpi; scan it again and resubmit.",
    basis="DA/T 31-2017 scanning: at least 200 dpi, 300 dpi for small or unclear text",
)
def scan_resolution(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    gate = _raster(ev)
    if gate:
        return gate
    assert ev.facts.image is not None
    dpi, minimum = ev.facts.image.dpi, rules.min_dpi(ev.file)
    if dpi is None:
        return fail({"dpi": "unrecorded", "min_dpi": f"{minimum:g}"}, dpi="unrecorded", min_dpi=minimum)
    if dpi + 0.5 < minimum:
        return fail({"dpi": f"{dpi:g} dpi", "min_dpi": f"{minimum:g}"}, dpi=dpi, min_dpi=minimum)
    return ok(dpi=dpi)


@file_check(
    "USAB-SCAN-BLUR",
    US,
    examines="A scanned image is sharp: the variance of its Laplacian over content tiles reaches the threshold.",
    examines_zh="扫描图像清晰：内容区域的拉普拉斯方差达到阈值。",
    reason_zh="扫描件“{file}”模糊不清（清晰度 {score}，要求不低于 {threshold}），请重新扫描后提交。",
    reason_en="the scan '{file}' is blurred (sharpness {score}, at least {threshold} required); scan it again "
    "and resubmit.",
    basis="source paper: illegible copies (复印件不清晰); DA/T 31-2017",
)
def scan_sharpness(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    gate = _raster(ev)
    if gate:
        return gate
    assert ev.facts.image is not None
    score, threshold = ev.facts.image.sharpness, rules.thresholds.min_sharpness
    if score < threshold:
        params = {"score": f"{score:.0f}", "threshold": f"{threshold:g}"}
        return fail(params, sharpness=round(score, 1), threshold=threshold)
    return ok(sharpness=round(score, 1))


@file_check(
    "USAB-SCAN-COLOUR",
    US,
    examines="Scans of materials that carry a red seal or letterhead (the item's list) are in colour.",
    examines_zh="带红色印章或红头的材料（事项配置）以彩色扫描。",
    reason_zh="扫描件“{file}”带有印章或红头，须彩色扫描，当前为灰度/黑白（{mode}），请彩色重新扫描后提交。",
    reason_en="'{file}' carries a seal or red letterhead and must be scanned in colour; it is grey or black and "
    "white ({mode}) — scan it again in colour and resubmit.",
    basis="DA/T 31-2017: colour for pages with red letterheads, seals, photos or colour text",
)
def scan_colour(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    if not rules.needs_colour(ev.file):
        return skip("the item does not require colour for this material")
    gate = _raster(ev)
    if gate:
        return gate
    assert ev.facts.image is not None
    if not ev.facts.image.colour:
        return fail({"mode": ev.facts.image.mode}, mode=ev.facts.image.mode)
    return ok(mode=ev.facts.image.mode)


# --- security ----------------------------------------------------------------------------------------


@file_check(
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


@file_check(
    "SEC-PDF-ACTIVE",
    SE,
    examines="A PDF carries no active content: JavaScript, launch or import actions, automatic actions on open.",
    examines_zh="PDF 不含主动内容：JavaScript、启动或导入动作、打开时自动执行的动作。",
    reason_zh="文件“{file}”含有可执行内容（{found}），存在安全风险，请去除后重新提交。",
    reason_en="'{file}' holds executable content ({found}), a security risk; remove it and resubmit.",
    basis="DA/T 70-2018 security; PDF/A forbids JavaScript and launch actions",
)
def pdf_inactive(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    if ev.facts.format is not Format.PDF:
        return skip("not a PDF")
    gate = _opened(ev)
    if gate:
        return gate
    if ev.facts.active_content:
        found = ", ".join(ev.facts.active_content)
        return fail({"found": found}, found=found)
    return ok()


# --- running the catalogue ---------------------------------------------------------------------------


def severity_of(check: Check, rules: ItemRules) -> Severity:
    configured = rules.severity.get(check.code)
    return Severity(configured) if configured else check.severity


def _result(check: Check, finding: Finding, rules: ItemRules, file: CapturedFile | None) -> CheckResult:
    severity = severity_of(check, rules)
    outcome = finding.outcome
    reason_zh = reason_en = None
    if outcome is Outcome.FAIL:
        params = {"file": file.original_file_name if file else "", **finding.params}
        reason_zh = check.reason_zh.format(**params)
        reason_en = check.reason_en.format(**params)
        if severity is Severity.WARN:
            outcome = Outcome.WARN
    elif outcome is Outcome.NOT_RUN:
        reason_zh, reason_en = finding.note_zh, finding.note_en
    return CheckResult(
        code=check.code,
        property=check.property,
        outcome=outcome,
        reason_zh=reason_zh,
        reason_en=reason_en,
        file_name=file.file_name if file else None,
        details=finding.details,
        severity=severity.value,
    )


def run_catalogue(evidence: CaseEvidence, rules: ItemRules) -> list[CheckResult]:
    """Every check of the catalogue on the case: case checks once, file checks once per file."""
    results: list[CheckResult] = []
    for check in CATALOGUE.values():
        if check.case_fn is None:
            continue
        finding = (
            skip("switched off for this item")
            if check.code in rules.disabled_checks
            else check.case_fn(evidence, rules)
        )
        results.append(_result(check, finding, rules, None))
    for ev in evidence.files:
        for check in CATALOGUE.values():
            if check.file_fn is None:
                continue
            if check.code in rules.disabled_checks:
                finding = skip("switched off for this item")
            else:
                finding = check.file_fn(ev, evidence, rules)
            results.append(_result(check, finding, rules, ev.file))
    return results


def rejections(results: list[CheckResult]) -> list[CheckResult]:
    """The failures that send the case back: outcome fail (a warn-severity failure has outcome warn)."""
    return [r for r in results if r.outcome is Outcome.FAIL]
