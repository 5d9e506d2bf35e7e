"""Capacity of one library: catalog and vector index at 1M and 10M chunks, by measurement.

    nice python bench/bench_capacity.py --workdir /big/disk/capacity     # 100k and 1M (~40 min here, 6 GB)
    nice python bench/bench_capacity.py --sizes 10000000 --what vectors --dtypes i8 --workdir ...
    nice python bench/bench_capacity.py --sizes 20000 --queries 20 --workdir /tmp/cap   # smoke test
    python bench/bench_capacity.py --from bench/out/capacity-vectors.json,bench/out/capacity-fts.json \
        --extrapolate 10M --out bench/out/capacity-10m.json        # measures nothing: extrapolates

vectors  the product's vector store (engine.store.vectors.VectorIndex: usearch HNSW, cosine, the
         connectivity / expansion settings of EngineSettings) filled with synthetic 384-d unit vectors
         (bench/capacity_synth.py: a Gaussian mixture calibrated on real MiniLM chunk vectors):
         build rate, file size, peak memory building; then, each in a fresh process, the index opened
         as the product opens it (`load`: read into memory) and memory-mapped (`view`): memory,
         latency of the product's search (k = EngineSettings.candidates = 200), recall@10 against
         the exact answer (numpy over the generated float32 vectors, so quantisation losses count),
         and what one indexing batch costs on the full index (add 32 vectors; save the whole file).
         `--dtypes f32,f16,i8`: the product stores f32; f16 / i8 are the same index with another
         scalar type (what a change of VectorIndex's dtype would give). A (size, dtype) whose file
         would pass `--max-index-gb` is not built: its row is extrapolated and says so.
fts      a catalog (engine.store.catalog.Catalog, the product's schema: documents, pages with word
         boxes, chunks, FTS5) grown to each size with synthetic archive documents (capacity_synth:
         Zipf vocabulary, part numbers, sizes, Japanese words; pages chunked by the product's
         chunker), one transaction per document as the indexer commits; then, in a fresh process:
         keyword queries through Engine.search (lexical evidence: the FTS5 query, grouping,
         snippets, explanations) of 1, 2 and 3 rare / medium / common terms taken from one chunk,
         and drawing queries through the product's query-by-document path (Searcher.make_query +
         search_many, lexical evidence: docrank over postings, links) with 50-300 words of a
         library drawing read with OCR-like losses. Sizes grow one library (100k, then on to 1M).
e2e      (with fts) the catalog's chunks get synthetic f32 text vectors under their ids, and the same
         queries run as shipped: default model pack, the query text embedded, lexical + semantic
         evidence fused (drawing queries without OCR and without a picture).
Each phase runs in a fresh child process: its peak memory (ru_maxrss) is its own.
Sizes not measured (`--extrapolate 10000000`) get rows extrapolated from the largest two measured
sizes (sizes linearly, latencies along a power law), marked as such; `--from` takes the measured
rows from earlier results instead of measuring (a later file's row replaces an earlier one's).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import capacity_synth as synth  # noqa: E402
from bench import common  # noqa: E402

SCALAR_BYTES = {"f32": 4, "f16": 2, "i8": 1}
CLASSES = ("rare", "medium", "common")  # keyword terms by the share of chunks holding them
NO_PACK = "no-model-pack"  # a pack folder that does not exist: lexical evidence only, no models loaded


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default="100000,1000000", help="chunk counts, comma list (100k, 1M, 10M ok)")
    p.add_argument("--what", default="vectors,fts",
                   help="vectors, fts, e2e (with fts: the catalog's chunks given vectors, queried as shipped)")
    p.add_argument("--dtypes", default="f32", help="vector scalar types: f32 (the product's), f16, i8")
    p.add_argument("--max-index-gb", type=float, default=8.0,
                   help="do not build a vector index whose file would be larger (its row is extrapolated)")
    p.add_argument("--extrapolate", default="", help="sizes to extrapolate when not measured, e.g. 10000000")
    p.add_argument("--from", dest="sources", default="",
                   help="measure nothing: extrapolate from these JSON results (comma list; later rows replace earlier)")
    p.add_argument("--queries", type=int, default=200, help="vector queries (recall and latency)")
    p.add_argument("--keyword-queries", type=int, default=6, help="keyword queries per class and length")
    p.add_argument("--keyword-repeats", type=int, default=3)
    p.add_argument("--drawing-queries", type=int, default=12)
    p.add_argument("--batch", type=int, default=20_000, help="vectors per add while building")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--workdir", type=Path, default=None,
                   help="where the indexes and the catalog are built (several GB at 1M); default: a temp folder")
    p.add_argument("--keep", action="store_true", help="keep the work folder (a later run continues the catalog)")
    p.add_argument("--out", type=Path, default=common.OUT_DIR / "capacity.json")
    args = p.parse_args(argv)
    args.sizes = sorted(parse_sizes(args.sizes))
    args.extrapolate = sorted(parse_sizes(args.extrapolate)) if args.extrapolate else []
    args.what = {w.strip() for w in args.what.split(",") if w.strip()}
    args.dtypes = [d.strip() for d in args.dtypes.split(",") if d.strip()]
    args.sources = [Path(f.strip()) for f in args.sources.split(",") if f.strip()]
    if not args.what <= {"vectors", "fts", "e2e"}:
        p.error(f"--what: vectors, fts, e2e (with fts), not {args.what}")
    if not set(args.dtypes) <= set(SCALAR_BYTES):
        p.error(f"--dtypes: {', '.join(SCALAR_BYTES)}")
    return args


def parse_sizes(text: str) -> list[int]:
    """"100k,1M,10m" -> [100000, 1000000, 10000000]."""
    out = []
    for part in text.lower().split(","):
        part = part.strip()
        if part:
            mult = {"k": 1_000, "m": 1_000_000}.get(part[-1], 1)
            out.append(int(float(part.rstrip("km")) * mult))
    return out


def peak_rss_mb() -> float:
    """This process's peak resident memory since it started (VmHWM). Not ru_maxrss: a spawned
    child inherits its parent's peak in that figure (Linux keeps it across exec)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return common.peak_rss_mb()


