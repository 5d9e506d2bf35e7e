"""Site adaptation of the image tower: fine-tuning toward the text space, and its measurements (torch).

The tower trains toward the (adapted) text embeddings with InfoNCE + a momentum-encoder queue +
alignment/uniformity + L2-SP, BatchNorm statistics frozen, scan/photo augmentation of every query
each epoch; a relevant drawing is also a picture to match (image -> image, MoCo-style keys).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from engine.errors import PackError
from engine.evaluate.embeddings import evaluate_ranked, rank_by_embedding
from engine.learn.adapt_data import AdaptData
from engine.learn.loop import Step, TrainLoop
from engine.progress import CancelToken, ProgressCallback

if TYPE_CHECKING:
    from engine.learn.adapt import AdaptConfig


def image_tower_weights(base: Path, manifest: dict) -> Path:
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


def load_image_tower(base):
    """(tower, checkpoint meta) of a ModelPack's image tower, ready to train."""
    from engine.learn.export_image import load_checkpoint

    return load_checkpoint(image_tower_weights(base.path, base.manifest))


def embed_images(model, images: Sequence, spec: dict) -> np.ndarray:
    import torch

    from engine.encoders.image import preprocess_images

    model.eval()
    out = []
    with torch.no_grad():
        for s in range(0, len(images), 32):
            x = torch.from_numpy(preprocess_images(images[s:s + 32], spec))  # (b, 1, h, w)
            out.append(model.embed(x).numpy())
    return np.concatenate(out)  # (Q, dim)


def image_to_image(tower, data: AdaptData, q_emb: np.ndarray, queries: Sequence[int]) -> dict:
    """Held-out query pictures (`q_emb`, by `tower`) ranked against every relevant drawing's picture."""
    ids = sorted(data.rel_images)
    r_emb = embed_images(tower, [data.rel_images[t] for t in ids], data.spec)
    run = {k: [str(ids[int(j)]) for j in order] for k, order in rank_by_embedding(q_emb, r_emb, queries).items()}
    return evaluate_ranked(run, {q: {t: g for t, g in data.qrels[q].items() if t in data.rel_images}
                                 for q in queries})


def _momentum_keys(momentum, data: AdaptData, targets: Sequence[int], seed: int, augment: bool = True):
    """Momentum-tower embeddings of augmented views of relevant drawings (no gradient)."""
    import torch

    from engine.encoders.image import preprocess_images
    from engine.learn.augment import degrade

    views = [degrade(data.rel_images[t], seed + t) if augment else data.rel_images[t] for t in targets]
    with torch.no_grad():
        return momentum.module.eval().embed(torch.from_numpy(preprocess_images(views, data.spec)))


def train_image(tower, data: AdaptData, txt_emb: np.ndarray, cfg: "AdaptConfig",
                progress: Optional[ProgressCallback], token: CancelToken) -> TrainLoop:
    """Fine-tune the image tower toward the text embeddings. Returns the finished TrainLoop."""
    import math

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

    def batches(epoch: int):
        rng.shuffle(train_pairs)
        return [train_pairs[s:s + cfg.batch] for s in range(0, len(train_pairs), cfg.batch)]

    def step(epoch: int, chunk) -> Step:
        # one pair per query per batch keeps ids unique; a repeated query joins as the same group
        views = [degrade(data.images[q], cfg.seed * 7_919 + epoch * 104_729 + q) if cfg.augment
                 else data.images[q] for q, _ in chunk]
        x = torch.from_numpy(preprocess_images(views, data.spec))  # (B, 1, h, w)
        txt = torch.from_numpy(txt_emb[[t for _, t in chunk]])  # (B, dim)
        ids = torch.tensor([q for q, _ in chunk], dtype=torch.long)  # (B,) group = query
        tower.eval()  # BatchNorm statistics frozen: batches are small and the data is new
        img = tower.embed(x)  # (B, dim)
        out = criterion(img, txt, ids,
                        img_queue=img_queue.contents() if len(img_queue) else None,
                        txt_queue=txt_queue.contents() if len(txt_queue) else None,
                        params=trainable_named_params([tower]), reference=reference)
        loss = out["loss"]
        parts = {k: v.detach() for k, v in out.items()}
        rows = [i for i, (_, t) in enumerate(chunk) if t in data.rel_images]
        if rows:
            keys = _momentum_keys(momentum, data, [chunk[i][1] for i in rows],
                                  cfg.seed * 6_271 + epoch * 104_729 + loop.steps, cfg.augment)  # (R, dim)
            group = torch.tensor([chunk[i][1] for i in rows], dtype=torch.long)  # group = relevant drawing
            out_i2i = criterion_i2i(img[rows], keys, group,
                                    txt_queue=key_queue.contents() if len(key_queue) else None)
            loss = loss + out_i2i["loss"]
            parts["image->image"] = out_i2i["loss"].detach()
            key_queue.enqueue(keys, group)

        def after() -> None:
            momentum.update(tower)
            with torch.no_grad():
                img_queue.enqueue(momentum.module.eval().embed(x), ids)
            txt_queue.enqueue(txt, ids)

        return Step(loss, parts, after)

    total = math.ceil(len(train_pairs) / cfg.batch) * cfg.epochs
    loop = TrainLoop(opt, lr=cfg.lr, total_steps=total, max_minutes=cfg.max_minutes, stage="train",
                     progress=progress, cancel=token)
    return loop.run(cfg.epochs, batches, step)
