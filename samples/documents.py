"""Sample documents: approval PDFs (reportlab, built-in CID font STSong-Light) and scanned pages (Pillow).

Everything here is deterministic: the same arguments give the same bytes on every run. The PDFs are
written with `invariant=1` (no creation date, fixed document ID); the scans are drawn from a seeded
`random.Random` only (no library randomness).

The PDFs do not embed their font (STSong-Light is one of the standard CJK fonts a PDF reader supplies),
which keeps them a few kilobytes each.
"""

from __future__ import annotations

import contextlib
import functools
import io
import itertools
import math
import random
import re
from collections.abc import Iterator, Sequence
from datetime import datetime

from PIL import Image, ImageChops, ImageDraw, ImageFilter
from reportlab import rl_config
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

__all__ = [
    "A4_MM",
    "FONT",
    "PAGE_BREAK",
    "a4_pixels",
    "application_form_pdf",
    "decision_pdf",
    "pdf_page_count",
    "scanned_page_jpeg",
]

FONT = "STSong-Light"
PAGE_BREAK = "\f"  # a line that is exactly this starts a new page in `decision_pdf`
A4_MM = (210.0, 297.0)

_SEAL_RED = (0.80, 0.08, 0.10)
_PAGE_W, _PAGE_H = A4
_MARGIN_X = 25 * mm
_TOP = _PAGE_H - 25 * mm
_BOTTOM = 25 * mm


def _ensure_font() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


@functools.lru_cache(maxsize=4096)
def _em_width(ch: str) -> float:
    """Advance width of one character in em (STSong-Light has no kerning, so widths simply add up)."""
    return pdfmetrics.stringWidth(ch, FONT, 1000) / 1000


def _wrap(text: str, size: float, width: float) -> list[str]:
    """Break `text` into lines no wider than `width` (character by character, as Chinese text wraps)."""
    if not text:
        return [""]
    limit = width / size
    lines: list[str] = []
    current: list[str] = []
    used = 0.0
    for ch in text:
        w = _em_width(ch)
        if current and used + w > limit:
            lines.append("".join(current))
            current, used = [], 0.0
        current.append(ch)
        used += w
    lines.append("".join(current))
    return lines


def _pdf_date(moment: datetime) -> str:
    """A PDF date string (`D:YYYYMMDDHHmmSS+08'00'`) for an aware datetime."""
    offset = moment.utcoffset()
    if offset is None:
        raise ValueError("created must be timezone-aware")
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hh, mm_ = divmod(abs(minutes), 60)
    return f"D:{moment:%Y%m%d%H%M%S}{sign}{hh:02d}'{mm_:02d}'"


@contextlib.contextmanager
def _binary_streams() -> Iterator[None]:
    """Write page streams as raw deflate instead of ASCII85 text: ~10 % smaller and ~25 % faster.

    reportlab only has a process-wide switch for this, so it is flipped around `save()` and put back.
    """
    saved = rl_config.useA85
    rl_config.useA85 = 0
    try:
        yield
    finally:
        rl_config.useA85 = saved


def _new_canvas(buf: io.BytesIO, title: str, author: str, created: datetime | None) -> Canvas:
    """A canvas whose output is byte-identical on every run: `invariant=1` fixes the document ID and,
    unless `created` is given, dates the document 2000-01-01."""
    _ensure_font()
    c = Canvas(buf, pagesize=A4, invariant=1, pageCompression=1)
    if created is not None:
        stamp = _pdf_date(created)
        c.setDateFormatter(lambda *_: stamp)
    c.setTitle(title)
    c.setAuthor(author)
    c.setCreator("approval-archive samples")
    c.setProducer("reportlab")
    return c


def _footer(c: Canvas, page: int, pages: int) -> None:
    c.setFillColorRGB(0.3, 0.3, 0.3)
    c.setFont(FONT, 9)
    c.drawCentredString(_PAGE_W / 2, 12 * mm, f"第 {page} 页  共 {pages} 页")
    c.setFillColorRGB(0, 0, 0)


