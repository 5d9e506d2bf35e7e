"""A photographed sheet made flat: find the paper in a phone photo and rectify it.

A phone photo of a drawing shows the sheet in perspective, with some table around it and uneven
light (a lamp on one side, the phone's shadow). OCR reads such a page worse than a scan, and the
image tower compares the whole frame, table and tilt included, with drawings indexed flat. This
is the document-scanner step: the sheet is the quadrilateral that holds every edge of the frame
(the paper's own edge and all that is drawn on it; a table's grain is blurred away), brighter
than what lies around it; it is warped back to a rectangle (a homography from its four corners)
and its lighting is divided out (the paper's own brightness, estimated with the ink closed away,
made white).

Only a frame that clearly shows a sheet on something darker is changed: the quadrilateral must
cover 20-97 % of the frame, fit the outline of its edges closely (four straight sides), and be
brighter than its surround by MIN_CONTRAST. A scan or a render (paper to the edges) and a
close-up without corners are left as they are. The decision is taken on a small copy and the corners are kept relative to the frame,
so every resolution of one file (OCR, the image tower, the screen) is rectified alike.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# the decision is taken on a copy this long on its longer side
DETECT_SIDE_PX = 640
MIN_AREA, MAX_AREA = 0.20, 0.97  # share of the frame the sheet covers
MIN_FIT = 0.97  # the quadrilateral's area over the edges' outline's (a sheet is four straight sides)
MIN_CONTRAST = 25.0  # grey levels between the paper and its surround


def find_sheet(image: Image.Image) -> np.ndarray | None:
    """The sheet's corners (top-left, top-right, bottom-right, bottom-left) as fractions of the
    frame's width and height, or None when the frame shows no sheet on a darker surround."""
    import cv2

    grey = np.asarray(image.convert("L"))
    h, w = grey.shape
    scale = min(1.0, DETECT_SIDE_PX / max(h, w))
    small = cv2.resize(grey, (max(1, round(w * scale)), max(1, round(h * scale))),
                       interpolation=cv2.INTER_AREA) if scale < 1 else grey
    sh, sw = small.shape
    if min(sh, sw) < 32:
        return None
    blur = cv2.GaussianBlur(small, (5, 5), 0)
    # the paper's edge and everything drawn on it; a table is flat (its grain is blurred away)
    edges = cv2.findNonZero(cv2.Canny(blur, 20, 60))
    if edges is None:
        return None
    outline = cv2.convexHull(edges)
    hull_area = cv2.contourArea(outline)
    if not MIN_AREA <= hull_area / (sh * sw) <= MAX_AREA:
        return None
    quad = _quadrilateral(outline)
    if quad is None or cv2.contourArea(quad) < MIN_FIT * hull_area:
        return None
    inside = np.zeros_like(small)
    cv2.fillConvexPoly(inside, quad.astype(np.int32), 255)
    k = max(3, round(min(sh, sw) * 0.02)) | 1
    ring = cv2.dilate(inside, np.ones((k, k), np.uint8), iterations=2) > 0
    ring &= inside == 0
    if not ring.any() or float(np.median(blur[inside > 0])) - float(np.median(blur[ring])) < MIN_CONTRAST:
        return None
    return (_ordered(quad) / np.float32([sw, sh])).astype(np.float32)


def _quadrilateral(outline: np.ndarray) -> np.ndarray | None:
    """Four corners approximating a convex outline (None when it is no quadrilateral)."""
    import cv2

    perimeter = cv2.arcLength(outline, True)
    for eps in (0.01, 0.02, 0.03, 0.045, 0.06):
        approx = cv2.approxPolyDP(outline, eps * perimeter, True)
        if len(approx) == 4 and cv2.isContourConvex(approx):
            return approx.reshape(4, 2).astype(np.float32)
        if len(approx) < 4:
            return None
    return None


def _ordered(quad: np.ndarray) -> np.ndarray:
    """Corners as top-left, top-right, bottom-right, bottom-left."""
    s, d = quad.sum(axis=1), quad[:, 0] - quad[:, 1]
    return np.float32([quad[np.argmin(s)], quad[np.argmax(d)], quad[np.argmax(s)], quad[np.argmin(d)]])


def rectified_size(corners: np.ndarray, size: tuple[int, int]) -> tuple[int, int]:
    """The flat sheet's size in pixels for a frame of `size` (width, height): its longer opposite
    sides."""
    pts = corners * np.float32(size)
    tl, tr, br, bl = pts
    width = max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl))
    height = max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr))
    return max(1, round(float(width))), max(1, round(float(height)))


def flatten(image: Image.Image, corners: np.ndarray) -> Image.Image:
    """The sheet cut out along `corners` (from find_sheet), warped to a rectangle and its light
    evened out: the paper's brightness, estimated with the ink closed away, becomes white."""
    import cv2

    a = np.asarray(image)
    out_w, out_h = rectified_size(corners, image.size)
    src = (corners * np.float32(image.size)).astype(np.float32)
    dst = np.float32([[0, 0], [out_w - 1, 0], [out_w - 1, out_h - 1], [0, out_h - 1]])
    warped = cv2.warpPerspective(a, cv2.getPerspectiveTransform(src, dst), (out_w, out_h),
                                 flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return Image.fromarray(_even_light(warped), image.mode)


def _even_light(a: np.ndarray) -> np.ndarray:
    """Divide out the paper's brightness (per channel for colour), estimated on a small copy:
    ink closed away (a grey closing wider than any line), then blurred."""
    import cv2

    h, w = a.shape[:2]
    scale = min(1.0, 400 / max(h, w))
    small = cv2.resize(a, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    k = max(3, round(min(small.shape[:2]) * 0.04)) | 1
    paper = cv2.morphologyEx(small, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    paper = cv2.GaussianBlur(paper, (k, k), 0)
    paper = cv2.resize(np.maximum(paper, 1), (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.divide(a, paper, scale=255.0)  # in 8 bits, saturating: no full-size float copy


def rectify(image: Image.Image) -> Image.Image:
    """`image` with a photographed sheet flattened (find_sheet, flatten), or as it is."""
    corners = find_sheet(image)
    return image if corners is None else flatten(image, corners)
