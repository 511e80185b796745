"""Seal shapes (formats/seals.py): a red ring is a seal candidate with its size in millimetres; a red
square frame, a solid red disc, red text blocks and a red rule are not."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from services.validation.formats.seals import raster_seals

pytestmark = pytest.mark.unit

PX_PER_MM = 200 / 25.4
RED = (200, 30, 40)


def _page(draw_on) -> Image.Image:  # type: ignore[no-untyped-def]
    page = Image.new("RGB", (int(120 * PX_PER_MM), int(120 * PX_PER_MM)), (245, 242, 232))
    draw_on(ImageDraw.Draw(page), lambda mm: int(mm * PX_PER_MM))
    return page


def test_a_red_ring_is_found_with_its_size_and_star():
    def ring(draw, px):  # type: ignore[no-untyped-def]
        draw.ellipse((px(20), px(20), px(62), px(62)), outline=RED, width=px(1.2))
        draw.regular_polygon((px(41), px(41), px(6)), 5, fill=RED)

    [seal] = raster_seals(_page(ring), PX_PER_MM)
    assert 41 <= seal.width_mm <= 43 and 41 <= seal.height_mm <= 43
    assert seal.ring >= 0.95 and seal.star


def test_an_oval_ring_is_found_as_an_oval():
    [seal] = raster_seals(
        _page(lambda d, px: d.ellipse((px(10), px(10), px(55), px(40)), outline=RED, width=px(1.0))), PX_PER_MM
    )
    assert 44 <= seal.major_mm <= 46 and 29 <= seal.minor_mm <= 31


@pytest.mark.parametrize(
    "shape",
    [
        lambda d, px: d.rectangle((px(20), px(20), px(62), px(62)), outline=RED, width=px(1.2)),  # square frame
        lambda d, px: d.ellipse((px(20), px(20), px(62), px(62)), fill=RED),  # solid disc
        lambda d, px: [d.rectangle((px(5 + 14 * i), px(5), px(17 + 14 * i), px(17)), fill=RED) for i in range(7)],
        lambda d, px: d.rectangle((px(5), px(30), px(115), px(31.2)), fill=RED),  # a red rule
        lambda d, px: d.arc((px(20), px(20), px(62), px(62)), 200, 340, fill=RED, width=px(1.2)),  # an arc
    ],
    ids=["square-frame", "solid-disc", "letterhead-blocks", "red-rule", "arc"],
)
def test_red_marks_that_are_not_rings_are_not_seals(shape):  # type: ignore[no-untyped-def]
    assert raster_seals(_page(shape), PX_PER_MM) == []


@pytest.mark.parametrize("seed", range(6))
def test_closing_and_labelling_around_the_ink_is_the_whole_pages(seed):  # type: ignore[no-untyped-def]
    """raster_seals closes and labels only the part of the mask around its ink (`_around_the_ink`): the
    same closed pixels and the same components, in the same order, as on the whole page — with ink near
    an edge, in one corner, or scattered."""
    import numpy as np
    from scipy import ndimage

    from services.validation.formats.seals import _around_the_ink, close_3x3

    rng = np.random.default_rng(seed)
    mask = np.zeros((220, 160), bool)
    y, x = rng.integers(0, 200), rng.integers(0, 140)
    mask[y : y + rng.integers(3, 20), x : x + rng.integers(3, 20)] = True
    mask |= rng.random(mask.shape) < (0.002 if seed % 2 else 0.0)
    mask[y : y + 20, x : x + 20] &= rng.random((min(20, 220 - y), min(20, 160 - x))) < 0.6
    if not mask.any():
        mask[0, 0] = True
    three = np.ones((3, 3), bool)
    whole = close_3x3(mask)
    part = close_3x3(_around_the_ink(mask))
    assert part.sum() == whole.sum()
    labels_whole, n_whole = ndimage.label(whole, structure=three)
    labels_part, n_part = ndimage.label(part, structure=three)
    assert n_part == n_whole
    for i in range(1, n_whole + 1):
        assert (labels_part == i).sum() == (labels_whole == i).sum()


def test_the_red_mask_on_planes_is_the_one_on_the_rgb_array():
    import numpy as np

    from services.validation.formats.seals import _red_mask, seal_red_mask

    rgb = np.random.default_rng(4).integers(0, 256, (90, 130, 3), dtype=np.uint8)
    planes = [np.ascontiguousarray(rgb[..., i]) for i in range(3)]
    assert (_red_mask(*planes) == seal_red_mask(rgb)).all()


def _ring_by_loop(ink):  # type: ignore[no-untyped-def]
    """The ring fraction as `_ring_of` measured it ray by ray before issue 18: the reference."""
    import math

    import numpy as np

    h, w = ink.shape
    cy, cx = (h - 1) / 2, (w - 1) / 2
    hits = 0
    for k in range(72):
        angle = 2 * math.pi * k / 72
        dx, dy = math.cos(angle) * (w / 2), math.sin(angle) * (h / 2)
        for t in np.linspace(0.8, 1.0, 6):
            x, y = round(cx + dx * t), round(cy + dy * t)
            if 0 <= x < w and 0 <= y < h and ink[y, x]:
                hits += 1
                break
    return round(hits / 72, 2)


def test_the_rays_all_at_once_take_the_loops_samples():
    import numpy as np

    from services.validation.formats.seals import _ring_of

    rng = np.random.default_rng(18)
    compared = 0
    for _ in range(400):
        h, w = (int(v) for v in rng.integers(20, 160, 2))
        yy, xx = np.ogrid[:h, :w]
        r = ((xx - (w - 1) / 2) / (w / 2)) ** 2 + ((yy - (h - 1) / 2) / (h / 2)) ** 2
        ink = (r <= 1.0) & (r >= rng.uniform(0.3, 0.95)) & (rng.random((h, w)) < rng.uniform(0.3, 1))
        shape = _ring_of(ink, ink, w / 4, h / 4, None)
        if shape is not None:
            assert shape.ring == _ring_by_loop(ink)
            compared += 1
    assert compared > 300
