"""Drawing -> related documents on every development set of ../shared/data, in one mixed library.

One library holds all five sets (bench/dev_sets.py), so every query competes with every source's
documents. Query modes:
  image110, image150   page 1 rendered to a grayscale PNG at 110 / 150 dpi, no text layer (OCR)
  photo150             that 150 dpi render degraded like a phone photo (engine/synth/degrade.py)
  pdf                  the PDF itself (text layer; OCR where it has none)
Rankers, same run: lexical only, dense only, hybrid (the engine's fusion), and TF-IDF over the
query text Zumen itself read (the plain pipeline: OCR, then TF-IDF over the documents).
Per source and macro-averaged over sources: R@1/5/10, MRR, nDCG@10, mAP of the related-documents
list, drawing/document classification accuracy, and the features of every hybrid hit (written to
the JSON, for bench/fit_ranking.py's leave-one-source-out fitting).

    python bench/bench_dev.py                          # all sets, all modes -> bench/out/dev.json
    python bench/bench_dev.py --modes image110 --sets openeai-arm,ja-pcb-mix
The work folder (default bench/out/dev-work) keeps the corpus copy, the library, the renders and
the query extractions, so a second run re-ranks in minutes.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from dataclasses import asdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import common, dev_sets  # noqa: E402
from bench.bench_quality import ExtractionCache, log  # noqa: E402
from bench.similar_baselines import LibraryLooks  # noqa: E402
from bench.similar_baselines import thumbnail as similar_thumbnail  # noqa: E402
from engine.evaluate.metrics import evaluate_run  # noqa: E402

# query mode -> (render dpi, degradation); None: the PDF itself
MODES: dict[str, tuple[int, str] | None] = {"image110": (110, "clean"), "image150": (150, "clean"),
                                            "photo150": (150, "photo"), "pdf": None}
RANKERS: dict[str, set[str] | None] = {"lexical": {"lexical"}, "dense": {"semantic"}, "hybrid": None}
KS = (1, 5, 10)
METRICS = ["recall@1", "recall@5", "recall@10", "mrr", "ndcg@10", "map"]
HEAD = ["R@1", "R@5", "R@10", "MRR", "nDCG@10", "mAP"]
TABLE_FORMATS = ("csv", "xlsx", "pdf")  # documents judged per page / row: TF-IDF units are pages


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=dev_sets.DATA)
    p.add_argument("--sets", default=",".join(dev_sets.SETS))
    p.add_argument("--modes", default=",".join(MODES))
    p.add_argument("--depth", type=int, default=20, help="hits per ranked list (metrics on these)")
    p.add_argument("--feature-depth", type=int, default=60,
                   help="hybrid hits kept with their evidence features, for fitting")
    p.add_argument("--limit", type=int, default=0, help="first N queries of each set (0 = all)")
    p.add_argument("--workdir", type=Path, default=common.OUT_DIR / "dev-work")
    p.add_argument("--pack", type=Path, default=None)
    p.add_argument("--rankers", default=",".join(RANKERS),
                   help="engine rankers to run (TF-IDF always runs); e.g. 'dense' to check a new text tower fast")
    p.add_argument("--out", type=Path, default=common.OUT_DIR / "dev.json")
    args = p.parse_args(argv)
    args.sets = [s for s in args.sets.split(",") if s]
    args.modes = [m for m in args.modes.split(",") if m]
    for m in args.modes:
        if m not in MODES:
            p.error(f"unknown mode {m!r}")
    args.rankers = [r for r in args.rankers.split(",") if r]
    for r in args.rankers:
        if r not in RANKERS:
            p.error(f"unknown ranker {r!r}")
    return args


def open_library(args, corpus: Path):
    from engine.api import Engine

    engine = Engine.open(args.workdir / "library", **({"pack": args.pack} if args.pack else {}))
    engine.add_folder(corpus)
    last = [0.0]

    def progress(p) -> None:
        if time.monotonic() - last[0] > 10:
            last[0] = time.monotonic()
            log(f"  index {p.stage}: {p.done}/{p.total or '?'} {p.unit} {p.message}")

    t0 = time.perf_counter()
    report = engine.index(progress=progress)
    log(f"indexed in {time.perf_counter() - t0:.0f} s: {report}")
    return engine


def classification(engine, sets, corpus: Path) -> list[dict]:
    """Drawing/document accuracy per set: drawings.txt are drawings, documents.txt documents."""
    cat = engine._lib.catalog  # bench only: the facade has no per-document kind look-up
    from engine.indexing.scanner import canonical

    rows = []
    for s in sets:
        truth = {**{d: "drawing" for d in s.drawings}, **{d: "document" for d in s.documents}}
        ok, wrong = 0, []
        for rel, kind in truth.items():
            doc = cat.document_by_path(canonical(corpus / s.name / rel))
            got = doc.kind if doc else "missing"
            if got == kind:
                ok += 1
            else:
                wrong.append(f"{rel}: {kind} -> {got}")
        rows.append({"set": s.name, "files": len(truth), "accuracy": ok / max(1, len(truth)),
                     "wrong": wrong})
    return rows


def query_file(args, s, rel: str, mode: str) -> Path:
    """The query as a file: the PDF, its page 1 rendered without text layer, or that render made
    to look like a phone photo (perspective, uneven light, shadow, blur, JPEG; engine/synth)."""
    src = s.data_dir / rel
    if MODES[mode] is None:
        return src
    dpi, kind = MODES[mode]
    png = common.render_png(src, args.workdir / "renders" / f"image{dpi}" / s.name / (rel + ".png"), dpi=dpi)
    if kind == "clean":
        return png
    out = args.workdir / "renders" / mode / s.name / (rel + ".jpg")
    if not out.exists():
        from PIL import Image

        from engine.synth.degrade import degrade

        out.parent.mkdir(parents=True, exist_ok=True)
        seed = int(hashlib.sha256(f"{s.name}/{rel}".encode()).hexdigest()[:8], 16)
        degrade(Image.open(png), seed, kind=kind).convert("RGB").save(out, quality=85)
    return out


def run_mode(args, engine, sets, corpus: Path, mode: str, families: dict, looks=None) -> dict:
    """{set: {query: {"text", "source", ranker: [hit ids], "features": [...], "similar": [...],
    "similar_baselines": {method: [drawing ids]}}}}: "similar" holds the hybrid's similar
    drawings with their features (queries with a family: `families[set]`, dev_sets.families), the
    baselines rank the same library drawings by looks alone (image modes, `looks`)."""
    from engine.errors import EngineError

    out: dict = {}
    with ExtractionCache(args.workdir / "extract" / mode):
        for s in sets:
            queries = s.queries[: args.limit] if args.limit else s.queries
            res_set: dict = {}
            t0 = time.perf_counter()
            fams = families[s.name]
            for rel in queries:
                rec: dict = {}
                relevant = s.qrels[rel]
                own = s.doc_id(rel)
                for ranker in args.rankers:
                    evidence = RANKERS[ranker]
                    hybrid = ranker == "hybrid"
                    try:  # the hybrid's weak hits too: their features are what fit_ranking learns from
                        res = engine.search_file(query_file(args, s, rel, mode), evidence=evidence,
                                                 limit=args.feature_depth if hybrid else args.depth,
                                                 show_weak=hybrid)
                    except EngineError as err:
                        rec["error"] = str(err)
                        rec[ranker] = []
                        continue
                    ids = [dev_sets.judged_hit_id(corpus, h, relevant) for h in res.related.hits]
                    rec[ranker] = [] if res.related.no_match else list(dict.fromkeys(ids))[:args.depth]
                    rec.setdefault("text", res.query_text)
                    rec.setdefault("source", res.text_source)
                    if hybrid:
                        rec["features"] = [{"id": i, **asdict(h.scores)} for i, h in zip(ids, res.related.hits)]
                        rec["no_match"] = res.related.no_match
                        if rel in fams:  # similar drawings, the query's own drawing left out
                            rec["similar"] = [{"id": i, **asdict(h.scores)} for h in res.similar.hits
                                              if (i := dev_sets.hit_id(corpus, h.path, h.page, {})) != own]
                if looks is not None and rel in fams:
                    rec["similar_baselines"] = similar_baselines(args, engine, looks, corpus, s, rel, mode, own)
                res_set[rel] = rec
            log(f"  {mode} {s.name}: {len(queries)} queries in {time.perf_counter() - t0:.0f} s")
            out[s.name] = res_set
    return out


def similar_baselines(args, engine, looks, corpus: Path, s, rel: str, mode: str, own: str) -> dict[str, list[str]]:
    """bench/similar_baselines.py's rankings for one image query, as judged drawing ids."""
    from PIL import Image

    from engine.errors import EngineError
    from engine.extract import render_page

    path = query_file(args, s, rel, mode)
    try:
        image = similar_thumbnail(render_page(path, 1, grayscale=True, max_px=2048))
    except EngineError:  # a render past the engine's pixel limit (a 307 x 220 inch CAD sheet)
        image = similar_thumbnail(Image.open(path))
    vector = engine._lib.image_encoder.encode([image])[0]
    ranked = looks.rankings(image, vector, args.depth + 1)
    return {method: [i for i in (dev_sets.hit_id(corpus, p, 1, {}) for p in paths) if i != own][:args.depth]
            for method, paths in ranked.items()}


