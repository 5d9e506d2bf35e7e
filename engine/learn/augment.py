"""Scan and phone-photo degradations for training images (PIL + numpy, deterministic per seed).

`degrade(image, rng, mode)` turns a clean grayscale render into what a scanner or a phone on the shop
floor would produce: skew, perspective, partial framing, uneven lighting and shadows, paper tint, blur,
sensor noise, line-weight changes (toner spread / faint copies) and JPEG artefacts. `mode` picks the
family of effects; "random" draws one. The same (image, seed, mode) always gives the same output.
"""

from __future__ import annotations

import io
import random
from typing import Literal

import numpy as np
from PIL import Image, ImageFilter

Mode = Literal["clean", "scan", "photo", "random"]


def _perspective_coeffs(src: list[tuple[float, float]], dst: list[tuple[float, float]]) -> list[float]:
    """Coefficients for PIL's PERSPECTIVE transform mapping output corners `dst` to input `src`."""
    a = []
    b = []
    for (x, y), (u, v) in zip(dst, src):
        a.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        a.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        b += [u, v]
    return np.linalg.solve(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)).tolist()


def _line_weight(img: Image.Image, r: random.Random) -> Image.Image:
    p = r.random()
    if p < 0.3:
        return img.filter(ImageFilter.MinFilter(3))  # thicker dark lines (toner spread, bold plot)
    if p < 0.45:
        return img.filter(ImageFilter.MaxFilter(3)) if min(img.size) > 600 else img  # faint thin lines
    return img


def _scan(img: Image.Image, r: random.Random) -> Image.Image:
    img = _line_weight(img, r)
    angle = r.uniform(-3.0, 3.0)
    img = img.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True, fillcolor=255)
    if r.random() < 0.3:  # scanner lid edge / dark border
        a = np.asarray(img, dtype=np.uint8).copy()  # (h, w)
        edge = r.randint(2, max(3, a.shape[1] // 60))
        a[:, :edge] = r.randint(30, 120)
        img = Image.fromarray(a)
    return img


def _photo(img: Image.Image, r: random.Random) -> Image.Image:
    img = _line_weight(img, r)
    w, h = img.size
    j = 0.08
    src = [(r.uniform(-j, j) * w, r.uniform(-j, j) * h), (w + r.uniform(-j, j) * w, r.uniform(-j, j) * h),
           (w + r.uniform(-j, j) * w, h + r.uniform(-j, j) * h), (r.uniform(-j, j) * w, h + r.uniform(-j, j) * h)]
    if r.random() < 0.35:  # partial framing: the photo shows 70-95 % of the sheet
        f = r.uniform(0.7, 0.95)
        cx, cy = r.uniform(0, 1 - f) * w, r.uniform(0, 1 - f) * h
        src = [(cx + (x / w) * f * w, cy + (y / h) * f * h) for x, y in src]
    dst = [(0, 0), (w, 0), (w, h), (0, h)]
    table = (r.randint(60, 160),)
    img = img.transform((w, h), Image.Transform.PERSPECTIVE, _perspective_coeffs(src, dst),
                        Image.Resampling.BILINEAR, fillcolor=table[0])
    a = np.asarray(img, dtype=np.float32) / 255.0  # (h, w)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)  # (h, w)
    gx, gy = r.uniform(-1, 1), r.uniform(-1, 1)
    ramp = (gx * (xx / w - 0.5) + gy * (yy / h - 0.5))  # (h, w) linear lighting gradient
    light = 1.0 - r.uniform(0.05, 0.35) * (ramp - ramp.min()) / max(1e-6, float(ramp.max() - ramp.min()))
    if r.random() < 0.4:  # a soft shadow blob (hand, phone)
        cx, cy, rad = r.uniform(0, w), r.uniform(0, h), r.uniform(0.2, 0.6) * max(w, h)
        d = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2) / rad  # (h, w)
        light *= 1.0 - r.uniform(0.15, 0.45) * np.clip(1.0 - d, 0, 1)
    a = a * light  # (h, w)
    return Image.fromarray(np.clip(a * 255.0, 0, 255).astype(np.uint8))


def _finish(img: Image.Image, r: random.Random, strength: float) -> Image.Image:
    a = np.asarray(img, dtype=np.float32) / 255.0  # (h, w)
    lo, hi = r.uniform(0.0, 0.15 * strength), 1.0 - r.uniform(0.0, 0.2 * strength)  # contrast / paper tint
    a = lo + (hi - lo) * a
    rs = np.random.default_rng(r.randrange(2**32))
    a = a + rs.normal(0.0, r.uniform(0.0, 0.05 * strength), a.shape).astype(np.float32)  # sensor noise
    img = Image.fromarray(np.clip(a * 255.0, 0, 255).astype(np.uint8))
    radius = r.uniform(0.0, 1.4 * strength)
    if radius > 0.3:
        img = img.filter(ImageFilter.GaussianBlur(radius))
    if r.random() < 0.7:
        buf = io.BytesIO()
        img.save(buf, format="JPEG", quality=r.randint(25, 85))
        img = Image.open(io.BytesIO(buf.getvalue())).convert("L")
    return img


def degrade(image: Image.Image, seed: int, mode: Mode = "random") -> Image.Image:
    """A degraded grayscale copy of `image` ("L"); deterministic in (image, seed, mode)."""
    r = random.Random(seed)
    img = image.convert("L")
    if mode == "random":
        mode = r.choice(("clean", "scan", "scan", "photo", "photo"))
    if mode == "clean":
        return _line_weight(img, r)
    if mode == "scan":
        return _finish(_scan(img, r), r, 0.7)
    return _finish(_photo(img, r), r, 1.0)


def view(pixels: np.ndarray, seed: int, *, crop: float = 0.5, min_scale: float = 0.6,
         turns: float = 0.0) -> np.ndarray:
    """Another view of a training image (self-supervised pretraining): (h, w) uint8 -> (h, w) uint8.

    With probability `crop`, a region of `min_scale`..1 of each side (a photo framing part of the
    sheet, a detail) is cut and scaled back to the full size; line weight changes as in `degrade`;
    with probability `turns` the view is turned by 90, 180 or 270 degrees, or mirrored (only where
    the tower should not tell them apart: the engine turns query pages upright before embedding).
    Deterministic in (pixels, seed)."""
    r = random.Random(seed)
    h, w = pixels.shape
    img = Image.fromarray(pixels)
    if r.random() < crop:
        ch, cw = int(h * r.uniform(min_scale, 1.0)), int(w * r.uniform(min_scale, 1.0))
        y, x = r.randint(0, h - ch), r.randint(0, w - cw)
        img = img.crop((x, y, x + cw, y + ch)).resize((w, h), Image.Resampling.BILINEAR)
    img = _line_weight(img, r)
    out = np.asarray(img, dtype=np.uint8)
    if r.random() < turns:
        k = r.randint(0, 3)
        out = np.rot90(out, k) if k else out[:, ::-1]  # (h, w): square training images
    return np.ascontiguousarray(out)
