"""Duplicate groups on pairs made by our own code from the dev sets (bench/bench_similar.py's part 2).

Corpus (written once under WORKDIR/dup-corpus, never in the repository): for every dev-set drawing,
its page 1 as a one-page PDF ("original") and four near-duplicates made from it
  rescan     the 150-dpi render degraded like a scan (engine/synth/degrade.py), PNG; one in three
             is scanned sideways (turned 90 or 270 degrees)
  photo      the render degraded like a phone photo, JPEG
  reexport   the PDF page placed on another paper size, smaller, off-centre (vector, text layer)
  revision   the PDF with a small edit: a word changed, a region erased, a revision note added
The five files of one drawing form one group. The sets also hold a few drawings twice under their
own name in two folders (psas-lv3: lv3.1-airframe/cad/build/fin.PDF and cad/fins/fin.PDF, six such
pairs, byte-different exports with the same page text): their groups are one (`same_drawing`).
Files of any other two drawings are not duplicates. The corpus is indexed by the engine itself (OCR for the
pictures), then `Engine.duplicates` is asked for every candidate pair with its evidence.

Threshold: chosen leave-one-source-out over the five sets (the highest recall at precision >= 0.95
on the other four sets' pairs), scored on the left-out set's pairs; every source's pairs are scored
once that way, pooled. Beside it, same run: each signal alone (looks, words) and the 32x32-pixel
baseline (cosine of letterboxed pixels of the indexed renders), each with its own left-out
threshold. Recall counts every true pair, also those the candidate search never proposed.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import numpy as np

from bench import common
from bench.bench_quality import log

VARIANTS = ("original", "rescan", "photo", "reexport", "revision")
TARGET_PRECISION = 0.95


# --------------------------------------------------------------------------- the corpus
def _seed(*parts: object) -> int:
    return int(hashlib.sha1("|".join(map(str, parts)).encode()).hexdigest()[:8], 16)


def _original(src: Path, dest: Path) -> None:
    import pymupdf

    with pymupdf.open(src) as doc, pymupdf.open() as out:
        out.insert_pdf(doc, from_page=0, to_page=0)
        out.save(dest, garbage=3, deflate=True)


def _reexport(src: Path, dest: Path, rng: np.random.Generator) -> None:
    """The page drawn onto a larger sheet, scaled down and off-centre (another paper size or
    plot setting): vector content and text layer kept."""
    import pymupdf

    with pymupdf.open(src) as doc, pymupdf.open() as out:
        r = doc[0].rect
        grow = float(rng.uniform(1.05, 1.25))
        page = out.new_page(width=r.width * grow, height=r.height * grow)
        scale = float(rng.uniform(0.85, 0.97))
        x0 = float(rng.uniform(0.0, page.rect.width - r.width * scale))
        y0 = float(rng.uniform(0.0, page.rect.height - r.height * scale))
        page.show_pdf_page(pymupdf.Rect(x0, y0, x0 + r.width * scale, y0 + r.height * scale), doc, 0)
        out.save(dest, garbage=3, deflate=True)


def _revision(src: Path, dest: Path, rng: np.random.Generator) -> None:
    """A small edit, as between revision A and B: one word changed (when the page has a text
    layer), a small region erased (a feature removed), a revision note written in a corner."""
    import pymupdf

    with pymupdf.open(src) as doc:
        page = doc[0]
        r = page.rect
        words = [w for w in page.get_text("words") if len(w[4]) >= 2]
        if words:
            x0, y0, x1, y1, text = words[int(rng.integers(len(words)))][:5]
            page.add_redact_annot(pymupdf.Rect(x0, y0, x1, y1), fill=(1, 1, 1))
        w, h = r.width * float(rng.uniform(0.05, 0.12)), r.height * float(rng.uniform(0.05, 0.12))
        ex, ey = float(rng.uniform(0.1, 0.8)) * r.width, float(rng.uniform(0.1, 0.7)) * r.height
        page.add_redact_annot(pymupdf.Rect(ex, ey, ex + w, ey + h), fill=(1, 1, 1))
        page.apply_redactions(images=pymupdf.PDF_REDACT_IMAGE_PIXELS)
        size = max(6.0, r.height / 90)
        if words:
            page.insert_text((x0, y1), text[::-1], fontsize=max(4.0, (y1 - y0) * 0.8))
        page.insert_text((r.width * 0.05, r.height * 0.05 + size), "REV B: dimension changed, note added",
                         fontsize=size)
        page.draw_line((ex, ey + h / 2), (ex + w, ey + h / 2), width=max(0.5, size / 10))
        doc.save(dest, garbage=3, deflate=True)


def same_drawing(items: list[tuple[str, Path]]) -> dict[int, int]:
    """Drawing number -> the first number of the same drawing: same set, same file name (any
    case), the same words on page 1 (an export of one sheet kept in two folders)."""
    import pymupdf

    first: dict[tuple[str, str, str], int] = {}
    out = {}
    for i, (set_name, src) in enumerate(items):
        with pymupdf.open(src) as doc:
            text = " ".join(doc[0].get_text().split())
        key = (set_name, src.name.lower(), text)
        out[i] = first.setdefault(key, i) if text else i
    return out


def build_corpus(items: list[tuple[str, Path]], root: Path) -> dict[str, tuple[str, int]]:
    """Write the corpus (files already there are kept); returns path -> (set, drawing number),
    the number of the first copy for a drawing the set holds twice (`same_drawing`)."""
    from engine.extract import render_page
    from engine.synth.degrade import degrade

    labels: dict[str, tuple[str, int]] = {}
    canonical = same_drawing(items)
    for i, (set_name, src) in enumerate(items):
        folder = root / set_name / f"{i:03d}-{src.stem[:40]}"
        folder.mkdir(parents=True, exist_ok=True)
        files = {"original": folder / "original.pdf", "rescan": folder / "rescan.png",
                 "photo": folder / "photo.jpg", "reexport": folder / "reexport.pdf",
                 "revision": folder / "revision.pdf"}
        for f in files.values():
            labels[str(f)] = (set_name, canonical[i])
        if all(f.exists() for f in files.values()):
            continue
        _original(src, files["original"])
        rng = np.random.default_rng(_seed("dup", i, src.name))
        render = render_page(files["original"], 1, 150, grayscale=True)
        turn = (0, 0, 90, 0, 0, 270)[i % 6]  # one in three scanned sideways
        degrade(render, rng, "scan", rotate=turn or None).save(files["rescan"])
        degrade(render, rng, "photo").save(files["photo"], quality=85)
        _reexport(files["original"], files["reexport"], rng)
        _revision(files["original"], files["revision"], rng)
    return labels


# --------------------------------------------------------------------------- measuring
def pair_label(a: str, b: str, labels: dict[str, tuple[str, int]]) -> bool:
    return labels[a][1] == labels[b][1]


def choose_threshold(scores: np.ndarray, truth: np.ndarray, positives: int,
                     target: float = TARGET_PRECISION) -> float:
    """The lowest threshold whose precision on these scored pairs is >= target (highest recall
    there); `positives` = every true pair, scored or not. The highest score + eps if none."""
    order = np.argsort(-scores, kind="stable")
    s, t = scores[order], truth[order].astype(np.float64)
    tp = np.cumsum(t)
    precision = tp / np.arange(1, len(t) + 1)
    ok = np.nonzero(precision >= target)[0]
    if not len(ok) or not positives:
        return float(s[0] + 1e-6) if len(s) else 1.0
    k = ok[-1]
    while k + 1 < len(s) and s[k + 1] == s[k]:  # a threshold takes all pairs of equal score
        k += 1
    return float(s[k])


def precision_recall(scores: np.ndarray, truth: np.ndarray, positives: int, threshold: float) -> dict:
    taken = scores >= threshold
    tp = int(np.sum(taken & truth))
    fp = int(np.sum(taken & ~truth))
    return {"precision": tp / max(1, tp + fp), "recall": tp / max(1, positives), "tp": tp, "fp": fp,
            "fn": positives - tp}


def leave_one_source_out(pairs: list[tuple[str, str]], scores: np.ndarray, truth: np.ndarray,
                         labels: dict[str, tuple[str, int]], positives: dict[str, int]) -> dict:
    """Per left-out set: the threshold chosen on the pairs within the other sets, and precision /
    recall on the pairs touching the left-out set; plus all of them pooled."""
    sets = sorted(positives)
    touches = {s: np.array([labels[a][0] == s or labels[b][0] == s for a, b in pairs]) for s in sets}
    pooled_taken = np.zeros(len(pairs), dtype=bool)
    out: dict[str, dict] = {}
    for s in sets:
        train = ~touches[s]
        threshold = choose_threshold(scores[train], truth[train],
                                     sum(n for o, n in positives.items() if o != s))
        test = touches[s]
        out[s] = {"threshold": threshold, **precision_recall(scores[test], truth[test], positives[s],
                                                             threshold)}
        pooled_taken |= test & (scores >= out[s]["threshold"])
    tp = int(np.sum(pooled_taken & truth))
    fp = int(np.sum(pooled_taken & ~truth))
    total = sum(positives.values())
    out["pooled"] = {"precision": tp / max(1, tp + fp), "recall": tp / max(1, total), "tp": tp, "fp": fp,
                     "fn": total - tp,
                     "threshold_all_sets": choose_threshold(scores, truth, total)}
    return out


def duplicates_part(items: list[tuple[str, Path]], workdir: Path, pack: Path | None) -> dict:
    from engine.api import Engine

    root = workdir / "dup-corpus"
    t0 = time.perf_counter()
    labels = build_corpus(items, root)
    log(f"duplicates: corpus of {len(labels)} files ({time.perf_counter() - t0:.0f} s)")
    with Engine.open(workdir / "dup-library", pack=pack) as engine:
        t0 = time.perf_counter()
        report = engine.index([root])
        log(f"duplicates: indexed {report.added + report.updated} new files in {report.elapsed_s:.0f} s "
            f"({report.failed} failed)")
        t0 = time.perf_counter()
        result = engine.duplicates(with_pairs=True)
        elapsed = time.perf_counter() - t0
        chosen = engine.settings.duplicate_threshold
        library_paths = {g_path for g_path in labels if Path(g_path).exists()}
    return evaluate(result, labels, library_paths, elapsed, chosen, workdir)


def evaluate(result, labels: dict[str, tuple[str, int]], paths: set[str], elapsed: float,
             shipped_threshold: float, workdir: Path) -> dict:
    by_group: dict[int, list[str]] = {}
    for p in paths:
        by_group.setdefault(labels[p][1], []).append(p)
    positives: dict[str, int] = {}
    for members in by_group.values():
        n = len(members)
        positives[labels[members[0]][0]] = positives.get(labels[members[0]][0], 0) + n * (n - 1) // 2
    pairs = [(pr.a.path, pr.b.path) for pr in result.pairs if pr.a.path in labels and pr.b.path in labels]
    keep = [i for i, pr in enumerate(result.pairs) if pr.a.path in labels and pr.b.path in labels]
    truth = np.array([pair_label(a, b, labels) for a, b in pairs], dtype=bool)
    signals = {"engine score (looks + words)": np.array([result.pairs[i].score for i in keep]),
               "looks only (whitened tower cosine)": np.array([result.pairs[i].looks for i in keep]),
               "words only (TF-IDF cosine)": np.array([result.pairs[i].words for i in keep])}
    out: dict = {"files": len(paths), "positive_pairs": sum(positives.values()),
                 "candidate_pairs": len(pairs), "candidate_recall": float(truth.sum()) / max(1, sum(positives.values())),
                 "seconds": round(elapsed, 2), "shipped_threshold": shipped_threshold,
                 "shipped": precision_recall(signals["engine score (looks + words)"], truth,
                                             sum(positives.values()), shipped_threshold),
                 "groups": len(result.groups), "signals": {}}
    for name, scores in signals.items():
        out["signals"][name] = leave_one_source_out(pairs, scores, truth, labels, positives)
    out["signals"]["baseline: pixels 32x32 cosine, every pair"] = _pixel_baseline(paths, labels, positives, workdir)
    out["groups_exact"] = _group_quality(result, labels, by_group)
    return out


def _pixel_baseline(paths: set[str], labels: dict[str, tuple[str, int]], positives: dict[str, int],
                    workdir: Path) -> dict:
    """32x32 letterboxed pixels of each file's page as indexing renders it, cosine over every pair."""
    from bench.bench_similar import pixels32
    from engine.extract import render_page

    order = sorted(paths)
    cache = workdir / "dup-pixels.npy"
    if cache.exists() and np.load(cache).shape[0] == len(order):
        vectors = np.load(cache)
    else:
        vectors = np.concatenate([pixels32([render_page(Path(p), 1, 150, grayscale=True)]) for p in order])
        np.save(cache, vectors)
    sims = vectors @ vectors.T
    iu = np.triu_indices(len(order), k=1)
    pairs = [(order[i], order[j]) for i, j in zip(*iu)]
    truth = np.array([pair_label(a, b, labels) for a, b in pairs], dtype=bool)
    return leave_one_source_out(pairs, sims[iu], truth, labels, positives)


