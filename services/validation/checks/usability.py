"""Usability (可用性): the file can be read for as long as it is kept — not empty, an archival format,
not a zip bomb, not encrypted, really opens, and scanned well enough to read."""

from __future__ import annotations

from contracts.v1 import Property
from services.validation.checks.engine import (
    SCANS_AND_DOCUMENTS,
    SELF_ENCRYPTING,
    ZIP_PACKAGES,
    CaseEvidence,
    Condition,
    FileEvidence,
    Finding,
    check,
    fail,
    fail_on,
    ok,
    skip,
    unmeasurable,
)
from services.validation.formats import ARCHIVAL_FORMATS, MEDIA_FORMATS, RASTER_FORMATS, Format, ImageFacts
from services.validation.rules import ItemRules

US = Property.USABILITY


@check(
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


@check(
    "USAB-FORMAT",
    US,
    examines="The format, identified from the content and not the name — by PRONOM (FIDO; the PUID is "
    "recorded) and by signature — is an accepted archival format: PDF, OFD, JPEG, PNG, TIFF, JPEG 2000, MP3, "
    "WAV or MP4 (the item's accepted PUIDs; OFD, which has no PUID, by its signature).",
    examines_zh="按内容（而非文件名）识别的格式——PRONOM（FIDO，记录 PUID）及文件签名——属于可归档格式："
    "PDF、OFD、JPEG、PNG、"
    "TIFF、JPEG 2000、MP3、WAV、MP4（事项接受的 PUID；无 PUID 的 OFD 按文件签名）。",
    reason_zh="文件“{file}”不是可归档格式（识别为 {actual}），请转换为 PDF、OFD 或标准图像、音视频格式后重新提交。",
    reason_en="'{file}' is not in an accepted archival format (identified as {actual}); convert it to PDF, OFD "
    "or a standard image, audio or video format and resubmit.",
    basis="DA/T 70-2018 usability: accepted archival formats",
)
def format_accepted(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    if ev.size == 0:
        return skip("the file is empty", decided_by="USAB-EMPTY")
    f = ev.facts
    pronom = {"puid": f.puid or "none", "pronom": f.pronom_name or "-"}
    if f.format not in ARCHIVAL_FORMATS:
        actual = f"{f.pronom_name} ({f.puid})" if f.puid else _NAMES.get(f.format, "unknown")
        return fail({"actual": actual}, identified=f.format.value, **pronom)
    if f.puid is not None and f.puid not in rules.accepted_puids:
        return fail({"actual": f"{f.pronom_name} ({f.puid})"}, identified=f.format.value, **pronom)
    # No PUID: PRONOM has none for the format (OFD) or none of its signatures matched; the signature decides.
    return ok(identified=f.format.value, **pronom)


_NAMES = {Format.ZIP: "ZIP", Format.QUICKTIME: "QuickTime", Format.HEIF: "HEIF (HEIC/AVIF)"}


@check(
    "USAB-ZIP-BOMB",
    US,
    examines="A zip-based package (OFD) stays within the limits on compression ratio, unpacked size and "
    "entry count; a zip bomb is refused unopened.",
    examines_zh="基于 zip 的文件包（OFD）的压缩比、解压后大小和条目数不超过限值；压缩炸弹拒绝解压。",
    reason_zh="文件“{file}”解压后体积异常（{why}），疑似压缩炸弹，已拒绝，请重新生成文件后提交。",
    reason_en="'{file}' would unpack to an abnormal size ({why}), like a zip bomb; it was refused — produce the "
    "file again and resubmit.",
    basis="DA/T 70-2018 usability: no zip bombs",
    kinds=ZIP_PACKAGES,
)
def no_zip_bomb(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    if ev.facts.zip_bomb:
        return fail_on(why=ev.facts.zip_bomb)
    return ok()


@check(
    "USAB-ENCRYPTED",
    US,
    examines="The file is not encrypted (PDF encryption, encrypted OFD entries).",
    examines_zh="文件未加密（PDF 加密、OFD 条目加密）。",
    reason_zh="文件“{file}”已加密，档案无法长期读取，请提交未加密的文件。",
    reason_en="'{file}' is encrypted, so the archive cannot keep it readable; resubmit it unencrypted.",
    basis="DA/T 70-2018 usability: no encryption",
    kinds=SELF_ENCRYPTING,
)
def not_encrypted(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    if ev.facts.zip_bomb:
        return skip("the package was refused unopened", decided_by="USAB-ZIP-BOMB")
    return fail() if ev.facts.encrypted else ok()


@check(
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
    gate = unmeasurable(ev)
    if gate:
        return gate
    if not ev.facts.opens:
        return fail({"error": ev.facts.open_error or "unknown error"}, error=ev.facts.open_error or "")
    return ok(pages=ev.facts.page_count if ev.facts.page_count is not None else "-")


def _scans(ev: FileEvidence) -> list[ImageFacts]:
    """The scanned pages of a file: the image itself, or the page scans drawn in a PDF or OFD."""
    f = ev.facts
    if f.format in RASTER_FORMATS:
        return [f.image] if f.image is not None else []
    return f.page_images


def _where(scan: ImageFacts) -> str:
    return f"page {scan.page}: " if scan.page is not None else ""


_NO_SCANS = "the document has no scanned pages (born digital)"


@check(
    "USAB-SCAN-DPI",
    US,
    examines="A scan has at least 200 dpi (300 dpi for the materials the item names): the resolution an image "
    "file records, or for a page scan inside a PDF or OFD its effective resolution — the image's pixels over "
    "the size it is drawn at on the page.",
    examines_zh="扫描件分辨率不低于 200 dpi（事项指定的材料不低于 300 dpi）：图像文件记录的分辨率；"
    "PDF、OFD 中的扫描页按有效分辨率（图像像素数 ÷ 页面上的绘制尺寸）。",
    reason_zh="扫描件“{file}”分辨率为 {dpi}，低于要求的 {min_dpi} dpi，请按要求重新扫描后提交。",
    reason_en="the scan '{file}' is {dpi}, below the required {min_dpi} dpi; scan it again and resubmit.",
    basis="DA/T 31-2017 scanning: at least 200 dpi, 300 dpi for small or unclear text",
    kinds=SCANS_AND_DOCUMENTS,
    needs_open=True,
)
def scan_resolution(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    scans = _scans(ev)
    if not scans:
        return skip(_NO_SCANS)
    minimum = rules.min_dpi(ev.file)
    unrecorded = next((s for s in scans if s.dpi is None), None)
    if unrecorded is not None:
        return fail({"dpi": "unrecorded", "min_dpi": f"{minimum:g}"}, dpi="unrecorded", min_dpi=minimum)
    low = min(scans, key=lambda s: s.dpi or 0.0)
    dpi = low.dpi or 0.0
    if dpi + 0.5 < minimum:
        params = {"dpi": f"{_where(low)}{dpi:g} dpi", "min_dpi": f"{minimum:g}"}
        return fail(params, dpi=dpi, min_dpi=minimum, page=low.page if low.page is not None else "-")
    return ok(dpi=dpi, scans=len(scans))


@check(
    "USAB-SCAN-BLUR",
    US,
    examines="A scan is sharp: the variance of its Laplacian over content tiles reaches the threshold — image "
    "files and the page scans inside PDFs and OFDs (the least sharp page decides).",
    examines_zh="扫描件清晰：内容区域的拉普拉斯方差达到阈值——图像文件及 PDF、OFD 中的扫描页（以最不清晰的一页为准）。",
    reason_zh="扫描件“{file}”模糊不清（清晰度 {score}，要求不低于 {threshold}），请重新扫描后提交。",
    reason_en="the scan '{file}' is blurred (sharpness {score}, at least {threshold} required); scan it again "
    "and resubmit.",
    basis="source paper: illegible copies (复印件不清晰); DA/T 31-2017",
    kinds=SCANS_AND_DOCUMENTS,
    needs_open=True,
)
def scan_sharpness(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    measured = [s for s in _scans(ev) if s.sharpness is not None]
    if not measured:
        return skip(_NO_SCANS)
    low = min(measured, key=lambda s: s.sharpness or 0.0)
    score, threshold = low.sharpness or 0.0, rules.thresholds.min_sharpness
    if score < threshold:
        params = {"score": f"{_where(low)}{score:.0f}", "threshold": f"{threshold:g}"}
        return fail(params, sharpness=round(score, 1), threshold=threshold, page=low.page or "-")
    return ok(sharpness=round(score, 1), scans=len(measured))


@check(
    "USAB-SCAN-COLOUR",
    US,
    examines="Materials that carry a seal or red letterhead (every material that must carry a seal, and the "
    "item's list) are in colour, measured from the content — the chroma of the scan or of each page scan in a "
    "PDF/OFD, not the image mode (a grey page saved as RGB is grey). A born-digital document on the list must "
    "paint something in colour.",
    examines_zh="带印章或红头的材料（所有须盖章的材料及事项配置的材料）为彩色，按内容（色度）判断而非图像模式"
    "（以 RGB 保存的灰度页仍为灰度）——扫描件及 PDF/OFD 中的每一扫描页；列入清单的原生电子文档须含彩色内容。",
    reason_zh="扫描件“{file}”带有印章或红头，须彩色扫描，当前为灰度/黑白（{mode}），请彩色重新扫描后提交。",
    reason_en="'{file}' carries a seal or red letterhead and must be scanned in colour; it is grey or black and "
    "white ({mode}) — scan it again in colour and resubmit.",
    basis="DA/T 31-2017: colour for pages with red letterheads, seals, photos or colour text",
    when=Condition(lambda ev, rules: rules.needs_colour(ev.file), "the item does not require colour for this material"),
    needs_open=True,
)
def scan_colour(ev: FileEvidence, case: CaseEvidence, rules: ItemRules) -> Finding:
    f = ev.facts
    seal = rules.needs_seal(ev.file)
    if f.format in MEDIA_FORMATS:
        if seal:
            return skip("audio and video carry no seal", decided_by="INTEG-SEAL-RED")
        return fail_on(mode=f"{f.format.value}: no image")
    scans = [s for s in _scans(ev) if s.colour is not None]  # the page scans that were decoded
    if not scans:
        if seal:  # born digital: whether the red seal is there is the seal check's question
            return skip(_NO_SCANS, decided_by="INTEG-SEAL-RED")
        if f.vector_colour or f.seals:
            return ok(vector_colour=True)
        return fail_on(mode="no colour in the document")
    grey = [s for s in scans if not s.colour]
    if grey:
        first = grey[0]
        return fail(
            {"mode": f"{_where(first)}{first.mode}, chroma {first.chroma or 0:g}"},
            mode=first.mode,
            chroma=first.chroma,
            page=first.page or "-",
            grey_pages=len(grey),
        )
    measured = scans
    return ok(mode=measured[0].mode, chroma=min(s.chroma or 0.0 for s in measured))
