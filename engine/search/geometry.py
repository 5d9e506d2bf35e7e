"""The same drawing, checked by its geometry: local features matched under one perspective.

The image tower compares whole pages by a 384-number summary, and pages drawn on one template
look alike to it; a scan, a phone photo, a turned or mirrored copy of a drawing may then rank
below another sheet of the site. Instance retrieval has long settled this with spatial
verification (Philbin et al., CVPR 2007): find corner-like points on both pages (ORB), pair
each point with its nearest look-alike on the other page (Lowe's ratio test), and count the
pairs one perspective transform explains (RANSAC homography). Two drawings of one template share
the border and title block's points; the drawing itself shares those *and* its views, notes and
dimensions, so it explains several times as many pairs as any other sheet.

A drawing query's similar-drawings list is checked this way for its first `verify_top` hits,
the first `verify_top` by looks alone and the first `verify_top` related documents that can be
drawn (a sheet the kind heuristic takes for a document, such as a pin-assignment chart, is still
the same sheet), and when none of those stands out, the first `verify_top` by looks in the
query's three other turns and the first `verify_top` in its mirror image's four (a page OCR turned
wrong, a mirrored copy the mirror check missed); the checked hit with the most pairs comes first
when it has at least `verify_min_points` and `verify_ratio` times as many as any other checked hit
(engine.config; chosen leave one source out, docs/similar.md). The points are found on a page
`SIDE_PX` long on its longer side; a mirrored query is caught by matching its mirror image too.
`zumen duplicates` uses the same count to confirm a scan or photo whose words fall short of its
drawing's (search/duplicates.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from engine.types import Hit, SearchResults

SIDE_PX = 800  # the page is matched at this length of its longer side
MAX_POINTS = 500  # ORB keypoints kept per page (the strongest)
LOWE_RATIO = 0.8  # a pair counts when its match is clearly better than the second-best
REPROJECTION_PX = 8.0  # RANSAC: a pair agrees when the transform puts it within this (at SIDE_PX)
MIN_PAIRS = 8  # fewer candidate pairs than this: no transform is fitted
MAP_CELLS = 48  # where points line up is shown on a map this many cells long (`point_map`)


@dataclass(frozen=True)
class PageFeatures:
    """ORB keypoints of one page: their places (n, 2) in pixels at SIDE_PX and descriptors (n, 32)."""

    points: NDArray[np.float32]
    descriptors: NDArray[np.uint8]
    size: tuple[int, int] = (0, 0)  # (width, height) of the page in pixels at SIDE_PX

    def __len__(self) -> int:
        return len(self.points)


def _grey(image: Image.Image) -> NDArray[np.uint8]:
    """The page in grey, SIDE_PX long on its longer side (smaller pages as they are)."""
    import cv2

    grey = np.asarray(image.convert("L"))
    scale = SIDE_PX / max(grey.shape)
    if scale < 1:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return grey


def page_features(image: Image.Image) -> PageFeatures:
    """The page's keypoints at SIDE_PX."""
    return _keypoints(_grey(image))


class QueryKeypoints:
    """A query page's keypoints as it comes and mirrored, the likelier way round first (the
    mirror check found it mirrored: mirrored first); each version is found when first matched,
    so a page whose own drawing stands out as it comes never has its mirror image searched."""

    def __init__(self, image: Image.Image, mirrored_first: bool = False) -> None:
        self._grey = _grey(image)
        self._order = (True, False) if mirrored_first else (False, True)
        self._found: dict[bool, PageFeatures] = {}

    def __len__(self) -> int:
        return len(self._order)

    def __iter__(self) -> Iterator[PageFeatures]:
        for _, features in self.versions():
            yield features

    def versions(self) -> Iterator[tuple[bool, PageFeatures]]:
        """(mirrored, keypoints) of each version, the likelier way round first."""
        for mirrored in self._order:
            if mirrored not in self._found:
                grey = np.ascontiguousarray(self._grey[:, ::-1]) if mirrored else self._grey
                self._found[mirrored] = _keypoints(grey)
            yield mirrored, self._found[mirrored]


