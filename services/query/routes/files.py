"""File download: the file's bytes, read with one ranged GET from its package object and verified on the
way out — from the primary copy, or from the replica when the primary fails (docs/packages.md "Two
copies").

A file up to `IN_MEMORY_BYTES` is read whole and verified BEFORE the response starts: when one copy is
unreachable, refused or fails its digest, that failure is recorded and the next copy is read, so the
client gets verified bytes as long as one copy is intact. A larger file is streamed from the first copy
that opens (the primary unless it is refused or unreachable); a digest failure found at its end cannot
be taken back, and aborts the response as below.

The response carries the digests recorded at archiving (`Repr-Digest: sha-256=:…:` and `X-Archive-SM3`)
and its exact length. SHA-256 is computed over the bytes as they stream; the last chunk is held back
until the digest is known. When the bytes do not match — or the object store refuses or breaks off the
read — the response is aborted (the client sees a connection closed before Content-Length bytes, never
a clean end of body), a failed fixity check is recorded, an audit row says so, the fixity alert counter
goes up and the log says what to do. docs/query.md explains how a client verifies a download.

A page image (`…/preview`, the record page's thumbnails) reads the file through the same verified read,
renders only bytes that matched, and keeps the image in a cache keyed by the file's SHA-256.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, NoReturn
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response, StreamingResponse

from services.common import metrics
from services.common.adapters.object_store import ObjectUnreadable
from services.query.access import Caller, Permission
from services.query.adapters.preview_cache import PreviewCache
from services.query.adapters.query_store import PgQueryStore
from services.query.auth import audit_now, note, require
from services.query.previews import NoPreview, clamp_width, image_media_type, previewable, render_page
from services.query.routes.records import record_in_scope

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/v1/records", tags=["records"])

CHUNK = 64 * 1024
IN_MEMORY_BYTES = 32 * 1024 * 1024  # verified before sending, with fallback to the other copy
AGENT = "urn:approval-archive:query#download"
WHAT_TO_DO = (
    "run `archivectl fixity repair` to check every copy and rewrite a damaged copy from the intact one (it "
    "publishes archive.fixity.failed.v1 for each damaged copy, and raises the loss alarm if none is intact)"
)


class DownloadAborted(Exception):
    """The bytes did not verify; raised from the body so the server breaks off the response."""


def content_disposition(file_name: str) -> str:
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in file_name) or "file"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='')}"


def repr_digest(sha256_hex: str) -> str:
    return f"sha-256=:{base64.b64encode(bytes.fromhex(sha256_hex)).decode()}:"


@dataclass(frozen=True)
class Source:
    """One copy of the file: the site, its store, the package object, and the file's place in it."""

    copy: str
    store: Any
    bucket: str
    key: str
    version_id: str | None
    offset: int


def _sources(request: Request, record: dict[str, Any], file: dict[str, Any]) -> list[Source]:
    """The copies to read, primary first; a record of the earlier prefix layout keeps each file as an
    object of its own, on the primary only."""
    store, replica = request.app.state.store, getattr(request.app.state, "replica_store", None)
    if not (record["package_key"] and file["byte_offset"] is not None):
        return [Source("primary", store, record["package_bucket"], file["object_key"], None, 0)]
    at = (record["package_bucket"], record["package_key"])
    found = [Source("primary", store, *at, record["package_version_id"], file["byte_offset"])]
    if replica is not None and record.get("replica_version_id"):
        found.append(Source("replica", replica, *at, record["replica_version_id"], file["byte_offset"]))
    return found


async def _record_failure(
    request: Request,
    record: dict[str, Any],
    file: dict[str, Any],
    source: Source,
    reason: str,
    computed: str | None,
    *,
    fallback: bool = False,
) -> None:
    queries: PgQueryStore = request.app.state.queries
    await queries.record_fixity_check(
        {
            "case_key": record["case_key"],
            "package_bucket": source.bucket,
            "package_key": source.key,
            "version_id": source.version_id,
            "copy": source.copy,
            "checked_at": datetime.now(UTC),
            "outcome": "fail",
            "reason": reason,
            "expected_sha256": file["sha256"],
            "computed_sha256": computed,
            "failed_paths": [file["path_in_package"] or file["file_name"]],
            "agent": AGENT,
        }
    )
    metrics.FIXITY_FAILURES.inc()  # the alert counter the fixity audit raises too
    outcome = "the other copy is read instead" if fallback else "so the download was aborted"
    log.error(
        f"the {source.copy} copy of file {file['seq']} of {record['case_key']} failed verification while being "
        f"downloaded, {outcome}: {reason}. {WHAT_TO_DO}",
        extra={"case_key": record["case_key"], "package_key": source.key, "seq": file["seq"], "copy": source.copy},
    )


