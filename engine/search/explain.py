"""Why did a page match? Shared terms and identifiers, their boxes on the page, and a snippet."""

from __future__ import annotations

import unicodedata
from bisect import bisect_left
from functools import cached_property, lru_cache
from pathlib import PurePath
from typing import Mapping, Sequence

from engine.analyze import QueryTerm, highlight_spans, in_a_row, is_cjk, lexical_tokens, normalize, term_matches
from engine.types import Box, Explanation, ScoreBreakdown, Snippet, Word

SNIPPET_CHARS = 220


class PageTokens:
    """The lexical tokens of one page, computed once and shared by every check on it."""

    def __init__(self, tokens: list[str]) -> None:
        self.list = tokens
        self.set = set(tokens)

    @cached_property
    def sorted(self) -> list[str]:  # for prefix terms only
        return sorted(self.set)

    def has(self, term: QueryTerm) -> bool:
        if term.pieces and in_a_row(term.pieces, self.list):  # a code written with spaces
            return True
        if term.prefix:  # a prefix term: binary search in the sorted vocabulary of the page
            key = term.tokens[0]
            i = bisect_left(self.sorted, key)
            return i < len(self.sorted) and self.sorted[i].startswith(key)
        return all(t in self.set for t in term.tokens)

    @classmethod
    def of_text(cls, text: str) -> "PageTokens":
        return cls(lexical_tokens(text))


def matched_terms(terms: Sequence[QueryTerm], page: PageTokens) -> list[QueryTerm]:
    """The terms the page holds; of a code it does not hold, the numbers inside it that it does
    ("1002" of B1002-A2P-A on a parts list's line), each as a term of its own."""
    out = []
    for t in terms:
        if page.has(t):
            out.append(t)
        else:
            out += [QueryTerm(n, (n,)) for n in t.numbers if n in page.set]
    return out


def respelled(text: str, read: str, code: str) -> str:
    """`text`, a word as OCR read it ("xs-01-03", whose token is `read`), with the one edit that
    turns `read` into the library's `code` ("jxs0103"; docrank.misread_codes), separators kept:
    "jxs-01-03", the reason shown for a misread code. `code` when `text` is not `read` spelt out."""
    at = [i for i, c in enumerate(text) if c.isalnum()]  # where each character of `read` is
    if "".join(text[i] for i in at).lower() != read:
        return code
    k = next((i for i, (a, b) in enumerate(zip(read, code)) if a != b), min(len(read), len(code)))
    if len(code) > len(read):  # a character dropped: put it back
        pos = at[k] if k < len(at) else len(text)
        return text[:pos] + code[k] + text[pos:]
    if len(code) < len(read):  # a character added: take it out
        return text[:at[k]] + text[at[k] + 1:]
    return text[:at[k]] + code[k] + text[at[k] + 1:]  # a character misread


TEMPLATE_REASON_SHARE = 0.5  # on this share of the query's most similar drawings: template, no reason


def is_template(tokens: Sequence[str], template: Mapping[str, float]) -> bool:
    """Whether a term is part of the drawings' template (border, title block, standard notes):
    every token of it that was looked up is on at least half of the query's most similar
    drawings (docrank.template_shares; tokens too common to look up count as template).
    "尺度", "検図", the company name and "remove burrs" are on every sheet of a site and tell
    nothing about why one hit matched."""
    known = [template[tok] for tok in tokens if tok in template]
    return bool(known) and all(share >= TEMPLATE_REASON_SHARE for share in known)


def telling_tokens(identifier: str) -> tuple[str, ...]:
    """The tokens of an identifier that could tell it apart ("JIS B 0405-M" → jis, 0405m, 0405):
    single letters and short suffixes are on everything."""
    return tuple(t for t in word_tokens(identifier) if len(t) >= 3)


def _script(ch: str) -> str:
    name = unicodedata.name(ch, "")
    if name.startswith("HIRAGANA"):
        return "hiragana"
    if name.startswith("KATAKANA") or ch == "ー":
        return "katakana"
    if name.startswith("CJK"):
        return "kanji"
    return "other"


def whole_word_in(term: str, text: str) -> bool:
    """Whether a Japanese/Chinese term appears in `text` as a word of its own rather than as the
    tail or head of a longer one: "ト素材" is matched inside "スプロケット素材" by its bigrams, but
    shown as a reason it reads as garbage. Without spaces, a change of script at a kana edge
    (katakana → kanji) is the word boundary we can see; kanji join kanji in compounds. Other
    terms are matched as whole tokens already."""
    if not term or not is_cjk(term[0]):
        return True
    norm = normalize(text)
    first, last = _script(term[0]), _script(term[-1])
    start = norm.find(term)
    while start >= 0:
        end = start + len(term)
        # kanji run into kanji in compounds (熱処理 in 熱処理条件 is a word); kana runs are words
        before_ok = start == 0 or first == "kanji" or _script(norm[start - 1]) != first
        after_ok = end >= len(norm) or last == "kanji" or _script(norm[end]) != last
        if before_ok and after_ok:
            return True
        start = norm.find(term, start + 1)
    return not norm  # no text to check (e.g. a picture without OCR): keep the term


