"""Pretrain the shipped image tower against the frozen text tower (LiT-style), on 2 CPU cores.

    python -m engine.learn.pretrain --out resources/models/image_tower --seed 0 [--steps N | --minutes M]

1. Render synthetic drawings (engine.synth) with scan/photo degradations into a disk cache, with
   worker processes (data.py); embed each part's texts once with the frozen MiniLM text tower.
2. Train the image tower: symmetric InfoNCE (learnable temperature, label-smoothed targets) + InfoNCE
   against a FIFO queue of momentum-encoder image embeddings and of text embeddings (MoCo) +
   alignment/uniformity (losses.py); with `--view-weight`, also self-supervised: two views of one
   drawing (two of its renderings - clean, scanned, photographed - each cropped and re-weighted at
   random, augment.view) are positives, the momentum encoder's queue of other drawings' views the
   negatives. `--init` continues from a tower.pt instead of starting from scratch. Text side
   frozen: the pack's text.onnx stays plain MiniLM, so text-to-text search is unchanged and every
   text vector already indexed stays valid.
3. Evaluate image -> text retrieval on held-out parts (other seeds), export ONNX + image.json, and
   save tower.pt (the starting point of `adapt`).

Deterministic: fixed seeds for data, init, batch order and augment choice; `--minutes` only picks the
step count (from a timing of the first steps) and records it, so `--steps` reproduces the run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Sequence

import numpy as np

from engine.evaluate.embeddings import retrieval_metrics
from engine.learn.data import (TEXT_KINDS, DatasetConfig, PairDataset, build_dataset, from_uint8,
                               text_embeddings)
from engine.learn.export_image import DEFAULT_SPEC

EVAL_FIRST_SEED = 10_000_000  # held-out parts come from seeds no training run uses

log = logging.getLogger(__name__)


def embed_images(tower, ds: PairDataset, variant: int, batch: int = 64) -> np.ndarray:
    import torch

    tower.eval()
    out = []
    with torch.no_grad():
        for s in range(0, len(ds), batch):
            idx = np.arange(s, min(len(ds), s + batch))
            x = torch.from_numpy(ds.pixels(idx, np.full(len(idx), variant)))  # (b, 1, h, w)
            out.append(tower.embed(x).numpy())
    return np.concatenate(out)  # (P, dim)


def evaluate(tower, ds: PairDataset, text_emb: np.ndarray) -> dict:
    """Held-out image -> text and text -> image retrieval, per image condition and text kind, and
    a scan or photo -> the clean rendering of the same drawing (image -> image)."""
    res: dict = {}
    clean = None
    for v, cond in ((0, "clean"), (1, "scan"), (2, "photo")):
        img = embed_images(tower, ds, v)  # (P, dim)
        for t, kind in enumerate(TEXT_KINDS):
            res[f"{cond}->{kind}"] = retrieval_metrics(img, text_emb[:, t])
        if cond == "photo":
            res["spec_en->photo"] = retrieval_metrics(text_emb[:, 1], img)
        if clean is None:
            clean = img
        else:
            res[f"{cond}->clean drawing"] = retrieval_metrics(img, clean)
    return res


def train(args: argparse.Namespace) -> dict:
    import torch

    from engine.learn.augment import view
    from engine.learn.losses import ContrastiveLoss, LossConfig
    from engine.learn.loop import Step, TrainLoop
    from engine.learn.model import ImageTower, MomentumEncoder, TowerConfig, count_parameters
    from engine.learn.queue import NegativeQueue

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    spec = dict(DEFAULT_SPEC, size=[args.size, args.size])
    cache = Path(args.cache)
    t0 = time.time()
    log.info(f"rendering {args.parts} training + {args.eval_parts} held-out parts into {cache}")
    train_ds = build_dataset(DatasetConfig(first_seed=args.seed * 1_000_000, parts=args.parts,
                                           variants=args.variants, size=(args.size, args.size)),
                             spec, cache, workers=args.workers,
                             progress=lambda i, n: i % 500 == 0 and log.info(f"  rendered {i}/{n}"))
    eval_ds = build_dataset(DatasetConfig(first_seed=EVAL_FIRST_SEED, parts=args.eval_parts, variants=3,
                                          size=(args.size, args.size)), spec, cache, workers=args.workers)
    t_render = time.time() - t0
    log.info(f"data ready in {t_render:.0f}s; embedding texts with MiniLM (frozen)")
    t1 = time.time()
    txt_train = text_embeddings(train_ds.texts, train_ds.root / "text_emb.npy")  # (P, T, 384)
    txt_eval = text_embeddings(eval_ds.texts, eval_ds.root / "text_emb.npy")  # (Q, T, 384)
    t_text = time.time() - t1
    torch.set_num_threads(args.threads)  # sentence-transformers may have changed it

    tower = ImageTower(TowerConfig())
    init_temperature = LossConfig.init_temperature
    if args.init:  # the tower and the temperature it ended its training with
        from engine.learn.export_image import load_checkpoint

        tower, meta = load_checkpoint(args.init)
        init_temperature = meta.get("provenance", {}).get("final_temperature", init_temperature)
        log.info(f"continuing from {args.init} (temperature {init_temperature})")
    momentum = MomentumEncoder(tower, args.momentum)
    loss_cfg = LossConfig(init_temperature=init_temperature, queue_size=args.queue, momentum=args.momentum,
                          w_l2sp=0.0, label_smoothing=args.label_smoothing, hard_negative_beta=args.hard_beta,
                          w_view=args.view_weight, view_temperature=args.view_temperature)
    criterion = ContrastiveLoss(loss_cfg)
    img_queue = NegativeQueue(args.queue, tower.cfg.dim)
    txt_queue = NegativeQueue(args.queue, tower.cfg.dim)
    params = list(tower.parameters()) + list(criterion.parameters())
    decay = [p for p in tower.parameters() if p.ndim > 1]
    no_decay = [p for p in tower.parameters() if p.ndim <= 1] + list(criterion.parameters())
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.weight_decay},
                             {"params": no_decay, "weight_decay": 0.0}], lr=args.lr)
    log.info(f"tower: {count_parameters(tower) / 1e6:.2f}M parameters; batch {args.batch}, queue {args.queue}")

    n_parts, n_var = len(train_ds), train_ds.images.shape[1]
    # --minutes: the schedule is sized after `calibrate` steps (still in warm-up) from their timing
    loop = TrainLoop(opt, lr=args.lr, total_steps=args.steps or 10**9, warmup=args.warmup, floor=0.02,
                     clip_params=params, clip_norm=5.0, record_every=args.log_every)

    def batches(epoch: int):
        """Random parts, a random rendering and text of each, until the schedule's last step."""
        order, pos, t0 = rng.permutation(n_parts), 0, time.time()
        while loop.steps < loop.total_steps:
            if loop.steps == args.calibrate and args.minutes and not args.steps:
                per_step = (time.time() - t0) / loop.steps
                loop.total_steps = max(loop.steps + 1, int(args.minutes * 60 / per_step))
                log.info(f"{per_step:.2f}s/step -> {loop.total_steps} steps for {args.minutes} min "
                         f"(reproduce with --steps {loop.total_steps})")
            if pos + args.batch > n_parts:
                order, pos = rng.permutation(n_parts), 0
            idx = order[pos:pos + args.batch]
            pos += args.batch
            var = rng.integers(0, n_var, len(idx))  # which rendering of the part
            kind = rng.choice(len(TEXT_KINDS), len(idx), p=args.text_mix)  # which of its texts
            if args.view_weight <= 0:
                yield idx, var, kind, None, None
                continue
            # the second view: another rendering of the same part; a seed per view's crop
            other = (var + rng.integers(1, n_var, len(idx))) % n_var if n_var > 1 else var
            yield idx, var, kind, other, rng.integers(0, 2**31, (2, len(idx)))

    def views(idx, var, seeds) -> torch.Tensor:
        u8 = train_ds.images[idx, var]  # (B, h, w)
        u8 = np.stack([view(im, int(s), crop=args.view_crop, turns=args.view_turns) for im, s in zip(u8, seeds)])
        return torch.from_numpy(from_uint8(u8, spec))  # (B, 1, h, w)

    def key_embeddings(x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            momentum.module.train()
            return momentum.module.embed(x)  # (B, 384) key encoder

    def step(epoch: int, batch) -> Step:
        idx, var, kind, other, seeds = batch
        ssl = other is not None  # a second view of each drawing (--view-weight)
        x = views(idx, var, seeds[0]) if ssl else torch.from_numpy(train_ds.pixels(idx, var))  # (B, 1, h, w)
        txt = torch.from_numpy(txt_train[idx, kind])  # (B, 384)
        ids = torch.from_numpy(idx.astype(np.int64))  # (B,) part index = pair group
        keys = key_embeddings(views(idx, other, seeds[1])) if ssl else None  # (B, 384)
        tower.train()
        img = tower.embed(x)  # (B, 384)
        q_img = img_queue.contents() if len(img_queue) else None
        q_txt = txt_queue.contents() if len(txt_queue) else None
        out = criterion(img, txt, ids, img_queue=q_img, txt_queue=q_txt, views=keys)

        def after() -> None:
            momentum.update(tower)
            # the queue holds the second views, or (image <-> text only) the updated key
            # encoder's embeddings of the same images
            img_queue.enqueue(keys if keys is not None else key_embeddings(x), ids)
            txt_queue.enqueue(txt, ids)

        return Step(out["loss"], {k: v.detach() for k, v in out.items()}, after, pairs=len(idx))

    loop.run(1, batches, step)
    t_train = loop.elapsed_s
    log.info(f"trained {loop.steps} steps, {loop.seen} pairs in {t_train:.0f}s ({loop.pairs_per_s:.1f} pairs/s); "
             "evaluating")
    metrics = evaluate(tower, eval_ds, txt_eval)
    return {"tower": tower, "metrics": metrics, "history": loop.history, "loss_config": loss_cfg,
            "steps": loop.steps, "pairs": loop.seen, "train_s": t_train, "render_s": t_render, "text_s": t_text,
            "spec": spec, "temperature": float(criterion.temperature.temperature)}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description="Pretrain Zumen's image tower (text tower frozen).")
    ap.add_argument("--out", type=Path, required=True, help="folder for image.onnx, image.json, tower.pt")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--init", type=Path, default=None, help="continue from this tower.pt")
    ap.add_argument("--view-weight", type=float, default=0.0,
                    help="weight of the self-supervised view term (0: image <-> text only)")
    ap.add_argument("--view-temperature", type=float, default=0.1)
    ap.add_argument("--view-crop", type=float, default=0.5, help="share of views cut to a region")
    ap.add_argument("--view-turns", type=float, default=0.0, help="share of views turned or mirrored")
    ap.add_argument("--steps", type=int, default=0, help="training steps (0: use --minutes)")
    ap.add_argument("--minutes", type=float, default=0.0, help="time budget; picks --steps after calibration")
    ap.add_argument("--parts", type=int, default=2000)
    ap.add_argument("--eval-parts", type=int, default=300)
    ap.add_argument("--variants", type=int, default=4)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--queue", type=int, default=2048)
    ap.add_argument("--momentum", type=float, default=0.99)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--weight-decay", type=float, default=0.05)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--label-smoothing", type=float, default=0.1)
    ap.add_argument("--hard-beta", type=float, default=0.0)
    ap.add_argument("--text-mix", type=float, nargs=3, default=[0.3, 0.3, 0.4],
                    help="sampling weights of spec_ja, spec_en, page text")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads; 1 is 4x faster than 2 on a CPU shared with other jobs")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--calibrate", type=int, default=20)
    ap.add_argument("--log-every", type=int, default=25)
    ap.add_argument("--cache", type=Path,
                    default=Path(os.environ.get("TMPDIR", "/tmp")) / "zumen-pretrain-cache")
    args = ap.parse_args(argv)
    if not args.steps and not args.minutes:
        args.steps = 3000
    return args


