"""Duplicate groups on pairs made by our own code from the dev sets (bench/bench_similar.py's part 2).

Corpus (written once under WORKDIR/dup-corpus, never in the repository): for every dev-set drawing,
its page 1 as a one-page PDF ("original") and four near-duplicates made from it
  rescan     the 150-dpi render degraded like a scan (engine/synth/degrade.py), PNG; one in three
             is scanned sideways (turned 90 or 270 degrees)
  photo      the render degraded like a phone photo, JPEG
  reexport   the PDF page placed on another paper size, smaller, off-centre (vector, text layer)
  revision   the PDF with a small edit: a word changed, a region erased, a revision note added
The five files of one drawing form one group. The sets also hold real duplicates, found by rule
from their own names (`same_drawing`): a drawing kept twice in two folders (psas-lv3's
lv3.1-airframe/cad/build/fin.PDF and cad/fins/fin.PDF: byte-different exports with the same page
text) and revisions of one part (Ultimaker's B1064-A2P-A and B1064-A2P-B, psas-lv3's
upper_ring_V2 and upper_ring_V3): their groups are one. Files of any other two drawings are not
duplicates, however alike (Ultimaker's spacers B1013 and B1018 share template, words and looks). The corpus is indexed by the engine itself (OCR for the
pictures), then `Engine.duplicates` is asked for every candidate pair with its evidence.

Signals, each with its own threshold chosen leave-one-source-out (for each set: the lowest
threshold with precision >= 0.95 on the pairs within the other four sets, applied to the pairs
touching the left-out set; the five left-out results pooled):
  telling words      the engine's score (engine/search/duplicates.py): the share of the telling
                     words (on 2 to `EngineSettings.duplicate_rare_pages`, 6, drawing pages) of
                     one page found on the other
  telling words beyond chance, or confirmed by geometry   what ships: a pair counts by its
                     words when it scores the threshold and its words are beyond chance (at most
                     10**max_chance pairs of the library expected to share words as rare); a pair
                     of a page OCR read and a page with a text layer that does not, but shares
                     `share` of the telling words, is confirmed when `points` keypoints line up
                     (engine/search/geometry.py). (share, points, threshold) chosen together on the
                     other sets (the most true pairs at precision >= 0.95, the strictest among
                     equals), then the chance bar: the lowest keeping every true pair that rule
                     takes. Beside it the same without the chance bar (the previous version), and
                     two controls: the same rule on every pair (two text layers, two pictures), and
                     a lower word bar for a picture and a text layer without their geometry
  telling words + looks   a logistic regression of that score and the tower cosine, fitted on
                     the other sets' pairs (does looking help?)
  geometry alone     keypoints lining up between each page and its 10 nearest by the tower
  looks              image-tower cosine of the pages (150-dpi renders, a sideways rescan turned
                     upright as OCR would), every pair; and whitened with the library's vectors
  words TF-IDF       cosine of TF-IDF vectors of the pages' text as the engine read it (bench/common)
  pixels 32x32       the baseline: cosine of letterboxed 32x32 pixels, every pair
Beside them, the same pages scored by other word rules (a wider window, rarity as a weight,
copies counted once), and the true pairs by what the engine's words did with them (not a drawing
page, no shared telling word, below the threshold): docs/similar.md.
Precision and recall are over pairs of files; recall counts every true pair of the corpus, also
those the engine never compared (a file it did not take for a drawing, a pair without a shared
telling word). The threshold shipped in EngineSettings is the one chosen on all five sets.

Real library (`real_library`): the library bench_dev.py indexed (the dev sets as they are, few
duplicates; skipped when absent). On the corpus every drawing has four near-copies, so a word two
drawings share by chance is on ten pages or more and never telling; in a real library it is, and
only there can chance matches be seen. Its pairs are judged where the sets' own names judge them
(`RealPairs`: two sets: never duplicates; the same page of two files named alike: one), join the
other sets' corpus pairs when a rule is chosen, and each left-out set's rule is applied to the
judged pairs touching it. Its groups as shipped and without the chance bar are counted by kind.
The bundled sample library (`sample_library`, 31 drawing pages of our generator, six of them a
scan, fax or photo of another) is judged by its qrels.json with the rule chosen on all five sets.
"""

from __future__ import annotations

import hashlib
import math
import re
import time
from collections import Counter
from pathlib import Path
from typing import Callable

import numpy as np

from bench import common
from bench.bench_quality import log

VARIANTS = ("original", "rescan", "photo", "reexport", "revision")
TARGET_PRECISION = 0.95
SHIPPED = "telling words beyond chance, or confirmed by geometry"  # what the engine does


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


REVISION_MARK = re.compile(r"(?:-[a-z]|_v\d+|_redo|_retoleranced)$")


def same_drawing(items: list[tuple[str, Path]]) -> dict[int, int]:
    """Drawing number -> the first number of the same drawing, by two rules over the sets' own
    names: the same file name (any case) with the same words on page 1 (one export kept in two
    folders: psas-lv3's cad/build/fin.PDF and cad/fins/fin.PDF), or names that differ only by a
    revision mark (Ultimaker's B1064-A2P-A and B1064-A2P-B, psas-lv3's upper_ring_V2 and _V3):
    revisions of one part."""
    import pymupdf

    first_copy: dict[tuple[str, str, str], int] = {}
    first_revision: dict[tuple[str, str], int] = {}
    out = {}
    for i, (set_name, src) in enumerate(items):
        with pymupdf.open(src) as doc:
            text = " ".join(doc[0].get_text().split())
        stem = _copy_stem(src)
        part = REVISION_MARK.sub("", stem)
        same = first_copy.setdefault((set_name, stem, text), i) if text else i
        out[i] = first_revision.setdefault((set_name, part), same) if part != stem else same
    return out


