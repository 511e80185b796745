"""A PDF page's content, interpreted far enough for the checks: where images are placed (their size on the
page, from the current transformation matrix, gives a scan's effective resolution), which painted paths
are vector seals (formats/seals.py), and whether anything is painted in colour at all.

Not a renderer: only the graphics state that matters here is kept — the CTM (q/Q/cm), the fill and
stroke colours, the path under construction — and form XObjects are followed a few levels deep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from services.validation.formats.seals import SealShape, Subpath, vector_seal, with_stars

Matrix = tuple[float, float, float, float, float, float]
IDENTITY: Matrix = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
_MAX_FORM_DEPTH = 4
_PAINT = {b"S", b"s", b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*", b"n"}
_STROKING = {b"S", b"s", b"B", b"B*", b"b", b"b*"}
_FILLING = {b"f", b"F", b"f*", b"B", b"B*", b"b", b"b*"}
_CLOSING = {b"s", b"b", b"b*"}
_TEXT_SHOW = {b"Tj", b"TJ", b"'", b'"'}


def multiply(m: Matrix, n: Matrix) -> Matrix:
    """m then n (PDF's row-vector convention: `cm` makes CTM = M × CTM)."""
    a, b, c, d, e, f = m
    p, q, r, s, t, u = n
    return (a * p + b * r, a * q + b * s, c * p + d * r, c * q + d * s, e * p + f * r + t, e * q + f * s + u)


def apply(m: Matrix, x: float, y: float) -> tuple[float, float]:
    return m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]


@dataclass(frozen=True)
class PlacedImage:
    """An image XObject drawn on a page: its pixels and the size it is drawn at, in points."""

    page: int
    reference: Any  # how the page names the image (a pypdf IndirectObject, or the stream itself when direct)
    width_px: int
    height_px: int
    placed_w_pt: float
    placed_h_pt: float
    page_fraction: float  # the share of the page's area it covers

    @property
    def key(self) -> Any:
        """The same for every placement of one image object (an image drawn on several pages)."""
        ref = self.reference
        return (ref.generation, ref.idnum) if hasattr(ref, "idnum") else id(ref)

    @property
    def effective_dpi(self) -> float:
        """Pixels over the placed size: what the reader sees, whatever the file records."""
        return min(self.width_px / max(self.placed_w_pt / 72, 1e-6), self.height_px / max(self.placed_h_pt / 72, 1e-6))

    @property
    def px_per_mm(self) -> float:
        return self.effective_dpi / 25.4


@dataclass
class PageContent:
    images: list[PlacedImage] = field(default_factory=list)
    seals: list[SealShape] = field(default_factory=list)
    colour: bool = False  # a path or text painted in a colour that is not neutral grey


def is_red(values: list[float]) -> bool:
    if len(values) == 3:
        r, g, b = values
        return r >= 0.55 and g <= 0.35 and b <= 0.35 and r - max(g, b) >= 0.35
    if len(values) == 4:
        c, m, y, k = values
        return c <= 0.3 and m >= 0.6 and y >= 0.5 and k <= 0.3
    return False


def is_neutral(values: list[float]) -> bool:
    if len(values) in (3, 4):
        chans = values[:3]
        return max(chans) - min(chans) <= 0.06
    return True  # grey, or a pattern / separation we do not read


@dataclass
class _State:
    ctm: Matrix = IDENTITY
    fill: tuple[float, ...] = (0.0,)
    stroke: tuple[float, ...] = (0.0,)


def _numbers(operands: list[Any]) -> list[float]:
    out = []
    for o in operands:
        try:
            out.append(float(o))
        except (TypeError, ValueError):
            return []
    return out


