"""Keyword ranking from remembered phrase rows (engine.store.phrases) answers exactly what FTS5's
ORDER BY bm25() answers, and forgets what it read when the library changes."""

import random

import numpy as np
import pytest

from engine.analyze import query_terms
from engine.store import catalog as catalog_module
from engine.store.catalog import Catalog, lexical_expression
from engine.store.phrases import PhraseCache, PhraseRows
from tests.test_store import add_doc

COMMON = ["iso", "jis", "shaft", "S45C", "焼入れ", "bearing", "plate", "M8"]
RARE = ["ZB502779A", "B1002-A2P-A", "JXS-01-03", "SUS304", "ステンレス", "anodised", "φ12", "H7", "2768-m"]
QUERIES = ["S45C", "焼入れ", "SUS304 shaft", "ISO 2768-m", "bearing housing", "JIS G 4051", "ステンレス 軸受",
           "jxs 01 03", "b1002-a2p-a shaft", "φ12 H7", "iso jis shaft plate", "ZB502779A", "1002", "qqqzzz"]


def fts_answer(cat: Catalog, terms, limit: int, require_all: bool) -> list[tuple[int, float]]:
    expr = lexical_expression(terms, require_all)
    return [(int(r), float(s)) for r, s in cat.db.execute(
        "SELECT rowid, -bm25(chunk_fts) AS s FROM chunk_fts WHERE chunk_fts MATCH ? ORDER BY s DESC, rowid "
        "LIMIT ?", (expr.fts(), limit))]


@pytest.fixture()
def library(tmp_path, monkeypatch):
    # a few rows make a phrase "common", so both ways are taken: added up, and left to FTS5
    monkeypatch.setattr(catalog_module, "SMALL_PHRASE_ROWS", 12)
    rng = random.Random(3)
    cat = Catalog(tmp_path / "c.sqlite")
    for d in range(40):
        texts = []
        for _ in range(rng.randint(1, 4)):
            words = [w for w in COMMON if rng.random() < 0.6] + [w for w in RARE if rng.random() < 0.08]
            words += [f"w{rng.randint(0, 300)}" for _ in range(rng.randint(0, 40))]  # lengths vary
            words += rng.choice(COMMON) * rng.randint(0, 1) + " " + rng.choice(COMMON)  # counts vary
            rng.shuffle(words)
            texts.append(" ".join(words))
        add_doc(cat, f"/d{d}.txt", texts)
    yield cat
    cat.close()


@pytest.mark.parametrize("require_all", [True, False])
def test_added_up_phrase_scores_equal_fts5_bm25(library, require_all):
    for query in QUERIES:
        terms = query_terms(query)
        for limit in (3, 10, 500):
            want = fts_answer(library, terms, limit, require_all)
            for _ in range(3):  # FTS5's answer, phrases read, phrases remembered
                assert library.search_lexical(terms, limit, require_all=require_all) == want, query


def traced(cat: Catalog, terms, limit: int, require_all: bool = False) -> tuple[list, list[str]]:
    statements: list[str] = []
    cat.db.set_trace_callback(statements.append)
    try:
        return cat.search_lexical(terms, limit, require_all=require_all), statements
    finally:
        cat.db.set_trace_callback(None)


def test_common_phrases_are_read_when_asked_again_then_fts5_is_asked_nothing(library):
    terms = query_terms("iso jis shaft 焼入れ")
    first, asked = traced(library, terms, 20)
    # asked once: FTS5 answers (a search asked once costs what it did), no phrase read whole
    assert any("ORDER BY s DESC" in s for s in asked) and not any(s.endswith("LIMIT -1") for s in asked)
    second, asked = traced(library, terms, 20)
    assert second == first and sum(s.endswith("LIMIT -1") for s in asked) == 5  # iso, jis, shaft, 焼入, 入れ
    third, asked = traced(library, terms, 20)
    assert third == first and len(first) == 20
    assert not [s for s in asked if "MATCH" in s]  # only the library's revision is read


def test_an_and_with_a_rare_term_is_left_to_fts5(library):
    terms = query_terms("zb502779a shaft")
    for _ in range(3):
        got, asked = traced(library, terms, 20, require_all=True)
        assert got == fts_answer(library, terms, 20, True) and got
        assert any("ORDER BY s DESC" in s for s in asked)  # FTS5 reads the rows beside the rare one
        assert not any(s.endswith("LIMIT -1") for s in asked)  # shaft's rows are not read whole


def test_remembered_phrases_are_forgotten_when_the_library_changes(library):
    terms = query_terms("shaft")
    before = library.search_lexical(terms, 500)
    doc_id, _, _, chunks = add_doc(library, "/new.txt", ["shaft shaft shaft"])
    after = library.search_lexical(terms, 500)
    assert after == fts_answer(library, terms, 500, False)
    assert after[0][0] == chunks[0] and len(after) == len(before) + 1
    library.delete_document("/new.txt")
    assert library.search_lexical(terms, 500) == before


def test_the_phrase_cache_holds_at_most_its_rows_least_recently_asked_dropped_first():
    cache = PhraseCache(max_rows=10)

    def rows(n):
        return PhraseRows(np.arange(n, dtype=np.int64), np.ones(n))

    cache.put('"a"', rows(4), 1)
    cache.put('"b"', rows(4), 1)
    assert set(cache.get(['"a"'], 1)) == {'"a"'}  # "a" asked last: "b" goes first
    cache.put('"c"', rows(4), 1)
    assert set(cache.get(['"a"', '"b"', '"c"'], 1)) == {'"a"', '"c"'}
    cache.put('"huge"', rows(11), 1)  # more than it may hold: not kept, nothing dropped for it
    assert set(cache.get(['"a"', '"c"', '"huge"'], 1)) == {'"a"', '"c"'}
    cache.asked_before(['"huge"', '"d"'], False, 1)
    assert cache.asked_before(['"huge"', '"d"'], False, 1) == ['"d"']  # "huge" is not read whole again
    assert cache.get(['"a"', '"c"'], 2) == {}  # another generation of the library

