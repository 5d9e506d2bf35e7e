"""Make clean renders look like scans, phone photos or faxes (augmentation + sample library).

    img = degrade(render(part), rng, kind="photo")

Kinds: "clean" (unchanged), "scan" (paper tint, skew, blur, grain, dust, JPEG), "photo" (perspective,
uneven light and a shadow, blur, noise, down/up-scaling, JPEG), "fax" (coarse vertical resolution,
hard threshold, speckle). `rotate=90|180|270` turns the page as a sideways scan would be.

Size and mode are kept ("L" stays "L", "RGB" stays "RGB"; 90/270 rotation swaps width and height).
Speed matters (the image-tower pretraining loop calls this per sample): OpenCV is used when
installed, with a Pillow fallback; about 15-35 ms for a 150-dpi A4 page on one core with OpenCV.
"""

from __future__ import annotations

import io
import random
from typing import Literal, Union

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFilter

try:  # optional, much faster warps/blur/JPEG
    import cv2  # type: ignore[import-not-found]

    cv2.setNumThreads(1)
except ImportError:  # pragma: no cover - exercised only without OpenCV
    cv2 = None

HAVE_OPENCV = cv2 is not None

Kind = Literal["scan", "photo", "fax", "clean"]
RngLike = Union[np.random.Generator, random.Random, int, None]
Gray = NDArray[np.uint8]  # (h, w)
KINDS: tuple[str, ...] = ("scan", "photo", "fax", "clean")


def _generator(rng: RngLike) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, random.Random):
        return np.random.default_rng(rng.getrandbits(64))
    return np.random.default_rng(rng)


# ---------------------------------------------------------------------------- backend helpers
def _blur(a: Gray, sigma: float) -> Gray:
    if sigma < 0.2:
        return a
    if cv2 is not None:
        return cv2.GaussianBlur(a, (0, 0), sigma)
    return np.asarray(Image.fromarray(a).filter(ImageFilter.GaussianBlur(sigma)))


def _resize(a: Gray, w: int, h: int, nearest: bool = False) -> Gray:
    if cv2 is not None:
        return cv2.resize(a, (w, h), interpolation=cv2.INTER_NEAREST if nearest else cv2.INTER_AREA
                          if w < a.shape[1] else cv2.INTER_LINEAR)
    return np.asarray(Image.fromarray(a).resize((w, h), Image.NEAREST if nearest else Image.BILINEAR))


