"""Hybrid search: lexical + semantic (text vectors) + visual (page-image vectors), fused per page,
then grouped per document with the best page and an explanation of why it matched.

Two kinds of query, two fusions:
- keywords a person typed: FTS5 BM25 (pages holding all terms first), fused with meaning by
  bounded min-max scores (or RRF, see fuse.py); a meaning-only page must clear a floor, and a
  query no page contains says so (`no_match`).
- a whole drawing (query-by-document): absolute evidence features per page and document
  (docrank.py: BM25 of every query token weighted by rarity, at page and document level; cosine of
  meaning and looks; links from the drawing found in the library to the documents naming its file
  or lying beside it), summed with weights fitted leave-one-source-out (docs/ranking.md), and a
  calibrated confidence per hit; a query whose best hit stays below the calibrated bar has no match.
"""

from __future__ import annotations

import itertools
from concurrent.futures import Future, ThreadPoolExecutor
import math
import os
import re
import time
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import PurePath
from typing import Collection, Iterable, Iterator, Mapping, Sequence

import numpy as np

from engine.analyze import (DIMENSION, QueryTerm, code_runs, extract_identifiers, joined_code, lexical_tokens,
                            normalize, number_parts, query_terms, term_matches)

from engine.config import Calibration, FileWeights
from engine.files import readable
from engine.orientation import displayed_words
from engine.search.docrank import Bm25Params, file_stem_token, lexical_evidence
from engine.search.explain import (PageTokens, boxes_by_term, explain, is_template, make_snippet,
                                   matched_terms, respelled, telling_tokens, whole_word_in)
from engine.search.fuse import ranked, rrf, score_fusion
from engine.search.looks import LookSpace
from engine.types import Box, Hit, PageContent, ScoreBreakdown, SearchResults, Vector, Word

EVIDENCE = ("lexical", "semantic", "visual")
# internal lists: "visual" = query picture vs page pictures, "cross" = query picture vs page text
# (the image tower is trained into the text tower's space); both count as visual evidence
LISTS = ("lexical", "semantic", "visual", "cross")
DOC_LISTS = ("lexical_doc", "cosine_doc", "link_name", "link_folder")  # drawing queries, per document
PageKey = tuple[int, int]  # (doc_id, page_no)
MAX_QUERY_TERMS = 64
TWIN_MIN_VISUAL = 0.85  # image-tower cosine of a drawing and a render (>= 0.99) or photo of it
TWIN_LOOK_MARGIN = 0.05  # …and within this of the best-looking drawing (photos: 0.89 vs 0.93)
TWIN_MIN_COVERAGE = 0.5  # the share of a twin's words the query holds, relative to the best drawing's
TWIN_COVERAGE_POOL = 20  # drawings (by share of the query's words) whose coverage is measured
MIN_DUPLICATE_CHARS = 20  # pages with less text than this are never called duplicates
# a chunk holding a code's number but not the code holds this share of the term ("1002" of
# "B1002-A2P-A"): below every chunk that holds all the terms a person typed
NUMBER_SHARE = 0.5
NO_KEYWORD_MATCH = "No document contains these words; the results below match by meaning only."
NO_KEYWORD_HITS = "No document contains these words, and none is close in meaning."
NO_DRAWING_MATCH = "Nothing in the library matches this drawing closely enough to be shown."


@dataclass
class Query:
    """Everything we know about what the user asked, in any combination."""

    text: str = ""
    terms: list[QueryTerm] = field(default_factory=list)
    identifiers: list[str] = field(default_factory=list)
    text_vector: Vector | None = None  # text tower embedding of `text`
    image_vector: Vector | None = None  # image tower embedding of the query picture
    image_variants: np.ndarray | None = None  # (k, dim): the picture in other orientations too
    words: Sequence[Word] = ()  # words on the query page (file queries), for query-side boxes
    exclude_docs: set[int] = field(default_factory=set)  # library files identical to the query
    keyword: bool = True  # typed by a person (coverage matters) vs. text of a whole drawing

    display_terms: list[QueryTerm] = field(default_factory=list)  # terms worth showing as reasons
    template: dict[str, float] = field(default_factory=dict)  # token -> share of similar drawings with it
    misread: dict[str, str] = field(default_factory=dict)  # a code OCR misread -> the library's code
    corrected: list[QueryTerm] = field(default_factory=list)  # display terms of those codes
    doc_freq: dict[str, int] = field(default_factory=dict)  # chunks holding each query token
    chunk_total: int = 0  # chunks in the library when the query was made

    @property
    def codes_only(self) -> bool:
        """Every term holds a digit ("B1002-A2P-A", "JXS 01 03", "S45C"): part numbers, materials,
        sizes, whose meaning a sentence encoder does not know."""
        return bool(self.terms) and all(any(c.isdigit() for c in t.text) for t in self.terms)


