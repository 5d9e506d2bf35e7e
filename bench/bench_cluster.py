"""Indexing on a Dask cluster, on this machine: 1 and 2 worker processes beside the run in one
process; what crosses the network per page; how many pages/s the single writer commits.

    nice python bench/bench_cluster.py                       # the sample library -> bench/out/cluster.json
    nice python bench/bench_cluster.py --corpus DIR --writer-copies 50

Phases (one process; each cluster is a LocalCluster on 127.0.0.1, worker processes of one thread):
1. runs      the corpus indexed into a fresh library by `Engine.index`, `--rounds` times each,
             round-robin, the fastest counting: in this process (the
             baseline, models loaded before the clock starts), then with `EngineSettings.cluster`
             on 1 worker using every core (`threads=0`), 1 worker with one onnxruntime/OCR thread,
             and 2 workers with one thread each. Each cluster's workers first index a small
             warm-up folder (so they have loaded the model pack and OCR, as long-running workers
             have); the timed run's library is checked against the baseline's (same catalog rows,
             same vectors under the same keys, bit for bit). CPU seconds (this process and the
             workers) per page say what load from other work cannot: the cost of the cluster.
2. network   what one task carries each way, serialised as Dask sends it
             (`distributed.protocol.serialize_bytes`), per page of the corpus: the read tasks
             (file job out; pages with words and boxes, chunks back), the text batches (texts
             out, vectors back), the picture batches (paths out, vectors back), and the spec
             (settings, reader) that goes with every task.
3. writer    the writer's own work with the workers' part taken away: `IndexingPipeline.run` over
             `--writer-copies` hard-linked copies of the corpus, with a runner that answers at
             once (the baseline's extracted pages, random unit vectors): scan, catalog commits,
             token counting and sorting of the texts, usearch adds, saves. Pages/s here is where
             the single writer saturates, however many workers there are.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import common  # noqa: E402

WARM_UP = ["drawings/D-64029-06.pdf", "scans/scan_0001.png", "notes/memo_2021-02-22.txt"]
CONFIGS = [  # (name, worker processes, onnxruntime/OCR threads per worker: 0 = all cores)
    ("1 worker, all cores", 1, 0),
    ("1 worker, 1 thread", 1, 1),
    ("2 workers, 1 thread each", 2, 1),
]


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from engine.config import SAMPLE_LIBRARY

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, default=SAMPLE_LIBRARY, help="folder to index (default: the sample library)")
    p.add_argument("--rounds", type=int, default=2, help="runs of each configuration (the fastest counts)")
    p.add_argument("--writer-copies", type=int, default=20, help="copies of the corpus the writer phase commits")
    p.add_argument("--skip", default="", help="comma list of phases to leave out: runs,network,writer")
    p.add_argument("--out", type=Path, default=common.OUT_DIR / "cluster.json")
    return p.parse_args(argv)


# -- 1. runs -------------------------------------------------------------------------------------
@contextmanager
def local_cluster(workers: int):
    from distributed import LocalCluster

    t0 = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address="127.0.0.1:0") as cluster:
        yield cluster, time.perf_counter() - t0


def index(lib: Path, corpus: Path, settings, warm: bool = False) -> dict:
    from engine.api import Engine

    with Engine.open(lib, settings=settings) as engine:
        if warm:
            engine.warm_up()  # the models are loaded before the clock starts, as on a worker
        r = engine.index([corpus])
    read_s = r.elapsed_s - r.embed_s
    return {"files": r.added + r.failed, "pages": r.pages, "failed": r.failed, "elapsed_s": r.elapsed_s,
            "read_s": read_s, "embed_s": r.embed_s, "pages_per_s": r.pages / r.elapsed_s,
            "read_pages_per_s": r.pages / read_s if read_s else None}


def same_library(a: Path, b: Path) -> bool:
    """Same catalog rows (ids, texts, words, fingerprints) and the same vectors under the same keys,
    bit for bit. (Not the same vector files: usearch places a batch's vectors in its slots in
    thread order, which varies from run to run, in one process too.)"""
    import engine.store.vectors  # noqa: F401  loads onnxruntime before usearch (see there)
    from usearch.index import Index

    queries = ["SELECT id, path, sha1, kind, title, page_count, state, note FROM documents ORDER BY id",
               "SELECT id, doc_id, page_no, text, words, fp FROM pages ORDER BY id",
               "SELECT id, page_id, ord, text, fp FROM chunks ORDER BY id", "SELECT path, reason FROM failures ORDER BY path"]
    rows = [[sqlite3.connect(lib / "catalog.sqlite").execute(q).fetchall() for q in queries] for lib in (a, b)]
    files = sorted(p.relative_to(a) for p in (a / "vectors").rglob("index.usearch"))
    if rows[0] != rows[1] or not files or not all((b / f).exists() for f in files):
        return False
    for f in files:
        ia, ib = (Index.restore(str(lib / f), view=True) for lib in (a, b))
        keys = np.sort(np.asarray(ia.keys, dtype=np.uint64))
        if not (np.array_equal(keys, np.sort(np.asarray(ib.keys, dtype=np.uint64)))
                and np.array_equal(ia.get(keys), ib.get(keys))):
            return False
    return True


def cpu_seconds(client=None) -> float:
    """CPU time (user + system) of this process and of the cluster's worker processes so far."""
    own = sum(os.times()[:2])
    return own + (sum(client.run(lambda: sum(os.times()[:2])).values()) if client is not None else 0.0)


