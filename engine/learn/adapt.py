"""Site adaptation: fine-tune a pack's towers on a site's own (drawing, text) pairs.

    adapt(library_dir, pairs_csv, base_pack_dir, out_dir) -> AdaptReport (engine.types)

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
(parent = base pack) is written; `report.passed_gate` is True only if the primary mAP improved
(and the keyword rows did not lose).

The steps live in their own modules:
    adapt_data.py    pairs -> queries, texts, judgements, split, words and pictures (no torch)
    train_text.py    the text tower: cross-validated measurement and fine-tuning
    train_image.py   the image tower: fine-tuning toward the text space, image -> image
    loop.py          the one training loop (cosine schedule, time budget, cancel, progress)
    gate.py          may the new version be activated?
    pack_version.py  writing the new pack version
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from engine.errors import EngineError
from engine.evaluate.embeddings import map_image_to_text
from engine.evaluate.pairs import Judgement, read_pairs_csv
from engine.learn.adapt_data import prepare
from engine.learn.gate import refusal
from engine.learn.losses import LossConfig
from engine.progress import CancelToken, Progress, ProgressCallback, report
from engine.types import AdaptReport

log = logging.getLogger(__name__)

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


def adapt(library_dir: Optional[Path], pairs_csv: Path, base_pack_dir: Path, out_dir: Path, *,
          config: AdaptConfig = AdaptConfig(), extra_pairs: Sequence[Pair] = (),
          progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> AdaptReport:
    """Fine-tune the base pack's towers on the pairs; write a new pack version under `out_dir`.

    Raises EngineError on unusable input and Cancelled (work discarded) if `cancel` is set."""
    import torch

    from engine.encoders.pack import ModelPack
    from engine.learn.pack_version import write_version
    from engine.learn.train_image import embed_images, image_to_image, load_image_tower, train_image
    from engine.learn.train_text import adapt_text

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
    data = prepare(pairs, roots, base, cfg, progress, token)
    skipped = dict(data.skipped)
    val = data.val
    timing: dict = {"prepare_s": round(time.time() - t_start, 1)}
    paths: dict[str, dict] = {}
    history: dict[str, list] = {}
    text_tower = None
    base_txt = data.text_encoder.encode(data.texts).astype(np.float32)  # (T, dim) by the base tower
    txt_emb = base_txt  # the text space the image tower trains toward: the adapted one when there is one
    if data.query_texts is not None:
        t0 = time.time()
        text = adapt_text(data, base, base_txt, cfg, progress, token)
        text_tower, txt_emb, paths["text"], history["text"] = text.tower, text.texts, text.measured, text.history
        timing["text_train_s"] = round(time.time() - t0, 1)
        timing["text_pairs_per_s"] = round(text.seen / max(1e-9, time.time() - t0), 2)
    tower = meta = None
    if data.images is not None:
        tower, meta = load_image_tower(base)
        q_img = embed_images(tower, data.images, data.spec)  # (Q, dim)
        paths["image"] = {"before": map_image_to_text(q_img, base_txt, val, data.qrels)}
        i2i_val = [q for q in val if set(data.qrels[q]) & set(data.rel_images)]
        if i2i_val:
            paths["image->image"] = {"before": image_to_image(tower, data, q_img, i2i_val)}
        loop = train_image(tower, data, txt_emb, cfg, progress, token)
        history["image"] = loop.history
        timing["image_train_s"] = round(loop.elapsed_s, 1)
        timing["image_pairs_per_s"] = round(loop.pairs_per_s, 2)
        q_img = embed_images(tower, data.images, data.spec)
        paths["image"]["after"] = map_image_to_text(q_img, txt_emb, val, data.qrels)
        if i2i_val:
            paths["image->image"]["after"] = image_to_image(tower, data, q_img, i2i_val)
    if not paths:
        raise EngineError("nothing to adapt: " + "; ".join(f"{k}: {v}" for k, v in skipped.items()))
    primary = "text" if "text" in paths else "image"
    before, after = paths[primary]["before"], paths[primary]["after"]
    verdict = refusal(before, after, paths.get("text", {}).get("keywords"), cfg)
    log.info("adapt: %s path held-out mAP %.3f -> %.3f%s", primary, before["map"], after["map"],
             f"; refused: {verdict}" if verdict else "")

    report(progress, Progress("export", 0, 1, "steps", message="writing the new pack version"))
    dest, pack_id = write_version(base, out_dir, cfg, pairs_csv, data, text_tower, tower, meta,
                                  {"primary": "map", "path": primary, "split": paths[primary].get(
                                      "protocol", "held-out queries"), "before": before, "after": after,
                                   "text_pairs": paths.get("text", {}).get("pairs", 0)})
    report(progress, Progress("export", 1, 1, "steps"))
    timing["total_s"] = round(time.time() - t_start, 1)
    return AdaptReport(
        pack_dir=str(dest), pack_id=pack_id, parent=base.pack_id, passed_gate=not verdict,
        refused_because=verdict, path=primary, before=before, after=after, paths=paths,
        trained=tuple(t for t in ("text", "image") if t in paths), skipped=skipped, history=history,
        pairs={"total": len(pairs), "train_queries": len(data.train), "val_queries": len(val),
               "texts": len(data.texts), "text_train_pairs": paths["text"]["pairs"] if "text" in paths else 0},
        timing=timing)