async def open_verified(request: Request, record: dict[str, Any], file: dict[str, Any]) -> AsyncIterator[bytes]:
    """The file's bytes, verified, from the first copy that gives them (docs/packages.md "Two copies").

    A file up to IN_MEMORY_BYTES is read whole from one copy after another until one verifies, before any
    byte is returned. A larger one is read with one ranged GET from the first copy that opens (a refusing
    store is recorded and the next copy tried; 502 when every copy refuses, 503 when no site answers), and
    the returned chunks end by raising DownloadAborted — after recording the failed fixity check — when
    the bytes are short or their SHA-256 is not the one recorded at archiving. The last chunk is held back
    until the digest is known."""
    case_key, seq = record["case_key"], file["seq"]
    sources = _sources(request, record, file)
    if file["size"] <= IN_MEMORY_BYTES:
        data = await _verified_whole(request, record, file, sources)

        async def whole() -> AsyncIterator[bytes]:
            yield data

        return whole()
    source, read = await _open_first(request, record, file, sources)

    expected = file["sha256"]

    async def body() -> AsyncIterator[bytes]:
        hasher = hashlib.sha256()
        received = 0
        held: bytes | None = None
        problem: str | None = None
        try:
            while (chunk := await read.next_chunk()) is not None:
                hasher.update(chunk)
                received += len(chunk)
                if held is not None:
                    yield held
                held = chunk
        except ObjectUnreadable as exc:
            problem = f"the object store broke off the read after {received} bytes: {exc.detail}"
        finally:
            await read.close()
        computed = hasher.hexdigest()
        if problem is None and received != file["size"]:
            problem = f"{received} bytes read, {file['size']} recorded at archiving"
        if problem is None and computed != expected:
            problem = f"SHA-256 of the bytes read is {computed}, {expected} was recorded at archiving"
        if problem is not None:
            await _record_failure(request, record, file, source, problem, computed)
            await audit_now(request, 500, outcome="aborted", reason=problem)
            raise DownloadAborted(f"file {seq} of {case_key} failed verification: {problem}")
        if held is not None:
            yield held

    return body()


async def _file_in_scope(request: Request, caller: Caller, case_key: str, seq: int) -> tuple[dict, dict]:
    record = await record_in_scope(request, caller, case_key)
    queries: PgQueryStore = request.app.state.queries
    file = await queries.file(case_key, seq)
    if file is None:
        raise HTTPException(404, f"record {case_key} has no file {seq} (its detail lists the files)")
    return record, file


@router.get(
    "/{case_key:path}/files/{seq:int}",
    summary="A file's bytes, streamed from its package and verified against its SHA-256 on the way out",
    response_class=StreamingResponse,
)
async def download(
    request: Request,
    case_key: str,
    seq: int,
    caller: Annotated[Caller, Depends(require(Permission.FILES_DOWNLOAD))],
) -> StreamingResponse:
    record, file = await _file_in_scope(request, caller, case_key, seq)
    note(request, seq=seq, file_name=file["file_name"], size=file["size"])
    body = await open_verified(request, record, file)
    headers = {
        "Content-Length": str(file["size"]),
        "Content-Disposition": content_disposition(file["original_file_name"] or file["file_name"]),
        "Repr-Digest": repr_digest(file["sha256"]),
        "Cache-Control": "no-store",
    }
    if file.get("sm3"):
        headers["X-Archive-SM3"] = file["sm3"]
    return StreamingResponse(body, media_type=file["media_type"], headers=headers)


