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
from engine.evaluate.ranking_fit import MIN_GAIN, SITE_RULE  # noqa: E402
from engine.search.fitting import (JudgedQueries, as_vector, confidence,  # noqa: E402
                                   fit_calibration, fit_weights, no_match_rates)

METRICS = ["recall@1", "recall@5", "recall@10", "mrr", "ndcg@10", "map"]
HEAD = ["R@1", "R@5", "R@10", "MRR", "nDCG@10", "mAP"]


class SourceQueries:
    """One source's judged queries in one mode: arrays for fitting, ids for the metrics."""

    def __init__(self, source: str, records: dict, qrels: dict) -> None:
        self.queries = [q for q in records if qrels.get(q)]
        self.qrels = [qrels[q] for q in self.queries]
        hits = [records[q].get("features") or [] for q in self.queries]
        self.ids = [[h["id"] for h in row] for row in hits]
        self.judged = JudgedQueries.from_hits(
            hits, [[qr.get(i, 0) > 0 for i in ids] for ids, qr in zip(self.ids, self.qrels)],
            [[i.split("/", 1)[0] == source for i in ids] for ids in self.ids])

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
        per = [query_metrics(r, qr, (1, 5, 10), 10) for r, qr in zip(runs, self.qrels)]
        return {m: float(np.mean([p[m] for p in per])) if per else 0.0 for m in METRICS} | {"n": len(per)}


def baseline(records: dict, qrels: dict, ranker: str) -> dict:
    per = [query_metrics(records[q].get(ranker, []), qrels[q], (1, 5, 10), 10)
           for q in records if qrels.get(q)]
    return {m: float(np.mean([p[m] for p in per])) if per else 0.0 for m in METRICS} | {"n": len(per)}


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
            fitted = fit_weights([sq.subset(train).judged], rule=SITE_RULE)
            # the gate of engine.evaluate.ranking_fit: 3-fold cross-validation on the site's half,
            # kept only when the held-out mAP gains at least MIN_GAIN and no fold gets worse
            cv_before, cv_after = [], []
            for f in range(3):
                inner_train = [i for k, i in enumerate(train) if k % 3 != f]
                inner_test = [i for k, i in enumerate(train) if k % 3 == f]
                w = fit_weights([sq.subset(inner_train).judged], rule=SITE_RULE)
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
    common.write_json(args.out, {"fit_modes": fit_modes, "folds": folds, "rows": rows,
                                 "macro": macro, "final": final, "site_adaptation": site_rows})
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
