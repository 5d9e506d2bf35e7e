"""Lexical analysis shared by indexing and querying.

Japanese has no spaces, and users search for one- and two-character terms (軸, 軸受) as well as
long compounds (焼入れ焼戻し). We index every CJK run as character unigrams plus bigrams (the
classic CJK-bigram scheme of Lucene/Elasticsearch) and query with the bigrams of a term (or the
unigram for a one-character term). Latin/digit runs become words; identifiers such as
``1258-B2P-A`` are indexed both whole (punctuation removed: ``1258b2pa``) and by their parts
(``1258``, ``b2p``, ``a``), so a search for the full number, its prefix or one part all match.

Every token is made of letters/digits only, so SQLite FTS5's default ``unicode61`` tokenizer
keeps our tokens intact.
"""

from __future__ import annotations

from functools import lru_cache
import re
import unicodedata
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

# Bumped whenever lexical_tokens changes what it emits: a library indexed by an older analyser is
# re-tokenised when opened (Catalog), so old and new documents match queries the same way.
ANALYZER_VERSION = 2

# Han, Hiragana, Katakana (incl. the prolonged sound mark and iteration marks), CJK compatibility.
_CJK = r"\u3005\u3006\u3041-\u309f\u30a0-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CJK_RUN = re.compile(f"[{_CJK}]+")  # a run of Japanese/Chinese characters (indexed as unigrams, bigrams)
# An alphanumeric "word", allowed to contain inner connectors (- . / _) between alnum characters.
_WORD = re.compile(r"[0-9a-z\u00b5\u03b1-\u03c9]+(?:[-./_][0-9a-z\u00b5\u03b1-\u03c9]+)*")
_TOKEN_OR_CJK = re.compile(f"[{_CJK}]+|" + _WORD.pattern)
_PARTS = re.compile(r"[0-9a-z\u00b5\u03b1-\u03c9]+")

STOPWORDS = frozenset(
    "a an and are as at be by for from in is it of on or the to with this that these those "
    "de het een en van".split()
)

# Identifier patterns, applied to NFKC-normalised, upper-cased text.
_MATERIAL = re.compile(
    r"\b(?:S\d{2}C|SS\d{3}|SUS\d{3}[A-Z]?\d?|SCM\d{3}|SNCM\d{3}|SK[DHS]?\d{1,2}|SUJ\d|SPC[CDE]|SPH[CD]|"
    r"SECC|SGCC|FCD?\d{3}|A\d{4}(?:-T\d+)?|C\d{4}|AL\d{4}|POM|PEEK|MC\s?NYLON|ABS|PLA|PTFE)\b"
)
_STANDARD = re.compile(r"\b(?:JIS|ISO|DIN|ASTM|ANSI|EN|IEC)\s?[A-Z]?\s?\d{2,5}(?:[-:]\d+)*(?:-[A-Z]{1,2}\b)?")
# Part / drawing numbers: alnum groups joined by hyphens with at least one digit group of 3+,
# e.g. 1258-B2P-A, ZM-1258-B2P, A-20431-03, B1013-A2P-A; letters glued to 4+ digits (ZB502779A);
# or a bare 4-8 digit number.
_PART_NO = re.compile(r"\b(?=[A-Z0-9-]*\d{3})[A-Z0-9]{1,8}(?:-[A-Z0-9]{1,8}){1,4}\b"
                      r"|\b[A-Z]{1,4}\d{4,9}[A-Z0-9]{0,4}\b|\b\d{4,8}\b")
_DATE_LIKE = re.compile(r"^\d{1,4}-\d{1,2}-\d{1,4}$")
_THREAD = re.compile(r"\bM\d{1,2}(?:X\d+(?:\.\d+)?)?\b")


def normalize(text: str) -> str:
    """NFKC (full-width -> ASCII, half-width kana -> full-width) and lower case."""
    return unicodedata.normalize("NFKC", text).lower()


def is_cjk(text: str) -> bool:
    return bool(CJK_RUN.fullmatch(text))


def cjk_bigrams(run: str) -> list[str]:
    """The overlapping character pairs of a CJK run, in order (焼入れ → 焼入, 入れ)."""
    return [run[i:i + 2] for i in range(len(run) - 1)]


def _cjk_grams(run: str) -> list[str]:
    return list(run) + cjk_bigrams(run)


