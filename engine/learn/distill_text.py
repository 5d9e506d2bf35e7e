"""A smaller text tower taught by the shipped one (issue #14: full embedding is bound by MiniLM).

The student is all-MiniLM-L6-v2 with some of its six layers kept (`--layers 0,2,4`: each kept
layer starts from the teacher's weights, so the student starts close), taught to give the
teacher's sentence vectors — mean-pooled, L2-normalised, exactly what the pack's ONNX graph
gives — on text our own code makes: the synthetic drawings', specifications', process sheets',
inspection reports' and notes' page text, chunked as indexing chunks it (80 words, 20 shared),
in Japanese and English. The loss is 1 − cosine to the teacher's vector: the library's vectors
and the image tower live in the teacher's space, so the student must land there, not merely rank
alike. The dev sets are never trained on; `agreement` judges the student on any other texts.

    python -m engine.learn.distill_text --out OUT [--layers 0,2,4] [--minutes 45] [--parts 400]
                                        [--vocabulary N] [--init STUDENT.pt]

writes `OUT/student.pt` (the student's state) and `OUT/report.json` (steps, loss, time, the
agreement with the teacher on held-out synthetic chunks, untrained and trained). Needs the
training extra (torch, transformers). Nothing is shipped from here: a student becomes a pack
only after the dev benchmark and the keyword queries judge it (docs/encoders.md).
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from engine.learn.text_tower import TextTower


def student_of(teacher: Any, layers: Sequence[int]) -> Any:
    """A copy of the teacher transformer keeping only `layers` (in that order)."""
    student = copy.deepcopy(teacher)
    student.encoder.layer = torch.nn.ModuleList([student.encoder.layer[i] for i in layers])
    student.config.num_hidden_layers = len(layers)
    return student


def synthetic_chunks(parts: int, seed: int = 0) -> list[str]:
    """Index-like chunks of the page text of `parts` synthetic parts' drawings and documents."""
    import pymupdf

    from engine.config import EngineSettings
    from engine.indexing.work import word_windows
    from engine.synth.documents import inspection_report, process_sheet, spec_sheet
    from engine.synth.drawing import draw_pdf
    from engine.synth.parts import generate_part

    settings = EngineSettings()
    r = random.Random(seed)
    chunks: list[str] = []
    for i in range(parts):
        part = generate_part(r.randrange(2**31))
        lang = "ja" if i % 3 else "en"
        pdfs = [draw_pdf(part), spec_sheet(part, lang).data, process_sheet(part, lang, seed=i).data,
                inspection_report(part, lang, seed=i).data]
        for data in pdfs:
            with pymupdf.open(stream=data, filetype="pdf") as doc:
                for page in doc:
                    chunks += [c.text for c in word_windows(page.get_text().split(), settings.chunk_words,
                                                            settings.chunk_overlap_words, ranged=False)]
    return chunks


def vocabulary_text(tokenizer: Any, count: int, seed: int = 0, lengths: tuple[int, int] = (8, 160)) -> list[str]:
    """`count` texts of tokens drawn at random from the tokenizer's whole vocabulary (special and
    unused tokens left out): data-free teaching material that reaches words our synthetic pages
    never print."""
    vocab = sorted(i for t, i in tokenizer.get_vocab().items() if not (t.startswith("[") and t.endswith("]")))
    rng = np.random.default_rng(seed)
    return [tokenizer.decode(rng.choice(vocab, size=int(rng.integers(*lengths))).tolist()) for _ in range(count)]


def agreement(student: TextTower, teacher_vectors: np.ndarray, texts: Sequence[str], k: int = 10) -> dict:
    """How close the student's vectors are to the teacher's (`teacher_vectors`, (n, d)) on `texts`:
    mean and 5th-percentile cosine, and how many of each text's k nearest texts both agree on."""
    got = student.encode(list(texts))
    cos = np.sum(got * teacher_vectors, axis=1)
    k = min(k, len(texts) - 1)
    overlap = 0.0
    if k > 0:
        def nearest(v: np.ndarray) -> np.ndarray:
            sims = v @ v.T
            np.fill_diagonal(sims, -np.inf)
            return np.argsort(-sims, axis=1)[:, :k]
        a, b = nearest(teacher_vectors), nearest(got)
        overlap = float(np.mean([len(set(x) & set(y)) / k for x, y in zip(a, b)]))
    return {"texts": len(texts), "cosine_mean": float(cos.mean()), "cosine_p5": float(np.percentile(cos, 5)),
            "top_k_overlap": overlap, "k": k}


