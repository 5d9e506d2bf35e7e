"""Site adaptation: fine-tune a pack's towers on a site's own (drawing, text) pairs.

    adapt(library_dir, pairs_csv, base_pack_dir, out_dir) -> report dict

pairs.csv (UTF-8, header required): `query,relevant[,grade]`
  query     a drawing file (PDF page or image); "path#page=N" picks a page (default 1). A query that
            names no file is typed keywords: those rows are not trained on, they guard keyword search
            (a version whose tuned text tower ranks them worse is not activated)
  relevant  a file ("path" or "path#page=N": that page's text, e.g. one BOM row of a CSV) or literal text
  grade     optional relevance grade (> 0 relevant; default 1)
Relative paths are resolved against the CSV's folder, then `library_dir`.

Method (docs/learning.md). A drawing query reaches documents along two paths, and both are adapted:
- the text path: the query's words (text layer or OCR, read exactly as a search reads them) through
  the text tower. The tower (MiniLM) is fine-tuned on (query words, relevant text) with symmetric
  InfoNCE, a cross-batch queue of recent text embeddings as extra negatives, hard-negative
  weighting, label smoothing and L2-SP toward the starting weights; token embeddings frozen.
  Query and documents share the tower, so the library's text vectors are re-embedded on activation.
- the picture path: the image tower, trained toward the (adapted) text space with InfoNCE + a
  momentum-encoder queue + alignment/uniformity + L2-SP, BatchNorm statistics frozen, scan/photo
  augmentation of every query each epoch.
Queries are split (by query file, deterministic) into train and held-out parts. The primary metric
is the held-out mAP of the path the engine ranks documents with: the text path when the text tower
was adapted, else the picture path; both are measured before and after. A new pack version
(parent = base pack) is written; `report["activate"]` is True only if the primary mAP improved.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from engine.errors import EngineError, PackError
from engine.evaluate.pairs import Judgement, read_pairs_csv
from engine.progress import CancelToken, Progress, ProgressCallback, report

from engine.learn.losses import LossConfig

ADAPT_LOSS = LossConfig(w_infonce=1.0, w_queue=0.5, w_align=0.1, w_uniform=0.05, w_l2sp=0.01,
                        hard_negative_beta=0.5, noise="smooth", label_smoothing=0.1,
                        queue_size=512, momentum=0.99, learn_temperature=True)
# the text tower starts well aligned: a fixed, low temperature and no align/uniform terms
TEXT_LOSS = LossConfig(w_infonce=1.0, w_queue=0.5, w_align=0.0, w_uniform=0.0, w_l2sp=0.01,
                       hard_negative_beta=0.5, noise="smooth", label_smoothing=0.1,
                       queue_size=256, init_temperature=0.05, learn_temperature=False)


@dataclass(frozen=True)
class AdaptConfig:
    epochs: int = 10
    batch: int = 16
    lr: float = 3e-4
    weight_decay: float = 0.0  # L2-SP replaces plain decay
    val_fraction: float = 0.3
    seed: int = 0
    threads: int = 1
    render_dpi: int = 150
    augment: bool = True
    min_improvement: float = 0.0  # mAP points (0..1) the new version must gain to be activated
    max_minutes: float = 15.0  # stop training early past this budget (each tower)
    loss: LossConfig = field(default_factory=lambda: ADAPT_LOSS)
    image: bool = True  # adapt the image tower
    text: bool = True  # adapt the text tower (when the queries have words and the pack allows it)
    text_epochs: int = 6
    text_batch: int = 16
    text_lr: float = 2e-5
    text_max_pairs: int = 1500  # pair-steps: fewer epochs for a large pair set
    text_min_chars: int = 20  # a query with fewer characters of text teaches the text tower nothing
    text_loss: LossConfig = field(default_factory=lambda: TEXT_LOSS)
    text_threads: int = 0  # torch threads for the text tower (0: every core; the transformer scales,
    # 2 threads train 1.9x faster than 1 here, while the small image CNN trains best on `threads`)
    guard_tolerance: float = 0.01  # keyword rows of pairs.csv may lose at most this much mAP
    cv_max_queries: int = 150  # up to this many queries with words, the text path is cross-validated
    cv_folds: int = 3


# One pairs-file format for `zumen eval` and `zumen adapt`: the reader lives with the evaluator.
Pair = Judgement
read_pairs = read_pairs_csv


def _split_ref(ref: str) -> tuple[str, int]:
    path, sep, page = ref.rpartition("#page=")
    if sep and page.isdigit():
        return path, int(page)
    return ref, 1


def _resolve(ref: str, roots: Sequence[Path]) -> Optional[tuple[Path, int]]:
    path, page = _split_ref(ref)
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


def _text_of(ref: str, roots: Sequence[Path], cache: dict, ocr=None) -> str:
    """Text of an item: a file page's extracted text (OCR'd when it has no text layer and `ocr`
    is given, as indexing and searching read it), or the literal string."""
    hit = _resolve(ref, roots)
    return ref if hit is None else _page(*hit, cache, ocr).text


def _page(path: Path, page: int, cache: dict, ocr=None):
    from engine.extract import extract_document

    if path not in cache:
        cache[path] = extract_document(path, ocr=ocr)
    doc = cache[path]
    if not 1 <= page <= len(doc.pages):
        raise EngineError(f"{path}#page={page}: page {page} does not exist")
    return doc.pages[page - 1]


def _stable_hash(key: str) -> int:
    """A hash that is the same in every run and process (Python's hash() of a str is not)."""
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)