def _keypoints(grey: NDArray[np.uint8]) -> PageFeatures:
    import cv2

    orb = cv2.ORB_create(nfeatures=MAX_POINTS, fastThreshold=10)
    keypoints, descriptors = orb.detectAndCompute(grey, None)
    size = (grey.shape[1], grey.shape[0])
    if descriptors is None or not keypoints:
        return PageFeatures(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8), size)
    return PageFeatures(np.array([k.pt for k in keypoints], dtype=np.float32), descriptors, size)


def write_features(features: PageFeatures, path: Path) -> None:
    """Keep a page's keypoints in a file (written aside, then moved into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    aside = path.with_name(path.name + ".tmp")
    with aside.open("wb") as fh:
        np.savez(fh, points=features.points, descriptors=features.descriptors,
                 size=np.array(features.size, dtype=np.int32))
    aside.replace(path)


def read_features(path: Path) -> PageFeatures | None:
    """A page's keypoints kept by `write_features`; None when there is no such file or it cannot
    be read (then they are found again)."""
    try:
        with np.load(path) as kept:
            points, descriptors, size = kept["points"], kept["descriptors"], kept["size"]
    except (OSError, ValueError, KeyError):
        return None
    if points.ndim != 2 or points.shape[1:] != (2,) or descriptors.shape[0] != points.shape[0]:
        return None
    return PageFeatures(points.astype(np.float32), descriptors.astype(np.uint8), (int(size[0]), int(size[1])))


def lined_up(a: PageFeatures, b: PageFeatures) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """The pairs of keypoints of `a` and `b` that one perspective transform explains: their
    places on `a` and on `b`, (k, 2) each in pixels at SIDE_PX (none when too few pairs to fit
    one)."""
    import cv2

    none = np.zeros((0, 2), np.float32)
    if len(a) < MIN_PAIRS or len(b) < 2:
        return none, none
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(a.descriptors, b.descriptors, k=2)
    good = [m[0] for m in pairs if len(m) == 2 and m[0].distance < LOWE_RATIO * m[1].distance]
    if len(good) < MIN_PAIRS:
        return none, none
    src = a.points[[m.queryIdx for m in good]]  # (g, 2)
    dst = b.points[[m.trainIdx for m in good]]  # (g, 2)
    _, agree = cv2.findHomography(src, dst, cv2.RANSAC, REPROJECTION_PX)
    if agree is None:
        return none, none
    keep = agree.ravel().astype(bool)
    return src[keep], dst[keep]


def matched_points(a: PageFeatures, b: PageFeatures) -> int:
    """How many keypoints of `a` and `b` one perspective transform explains (`lined_up`)."""
    return len(lined_up(a, b)[0])


def point_map(points: NDArray[np.float32], size: tuple[int, int], cells: int = MAP_CELLS) -> NDArray[np.float32]:
    """Where `points` lie on a page `size` (width, height) pixels: an (h, w) map in 0..1 with
    `cells` cells on the page's longer side, each point spread over the cells around it; the
    square root of the density, so that a region with a few points shows beside a dense one."""
    width, height = size
    scale = cells / max(width, height, 1)
    shape = (max(1, round(height * scale)), max(1, round(width * scale)))
    grid = np.zeros(shape)
    if len(points):
        xs = np.clip((points[:, 0] * scale).astype(int), 0, shape[1] - 1)
        ys = np.clip((points[:, 1] * scale).astype(int), 0, shape[0] - 1)
        np.add.at(grid, (ys, xs), 1.0)
    kernel = np.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0  # binomial, twice: a Gaussian of ~1.4 cells
    for axis in (0, 1, 0, 1):
        grid = np.apply_along_axis(lambda line: np.convolve(line, kernel, mode="same"), axis, grid)
    grid = np.sqrt(grid)
    top = grid.max()
    return (grid / top if top > 0 else grid).astype(np.float32)


def lined_up_maps(query: QueryKeypoints, page: PageFeatures,
                  cells: int = MAP_CELLS) -> tuple[NDArray[np.float32], NDArray[np.float32]] | None:
    """Where the keypoints that line up lie on the query page (as it comes, whichever way round
    matched more) and on `page`: two maps (`point_map`), None when they do not line up."""
    best: tuple[bool, NDArray[np.float32], NDArray[np.float32], tuple[int, int]] | None = None
    for mirrored, version in query.versions():
        on_query, on_page = lined_up(version, page)
        if best is None or len(on_query) > len(best[1]):
            best = (mirrored, on_query, on_page, version.size)
    if best is None or len(best[1]) < MIN_PAIRS:
        return None
    mirrored, on_query, on_page, size = best
    if mirrored:  # found on the mirror image: back to the page as it comes
        on_query = np.column_stack([size[0] - 1 - on_query[:, 0], on_query[:, 1]])
    return point_map(on_query, size, cells), point_map(on_page, page.size, cells)


def same_drawing_points(query: Iterable[PageFeatures], page: PageFeatures) -> int:
    """The most pairs `page` shares with any of the query's versions (as it comes, mirrored)."""
    return max((matched_points(q, page) for q in query), default=0)


