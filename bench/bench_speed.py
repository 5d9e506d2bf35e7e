"""Speed on this machine: indexing throughput, query latency at scale, ANN recall, memory.

    nice python bench/bench_speed.py                       # 10k and 100k chunks -> bench/out/speed.json
    nice python bench/bench_speed.py --scale 2000 --ocr-pages 2 --drawing-queries 2   # quick check

Phases (all in one process, in this order):
1. index-text   N generated multi-page PDFs with a text layer, indexed by `Engine.index`
                (extraction + chunking + catalog + embedding + vector save): pages/s.
                Baseline in the same run: pymupdf text extraction alone over the same files.
2. index-real   the development sets of ../shared/data (real PDFs, Markdown, CSV, XLSX; skipped
                when absent), indexed with OCR off: real text-layer pages, fully embedded, pages/s
                and embedded tokens per page (the generated pages of phase 1 are denser than most).
   index-ocr    generated image-only PDF pages (a picture of a page, no text layer): pages/s.
3. per scale    the phase-1 library is topped up with synthetic filler chunks to S chunks in total,
                then: keyword query latency (`Engine.search`), drawing query latency
                (`Engine.search_file` on a 150 dpi PNG drawing, OCR included), ANN recall@10 of the
                text vector index against exact search (usearch exact=True), ANN / exact / numpy
                brute-force cosine latency, memory.
Filler: catalog rows written through the store layer (realistic generated spec text, so FTS5 posting
lists are realistic) and synthetic vectors (mixtures of real text embeddings of filler text plus
noise; embedding 100k chunks for real would take ~15 min here). The filler documents have paths
outside every library folder, so a later `index` never deletes them; their files do not exist, so
queries run with the access check off (the filler's hits are listed like real ones).
"""

from __future__ import annotations

import argparse
import multiprocessing
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import common  # noqa: E402

FILLER_ROOT = "/__zumen_bench_filler__"  # a path prefix under no library folder
KEYWORD_QUERIES = [
    "S45C", "焼入れ", "SUS304 shaft", "ISO 2768-m", "bearing housing", "JIS G 4051",
    "ステンレス 軸受", "powder coating bracket", "φ12 H7", "aluminium A5052 plate anodised",
]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--scale", default="10000,100000", help="indexed chunk counts, comma list (10k,100k ok)")
    p.add_argument("--text-docs", type=int, default=10, help="text-layer PDFs to index")
    p.add_argument("--text-pages", type=int, default=5, help="pages per text-layer PDF")
    p.add_argument("--ocr-pages", type=int, default=6, help="image-only pages to index (OCR)")
    p.add_argument("--keyword-repeats", type=int, default=5, help="timed runs of each keyword query")
    p.add_argument("--drawing-queries", type=int, default=6, help="timed drawing queries per scale")
    p.add_argument("--ann-queries", type=int, default=200, help="query vectors for ANN recall")
    p.add_argument("--chunks-per-doc", type=int, default=20, help="filler chunks per filler document")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--no-isolate", action="store_true",
                   help="run every phase in this process (default: each phase in a fresh child process, "
                        "so its peak memory is its own)")
    p.add_argument("--workdir", type=Path, default=None, help="keep the libraries here (default: temp)")
    p.add_argument("--compare-pack", type=Path, default=None,
                   help="also index the text-layer PDFs with this pack, in the same run (e.g. an int8 build: "
                        "python -m engine.learn.export_text DIR int8) for a side-by-side row")
    p.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data",
                   help="development sets for the index-real phase ('' to skip it)")
    p.add_argument("--out", type=Path, default=common.OUT_DIR / "speed.json")
    args = p.parse_args(argv)
    args.scale = sorted(common.parse_ints(args.scale)) if args.scale.strip() else []  # '': indexing only
    return args


# --------------------------------------------------------------------------- content

def spec_lines(seed: int, n_lines: int) -> list[str]:
    """Lines of a generated spec page (Japanese and English), from the engine's part synthesiser."""
    try:
        from engine.synth.parts import generate_part, spec_text
    except ImportError:  # keep the benchmark usable without the synthesiser
        rng = random.Random(seed)
        words = ["shaft", "bearing", "S45C", "SUS304", "housing", "焼入れ", "軸受", "M8", "ISO", "plate"]
        return [" ".join(rng.choice(words) for _ in range(10)) for _ in range(n_lines)]
    lines: list[str] = []
    i = 0
    while len(lines) < n_lines:
        part = generate_part(seed * 1000 + i)
        text = spec_text(part, "ja" if i % 2 else "en")
        lines += [text[j:j + 70] for j in range(0, len(text), 70)]
        i += 1
    return lines[:n_lines]