def _star(c: Canvas, cx: float, cy: float, outer: float) -> None:
    inner = outer * 0.382
    path = c.beginPath()
    for i in range(10):
        r = outer if i % 2 == 0 else inner
        a = math.pi / 2 + i * math.pi / 5
        x, y = cx + r * math.cos(a), cy + r * math.sin(a)
        if i == 0:
            path.moveTo(x, y)
        else:
            path.lineTo(x, y)
    path.close()
    c.drawPath(path, stroke=0, fill=1)


def _seal(c: Canvas, cx: float, cy: float, text: str, label: str | None, radius: float = 21 * mm) -> None:
    """A red official seal (公章) as vector graphics: ring, star, text along the upper arc, label below."""
    c.saveState()
    c.setStrokeColorRGB(*_SEAL_RED)
    c.setFillColorRGB(*_SEAL_RED)
    c.setFillAlpha(0.88)
    c.setStrokeAlpha(0.88)
    c.setLineWidth(1.2 * mm)
    c.circle(cx, cy, radius, stroke=1, fill=0)
    _star(c, cx, cy, radius * 0.30)
    chars = list(text)
    if chars:
        size = min(5.2 * mm, radius * 4.0 / max(len(chars), 1))
        c.setFont(FONT, size)
        span = min(250.0, 18.0 * len(chars))  # degrees of arc the text occupies
        start = 90 + span / 2
        step = span / max(len(chars) - 1, 1)
        text_radius = radius - 1.2 * mm - size * 0.95
        for i, ch in enumerate(chars):
            angle = start - i * step if len(chars) > 1 else 90.0
            c.saveState()
            c.translate(cx, cy)
            c.rotate(angle - 90)
            c.drawCentredString(0, text_radius, ch)
            c.restoreState()
    if label:
        c.setFont(FONT, 3.6 * mm)
        c.drawCentredString(cx, cy - radius * 0.62, label)
    c.restoreState()


def decision_pdf(
    title: str,
    lines: Sequence[str],
    seal_text: str,
    *,
    doc_number: str | None = None,
    issuer: str | None = None,
    date_text: str | None = None,
    seal_label: str | None = "行政许可专用章",
    seal_radius_mm: float = 21.0,
    created: datetime | None = None,
) -> bytes:
    """A decision or licence (决定书 / 通知书 / 许可证) as a PDF, one page or more if `lines` overflow.

    `issuer` (default `seal_text`) is printed as the red letterhead and above the date; the seal carries
    `seal_text` along its arc and `seal_label` across its lower half. A line equal to `PAGE_BREAK`
    starts a new page. `created` (timezone-aware) becomes the PDF's creation and modification date.
    The seal is 42 mm across (`seal_radius_mm`), the size of a county-level department's seal.
    The bytes are identical on every run.
    """
    _ensure_font()
    issuer = issuer or seal_text
    body_size, leading = 12.0, 21.0
    width = _PAGE_W - 2 * _MARGIN_X

    # Lay out first, so that every page knows the page count for its footer.
    first_page_top = _TOP - 45 * mm if doc_number else _TOP - 38 * mm
    sign_block = 62 * mm  # room kept free on the last page for the issuer, date and seal
    pages: list[list[str]] = [[]]
    y = first_page_top
    for raw in lines:
        if raw == PAGE_BREAK:
            pages.append([])
            y = _TOP
            continue
        for line in _wrap(raw, body_size, width):
            if y - leading < _BOTTOM:
                pages.append([])
                y = _TOP
            pages[-1].append(line)
            y -= leading
    if y - sign_block < _BOTTOM:
        pages.append([])

    buf = io.BytesIO()
    c = _new_canvas(buf, title, issuer, created)
    for number, page_lines in enumerate(pages, start=1):
        if number == 1:
            c.setFillColorRGB(*_SEAL_RED)
            c.setFont(FONT, 22)
            c.drawCentredString(_PAGE_W / 2, _TOP - 4 * mm, issuer)
            c.setStrokeColorRGB(*_SEAL_RED)
            c.setLineWidth(1.5)
            c.line(_MARGIN_X, _TOP - 9 * mm, _PAGE_W - _MARGIN_X, _TOP - 9 * mm)
            c.setFillColorRGB(0, 0, 0)
            c.setFont(FONT, 18)
            c.drawCentredString(_PAGE_W / 2, _TOP - 24 * mm, title)
            if doc_number:
                c.setFont(FONT, 11)
                c.drawCentredString(_PAGE_W / 2, _TOP - 33 * mm, doc_number)
            y = first_page_top
        else:
            y = _TOP
        c.setFont(FONT, body_size)
        for line in page_lines:
            c.drawString(_MARGIN_X, y, line)
            y -= leading
        if number == len(pages):
            sign_x = _PAGE_W - _MARGIN_X - 35 * mm
            sign_y = y - 22 * mm
            c.setFont(FONT, body_size)
            c.drawCentredString(sign_x, sign_y, issuer)
            if date_text:
                c.drawCentredString(sign_x, sign_y - leading, date_text)
            _seal(c, sign_x, sign_y + 2 * mm, seal_text, seal_label, radius=seal_radius_mm * mm)
        _footer(c, number, len(pages))
        c.showPage()
    with _binary_streams():
        c.save()
    return buf.getvalue()