def tfidf_runs(engine, sets, corpus: Path, measured: dict, depth: int) -> None:
    """TF-IDF over every set's documents with the query text Zumen read (same run, same text)."""
    from engine.indexing.scanner import canonical

    cat = engine._lib.catalog
    units: dict[tuple[str, int], str] = {}  # (path, page or 0) -> text
    for s in sets:
        for rel in s.documents:
            path = canonical(corpus / s.name / rel)
            doc = cat.document_by_path(path)
            if doc is None:
                continue
            pages = [cat.page(doc.id, n) for n in range(1, doc.page_count + 1)]
            texts = [(n, p[1].text) for n, p in enumerate(pages, start=1) if p]
            if doc.format in TABLE_FORMATS:
                units.update({(path, n): f"{doc.title} {t}" for n, t in texts})
            else:
                units[(path, 0)] = " ".join([doc.title] + [t for _, t in texts])
    # identical units (a CSV row and the same XLSX row) are one result naming both, as in Zumen
    same: dict[str, list[tuple[str, int]]] = {}
    for key, text in units.items():
        same.setdefault(" ".join(text.split()), []).append(key)
    groups = list(same.values())
    index = common.TfidfIndex({str(i): units[g[0]] for i, g in enumerate(groups)})
    by_set = {s.name: s for s in sets}
    for set_name, queries in measured.items():
        for rel, rec in queries.items():
            relevant = by_set[set_name].qrels[rel]
            ids = []
            for i, _ in index.search(rec.get("text") or "", depth * 4):
                named = [dev_sets.hit_id(corpus, p, n, relevant) for p, n in groups[int(i)]]
                ids.append(next((x for x in named if x in relevant), named[0]))
            rec["tfidf"] = list(dict.fromkeys(ids))[:depth]


