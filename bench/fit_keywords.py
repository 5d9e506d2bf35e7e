"""Leave-one-source-out fitting of the keyword search's fusion of words and meaning.

A typed query's pages are ranked by words (the share of the terms a page holds plus half its
BM25, engine/search/query.py) and meaning (the text tower's cosine), fused as a weighted sum of
scaled scores. How much meaning counts: its weight (`weight_semantic`; words weigh 1) and its
scale: min-max over the query's own meaning list (its best page 1.0 however weak) or absolute,
the cosine `keyword_meaning_floor` counting as none, for every query or (`code_meaning_floor`)
for queries made of codes only, whose meaning a sentence encoder does not know.
On bench_keywords.py's queries (typed drawing numbers, the same typed with spaces, typed file
names; bench_dev.py's library), every value of the grid is run through `Engine.search` once; then
for every source S the values best on the other sources (mean over the query kinds of the macro
(MRR + mAP) / 2 over sources, cells of fewer than MIN_QUERIES queries left out of the objective)
are reported on S, the headline being the mean over left-out sources; the values to ship are
fitted the same way on all sources. Two designs are fitted: the codes' floor alone (the meaning of
words queries as shipped; what is shipped) and every value of the grid (for the record: the
folds that leave framework out choose values that cost it, docs/ranking.md).

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

from bench import common  # noqa: E402
from bench.bench_dev import KS, dev_library  # noqa: E402
from bench.bench_keywords import judged_ranking, keyword_queries, log, parse_args  # noqa: E402

WEIGHTS = (0.0, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5)
FLOORS = (None, 0.3, 0.45, 0.6)
CODE_FLOORS = (0.45, 0.6, 0.75)  # tried with every weight and FLOORS[0] (min-max for the rest)
MIN_QUERIES = 5  # a source's cell with fewer queries is reported, not fitted on (one query = 0 or 1)
SHOWN = ("recall@1", "mrr", "ndcg@10", "map")


Point = tuple[float, "float | None", "float | None"]  # weight_semantic, keyword_ and code_meaning_floor


def grid() -> list[Point]:
    return ([(w, f, None) for w, f in itertools.product(WEIGHTS, FLOORS)]
            + [(w, FLOORS[0], c) for w, c in itertools.product(WEIGHTS, CODE_FLOORS)])


def measure(engine, corpus: Path, queries: dict, depth: int) -> dict[Point, dict]:
    """{grid point: {kind: {set: metrics}}}: every query of `queries` run with each point's values
    (the searcher's settings swapped; nothing else changes between runs)."""
    from engine.evaluate.metrics import evaluate_run

    searcher = engine._searcher  # bench only: the facade keeps one settings object per library
    shipped = searcher.settings
    out: dict[Point, dict] = {}
    try:
        for weight, floor, code_floor in grid():
            searcher.settings = replace(shipped, weight_semantic=weight, keyword_meaning_floor=floor,
                                        code_meaning_floor=code_floor)
            cells: dict = {}
            for kind, by_set in queries.items():
                for name, recs in by_set.items():
                    if not recs:
                        continue
                    run = {rel: judged_ranking(engine, corpus, query, relevant, depth)
                           for rel, (query, relevant) in recs.items()}
                    qrels = {rel: relevant for rel, (_, relevant) in recs.items()}
                    cells.setdefault(kind, {})[name] = evaluate_run(run, qrels, KS)
            out[(weight, floor, code_floor)] = cells
            log(f"  meaning weight {weight}, floor {floor}, codes' floor {code_floor}: done")
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


def best(measured: dict[Point, dict], sources: set[str], points: list[Point] | None = None) -> Point:
    """The point (of `points`, default all) with the best objective on `sources`; ties to the
    lighter meaning weight (the less a ranking leans on an encoder, the less it moves when the
    encoder changes), then to no codes' floor, then to the lower one."""
    return max(points or list(measured), key=lambda p: (round(objective(measured[p], sources), 6), -p[0],
                                                          p[2] is None, -(p[2] or 0.0)))


def codes_design(measured: dict[Point, dict], shipped: Point) -> list[Point]:
    """The points that change only the codes' floor: the meaning of words queries as shipped."""
    return [p for p in measured if p[:2] == shipped[:2]]


def loso(measured: dict[Point, dict], sources: list[str], shipped: Point,
         points: list[Point] | None = None) -> dict:
    folds = {}
    for held in sources:
        point = best(measured, set(sources) - {held}, points)
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
        shipped: Point = (settings.weight_semantic, settings.keyword_meaning_floor, settings.code_meaning_floor)
        if shipped not in grid():
            raise SystemExit(f"the shipped values {shipped} are not on the grid")
        measured = measure(engine, corpus, keyword_queries(sets), args.depth)
    finally:
        engine.close()
    sources = [s.name for s in sets]
    codes = codes_design(measured, shipped)
    designs = {"codes' floor only": codes, "every value of the grid": None}
    fitted = {}
    for name, points in designs.items():
        folds = loso(measured, sources, shipped, points)
        chosen = best(measured, set(sources), points)
        fitted[name] = {"chosen": chosen, "folds": {n: {**f, "point": list(f["point"])} for n, f in folds.items()}}
        print(f"\n== fitted: {name} ==")
        print(common.format_table(table(folds), ["kind", "ranking", "set", "n", *SHOWN]))
        print("left out -> values fitted on the other sources (meaning weight, floor, codes' floor):")
        for held, f in folds.items():
            print(f"  {held}: {f['point']}")
        print(f"fitted on all sources: {chosen}, objective {objective(measured[chosen], set(sources)):.4f}")
    print(f"\nshipped now: {shipped}, objective {objective(measured[shipped], set(sources)):.4f}")
    common.write_json(args.out, {
        "benchmark": "fit-keywords", "machine": common.machine_info(),
        "grid": {"weights": WEIGHTS, "floors": FLOORS, "code_floors": CODE_FLOORS},
        "shipped": shipped, "fitted": fitted,
        "measured": [{"weight": p[0], "floor": p[1], "code_floor": p[2], "cells": c} for p, c in measured.items()]})
    print(f"\nJSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
