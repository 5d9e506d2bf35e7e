"""Benchmark of the learned image tower and of site adaptation, in one run.

    nice python bench/bench_learning.py [--image-tower resources/models/image_tower] [--only synth,speed]
        [--synth-parts 200] [--epochs 8] -> bench/out/learning.json

Sections (all through the runtime path: manifest preprocessing + onnxruntime, the pack's text tower):
- synth:     held-out synthetic drawings (seeds no training run used) as clean / scan / photo images
             -> their spec texts (ja, en) and page text; text -> photo; photo -> clean drawing of the
             same part (image -> image) against a downscaled-pixels baseline. Recall@1/5/10, MRR vs chance.
- speed:     image tower images/s including preprocessing, 150 dpi A4 renders, 1 and 2 threads.
- ultimaker: ../shared/data/ultimaker-original, split by part number 50/50; image-only queries (150 dpi
             grayscale renders, OCR'd) -> all BOM lines and -> all drawings: (a) OCR text -> text tower,
             (b) image tower, (c) both after `adapt` on the train half, (d) fused, beside TF-IDF and
             the engine-style lexical + dense fusion (R@1/5/10, MRR, nDCG@10, mAP).
- ultimaker_similar: drawing -> same-family drawings, image tower vs 32x32 pixels (nDCG@10), and after
             image -> image adaptation on the train half (held-out half measured).
- coco:      ../shared/data/coco-mini, split by image 50/50; image <-> caption before and after adapt.
- adapt500:  wall time of a 500-pair adaptation (synthetic drawing PDFs -> spec texts, both towers).
Renders and OCR text of the Ultimaker queries are cached in bench/out/cache/.
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

import engine  # noqa: F401  (first: it switches onnxruntime's telemetry off)
import onnxruntime  # noqa: F401  (load before anything that may load usearch)
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.dev_sets import ULTIMAKER_FAMILIES  # noqa: E402
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
    """The words a search reads from each query render (engine.extract with the default OCR
    backend), cached as JSON across runs (bench/out/cache)."""
    from engine.extract import extract_document, get_ocr_engine

    cache.parent.mkdir(parents=True, exist_ok=True)
    done = json.loads(cache.read_text(encoding="utf-8")) if cache.exists() else {}
    ocr = get_ocr_engine("auto")
    if ocr is None:
        return []
    for p in paths:
        if p.name not in done:
            doc = extract_document(p, ocr=ocr)
            done[p.name] = doc.pages[0].text if doc.pages else ""
            cache.write_text(json.dumps(done, ensure_ascii=False), encoding="utf-8")
    return [done[p.name] for p in paths]


def _rank_eval(sims: np.ndarray, qrels: dict[int, set[int]]) -> dict:
    from engine.evaluate.metrics import evaluate_run

    run = {str(q): [str(j) for j in np.argsort(-sims[q], kind="stable")] for q in range(len(sims))}
    m = evaluate_run(run, {str(q): {str(j): 1.0 for j in rel} for q, rel in qrels.items()})
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in m.items()
            if k in ("recall@1", "recall@5", "recall@10", "mrr", "ndcg@10", "map", "queries")}


def _fuse(*scored: tuple[np.ndarray, float]) -> np.ndarray:
    """Weighted sum of per-query min-max normalised score matrices (q, n): the engine's fusion rule."""
    out = np.zeros_like(scored[0][0], dtype=np.float64)
    for sims, weight in scored:
        lo, hi = sims.min(axis=1, keepdims=True), sims.max(axis=1, keepdims=True)
        out += weight * (sims - lo) / np.maximum(hi - lo, 1e-9)
    return out


def _rankers(texts: list[str], images: list, targets: list[str], target_images: list | None,
             qrels: dict[int, set[int]], base: ModelPack, adapted: ModelPack) -> dict:
    """(a) OCR text -> text tower, (b) image tower, (c) both after adapt, (d) fused, beside a TF-IDF
    baseline and the engine-style fusion of lexical and dense evidence, for one target set."""
    from common import TfidfIndex

    out: dict = {}
    tfidf = TfidfIndex({str(i): t for i, t in enumerate(targets)})
    lexical = np.stack([tfidf.scores(t) for t in texts])  # (q, n)
    for tag, pack in (("pretrained", base), ("adapted", adapted)):
        te = pack.text_encoder(threads=2)
        text_sims = te.encode(texts) @ te.encode(targets).T  # (q, n)
        ie = pack.image_encoder(threads=2)
        q_img = ie.encode(images)
        img_sims = q_img @ (ie.encode(target_images) if target_images is not None else te.encode(targets)).T
        label = "(a) OCR text -> text tower" if tag == "pretrained" else "(c) OCR text -> adapted text tower"
        out[label] = _rank_eval(text_sims, qrels)
        out[f"({'b' if tag == 'pretrained' else 'c'}) image tower, {tag}"] = _rank_eval(img_sims, qrels)
        w = 0.7 if target_images is not None else 0.1
        out[f"(d) fused text + {w} image, {tag}"] = _rank_eval(_fuse((text_sims, 1.0), (img_sims, w)), qrels)
        out[f"engine-style lexical + 0.3 dense, {tag}"] = _rank_eval(_fuse((lexical, 1.0), (text_sims, 0.3)), qrels)
    out["baseline: TF-IDF on OCR text"] = _rank_eval(lexical, qrels)
    return out


