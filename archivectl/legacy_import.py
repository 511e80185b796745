"""Importing digitised paper (纸质档案数字化成果): a catalogue spreadsheet (案卷目录, xlsx or CSV), one row per
case, and a folder of scans per case, sent through the pipeline as events of the registered platform
`import` — docs/lifecycle.md, "Import of digitised paper".

    rows  → each row's case identity, by the import platform's mapping file (services/capture/dialects)
          → already in the index? skipped, reported as archived with its code (the run is resumable)
          → scans staged in the staging bucket (`_import/<sha256>.<ext>`, content-addressed: a re-run
            uploads nothing twice) and handed to capture as presigned URLs, with their size, SHA-256 and
            page count declared
          → one signed approval.completed.v1 event per row, paced by a token bucket (cases/s)
    outcomes (archive.archived / archive.rejected / dead letters, read like `make up`'s summary does)
          → a progress bar with rate and time remaining, and a CSV report with one line per row.

The row → record mapping is capture's: the importer only reads it to know each row's case key.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import asyncpg

from archivectl.outcomes import Outcomes, await_outcomes
from archivectl.platforms import ensure_platforms, signed
from contracts.v1 import CaseIdentity, topics
from services.capture.dialect import TRANSFORMS, Dialect
from services.common.adapters.object_store import MinioObjectStore
from services.common.digests import digests_of
from services.common.producer import KafkaPublisher
from services.common.settings import ArchiveSettings

PLATFORM = "import"
PLATFORM_NAME = "纸质档案数字化导入 (digitised paper)"
DEFAULT_DIALECT = "legacy-catalogue/1"
# 1.5 cases/s: half of what one worker per service archived of generated scanned cases (five 200-dpi pages
# each) on the 2-core benchmark machine — 3.13 cases/s over 8,000 cases (docs/benchmarks.md, "Import of
# digitised paper") — so that live platforms keep at least the other half; 8,000 cases then take 1.5 hours.
# A larger deployment raises it.
DEFAULT_RATE = 1.5
SCAN_EXTENSIONS = frozenset({".pdf", ".tif", ".tiff", ".jpg", ".jpeg"})
UPLOAD_PREFIX = "_import/"
URL_VALIDITY = timedelta(days=7)  # the S3 maximum: capture fetches long before, even behind a backlog
_ORDER_PREFIX = re.compile(r"^\d+[\s._\-－、]*")
_PAGE_SUFFIX = re.compile(r"[\s_\-]+(?:p|第)?\d+页?$", re.IGNORECASE)
_IMPORT_NAMESPACE = uuid.UUID("5f0c2d6e-9a41-4b7e-8c3d-1e2f3a4b5c6d")


# --- the catalogue ----------------------------------------------------------------------------------------


def cell_text(value: Any) -> str:
    """A catalogue cell as the text the mapping file reads: dates as YYYY-MM-DD (with the time only when it
    has one), whole numbers without `.0`, nothing as empty."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d") if value.time() == datetime.min.time() else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_catalogue(path: Path) -> list[dict[str, str]]:
    """The catalogue's rows, by the headings of its first row: xlsx (first sheet, via openpyxl) or CSV
    (UTF-8, with or without BOM). Empty rows are left out."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        import openpyxl

        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
        try:
            lines: Iterable[tuple[Any, ...]] = list(book.worksheets[0].iter_rows(values_only=True))
        finally:
            book.close()
    elif path.suffix.lower() == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as fh:
            lines = [tuple(line) for line in csv.reader(fh)]
    else:
        raise ValueError(f"{path}: a catalogue is .xlsx or .csv, not {path.suffix or 'no extension'}")
    rows = iter(lines)
    headings = [cell_text(h) for h in next(rows, ())]
    if not any(headings):
        raise ValueError(f"{path}: the first row must hold the column headings")
    out = []
    for line in rows:
        values = [cell_text(v) for v in line]
        if any(values):
            out.append({h: (values[i] if i < len(values) else "") for i, h in enumerate(headings) if h})
    return out


# --- the scans of a case --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scan:
    path: Path
    material_name: str
    media_type: str
    size: int
    sha256: str
    pages: int | None


def material_name(file_name: str) -> str:
    """`03-准予设立登记通知书.pdf` → 准予设立登记通知书; `02-申请书-p2.jpg` → 申请书 (order and page removed)."""
    stem = Path(file_name).stem
    stem = _PAGE_SUFFIX.sub("", _ORDER_PREFIX.sub("", stem)).strip()
    return stem or Path(file_name).stem


def page_count(data: bytes, media_type: str) -> int | None:
    """Pages of a PDF or a (multi-page) TIFF; a JPEG is one page."""
    if media_type == "application/pdf":
        from pypdf import PdfReader

        return len(PdfReader(io.BytesIO(data)).pages)
    if media_type == "image/tiff":
        from PIL import Image

        with Image.open(io.BytesIO(data)) as im:
            return int(getattr(im, "n_frames", 1))
    if media_type == "image/jpeg":
        return 1
    return None


def case_scans(folder: Path) -> list[tuple[Scan, bytes]]:
    """The scan files of a case's folder in name order (the order of the paper case), with their bytes."""
    scans = []
    for path in sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in SCAN_EXTENSIONS):
        data = path.read_bytes()
        media_type = TRANSFORMS["media_type_from_name"](path.name)
        try:
            pages = page_count(data, media_type)
        except Exception:  # an unreadable file is declared without pages: validation says what is wrong
            pages = None
        scan = Scan(path, material_name(path.name), media_type, len(data), digests_of(data).sha256, pages)
        scans.append((scan, data))
    return scans


