"""Pure rules of the archival package: a BagIt bag (RFC 8493) laid out as objects under one prefix.

<case_key>/bagit.txt
<case_key>/bag-info.txt
<case_key>/manifest-sha256.txt
<case_key>/tagmanifest-sha256.txt
<case_key>/archive-record.json          the unified record, classification and check results
<case_key>/data/<stage>/<nn>-<file name>
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from contracts.v1 import CapturedFile, ClassifiedCase, Outcome

BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"
RECORD_TAG_FILE = "archive-record.json"


@dataclass(frozen=True)
class PayloadEntry:
    path: str  # relative to the bag root, e.g. data/result/02-决定书.pdf
    sha256: str
    size: int


def package_prefix(case_key: str) -> str:
    return f"{case_key}/"


def payload_path(index: int, file: CapturedFile) -> str:
    return f"data/{file.stage.value}/{index:03d}-{file.file_name}"


def _bagit_path(path: str) -> str:
    # RFC 8493 §2.1.3: only CR, LF and % are percent-encoded in manifest paths.
    return path.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def manifest(entries: Sequence[PayloadEntry]) -> bytes:
    return "".join(f"{e.sha256}  {_bagit_path(e.path)}\n" for e in entries).encode("utf-8")


def bag_info(classified: ClassifiedCase, entries: Sequence[PayloadEntry], bagging_date: datetime) -> bytes:
    case, cls = classified.case, classified.classification
    total = sum(e.size for e in entries)
    lines = [
        ("Source-Organization", case.department_name),
        ("External-Identifier", cls.archival_code),
        ("External-Description", case.case_title),
        ("Bagging-Date", bagging_date.date().isoformat()),
        ("Payload-Oxum", f"{total}.{len(entries)}"),
        ("Bag-Group-Identifier", f"{case.source_platform}:{case.case_number}"),
        ("Internal-Sender-Identifier", case.case_key),
    ]
    return "".join(f"{k}: {' '.join(v.split())}\n" for k, v in lines).encode("utf-8")


def record_document(classified: ClassifiedCase, entries: Sequence[PayloadEntry]) -> bytes:
    """The unified record, its classification and every check result, as the package's own description."""
    document = {
        "profile": "approval-archive/package/v1",
        "case": classified.case.model_dump(mode="json"),
        "classification": classified.classification.model_dump(mode="json"),
        "files": [
            {**f.model_dump(mode="json", exclude={"stored"}), "path": e.path}
            for f, e in zip(classified.files, entries, strict=True)
        ],
        "checks": [c.model_dump(mode="json") for c in classified.checks],
    }
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True).encode("utf-8")


def tag_manifest(tag_files: Mapping[str, bytes]) -> bytes:
    return "".join(
        f"{hashlib.sha256(content).hexdigest()}  {_bagit_path(name)}\n" for name, content in sorted(tag_files.items())
    ).encode("utf-8")


def warnings_of(classified: ClassifiedCase) -> list:  # type: ignore[type-arg]
    return [c for c in classified.checks if c.outcome is Outcome.WARN]
