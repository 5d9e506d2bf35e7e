"""Site adaptation: fine-tune a pack's image tower on a site's own (drawing, text) pairs.

    adapt(library_dir, pairs_csv, base_pack_dir, out_dir) -> report dict

pairs.csv (UTF-8, header required): `query,relevant[,grade]`
  query     a drawing file (PDF page or image); "path#page=N" picks a page (default 1)
  relevant  a file ("path" or "path#page=N": that page's text, e.g. one BOM row of a CSV) or literal text
  grade     optional relevance grade (> 0 relevant; default 1)
Relative paths are resolved against the CSV's folder, then `library_dir`.

Method (docs/learning.md): the text tower stays frozen (the library's text vectors stay valid); the
image tower starts from the base pack's weights (tower.pt) and is trained with symmetric InfoNCE +
a queue of momentum-encoder embeddings + alignment/uniformity + L2-SP toward the starting weights,
BatchNorm statistics frozen (small batches), scan/photo augmentation of every query each epoch.
Queries are split (by query file, deterministic) into train and held-out parts; mAP of held-out
image -> text retrieval over all relevant texts is the primary metric, measured before and after.
A new pack version (parent = base pack) is written; `report["activate"]` is True only if mAP improved.
"""

from __future__ import annotations

import hashlib
import json
import math
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
    max_minutes: float = 15.0  # stop training early past this budget
    loss: LossConfig = field(default_factory=lambda: ADAPT_LOSS)


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


def _text_of(ref: str, roots: Sequence[Path], cache: dict) -> str:
    """Text of a relevant item: a file page's extracted text, or the literal string."""
    hit = _resolve(ref, roots)
    if hit is None:
        return ref
    from engine.extract import extract_document

    path, page = hit
    if path not in cache:
        cache[path] = extract_document(path)
    doc = cache[path]
    if not 1 <= page <= len(doc.pages):
        raise EngineError(f"{ref}: page {page} does not exist")
    return doc.pages[page - 1].text


def _is_val(query: str, seed: int, fraction: float) -> bool:
    h = int(hashlib.sha256(f"{seed}:{query}".encode()).hexdigest()[:8], 16)
    return (h % 10_000) / 10_000 < fraction


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


def map_image_to_text(img: np.ndarray, txt: np.ndarray, queries: Sequence[int],
                      qrels: dict[int, dict[int, float]]) -> dict:
    """Rank every text for every query image; engine.evaluate metrics (primary: mAP)."""
    from engine.evaluate.metrics import evaluate_run

    sims = img[np.asarray(queries)] @ txt.T  # (q, T)
    run = {str(q): [str(int(j)) for j in np.argsort(-sims[i], kind="stable")] for i, q in enumerate(queries)}
    rels = {str(q): {str(j): g for j, g in qrels[q].items()} for q in queries}
    return evaluate_run(run, rels)