SIDEWAYS = (0, 0, 90, 0, 0, 270)  # one rescan in three is turned (clockwise degrees), by drawing number


def build_corpus(items: list[tuple[str, Path]], root: Path) -> dict[str, tuple[str, int, int]]:
    """Write the corpus (files already there are kept); returns path -> (set, group, drawing
    number): the group is the number of the first copy of a drawing the set holds twice or in
    revisions (`same_drawing`)."""
    from engine.extract import render_page
    from engine.synth.degrade import degrade

    labels: dict[str, tuple[str, int, int]] = {}
    canonical = same_drawing(items)
    for i, (set_name, src) in enumerate(items):
        folder = root / set_name / f"{i:03d}-{src.stem[:40]}"
        folder.mkdir(parents=True, exist_ok=True)
        files = {"original": folder / "original.pdf", "rescan": folder / "rescan.png",
                 "photo": folder / "photo.jpg", "reexport": folder / "reexport.pdf",
                 "revision": folder / "revision.pdf"}
        for f in files.values():
            labels[str(f)] = (set_name, canonical[i], i)
        if all(f.exists() for f in files.values()):
            continue
        _original(src, files["original"])
        rng = np.random.default_rng(_seed("dup", i, src.name))
        render = render_page(files["original"], 1, 150, grayscale=True)
        degrade(render, rng, "scan", rotate=SIDEWAYS[i % len(SIDEWAYS)] or None).save(files["rescan"])
        degrade(render, rng, "photo").save(files["photo"], quality=85)
        _reexport(files["original"], files["reexport"], rng)
        _revision(files["original"], files["revision"], rng)
    return labels


# --------------------------------------------------------------------------- measuring
def choose_threshold(scores: np.ndarray, truth: np.ndarray, target: float = TARGET_PRECISION) -> float:
    """The lowest threshold whose precision on these scored pairs (every pair scored at least
    that, ties included) is >= target: the highest recall there; above the highest score when
    none reaches it."""
    order = np.argsort(-scores, kind="stable")
    s, t = scores[order], truth[order].astype(np.float64)
    precision = np.cumsum(t) / np.arange(1, len(t) + 1)
    last_of_tie = np.append(s[1:] != s[:-1], True)  # a threshold takes every pair of equal score
    ok = np.nonzero((precision >= target) & last_of_tie)[0]
    return float(s[ok[-1]]) if len(ok) else (float(s[0]) + 1e-6 if len(s) else 1.0)


class Pairs:
    """Scored pairs of corpus files (indices into `files`), their truth and the sets they touch."""

    def __init__(self, files: list[str], labels: dict[str, tuple[str, int, int]], a: np.ndarray, b: np.ndarray):
        self.files, self.a, self.b = files, a, b
        group = np.array([labels[f][1] for f in files])
        self.set_of = np.array([labels[f][0] for f in files])
        self.truth = group[a] == group[b]
        counts = np.unique(group, return_counts=True)[1]
        self.positives = int(np.sum(counts * (counts - 1) // 2))  # every true pair of the corpus
        first = {g: labels[f][0] for f, g in zip(files, group)}
        self.positives_of = {s: int(sum(c * (c - 1) // 2 for g, c in zip(*np.unique(group, return_counts=True))
                                        if first[g] == s)) for s in sorted(set(self.set_of))}

    def touches(self, name: str) -> np.ndarray:
        return (self.set_of[self.a] == name) | (self.set_of[self.b] == name)


def measure(scores: np.ndarray, threshold: float, mask: np.ndarray, truth: np.ndarray, positives: int) -> dict:
    taken = mask & (scores >= threshold)
    tp, fp = int(np.sum(taken & truth)), int(np.sum(taken & ~truth))
    return {"precision": tp / max(1, tp + fp), "recall": tp / max(1, positives), "tp": tp, "fp": fp,
            "fn": positives - tp}


def leave_one_source_out(pairs: Pairs, scores: np.ndarray, fit=None) -> dict:
    """Per left-out set: a threshold (and, with `fit`, a model: train features -> scores, or
    scores and their threshold) from the pairs within the other sets, applied to the pairs
    touching the left-out set; pooled."""
    pooled = np.zeros(len(scores), dtype=bool)
    out: dict[str, dict] = {}
    for name, positives in pairs.positives_of.items():
        test = pairs.touches(name)
        train = ~test
        s = fit(train) if fit is not None else scores
        if isinstance(s, tuple):  # the model chose its threshold with the scores
            s, threshold = s
        else:
            threshold = choose_threshold(s[train], pairs.truth[train])
        out[name] = {"threshold": threshold, **measure(s, threshold, test, pairs.truth, positives)}
        pooled |= test & (s >= threshold)
    tp, fp = int(np.sum(pooled & pairs.truth)), int(np.sum(pooled & ~pairs.truth))
    out["pooled"] = {"precision": tp / max(1, tp + fp), "recall": tp / max(1, pairs.positives), "tp": tp,
                     "fp": fp, "fn": pairs.positives - tp}
    if fit is None:
        out["pooled"]["threshold_all_sets"] = choose_threshold(scores, pairs.truth)
    return out


def logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, steps: int = 30) -> np.ndarray:
    """Weights (features + bias) of an L2-regularised logistic regression (Newton's method)."""
    x1 = np.hstack([x, np.ones((len(x), 1))])  # (n, f + 1)
    w = np.zeros(x1.shape[1])
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(x1 @ w)))
        hessian = x1.T @ (x1 * (p * (1 - p))[:, None]) + l2 * np.eye(len(w))
        w -= np.linalg.solve(hessian, x1.T @ (p - y) + l2 * w)
    return w


