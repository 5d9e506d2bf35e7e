"""Engine settings, each declared once with its default, and well-known paths."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from importlib import resources as importlib_resources
from pathlib import Path

LIBRARY_ENV = "ZUMEN_LIBRARY"
PACK_ENV = "ZUMEN_DEFAULT_PACK"
REPO_ROOT = Path(__file__).resolve().parent.parent


def resources_dir() -> Path:
    """The shipped resources (sample library, image tower, icons, translations).

    They are the package `zumen_resources` (the checkout's resources/ folder, mapped by setup.py),
    so a wheel install finds them in site-packages and an editable install in the checkout. A plain
    checkout that was never installed (`python -m engine.cli` from its root) falls back to the folder."""
    try:
        root = importlib_resources.files("zumen_resources")
    except ModuleNotFoundError:
        return REPO_ROOT / "resources"
    if isinstance(root, Path):  # an installed package is a plain folder: models are opened by path
        return root
    # Other loaders (a PyInstaller build gives a MultiplexedPath) still keep the files in a folder
    import zumen_resources

    return Path(next(iter(zumen_resources.__path__)))


def installed_pack_dir() -> Path:
    """Where an offline install (installer/install.sh) puts the default model pack: inside the
    virtual environment, so an upgrade replaces it and uninstalling removes it."""
    return Path(sys.prefix) / "share" / "zumen" / "models" / "default"


def default_pack_dir() -> Path:
    """$ZUMEN_DEFAULT_PACK, else the installed pack, else the checkout's (built by setup.sh)."""
    env = os.environ.get(PACK_ENV)
    if env:
        return Path(env).expanduser()
    installed = installed_pack_dir()
    if (installed / "manifest.json").is_file():
        return installed
    return RESOURCES / "models" / "default"


RESOURCES = resources_dir()
DEFAULT_PACK_DIR = default_pack_dir()
SAMPLE_LIBRARY = RESOURCES / "sample_library"

# The version of the reading code (engine/extract: text layer, OCR, drawing or document). Raise it
# when a change reads an indexed file differently, and name the formats it reads differently in
# READ_AS_NOW_SINCE: the next `zumen index` reads the documents of those formats read by an older
# version again (once, resumable: for an archive of scans that is a long run), and no others.
#   1: pages without text layer whose text OCR read from outlined CAD strokes are drawings (all)
#   2: a phone photo of a sheet is flattened before it is read (engine/extract/sheet.py): images
EXTRACTOR_VERSION = 2
# format (ExtractedDocument.format) -> the version since which it is read as this version reads
# it; formats not named: since version 1
READ_AS_NOW_SINCE: dict[str, int] = {"image": 2}


def read_as_now(format: str, extractor: int) -> bool:
    """Is a document of `format` read by version `extractor` of the reading code read as this
    version would read it (otherwise the next run reads it again)?"""
    return extractor >= READ_AS_NOW_SINCE.get(format, 1)


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
class FileWeights:
    """Weights of the absolute evidence features of a drawing query's hits (ScoreBreakdown):
    fused = sum of weight x feature. Chosen leave-one-source-out on the development sets
    (bench/fit_ranking.py; procedure and values in docs/ranking.md)."""

    lexical_page: float = 0.0827
    lexical_doc: float = 0.0835
    cosine_page: float = 0.1369
    cosine_doc: float = 0.1162
    dimensions: float = 0.0015
    semantic: float = 0.0310
    visual: float = 0.0299
    link_name: float = 0.2591  # the two links are fitted as one weight (search/fitting.TIES)
    link_folder: float = 0.2591


@dataclass(frozen=True)
class Calibration:
    """P(relevant) = 1 / (1 + exp(-(slope x fused + intercept))) for a drawing query's hit;
    fitted with the weights (docs/ranking.md). A query whose best hit stays below `min_top` has
    no match."""

    slope: float = 25.12
    intercept: float = -4.01
    min_top: float = 0.02


@dataclass(frozen=True)
class EngineSettings:
    # extraction
    render_dpi: int = 150  # page renders used for OCR and visual embeddings
    thumbnail_px: int = 256
    min_text_layer_chars: int = 20  # fewer extracted characters -> the page is OCR'd
    ocr_enabled: bool = True
    # long PDFs are committed every `page_batch` pages (an interrupted run resumes after the last
    # batch); a file stops at `max_pages_per_file` pages or `max_seconds_per_file` seconds of
    # reading per run (0: no limit) and is listed as partially indexed
    page_batch: int = 16
    max_pages_per_file: int = 0
    max_seconds_per_file: float = 0.0
    # decompression-bomb limit: memory a picture's frame takes decoded (extract/image.py): a
    # 300-MP colour scan (Pillow keeps RGB in 4 bytes a pixel), an 817-MP grey CAD render
    max_image_bytes: int = 1_200_000_000
    # a symbolic link to a file (anywhere) is indexed under the link's path in the folder; False:
    # links are skipped and listed in `zumen status`. Links to folders are never followed.
    follow_symlinks: bool = True
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
    # keyword queries (drawing queries: related_weights / similar_weights below)
    weight_lexical: float = 1.0
    weight_semantic: float = 1.0
    # keyword queries: the cosine that counts as no meaning at all (scaled to 1 at cosine 1);
    # None: the weakest of the query's own meaning list (min-max over that list)
    keyword_meaning_floor: float | None = None
    # the same for a query made of codes only ("B1002-A2P-A", "JXS 01 03"): a sentence encoder
    # knows no meaning for a part number, its nearest pages by meaning are chance. Fitted leave
    # one source out (bench/fit_keywords.py, docs/ranking.md)
    code_meaning_floor: float | None = 0.45
    weight_visual: float = 0.7  # query picture vs page pictures
    # query picture vs page text (cross-modal). Off by default: the shipped tower, trained on
    # synthetic drawings only, is at chance on real drawings -> documents (bench_learning), and
    # mixing it in cost R@1. An adapted pack that measures better can turn it on.
    weight_cross: float = 0.0
    # drawing queries: related documents and similar drawings rank by weighted absolute evidence
    related_weights: FileWeights = FileWeights()
    # similar drawings: the drawing's own words (BM25 share, TF-IDF cosine, dimensions), meaning
    # and looks (whitened by the library, search/looks.py), fitted leave-one-source-out on the
    # dev sets' families (bench_dev + fit_ranking; docs/similar.md). Looks weigh little because
    # their scale is larger: a family member's whitened cosine is ~0.3-0.5, its word share ~0.05-0.3
    similar_weights: FileWeights = FileWeights(lexical_page=0.3280, lexical_doc=0.0, cosine_page=0.3477,
                                               cosine_doc=0.0, dimensions=0.0938, semantic=0.1881,
                                               visual=0.0425, link_name=0.0, link_folder=0.0)
    calibration: Calibration = Calibration()
    # similar drawings of a drawing query: the first `verify_top` hits are checked against the
    # query page by their geometry (search/geometry.py: keypoints that line up under one
    # perspective); the one with at least `verify_min_points` such points and `verify_ratio` times
    # as many as any other checked hit is the drawing itself and comes first (chosen leave one
    # source out on the dev sets' degraded drawings, bench/bench_similar.py; docs/similar.md).
    # 0 turns the check off.
    verify_top: int = 4
    verify_min_points: int = 60
    verify_ratio: float = 1.1
    # `zumen duplicates` (engine/search/duplicates.py): a word on 2 to `duplicate_rare_pages`
    # drawing pages is telling; two pages sharing at least `duplicate_threshold` of the telling
    # words of the one with fewer are near-identical (chosen leave-one-source-out on the dev
    # sets' generated duplicates, bench/bench_similar.py; docs/similar.md)
    duplicate_rare_pages: int = 6
    duplicate_threshold: float = 0.51  # more than half
    # a page OCR read and a page with a text layer, below the threshold but sharing at least
    # `duplicate_check_share` of those words, are checked by their geometry (search/geometry.py)
    # and confirmed with `duplicate_check_points` keypoints lining up (chosen leave-one-source-out
    # with the threshold; 0 points: no check)
    duplicate_check_share: float = 0.1
    duplicate_check_points: int = 20
    # words two pages may share by chance: a pair counts by its words only when at most
    # 10**`duplicate_max_chance` pairs of the library are expected to share words as rare (those
    # on 2 pages up to `duplicate_chance_share` of them, at least 3: the telling words,
    # dimensions, notes; not the template) by chance; otherwise geometry must confirm it as above
    # (0: one pair in the whole library; chosen leave-one-source-out, bench/bench_similar.py;
    # docs/similar.md)
    duplicate_max_chance: float = 0.0
    duplicate_chance_share: float = 0.1
    bm25_k1: float = 1.2
    bm25_b_page: float = 0.75
    bm25_b_doc: float = 0.5  # whole documents: long specifications are not buried
    common_term_share: float = 0.2  # drawing queries skip tokens on more chunks than this share…
    common_term_min_chunks: int = 50  # …and than this count (small libraries keep every word)
    link_levels: int = 2  # drawing queries: documents up to this many folders above the drawing's
    reason_max_share: float = 0.15  # drawing queries: a shared word on more chunks than this is no reason
    semantic_only_min: float = 0.45  # keyword queries: cosine a page needs when no term matched
    # results list only files the searching OS user may read now (checked per query, per hit)
    check_access: bool = True
    # embedding
    embed_batch: int = 32
    threads: int = 0  # 0 -> onnxruntime picks (all cores); on a cluster: per worker process
    # many machines (docs/scale.md): "" reads and embeds in this process; a Dask scheduler's
    # address ("tcp://host:8786") runs that work on its workers (needs the `cluster` extra);
    # this process still commits every result, in the same order, to the same catalog
    cluster: str = ""
    cluster_timeout_s: float = 10.0  # to reach the scheduler, and to wait for a first worker