def adapt(library_dir: Optional[Path], pairs_csv: Path, base_pack_dir: Path, out_dir: Path, *,
          config: AdaptConfig = AdaptConfig(), extra_pairs: Sequence[Pair] = (),
          progress: Optional[ProgressCallback] = None, cancel: Optional[CancelToken] = None) -> dict:
    """Fine-tune the base pack's image tower on the pairs; write a new pack version under `out_dir`.

    Returns {"pack_dir", "pack_id", "parent", "activate", "primary": "map", "before": metrics,
    "after": metrics, "pairs": {...}, "timing": {...}}. Raises EngineError on unusable input and
    Cancelled (work discarded) if `cancel` is set.
    """
    import torch

    from engine.encoders.image import preprocess_images
    from engine.encoders.pack import ModelPack, make_pack_id, write_pack
    from engine.extract import render_page
    from engine.learn.augment import degrade
    from engine.learn.export_image import export_image_tower, load_checkpoint
    from engine.learn.losses import ContrastiveLoss, trainable_named_params
    from engine.learn.model import MomentumEncoder
    from engine.learn.queue import NegativeQueue

    t_start = time.time()
    cfg = config
    torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    token = cancel or CancelToken()
    pairs_csv = Path(pairs_csv)
    roots = [pairs_csv.parent] + ([Path(library_dir)] if library_dir else [])
    pairs = [p for p in read_pairs(pairs_csv) + list(extra_pairs) if p.grade > 0]
    if len(pairs) < 4:
        raise EngineError(f"{pairs_csv}: at least 4 relevant pairs are needed to adapt, found {len(pairs)}")

    base = ModelPack.load(Path(base_pack_dir))
    manifest = json.loads(json.dumps(base.manifest))
    if not manifest.get("image"):
        raise PackError(f"pack {base.pack_id} has no image tower to adapt")
    tower, meta = load_checkpoint(_base_weights(Path(base_pack_dir), manifest))
    spec = {k: manifest["image"][k] for k in ("size", "channels", "resize", "pad_value", "mean", "std")}
    spec["interpolation"] = manifest["image"].get("interpolation", "bicubic")

    # ---- items: distinct query images and distinct relevant texts
    queries = sorted({p.query for p in pairs})
    texts_ref = sorted({p.relevant for p in pairs})
    q_index = {q: i for i, q in enumerate(queries)}
    t_index = {t: i for i, t in enumerate(texts_ref)}
    qrels: dict[int, dict[int, float]] = {}
    for p in pairs:
        qrels.setdefault(q_index[p.query], {})[t_index[p.relevant]] = p.grade
    doc_cache: dict = {}
    texts = [_text_of(t, roots, doc_cache) for t in texts_ref]
    images = []
    for i, q in enumerate(queries):
        token.check()
        hit = _resolve(q, roots)
        if hit is None:
            raise EngineError(f"query file not found: {q}")
        page = render_page(hit[0], hit[1], dpi=cfg.render_dpi, grayscale=True)
        h, w = spec["size"]
        page.thumbnail((2 * max(h, w), 2 * max(h, w)))  # augmentations run on a 2x working copy
        images.append(page.convert("L"))
        report(progress, Progress("prepare", i + 1, len(queries), "pages"))
    val = [i for i, q in enumerate(queries) if _is_val(q, cfg.seed, cfg.val_fraction)]
    train_q = [i for i in range(len(queries)) if i not in set(val)]
    if not val or not train_q:  # tiny sets: force at least one of each
        val, train_q = [0], list(range(1, len(queries)))
    text_enc = base.text_encoder(threads=cfg.threads)
    txt_emb = text_enc.encode(texts).astype(np.float32)  # (T, dim)
    torch.set_num_threads(cfg.threads)

    def embed_all(model) -> np.ndarray:
        model.eval()
        out = []
        with torch.no_grad():
            for s in range(0, len(images), 32):
                x = torch.from_numpy(preprocess_images(images[s:s + 32], spec))  # (b, 1, h, w)
                out.append(model.embed(x).numpy())
        return np.concatenate(out)  # (Q, dim)

    before = map_image_to_text(embed_all(tower), txt_emb, val, qrels)
    t_prep = time.time() - t_start

    # ---- training
    loss_cfg = cfg.loss
    criterion = ContrastiveLoss(loss_cfg)
    reference = {k: v.detach().clone() for k, v in trainable_named_params([tower]).items()}
    momentum = MomentumEncoder(tower, loss_cfg.momentum)
    img_queue = NegativeQueue(loss_cfg.queue_size, tower.cfg.dim)
    txt_queue = NegativeQueue(loss_cfg.queue_size, tower.cfg.dim)
    opt = torch.optim.AdamW(list(tower.parameters()) + list(criterion.parameters()), lr=cfg.lr,
                            weight_decay=cfg.weight_decay)
    train_pairs = [(q, t) for q in train_q for t in qrels[q]]
    steps_per_epoch = max(1, math.ceil(len(train_pairs) / cfg.batch))
    total = steps_per_epoch * cfg.epochs
    step, seen, t_train = 0, 0, time.time()
    history = []
    for epoch in range(cfg.epochs):
        rng.shuffle(train_pairs)
        for s in range(0, len(train_pairs), cfg.batch):
            token.check()
            chunk = train_pairs[s:s + cfg.batch]
            # one pair per query per batch keeps ids unique; a repeated query joins as the same group
            views = [degrade(images[q], cfg.seed * 7_919 + epoch * 104_729 + q) if cfg.augment else images[q]
                     for q, _ in chunk]
            x = torch.from_numpy(preprocess_images(views, spec))  # (B, 1, h, w)
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
            opt.zero_grad(set_to_none=True)
            out["loss"].backward()
            opt.step()
            momentum.update(tower)
            with torch.no_grad():
                img_queue.enqueue(momentum.module.eval().embed(x), ids)
            txt_queue.enqueue(txt, ids)
            step += 1
            seen += len(chunk)
            report(progress, Progress("train", step, total, "steps", message=f"loss {float(out['loss'].detach()):.3f}"))
        history.append({"epoch": epoch + 1, **{k: round(float(v.detach()), 4) for k, v in out.items()}})
        if (time.time() - t_train) / 60 > cfg.max_minutes:
            break
    t_train = time.time() - t_train
    after = map_image_to_text(embed_all(tower), txt_emb, val, qrels)
    improved = after["map"] > before["map"] + cfg.min_improvement

    # ---- new pack version
    stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
    version = f"{base.version}+site.{stamp}"
    pack_id = make_pack_id(base.name, version)
    dest = Path(out_dir) / pack_id
    work = Path(out_dir) / f".{pack_id}.work"
    work.mkdir(parents=True, exist_ok=True)
    provenance = {"kind": "adapt", "parent": base.pack_id, "pairs_csv": str(pairs_csv),
                  "pairs": len(pairs), "train_queries": len(train_q), "val_queries": len(val),
                  "config": {**asdict(replace(cfg, loss=None)), "loss": asdict(cfg.loss)},
                  "seed": cfg.seed, "steps": step, "pairs_seen": seen,
                  "train_seconds": round(t_train, 1), "base_training": meta.get("provenance", {})}
    section = export_image_tower(tower, work, spec=spec, provenance=provenance, measure=False)
    torch.save({"tower": tower.state_dict(), "tower_config": tower.cfg.to_dict(),
                "meta": {"image_spec": spec, "provenance": provenance}}, work / "tower.pt")
    manifest.update({"version": version, "parent": base.pack_id,
                     "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")})
    manifest["image"] = {**manifest["image"], **section}
    manifest["metrics"] = {"primary": "map", "split": "held-out queries", "before": before, "after": after}
    files = {manifest["text"]["file"]: base.path / manifest["text"]["file"],
             "image.onnx": work / "image.onnx", "tower.pt": work / "tower.pt"}
    if manifest["text"].get("tokenizer"):
        files[manifest["text"]["tokenizer"]] = base.path / manifest["text"]["tokenizer"]
    write_pack(dest, manifest, files)
    import shutil

    shutil.rmtree(work, ignore_errors=True)
    return {"pack_dir": str(dest), "pack_id": pack_id, "parent": base.pack_id, "activate": improved,
            "primary": "map", "before": before, "after": after, "history": history,
            "pairs": {"total": len(pairs), "train_queries": len(train_q), "val_queries": len(val),
                      "texts": len(texts)},
            "timing": {"prepare_s": round(t_prep, 1), "train_s": round(t_train, 1),
                       "total_s": round(time.time() - t_start, 1), "steps": step,
                       "pairs_per_s": round(seen / max(1e-9, t_train), 2)}}
