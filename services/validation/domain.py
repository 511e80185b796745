"""Pure validation rules. The walking skeleton checks fixity — the digest and size that capture
received against what the platform declared, recomputed from the stored bytes; the full DA/T 70
catalogue grows here."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from contracts.v1 import CapturedFile, CheckResult, Outcome, Property


@dataclass(frozen=True)
class Reread:
    """What validation measured by reading a stored file again."""

    sha256: str
    size: int


def check_digest(file: CapturedFile, reread: Reread) -> CheckResult:
    code, prop = "AUTH-DIGEST-SHA256", Property.AUTHENTICITY
    if reread.sha256 != file.sha256:
        # The stored object changed after capture: not the platform's fault, the archive's alarm.
        return CheckResult(
            code="AUTH-FIXITY-STAGING",
            property=prop,
            outcome=Outcome.FAIL,
            file_name=file.file_name,
            reason_zh="暂存文件在采集后发生变化，请联系档案中心。",
            reason_en="the staged file changed after capture; contact the archive centre.",
            details={"captured_sha256": file.sha256, "reread_sha256": reread.sha256},
        )
    if reread.sha256 != file.declared_sha256:
        return CheckResult(
            code=code,
            property=prop,
            outcome=Outcome.FAIL,
            file_name=file.file_name,
            reason_zh=f"文件“{file.original_file_name}”的 SHA-256 摘要与申报值不一致，"
            "文件可能被篡改或传输损坏，请核对后重新提交。",
            reason_en=f"SHA-256 of '{file.original_file_name}' differs from the declared digest: the file was "
            "altered or damaged in transfer; check it and resubmit.",
            details={"declared": file.declared_sha256, "computed": reread.sha256},
        )
    return CheckResult(code=code, property=prop, outcome=Outcome.PASS, file_name=file.file_name)


def check_size(file: CapturedFile, reread: Reread) -> CheckResult:
    code, prop = "AUTH-SIZE", Property.AUTHENTICITY
    if reread.size != file.declared_size:
        return CheckResult(
            code=code,
            property=prop,
            outcome=Outcome.FAIL,
            file_name=file.file_name,
            reason_zh=f"文件“{file.original_file_name}”的大小（{reread.size} 字节）"
            f"与申报值（{file.declared_size} 字节）不一致。",
            reason_en=f"'{file.original_file_name}' is {reread.size} bytes; {file.declared_size} were declared.",
            details={"declared": str(file.declared_size), "computed": str(reread.size)},
        )
    return CheckResult(code=code, property=prop, outcome=Outcome.PASS, file_name=file.file_name)


def check_file(file: CapturedFile, reread: Reread) -> list[CheckResult]:
    return [check_digest(file, reread), check_size(file, reread)]


def failures(results: Sequence[CheckResult]) -> list[CheckResult]:
    return [r for r in results if r.outcome is Outcome.FAIL]