def metric_rows(sets, measured: dict, mode: str, rankers: list[str]) -> list[dict]:
    rows = []
    for ranker in rankers:
        per_set = []
        for s in sets:
            if s.name not in measured:
                continue
            qrels = {q: s.qrels[q] for q in measured[s.name]}
            run = {q: rec.get(ranker, []) for q, rec in measured[s.name].items()}
            m = evaluate_run(run, qrels, KS)
            per_set.append(m)
            rows.append({"mode": mode, "set": s.name, "ranker": ranker, "n": m["queries"],
                         **{k: m[k] for k in METRICS}})
        if per_set:
            rows.append({"mode": mode, "set": "MACRO", "ranker": ranker,
                         "n": sum(m["queries"] for m in per_set),
                         **{k: sum(m[k] for m in per_set) / len(per_set) for k in METRICS}})
    return rows


def dev_library(args, names: tuple[str, ...] = dev_sets.SETS):
    """(sets, corpus folder, opened engine): the development sets found under `args.data`, copied
    into the work folder's corpus and indexed into its library; None when there are none."""
    sets = dev_sets.available_sets(args.data, tuple(names))
    if not sets:
        print(f"no development sets under {args.data}", file=sys.stderr)
        return None
    corpus = args.workdir / "corpus"
    dev_sets.build_corpus(sets, corpus)
    return sets, corpus, open_library(args, corpus)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    opened = dev_library(args, tuple(args.sets))
    if opened is None:
        return 2
    sets, corpus, engine = opened
    try:
        kinds = classification(engine, sets, corpus)
        results: dict = {}
        rows: list[dict] = []
        from engine.types import to_jsonable

        status = to_jsonable(engine.status())
        looks = None
        families = {s.name: dev_sets.families(s) for s in sets}
        for mode in args.modes:
            if looks is None and MODES[mode] is not None:
                looks = LibraryLooks(engine, args.workdir / "renders" / "library-thumbs")
            measured = run_mode(args, engine, sets, corpus, mode, families,
                                looks if MODES[mode] is not None else None)
            tfidf_runs(engine, sets, corpus, measured, args.depth)
            results[mode] = measured
            rows += metric_rows(sets, measured, mode, [*args.rankers, "tfidf"])
            common.write_json(args.out, {  # after every mode: a long run that stops keeps its part
                "benchmark": "dev", "machine": common.machine_info(), "sets": [s.name for s in sets],
                "qrels": {s.name: s.qrels for s in sets}, "library": status,
                "families": {name: {q: sorted(v) for q, v in f.items()} for name, f in families.items()},
                "classification": kinds, "rows": rows, "results": results})
    finally:
        engine.close()
    print("\nDrawing -> related documents (one mixed library of every set)")
    print(common.format_table(rows, ["mode", "set", "ranker", *METRICS, "n"],
                              ["mode", "set", "ranker", *HEAD, "n"]))
    print("\nDrawing / document classification")
    print(common.format_table(kinds, ["set", "files", "accuracy"]))
    for k in kinds:
        for w in k["wrong"][:8]:
            print(f"  {k['set']}: {w}")
    print(f"\nJSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
