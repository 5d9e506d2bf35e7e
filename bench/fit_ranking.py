"""Leave-one-source-out fitting of the drawing-query ranking (weights, confidence, "no match").

Reads the JSON of bench/bench_dev.py, whose hybrid hits carry their absolute evidence features
(ScoreBreakdown), and for every source S of the development sets:
  1. fits the feature weights on the other sources only (engine/search/fitting.py: grid search,
     macro-average MRR of image-only queries, each source counting once);
  2. fits the confidence and the "no match" bar on the other sources; negatives are the same
     queries asked of the library without their own source's documents;
  3. re-ranks S's queries with those values: S's metrics, false "no match" and false-match rates.
The headline is the mean over left-out sources. The values shipped in engine/config.py are then
fitted the same way on all sources together (printed last). Procedure: docs/ranking.md.

    python bench/fit_ranking.py bench/out/dev.json [--modes image110,image150] [--out FILE]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import common  # noqa: E402
from engine.evaluate.metrics import query_metrics  # noqa: E402
from engine.evaluate.ranking_fit import MIN_GAIN, SITE_GRID, SITE_RULE  # noqa: E402
from engine.search.fitting import (JudgedQueries, as_vector, confidence,  # noqa: E402
                                   fit_calibration, fit_weights, no_match_rates)

METRICS = ["recall@1", "recall@5", "recall@10", "mrr", "ndcg@10", "map"]
HEAD = ["R@1", "R@5", "R@10", "MRR", "nDCG@10", "mAP"]


class SourceQueries:
    """One source's judged queries in one mode: arrays for fitting, ids for the metrics."""

    def __init__(self, source: str, records: dict, qrels: dict, field: str = "features") -> None:
        """`field`: "features" (related documents) or "similar" (similar drawings)."""
        # a query the engine could not read counts as a miss
        self.queries = [q for q in records if qrels.get(q) and (field in records[q] or "error" in records[q])]
        self.qrels = [qrels[q] for q in self.queries]
        hits = [records[q].get(field) or [] for q in self.queries]
        self.ids = [[h["id"] for h in row] for row in hits]
        self.judged = JudgedQueries.from_hits(
            hits, [[qr.get(i, 0) > 0 for i in ids] for ids, qr in zip(self.ids, self.qrels)],
            [[i.split("/", 1)[0] == source for i in ids] for ids in self.ids], by_likeness=field == "similar")

    def subset(self, rows: list[int]) -> "SourceQueries":
        part = object.__new__(SourceQueries)
        part.queries = [self.queries[i] for i in rows]
        part.qrels = [self.qrels[i] for i in rows]
        part.ids = [self.ids[i] for i in rows]
        part.judged = self.judged.subset(rows)
        return part

    def metrics(self, weights, calibration=None, depth: int = 20) -> dict:
        """Metrics of the re-ranked lists; with a calibration, as the engine lists them: nothing
        when the best hit's confidence stays below the bar ("no match"), and no hit without
        evidence (fused score 0)."""
        w = as_vector(weights)
        scores, order = self.judged.scores(w), self.judged.order(w)
        shown = scores > 0
        if calibration is not None:
            top = confidence(scores.max(axis=1), calibration)
            shown &= ((top > 0) & (top >= calibration.min_top))[:, None]
        runs = [[ids[j] for j in row[:depth] if j < len(ids) and shown[i, j]]
                for i, (ids, row) in enumerate(zip(self.ids, order))]
        return mean_metrics([query_metrics(r, qr, (1, 5, 10), 10) for r, qr in zip(runs, self.qrels)])


def mean_metrics(per: list[dict]) -> dict:
    """The mean of each metric over per-query metrics, and the query count."""
    return {m: float(np.mean([p[m] for p in per])) if per else 0.0 for m in METRICS} | {"n": len(per)}


def baseline(records: dict, qrels: dict, ranker: str) -> dict:
    return mean_metrics([query_metrics(listed(records[q], ranker), qrels[q], (1, 5, 10), 10)
                         for q in records if qrels.get(q)])


# similar drawings: the page-level evidence a drawing has of another (documents' links do not apply)
SIMILAR_GRID = {"lexical_page": (0.0, 0.5, 1.0), "cosine_page": (0.0, 0.5, 1.0), "dimensions": (0.0, 0.25),
                "semantic": (0.0, 0.15, 0.3, 0.6), "visual": (0.0, 0.25, 0.5, 1.0, 2.0)}
SIMILAR_METRICS = ["ndcg@10", "recall@10", "map", "mrr"]