@dataclass
class _Evidence:
    """Page-level scores per evidence, document-level features (drawing queries), and the chunk
    that earned each page its best score."""

    scores: dict[str, dict[PageKey, float]] = field(default_factory=lambda: {e: {} for e in LISTS})
    doc: dict[str, dict[int, float]] = field(default_factory=lambda: {e: {} for e in DOC_LISTS})
    best_chunk: dict[PageKey, int] = field(default_factory=dict)
    bounds: dict[str, tuple[float, float]] = field(default_factory=dict)  # raw list (lo, hi)
    coverage: dict[PageKey, float] = field(default_factory=dict)  # keywords: share of terms held
    holds_terms: set[PageKey] = field(default_factory=set)  # keywords: pages holding a term whole
    cosine: dict[PageKey, float] = field(default_factory=dict)  # drawings: TF-IDF cosine per page
    dimensions: dict[PageKey, float] = field(default_factory=dict)  # drawings: BM25 of the numbers
    # drawings: the pages of a `link_name` document that name the drawing's file (the feature
    # holds for those pages only: a BOM with a row per part names each drawing on its own row)
    naming_pages: dict[PageKey, float] = field(default_factory=dict)
    # the image tower's raw cosine per page (the "visual" scores are whitened, looks.py): a
    # twin must look like the query as a render or photo of it does, template and all
    raw_looks: dict[PageKey, float] = field(default_factory=dict)
    # drawings: the library drawing (path) each link goes through, for the reasons shown: the
    # page naming its file (a parts list's rows name different drawings), and the document in
    # its folder with how many folders up
    named_by: dict[PageKey, str] = field(default_factory=dict)
    beside: dict[int, tuple[str, int]] = field(default_factory=dict)

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

    def documents(self) -> set[int]:
        """Every document with some evidence."""
        docs = {k[0] for table in self.scores.values() for k in table}
        return docs | {d for table in self.doc.values() for d in table}

    def supported(self, keys: set[PageKey], weights: FileWeights, *, by_likeness: bool = True) -> set[PageKey]:
        """The pages among `keys` with some evidence that `weights` counts: the others fuse to 0
        (a drawing query touches tens of thousands of pages on a large library, with one word).
        Without `by_likeness`, meaning and looks count only beside words or links: every page
        is a little like any drawing, so they alone would list the library for a drawing it
        has nothing to do with."""
        page = {"lexical_page": self.scores["lexical"], "cosine_page": self.cosine,
                "dimensions": self.dimensions}
        if by_likeness:
            page |= {"semantic": self.scores["semantic"], "visual": self.scores["visual"] | self.scores["cross"]}
        doc = {"lexical_doc": self.doc["lexical_doc"], "cosine_doc": self.doc["cosine_doc"],
               "link_name": self.doc["link_name"], "link_folder": self.doc["link_folder"]}
        out = {k for name, table in page.items() if getattr(weights, name) > 0
               for k, v in table.items() if v > 0 and k in keys}
        docs = {d for name, table in doc.items() if getattr(weights, name) > 0
                for d, v in table.items() if v > 0}
        return out | {k for k in keys if k[0] in docs} if docs else out

    def _feature_tables(self) -> list[tuple[str, tuple[Mapping, ...], bool]]:
        """Each feature's name, the tables it is the maximum of (with 0), and whether they are
        keyed by document (else by page), in FileWeights' order."""
        sc, doc = self.scores, self.doc
        return [("lexical_page", (sc["lexical"],), False), ("lexical_doc", (doc["lexical_doc"],), True),
                ("cosine_page", (self.cosine,), False), ("cosine_doc", (doc["cosine_doc"],), True),
                ("dimensions", (self.dimensions,), False), ("semantic", (sc["semantic"],), False),
                ("visual", (sc["visual"], sc["cross"]), False), ("link_name", (self.naming_pages,), False),
                ("link_folder", (doc["link_folder"],), True)]

    def features(self, key: PageKey) -> dict[str, float]:
        """The absolute evidence features of one page (document-level ones from its document)."""
        return {name: max(0.0, *(t.get(key[0] if by_doc else key, 0.0) for t in tables))
                for name, tables, by_doc in self._feature_tables()}

    def fused(self, keys: Collection[PageKey], weights: FileWeights, *, keep_zero: bool = False
              ) -> dict[PageKey, float]:
        """The weighted sum of `features(k)` for every page in `keys` (feature by feature, in
        FileWeights' order), over all pages at once: a drawing query weighs ~10^4 candidate pages
        on a large library. Pages fusing to 0 are left out unless `keep_zero`."""
        keys = list(keys)
        total = np.zeros(len(keys))
        for name, tables, by_doc in self._feature_tables():
            w = getattr(weights, name)
            if not w:
                continue  # adds 0.0: the sum is unchanged
            value = np.zeros(len(keys))
            for t in tables:
                if t:
                    got = (t.get(k[0], 0.0) for k in keys) if by_doc else map(t.get, keys, itertools.repeat(0.0))
                    value = np.maximum(value, np.fromiter(got, dtype=np.float64, count=len(keys)))
            total += w * value
        return {k: v for k, v in zip(keys, total.tolist()) if v > 0 or keep_zero}


def confidence(fused: float, calibration: Calibration) -> float:
    """The calibrated probability that a drawing query's hit with this fused score is relevant;
    0 for a hit without any weighted evidence."""
    if fused <= 0:
        return 0.0
    return 1.0 / (1.0 + math.exp(-(calibration.slope * fused + calibration.intercept)))


def build_terms(text: str, identifiers: Sequence[str], *, keyword: bool) -> list[QueryTerm]:
    """Query terms; for drawing text (reasons, snippets), identifiers come first, capped."""
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


def edit_query_text(text: str, drop: Iterable[str] = (), add: Iterable[str] = ()) -> str:
    """A drawing's read text as the user corrected it: without the terms they removed (a misread
    "uitimaker", the company name) and with the words they added. Matching ignores case and
    width (NFKC); a Latin or digit term is removed only as a whole token, never from inside a
    longer one (removing "12" keeps "A12B")."""
    out = unicodedata.normalize("NFKC", text)
    for term in drop:
        t = unicodedata.normalize("NFKC", term).strip()
        if not t:
            continue
        pattern = re.escape(t)
        if t[0].isascii() and t[0].isalnum():
            pattern = r"(?<![0-9A-Za-z])" + pattern
        if t[-1].isascii() and t[-1].isalnum():
            pattern += r"(?![0-9A-Za-z])"
        out = re.sub(pattern, " ", out, flags=re.IGNORECASE)
    extra = " ".join(a.strip() for a in add if a.strip())
    return f"{out}\n{extra}" if extra else out