def duplicates_part(items: list[tuple[str, Path]], workdir: Path, pack: Path | None,
                    library: Path | None = None) -> dict:
    from engine.api import Engine
    from engine.config import EngineSettings

    root = workdir / "dup-corpus"
    t0 = time.perf_counter()
    labels = build_corpus(items, root)
    log(f"duplicates: corpus of {len(labels)} files ({time.perf_counter() - t0:.0f} s)")
    with Engine.open(workdir / "dup-library", pack=pack) as engine:
        report = engine.index([root])
        log(f"duplicates: indexed {report.added + report.updated} new files in {report.elapsed_s:.0f} s "
            f"({report.failed} failed)")
        t0 = time.perf_counter()
        result = engine.duplicates(with_pairs=True)
        elapsed = time.perf_counter() - t0
        texts = {f: engine.page_text(f, 1) for f in labels}
        files = sorted(labels)
        pages = drawing_page_words(engine, files)
        a, b, score, *_ = _engine_pairs(result, files)
        thresholds = leave_one_source_out(Pairs(files, labels, a, b), score)
    real, real_summary = real_library(library, pack) if library is not None else (None, {})
    if real is None:
        log("duplicates: no real library (run bench_dev.py first); the chance bar is chosen on the corpus alone")
    out = evaluate(result, files, labels, texts, workdir, pack, EngineSettings().duplicate_threshold, real)
    out["real_library"] = real_summary
    with Engine.open(workdir / "dup-library", pack=pack) as engine:  # as shipped, a fresh engine
        t0 = time.perf_counter()
        as_shipped = engine.duplicates()
        shipped_seconds = time.perf_counter() - t0
    log(f"duplicates: as shipped, {len(as_shipped.groups)} groups in {shipped_seconds:.1f} s")
    grouped = {}  # the groups as the user sees them, each left-out set's threshold and rule
    for name, r in out["signals"][SHIPPED].items():
        if name != "pooled":
            rule = EngineSettings(duplicate_check_share=r["rule"].get("share", 0.0),
                                  duplicate_check_points=r["rule"].get("points", 0),  # none found: words alone
                                  duplicate_max_chance=_bar(r["rule"]))
            with Engine.open(workdir / "dup-library", pack=pack, settings=rule) as engine:
                grouped[name] = engine.duplicates(threshold=r["threshold"])
    out["sample_library"] = sample_library(workdir, pack, out["signals"][SHIPPED]["pooled"]["rule_all_sets"])
    out["word_variants"] = word_variants(*pages, files, labels, EngineSettings())
    out["missed"] = why_missed(result, files, labels, set(pages[0].tolist()), thresholds)
    out["grouped"] = grouped_pairs(grouped, files, labels)
    out["seconds"] = round(elapsed, 2)  # every pair checked (with_pairs)
    out["shipped_seconds"] = round(shipped_seconds, 2)
    return out


# --------------------------------------------------------------------------- other word scores
def drawing_page_words(engine, files: list[str]) -> tuple[np.ndarray, list[frozenset[str]]]:
    """The drawing pages `Engine.duplicates` compares (index into `files`) and their words as it
    reads them (long enough to tell), for scoring the same pages in other ways."""
    from engine.search.duplicates import is_telling

    cat = engine._lib.catalog  # bench only: the facade hands out no page tokens
    index = {f: i for i, f in enumerate(files)}
    visual = cat.visual_pages()
    docs = cat.documents_by_ids({p[1] for p in visual})
    visual = [p for p in visual if p[1] in docs and docs[p[1]].path in index]
    tokens = cat.page_tokens([p[0] for p in visual])
    return (np.array([index[docs[p[1]].path] for p in visual], dtype=int),
            [frozenset(t for t in tokens.get(int(p[0]), []) if is_telling(t)) for p in visual])