def upload_key(scan: Scan) -> str:
    return f"{UPLOAD_PREFIX}{scan.sha256}{scan.path.suffix.lower()}"


# --- pacing ---------------------------------------------------------------------------------------------


class TokenBucket:
    """At most `rate` acquisitions a second on average, bursts of up to `burst`. `clock` and `sleep` are
    injectable so that tests need not wait."""

    def __init__(
        self,
        rate: float,
        burst: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("the rate must be positive (cases per second)")
        self.rate, self.capacity = rate, max(1.0, burst)
        self.clock, self.sleep = clock, sleep
        self.tokens = self.capacity
        self.updated = clock()

    async def acquire(self) -> None:
        while True:
            now = self.clock()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return
            await self.sleep((1 - self.tokens) / self.rate)


# --- one row --------------------------------------------------------------------------------------------


@dataclass
class RowResult:
    """One line of the report."""

    row: int  # the catalogue's row number (the heading is row 1)
    case_number: str
    legacy_archival_code: str
    case_key: str = ""
    outcome: str = "pending"  # archived | rejected | dead-letter | pending
    archival_code: str = ""
    this_run: str = ""  # sent | skipped (already archived) | not sent (…)
    codes: list[str] = field(default_factory=list)
    reasons_en: list[str] = field(default_factory=list)
    reasons_zh: list[str] = field(default_factory=list)


REPORT_COLUMNS = (
    "row",
    "case_number",
    "legacy_archival_code",
    "case_key",
    "outcome",
    "archival_code",
    "this_run",
    "codes",
    "reasons_en",
    "reasons_zh",
)


def write_report(results: Iterable[RowResult], out: IO[str]) -> None:
    writer = csv.writer(out)
    writer.writerow(REPORT_COLUMNS)
    for r in sorted(results, key=lambda r: r.row):
        writer.writerow(
            [
                r.row,
                r.case_number,
                r.legacy_archival_code,
                r.case_key,
                r.outcome,
                r.archival_code,
                r.this_run,
                " | ".join(r.codes),
                " | ".join(r.reasons_en),
                " | ".join(r.reasons_zh),
            ]
        )


def apply_outcomes(results: Iterable[RowResult], outcomes: Outcomes) -> None:
    """Fill in what the pipeline said about each sent row."""
    for r in results:
        if r.this_run != "sent":
            continue
        if r.case_key in outcomes.archived:
            r.outcome = "archived"
            r.archival_code = outcomes.archived[r.case_key]["data"]["classification"]["archival_code"]
        elif r.case_key in outcomes.rejected:
            r.outcome = "rejected"
            for failure in outcomes.rejected[r.case_key]["data"]["failures"]:
                r.codes.append(failure["code"])
                r.reasons_en.append(failure.get("reason_en") or "")
                r.reasons_zh.append(failure.get("reason_zh") or "")
        elif r.case_key in outcomes.dead_lettered:
            data = outcomes.dead_lettered[r.case_key]["data"]
            r.outcome = "dead-letter"
            r.codes.append(data.get("error_type", ""))
            r.reasons_en.append(data.get("reason", ""))


def local_rejection(result: RowResult, code: str, en: str, zh: str) -> None:
    """A row the importer cannot send (nothing to archive): reported as rejected, with its reason."""
    result.outcome, result.this_run = "rejected", "not sent"
    result.codes.append(code)
    result.reasons_en.append(en)
    result.reasons_zh.append(zh)


def event_for(payload: dict[str, Any], identity: CaseIdentity, run_id: str, secret: str) -> dict[str, Any]:
    """The row as a signed approval.completed.v1 of the import platform. A new event id for every run: a
    retried row carries new URLs, and capture refuses one id with other content (AUTH-EVENT-ID-REUSED);
    the case key, not the event id, is what makes archiving it twice impossible."""
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid5(_IMPORT_NAMESPACE, f"{run_id}|{identity.case_key}")),
        "source": f"urn:approval-platform:{identity.source_platform}",
        "type": topics.APPROVAL_COMPLETED,
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        "subject": identity.case_key,
        "correlationid": f"import-{run_id}-row{payload['row_number']}",
        "data": payload,
    }
    return signed(event, secret)