def distill(student: TextTower, texts: Sequence[str], targets: np.ndarray, *, steps: int, batch: int = 16,
            lr: float = 1e-4, seconds: float = 0.0, seed: int = 0,
            log: Callable[[str], None] = print) -> dict:
    """Teach `student` the teacher's vectors `targets` ((n, d), normalised) of `texts`: AdamW on
    1 − cosine, batches drawn at random, for `steps` steps or `seconds` (0: no limit)."""
    params = [p for p in student.bert.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.01)
    rng = np.random.default_rng(seed)
    target = torch.from_numpy(np.asarray(targets, dtype=np.float32))
    student.bert.train()
    t0, losses, done = time.perf_counter(), [], 0
    for step in range(steps):
        pick = rng.choice(len(texts), size=min(batch, len(texts)), replace=False)
        got = student.embed([texts[i] for i in pick])
        loss = (1.0 - (got * target[pick]).sum(-1)).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
        done = step + 1
        if done % 100 == 0:
            log(f"step {done}: loss {np.mean(losses[-100:]):.4f} ({time.perf_counter() - t0:.0f} s)")
        if seconds and time.perf_counter() - t0 > seconds:
            break
    student.bert.eval()
    window = max(1, min(100, len(losses) // 5))  # the loss over the first and the last steps
    return {"steps": done, "seconds": round(time.perf_counter() - t0, 1), "batch": batch, "lr": lr,
            "loss_first": float(np.mean(losses[:window])) if losses else None,
            "loss_last": float(np.mean(losses[-window:])) if losses else None}


def main(argv: list[str] | None = None) -> int:
    from engine.config import DEFAULT_PACK_DIR
    from engine.encoders.pack import ModelPack

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--layers", default="0,2,4", help="teacher layers the student keeps, comma list")
    p.add_argument("--parts", type=int, default=400, help="synthetic parts whose pages are the training text")
    p.add_argument("--held-out", type=int, default=40, help="further parts whose chunks judge the student")
    p.add_argument("--minutes", type=float, default=45.0)
    p.add_argument("--steps", type=int, default=100_000)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--vocabulary", type=int, default=0,
                   help="also this many texts of random vocabulary tokens (data-free teaching)")
    p.add_argument("--init", type=Path, default=None, help="go on from this student.pt")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    pack = ModelPack.load(DEFAULT_PACK_DIR)
    teacher_onnx = pack.text_encoder(threads=args.threads)
    tower = TextTower.from_pack(DEFAULT_PACK_DIR, pack.manifest)
    layers = [int(x) for x in args.layers.split(",")]
    student = TextTower(student_of(tower.bert, layers), tower.tokenizer, tower.max_length)
    if args.init:
        student.bert.load_state_dict(torch.load(args.init, map_location="cpu", weights_only=True))
    t0 = time.perf_counter()
    train = synthetic_chunks(args.parts, seed=1) + vocabulary_text(tower.tokenizer, args.vocabulary, seed=1)
    held = synthetic_chunks(args.held_out, seed=2)
    print(f"{len(train)} training chunks, {len(held)} held out ({time.perf_counter() - t0:.0f} s)", flush=True)
    targets = teacher_onnx.encode(train, batch_size=32)  # the shipped graph's vectors
    held_targets = teacher_onnx.encode(held, batch_size=32)
    report: dict[str, Any] = {"layers": layers, "train_chunks": len(train), "vocabulary_texts": args.vocabulary,
                              "init": str(args.init or ""), "held_out_chunks": len(held),
                              "untrained": agreement(student, held_targets, held)}
    print("untrained:", report["untrained"], flush=True)
    report["training"] = distill(student, train, targets, steps=args.steps, batch=args.batch, lr=args.lr,
                                 seconds=args.minutes * 60, log=lambda s: print(s, flush=True))
    report["trained"] = agreement(student, held_targets, held)
    print("trained:", report["trained"], flush=True)
    torch.save(student.bert.state_dict(), args.out / "student.pt")
    (args.out / "report.json").write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
