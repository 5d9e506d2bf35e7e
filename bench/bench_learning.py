"""Benchmark of the learned image tower and of site adaptation, in one run.

    nice python bench/bench_learning.py [--image-tower resources/models/image_tower] [--only synth,speed]
        [--synth-parts 200] [--epochs 8] -> bench/out/learning.json

Sections (all through the runtime path: manifest preprocessing + onnxruntime, the pack's text tower):
- synth:     held-out synthetic drawings (seeds no training run used) as clean / scan / photo images
             -> their spec texts (ja, en) and page text; text -> photo; photo -> clean drawing of the
             same part (image -> image) against a downscaled-pixels baseline. Recall@1/5/10, MRR vs chance.
- speed:     image tower images/s including preprocessing, 150 dpi A4 renders, 1 and 2 threads.
- ultimaker: ../shared/data/ultimaker-original, split by part number 50/50; image-only queries (150 dpi
             grayscale renders) -> all BOM lines, before and after `adapt` on the train half (R@K, mAP).
- coco:      ../shared/data/coco-mini, split by image 50/50; image <-> caption before and after adapt.
Needs the default pack (text tower) and a trained image tower (image.onnx + image.json + tower.pt).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import onnxruntime  # noqa: F401  (load before anything that may load usearch)
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from engine.config import DEFAULT_PACK_DIR  # noqa: E402
from engine.encoders.pack import ModelPack, write_pack  # noqa: E402

DATA = REPO.parent / "shared" / "data"
OUT = REPO / "bench" / "out"
SYNTH_FIRST_SEED = 20_000_000


def ranks_of(sims: np.ndarray) -> np.ndarray:
    """sims (n, n), the relevant item of row i is column i -> 0-based rank of it per row."""
    return (sims > np.diag(sims)[:, None]).sum(axis=1)


def recall_table(ranks: np.ndarray, n_docs: int) -> dict:
    out = {f"R@{k}": round(float((ranks < k).mean()), 4) for k in (1, 5, 10)}
    out["MRR"] = round(float((1.0 / (ranks + 1)).mean()), 4)
    out["chance R@1"] = round(1.0 / n_docs, 4)
    out["chance R@10"] = round(min(1.0, 10.0 / n_docs), 4)
    out["n"] = int(len(ranks))
    return out


def make_pack(tower_dir: Path, dest: Path) -> Path:
    manifest = json.loads((DEFAULT_PACK_DIR / "manifest.json").read_text(encoding="utf-8"))
    manifest["image"] = json.loads((tower_dir / "image.json").read_text(encoding="utf-8"))
    files = {"text.onnx": DEFAULT_PACK_DIR / "text.onnx", "tokenizer.json": DEFAULT_PACK_DIR / "tokenizer.json",
             "image.onnx": tower_dir / "image.onnx"}
    if (tower_dir / "tower.pt").is_file():
        files["tower.pt"] = tower_dir / "tower.pt"
    return write_pack(dest, manifest, files)


def bench_synth(pack: ModelPack, n: int) -> dict:
    from engine.learn.augment import degrade
    from engine.learn.data import clean_text
    from engine.synth.drawing import draw_pdf, pdf_to_image
    from engine.synth.parts import generate_part, spec_text
    import pymupdf

    img_enc, txt_enc = pack.image_encoder(threads=2), pack.text_encoder(threads=2)
    clean, scan, photo, texts = [], [], [], {"spec_ja": [], "spec_en": [], "page": []}
    families = []
    for i in range(n):
        part = generate_part(SYNTH_FIRST_SEED + i)
        families.append(part.family)
        pdf = draw_pdf(part)
        page = pdf_to_image(pdf, dpi=100)
        with pymupdf.open(stream=pdf, filetype="pdf") as doc:
            texts["page"].append(clean_text(doc[0].get_text(), 600))
        texts["spec_ja"].append(spec_text(part, "ja"))
        texts["spec_en"].append(spec_text(part, "en"))
        clean.append(page)
        scan.append(degrade(page, i, "scan"))
        photo.append(degrade(page, i, "photo"))
    emb = {k: img_enc.encode(v) for k, v in (("clean", clean), ("scan", scan), ("photo", photo))}
    temb = {k: txt_enc.encode(v) for k, v in texts.items()}
    res: dict = {}
    for cond, e in emb.items():
        for kind, t in temb.items():
            res[f"{cond} -> {kind}"] = recall_table(ranks_of(e @ t.T), n)
    res["spec_en -> photo"] = recall_table(ranks_of(temb["spec_en"] @ emb["photo"].T), n)
    res["photo -> clean drawing (tower)"] = recall_table(ranks_of(emb["photo"] @ emb["clean"].T), n)
    res["photo -> clean drawing (pixels 32x32 baseline)"] = recall_table(
        ranks_of(_pixels(photo) @ _pixels(clean).T), n)
    # drawing -> similar drawing: photo query, other parts' clean drawings, relevant = same family
    for name, q, d in (("tower", emb["photo"], emb["clean"]), ("pixels 32x32 baseline", _pixels(photo), _pixels(clean))):
        sims = q @ d.T  # (n, n)
        np.fill_diagonal(sims, -np.inf)  # the query's own drawing is not a "similar" one
        qrels = {i: {j for j in range(n) if j != i and families[j] == families[i]} for i in range(n)}
        m = _rank_eval(sims, qrels)
        from engine.evaluate.metrics import evaluate_run

        run = {str(i): [str(j) for j in np.argsort(-sims[i], kind="stable")[:n - 1]] for i in range(n)}
        full = evaluate_run(run, {str(i): {str(j): 1.0 for j in r} for i, r in qrels.items()})
        res[f"photo -> same-family drawings ({name})"] = {**m, "ndcg@10": round(full["ndcg@10"], 4),
                                                          "precision@10": round(full["precision@10"], 4)}
    return res


def _pixels(images) -> np.ndarray:
    """Baseline: letterboxed 32x32 grayscale pixels, centred, L2-normalised."""
    from engine.encoders.image import preprocess_images

    x = preprocess_images(images, {"size": [32, 32], "channels": 1, "resize": "letterbox", "pad_value": 1.0,
                                   "mean": [0.5], "std": [0.5]}).reshape(len(images), -1)  # (n, 1024)
    x = x - x.mean(axis=1, keepdims=True)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def bench_speed(pack: ModelPack) -> dict:
    from engine.synth.drawing import render
    from engine.synth.parts import generate_part

    pages = [render(generate_part(SYNTH_FIRST_SEED + i), dpi=150) for i in range(32)]
    out = {}
    for threads in (1, 2):
        enc = pack.image_encoder(threads=threads)
        enc.encode(pages[:4])
        t = time.perf_counter()
        enc.encode(pages, batch_size=16)
        out[f"images_per_s_{threads}_threads_incl_preprocessing"] = round(len(pages) / (time.perf_counter() - t), 1)
        from engine.encoders.image import preprocess_images

        x = preprocess_images(pages[:16], enc.spec)
        t = time.perf_counter()
        enc.session.run([enc.output], {enc.input: x})
        out[f"images_per_s_{threads}_threads_model_only"] = round(16 / (time.perf_counter() - t), 1)
    return out


def _half(key: str) -> bool:
    return int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 2 == 0


def _eval_image_text(pack_dir: Path, images: list, texts: list[str], qrels: dict[int, set[int]]) -> dict:
    from engine.evaluate.metrics import evaluate_run

    pack = ModelPack.load(pack_dir)
    ie, te = pack.image_encoder(threads=2).encode(images), pack.text_encoder(threads=2).encode(texts)
    sims = ie @ te.T  # (q, t)
    run = {str(q): [str(j) for j in np.argsort(-sims[q], kind="stable")] for q in range(len(images))}
    m = evaluate_run(run, {str(q): {str(j): 1.0 for j in rel} for q, rel in qrels.items()})
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in m.items()
            if k in ("recall@1", "recall@5", "recall@10", "mrr", "map", "queries")}


def _ocr_texts(paths: list[Path], cache: Path) -> list[str]:
    """OCR text of each query render (engine.extract with the default OCR backend), cached as JSON."""
    from engine.extract import extract_document, get_ocr_engine

    done = json.loads(cache.read_text(encoding="utf-8")) if cache.exists() else {}
    ocr = get_ocr_engine("auto")
    if ocr is None:
        return []
    for p in paths:
        if p.name not in done:
            doc = extract_document(p, ocr=ocr)
            done[p.name] = " ".join(pg.text for pg in doc.pages)
            cache.write_text(json.dumps(done, ensure_ascii=False), encoding="utf-8")
    return [done[p.name] for p in paths]


def _rank_eval(sims: np.ndarray, qrels: dict[int, set[int]]) -> dict:
    from engine.evaluate.metrics import evaluate_run

    run = {str(q): [str(j) for j in np.argsort(-sims[q], kind="stable")] for q in range(len(sims))}
    m = evaluate_run(run, {str(q): {str(j): 1.0 for j in rel} for q, rel in qrels.items()})
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in m.items()
            if k in ("recall@1", "recall@5", "recall@10", "mrr", "map", "queries")}


def _rrf(*scored: tuple[np.ndarray, float], k: int = 60) -> np.ndarray:
    """Reciprocal-rank fusion of several (q, n) score matrices with weights (the engine's fusion rule)."""
    out = np.zeros_like(scored[0][0])
    for sims, weight in scored:
        ranks = np.argsort(np.argsort(-sims, axis=1, kind="stable"), axis=1)  # (q, n) 0-based
        out += weight / (k + ranks + 1)
    return out


def bench_ultimaker_fused(base_pack: Path, adapted_pack: Path, test: list, bom: list[str], work: Path) -> dict:
    """(a) OCR text -> text tower, (b)/(c) image tower before/after adapt, (d) RRF fusion of (a) with each."""
    paths = [p for p, _, _ in test]
    texts = _ocr_texts(paths, work / "ultimaker_ocr.json")
    if not texts:
        return {"skipped": "no OCR backend"}
    from PIL import Image

    qrels = {i: {bom.index(line)} for i, (_, _, line) in enumerate(test)}
    base = ModelPack.load(base_pack)
    te = base.text_encoder(threads=2)
    bom_emb = te.encode(bom)  # (n, 384)
    text_sims = te.encode(texts) @ bom_emb.T  # (q, n)
    images = [Image.open(p) for p in paths]
    img_before = base.image_encoder(threads=2).encode(images) @ bom_emb.T
    img_after = ModelPack.load(adapted_pack).image_encoder(threads=2).encode(images) @ bom_emb.T
    return {"(a) OCR text -> text tower": _rank_eval(text_sims, qrels),
            "(b) image tower, pretrained": _rank_eval(img_before, qrels),
            "(c) image tower, adapted": _rank_eval(img_after, qrels),
            "(d) fused (a)+(b), RRF 1.0/0.7": _rank_eval(_rrf((text_sims, 1.0), (img_before, 0.7)), qrels),
            "(d) fused (a)+(c), RRF 1.0/0.7": _rank_eval(_rrf((text_sims, 1.0), (img_after, 0.7)), qrels)}


def bench_ultimaker(base_pack: Path, work: Path, epochs: int) -> dict:
    import pymupdf
    from PIL import Image

    from engine.learn.adapt import AdaptConfig, adapt

    data = DATA / "ultimaker-original"
    rows = list(csv.DictReader(open(data / "pairs.csv", encoding="utf-8")))
    renders = work / "ultimaker"
    renders.mkdir(parents=True, exist_ok=True)
    bom = sorted({r["bom_line"] for r in rows})
    items = []
    for r in rows:
        png = renders / (r["drawing"].replace("/", "__") + ".png")
        if not png.exists():
            with pymupdf.open(data / r["drawing"]) as doc:
                pix = doc[0].get_pixmap(dpi=150, colorspace=pymupdf.csGRAY, alpha=False)
                Image.frombytes("L", (pix.width, pix.height), pix.samples).save(png)
        items.append((png, r["part_number"], r["bom_line"]))
    train = [it for it in items if _half(it[1])]
    test = [it for it in items if not _half(it[1])]
    with open(renders / "pairs_train.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["query", "relevant"])
        for png, _, line in train:
            w.writerow([png.name, line])
    t = time.time()
    rep = adapt(None, renders / "pairs_train.csv", base_pack, work / "packs",
                config=AdaptConfig(epochs=epochs, val_fraction=0.2))
    adapt_s = time.time() - t
    images = [Image.open(p) for p, _, _ in test]
    qrels = {i: {bom.index(line)} for i, (_, _, line) in enumerate(test)}
    return {"train_pairs": len(train), "test_queries": len(test), "candidates": len(bom),
            "before (pretrained tower)": _eval_image_text(base_pack, images, bom, qrels),
            "after adapt on train half": _eval_image_text(Path(rep["pack_dir"]), images, bom, qrels),
            "rankers": bench_ultimaker_fused(base_pack, Path(rep["pack_dir"]), test, bom, work),
            "adapt": {"wall_s": round(adapt_s, 1), "activate": rep["activate"], "timing": rep["timing"],
                      "val_before_map": round(rep["before"]["map"], 4), "val_after_map": round(rep["after"]["map"], 4)}}


ULTIMAKER_FAMILIES = (("iso 7380", "screw"), ("screw", "screw"), ("nut", "nut"), ("washer", "washer"),
                      ("spacer", "spacer"), ("panel", "panel"), ("plate", "plate"), ("shaft", "shaft"),
                      ("bearing", "bearing"), ("cable", "cable"), ("limit switch", "switch"),
                      ("print table arm", "arm"), ("sliding block", "block"), ("print head", "print head"),
                      ("motor", "motor"), ("timing", "timing"), ("controller", "controller"),
                      ("feeder", "feeder"))


def bench_ultimaker_similar(pack: ModelPack) -> dict:
    """Drawing -> similar drawings on real drawings: relevant = same part family (keyword of the part
    name, ULTIMAKER_FAMILIES); image tower vs 32x32 pixels. Queries: 150 dpi grayscale renders."""
    import pymupdf
    from PIL import Image

    data = DATA / "ultimaker-original"
    rows = list(csv.DictReader(open(data / "pairs.csv", encoding="utf-8")))
    fams, images = [], []
    for r in rows:
        name = r["part_name"].lower()
        fams.append(next((f for k, f in ULTIMAKER_FAMILIES if k in name), None))
        with pymupdf.open(data / r["drawing"]) as doc:
            pix = doc[0].get_pixmap(dpi=150, colorspace=pymupdf.csGRAY, alpha=False)
            images.append(Image.frombytes("L", (pix.width, pix.height), pix.samples))
    n = len(images)
    qrels = {i: {j for j in range(n) if j != i and fams[i] and fams[j] == fams[i]} for i in range(n)}
    qrels = {i: r for i, r in qrels.items() if r}
    from engine.evaluate.metrics import evaluate_run

    out = {"queries": len(qrels), "drawings": n, "families": sorted({f for f in fams if f})}
    emb = pack.image_encoder(threads=2).encode(images)
    for name, e in (("tower", emb), ("pixels 32x32 baseline", _pixels(images))):
        sims = e @ e.T  # (n, n)
        np.fill_diagonal(sims, -np.inf)
        run = {str(i): [str(j) for j in np.argsort(-sims[i], kind="stable")[:n - 1]] for i in qrels}
        m = evaluate_run(run, {str(i): {str(j): 1.0 for j in r} for i, r in qrels.items()})
        out[name] = {k: round(m[k], 4) for k in ("ndcg@10", "precision@10", "map", "recall@1", "mrr")}
    return out


def bench_coco(base_pack: Path, work: Path, epochs: int) -> dict:
    from PIL import Image

    from engine.learn.adapt import AdaptConfig, adapt

    data = DATA / "coco-mini"
    caps = [json.loads(line) for line in open(data / "captions.jsonl", encoding="utf-8")]
    by_image: dict[str, list[str]] = {}
    for c in caps:
        by_image.setdefault(c["image"], []).append(c["caption"])
    names = sorted(by_image)
    train = [n for n in names if _half(n)]
    test = [n for n in names if not _half(n)]
    folder = work / "coco"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "pairs_train.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["query", "relevant"])
        for n in train:
            for c in by_image[n]:
                w.writerow([str(data / n), c])
    t = time.time()
    rep = adapt(None, folder / "pairs_train.csv", base_pack, work / "packs",
                config=AdaptConfig(epochs=epochs, val_fraction=0.2))
    adapt_s = time.time() - t
    images = [Image.open(data / n).convert("RGB") for n in test]
    texts = [c for n in test for c in by_image[n]]
    qrels, k = {}, 0
    for i, n in enumerate(test):
        qrels[i] = set(range(k, k + len(by_image[n])))
        k += len(by_image[n])
    return {"train_images": len(train), "test_images": len(test), "test_captions": len(texts),
            "before": _eval_image_text(base_pack, images, texts, qrels),
            "after": _eval_image_text(Path(rep["pack_dir"]), images, texts, qrels),
            "adapt": {"wall_s": round(adapt_s, 1), "activate": rep["activate"], "timing": rep["timing"]}}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--image-tower", type=Path, default=REPO / "resources" / "models" / "image_tower")
    ap.add_argument("--only", default="synth,speed,ultimaker,ultimaker_similar,coco")
    ap.add_argument("--synth-parts", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=8)
    ap.add_argument("--out", type=Path, default=OUT / "learning.json")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    only = set(args.only.split(","))
    result: dict = {"machine": {"cpus": os.cpu_count(), "load": os.getloadavg(), "python": platform.python_version()},
                    "image_tower": json.loads((args.image_tower / "image.json").read_text())["training"].get("command")}
    with tempfile.TemporaryDirectory(prefix="zumen-bench-learning-") as tmp:
        work = Path(tmp)
        base = make_pack(args.image_tower, work / "base")
        pack = ModelPack.load(base)
        for name, fn in (("synth", lambda: bench_synth(pack, args.synth_parts)),
                         ("speed", lambda: bench_speed(pack)),
                         ("ultimaker", lambda: bench_ultimaker(base, work, args.epochs)),
                         ("ultimaker_similar", lambda: bench_ultimaker_similar(pack)),
                         ("coco", lambda: bench_coco(base, work, args.epochs))):
            if name not in only:
                continue
            if name in ("ultimaker", "ultimaker_similar", "coco") and not DATA.is_dir():
                result[name] = "skipped: ../shared/data is absent"
                continue
            t = time.time()
            result[name] = fn()
            result[name + "_wall_s"] = round(time.time() - t, 1)
            print(json.dumps({name: result[name]}, indent=1, ensure_ascii=False), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