def _word_tokens(word: str) -> list[str]:
    parts = _PARTS.findall(word)
    if len(parts) == 1:
        return parts
    out = ["".join(parts)] + parts
    # A file reference (`cad/fw_13_5_inch_display.pdf`) is also indexed by its file stem joined
    # (`fw135inchdisplay`): the token a document naming a drawing shares with that drawing's file.
    stem, dot, ext = word.rpartition("/")[2].rpartition(".")
    if dot and stem and ext.isalpha() and len(ext) <= 6:
        stem_parts = _PARTS.findall(stem)
        joined_stem = "".join(stem_parts)
        if joined_stem not in out:
            out.append(joined_stem)
    return out


def _word_runs(text: str) -> Iterator[tuple[str, bool, list[str]]]:
    """(word or CJK run, is it CJK, its index-side tokens) for each run of `text`."""
    for m in _TOKEN_OR_CJK.finditer(normalize(text)):
        tok = m.group(0)
        cjk = bool(CJK_RUN.fullmatch(tok))
        yield tok, cjk, _cjk_grams(tok) if cjk else _word_tokens(tok)


def lexical_tokens(text: str) -> list[str]:
    """Index-side tokens of `text` (already or not yet normalised)."""
    return [t for _, _, tokens in _word_runs(text) for t in tokens]


# Sizes, tolerances, ranges, counts, dates and short codes: on a drawing these are dimensions
# (R5, C0.5, M8, Ra1.6, 4x5.50, 0.05, 30-120, 2019-08-15), not names. They are shared by chance
# with any document full of numbers (a parts list's R5 and C12 are resistors and capacitors).
DIMENSION = re.compile(r"(?:\d{1,2}x)?[a-zφ⌀]{0,2}\d{1,3}(?:[.,]\d+)*|\d{1,4}(?:[-/.]\d{1,4}){1,2}")


def dimension_and_word_tokens(text: str) -> tuple[list[str], list[str]]:
    """lexical_tokens of `text` split in two: those of dimension-like words (`DIMENSION`) and
    all others (names, identifiers, words, CJK grams)."""
    words: list[str] = []
    dims: list[str] = []
    for run, cjk, tokens in _word_runs(text):
        (dims if not cjk and DIMENSION.fullmatch(run) else words).extend(tokens)
    return dims, words


@dataclass(frozen=True)
class QueryTerm:
    """One term a user typed. `tokens` must all match (AND); `prefix` allows prefix matching.
    `pieces`: a code typed with spaces ("jxs 01 03", `joined_code`), matched joined or as its
    pieces in a row; chunks holding its pieces apart only fill up a list the code leaves short.
    `numbers`: the numbers inside a code (`number_parts`: "1002" of "b1002-a2p-a"); a chunk
    holding one of them but not the code holds part of the term, and only fills up a list the
    code leaves short."""

    text: str  # as shown to the user ("焼入れ", "1258-b2p")
    tokens: tuple[str, ...]
    prefix: bool = False
    pieces: tuple[str, ...] = ()
    numbers: tuple[str, ...] = ()


_NUMBER = re.compile(r"\d{3,}")


def number_parts(code: str) -> tuple[str, ...]:
    """The numbers of 3 digits or more inside a code, which documents often cite alone: a parts
    list's "part number 1002" for drawing B1002-A2P-A, "ISO 2768" for ISO 2768-m. None for a
    code that is one number, or a dimension, range or date (`DIMENSION`: "30-120", "2019-08-15");
    two-digit numbers ("01" of JXS-01-03) are on every page."""
    code = normalize(code)
    if DIMENSION.fullmatch(code):
        return ()
    found = tuple(dict.fromkeys(_NUMBER.findall(code)))
    return () if found == (code,) else found


def query_terms(text: str, *, drop_stopwords: bool = True) -> list[QueryTerm]:
    """Split a query into terms. Duplicates are removed; order is kept."""
    terms: list[QueryTerm] = []
    seen: set[str] = set()
    for m in _TOKEN_OR_CJK.finditer(normalize(text)):
        tok = m.group(0)
        if tok in seen:
            continue
        seen.add(tok)
        if CJK_RUN.fullmatch(tok):
            grams = [tok] if len(tok) == 1 else cjk_bigrams(tok)
            terms.append(QueryTerm(tok, tuple(dict.fromkeys(grams))))
            continue
        if drop_stopwords and tok in STOPWORDS:
            continue
        parts = _PARTS.findall(tok)
        if len(parts) == 1:
            # identifiers and long words match by prefix too ("1258" finds "1258b2pa")
            prefix = len(tok) >= 3 and any(c.isdigit() for c in tok)
            terms.append(QueryTerm(tok, (parts[0],), prefix))
        else:
            terms.append(QueryTerm(tok, ("".join(parts),), True))
    return terms