def verified_first(points: Sequence[int], *, min_points: int, ratio: float) -> int | None:
    """Which of the checked hits (their matched points, in rank order) is the drawing itself:
    the one with the most points, when it has at least `min_points` and `ratio` times as many
    as any other; None when no hit stands out so."""
    if not points:
        return None
    best = int(np.argmax(points))  # the first of equals
    rest = max((p for i, p in enumerate(points) if i != best), default=0)
    if points[best] >= min_points and points[best] >= ratio * max(rest, 1):
        return best
    return None


def verify_similar(results: SearchResults, query: Iterable[PageFeatures],
                   features_of: Callable[[Hit], PageFeatures | None], *, top: int, min_points: int,
                   ratio: float, also: Sequence[Sequence[Hit]] = (),
                   memo: dict[tuple[int, tuple[int, int]], int] | None = None
                   ) -> tuple[SearchResults, dict[tuple[int, int], int]]:
    """The similar-drawings list with its first `top` hits, and the first `top` of each list in
    `also` (the list by looks alone, related documents that can be drawn, the looks in other
    orientations) not among them, checked against the query's keypoints (`features_of` gives a
    hit page's, None when it cannot be drawn; `query` lists the page's versions, the likelier way
    round first: a later one is matched only while no hit stands out). Checked hits carry their
    matched points; the one `verified_first` picks comes first, named the same drawing (from
    further down the list, or from another list: then the list's last hit makes room). The
    others keep their order. Returns the list and every checked page's points ((doc id, page) ->
    points), for `with_points` on the other lists. `memo` keeps each (query version, page) match
    of the same query, so a second call with more candidates matches only the new pages."""
    if not query or top <= 0 or not (results.hits or any(also)):
        return results, {}
    pool: list[Hit] = []
    for hit in (*results.hits[:top], *(h for extra in also for h in extra[:top])):
        if all(_page(hit) != _page(h) for h in pool):
            pool.append(hit)
    pages = [features_of(h) for h in pool]
    memo = {} if memo is None else memo
    points, first = [0] * len(pool), None
    for v, version in enumerate(query):  # the likelier way round first; the other only while no hit stands out
        for k, (hit, page) in enumerate(zip(pool, pages)):
            if page is not None:
                if (v, _page(hit)) not in memo:
                    memo[v, _page(hit)] = matched_points(version, page)
                points[k] = max(points[k], memo[v, _page(hit)])
        first = verified_first(points, min_points=min_points, ratio=ratio)
        if first is not None:
            break
    scored = {_page(h): p for h, p in zip(pool, points)}
    hits = list(with_points(results, scored).hits)
    if first is not None:
        key = _page(pool[first])
        at = next((i for i, h in enumerate(hits) if _page(h) == key), None)
        chosen = hits.pop(at) if at is not None else replace(
            pool[first], scores=replace(pool[first].scores, matched_points=points[first]))
        hits.insert(0, replace(chosen, explanation=replace(chosen.explanation,
                                                           same_drawing_points=points[first])))
        hits = hits[:max(len(results.hits), 1)]
    return replace(results, hits=tuple(replace(h, rank=i + 1) for i, h in enumerate(hits))), scored


def with_points(results: SearchResults, scored: dict[tuple[int, int], int]) -> SearchResults:
    """`results` with each checked hit's matched points (`verify_similar`'s second value)."""
    return replace(results, hits=tuple(
        replace(h, scores=replace(h.scores, matched_points=scored[_page(h)])) if _page(h) in scored else h
        for h in results.hits))


def _page(hit: Hit) -> tuple[int, int]:
    return hit.doc_id, hit.page