def filler_text(i: int) -> str:
    """~60-80 tokens of realistic spec text: two generated parts, one Japanese and one English."""
    from engine.synth.parts import generate_part, spec_text

    return spec_text(generate_part(10_000_000 + 2 * i), "ja") + "\n" + \
        spec_text(generate_part(10_000_001 + 2 * i), "en")


def drawing_pngs(folder: Path, n: int, seed: int) -> list[Path]:
    """PNG drawings (150 dpi, no text layer) for drawing queries."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    try:
        from engine.synth.drawing import render
        from engine.synth.parts import generate_part

        for i in range(n):
            path = folder / f"drawing-{i}.png"
            render(generate_part(seed * 100 + i), dpi=150).convert("L").save(path)
            out.append(path)
    except ImportError:
        for i in range(n):
            pdf = common.write_text_pdf(folder / f"page-{i}.pdf", [spec_lines(seed * 100 + i, 40)])
            out.append(common.render_png(pdf, folder / f"page-{i}.png"))
    return out


# --------------------------------------------------------------------------- phases

def phase_index(name: str, folder: Path, library: Path, warm_folder: Path | None = None,
                pack: Path | None = None, ocr: bool = True) -> dict:
    """Index `folder`; with `warm_folder`, first index that (untimed) so model loading is not counted.
    `pack`: a model pack other than the default (`--compare-pack`: another build, same PDFs, same run).
    `ocr`: False reads text layers and text files only (a page without one keeps no words)."""
    from engine.api import Engine
    from engine.config import EngineSettings

    rss0 = common.current_rss_mb()
    with Engine.open(library, pack=pack, settings=EngineSettings(ocr_enabled=ocr)) as engine:
        warm_s = 0.0
        if warm_folder is not None:
            t0 = time.perf_counter()
            engine.index([warm_folder])
            warm_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        report = engine.index([folder])
        wall = time.perf_counter() - t0
        status = engine.status()
        embedded = _embedded_text(engine._lib)  # bench only: the facade does not count tokens
    pages = report.pages
    result = {"pages": pages, "documents": report.added, "failed": report.failed,
              "elapsed_s": wall, "pages_per_s": pages / wall if wall else 0.0,
              "read_s": wall - report.embed_s, "embed_s": report.embed_s, "pack": status.pack.path if status.pack else None,
              "quantization": _quantization(status.pack.path if status.pack else None),
              "warm_up_s": warm_s, "chunks": status.chunks, "rss_before_mb": rss0,
              "peak_rss_mb": common.peak_rss_mb(), "load_average": common.machine_info()["load_average"],
              "errors": [e.reason for e in report.errors][:5], **embedded}
    log(f"{name}: {pages} pages in {wall:.1f} s = {result['pages_per_s']:.2f} pages/s "
        f"(read {result['read_s']:.1f} s, embed {report.embed_s:.1f} s; {report.failed} failed; "
        f"warm-up {warm_s:.1f} s not counted; load {result['load_average'][0]:.1f})")
    return result


def _embedded_text(lib) -> dict:
    """Pages with words, and the text tower's tokens per chunk as it embeds them (after
    truncation at the pack's max_length): what the embed phase's time is proportional to."""
    from engine.store.catalog import embedding_text

    db = lib.catalog.db
    text_pages = db.execute("SELECT count(DISTINCT page_id) FROM chunks").fetchone()[0]
    rows = db.execute("SELECT d.title, c.text FROM chunks c JOIN documents d ON d.id = c.doc_id").fetchall()
    encoder = lib.text_encoder
    tokens = sum(encoder.token_counts([embedding_text(t, x) for t, x in rows])) if encoder and rows else 0
    return {"text_pages": text_pages, "embedded_tokens": tokens, "max_length": getattr(encoder, "max_length", None)}


def _quantization(pack_dir: str | None) -> str:
    import json

    try:
        return json.loads((Path(pack_dir) / "manifest.json").read_text(encoding="utf-8"))["text"]["quantization"]
    except (TypeError, OSError, ValueError, KeyError):
        return "?"


def baseline_pymupdf_text(folder: Path) -> dict:
    import pymupdf

    t0 = time.perf_counter()
    pages = 0
    for pdf in sorted(folder.glob("*.pdf")):
        with pymupdf.open(pdf) as doc:
            for page in doc:
                page.get_text("words")
                pages += 1
    wall = time.perf_counter() - t0
    return {"pages": pages, "elapsed_s": wall, "pages_per_s": pages / wall if wall else 0.0}


class FillerVectors:
    """Synthetic text vectors: sums of two real embeddings of filler text plus Gaussian noise."""

    def __init__(self, encoder, seed: int, base: int = 128) -> None:
        self.rng = np.random.default_rng(seed)
        if encoder is not None:
            texts = [filler_text(900_000 + i) for i in range(base)]
            self.base = np.asarray(encoder.encode(texts), dtype=np.float32)  # (base, dim)
        else:
            b = self.rng.standard_normal((base, 384)).astype(np.float32)
            self.base = b / np.linalg.norm(b, axis=1, keepdims=True)
        self.dim = self.base.shape[1]

    def sample(self, n: int) -> np.ndarray:
        a = self.base[self.rng.integers(0, len(self.base), n)]  # (n, dim)
        b = self.base[self.rng.integers(0, len(self.base), n)]  # (n, dim)
        w = self.rng.uniform(0.2, 0.8, (n, 1)).astype(np.float32)  # (n, 1)
        noise = self.rng.standard_normal((n, self.dim)).astype(np.float32) * (0.4 / np.sqrt(self.dim))
        v = w * a + (1 - w) * b + noise  # (n, dim)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def add_filler(library: Path, n_chunks: int, start: int, chunks_per_doc: int,
               vectors: FillerVectors | None, seed: int, *, encoder=None) -> tuple[dict, FillerVectors]:
    """Write `n_chunks` filler chunks (documents of `chunks_per_doc` chunks) through the store layer.

    `encoder` replaces the library's text encoder (tests pass a small fake one).
    """
    from engine.library import Library
    from engine.store.catalog import ChunkDraft, chunk_fingerprint
    from engine.types import PageContent

    lib = Library(library, text_encoder=encoder)
    try:
        if vectors is None:
            vectors = FillerVectors(lib.text_encoder, seed)
        t0 = time.perf_counter()
        n_docs = (n_chunks + chunks_per_doc - 1) // chunks_per_doc
        done = 0
        index = lib.text_index if lib.text_encoder is not None else None
        for d in range(n_docs):
            k = min(chunks_per_doc, n_chunks - done)
            doc_no = start + d
            texts = [filler_text(doc_no * chunks_per_doc + j) for j in range(k)]
            pages_n = (k + 4) // 5  # 5 chunks per page
            pages = [PageContent(page_no=p + 1, text="\n".join(texts[p * 5:(p + 1) * 5]), source="plain")
                     for p in range(pages_n)]
            chunks = [[ChunkDraft(t, 0, 0) for t in texts[p * 5:(p + 1) * 5]] for p in range(pages_n)]
            kind = "drawing" if doc_no % 3 == 0 else "document"
            _, _, _, ids = lib.catalog.replace_document(
                path=f"{FILLER_ROOT}/filler-{doc_no:07d}.txt", size=0, mtime_ns=0, sha1=f"filler{doc_no}",
                format="text", kind=kind, title=f"Filler {doc_no}", pages=pages, chunks=chunks)
            if index is not None:  # keyed like the pipeline's (id + fingerprint of the text)
                fps = [chunk_fingerprint(f"Filler {doc_no}", t) for t in texts]
                index.add(np.asarray(ids, dtype=np.uint64), vectors.sample(len(ids)),
                          np.asarray(fps, dtype=np.uint64))
            done += k
            if d % 500 == 0 and d:
                log(f"  filler: {done}/{n_chunks} chunks ({done / (time.perf_counter() - t0):.0f}/s)")
        t_rows = time.perf_counter() - t0
        lib.save_vectors()
        wall = time.perf_counter() - t0
    finally:
        lib.close()
    return {"chunks": n_chunks, "documents": n_docs, "elapsed_s": wall, "save_s": wall - t_rows,
            "chunks_per_s": n_chunks / wall if wall else 0.0}, vectors


def phase_queries(library: Path, pngs: list[Path], repeats: int) -> dict:
    """Keyword queries (each `repeats` times) and drawing queries (the last of `pngs` only warms
    up, the others are timed once each)."""
    from engine.api import Engine
    from engine.config import EngineSettings

    # The filler's files do not exist: with the access check on they would all be hidden from
    # the results (and each checked in vain), so the hits and their grouping would come from the
    # real pages only. Off, filler hits are listed and explained as real ones would be.
    with Engine.open(library, settings=EngineSettings(check_access=False)) as engine:
        t0 = time.perf_counter()
        # loads the text encoder and the vector index; shares no word with KEYWORD_QUERIES, whose
        # first asks read their phrases' rows (kept until the library changes) and are reported
        # on their own
        engine.search("engine warm-up", limit=20)
        open_s = time.perf_counter() - t0
        rss_open = common.current_rss_mb()
        keyword: list[float] = []
        first: list[float] = []
        hits = {}
        for q in KEYWORD_QUERIES:
            for _ in range(repeats):
                t = time.perf_counter()
                res = engine.search(q, limit=20)
                keyword.append(time.perf_counter() - t)
            first.append(keyword[-repeats])
            hits[q] = len(res.hits)
        # warm up the OCR models on a drawing of its own (not timed): a query searched again is
        # answered from the engine's query cache, without its OCR, and would flatter the p50
        engine.search_file(pngs[-1], limit=20)

        def timed_drawings() -> list[float]:
            times = []
            for png in pngs[:-1]:
                t = time.perf_counter()
                engine.search_file(png, limit=20)
                times.append(time.perf_counter() - t)
            return times

        drawing = timed_drawings()
        # the same drawings asked again: the query cache holds what was read (no OCR), so this
        # times the search part alone (evidence, fusion, grouping, explanations)
        drawing_search = timed_drawings()
        status = engine.status()
    return {"first_query_s": open_s, "rss_after_open_mb": rss_open,
            "keyword": common.percentiles(keyword), "keyword_first": common.percentiles(first),
            "keyword_hits": hits,
            "drawing": common.percentiles(drawing), "drawing_search": common.percentiles(drawing_search),
            "chunks": status.chunks,
            "documents": status.documents, "index_bytes": status.index_bytes,
            "rss_after_queries_mb": common.current_rss_mb(), "peak_rss_mb": common.peak_rss_mb()}


def phase_ann(library: Path, queries: np.ndarray, k: int = 10, *, encoder=None) -> dict:
    """ANN recall@k of the library's text index vs exact search; latency of ANN, exact, numpy."""
    from engine.library import Library

    lib = Library(library, text_encoder=encoder)
    try:
        index = lib.text_index
        keys = index.keys()
        n = len(keys)
        matrix = index.get(keys)  # (n, dim), the stored (normalised) vectors
        out: dict = {"vectors": n, "dim": index.dim, "k": k, "queries": len(queries),
                     "expansion_search": lib.settings.ann_expansion_search}
        ann_t, exact_t, numpy_t, recalls, numpy_agree = [], [], [], [], []
        truths: list[set[int]] = []
        for q in queries:
            t = time.perf_counter()
            ann = index.search(q, k)
            ann_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            exact = index.search(q, k, exact=True)
            exact_t.append(time.perf_counter() - t)
            t = time.perf_counter()
            scores = matrix @ q  # (n,)
            top = np.argpartition(-scores, k)[:k]
            top = top[np.argsort(-scores[top])]
            numpy_t.append(time.perf_counter() - t)
            truth = {key for key, _ in exact}
            truths.append(truth)
            recalls.append(len(truth & {key for key, _ in ann}) / k)
            numpy_agree.append(len(truth & {int(keys[i]) for i in top}) / k)
        out.update({"recall_at_k": float(np.mean(recalls)), "exact_vs_numpy_agreement": float(np.mean(numpy_agree)),
                    "ann": common.percentiles(ann_t), "exact": common.percentiles(exact_t),
                    "numpy_bruteforce": common.percentiles(numpy_t)})
        # recall / latency for other expansion_search values (usearch's knob), on the same index
        sweep = []
        raw = getattr(index, "_index", None)
        if raw is not None and hasattr(raw, "expansion_search"):
            original = raw.expansion_search
            for ef in (16, 64, 128, 192, 256):
                raw.expansion_search = ef
                times, rec = [], []
                for q, truth in zip(queries[:100], truths):
                    t = time.perf_counter()
                    ann = index.search(q, k)
                    times.append(time.perf_counter() - t)
                    rec.append(len(truth & {key for key, _ in ann}) / k)
                sweep.append({"expansion_search": ef, "recall_at_k": float(np.mean(rec)),
                              "p50_ms": common.percentiles(times)["p50_ms"]})
            raw.expansion_search = original
        out["sweep"] = sweep
        out["peak_rss_mb"] = common.peak_rss_mb()  # includes the numpy copy of the vectors
        del matrix
    finally:
        lib.close()
    return out