class Clock:
    """Wall and CPU seconds of a block. CPU time (this process, all its threads) hardly depends
    on what else the machine runs: on shared cores it is the figure to compare."""

    def __enter__(self) -> "Clock":
        self.w, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall, self.cpu = time.perf_counter() - self.w, time.process_time() - self.c


def run_child(fn, *args):
    """Run one phase in a fresh process (its own peak memory, nothing left loaded by another)."""
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


# --------------------------------------------------------------------------- vectors

def expected_index_bytes(n: int, dtype: str, graph_bytes: float = 160.0) -> float:
    """A usearch file: the vectors plus ~150-160 bytes of graph per vector (connectivity 16)."""
    return n * (synth.DIM * SCALAR_BYTES[dtype] + graph_bytes)


def new_vector_index(path: Path, dtype: str):
    """The product's VectorIndex; for another scalar type, the same index with only the dtype
    changed (VectorIndex builds its usearch Index with dtype="f32"; opening reads it from the file)."""
    from usearch.index import Index

    from engine.config import EngineSettings
    from engine.store.vectors import VectorIndex

    s = EngineSettings()
    index = VectorIndex(path, synth.DIM, s)
    if dtype != "f32":
        index._index = Index(ndim=synth.DIM, metric="cos", dtype=dtype, connectivity=s.ann_connectivity,
                             expansion_add=s.ann_expansion_add, expansion_search=s.ann_expansion_search)
    return index


def phase_vector_build(path: str, n: int, dtype: str, seed: int, n_queries: int, batch: int) -> dict:
    """Build an index of ids 1..n through VectorIndex.add in batches, save it; the exact top-10 of
    each query vector is computed on the side (not timed)."""
    gen = synth.MixtureVectors(seed)
    queries = gen.queries(n_queries)  # (q, dim)
    best_ids = np.zeros((n_queries, 10), dtype=np.int64)
    best_sims = np.full((n_queries, 10), -np.inf, dtype=np.float32)
    index = new_vector_index(Path(path), dtype)
    rss0 = common.current_rss_mb()
    add_s = add_cpu = gen_s = 0.0
    batch -= batch % gen.per_doc
    next_log = time.perf_counter() + 60
    for start in range(0, n, batch):
        m = min(batch, n - start)
        t = time.perf_counter()
        block = gen.block(start, m)  # (m, dim)
        gen_s += time.perf_counter() - t
        with Clock() as c:
            index.add(np.arange(start + 1, start + m + 1, dtype=np.uint64), block)
        add_s += c.wall
        add_cpu += c.cpu
        if n_queries:
            best_ids, best_sims = synth.true_top_k(best_ids, best_sims, queries, block, start + 1)
        if time.perf_counter() > next_log:
            next_log = time.perf_counter() + 60
            log(f"  vectors {dtype}: {start + m:,}/{n:,} ({(start + m) / add_s:.0f} adds/s, "
                f"RSS {common.current_rss_mb():.0f} MB)")
    rss_built = common.current_rss_mb()
    t = time.perf_counter()
    index.save()
    save_s = time.perf_counter() - t
    return {"vectors": n, "dtype": dtype, "add_s": add_s, "adds_per_s": n / add_s, "add_cpu_s": add_cpu,
            "adds_per_cpu_s": n / add_cpu, "generate_s": gen_s,
            "save_s": save_s, "file_bytes": os.path.getsize(path), "rss_before_mb": rss0,
            "rss_built_mb": rss_built, "peak_rss_mb": peak_rss_mb(),
            "load_average": common.machine_info()["load_average"], "truth": best_ids.tolist()}