def run_config(corpus: Path, work: Path, warm: Path, name: str, workers: int, threads: int, n: int) -> dict:
    """One timed run of a configuration (0 workers: in this process) into a fresh library."""
    from distributed import Client

    from engine.config import EngineSettings

    lib = work / f"run-{n}-{workers}-{threads}"
    if not workers:
        cpu = cpu_seconds()
        row = index(lib, corpus, EngineSettings(threads=threads), warm=True)
        return {"config": name, "workers": 0, "threads": threads, "lib": lib,
                "cpu_s": cpu_seconds() - cpu, **row}
    with local_cluster(workers) as (cluster, start_s), Client(cluster, set_as_default=False) as client:
        settings = EngineSettings(cluster=cluster.scheduler_address, threads=threads)
        t0 = time.perf_counter()
        index(work / f"warm-{n}-{workers}-{threads}", warm, settings)
        warm_s = time.perf_counter() - t0
        log(f"{name}: cluster up in {start_s:.1f} s, warm-up {warm_s:.1f} s")
        cpu = cpu_seconds(client)
        row = index(lib, corpus, settings)
        return {"config": name, "workers": workers, "threads": threads, "lib": lib, "cluster_start_s": start_s,
                "warm_up_s": warm_s, "cpu_s": cpu_seconds(client) - cpu, **row}


def run_phase(corpus: Path, work: Path, rounds: int) -> list[dict]:
    """Every configuration `rounds` times, round-robin (load from other work spreads over all of
    them); each configuration's fastest run is its row, every run's time is kept."""
    from engine.config import SAMPLE_LIBRARY

    warm = work / "warm-up"
    warm.mkdir()
    for rel in WARM_UP:
        shutil.copy(SAMPLE_LIBRARY / rel, warm / Path(rel).name)
    configs = [("in one process (baseline)", 0, 0), *CONFIGS]
    runs: dict[str, list[dict]] = {name: [] for name, _, _ in configs}
    for n in range(rounds):
        for name, workers, threads in configs:
            log(f"round {n + 1}: {name}")
            runs[name].append(run_config(corpus, work, warm, name, workers, threads, n))
    reference = runs[configs[0][0]][0]["lib"]
    rows = []
    for name, _, _ in configs:
        row = dict(min(runs[name], key=lambda r: r["elapsed_s"]))
        row["all_elapsed_s"] = [r["elapsed_s"] for r in runs[name]]
        row["same_library_as_baseline"] = all(same_library(reference, r["lib"]) for r in runs[name])
        row.pop("lib")
        rows.append(row)
    base = rows[0]
    one = next(r for r in rows if r["workers"] == 1 and r["threads"] == 1)
    for r in rows:
        r["cpu_s_per_page"] = r["cpu_s"] / r["pages"]
        r["vs_baseline"] = r["pages_per_s"] / base["pages_per_s"]
        if r["workers"] and r["threads"] == 1:
            r["speed_up_vs_1_worker"] = r["pages_per_s"] / one["pages_per_s"]
            r["efficiency"] = r["speed_up_vs_1_worker"] / r["workers"]
    return rows


