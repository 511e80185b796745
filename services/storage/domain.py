"""Pure rules of the archival package: names, retention of the package object, the bag's tag files.

One package per case revision: a BagIt bag (RFC 8493) written as ONE uncompressed tar object with a
single top-level directory (docs/packages.md says why):

<case_key>/<bag name>.tar
  <bag name>/bagit.txt
  <bag name>/bag-info.txt
  <bag name>/manifest-sha256.txt
  <bag name>/tagmanifest-sha256.txt
  <bag name>/archive-record.json                 the unified record, classification, checks, files (SHA-256 + SM3)
  <bag name>/metadata/eep.xml                    DA/T 48-2009 encapsulation structure
  <bag name>/metadata/preservation-events.json   PREMIS events of the case so far
  <bag name>/data/<stage>/<nnn>-<file name>
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.v1 import CapturedFile, CheckResult, ClassifiedCase, Outcome, RetentionPeriod

BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
RECORD_TAG_FILE = "archive-record.json"
EEP_TAG_FILE = "metadata/eep.xml"
EVENTS_TAG_FILE = "metadata/preservation-events.json"
PACKAGE_PROFILE = "approval-archive/package/v2"
PACKAGE_MEDIA_TYPE = "application/x-tar"

# "Y" (永久, permanent): COMPLIANCE retention until the last day S3 dates can express, plus a legal hold,
# so that the lock survives even a server that caps or misreads far-future dates.
PERMANENT_UNTIL = datetime(9999, 12, 31, tzinfo=UTC)
RETENTION_YEARS = {RetentionPeriod.TEN_YEARS: 10, RetentionPeriod.THIRTY_YEARS: 30}
# A back-filled case whose retention period has already run out is still locked for this long after
# archiving (S3 refuses a retain-until date in the past): its disposal is then due, by appraisal.
MINIMUM_LOCK = timedelta(days=1)


@dataclass(frozen=True)
class PayloadEntry:
    path: str  # relative to the bag root, e.g. data/result/002-决定书.pdf
    sha256: str
    sm3: str
    size: int


@dataclass(frozen=True)
class RetentionLock:
    retain_until: datetime
    legal_hold: bool


def bag_name(case_key: str) -> str:
    """The tar's one top-level directory: the case key with '/' → '_' (platform_case-number_rN)."""
    return case_key.replace("/", "_")


def package_prefix(case_key: str) -> str:
    return f"{case_key}/"


def package_key(case_key: str) -> str:
    return f"{package_prefix(case_key)}{bag_name(case_key)}.tar"


def is_package_key(key: str) -> bool:
    return key.endswith(".tar") and key.rsplit("/", 1)[-1] == bag_name(key.rsplit("/", 1)[0]) + ".tar"


def payload_path(index: int, file: CapturedFile) -> str:
    return f"data/{file.stage.value}/{index:03d}-{file.file_name}"


def _add_years(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year + years)
    except ValueError:  # 29 February into a common year
        return moment.replace(year=moment.year + years, day=28)


def retention_lock(retention: RetentionPeriod, completed_at: datetime, archived_at: datetime) -> RetentionLock:
    """How long the package object is write-once: completion + the retention period (whole seconds, UTC)."""
    if retention is RetentionPeriod.PERMANENT:
        return RetentionLock(PERMANENT_UNTIL, legal_hold=True)
    due = _add_years(completed_at.astimezone(UTC), RETENTION_YEARS[retention])
    earliest = archived_at.astimezone(UTC) + MINIMUM_LOCK
    return RetentionLock(max(due, earliest).replace(microsecond=0), legal_hold=False)


def _bagit_path(path: str) -> str:
    # RFC 8493 §2.1.3: only CR, LF and % are percent-encoded in manifest paths.
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def unbagit_path(path: str) -> str:
    return path.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")


def manifest(entries: Sequence[PayloadEntry]) -> bytes:
    return "".join(f"{e.sha256}  {_bagit_path(e.path)}\n" for e in entries).encode("utf-8")


def manifest_sm3(entries: Sequence[PayloadEntry]) -> bytes:
    """The same manifest with SM3 digests (manifest-sm3.txt of a transfer set, docs/lifecycle.md)."""
    return "".join(f"{e.sm3}  {_bagit_path(e.path)}\n" for e in entries).encode("utf-8")


def parse_manifest(content: bytes) -> dict[str, str]:
    """path → digest of a BagIt manifest."""
    out: dict[str, str] = {}
    for line in content.decode("utf-8").splitlines():
        if line.strip():
            digest, _, path = line.partition(" ")
            out[unbagit_path(path.lstrip(" *"))] = digest.lower()
    return out


def bag_info(classified: ClassifiedCase, entries: Sequence[PayloadEntry], bagging_date: datetime) -> bytes:
    case, cls = classified.case, classified.classification
    total = sum(e.size for e in entries)
    lines = [
        ("Source-Organization", case.department_name),
        ("External-Identifier", cls.archival_code),
        ("External-Description", case.case_title),
        ("Bagging-Date", bagging_date.astimezone(UTC).date().isoformat()),
        ("Payload-Oxum", f"{total}.{len(entries)}"),
        ("Bag-Group-Identifier", f"{case.source_platform}:{case.case_number}"),
        ("Internal-Sender-Identifier", case.case_key),
        ("Bag-Software-Agent", "approval-archive storage"),
    ]
    return "".join(f"{k}: {' '.join(v.split())}\n" for k, v in lines).encode("utf-8")


def record_document(
    classified: ClassifiedCase,
    entries: Sequence[PayloadEntry],
    *,
    archived_event: Mapping[str, Any],
    code_allocated_at: datetime | None,
) -> bytes:
    """The unified record, its classification, every check result and the archived event, as the
    package's own description. Everything the index holds about the case is rebuilt from this file."""
    document = {
        "profile": PACKAGE_PROFILE,
        "case": classified.case.model_dump(mode="json"),
        "classification": classified.classification.model_dump(mode="json"),
        "archival_code_allocated_at": (code_allocated_at or classified.classified_at).isoformat(),
        "files": [
            {**f.model_dump(mode="json", exclude={"stored"}), "path": e.path, "sm3": e.sm3}
            for f, e in zip(classified.files, entries, strict=True)
        ],
        "checks": [c.model_dump(mode="json") for c in classified.checks],
        "provenance": {
            "captured_at": classified.captured_at.isoformat() if classified.captured_at else None,
            "validated_at": classified.validated_at.isoformat() if classified.validated_at else None,
            "classified_at": classified.classified_at.isoformat(),
        },
        "archived_event": dict(archived_event),
    }
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")


def tag_manifest(tag_files: Mapping[str, bytes]) -> bytes:
    return "".join(
        f"{hashlib.sha256(content).hexdigest()}  {_bagit_path(name)}\n" for name, content in sorted(tag_files.items())
    ).encode("utf-8")


def warnings_of(classified: ClassifiedCase) -> list[CheckResult]:
    return [c for c in classified.checks if c.outcome is Outcome.WARN]