def _overlap_pairs(words: list[frozenset[str]], counted: Callable[[str], float],
                   compared: Callable[[str], bool]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs of pages sharing a word `compared` lets pair them, scored by the summed weight
    (`counted`) of the words they share over that of the page with less."""
    holders: dict[str, list[int]] = {}
    for i, ws in enumerate(words):
        for w in ws:
            if compared(w):
                holders.setdefault(w, []).append(i)
    pairs = sorted({(a, b) for h in holders.values() for x, a in enumerate(h) for b in h[x + 1:]})
    total = [sum(counted(w) for w in ws) for ws in words]
    score = [sum(counted(w) for w in words[i] & words[j]) / max(1e-9, min(total[i], total[j])) for i, j in pairs]
    return (np.array([p[0] for p in pairs], dtype=int), np.array([p[1] for p in pairs], dtype=int),
            np.array(score))


def word_variants(page_file: np.ndarray, words: list[frozenset[str]], files: list[str],
                  labels: dict[str, tuple[str, int, int]], settings) -> dict:
    """Other ways to score the engine's pages by their words, each with its threshold chosen
    leave-one-source-out as the engine's: a wider rarity window (a drawing kept in more than six
    copies keeps its telling words), rarity as a weight (idf squared) instead of a window, and
    copies counted once (a word is telling on few *groups* found at the shipped threshold)."""
    from engine.search.duplicates import group_pages, score_pairs

    df = Counter(w for ws in words for w in ws)
    n = len(words)
    variants: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    tokens = [list(ws) for ws in words]
    for k in (10, 20):  # the engine's own score with a wider window
        scored = score_pairs(tokens, None, k)
        variants[f"telling words on 2 to {k} pages"] = (
            np.array([p.i for p in scored], dtype=int), np.array([p.j for p in scored], dtype=int),
            np.array([p.score for p in scored]))
    variants["rarity-weighted words (idf^2, on at most 5% of pages)"] = _overlap_pairs(
        words, lambda w: float(np.log(n / df[w]) ** 2) if 2 <= df[w] <= 0.05 * n else 0.0,
        lambda w: 2 <= df[w] <= 20)
    first = score_pairs(tokens, None, settings.duplicate_rare_pages)
    group = list(range(n))
    for members, _ in group_pages(n, first, settings.duplicate_threshold):
        for m in members:
            group[m] = members[0]
    holders: dict[str, set[int]] = {}
    for i, ws in enumerate(words):
        for w in ws:
            holders.setdefault(w, set()).add(group[i])
    once = {w for w, g in holders.items() if df[w] >= 2 and len(g) <= settings.duplicate_rare_pages}
    variants["copies counted once (groups of the shipped threshold)"] = _overlap_pairs(
        words, lambda w: float(w in once), lambda w: w in once)
    out = {}
    for name, (a, b, score) in variants.items():
        fa, fb = page_file[a], page_file[b]
        out[name] = leave_one_source_out(Pairs(files, labels, np.minimum(fa, fb), np.maximum(fa, fb)), score)
    return out


def why_missed(result, files: list[str], labels: dict[str, tuple[str, int, int]], compared_files: set[int],
               thresholds: dict) -> dict:
    """The true pairs the engine's words miss at the left-out thresholds, by why: a file it does
    not take for a drawing page (never compared), two drawing pages without a shared telling
    word, or a score below the threshold; per set and kind (two files of one drawing, or two
    drawings the set holds as copies or revisions of one)."""
    a, b, score, *_ = _engine_pairs(result, files)
    scored = {(min(x, y), max(x, y)): v for x, y, v in zip(a, b, score)}
    out: dict[str, Counter] = {}
    for x in range(len(files)):
        for y in range(x + 1, len(files)):
            (set_x, group_x, number_x), (_, group_y, number_y) = labels[files[x]], labels[files[y]]
            if group_x != group_y:
                continue
            kind = "one drawing" if number_x == number_y else "copies or revisions"
            if x not in compared_files or y not in compared_files:
                why = "not a drawing page"
            elif (x, y) not in scored:
                why = "no shared telling word"
            elif scored[(x, y)] < thresholds[set_x]["threshold"]:
                why = "below the threshold"
            else:
                why = "found"
            out.setdefault(f"{set_x}, {kind}", Counter())[why] += 1
    return {k: dict(v) for k, v in sorted(out.items())}


def grouped_pairs(grouped: dict, files: list[str], labels: dict[str, tuple[str, int, int]]) -> dict:
    """Precision and recall of "in one group" over pairs of files: for each left-out set, the
    groups made at its left-out threshold, the pairs touching it; pooled."""
    index = {f: i for i, f in enumerate(files)}
    tp = fp = 0
    for name, report in grouped.items():
        for g in report.groups:
            members = [index[p.path] for p in g.pages if p.path in index]
            for x, i in enumerate(members):
                for j in members[x + 1:]:
                    if name in (labels[files[i]][0], labels[files[j]][0]):
                        same = labels[files[i]][1] == labels[files[j]][1]
                        tp, fp = tp + same, fp + (not same)
    positives = Pairs(files, labels, np.zeros(0, int), np.zeros(0, int)).positives
    mixed = sum(len({labels[p.path][1] for p in g.pages if p.path in labels}) > 1
                for report in grouped.values() for g in report.groups)
    return {"precision": tp / max(1, tp + fp), "recall": tp / max(1, positives), "tp": tp, "fp": fp,
            "fn": positives - tp, "groups_mixing_drawings": mixed,
            "groups": sum(len(r.groups) for r in grouped.values())}


def _engine_pairs(result, files: list[str]) -> tuple[np.ndarray, ...]:
    """The engine's pairs of corpus files: (a, b, word score, looks, geometry points, checkable:
    one page read by OCR and one with a text layer, the pairs the engine's geometry may confirm;
    chance: log10 of the library's pairs expected to share such words by chance)."""
    from engine.search.duplicates import is_ocr_page

    index = {f: i for i, f in enumerate(files)}
    kept = [p for p in result.pairs if p.a.path in index and p.b.path in index]
    a = np.array([index[p.a.path] for p in kept])
    b = np.array([index[p.b.path] for p in kept])
    return (a, b, np.array([p.score for p in kept]), np.array([p.looks for p in kept]),
            np.array([p.points for p in kept]),
            np.array([is_ocr_page(p.a.source) != is_ocr_page(p.b.source) for p in kept]),
            np.array([p.chance for p in kept]))


GEOMETRY_SHARES = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4)
GEOMETRY_POINTS = (10, 15, 20, 25, 30, 40, 50, 60, 80, 100, 120, 150, 200, 250)


def _bar(rule: dict) -> float:
    """A rule's chance bar (none: no bar)."""
    bar = rule.get("max_chance")
    return math.inf if bar is None else bar


CHANCE_BARS = (-2.0, -1.0, 0.0, 1.0, 2.0, 3.0, math.inf)  # log10 chance pairs, strictest first


def confirmed_scores(score: np.ndarray, points: np.ndarray, checkable: np.ndarray, share: float,
                     min_points: int, chance: np.ndarray | None = None, max_chance: float = math.inf) -> np.ndarray:
    """The words' scores with the pairs geometry confirms (checkable, share >= `share`, points >=
    `min_points`) above any threshold, and those sharing their words by chance (`chance` above
    `max_chance`) and not confirmed at 0: a threshold t then takes a pair when its score >= t
    beyond chance, or it is confirmed."""
    beyond = np.ones(len(score), dtype=bool) if chance is None else chance <= max_chance
    return np.where(checkable & (score >= share) & (points >= min_points), 2.0, np.where(beyond, score, 0.0))


def choose_geometry(score: np.ndarray, points: np.ndarray, checkable: np.ndarray, truth: np.ndarray,
                    chance: np.ndarray | None = None) -> dict:
    """The (share, points, threshold) with the most true pairs at precision >= 0.95 on these
    pairs, the strictest among equals (the most points, then the highest share). With `chance`,
    then the chance bar: the lowest that keeps every true pair that rule takes (a lower bar that
    also lowers the threshold finds more pairs on the sets it is chosen on, and loses precision
    on the one left out: docs/similar.md)."""
    best: dict = {}
    for min_points in sorted(GEOMETRY_POINTS, reverse=True):
        for share in sorted(GEOMETRY_SHARES, reverse=True):
            s = confirmed_scores(score, points, checkable, share, min_points)
            threshold = choose_threshold(s, truth)
            taken = s >= threshold
            tp, fp = int(np.sum(taken & truth)), int(np.sum(taken & ~truth))
            if tp / max(1, tp + fp) >= TARGET_PRECISION and tp > best.get("tp", -1):
                best = {"share": share, "points": min_points, "threshold": threshold, "tp": tp, "fp": fp}
    if chance is None or not best:
        return best
    for max_chance in CHANCE_BARS:
        taken = confirmed_scores(score, points, checkable, best["share"], best["points"], chance,
                                 max_chance) >= best["threshold"]
        if int(np.sum(taken & truth)) == best["tp"]:
            return {**best, "fp": int(np.sum(taken & ~truth)),
                    "max_chance": None if math.isinf(max_chance) else max_chance}
    return best


def evaluate(result, files: list[str], labels: dict[str, tuple[str, int, int]], texts: dict[str, str],
             workdir: Path, pack: Path | None, shipped: float, real: RealPairs | None = None) -> dict:
    from bench.bench_similar import apply_whitening, whitening
    from engine.config import EngineSettings

    a, b, score, looks, points, checkable, chance = _engine_pairs(result, files)
    engine_pairs = Pairs(files, labels, a, b)
    signals: dict[str, dict] = {}
    signals["telling words (the engine)"] = leave_one_source_out(engine_pairs, score)
    signals[SHIPPED] = geometry_signal(engine_pairs, score, points, checkable, chance, real)
    signals["telling words, or confirmed by geometry (no chance bar)"] = geometry_signal(
        engine_pairs, score, points, checkable, real=real)
    # controls: the same rule on every pair (two text layers, two pictures too), and a lower bar
    # for a picture and a text layer without their geometry (every such pair "lines up")
    signals["control: geometry confirming any pair"] = geometry_signal(engine_pairs, score, points,
                                                                       np.ones(len(score), dtype=bool))
    signals["control: a lower word bar for a picture and a text layer, no geometry"] = geometry_signal(
        engine_pairs, score, np.full(len(score), max(GEOMETRY_POINTS)), checkable)

    def fitted(train: np.ndarray) -> np.ndarray:
        x = np.stack([score, looks], axis=1)
        w = logistic(x[train], engine_pairs.truth[train].astype(np.float64))
        return np.hstack([x, np.ones((len(x), 1))]) @ w
    signals["telling words + looks (logistic)"] = leave_one_source_out(engine_pairs, score, fitted)

    iu = np.triu_indices(len(files), k=1)
    every = Pairs(files, labels, iu[0], iu[1])
    tower, pixels = _pictures(files, labels, workdir, pack)
    signals["looks: tower cosine"] = leave_one_source_out(every, (tower @ tower.T)[iu])
    white = apply_whitening(tower, whitening(tower))
    signals["looks: tower cosine, whitened by the library"] = leave_one_source_out(every, (white @ white.T)[iu])
    tfidf = common.TfidfIndex({f: texts.get(f, "") for f in files})
    signals["words: TF-IDF cosine"] = leave_one_source_out(every, (tfidf.matrix @ tfidf.matrix.T)[iu])
    signals["baseline: pixels 32x32 cosine"] = leave_one_source_out(every, (pixels @ pixels.T)[iu])
    signals["geometry alone, each page's 10 nearest by looks"] = leave_one_source_out(
        every, geometry_alone(files, tower, iu))
    kinds: dict[str, dict] = {}  # each drawing's original with each of its variants: found left out?
    for signal in ("telling words (the engine)", SHIPPED):
        folds = signals[signal]
        taken = np.zeros(len(score), dtype=bool)
        for name in engine_pairs.positives_of:
            rule = folds[name].get("rule")
            s = confirmed_scores(score, points, checkable, rule["share"], rule["points"], chance,
                                 _bar(rule)) if rule else score
            taken |= (engine_pairs.set_of[a] == name) & (s >= folds[name]["threshold"])
        found = {(files[x], files[y]) for x, y in zip(a[taken], b[taken])}
        for kind in VARIANTS[1:]:
            pairs = [(f, str(Path(f).with_name(n))) for f in files if Path(f).name == "original.pdf"
                     for n in [next((Path(g).name for g in files if Path(g).parent == Path(f).parent
                                     and Path(g).stem == kind), "")] if n]
            kinds.setdefault(kind, {"of": len(pairs)})[signal] = sum((x, y) in found or (y, x) in found
                                                                    for x, y in pairs)
    settings = EngineSettings()
    as_shipped = confirmed_scores(score, points, checkable, settings.duplicate_check_share,
                                  settings.duplicate_check_points, chance, settings.duplicate_max_chance)
    return {"files": len(files), "drawing_pages": result.pages, "positive_pairs": every.positives,
            "engine_pairs": len(a), "engine_pairs_true": int(engine_pairs.truth.sum()),
            "groups": len(result.groups), "signals": signals, "original_with": kinds,
            "shipped_threshold": shipped,
            "shipped_check": {"share": settings.duplicate_check_share, "points": settings.duplicate_check_points,
                              "max_chance": settings.duplicate_max_chance},
            "shipped": measure(as_shipped, shipped, np.ones(len(score), bool), engine_pairs.truth, every.positives),
            "groups_found": _group_quality(result, labels)}


def geometry_alone(files: list[str], tower: np.ndarray, iu: tuple[np.ndarray, np.ndarray],
                   neighbours: int = 10) -> np.ndarray:
    """Keypoints lining up (search/geometry.py) for each file's page 1 with its `neighbours`
    nearest by the tower, over every pair `iu` (0: not compared): does geometry alone decide?"""
    from engine.extract import render_page
    from engine.search.geometry import SIDE_PX, matched_points, page_features

    t0 = time.perf_counter()
    features = [page_features(render_page(Path(f), 1, 150, grayscale=True, max_px=SIDE_PX)) for f in files]
    n = len(files)
    sims = tower @ tower.T
    np.fill_diagonal(sims, -np.inf)
    near = {(min(i, int(j)), max(i, int(j))) for i in range(n) for j in np.argsort(-sims[i])[:neighbours]}
    out = np.zeros(len(iu[0]))
    for i, j in near:
        out[i * n - i * (i + 1) // 2 + (j - i - 1)] = matched_points(features[i], features[j])  # iu's order
    log(f"duplicates: geometry of {len(near)} nearest pairs in {time.perf_counter() - t0:.0f} s")
    return out


def geometry_signal(pairs: Pairs, score: np.ndarray, points: np.ndarray, checkable: np.ndarray,
                    chance: np.ndarray | None = None, real: RealPairs | None = None) -> dict:
    """Telling words or geometry confirming, leave-one-source-out: for each left-out set the rule
    (share, points, threshold; with `chance`, the chance bar too) chosen on the other sets' pairs
    — with `real`, the real library's judged pairs among those sets too — and the rule chosen on
    all. With `real`, each left-out set's rule is also applied to the real library's judged pairs
    touching that set."""
    chosen: list[dict] = []
    names = list(pairs.positives_of)

    def rule_scores(rule: dict, sc, pts, chk, ch) -> np.ndarray:
        return confirmed_scores(sc, pts, chk, rule["share"], rule["points"], ch, _bar(rule)) if rule else sc

    def fit(train: np.ndarray) -> np.ndarray:
        name = names[len(chosen)]
        x = [score[train], points[train], checkable[train], pairs.truth[train]]
        ch = chance[train] if chance is not None else None
        if real is not None:
            keep = ~real.touches(name)
            x = [np.concatenate([v, w[keep]]) for v, w in zip(x, (real.score, real.points, real.checkable,
                                                                  real.truth))]
            ch = np.concatenate([ch, real.chance[keep]]) if ch is not None else None
        rule = choose_geometry(*x, chance=ch)
        chosen.append(rule)
        if not rule:
            return score
        return rule_scores(rule, score, points, checkable, chance), rule["threshold"]
    out = leave_one_source_out(pairs, score, fit)
    for name, rule in zip(names, chosen):
        out[name]["rule"] = rule
        if real is not None and rule:
            taken = real.touches(name) & (rule_scores(rule, real.score, real.points, real.checkable, real.chance)
                                          >= out[name]["threshold"])
            out[name]["real"] = real.measure(taken, name)
    if real is not None:
        out["pooled"]["real"] = {k: sum(out[n]["real"][k] for n in names if "real" in out[n])
                                 for k in ("true", "of", "other_sources")}
    out["pooled"]["rule_all_sets"] = choose_geometry(score, points, checkable, pairs.truth, chance=chance)
    return out


class RealPairs:
    """The engine's pairs on a real library (the dev sets as they are: few true duplicates),
    judged where the sets' own names judge them: two pages of different sets are never
    duplicates; the same page of two files of one set named alike (`same_drawing`'s rules: a copy
    in another folder, a revision mark) is one; any other pair is not judged (family mates, a
    board's schematic in two generations: alike, maybe revisions, by no rule)."""

    def __init__(self, result, set_of: Callable[[str], str], pages: list[tuple[str, int]]):
        from engine.search.duplicates import is_ocr_page

        judged = []
        for p in result.pairs:
            a, b = _judged_as(set_of, p.a.path, p.a.page), _judged_as(set_of, p.b.path, p.b.page)
            if a[0] != b[0] or a == b:
                judged.append((p, a == b, a[0], b[0]))
        self.score = np.array([p.score for p, *_ in judged])
        self.points = np.array([p.points for p, *_ in judged])
        self.chance = np.array([p.chance for p, *_ in judged])
        self.checkable = np.array([is_ocr_page(p.a.source) != is_ocr_page(p.b.source) for p, *_ in judged],
                                  dtype=bool)
        self.truth = np.array([t for _, t, *_ in judged], dtype=bool)
        self.set_a = np.array([x for *_, x, _ in judged])
        self.set_b = np.array([y for *_, y in judged])
        keys = Counter(_judged_as(set_of, path, page) for path, page in pages)
        self.positives_of = Counter()
        for (name, *_), n in keys.items():
            self.positives_of[name] += n * (n - 1) // 2
        self.pages, self.pairs = len(pages), len(result.pairs)

    def touches(self, name: str) -> np.ndarray:
        return (self.set_a == name) | (self.set_b == name)

    def measure(self, taken: np.ndarray, name: str) -> dict:
        """True pairs taken (of the set's), and pairs of two sets taken (sure to be false)."""
        return {"true": int(np.sum(taken & self.truth)), "of": self.positives_of.get(name, 0),
                "other_sources": int(np.sum(taken & ~self.truth))}


def _copy_stem(path: str | Path) -> str:
    """A file's name, lower case, without a download's copy mark ("B1059-A2P-A (1)")."""
    return re.sub(r"\s*\(\d+\)$", "", Path(path).stem.lower())


def _name_key(path: str) -> str:
    """A file's name as `same_drawing` compares names: no download copy mark, no revision mark."""
    return REVISION_MARK.sub("", _copy_stem(path))


def _judged_as(set_of: Callable[[str], str], path: str, page: int) -> tuple[str, str, int]:
    """(set, name as `same_drawing` compares it, page): two pages with the same are one drawing."""
    return set_of(path), _name_key(path), page


def _group_pairs(library: Path, pack: Path | None, kind: Callable[[str, int, str, int], object]) -> dict:
    """The library's groups as shipped and without the chance bar: how many, of how many pages,
    and every two pages of a group counted by `kind(path, page, path, page)`."""
    from engine.api import Engine
    from engine.config import EngineSettings

    out = {}
    for name, settings in (("as shipped", EngineSettings()),
                           ("no chance bar", EngineSettings(duplicate_max_chance=math.inf))):
        with Engine.open(library, pack=pack, settings=settings) as engine:
            report = engine.duplicates()
        kinds = Counter(kind(p.path, p.page, q.path, q.page) for g in report.groups
                        for x, p in enumerate(g.pages) for q in g.pages[x + 1:])
        out[name] = {"groups": len(report.groups), "pages": sum(len(g.pages) for g in report.groups),
                     "kinds": kinds}
    return out


def real_library(library: Path, pack: Path | None) -> tuple[RealPairs | None, dict]:
    """The dev library bench_dev.py indexed (the five sets as they are), its pairs judged, and its
    groups as shipped and without the chance bar: the pairs in them, by judgement."""
    from engine.api import Engine

    if not (library / "catalog.sqlite").exists():
        return None, {}
    corpus = library.parent / "corpus"

    def set_of(path: str) -> str:
        return Path(path).relative_to(corpus).parts[0]

    with Engine.open(library, pack=pack) as engine:
        cat = engine._lib.catalog  # bench only: the facade hands out no page list
        visual = cat.visual_pages()
        docs = cat.documents_by_ids({p[1] for p in visual})
        pages = [(docs[p[1]].path, p[2]) for p in visual if p[1] in docs]
        real = RealPairs(engine.duplicates(with_pairs=True), set_of, pages)
    def kind(x: str, px: int, y: str, py: int) -> str:
        a, b = _judged_as(set_of, x, px), _judged_as(set_of, y, py)
        return "named alike" if a == b else "two sets" if a[0] != b[0] else "one set, not judged"
    groups = {name: {"groups": g["groups"], "pages": g["pages"], "pairs": dict(g["kinds"])}
              for name, g in _group_pairs(library, pack, kind).items()}
    return real, {"pages": real.pages, "pairs": real.pairs, "judged": len(real.truth),
                  "true_pairs": sum(real.positives_of.values()), "groups": groups}


def sample_library(workdir: Path, pack: Path | None, rule: dict) -> dict:
    """The bundled sample library (our generator's drawings on a few sheet styles, with scans, a fax
    and photos; never chosen on), indexed under the work folder: its drawing pages' pairs judged
    by its qrels.json (a picture and the drawing it was made from are duplicates; anything else,
    a family mate too, is not), taken by `rule` (the one chosen on all five sets); and its groups
    as shipped and without the chance bar, by pairs true and false."""
    import json

    from engine.api import Engine
    from engine.config import SAMPLE_LIBRARY

    qrels = json.loads((SAMPLE_LIBRARY / "qrels.json").read_text(encoding="utf-8"))["drawings"]

    def same(x: str, y: str) -> bool:
        rx, ry = (Path(p).relative_to(SAMPLE_LIBRARY).as_posix() for p in (x, y))
        return 2 in (qrels.get(rx, {}).get("similar", {}).get(ry), qrels.get(ry, {}).get("similar", {}).get(rx))

    positives = sum(1 for x, v in qrels.items() for y, g in v["similar"].items() if g == 2 and x < y)
    library = workdir / "sample-library"
    with Engine.open(library, pack=pack) as engine:
        engine.index([SAMPLE_LIBRARY])
        result = engine.duplicates(with_pairs=True)
    paths = sorted({p.a.path for p in result.pairs} | {p.b.path for p in result.pairs})
    a, b, score, _, points, checkable, chance = _engine_pairs(result, paths)
    truth = np.array([same(paths[x], paths[y]) for x, y in zip(a, b)], dtype=bool)
    taken = confirmed_scores(score, points, checkable, rule["share"], rule["points"], chance,
                             _bar(rule)) >= rule["threshold"]
    out = {"pages": result.pages, "true_pairs": positives,
           "rule": {"true": int(np.sum(taken & truth)), "false": int(np.sum(taken & ~truth))}}
    for name, g in _group_pairs(library, pack, lambda x, _, y, __: same(x, y)).items():
        out[name] = {"groups": g["groups"], "true": g["kinds"][True], "false": g["kinds"][False]}
    return out


def _pictures(files: list[str], labels: dict[str, tuple[str, int, int]], workdir: Path,
              pack: Path | None) -> tuple[np.ndarray, np.ndarray]:
    """Tower vectors and 32x32 pixels of each file's page 1 as indexing renders it (150 dpi; a
    sideways rescan turned upright, as OCR turns it), cached in the work folder."""
    from bench.bench_similar import pixels32
    from engine.config import DEFAULT_PACK_DIR
    from engine.encoders.pack import ModelPack
    from engine.extract import render_page
    from engine.orientation import Orientation, turn

    cache = workdir / "dup-pictures.npz"
    if cache.exists():
        got = np.load(cache)
        if got["tower"].shape[0] == len(files):
            return got["tower"], got["pixels"]
    encoder = ModelPack.load(pack or DEFAULT_PACK_DIR).image_encoder(threads=2)
    tower, pixels = [], []
    for f in files:
        image = render_page(Path(f), 1, 150, grayscale=True)
        sideways = SIDEWAYS[labels[f][2] % len(SIDEWAYS)] if Path(f).stem == "rescan" else 0
        if sideways:
            image = turn(image, Orientation((360 - sideways) % 360))
        tower.append(encoder.encode([image])[0])
        pixels.append(pixels32([image])[0])
    np.savez(cache, tower=np.stack(tower), pixels=np.stack(pixels))
    return np.stack(tower), np.stack(pixels)


def _group_quality(result, labels: dict[str, tuple[str, int, int]]) -> dict:
    """Groups found: exactly one drawing's files, or mixing several drawings."""
    mixed = sum(1 for g in result.groups if len({labels[p.path][1] for p in g.pages if p.path in labels}) > 1)
    return {"groups": len(result.groups), "mixed": mixed, "one_drawing": len(result.groups) - mixed,
            "drawings": len({g for _, g, _ in labels.values()})}


def print_duplicates(d: dict) -> None:
    print(f"\nDuplicates: {d['files']} files ({d['drawing_pages']} drawing pages for the engine), "
          f"{d['positive_pairs']} true pairs; the engine compared {d['engine_pairs']} pairs "
          f"({d['engine_pairs_true']} true) in {d['seconds']} s, every pair's geometry; as shipped "
          f"{d.get('shipped_seconds', '?')} s")
    rows = [{"signal": name, "precision": r["pooled"]["precision"], "recall": r["pooled"]["recall"],
             "fp": r["pooled"]["fp"], "fn": r["pooled"]["fn"]} for name, r in d["signals"].items()]
    print("Thresholds chosen leave-one-source-out (precision >= 0.95 on the other sets), pooled:")
    print(common.format_table(rows, ["signal", "precision", "recall", "fp", "fn"]))
    s = d["shipped"]
    g = d["grouped"]
    print(f"Pairs put in one group (left-out thresholds): precision {g['precision']:.3f}, recall "
          f"{g['recall']:.3f}; {g['groups_mixing_drawings']} of {g['groups']} groups (five runs) mix drawings")
    print(f"Shipped threshold {d['shipped_threshold']} on all sets: precision {s['precision']:.3f}, "
          f"recall {s['recall']:.3f}; chosen on all five sets: "
          f"{d['signals']['telling words (the engine)']['pooled']['threshold_all_sets']:.3f}")
    if d.get("word_variants"):
        print("Other word scores, same pages, thresholds chosen the same way (pooled):")
        print(common.format_table([{"signal": name, **{k: r["pooled"][k] for k in ("precision", "recall", "fp", "fn")}}
                                   for name, r in d["word_variants"].items()],
                                  ["signal", "precision", "recall", "fp", "fn"]))
    if d.get("missed"):
        print("True pairs by what the engine's words did with them (left-out thresholds):")
        for key, counts in d["missed"].items():
            print(f"  {key:45s} " + ", ".join(f"{why} {n}" for why, n in counts.items()))
    print("original + variant pairs found (left-out thresholds), words / words or geometry: " + ", ".join(
        f"{k} {v['telling words (the engine)']}/{v[SHIPPED]} of {v['of']}"
        for k, v in d["original_with"].items()) + f"; groups {d['groups_found']}")
    geometry = d["signals"][SHIPPED]
    print("Rule per left-out set (share, points, threshold, chance bar chosen on the other sets): " + "; ".join(
        f"{name} {r['rule'].get('share')}/{r['rule'].get('points')}/{r['threshold']:.2f}/{r['rule'].get('max_chance')}"
        for name, r in geometry.items() if name != "pooled") +
        f"; on all sets {geometry['pooled']['rule_all_sets']}")
    real = d.get("real_library")
    if real:
        print(f"Real library (the dev sets as they are): {real['pages']} drawing pages, {real['pairs']} pairs, "
              f"{real['judged']} judged by name or set, {real['true_pairs']} true pairs by name")
        for name in (SHIPPED, "telling words, or confirmed by geometry (no chance bar)"):
            r = d["signals"][name]["pooled"].get("real")
            if r:
                print(f"  {name}, left-out rules: {r['true']} of {r['of']} true pairs, "
                      f"{r['other_sources']} pairs of two sets")
        for name, g in real["groups"].items():
            print(f"  groups {name}: {g['groups']} groups of {g['pages']} pages; pairs in them: {g['pairs']}")
    sample = d.get("sample_library")
    if sample:
        print(f"Sample library ({sample['pages']} drawing pages, {sample['true_pairs']} pictures of a drawing; never "
              f"chosen on), the rule chosen on all sets: {sample['rule']['true']} true, {sample['rule']['false']} "
              "false pairs; groups " + "; ".join(f"{k}: {v['groups']} ({v['true']} true, {v['false']} false pairs)"
                                                 for k, v in sample.items() if isinstance(v, dict) and "groups" in v))
