"""The same drawing, checked by its geometry: local features matched under one perspective.

The image tower compares whole pages by a 384-number summary, and pages drawn on one template
look alike to it; a scan, a phone photo, a turned or mirrored copy of a drawing may then rank
below another sheet of the site. Instance retrieval has long settled this with spatial
verification (Philbin et al., CVPR 2007): find corner-like points on both pages (ORB), pair
each point with its nearest look-alike on the other page (Lowe's ratio test), and count the
pairs one perspective transform explains (RANSAC homography). Two drawings of one template share
the border and title block's points; the drawing itself shares those *and* its views, notes and
dimensions, so it explains several times as many pairs as any other sheet.

A drawing query's similar-drawings list is checked this way for its first `verify_top` hits
and the first `verify_top` by looks alone; the checked hit with the most pairs comes first when
it has at least `verify_min_points` and `verify_ratio` times as many as any other checked hit
(engine.config; chosen leave one source out, docs/similar.md). The points are found on a page
`SIDE_PX` long on its longer side; a mirrored query is caught by matching its mirror image too.
`zumen duplicates` uses the same count to confirm a scan or photo whose words fall short of its
drawing's (search/duplicates.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
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


@dataclass(frozen=True)
class PageFeatures:
    """ORB keypoints of one page: their places (n, 2) in pixels at SIDE_PX and descriptors (n, 32)."""

    points: NDArray[np.float32]
    descriptors: NDArray[np.uint8]

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
        for mirrored in self._order:
            if mirrored not in self._found:
                grey = np.ascontiguousarray(self._grey[:, ::-1]) if mirrored else self._grey
                self._found[mirrored] = _keypoints(grey)
            yield self._found[mirrored]


def _keypoints(grey: NDArray[np.uint8]) -> PageFeatures:
    import cv2

    orb = cv2.ORB_create(nfeatures=MAX_POINTS, fastThreshold=10)
    keypoints, descriptors = orb.detectAndCompute(grey, None)
    if descriptors is None or not keypoints:
        return PageFeatures(np.zeros((0, 2), np.float32), np.zeros((0, 32), np.uint8))
    return PageFeatures(np.array([k.pt for k in keypoints], dtype=np.float32), descriptors)


def matched_points(a: PageFeatures, b: PageFeatures) -> int:
    """Pairs of keypoints of `a` and `b` that one perspective transform explains (0 when too few
    pairs to fit one)."""
    import cv2

    if len(a) < MIN_PAIRS or len(b) < 2:
        return 0
    pairs = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(a.descriptors, b.descriptors, k=2)
    good = [m[0] for m in pairs if len(m) == 2 and m[0].distance < LOWE_RATIO * m[1].distance]
    if len(good) < MIN_PAIRS:
        return 0
    src = a.points[[m.queryIdx for m in good]]  # (g, 2)
    dst = b.points[[m.trainIdx for m in good]]  # (g, 2)
    _, agree = cv2.findHomography(src, dst, cv2.RANSAC, REPROJECTION_PX)
    return int(agree.sum()) if agree is not None else 0


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
                   ratio: float, looks: Sequence[Hit] = ()) -> SearchResults:
    """The similar-drawings list with its first `top` hits, and the first `top` of `looks` (the
    list by looks alone) not among them, checked against the query's keypoints (`features_of`
    gives a hit page's, None when it cannot be drawn; `query` lists the page's versions, the
    likelier way round first: a later one is matched only while no hit stands out). Checked hits
    carry their matched points; the one `verified_first` picks comes first, named the same
    drawing (from further down the list, or from `looks`: then the list's last hit makes room).
    The others keep their order."""
    if not query or top <= 0 or not (results.hits or looks):
        return results
    page = lambda h: (h.doc_id, h.page)  # noqa: E731
    listed = {page(h) for h in results.hits[:top]}
    pool = list(results.hits[:top]) + [h for h in looks[:top] if page(h) not in listed]
    pages = [features_of(h) for h in pool]
    points, first = [0] * len(pool), None
    for version in query:  # the likelier way round first; the other only while no hit stands out
        points = [max(p, matched_points(version, f)) if f is not None else p for p, f in zip(points, pages)]
        first = verified_first(points, min_points=min_points, ratio=ratio)
        if first is not None:
            break
    scored = {page(h): p for h, p in zip(pool, points)}
    hits = [replace(h, scores=replace(h.scores, matched_points=scored[page(h)])) if page(h) in scored else h
            for h in results.hits]
    if first is not None:
        key = page(pool[first])
        at = next((i for i, h in enumerate(hits) if page(h) == key), None)
        chosen = hits.pop(at) if at is not None else replace(
            pool[first], scores=replace(pool[first].scores, matched_points=points[first]))
        hits.insert(0, replace(chosen, explanation=replace(chosen.explanation,
                                                           same_drawing_points=points[first])))
        hits = hits[:max(len(results.hits), 1)]
    return replace(results, hits=tuple(replace(h, rank=i + 1) for i, h in enumerate(hits)))