def shared_identifiers(identifiers: Sequence[str], page: PageTokens) -> list[str]:
    """Query identifiers found on the page: whole (punctuation-insensitive) or by their number part."""
    shared = []
    for ident in identifiers:
        toks = word_tokens(ident)
        if not toks:
            continue
        whole = toks[0]
        numbers = [t for t in toks[1:] if t.isdigit() and len(t) >= 3]
        if whole in page.set or any(n in page.set for n in numbers):
            shared.append(ident)
    return shared


@lru_cache(maxsize=1 << 16)
def word_tokens(word: str) -> tuple[str, ...]:
    """Tokens of a single word; words repeat across pages and queries, so they are memoised."""
    return tuple(lexical_tokens(word))


def word_boxes(words: Sequence[Word], terms: Sequence[QueryTerm]) -> tuple[Box, ...]:
    """Boxes of the words that contain any of `terms` (a word may hold several terms)."""
    if not terms:
        return ()
    holds: dict[str, bool] = {}  # word text -> holds a term (a page repeats its words)
    boxes = []
    for w in words:
        hit = holds.get(w.text)
        if hit is None:
            toks = word_tokens(w.text)
            hit = holds[w.text] = bool(toks) and any(term_matches(t, set(toks), list(toks)) for t in terms)
        if hit:
            boxes.append(w.box)
    return tuple(boxes)


def make_snippet(text: str, terms: Sequence[QueryTerm], size: int = SNIPPET_CHARS) -> Snippet:
    text = " ".join(text.split())
    spans = highlight_spans(text, list(terms))
    start = 0
    if spans and spans[0][0] > size // 3:
        start = spans[0][0] - size // 3
        # begin at a word boundary when there is one nearby
        space = text.rfind(" ", max(0, start - 20), start)
        start = space + 1 if space >= 0 else start
    end = min(len(text), start + size)
    piece = text[start:end]
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    marks = tuple((s - start + len(prefix), e - start + len(prefix)) for s, e in spans
                  if s >= start and e <= end)
    return Snippet(prefix + piece + suffix, marks)


def summarise(shared_ids: Sequence[str], shared_terms: Sequence[str], scores: ScoreBreakdown,
              names_drawing: str = "", beside_drawing: str = "", folders_up: int = 0) -> str:
    parts = []
    if names_drawing:
        parts.append(f"names {PurePath(names_drawing).name}")
    if beside_drawing:
        name = PurePath(beside_drawing).name
        parts.append(f"beside {name}" if not folders_up else
                     f"{folders_up} folder{'s' if folders_up > 1 else ''} above {name}")
    if shared_ids:
        parts.append("shares " + ", ".join(shared_ids[:4]))
    words = [t for t in shared_terms if t.lower() not in {i.lower() for i in shared_ids}]
    if words:
        parts.append("words: " + ", ".join(words[:6]))
    if scores.semantic > 0:
        parts.append(f"meaning {scores.semantic:.2f}")
    if scores.visual > 0:
        parts.append(f"looks alike {scores.visual:.2f}")
    return "; ".join(parts) if parts else "related content"


def boxes_by_term(words: Sequence[Word], terms: Sequence[QueryTerm]) -> dict[str, tuple[Box, ...]]:
    """Each term's word boxes (`word_boxes` of that term alone), for boxes asked of the same
    words many times (the query page); each distinct word is tokenised once."""
    by_text = {t.text: t for t in terms}
    out: dict[str, list[Box]] = {text: [] for text in by_text}
    holds: dict[str, list[str]] = {}  # word text -> the terms it holds
    for w in words:
        found = holds.get(w.text)
        if found is None:
            toks = word_tokens(w.text)
            present = set(toks)
            found = holds[w.text] = [text for text, t in by_text.items()
                                     if toks and term_matches(t, present, list(toks))]
        for text in found:
            out[text].append(w.box)
    return {text: tuple(boxes) for text, boxes in out.items()}


def explain(shared: Sequence[QueryTerm], identifiers: Sequence[str], page: PageTokens,
            page_words: Sequence[Word], scores: ScoreBreakdown,
            query_boxes: dict[str, tuple[Box, ...]] | None = None, *, names_drawing: str = "",
            beside_drawing: str = "", folders_up: int = 0) -> Explanation:
    """`shared`: the query terms found on the page (`matched_terms`); `query_boxes`: the query
    page's boxes per term (`boxes_by_term`), when the query is a page; `names_drawing`,
    `beside_drawing`, `folders_up`: the library link that relates the page to the query (see
    Explanation)."""
    ids = shared_identifiers(identifiers, page)
    qboxes = tuple(dict.fromkeys(b for t in shared for b in (query_boxes or {}).get(t.text, ())))
    return Explanation(
        shared_terms=tuple(t.text for t in shared),
        shared_identifiers=tuple(ids),
        boxes=word_boxes(page_words, shared),
        query_boxes=qboxes,
        summary=summarise(ids, [t.text for t in shared], scores, names_drawing, beside_drawing, folders_up),
        names_drawing=names_drawing, beside_drawing=beside_drawing, folders_up=folders_up,
    )