def main(argv: Sequence[str] | None = None) -> int:
    from engine.logs import configure_logging

    configure_logging(verbose=True)
    args = parse_args(argv)
    result = train(args)
    import torch

    from engine.learn.export_image import export_image_tower

    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    provenance = {
        "command": "python -m engine.learn.pretrain " + " ".join(
            [f"--out {out}", f"--seed {args.seed}", f"--steps {result['steps']}"]
            + [f"--{k.replace('_', '-')} {v}" for k, v in
               (("parts", args.parts), ("eval-parts", args.eval_parts), ("variants", args.variants),
                ("batch", args.batch), ("queue", args.queue), ("size", args.size),
                ("threads", args.threads), ("view-weight", args.view_weight),
                ("view-temperature", args.view_temperature), ("view-crop", args.view_crop),
                ("view-turns", args.view_turns), ("lr", args.lr), ("warmup", args.warmup))]
            + ([f"--init {args.init}"] if args.init else [])),
        "seed": args.seed, "steps": result["steps"], "pairs_seen": result["pairs"],
        "train_seconds": round(result["train_s"], 1), "render_seconds": round(result["render_s"], 1),
        "text_embed_seconds": round(result["text_s"], 1),
        "pairs_per_s": round(result["pairs"] / max(1e-9, result["train_s"]), 2),
        "threads": args.threads, "torch": torch.__version__,
        "data": {"generator": "engine.synth", "train_parts": args.parts, "variants": args.variants,
                 "eval_parts": args.eval_parts, "eval_first_seed": EVAL_FIRST_SEED,
                 "texts": list(TEXT_KINDS), "text_tower": "all-MiniLM-L6-v2 (frozen)"},
        "loss": asdict(result["loss_config"]), "final_temperature": round(result["temperature"], 4),
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    torch.save({"tower": result["tower"].state_dict(), "tower_config": result["tower"].cfg.to_dict(),
                "meta": {"image_spec": result["spec"], "provenance": provenance}}, out / "tower.pt")
    # parity on real held-out pixels, not only noise
    eval_ds = build_dataset(DatasetConfig(first_seed=EVAL_FIRST_SEED, parts=args.eval_parts, variants=3,
                                          size=(args.size, args.size)), result["spec"], args.cache, workers=1)
    section = export_image_tower(result["tower"], out, spec=result["spec"],
                                 parity_pixels=eval_ds.pixels([0, 1, 2, 3], [0, 1, 2, 0]),
                                 provenance={**provenance, "eval": result["metrics"]})
    report = {"provenance": provenance, "eval": result["metrics"], "history": result["history"],
              "onnx": {k: section[k] for k in ("sha256", "bytes", "parity", "images_per_s_2threads")}}
    (out / "training_report.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n",
                                              encoding="utf-8")
    log.info(json.dumps({"eval": {k: {m: v[m] for m in ('recall@1', 'recall@5', 'recall@10', 'chance@1')}
                             for k, v in result['metrics'].items()}, "onnx": report["onnx"]}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