def _group_quality(result, labels: dict[str, tuple[str, int]], by_group: dict[int, list[str]]) -> dict:
    """Groups found exactly (all five files and nothing else), split, or merged with another."""
    exact = sum(1 for g in result.groups
                if {labels[m.path][1] for m in g.pages} == {labels[g.pages[0].path][1]}
                and len(g.pages) == len(by_group[labels[g.pages[0].path][1]]))
    mixed = sum(1 for g in result.groups if len({labels[m.path][1] for m in g.pages if m.path in labels}) > 1)
    return {"groups": len(result.groups), "exact": exact, "mixed": mixed, "drawings": len(by_group)}


def print_duplicates(d: dict) -> None:
    print(f"\nDuplicates: {d['files']} files, {d['positive_pairs']} true pairs, {d['candidate_pairs']} "
          f"candidate pairs (holding {d['candidate_recall']:.3f} of the true ones), {d['seconds']} s")
    rows = [{"signal": name, "precision": r["pooled"]["precision"], "recall": r["pooled"]["recall"],
             "fp": r["pooled"]["fp"], "fn": r["pooled"]["fn"]} for name, r in d["signals"].items()]
    print("Leave-one-source-out thresholds (precision >= 0.95 on the other sets), pooled:")
    print(common.format_table(rows, ["signal", "precision", "recall", "fp", "fn"]))
    s = d["shipped"]
    print(f"Shipped threshold {d['shipped_threshold']}: precision {s['precision']:.3f}, recall {s['recall']:.3f}"
          f" (fp {s['fp']}, fn {s['fn']}); groups: {d['groups_exact']}")