# -- 2. network ----------------------------------------------------------------------------------
def library_reads(lib_root: Path):
    """Each indexed document as the PageBatch its read task returned (rebuilt from the catalog),
    with its path; and the failed files as Unreadable."""
    from engine.indexing.work import PageBatch, Unreadable
    from engine.store.catalog import ChunkDraft, Catalog

    cat = Catalog(lib_root / "catalog.sqlite")
    db = cat.db
    for doc_id, path, sha1, fmt, kind, title, state, note, total in db.execute(
            "SELECT id, path, sha1, format, kind, title, state, note, page_total FROM documents ORDER BY id").fetchall():
        pages, chunks = [], []
        for (page_id, page_no) in db.execute("SELECT id, page_no FROM pages WHERE doc_id=? ORDER BY page_no", (doc_id,)):
            pages.append(cat.page(doc_id, page_no)[1])
            chunks.append(tuple(ChunkDraft(*row) for row in db.execute(
                "SELECT text, word_start, word_end FROM chunks WHERE page_id=? ORDER BY ord", (page_id,))))
        yield path, [PageBatch(sha1, False, fmt, kind, title, tuple(pages), tuple(chunks), state, note, total)]
    for path, reason in db.execute("SELECT path, reason FROM failures"):
        yield path, [Unreadable(reason)]
    cat.close()


def network_phase(lib_root: Path) -> dict:
    """Bytes per page each way, from the baseline library (what its tasks would carry)."""
    from distributed.protocol import serialize_bytes

    from engine.extract import extract_document, render_page
    from engine.indexing.cluster import worker_spec
    from engine.indexing.pipeline import PAGES_PER_BATCH, IndexingPipeline
    from engine.indexing.work import FileJob
    from engine.library import Library

    size = lambda obj: len(serialize_bytes(obj))  # noqa: E731
    out = {"read_out": 0, "read_back": 0, "texts_out": 0, "vectors_back": 0, "pages_out": 0,
           "page_vectors_back": 0, "tasks": 0}
    pages = words = 0
    for path, events in library_reads(lib_root):
        out["read_out"] += size(FileJob(path))
        out["read_back"] += size(events)
        pages += sum(len(getattr(e, "pages", ())) for e in events)
        words += sum(len(p.words) for e in events for p in getattr(e, "pages", ()))
        out["tasks"] += 1
    lib = Library(lib_root)
    try:
        pipeline = IndexingPipeline(lib, extract=extract_document, render=render_page, suffixes=frozenset())
        ids, fps = (np.array(a, dtype=np.uint64) for a in lib.catalog.chunk_fingerprints())
        dim = lib.text_encoder.dim
        for texts, _ in pipeline._text_batches(ids, fps):
            out["texts_out"] += size(texts)
            out["vectors_back"] += size(np.zeros((len(texts), dim), dtype=np.float32))
            out["tasks"] += 1
        visual = lib.catalog.visual_pages()
        docs = lib.catalog.documents_by_ids(p[1] for p in visual)
        for start in range(0, len(visual), PAGES_PER_BATCH):
            batch = [(docs[d].path, no) for _, d, no, _ in visual[start:start + PAGES_PER_BATCH]]
            out["pages_out"] += size(batch)
            out["page_vectors_back"] += size((list(range(len(batch))), np.zeros((len(batch), dim), np.float32)))
            out["tasks"] += 1
        spec = size(worker_spec(lib, extract_document, render_page))
    finally:
        lib.close()
    per_page = {k: v / pages for k, v in out.items() if k != "tasks"}
    per_page["spec_per_task"] = spec
    per_page["spec"] = spec * out["tasks"] / pages
    per_page["out"] = per_page["read_out"] + per_page["texts_out"] + per_page["pages_out"] + per_page["spec"]
    per_page["back"] = per_page["read_back"] + per_page["vectors_back"] + per_page["page_vectors_back"]
    return {"pages": pages, "words": words, "read_back_per_word": out["read_back"] / max(words, 1),
            "tasks": out["tasks"], "bytes_per_page": per_page,
            "visual_pages": len(visual), "chunks": len(ids)}


