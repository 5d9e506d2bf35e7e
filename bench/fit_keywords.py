"""Leave-one-source-out fitting of the keyword search's fusion of words and meaning.

A typed query's pages are ranked by words (the share of the terms a page holds plus half its
BM25, engine/search/query.py) and meaning (the text tower's cosine), fused as a weighted sum of
scaled scores. Two values decide how much meaning counts: its weight (`weight_semantic`; words
weigh 1) and its scale (`keyword_meaning_floor`: the cosine that counts as no meaning at all, or
None for min-max over the query's own meaning list, which makes its best page 1.0 however weak).
On bench_keywords.py's queries (typed drawing numbers, the same typed with spaces, typed file
names; bench_dev.py's library), every value of the grid is run through `Engine.search` once; then
for every source S the values best on the other sources (mean over the query kinds of the macro
(MRR + mAP) / 2 over sources, cells of fewer than MIN_QUERIES queries left out of the objective)
are reported on S. The headline is the mean over left-out sources; the values to ship are fitted
the same way on all sources (printed last).

    nice python bench/fit_keywords.py                       # -> bench/out/fit-keywords.json (~15 min)
"""

from __future__ import annotations

import itertools
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import common, dev_sets  # noqa: E402
from bench.bench_dev import KS, dev_library  # noqa: E402
from bench.bench_keywords import keyword_queries, log, parse_args  # noqa: E402

WEIGHTS = (0.0, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5)
FLOORS = (None, 0.3, 0.45, 0.6)
MIN_QUERIES = 5  # a source's cell with fewer queries is reported, not fitted on (one query = 0 or 1)
SHOWN = ("recall@1", "mrr", "ndcg@10", "map")


Point = tuple[float, "float | None"]  # (weight_semantic, keyword_meaning_floor)


def measure(engine, corpus: Path, queries: dict, depth: int) -> dict[Point, dict]:
    """{grid point: {kind: {set: metrics}}}: every query of `queries` run with each point's values
    (the searcher's settings swapped; nothing else changes between runs)."""
    from engine.evaluate.metrics import evaluate_run

    searcher = engine._searcher  # bench only: the facade keeps one settings object per library
    shipped = searcher.settings
    out: dict[Point, dict] = {}
    try:
        for weight, floor in itertools.product(WEIGHTS, FLOORS):
            searcher.settings = replace(shipped, weight_semantic=weight, keyword_meaning_floor=floor)
            cells: dict = {}
            for kind, by_set in queries.items():
                for name, recs in by_set.items():
                    if not recs:
                        continue
                    run, qrels = {}, {}
                    for rel, (query, relevant) in recs.items():
                        hits = engine.search(query, limit=depth).hits
                        judged = [dev_sets.judged_hit_id(corpus, h, relevant) for h in hits]
                        run[rel], qrels[rel] = list(dict.fromkeys(judged))[:depth], relevant
                    cells.setdefault(kind, {})[name] = evaluate_run(run, qrels, KS)
            out[(weight, floor)] = cells
            log(f"  meaning weight {weight}, floor {floor}: done")
    finally:
        searcher.settings = shipped
    return out


def objective(cells: dict, sources: set[str]) -> float:
    """Mean over query kinds of the macro over `sources` of (MRR + mAP) / 2."""
    per_kind = []
    for by_set in cells.values():
        vals = [(m["mrr"] + m["map"]) / 2 for name, m in by_set.items()
                if name in sources and m["queries"] >= MIN_QUERIES]
        if vals:
            per_kind.append(float(np.mean(vals)))
    return float(np.mean(per_kind)) if per_kind else 0.0


def best(measured: dict[Point, dict], sources: set[str]) -> Point:
    """The point with the best objective on `sources`; ties to the lighter meaning weight (the
    less a ranking leans on an encoder, the less it moves when the encoder changes)."""
    return max(measured, key=lambda p: (round(objective(measured[p], sources), 6), -p[0]))


def loso(measured: dict[Point, dict], sources: list[str], shipped: Point) -> dict:
    folds = {}
    for held in sources:
        point = best(measured, set(sources) - {held})
        folds[held] = {"point": point, "left_out": {kind: by_set[held] for kind, by_set in measured[point].items()
                                                   if held in by_set},
                       "shipped": {kind: by_set[held] for kind, by_set in measured[shipped].items() if held in by_set}}
    return folds


def table(folds: dict) -> list[dict]:
    rows = []
    kinds = sorted({k for f in folds.values() for k in f["left_out"]})
    for kind in kinds:
        for which in ("shipped", "left_out"):
            per = [(name, f[which][kind]) for name, f in folds.items() if kind in f[which]]
            for name, m in per:
                rows.append({"kind": kind, "ranking": which, "set": name, "n": m["queries"],
                             **{k: f"{m[k]:.3f}" for k in SHOWN}})
            rows.append({"kind": kind, "ranking": which, "set": "MACRO", "n": sum(m["queries"] for _, m in per),
                         **{k: f"{np.mean([m[k] for _, m in per]):.3f}" for k in SHOWN}})
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv, __doc__, "fit-keywords.json")
    opened = dev_library(args)
    if opened is None:
        return 2
    sets, corpus, engine = opened
    try:
        settings = engine._searcher.settings
        shipped: Point = (settings.weight_semantic, settings.keyword_meaning_floor)
        if shipped not in itertools.product(WEIGHTS, FLOORS):
            raise SystemExit(f"the shipped values {shipped} are not on the grid")
        measured = measure(engine, corpus, keyword_queries(sets), args.depth)
    finally:
        engine.close()
    sources = [s.name for s in sets]
    folds = loso(measured, sources, shipped)
    chosen = best(measured, set(sources))
    print(common.format_table(table(folds), ["kind", "ranking", "set", "n", *SHOWN]))
    print("\nleft out -> values fitted on the other sources (meaning weight, floor):")
    for name, f in folds.items():
        print(f"  {name}: {f['point']}")
    print(f"shipped now: {shipped}, objective {objective(measured[shipped], set(sources)):.4f}")
    print(f"fitted on all sources: {chosen}, objective {objective(measured[chosen], set(sources)):.4f}")
    common.write_json(args.out, {
        "benchmark": "fit-keywords", "machine": common.machine_info(), "grid": {"weights": WEIGHTS, "floors": FLOORS},
        "shipped": shipped, "chosen": chosen,
        "folds": {n: {**f, "point": list(f["point"])} for n, f in folds.items()},
        "measured": [{"weight": p[0], "floor": p[1], "cells": c} for p, c in measured.items()]})
    print(f"\nJSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
