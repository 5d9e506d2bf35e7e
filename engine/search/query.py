"""Hybrid search: lexical (FTS5 BM25) + semantic (text vectors) + visual (page-image vectors),
fused per page (weighted, bounded min-max scores by default; RRF on request, see fuse.py), then
grouped per document with the best page and an explanation of why it matched.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Collection, Iterable, Sequence

import numpy as np

from engine.analyze import QueryTerm, extract_identifiers, lexical_tokens, query_terms, term_matches
from engine.search.explain import PageTokens, explain, make_snippet, matched_terms
from engine.search.fuse import normalise_max, ranked, rrf, score_fusion
from engine.types import Hit, ScoreBreakdown, SearchResults, Vector, Word

EVIDENCE = ("lexical", "semantic", "visual")
# internal lists: "visual" = query picture vs page pictures, "cross" = query picture vs page text
# (the image tower is trained into the text tower's space); both count as visual evidence
LISTS = ("lexical", "semantic", "visual", "cross")
PageKey = tuple[int, int]  # (doc_id, page_no)
MAX_QUERY_TERMS = 64
_DIMENSION = re.compile(r"[0-9]{1,3}(?:[.,][0-9]+)?|\d{2,4}[-/.]\d{1,2}[-/.]\d{1,4}")  # sizes, dates


@dataclass
class Query:
    """Everything we know about what the user asked, in any combination."""

    text: str = ""
    terms: list[QueryTerm] = field(default_factory=list)
    identifiers: list[str] = field(default_factory=list)
    text_vector: Vector | None = None  # text tower embedding of `text`
    image_vector: Vector | None = None  # image tower embedding of the query picture
    words: Sequence[Word] = ()  # words on the query page (file queries), for query-side boxes
    exclude_docs: set[int] = field(default_factory=set)
    keyword: bool = True  # typed by a person (coverage matters) vs. text of a whole drawing

    display_terms: list[QueryTerm] = field(default_factory=list)  # terms worth showing as reasons
    id_terms: list[QueryTerm] = field(default_factory=list)  # drawing queries: identifiers' terms
    doc_freq: dict[str, int] = field(default_factory=dict)  # chunks holding each term token
    chunk_total: int = 0  # chunks in the library when the query was made


@dataclass
class _Evidence:
    """Page-level scores per evidence plus the chunk that earned each page its best score."""

    scores: dict[str, dict[PageKey, float]] = field(default_factory=lambda: {e: {} for e in LISTS})
    best_chunk: dict[PageKey, int] = field(default_factory=dict)
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)  # raw list (lo, hi)

    def widen(self, evidence: str, scores: Sequence[float]) -> None:
        if len(scores):
            lo, hi = self.bounds.get(evidence, (float("inf"), float("-inf")))
            # the floor is 0 for BM25 (no match), the weakest candidate for similarities
            floor = 0.0 if evidence == "lexical" else min(scores)
            self.bounds[evidence] = (min(lo, floor), max(hi, max(scores)))

    def add(self, evidence: str, key: PageKey, score: float, chunk_id: int | None = None) -> None:
        table = self.scores[evidence]
        if score > table.get(key, float("-inf")):
            table[key] = score
            if chunk_id is not None and (evidence == "lexical" or key not in self.best_chunk):
                self.best_chunk[key] = chunk_id


def build_terms(text: str, identifiers: Sequence[str], *, keyword: bool) -> list[QueryTerm]:
    """Query terms; for drawing text, identifiers come first and the list is capped."""
    terms = query_terms(text)
    if keyword:
        return terms
    # an identifier also counts by its number part: drawing "1013-A2P-A" <-> BOM line "1013"
    id_terms = [t for ident in identifiers for t in query_terms(ident)]
    id_terms += [QueryTerm(p, (p,)) for ident in identifiers for p in lexical_tokens(ident)[1:]
                 if p.isdigit() and len(p) >= 3]
    seen: set[str] = set()
    ordered = []
    for t in id_terms + sorted(terms, key=lambda t: -len(t.text)):
        if t.text not in seen and (len(t.text) > 1 or not t.text.isascii()):
            seen.add(t.text)
            ordered.append(t)
    return ordered[:MAX_QUERY_TERMS]


class Searcher:
    def __init__(self, library) -> None:
        self.lib = library
        self.settings = library.settings

    # -- public --------------------------------------------------------------------------
    def make_query(self, text: str, *, keyword: bool, image_vector: Vector | None = None,
                   words: Sequence[Word] = (), exclude_docs: Iterable[int] = ()) -> Query:
        identifiers = extract_identifiers(text)
        q = Query(text=text, identifiers=identifiers, image_vector=image_vector, words=words,
                  exclude_docs=set(exclude_docs), keyword=keyword)
        q.terms = build_terms(text, identifiers, keyword=keyword)
        if keyword:
            q.display_terms = q.terms
        else:  # one look-up of how common each word is serves search terms and reasons
            cat = self.lib.catalog
            q.id_terms = build_terms(" ".join(identifiers), identifiers, keyword=False)
            q.doc_freq = cat.token_doc_freq([tok for t in q.terms + q.id_terms for tok in t.tokens])
            q.chunk_total = cat.chunk_count()
            q.display_terms = self._telling_terms(q)
        if text.strip() and self.lib.text_encoder is not None:
            q.text_vector = self.lib.text_encoder.encode([text])[0]
        return q

    def _selective_terms(self, q: Query, terms: list[QueryTerm]) -> list[QueryTerm]:
        """The words of a whole drawing that can tell pages apart. A word on a large share of
        the library ("material", "general", 尺度) adds almost nothing to BM25 but makes the
        search visit most of the index. The same holds for an identifier printed on most
        drawings of a site (a general-tolerance standard, the house material)."""
        common = max(self.settings.common_term_min_chunks,
                     self.settings.common_term_share * q.chunk_total)
        # (for a prefix term, the exact token's frequency is a lower bound of the prefix's)
        return [t for t in terms if min(q.doc_freq.get(tok, 0) for tok in t.tokens) <= common]

    def _telling_terms(self, q: Query) -> list[QueryTerm]:
        """Of a drawing's words, those that explain a match: not dimensions (12, 0.05), not single
        letters, and not words on most pages of this library ("date", "material", 尺度)."""
        limit = max(3, int(self.settings.reason_max_share * max(1, q.chunk_total)))
        return [t for t in q.terms
                if not _DIMENSION.fullmatch(t.text) and len(t.text) > 1
                and (t.prefix or max(q.doc_freq.get(tok, 0) for tok in t.tokens) <= limit)]

    def search(self, q: Query, *, limit: int, kinds: Collection[str] | None = None,
               evidence: Collection[str] | None = None, mode: str = "keyword") -> SearchResults:
        return self.search_many(q, [kinds], limit=limit, evidence=evidence, mode=mode)[0]

    def search_many(self, q: Query, kinds_lists: Sequence[Collection[str] | None], *, limit: int,
                    evidence: Collection[str] | None = None, mode: str = "keyword"
                    ) -> list[SearchResults]:
        """One ranked list per entry of `kinds_lists` (e.g. documents, then drawings), from
        evidence gathered once: a drawing query's two lists cost one lexical/ANN search."""
        t0 = time.perf_counter()
        use = set(evidence) if evidence else set(EVIDENCE)
        collected = self._collect(q, use)
        semantic = self.settings.weight_semantic if q.keyword else self.settings.weight_semantic_file
        weights = {"lexical": self.settings.weight_lexical, "semantic": semantic,
                   "visual": self.settings.weight_visual, "cross": self.settings.weight_cross}
        out = []
        for kinds in kinds_lists:
            ev = self._filtered(q, collected, kinds)
            present = {name: scores for name, scores in ev.scores.items()
                       if (name if name != "cross" else "visual") in use and scores}
            if self.settings.fusion == "rrf":
                fused = rrf({n: ranked(s) for n, s in present.items()}, weights, k=self.settings.rrf_k)
            else:
                fused = score_fusion(present, weights, ev.bounds)
            hits = self._group(q, ev, fused, limit)
            out.append(SearchResults(q.text, mode, tuple(hits), (time.perf_counter() - t0) * 1000,
                                     tuple(t.text for t in q.terms)))
        return out

    # -- evidence ------------------------------------------------------------------------
    def _collect(self, q: Query, use: set[str]) -> _Evidence:
        lib, cat, n = self.lib, self.lib.catalog, self.settings.candidates
        ev = _Evidence()
        chunk_scores: dict[str, list[tuple[int, float]]] = {}
        if "lexical" in use and q.terms:
            chunk_scores["lexical"] = self._lexical(q, n)
        if "semantic" in use and q.text_vector is not None and len(lib.text_index):
            chunk_scores["semantic"] = lib.text_index.search(q.text_vector, n)
        if ("visual" in use and q.image_vector is not None and self.settings.weight_cross > 0
                and len(lib.text_index) and lib.text_index.dim == len(q.image_vector)):
            chunk_scores["cross"] = lib.text_index.search(q.image_vector, n)  # image -> text
        rows = cat.chunks_by_ids([c for lst in chunk_scores.values() for c, _ in lst])
        for name, lst in chunk_scores.items():
            ev.widen(name, [s for _, s in lst])
            for chunk_id, score in lst:
                row = rows.get(chunk_id)
                if row is not None:
                    ev.add(name, (row.doc_id, row.page_no), score, chunk_id)
        if "visual" in use and q.image_vector is not None and lib.image_index is not None:
            pages = lib.image_index.search(q.image_vector, n)
            ev.widen("visual", [s for _, s in pages])
            where = cat.pages_by_ids(p for p, _ in pages)
            for page_id, score in pages:
                if page_id in where:
                    ev.add("visual", where[page_id], score)
        return ev

    def _lexical(self, q: Query, n: int) -> list[tuple[int, float]]:
        cat = self.lib.catalog
        hits: list[tuple[int, float]] = []
        if q.keyword and len(q.terms) > 1:
            # A person's words: pages holding all of them first. The AND query is also far
            # cheaper than OR on a large library; OR fills up when too few pages hold them all.
            hits = cat.search_lexical(q.terms, n, require_all=True)
        if len(hits) < n:
            seen = {c for c, _ in hits}
            terms = q.terms if q.keyword else self._selective_terms(q, q.terms)
            hits += [h for h in cat.search_lexical(terms, n) if h[0] not in seen][:n - len(hits)]
        if not hits:
            return hits
        top = hits[0][1] or 1.0
        if not q.keyword:
            # The text of a whole drawing shares many ordinary words with many documents; a
            # shared part number, material or standard is worth more than all of them together.
            # BM25 cannot weight single query terms, so identifiers get a second BM25 list.
            id_terms = self._selective_terms(q, q.id_terms)
            id_hits = dict(cat.search_lexical(id_terms, n)) if id_terms else {}
            id_top = max(id_hits.values(), default=0.0) or 1.0
            merged = {c: s / top for c, s in hits}
            for c, s in id_hits.items():
                merged[c] = merged.get(c, 0.0) + self.settings.identifier_boost * s / id_top
            return sorted(merged.items(), key=lambda x: -x[1])
        if len(q.terms) < 2:
            return hits
        # A person's query: pages matching more of the terms come first, BM25 breaks ties.
        tokens = cat.chunk_tokens([c for c, _ in hits])

        def coverage(chunk_id: int) -> float:
            toks = tokens.get(chunk_id, [])
            return sum(term_matches(t, set(toks), toks) for t in q.terms) / len(q.terms)

        rescored = [(c, coverage(c) + 0.5 * s / top) for c, s in hits]
        rescored.sort(key=lambda x: -x[1])
        return rescored

    def _filtered(self, q: Query, ev: _Evidence, kinds: Collection[str] | None) -> _Evidence:
        """A copy of `ev` holding only the pages of wanted documents."""
        docs = {k[0] for table in ev.scores.values() for k in table}
        meta = self.lib.catalog.documents_by_ids(docs) if docs else {}
        keep = {d for d in docs if d in meta and d not in q.exclude_docs
                and (kinds is None or meta[d].kind in kinds)}
        out = _Evidence(best_chunk=ev.best_chunk, bounds=ev.bounds)
        for name, table in ev.scores.items():
            out.scores[name] = {k: v for k, v in table.items() if k[0] in keep}
        if q.keyword and out.scores["lexical"]:
            # A person typed words and some pages contain them: pages found by meaning alone
            # must be clearly related to be shown at all.
            floor = self.settings.semantic_only_min
            out.scores["semantic"] = {k: v for k, v in out.scores["semantic"].items()
                                      if v >= floor or k in out.scores["lexical"]}
        return out

    # -- grouping and explanation ---------------------------------------------------------
    def _group(self, q: Query, ev: _Evidence, fused: dict, limit: int) -> list[Hit]:
        cat = self.lib.catalog
        best: dict[int, PageKey] = {}
        pages_of: dict[int, list[PageKey]] = {}
        for key in ranked(fused):
            doc_id = key[0]
            best.setdefault(doc_id, key)
            pages_of.setdefault(doc_id, []).append(key)
        order = list(best)[:limit]  # documents in the order of their best page
        meta = cat.documents_by_ids(order)
        lexn = normalise_max(ev.scores["lexical"])
        best_chunks = cat.chunks_by_ids(ev.best_chunk[best[d]] for d in order if best[d] in ev.best_chunk)
        hits = []
        for rank, doc_id in enumerate(order, start=1):
            key = best[doc_id]
            doc = meta[doc_id]
            scores = ScoreBreakdown(
                lexical=float(lexn.get(key, 0.0)),
                semantic=max(0.0, float(ev.scores["semantic"].get(key, 0.0))),
                visual=max(0.0, float(ev.scores["visual"].get(key, 0.0)),
                           float(ev.scores["cross"].get(key, 0.0))),
                fused=float(fused[key]),
            )
            page = cat.page(doc_id, key[1])
            page_text = page[1].text if page else ""
            words = page[1].words if page else ()
            chunk = best_chunks.get(ev.best_chunk.get(key, -1))
            snippet_src = chunk.text if chunk else page_text
            tokens = PageTokens(cat.page_tokens(page[0])) if page else PageTokens([])
            shared = matched_terms(q.display_terms, tokens)
            hits.append(Hit(
                doc_id=doc_id, path=doc.path, title=doc.title, kind=doc.kind, format=doc.format,
                page=key[1], scores=scores, snippet=make_snippet(snippet_src, shared),
                explanation=explain(shared, q.identifiers, tokens, words, scores, q.words),
                rank=rank, other_pages=tuple(k[1] for k in pages_of[doc_id][1:6]),
            ))
        return hits


def mean_vector(vectors: np.ndarray) -> Vector | None:
    if len(vectors) == 0:
        return None
    v = vectors.mean(axis=0)
    norm = float(np.linalg.norm(v))
    return (v / norm).astype(np.float32) if norm > 0 else None