def application_form_pdf(
    title: str,
    fields: Sequence[tuple[str, str]],
    *,
    signer: str,
    date_text: str | None = None,
    note: str | None = None,
    signature_label: str = "申请人（签字/盖章）",
    created: datetime | None = None,
) -> bytes:
    """A form (申请书 / 审查意见表) as a PDF: a two-column table of fields, a note, then a signature line.

    Long field values wrap inside their cell; if the table overflows, it continues on a further page.
    `created` (timezone-aware) becomes the PDF's creation date. The bytes are identical on every run.
    """
    _ensure_font()
    label_w, size, pad, leading = 42 * mm, 10.5, 2.2 * mm, 15.0
    value_w = _PAGE_W - 2 * _MARGIN_X - label_w
    rows = [(_wrap(label, size, label_w - 2 * pad), _wrap(value, size, value_w - 2 * pad)) for label, value in fields]
    heights = [max(len(a), len(b)) * leading + 2 * pad for a, b in rows]

    pages: list[list[int]] = [[]]
    y = _TOP - 22 * mm
    for i, h in enumerate(heights):
        if y - h < _BOTTOM + 30 * mm:
            pages.append([])
            y = _TOP
        pages[-1].append(i)
        y -= h

    buf = io.BytesIO()
    c = _new_canvas(buf, title, signer, created)
    for number, row_ids in enumerate(pages, start=1):
        y = _TOP
        if number == 1:
            c.setFont(FONT, 18)
            c.drawCentredString(_PAGE_W / 2, _TOP - 6 * mm, title)
            y = _TOP - 22 * mm
        c.setLineWidth(0.8)
        c.setStrokeColorRGB(0, 0, 0)
        for i in row_ids:
            labels, values = rows[i]
            h = heights[i]
            c.rect(_MARGIN_X, y - h, label_w, h, stroke=1, fill=0)
            c.rect(_MARGIN_X + label_w, y - h, value_w, h, stroke=1, fill=0)
            c.setFont(FONT, size)
            for k, text in enumerate(labels):
                c.drawString(_MARGIN_X + pad, y - pad - size - k * leading + 2, text)
            for k, text in enumerate(values):
                c.drawString(_MARGIN_X + label_w + pad, y - pad - size - k * leading + 2, text)
            y -= h
        if number == len(pages):
            if note:
                c.setFont(FONT, 10)
                note_lines = _wrap(note, 10, _PAGE_W - 2 * _MARGIN_X)
                for k, text in enumerate(note_lines):
                    c.drawString(_MARGIN_X, y - 8 * mm - k * 14, text)
                y -= 8 * mm + 14 * len(note_lines)
            c.setFont(FONT, 11)
            c.drawString(_PAGE_W / 2, y - 14 * mm, f"{signature_label}：{signer}")
            if date_text:
                c.drawString(_PAGE_W / 2, y - 22 * mm, f"日期：{date_text}")
        _footer(c, number, len(pages))
        c.showPage()
    with _binary_streams():
        c.save()
    return buf.getvalue()


_PAGES_COUNT = re.compile(rb"/Count (\d+) /Kids \[")


