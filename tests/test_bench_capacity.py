"""bench_capacity's helpers: the synthetic vectors and text, exact top-k, and each phase at a tiny size."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import bench_capacity, capacity_synth  # noqa: E402


def test_args() -> None:
    args = bench_capacity.parse_args(["--sizes", "1M,100k", "--what", "fts", "--dtypes", "f32,i8"])
    assert args.sizes == [100_000, 1_000_000] and args.what == {"fts"} and args.dtypes == ["f32", "i8"]
    assert bench_capacity.parse_sizes("10m,2.5k") == [10_000_000, 2_500]
    with pytest.raises(SystemExit):
        bench_capacity.parse_args(["--dtypes", "f64"])


def test_results_merge_and_extrapolate() -> None:
    """--from: rows of several results merged (a later file's row replaces an earlier one's),
    then sizes not measured extrapolated: bytes in proportion, latency along a power law."""
    def run(n: int, p50: float, source: str) -> dict:
        return {"vectors": n, "dtype": "f32", "tag": source,
                "build": {"file_bytes": n * 1700, "adds_per_s": 1000.0},
                "load": {"latency": {"p50_ms": p50, "p95_ms": 2 * p50}, "save_s": n / 1e6}}

    a = {"source": "a", "vectors": {"runs": [run(100, 1.0, "a"), run(1000, 9.0, "a")]}}
    b = {"source": "b", "vectors": {"runs": [run(1000, 2.0, "b")]},
         "fts": {"sizes": [{"chunks": 5, "tag": "b"}]}}
    merged = bench_capacity.merge_results([a, b])
    assert [(r["vectors"], r["tag"]) for r in merged["vectors"]["runs"]] == [(100, "a"), (1000, "b")]
    assert merged["fts"]["sizes"][0]["source"] == "b"
    (x,) = bench_capacity.extrapolate_vectors(merged["vectors"], [10_000], ["f32"])
    assert x["extrapolated"] and x["file_bytes"] == pytest.approx(10_000 * 1700)
    assert x["load_p50_ms"] == pytest.approx(4.0) and x["save_s"] == pytest.approx(0.01)  # 1 -> 2 -> 4
    falling = {"runs": [run(100, 3.0, "c"), run(1000, 2.0, "c")]}
    (y,) = bench_capacity.extrapolate_vectors(falling, [10_000], ["f32"])
    assert y["load_p50_ms"] == pytest.approx(2.0)  # a larger index is not faster: noise, not a trend


def test_mixture_vectors_are_unit_reproducible_and_clustered() -> None:
    gen = capacity_synth.MixtureVectors(seed=3)
    a, b = gen.block(14, 700), capacity_synth.MixtureVectors(seed=3).block(14, 700)
    assert a.shape == (700, capacity_synth.DIM) and np.array_equal(a, b)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert not np.array_equal(a, gen.block(21, 700))
    stats = capacity_synth.neighbour_stats(a)
    # real MiniLM chunk vectors: random pairs 0.21 on average, the nearest neighbour far closer
    assert 0.1 < stats["pair_cos_mean"] < 0.35 and stats["nn1_cos_median"] > 0.75


def test_true_top_k_matches_brute_force_over_blocks() -> None:
    gen = capacity_synth.MixtureVectors(seed=1)
    queries = gen.queries(4)
    blocks = [gen.block(0, 70), gen.block(70, 35)]
    ids = np.zeros((4, 10), dtype=np.int64)
    sims = np.full((4, 10), -np.inf, dtype=np.float32)
    ids, sims = capacity_synth.true_top_k(ids, sims, queries, blocks[0], 1)
    ids, sims = capacity_synth.true_top_k(ids, sims, queries, blocks[1], 71)
    exact = np.argsort(-(queries @ np.concatenate(blocks).T), axis=1)[:, :10] + 1
    assert np.array_equal(ids, exact)


def test_zipf_cdf_with_a_knee_falls_faster() -> None:
    flat, kneed = capacity_synth.zipf_cdf(10_000), capacity_synth.zipf_cdf(10_000, knee=100)
    assert np.all(np.diff(flat) > 0) and flat[-1] == pytest.approx(1.0)
    assert 1 - kneed[1000] < 1 - flat[1000]  # less mass in the tail


def test_archive_text_resembles_real_chunks() -> None:
    """Token statistics near the development library's: ~87 tokens a chunk, Zipf slope ~-0.93,
    letters 54 %, digits 21 %, letters+digits 16 %, CJK 9 %."""
    from engine.analyze import lexical_tokens
    from engine.indexing.work import chunk_page
    from engine.types import PageContent

    gen = capacity_synth.ArchiveText(seed=2)
    assert gen.document(5) == capacity_synth.ArchiveText(seed=2).document(5)
    tokens = []
    for d in range(150):
        doc = gen.document(d)
        if d % 3 == 0:
            assert doc.kind == "drawing" and len(doc.pages) == 1
            assert capacity_synth.part_number(doc.part) in doc.pages[0][:1]  # title block
        for i, words in enumerate(doc.pages):
            page = PageContent(i + 1, " ".join(words), capacity_synth.page_words(words))
            for o, ch in enumerate(chunk_page(page, 80, 20)):
                tokens.append(lexical_tokens(f"{doc.title} {ch.text}" if o == 0 else ch.text))
    stats = capacity_synth.token_stats(tokens)
    assert 70 < stats["tokens_per_chunk_mean"] < 120
    assert -1.2 < stats["zipf_slope_10_2000"] < -0.7
    assert 0.42 < stats["share_letters"] < 0.62 and 0.15 < stats["share_digits"] < 0.28
    assert 0.1 < stats["share_letters_digits"] < 0.22 and 0.05 < stats["share_cjk"] < 0.13


def test_phases_at_a_tiny_size(tmp_path) -> None:
    """Every phase in this process (the benchmark runs each in a child): vectors built, opened
    both ways, searched; a catalog grown in two steps and queried through the search code."""
    path = str(tmp_path / "v.usearch")
    # 20 queries: recall@10 of int8 HNSW here is 0.90-0.95 (8 seeds); over 5 queries it swung
    # 0.80-0.98 (the graph is built on several threads), and 0.80 failed the bar once in CI
    build = bench_capacity.phase_vector_build(path, 700, "i8", 7, 20, 350)
    assert build["vectors"] == 700 and build["file_bytes"] > 700 * 384
    truth = build.pop("truth")
    for view in (True, False):
        r = bench_capacity.phase_vector_search(path, 7, 20, truth, view, 50, not view)
        assert r["recall_at_10"] > 0.85 and r["latency"]["n"] == 20
    assert r["save_s"] >= 0 and r["add_32"]["n"] == 9 and r["add_32_first_s"] > 0
    library = str(tmp_path / "library")
    first = bench_capacity.phase_fts_grow(library, 300, 7)
    second = bench_capacity.phase_fts_grow(library, 600, 7)
    assert first["chunks"] >= 300 and second["chunks_before"] == first["chunks"] and second["chunks"] >= 600
    q = bench_capacity.phase_fts_query(library, 7, 1, 1, 2)
    assert q["chunks"] == second["chunks"] and q["keyword"]["n"] > 0 and q["drawing"]["n"] == 2
    assert bench_capacity.catalog_bytes(Path(library))["file_bytes"] > 0