def phase_vector_search(path: str, seed: int, n_queries: int, truth: list, view: bool, k: int,
                        batch_cost: bool) -> dict:
    """Open the index as the product does (`VectorIndex(path, dim)`: load; or view), search each
    query for k candidates; with `batch_cost`, then what one indexing batch costs on it."""
    from engine.store.vectors import VectorIndex

    queries = synth.MixtureVectors(seed).queries(n_queries)
    rss0 = common.current_rss_mb()
    t = time.perf_counter()
    index = VectorIndex(Path(path), synth.DIM, view=view)
    open_s = time.perf_counter() - t
    rss_open = common.current_rss_mb()
    times, cpu, recall10, recall_k = [], [], [], []
    for q, true in zip(queries, truth):
        with Clock() as c:
            hits = index.search(q, k)
        times.append(c.wall)
        cpu.append(c.cpu)
        ids = [i for i, _ in hits]
        recall10.append(len(set(ids[:10]) & set(true)) / 10)
        recall_k.append(len(set(ids) & set(true)) / 10)
    out = {"mode": "view" if view else "load", "open_s": open_s, "rss_before_mb": rss0,
           "rss_open_mb": rss_open, "rss_after_queries_mb": common.current_rss_mb(),
           "k": k, "latency": common.percentiles(times), "latency_cpu": common.percentiles(cpu),
           "recall_at_10": float(np.mean(recall10)),
           "recall_10_in_k": float(np.mean(recall_k)),
           "expansion_search": int(index._index.expansion_search)}
    if batch_cost:  # the indexer adds per embedding batch (32 texts) and saves every 30 s
        n, batches = len(index), 10
        extra = synth.MixtureVectors(seed + 1).block(0, 32 * batches)  # (320, dim)
        ids = np.arange(n + 1, n + 1 + 64 * batches, dtype=np.uint64).reshape(2 * batches, 32)
        adds, raw = [], []
        for i in range(batches):  # the first add of a session reads VectorIndex's key table
            with Clock() as c:
                index.add(ids[i], extra[32 * i:32 * (i + 1)])
            adds.append(c.wall)
        for i in range(batches):  # usearch's own share: the same adds on the bare index (their
            with Clock() as c:  # keys stay out of the key table: they are only saved)
                index._index.add(ids[batches + i], extra[32 * i:32 * (i + 1)])
            raw.append(c.wall)
        with Clock() as c:
            index.save()
        out.update({"add_32_first_s": adds[0], "add_32": common.percentiles(adds[1:]),
                    "add_32_usearch": common.percentiles(raw), "save_s": c.wall, "save_cpu_s": c.cpu})
    out["peak_rss_mb"] = peak_rss_mb()
    return out


def measure_vectors(args, work: Path, save) -> dict:
    gen = synth.MixtureVectors(args.seed)
    out: dict = {"generator": {"calibration": synth.neighbour_stats(gen.block(0, 3773)),
                               "real_minilm_dev_library": {"vectors": 3775, "pair_cos_mean": 0.206, "pair_cos_sd": 0.152,
                                                           "nn1_cos_median": 0.868, "nn10_cos_median": 0.709,
                                                           "nn100_cos_median": 0.520, "mean_norm": 0.454,
                                                           "top50_pc_share": 0.712}},
                 "runs": [], "skipped": []}
    k = _candidates()
    for size in args.sizes:
        for dtype in args.dtypes:
            gb = expected_index_bytes(size, dtype) / 1e9
            if gb > args.max_index_gb:
                log(f"vectors {size:,} {dtype}: ~{gb:.1f} GB > --max-index-gb {args.max_index_gb}: extrapolated")
                out["skipped"].append({"vectors": size, "dtype": dtype, "expected_gb": gb})
                continue
            path = work / f"vectors-{size}-{dtype}.usearch"
            log(f"vectors {size:,} {dtype}: building")
            build = run_child(phase_vector_build, str(path), size, dtype, args.seed, args.queries, args.batch)
            truth = build.pop("truth")
            log(f"  built in {build['add_s']:.0f} s ({build['adds_per_s']:.0f} adds/s), "
                f"{build['file_bytes'] / 2**20:.0f} MB, peak {build['peak_rss_mb']:.0f} MB")
            view = run_child(phase_vector_search, str(path), args.seed, args.queries, truth, True, k, False)
            load = run_child(phase_vector_search, str(path), args.seed, args.queries, truth, False, k, True)
            for r in (view, load):
                log(f"  {r['mode']}: open {r['open_s']:.2f} s, RSS {r['rss_open_mb']:.0f} -> "
                    f"{r['rss_after_queries_mb']:.0f} MB, p50 {r['latency']['p50_ms']:.2f} ms, "
                    f"R@10 {r['recall_at_10']:.3f}")
            out["runs"].append({"vectors": size, "dtype": dtype, "build": build, "load": load, "view": view})
            save("vectors", out)
            path.unlink(missing_ok=True)
    return out


def _candidates() -> int:
    from engine.config import EngineSettings

    return EngineSettings().candidates


# --------------------------------------------------------------------------- catalog (FTS5)