def pdf_page_count(data: bytes) -> int:
    """Page count of a PDF written by this module (reportlab writes one uncompressed page-tree root).

    Not a general PDF parser: use a real one (pypdf) for PDFs from elsewhere.
    """
    counts = [int(m) for m in _PAGES_COUNT.findall(data)]
    if not counts:
        raise ValueError("no page tree found")
    return max(counts)


# --- scanned pages --------------------------------------------------------------------------------------


def a4_pixels(dpi: int, paper_mm: tuple[float, float] = A4_MM) -> tuple[int, int]:
    """Pixel size of a page at `dpi` (A4 at 200 dpi: 1654 x 2339; A3 at 600 dpi: 7016 x 9921)."""
    return round(paper_mm[0] / 25.4 * dpi), round(paper_mm[1] / 25.4 * dpi)


def _text_line(draw: ImageDraw.ImageDraw, rng: random.Random, x0: int, x1: int, y: int, h: int, ink: int) -> None:
    """A line of "text": dark bars broken into words, as a scanned line looks from afar."""
    x = x0
    gap = max(2, h // 2)
    while x < x1:
        word = rng.randint(h * 2, h * 9)
        end = min(x + word, x1)
        if end - x > h:
            draw.rectangle((x, y, end, y + h), fill=(ink, ink, ink + 4))
        x = end + gap + rng.randint(0, gap)


def scanned_page_jpeg(
    seed: int, dpi: int = 200, colour: bool = True, with_seal: bool = True, paper_mm: tuple[float, float] = A4_MM
) -> bytes:
    """A scanned A4 form as a JPEG (quality 70, `dpi` recorded in JFIF): off-white paper with uneven tone,
    a title, text lines drawn as grey bars, a table grid with filled cells, a red seal (ring, star and
    arc "characters") multiplied onto the paper like ink, and faint scanner noise.

    Deterministic in `seed`. At 200 dpi the page is 1654 x 2339 px and the file about 190 KB. `paper_mm`
    makes another paper size (A3 = 297 x 420 mm): the layout keeps its millimetres, the page grows.
    """
    rng = random.Random(f"scan:{seed}:{dpi}:{colour}:{with_seal}" + ("" if paper_mm == A4_MM else f":{paper_mm}"))
    w, h = a4_pixels(dpi, paper_mm)
    px = dpi / 25.4  # pixels per millimetre

    # Paper: off-white, with a smooth uneven tone (a tiny random image scaled up).
    base = (rng.randint(238, 248), rng.randint(235, 244), rng.randint(224, 236))
    tone = Image.new("RGB", (6, 8))
    cells = []
    for _ in range(6 * 8):
        shade = rng.randint(-6, 5)
        cells.append(tuple(max(0, min(255, c + shade + rng.randint(-1, 1))) for c in base))
    tone.putdata(cells)
    page = tone.resize((w, h), Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(page)

    ink = rng.randint(55, 80)
    margin = int(22 * px)
    # Title, centred, and a subtitle line.
    title_w = int(rng.uniform(70, 110) * px)
    th = int(6.5 * px)
    draw.rectangle(((w - title_w) // 2, int(24 * px), (w + title_w) // 2, int(24 * px) + th), fill=(ink,) * 3)
    _text_line(
        draw,
        rng,
        (w - title_w) // 2 + int(10 * px),
        (w + title_w) // 2 - int(10 * px),
        int(36 * px),
        int(2.6 * px),
        ink + 20,
    )

    # Paragraph lines.
    y = int(50 * px)
    line_h, pitch = int(2.8 * px), int(7.5 * px)
    for _ in range(rng.randint(5, 9)):
        indent = int(8 * px) if rng.random() < 0.3 else 0
        right = w - margin - (int(rng.uniform(0, 60) * px) if rng.random() < 0.25 else 0)
        _text_line(draw, rng, margin + indent, right, y, line_h, ink)
        y += pitch

    # Table grid with filled cells.
    y += int(6 * px)
    rows, cols = rng.randint(6, 10), rng.choice((2, 4))
    row_h = int(11 * px)
    grid_w = w - 2 * margin
    fractions = (0.25, 0.5, 0.75) if cols == 4 else (0.3,)
    splits = [margin, *(margin + int(grid_w * f) for f in fractions), w - margin]
    line_w = max(2, int(0.35 * px))
    grid = (ink + 10,) * 3
    for r in range(rows + 1):
        draw.line((margin, y + r * row_h, w - margin, y + r * row_h), fill=grid, width=line_w)
    for x in splits:
        draw.line((x, y, x, y + rows * row_h), fill=grid, width=line_w)
    for r in range(rows):
        for a, b in itertools.pairwise(splits):
            cell_right = a + int((b - a) * rng.uniform(0.35, 0.9))
            _text_line(draw, rng, a + int(3 * px), cell_right, y + r * row_h + int(4 * px), line_h, ink)
    y += rows * row_h + int(10 * px)

    # More paragraph lines, then a signature/date line at the right.
    while y < h - int(75 * px):
        _text_line(
            draw,
            rng,
            margin,
            w - margin - (int(rng.uniform(0, 80) * px) if rng.random() < 0.3 else 0),
            y,
            line_h,
            ink,
        )
        y += pitch
    sig_x = w - margin - int(70 * px)
    _text_line(draw, rng, sig_x, w - margin, h - int(50 * px), line_h, ink)
    _text_line(draw, rng, sig_x + int(10 * px), w - margin - int(5 * px), h - int(42 * px), line_h, ink)

    if with_seal:
        # Drawn on a small white tile, then multiplied onto the page like ink (and blurred only there).
        red = (rng.randint(190, 215), rng.randint(25, 45), rng.randint(30, 50))
        r = int(21 * px)
        side = 2 * r + int(4 * px)
        c = side // 2
        seal = Image.new("RGB", (side, side), (255, 255, 255))
        sd = ImageDraw.Draw(seal)
        ring = int(1.2 * px)
        sd.ellipse((c - r, c - r, c + r, c + r), outline=red, width=ring)
        star_r, inner = r * 0.30, r * 0.30 * 0.382
        points = []
        for i in range(10):
            rr = star_r if i % 2 == 0 else inner
            angle = -math.pi / 2 + i * math.pi / 5
            points.append((c + rr * math.cos(angle), c + rr * math.sin(angle)))
        sd.polygon(points, fill=red)
        # Arc "characters": small blocks along the upper 240 degrees (270 is straight up in image space).
        n = rng.randint(9, 14)
        block = int(3.6 * px)
        text_r = r - ring - block * 0.8
        for i in range(n):
            angle = math.radians(150 + i * 240 / (n - 1))
            bx, by = c + text_r * math.cos(angle), c + text_r * math.sin(angle)
            sd.rectangle((bx - block / 2, by - block / 2, bx + block / 2, by + block / 2), fill=red)
        sd.rectangle((c - int(12 * px), c + int(11 * px), c + int(12 * px), c + int(13.5 * px)), fill=red)
        seal = seal.filter(ImageFilter.GaussianBlur(px * 0.15))
        cx = sig_x + int(30 * px) + rng.randint(-int(4 * px), int(4 * px))
        cy = h - int(50 * px) + rng.randint(-int(4 * px), int(4 * px))
        box = (cx - c, cy - c, cx - c + side, cy - c + side)
        page.paste(ImageChops.multiply(page.crop(box), seal), box)

    # Scanner noise: faint, low-frequency grain, plus a few dust specks.
    nw, nh = max(1, w // 4), max(1, h // 4)
    grain = Image.frombytes("L", (nw, nh), rng.randbytes(nw * nh))
    grain = grain.resize((w, h), Image.Resampling.BILINEAR).convert("RGB")
    page = Image.blend(page, ImageChops.multiply(page, grain), 0.035)
    draw = ImageDraw.Draw(page)
    for _ in range(rng.randint(20, 60)):
        x, y0 = rng.randrange(w), rng.randrange(h)
        s = rng.randint(1, 3)
        g = rng.randint(90, 170)
        draw.ellipse((x, y0, x + s, y0 + s), fill=(g, g, g))
    page = page.filter(ImageFilter.GaussianBlur(0.6 * dpi / 200))

    if not colour:
        page = page.convert("L")
    buf = io.BytesIO()
    page.save(buf, "JPEG", quality=70, dpi=(dpi, dpi), optimize=True)
    return buf.getvalue()