def similar_drawings(dev: dict, fit_modes: list[str]) -> tuple[list[dict], dict, dict]:
    """Drawing -> same-family drawings (bench/dev_sets.families): the similar-drawings weights
    fitted leave-one-source-out on the hybrid's similar hits (macro MRR, SIMILAR_GRID), beside
    the weights shipped now, words or looks alone, and the looks-only baselines of the same run
    (bench/similar_baselines.py). Returns (rows, weights per left-out source, weights on all)."""
    from engine.config import EngineSettings, FileWeights

    fams = {s: {q: {i: 1 for i in ids} for q, ids in v.items()} for s, v in dev.get("families", {}).items()}
    sources = [s for s in dev["sets"] if fams.get(s)]
    if not sources:  # a run of an older bench_dev: no similar drawings recorded
        return [], {}, {}
    data = {m: {s: SourceQueries(s, dev["results"][m].get(s, {}), fams[s], "similar") for s in sources}
            for m in fit_modes}
    fixed = {"shipped weights": EngineSettings().similar_weights, "words only": FileWeights(
        **{f: 0.0 for f in asdict(FileWeights())} | {"lexical_page": 1.0}),
             "looks only (tower whitened)": FileWeights(**{f: 0.0 for f in asdict(FileWeights())} | {"visual": 1.0})}
    rows, folds = [], {}
    for held in sources:
        w = fit_weights([data[m][s].judged for m in fit_modes for s in sources if s != held], SIMILAR_GRID)
        folds[held] = asdict(w)
        for mode in fit_modes:
            sq = data[mode][held]
            if not sq.queries:
                continue
            rows.append({"mode": mode, "set": held, "ranker": "zumen fitted (LOSO)", **sq.metrics(w, depth=10)})
            for label, fw in fixed.items():
                rows.append({"mode": mode, "set": held, "ranker": label, **sq.metrics(fw, depth=10)})
            records = dev["results"][mode][held]
            base = {}
            for q in sq.queries:
                for method, ids in (records[q].get("similar_baselines") or {}).items():
                    base.setdefault(method, {})[q] = ids
            for method, runs in base.items():
                rows.append({"mode": mode, "set": held, "ranker": f"baseline: {method}", **mean_metrics(
                    [query_metrics(runs.get(q, []), fams[held][q], (1, 5, 10), 10) for q in sq.queries])})
    final = fit_weights([data[m][s].judged for m in fit_modes for s in sources], SIMILAR_GRID)
    return rows, folds, asdict(final)


def listed(record: dict, ranker: str) -> list[str]:
    """A ranker's hits as the engine lists them: the hybrid ran with `show_weak` (for its
    features), which also lists documents found by meaning or looks alone; the app does not."""
    ids = record.get(ranker, [])
    if ranker != "hybrid" or not record.get("features"):
        return ids
    from engine.config import EngineSettings

    hits = record["features"]
    shown = JudgedQueries.from_hits([hits], [[False] * len(hits)]).listed(
        as_vector(EngineSettings().related_weights))[0]
    support = {h["id"] for h, keep in zip(hits, shown) if keep}
    return [i for i in ids if i in support]


def site_adaptation(data: dict, folds: dict, sources: list[str], fit_modes: list[str],
                    min_queries: int = 16) -> list[dict]:
    """Each source with enough queries as a new site: it starts from the values fitted without it
    (a site's first day), then the ranking is fitted on half of its judged queries (by a stable
    hash of the query, as `zumen adapt` would with a pairs file) and measured on the other half."""
    from engine.config import FileWeights

    out = []
    for held in sources:
        for mode in fit_modes:
            sq = data[mode][held]
            if len(sq.queries) < min_queries:
                continue
            train = [i for i, q in enumerate(sq.queries)
                     if int(hashlib.sha256(q.encode()).hexdigest()[:8], 16) % 2 == 0]
            test = [i for i in range(len(sq.queries)) if i not in set(train)]
            before = FileWeights(**folds[held]["weights"])
            fitted = fit_weights([sq.subset(train).judged], SITE_GRID, rule=SITE_RULE)
            # the gate of engine.evaluate.ranking_fit: 3-fold cross-validation on the site's half,
            # kept only when the held-out mAP gains at least MIN_GAIN and no fold gets worse
            cv_before, cv_after = [], []
            for f in range(3):
                inner_train = [i for k, i in enumerate(train) if k % 3 != f]
                inner_test = [i for k, i in enumerate(train) if k % 3 == f]
                w = fit_weights([sq.subset(inner_train).judged], SITE_GRID, rule=SITE_RULE)
                cv_before.append(sq.subset(inner_test).metrics(before)["map"])
                cv_after.append(sq.subset(inner_test).metrics(w)["map"])
            kept = (np.mean(cv_after) >= np.mean(cv_before) + MIN_GAIN
                    and all(a >= b for a, b in zip(cv_after, cv_before)))  # no fold worse
            for label, w in (("left-out defaults", before),
                             ("fitted to the site's half" + (" (kept)" if kept else " (not kept)"), fitted),
                             ("what adapt leaves in force", fitted if kept else before)):
                out.append({"mode": mode, "set": held, "ranker": label, **sq.subset(test).metrics(w)})
    return out


