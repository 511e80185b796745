"""Transfer to the state archives (移交, DA/T 93-2022, 档发〔2012〕7号): select records, check each stored
package again (DA/T 70's four-property check at transfer: services/storage/revalidation.py), and write a
transfer set — one BagIt bag (RFC 8493) in a folder, which bagit-python validates:

<out>/<set id>/
  bagit.txt, bag-info.txt
  manifest-sha256.txt              every payload file's SHA-256
  manifest-sm3.txt                 every payload file's SM3 (GB/T 32905), same paths and format
  tagmanifest-sha256.txt           the tag files above, manifest-sm3.txt included
  data/register/register.xml       the transfer register (services/storage/transfer_register.py)
  data/register/register.pdf       the same, for a person to read and sign
  data/packages/<bag name>.tar     each record's package, the archived object's bytes unchanged

A record whose re-check fails is left out of the set and named in the register's excluded list. The set
is written under `<set id>.partial` and renamed when it is complete and validates (bagit-python, and the
SM3 manifest recomputed); only then is it recorded in the index: the set, its figures and digests, and
each record in it (a record is in one set at most — it is marked transferred), with a PREMIS transfer
event per record. `accept` records the receiving archive's acknowledgement and closes the set; the
centre keeps its copy for CENTRE_COPY_YEARS after it (docs/lifecycle.md).
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import bagit

from contracts.envelope import derived_event_id, utc_now
from services.common.adapters.object_store import ObjectStore
from services.common.digests import DigestStream, digests_of
from services.storage import bag, domain, revalidation
from services.storage.domain import PayloadEntry, _add_years
from services.storage.ports import AuditPackageRow, TransferIndex
from services.storage.preservation import SUCCESS, agent
from services.storage.transfer_register import (
    Excluded,
    Register,
    RegisterFile,
    RegisterRecord,
    register_pdf,
    register_xml,
)
from services.validation.recheck import RuleBook

log = logging.getLogger(__name__)

AGENT = agent("storage").id + "#transfer"
PROFILE = "urn:approval-archive:transfer-set:v1"
REGISTER_XML = "data/register/register.xml"
REGISTER_PDF = "data/register/register.pdf"
# 档发〔2012〕7号 (电子档案移交与接收办法): the transferring unit keeps the electronic records it transferred for
# at least five years after the transfer. Counted from the receiver's acknowledgement (docs/lifecycle.md).
CENTRE_COPY_YEARS = 5


@dataclass(frozen=True)
class Selection:
    year: int | None = None  # the archival code's year (归档年度)
    retention: str | None = None
    category_code: str | None = None
    department_code: str | None = None
    limit: int | None = None

    def as_dict(self) -> dict[str, str]:
        named = {
            "year": self.year,
            "retention": self.retention,
            "category": self.category_code,
            "department": self.department_code,
            "limit": self.limit,
        }
        return {k: str(v) for k, v in named.items() if v is not None}


@dataclass
class TransferReport:
    set_id: str
    path: Path | None  # the set's folder; None when no record could be transferred
    register: Register | None = None
    excluded: list[Excluded] = field(default_factory=list)
    selected: int = 0


class TransferRefused(Exception):
    """The set cannot be made or closed as asked (nothing selected, unknown set, already accepted)."""


def new_set_id(at: datetime) -> str:
    return f"TS-{at.astimezone(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


def _bag_info(register: Register, entries: Sequence[PayloadEntry]) -> bytes:
    total = sum(e.size for e in entries)
    lines = [
        ("Source-Organization", register.transferring_unit),
        ("Contact-Name", register.created_by),
        ("External-Identifier", register.set_id),
        (
            "External-Description",
            f"电子档案移交 transfer set to {register.receiver}: {register.record_count} records, "
            f"{register.file_count} files, {register.volume_gb} GB; register in {REGISTER_XML} and {REGISTER_PDF}",
        ),
        ("Bagging-Date", register.created_at.astimezone(UTC).date().isoformat()),
        ("Payload-Oxum", f"{total}.{len(entries)}"),
        ("Bag-Size", f"{register.volume_gb} GB"),
        ("BagIt-Profile-Identifier", PROFILE),
        (
            "Internal-Sender-Description",
            "manifest-sm3.txt lists every payload file's SM3 (GB/T 32905-2016) digest in the manifest format "
            "of RFC 8493; it is a tag file, covered by tagmanifest-sha256.txt",
        ),
        ("Bag-Software-Agent", "approval-archive storage (archivectl transfer create)"),
    ]
    return "".join(f"{k}: {' '.join(v.split())}\n" for k, v in lines).encode("utf-8")


def _start_folder(out: Path, set_id: str) -> tuple[Path, Path]:
    """(the folder the set is written in, the name it gets when complete)."""
    out.mkdir(parents=True, exist_ok=True)
    partial = out / f"{set_id}.partial"
    partial.mkdir()
    return partial, out / set_id


def _write(folder: Path, path: str, data: bytes) -> PayloadEntry:
    target = folder / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data)
    d = digests_of(data)
    return PayloadEntry(path, d.sha256, d.sm3, d.size)


def _write_tag_files(folder: Path, register: Register, entries: Sequence[PayloadEntry]) -> None:
    tags = {
        "bagit.txt": domain.BAGIT_TXT,
        "bag-info.txt": _bag_info(register, entries),
        "manifest-sha256.txt": domain.manifest(entries),
        "manifest-sm3.txt": domain.manifest_sm3(entries),
    }
    for name, content in tags.items():
        (folder / name).write_bytes(content)
    (folder / "tagmanifest-sha256.txt").write_bytes(domain.tag_manifest(tags))


def verify_set(folder: Path) -> list[str]:
    """The set's problems (empty: valid): bagit-python's validation (the Library of Congress's BagIt, not
    this archive's reader: payload against manifest-sha256.txt, tag files against tagmanifest-sha256.txt,
    Payload-Oxum), and the SM3 manifest recomputed file by file."""
    problems: list[str] = []
    try:
        bagit.Bag(str(folder)).validate(processes=1)
    except bagit.BagValidationError as exc:
        problems += [str(d) for d in exc.details] or [str(exc)]
    except bagit.BagError as exc:
        problems.append(str(exc))
    sm3 = domain.parse_manifest((folder / "manifest-sm3.txt").read_bytes())
    payload = {p.relative_to(folder).as_posix() for p in (folder / "data").rglob("*") if p.is_file()}
    for path in sorted(payload - set(sm3)):
        problems.append(f"{path}: in the payload but not in manifest-sm3.txt")
    for path, digest in sorted(sm3.items()):
        if path not in payload:
            problems.append(f"{path}: listed in manifest-sm3.txt but missing")
            continue
        stream = DigestStream()
        with (folder / path).open("rb") as fh:
            while chunk := fh.read(1 << 20):
                stream.update(chunk)
        if stream.digests().sm3 != digest:
            problems.append(f"{path}: SM3 differs from manifest-sm3.txt")
    return problems


def _register_record(row: dict[str, Any], check: revalidation.PackageCheck, package_path: str) -> RegisterRecord:
    assert check.data is not None and check.sha256 and check.sm3 and check.size is not None
    document = bag.read_package(check.data).record
    files = tuple(RegisterFile(f["path"], f["size"], f["sha256"], f["sm3"]) for f in document["files"])
    return RegisterRecord(
        case_key=row["case_key"],
        archival_code=row["archival_code"],
        title=row["case_title"],
        year=row["year"],
        retention=row["retention"],
        category_code=row["category_code"],
        department_code=row["department_code"],
        package_path=package_path,
        package_size=check.size,
        package_sha256=check.sha256,
        package_sm3=check.sm3,
        fixity=check.fixity,
        format=check.format,
        opens=check.opens,
        files=files,
    )


def transfer_event(case_key: str, set_id: str, at: datetime, detail: str, step: str) -> dict[str, Any]:
    return {
        "event_id": derived_event_id("transfer", f"{case_key}/{set_id}/{step}"),
        "event_type": "transfer",
        "event_type_uri": None,
        "event_time": at,
        "outcome": SUCCESS,
        "detail": detail,
        "agent": AGENT,
    }


async def create(
    selection: Selection,
    *,
    out: Path,
    store: ObjectStore,
    index: TransferIndex,
    receiver: str,
    transferring_unit: str,
    created_by: str,
    replica: ObjectStore | None = None,
    rules: RuleBook | None = None,
    progress: Callable[[int, int], None] | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> TransferReport:
    """Select, re-check, write and record one transfer set (the module's docstring)."""
    created_at = clock()
    set_id = new_set_id(created_at)
    rows = await index.records_for_transfer(
        year=selection.year,
        retention=selection.retention,
        category_code=selection.category_code,
        department_code=selection.department_code,
        limit=selection.limit,
    )
    report = TransferReport(set_id, None, selected=len(rows))
    if not rows:
        return report
    partial, final = _start_folder(out, set_id)
    try:
        records: list[RegisterRecord] = []
        entries: list[PayloadEntry] = []
        for done, row in enumerate(rows, start=1):
            check = await revalidation.revalidate(
                cast(AuditPackageRow, row),
                store=store,
                replica=replica,
                index=index,
                purpose="transfer",
                transfer_set=set_id,
                rules=rules,
                clock=clock,
            )
            if check.passed and check.data is not None:
                package_path = f"data/packages/{domain.bag_name(row['case_key'])}.tar"
                entries.append(await asyncio.to_thread(_write, partial, package_path, check.data))
                records.append(_register_record(row, check, package_path))
            else:
                report.excluded.append(Excluded(row["case_key"], row["archival_code"], check.reason or "failed"))
            if progress:
                progress(done, len(rows))
        if not records:
            shutil.rmtree(partial)
            return report
        register = Register(
            set_id=set_id,
            created_at=created_at,
            created_by=created_by,
            transferring_unit=transferring_unit,
            receiver=receiver,
            selection=selection.as_dict(),
            records=tuple(records),
            excluded=tuple(report.excluded),
        )
        xml = register_xml(register)
        pdf = await asyncio.to_thread(register_pdf, register)
        entries += [_write(partial, REGISTER_XML, xml), _write(partial, REGISTER_PDF, pdf)]
        _write_tag_files(partial, register, entries)
        problems = await asyncio.to_thread(verify_set, partial)
        if problems:
            raise RuntimeError(f"the transfer set written does not validate: {'; '.join(problems[:5])}")
        os.rename(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    xml_digests = digests_of(xml)
    set_row = {
        "set_id": set_id,
        "created_at": created_at,
        "created_by": created_by,
        "receiver": receiver,
        "selection": selection.as_dict(),
        "location": str(final.resolve()),
        "record_count": register.record_count,
        "file_count": register.file_count,
        "total_bytes": register.total_bytes,
        "register_sha256": xml_digests.sha256,
        "register_sm3": xml_digests.sm3,
        "status": "created",
    }
    record_rows = [
        {
            "set_id": set_id,
            "case_key": r.case_key,
            "archival_code": r.archival_code,
            "package_path": r.package_path,
            "package_size": r.package_size,
            "package_sha256": r.package_sha256,
            "package_sm3": r.package_sm3,
            "file_count": len(r.files),
        }
        for r in records
    ]
    at = clock()
    events = {
        r.case_key: transfer_event(
            r.case_key,
            set_id,
            at,
            f"package copied into transfer set {set_id} for {receiver} as {r.package_path} (SHA-256 "
            f"{r.package_sha256}, SM3 {r.package_sm3}); awaiting the receiver's acknowledgement",
            "created",
        )
        for r in records
    }
    try:
        await index.record_transfer_set(set_row, record_rows, events)
    except BaseException:
        shutil.rmtree(final, ignore_errors=True)  # not recorded: the set does not exist
        raise
    report.path, report.register = final, register
    log.info(
        "transfer set written",
        extra={"set_id": set_id, "records": register.record_count, "excluded": len(report.excluded)},
    )
    return report


async def accept(
    set_id: str,
    *,
    index: TransferIndex,
    accepted_by: str,
    acknowledgement: str,
    clock: Callable[[], datetime] = utc_now,
) -> dict[str, Any]:
    """Record the receiving archive's acknowledgement of a set and close it; the centre keeps its copy
    until CENTRE_COPY_YEARS after it. Returns the set's row."""
    found = await index.transfer_set(set_id)
    if found is None:
        raise TransferRefused(f"no transfer set {set_id}")
    if found["status"] == "accepted":
        raise TransferRefused(
            f"transfer set {set_id} was already accepted on {found['accepted_at']:%Y-%m-%d} by {found['accepted_by']}"
        )
    at = clock()
    keep_until = _add_years(at.astimezone(UTC), CENTRE_COPY_YEARS)
    detail = (
        f"transfer set {set_id} acknowledged by the receiving archive ({found['receiver']}): {acknowledgement}, "
        f"recorded by {accepted_by}; the centre keeps its copy until {keep_until:%Y-%m-%d}"
    )
    events = {
        key: transfer_event(key, set_id, at, detail, "accepted") for key in await index.transfer_set_cases(set_id)
    }
    row = await index.accept_transfer_set(
        set_id,
        accepted_at=at,
        accepted_by=accepted_by,
        acknowledgement=acknowledgement,
        keep_until=keep_until,
        events=events,
    )
    if row is None:  # accepted by someone else between the read and the write
        raise TransferRefused(f"transfer set {set_id} was accepted meanwhile")
    return row