@router.get(
    "/{case_key:path}/files/{seq:int}/preview",
    summary="One page of a PDF (PNG) or scan (JPEG) as an image, rendered on the server from the verified bytes",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}}}},
)
async def preview(
    request: Request,
    case_key: str,
    seq: int,
    caller: Annotated[Caller, Depends(require(Permission.FILES_DOWNLOAD))],
    page: Annotated[int, Query(ge=1, le=100_000, description="Page (1-based)")] = 1,
    width: Annotated[int | None, Query(description="Image width in pixels (80–1600, default 480)")] = None,
) -> Response:
    # A page image shows the file's content, so it needs what a download needs (files.download).
    record, file = await _file_in_scope(request, caller, case_key, seq)
    shown_width = clamp_width(width)
    note(request, seq=seq, page=page, width=shown_width)
    if not previewable(file["media_type"]):
        raise HTTPException(422, f"file {seq} of {case_key} ({file['media_type']}) has no page images; download it")
    settings = request.app.state.settings
    cache = PreviewCache(settings.preview_cache_dir, settings.preview_cache_max_bytes)
    cached = await cache.get(file["sha256"], page, shown_width)
    if cached is None:
        if file["size"] > settings.preview_max_file_bytes:
            raise HTTPException(
                413, f"file {seq} of {case_key} is {file['size']} bytes, above the preview limit; download it"
            )
        body = await open_verified(request, record, file)
        try:
            data = b"".join([chunk async for chunk in body])
        except DownloadAborted as exc:
            raise HTTPException(502, f"{exc}; nothing is shown, and the archive centre is alerted") from exc
        try:
            image = await asyncio.to_thread(render_page, data, file["media_type"], page, shown_width)
        except NoPreview as exc:
            raise HTTPException(422, f"file {seq} of {case_key}: {exc}") from exc
        await cache.put(file["sha256"], page, shown_width, image.data, image.pages)
        cached = (image.data, image.pages)
    data, pages = cached
    # The image is derived from bytes of a known digest: a browser may keep it for the session.
    headers = {"X-Page-Count": str(pages), "Cache-Control": "private, max-age=3600"}
    return Response(data, media_type=image_media_type(data), headers=headers)


def _ranged(source: Source, file: dict[str, Any]) -> Any:
    return source.store.ranged_read(
        source.bucket,
        source.key,
        offset=source.offset,
        length=file["size"],
        version_id=source.version_id,
        chunk_size=CHUNK,
    )


async def _open_first(
    request: Request, record: dict[str, Any], file: dict[str, Any], sources: list[Source]
) -> tuple[Source, Any]:
    """The first copy whose read opens: a refused copy is recorded as a failed check, an unreachable site
    skipped; 502 when every copy is refused, 503 when no site answers."""
    refusals: list[str] = []
    for source in sources:
        read = _ranged(source, file)
        try:
            await read.open()
            return source, read
        except ObjectUnreadable as exc:
            await read.close()
            refusal = f"the object store refused the read of the {source.copy} copy: {exc.detail}"
            await _record_failure(request, record, file, source, refusal, None, fallback=source is not sources[-1])
            refusals.append(refusal)
        except Exception as exc:
            await read.close()
            log.warning(
                f"the {source.copy} site does not answer",
                extra={"case_key": record["case_key"], "error": str(exc), "copy": source.copy},
            )
    _give_up(record, file, refusals)


def _give_up(record: dict[str, Any], file: dict[str, Any], refusals: list[str]) -> NoReturn:
    if refusals:
        raise HTTPException(
            502,
            f"file {file['seq']} of {record['case_key']} cannot be read from the archive: {'; '.join(refusals)}; "
            "the archive centre is alerted",
        )
    raise HTTPException(503, "the object store does not answer; try again later")


async def _verified_whole(
    request: Request, record: dict[str, Any], file: dict[str, Any], sources: list[Source]
) -> bytes:
    """Read the whole file from one copy after another until one verifies (size and SHA-256)."""
    refusals: list[str] = []
    for n, source in enumerate(sources):
        fallback = n < len(sources) - 1
        read = _ranged(source, file)
        chunks: list[bytes] = []
        problem: str | None = None
        try:
            await read.open()
            while (chunk := await read.next_chunk()) is not None:
                chunks.append(chunk)
        except ObjectUnreadable as exc:
            problem = f"the object store refused the read of the {source.copy} copy: {exc.detail}"
        except Exception as exc:
            log.warning(
                f"the {source.copy} site does not answer",
                extra={"case_key": record["case_key"], "error": str(exc), "copy": source.copy},
            )
            continue
        finally:
            await read.close()
        data = b"".join(chunks)
        computed = hashlib.sha256(data).hexdigest() if problem is None else None
        if problem is None and len(data) != file["size"]:
            problem = f"{len(data)} bytes read from the {source.copy} copy, {file['size']} recorded at archiving"
        if problem is None and computed != file["sha256"]:
            problem = (
                f"SHA-256 of the bytes read from the {source.copy} copy is {computed}, {file['sha256']} was recorded "
                "at archiving"
            )
        if problem is None:
            if n:
                note(request, served_from=source.copy)
            return data
        await _record_failure(request, record, file, source, problem, computed, fallback=fallback)
        refusals.append(problem)
    _give_up(record, file, refusals)
