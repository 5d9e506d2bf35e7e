"""Similar drawings by looks alone, for bench_dev's drawing -> same-family drawings table: the
rankings the engine's fused similar-drawings list is compared with, over the same library pages.

  pixels 32x32       letterboxed 32x32 grayscale pixels, centred, cosine
  edge histograms    edge-orientation histograms (HOG-like: Sobel gradients of a 256 px
                     letterboxed page, 8 unsigned orientations x 4 x 4 cells, magnitude-weighted,
                     square-rooted, L2-normalised), cosine
  tower raw          the image tower's cosine as stored in the library (the engine before its
                     looks were whitened)
  tower whitened     the same vectors whitened by the library's own pages (engine/search/looks.py)

Candidates: every library page that has a picture vector and belongs to a drawing; a file counts
with its best page, as the engine's list groups pages per file. Library thumbnails are rendered
once (long side 1024 px) and cached under the work folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

THUMB_PX = 1024
METHODS = ("pixels 32x32", "edge histograms", "tower raw", "tower whitened")


def pixels32(images: list[Image.Image]) -> np.ndarray:
    """(n, 1024): letterboxed 32x32 grayscale, centred per image, L2-normalised."""
    rows = [np.asarray(_letterbox(im, 32), dtype=np.float64).ravel() for im in images]
    x = np.array(rows) - np.array(rows).mean(axis=1, keepdims=True)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)


def edge_histograms(images: list[Image.Image], size: int = 256, cells: int = 4, bins: int = 8) -> np.ndarray:
    """(n, cells * cells * bins) edge-orientation histograms (see the module docstring)."""
    out = []
    for im in images:
        a = np.asarray(_letterbox(im, size), dtype=np.float64) / 255.0  # (s, s)
        gx = np.zeros_like(a)
        gy = np.zeros_like(a)
        # Sobel, interior pixels
        gx[1:-1, 1:-1] = (a[:-2, 2:] + 2 * a[1:-1, 2:] + a[2:, 2:]) - (a[:-2, :-2] + 2 * a[1:-1, :-2] + a[2:, :-2])
        gy[1:-1, 1:-1] = (a[2:, :-2] + 2 * a[2:, 1:-1] + a[2:, 2:]) - (a[:-2, :-2] + 2 * a[:-2, 1:-1] + a[:-2, 2:])
        mag = np.hypot(gx, gy)
        ang = np.mod(np.arctan2(gy, gx), np.pi)  # unsigned orientation
        b = np.minimum((ang / np.pi * bins).astype(int), bins - 1)
        cell = size // cells
        cy, cx = np.indices(a.shape) // cell
        index = (np.minimum(cy, cells - 1) * cells + np.minimum(cx, cells - 1)) * bins + b
        h = np.sqrt(np.bincount(index.ravel(), weights=mag.ravel(), minlength=cells * cells * bins))
        out.append(h / max(np.linalg.norm(h), 1e-9))
    return np.array(out)


def _letterbox(im: Image.Image, size: int) -> Image.Image:
    im = im.convert("L")
    scale = size / max(im.size)
    small = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))), Image.BILINEAR)
    canvas = Image.new("L", (size, size), 255)
    canvas.paste(small, ((size - small.width) // 2, (size - small.height) // 2))
    return canvas


def thumbnail(image: Image.Image) -> Image.Image:
    image = image.convert("L")
    image.thumbnail((THUMB_PX, THUMB_PX))
    return image


class LibraryLooks:
    """The library's drawing pages (id, file path) with each method's vectors, built once per run."""

    def __init__(self, engine, cache: Path) -> None:
        from engine.extract import render_page
        from engine.search.looks import LookSpace

        lib = engine._lib  # the benchmark reads the library's own stored vectors
        cat, index = lib.catalog, lib.image_index
        visual = cat.visual_pages()
        docs = cat.documents_by_ids({p[1] for p in visual})
        drawing = [p for p in visual if docs[p[1]].kind == "drawing"]
        ids = np.array([p[0] for p in drawing], dtype=np.uint64)
        have = index.contains(ids)
        self.pages = [(int(p[0]), docs[p[1]].path, int(p[2])) for p, h in zip(drawing, have) if h]
        self.tower = index.get(np.array([p[0] for p in self.pages], dtype=np.uint64))  # (n, d)
        self.whitening = LookSpace().whitening(index)  # the engine's own transform
        images = []
        cache.mkdir(parents=True, exist_ok=True)
        for page_id, path, page_no in self.pages:
            png = cache / f"{page_id}.png"
            if not png.exists():
                thumbnail(render_page(Path(path), page_no, dpi=50, grayscale=True, max_px=THUMB_PX)).save(png)
            images.append(Image.open(png))
        self.vectors = {"pixels 32x32": pixels32(images), "edge histograms": edge_histograms(images),
                        "tower raw": self.tower}
        if self.whitening is not None:
            self.vectors["tower whitened"] = self.whitening.apply(self.tower)

    def rankings(self, image: Image.Image, tower_vector: np.ndarray, depth: int) -> dict[str, list[str]]:
        """Per method, the library's drawing files (paths) best first, each by its best page."""
        query = {"pixels 32x32": pixels32([image])[0], "edge histograms": edge_histograms([image])[0],
                 "tower raw": np.asarray(tower_vector, dtype=np.float64)}
        if self.whitening is not None:
            query["tower whitened"] = self.whitening.apply(tower_vector[None, :])[0]
        out = {}
        for method, q in query.items():
            sims = self.vectors[method] @ q  # (n,)
            files: list[str] = []
            for i in np.argsort(-sims, kind="stable"):
                path = self.pages[i][1]
                if path not in files:
                    files.append(path)
                if len(files) >= depth:
                    break
            out[method] = files
        return out
