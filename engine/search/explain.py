"""Why did a page match? Shared terms and identifiers, their boxes on the page, and a snippet."""

from __future__ import annotations

from typing import Sequence

from engine.analyze import QueryTerm, lexical_tokens, highlight_spans, term_matches
from engine.types import Box, Explanation, ScoreBreakdown, Snippet, Word

SNIPPET_CHARS = 220


def matched_terms(terms: Sequence[QueryTerm], text: str) -> list[QueryTerm]:
    tokens = lexical_tokens(text)
    token_set = set(tokens)
    return [t for t in terms if term_matches(t, token_set, tokens)]


def shared_identifiers(identifiers: Sequence[str], text: str) -> list[str]:
    """Query identifiers found in `text`: whole (punctuation-insensitive) or by their number part."""
    token_set = set(lexical_tokens(text))
    shared = []
    for ident in identifiers:
        toks = lexical_tokens(ident)
        if not toks:
            continue
        whole = toks[0]
        numbers = [t for t in toks[1:] if t.isdigit() and len(t) >= 3]
        if whole in token_set or any(n in token_set for n in numbers):
            shared.append(ident)
    return shared


def word_boxes(words: Sequence[Word], terms: Sequence[QueryTerm]) -> tuple[Box, ...]:
    """Boxes of the words that contain any of `terms` (a word may hold several terms)."""
    if not terms:
        return ()
    boxes = []
    for w in words:
        toks = lexical_tokens(w.text)
        if toks and any(term_matches(t, set(toks), toks) for t in terms):
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


def summarise(shared_ids: Sequence[str], shared_terms: Sequence[str], scores: ScoreBreakdown) -> str:
    parts = []
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


def explain(terms: Sequence[QueryTerm], identifiers: Sequence[str], page_text: str,
            page_words: Sequence[Word], scores: ScoreBreakdown,
            query_words: Sequence[Word] = ()) -> Explanation:
    hits = matched_terms(terms, page_text)
    ids = shared_identifiers(identifiers, page_text)
    return Explanation(
        shared_terms=tuple(t.text for t in hits),
        shared_identifiers=tuple(ids),
        boxes=word_boxes(page_words, hits),
        query_boxes=word_boxes(query_words, hits),
        summary=summarise(ids, [t.text for t in hits], scores),
    )