def read_terms(q: "Query", limit: int = 24) -> tuple[str, ...]:
    """What Zumen read from a drawing that counts in its ranking, for the user to check: its
    part numbers first (as printed), then its other telling words, rarest first."""
    printed = {normalize(i): i for i in q.identifiers}
    read = [t for t in q.display_terms if t not in q.corrected]
    ids = [printed[t.text] for t in read if t.text in printed]
    rest = sorted((t for t in read if t.text not in printed),
                  key=lambda t: (min((q.doc_freq.get(tok, 0) for tok in t.tokens), default=0), t.text))
    return tuple(dict.fromkeys(ids + [t.text for t in rest]))[:limit]


class Searcher:
    def __init__(self, library) -> None:
        self.lib = library
        self.settings = library.settings
        self._coverage: dict[int, float] = {}
        self._parts_only: set[int] = set()  # chunks holding no term whole, only part of one (_lexical)
        self._looks = LookSpace()
        self._stems: tuple[object, dict[str, list[int]]] = (None, {})  # see _drawing_stems
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="zumen-meaning")  # threads start on use

    def close(self) -> None:
        # a meaning search still running reads the vector index and the catalog: let it end
        # before the library closes them under it (a queued one is dropped)
        self._worker.shutdown(wait=True, cancel_futures=True)

    # -- public --------------------------------------------------------------------------
    def make_query(self, text: str, *, keyword: bool, image_vector: Vector | None = None,
                   words: Sequence[Word] = (), exclude_docs: Iterable[int] = (),
                   image_variants: np.ndarray | None = None) -> Query:
        identifiers = extract_identifiers(text)
        q = Query(text=text, identifiers=identifiers, image_vector=image_vector, words=words,
                  exclude_docs=set(exclude_docs), keyword=keyword, image_variants=image_variants)
        q.terms = build_terms(text, identifiers, keyword=keyword)
        if keyword:
            q.terms = [self._with_numbers(t) for t in self._typed_codes(text, q.terms)]
            q.display_terms = q.terms
        else:  # one look-up of how common each token is serves scoring and reasons
            cat = self.lib.catalog
            tokens = set(lexical_tokens(text)) | {tok for t in q.terms for tok in t.tokens}
            q.doc_freq = cat.token_doc_freq(sorted(tokens), cached=True)
            q.chunk_total = cat.chunk_count()
            q.display_terms = self._telling_terms(q)
        if keyword and not q.terms:  # only a meaning to search for (otherwise: in _collect)
            self._encode(q)
        return q

    def _typed_codes(self, text: str, terms: list[QueryTerm]) -> list[QueryTerm]:
        """A code typed with spaces ("JXS 01 03" for JXS-01-03) is one term when its pieces join
        into the beginning of a token the library holds (the index keeps "JXS-01-03" also as
        "jxs0103"): it matches the code written joined or with spaces, and its rarity ranks it,
        not that of "01" and "03", which half the library's pages hold."""
        out = list(terms)
        for run in code_runs(text):
            for start, end in joined_code(run, self.lib.catalog.has_token_prefix):
                pieces = run[start:end]
                at = [i for i, t in enumerate(out) if t.text in pieces and t.tokens == (t.text,)]
                code = QueryTerm(" ".join(pieces), ("".join(pieces),), True, tuple(dict.fromkeys(pieces)))
                out = [t for i, t in enumerate(out) if i not in at]
                out.insert(min(at, default=len(out)), code)
        return out

    def _with_numbers(self, term: QueryTerm) -> QueryTerm:
        """A code the library holds also finds the documents that cite a number inside it
        (`number_parts`: a parts list's "part number 1002" for drawing B1002-A2P-A). A code it
        holds nowhere keeps its "no match": its numbers alone are no evidence of it."""
        if not term.prefix or not (numbers := number_parts(term.text)):
            return term
        return replace(term, numbers=numbers) if self.lib.catalog.has_token_prefix(term.tokens[0]) else term

    def _encode(self, q: Query) -> None:
        if q.text_vector is None and q.text.strip() and self.lib.text_encoder is not None:
            q.text_vector = self.lib.text_encoder.encode([q.text])[0]

    def _semantic(self, q: Query, n: int) -> list[tuple[int, float]] | None:
        """The chunks closest in meaning to the query text (encoded first when it is not yet)."""
        self._encode(q)
        if q.text_vector is None or not len(self.lib.text_index):
            return None
        return self.lib.text_index.search(q.text_vector, n)

    def _telling_terms(self, q: Query) -> list[QueryTerm]:
        """Of a drawing's words, those that explain a match: not dimensions (12, 0.05), not single
        letters, and not words on most pages of this library ("date", "material", 尺度)."""
        limit = max(3, int(self.settings.reason_max_share * max(1, q.chunk_total)))
        return [t for t in q.terms
                if not DIMENSION.fullmatch(t.text) and len(t.text) > 1
                and (t.prefix or max(q.doc_freq.get(tok, 0) for tok in t.tokens) <= limit)]

    def search(self, q: Query, *, limit: int, kinds: Collection[str] | None = None,
               evidence: Collection[str] | None = None, mode: str = "keyword") -> SearchResults:
        return self.search_many(q, [kinds], limit=limit, evidence=evidence, mode=mode)[0]

    def search_many(self, q: Query, kinds_lists: Sequence[Collection[str] | None], *, limit: int,
                    evidence: Collection[str] | None = None, mode: str = "keyword",
                    show_weak: bool = False, looks: int = 0) -> list[SearchResults]:
        """One ranked list per entry of `kinds_lists` (e.g. documents, then drawings), from
        evidence gathered once: a drawing query's two lists cost one lexical/ANN search.
        `show_weak`: list a drawing query's hits even when none reaches the no-match bar (they
        keep their low confidence; `no_match` still says so). `looks`: a drawing query's
        drawings list also carries its first `looks` hits by looks alone (`SearchResults.looks`),
        as the list asked with only the visual evidence would rank them."""
        t0 = time.perf_counter()
        use = set(evidence) if evidence else set(EVIDENCE)
        collected = self._collect(q, use, every_feature=show_weak)
        kind_of = self.lib.catalog.document_kinds(collected.documents())
        # where the query page's words are, per term: the same for every list
        query_boxes = boxes_by_term(q.words, q.display_terms) if q.words else None
        out = []
        for kinds in kinds_lists:
            ev = self._filtered(q, collected, kinds, kind_of, use)
            drawings_list = bool(kinds) and "drawing" in kinds
            note, no_match, calibration = "", False, None
            if q.keyword:
                fused = self._fuse_keyword(ev, use, codes_only=q.codes_only)
                no_match = "lexical" in use and bool(q.terms) and not self._any_readable(
                    {k: v for k, v in ev.scores["lexical"].items() if k in ev.holds_terms})
                note = (NO_KEYWORD_MATCH if fused else NO_KEYWORD_HITS) if no_match else ""
            else:
                weights, calibration = self._file_ranking(drawings_list, use)
                keys = self._candidates(ev)
                # the documents list: a document by meaning or looks alone is none (unless the
                # ranking asked for is by those alone, a diagnostic one)
                likeness = drawings_list or "lexical" not in use
                supported = keys if show_weak else ev.supported(keys, weights, by_likeness=likeness)
                fused = ev.fused(supported, weights, keep_zero=show_weak)
            # similar drawings have no calibrated confidence (the development sets judge drawing ->
            # documents): their hits carry 0, "not calibrated", and the app shows no Match bar
            calibrated = not q.keyword and not drawings_list
            hits = self._group(q, ev, fused, limit, calibration if calibrated else None, query_boxes)
            if calibrated:
                # No document with a calibrated confidence of `min_top` or more: "no match", and
                # the list stays empty. Below the best hit, weaker hits keep their place (with
                # their own, lower confidence): a folder README two levels up is still related.
                # (The calibration holds for the documents list with the full evidence; a
                # diagnostic single-evidence ranking lists what it finds.)
                top = hits[0].scores.fused if hits else 0.0
                no_match = use == set(EVIDENCE) and confidence(top, calibration) < calibration.min_top
                if no_match:
                    note = NO_DRAWING_MATCH
                    hits = hits if show_weak else []
            by_looks = ()
            if looks and drawings_list and not q.keyword and ev.scores.get("visual"):
                by_looks = tuple(self._group(q, ev, dict(ev.scores["visual"]), looks, None, query_boxes))
            out.append(SearchResults(q.text, mode, tuple(hits), (time.perf_counter() - t0) * 1000,
                                     tuple(t.text for t in q.terms), no_match, note, by_looks))
        return out

    def _any_readable(self, pages: Mapping[PageKey, float]) -> bool:
        """Does any of these pages belong to a file the user may read? (Usually the first does.)"""
        return next(self._readable(dict.fromkeys(k[0] for k in pages)), None) is not None

    def _readable(self, doc_ids: Iterable[int], batch: int = 64) -> Iterator[int]:
        """The documents among `doc_ids`, in their order, whose files the user may read now
        (another user's private file: not even its name); paths are read `batch` at a time, as
        far as the caller iterates."""
        if not self.settings.check_access:
            yield from doc_ids
            return
        ids = iter(doc_ids)
        while part := list(itertools.islice(ids, batch)):
            rows = self.lib.catalog.documents_by_ids(part)
            yield from (d for d in part if d in rows and readable(rows[d].path))

    def _fuse_keyword(self, ev: _Evidence, use: set[str], codes_only: bool = False) -> dict[PageKey, float]:
        s = self.settings
        weights = {"lexical": s.weight_lexical, "semantic": s.weight_semantic,
                   "visual": s.weight_visual, "cross": s.weight_cross}
        present = {name: scores for name, scores in ev.scores.items()
                   if (name if name != "cross" else "visual") in use and scores}
        if s.fusion == "rrf":
            return rrf({n: ranked(sc) for n, sc in present.items()}, weights, k=s.rrf_k)
        bounds = dict(ev.bounds)
        floor = s.code_meaning_floor if codes_only and s.code_meaning_floor is not None else s.keyword_meaning_floor
        if floor is not None:  # meaning on an absolute scale, not the list's
            bounds["semantic"] = (floor, 1.0)
        return score_fusion(present, weights, bounds)

    def _file_ranking(self, drawings_list: bool, use: set[str]) -> tuple[FileWeights, Calibration]:
        """The fitted weights of the list (drawings or documents; a site's own, fitted by
        `zumen adapt`, for its documents) restricted to the evidence asked for ("lexical" covers
        words and links, "semantic" meaning, "visual" looks), and the calibration."""
        if drawings_list:
            w, calibration = self.settings.similar_weights, self.settings.calibration
        else:
            w, calibration = self.lib.ranking()
        lexical = "lexical" in use
        return FileWeights(
            lexical_page=w.lexical_page if lexical else 0.0,
            lexical_doc=w.lexical_doc if lexical else 0.0,
            cosine_page=w.cosine_page if lexical else 0.0,
            cosine_doc=w.cosine_doc if lexical else 0.0,
            dimensions=w.dimensions if lexical else 0.0,
            semantic=(w.semantic or 1.0) if use == {"semantic"} else (w.semantic if "semantic" in use else 0.0),
            visual=(w.visual or 1.0) if use == {"visual"} else (w.visual if "visual" in use else 0.0),
            link_name=w.link_name if lexical else 0.0,
            link_folder=w.link_folder if lexical else 0.0), calibration

    @staticmethod
    def _candidates(ev: _Evidence) -> set[PageKey]:
        keys = {k for table in ev.scores.values() for k in table}
        # the pages that name the drawing; documents found only by another document-level
        # feature (a folder neighbour): their first page
        keys |= {k for k in ev.naming_pages if k[0] in ev.doc["link_name"]}
        have = {k[0] for k in keys}
        for table in ev.doc.values():
            keys |= {(d, 1) for d in table if d not in have}
        return keys

    # -- evidence ------------------------------------------------------------------------
    def _collect(self, q: Query, use: set[str], every_feature: bool = False) -> _Evidence:
        lib, cat, n = self.lib, self.lib.catalog, self.settings.candidates
        ev = _Evidence()
        chunk_scores: dict[str, list[tuple[int, float]]] = {}
        # the query's meaning (text tower, then ANN) is found while SQLite and numpy weigh its
        # words: both let go of the GIL, so the query costs the longer of the two, not their sum
        meaning = self._worker.submit(self._semantic, q, n) if "semantic" in use else None
        if "lexical" in use and q.terms and q.keyword:
            chunk_scores["lexical"] = self._lexical(q, n)
        if ("visual" in use and q.image_vector is not None and self.settings.weight_cross > 0
                and len(lib.text_index) and lib.text_index.dim == len(q.image_vector)):
            chunk_scores["cross"] = lib.text_index.search(q.image_vector, n)  # image -> text
        exact: list[tuple[int, float]] = []
        if not q.keyword and q.text.strip():
            exact = self._document_evidence(q, ev, use, meaning, every_feature)
        if meaning is not None and ((found := meaning.result()) is not None or exact):
            chunk_scores["semantic"] = exact + (found or [])
        where = cat.chunk_pages(c for lst in chunk_scores.values() for c, _ in lst)
        for name, lst in chunk_scores.items():
            ev.widen(name, [s for _, s in lst])
            for chunk_id, score in lst:
                key = where.get(chunk_id)
                if key is not None:
                    ev.add(name, key, score, chunk_id)
                    if name == "lexical":
                        ev.coverage[key] = max(ev.coverage.get(key, 0.0), self._coverage[chunk_id])
                        if chunk_id not in self._parts_only:
                            ev.holds_terms.add(key)
        if "visual" in use and q.image_vector is not None and lib.image_index is not None:
            vectors = [q.image_vector, *(q.image_variants if q.image_variants is not None else ())]
            pages, raw = self._looks.look_alike(lib.image_index, np.asarray(vectors), n)
            ev.widen("visual", [s for _, s in pages])
            where = cat.pages_by_ids({p for p, _ in pages} | set(raw))
            for page_id, score in pages:
                if page_id in where:
                    ev.add("visual", where[page_id], score)
            ev.raw_looks = {where[p]: score for p, score in raw.items() if p in where}
        if not q.keyword and "lexical" in use:
            self._link_evidence(q, ev)
        return ev

    def _document_evidence(self, q: Query, ev: _Evidence, use: set[str], meaning: Future | None,
                           every_feature: bool = False) -> list[tuple[int, float]]:
        """A drawing's words against every page and document (docrank.py); the meaning of the
        pages found that way is measured exactly, not left to the approximate top-n: the
        (chunk, cosine) of those pages, once `meaning` (the query's encoding) is done."""
        s = self.settings
        params = Bm25Params(k1=s.bm25_k1, b_page=s.bm25_b_page, b_doc=s.bm25_b_doc,
                            common_share=s.common_term_share,
                            common_min_chunks=s.common_term_min_chunks,
                            # weighted 0 by default: computed when a ranking uses it, or for fitting
                            document_cosine=every_feature or self.lib.ranking()[0].cosine_doc > 0)
        lex = lexical_evidence(self.lib.catalog, q.text, q.doc_freq, q.chunk_total, params)
        q.template, q.misread = lex.template, lex.misread
        # a misread code is shown among a hit's reasons as the library spells it (not among
        # what was read: leaving the misread word out leaves its correction out too)
        read_as = {t.tokens[0]: t.text for t in q.terms if len(t.tokens) == 1}
        shown = {t.text for t in q.display_terms}
        q.corrected = [t for read, code in lex.misread.items()
                       if (t := QueryTerm(respelled(read_as.get(read, code), read, code), (code,))).text not in shown]
        q.display_terms += q.corrected
        if "lexical" in use:
            ev.scores["lexical"] = lex.page
            ev.doc["lexical_doc"] = lex.doc
            ev.cosine = lex.cosine_page
            ev.dimensions = lex.dimensions
            ev.doc["cosine_doc"] = lex.cosine_doc
        if meaning is None or not lex.page:
            return []
        meaning.result()  # the query's text vector is set
        if q.text_vector is None:
            return []
        top_pages = sorted(lex.page, key=lambda k: -lex.page[k])[:s.candidates]
        return self._exact_cosines(q.text_vector, top_pages)

    def _exact_cosines(self, vector: Vector, pages: Sequence[PageKey]) -> list[tuple[int, float]]:
        index = self.lib.text_index
        if not len(index) or index.dim != len(vector):
            return []
        ids = np.array(self.lib.catalog.chunk_ids_of_pages(pages), dtype=np.uint64)
        ids = ids[index.contains(ids)] if len(ids) else ids
        if not len(ids):
            return []
        sims = index.get(ids) @ np.asarray(vector, dtype=np.float32)  # (n,)
        return [(int(c), float(v)) for c, v in zip(ids, sims)]

    def _link_evidence(self, q: Query, ev: _Evidence) -> None:
        """The library's own links. When the query drawing is found in the library (identical
        bytes, or a drawing whose page holds clearly more of the query's words than any other),
        documents that name its file, or lie in its folder or just above it, are related to it:
        that is how projects file their drawings with their documents."""
        cat = self.lib.catalog
        twins: dict[int, float] = {d: 1.0 for d in q.exclude_docs}  # identical bytes
        lexical = self._lexical_twins(q, ev)
        twins.update(lexical)
        if not q.exclude_docs:
            named = self._named_twins(q, ev)
            if not lexical:  # no sheet stands out by its words: the file the sheet names
                twins.update(dict.fromkeys(named, 1.0))
            else:
                # the one sheet its words single out is also the one its number names: two
                # readings agreeing, at least as sure as the name alone (a tolerance table every
                # sibling shares leaves the words' margin thin). A second twin as strong, or
                # stronger, that the name points at does not count: a sheet may print a
                # sibling's number (and the file name is among a drawing's words already)
                leader, *others = sorted(lexical, key=lexical.__getitem__, reverse=True)
                if leader in named and all(lexical[leader] > lexical[d] for d in others):
                    twins[leader] = 1.0
        if not twins:
            return
        docs = cat.documents_by_ids(twins)
        n_docs = cat.length_totals()[0]  # documents with text (remembered by the catalog)
        roots = [PurePath(f) for f in cat.folders()]
        names, folders = ev.doc["link_name"], ev.doc["link_folder"]
        for doc_id, strength in twins.items():
            if doc_id not in docs or strength <= 0:
                continue
            path = docs[doc_id].path
            stem = file_stem_token(path)
            naming = cat.pages_holding_token(stem) if len(stem) > 2 else {}
            naming.pop(doc_id, None)
            if len(naming) <= max(3, self.settings.common_term_share * n_docs):
                for d, pages in naming.items():
                    names[d] = max(names.get(d, 0.0), strength)
                    for n in pages:
                        if strength > ev.naming_pages.get((d, n), 0.0):
                            ev.naming_pages[d, n] = strength
                            ev.named_by[d, n] = path
            folder = PurePath(path).parent
            for level in range(self.settings.link_levels + 1):
                # the drawing's own folder, and folders above it strictly inside a library
                # folder (a file at the top of a library belongs to everything in it)
                inside = any(r in folder.parents for r in roots) or (level == 0 and folder in roots)
                if roots and not inside:
                    break
                beside = [d for d in cat.documents_in_folder(str(folder) + os.sep, os.sep)
                          if d.id != doc_id and d.kind == "document"]
                # one document beside a drawing is its own; one of 50 is one of many
                share = strength / ((1 + level) * math.sqrt(max(1, len(beside))))
                for doc in beside:
                    if share > folders.get(doc.id, 0.0):
                        folders[doc.id] = share
                        ev.beside[doc.id] = (path, level)
                if folder.parent == folder:
                    break
                folder = folder.parent

    def _named_twins(self, q: Query, ev: _Evidence) -> list[int]:
        """The library drawings the query names by their file, for a query whose words single
        out no sheet, or single out this one (`_link_evidence`): a title block prints the
        drawing's number and a site names the drawing's file by it (B1002-A2P-A.pdf,
        JXS-02-03.pdf), so the name tells which one it is where template-mates hold as much of
        its words (at 150 dpi OCR reads a sheet's tolerance table and notes in full, and every
        sibling holds them). Words that do single out another sheet are trusted over the name:
        a sheet may name another (a mainboard drawing names a connector's datasheet; one
        sheet's title block carries a sibling's number). Only file names that look like
        identifiers count (a digit and 4 characters or more: not "fin" or "readme"). A query
        naming several is the one whose page holds the largest share of its words; copies under
        one name are all of them."""
        stems = self._drawing_stems()
        read = {q.misread.get(t, t) for t in lexical_tokens(q.text)}  # a name OCR misread counts too
        named = {t: stems[t] for t in read if t in stems}
        if len(named) > 1:
            share: dict[int, float] = {}
            for key, score in ev.scores["lexical"].items():
                share[key[0]] = max(share.get(key[0], 0.0), score)
            best = max(named, key=lambda t: (max(share.get(d, 0.0) for d in named[t]), t))
            named = {best: named[best]}
        return [d for ids in named.values() for d in ids if d not in q.exclude_docs]

    def _drawing_stems(self) -> dict[str, list[int]]:
        """Identifier-like file-name token -> the drawings of that name (once per generation)."""
        cat = self.lib.catalog
        generation = cat.generation()
        if self._stems[0] != generation:
            stems: dict[str, list[int]] = {}
            for doc_id, path in cat.drawing_paths():
                stem = file_stem_token(path)
                if len(stem) >= 4 and any(c.isdigit() for c in stem):
                    stems.setdefault(stem, []).append(doc_id)
            self._stems = (generation, stems)
        return self._stems[1]

    def _lexical_twins(self, q: Query, ev: _Evidence) -> dict[int, float]:
        """The library drawings the query most likely *is* (the original of a scan or photo, a
        second copy): the two drawings whose pages hold the largest share of the query's words,
        each with the strength of its margin over the third, relative to the largest share a
        drawing holds (the query's own file's, when the library has its bytes: then these are
        other copies or revisions, as strong as they come close to it) (a second one only when
        it holds at least half the first's share: two copies or revisions of one part). A twin
        must also be reproduced by the query, not only share some rare words with it: the query
        holds at least half as large a part of its page's words as of the drawing it reproduces
        best (a long datasheet holding a few of a poorly read photo's words is not the sheet
        whose template-mates the photo reproduces four times as well). With a picture on both
        sides, a second twin, and every twin of a query whose own file the library holds, must
        also look like the query about as well as any drawing does."""
        drawings = self.lib.catalog.drawing_ids({k[0] for k in ev.scores["lexical"]} - q.exclude_docs)
        best: dict[int, float] = {}
        best_page: dict[int, PageKey] = {}
        for key, score in ev.scores["lexical"].items():
            doc_id = key[0]
            if (doc_id in drawings or doc_id in q.exclude_docs) and score > best.get(doc_id, -1.0):
                best[doc_id], best_page[doc_id] = score, key
        own = {d: best.pop(d) for d in q.exclude_docs if d in best}
        ranked_docs = sorted(best.items(), key=lambda kv: -kv[1])
        if not ranked_docs:
            return {}
        coverage = self._page_coverage(q, [best_page[d] for d, _ in ranked_docs[:TWIN_COVERAGE_POOL]]
                                       + [best_page[d] for d in own])
        top_coverage = max(coverage.values(), default=0.0)
        reference = ranked_docs[2][1] if len(ranked_docs) > 2 else 0.0
        scale = max([ranked_docs[0][1], *own.values()])
        looks = {}
        for (doc_id, _), v in ev.raw_looks.items():
            if doc_id in best:
                looks[doc_id] = max(looks.get(doc_id, -1.0), v)
        best_look = max(looks.values(), default=None)
        twins = {}
        for i, (doc_id, share) in enumerate(ranked_docs[:2]):
            if i and share < ranked_docs[0][1] / 2:
                break
            if coverage.get(best_page[doc_id], 0.0) < TWIN_MIN_COVERAGE * top_coverage:
                continue
            # looks confirm a further claim of identity: the second twin, or another copy of a
            # file the library holds; the drawing the query's words reproduce best is its twin
            # even where the picture disagrees (a dim, skewed phone photo looks more like some
            # template-mate than like its own sheet to the tower)
            look = looks.get(doc_id)
            confirm = i > 0 or bool(q.exclude_docs)
            if confirm and q.image_vector is not None and (
                    look is None or best_look is None or look < TWIN_MIN_VISUAL
                    or look < best_look - TWIN_LOOK_MARGIN):
                continue
            if share > reference:
                # the margin relative to the best drawing's share: a drawing read poorly (a CJK
                # title block, a photo) that still stands out is as surely the one as a clean
                # render, whatever share of its words the OCR caught
                twins[doc_id] = min(1.0, (share - reference) / scale)
        return twins

    def _page_coverage(self, q: Query, pages: Sequence[PageKey]) -> dict[PageKey, float]:
        """The share of each page's distinct lexical tokens that the query holds."""
        mine = set(lexical_tokens(q.text))
        theirs: dict[PageKey, set[str]] = {}
        for doc_id, page_no, tokens in self.lib.catalog.tokens_of_pages(dict.fromkeys(pages)):
            theirs.setdefault((doc_id, page_no), set()).update(tokens.split())
        return {key: len(mine & words) / len(words) for key, words in theirs.items() if words}

    def _lexical(self, q: Query, n: int) -> list[tuple[int, float]]:
        """Keyword queries: pages holding all the terms first (the AND query is also far cheaper
        than OR on a large library); OR fills up when too few pages hold them all, also with the
        numbers inside the codes typed (`QueryTerm.numbers`). The score is the share of the terms
        the chunk holds plus half its BM25 relative to the best; the share alone (absolute) is
        kept for the hit's confidence."""
        cat = self.lib.catalog
        hits: list[tuple[int, float]] = []
        # typed with spaces, or a code with numbers: the OR also finds what holds part of a term
        partial = any(t.pieces or t.numbers for t in q.terms)
        if len(q.terms) > 1 or partial:
            hits = cat.search_lexical(q.terms, n, require_all=True)
        # chunks the index found holding every term (the AND query, or the only term) cover the
        # query; only the others' tokens are read to count the terms they hold
        self._coverage = dict.fromkeys((c for c, _ in hits), 1.0)
        self._parts_only = set()
        if len(hits) < n:
            seen = {c for c, _ in hits}
            more = [h for h in cat.search_lexical(q.terms, n) if h[0] not in seen][:n - len(hits)]
            if len(q.terms) == 1 and not partial:
                self._coverage.update(dict.fromkeys((c for c, _ in more), 1.0))
            else:
                tokens = cat.chunk_tokens([c for c, _ in more])
                for c, _ in more:
                    share, whole = self._term_share(q, tokens.get(c, []))
                    self._coverage[c] = share
                    if not whole:
                        self._parts_only.add(c)
            hits += more
        if not hits:
            return hits
        top = hits[0][1] or 1.0
        rescored = [(c, self._coverage[c] + 0.5 * s / top) for c, s in hits]
        rescored.sort(key=lambda x: -x[1])
        return rescored

    @staticmethod
    def _term_share(q: Query, tokens: list[str]) -> tuple[float, bool]:
        """The share of the query's terms a chunk with these lexical tokens holds (a code's number
        without the code: NUMBER_SHARE of it), and whether it holds some term whole."""
        present = set(tokens)
        held, whole = 0.0, False
        for t in q.terms:
            # a prefix term usually occurs whole: the set answers before a scan of the tokens
            if (t.prefix and t.tokens[0] in present) or term_matches(t, present, tokens):
                held += 1
                whole = True
            elif any(n in present for n in t.numbers):
                held += NUMBER_SHARE
        return held / len(q.terms), whole

    def _filtered(self, q: Query, ev: _Evidence, kinds: Collection[str] | None,
                  kind_of: Mapping[int, str], use: set[str]) -> _Evidence:
        """A copy of `ev` holding only the pages of wanted documents (`kind_of`: document id ->
        kind, for every document of `ev`). Files the user may not read are left out later, by
        `_group`, for the few documents listed only (a check per file costs an open on Windows)."""
        keep = {d for d, kind in kind_of.items()
                if d not in q.exclude_docs and (kinds is None or kind in kinds)}
        out = _Evidence(best_chunk=ev.best_chunk, bounds=ev.bounds, coverage=ev.coverage,
                        holds_terms=ev.holds_terms, cosine=ev.cosine, dimensions=ev.dimensions,
                        naming_pages=ev.naming_pages, named_by=ev.named_by, beside=ev.beside)
        for name, table in ev.scores.items():
            out.scores[name] = {k: v for k, v in table.items() if k[0] in keep}
        for name, dtable in ev.doc.items():
            out.doc[name] = {d: v for d, v in dtable.items() if d in keep}
        if q.keyword and "lexical" in use:
            # A person typed words: pages found by meaning alone must be clearly related to be
            # shown at all, whether or not some pages contain the words.
            floor = self.settings.semantic_only_min
            out.scores["semantic"] = {k: v for k, v in out.scores["semantic"].items()
                                      if v >= floor or k in out.scores["lexical"]}
        return out

    # -- grouping and explanation ---------------------------------------------------------
    def _group(self, q: Query, ev: _Evidence, fused: dict, limit: int,
               calibration: Calibration | None = None,
               query_boxes: dict[str, tuple[Box, ...]] | None = None) -> list[Hit]:
        """Hits per document, in the order of their best page. A document whose best page has
        the very text of a hit above (a CSV export of an XLSX, a copy in another folder) is not
        listed again: it is named among that hit's `duplicates`. `query_boxes`: the query
        page's word boxes per term (`boxes_by_term`), for a file query."""
        cat = self.lib.catalog
        best: dict[int, PageKey] = {}
        pages_of: dict[int, list[PageKey]] = {}
        for key in ranked(fused):
            doc_id = key[0]
            best.setdefault(doc_id, key)
            pages_of.setdefault(doc_id, []).append(key)
        kept: list[tuple[int, tuple[int, PageContent] | None]] = []
        by_text: dict[str, int] = {}
        duplicates: dict[int, list[PageKey]] = {}
        readable = self._readable(best)
        # the pages of as many documents as are still wanted, read at once (a copy met on the
        # way is not listed: then more are read)
        while len(kept) < limit and (part := list(itertools.islice(readable, limit - len(kept)))):
            rows = cat.pages_at([best[d] for d in part])
            for doc_id in part:
                key = best[doc_id]
                page = rows.get(key)
                text = " ".join(page[1].text.split()) if page else ""
                if len(text) >= MIN_DUPLICATE_CHARS and text in by_text:
                    duplicates[by_text[text]].append(key)
                    continue
                kept.append((doc_id, page))
                by_text.setdefault(text, doc_id)
                duplicates[doc_id] = []
        order = [d for d, _ in kept]
        meta = cat.documents_by_ids(order + [k[0] for keys in duplicates.values() for k in keys])
        best_chunks = cat.chunks_by_ids(ev.best_chunk[best[d]] for d in order if best[d] in ev.best_chunk)
        page_tokens = cat.page_tokens(page[0] for _, page in kept if page)
        hits = []
        for rank, (doc_id, page) in enumerate(kept, start=1):
            key = best[doc_id]
            doc = meta[doc_id]
            f = ev.features(key)
            lexical = ev.coverage.get(key, 0.0) if q.keyword else f["lexical_page"]
            if q.keyword:  # all terms on the page = 1.0; a page found by meaning: its cosine
                conf = lexical if lexical > 0 else f["semantic"]
            else:
                conf = confidence(float(fused[key]), calibration) if calibration else 0.0
            scores = ScoreBreakdown(
                lexical=float(lexical), semantic=float(f["semantic"]), visual=float(f["visual"]),
                fused=float(fused[key]), lexical_doc=float(f["lexical_doc"]),
                cosine_page=float(f["cosine_page"]), cosine_doc=float(f["cosine_doc"]),
                dimensions=float(f["dimensions"]),
                link_name=float(f["link_name"]), link_folder=float(f["link_folder"]),
                confidence=float(conf))
            page_text = page[1].text if page else ""
            words = displayed_words(page[1].words, page[1].rotation) if page else ()  # boxes over the page as shown
            chunk = best_chunks.get(ev.best_chunk.get(key, -1))
            snippet_src = chunk.text if chunk else page_text
            tokens = PageTokens(page_tokens.get(page[0], []) if page else [])
            shared = [t for t in matched_terms(q.display_terms, tokens)
                      if not is_template(t.tokens, q.template) and whole_word_in(t.text, page_text)]
            hits.append(Hit(
                doc_id=doc_id, path=doc.path, title=doc.title, kind=doc.kind, format=doc.format,
                page=key[1], scores=scores, snippet=make_snippet(snippet_src, shared),
                explanation=explain(shared, [i for i in q.identifiers
                                             if not is_template(telling_tokens(i), q.template)],
                                    tokens, words, scores, query_boxes,
                                    names_drawing=ev.named_by.get(key, "") if f["link_name"] > 0 else "",
                                    beside_drawing=beside[0] if (beside := ev.beside.get(doc_id)) else "",
                                    folders_up=beside[1] if beside else 0),
                rank=rank, other_pages=tuple(k[1] for k in pages_of[doc_id][1:6]),
                duplicates=tuple((meta[d].path, n) for d, n in duplicates[doc_id] if d in meta),
            ))
        return hits