# --- the run --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportOptions:
    directory: Path
    catalogue: Path
    dialect: str = DEFAULT_DIALECT
    rate: float = DEFAULT_RATE
    burst: float = 4.0
    wait_seconds: float = 600.0  # for the outcomes after the last row was sent
    progress: IO[str] | None = None  # where the progress bar is drawn (None: stderr)
    progress_disable: bool = False


async def archived_codes(settings: ArchiveSettings, case_keys: list[str]) -> dict[str, str]:
    """The case keys already in the index, with their archival codes."""
    conn = await asyncpg.connect(settings.pg_dsn())
    try:
        rows = await conn.fetch("SELECT case_key, archival_code FROM records WHERE case_key = ANY($1)", case_keys)
    finally:
        await conn.close()
    return {r["case_key"]: r["archival_code"] for r in rows}


def _folder_column(dialect: Dialect) -> str:
    section = dialect.spec.get("import") or {}
    column = section.get("folder_column") if isinstance(section, Mapping) else None
    if not column:
        raise ValueError(f"mapping {dialect.name!r} has no `import: {{folder_column: …}}`: it is not an import mapping")
    return str(column)


async def run_import(
    settings: ArchiveSettings, options: ImportOptions, dialects: Mapping[str, Dialect]
) -> list[RowResult]:
    """Import the catalogue's rows; returns one result per row (the report's lines)."""
    from tqdm import tqdm

    dialect = dialects.get(options.dialect)
    if dialect is None:
        raise ValueError(f"unknown mapping {options.dialect!r}; known: {', '.join(sorted(dialects))}")
    folder_column = _folder_column(dialect)
    rows = read_catalogue(options.catalogue)
    secret = (await ensure_platforms(settings, {PLATFORM: (PLATFORM_NAME, dialect.name)}))[PLATFORM]
    legacy_rule = dialect.spec["record"].get("legacy", {}).get("archival_code", {})
    legacy_column = str(legacy_rule.get("path", "")).removeprefix("row.")

    results: list[RowResult] = []
    identities: dict[int, CaseIdentity] = {}
    seen_keys: dict[str, int] = {}
    for n, row in enumerate(rows, start=2):
        identity = dialect.identity({"row": row}, PLATFORM)
        result = RowResult(n, identity.case_number if identity else "", row.get(legacy_column, ""))
        results.append(result)
        if identity is None:
            local_rejection(
                result,
                "IMPORT-ROW-IDENTITY",
                "the row gives no case number (or an invalid revision): fill it in and import again",
                "该行缺少办件编号（或版本号无效），请补全后重新导入。",
            )
            continue
        result.case_key = identity.case_key
        if identity.case_key in seen_keys:
            local_rejection(
                result,
                "IMPORT-ROW-DUPLICATE",
                f"row {seen_keys[identity.case_key]} already names case {identity.case_key}: one row per case",
                f"第 {seen_keys[identity.case_key]} 行已是同一案卷（{identity.case_key}），每个案卷只能占一行。",
            )
            continue
        seen_keys[identity.case_key] = n
        identities[n] = identity

    already = await archived_codes(settings, [i.case_key for i in identities.values()])
    to_send = []
    for result in results:
        if result.row not in identities:
            continue
        if result.case_key in already:
            result.outcome, result.archival_code = "archived", already[result.case_key]
            result.this_run = "skipped (already archived)"
        else:
            to_send.append(result)

    run_id = uuid.uuid4().hex[:12]
    started = datetime.now(UTC)
    store = MinioObjectStore.from_settings(settings)
    await store.ensure_bucket(settings.staging_bucket)
    bucket = TokenBucket(options.rate, options.burst)
    bar = tqdm(
        total=len(to_send),
        unit="case",
        desc="import",
        file=options.progress,
        disable=options.progress_disable,
        dynamic_ncols=True,
        smoothing=0.1,
    )
    sent_keys: set[str] = set()
    unsent = [0]  # rows found unsendable while sending: done, as far as the bar is concerned
    all_sent = asyncio.Event()

    async def send_all() -> None:
        async with KafkaPublisher(settings) as publisher:
            pending = []
            for result in to_send:
                row = rows[result.row - 2]
                folder = options.directory / row.get(folder_column, "")
                if not row.get(folder_column) or not folder.is_dir():
                    local_rejection(
                        result,
                        "IMPORT-NO-SCANS",
                        f"no folder of scans {row.get(folder_column)!r} under {options.directory}",
                        f"在 {options.directory} 下找不到扫描件文件夹“{row.get(folder_column)}”。",
                    )
                    unsent[0] += 1
                    bar.update(1)
                    continue
                scans = await asyncio.to_thread(case_scans, folder)
                if not scans:
                    local_rejection(
                        result,
                        "IMPORT-NO-SCANS",
                        f"folder {folder} holds no scan (PDF, TIFF or JPEG)",
                        f"文件夹 {folder} 中没有扫描件（PDF、TIFF 或 JPEG）。",
                    )
                    unsent[0] += 1
                    bar.update(1)
                    continue
                payload = {
                    "catalogue": options.catalogue.name,
                    "row_number": result.row,
                    "row": row,
                    "scans": [await _staged(store, settings.staging_bucket, s, d) for s, d in scans],
                }
                await bucket.acquire()
                event = event_for(payload, identities[result.row], run_id, secret)
                pending.append(
                    await publisher.send(
                        settings.topic(topics.APPROVAL_COMPLETED),
                        result.case_key.encode(),
                        _json(event),
                    )
                )
                result.this_run = "sent"
                sent_keys.add(result.case_key)
            for fut in pending:
                await fut
        all_sent.set()

    def progress(done: int, _total: int) -> None:
        if done + unsent[0] > bar.n:  # through update(), so that tqdm's smoothed rate and ETA follow
            bar.update(done + unsent[0] - bar.n)

    outcomes = Outcomes(expected=set())
    sender = asyncio.create_task(send_all())
    try:
        expected = {r.case_key for r in to_send}
        budget = len(to_send) / options.rate + options.wait_seconds
        # Every row that can be sent is awaited; rows the importer could not send drop out when known.
        outcomes = await _await_sent(
            settings, expected, sent_keys, all_sent, budget, started, progress, stop=sender.done
        )
        await sender  # raises what stopped the sending, if anything did
    finally:
        if not sender.done():
            sender.cancel()
        bar.close()
    apply_outcomes(results, outcomes)
    return results