def bench_ultimaker(base_pack: Path, work: Path, epochs: int) -> dict:
    """Image-only queries (150 dpi grayscale renders) of the held-out half of the parts -> all BOM
    lines and -> all drawings, before and after `adapt` on the train half (split by part number)."""
    import pymupdf
    from PIL import Image

    from common import pdf_text
    from engine.learn.adapt import AdaptConfig, adapt

    data = DATA / "ultimaker-original"
    rows = list(csv.DictReader(open(data / "pairs.csv", encoding="utf-8")))
    renders = OUT / "cache" / "ultimaker"
    renders.mkdir(parents=True, exist_ok=True)
    bom = sorted({r["bom_line"] for r in rows})
    drawings = sorted({r["drawing"] for r in rows})
    items = []
    for r in rows:
        png = renders / (r["drawing"].replace("/", "__") + ".png")
        if not png.exists():
            with pymupdf.open(data / r["drawing"]) as doc:
                pix = doc[0].get_pixmap(dpi=150, colorspace=pymupdf.csGRAY, alpha=False)
                Image.frombytes("L", (pix.width, pix.height), pix.samples).save(png)
        items.append((png, r["part_number"], r["bom_line"], r["drawing"]))
    train = [it for it in items if _half(it[1])]
    test = [it for it in items if not _half(it[1])]
    with open(work / "pairs_train.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["query", "relevant"])
        for png, _, line, _ in train:
            w.writerow([str(png), line])
    t = time.time()
    rep = adapt(None, work / "pairs_train.csv", base_pack, work / "packs",
                config=AdaptConfig(epochs=epochs))
    adapt_s = time.time() - t
    texts = _ocr_texts([p for p, _, _, _ in test], OUT / "cache" / "ultimaker_ocr.json")
    if not texts:
        return {"skipped": "no OCR backend"}
    images = [Image.open(p) for p, _, _, _ in test]
    base, adapted = ModelPack.load(base_pack), ModelPack.load(Path(rep.pack_dir))
    drawing_texts = [pdf_text(data / d) for d in drawings]
    drawing_images = [Image.open(renders / (d.replace("/", "__") + ".png")) for d in drawings]
    return {"train_pairs": len(train), "test_queries": len(test), "bom_lines": len(bom), "drawings": len(drawings),
            "-> BOM lines": _rankers(texts, images, bom, None,
                                     {i: {bom.index(it[2])} for i, it in enumerate(test)}, base, adapted),
            "-> drawings": _rankers(texts, images, drawing_texts, drawing_images,
                                    {i: {drawings.index(it[3])} for i, it in enumerate(test)}, base, adapted),
            "adapt": {"wall_s": round(adapt_s, 1), "activate": rep.passed_gate, "path": rep.path,
                      "trained": rep.trained, "timing": rep.timing, "pairs": rep.pairs,
                      "paths": rep.paths}}


def bench_ultimaker_similar(base_pack: Path, work: Path, epochs: int) -> dict:
    """Drawing -> similar drawings on real drawings: relevant = same part family (keyword of the part
    name, ULTIMAKER_FAMILIES). Queries: 150 dpi grayscale renders. All 137 drawings as queries with
    the pretrained tower vs 32x32 pixels; then image -> image adaptation: `adapt` (image tower only)
    on drawing -> same-family drawing pairs of the train half (split by part number), measured on
    the held-out half's queries against every other drawing."""
    import pymupdf
    from PIL import Image

    from engine.evaluate.metrics import evaluate_run
    from engine.learn.adapt import AdaptConfig, adapt

    data = DATA / "ultimaker-original"
    rows = list(csv.DictReader(open(data / "pairs.csv", encoding="utf-8")))
    fams, images, pdfs = [], [], []
    for r in rows:
        name = r["part_name"].lower()
        fams.append(next((f for k, f in ULTIMAKER_FAMILIES if k in name), None))
        pdfs.append(data / r["drawing"])
        with pymupdf.open(data / r["drawing"]) as doc:
            pix = doc[0].get_pixmap(dpi=150, colorspace=pymupdf.csGRAY, alpha=False)
            images.append(Image.frombytes("L", (pix.width, pix.height), pix.samples))
    n = len(images)
    qrels = {i: {j for j in range(n) if j != i and fams[i] and fams[j] == fams[i]} for i in range(n)}
    qrels = {i: r for i, r in qrels.items() if r}

    def score(emb: np.ndarray, queries) -> dict:
        sims = emb @ emb.T  # (n, n)
        np.fill_diagonal(sims, -np.inf)
        run = {str(i): [str(j) for j in np.argsort(-sims[i], kind="stable")[:n - 1]] for i in queries}
        m = evaluate_run(run, {str(i): {str(j): 1.0 for j in qrels[i]} for i in queries})
        return {k: round(m[k], 4) for k in ("ndcg@10", "precision@10", "map", "recall@1", "mrr")}

    base = ModelPack.load(base_pack)
    before, pixels = base.image_encoder(threads=2).encode(images), _pixels(images)
    out = {"queries": len(qrels), "drawings": n, "families": sorted({f for f in fams if f}),
           "tower": score(before, qrels), "pixels 32x32 baseline": score(pixels, qrels)}
    train = [i for i in qrels if _half(rows[i]["part_number"])]
    test = [i for i in qrels if not _half(rows[i]["part_number"])]
    with open(work / "pairs_similar.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["query", "relevant"])
        for i in train:
            for j in sorted(j for j in qrels[i] if j in set(train))[:4]:
                w.writerow([str(pdfs[i]), str(pdfs[j])])
    t = time.time()
    rep = adapt(None, work / "pairs_similar.csv", base_pack, work / "packs",
                config=AdaptConfig(epochs=epochs, text=False))
    after = ModelPack.load(Path(rep.pack_dir)).image_encoder(threads=2).encode(images)
    out["adaptation (image -> image, train half)"] = {
        "train_queries": len(train), "held_out_queries": len(test), "wall_s": round(time.time() - t, 1),
        "gate": {k: {kk: round(vv["map"], 4) for kk, vv in v.items()} for k, v in rep.paths.items()},
        "held-out half, pretrained tower": score(before, test),
        "held-out half, adapted tower": score(after, test),
        "held-out half, pixels 32x32 baseline": score(pixels, test)}
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
                config=AdaptConfig(epochs=epochs, val_fraction=0.2, text=False))  # photos: no words
    adapt_s = time.time() - t
    images = [Image.open(data / n).convert("RGB") for n in test]
    texts = [c for n in test for c in by_image[n]]
    qrels, k = {}, 0
    for i, n in enumerate(test):
        qrels[i] = set(range(k, k + len(by_image[n])))
        k += len(by_image[n])
    return {"train_images": len(train), "test_images": len(test), "test_captions": len(texts),
            "before": _eval_image_text(base_pack, images, texts, qrels),
            "after": _eval_image_text(Path(rep.pack_dir), images, texts, qrels),
            "adapt": {"wall_s": round(adapt_s, 1), "activate": rep.passed_gate, "timing": rep.timing}}


def bench_adapt500(base_pack: Path, work: Path) -> dict:
    """Wall time of a 500-pair adaptation with the default AdaptConfig (both towers): synthetic drawing
    PDFs (text layer, so no OCR; ~0.7 s more per scanned query) -> their spec texts (en/ja)."""
    from engine.learn.adapt import adapt
    from engine.synth.drawing import draw_pdf
    from engine.synth.parts import generate_part, spec_text

    folder = work / "adapt500"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "pairs.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["query", "relevant"])
        for i in range(500):
            part = generate_part(SYNTH_FIRST_SEED + 5_000 + i)
            (folder / f"d{i}.pdf").write_bytes(draw_pdf(part))
            w.writerow([f"d{i}.pdf", spec_text(part, "en" if i % 2 else "ja")])
    t = time.time()
    rep = adapt(None, folder / "pairs.csv", base_pack, work / "packs")
    return {"pairs": 500, "wall_s": round(time.time() - t, 1), "timing": rep.timing, "path": rep.path,
            "protocol": rep.paths["text"]["protocol"] if "text" in rep.paths else None,
            "before_map": round(rep.before["map"], 4), "after_map": round(rep.after["map"], 4),
            "activate": rep.passed_gate}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--image-tower", type=Path, default=REPO / "resources" / "models" / "image_tower")
    ap.add_argument("--only", default="synth,speed,ultimaker,ultimaker_similar,coco,adapt500")
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
                         ("ultimaker_similar", lambda: bench_ultimaker_similar(base, work, args.epochs)),
                         ("coco", lambda: bench_coco(base, work, args.epochs)),
                         ("adapt500", lambda: bench_adapt500(base, work))):
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
