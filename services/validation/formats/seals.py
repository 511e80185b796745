"""Seals that are seals: red marks measured by their shape, not by the amount of red ink.

An official seal (公章, 专用章) is a red ring — round, or oval for some special-purpose seals — usually
with a star or emblem in its centre and the issuer's name along the ring. What is found here is every red
mark of that *shape*, with its size in millimetres of paper; INTEG-SEAL-RED then asks whether one of them
is the size of an official seal (the size range is an item rule: `thresholds.seal_*`). A red letterhead,
a red rule or red text is made of small or long thin marks and has no closed round outline, so it is
never a seal here, however much red it carries.

- `raster_seals(image, px_per_mm)`: connected components of seal-red pixels (scipy.ndimage) on a copy
  reduced to ~4 px/mm, kept when the component's filled outline covers the ellipse of its bounding box
  (round or oval: a square frame covers 4/π of it, a solid disc is not a ring), its ink is a ring (the
  filled outline is mostly hollow) and radial rays from the centre meet ink near the outline almost all
  the way round.
- `vector_seal(subpaths, ...)`: a red painted path in a PDF whose subpaths are closed curves lying on the
  ellipse of their bounding box; a stroked round curve is a ring, and so is a filled pair of concentric
  round curves (a ring drawn as an outline with a hole). A filled disc alone is not.

docs/validation.md gives the size range and its sources.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image

# Seal measurements work on this resolution: a 1.2 mm ring is ~5 px, a 42 mm seal ~170 px across.
WORK_PX_PER_MM = 4.0
# Marks smaller than this are not even candidates (letters, dots); the seal size range is a rule.
MIN_CANDIDATE_MM = 8.0
_RAYS = 72
_ANGLES = [2 * math.pi * k / _RAYS for k in range(_RAYS)]
_ALONG = np.linspace(0.8, 1.0, 6)


@dataclass(frozen=True)
class SealShape:
    """A red round or oval ring found on a page."""

    source: str  # "vector" (a path in a PDF) | "raster" (ink in an image)
    width_mm: float
    height_mm: float
    ring: float  # share of directions from the centre in which the ring's ink is found (1.0 = closed ring)
    star: bool  # something red fills the centre (a star or an emblem)
    page: int | None = None  # 1-based page of a document; None for an image file

    @property
    def major_mm(self) -> float:
        return max(self.width_mm, self.height_mm)

    @property
    def minor_mm(self) -> float:
        return min(self.width_mm, self.height_mm)

    def describe(self) -> str:
        centre = ", star" if self.star else ""
        where = f" p{self.page}" if self.page else ""
        return f"{self.source}{where} {self.width_mm:.0f}x{self.height_mm:.0f} mm, ring {self.ring:.2f}{centre}"


def seal_red_mask(rgb: np.ndarray) -> np.ndarray:
    """Seal-red pixels: a red hue (within about 25° of pure red), clearly saturated, not black — seal ink
    on paper, light where it is faded and dark where it lies over black text."""
    return _red_mask(rgb[..., 0], rgb[..., 1], rgb[..., 2])


def _red_mask(r: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    """`seal_red_mask` on the three channels as planes: contiguous ones (Pillow's `split`) make the page-wide
    pass several times cheaper than the strided views of an interleaved RGB array (issue 18)."""
    # First `r >= 45 and r - max(g, b) >= 30` in uint8 over the whole page (where r < 45 the wrapped
    # subtraction is masked off), then the rest in int16 on those few pixels only: the same pixels as the
    # whole predicate in int16, without converting three full channels. Flat indexes: `np.nonzero` of a 2-D
    # mask costs more than the whole first pass.
    mask = (r >= 45) & (r - np.uint8(30) >= np.maximum(g, b))
    flat = mask.reshape(-1)  # a view: `mask` is a new contiguous array
    at = np.flatnonzero(flat)
    r, g, b = (c.reshape(-1)[at].astype(np.int16) for c in (r, g, b))
    top = np.maximum(g, b)
    flat[at] = (r - top >= 0.3 * r) & (np.abs(g - b) <= 0.45 * (r - np.minimum(g, b)))
    return mask


def reduced_planes(
    image: Image.Image, px_per_mm: float, target: float = WORK_PX_PER_MM
) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], float]:
    """The image's R, G and B planes near `target` px/mm (never enlarged), and the px/mm they have."""
    factor = max(1, round(px_per_mm / target))
    im = image if image.mode == "RGB" else image.convert("RGB")
    if factor > 1:
        im = im.reduce(factor)
    r, g, b = (np.asarray(band) for band in im.split())
    return (r, g, b), px_per_mm / factor


def _around_the_ink(mask: np.ndarray) -> np.ndarray:
    """The part of the mask that holds its ink, with two empty pixels around it (or the image's edge): the
    3x3 closing reaches one pixel out and its erosion looks one further, so closing and labelling this part
    gives the same pixels, the same components and the same label order (raster order) as the whole page,
    at a fraction of the cost on a page whose red is one seal (issue 18)."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    h, w = mask.shape
    return mask[max(rows[0] - 2, 0) : min(rows[-1] + 3, h), max(cols[0] - 2, 0) : min(cols[-1] + 3, w)]


def _shifts_3x3(padded: np.ndarray, h: int, w: int) -> list[np.ndarray]:
    return [padded[dy : dy + h, dx : dx + w] for dy in range(3) for dx in range(3)]


def close_3x3(mask: np.ndarray) -> np.ndarray:
    """`scipy.ndimage.binary_closing(mask, np.ones((3, 3)))` — dilation then erosion, outside the image
    counting as empty — as nine shifted views: the same pixels, several times faster than scipy's generic
    structuring-element loop, which was the largest single frame of a scan's measurement (issue 18)."""
    h, w = mask.shape
    dilated = np.logical_or.reduce(_shifts_3x3(np.pad(mask, 1), h, w))
    return np.logical_and.reduce(_shifts_3x3(np.pad(dilated, 1), h, w))


def raster_seals(image: Image.Image, px_per_mm: float, page: int | None = None) -> list[SealShape]:
    from scipy import ndimage

    planes, scale = reduced_planes(image, px_per_mm)
    mask = _red_mask(*planes)
    if not mask.any():
        return []
    # Bridge one-pixel breaks in a worn ring so that the ring stays one component.
    mask = close_3x3(_around_the_ink(mask))
    labels, _ = ndimage.label(mask, structure=np.ones((3, 3), bool))
    found = []
    for index, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        h, w = box[0].stop - box[0].start, box[1].stop - box[1].start
        if min(h, w) / scale < MIN_CANDIDATE_MM or min(h, w) / max(h, w) < 0.5:
            continue
        shape = _ring_of(labels[box] == index, mask[box], w / scale, h / scale, page)
        if shape is not None:
            found.append(shape)
    return found


def _ring_of(ink: np.ndarray, red: np.ndarray, width_mm: float, height_mm: float, page: int | None) -> SealShape | None:
    """`ink`: the component in its bounding box; `red`: all seal-red pixels in the same box."""
    from scipy.spatial import ConvexHull, QhullError

    h, w = ink.shape
    ys, xs = np.nonzero(ink)
    try:
        # The convex hull, not a hole fill: a worn ring with gaps still outlines its disc.
        hull_area = ConvexHull(np.column_stack([xs, ys])).volume
    except QhullError:
        return None
    ellipse_area = math.pi * w * h / 4
    if not 0.85 <= hull_area / ellipse_area <= 1.12:  # round or oval outline, not a frame, an arc or a blob
        return None
    if ink.sum() / hull_area > 0.7:  # a solid disc, not a ring
        return None
    cy, cx = (h - 1) / 2, (w - 1) / 2
    # Along each ray, samples from 0.8 to 1.0 of the way to the box's ellipse: a ray "hits" when one of
    # them is ink. All rays at once, with the arithmetic of a loop over them (math.cos/sin, then float64
    # products and sums, rounded half to even as `round` does), so the same samples are taken.
    dx = np.array([math.cos(a) for a in _ANGLES]) * (w / 2)
    dy = np.array([math.sin(a) for a in _ANGLES]) * (h / 2)
    xs_, ys_ = np.rint(cx + dx[:, None] * _ALONG), np.rint(cy + dy[:, None] * _ALONG)
    inside = (xs_ >= 0) & (xs_ < w) & (ys_ >= 0) & (ys_ < h)
    hit = np.zeros(inside.shape, bool)
    hit[inside] = ink[ys_[inside].astype(np.intp), xs_[inside].astype(np.intp)]
    ring = int(hit.any(axis=1).sum()) / _RAYS
    if ring < 0.5:
        return None
    yy, xx = np.ogrid[:h, :w]
    centre = ((xx - cx) / (w / 2)) ** 2 + ((yy - cy) / (h / 2)) ** 2 <= 0.3**2
    star = bool(red[centre].mean() > 0.15)
    return SealShape("raster", round(width_mm, 1), round(height_mm, 1), round(ring, 2), star, page)


# --- vector seals in a PDF content stream ------------------------------------------------------------

Point = tuple[float, float]


@dataclass
class Subpath:
    """One subpath of a PDF path, in page space (points): its on-curve and curve-midpoint samples."""

    points: list[Point]
    curves: int = 0
    closed: bool = False


def _bbox(points: Sequence[Point]) -> tuple[float, float, float, float]:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def _on_its_ellipse(sub: Subpath, tolerance: float = 0.12) -> bool:
    """Every sample of the subpath lies on the ellipse inscribed in its bounding box."""
    x0, y0, x1, y1 = _bbox(sub.points)
    a, b = (x1 - x0) / 2, (y1 - y0) / 2
    if a <= 0 or b <= 0:
        return False
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    return all(abs(((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 - 1) <= tolerance * 2 for x, y in sub.points)


def _round(sub: Subpath) -> bool:
    if sub.curves < 2 or len(sub.points) < 4:
        return False
    first, last = sub.points[0], sub.points[-1]
    closed = sub.closed or math.dist(first, last) < 0.5
    return closed and _on_its_ellipse(sub)


def vector_seal(subpaths: Sequence[Subpath], *, stroked: bool, filled: bool, page: int) -> SealShape | None:
    """The ring a red painted path draws, if it draws one (see the module's docstring)."""
    rounds = [s for s in subpaths if _round(s)]
    if not rounds:
        return None
    outer = max(rounds, key=lambda s: _bbox(s.points)[2] - _bbox(s.points)[0])
    x0, y0, x1, y1 = _bbox(outer.points)
    if not stroked:
        # A filled ring is an outline with a hole: a second round subpath inside the first, about as centred.
        inner = [s for s in rounds if s is not outer and _inside(_bbox(s.points), (x0, y0, x1, y1))]
        if not (filled and inner):
            return None
    to_mm = 25.4 / 72
    return SealShape("vector", round((x1 - x0) * to_mm, 1), round((y1 - y0) * to_mm, 1), 1.0, False, page)


def _inside(inner: tuple[float, float, float, float], outer: tuple[float, float, float, float]) -> bool:
    return inner[0] > outer[0] and inner[1] > outer[1] and inner[2] < outer[2] and inner[3] < outer[3]


def with_stars(
    seals: list[SealShape], star_centres: Sequence[tuple[Point, int]], rings: list[Point]
) -> list[SealShape]:
    """Mark the vector rings whose centre holds a red filled polygon (a star); `rings[i]` is seal i's centre
    in page space, `star_centres` the centres of red filled polygons with their page."""
    out = []
    for seal, centre in zip(seals, rings, strict=True):
        radius_pt = seal.minor_mm / 2 * 72 / 25.4
        star = any(page == seal.page and math.dist(p, centre) < 0.25 * radius_pt for p, page in star_centres)
        out.append(SealShape(seal.source, seal.width_mm, seal.height_mm, seal.ring, star, seal.page))
    return out
