"""Retrieval quality on the Ultimaker Original set (../shared/data/ultimaker-original).

Corpus: every BOM line (both BOM CSVs) as its own small text document, plus every drawing PDF.
Queries: each drawing of pairs.csv, in two modes:
  image  (headline) page 1 rendered to a 150 dpi grayscale PNG with no text layer, as a scan or photo
  pdf    (easy)     the PDF itself, text layer included
Relevant "related documents": the BOM line document(s) with the drawing's part number (grade 2).
Relevant "similar drawings": the drawing itself (grade 2) and other drawings of the same part (grade 1).
Rankers, in one run: lexical only, dense only, hybrid (the engine's fusion), and a visual-only ranker
when the model pack has an image tower; plus the plain baseline: TF-IDF over the BOM documents with
the query's extracted text (the `query_text` the engine returns: text layer or OCR).

    python bench/bench_quality.py --limit 40          # quick
    python bench/bench_quality.py                     # all 137 queries -> bench/out/quality.json
"""

from __future__ import annotations

import argparse
import inspect
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import common  # noqa: E402
from engine.evaluate.metrics import (  # noqa: E402
    PRIMARY_METRIC, evaluate_run, write_qrels, write_run,
)

# ranker name -> the facade's `evidence` argument (None = fused hybrid)
RANKERS: dict[str, set[str] | None] = {
    "lexical": {"lexical"},
    "dense": {"semantic"},
    "hybrid": None,
}
VISUAL_RANKER = ("visual", {"visual"})
MODES = ("image", "pdf")
KS = (1, 5, 10)
COLUMNS = ["mode", "ranker", "recall@1", "recall@5", "recall@10", "mrr", "ndcg@10", "map", "queries"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=common.DEFAULT_DATA, help="the ultimaker-original folder")
    p.add_argument("--limit", type=int, default=0, help="use the first N pairs as queries (0 = all)")
    p.add_argument("--modes", default=",".join(MODES), help="comma list of: image, pdf")
    p.add_argument("--rankers", default=",".join([*RANKERS, VISUAL_RANKER[0]]),
                   help="comma list of: lexical, dense, hybrid, visual (visual is skipped when the model "
                        "pack has no image tower)")
    p.add_argument("--dpi", type=int, default=150, help="render resolution of image-mode queries")
    p.add_argument("--depth", type=int, default=20,
                   help="hits asked per query (ranking depth; MRR and mAP are computed on these)")
    p.add_argument("--workdir", type=Path, default=None,
                   help="keep corpus, library, renders and run files here (reused on the next run); "
                        "default: a temp dir removed at the end")
    p.add_argument("--no-cache", action="store_true",
                   help="extract (OCR) the query file again for every ranker instead of once per query")
    p.add_argument("--pack", type=Path, default=None, help="model pack folder (default: the engine's)")
    p.add_argument("--out", type=Path, default=common.OUT_DIR / "quality.json")
    args = p.parse_args(argv)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    args.rankers = [r.strip() for r in args.rankers.split(",") if r.strip()]
    for m in args.modes:
        if m not in MODES:
            p.error(f"unknown mode {m!r}")
    for r in args.rankers:
        if r not in RANKERS and r != VISUAL_RANKER[0]:
            p.error(f"unknown ranker {r!r}")
    return args


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def supports_evidence(engine) -> bool:
    try:
        return "evidence" in inspect.signature(engine.search_file).parameters
    except (TypeError, ValueError):
        return False


def open_library(args: argparse.Namespace, work: Path, corpus: common.Corpus):
    from engine.api import Engine

    kwargs = {"pack": args.pack} if args.pack else {}
    engine = Engine.open(work / "library", **kwargs)
    if str(corpus.root.resolve()) not in {str(Path(f).resolve()) for f in engine.folders()}:
        engine.add_folder(corpus.root)
    last = [0.0]

    def progress(p) -> None:  # at most one line every 5 s
        now = time.monotonic()
        if now - last[0] > 5 or (p.total and p.done == p.total):
            last[0] = now
            log(f"  index {p.stage}: {p.done}/{p.total or '?'} {p.unit} {p.message}")

    t0 = time.perf_counter()
    report = engine.index(progress=progress)
    info = {"elapsed_s": time.perf_counter() - t0, "report": report}
    return engine, info