def term_matches(term: QueryTerm, tokens: set[str], token_list: list[str] | None = None) -> bool:
    """Does a chunk with these lexical tokens contain `term`? (A code typed with spaces: joined,
    or its pieces in a row as typed; its pieces apart are not it.)"""
    if term.pieces and token_list is not None and in_a_row(term.pieces, token_list):
        return True
    if term.prefix:
        key = term.tokens[0]
        return any(t.startswith(key) for t in (token_list or tokens))
    return all(t in tokens for t in term.tokens)


def in_a_row(pieces: Sequence[str], tokens: Sequence[str]) -> bool:
    """Do `pieces` occur one after the other in `tokens`?"""
    n = len(pieces)
    return any(list(tokens[i:i + n]) == list(pieces) for i, t in enumerate(tokens) if t == pieces[0])


MAX_CODE_PIECES = 6


def code_runs(text: str) -> list[list[str]]:
    """Runs of 2 or more words typed in a row that could be the pieces of one code written with
    spaces ("JXS 01 03", "JIS G 4051", "B1002 A2P"): each a single alphanumeric part holding a
    digit or of at most 3 letters, at least one holding a digit (normalised, in typed order)."""
    runs: list[list[str]] = []
    run: list[str] = []
    for m in _TOKEN_OR_CJK.finditer(normalize(text)):
        tok = m.group(0)
        if _PARTS.fullmatch(tok) and tok.isascii() and (len(tok) <= 3 or any(c.isdigit() for c in tok)):
            run.append(tok)
            continue
        runs.append(run)
        run = []
    runs.append(run)
    return [r for r in runs if len(r) >= 2 and any(c.isdigit() for c in "".join(r))]


def joined_code(run: Sequence[str], known: Callable[[str], bool]) -> list[tuple[int, int]]:
    """Where in `run` (code_runs) pieces typed with spaces join into a code the library holds:
    (start, end) spans, longest first from the left, each of 2 to MAX_CODE_PIECES pieces whose
    concatenation `known` says begins some indexed token (the index holds "JXS-01-03" also
    as "jxs0103"). Words that join into nothing stay words."""
    spans: list[tuple[int, int]] = []
    start = 0
    while start < len(run) - 1:
        for end in range(min(len(run), start + MAX_CODE_PIECES), start + 1, -1):
            joined = "".join(run[start:end])
            if any(c.isdigit() for c in joined) and known(joined):
                spans.append((start, end))
                start = end
                break
        else:
            start += 1
    return spans


def extract_identifiers(text: str) -> list[str]:
    """Part and drawing numbers, materials, standards and thread sizes, in order of appearance."""
    up = unicodedata.normalize("NFKC", text).upper()
    found: list[tuple[int, str]] = []
    for pattern in (_STANDARD, _MATERIAL, _THREAD):
        for m in pattern.finditer(up):
            found.append((m.start(), re.sub(r"\s+", " ", m.group(0)).strip()))
    covered = [(s, s + len(v)) for s, v in found]
    for m in _PART_NO.finditer(up):
        value = m.group(0)
        if _DATE_LIKE.match(value) or any(a <= m.start() < b for a, b in covered):
            continue
        found.append((m.start(), value))
    found.sort()
    return list(dict.fromkeys(v for _, v in found))


@lru_cache(maxsize=1 << 14)
def _normal_char(ch: str) -> str:
    return normalize(ch)


def highlight_spans(text: str, terms: list[QueryTerm]) -> list[tuple[int, int]]:
    """Character spans in `text` (original, not normalised) where query terms occur.

    NFKC can change lengths, so matching runs on a per-character normalised copy whose
    indices map back to `text`.
    """
    if not terms or not text:
        return []
    norm_chars = list(map(_normal_char, text))
    norm = "".join(norm_chars)
    if len(norm) == len(text) and max(map(len, norm_chars)) == 1:
        index_map: Sequence[int] = range(len(text))  # one character each: indices agree
    else:
        index_map = [i for i, n in enumerate(norm_chars) for _ in n]
    spans: list[tuple[int, int]] = []
    for term in terms:
        parts = _PARTS.findall(term.text)
        if len(parts) > 1:
            pattern = r"[-./_ ]?".join(map(re.escape, parts))
        else:
            pattern = re.escape(term.text)
        if term.text.isascii():
            # ASCII terms match whole words (a prefix for identifiers): "g" must not mark "GEAR"
            tail = r"[0-9a-z]*" if term.prefix else r"(?![0-9a-z])"
            pattern = r"(?<![0-9a-z])" + pattern + tail
        for m in re.finditer(pattern, norm):
            if m.end() > m.start():
                spans.append((index_map[m.start()], index_map[m.end() - 1] + 1))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged
