"""Similar drawings by looks: query -> itself under degradations, turns and mirroring;
duplicate groups; image-tower throughput. One command, baselines in the same run.

1. **Query -> itself** (image only). Library: page 1 of every drawing of the dev sets
   (../shared/data, 256 drawings), rendered at 150 dpi as indexing renders them. Queries: the same
   page rendered at 110 dpi, then degraded by engine/synth/degrade.py: clean, scan, phone photo,
   the scan turned 90/180/270 degrees, the scan mirrored. R@1 (and R@5) of the query's own
   drawing among all 256, for
     pixels 32x32            letterboxed 32x32 grayscale pixels, centred, cosine (the baseline)
     tower                   the image tower on the page as it comes (the engine before this work)
     tower, TTA 4 / TTA 8    the best cosine over the query turned 4 ways / turned and mirrored
     tower, OCR upright      the query turned by the rotation OCR reads it at (read_upright)
     tower, OCR orientation  + the mirror check, and all 8 orientations when OCR cannot tell
                             (engine.orientation)
     ... or as it comes      the better of that and the page as it comes (hedges a wrong OCR turn)
     tower whitened ...      cosines after whitening with the library's own vectors (not used
                             by search: what removing the template's share would give)
   OCR is run once per query and cached in the work folder.
   **Through the whole search** (`--parts search`): the same queries, saved as PNG files, asked
   of the development benchmark's library (bench/bench_dev.py's work folder: every file of the
   five sets indexed, documents too) with `Engine.search_file`, as the app asks: R@1 / R@5 of the
   query's own drawing in its *similar drawings* list, for the hybrid (words, meaning and looks)
   and, in the same run, words only and looks only. The query reaches its drawing by what OCR
   reads (the twin) as much as by looks; this is the figure issue #13's self-match target means
   for a user. Run bench_dev.py first (it builds the library).
2. **Duplicates**: bench/duplicates_bench.py: precision and recall of `zumen duplicates` on
   near-duplicates made from the dev drawings (rescans, photos, re-exports, revisions), each signal
   and the 32x32-pixel baseline with thresholds chosen leave-one-source-out.
   **The tower alone** (`--parts towers`, with `--compare-pack DIR` for other packs' towers): the
   same queries turned upright by the turn and mirror they were given (the orientation OCR would
   find when right), so each image tower is judged by itself, raw and whitened by the library;
   no OCR, minutes.
3. **Speed**: image tower pages/s including preprocessing (150-dpi renders, 2 threads), and the
   cost per query of the orientation methods.

    nice python bench/bench_similar.py                      # -> bench/out/similar.json
    nice python bench/bench_similar.py --parts self,speed --limit 40
    nice python bench/bench_similar.py --parts search --limit 8   # 8 drawings a set, ~15 min
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Sequence

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from bench import common, dev_sets  # noqa: E402
from bench.bench_quality import log  # noqa: E402

CONDITIONS: dict[str, tuple[str, int, bool]] = {  # name -> (degradation, clockwise turn, mirrored)
    "clean": ("clean", 0, False), "scan": ("scan", 0, False), "photo": ("photo", 0, False),
    "scan turned 90": ("scan", 90, False), "scan turned 180": ("scan", 180, False),
    "scan turned 270": ("scan", 270, False), "scan mirrored": ("scan", 0, True)}
METHODS = ("pixels 32x32", "pixels 32x32, OCR orientation", "tower", "tower, TTA 4", "tower, TTA 8",
           "tower, OCR upright", "tower, OCR orientation", "tower, OCR orientation or as it comes",
           "tower whitened by the library, OCR orientation")
LIBRARY_DPI, QUERY_DPI = 150, 110


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=dev_sets.DATA)
    p.add_argument("--parts", default="self,duplicates,speed")
    p.add_argument("--limit", type=int, default=0, help="first N drawings of each set (0 = all)")
    p.add_argument("--workdir", type=Path, default=common.OUT_DIR / "similar-work")
    p.add_argument("--pack", type=Path, default=None)
    p.add_argument("--compare-pack", type=Path, action="append", default=[],
                   help="another pack whose image tower the towers part judges too (repeatable)")
    p.add_argument("--conditions", default=",".join(CONDITIONS),
                   help="query conditions of the search part, comma list (default: all)")
    p.add_argument("--dev-workdir", type=Path, default=common.OUT_DIR / "dev-work",
                   help="bench_dev.py's work folder: its library and corpus (the search part)")
    p.add_argument("--out", type=Path, default=common.OUT_DIR / "similar.json")
    args = p.parse_args(argv)
    unknown = [c for c in args.conditions.split(",") if c and c not in CONDITIONS]
    if unknown:
        p.error(f"unknown conditions {unknown}; known: {', '.join(CONDITIONS)}")
    return args


# --------------------------------------------------------------------------- drawings and renders
def drawings(data: Path, limit: int = 0) -> list[tuple[str, Path]]:
    """(set name, PDF path) of every drawing of the dev sets, in set order."""
    out = []
    for s in dev_sets.available_sets(data):
        rels = s.drawings[:limit] if limit else s.drawings
        out += [(s.name, s.data_dir / rel) for rel in rels]
    return out


def _key(path: Path) -> str:
    return hashlib.sha1(str(path).encode()).hexdigest()[:16]


def render(path: Path, dpi: int, workdir: Path) -> Image.Image:
    """Page 1 as indexing renders it (engine.extract.render_page, grayscale), cached as PNG."""
    from engine.extract import render_page

    out = workdir / "renders" / f"{_key(path)}-{dpi}.png"
    if out.exists():
        return Image.open(out).convert("L")
    image = render_page(path, 1, dpi, grayscale=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    image.save(out)
    return image


def _seed(condition: str, path: Path) -> int:
    return int(hashlib.sha1(f"{condition}|{path}".encode()).hexdigest()[:8], 16)


def make_query(clean: Image.Image, condition: str, seed: int) -> Image.Image:
    from engine.synth.degrade import degrade

    kind, rotate, mirrored = CONDITIONS[condition]
    image = degrade(clean, np.random.default_rng(seed), kind, rotate=rotate or None)  # type: ignore[arg-type]
    return image.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if mirrored else image


def pixels32(images) -> np.ndarray:
    """Baseline: letterboxed 32x32 grayscale pixels, centred, L2-normalised; (n, 1024)."""
    from engine.encoders.image import preprocess_images

    x = preprocess_images(images, {"size": [32, 32], "channels": 1, "resize": "letterbox",
                                   "pad_value": 1.0, "mean": [0.5], "std": [0.5]}).reshape(len(images), -1)
    x = x - x.mean(axis=1, keepdims=True)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-9)


def whitening(vectors: np.ndarray, shrink: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """(mean (d,), matrix (d, d)) that centre rows on the mean of `vectors` and scale each of
    their principal directions to unit variance (eigenvalues floored at `shrink` x their mean):
    "subtract what every page of the library shares"."""
    mean = vectors.mean(axis=0).astype(np.float64)
    x = vectors.astype(np.float64) - mean  # (n, d)
    values, axes = np.linalg.eigh(x.T @ x / max(1, len(x)))
    return mean, axes / np.sqrt(np.maximum(values, shrink * max(float(values.mean()), 1e-12)))


def apply_whitening(vectors: np.ndarray, transform: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Rows whitened by `transform`, L2-normalised again."""
    out = (vectors.astype(np.float64) - transform[0]) @ transform[1]  # (n, d)
    return (out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)).astype(np.float32)


# --------------------------------------------------------------------------- OCR, cached
class OcrCache:
    """What OCR read from each query (words with boxes, rotation), on disk: OCR costs seconds a
    page, the orientation decision (engine.orientation) is made again each run."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.data: dict[str, dict] = json.loads(path.read_text()) if path.exists() else {}
        self.ocr = None
        self._new = 0

    def orientation(self, key: str, image: Image.Image) -> dict:
        from engine.extract.ocr import get_ocr_engine, read_upright
        from engine.orientation import page_orientation
        from engine.types import Box, Word

        if self.ocr is None:
            self.ocr = get_ocr_engine()
        if key not in self.data:
            t0 = time.perf_counter()
            words, rotation = read_upright(self.ocr, image)
            self.data[key] = {"rotation": rotation, "ocr_s": round(time.perf_counter() - t0, 3),
                              "words": [[w.text, w.box.x0, w.box.y0, w.box.x1, w.box.y1, w.conf]
                                        for w in words]}
            self._new += 1
            if self._new % 20 == 0:
                self.save()
        got = self.data[key]
        words = [Word(t, Box(x0, y0, x1, y1), c) for t, x0, y0, x1, y1, c in got["words"]]
        t0 = time.perf_counter()
        o = page_orientation(self.ocr, image, words, got["rotation"])
        return {"rotation": o.rotation, "mirrored": o.mirrored, "known": o.known,
                "ocr_rotation": got["rotation"], "check_s": time.perf_counter() - t0}

    def save(self) -> None:
        common.write_json(self.path, self.data)


# --------------------------------------------------------------------------- 1. query -> itself
def best_over(sims: np.ndarray, choose: np.ndarray | None = None) -> np.ndarray:
    """(q, v, n) similarities of v query variants -> (q, n): the variant `choose[q]` (-1 = the
    best of all variants)."""
    if choose is None:
        return sims.max(axis=1)
    picked = sims[np.arange(len(sims)), np.maximum(choose, 0)]
    return np.where((choose < 0)[:, None], sims.max(axis=1), picked)


def recall(sims: np.ndarray, k: int) -> float:
    """Share of queries i whose own library item i is among the k most similar."""
    own = sims[np.arange(len(sims)), np.arange(len(sims))]
    rank = (sims > own[:, None]).sum(axis=1)  # ties count for the query
    return float(np.mean(rank < k))


def self_retrieval(items: list[tuple[str, Path]], encoder, workdir: Path) -> dict:
    from engine.orientation import ORIENTATIONS, turn_array

    index = {(o.rotation, o.mirrored): i for i, o in enumerate(ORIENTATIONS)}
    library = [render(p, LIBRARY_DPI, workdir) for _, p in items]
    lib_tower, lib_pixels = encoder.encode(library), pixels32(library)
    white = whitening(lib_tower)
    lib_white = apply_whitening(lib_tower, white)
    ocr = OcrCache(workdir / "ocr-orientation.json")
    out: dict[str, dict] = {}
    costs = {"tta8_ms": [], "plain_ms": [], "check_s": [], "checked": 0, "mirrored_found": 0,
             "unknown": 0, "queries": 0}
    for condition in CONDITIONS:
        log(f"self retrieval: {condition}")
        tower, pixels, choose, upright = [], [], [], []
        for _, path in items:
            clean = render(path, QUERY_DPI, workdir)
            query = make_query(clean, condition, _seed(condition, path))
            t0 = time.perf_counter()
            tower.append(encoder.encode_turned(query, ORIENTATIONS))  # (8, d)
            t1 = time.perf_counter()
            encoder.encode([query])
            costs["tta8_ms"].append((t1 - t0) * 1000)
            costs["plain_ms"].append((time.perf_counter() - t1) * 1000)
            pix = pixels32([query]).reshape(1, 32, 32)
            pixels.append(np.stack([turn_array(pix, o).reshape(-1) for o in ORIENTATIONS]))
            o = ocr.orientation(f"{condition}|{_key(path)}", query)
            choose.append(index[(o["rotation"], o["mirrored"])] if o["known"] else -1)
            upright.append(index[(o["ocr_rotation"], False)])
            costs["queries"] += 1
            costs["check_s"].append(o["check_s"])
            costs["checked"] += o["check_s"] > 0.001
            costs["mirrored_found"] += o["mirrored"]
            costs["unknown"] += not o["known"]
        ocr.save()
        t_sims = np.einsum("qvd,nd->qvn", np.stack(tower), lib_tower)  # (q, 8, n)
        p_sims = np.einsum("qvd,nd->qvn", np.stack(pixels), lib_pixels)
        q_tower = np.stack(tower)  # (q, 8, d)
        w_sims = np.einsum("qvd,nd->qvn", apply_whitening(q_tower.reshape(-1, q_tower.shape[-1]), white)
                           .reshape(q_tower.shape), lib_white)
        choose_a, upright_a = np.array(choose), np.array(upright)
        ranked = {"pixels 32x32": p_sims[:, 0], "pixels 32x32, OCR orientation": best_over(p_sims, choose_a),
                  "tower": t_sims[:, 0], "tower, TTA 4": best_over(t_sims[:, :4]),
                  "tower, TTA 8": best_over(t_sims), "tower, OCR upright": best_over(t_sims, upright_a),
                  "tower, OCR orientation": best_over(t_sims, choose_a),
                  "tower, OCR orientation or as it comes": np.maximum(t_sims[:, 0], best_over(t_sims, choose_a)),
                  "tower whitened by the library, OCR orientation": best_over(w_sims, choose_a)}
        out[condition] = {m: {"recall@1": recall(s, 1), "recall@5": recall(s, 5)} for m, s in ranked.items()}
        out[condition]["ocr"] = {"rotation_right": float(np.mean(
            [(ORIENTATIONS[u].rotation + CONDITIONS[condition][1]) % 360 == 0 for u in upright_a])),
            "mirror_found": float(np.mean([c >= 0 and ORIENTATIONS[c].mirrored for c in choose_a])),
            "unknown": float(np.mean(choose_a < 0))}
    out["_costs"] = {"queries": costs["queries"],
                     "tower_one_view_ms_p50": float(np.median(costs["plain_ms"])),
                     "tower_8_views_ms_p50": float(np.median(costs["tta8_ms"])),
                     "mirror_check_run_share": costs["checked"] / max(1, costs["queries"]),
                     "mirror_check_s_when_run_p50": float(np.median([c for c in costs["check_s"] if c > 0.001]
                                                                    or [0.0])),
                     "orientation_unknown_share": costs["unknown"] / max(1, costs["queries"])}
    return out


def upright(query: Image.Image, condition: str) -> Image.Image:
    """A query of `condition` turned back upright: its mirroring undone, then its turn."""
    from engine.orientation import Orientation, turn

    _, rotation, mirrored = CONDITIONS[condition]
    query = query.transpose(Image.Transpose.FLIP_LEFT_RIGHT) if mirrored else query
    return turn(query, Orientation((360 - rotation) % 360))


def towers(items: list[tuple[str, Path]], packs: Sequence[Path], workdir: Path) -> dict:
    """Query -> itself by each pack's image tower alone, the query upright: R@1 / R@5 raw and
    whitened by the library's vectors, per condition."""
    from engine.encoders.pack import ModelPack

    library = [render(p, LIBRARY_DPI, workdir) for _, p in items]
    queries = {c: [upright(make_query(render(p, QUERY_DPI, workdir), c, _seed(c, p)), c) for _, p in items]
               for c in CONDITIONS}
    out: dict[str, dict] = {}
    for pack_dir in packs:
        pack = ModelPack.load(pack_dir)
        encoder = pack.image_encoder(threads=2)
        lib = encoder.encode(library)  # (n, d)
        white = whitening(lib)
        lib_white = apply_whitening(lib, white)
        rows: dict[str, dict] = {}
        for condition, images in queries.items():
            q = encoder.encode(images)  # (n, d)
            sims = {"raw": q @ lib.T, "whitened": apply_whitening(q, white) @ lib_white.T}
            rows[condition] = {k: {"recall@1": recall(v, 1), "recall@5": recall(v, 5)} for k, v in sims.items()}
        out[f"{pack.pack_id} ({pack_dir})"] = rows
        log(f"towers: {pack.pack_id} done")
    return out


def print_towers(result: dict) -> None:
    print("\nQuery -> itself by the image tower alone, query upright, R@1 raw / whitened")
    rows = [{"tower": name, **{c: f"{v['raw']['recall@1']:.3f} / {v['whitened']['recall@1']:.3f}"
                               for c, v in per.items()}} for name, per in result.items()]
    print(common.format_table(rows, ["tower", *CONDITIONS]))


def print_self(result: dict) -> None:
    conditions = [c for c in result if not c.startswith("_")]
    rows = [{"method": m, **{c: result[c][m]["recall@1"] for c in conditions}} for m in METHODS]
    print("\nQuery -> itself, R@1 among all library drawings (image only)")
    print(common.format_table(rows, ["method", *conditions]))
    print("OCR: rotation right / mirror found / orientation unknown: " + "; ".join(
        f"{c} {result[c]['ocr']['rotation_right']:.2f}/{result[c]['ocr']['mirror_found']:.2f}/"
        f"{result[c]['ocr']['unknown']:.2f}" for c in conditions))
    print("geometry check, thresholds chosen on the other sets: " + json.dumps(result.get("_verify", {})))
    print("costs: " + json.dumps(result["_costs"]))


SEARCH_RANKERS = {"hybrid": None, "words only": {"lexical"}, "looks only": {"visual"}}
# the hybrid list before its geometry check (search/geometry.py), and with the check's two
# thresholds chosen on the other sets (leave one source out): derived from the hybrid's hits
VERIFY_RANKERS = ("hybrid, not verified", "hybrid, verified (thresholds left out)")
VERIFY_GRID_POINTS = (8, 12, 16, 20, 25, 30, 40, 50, 60, 80)
VERIFY_GRID_RATIO = (1.0, 1.1, 1.2, 1.35, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0)


def search_self(items: list[tuple[str, Path]], workdir: Path, dev_workdir: Path, data: Path,
                conditions: Sequence[str] = tuple(CONDITIONS), pack: Path | None = None) -> dict:
    """Query -> its own drawing through `Engine.search_file` on the dev benchmark's library: per
    condition and ranker, R@1 / R@5 of the drawing itself in the similar-drawings list (macro
    over the sets and pooled), and the query's OCR and search time."""
    from dataclasses import replace

    from bench import dev_sets
    from engine.api import Engine, _drawable
    from engine.errors import EngineError

    library, corpus = dev_workdir / "library", dev_workdir / "corpus"
    if not (library / "catalog.sqlite").exists():
        raise SystemExit(f"no library under {dev_workdir}: run bench/bench_dev.py first")
    sets = {s.name: s for s in dev_sets.available_sets(data)}
    folder = workdir / "search-queries"
    folder.mkdir(parents=True, exist_ok=True)
    ranks: dict[str, dict[str, dict[str, list[int | None]]]] = {}  # condition -> ranker -> set -> ranks
    seconds: list[float] = []
    # set -> (condition, hybrid ids, pool ids, pool points, how many checked first, own, looks ids)
    checked: dict[str, list[tuple]] = {}
    packed = {"pack": pack} if pack else {}
    with Engine.open(library, **packed) as engine, Engine.open(library, **packed) as plain:
        shipped = engine.settings
        top = shipped.verify_top
        # the hybrid's lists as they stand before the check: the same search, unchecked, on the
        # same reading of each query
        plain._lib.settings = replace(shipped, verify_top=0)
        plain._query_cache = engine._query_cache
        for condition in conditions:
            log(f"search -> itself: {condition}")
            by_ranker = ranks.setdefault(condition, {r: {} for r in SEARCH_RANKERS})
            for set_name, path in items:
                own = sets[set_name].doc_id(path.relative_to(sets[set_name].data_dir).as_posix())
                query = folder / f"{_key(path)}-{condition.replace(' ', '-')}.png"
                if not query.exists():
                    make_query(render(path, QUERY_DPI, workdir), condition, _seed(condition, path)).save(query)
                for ranker, evidence in SEARCH_RANKERS.items():
                    t0 = time.perf_counter()
                    try:
                        found = engine.search_file(query, limit=10, evidence=evidence)
                        hits, related = found.similar.hits, found.related.hits
                    except EngineError as err:
                        log(f"  {query.name}: {err}")
                        hits = related = ()
                    if ranker == "hybrid":
                        seconds.append(time.perf_counter() - t0)  # the first asking reads the page
                    ids = [dev_sets.hit_id(corpus, h.path, h.page, {}) for h in hits]
                    by_ranker[ranker].setdefault(set_name, []).append(ids.index(own) if own in ids else None)
                    if ranker == "hybrid":  # what the check saw: the lists before it, the points it found
                        before = plain.search_file(query, limit=10, evidence=evidence)
                        found_points = {dev_sets.hit_id(corpus, h.path, h.page, {}): h.scores.matched_points
                                        for h in (*related, *hits)}
                        listed = _with_points(before.similar.hits, corpus, found_points)
                        documents = _with_points([h for h in before.related.hits if _drawable(h)], corpus,
                                                 found_points)
                        turned = _other_looks(engine, query, corpus, top)
                    elif ranker == "looks only":  # the hybrid's, the looks' and the documents' first are checked
                        looks = unverified(hits, ids)
                        checked.setdefault(set_name, []).append(
                            (condition, *check_pool(listed, looks, top, documents, turned), own, looks[0]))
    fits = verify_left_out(checked, ranks, shipped)
    out: dict = {"_verify": fits, "_checked": checked}
    for condition, by_ranker in ranks.items():
        out[condition] = {}
        for ranker, by_set in by_ranker.items():
            per_set = {name: {"recall@1": float(np.mean([r == 0 for r in rs])),
                              "recall@5": float(np.mean([r is not None and r < 5 for r in rs])), "n": len(rs)}
                       for name, rs in by_set.items()}
            pooled = [r for rs in by_set.values() for r in rs]
            out[condition][ranker] = {
                "macro": {k: float(np.mean([v[k] for v in per_set.values()])) for k in ("recall@1", "recall@5")},
                "pooled": {"recall@1": float(np.mean([r == 0 for r in pooled])),
                           "recall@5": float(np.mean([r is not None and r < 5 for r in pooled]))},
                "sets": per_set, "ranks": by_set}
    out["_costs"] = {"queries": len(seconds), "search_file_s_p50": float(np.median(seconds)) if seconds else 0.0}
    return out


def unverified(hits, ids: list) -> tuple[list, list[int]]:
    """A list's hit ids in their order before the geometry check (by fused score: the check only
    moves one hit to the top) and each hit's matched points in that order (0 past the checked)."""
    order = sorted(range(len(hits)), key=lambda i: -hits[i].scores.fused)
    return [ids[i] for i in order], [hits[i].scores.matched_points for i in order]


def _other_looks(engine, query: Path, corpus: Path, top: int) -> tuple[list, list[int]]:
    """The first drawings by looks in the query's other orientations, which the engine checks when
    nothing else stands out (Engine._looks_of), each with the points it lines up with the query
    (ids, points); empty when the query's orientation was not known."""
    from engine.search.geometry import same_drawing_points

    read = engine._query_cache.get(engine._query_key(query))
    if read is None or read.other_vectors is None:
        return [], []
    ids, points = [], []
    for vectors in read.other_vectors:  # the other turns, then the mirror image's: the first `top` of each
        for h in engine._looks_of(vectors, set(read.same_docs), top)[:top]:
            page = engine._page_features(h)
            ids.append(dev_sets.hit_id(corpus, h.path, h.page, {}))
            points.append(same_drawing_points(read.features, page) if page is not None else 0)
    return ids, points


def _with_points(hits, corpus: Path, points: dict) -> tuple[list, list[int]]:
    """Hits as judged ids, each with the matched points the check found for it (0: not checked)."""
    ids = [dev_sets.hit_id(corpus, h.path, h.page, {}) for h in hits]
    return ids, [points.get(i, 0) for i in ids]


def check_pool(listed: tuple[list, list[int]], looks: tuple[list, list[int]], top: int,
               documents: tuple[list, list[int]] = ([], []), turned: tuple[list, list[int]] = ([], [])
               ) -> tuple[list, list, list[int], int]:
    """What the engine checks (search/geometry.verify_similar): the hybrid list's first `top`, then
    the looks list's and the drawable documents' first `top` not among them, and when none of
    those stands out, `turned` (the first `top` by looks in the query's other turns and in its
    mirror image's, `_other_looks`) -> (hybrid ids, pool ids, pool points, how many of the pool
    are checked first)."""
    ids, points = listed
    pool, pool_points = list(ids[:top]), list(points[:top])

    def add(extra: tuple[list, list[int]], n: int) -> None:
        for i, p in zip(extra[0][:n], extra[1][:n]):
            if i not in pool:
                pool.append(i)
                pool_points.append(p)
    add(looks, top)
    add(documents, top)
    first_stage = len(pool)
    add(turned, len(turned[0]))  # already the first `top` of each of its lists (_other_looks)
    return ids, pool, pool_points, first_stage


def _pick(pool: list, points: list[int], first_stage: int, min_points: int, ratio: float,
          leave_out=None) -> int | None:
    """Which pool entry the check names (as the engine does: the first stage, then all), with
    `leave_out` (an id) taken out of the pool; None when none stands out."""
    from engine.search.geometry import verified_first

    keep = [k for k, i in enumerate(pool) if i != leave_out]
    first_keep = [k for k in keep if k < first_stage]
    for stage in (first_keep, keep):
        chosen = verified_first([points[k] for k in stage], min_points=min_points, ratio=ratio)
        if chosen is not None:
            return stage[chosen]
    return None


def _rank_verified(ids: list, pool: list, points: list[int], first_stage: int, own, min_points: int,
                   ratio: float) -> int | None:
    """The rank of `own` once the check (these thresholds) has moved its pick to the top."""
    order = list(ids)
    first = _pick(pool, points, first_stage, min_points, ratio)
    if first is not None:
        if pool[first] in order:
            order.remove(pool[first])
        order = [pool[first], *order][:max(len(ids), 1)]
    return order.index(own) if own in order else None


def verify_left_out(checked: dict, ranks: dict, settings) -> dict:
    """Adds the derived rankers to `ranks` (condition -> ranker -> set -> ranks): the hybrid before
    the check, and with (min points, ratio) chosen on the other sets: the highest R@1 over all
    their queries, the strictest thresholds among equals. Returns the choices per left-out set, and
    how often the shipped check names a hit the same drawing when the list lacks the query's own."""
    fits: dict = {}
    for condition in ranks:
        for name in VERIFY_RANKERS:
            ranks[condition][name] = {}

    def choose(queries: list) -> tuple[int, int, float]:
        return max((sum(_rank_verified(ids, pool, pts, stage, own, m, r) == 0
                        for _, ids, pool, pts, stage, own, _ in queries), m, r)
                   for m in VERIFY_GRID_POINTS for r in VERIFY_GRID_RATIO)

    every = [q for qs in checked.values() for q in qs]
    if every:  # what to ship: chosen on every set
        best = choose(every)
        fits["_all_sets"] = {"min_points": best[1], "ratio": best[2], "r1": best[0] / len(every)}
    for left_out in checked:
        best = choose([q for name, qs in checked.items() if name != left_out for q in qs])
        fits[left_out] = {"min_points": best[1], "ratio": best[2]}
        for condition, ids, pool, pts, stage, own, _ in checked[left_out]:
            ranks[condition][VERIFY_RANKERS[0]].setdefault(left_out, []).append(ids.index(own) if own in ids else None)
            ranks[condition][VERIFY_RANKERS[1]].setdefault(left_out, []).append(
                _rank_verified(ids, pool, pts, stage, own, best[1], best[2]))
    picks = [_pick(pool, pts, stage, settings.verify_min_points, settings.verify_ratio, leave_out=own)
             for qs in checked.values() for _, ids, pool, pts, stage, own, _ in qs]
    fits["_without_own"] = {"queries": len(picks),
                            "named_same_drawing": sum(p is not None for p in picks) / max(1, len(picks))}
    return fits


def print_search(result: dict) -> None:
    conditions = [c for c in result if not c.startswith("_")]
    rows = [{"ranker": r, **{c: f"{result[c][r]['macro']['recall@1']:.3f} / {result[c][r]['pooled']['recall@1']:.3f}"
                             for c in conditions}} for r in (*SEARCH_RANKERS, *VERIFY_RANKERS)
            if r in result[conditions[0]]]
    print("\nQuery -> itself through the whole search (similar drawings), R@1 macro over sets / pooled")
    print(common.format_table(rows, ["ranker", *conditions]))
    sets = sorted(next(iter(result[conditions[0]].values()))["sets"])
    rows = [{"set": name, **{c: f"{result[c]['hybrid']['sets'][name]['recall@1']:.3f}" for c in conditions}}
            for name in sets]
    print("hybrid R@1 per set")
    print(common.format_table(rows, ["set", *conditions]))
    print("geometry check, thresholds chosen on the other sets: " + json.dumps(result.get("_verify", {})))
    print("costs: " + json.dumps(result["_costs"]))


# --------------------------------------------------------------------------- 3. speed
def speed(items: list[tuple[str, Path]], pack, workdir: Path) -> dict:
    """Image tower pages/s including preprocessing: 32 real drawings at 150 dpi, batch 16."""
    pages = [render(p, LIBRARY_DPI, workdir) for _, p in items[:32]]
    out = {"pages": len(pages), "megapixels_mean": round(float(np.mean([a.width * a.height for a in pages])) / 1e6, 2)}
    for threads in (1, 2):
        enc = pack.image_encoder(threads=threads)
        enc.encode(pages[:4])
        best = 0.0
        for _ in range(2):  # the faster of two rounds (a shared machine)
            t = time.perf_counter()
            enc.encode(pages, batch_size=16)
            best = max(best, len(pages) / (time.perf_counter() - t))
        out[f"pages_per_s_{threads}_threads_incl_preprocessing"] = round(best, 1)
    return out


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    from engine.config import DEFAULT_PACK_DIR
    from engine.encoders.pack import ModelPack

    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    items = drawings(args.data, args.limit)
    if not items:
        print(f"no development sets under {args.data}", file=sys.stderr)
        return 1
    pack = ModelPack.load(args.pack or DEFAULT_PACK_DIR)
    encoder = pack.image_encoder(threads=2)
    if encoder is None:
        print("the model pack has no image tower", file=sys.stderr)
        return 1
    result: dict = {"machine": common.machine_info(), "pack": pack.pack_id, "drawings": len(items),
                    "sets": sorted({s for s, _ in items})}
    if "self" in parts:
        result["self"] = self_retrieval(items, encoder, args.workdir)
        print_self(result["self"])
    if "towers" in parts:
        result["towers"] = towers(items, [args.pack or DEFAULT_PACK_DIR, *args.compare_pack], args.workdir)
        print_towers(result["towers"])
    if "search" in parts:
        result["search"] = search_self(items, args.workdir, args.dev_workdir, args.data,
                                       [c for c in args.conditions.split(",") if c], args.pack)
        print_search(result["search"])
    if "duplicates" in parts:
        from bench.duplicates_bench import duplicates_part, print_duplicates

        result["duplicates"] = duplicates_part(items, args.workdir, args.pack, args.dev_workdir / "library")
        print_duplicates(result["duplicates"])
    if "speed" in parts:
        result["speed"] = speed(items, pack, args.workdir)
        print("\nImage tower throughput: " + json.dumps(result["speed"]))
    common.write_json(args.out, result)
    print(f"\nwritten {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
