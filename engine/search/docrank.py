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
  `common_share` of the chunks (their idf is near 0, their posting lists are long); but a code found
  nowhere that is one OCR slip away from exactly one code the library holds ("XS-01-03" read for
  JXS-01-03) counts as that code (`misread_codes`);
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

import itertools
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Callable, Hashable, Iterable, Mapping, Sequence

import numpy as np

from engine.analyze import dimension_and_word_tokens, lexical_tokens
from engine.store.catalog import term_keys

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
    misread: dict[str, str] = field(default_factory=dict)  # query code -> the library's (`misread_codes`)


def idf(df, n: int):
    """BM25's idf, kept positive (Lucene's variant): ln(1 + (n - df + 0.5) / (df + 0.5)); `df`
    a count (a float back) or an array of counts (an array back)."""
    ratio = (n - df + 0.5) / (df + 0.5)
    return np.log(1.0 + ratio) if isinstance(ratio, np.ndarray) else math.log(1.0 + ratio)


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


CODE_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"  # lexical tokens are lower case
MISREAD_MIN_CHARS = 6  # shorter codes have many neighbours one character away


def is_code(token: str) -> bool:
    """A part-number-like token: ASCII letters and digits, both."""
    return (token.isascii() and token.isalnum() and any(c.isdigit() for c in token)
            and any(c.isalpha() for c in token))


def one_slip_away(token: str) -> set[str]:
    """Every token one character dropped, added or replaced away (letters and digits)."""
    out = {token[:i] + token[i + 1:] for i in range(len(token))}
    for i in range(len(token) + 1):
        out.update(token[:i] + c + token[i:] for c in CODE_CHARS)
        if i < len(token):
            out.update(token[:i] + c + token[i + 1:] for c in CODE_CHARS if c != token[i])
    out.discard(token)
    return out


def misread_codes(tokens: Iterable[str], doc_freq: Mapping[str, int],
                  lookup: Callable[[list[str]], Mapping[str, int]]) -> dict[str, tuple[str, int]]:
    """Query code -> (library code, chunks holding it) for each code of `tokens` that the library
    holds nowhere (`doc_freq` 0), is at least MISREAD_MIN_CHARS long and is one OCR slip (a
    character dropped, added or misread: "xs0103" for JXS-01-03 at a clipped border, "b1o02"
    for B1002) away from exactly one code the library holds. A part number is the most telling
    word a drawing has; losing it to one misread character loses the drawing's documents. With
    two or more codes that near it is ambiguous and stays unknown. `lookup`: token -> chunks
    holding it (0: nowhere), for many tokens at once."""
    absent = sorted({t for t in tokens if len(t) >= MISREAD_MIN_CHARS and is_code(t)
                     and doc_freq.get(t, 0) == 0})
    if not absent:
        return {}
    near = {t: sorted(v for v in one_slip_away(t) if is_code(v)) for t in absent}
    found = lookup(sorted(set(itertools.chain.from_iterable(near.values()))))
    out = {}
    for t, variants in near.items():
        held = [v for v in variants if found.get(v, 0) > 0]
        if len(held) == 1:
            out[t] = (held[0], int(found[held[0]]))
    return out


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


class TermMatrix:
    """Sparse term frequencies of units (pages or documents): one entry per (unit, token) with
    its count, plus each unit's length. Scores are computed over all entries at once (numpy), so
    a query touching 20k pages costs milliseconds, not a Python loop per page."""

    def __init__(self, units: Sequence[Hashable], lengths: np.ndarray, unit: np.ndarray,
                 term: np.ndarray, tf: np.ndarray, tokens: Sequence[str]) -> None:
        self.units = list(units)  # unit index -> key
        self.lengths = np.asarray(lengths, dtype=np.float64)  # per unit
        self.unit, self.term, self.tf = unit, term, np.asarray(tf, dtype=np.float64)  # per entry
        self.tokens = list(tokens)  # term index -> token

    @classmethod
    def from_counts(cls, tf: Mapping[Hashable, Mapping[str, int]],
                    lengths: Mapping[Hashable, int]) -> "TermMatrix":
        tokens = sorted({t for counts in tf.values() for t in counts})
        index = {t: i for i, t in enumerate(tokens)}
        entries = [(u, index[t], c) for u, counts in enumerate(tf.values()) for t, c in counts.items()]
        unit, term, count = (np.array(x, dtype=np.int64) for x in zip(*entries)) if entries else \
            (np.zeros(0, dtype=np.int64),) * 3
        units = list(tf)
        return cls(units, np.array([lengths.get(u, 0) for u in units]), unit, term, count, tokens)

    def bm25(self, weights: Mapping[str, float], avg_length: float, k1: float, b: float,
             absent: float = 0.0) -> np.ndarray:
        """Per unit: sum_t w_t * tf (k1 + 1) / (tf + k1 (1 - b + b len / avg)), divided by
        sum_t w_t + `absent` (the score of a unit holding each token once at average length, plus
        the weight of the query's words found nowhere in the library)."""
        mass = sum(weights.values()) + absent
        if mass <= 0:
            return np.zeros(len(self.units))
        w = np.array([weights.get(t, 0.0) for t in self.tokens])
        avg = max(avg_length, 1.0)
        norm = k1 * (1.0 - b + b * self.lengths[self.unit] / avg)
        gain = w[self.term] * self.tf * (k1 + 1.0) / (self.tf + norm) if len(self.unit) else self.tf
        return np.bincount(self.unit, weights=gain, minlength=len(self.units)) / mass

    def scores(self, values: np.ndarray) -> dict:
        return dict(zip(self.units, values.tolist()))

    def tokens_of(self, units: Iterable[int]) -> dict[int, set[str]]:
        """Unit index -> its tokens, for a few units."""
        wanted = np.isin(self.unit, np.fromiter(units, dtype=np.int64))
        out: dict[int, set[str]] = defaultdict(set)
        for u, t in zip(self.unit[wanted].tolist(), self.term[wanted].tolist()):
            out[u].add(self.tokens[t])
        return out


def bm25(tf: Mapping[Hashable, Mapping[str, int]], weights: Mapping[str, float],
         lengths: Mapping[Hashable, int], avg_length: float, k1: float, b: float,
         absent: float = 0.0) -> dict[Hashable, float]:
    """`TermMatrix.bm25` of units given as dicts of token counts."""
    matrix = TermMatrix.from_counts(tf, lengths)
    return matrix.scores(matrix.bm25(weights, avg_length, k1, b, absent))


def _postings(catalog, tokens: Sequence[str]) -> tuple[TermMatrix, TermMatrix]:
    """The query tokens' occurrences in the library, summed per page and per document."""
    table = catalog.page_table()
    term, chunk, count = catalog.chunk_postings(tokens)
    page = table.rows_of(chunk)
    keep = page >= 0  # a chunk committed after the table was read waits for the next query
    n = max(1, len(tokens))
    pages = _sum_entries(page[keep] * n + term[keep], count[keep], n)
    page_rows, page_term, page_tf = pages
    unit_rows, page_unit = _distinct(page_rows)
    page_matrix = TermMatrix(list(zip(table.doc[unit_rows].tolist(), table.page_no[unit_rows].tolist())),
                             table.length[unit_rows], page_unit, page_term, page_tf, tokens)
    docs = table.doc[page_rows]
    doc_ids, doc_term, doc_tf = _sum_entries(docs * n + page_term, page_tf, n)
    unit_docs, doc_unit = _distinct(doc_ids)
    doc_matrix = TermMatrix(unit_docs.tolist(), np.array([table.doc_length.get(d, 0) for d in unit_docs.tolist()]),
                            doc_unit, doc_term, doc_tf, tokens)
    return page_matrix, doc_matrix