def hit_ids(corpus: common.Corpus, results) -> list[str]:
    out = []
    for h in results.hits:
        doc = corpus.doc_id(h.path)
        out.append(doc if doc is not None else common.safe_id(f"outside:{h.path}"))
    return out


class ExtractionCache:
    """Memoise `engine.extract.extract_document` for query files while the queries run.

    Every ranker queries the same file, and OCR of a drawing takes ~1 s: extracting it once per
    query (and keeping the result on disk under the work dir) makes the three rankers cost one OCR.
    The time of each real extraction is recorded, so latency is reported as extraction + search.
    Installed only after indexing, so the library itself is built by the untouched pipeline.
    """

    def __init__(self, folder: Path, enabled: bool = True) -> None:
        self.folder = folder
        self.enabled = enabled
        self.memory: dict[tuple, object] = {}
        self.seconds: list[float] = []
        self._orig = None

    def __enter__(self) -> "ExtractionCache":
        import engine.extract as extract

        self._orig = extract.extract_document
        if self.enabled:
            extract.extract_document = self._cached  # search_file imports it at call time
        return self

    def __exit__(self, *exc: object) -> None:
        import engine.extract as extract

        extract.extract_document = self._orig

    def _cached(self, path, *args, **kwargs):
        import hashlib
        import pickle

        p = Path(path).resolve()
        st = p.stat()
        key = (str(p), st.st_size, st.st_mtime_ns)
        if key in self.memory:
            return self.memory[key]
        file = self.folder / (hashlib.sha1(repr(key).encode()).hexdigest() + ".pkl")
        if file.exists():  # extracted by an earlier run with this work dir: reuse its timing too
            with open(file, "rb") as f:
                doc, seconds = pickle.load(f)
        else:
            t0 = time.perf_counter()
            doc = self._orig(path, *args, **kwargs)
            seconds = time.perf_counter() - t0
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(file, "wb") as f:
                pickle.dump((doc, seconds), f)
        self.seconds.append(seconds)
        self.memory[key] = doc
        return doc


def run_queries(args, engine, corpus, pairs, work: Path, rankers: dict) -> dict:
    """mode -> {"runs": {ranker: {"related": run, "similar": run}}, "latency": {...}, "query_text": {...}}."""
    with ExtractionCache(work / "query-extract", enabled=not args.no_cache) as cache:
        return _run_queries(args, engine, corpus, pairs, work, rankers, cache)


def _run_queries(args, engine, corpus, pairs, work: Path, rankers: dict, cache: ExtractionCache) -> dict:
    from engine.errors import EngineError

    evidence_ok = supports_evidence(engine)
    out: dict = {}
    for mode in args.modes:
        runs = {r: {"related": {}, "similar": {}} for r in rankers}
        latency: dict[str, list[float]] = {r: [] for r in rankers}
        texts: dict[str, dict] = {}
        errors: list[dict] = []
        cache.seconds = []
        t_mode = time.perf_counter()
        for i, pair in enumerate(pairs, start=1):
            src = args.data / pair.drawing
            if mode == "image":
                query_path = common.render_png(src, work / "renders" / f"{pair.query_id}.png", dpi=args.dpi)
            else:
                query_path = src
            if not args.no_cache:  # extract (OCR) once, untimed here: timed by the cache itself
                try:
                    engine.search_file(query_path, limit=1, **({"evidence": {"lexical"}} if evidence_ok else {}))
                except EngineError:
                    pass
            for ranker, evidence in rankers.items():
                kwargs = {"limit": args.depth}
                if evidence_ok:
                    kwargs["evidence"] = evidence
                t0 = time.perf_counter()
                try:
                    res = engine.search_file(query_path, **kwargs)
                except EngineError as err:
                    errors.append({"query": pair.query_id, "ranker": ranker, "error": str(err)})
                    runs[ranker]["related"][pair.query_id] = []
                    runs[ranker]["similar"][pair.query_id] = []
                    continue
                latency[ranker].append(time.perf_counter() - t0)
                runs[ranker]["related"][pair.query_id] = hit_ids(corpus, res.related)
                runs[ranker]["similar"][pair.query_id] = hit_ids(corpus, res.similar)
                if pair.query_id not in texts:
                    texts[pair.query_id] = {"text": res.query_text, "source": res.text_source,
                                            "identifiers": list(res.identifiers)}
            if i % 10 == 0 or i == len(pairs):
                rate = i / (time.perf_counter() - t_mode)
                log(f"  {mode}: {i}/{len(pairs)} queries ({rate:.2f} queries/s, {len(rankers)} rankers each)")
        out[mode] = {"runs": runs, "latency": {r: common.percentiles(v) for r, v in latency.items()},
                     "extraction": common.percentiles(cache.seconds),
                     "query_text": texts, "errors": errors}
    return out