async def _await_sent(
    settings: ArchiveSettings,
    expected: set[str],
    sent_keys: set[str],
    all_sent: asyncio.Event,
    timeout: float,
    since: datetime,
    progress: Callable[[int, int], None],
    *,
    stop: Callable[[], bool],
) -> Outcomes:
    """The outcomes of the rows sent this run. Rows found unsendable while sending are dropped from the
    wait once sending has finished (until then a row may still be on its way); if the sending stopped
    before the end (`stop()` true, `all_sent` not set: it failed), nothing more is awaited."""
    if not expected:
        return Outcomes(expected=set(), complete=True)

    def narrowed(outcomes: Outcomes) -> bool:
        if stop() and not all_sent.is_set():
            return True
        if all_sent.is_set():
            outcomes.expected &= sent_keys
        return not outcomes.pending

    return await await_outcomes(settings, expected, timeout, progress=progress, since=since, done=narrowed)


async def _staged(store: MinioObjectStore, bucket: str, scan: Scan, data: bytes) -> dict[str, Any]:
    """Stage one scan (once: its key is its digest) and describe it for the mapping file."""
    key = upload_key(scan)
    if await store.stat(bucket, key) is None:
        await store.put_bytes(bucket, key, data, content_type=scan.media_type, metadata={"sha256": scan.sha256})
    described: dict[str, Any] = {
        "name": scan.material_name,
        "file_name": scan.path.name,
        "media_type": scan.media_type,
        "size": scan.size,
        "sha256": scan.sha256,
        "url": await store.presigned_get_url(bucket, key, URL_VALIDITY),
    }
    if scan.pages is not None:
        described["pages"] = scan.pages
    return described


def _json(event: dict[str, Any]) -> bytes:
    import json

    return json.dumps(event, ensure_ascii=False).encode("utf-8")