def _jpeg(a: Gray, quality: int) -> Gray:
    if cv2 is not None:
        ok, buf = cv2.imencode(".jpg", a, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
        return cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    b = io.BytesIO()
    Image.fromarray(a).save(b, format="JPEG", quality=int(quality))
    return np.asarray(Image.open(io.BytesIO(b.getvalue())).convert("L"))


def _warp(a: Gray, src: NDArray[np.float32], dst: NDArray[np.float32], border: int) -> Gray:
    """Perspective warp taking the 4 points `src` to `dst` (pixel coordinates), same output size."""
    h, w = a.shape
    if cv2 is not None:
        m = cv2.getPerspectiveTransform(src, dst)
        return cv2.warpPerspective(a, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                   borderValue=int(border))
    # Pillow wants the inverse mapping (output -> input) as 8 coefficients
    mat = []
    for (x, y), (u, v) in zip(dst, src):
        mat.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        mat.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    coeffs = np.linalg.solve(np.asarray(mat, np.float64), src.reshape(8).astype(np.float64))
    out = Image.fromarray(a).transform((w, h), Image.PERSPECTIVE, tuple(coeffs), Image.BILINEAR,
                                       fillcolor=int(border))
    return np.asarray(out)


def _noise(g: np.random.Generator, shape: tuple[int, int], sigma: float, grain: int = 2) -> NDArray[np.float32]:
    """Gaussian grain drawn at 1/grain resolution and upscaled (cheap, looks like sensor noise)."""
    h, w = shape
    small = g.standard_normal(((h + grain - 1) // grain, (w + grain - 1) // grain), dtype=np.float32)
    small *= sigma
    if grain == 1:
        return small
    if cv2 is not None:
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    return np.repeat(np.repeat(small, grain, 0), grain, 1)[:h, :w]


def _clip(a: NDArray[np.floating]) -> Gray:
    return np.clip(a, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------------------- the kinds
def _scan(a: Gray, g: np.random.Generator) -> Gray:
    h, w = a.shape
    ang = np.deg2rad(g.uniform(-1.8, 1.8))
    cx, cy = w / 2, h / 2
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    c, s = np.cos(ang), np.sin(ang)
    dst = np.float32([[cx + (x - cx) * c - (y - cy) * s + g.uniform(-3, 3),
                       cy + (x - cx) * s + (y - cy) * c + g.uniform(-3, 3)] for x, y in src])
    paper = g.uniform(228, 250)
    a = _warp(a, src, dst, border=int(paper))
    a = _blur(a, g.uniform(0.3, 1.0))
    f = a.astype(np.float32)
    f *= paper / 255.0
    f += _noise(g, a.shape, g.uniform(2, 7), grain=2)
    n_dust = int(g.integers(20, 120))
    ys, xs = g.integers(0, h, n_dust), g.integers(0, w, n_dust)
    f[ys, xs] = g.uniform(40, 140, n_dust)
    a = _clip(f)
    if g.random() < 0.5:
        k = g.uniform(0.6, 0.85)
        a = _resize(_resize(a, int(w * k), int(h * k)), w, h)
    return _jpeg(a, int(g.integers(45, 90)))


def _photo(a: Gray, g: np.random.Generator) -> Gray:
    h, w = a.shape
    # perspective: the sheet seen from a hand-held phone, some table visible around it
    m = min(w, h)
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    inset = g.uniform(0.01, 0.08, size=(4, 2)) * m
    dst = np.float32([[inset[0, 0], inset[0, 1]], [w - inset[1, 0], inset[1, 1]],
                      [w - inset[2, 0], h - inset[2, 1]], [inset[3, 0], h - inset[3, 1]]])
    table = int(g.integers(60, 160))
    small_k = g.uniform(0.5, 0.85)  # phone pictures are processed at lower resolution
    sw, sh = max(64, int(w * small_k)), max(64, int(h * small_k))
    a = _resize(a, sw, sh)
    k = np.float32([sw / w, sh / h])
    a = _warp(a, (src * k).astype(np.float32), (dst * k).astype(np.float32), border=table)
    f = a.astype(np.float32)
    # uneven lighting: a tilted plane times a radial falloff, plus one soft shadow band
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    xx /= sw
    yy /= sh
    light = 0.88 + 0.2 * (g.uniform(-1, 1) * (xx - 0.5) + g.uniform(-1, 1) * (yy - 0.5))
    light -= g.uniform(0.05, 0.2) * ((xx - g.uniform(0.3, 0.7)) ** 2 + (yy - g.uniform(0.3, 0.7)) ** 2)
    if g.random() < 0.7:
        nx, ny = g.uniform(-1, 1), g.uniform(-1, 1)
        d = nx * (xx - 0.5) + ny * (yy - 0.5) - g.uniform(-0.3, 0.3)
        light *= 1.0 - g.uniform(0.15, 0.4) / (1.0 + np.exp(-d * g.uniform(15, 40)))
    f = f * light * g.uniform(0.9, 1.05)
    f += _noise(g, (sh, sw), g.uniform(3, 10), grain=1)
    a = _blur(_clip(f), g.uniform(0.3, 1.1))
    a = _resize(a, w, h)
    return _jpeg(a, int(g.integers(30, 75)))


def _fax(a: Gray, g: np.random.Generator) -> Gray:
    h, w = a.shape
    ang = np.deg2rad(g.uniform(-1.0, 1.0))
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    c, s = np.cos(ang), np.sin(ang)
    dst = np.float32([[w / 2 + (x - w / 2) * c - (y - h / 2) * s, h / 2 + (x - w / 2) * s + (y - h / 2) * c]
                      for x, y in src])
    a = _warp(a, src, dst, border=255)
    # fax "standard" mode: ~200 x 100 dpi, then 1-bit
    lo = _resize(a, max(32, int(w * 0.9)), max(32, int(h * 0.45)))
    thr = g.uniform(150, 200)
    bw = np.where(lo.astype(np.float32) + _noise(g, lo.shape, 25, grain=1) < thr, 0, 255).astype(np.uint8)
    n = int(lo.size * g.uniform(0.0005, 0.002))
    bw[g.integers(0, lo.shape[0], n), g.integers(0, lo.shape[1], n)] = 0
    return _resize(bw, w, h, nearest=True)


def degrade(image: Image.Image, rng: RngLike = None, kind: Kind = "scan", *, rotate: int | None = None,
            ) -> Image.Image:
    """Return a degraded copy of `image` (same size and mode; see module docstring)."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; one of {KINDS}")
    g = _generator(rng)
    mode = image.mode
    a = np.asarray(image.convert("L") if mode != "L" else image)
    if kind == "scan":
        a = _scan(a, g)
    elif kind == "photo":
        a = _photo(a, g)
    elif kind == "fax":
        a = _fax(a, g)
    else:
        a = a.copy()
    if rotate:
        if rotate % 90:
            raise ValueError("rotate must be a multiple of 90")
        a = np.ascontiguousarray(np.rot90(a, k=-(rotate // 90) % 4))  # clockwise, like a sideways scan
    out = Image.fromarray(a, mode="L")
    if mode == "RGB":
        tint = (1.0, g.uniform(0.96, 1.0), g.uniform(0.88, 0.98)) if kind in ("photo", "scan") else (1, 1, 1)
        rgb = np.stack([_clip(a.astype(np.float32) * t) for t in tint], axis=-1)
        out = Image.fromarray(rgb, mode="RGB")
    elif mode != "L":
        out = out.convert(mode)
    return out
