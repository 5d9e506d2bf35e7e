"""Which regions made two drawings alike, on both pages.

The image tower gives one embedding per patch of its input grid (`ImageEncoder.patch_embeddings`).
Each inked patch of one page is scored by its best match among the inked patches of the other page
(cosine), so a view that recurs on the other sheet lights up wherever it is drawn there, and both
pages get a map. Blank paper is left dark: two empty margins are alike, which explains nothing.
Scores above the page's median are spread over 0..1 (the map shows where, the hit's "Similar
shape" says how much).

Every site's sheets share a border, a title block and notes, and those patches match on any two
of its drawings; so each patch counts by how much better the other page matches it than a few of
the library's template-mates of the query do (`match_maps(..., template=)`): what the template
explains stays dark.

Maps are cropped to the cells that cover the page (a letterboxed page leaves padding rows or
columns), so a map stretched over the page's picture lines up with it. Pages are compared upright
(engine/orientation.py) and each map is turned back to its page as it lies (`unturn_map`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from engine.orientation import Orientation

INK_DEPTH = 55  # a pixel this much darker (0..255 grey) than the page's paper is ink
MIN_INK_SHARE = 0.002  # a patch with less ink than this share of its pixels is blank paper


@dataclass(frozen=True)
class PagePatches:
    """A page's patch embeddings cropped to the page, and which of those patches hold ink."""

    vectors: NDArray[np.float32]  # (h, w, dim), L2-normalised
    ink: NDArray[np.bool_]  # (h, w)


def page_cells(size: tuple[int, int], grid: tuple[int, int], canvas: tuple[int, int],
               resize: str) -> tuple[slice, slice]:
    """(rows, cols) of a `grid` of patches over a `canvas` (w, h) that hold an image of `size`
    (w, h) after `resize` ("letterbox" centres it; other modes fill the canvas)."""
    rows, cols = grid
    if resize != "letterbox":
        return slice(0, rows), slice(0, cols)
    (w, h), (cw, ch) = size, canvas
    scale = min(cw / w, ch / h)
    new_w, new_h = w * scale, h * scale
    x0, y0 = (cw - new_w) / 2, (ch - new_h) / 2
    c0, c1 = int(x0 * cols / cw), int(np.ceil((x0 + new_w) * cols / cw))
    r0, r1 = int(y0 * rows / ch), int(np.ceil((y0 + new_h) * rows / ch))
    return slice(r0, max(r0 + 1, r1)), slice(c0, max(c0 + 1, c1))


def ink_cells(image: Image.Image, shape: tuple[int, int]) -> NDArray[np.bool_]:
    """(rows, cols) True where that cell of the picture holds ink: pixels clearly darker than the
    paper (its 90th-percentile grey: white for a render, grey in a photo or a yellowed scan)."""
    rows, cols = shape
    grey = np.asarray(image.convert("L"))  # (H, W), at full size: thin lines count
    dark = grey < float(np.percentile(grey[::4, ::4], 90)) - INK_DEPTH
    height, width = dark.shape
    r = np.linspace(0, height, rows + 1).astype(int)
    c = np.linspace(0, width, cols + 1).astype(int)
    counts = np.add.reduceat(np.add.reduceat(dark.astype(np.int32), r[:-1], axis=0), c[:-1], axis=1)
    areas = np.outer(np.diff(r), np.diff(c))  # (rows, cols) pixels per cell
    return counts >= MIN_INK_SHARE * np.maximum(areas, 1)


def page_patches(image: Image.Image, patches: NDArray[np.float32], canvas: tuple[int, int],
                 resize: str) -> PagePatches:
    """The patches of `image` (as the encoder returned them for it) that cover the page."""
    rows, cols = page_cells(image.size, patches.shape[:2], canvas, resize)
    vectors = patches[rows, cols]
    return PagePatches(vectors, ink_cells(image, vectors.shape[:2]))


def match_maps(a: PagePatches, b: PagePatches, template: Sequence[PagePatches] = ()
               ) -> tuple[NDArray[np.float32], NDArray[np.float32]] | None:
    """(map of a, map of b): each inked patch's best cosine among the other page's inked
    patches, spread over 0..1 per page; blank patches 0. None when either page is blank.

    `template`: other pages of the library that look like these two (their template-mates). A
    patch then counts by how much better the other page matches it than the best of those does:
    the border, title block and standard notes every sheet of a site carries match them as well
    as the other page, and stay dark; what the two drawings share beyond the template lights up."""
    av, bv = a.vectors[a.ink], b.vectors[b.ink]  # (na, dim), (nb, dim)
    if not len(av) or not len(bv):
        return None
    sim = av @ bv.T  # (na, nb)
    best_a, best_b = sim.max(axis=1), sim.max(axis=0)  # (na,), (nb,)
    mates = [t.vectors[t.ink] for t in template if t.ink.any()]
    if mates:
        tv = np.concatenate(mates)  # (nt, dim)
        best_a = best_a - (av @ tv.T).max(axis=1)
        best_b = best_b - (bv @ tv.T).max(axis=1)
    return _spread(best_a, a.ink), _spread(best_b, b.ink)


def _spread(best: NDArray[np.float32], ink: NDArray[np.bool_]) -> NDArray[np.float32]:
    """Inked patches above the page's median match, spread over 0..1: the half of the sheet
    that matched best lights up (on a drawing nearly every patch holds some ink, and a map red
    all over explains nothing)."""
    out = np.zeros(ink.shape, dtype=np.float32)  # (h, w)
    lo, hi = float(np.median(best)), float(best.max())
    out[ink] = np.clip((best - lo) / (hi - lo), 0.0, 1.0) if hi > lo else 1.0
    return out


def unturn_map(heat: NDArray[np.float32], orientation: Orientation) -> NDArray[np.float32]:
    """A map of the page turned by `orientation` (engine.orientation.turn), turned back to lie
    over the page as it was: the inverse of `turn_array`."""
    out = heat[:, ::-1] if orientation.mirrored else heat
    return np.ascontiguousarray(np.rot90(out, k=(orientation.rotation // 90) % 4))
