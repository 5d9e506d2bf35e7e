"""Retrieval metrics on a hand-made fixture; the expected values are worked out in the comments."""

from __future__ import annotations

import math

import pytest

from engine.evaluate.metrics import (
    PRIMARY_METRIC, average_precision, evaluate_run, fraction_recall_at_k, ndcg_at_k,
    precision_at_k, read_qrels, read_run, recall_at_k, reciprocal_rank, write_qrels, write_run,
)

LOG2_3 = math.log2(3)  # 1.5849625
LOG2_5 = math.log2(5)  # 2.3219281

# q1: graded qrels; "x" is relevant but never retrieved.
Q1_RUN = ["a", "b", "c", "d", "e"]
Q1_REL = {"b": 2, "d": 1, "x": 1, "c": 0}  # c judged non-relevant (grade 0 = not relevant)
# q2: binary qrels as a set; the run repeats "p".
Q2_RUN = ["p", "p", "q"]
Q2_REL = {"q"}


def test_recall_is_success_at_k() -> None:
    assert recall_at_k(Q1_RUN, Q1_REL, 1) == 0.0  # a is not relevant
    assert recall_at_k(Q1_RUN, Q1_REL, 2) == 1.0  # b at rank 2
    assert recall_at_k(Q1_RUN, Q1_REL, 10) == 1.0
    # classic recall: b and d found, x not: 2 / 3
    assert fraction_recall_at_k(Q1_RUN, Q1_REL, 5) == pytest.approx(2 / 3)
    assert fraction_recall_at_k(Q1_RUN, Q1_REL, 3) == pytest.approx(1 / 3)


def test_precision_at_k() -> None:
    assert precision_at_k(Q1_RUN, Q1_REL, 1) == 0.0
    assert precision_at_k(Q1_RUN, Q1_REL, 5) == pytest.approx(2 / 5)  # b, d
    assert precision_at_k(Q1_RUN, Q1_REL, 10) == pytest.approx(2 / 10)  # short run = misses


def test_reciprocal_rank() -> None:
    assert reciprocal_rank(Q1_RUN, Q1_REL) == 0.5  # first relevant (b) at rank 2
    assert reciprocal_rank(Q1_RUN, Q1_REL, k=1) == 0.0  # cut off before b
    assert reciprocal_rank(["z"], Q1_REL) == 0.0


def test_ndcg_graded() -> None:
    # DCG@10  = 2/log2(1+2) + 1/log2(1+4)            = 1.2618595 + 0.4306766 = 1.6925361
    # IDCG@10 = grades sorted (2, 1, 1): 2/log2(2) + 1/log2(3) + 1/log2(4) = 2 + 0.6309298 + 0.5
    #         = 3.1309298  -> nDCG = 0.5405854
    dcg = 2 / LOG2_3 + 1 / LOG2_5
    idcg = 2 + 1 / LOG2_3 + 0.5
    assert ndcg_at_k(Q1_RUN, Q1_REL, 10) == pytest.approx(dcg / idcg)
    assert ndcg_at_k(Q1_RUN, Q1_REL, 10) == pytest.approx(0.5405854, abs=1e-6)
    # k = 3: DCG@3 = 2/log2(3) = 1.2618595; IDCG@3 is the same 3.1309298 -> 0.4030303
    assert ndcg_at_k(Q1_RUN, Q1_REL, 3) == pytest.approx((2 / LOG2_3) / idcg)
    # order matters with grades: [d, b]: DCG = 1/1 + 2/log2(3) = 2.2618595;
    # IDCG (qrels {b:2, d:1}) = 2 + 1/log2(3) = 2.6309298 -> 0.8597187
    assert ndcg_at_k(["d", "b"], {"b": 2, "d": 1}, 10) == pytest.approx(0.8597187, abs=1e-6)
    assert ndcg_at_k(["b", "d"], {"b": 2, "d": 1}, 10) == pytest.approx(1.0)


def test_average_precision_counts_unretrieved_relevant() -> None:
    # relevant at rank 2 (precision 1/2) and rank 4 (precision 2/4); 3 relevant in qrels
    # AP = (0.5 + 0.5) / 3 = 1/3
    assert average_precision(Q1_RUN, Q1_REL) == pytest.approx(1 / 3)
    # cut at k=3: only rank 2 counts -> 0.5 / 3
    assert average_precision(Q1_RUN, Q1_REL, k=3) == pytest.approx(0.5 / 3)


def test_duplicates_count_once() -> None:
    # ["p", "p", "q"] is read as ["p", "q"]: q at rank 2, not 3
    assert reciprocal_rank(Q2_RUN, Q2_REL) == 0.5
    assert average_precision(Q2_RUN, Q2_REL) == 0.5
    assert recall_at_k(Q2_RUN, Q2_REL, 2) == 1.0
    assert ndcg_at_k(Q2_RUN, Q2_REL, 10) == pytest.approx(1 / LOG2_3)  # 0.6309298
    # a run that repeats the one relevant document cannot score above 1
    assert precision_at_k(["q", "q", "q"], {"q"}, 3) == pytest.approx(1 / 3)
    assert average_precision(["q", "q"], {"q"}) == 1.0


def test_no_relevant_scores_zero() -> None:
    for rel in (set(), {}, {"a": 0}):
        assert recall_at_k(["a"], rel, 1) == 0.0
        assert reciprocal_rank(["a"], rel) == 0.0
        assert ndcg_at_k(["a"], rel, 10) == 0.0
        assert average_precision(["a"], rel) == 0.0
        assert fraction_recall_at_k(["a"], rel, 1) == 0.0


def test_empty_run_and_bad_k() -> None:
    assert recall_at_k([], {"a"}, 5) == 0.0
    assert ndcg_at_k([], {"a": 2}, 10) == 0.0
    with pytest.raises(ValueError):
        recall_at_k(["a"], {"a"}, 0)


def test_perfect_run() -> None:
    m = evaluate_run({"q": ["a", "b"]}, {"q": {"a": 3, "b": 1}})
    for key in ("recall@1", "recall@5", "recall@10", "mrr", "ndcg@10", "map"):
        assert m[key] == pytest.approx(1.0), key


def test_evaluate_run_averages() -> None:
    run = {"q1": Q1_RUN, "q2": Q2_RUN, "q3": ["a"], "extra": ["a"]}
    qrels = {"q1": Q1_REL, "q2": Q2_REL, "q3": set(), "q4": {"z"}}
    m = evaluate_run(run, qrels, per_query=True)
    # averaged over q1, q2, q4 (q3 has no relevant doc: left out; q4 is missing from the run: zeros;
    # "extra" is not in the qrels: ignored)
    assert m["queries"] == 3
    assert m["queries_without_relevant"] == 1
    assert m["recall@1"] == 0.0  # (0 + 0 + 0) / 3
    assert m["recall@5"] == pytest.approx(2 / 3)  # (1 + 1 + 0) / 3
    assert m["recall@10"] == pytest.approx(2 / 3)
    assert m["mrr"] == pytest.approx(1 / 3)  # (1/2 + 1/2 + 0) / 3
    assert m["map"] == pytest.approx(5 / 18)  # (1/3 + 1/2 + 0) / 3 = (5/6) / 3
    # (0.5405854 + 0.6309298 + 0) / 3 = 0.3905051
    assert m["ndcg@10"] == pytest.approx(0.3905051, abs=1e-6)
    assert m["precision@5"] == pytest.approx((2 / 5 + 1 / 5 + 0) / 3)
    assert set(m["per_query"]) == {"q1", "q2", "q4"}
    assert m["per_query"]["q1"]["mrr"] == 0.5
    assert m["primary"] == PRIMARY_METRIC and PRIMARY_METRIC in m


def test_evaluate_run_empty() -> None:
    m = evaluate_run({}, {})
    assert m["queries"] == 0 and m["map"] == 0.0


def test_trec_round_trip(tmp_path) -> None:
    qrels = {"q1": {"b": 2, "d": 1, "c": 0}, "q2": {"q"}}
    write_qrels(tmp_path / "qrels.txt", qrels)
    back = read_qrels(tmp_path / "qrels.txt")
    assert back == {"q1": {"b": 2.0, "d": 1.0, "c": 0.0}, "q2": {"q": 1.0}}
    assert (tmp_path / "qrels.txt").read_text().splitlines()[0] == "q1 0 b 2"

    run = {"q1": ["a", "b", "c"], "q2": [("q", 0.9), ("p", 0.95)]}
    write_run(tmp_path / "run.txt", run, tag="test")
    assert (tmp_path / "run.txt").read_text().splitlines()[0] == "q1 Q0 a 1 3 test"
    got = read_run(tmp_path / "run.txt")
    assert got["q1"] == ["a", "b", "c"]
    assert got["q2"] == ["p", "q"]  # re-sorted by score, as trec_eval does
    assert evaluate_run(got, back)["queries"] == 2


def test_trec_rejects_whitespace_ids(tmp_path) -> None:
    with pytest.raises(ValueError):
        write_run(tmp_path / "run.txt", {"q 1": ["a"]})
    with pytest.raises(ValueError):
        write_qrels(tmp_path / "q.txt", {"q": {"doc with space": 1}})


def test_trec_rejects_malformed(tmp_path) -> None:
    (tmp_path / "bad.txt").write_text("q1 Q0 a 1\n")
    with pytest.raises(ValueError):
        read_run(tmp_path / "bad.txt")
    (tmp_path / "badq.txt").write_text("q1 a 1\n")
    with pytest.raises(ValueError):
        read_qrels(tmp_path / "badq.txt")