def _sum_entries(keys: np.ndarray, counts: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Counts summed per key = unit * n + term: (unit, term, summed count) per distinct key."""
    distinct, inverse = _distinct(keys)
    return distinct // n, distinct % n, np.bincount(inverse, weights=counts).astype(np.int64)


def template_shares(pages: TermMatrix, scores: np.ndarray, drawing_docs: set[int],
                    k: int) -> dict[str, float]:
    """Token -> share of the query's `k` most similar drawings (one page per drawing) holding it.

    Drawings of one site share a border, a title block and standard notes; a query drawing shares
    those words with every drawing of its kind, so they cannot tell which *document* belongs to it
    (a GB title block's 技术要求 / 未注公差 lifts every Chinese document alike). A part number is
    on the query's own drawing only. Fewer than 3 similar drawings: no template is assumed."""
    best: dict[int, int] = {}  # drawing -> its best page's unit
    drawing_units = [u for u, (doc, _) in enumerate(pages.units) if doc in drawing_docs]
    for u in sorted(drawing_units, key=lambda u: -scores[u]):
        doc = pages.units[u][0]
        if doc not in best:
            best[doc] = u
            if len(best) == k:
                break
    if len(best) < 3:
        return {}
    counts: Counter = Counter()
    for tokens in pages.tokens_of(best.values()).values():
        counts.update(tokens)
    return {t: c / len(best) for t, c in counts.items()}


def lexical_evidence(catalog, text: str, doc_freq: Mapping[str, int], n_chunks: int,
                     params: Bm25Params = Bm25Params()) -> LexicalEvidence:
    """Page- and document-level BM25 and TF-IDF cosine of a drawing's text against the library;
    words of the drawing's template (`template_shares`) count for less; a code OCR misread by one
    character counts as the library's (`misread_codes`)."""
    dims, words = dimension_and_word_tokens(text)
    fixed = misread_codes(words, doc_freq, lambda ts: catalog.token_doc_freq(ts, cached=True))
    if fixed:  # a misread code counts as the library's code it is one slip away from
        doc_freq = {**doc_freq, **dict(fixed.values())}
        words = [fixed[t][0] if t in fixed else t for t in words]
    weights = query_weights(words, doc_freq, n_chunks, params)
    dim_weights = {t: w for t, w in query_weights(dims, doc_freq, n_chunks, params).items()
                   if t not in weights}
    if not weights and not dim_weights:
        return LexicalEvidence()
    pages, docs = _postings(catalog, _within_budget(sorted(weights.keys() | dim_weights.keys()),
                                                    doc_freq, params.max_postings))
    n_docs, n_pages, n_tokens = catalog.length_totals()
    avg_page, avg_doc = n_tokens / max(1, n_pages), n_tokens / max(1, n_docs)
    absent = absent_weights(words, doc_freq, n_chunks)
    k1, b_page = params.k1, params.b_page
    page = pages.bm25(weights, avg_page, k1, b_page, sum(absent))
    shares = template_shares(pages, page, catalog.drawing_ids(docs.units), params.template_drawings)
    if shares:
        weights = {t: w * (1.0 - shares.get(t, 0.0)) for t, w in weights.items()}
        weights = {t: w for t, w in weights.items() if w > 0}
        page = pages.bm25(weights, avg_page, k1, b_page, sum(absent))
    ev = LexicalEvidence(
        page=pages.scores(page),
        doc=docs.scores(docs.bm25(weights, avg_doc, k1, params.b_doc, sum(absent))),
        dimensions=pages.scores(pages.bm25(dim_weights, avg_page, k1, b_page)),
        weights=weights, template=shares, misread={t: v for t, (v, _) in fixed.items()})
    _add_cosines(catalog, ev, _cosine_candidates(pages, page, params.cosine_candidates),
                 words, doc_freq, n_chunks, params, shares, absent)
    return ev


def _cosine_candidates(pages: TermMatrix, scores: np.ndarray, k: int) -> set[PageKey]:
    """The pages most likely to have a high cosine: the best by BM25, and the best by BM25 per
    token (short units: BOM rows, part records)."""
    density = scores / np.sqrt(np.maximum(1.0, pages.lengths))
    best = np.concatenate([np.argsort(-scores, kind="stable")[:k], np.argsort(-density, kind="stable")[:k]])
    return {pages.units[u] for u in best.tolist()}


def _tfidf(counts: Mapping[str, int], df: Mapping[str, int], n: int) -> dict[str, float]:
    return {t: (1.0 + math.log(c)) * idf(df.get(t, 1), n) for t, c in counts.items() if c > 0}


def _add_cosines(catalog, ev: LexicalEvidence, pages: set[PageKey], words: list[str],
                 doc_freq: Mapping[str, int], n: int, params: Bm25Params,
                 shares: Mapping[str, float], absent: list[float]) -> None:
    """TF-IDF cosine (sublinear tf, BM25 idf) of the query with the candidate `pages`, and with
    their documents. Needs every token of those units, so it is computed for a few hundred.

    The units' tokens come counted from the catalog's page_terms (arrays of term keys and
    counts, summed per document in numpy) and their chunk frequencies from the vocabulary
    table, both by term key. While the library is being written and the table is not due to be
    read again, the tokens are read and counted as words instead (SQL gives their frequencies):
    the same cosines either way."""
    if not pages:
        return
    keys = list(pages)
    docs = sorted({d for d, _ in pages}) if params.document_cosine else []
    rows = catalog.page_terms({d for d, _ in pages})
    # the table is asked for as for a look-up of the units' tokens (their count with repeats
    # across pages: the distinct ones are not known before they are counted)
    table = catalog.vocab_table_for(sum(len(k) for _, _, k, _ in rows)) if rows else None
    counted = (_counted_by_key(catalog, table, rows, keys, docs, words, doc_freq, n, shares)
               if table is not None else
               _counted_by_token(catalog, keys, docs, words, doc_freq, n, shares, params))
    unit_of, counts, unit_idf, unit_query, query = counted
    # the words found nowhere lengthen the query vector (see absent_weights)
    query_norm = math.sqrt(sum(v * v for v in query.values()) + sum(w * w for w in absent))
    n_units = len(keys) + len(docs)
    unit_w = (1.0 + np.log(counts)) * unit_idf  # per (unit, token) entry
    norms = np.sqrt(np.bincount(unit_of, weights=unit_w * unit_w, minlength=n_units))
    dots = np.bincount(unit_of, weights=unit_w * unit_query, minlength=n_units)
    cosines = np.divide(dots, norms * query_norm, out=np.zeros(n_units), where=norms * query_norm > 0).tolist()
    ev.cosine_page.update(zip(keys, cosines))
    ev.cosine_doc.update(zip(docs, cosines[len(keys):]))


def _query_vector(words: list[str], df: Mapping[str, int], n: int, shares: Mapping[str, float]) -> dict[str, float]:
    """The query's TF-IDF weights (its words the library holds), less their template share."""
    query = _tfidf(Counter(t for t in words if df.get(t, 0) > 0), df, n)
    return {t: v * (1.0 - shares.get(t, 0.0)) for t, v in query.items()}


def _counted_by_key(catalog, table, rows, keys: list[PageKey], docs: list[int], words: list[str],
                    doc_freq: Mapping[str, int], n: int, shares: Mapping[str, float]):
    """(unit, count, idf, query weight) per (unit, token) entry, and the query's weights, from
    page_terms rows: unit i < len(keys) is the candidate page keys[i], then the documents `docs`."""
    page_unit = {key: i for i, key in enumerate(keys)}
    doc_unit = {d: len(keys) + i for i, d in enumerate(docs)}
    units, terms, counts = [], [], []
    for doc_id, page_no, page_keys, page_counts in rows:
        for unit in (page_unit.get((doc_id, page_no)), doc_unit.get(doc_id)):
            if unit is not None:
                units.append(np.full(len(page_keys), unit, dtype=np.int64))
                terms.append(page_keys)
                counts.append(page_counts)
    if not units:
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0), np.zeros(0), {}
    vocab, term = _distinct(np.concatenate(terms))  # (V,), (entries,)
    # a document's pages share tokens: their counts are summed per (unit, token)
    entry, at = _distinct(np.concatenate(units) * len(vocab) + term)
    summed = np.bincount(at, weights=np.concatenate(counts).astype(np.float64))
    unit_of, term_of = entry // len(vocab), entry % len(vocab)
    vocab_df = table.lookup_keys(vocab)
    # the query's own frequencies (a misread code's are its library code's) where it has them
    # (a query word no candidate holds and no frequency given counts as found nowhere)
    named = list(dict.fromkeys(itertools.chain(words, doc_freq)))
    word_keys = dict(zip(named, term_keys(named).tolist()))
    held = set(vocab.tolist())
    given = {word_keys[t]: f for t, f in doc_freq.items()}
    if given:
        wanted = np.fromiter(given, dtype=np.int64, count=len(given))
        found = np.isin(wanted, vocab)
        at_vocab = np.searchsorted(vocab, wanted[found])
        vocab_df = vocab_df.copy()
        vocab_df[at_vocab] = np.fromiter(given.values(), dtype=np.int64, count=len(given))[found]
    df = {t: given[k] if k in given else (int(vocab_df[np.searchsorted(vocab, k)]) if k in held else 0)
          for t, k in word_keys.items()}  # every query word's
    query = _query_vector(words, df, n, shares)
    vocab_query = np.zeros(len(vocab))
    for t, v in query.items():
        if word_keys[t] in held:
            vocab_query[np.searchsorted(vocab, word_keys[t])] = v
    vocab_idf = idf(vocab_df.astype(np.float64), n)
    return unit_of, summed, vocab_idf[term_of], vocab_query[term_of], query


def _distinct(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`np.unique(values, return_inverse=True)`, 3-4x faster on the ~10^6 entries of a query's
    candidate documents: grouping needs no stable sort."""
    order = np.argsort(values)
    ordered = values[order]
    first = np.empty(len(values), dtype=bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    inverse = np.empty(len(values), dtype=np.int64)
    inverse[order] = np.cumsum(first) - 1
    return ordered[first], inverse


def _counted_by_token(catalog, keys: list[PageKey], docs: list[int], words: list[str],
                      doc_freq: Mapping[str, int], n: int, shares: Mapping[str, float], params: Bm25Params):
    """`_counted_by_key`, from the units' tokens as words (exact SQL frequencies)."""
    pages = set(keys)
    page_counts: dict[PageKey, Counter] = defaultdict(Counter)
    doc_counts: dict[int, Counter] = defaultdict(Counter)
    rows = (catalog.tokens_of_documents(docs) if params.document_cosine
            else catalog.tokens_of_pages(pages))  # a whole document's tokens cost more
    for doc_id, page_no, tokens in rows:  # counted in C (Counter over a list), not token by token
        words_of = tokens.split()
        if (doc_id, page_no) in pages:
            page_counts[(doc_id, page_no)].update(words_of)
        if params.document_cosine:
            doc_counts[doc_id].update(words_of)
    units: list[Counter] = [page_counts.get(key, Counter()) for key in keys]
    units += [doc_counts.get(d, Counter()) for d in docs]
    # every document's tokens hold its candidate pages' tokens
    vocab = set().union(*(doc_counts.values() if params.document_cosine else page_counts.values()))
    df = dict(doc_freq)
    df.update(catalog.token_doc_freq([t for t in vocab if t not in df], cached=True))
    query = _query_vector(words, df, n, shares)
    # all units' (token, count) entries in one array: ~10^5 of them for a few hundred documents
    tokens = list(itertools.chain.from_iterable(units))
    counts = np.fromiter(itertools.chain.from_iterable(c.values() for c in units), dtype=np.float64,
                         count=len(tokens))
    words_of_vocab = list(vocab)
    vocab_df = np.fromiter((df.get(t, 1) for t in words_of_vocab), dtype=np.float64, count=len(words_of_vocab))
    vocab_idf = dict(zip(words_of_vocab, idf(vocab_df, n).tolist()))
    unit_idf = np.fromiter(map(vocab_idf.__getitem__, tokens), dtype=np.float64, count=len(tokens))
    unit_query = np.fromiter(map(query.get, tokens, itertools.repeat(0.0)), dtype=np.float64, count=len(tokens))
    sizes = np.array([len(c) for c in units], dtype=np.int64)
    return np.repeat(np.arange(len(units)), sizes), counts, unit_idf, unit_query, query


def file_stem_token(path: str) -> str:
    """The one lexical token a file's stem is referred to by (`fw_13_5_inch_display.pdf` ->
    `fw135inchdisplay`), matching what analyze.lexical_tokens indexes for a file reference."""
    from pathlib import PurePath

    stem = PurePath(path.replace("\\", "/")).stem
    return "".join(t for t in lexical_tokens(stem)[:1])
