"""Query-by-document lexical evidence: a whole drawing's words scored against documents and pages.

A drawing query is 50-300 words of title block, notes and OCR noise, not three keywords. Chunk-level
BM25 over an OR of capped terms ranked short documents above the one long specification that
shares dozens of specific words with the drawing, and boosting identifiers by their *type* let a
standard cited by every document of a site (ASME Y14.5M, GB/T 1804-m) outrank a shared part number.
Here instead (Robertson & Zaragoza, "The Probabilistic Relevance Framework: BM25 and Beyond", 2009):

- every query token counts, weighted by its rarity in this library (BM25 idf over chunks) and by how
  often the drawing repeats it (1 + ln qtf): a part number found in two files counts heavily, a
  standard cited in half of them barely;
- tokens occurring nowhere in the library (OCR garbage) are dropped, and so are tokens on more than
  `common_share` of the chunks (their idf is near 0, their posting lists are long);
- sizes, tolerances and counts (12, 0.05, 30-120: analyze.DIMENSION) are scored apart, as their own
  feature: a drawing is full of them and shares them by chance with any table of numbers;
- words of the drawing's template (border, title block, standard notes), found as the words most
  of the query's similar drawings share, count for less (`template_shares`);
- scores are BM25 sums at two levels: the page (where the evidence is, what the user opens) and the
  whole document (a long specification shares many words spread over its pages), each with its own
  length normalisation `b`;
- both are divided by the query's own weight mass, so a score is absolute: the share of the
  drawing's telling words the page or document holds (1.0 = all of them, each once). Confidence and
  "no match" are calibrated on that scale (engine/search/fitting.py; query.confidence).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Hashable, Iterable, Mapping

from engine.analyze import dimension_and_word_tokens, lexical_tokens

PageKey = tuple[int, int]  # (doc_id, page_no)
ABSENT = "\x00absent"  # a query-vector entry no unit holds: the words found nowhere in the library


@dataclass(frozen=True)
class Bm25Params:
    k1: float = 1.2
    b_page: float = 0.75
    b_doc: float = 0.5  # long specifications are not buried under short records
    common_share: float = 0.2  # tokens on more of the library's chunks than this are skipped…
    common_min_chunks: int = 50  # …and on more chunks than this (a small library keeps them all)
    max_tokens: int = 400  # the rarest tokens of a very long query
    cosine_candidates: int = 200  # units whose cosine is computed, per pre-ranking (two of them)
    document_cosine: bool = True  # also the cosine of whole documents (needs all their tokens)
    max_postings: int = 30_000  # chunk postings read per query (see _within_budget; dev sets: <= 29,667)
    template_drawings: int = 10  # the query's most similar drawings that reveal its template


@dataclass
class LexicalEvidence:
    """Absolute (0..~1) lexical evidence of one query, per page and per document: BM25 (the share
    of the query's telling words a unit holds) and TF-IDF cosine (also how much of the *unit* the
    query explains: a BOM row whose one rare word is the drawing's part number scores high)."""

    page: dict[PageKey, float] = field(default_factory=dict)
    doc: dict[int, float] = field(default_factory=dict)
    cosine_page: dict[PageKey, float] = field(default_factory=dict)
    cosine_doc: dict[int, float] = field(default_factory=dict)
    dimensions: dict[PageKey, float] = field(default_factory=dict)  # BM25 of the sizes and numbers
    weights: dict[str, float] = field(default_factory=dict)  # query token -> weight (idf x qtf)
    template: dict[str, float] = field(default_factory=dict)  # token -> share of similar drawings holding it


def idf(df: int, n: int) -> float:
    """BM25's idf, kept positive (Lucene's variant): ln(1 + (n - df + 0.5) / (df + 0.5))."""
    return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


def absent_weights(tokens: Iterable[str], doc_freq: Mapping[str, int], n_chunks: int) -> list[float]:
    """The weights of the query tokens found nowhere in the library, each as rare as can be: they
    match nothing, but a drawing made mostly of them (one from another company, another project)
    is not in this library, and every share of its words found here is small."""
    return [idf(0, n_chunks) * (1.0 + math.log(c))
            for t, c in Counter(tokens).items() if doc_freq.get(t, 0) == 0]


def query_weights(tokens: Iterable[str], doc_freq: Mapping[str, int], n_chunks: int,
                  params: Bm25Params) -> dict[str, float]:
    """Token -> weight for the query tokens that exist in the library and are not common."""
    counts = Counter(tokens)
    limit = max(params.common_min_chunks, params.common_share * n_chunks)
    weights = {t: idf(doc_freq[t], n_chunks) * (1.0 + math.log(c))
               for t, c in counts.items() if 0 < doc_freq.get(t, 0) <= limit}
    if len(weights) > params.max_tokens:
        weights = dict(sorted(weights.items(), key=lambda kv: -kv[1])[:params.max_tokens])
    return weights


def _within_budget(tokens: Iterable[str], doc_freq: Mapping[str, int], budget: int) -> list[str]:
    """The rarest tokens whose posting lists add up to at most `budget` chunks: on a very large
    library the most common of a long query's tokens (the lowest idf) are left out, which bounds
    the query time and changes the scores least."""
    out, total = [], 0
    for t in sorted(tokens, key=lambda t: doc_freq.get(t, 0)):
        total += doc_freq.get(t, 0)
        if total > budget and out:
            break
        out.append(t)
    return out


def bm25(tf: Mapping[Hashable, Mapping[str, int]], weights: Mapping[str, float],
         lengths: Mapping[Hashable, int], avg_length: float, k1: float, b: float,
         absent: float = 0.0) -> dict[Hashable, float]:
    """sum_t w_t * tf (k1 + 1) / (tf + k1 (1 - b + b len / avg)) for every unit of `tf`, divided
    by sum_t w_t + `absent` (the score of a unit holding each token once at average length, plus
    the weight of the query's words found nowhere in the library)."""
    mass = sum(weights.values()) + absent
    if mass <= 0:
        return {}
    avg = max(avg_length, 1.0)
    out = {}
    for unit, counts in tf.items():
        norm = k1 * (1.0 - b + b * lengths.get(unit, avg) / avg)
        out[unit] = sum(weights.get(t, 0.0) * c * (k1 + 1.0) / (c + norm) for t, c in counts.items()) / mass
    return out


def template_shares(page_tf: Mapping[PageKey, Mapping[str, int]], page_scores: Mapping[PageKey, float],
                    drawing_docs: set[int], k: int) -> dict[str, float]:
    """Token -> share of the query's `k` most similar drawings (one page per drawing) holding it.

    Drawings of one site share a border, a title block and standard notes; a query drawing shares
    those words with every drawing of its kind, so they cannot tell which *document* belongs to it
    (a GB title block's 技术要求 / 未注公差 lifts every Chinese document alike). A part number is
    on the query's own drawing only. Fewer than 3 similar drawings: no template is assumed."""
    best: dict[int, PageKey] = {}
    for key in sorted(page_scores, key=lambda u: -page_scores[u]):
        if key[0] in drawing_docs and key[0] not in best:
            best[key[0]] = key
            if len(best) == k:
                break
    if len(best) < 3:
        return {}
    counts: Counter = Counter()
    for key in best.values():
        counts.update(page_tf[key].keys())
    return {t: c / len(best) for t, c in counts.items()}


def lexical_evidence(catalog, text: str, doc_freq: Mapping[str, int], n_chunks: int,
                     params: Bm25Params = Bm25Params()) -> LexicalEvidence:
    """Page- and document-level BM25 and TF-IDF cosine of a drawing's text against the library;
    words of the drawing's template (`template_shares`) count for less."""
    dims, words = dimension_and_word_tokens(text)
    weights = query_weights(words, doc_freq, n_chunks, params)
    dim_weights = {t: w for t, w in query_weights(dims, doc_freq, n_chunks, params).items()
                   if t not in weights}
    if not weights and not dim_weights:
        return LexicalEvidence()
    page_tf: dict[PageKey, Counter] = defaultdict(Counter)
    doc_tf: dict[int, Counter] = defaultdict(Counter)
    for token, doc_id, page_no, count in catalog.page_postings(
            _within_budget(weights.keys() | dim_weights.keys(), doc_freq, params.max_postings)):
        page_tf[(doc_id, page_no)][token] = count
        doc_tf[doc_id][token] += count
    page_len: dict[PageKey, int] = {}
    doc_len: Counter = Counter()
    for doc_id, page_no, n in catalog.page_lengths(doc_tf):
        page_len[(doc_id, page_no)] = n
        doc_len[doc_id] += n
    n_docs, n_pages, n_tokens = catalog.length_totals()
    avg_page, avg_doc = n_tokens / max(1, n_pages), n_tokens / max(1, n_docs)
    absent = absent_weights(words, doc_freq, n_chunks)
    page = bm25(page_tf, weights, page_len, avg_page, params.k1, params.b_page, sum(absent))
    drawings = catalog.drawing_ids(doc_tf)
    shares = template_shares(page_tf, page, drawings, params.template_drawings)
    if shares:
        weights = {t: w * (1.0 - shares.get(t, 0.0)) for t, w in weights.items()}
        weights = {t: w for t, w in weights.items() if w > 0}
        page = bm25(page_tf, weights, page_len, avg_page, params.k1, params.b_page, sum(absent))
    ev = LexicalEvidence(
        page=page, doc=bm25(doc_tf, weights, doc_len, avg_doc, params.k1, params.b_doc, sum(absent)),
        dimensions=bm25(page_tf, dim_weights, page_len, avg_page, params.k1, params.b_page),
        weights=weights, template=shares)
    _add_cosines(catalog, ev, words, doc_freq, n_chunks, page_len, params, shares, absent)
    return ev


def _tfidf(counts: Mapping[str, int], df: Mapping[str, int], n: int) -> dict[str, float]:
    return {t: (1.0 + math.log(c)) * idf(df.get(t, 1), n) for t, c in counts.items() if c > 0}


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    na = math.sqrt(sum(v * v for v in a.values()))
    nb = math.sqrt(sum(v * v for v in b.values()))
    if na == 0 or nb == 0:
        return 0.0
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(t, 0.0) for t, v in a.items()) / (na * nb)