# --------------------------------------------------------------------------- main

def run_phase(isolate: bool, fn, *args, **kwargs):
    """Run one phase, in a fresh process when `isolate` (clean peak RSS, cold caches, no models
    left loaded by an earlier phase); the phase's result comes back pickled."""
    if not isolate:
        return fn(*args, **kwargs)
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args, **kwargs).result()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    temp = None
    if args.workdir is None:
        temp = tempfile.mkdtemp(prefix="zumen-bench-speed-")
        work = Path(temp)
    else:
        work = args.workdir
        if work.exists():
            shutil.rmtree(work)
        work.mkdir(parents=True)
    result: dict = {"benchmark": "speed", "machine": common.machine_info(),
                    "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
                    "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}}
    try:
        # 1. text-layer PDFs
        text_dir = work / "text-pdfs"
        for d in range(args.text_docs):
            pages = [spec_lines(args.seed * 10_000 + d * 100 + p, 40) for p in range(args.text_pages)]
            common.write_text_pdf(text_dir / f"spec-{d:03d}.pdf", pages)
        library = work / "library"
        warm_text = common.write_text_pdf(work / "warm-text" / "warm.pdf", [spec_lines(1, 10)]).parent
        isolate = not args.no_isolate
        result["isolated_phases"] = isolate
        result["index_text"] = run_phase(isolate, phase_index, "index-text", text_dir, library, warm_text)
        result["index_text"]["baseline_pymupdf_text_only"] = baseline_pymupdf_text(text_dir)
        if args.compare_pack is not None:  # same PDFs, a fresh library, the other pack
            result["index_text_compare"] = run_phase(isolate, phase_index, "index-text (compare pack)", text_dir,
                                                      work / "library-compare", warm_text, args.compare_pack)

        # 2. the development sets' real files, OCR off (text layers, Markdown, CSV, XLSX)
        if str(args.data) and args.data.is_dir():
            from bench import dev_sets

            sets = dev_sets.available_sets(args.data)
            if sets:
                real_dir = work / "real-corpus"
                dev_sets.build_corpus(sets, real_dir)
                result["index_real"] = run_phase(isolate, phase_index, "index-real", real_dir,
                                                 work / "library-real", warm_text, None, False)
                if args.compare_pack is not None:
                    result["index_real_compare"] = run_phase(
                        isolate, phase_index, "index-real (compare pack)", real_dir,
                        work / "library-real-compare", warm_text, args.compare_pack, False)

        # 3. image-only pages (OCR), a separate library so the timing is OCR pages only
        if args.ocr_pages:
            scan_dir = work / "scanned-pdfs"
            for i in range(args.ocr_pages):
                common.write_scanned_pdf(scan_dir / f"scan-{i:03d}.pdf", [spec_lines(args.seed * 777 + i, 30)])
            warm_scan = common.write_scanned_pdf(work / "warm-scan" / "warm.pdf", [spec_lines(2, 5)]).parent
            result["index_ocr"] = run_phase(isolate, phase_index, "index-ocr", scan_dir, work / "library-ocr",
                                            warm_scan)

        # 4. scales
        pngs = drawing_pngs(work / "queries", args.drawing_queries + 1, args.seed)  # the last warms up
        base_chunks = result["index_text"]["chunks"]
        vectors = None
        added = 0
        doc_counter = 0
        result["scales"] = {}
        for scale in args.scale:
            need = max(0, scale - base_chunks - added)
            log(f"scale {scale}: adding {need} filler chunks")
            filler, vectors = run_phase(isolate, add_filler, library, need, doc_counter, args.chunks_per_doc,
                                        vectors, args.seed)
            doc_counter += filler["documents"]
            added += need
            log(f"  filler: {need} chunks in {filler['elapsed_s']:.1f} s")
            q = run_phase(isolate, phase_queries, library, pngs, args.keyword_repeats)
            log(f"  keyword p50 {q['keyword']['p50_ms']:.1f} ms p95 {q['keyword']['p95_ms']:.1f} ms "
                f"(first asks p50 {q['keyword_first']['p50_ms']:.1f} ms); "
                f"drawing p50 {q['drawing'].get('p50_ms', float('nan')):.0f} ms "
                f"p95 {q['drawing'].get('p95_ms', float('nan')):.0f} ms (search part "
                f"{q['drawing_search'].get('p50_ms', float('nan')):.0f} ms); chunks {q['chunks']}")
            ann = run_phase(isolate, phase_ann, library, vectors.sample(args.ann_queries))
            log(f"  ANN recall@10 {ann['recall_at_k']:.3f}; ann p50 {ann['ann']['p50_ms']:.2f} ms, exact "
                f"{ann['exact']['p50_ms']:.2f} ms, numpy {ann['numpy_bruteforce']['p50_ms']:.2f} ms")
            result["scales"][str(scale)] = {"filler": filler, "queries": q, "ann": ann}
        result["parent_peak_rss_mb"] = common.peak_rss_mb()
        common.write_json(args.out, result)
        print_summary(result)
        print(f"\nJSON: {args.out}")
        return 0
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)