class _Walker:
    def __init__(self, page_number: int, page_area_pt2: float) -> None:
        self.page = page_number
        self.page_area = max(page_area_pt2, 1.0)
        self.out = PageContent()
        self._centres: list[tuple[float, float]] = []
        self._stars: list[tuple[tuple[float, float], int]] = []

    def walk(self, content: Any, resources: Any, ctm: Matrix, depth: int = 0) -> None:
        from pypdf.generic import ContentStream

        if content is None:
            return
        stream = content if isinstance(content, ContentStream) else ContentStream(content, None)
        ops = stream.operations
        state, stack = _State(ctm), []
        path: list[Subpath] = []
        current: tuple[float, float] = (0.0, 0.0)
        xobjects = _get(resources, "/XObject")
        for operands, op in ops:
            if op == b"q":
                stack.append(_State(state.ctm, state.fill, state.stroke))
            elif op == b"Q":
                if stack:
                    state = stack.pop()
            elif op == b"cm":
                nums = _numbers(operands)
                if len(nums) == 6:
                    state.ctm = multiply(tuple(nums), state.ctm)  # type: ignore[arg-type]
            elif op in (b"rg", b"k", b"g", b"sc", b"scn"):
                state.fill = tuple(_numbers(operands)) or (0.0,)
            elif op in (b"RG", b"K", b"G", b"SC", b"SCN"):
                state.stroke = tuple(_numbers(operands)) or (0.0,)
            elif op == b"cs":
                state.fill = (0.0,)
            elif op == b"CS":
                state.stroke = (0.0,)
            elif op == b"m":
                nums = _numbers(operands)
                if len(nums) == 2:
                    current = apply(state.ctm, *nums)
                    path.append(Subpath([current]))
            elif op == b"l":
                nums = _numbers(operands)
                if len(nums) == 2 and path:
                    current = apply(state.ctm, *nums)
                    path[-1].points.append(current)
            elif op in (b"c", b"v", b"y"):
                nums = _numbers(operands)
                if path and len(nums) in (4, 6):
                    current = self._curve(path[-1], current, op, nums, state.ctm)
            elif op == b"h":
                if path:
                    path[-1].closed = True
            elif op == b"re":
                nums = _numbers(operands)
                if len(nums) == 4:
                    x, y, w, h = nums
                    corners = [apply(state.ctm, px, py) for px, py in ((x, y), (x + w, y), (x + w, y + h), (x, y + h))]
                    path.append(Subpath(corners, closed=True))
            elif op in _PAINT:
                if op in _CLOSING and path:
                    path[-1].closed = True
                self._paint(path, op, state)
                path = []
            elif op in _TEXT_SHOW:
                if not is_neutral(list(state.fill)):
                    self.out.colour = True
            elif op == b"Do" and operands and xobjects is not None:
                self._do(xobjects, operands[0], state.ctm, depth)

    def _curve(self, sub: Subpath, p0: tuple[float, float], op: bytes, nums: list[float], ctm: Matrix):  # type: ignore[no-untyped-def]
        if op == b"c":
            p1, p2, p3 = apply(ctm, *nums[0:2]), apply(ctm, *nums[2:4]), apply(ctm, *nums[4:6])
        elif op == b"v":
            p1, p2, p3 = p0, apply(ctm, *nums[0:2]), apply(ctm, *nums[2:4])
        else:
            p1, p2 = apply(ctm, *nums[0:2]), apply(ctm, *nums[2:4])
            p3 = p2
        mid = tuple((a + 3 * b + 3 * c + d) / 8 for a, b, c, d in zip(p0, p1, p2, p3, strict=True))
        sub.points.extend([mid, p3])  # type: ignore[list-item]
        sub.curves += 1
        return p3

    def _paint(self, path: list[Subpath], op: bytes, state: _State) -> None:
        if not path or op == b"n":
            return
        stroked, filled = op in _STROKING, op in _FILLING
        if (stroked and not is_neutral(list(state.stroke))) or (filled and not is_neutral(list(state.fill))):
            self.out.colour = True
        red_stroke = stroked and is_red(list(state.stroke))
        red_fill = filled and is_red(list(state.fill))
        if not (red_stroke or red_fill):
            return
        seal = vector_seal(path, stroked=red_stroke, filled=red_fill, page=self.page)
        if seal is not None:
            xs = [p[0] for s in path for p in s.points]
            ys = [p[1] for s in path for p in s.points]
            self.out.seals.append(seal)
            self._centres.append(((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2))
        elif red_fill:
            for sub in path:
                if sub.curves == 0 and len(sub.points) >= 8:  # a star: a many-cornered straight polygon
                    xs, ys = [p[0] for p in sub.points], [p[1] for p in sub.points]
                    self._stars.append((((min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2), self.page))

    def _do(self, xobjects: Any, name: Any, ctm: Matrix, depth: int) -> None:
        reference = _get(xobjects, name, resolve=False)
        xobj = reference.get_object() if hasattr(reference, "get_object") else reference
        if xobj is None:
            return
        subtype = xobj.get("/Subtype")
        if subtype == "/Image":
            w_pt = (ctm[0] ** 2 + ctm[1] ** 2) ** 0.5
            h_pt = (ctm[2] ** 2 + ctm[3] ** 2) ** 0.5
            if w_pt <= 0 or h_pt <= 0:
                return
            self.out.images.append(
                PlacedImage(
                    page=self.page,
                    reference=reference,
                    width_px=int(xobj.get("/Width", 0)),
                    height_px=int(xobj.get("/Height", 0)),
                    placed_w_pt=w_pt,
                    placed_h_pt=h_pt,
                    page_fraction=min(1.0, w_pt * h_pt / self.page_area),
                )
            )
        elif subtype == "/Form" and depth < _MAX_FORM_DEPTH:
            nums = _numbers(list(xobj.get("/Matrix", IDENTITY)))
            matrix: Matrix = tuple(nums) if len(nums) == 6 else IDENTITY  # type: ignore[assignment]
            self.walk(xobj, xobj.get("/Resources"), multiply(matrix, ctm), depth + 1)

    def result(self) -> PageContent:
        self.out.seals = with_stars(self.out.seals, self._stars, self._centres)
        return self.out


def _get(mapping: Any, key: Any, *, resolve: bool = True) -> Any:
    if mapping is None:
        return None
    mapping = mapping.get_object() if hasattr(mapping, "get_object") else mapping
    value = mapping.get(key) if hasattr(mapping, "get") else None
    if not resolve:  # pypdf's dict.get resolves indirect objects; the raw entry is the reference
        value = mapping.raw_get(key) if hasattr(mapping, "raw_get") and key in mapping else value
        return value
    return value.get_object() if value is not None and hasattr(value, "get_object") else value


def page_content(page: Any, number: int) -> PageContent:
    """What page `number` (1-based) of a pypdf page draws."""
    box = page.mediabox
    walker = _Walker(number, float(box.width) * float(box.height))
    walker.walk(page.get_contents(), page.get("/Resources"), IDENTITY)
    return walker.result()