def _add_cosines(catalog, ev: LexicalEvidence, words: list[str], doc_freq: Mapping[str, int], n: int,
                 page_len: Mapping[PageKey, int], params: Bm25Params,
                 shares: Mapping[str, float], absent: list[float]) -> None:
    """TF-IDF cosine (sublinear tf, BM25 idf) of the query with the pages most likely to score
    high, and with their documents. Needs every token of those units, so it is computed for the
    best pages by BM25 and by BM25 per token (short units: BOM rows, part records) only."""
    if not ev.page:
        return
    k = params.cosine_candidates
    by_bm25 = sorted(ev.page, key=lambda u: -ev.page[u])[:k]
    by_density = sorted(ev.page, key=lambda u: -ev.page[u] / math.sqrt(max(1, page_len.get(u, 1))))[:k]
    pages = set(by_bm25) | set(by_density)
    unit_tokens: dict[PageKey, Counter] = defaultdict(Counter)
    rows = (catalog.tokens_of_documents({d for d, _ in pages}) if params.document_cosine
            else catalog.tokens_of_pages(pages))  # a whole document's tokens cost more
    for doc_id, page_no, tokens in rows:
        unit_tokens[(doc_id, page_no)].update(tokens.split())
    vocab = {t for c in unit_tokens.values() for t in c}
    df = dict(doc_freq)
    df.update(catalog.token_doc_freq(sorted(vocab - df.keys()), cached=True))
    query = _tfidf(Counter(t for t in words if df.get(t, 0) > 0), df, n)
    query = {t: v * (1.0 - shares.get(t, 0.0)) for t, v in query.items()}
    if absent:  # the words found nowhere lengthen the query vector (see absent_weights)
        query[ABSENT] = math.sqrt(sum(w * w for w in absent))
    doc_tokens: dict[int, Counter] = defaultdict(Counter)
    for (doc_id, page_no), counts in unit_tokens.items():
        if params.document_cosine:
            doc_tokens[doc_id].update(counts)
        if (doc_id, page_no) in pages:
            ev.cosine_page[(doc_id, page_no)] = cosine(query, _tfidf(counts, df, n))
    for doc_id, counts in doc_tokens.items():
        ev.cosine_doc[doc_id] = cosine(query, _tfidf(counts, df, n))


def file_stem_token(path: str) -> str:
    """The one lexical token a file's stem is referred to by (`fw_13_5_inch_display.pdf` ->
    `fw135inchdisplay`), matching what analyze.lexical_tokens indexes for a file reference."""
    from pathlib import PurePath

    stem = PurePath(path.replace("\\", "/")).stem
    return "".join(t for t in lexical_tokens(stem)[:1])
