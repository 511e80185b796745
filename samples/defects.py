"""A defect corpus for the four-property check: from valid generated cases, one defective variant per
check code, each with the exact set of check codes that must reject it (an empty set: it must pass).

`defect_corpus()` returns the variants that can be judged independently; `reuse_corpus()` the ones
that reuse a case number of the first batch and so must be submitted after it was validated.
Every variant has its own case number (`<base>-<variant>`), so the corpus can run beside other cases.

The EICAR test string is assembled from base64 at run time, so this file does not carry it literally
(as deploy/local/lib/clamav.sh does).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import io
import zipfile
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageDraw, ImageFilter

from contracts.v1.record import ApplicantType, IdType, Material, Stage, UnifiedApprovalRecord
from samples.documents import decision_pdf, pdf_page_count, scanned_page_jpeg
from samples.generator import generate_cases
from samples.signatures import append_page_content, change_ofd_page, declare_pdfa, sealed_ofd, signed_pdf
from services.common.digests import sm3_hex

CORPUS_SEED = 4242
_ORG_BASE, _PERSON_BASE = 5, 2  # transport: an organisation (sealed licence copy) and a person
_EICAR_B64 = "WDVPIVAlQEFQWzRcUFpYNTQoUF4pN0NDKTd9JEVJQ0FSLVNUQU5EQVJELUFOVElWSVJVUy1URVNULUZJTEUhJEgrSCo="


def eicar() -> bytes:
    return base64.b64decode(_EICAR_B64)


@dataclass(frozen=True)
class DefectCase:
    name: str
    record: UnifiedApprovalRecord
    expected: frozenset[str]  # check codes that must reject it; empty: it must pass
    note: str
    warns: frozenset[str] = frozenset()  # warn-severity codes expected on a passing case
    needs_declared_sm3: bool = False  # judged only where capture carries Material.sm3 on as declared_sm3
    needs_verapdf: bool = False  # judged only where validation reaches veraPDF (the running stack)


# --- building blocks ------------------------------------------------------------------------------------


def _data(m: Material) -> bytes:
    assert m.content_base64 is not None
    return base64.b64decode(m.content_base64)


def _material(m: Material, data: bytes, **overrides: Any) -> Material:
    fields = m.model_dump()
    fields.update(
        content_base64=base64.b64encode(data).decode("ascii"),
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        sm3=sm3_hex(data),
    )
    fields.update(overrides)
    return Material.model_validate(fields)


def _declared(record: UnifiedApprovalRecord, name: str, **overrides: Any) -> UnifiedApprovalRecord:
    """The record under its own case number, with SM3, file count and total bytes declared."""
    fields = record.model_dump()
    materials = [_material(m, _data(m)) if m.sm3 is None else m for m in record.materials]
    fields.update(
        case_number=f"{record.case_number}-{name}",
        materials=[m.model_dump() for m in materials],
    )
    fields.update(overrides)
    mats = [Material.model_validate(m) for m in fields["materials"]]
    fields.setdefault("file_count", None)
    if "file_count" not in overrides:
        fields["file_count"] = len(mats)
    if "total_bytes" not in overrides:
        fields["total_bytes"] = sum(len(_data(m)) for m in mats)
    return UnifiedApprovalRecord.model_validate(fields)


def _swap(record: UnifiedApprovalRecord, index: int, material: Material) -> list[dict[str, Any]]:
    mats = [m.model_dump() for m in record.materials]
    mats[index] = material.model_dump()
    return mats


def _index(record: UnifiedApprovalRecord, stage: Stage, suffix: str) -> int:
    return next(i for i, m in enumerate(record.materials) if m.stage is stage and m.file_name.endswith(suffix))


def _jpeg(image: Image.Image, dpi: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=70, dpi=(dpi, dpi))
    return buf.getvalue()


def encrypted_pdf(pdf: bytes) -> bytes:
    import pypdf

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(pdf)))
    writer.encrypt(user_password="", owner_password="owner-secret", algorithm="AES-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def javascript_pdf(pdf: bytes) -> bytes:
    import pypdf
    from pypdf.generic import DictionaryObject, NameObject, TextStringObject

    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(pdf)))
    action = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Action"),
            NameObject("/S"): NameObject("/JavaScript"),
            NameObject("/JS"): TextStringObject("app.alert('approval-archive test: active content');"),
        }
    )
    writer._root_object[NameObject("/OpenAction")] = writer._add_object(action)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


_OFD_NS = "http://www.ofdspec.org/2016"


def ofd_document(pages: int = 1, padding: bytes = b"") -> bytes:
    """A minimal OFD (GB/T 33190) package: OFD.xml → Doc_0/Document.xml with `pages` pages. `padding`
    adds a highly compressible member (used to build a zip bomb)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "OFD.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:OFD xmlns:ofd="{_OFD_NS}" Version="1.0" DocType="OFD">'
            "<ofd:DocBody><ofd:DocInfo><ofd:DocID>approval-archive-sample</ofd:DocID></ofd:DocInfo>"
            "<ofd:DocRoot>Doc_0/Document.xml</ofd:DocRoot></ofd:DocBody></ofd:OFD>",
        )
        page_list = "".join(f'<ofd:Page ID="{i + 2}" BaseLoc="Pages/Page_{i}/Content.xml"/>' for i in range(pages))
        z.writestr(
            "Doc_0/Document.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><ofd:Document xmlns:ofd="{_OFD_NS}">'
            "<ofd:CommonData><ofd:MaxUnitID>10</ofd:MaxUnitID><ofd:PageArea><ofd:PhysicalBox>0 0 210 297"
            f"</ofd:PhysicalBox></ofd:PageArea></ofd:CommonData><ofd:Pages>{page_list}</ofd:Pages></ofd:Document>",
        )
        for i in range(pages):
            z.writestr(
                f"Doc_0/Pages/Page_{i}/Content.xml",
                f'<?xml version="1.0" encoding="UTF-8"?><ofd:Page xmlns:ofd="{_OFD_NS}"><ofd:Content>'
                "<ofd:Layer ID='1'/></ofd:Content></ofd:Page>",
            )
        if padding:
            z.writestr("Doc_0/Res/padding.bin", padding)
    return buf.getvalue()