def phase_fts_grow(library: str, target: int, seed: int) -> dict:
    """Add synthetic documents to the catalog until it holds `target` chunks (continuing from
    the documents already there); only `replace_document` is timed as insert time."""
    from engine.analyze import lexical_tokens
    from engine.config import EngineSettings
    from engine.indexing.work import chunk_page
    from engine.store.catalog import Catalog
    from engine.types import PageContent

    settings = EngineSettings()
    cat = Catalog(Path(library) / "catalog.sqlite")
    cat.add_folder("/archive")
    gen = synth.ArchiveText(seed)
    # synthetic documents are added in number order, one transaction each: the next number is the
    # count of those committed (a run that was stopped continues where its last commit left off)
    doc_no = cat.db.execute("SELECT count(*) FROM documents").fetchone()[0]
    start_chunks = cat.chunk_count()
    chunks = start_chunks
    insert_s = insert_cpu = gen_s = 0.0
    docs = pages_n = 0
    sample_tokens: list[list[str]] = []
    next_log = time.perf_counter() + 60
    while chunks < target:
        t = time.perf_counter()
        doc = gen.document(doc_no)
        pages = [PageContent(i + 1, " ".join(words), synth.page_words(words), 595.0, 842.0, "text-layer",
                             visual=doc.kind == "drawing") for i, words in enumerate(doc.pages)]
        drafts = [chunk_page(p, settings.chunk_words, settings.chunk_overlap_words) for p in pages]
        gen_s += time.perf_counter() - t
        with Clock() as c:
            _, _, _, ids = cat.replace_document(path=doc.path, size=0, mtime_ns=0, sha1=f"{doc_no:040x}",
                                                format="pdf", kind=doc.kind, title=doc.title, pages=pages,
                                                chunks=drafts)
        insert_s += c.wall
        insert_cpu += c.cpu
        if doc_no % 97 == 0 and len(sample_tokens) < 20_000:
            sample_tokens += [lexical_tokens(f"{doc.title} {d.text}" if i == 0 else d.text)
                              for i, d in enumerate(d for page in drafts for d in page)]
        chunks += len(ids)
        pages_n += len(pages)
        docs += 1
        doc_no += 1
        if time.perf_counter() > next_log:
            next_log = time.perf_counter() + 60
            log(f"  catalog: {chunks:,}/{target:,} chunks ({(chunks - start_chunks) / insert_s:.0f} chunks/s "
                f"inserted, {docs / insert_s:.0f} documents/s)")
    t = time.perf_counter()
    cat.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    checkpoint_s = time.perf_counter() - t
    cat.close()
    added = chunks - start_chunks
    return {"chunks_before": start_chunks, "chunks": chunks, "documents_added": docs, "pages_added": pages_n,
            "insert_s": insert_s, "insert_cpu_s": insert_cpu, "generate_s": gen_s, "checkpoint_s": checkpoint_s,
            "chunks_per_s": added / insert_s if insert_s else 0.0,
            "chunks_per_cpu_s": added / insert_cpu if insert_cpu else 0.0,
            "documents_per_s": docs / insert_s if insert_s else 0.0,
            "token_sample": synth.token_stats(sample_tokens) if sample_tokens else {},
            "peak_rss_mb": peak_rss_mb(), "load_average": common.machine_info()["load_average"]}


def catalog_bytes(library: Path) -> dict:
    """Bytes on disk, and per table and index (SQLite's dbstat), of a checkpointed catalog."""
    import sqlite3

    path = library / "catalog.sqlite"
    out = {"file_bytes": path.stat().st_size}
    db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    try:
        t = time.perf_counter()
        rows = db.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
        out["tables"] = {name: int(size) for name, size in rows}
        out["dbstat_s"] = time.perf_counter() - t
    except sqlite3.OperationalError as exc:  # SQLite built without dbstat
        out["tables_error"] = str(exc)
    finally:
        db.close()
    return out


def pick_keyword_queries(catalog, n_chunks: int, per_cell: int, seed: int) -> list[dict]:
    """Keyword queries of 1, 2 or 3 terms of one class, taken from one chunk (words a user would
    type together, so an AND query has an answer). Classes by the share of chunks holding the
    term: rare <= 0.002 % (at least up to 5 chunks), medium 0.02-0.5 %, common 2-20 %."""
    rng = np.random.default_rng([seed, 5])
    bands = {"rare": (1, max(5, int(2e-5 * n_chunks))),
             "medium": (max(6, int(2e-4 * n_chunks)), max(7, int(5e-3 * n_chunks))),
             "common": (max(8, int(0.02 * n_chunks)), max(9, int(0.2 * n_chunks)))}
    want = {(c, n): [] for c in CLASSES for n in (1, 2, 3)}
    for _ in range(40):
        if all(len(v) >= per_cell for v in want.values()):
            break
        ids = rng.integers(1, n_chunks + 1, 200).tolist()
        tokens = catalog.chunk_tokens(ids)
        vocab = sorted({t for toks in tokens.values() for t in toks})
        df = catalog.token_doc_freq(vocab, cached=True)
        for chunk_id, toks in tokens.items():
            by_class = {c: [] for c in CLASSES}
            for t in dict.fromkeys(toks):
                if len(t) < 2 or t in STOP:
                    continue
                for c, (lo, hi) in bands.items():
                    if lo <= df.get(t, 0) <= hi:
                        by_class[c].append(t)
            for c in CLASSES:
                for n in (1, 2, 3):
                    if len(want[(c, n)]) < per_cell and len(by_class[c]) >= n:
                        terms = [by_class[c][i] for i in rng.choice(len(by_class[c]), n, replace=False)]
                        want[(c, n)].append({"class": c, "terms": n, "text": " ".join(terms),
                                             "df": [df[t] for t in terms], "chunk": chunk_id})
    return [q for v in want.values() for q in v]


STOP = frozenset("a an and are as at be by for from in is it of on or the to with this that these those".split())


