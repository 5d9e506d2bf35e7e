"""Site adaptation, step 1: a pairs file -> what each tower trains and is measured on (no torch).

Distinct queries and relevant texts, the graded judgements between them, the deterministic split
into train and held-out queries, each query's words (read exactly as a search reads them: text
layer or OCR) and picture, and the cross-validation folds of the text path.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Sequence

from engine.errors import EngineError, PackError
from engine.evaluate.pairs import Judgement
from engine.progress import CancelToken, Progress, ProgressCallback, report

if TYPE_CHECKING:
    from engine.learn.adapt import AdaptConfig

Pair = Judgement


@dataclass
class AdaptData:
    queries: list[str]
    texts: list[str]  # relevant texts
    qrels: dict[int, dict[int, float]]
    val: list[int]
    train: list[int]
    text_encoder: Any  # the base pack's runtime text tower
    images: Optional[list] = None  # query pages (None: the image tower is not adapted)
    rel_images: dict = field(default_factory=dict)  # relevant text id -> its page picture (drawings)
    spec: Optional[dict] = None
    query_texts: Optional[list[str]] = None  # the query pages' words (None: text tower not adapted)
    skipped: dict = field(default_factory=dict)
    keywords: list[str] = field(default_factory=list)  # keyword queries: the guard of keyword search
    keyword_qrels: dict = field(default_factory=dict)


def split_ref(ref: str) -> tuple[str, int]:
    path, sep, page = ref.rpartition("#page=")
    if sep and page.isdigit():
        return path, int(page)
    return ref, 1


def resolve(ref: str, roots: Sequence[Path]) -> Optional[tuple[Path, int]]:
    """(file, page) a reference names, or None when it is literal text."""
    path, page = split_ref(ref)
    if len(path) > 1024 or "\n" in path:
        return None  # literal text, not a file name
    for root in roots:
        p = Path(path) if Path(path).is_absolute() else root / path
        try:
            if p.is_file():
                return p, page
        except OSError:  # a name too long for the file system: literal text
            return None
    return None


def page_of(path: Path, page: int, cache: dict, ocr=None):
    from engine.extract import extract_document

    if path not in cache:
        cache[path] = extract_document(path, ocr=ocr)
    doc = cache[path]
    if not 1 <= page <= len(doc.pages):
        raise EngineError(f"{path}#page={page}: page {page} does not exist")
    return doc.pages[page - 1]


def text_of(ref: str, roots: Sequence[Path], cache: dict, ocr=None) -> str:
    """Text of an item: a file page's extracted text (OCR'd when it has no text layer and `ocr`
    is given, as indexing and searching read it), or the literal string."""
    hit = resolve(ref, roots)
    return ref if hit is None else page_of(*hit, cache, ocr).text


def stable_hash(key: str) -> int:
    """A hash that is the same in every run and process (Python's hash() of a str is not)."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)


def is_held_out(query: str, seed: int, fraction: float) -> bool:
    return (stable_hash(f"{seed}:{query}") % 10_000) / 10_000 < fraction


def is_keyword(query: str, roots: Sequence[Path]) -> bool:
    """A query that names no file (and does not look like a file name) is typed keywords."""
    from engine.extract import SUPPORTED_SUFFIXES

    if resolve(query, roots) is not None:
        return False
    name = split_ref(query)[0]
    return Path(name).suffix.lower() not in SUPPORTED_SUFFIXES


def prepare(pairs: Sequence[Pair], roots: Sequence[Path], base, cfg: "AdaptConfig",
            progress: Optional[ProgressCallback], token: CancelToken) -> AdaptData:
    """Distinct queries and relevant texts, the split, and what each tower trains on."""
    from engine.extract import get_ocr_engine, render_page

    keywords = sorted({p.query for p in pairs if is_keyword(p.query, roots)})
    queries = sorted({p.query for p in pairs} - set(keywords))
    if not queries:
        raise EngineError("no drawing queries to learn from: keyword rows only guard keyword search")
    texts_ref = sorted({p.relevant for p in pairs})
    q_index = {q: i for i, q in enumerate(queries)}
    k_index = {q: i for i, q in enumerate(keywords)}
    t_index = {t: i for i, t in enumerate(texts_ref)}
    qrels: dict[int, dict[int, float]] = {}
    keyword_qrels: dict[int, dict[int, float]] = {}
    for p in pairs:
        if p.query in k_index:
            keyword_qrels.setdefault(k_index[p.query], {})[t_index[p.relevant]] = p.grade
        else:
            qrels.setdefault(q_index[p.query], {})[t_index[p.relevant]] = p.grade
    skipped: dict[str, str] = {}
    want_text = cfg.text and _text_trainable(base, skipped)
    want_image = cfg.image and _image_trainable(base, skipped)
    ocr = get_ocr_engine("auto") if want_text else None
    doc_cache: dict = {}
    texts = [text_of(t, roots, doc_cache, ocr) for t in texts_ref]
    hits = []
    for q in queries:
        hit = resolve(q, roots)
        if hit is None:
            raise EngineError(f"query file not found: {q}")
        hits.append(hit)
    val = [i for i, q in enumerate(queries) if is_held_out(q, cfg.seed, cfg.val_fraction)]
    train_q = [i for i in range(len(queries)) if i not in set(val)]
    if not val or not train_q:  # tiny sets: force at least one of each
        val, train_q = [0], list(range(1, len(queries)))
    data = AdaptData(queries, texts, qrels, val, train_q, base.text_encoder(threads=cfg.threads),
                     skipped=skipped, keywords=keywords, keyword_qrels=keyword_qrels)
    if want_image:
        data.spec = {k: base.manifest["image"][k] for k in ("size", "channels", "resize", "pad_value", "mean", "std")}
        data.spec["interpolation"] = base.manifest["image"].get("interpolation", "bicubic")
        data.images = []
    query_texts = [] if want_text else None

    def picture(path: Path, page_no: int):
        page = render_page(path, page_no, dpi=cfg.render_dpi, grayscale=True)
        h, w = data.spec["size"]
        page.thumbnail((2 * max(h, w), 2 * max(h, w)))  # augmentations run on a 2x working copy
        return page.convert("L")

    for i, (path, page_no) in enumerate(hits):
        token.check()
        if query_texts is not None:  # the words a search reads from this page (text layer or OCR)
            query_texts.append(page_of(path, page_no, doc_cache, ocr).text.strip())
        if data.images is not None:
            data.images.append(picture(path, page_no))
        report(progress, Progress("prepare", i + 1, len(queries), "pages"))
    if data.images is not None:  # a relevant drawing is also a picture to match (image -> image)
        for t, ref in enumerate(texts_ref):
            token.check()
            hit = resolve(ref, roots)
            if hit is not None and page_of(*hit, doc_cache, ocr).visual:
                data.rel_images[t] = picture(*hit)
    if query_texts is not None:
        n_pairs = len(text_pairs(query_texts, texts, qrels, train_q, cfg))
        usable_val = [q for q in val if len(query_texts[q]) >= cfg.text_min_chars]
        if n_pairs < 2 or not usable_val:
            skipped["text"] = (f"too few queries with words to learn from ({n_pairs} training pairs, "
                               f"{len(usable_val)} held-out queries with at least {cfg.text_min_chars} characters)")
        else:
            data.query_texts = [t if len(t) >= cfg.text_min_chars else "" for t in query_texts]
    return data


def _text_trainable(base, skipped: dict) -> bool:
    from engine.learn.text_tower import untrainable_reason

    reason = untrainable_reason(base.manifest)
    if reason:
        skipped["text"] = reason
    return reason is None


def _image_trainable(base, skipped: dict) -> bool:
    from engine.learn.train_image import image_tower_weights

    if not base.manifest.get("image"):
        skipped["image"] = f"pack {base.pack_id} has no image tower"
        return False
    try:
        image_tower_weights(base.path, base.manifest)
    except PackError as exc:
        skipped["image"] = str(exc)
        return False
    return True


def _same_words(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def text_pairs(query_texts: Sequence[str], texts: Sequence[str], qrels: dict[int, dict[int, float]],
               train_q: Sequence[int], cfg: "AdaptConfig") -> list[tuple[int, int]]:
    """(query, text) training pairs for the text tower. A page paired with its own words (pairs
    mined from the library) teaches a shared tower nothing and is left to the image tower."""
    return [(q, t) for q in train_q if len(query_texts[q]) >= cfg.text_min_chars
            for t in qrels[q] if not _same_words(query_texts[q], texts[t])]


def text_folds(data: AdaptData, cfg: "AdaptConfig") -> list[tuple[list[int], list[int]]]:
    """(train, held-out) query lists that measure the text path. A small set (<= cv_max_queries
    queries with words) is cross-validated: every query is held out once, so the gate sees all of
    them instead of a handful (a single 30 % split of 70 queries swings by ±0.05 mAP by chance)."""
    with_words = [q for q in range(len(data.queries)) if data.query_texts[q]]
    single_split = [(data.train, [q for q in data.val if data.query_texts[q]])]
    if len(with_words) > cfg.cv_max_queries or cfg.cv_folds < 2:
        return single_split
    fold = {q: stable_hash(f"{cfg.seed}:fold:{data.queries[q]}") % cfg.cv_folds for q in with_words}
    out = []
    for k in range(cfg.cv_folds):
        held = [q for q in with_words if fold[q] == k]
        rest = [q for q in range(len(data.queries)) if fold.get(q) != k]
        if held and text_pairs(data.query_texts, data.texts, data.qrels, rest, cfg):
            out.append((rest, held))
    return out or single_split