# -- 3. writer -----------------------------------------------------------------------------------
class InstantRunner:
    """The workers' part done already: each read answers with the baseline's pages, each batch
    with random unit vectors (a `Runner`)."""

    def __init__(self, reads: dict[str, list], corpus: Path, copies_root: Path, dim: int) -> None:
        self._reads = reads
        self._corpus, self._copies = str(corpus), str(copies_root)
        self._rng = np.random.default_rng(0)
        self.dim = dim

    def _vectors(self, n: int) -> np.ndarray:
        v = self._rng.standard_normal((n, self.dim)).astype(np.float32)  # (n, dim)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def map(self, fn, items, payload, cancel=None, lost=None):
        from engine.indexing.work import PageBatch, embed_pages, encode_texts, read_file

        for item in items:
            arg = payload(item)
            if fn is read_file:  # copies/<n>/rel: the corpus's rel, its title marked (texts differ)
                copy, *rel = Path(arg.path).relative_to(self._copies).parts
                yield item, [replace(e, title=f"{e.title} ({copy})") if isinstance(e, PageBatch) else e
                             for e in self._reads[str(Path(self._corpus, *rel))]]
            elif fn is encode_texts:
                yield item, self._vectors(len(arg))
            elif fn is embed_pages:
                yield item, (list(range(len(arg))), self._vectors(len(arg)))

    def close(self) -> None:
        pass


def writer_phase(lib_root: Path, corpus: Path, copies: int, work: Path) -> dict:
    from engine.config import EngineSettings
    from engine.extract import SUPPORTED_SUFFIXES, extract_document, render_page
    from engine.indexing.pipeline import IndexingPipeline
    from engine.library import Library

    reads = dict(library_reads(lib_root))
    root = work / "copies"
    for n in range(copies):  # hard links: the scan sees distinct files, nothing is read from them
        for src in corpus.rglob("*"):
            if src.is_file():
                dest = root / str(n) / src.relative_to(corpus)
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.link(src, dest)
    rss_before = common.current_rss_mb()
    lib = Library(work / "writer-lib", settings=EngineSettings())
    try:
        runner = InstantRunner(reads, corpus, root, lib.text_encoder.dim)
        lib.image_encoder  # noqa: B018  loaded before the clock, like the writer's own encoders

        class Pipeline(IndexingPipeline):
            @contextmanager
            def _runner(self, progress=None):
                yield runner

        t0 = time.perf_counter()
        r = Pipeline(lib, extract=extract_document, render=render_page, suffixes=SUPPORTED_SUFFIXES).run([root])
        elapsed = time.perf_counter() - t0
        chunks, visual = lib.catalog.chunk_count(), len(lib.catalog.visual_pages())
    finally:
        lib.close()
    read_s = r.elapsed_s - r.embed_s
    return {"copies": copies, "pages": r.pages, "chunks": chunks, "visual_pages": visual,
            "elapsed_s": elapsed, "commit_s": read_s, "vectors_s": r.embed_s,
            "pages_per_s": r.pages / elapsed, "commit_pages_per_s": r.pages / read_s,
            "vector_pages_per_s": r.pages / r.embed_s, "vectors_per_s": (chunks + visual) / r.embed_s,
            "rss_growth_mb": common.current_rss_mb() - rss_before}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    result: dict = {"machine": common.machine_info(), "corpus": str(args.corpus)}
    with tempfile.TemporaryDirectory(prefix="zumen-bench-cluster-") as tmp:
        work = Path(tmp)
        if "runs" not in skip:
            rows = result["runs"] = run_phase(args.corpus, work, args.rounds)
            print(common.format_table(rows, ["config", "pages", "elapsed_s", "read_s", "embed_s", "cpu_s_per_page",
                                             "pages_per_s",
                                             "vs_baseline", "speed_up_vs_1_worker", "efficiency",
                                             "same_library_as_baseline"]))
        else:
            from engine.api import Engine

            with Engine.open(work / "run-0-0-0") as engine:
                engine.index([args.corpus])
        local = work / "run-0-0-0"
        if "network" not in skip:
            net = result["network"] = network_phase(local)
            print(f"\nper page over the network ({net['pages']} pages, {net['tasks']} tasks): "
                  + ", ".join(f"{k} {v:,.0f} B" for k, v in net["bytes_per_page"].items()))
        if "writer" not in skip:
            log(f"writer: {args.writer_copies} copies")
            w = result["writer"] = writer_phase(local, args.corpus, args.writer_copies, work)
            print(f"\nwriter alone: {w['pages']} pages, {w['chunks']} chunks, {w['visual_pages']} pictures in "
                  f"{w['elapsed_s']:.1f} s = {w['pages_per_s']:.0f} pages/s (catalog {w['commit_pages_per_s']:.0f} "
                  f"pages/s, vectors {w['vectors_per_s']:.0f}/s)")
    result["machine_after"] = common.machine_info()["load_average"]
    print(f"\nload average before / after: {result['machine']['load_average']} / {result['machine_after']}")
    common.write_json(args.out, result)
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
