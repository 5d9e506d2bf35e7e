"""Retrieval metrics: Recall@K, MRR, nDCG@K, mAP, precision@K, plus TREC qrels/run files.

Pure Python + numpy; no torch. Used by `bench/`, by the adaptation report (before/after numbers)
and by tests.

Conventions (the same in every function):
- A *ranking* is a sequence of document ids, best first. Duplicates are dropped, keeping the first
  occurrence (a document retrieved twice counts once, at its best rank), so a sloppy run can never
  score above 1.
- *Relevance* is either a mapping ``doc_id -> grade`` (graded; a grade > 0 means relevant) or a set
  of relevant ids (every member has grade 1). Documents not in it have grade 0.
- A query with no relevant document scores 0 on every per-query metric; `evaluate_run` leaves such
  queries out of the averages and counts them in ``"queries_without_relevant"``.

Definitions (as in ../shared/BRIEF.md, "Measures"):
- ``recall_at_k``: 1 if at least one relevant document is in the top k, else 0 ("success@k"). Averaged
  over queries it is "the share of queries with at least one relevant result in the top K". (Classic
  recall, the fraction of all relevant documents found, is `fraction_recall_at_k`.)
- ``reciprocal_rank``: 1 / rank of the first relevant document (0 if none is retrieved).
- ``ndcg_at_k``: DCG@k / IDCG@k with linear gain (the grade) and the standard log2 discount:
  DCG@k = sum_{i=1..k} grade(doc_i) / log2(i + 1); IDCG@k is the DCG of the grades in the qrels sorted
  descending (the ideal ranking), so relevant documents the run never retrieved still count.
- ``average_precision``: sum of precision@i over the ranks i that hold a relevant document, divided
  by the number of relevant documents in the qrels (not only the retrieved ones).
- ``precision_at_k``: relevant documents in the top k / k.

Primary metric: ``PRIMARY_METRIC = "map"`` (mean average precision, the measure of the method's
paper; rank-sensitive, uses every relevant document, and smooth enough to choose between models).
The product target is stated as Recall@1 and is always reported next to it.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import AbstractSet, Union

import numpy as np

DocId = Hashable
QueryId = Hashable
Relevance = Union[Mapping[DocId, float], AbstractSet[DocId]]
Run = Mapping[QueryId, Sequence[DocId]]
Qrels = Mapping[QueryId, Relevance]

PRIMARY_METRIC = "map"
DEFAULT_KS = (1, 5, 10)

__all__ = [
    "PRIMARY_METRIC", "DEFAULT_KS",
    "recall_at_k", "fraction_recall_at_k", "precision_at_k", "reciprocal_rank", "ndcg_at_k",
    "average_precision", "query_metrics", "evaluate_run",
    "read_qrels", "write_qrels", "read_run", "write_run",
]


# --------------------------------------------------------------------------- helpers

def _grades(relevant: Relevance) -> dict[DocId, float]:
    """Relevance -> {doc_id: grade} holding only grades > 0."""
    if isinstance(relevant, Mapping):
        return {d: float(g) for d, g in relevant.items() if float(g) > 0}
    return {d: 1.0 for d in relevant}


def _dedupe(ranked: Iterable[DocId]) -> list[DocId]:
    seen: set[DocId] = set()
    out: list[DocId] = []
    for d in ranked:
        if d not in seen:
            seen.add(d)
            out.append(d)
    return out


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")


# --------------------------------------------------------------------------- per-query metrics

def recall_at_k(ranked: Sequence[DocId], relevant: Relevance, k: int) -> float:
    """1.0 if any relevant document is in the top k, else 0.0 (success@k)."""
    _check_k(k)
    grades = _grades(relevant)
    return 1.0 if any(d in grades for d in _dedupe(ranked)[:k]) else 0.0


def fraction_recall_at_k(ranked: Sequence[DocId], relevant: Relevance, k: int) -> float:
    """Classic recall: share of the relevant documents found in the top k."""
    _check_k(k)
    grades = _grades(relevant)
    if not grades:
        return 0.0
    return sum(1 for d in _dedupe(ranked)[:k] if d in grades) / len(grades)


def precision_at_k(ranked: Sequence[DocId], relevant: Relevance, k: int) -> float:
    """Relevant documents in the top k divided by k (a short ranking is padded with misses)."""
    _check_k(k)
    grades = _grades(relevant)
    return sum(1 for d in _dedupe(ranked)[:k] if d in grades) / k


def reciprocal_rank(ranked: Sequence[DocId], relevant: Relevance, k: int | None = None) -> float:
    """1 / (1-based rank of the first relevant document), 0.0 if none in the top k (all if k is None)."""
    grades = _grades(relevant)
    docs = _dedupe(ranked)
    if k is not None:
        _check_k(k)
        docs = docs[:k]
    for i, d in enumerate(docs, start=1):
        if d in grades:
            return 1.0 / i
    return 0.0


def ndcg_at_k(ranked: Sequence[DocId], relevant: Relevance, k: int = 10) -> float:
    """Normalised DCG@k with linear gain and log2(rank + 1) discount; ideal DCG from the qrels."""
    _check_k(k)
    grades = _grades(relevant)
    if not grades:
        return 0.0
    docs = _dedupe(ranked)[:k]
    discounts = 1.0 / np.log2(np.arange(2, k + 2))  # (k,) rank 1 -> 1/log2(2) = 1
    gains = np.array([grades.get(d, 0.0) for d in docs], dtype=np.float64)  # (<=k,)
    dcg = float(np.dot(gains, discounts[: len(gains)]))
    ideal = np.sort(np.fromiter(grades.values(), dtype=np.float64))[::-1][:k]  # (<=k,)
    idcg = float(np.dot(ideal, discounts[: len(ideal)]))
    return dcg / idcg


def average_precision(ranked: Sequence[DocId], relevant: Relevance, k: int | None = None) -> float:
    """AP: mean over all relevant documents (in the qrels) of precision at their rank; unretrieved -> 0."""
    grades = _grades(relevant)
    if not grades:
        return 0.0
    docs = _dedupe(ranked)
    if k is not None:
        _check_k(k)
        docs = docs[:k]
    hits = 0
    total = 0.0
    for i, d in enumerate(docs, start=1):
        if d in grades:
            hits += 1
            total += hits / i
    return total / len(grades)


def query_metrics(ranked: Sequence[DocId], relevant: Relevance,
                  ks: Sequence[int] = DEFAULT_KS, ndcg_k: int = 10) -> dict[str, float]:
    """Every metric of one query, keyed like `evaluate_run`'s result."""
    out: dict[str, float] = {f"recall@{k}": recall_at_k(ranked, relevant, k) for k in ks}
    out["mrr"] = reciprocal_rank(ranked, relevant)
    out[f"ndcg@{ndcg_k}"] = ndcg_at_k(ranked, relevant, ndcg_k)
    out["map"] = average_precision(ranked, relevant)
    for k in ks:
        out[f"precision@{k}"] = precision_at_k(ranked, relevant, k)
    return out