def macro_rows(rows: list[dict]) -> list[dict]:
    out = []
    for mode in dict.fromkeys(r["mode"] for r in rows):
        for ranker in dict.fromkeys(r["ranker"] for r in rows):
            part = [r for r in rows if r["mode"] == mode and r["ranker"] == ranker]
            if part:
                keys = [k for k in METRICS + ["false_no_match", "false_match"] if k in part[0]]
                out.append({"mode": mode, "set": "MACRO", "ranker": ranker,
                            "n": sum(r["n"] for r in part),
                            **{k: float(np.mean([r[k] for r in part])) for k in keys}})
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dev_json", type=Path)
    p.add_argument("--modes", default="image110,image150,photo150",
                   help="query modes the values are fitted on (image-only: renders and photos)")
    p.add_argument("--out", type=Path, default=common.OUT_DIR / "fit.json")
    args = p.parse_args(argv)
    dev = json.loads(args.dev_json.read_text(encoding="utf-8"))
    fit_modes = [m for m in args.modes.split(",") if m in dev["results"]]
    sources = dev["sets"]
    data = {mode: {s: SourceQueries(s, dev["results"][mode].get(s, {}), dev["qrels"][s]) for s in sources}
            for mode in dev["results"]}
    rows, folds = [], {}
    for held in sources:
        train = [data[m][s].judged for m in fit_modes for s in sources if s != held]
        weights = fit_weights(train)
        cal = fit_calibration(train, weights)
        folds[held] = {"weights": asdict(weights), "calibration": asdict(cal)}
        for mode in dev["results"]:
            sq = data[mode][held]
            if not sq.queries:
                continue
            fnm, fm, _ = no_match_rates(sq.judged, weights, cal)
            rows.append({"mode": mode, "set": held, "ranker": "zumen fitted (LOSO)",
                         **sq.metrics(weights), "false_no_match": fnm, "false_match": fm})
            rows.append({"mode": mode, "set": held, "ranker": "  same, as listed ('no match' bar)",
                         **sq.metrics(weights, cal)})
            for ranker, label in (("hybrid", "engine hybrid as run"), ("lexical", "lexical only"),
                                  ("dense", "dense only"), ("tfidf", "TF-IDF, same query text")):
                rows.append({"mode": mode, "set": held, "ranker": label,
                             **baseline(dev["results"][mode][held], dev["qrels"][held], ranker)})
    site_rows = site_adaptation(data, folds, sources, fit_modes)
    everything = [data[m][s].judged for m in fit_modes for s in sources]
    final_w = fit_weights(everything)
    final = {"weights": asdict(final_w), "calibration": asdict(fit_calibration(everything, final_w))}
    macro = macro_rows(rows)
    similar_rows, similar_folds, similar_final = similar_drawings(dev, fit_modes)
    similar_macro = macro_rows(similar_rows)
    common.write_json(args.out, {"fit_modes": fit_modes, "folds": folds, "rows": rows,
                                 "macro": macro, "final": final, "site_adaptation": site_rows,
                                 "similar": {"rows": similar_rows, "macro": similar_macro,
                                             "folds": similar_folds, "final": similar_final}})
    cols = ["mode", "set", "ranker", *METRICS, "false_no_match", "false_match", "n"]
    print(common.format_table(rows + macro, cols,
                              ["mode", "set", "ranker", *HEAD, "no-match✗", "match✗", "n"]))
    print("\nValues fitted without each source:")
    for held, f in folds.items():
        print(f"  {held:20s} {f['weights']}  {f['calibration']}")
    print("\nSite adaptation of the ranking (what `zumen adapt` fits): a source's values fitted "
          "without it, then\nrefitted on half of its own queries; measured on the other half")
    print(common.format_table(site_rows, ["mode", "set", "ranker", *METRICS, "n"],
                              ["mode", "set", "ranker", *HEAD, "n"]))
    print(f"\nFitted on all sources (the shipped defaults): {final}")
    if similar_rows:
        print("\nSimilar drawings: drawing -> drawings of its family (bench/dev_sets.families), "
              "its own drawing left out")
        print(common.format_table(similar_rows + similar_macro, ["mode", "set", "ranker", *SIMILAR_METRICS, "n"],
                                  ["mode", "set", "ranker", "nDCG@10", "R@10", "mAP", "MRR", "n"]))
        for held, w in similar_folds.items():
            print(f"  similar, fitted without {held:20s} {w}")
        print(f"Similar drawings, fitted on all sources (the shipped defaults): {similar_final}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