def _is_val(query: str, seed: int, fraction: float) -> bool:
    return (_stable_hash(f"{seed}:{query}") % 10_000) / 10_000 < fraction


def _base_weights(base: Path, manifest: dict) -> Path:
    """tower.pt of the base pack (or of the bundled pretrained tower when its ONNX is the same)."""
    if (base / "tower.pt").is_file():
        return base / "tower.pt"
    from engine.config import RESOURCES

    bundled = RESOURCES / "models" / "image_tower"
    image = manifest.get("image") or {}
    try:
        same = json.loads((bundled / "image.json").read_text(encoding="utf-8"))["sha256"] == image.get("sha256")
    except (OSError, KeyError, ValueError):
        same = False
    if same and (bundled / "tower.pt").is_file():
        return bundled / "tower.pt"
    raise PackError(f"pack {base}: its image tower has no training weights (tower.pt); cannot adapt it")


def rank_texts(img: np.ndarray, txt: np.ndarray, queries: Sequence[int]) -> dict[str, list[str]]:
    """query id -> every text id, best first (a run for engine.evaluate.metrics)."""
    sims = img[np.asarray(queries)] @ txt.T  # (q, T)
    return {str(q): [str(int(j)) for j in np.argsort(-sims[i], kind="stable")] for i, q in enumerate(queries)}


def evaluate_texts(run: dict[str, list[str]], qrels: dict[int, dict[int, float]]) -> dict:
    from engine.evaluate.metrics import evaluate_run

    return evaluate_run(run, {q: {str(j): g for j, g in qrels[int(q)].items()} for q in run})


def map_image_to_text(img: np.ndarray, txt: np.ndarray, queries: Sequence[int],
                      qrels: dict[int, dict[int, float]]) -> dict:
    """Rank every text for every query image; engine.evaluate metrics (primary: mAP)."""
    return evaluate_texts(rank_texts(img, txt, queries), qrels)


