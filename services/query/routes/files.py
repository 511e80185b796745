"""File download: the file's bytes, read with one ranged GET from its package object and verified on the
way out.

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
from datetime import UTC, datetime
from typing import Annotated, Any
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
AGENT = "urn:approval-archive:query#download"
WHAT_TO_DO = (
    "run `archivectl fixity audit --all` to check every package (it publishes archive.fixity.failed.v1 for "
    "each damaged one), then restore the damaged package from a replica"
)


class DownloadAborted(Exception):
    """The bytes did not verify; raised from the body so the server breaks off the response."""


def content_disposition(file_name: str) -> str:
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else "_" for c in file_name) or "file"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='')}"


def repr_digest(sha256_hex: str) -> str:
    return f"sha-256=:{base64.b64encode(bytes.fromhex(sha256_hex)).decode()}:"


def _source(record: dict[str, Any], file: dict[str, Any]) -> tuple[str, str, str | None, int]:
    """(bucket, key, version id, offset): the package object and the file's place in it; a record of the
    earlier prefix layout keeps each file as an object of its own."""
    if record["package_key"] and file["byte_offset"] is not None:
        return record["package_bucket"], record["package_key"], record["package_version_id"], file["byte_offset"]
    return record["package_bucket"], file["object_key"], None, 0


async def _record_failure(
    request: Request,
    record: dict[str, Any],
    file: dict[str, Any],
    bucket: str,
    key: str,
    version_id: str | None,
    reason: str,
    computed: str | None,
) -> None:
    queries: PgQueryStore = request.app.state.queries
    await queries.record_fixity_check(
        {
            "case_key": record["case_key"],
            "package_bucket": bucket,
            "package_key": key,
            "version_id": version_id,
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
    log.error(
        f"file {file['seq']} of {record['case_key']} failed verification while being downloaded, so the download "
        f"was aborted: {reason}. {WHAT_TO_DO}",
        extra={"case_key": record["case_key"], "package_key": key, "seq": file["seq"]},
    )


async def open_verified(request: Request, record: dict[str, Any], file: dict[str, Any]) -> AsyncIterator[bytes]:
    """The file's bytes, read with one ranged GET from its package and verified on the way: the read is
    opened here (an object store that refuses answers 502, one that does not answer 503, before any byte),
    and the returned chunks end by raising DownloadAborted — after recording the failed fixity check — when
    the bytes are short or their SHA-256 is not the one recorded at archiving. The last chunk is held back
    until the digest is known."""
    case_key, seq = record["case_key"], file["seq"]
    bucket, key, version_id, offset = _source(record, file)
    read = request.app.state.store.ranged_read(
        bucket, key, offset=offset, length=file["size"], version_id=version_id, chunk_size=CHUNK
    )
    try:
        await read.open()
    except ObjectUnreadable as exc:
        await read.close()
        refusal = f"the object store refused the read: {exc.detail}"
        await _record_failure(request, record, file, bucket, key, version_id, refusal, None)
        raise HTTPException(
            502, f"file {seq} of {case_key} cannot be read from the archive: {refusal}; the archive centre is alerted"
        ) from exc
    except Exception as exc:
        await read.close()
        log.warning("the object store does not answer", extra={"case_key": case_key, "error": str(exc)})
        raise HTTPException(503, "the object store does not answer; try again later") from exc

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
            await _record_failure(request, record, file, bucket, key, version_id, problem, computed)
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
