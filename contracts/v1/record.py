"""The unified approval record, version 1 (统一元数据标准).

Every platform dialect is mapped to this shape before anything else happens. The model checks the
*shape* (types, required elements, enumerations); whether the values are right (check digits, time
order, digests) is the validation service's four-property check, which answers the platform with
reasons instead of dead-lettering the event.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

NonEmpty = Annotated[str, Field(min_length=1, max_length=500)]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="Lowercase hex SHA-256.")]

_UNSAFE_KEY_CHARS = re.compile(r"[^0-9A-Za-z._\-]+")


class Stage(StrEnum):
    """Where in the case a material belongs (申请 / 过程 / 结果)."""

    APPLICATION = "application"
    PROCESS = "process"
    RESULT = "result"


class ApplicantType(StrEnum):
    ORGANISATION = "organisation"  # 法人或其他组织
    PERSON = "person"  # 自然人


class IdType(StrEnum):
    USCC = "uscc"  # 统一社会信用代码, GB 32100
    RESIDENT_ID = "resident_id"  # 居民身份证, GB 11643
    PASSPORT = "passport"
    OTHER = "other"


class CaseResult(StrEnum):
    APPROVED = "approved"  # 准予
    PARTIALLY_APPROVED = "partially_approved"
    REFUSED = "refused"  # 不予
    WITHDRAWN = "withdrawn"  # 撤回


class Applicant(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: NonEmpty
    type: ApplicantType
    id_type: IdType
    id_number: NonEmpty


class ProcessRecord(BaseModel):
    """One step of handling (办理过程): who did what, with which opinion, when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    node: NonEmpty = Field(description="Handling node, e.g. 受理, 审查, 决定.")
    actor: NonEmpty
    action: NonEmpty
    opinion: str | None = Field(default=None, max_length=4000)
    time: datetime


class Material(BaseModel):
    """One file of the case as the platform declares it. Content is inline (small files) or a URL."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stage: Stage
    material_name: NonEmpty = Field(description="Standard material name from the item's catalogue.")
    file_name: NonEmpty = Field(description="The file name as the platform knows it.")
    media_type: NonEmpty = Field(description="Declared IANA media type, e.g. application/pdf.")
    size: int | None = Field(
        default=None, ge=0, description="Declared size in bytes; absent when the platform declares none."
    )
    sha256: Sha256Hex | None = Field(
        default=None, description="Declared SHA-256 of the content; absent when the platform declares none."
    )
    page_count: int | None = Field(default=None, ge=1, description="Declared page count, where known.")
    sm3: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")] | None = Field(
        default=None, description="Declared SM3 (GB/T 32905) of the content, lowercase hex; optional."
    )
    content_base64: str | None = Field(default=None, description="Inline content, for small files only.")
    url: str | None = Field(default=None, max_length=2000, description="Where capture fetches the file.")

    @model_validator(mode="after")
    def _exactly_one_source(self) -> Material:
        if (self.content_base64 is None) == (self.url is None):
            raise ValueError("a material carries exactly one of content_base64 or url")
        return self


class RetentionPeriod(StrEnum):
    PERMANENT = "Y"  # 永久
    THIRTY_YEARS = "D30"  # 定期30年
    TEN_YEARS = "D10"  # 定期10年


class LegacyFiling(BaseModel):
    """How a case digitised from paper was filed before it came to the archive (docs/lifecycle.md,
    "Import of digitised paper"): its old archival code and retention as the paper catalogue gives them.
    The archive gives it a code of its own series; the old code stays with the record."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    archival_code: NonEmpty = Field(description="The archival code (档号) the paper case was filed under.")
    retention_as_filed: NonEmpty = Field(description="The retention term as the catalogue writes it, e.g. 长期.")
    retention: RetentionPeriod = Field(
        description="That term in today's periods (长期 → D30, 短期 → D10, 永久 → Y), per the import mapping file; "
        "classification keeps it instead of the schedule rule's period."
    )
    catalogue: str | None = Field(default=None, max_length=500, description="The catalogue (案卷目录) it came from.")


class CaseIdentity(BaseModel):
    """What makes a case revision unique across the archive."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source_platform: Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9\-]{1,62}$")]
    case_number: NonEmpty
    revision: int = Field(default=1, ge=1, description="Resubmissions after rectification count up.")

    @property
    def case_key(self) -> str:
        """A stable, object-store-safe key: `platform/case-number/rN`."""
        safe_number = _UNSAFE_KEY_CHARS.sub("_", self.case_number).strip("._") or "_"
        return f"{self.source_platform}/{safe_number}/r{self.revision}"

    def identity(self) -> CaseIdentity:
        return CaseIdentity(source_platform=self.source_platform, case_number=self.case_number, revision=self.revision)


class CaseMetadata(CaseIdentity):
    """Everything the unified standard says about a case, except its files."""

    region_code: Annotated[str, Field(min_length=1, max_length=12, description="Administrative division code.")]
    item_code: NonEmpty = Field(description="Approval item code (事项编码).")
    item_name: NonEmpty
    item_version: str | None = Field(default=None, max_length=50)
    case_title: NonEmpty
    applicant: Applicant
    legal_representative: str | None = Field(default=None, max_length=200)
    department_code: NonEmpty = Field(description="Accepting department's organisation code.")
    department_name: NonEmpty
    accepted_at: datetime
    completed_at: datetime
    result: CaseResult
    certificate_number: str | None = Field(default=None, max_length=200)
    process_records: list[ProcessRecord] = Field(default_factory=list)
    file_count: int | None = Field(default=None, ge=0, description="Declared number of files (归档文件数), if known.")
    total_bytes: int | None = Field(default=None, ge=0, description="Declared total size of the files, if known.")
    legacy: LegacyFiling | None = Field(
        default=None, description="Only for cases digitised from paper: how they were filed on paper (v1 addition)."
    )


class UnifiedApprovalRecord(CaseMetadata):
    """The data of `approval.completed.v1`: a completed case in the unified standard."""

    materials: list[Material] = Field(min_length=1, max_length=500)

    def metadata(self) -> CaseMetadata:
        return CaseMetadata.model_validate(self.model_dump(exclude={"materials"}))