def evaluate_run(run: Run, qrels: Qrels, ks: Sequence[int] = DEFAULT_KS, *, ndcg_k: int = 10,
                 per_query: bool = False) -> dict:
    """Average the per-query metrics over the queries of `qrels` that have a relevant document.

    Queries in `qrels` but missing from `run` score 0 (nothing retrieved); queries only in `run` are
    ignored. Returns {"recall@1", "recall@5", "recall@10", "mrr", "ndcg@10", "map",
    "precision@1", ..., "queries", "queries_without_relevant", "primary"} and, with per_query=True,
    "per_query": {qid: {metric: value}}.
    """
    names = [f"recall@{k}" for k in ks] + ["mrr", f"ndcg@{ndcg_k}", "map"] + \
            [f"precision@{k}" for k in ks]
    sums = dict.fromkeys(names, 0.0)
    per: dict[QueryId, dict[str, float]] = {}
    n = 0
    empty = 0
    for qid, relevant in qrels.items():
        if not _grades(relevant):
            empty += 1
            continue
        m = query_metrics(run.get(qid, ()), relevant, ks, ndcg_k)
        for name in names:
            sums[name] += m[name]
        per[qid] = m
        n += 1
    result: dict = {name: (sums[name] / n if n else 0.0) for name in names}
    result["queries"] = n
    result["queries_without_relevant"] = empty
    result["primary"] = PRIMARY_METRIC
    if per_query:
        result["per_query"] = per
    return result


# --------------------------------------------------------------------------- TREC files
# qrels: "qid 0 docid grade" per line.  run: "qid Q0 docid rank score tag" per line.
# Ids are whitespace-free strings (TREC's format splits on whitespace).

def _check_id(value: object, what: str) -> str:
    text = str(value)
    if not text or any(c.isspace() for c in text):
        raise ValueError(f"{what} {text!r} is empty or contains whitespace (not allowed in TREC files)")
    return text


def write_qrels(path: Path | str, qrels: Mapping[QueryId, Relevance]) -> None:
    lines = []
    for qid, relevant in qrels.items():
        q = _check_id(qid, "query id")
        items = relevant.items() if isinstance(relevant, Mapping) else ((d, 1) for d in relevant)
        for doc, grade in items:
            g = float(grade)
            lines.append(f"{q} 0 {_check_id(doc, 'doc id')} {int(g) if g.is_integer() else g}\n")
    Path(path).write_text("".join(lines), encoding="utf-8")


def read_qrels(path: Path | str) -> dict[str, dict[str, float]]:
    """{qid: {docid: grade}}; keeps grade-0 lines (judged non-relevant) as 0.0."""
    qrels: dict[str, dict[str, float]] = {}
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if not parts or line.lstrip().startswith("#"):
            continue
        if len(parts) != 4:
            raise ValueError(f"{path}:{lineno}: expected 'qid 0 docid grade', got {line!r}")
        qid, _, doc, grade = parts
        qrels.setdefault(qid, {})[doc] = float(grade)
    return qrels


def write_run(path: Path | str, run: Mapping[QueryId, Sequence], tag: str = "zumen") -> None:
    """`run` values are lists of doc ids (best first) or of (doc id, score) pairs.

    Without scores, the score written is (n - rank + 1) so that re-reading keeps the order.
    """
    _check_id(tag, "run tag")
    lines = []
    for qid, ranked in run.items():
        q = _check_id(qid, "query id")
        n = len(ranked)
        for rank, item in enumerate(ranked, start=1):
            if isinstance(item, tuple):
                doc, score = item
            else:
                doc, score = item, float(n - rank + 1)
            lines.append(f"{q} Q0 {_check_id(doc, 'doc id')} {rank} {float(score):.6g} {tag}\n")
    Path(path).write_text("".join(lines), encoding="utf-8")


def read_run(path: Path | str) -> dict[str, list[str]]:
    """{qid: [docid, ...]} ordered by score descending (ties: by the file's rank column)."""
    rows: dict[str, list[tuple[float, int, str]]] = {}
    for lineno, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if not parts or line.lstrip().startswith("#"):
            continue
        if len(parts) != 6:
            raise ValueError(f"{path}:{lineno}: expected 'qid Q0 docid rank score tag', got {line!r}")
        qid, _, doc, rank, score, _tag = parts
        score_f = float(score)
        if math.isnan(score_f):
            raise ValueError(f"{path}:{lineno}: score is NaN")
        rows.setdefault(qid, []).append((-score_f, int(rank), doc))
    return {qid: [doc for _, _, doc in sorted(items)] for qid, items in rows.items()}
