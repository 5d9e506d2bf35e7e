"""Engine settings, each declared once with its default, and well-known paths."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

LIBRARY_ENV = "ZUMEN_LIBRARY"
REPO_ROOT = Path(__file__).resolve().parent.parent
RESOURCES = REPO_ROOT / "resources"
DEFAULT_PACK_DIR = RESOURCES / "models" / "default"
SAMPLE_LIBRARY = RESOURCES / "sample_library"


def default_library_path() -> Path:
    """Per-user default: %LOCALAPPDATA%\\Zumen\\library on Windows, XDG data dir elsewhere."""
    env = os.environ.get(LIBRARY_ENV)
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
        return base / "Zumen" / "library"
    base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "zumen" / "library"


@dataclass(frozen=True)
class EngineSettings:
    # extraction
    render_dpi: int = 150  # page renders used for OCR and visual embeddings
    thumbnail_px: int = 256
    min_text_layer_chars: int = 20  # fewer extracted characters -> the page is OCR'd
    ocr_enabled: bool = True
    max_image_pixels: int = 120_000_000  # decompression-bomb limit
    # chunking
    chunk_words: int = 80
    chunk_overlap_words: int = 20
    # vector search (usearch)
    ann_connectivity: int = 16
    ann_expansion_add: int = 128
    ann_expansion_search: int = 192
    # ranking
    fusion: str = "score"  # "score" (weighted min-max scores) or "rrf" (reciprocal rank fusion)
    rrf_k: int = 60
    candidates: int = 200  # per evidence list before fusion
    weight_lexical: float = 1.0
    weight_semantic: float = 1.0
    # drawing queries: the OCR text of a whole drawing embeds poorly (dense alone: mAP 0.43 on the
    # sample library, 0.75 on Ultimaker), so its meaning counts less than shared words there
    weight_semantic_file: float = 0.3
    weight_visual: float = 0.7  # query picture vs page pictures
    # query picture vs page text (cross-modal). Off by default: the shipped tower, trained on
    # synthetic drawings only, is at chance on real drawings -> documents (bench_learning), and
    # mixing it in cost R@1. An adapted pack that measures better can turn it on.
    weight_cross: float = 0.0
    common_term_share: float = 0.2  # drawing queries skip words on more chunks than this share…
    common_term_min_chunks: int = 50  # …and than this count (small libraries keep every word)
    identifier_boost: float = 2.0  # drawing queries: BM25 over shared identifiers, relative to all words
    reason_max_share: float = 0.15  # drawing queries: a shared word on more chunks than this is no reason
    semantic_only_min: float = 0.45  # keyword queries: cosine a page needs when no term matched
    # embedding
    embed_batch: int = 32
    threads: int = 0  # 0 -> onnxruntime picks (all cores)
