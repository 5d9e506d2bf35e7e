"""Keyword search on the development sets: a drawing number typed into the search box.

    nice python bench/bench_keywords.py                          # the dev library of bench_dev.py
    nice python bench/bench_keywords.py --workdir W --pack DIR   # judge another model pack

Queries, a file's name as a person types it (without the extension, underscores as spaces:
`B1064-A2P-A.PDF` -> "B1064-A2P-A", `Expansion_Card_Retrofit.pdf` -> "Expansion Card Retrofit"):
- drawing: every drawing of every set in ../shared/data that has related documents; relevant:
  the drawing itself (grade 2) and its related documents (grade 1, the set's pairs);
- spaced: the same drawings, their number typed with spaces for its hyphens and dots
  ("JXS 01 03", "B1002 A2P A"), as often copied or dictated; same judgments;
- document: every document whose typed name no other file of the corpus shares (not the
  many README.md); relevant: the document itself. Rankers, in one run: the
engine's keyword search (`Engine.search`: words and meaning), words only, meaning only, and a
TF-IDF baseline over every file's title and text. The library is bench_dev.py's (indexed from
its corpus when missing); the drawing queries of bench_dev.py never test the keyword search's
own fusion, where meaning weighs as much as words, so a change of text tower is judged here too.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import common, dev_sets  # noqa: E402
from bench.bench_dev import KS, METRICS, dev_library  # noqa: E402

RANKERS = {"hybrid": None, "lexical": ("lexical",), "dense": ("semantic",)}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_args(argv: list[str] | None = None, description: str = __doc__,
               out: str = "keywords.json") -> argparse.Namespace:
    """The options of this bench (and of fit_keywords.py, which runs the same queries)."""
    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=dev_sets.DATA)
    p.add_argument("--workdir", type=Path, default=common.OUT_DIR / "dev-work",
                   help="bench_dev.py's work folder: its corpus and library")
    p.add_argument("--pack", type=Path, default=None, help="model pack (default: the library's)")
    p.add_argument("--depth", type=int, default=20)
    p.add_argument("--out", type=Path, default=common.OUT_DIR / out)
    return p.parse_args(argv)


def typed_name(rel: str, spaced: bool = False) -> str:
    """What a person types for a file: its name without the extension, underscores as spaces
    (`spaced`: hyphens and dots too)."""
    return " ".join(w for w in re.split(r"[\s_\-.]+" if spaced else r"[\s_]+", Path(rel).stem) if w)


def keyword_queries(sets: list[dev_sets.DevSet]) -> dict[str, dict[str, dict[str, tuple[str, dict[str, int]]]]]:
    """{kind: {set: {file: (typed query, {judged id: grade})}}}, kind "drawing", "spaced" or
    "document"."""
    names = Counter(typed_name(rel).lower() for s in sets for rel in s.drawings + s.documents)
    out: dict = {"drawing": {}, "spaced": {}, "document": {}}
    for s in sets:
        for kind in ("drawing", "spaced"):
            out[kind][s.name] = {rel: (typed_name(rel, kind == "spaced"), {**{d: 1 for d in docs}, s.doc_id(rel): 2})
                                 for rel, docs in s.qrels.items() if docs and typed_name(rel)}
        out["document"][s.name] = {rel: (typed_name(rel), {s.doc_id(rel): 2}) for rel in s.documents
                                   if typed_name(rel) and names[typed_name(rel).lower()] == 1}
    return out


def tfidf_index(engine, sets, corpus: Path) -> tuple[common.TfidfIndex, list[str]]:
    """TF-IDF over every file of the sets: its title and all its pages' text."""
    from engine.indexing.scanner import canonical

    cat = engine._lib.catalog  # bench only: the facade has no per-document text look-up
    texts: dict[str, str] = {}
    for s in sets:
        for rel in s.drawings + s.documents:
            doc = cat.document_by_path(canonical(corpus / s.name / rel))
            if doc is None:
                continue
            pages = (cat.page(doc.id, n) for n in range(1, doc.page_count + 1))
            texts[s.doc_id(rel)] = " ".join([doc.title, *(p[1].text for p in pages if p)])
    ids = list(texts)
    return common.TfidfIndex({str(i): texts[d] for i, d in enumerate(ids)}), ids


def run(engine, sets, corpus: Path, depth: int) -> dict:
    """{kind: {set: {file: {"query", "relevant", ranker: [judged ids]}}}}"""
    index, ids = tfidf_index(engine, sets, corpus)
    out: dict = {}
    for kind, by_set in keyword_queries(sets).items():
        out[kind] = {name: _run_set(engine, corpus, index, ids, queries, depth) for name, queries in by_set.items()}
        log(f"  {kind}: {sum(map(len, by_set.values()))} queries")
    return out


def judged_ranking(engine, corpus: Path, query: str, relevant: dict[str, int], depth: int,
                   evidence: tuple[str, ...] | None = None) -> list[str]:
    """The judged ids of `Engine.search`'s hits for `query`, each once, at most `depth`."""
    hits = engine.search(query, limit=depth, evidence=evidence).hits
    return list(dict.fromkeys(dev_sets.judged_hit_id(corpus, h, relevant) for h in hits))[:depth]


def _run_set(engine, corpus: Path, index: common.TfidfIndex, ids: list[str], queries: dict, depth: int) -> dict:
    recs = {}
    for rel, (query, relevant) in queries.items():
        rec: dict = {"query": query, "relevant": relevant}
        for ranker, evidence in RANKERS.items():
            rec[ranker] = judged_ranking(engine, corpus, query, relevant, depth, evidence)
        rec["tfidf"] = [ids[int(i)] for i, _ in index.search(query, depth)]
        recs[rel] = rec
    return recs


def metric_rows(measured: dict) -> list[dict]:
    from engine.evaluate.metrics import evaluate_run

    rows = []
    for kind, by_set in measured.items():
        for ranker in [*RANKERS, "tfidf"]:
            per_set = []
            for name, recs in by_set.items():
                if not recs:
                    continue
                m = evaluate_run({q: r[ranker] for q, r in recs.items()},
                                 {q: r["relevant"] for q, r in recs.items()}, KS)
                per_set.append(m)
                rows.append({"kind": kind, "set": name, "ranker": ranker, "n": m["queries"],
                             **{k: m[k] for k in METRICS}})
            n = sum(m["queries"] for m in per_set)
            rows.append({"kind": kind, "set": "MACRO", "ranker": ranker, "n": n,
                         **{k: sum(m[k] for m in per_set) / len(per_set) for k in METRICS}})
            # every query weighs the same: the document queries of some sets are one or two
            rows.append({"kind": kind, "set": "POOLED", "ranker": ranker, "n": n,
                         **{k: sum(m[k] * m["queries"] for m in per_set) / max(1, n) for k in METRICS}})
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    opened = dev_library(args)
    if opened is None:
        return 2
    sets, corpus, engine = opened
    try:
        measured = run(engine, sets, corpus, args.depth)
        pack = engine.status().pack
    finally:
        engine.close()
    rows = metric_rows(measured)
    common.write_json(args.out, {"benchmark": "keywords", "machine": common.machine_info(),
                                 "pack": pack.path if pack else None, "rows": rows, "queries": measured})
    print(common.format_table(sorted(rows, key=lambda r: (r["kind"], r["set"] not in ("MACRO", "POOLED"), r["set"])),
                              ["kind", "set", "ranker", "n", *METRICS]))
    print(f"\nJSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