def _index_row(what: str, phase: dict) -> dict:
    pages = phase["pages"]
    return {"what": f"{what} ({phase.get('quantization', '?')})", "pages": pages, "chunks": phase["chunks"],
            "tokens": phase["embedded_tokens"] / pages if pages and "embedded_tokens" in phase else None,
            "rate": phase["pages_per_s"], "read": phase.get("read_s"), "embed": phase.get("embed_s"),
            "peak": phase["peak_rss_mb"], "load": phase["load_average"][0]}


def print_summary(r: dict) -> None:
    it = r["index_text"]
    rows = [_index_row("text-layer PDF pages", it)]
    if "index_text_compare" in r:
        rows.append(_index_row("  same PDFs, other pack", r["index_text_compare"]))
    rows.append({"what": "  baseline: pymupdf text only", "pages": it["baseline_pymupdf_text_only"]["pages"],
                 "rate": it["baseline_pymupdf_text_only"]["pages_per_s"]})
    if "index_real" in r:
        rows.append(_index_row("dev sets' real files, OCR off", r["index_real"]))
    if "index_real_compare" in r:
        rows.append(_index_row("  same files, other pack", r["index_real_compare"]))
    if "index_ocr" in r:
        rows.append(_index_row("image-only pages (OCR)", r["index_ocr"]))
    print("\nIndexing (read: extract + chunk + catalog; embed: text and image vectors; tokens/page: what the "
          "text tower embeds)")
    print(common.format_table(rows, ["what", "pages", "chunks", "tokens", "rate", "read", "embed", "peak", "load"],
                              ["what", "pages", "chunks", "tokens/page", "pages/s", "read s", "embed s", "peak MB",
                               "load"]))
    rows = []
    for s in r["scales"].values():
        q, a = s["queries"], s["ann"]
        rows.append({"chunks": q["chunks"], "kw_p50": q["keyword"]["p50_ms"], "kw_p95": q["keyword"]["p95_ms"],
                     "kw_first": q.get("keyword_first", {}).get("p50_ms"),
                     "dr_p50": q["drawing"].get("p50_ms"), "dr_p95": q["drawing"].get("p95_ms"),
                     "dr_search": q.get("drawing_search", {}).get("p50_ms"),
                     "recall": a["recall_at_k"], "ann": a["ann"]["p50_ms"], "exact": a["exact"]["p50_ms"],
                     "numpy": a["numpy_bruteforce"]["p50_ms"], "rss": q["rss_after_queries_mb"],
                     "peak": q["peak_rss_mb"], "mb": q["index_bytes"] / 2**20})
    print("\nQueries (ms) and vector search at scale")
    print(common.format_table(rows, ["chunks", "kw_p50", "kw_p95", "kw_first", "dr_p50", "dr_p95", "dr_search", "recall", "ann",
                                     "exact", "numpy", "rss", "peak", "mb"],
                              ["chunks", "keyword p50", "keyword p95", "first ask p50", "drawing p50", "drawing p95",
                               "search part p50", "ANN R@10", "ANN p50", "exact p50", "numpy p50", "RSS MB",
                               "peak MB", "index MB"]))


if __name__ == "__main__":
    sys.exit(main())