def adapt(library_dir: Optional[Path], pairs_csv: Path, base_pack_dir: Path, out_dir: Path, *,
          config: AdaptConfig = AdaptConfig(), extra_pairs: Sequence[Pair] = (),
          progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> dict:
    """Fine-tune the base pack's towers on the pairs; write a new pack version under `out_dir`.

    Returns {"pack_dir", "pack_id", "parent", "activate", "primary": "map", "path": "text"|"image",
    "before": metrics, "after": metrics (of that path), "paths": {path: {"before", "after"}} for
    "text", "image" (-> text) and "image->image", "trained": towers, "skipped": {tower: reason}, "history", "pairs", "timing"}. Raises EngineError
    on unusable input and Cancelled (work discarded) if `cancel` is set.
    """
    import torch

    from engine.encoders.pack import ModelPack

    t_start = time.time()
    cfg = config
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    token = cancel or CancelToken()
    pairs_csv = Path(pairs_csv)
    roots = [pairs_csv.parent] + ([Path(library_dir)] if library_dir else [])
    pairs = [p for p in read_pairs(pairs_csv) + list(extra_pairs) if p.grade > 0]
    if len(pairs) < 4:
        raise EngineError(f"{pairs_csv}: at least 4 relevant pairs are needed to adapt, found {len(pairs)}")
    base = ModelPack.load(Path(base_pack_dir))
    data = _prepare(pairs, roots, base, cfg, progress, token)
    skipped = dict(data.skipped)
    val, train_q = data.val, data.train
    timing: dict = {"prepare_s": round(time.time() - t_start, 1)}
    paths: dict[str, dict] = {}
    history: dict[str, list] = {}
    text_tower = None
    base_txt = data.text_encoder.encode(data.texts).astype(np.float32)  # (T, dim) by the base tower
    txt_emb = base_txt  # the text space the image tower trains toward: the adapted one when there is one
    if data.query_texts is not None:
        t0 = time.time()
        text_tower, txt_emb, paths["text"], history["text"], seen = _adapt_text(data, base, base_txt, cfg,
                                                                                 progress, token)
        timing["text_train_s"] = round(time.time() - t0, 1)
        timing["text_pairs_per_s"] = round(seen / max(1e-9, time.time() - t0), 2)
    tower = meta = None
    if data.images is not None:
        tower, meta = _load_image_tower(base)
        q_img = _embed_images(tower, data.images, data.spec)  # (Q, dim)
        paths["image"] = {"before": map_image_to_text(q_img, base_txt, val, data.qrels)}
        i2i_val = [q for q in val if set(data.qrels[q]) & set(data.rel_images)]
        if i2i_val:
            paths["image->image"] = {"before": _image_to_image(tower, data, q_img, i2i_val)}
        t0 = time.time()
        history["image"], seen = _train_image(tower, data, txt_emb, cfg, progress, token)
        timing["image_train_s"] = round(time.time() - t0, 1)
        timing["image_pairs_per_s"] = round(seen / max(1e-9, time.time() - t0), 2)
        q_img = _embed_images(tower, data.images, data.spec)
        paths["image"]["after"] = map_image_to_text(q_img, txt_emb, val, data.qrels)
        if i2i_val:
            paths["image->image"]["after"] = _image_to_image(tower, data, q_img, i2i_val)
    if not paths:
        raise EngineError("nothing to adapt: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
    primary = "text" if "text" in paths else "image"
    before, after = paths[primary]["before"], paths[primary]["after"]
    verdict = refusal(before, after, paths.get("text", {}).get("keywords"), cfg)
    improved = not verdict

    report(progress, Progress("export", 0, 1, "steps", message="writing the new pack version"))
    dest, pack_id = _write_version(base, out_dir, cfg, pairs_csv, data, text_tower, tower, meta,
                                   {"primary": "map", "path": primary, "split": paths[primary].get(
                                       "protocol", "held-out queries"), "before": before, "after": after,
                                    "text_pairs": paths.get("text", {}).get("pairs", 0)})
    report(progress, Progress("export", 1, 1, "steps"))
    timing["total_s"] = round(time.time() - t_start, 1)
    return {"pack_dir": str(dest), "pack_id": pack_id, "parent": base.pack_id, "activate": improved,
            "not_activated_because": verdict,
            "primary": "map", "path": primary, "before": before, "after": after, "paths": paths,
            "trained": [t for t in ("text", "image") if t in paths], "skipped": skipped, "history": history,
            "pairs": {"total": len(pairs), "train_queries": len(train_q), "val_queries": len(val),
                      "texts": len(data.texts),
                      "text_train_pairs": paths["text"]["pairs"] if "text" in paths else 0},
            "timing": timing}


def refusal(before: dict, after: dict, guard: Optional[dict], cfg: AdaptConfig) -> str:
    """Why a new version must not be activated ("" when it may): its held-out mAP did not improve,
    or the keyword queries of the pairs file (`guard`: {"before", "after"}) lost mAP."""
    if after["map"] <= before["map"] + cfg.min_improvement:
        return f"the held-out mAP did not improve ({before['map']:.3f} -> {after['map']:.3f})"
    if guard and guard["after"]["map"] < guard["before"]["map"] - cfg.guard_tolerance:
        return f"keyword queries got worse (mAP {guard['before']['map']:.3f} -> {guard['after']['map']:.3f})"
    return ""


@dataclass
class _Data:
    queries: list[str]
    texts: list[str]  # relevant texts
    qrels: dict[int, dict[int, float]]
    val: list[int]
    train: list[int]
    text_encoder: object  # the base pack's runtime text tower
    images: Optional[list] = None  # query pages (None: the image tower is not adapted)
    rel_images: dict = field(default_factory=dict)  # relevant text id -> its page picture (drawings)
    spec: Optional[dict] = None
    query_texts: Optional[list[str]] = None  # the query pages' words (None: text tower not adapted)
    skipped: dict = field(default_factory=dict)
    keywords: list[str] = field(default_factory=list)  # keyword queries: the guard of keyword search
    keyword_qrels: dict = field(default_factory=dict)


def _prepare(pairs: Sequence[Pair], roots: Sequence[Path], base, cfg: AdaptConfig,
             progress: Optional[ProgressCallback], token: CancelToken) -> _Data:
    """Distinct queries and relevant texts, the split, and what each tower trains on."""
    from engine.extract import get_ocr_engine, render_page

    keywords = sorted({p.query for p in pairs if _is_keyword(p.query, roots)})
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
    texts = [_text_of(t, roots, doc_cache, ocr) for t in texts_ref]
    hits = []
    for q in queries:
        hit = _resolve(q, roots)
        if hit is None:
            raise EngineError(f"query file not found: {q}")
        hits.append(hit)
    val = [i for i, q in enumerate(queries) if _is_val(q, cfg.seed, cfg.val_fraction)]
    train_q = [i for i in range(len(queries)) if i not in set(val)]
    if not val or not train_q:  # tiny sets: force at least one of each
        val, train_q = [0], list(range(1, len(queries)))
    data = _Data(queries, texts, qrels, val, train_q, base.text_encoder(threads=cfg.threads), skipped=skipped,
                 keywords=keywords, keyword_qrels=keyword_qrels)
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
            query_texts.append(_page(path, page_no, doc_cache, ocr).text.strip())
        if data.images is not None:
            data.images.append(picture(path, page_no))
        report(progress, Progress("prepare", i + 1, len(queries), "pages"))
    if data.images is not None:  # a relevant drawing is also a picture to match (image -> image)
        for t, ref in enumerate(texts_ref):
            token.check()
            hit = _resolve(ref, roots)
            if hit is not None and _page(*hit, doc_cache, ocr).visual:
                data.rel_images[t] = picture(*hit)
    if query_texts is not None:
        n_pairs = len(_text_pairs(query_texts, texts, qrels, train_q, cfg))
        usable_val = [q for q in val if len(query_texts[q]) >= cfg.text_min_chars]
        if n_pairs < 2 or not usable_val:
            skipped["text"] = (f"too few queries with words to learn from ({n_pairs} training pairs, "
                               f"{len(usable_val)} held-out queries with at least {cfg.text_min_chars} characters)")
        else:
            data.query_texts = [t if len(t) >= cfg.text_min_chars else "" for t in query_texts]
    return data


def _is_keyword(query: str, roots: Sequence[Path]) -> bool:
    """A query that names no file (and does not look like a file name) is typed keywords."""
    from engine.extract import SUPPORTED_SUFFIXES

    if _resolve(query, roots) is not None:
        return False
    name = _split_ref(query)[0]
    return Path(name).suffix.lower() not in SUPPORTED_SUFFIXES


def _text_trainable(base, skipped: dict) -> bool:
    from engine.learn.text_tower import untrainable_reason

    reason = untrainable_reason(base.manifest)
    if reason:
        skipped["text"] = reason
    return reason is None


def _image_trainable(base, skipped: dict) -> bool:
    if not base.manifest.get("image"):
        skipped["image"] = f"pack {base.pack_id} has no image tower"
        return False
    try:
        _base_weights(base.path, base.manifest)
    except PackError as exc:
        skipped["image"] = str(exc)
        return False
    return True


def _same_words(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()


def _text_pairs(query_texts: Sequence[str], texts: Sequence[str], qrels: dict[int, dict[int, float]],
                train_q: Sequence[int], cfg: AdaptConfig) -> list[tuple[int, int]]:
    """(query, text) training pairs for the text tower. A page paired with its own words (pairs
    mined from the library) teaches a shared tower nothing and is left to the image tower."""
    return [(q, t) for q in train_q if len(query_texts[q]) >= cfg.text_min_chars
            for t in qrels[q] if not _same_words(query_texts[q], texts[t])]


def _text_folds(data: _Data, cfg: AdaptConfig) -> list[tuple[list[int], list[int]]]:
    """(train, held-out) query lists that measure the text path. A small set (<= cv_max_queries
    queries with words) is cross-validated: every query is held out once, so the gate sees all of
    them instead of a handful (a single 30 % split of 70 queries swings by ±0.05 mAP by chance)."""
    with_words = [q for q in range(len(data.queries)) if data.query_texts[q]]
    single_split = [(data.train, [q for q in data.val if data.query_texts[q]])]
    if len(with_words) > cfg.cv_max_queries or cfg.cv_folds < 2:
        return single_split
    fold = {q: _stable_hash(f"{cfg.seed}:fold:{data.queries[q]}") % cfg.cv_folds for q in with_words}
    out = []
    for k in range(cfg.cv_folds):
        held = [q for q in with_words if fold[q] == k]
        rest = [q for q in range(len(data.queries)) if fold.get(q) != k]
        if held and _text_pairs(data.query_texts, data.texts, data.qrels, rest, cfg):
            out.append((rest, held))
    return out or single_split


def _adapt_text(data: _Data, base, base_t: np.ndarray, cfg: AdaptConfig,
                progress: Optional[ProgressCallback], token: CancelToken):
    """Measure and train the text path. `base_t`: the relevant texts by the base tower. Returns
    (tuned tower, the relevant texts by it, {"before", "after", "protocol", "pairs" (the shipped
    tower's), "drift", "keywords"}, history, pairs seen).

    Cross-validated (small sets): each fold's model ranks its held-out queries, the runs are pooled
    and compared with the base tower on the same queries; the shipped tower is then trained on every
    pair. Single split (large sets): the shipped tower is the one trained without the held-out part."""
    import torch

    torch.set_num_threads(cfg.text_threads or os.cpu_count() or 1)
    try:
        return _adapt_text_folds(data, base, base_t, cfg, progress, token)
    finally:
        torch.set_num_threads(cfg.threads)


def _adapt_text_folds(data: _Data, base, base_t: np.ndarray, cfg: AdaptConfig,
                      progress: Optional[ProgressCallback], token: CancelToken):
    folds = _text_folds(data, cfg)
    words = [t or "" for t in data.query_texts]
    base_q = data.text_encoder.encode(words).astype(np.float32)
    held_all = [q for _, held in folds for q in held]
    before = evaluate_texts(rank_texts(base_q, base_t, held_all), data.qrels)
    run: dict[str, list[str]] = {}
    seen_total = 0
    tower = history = None
    for k, (train, held) in enumerate(folds):
        label = f"fold {k + 1}/{len(folds)}" if len(folds) > 1 else ""
        tower, history, seen = _train_text(data, base, cfg, train, label, progress, token)
        seen_total += seen
        run.update(rank_texts(tower.encode(words), tower.encode(data.texts), held))
    shipped = folds[0][0]
    if len(folds) > 1:  # the shipped tower learns from every pair
        shipped = list(range(len(data.queries)))
        tower, history, seen = _train_text(data, base, cfg, shipped, "all pairs", progress, token)
        seen_total += seen
    protocol = (f"{len(folds)}-fold cross-validation over {len(held_all)} queries, then trained on all pairs"
                if len(folds) > 1 else f"single split: {len(held_all)} held-out queries")
    tuned_t = tower.encode(data.texts)  # (T, dim)
    result = {"before": before, "after": evaluate_texts(run, data.qrels), "protocol": protocol,
              "pairs": len(_text_pairs(data.query_texts, data.texts, data.qrels, shipped, cfg)),
              "drift": _drift(data.text_encoder, tower)}
    if data.keywords:  # the site's keyword queries: the shipped tower must not rank them worse
        kq = list(range(len(data.keywords)))
        result["keywords"] = {
            "before": evaluate_texts(rank_texts(data.text_encoder.encode(data.keywords), base_t, kq),
                                     data.keyword_qrels),
            "after": evaluate_texts(rank_texts(tower.encode(data.keywords), tuned_t, kq), data.keyword_qrels)}
    return tower, tuned_t, result, history, seen_total


def _train_text(data: _Data, base, cfg: AdaptConfig, train: Sequence[int], label: str,
                progress: Optional[ProgressCallback], token: CancelToken):
    """Fine-tune the base text tower on (query words, relevant text) pairs of the `train` queries.
    Returns (tower, history, pairs seen)."""
    import torch

    from engine.learn.losses import ContrastiveLoss, trainable_named_params
    from engine.learn.queue import NegativeQueue
    from engine.learn.text_tower import TextTower, text_view

    tower = TextTower.from_pack(base.path, base.manifest)
    params = tower.trainable()
    criterion = ContrastiveLoss(cfg.text_loss)
    reference = {k: v.detach().clone() for k, v in trainable_named_params([tower.bert]).items()}
    queue = NegativeQueue(cfg.text_loss.queue_size, tower.bert.config.hidden_size)
    opt = torch.optim.AdamW(params, lr=cfg.text_lr, weight_decay=0.0)
    rng = random.Random(cfg.seed)
    pairs = _text_pairs(data.query_texts, data.texts, data.qrels, train, cfg)
    epochs = max(1, min(cfg.text_epochs, cfg.text_max_pairs // max(1, len(pairs))))
    total = epochs * math.ceil(len(pairs) / cfg.text_batch)
    step, seen, t0, history = 0, 0, time.time(), []
    for epoch in range(epochs):
        tower.bert.train()
        rng.shuffle(pairs)
        for s in range(0, len(pairs), cfg.text_batch):
            token.check()
            chunk = pairs[s:s + cfg.text_batch]
            for g in opt.param_groups:
                g["lr"] = cfg.text_lr * 0.5 * (1 + math.cos(math.pi * step / max(1, total)))
            anchors = tower.embed([text_view(data.query_texts[q], rng) for q, _ in chunk])  # (B, d)
            keys = tower.embed([data.texts[t] for _, t in chunk])  # (B, d)
            ids = torch.tensor([t for _, t in chunk], dtype=torch.long)  # group = relevant text
            out = criterion(anchors, keys, ids, txt_queue=queue.contents() if len(queue) else None,
                            params=trainable_named_params([tower.bert]), reference=reference)
            opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            opt.step()
            queue.enqueue(keys.detach(), ids)  # cross-batch memory: recent texts as extra negatives
            step += 1
            seen += len(chunk)
            report(progress, Progress("train-text", step, total, "steps",
                                      message=f"{label} loss {float(out['loss'].detach()):.3f}".strip()))
        history.append({"epoch": epoch + 1, **{k: round(float(v.detach()), 4) for k, v in out.items()}})
        if (time.time() - t0) / 60 > cfg.max_minutes:
            break
    return tower, history, seen


def _drift(base_encoder, tower) -> dict:
    """How much the tuned tower reorders a general technical corpus (engine.learn.export_text's
    built-in one): top-10 overlap and top-1 agreement of query -> document rankings with the base."""
    from engine.learn.export_text import retrieval_corpus

    docs, queries = retrieval_corpus()
    ref = np.argsort(-(base_encoder.encode(queries) @ base_encoder.encode(docs).T), axis=1)[:, :10]
    new = np.argsort(-(tower.encode(queries) @ tower.encode(docs).T), axis=1)[:, :10]
    return {"overlap_at_10": round(float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ref, new)])), 4),
            "top1_agreement": round(float(np.mean(ref[:, 0] == new[:, 0])), 4)}


def _load_image_tower(base):
    from engine.learn.export_image import load_checkpoint

    return load_checkpoint(_base_weights(base.path, base.manifest))


def _embed_images(model, images: Sequence, spec: dict) -> np.ndarray:
    import torch

    from engine.encoders.image import preprocess_images

    model.eval()
    out = []
    with torch.no_grad():
        for s in range(0, len(images), 32):
            x = torch.from_numpy(preprocess_images(images[s:s + 32], spec))  # (b, 1, h, w)
            out.append(model.embed(x).numpy())
    return np.concatenate(out)  # (Q, dim)


def _momentum_keys(momentum, data: _Data, targets: Sequence[int], seed: int, augment: bool = True):
    """Momentum-tower embeddings of augmented views of relevant drawings (no gradient)."""
    import torch

    from engine.encoders.image import preprocess_images
    from engine.learn.augment import degrade

    views = [degrade(data.rel_images[t], seed + t) if augment else data.rel_images[t] for t in targets]
    with torch.no_grad():
        return momentum.module.eval().embed(torch.from_numpy(preprocess_images(views, data.spec)))


def _image_to_image(tower, data: _Data, q_emb: np.ndarray, queries: Sequence[int]) -> dict:
    """Held-out query pictures (`q_emb`, by `tower`) ranked against every relevant drawing's picture."""
    ids = sorted(data.rel_images)
    r_emb = _embed_images(tower, [data.rel_images[t] for t in ids], data.spec)
    run = {k: [str(ids[int(j)]) for j in order] for k, order in rank_texts(q_emb, r_emb, queries).items()}
    return evaluate_texts(run, {q: {t: g for t, g in data.qrels[q].items() if t in data.rel_images}
                                for q in queries})


def _train_image(tower, data: _Data, txt_emb: np.ndarray, cfg: AdaptConfig,
                 progress: Optional[ProgressCallback], token: CancelToken):
    """Fine-tune the image tower toward the text embeddings. Returns (history, pairs seen)."""
    import torch

    from engine.encoders.image import preprocess_images
    from engine.learn.augment import degrade
    from engine.learn.losses import ContrastiveLoss, trainable_named_params
    from engine.learn.model import MomentumEncoder
    from engine.learn.queue import NegativeQueue

    rng = random.Random(cfg.seed)
    loss_cfg = cfg.loss
    criterion = ContrastiveLoss(loss_cfg)
    reference = {k: v.detach().clone() for k, v in trainable_named_params([tower]).items()}
    momentum = MomentumEncoder(tower, loss_cfg.momentum)
    img_queue = NegativeQueue(loss_cfg.queue_size, tower.cfg.dim)
    txt_queue = NegativeQueue(loss_cfg.queue_size, tower.cfg.dim)
    # image -> image (a relevant drawing's picture): MoCo-style, keys from the momentum tower
    criterion_i2i = ContrastiveLoss(loss_cfg)
    key_queue = NegativeQueue(loss_cfg.queue_size, tower.cfg.dim)
    opt = torch.optim.AdamW(list(tower.parameters()) + list(criterion.parameters())
                            + list(criterion_i2i.parameters()), lr=cfg.lr, weight_decay=cfg.weight_decay)
    train_pairs = [(q, t) for q in data.train for t in data.qrels[q]]
    total = math.ceil(len(train_pairs) / cfg.batch) * cfg.epochs
    step, seen, t0, history = 0, 0, time.time(), []
    for epoch in range(cfg.epochs):
        rng.shuffle(train_pairs)
        for s in range(0, len(train_pairs), cfg.batch):
            token.check()
            chunk = train_pairs[s:s + cfg.batch]
            # one pair per query per batch keeps ids unique; a repeated query joins as the same group
            views = [degrade(data.images[q], cfg.seed * 7_919 + epoch * 104_729 + q) if cfg.augment
                     else data.images[q] for q, _ in chunk]
            x = torch.from_numpy(preprocess_images(views, data.spec))  # (B, 1, h, w)
            txt = torch.from_numpy(txt_emb[[t for _, t in chunk]])  # (B, dim)
            ids = torch.tensor([q for q, _ in chunk], dtype=torch.long)  # (B,) group = query
            for g in opt.param_groups:
                g["lr"] = cfg.lr * 0.5 * (1 + math.cos(math.pi * step / max(1, total)))
            tower.eval()  # BatchNorm statistics frozen: batches are small and the data is new
            img = tower.embed(x)  # (B, dim)
            out = criterion(img, txt, ids,
                            img_queue=img_queue.contents() if len(img_queue) else None,
                            txt_queue=txt_queue.contents() if len(txt_queue) else None,
                            params=trainable_named_params([tower]), reference=reference)
            loss = out["loss"]
            rows = [i for i, (_, t) in enumerate(chunk) if t in data.rel_images]
            if rows:
                keys = _momentum_keys(momentum, data, [chunk[i][1] for i in rows],
                                      cfg.seed * 6_271 + epoch * 104_729 + step, cfg.augment)  # (R, dim)
                group = torch.tensor([chunk[i][1] for i in rows], dtype=torch.long)  # group = relevant drawing
                out_i2i = criterion_i2i(img[rows], keys, group,
                                        txt_queue=key_queue.contents() if len(key_queue) else None)
                loss = loss + out_i2i["loss"]
                out["image->image"] = out_i2i["loss"].detach()
                key_queue.enqueue(keys, group)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            momentum.update(tower)
            with torch.no_grad():
                img_queue.enqueue(momentum.module.eval().embed(x), ids)
            txt_queue.enqueue(txt, ids)
            step += 1
            seen += len(chunk)
            report(progress, Progress("train", step, total, "steps", message=f"loss {float(out['loss'].detach()):.3f}"))
        history.append({"epoch": epoch + 1, **{k: round(float(v.detach()), 4) for k, v in out.items()}})
        if (time.time() - t0) / 60 > cfg.max_minutes:
            break
    return history, seen


def _write_version(base, out_dir: Path, cfg: AdaptConfig, pairs_csv: Path, data: _Data, text_tower,
                   image_tower, meta, metrics: dict) -> tuple[Path, str]:
    """The new pack version: the adapted towers' ONNX graphs and weights, the rest of the base pack."""
    import shutil

    import torch

    from engine.encoders.pack import make_pack_id, write_pack
    from engine.learn.export_image import export_image_tower

    stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
    version = f"{base.version}+site.{stamp}"
    pack_id = make_pack_id(base.name, version)
    dest = Path(out_dir) / pack_id
    work = Path(out_dir) / f".{pack_id}.work"
    work.mkdir(parents=True, exist_ok=True)
    manifest = json.loads(json.dumps(base.manifest))
    provenance = {"kind": "adapt", "parent": base.pack_id, "pairs_csv": str(pairs_csv),
                  "train_queries": len(data.train), "val_queries": len(data.val),
                  "config": {**asdict(replace(cfg, loss=None, text_loss=None)), "loss": asdict(cfg.loss),
                             "text_loss": asdict(cfg.text_loss)}, "seed": cfg.seed}
    text = manifest["text"]
    files = {text["file"]: base.path / text["file"]}
    if text.get("tokenizer"):
        files[text["tokenizer"]] = base.path / text["tokenizer"]
    if text.get("weights"):
        files[text["weights"]] = base.path / text["weights"]
    try:
        if text_tower is not None:
            from engine.learn.text_tower import TUNED_FILE, export_text_tower

            checks = export_text_tower(text_tower, work, base.path / text["tokenizer"])
            text.update({"file": "text.onnx", "tokenizer": "tokenizer.json", "weights": TUNED_FILE,
                         "quantization": "none", "training": {**provenance, "pairs": metrics["text_pairs"]},
                         "checks": checks})
            files = {"text.onnx": work / "text.onnx", "tokenizer.json": work / "tokenizer.json",
                     TUNED_FILE: work / TUNED_FILE}
        if manifest.get("image"):
            if image_tower is not None:
                section = export_image_tower(image_tower, work, spec=data.spec, measure=False,
                                             provenance={**provenance, "base_training": meta.get("provenance", {})})
                torch.save({"tower": image_tower.state_dict(), "tower_config": image_tower.cfg.to_dict(),
                            "meta": {"image_spec": data.spec, "provenance": provenance}}, work / "tower.pt")
                manifest["image"] = {**manifest["image"], **section}
                files.update({"image.onnx": work / "image.onnx", "tower.pt": work / "tower.pt"})
            else:
                files[manifest["image"]["file"]] = base.path / manifest["image"]["file"]
                try:
                    files["tower.pt"] = _base_weights(base.path, base.manifest)
                except PackError:
                    pass  # a pack without training weights stays one
        manifest.update({"version": version, "parent": base.pack_id, "metrics": metrics,
                         "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")})
        write_pack(dest, manifest, files)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest, pack_id