def tfidf_run(corpus: common.Corpus, texts: dict[str, dict], depth: int) -> dict[str, list[str]]:
    index = common.TfidfIndex(corpus.texts)
    return {qid: [d for d, _ in index.search(t["text"] or "", depth)] for qid, t in texts.items()}


def summarise(args, corpus, pairs, measured: dict) -> tuple[dict, list[dict], list[dict], list[dict]]:
    """Metrics per mode and ranker; table rows for related, similar and 'the drawing itself'."""
    rel_q = common.related_qrels(pairs, corpus.bom)
    sim_by_mode = {"image": common.similar_qrels(pairs),
                   # the engine leaves out library files identical to the query file, so in pdf
                   # mode only the other drawings of the same part can be found
                   "pdf": common.similar_qrels(pairs, include_self=False)}
    self_q = {p.query_id: {common.Corpus.drawing_id(p.drawing): 1} for p in pairs}
    results: dict = {}
    rows: list[dict] = []
    sim_rows: list[dict] = []
    self_rows: list[dict] = []
    for mode, m in measured.items():
        res_mode: dict = {}
        for ranker, run in m["runs"].items():
            related = evaluate_run(run["related"], rel_q, KS, per_query=True)
            similar = evaluate_run(run["similar"], sim_by_mode[mode], KS)
            res_mode[ranker] = {"related": related, "similar": similar, "latency": m["latency"][ranker]}
            if mode == "image":  # is the drawing itself among the similar drawings?
                itself = evaluate_run(run["similar"], self_q, KS)
                res_mode[ranker]["similar_itself"] = itself
                self_rows.append({"mode": mode, "ranker": ranker, **itself})
            rows.append({"mode": mode, "ranker": ranker, **related})
            sim_rows.append({"mode": mode, "ranker": ranker, **similar})
        base_run = tfidf_run(corpus, m["query_text"], args.depth)
        base = evaluate_run(base_run, rel_q, KS, per_query=True)
        res_mode["tfidf-baseline"] = {"related": base}
        rows.append({"mode": mode, "ranker": "tfidf-baseline", **base})
        m["runs"]["tfidf-baseline"] = {"related": base_run}
        sources: dict[str, int] = {}
        for t in m["query_text"].values():
            sources[t["source"]] = sources.get(t["source"], 0) + 1
        res_mode["query_text_sources"] = sources
        res_mode["query_extraction"] = m["extraction"]
        res_mode["errors"] = m["errors"]
        results[mode] = res_mode
    return results, rows, sim_rows, self_rows