def wav_recording(seconds: float = 1.0, rate: int = 8000) -> bytes:
    import math
    import struct
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = b"".join(
            struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * i / rate))) for i in range(int(seconds * rate))
        )
        w.writeframes(frames)
    return buf.getvalue()


def tamper_signed(pdf: bytes) -> bytes:
    """Change one byte inside the signed range (the first page's content stream length stays equal)."""
    marker = b"/Producer"
    at = pdf.index(marker)
    return pdf[:at] + b"/Producfr" + pdf[at + len(marker) :]


def red_letterhead_scan(seed: int) -> bytes:
    """A colour scan at 200 dpi with a red letterhead — red title characters, a red rule, a small red ring
    as a letter "O" — and no seal: much red ink, nothing of a seal's shape or size."""
    with Image.open(io.BytesIO(scanned_page_jpeg(seed, dpi=200, colour=True, with_seal=False))) as im:
        page = im.convert("RGB")
    px, red = 200 / 25.4, (200, 30, 40)
    draw = ImageDraw.Draw(page)
    for i in range(9):
        x = int((30 + i * 17) * px)
        draw.rectangle((x, int(6 * px), x + int(12 * px), int(18 * px)), fill=red)
    draw.rectangle((int(20 * px), int(21 * px), int(190 * px), int(22.2 * px)), fill=red)
    draw.ellipse((int(185 * px), int(6 * px), int(197 * px), int(18 * px)), outline=red, width=int(1.5 * px))
    return _jpeg(page, 200)


def grey_as_rgb(jpeg: bytes) -> bytes:
    """A grey scan saved as an RGB JPEG: a colour mode, no colour."""
    with Image.open(io.BytesIO(jpeg)) as im:
        return _jpeg(im.convert("L").convert("RGB"), 200)


def scanned_pdf(jpeg: bytes, dpi: int = 200, blur: float = 0.0) -> bytes:
    """A scanned page as a PDF (Pillow: the JPEG drawn over a whole A4 page), resampled to `dpi`."""
    with Image.open(io.BytesIO(jpeg)) as im:
        page = im.convert("RGB")
        recorded = im.info.get("dpi", (200, 200))[0]
    if dpi != recorded:
        page = page.resize((round(page.width * dpi / recorded), round(page.height * dpi / recorded)))
    if blur:
        page = page.filter(ImageFilter.GaussianBlur(blur))
    buf = io.BytesIO()
    page.save(buf, "PDF", resolution=float(dpi), quality=70)
    return buf.getvalue()


