"""Catalog (SQLite + FTS5) and vector index (usearch) behaviour."""

import sqlite3

import numpy as np
import pytest

from engine.analyze import lexical_tokens, query_terms
from engine.errors import LibraryError, SchemaError
from engine.store.catalog import Catalog, ChunkDraft, term_keys
from engine.store import vectors
from engine.store.vectors import VectorIndex, vector_keys
from engine.types import Box, PageContent, Word


def add_doc(cat: Catalog, path: str, texts: list[str], title: str = "doc"):
    pages = [PageContent(i + 1, t, (Word(t.split()[0], Box(0.1, 0.1, 0.2, 0.2)),)) for i, t in enumerate(texts)]
    chunks = [[ChunkDraft(t, 0, 1)] for t in texts]
    return cat.replace_document(path=path, size=1, mtime_ns=1, sha1=path, format="text",
                                kind="document", title=title, pages=pages, chunks=chunks)


def test_catalog_replace_and_delete_keep_fts_in_sync(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    doc_id, removed, _, chunks = add_doc(cat, "/a.txt", ["焼入れ S45C shaft", "bearing housing"])
    assert removed == [] and len(chunks) == 2
    hits = cat.search_lexical(query_terms("焼入れ"), 10)
    assert [c for c, _ in hits] == [chunks[0]]
    _, removed, _, new_chunks = add_doc(cat, "/a.txt", ["plain text"])
    assert sorted(removed) == sorted(chunks)
    assert cat.search_lexical(query_terms("焼入れ"), 10) == []
    assert cat.counts()["chunks"] == 1
    gone, pages = cat.delete_document("/a.txt")
    assert gone == new_chunks and len(pages) == 1
    assert cat.counts() == {"documents": 0, "drawings": 0, "pages": 0, "chunks": 0}


def test_many_pages_are_read_at_once_as_one_by_one(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    a = add_doc(cat, "/a.txt", ["alpha one", "alpha two", "alpha three"])[0]
    b = add_doc(cat, "/b.txt", ["beta one"])[0]
    keys = [(b, 1), (a, 3), (a, 9), (a, 1), (999, 1)] * 90  # past one query's 400 keys
    got = cat.pages_at(keys)
    assert sorted(got) == sorted([(a, 1), (a, 3), (b, 1)])  # the pages that exist
    assert all(got[k] == cat.page(*k) for k in got)
    assert got[(a, 3)][1].text == "alpha three" and got[(a, 3)][1].words[0].text == "alpha"
    assert cat.pages_at([]) == {}


def test_catalog_rejects_newer_schema(tmp_path):
    path = tmp_path / "c.sqlite"
    Catalog(path).close()
    db = sqlite3.connect(path)
    db.execute("UPDATE meta SET value='99' WHERE key='schema_version'")
    db.commit()
    db.close()
    with pytest.raises(SchemaError, match="newer Zumen"):
        Catalog(path)


def test_catalog_failures_and_feedback(tmp_path):
    cat = Catalog(tmp_path / "c.sqlite")
    cat.record_failure("/bad.pdf", "encrypted PDF", 10, 20)
    assert cat.failure_stamps() == {"/bad.pdf": (10, 20)}
    assert cat.failures()[0].reason == "encrypted PDF"
    add_doc(cat, "/bad.pdf", ["now fine"])  # a successful index clears the failure
    assert cat.failures() == ()
    cat.add_feedback("shaft", None, "/bad.pdf", 1, 1, "default-1")
    assert cat.feedback()[0]["vote"] == 1


def unit(n: int, dim: int, seed: int = 0) -> np.ndarray:
    v = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_vector_index_approximate_matches_exact(tmp_path):
    idx = VectorIndex(tmp_path / "v.usearch", 32)
    vecs = unit(2000, 32)
    idx.add(np.arange(2000, dtype=np.uint64), vecs)
    queries = unit(50, 32, seed=1)
    recall = []
    for q in queries:
        approx = {k for k, _ in idx.search(q, 10)}
        exact = {k for k, _ in idx.search(q, 10, exact=True)}
        recall.append(len(approx & exact) / 10)
    assert np.mean(recall) >= 0.95
    best_key, best_sim = idx.search(vecs[7], 1, exact=True)[0]
    assert best_key == 7 and best_sim == pytest.approx(1.0, abs=1e-5)


def test_vector_index_save_load_round_trip_is_atomic(tmp_path):
    path = tmp_path / "v.usearch"
    idx = VectorIndex(path, 16)
    vecs = unit(100, 16)
    idx.add(np.arange(100, dtype=np.uint64), vecs)
    idx.remove(np.array([3], dtype=np.uint64))
    idx.save()
    assert not path.with_name(path.name + ".tmp").exists()
    again = VectorIndex(path, 16, view=True)
    assert len(again) == 99
    assert again.search(vecs[5], 1)[0][0] == 5
    again.add(np.array([3], dtype=np.uint64), vecs[3:4])  # a view becomes writable on change
    assert again.search(vecs[3], 1)[0][0] == 3
    with pytest.raises(LibraryError, match="dimensions"):
        VectorIndex(path, 8)


def test_vector_index_readd_replaces(tmp_path):
    idx = VectorIndex(tmp_path / "v.usearch", 16)
    vecs = unit(3, 16)
    idx.add(np.array([1], dtype=np.uint64), vecs[0:1])
    idx.add(np.array([1], dtype=np.uint64), vecs[1:2])
    assert len(idx) == 1
    assert idx.search(vecs[1], 1)[0][1] == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize("fold_after", [3, 1_000_000])  # merged into its base often / never
def test_vector_index_key_table_follows_every_change(tmp_path, monkeypatch, fold_after):
    """VectorIndex keeps its id -> key table up to date change by change instead of sorting every
    key again: after random adds, re-adds with new content, removals by id and by key, a save and
    a reopen, the index holds exactly the expected keys (a stale table leaves a replaced vector
    behind) and every lookup answers as they say."""
    monkeypatch.setattr(vectors, "FOLD_AFTER", fold_after)
    rng = np.random.default_rng(4)
    path, dim = tmp_path / "v.usearch", 8
    idx = VectorIndex(path, dim)
    want: dict[int, tuple[int, np.ndarray]] = {}  # id -> (fingerprint, vector)
    probe = np.arange(42, dtype=np.uint64)
    for step in range(150):
        op = rng.choice(["add", "add", "remove", "remove_keys", "reopen"]) if step else "add"
        if op == "add":  # ids drawn from 40: many are re-adds
            ids = rng.choice(40, size=int(rng.integers(1, 7)), replace=False).astype(np.uint64)
            fps = rng.integers(1, 1 << 24, len(ids)).astype(np.uint64)
            vecs = unit(len(ids), dim, seed=step)
            idx.add(ids, vecs, fps)
            want.update({int(i): (int(f), v) for i, f, v in zip(ids, fps, vecs)})
        elif op == "remove":
            ids = rng.choice(42, size=4, replace=False).astype(np.uint64)
            idx.remove(ids)
            for i in ids.tolist():
                want.pop(i, None)
        elif op == "remove_keys" and want:
            gone = rng.choice(sorted(want), size=min(3, len(want)), replace=False).tolist()
            keys = vector_keys(np.array(gone, dtype=np.uint64), np.array([want[i][0] for i in gone]))
            idx.remove_keys(np.append(keys, vector_keys(np.array([gone[0]], dtype=np.uint64), np.array([1]))))
            for i in gone:  # (with it, a key of a stored id that was never stored: ignored)
                want.pop(i)
        elif op == "reopen":
            idx.save()
            idx = VectorIndex(path, dim)
        expected = vector_keys(np.array(sorted(want), dtype=np.uint64),
                               np.array([want[i][0] for i in sorted(want)], dtype=np.uint64))
        assert sorted(idx.stored_keys().tolist()) == sorted(expected.tolist()), (step, op)
        assert idx.contains(probe).tolist() == [i in want for i in probe.tolist()], (step, op)
        got = idx.get(probe[::-1])
        for row, i in zip(got, probe[::-1].tolist()):
            assert np.allclose(row, want[i][1] if i in want else 0.0, atol=1e-5), (step, op, i)


def test_vector_index_replaces_and_removes_every_key_of_an_id_stored_twice(tmp_path):
    """An id stored under two keys (a fault: recovery drops the key the catalog does not expect)
    is still replaced or removed whole."""
    from usearch.index import Index

    def index_with(ids: list[int]) -> VectorIndex:
        raw = Index(ndim=4, metric="cos", dtype="f32")
        raw.add(vector_keys(np.array(ids, dtype=np.uint64), np.arange(1, len(ids) + 1)), vecs[:len(ids)])
        raw.save(str(path))
        return VectorIndex(path, 4)

    path, vecs = tmp_path / "v.usearch", np.eye(4, dtype=np.float32)
    idx = index_with([5, 5, 6, 7])
    assert sorted(idx.keys().tolist()) == [5, 5, 6, 7]
    assert idx.contains(np.array([6, 5, 8], dtype=np.uint64)).tolist() == [True, True, False]
    idx.add(np.array([5], dtype=np.uint64), vecs[3:4], np.array([9]))
    assert sorted(idx.keys().tolist()) == [5, 6, 7]
    assert np.allclose(idx.get(np.array([5], dtype=np.uint64))[0], vecs[3])
    idx = index_with([6, 7, 6])
    idx.remove(np.array([6], dtype=np.uint64))
    assert idx.keys().tolist() == [7]


def test_corrupt_vector_file_is_a_clear_error(tmp_path):
    path = tmp_path / "v.usearch"
    path.write_bytes(b"not an index")
    with pytest.raises(LibraryError, match="unreadable"):
        VectorIndex(path, 16)


def test_catalog_migrates_an_older_schema(tmp_path):
    path = tmp_path / "c.sqlite"
    cat = Catalog(path)
    add_doc(cat, "/a.txt", ["焼入れ S45C shaft"])
    cat.close()
    db = sqlite3.connect(path)  # turn it back into a version-1 catalog
    db.execute("DROP TABLE chunk_vocab")
    db.execute("DROP TABLE chunk_postings")
    db.execute("DROP TABLE page_terms")
    db.execute("ALTER TABLE chunks DROP COLUMN ntok")
    db.execute("ALTER TABLE chunks DROP COLUMN fp")
    db.execute("ALTER TABLE pages DROP COLUMN fp")
    for column in ("state", "note", "page_total", "extractor"):
        db.execute(f"ALTER TABLE documents DROP COLUMN {column}")
    db.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    db.commit()
    db.close()
    cat = Catalog(path)
    assert cat.get_meta("schema_version") == "6"
    assert _page_terms(cat) == _counted_tokens(cat)  # schema 6
    assert all(cat.chunk_fingerprints()[1]) and all(p[3] for p in cat.visual_pages())  # schema 4
    assert cat.document_progress("/a.txt")[3] == 0  # schema 5: read by a version before it
    assert cat.page_table().length.tolist() == [len(lexical_tokens("doc 焼入れ S45C shaft"))]  # title too
    assert cat.token_doc_freq(["s45c", "焼入", "nothing"]) == {"s45c": 1, "焼入": 1, "nothing": 0}
    assert cat.counts()["documents"] == 1  # data kept


def test_catalog_never_reuses_chunk_or_page_ids(tmp_path):
    """A vector saved for a deleted chunk must never be taken for a new one (issue #10)."""
    cat = Catalog(tmp_path / "c.sqlite")
    add_doc(cat, "/a.txt", ["first"])
    _, _, _, old_chunks = add_doc(cat, "/z.txt", ["coolant pump"])
    cat.delete_document("/z.txt")
    _, _, _, new_chunks = add_doc(cat, "/z.txt", ["company picnic"])
    assert min(new_chunks) > max(old_chunks)
    cat.close()
    cat = Catalog(tmp_path / "c.sqlite")  # remembered across sessions
    cat.delete_document("/z.txt")
    _, _, _, again = add_doc(cat, "/y.txt", ["other"])
    assert min(again) > max(new_chunks)


def test_vector_keys_carry_a_fingerprint_and_callers_speak_ids(tmp_path):
    from engine.store.vectors import fingerprint, vector_keys

    idx = VectorIndex(tmp_path / "v.usearch", 4)
    vecs = np.eye(4, dtype=np.float32)
    idx.add(np.array([7, 9], dtype=np.uint64), vecs[:2], np.array([fingerprint("a"), fingerprint("b")]))
    assert sorted(idx.keys().tolist()) == [7, 9]
    assert set(idx.stored_keys().tolist()) == set(vector_keys(np.array([7, 9], dtype=np.uint64),
                                                              np.array([fingerprint("a"), fingerprint("b")])).tolist())
    assert idx.search(vecs[1], 1)[0][0] == 9
    idx.add(np.array([9], dtype=np.uint64), vecs[2:3], np.array([fingerprint("c")]))  # replaced
    assert sorted(idx.keys().tolist()) == [7, 9]
    got = idx.get(np.array([9, 8], dtype=np.uint64))
    assert np.allclose(got[0], vecs[2]) and not got[1].any()  # no vector: a zero row
    idx.remove(np.array([7], dtype=np.uint64))
    assert idx.keys().tolist() == [9]


def test_restamp_changes_only_size_and_time(tmp_path):
    from dataclasses import replace

    cat = Catalog(tmp_path / "c.sqlite")
    doc_id, _, _, chunks = add_doc(cat, "/a.txt", ["焼入れ S45C shaft"])
    before = cat.document(doc_id)
    cat.restamp_document(doc_id, 42, 123_456)
    after = cat.document(doc_id)
    assert (after.size, after.mtime_ns) == (42, 123_456)
    assert replace(after, size=before.size, mtime_ns=before.mtime_ns) == before
    assert [c for c, _ in cat.search_lexical(query_terms("焼入れ"), 10)] == chunks


def test_only_the_store_speaks_sql():
    """SQL belongs to engine/store: the other layers call the catalog's methods."""
    import re
    from pathlib import Path

    engine = Path(__file__).resolve().parent.parent / "engine"
    sql = re.compile(r"\.execute(many)?\(|\b(SELECT|UPDATE|INSERT INTO|DELETE FROM)\b")
    offenders = [f"{p.relative_to(engine)}:{n}" for p in engine.rglob("*.py") if "store" not in p.parts
                 for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if sql.search(line)]
    assert not offenders, offenders


def test_query_caches_follow_every_change_of_the_library(tmp_path):
    """The page table and token frequencies are remembered per generation: a change by this
    connection or by another one (an indexer in another process) is seen by the next query, even
    when the chunk count stays the same."""
    cat = Catalog(tmp_path / "c.sqlite")
    add_doc(cat, "/a.txt", ["coolant pump", "bearing housing"])
    table = cat.page_table()
    assert cat.page_table() is table  # nothing changed: remembered
    assert cat.token_doc_freq(["coolant", "picnic"], cached=True) == {"coolant": 1, "picnic": 0}
    cat.delete_document("/a.txt")
    add_doc(cat, "/b.txt", ["company picnic", "bearing housing"])  # same number of chunks
    assert cat.token_doc_freq(["coolant", "picnic"], cached=True) == {"coolant": 0, "picnic": 1}
    fresh = cat.page_table()
    assert fresh is not table and set(fresh.doc.tolist()) == {cat.document_by_path("/b.txt").id}
    chunk_ids = np.array([c for c, _ in cat.search_lexical(query_terms("picnic"), 5)], dtype=np.int64)
    assert fresh.page_no[fresh.rows_of(chunk_ids)].tolist() == [1]
    assert fresh.rows_of(np.array([10**9], dtype=np.int64)).tolist() == [-1]  # unknown chunk

    other = Catalog(tmp_path / "c.sqlite")  # another connection writes
    add_doc(other, "/c.txt", ["coolant pump"])
    other.close()
    assert cat.token_doc_freq(["coolant"], cached=True) == {"coolant": 1}
    assert len(cat.page_table().doc) == 3


def test_query_caches_are_shared_by_threads_until_the_library_changes(tmp_path):
    """Each thread has its own connection; the tables a query builds in one (a search worker,
    the desktop's warm-up) serve the others, until a write by any of them."""
    import threading

    cat = Catalog(tmp_path / "c.sqlite")
    add_doc(cat, "/a.txt", ["coolant pump", "bearing housing"])
    built = {}

    def in_thread(fn):
        t = threading.Thread(target=fn)
        t.start()
        t.join()

    in_thread(lambda: built.update(pages=cat.page_table(), vocab=cat.vocab_table()))
    assert cat.page_table() is built["pages"] and cat.vocab_table() is built["vocab"]
    in_thread(lambda: add_doc(cat, "/b.txt", ["company picnic"]))
    assert cat.page_table() is not built["pages"] and cat.vocab_table() is not built["vocab"]
    assert cat.vocab_table().lookup(["picnic", "coolant"]).tolist() == [1, 1]


def test_many_token_frequencies_come_from_the_vocabulary_table_and_stay_exact(tmp_path, monkeypatch):
    """A drawing query's thousands of tokens are looked up in one table of the whole vocabulary,
    read again after a change once it is due; until then, SQL answers (exact either way)."""
    import engine.store.catalog as catalog

    monkeypatch.setattr(catalog, "VOCAB_TABLE_MIN_TOKENS", 2)
    cat = Catalog(tmp_path / "c.sqlite")
    # "ち" is U+3061, whose two bytes spell "a0": Python's str hash cannot tell them apart
    add_doc(cat, "/a.txt", ["coolant pump", "coolant bearing housing", "焼入れ S45C", "a0 a0 ち", "a0"])
    words = ["coolant", "pump", "bearing", "焼入", "s45c", "picnic", "nothing", "a0", "ち"]
    truth = cat.token_doc_freq(words)
    assert truth == {"coolant": 2, "pump": 1, "bearing": 1, "焼入": 1, "s45c": 1, "picnic": 0, "nothing": 0,
                     "a0": 2, "ち": 1}
    assert cat.token_doc_freq(words, cached=True) == truth
    table = cat.vocab_table()
    assert cat.vocab_table() is table and table.lookup(["coolant", "zzz"]).tolist() == [2, 0]
    add_doc(cat, "/b.txt", ["company picnic", "coolant"])
    changed = {**truth, "coolant": 3, "picnic": 1}
    assert cat.token_doc_freq(words, cached=True) == changed  # not due yet: SQL
    assert cat._vocab[1] is table
    monkeypatch.setattr(catalog, "VOCAB_TABLE_EVERY_S", 0.0)
    monkeypatch.setattr(catalog, "VOCAB_TABLE_COST_FACTOR", 10**6)  # due after 10^6 x its reading time…
    assert cat.token_doc_freq(words, cached=True) == changed and cat._vocab[1] is table  # …not yet
    monkeypatch.setattr(catalog, "VOCAB_TABLE_COST_FACTOR", 0.0)
    assert cat.token_doc_freq(words, cached=True) == changed  # due: read again
    assert cat._vocab[1] is not table and cat.vocab_table() is cat._vocab[1]
    assert cat.token_doc_freq(["picnic"], cached=True) == {"picnic": 1}  # this generation's table


def _page_terms(cat: Catalog) -> dict[tuple[int, int], dict[int, int]]:
    """What page_terms holds: (doc_id, page_no) -> term key -> count."""
    docs = [r[0] for r in cat.db.execute("SELECT id FROM documents")]
    return {(d, p): dict(zip(keys.tolist(), counts.tolist())) for d, p, keys, counts in cat.page_terms(docs)}


def _counted_tokens(cat: Catalog) -> dict[tuple[int, int], dict[int, int]]:
    """The same counted from the FTS index's tokens of every chunk, as a query counted them."""
    from collections import Counter

    out: dict[tuple[int, int], Counter] = {}
    docs = [r[0] for r in cat.db.execute("SELECT id FROM documents")]
    for doc_id, page_no, tokens in cat.tokens_of_documents(docs):
        out.setdefault((doc_id, page_no), Counter()).update(tokens.split())
    return {page: dict(zip(term_keys(list(c)).tolist(), c.values())) for page, c in out.items()}


def test_page_terms_count_every_page_s_tokens_when_written_replaced_retokenised_and_deleted(tmp_path):
    """Drawing queries read each page's tokens counted (page_terms) instead of its chunks' words:
    the counts must be the chunks' (overlapping chunks count a shared word twice), kept in step
    with every write."""
    cat = Catalog(tmp_path / "c.sqlite")
    pages = [PageContent(1, "coolant pump coolant 焼入れ", ()), PageContent(2, "", ()),
             PageContent(3, "S45C shaft", ())]
    chunks = [[ChunkDraft("coolant pump coolant", 0, 0), ChunkDraft("coolant 焼入れ", 0, 0)], [],
              [ChunkDraft("S45C shaft", 0, 0)]]
    doc = cat.replace_document(path="/a.pdf", size=1, mtime_ns=1, sha1="a", format="pdf", kind="document",
                               title="Pump", pages=pages, chunks=chunks)[0]
    add_doc(cat, "/b.txt", ["bearing housing", "coolant"])
    terms = _page_terms(cat)
    assert terms == _counted_tokens(cat) and (doc, 2) not in terms  # a page without words has none
    coolant = term_keys(["coolant"])[0]
    assert terms[(doc, 1)][coolant] == 3  # twice in the first chunk, once in the second
    assert cat.page_terms([doc])[0][2].dtype.itemsize == 8
    add_doc(cat, "/b.txt", ["company picnic"])  # replaced
    assert _page_terms(cat) == _counted_tokens(cat) and len(_page_terms(cat)) == 3
    with cat.transaction() as tx:  # indexed by an older analyser: every chunk is re-tokenised
        tx.execute("DELETE FROM page_terms")
        tx.execute("UPDATE meta SET value='0' WHERE key='analyzer_version'")
    cat.close()
    cat = Catalog(tmp_path / "c.sqlite")
    assert _page_terms(cat) == _counted_tokens(cat) and _page_terms(cat)[(doc, 1)] == terms[(doc, 1)]
    cat.delete_document("/a.pdf")
    assert cat.db.execute("SELECT count(*) FROM page_terms").fetchone()[0] == 1
    # "ち" is U+3061, whose two bytes spell "a0": Python's own str hash cannot tell them apart
    assert len(set(term_keys(["ち", "a0", "coolant"]).tolist())) == 3