def save_runs(runs_dir: Path, pairs, corpus, measured: dict) -> Path:
    """TREC qrels and run files (for trec_eval or a later re-scoring) and the query texts."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    write_qrels(runs_dir / "related.qrels", common.related_qrels(pairs, corpus.bom))
    write_qrels(runs_dir / "similar-image.qrels", common.similar_qrels(pairs))
    write_qrels(runs_dir / "similar-pdf.qrels", common.similar_qrels(pairs, include_self=False))
    for mode, m in measured.items():
        for ranker, run in m["runs"].items():
            for kind, r in run.items():
                write_run(runs_dir / f"{mode}-{ranker}-{kind}.run", r, tag=f"{mode}-{ranker}")
        (runs_dir / f"{mode}-query-text.json").write_text(
            json.dumps(m["query_text"], ensure_ascii=False, indent=1), encoding="utf-8")
    return runs_dir


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not (args.data / "pairs.csv").is_file():
        print(f"no pairs.csv under {args.data}", file=sys.stderr)
        return 2
    pairs = common.load_pairs(args.data)
    if args.limit:
        pairs = pairs[: args.limit]
    temp = None
    if args.workdir is None:
        temp = tempfile.mkdtemp(prefix="zumen-bench-quality-")
        work = Path(temp)
    else:
        work = args.workdir
        work.mkdir(parents=True, exist_ok=True)
    try:
        log(f"corpus -> {work / 'corpus'}")
        corpus = common.build_corpus(args.data, work / "corpus", common.load_pairs(args.data))
        log(f"corpus: {len(corpus.bom)} BOM line documents + {len(corpus.drawings)} drawing PDFs; "
            f"{len(pairs)} queries")
        engine, index_info = open_library(args, work, corpus)
        try:
            status = engine.status()
            rankers = {r: RANKERS[r] for r in args.rankers if r in RANKERS}
            has_tower = bool(status.pack and status.pack.has_image_tower)
            if VISUAL_RANKER[0] in args.rankers and has_tower:
                rankers[VISUAL_RANKER[0]] = VISUAL_RANKER[1]
            if not supports_evidence(engine):
                log("WARNING: Engine.search_file has no `evidence` parameter: only the hybrid ranker "
                    "is meaningful; the others repeat it")
                rankers = {"hybrid": None}
            log(f"library: {status.documents} documents, {status.pages} pages, {status.chunks} chunks; "
                f"indexed in {index_info['elapsed_s']:.1f} s; rankers: {', '.join(rankers)}")
            t0 = time.perf_counter()
            measured = run_queries(args, engine, corpus, pairs, work, rankers)
            query_s = time.perf_counter() - t0
        finally:
            engine.close()
        results, rows, sim_rows, self_rows = summarise(args, corpus, pairs, measured)
        runs_dir = save_runs(args.out.parent / f"{args.out.stem}-runs", pairs, corpus, measured)
        from engine.types import to_jsonable

        payload = {
            "benchmark": "quality", "data": str(args.data), "primary_metric": PRIMARY_METRIC,
            "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
            "machine": common.machine_info(),
            "corpus": {"bom_documents": len(corpus.bom), "drawings": len(corpus.drawings),
                       "queries": len(pairs)},
            "library": to_jsonable(status), "index": to_jsonable(index_info),
            "query_seconds": query_s, "peak_rss_mb": common.peak_rss_mb(),
            "evidence_parameter": supports_evidence(engine), "rankers": list(rankers),
            "results": results,
        }
        common.write_json(args.out, payload)
        print("\nRelated documents (relevant: the BOM line(s) with the drawing's part number)")
        print(common.format_table(rows, COLUMNS, ["mode", "ranker", "R@1", "R@5", "R@10", "MRR",
                                                  "nDCG@10", "mAP", "n"]))
        print("\nSimilar drawings (relevant: the drawing itself, grade 2; same part, grade 1)")
        print(common.format_table([r for r in sim_rows if r["queries"]],
                                  ["mode", "ranker", "recall@1", "recall@5", "recall@10", "mrr", "ndcg@10", "queries"],
                                  ["mode", "ranker", "R@1", "R@5", "R@10", "MRR", "nDCG@10", "n"]))
        print("(pdf mode: the engine leaves out the library file identical to the query, so only other "
              "drawings of the same part count there)")
        print("\nThe drawing itself among the similar drawings (image mode)")
        print(common.format_table(self_rows, ["mode", "ranker", "recall@1", "recall@5", "recall@10", "mrr",
                                              "queries"], ["mode", "ranker", "R@1", "R@5", "R@10", "MRR", "n"]))
        print("\nLatency per query (ms)")
        lat_rows = []
        for mode in results:
            lat_rows.append({"mode": mode, "ranker": "query extraction (text layer / OCR)",
                             **results[mode]["query_extraction"]})
            lat_rows += [{"mode": mode, "ranker": f"{r} search (extraction cached)"
                          if not args.no_cache else r, **results[mode][r]["latency"]} for r in rankers]
        print(common.format_table(lat_rows, ["mode", "ranker", "p50_ms", "p95_ms", "mean_ms"]))
        print(f"\nJSON: {args.out}   TREC runs/qrels: {runs_dir}")
        return 0
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