def iso_bmff(major_brand: bytes) -> bytes:
    """An ISO-BMFF file of the given brand: ftyp, then an mdat of filler (HEIC, AVIF, QuickTime all start so)."""
    import struct

    ftyp = struct.pack(">I", 24) + b"ftyp" + major_brand + b"\0\0\0\0" + major_brand + b"isom"
    mdat = struct.pack(">I", 8 + 512) + b"mdat" + bytes(range(256)) * 2
    return ftyp + mdat


# --- the corpus -----------------------------------------------------------------------------------------


def _bases(seed: int) -> tuple[UnifiedApprovalRecord, UnifiedApprovalRecord]:
    cases = generate_cases(max(_ORG_BASE, _PERSON_BASE) + 1, seed=seed, wrong_digest_every=None)
    org, person = cases[_ORG_BASE].record, cases[_PERSON_BASE].record
    assert org.applicant.type is ApplicantType.ORGANISATION and org.applicant.id_type is IdType.USCC
    assert person.applicant.id_type is IdType.RESIDENT_ID
    return org, person


def defect_corpus(seed: int = CORPUS_SEED) -> list[DefectCase]:
    org, person = _bases(seed)
    form_i = _index(org, Stage.APPLICATION, ".pdf")
    scan_i = _index(org, Stage.APPLICATION, ".jpg")
    result_i = next(i for i, m in enumerate(org.materials) if m.stage is Stage.RESULT)
    form, scan, result = org.materials[form_i], org.materials[scan_i], org.materials[result_i]
    form_pdf, scan_jpeg = _data(form), _data(scan)
    out: list[DefectCase] = []

    def add(name: str, expected: set[str], note: str, base: UnifiedApprovalRecord = org, **kw: Any) -> None:
        extra = {k: kw.pop(k) for k in ("warns", "needs_declared_sm3", "needs_verapdf") if k in kw}
        out.append(DefectCase(name, _declared(base, name, **kw), frozenset(expected), note, **extra))

    add("valid-organisation", set(), "a valid case: must pass every reject-severity check")
    add("valid-person", set(), "a valid case of a person applicant", base=person)
    ofd = ofd_document(pages=2)
    wav = wav_recording()
    add(
        "valid-ofd-and-audio",
        set(),
        "valid OFD and WAV materials beside the usual ones",
        materials=[
            *(m.model_dump() for m in org.materials),
            _material(
                form,
                ofd,
                stage=Stage.PROCESS,
                material_name="审查记录",
                file_name="审查记录.ofd",
                media_type="application/ofd",
                page_count=2,
            ).model_dump(),
            _material(
                form,
                wav,
                stage=Stage.PROCESS,
                material_name="现场核查录音",
                file_name="现场核查录音.wav",
                media_type="audio/wav",
                page_count=None,
            ).model_dump(),
        ],
    )
    signed = signed_pdf(form_pdf)
    add(
        "valid-signed-pdf",
        set(),
        "a PAdES-signed application form that verifies, by a signer the samples CA (a trust anchor) issued",
        materials=_swap(org, form_i, _material(form, signed)),
    )
    add(
        "signature-untrusted-signer",
        set(),
        "a valid signature by a self-signed certificate no platform trusts: archived with a warning",
        materials=_swap(org, form_i, _material(form, signed_pdf(form_pdf, signer="self-signed"))),
        warns={"AUTH-SIGNER-TRUSTED"},
    )
    add(
        "pdfa-declared-not-conforming",
        set(),
        "an application form whose XMP declares PDF/A-1b without being PDF/A (veraPDF: fonts not embedded, "
        "no output intent): archived with a warning",
        materials=_swap(org, form_i, _material(form, declare_pdfa(form_pdf))),
        warns={"USAB-PDFA"},
        needs_verapdf=True,
    )
    sealed = sealed_ofd(ofd_document(pages=1))
    add(
        "ofd-result-sealed",
        set(),
        "an OFD result document with an electronic seal: present, not verified (a warning, never a pass)",
        materials=_swap(org, result_i, _ofd_result(result, sealed)),
        warns={"INTEG-SEAL-RED", "AUTH-OFD-SIGNATURE"},
    )
    add(
        "unsafe-file-name",
        set(),
        "a path in the file name: stored under a safe name, with a warning",
        warns={"AUTH-FILE-NAME"},
        materials=_swap(org, form_i, _material(form, form_pdf, file_name="../upload/" + form.file_name)),
    )

    # authenticity
    wrong = hashlib.sha256(form_pdf + b"altered").hexdigest()
    add(
        "wrong-sha256",
        {"AUTH-DIGEST-SHA256"},
        "declared SHA-256 differs",
        materials=_swap(org, form_i, _material(form, form_pdf, sha256=wrong)),
    )
    add(
        "wrong-sm3",
        {"AUTH-DIGEST-SM3"},
        "declared SM3 differs",
        needs_declared_sm3=True,
        materials=_swap(org, form_i, _material(form, form_pdf, sm3=sm3_hex(b"x"))),
    )
    add(
        "wrong-size",
        {"AUTH-SIZE"},
        "declared size differs",
        materials=_swap(org, form_i, _material(form, form_pdf, size=len(form_pdf) + 7)),
    )
    add(
        "format-mismatch",
        {"AUTH-FORMAT"},
        "a PDF declared as a JPEG image",
        materials=_swap(
            org,
            form_i,
            _material(form, form_pdf, media_type="image/jpeg", file_name=form.file_name.replace(".pdf", ".jpg")),
        ),
    )
    uscc = org.applicant.id_number
    bad_uscc = uscc[:-1] + ("0" if uscc[-1] != "0" else "1")
    add(
        "bad-uscc",
        {"AUTH-META-USCC"},
        "applicant USCC with a wrong check character",
        applicant={**org.applicant.model_dump(), "id_number": bad_uscc},
    )
    rid = person.applicant.id_number
    bad_rid = rid[:-1] + ("0" if rid[-1] != "0" else "1")
    add(
        "bad-resident-id",
        {"AUTH-META-RESIDENT-ID"},
        "applicant ID number with a wrong check character",
        base=person,
        applicant={**person.applicant.model_dump(), "id_number": bad_rid},
    )
    add("bad-region", {"AUTH-META-REGION"}, "a region code with no such province", region_code="990100")
    add(
        "enum-mismatch",
        {"AUTH-META-ENUM"},
        "an organisation identified by a resident ID",
        applicant={**org.applicant.model_dump(), "id_type": IdType.RESIDENT_ID},
    )
    future = org.completed_at + dt.timedelta(days=3 * 365)
    add("future-completion", {"AUTH-META-DATES"}, "completed years after capture", completed_at=future)

    # integrity
    add(
        "missing-result",
        {"INTEG-MATERIALS"},
        "the result document is missing",
        materials=[m.model_dump() for i, m in enumerate(org.materials) if i != result_i],
    )
    add(
        "missing-metadata",
        {"INTEG-META-REQUIRED"},
        "no legal representative for an organisation",
        legal_representative=None,
    )
    records = [r.model_dump() for r in org.process_records]
    records[1]["time"], records[2]["time"] = records[2]["time"], records[1]["time"]
    add("process-out-of-order", {"INTEG-PROCESS"}, "process records out of time order", process_records=records)
    add("wrong-file-count", {"INTEG-FILE-COUNT"}, "one file more declared than sent", file_count=len(org.materials) + 1)
    add(
        "wrong-page-count",
        {"INTEG-PAGE-COUNT"},
        "3 pages declared for a 1-page form",
        materials=_swap(org, form_i, _material(form, form_pdf, page_count=3)),
    )
    add(
        "result-unsealed",
        {"INTEG-SEAL-RED"},
        "a result document with no seal (the form in its place)",
        materials=_swap(org, result_i, _material(result, form_pdf, page_count=1)),
    )
    unsealed = scanned_page_jpeg(seed * 7 + 1, dpi=200, colour=True, with_seal=False)
    add(
        "scan-unsealed",
        {"INTEG-SEAL-RED"},
        "a colour licence copy without a seal",
        materials=_swap(org, scan_i, _material(scan, unsealed)),
    )

    # usability
    grey = scanned_page_jpeg(seed * 7 + 2, dpi=200, colour=False, with_seal=False)
    add(
        "scan-greyscale",
        {"USAB-SCAN-COLOUR"},
        "a licence copy (sealed) scanned in grey",
        materials=_swap(org, scan_i, _material(scan, grey)),
    )
    low = scanned_page_jpeg(seed * 7 + 3, dpi=150, colour=True, with_seal=True)
    add(
        "scan-150dpi",
        {"USAB-SCAN-DPI"},
        "a licence copy scanned at 150 dpi",
        materials=_swap(org, scan_i, _material(scan, low)),
    )
    with Image.open(io.BytesIO(scan_jpeg)) as im:
        blurred = _jpeg(im.filter(ImageFilter.GaussianBlur(3)), 200)
    add(
        "scan-blurred",
        {"USAB-SCAN-BLUR"},
        "a blurred licence copy",
        materials=_swap(org, scan_i, _material(scan, blurred)),
    )
    add(
        "empty-file",
        {"USAB-EMPTY"},
        "a zero-byte application form",
        materials=_swap(org, form_i, _material(form, b"", page_count=None)),
    )
    other_zip = io.BytesIO()
    with zipfile.ZipFile(other_zip, "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
    add(
        "not-archival-format",
        {"USAB-FORMAT"},
        "a zip archive that is not OFD",
        materials=_swap(
            org,
            form_i,
            _material(
                form, other_zip.getvalue(), media_type="application/zip", file_name="01_申请表.zip", page_count=None
            ),
        ),
    )
    add(
        "truncated-jpeg",
        {"USAB-OPENS"},
        "a licence copy cut off half way",
        materials=_swap(org, scan_i, _material(scan, scan_jpeg[: len(scan_jpeg) // 2])),
    )
    add(
        "encrypted-pdf",
        {"USAB-ENCRYPTED"},
        "an encrypted application form",
        materials=_swap(org, form_i, _material(form, encrypted_pdf(form_pdf))),
    )
    bomb = ofd_document(pages=1, padding=b"\0" * (24 * 1024 * 1024))
    add(
        "zip-bomb-ofd",
        {"USAB-ZIP-BOMB"},
        "an OFD that unpacks 24 MiB of zeros at > 1000:1",
        materials=[
            *(m.model_dump() for m in org.materials),
            _material(
                form,
                bomb,
                stage=Stage.PROCESS,
                material_name="审查记录",
                file_name="审查记录.ofd",
                media_type="application/ofd",
                page_count=None,
            ).model_dump(),
        ],
    )

    # seals, colour and scans inside documents (issue 12)
    add(
        "scan-red-letterhead-no-seal",
        {"INTEG-SEAL-RED"},
        "a colour licence copy with a red letterhead, a red rule and a small red ring, and no seal",
        materials=_swap(org, scan_i, _material(scan, red_letterhead_scan(seed * 7 + 4))),
    )
    tiny = decision_pdf(
        "准予行政许可决定书",
        ["经审查，申请符合法定条件，准予行政许可。"],
        org.department_name,
        date_text="2026年3月2日",
        seal_radius_mm=3.0,
    )
    add(
        "result-tiny-red-curve",
        {"INTEG-SEAL-RED"},
        "a result document whose 'seal' is a red ring 6 mm across (with a red letterhead)",
        materials=_swap(org, result_i, _material(result, tiny, page_count=pdf_page_count(tiny))),
    )
    sealed_grey = scanned_page_jpeg(seed * 7 + 5, dpi=200, colour=False, with_seal=True)
    add(
        "scan-grey-saved-as-rgb",
        {"USAB-SCAN-COLOUR"},
        "a sealed licence copy scanned in grey and saved as an RGB JPEG",
        materials=_swap(org, scan_i, _material(scan, grey_as_rgb(sealed_grey))),
    )
    add(
        "result-scanned-grey",
        {"USAB-SCAN-COLOUR"},
        "the result document as a grey scan (a result must carry a seal, so it must be in colour)",
        materials=_swap(
            org,
            result_i,
            _material(
                result,
                sealed_grey,
                file_name=result.file_name.rsplit(".", 1)[0] + ".jpg",
                media_type="image/jpeg",
                page_count=1,
            ),
        ),
    )
    as_pdf = {"file_name": scan.file_name.rsplit(".", 1)[0] + ".pdf", "media_type": "application/pdf"}
    add(
        "valid-scanned-pdf",
        set(),
        "the sealed colour licence copy as a scanned PDF at 200 dpi",
        materials=_swap(org, scan_i, _material(scan, scanned_pdf(scan_jpeg), **as_pdf)),
    )
    add(
        "scanned-pdf-120dpi",
        {"USAB-SCAN-DPI"},
        "the licence copy as a scanned PDF whose page image has 120 dpi on the page",
        materials=_swap(org, scan_i, _material(scan, scanned_pdf(scan_jpeg, dpi=120), **as_pdf)),
    )
    add(
        "scanned-pdf-blurred",
        {"USAB-SCAN-BLUR"},
        "the licence copy as a scanned PDF, blurred",
        materials=_swap(org, scan_i, _material(scan, scanned_pdf(scan_jpeg, blur=3.0), **as_pdf)),
    )

    # media that really plays, formats by their real brand
    def process_file(name: str, data: bytes, file_name: str, media_type: str) -> list[dict[str, Any]]:
        extra = _material(
            form,
            data,
            stage=Stage.PROCESS,
            material_name=name,
            file_name=file_name,
            media_type=media_type,
            page_count=None,
        )
        return [*(m.model_dump() for m in org.materials), extra.model_dump()]

    add(
        "wav-cut-to-header",
        {"USAB-OPENS"},
        "a recording cut to its 44-byte header (the header still declares a second of sound)",
        materials=process_file("现场核查录音", wav[:44], "现场核查录音.wav", "audio/wav"),
    )
    add(
        "heic-as-mp4",
        {"USAB-FORMAT"},
        "a HEIC photo declared as an MP4 video",
        materials=process_file("现场核查视频", iso_bmff(b"heic"), "现场核查视频.mp4", "video/mp4"),
    )
    add(
        "quicktime-as-mp4",
        {"USAB-FORMAT"},
        "a QuickTime movie declared as an MP4 video",
        materials=process_file("现场核查视频", iso_bmff(b"qt  "), "现场核查视频.mp4", "video/mp4"),
    )

    # security and signatures
    add(
        "virus-eicar",
        {"SEC-VIRUS"},
        "the EICAR test signature appended to the application form",
        materials=_swap(org, form_i, _material(form, form_pdf + b"\n" + eicar() + b"\n")),
    )
    add(
        "pdf-javascript",
        {"SEC-PDF-ACTIVE"},
        "an application form with JavaScript",
        materials=_swap(org, form_i, _material(form, javascript_pdf(form_pdf))),
    )
    add(
        "signature-broken",
        {"AUTH-PDF-SIGNATURE"},
        "a signed form altered after signing",
        materials=_swap(org, form_i, _material(form, tamper_signed(signed))),
    )
    add(
        "signature-page-content-appended",
        {"AUTH-PDF-SIGNATURE"},
        "a signed form changed afterwards by an incremental update that appends page content: the signed bytes "
        "are intact, but the signature no longer covers the file",
        materials=_swap(org, form_i, _material(form, append_page_content(signed))),
    )
    add(
        "ofd-result-without-seal",
        {"INTEG-SEAL-RED"},
        "an OFD result document with no electronic seal (Signatures.xml)",
        materials=_swap(org, result_i, _ofd_result(result, ofd_document(pages=1))),
    )
    add(
        "ofd-seal-page-changed",
        {"AUTH-OFD-SIGNATURE"},
        "an OFD result document whose page changed after it was sealed (SM3 of the page ≠ the seal's reference)",
        materials=_swap(org, result_i, _ofd_result(result, change_ofd_page(sealed))),
    )
    return out


def _ofd_result(result: Material, ofd: bytes) -> Material:
    stem = result.file_name.rsplit(".", 1)[0]
    return _material(result, ofd, file_name=f"{stem}.ofd", media_type="application/ofd", page_count=1)


def reuse_corpus(seed: int = CORPUS_SEED) -> list[DefectCase]:
    """Variants that reuse a case number of `defect_corpus()`'s valid cases: submit after those."""
    org, person = _bases(seed)
    held = _declared(org, "valid-organisation")
    other_applicant = {
        **held.model_dump(),
        "applicant": person.applicant.model_dump(),
        "revision": 2,
        "legal_representative": None,
    }
    resent = {**held.model_dump(), "case_title": held.case_title + "（更正）"}
    return [
        DefectCase(
            "number-held-by-other-case",
            UnifiedApprovalRecord.model_validate(other_applicant),
            frozenset({"AUTH-CASE-NUMBER"}),
            "revision 2 of a case number held by another applicant",
        ),
        DefectCase(
            "revision-resent-changed",
            UnifiedApprovalRecord.model_validate(resent),
            frozenset({"AUTH-CASE-NUMBER"}),
            "revision 1 sent again with other content",
        ),
    ]


def corrected(record: UnifiedApprovalRecord, valid_like: UnifiedApprovalRecord) -> UnifiedApprovalRecord:
    """The next revision of a rejected case, with the defective parts taken from a valid twin."""
    fields = valid_like.model_dump()
    fields.update(case_number=record.case_number, revision=record.revision + 1)
    return UnifiedApprovalRecord.model_validate(fields)