def drawing_query_texts(catalog, n: int, seed: int) -> list[tuple[int, str]]:
    """(doc id, text) of `n` library drawings read with OCR-like losses: 15 % of the words lost,
    a few garbage words added, at most 300 words."""
    rng = np.random.default_rng([seed, 6])
    last = catalog.db.execute("SELECT max(id) FROM documents").fetchone()[0] or 0
    picked = rng.choice(np.arange(1, last + 1), min(last, n * 10), replace=False).tolist()
    out = []
    for doc_id in sorted(catalog.drawing_ids(picked), key=picked.index):
        page = catalog.page(doc_id, 1)
        words = page[1].text.split() if page else []
        if len(words) < 60:
            continue
        kept = [w for w in words if rng.random() > 0.15][:290]
        garbage = ["".join(rng.choice(list("abcdefghjkmnpqrstuvwxyz0123456789"), 4)) for _ in range(len(kept) // 20)]
        for g in garbage:
            kept.insert(int(rng.integers(0, len(kept))), g)
        out.append((doc_id, " ".join(kept)))
        if len(out) == n:
            break
    return out


def phase_fts_query(library: str, seed: int, per_cell: int, repeats: int, n_drawings: int,
                    models: bool = False) -> dict:
    """Keyword and drawing queries on the catalog through the product's search code. Lexical
    evidence only (no model pack: nothing else is loaded); with `models`, the product's query as
    shipped (default pack: the query text embedded, the text vector index searched and fused;
    no picture, so no OCR and no visual evidence)."""
    from engine.api import Engine
    from engine.config import EngineSettings

    root = Path(library)
    rss0 = common.current_rss_mb()
    # the synthetic documents' files do not exist: the access check would hide every hit
    engine = Engine.open(root, pack=None if models else root / NO_PACK,
                         settings=EngineSettings(check_access=False), image_encoder=None, ocr=None)
    evidence = None if models else {"lexical"}
    lib = engine._lib
    cat, searcher = lib.catalog, engine._searcher
    t = time.perf_counter()
    n_chunks = cat.chunk_count()
    count_s = time.perf_counter() - t
    rss_open = common.current_rss_mb()
    queries = pick_keyword_queries(cat, n_chunks, per_cell, seed)
    # the page table (every chunk's page) is built by the first query of a catalog generation,
    # keyword or drawing: the first query after any commit pays it
    with Clock() as c:
        cat.page_table()
    page_table_s, page_table_cpu = c.wall, c.cpu
    t = time.perf_counter()
    engine.search("warm up", limit=20, evidence=evidence)  # loads the text tower and vector index
    warm_s = time.perf_counter() - t
    rss_warm = common.current_rss_mb()
    for q in queries:
        times, cpu, fts_and, fts_or = [], [], [], []
        for _ in range(repeats):
            with Clock() as c:
                res = engine.search(q["text"], limit=20, evidence=evidence)
            times.append(c.wall)
            cpu.append(c.cpu)
            terms = searcher.make_query(q["text"], keyword=True).terms
            t = time.perf_counter()
            cat.search_lexical(terms, 200, require_all=True)
            t_and = time.perf_counter()
            cat.search_lexical(terms, 200)
            fts_and.append(t_and - t)
            fts_or.append(time.perf_counter() - t_and)
        q.update({"times_s": times, "cpu_s": cpu, "fts_and_s": fts_and, "fts_or_s": fts_or, "hits": len(res.hits)})
    rss_keyword = common.current_rss_mb()
    # drawing queries: the chunk frequencies are cached per generation (the first one fills them)
    texts = drawing_query_texts(cat, n_drawings + 1, seed)
    drawing, drawing_cpu, self_rank = [], [], []
    for i, (doc_id, text) in enumerate(texts):
        with Clock() as c:
            q = searcher.make_query(text, keyword=False)
            related, similar = searcher.search_many(q, [{"document"}, {"drawing"}], limit=20,
                                                    evidence=evidence, mode="file")
        if i == 0:
            first_s = c.wall  # the first one fills the per-generation caches
            continue
        drawing.append(c.wall)
        drawing_cpu.append(c.cpu)
        ranks = [h.rank for h in similar.hits if h.doc_id == doc_id]
        self_rank.append(ranks[0] if ranks else 0)
    out = {"chunks": n_chunks, "models": models, "vectors": len(lib.text_index) if models else 0,
           "chunk_count_s": count_s, "rss_before_mb": rss0, "rss_open_mb": rss_open,
           "warm_up_s": warm_s, "rss_warm_mb": rss_warm,
           "rss_after_keyword_mb": rss_keyword, "keyword_queries": queries,
           "keyword": common.percentiles([s for q in queries for s in q["times_s"]]),
           "keyword_cpu": common.percentiles([s for q in queries for s in q["cpu_s"]]),
           "fts_and": common.percentiles([s for q in queries for s in q["fts_and_s"]]),
           "fts_or": common.percentiles([s for q in queries for s in q["fts_or_s"]]),
           "keyword_by_class": {f"{c}/{n}": common.percentiles([s for q in queries if q["class"] == c
                                                                and q["terms"] == n for s in q["times_s"]])
                                for c in CLASSES for n in (1, 2, 3)},
           "page_table_s": page_table_s, "page_table_cpu_s": page_table_cpu,
           "drawing_first_s": first_s if texts else None,
           "drawing": common.percentiles(drawing), "drawing_cpu": common.percentiles(drawing_cpu), "drawing_words": [len(t.split()) for _, t in texts],
           "drawing_self_rank1": sum(r == 1 for r in self_rank) / max(1, len(self_rank)),
           "rss_after_drawing_mb": common.current_rss_mb(), "peak_rss_mb": peak_rss_mb(),
           "load_average": common.machine_info()["load_average"]}
    engine.close()
    return out


def measure_fts(args, work: Path, save) -> dict:
    library = work / "library"
    out: dict = {"sizes": []}
    for size in args.sizes:
        log(f"catalog: growing to {size:,} chunks")
        grow = run_child(phase_fts_grow, str(library), size, args.seed)
        log(f"  {grow['chunks']:,} chunks: {grow['chunks_per_s']:.0f} chunks/s, "
            f"{grow['documents_per_s']:.0f} documents/s inserted; peak {grow['peak_rss_mb']:.0f} MB")
        size_info = catalog_bytes(library)
        log(f"  catalog {size_info['file_bytes'] / 2**20:.0f} MB")
        q = run_child(phase_fts_query, str(library), args.seed, args.keyword_queries, args.keyword_repeats,
                      args.drawing_queries)
        log(f"  keyword p50 {q['keyword']['p50_ms']:.1f} ms p95 {q['keyword']['p95_ms']:.1f} ms; "
            f"drawing p50 {q['drawing'].get('p50_ms', float('nan')):.0f} ms "
            f"p95 {q['drawing'].get('p95_ms', float('nan')):.0f} ms; page table {q['page_table_s']:.2f} s")
        row = {"chunks": grow["chunks"], "grow": grow, "disk": size_info, "queries": q}
        if "e2e" in args.what:
            row["e2e"] = measure_e2e(args, library, grow["chunks"])
        out["sizes"].append(row)
        save("fts", out)
    return out


def text_vector_path(library: str) -> str:
    """Where the library keeps the default pack's text vectors (Library.vector_path)."""
    from engine.library import Library

    lib = Library(Path(library), image_encoder=None, ocr=None)
    try:
        return str(lib.vector_path("text"))
    finally:
        lib.close()


def measure_e2e(args, library: Path, chunks: int) -> dict:
    """The catalog's chunks given synthetic f32 text vectors under their ids (a fresh catalog
    numbers its chunks 1..n), then the same queries as the product runs them."""
    path = Path(run_child(text_vector_path, str(library)))
    path.unlink(missing_ok=True)
    log(f"  end to end: {chunks:,} text vectors")
    build = run_child(phase_vector_build, str(path), chunks, "f32", args.seed, 0, args.batch)
    build.pop("truth")
    q = run_child(phase_fts_query, str(library), args.seed, args.keyword_queries, args.keyword_repeats,
                  args.drawing_queries, True)
    log(f"  end to end: keyword p50 {q['keyword']['p50_ms']:.1f} ms p95 {q['keyword']['p95_ms']:.1f} ms; "
        f"drawing (no OCR) p50 {q['drawing'].get('p50_ms', float('nan')):.0f} ms; peak {q['peak_rss_mb']:.0f} MB")
    return {"build": build, "queries": q}


# --------------------------------------------------------------------------- extrapolation

def power_law(x1: float, y1: float, x2: float, y2: float, x: float) -> float:
    """y at x on the line through (x1, y1), (x2, y2) in log-log (y2 * (x / x2)^slope)."""
    if min(y1, y2) <= 0 or x1 == x2:
        return y2 * x / x2
    slope = np.log(y2 / y1) / np.log(x2 / x1)
    return float(y2 * (x / x2) ** slope)


def latency_at(x1: float, y1: float, x2: float, y2: float, x: float) -> float:
    """A latency at a larger size: along the power law, but never below the largest measured (a
    larger index is not faster to search: a falling pair of measurements is noise, not a trend)."""
    return max(y2, power_law(x1, y1, x2, y2, x))


def extrapolate_vectors(vec: dict, sizes: list[int], dtypes: list[str]) -> list[dict]:
    """Rows for (size, dtype) not measured: file and memory from the graph bytes per vector of the
    largest measured index plus dim x scalar size; build time from the measured add rate of that
    dtype (a lower bound: inserting into a larger graph costs more); latency along a power law
    between the two largest measured sizes of that dtype, never below the larger one's."""
    runs = vec.get("runs", [])
    if not runs:
        return []
    largest = max(runs, key=lambda r: r["vectors"])
    graph = largest["build"]["file_bytes"] / largest["vectors"] - synth.DIM * SCALAR_BYTES[largest["dtype"]]
    out = []
    for size in sizes:
        for dtype in dtypes:
            if any(r["vectors"] == size and r["dtype"] == dtype for r in runs):
                continue
            same = sorted((r for r in runs if r["dtype"] == dtype), key=lambda r: r["vectors"])
            row = {"vectors": size, "dtype": dtype, "extrapolated": True, "graph_bytes_per_vector": graph,
                   "file_bytes": size * (graph + synth.DIM * SCALAR_BYTES[dtype])}
            if same:
                row["build_s_at_least"] = size / same[-1]["build"]["adds_per_s"]
            if len(same) >= 2:
                a, b = same[-2], same[-1]
                for key in ("p50_ms", "p95_ms"):
                    row[f"load_{key}"] = latency_at(a["vectors"], a["load"]["latency"][key],
                                                   b["vectors"], b["load"]["latency"][key], size)
                row["save_s"] = b["load"]["save_s"] * size / b["vectors"]
            out.append(row)
    return out


def extrapolate_fts(fts: dict, sizes: list[int]) -> list[dict]:
    """Rows for sizes not measured, from the two largest measured: bytes and the page-table and
    count times in proportion to chunks, latencies along a power law, never below the larger
    size's (the CPU ones are the ones to trust on shared cores: wall times follow the load of the
    moment), the last insert rate."""
    measured = sorted(fts.get("sizes", []), key=lambda r: r["chunks"])
    if len(measured) < 2:
        return []
    a, b = measured[-2], measured[-1]
    out = []
    for size in sizes:
        if any(abs(r["chunks"] - size) < 0.01 * size for r in measured):
            continue
        ratio = size / b["chunks"]
        grown = [r for r in measured if r["grow"]["chunks_per_s"]]  # (a size measured as it stood grew nothing)
        row = {"chunks": size, "extrapolated": True, "from": [a["chunks"], b["chunks"]],
               "file_bytes": b["disk"]["file_bytes"] * ratio,
               "chunks_per_s": grown[-1]["grow"]["chunks_per_s"] if grown else None,
               "page_table_s": b["queries"]["page_table_s"] * ratio,
               "chunk_count_s": b["queries"]["chunk_count_s"] * ratio}
        for name in ("keyword", "keyword_cpu", "fts_and", "fts_or", "drawing", "drawing_cpu"):
            for key in ("p50_ms", "p95_ms"):
                if name in a["queries"] and name in b["queries"]:
                    row[f"{name}_{key}"] = latency_at(a["chunks"], a["queries"][name][key],
                                                     b["chunks"], b["queries"][name][key], size)
        if "page_table_cpu_s" in b["queries"]:
            row["page_table_cpu_s"] = b["queries"]["page_table_cpu_s"] * ratio
        out.append(row)
    return out


def merge_results(results: list[dict]) -> dict:
    """The measured rows of several results as one: vector runs by (size, dtype), catalog sizes by
    chunk count; a later result's row replaces an earlier one's. Each row names its source."""
    runs: dict[tuple[int, str], dict] = {}
    sizes: dict[int, dict] = {}
    for r in results:
        for run in _get(r, "vectors", "runs") or []:
            runs[(run["vectors"], run["dtype"])] = {**run, "source": r.get("source")}
        for row in _get(r, "fts", "sizes") or []:
            sizes[row["chunks"]] = {**row, "source": r.get("source")}
    out: dict = {}
    if runs:
        out["vectors"] = {"runs": [runs[k] for k in sorted(runs)], "skipped": []}
    if sizes:
        out["fts"] = {"sizes": [sizes[k] for k in sorted(sizes)]}
    return out


# --------------------------------------------------------------------------- output

def _get(d: dict, *keys: str):
    for k in keys:
        d = d.get(k) if isinstance(d, dict) else None
    return d


def print_summary(r: dict) -> None:
    """Tables of the measured rows (and extrapolated ones, marked); "cpu" columns are this
    process's CPU time, the figure to compare on shared cores."""
    vec = r.get("vectors")
    if vec:
        rows = []
        for run in vec["runs"]:
            b, ld, vw = run["build"], run["load"], run["view"]
            rows.append({"n": f"{run['vectors']:,}", "dtype": run["dtype"], "rate": b["adds_per_s"],
                         "cpu": b.get("adds_per_cpu_s"), "build": b["add_s"] / 60, "mb": b["file_bytes"] / 2**20,
                         "peak": b["peak_rss_mb"], "open": ld["open_s"], "rss": ld["rss_open_mb"],
                         "p50": ld["latency"]["p50_ms"], "p95": ld["latency"]["p95_ms"],
                         "c50": _get(ld, "latency_cpu", "p50_ms"), "r10": ld["recall_at_10"],
                         "rk": ld["recall_10_in_k"], "vrss": vw["rss_after_queries_mb"],
                         "vp50": vw["latency"]["p50_ms"], "add": ld["add_32"]["p50_ms"],
                         "add1": ld["add_32_first_s"] * 1e3 if "add_32_first_s" in ld else None,
                         "raw": _get(ld, "add_32_usearch", "p50_ms"), "save": ld["save_s"]})
        for x in vec.get("extrapolated", []):
            rows.append({"n": f"{x['vectors']:,} (extrap.)", "dtype": x["dtype"], "mb": x["file_bytes"] / 2**20,
                         "build": x.get("build_s_at_least", float("nan")) / 60, "p50": x.get("load_p50_ms"),
                         "p95": x.get("load_p95_ms"), "save": x.get("save_s")})
        print(f"\nVector index (usearch via VectorIndex; k={_candidates()}; build on {os.cpu_count()} cores; "
              "R@10: top 10 of the k found vs the exact top 10; in k: exact top 10 among the k)")
        print(common.format_table(rows, ["n", "dtype", "rate", "cpu", "build", "mb", "peak", "open", "rss", "p50",
                                         "p95", "c50", "r10", "rk", "vrss", "vp50", "add1", "add", "raw", "save"],
                                  ["vectors", "dtype", "adds/s", "adds/cpu-s", "build min", "file MB",
                                   "build peak MB", "load s", "loaded RSS MB", "p50 ms", "p95 ms", "cpu p50 ms",
                                   "R@10", "in k", "view RSS MB", "view p50 ms", "first add 32 ms", "add 32 ms",
                                   "usearch add 32 ms",
                                   "save s"]))
    fts = r.get("fts")
    if not fts:
        return
    rows = []
    for s in fts["sizes"]:
        g, d = s["grow"], s["disk"]
        tables = d.get("tables", {})
        rows.append({"n": f"{s['chunks']:,}", "rate": g["chunks_per_s"], "cpu": g.get("chunks_per_cpu_s"),
                     "docs": g["documents_per_s"], "mb": d["file_bytes"] / 2**20, "bpc": d["file_bytes"] / s["chunks"],
                     "pages": tables.get("pages", 0) / s["chunks"],
                     "fts": sum(v for k, v in tables.items() if k.startswith("chunk_fts")) / s["chunks"],
                     "peak": g["peak_rss_mb"]})
    for x in fts.get("extrapolated", []):
        rows.append({"n": f"{x['chunks']:,} (extrap.)", "rate": x["chunks_per_s"], "mb": x["file_bytes"] / 2**20,
                     "bpc": x["file_bytes"] / x["chunks"]})
    print("\nCatalog (SQLite WAL + FTS5, one transaction per document; bytes per chunk: whole file, pages "
          "table (text + word boxes), FTS5 tables)")
    print(common.format_table(rows, ["n", "rate", "cpu", "docs", "mb", "bpc", "pages", "fts", "peak"],
                              ["chunks", "insert chunks/s", "chunks/cpu-s", "commits/s", "catalog MB", "bytes/chunk",
                               "pages B/chunk", "FTS5 B/chunk", "peak MB"]))
    rows = []
    for s in fts["sizes"]:
        for label, q in (("lexical", s["queries"]), ("as shipped", _get(s, "e2e", "queries"))):
            if q:
                rows.append({"n": f"{s['chunks']:,}", "what": label, "k50": q["keyword"]["p50_ms"],
                             "k95": q["keyword"]["p95_ms"], "kc": _get(q, "keyword_cpu", "p50_ms"),
                             "and": q["fts_and"]["p50_ms"], "or": q["fts_or"]["p50_ms"],
                             "d50": q["drawing"].get("p50_ms"), "d95": q["drawing"].get("p95_ms"),
                             "dc": _get(q, "drawing_cpu", "p50_ms"), "first": q["drawing_first_s"],
                             "pt": q["page_table_s"], "count": q["chunk_count_s"], "peak": q["peak_rss_mb"]})
    for x in fts.get("extrapolated", []):
        rows.append({"n": f"{x['chunks']:,} (extrap.)", "what": "lexical", "k50": x["keyword_p50_ms"],
                     "k95": x["keyword_p95_ms"], "kc": x.get("keyword_cpu_p50_ms"), "and": x["fts_and_p50_ms"],
                     "or": x["fts_or_p50_ms"], "d50": x["drawing_p50_ms"], "d95": x["drawing_p95_ms"],
                     "dc": x.get("drawing_cpu_p50_ms"), "pt": x["page_table_s"], "count": x["chunk_count_s"]})
    print("\nQueries (ms; lexical: catalog only; as shipped: + query embedding and vector search; drawing "
          "queries without OCR)")
    print(common.format_table(rows, ["n", "what", "k50", "k95", "kc", "and", "or", "d50", "d95", "dc", "first", "pt",
                                     "count", "peak"],
                              ["chunks", "evidence", "keyword p50", "p95", "cpu p50", "FTS AND p50", "FTS OR p50",
                               "drawing p50", "p95", "cpu p50", "first drawing s", "page table s", "count(*) s",
                               "peak MB"]))
    last = fts["sizes"][-1]["queries"] if fts["sizes"] else None
    if last:
        rows = [{"cls": k, **v} for k, v in last["keyword_by_class"].items()]
        print(f"\nKeyword latency by class at {last['chunks']:,} chunks, lexical (ms)")
        print(common.format_table(rows, ["cls", "n", "p50_ms", "p95_ms", "max_ms"],
                                  ["class/terms", "runs", "p50", "p95", "max"]))


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    temp = None
    if args.workdir is None:
        work = Path(tempfile.mkdtemp(prefix="zumen-bench-capacity-"))
        temp = None if args.keep else work
    else:
        work = args.workdir
        work.mkdir(parents=True, exist_ok=True)
    result: dict = {"benchmark": "capacity", "machine": common.machine_info(),
                    "command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
                    "args": {k: (str(v) if isinstance(v, Path) else sorted(v) if isinstance(v, set) else v)
                             for k, v in vars(args).items()},
                    "disk_free_gb": shutil.disk_usage(work).free / 1e9}

    def save(part: str, value: dict) -> None:  # after every measured row: a stopped run keeps what it measured
        result[part] = value
        common.write_json(args.out, result)

    try:
        if args.sources:  # measure nothing: extrapolate from earlier results
            result["sources"] = [str(f) for f in args.sources]
            result.update(merge_results([{**json.loads(f.read_text()), "source": str(f)} for f in args.sources]))
            if "vectors" in result:
                result["vectors"]["extrapolated"] = extrapolate_vectors(
                    result["vectors"], args.extrapolate, sorted({r["dtype"] for r in result["vectors"]["runs"]}))
            if "fts" in result:
                result["fts"]["extrapolated"] = extrapolate_fts(result["fts"], args.extrapolate)
            common.write_json(args.out, result)
            print_summary(result)
            print(f"\nJSON: {args.out}")
            return 0
        if "vectors" in args.what:
            result["vectors"] = measure_vectors(args, work, save)
            extra = sorted(set(args.extrapolate) | {s["vectors"] for s in result["vectors"]["skipped"]})
            result["vectors"]["extrapolated"] = extrapolate_vectors(result["vectors"], extra,
                                                                    sorted(set(args.dtypes) | {"f32"}))
        if args.what & {"fts", "e2e"}:
            result["fts"] = measure_fts(args, work, save)
            result["fts"]["extrapolated"] = extrapolate_fts(result["fts"], args.extrapolate)
        result["machine_after"] = common.machine_info()
        common.write_json(args.out, result)
        print_summary(result)
        print(f"\nJSON: {args.out}")
        return 0
    finally:
        if temp is not None:
            shutil.rmtree(temp, ignore_errors=True)
        elif args.workdir is not None and not args.keep:
            for p in list(work.glob("vectors-*.usearch*")) + [work / "library"]:
                shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
