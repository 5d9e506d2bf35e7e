"""Near-identical drawings in the library: the same sheet scanned twice, a PDF and its photo,
revision A and B of one part. Numpy only; `Engine.duplicates` supplies the pages.

The signal is the words a drawing shares with few other drawings: its part number, the numbers
of its dimensions, its notes and title. A word is *telling* when it is on at least two and at
most `rare_pages` drawing pages of the library (a word on one page only, often an OCR misreading,
cannot be shared and does not count; a title-block word on every page tells nothing), 3
characters or longer (2 for a Japanese/Chinese bigram). A pair's score is the share of the telling
words of the page with fewer of them that the other page has too: a photo read poorly by OCR still
shares most of the few words it read, and two drawings of one template share none of each
other's dimensions. Pairs at or above the threshold (chosen leave-one-source-out on the dev sets,
bench/bench_similar.py) are joined into groups by average linkage (`group_pages`).

Looks (the image-tower cosine of the pages' stored vectors) are reported with every pair but do
not decide: measured, they add nothing at this precision (the shipped tower puts a scan of a
drawing no closer to it than to another drawing on the same sheet template; docs/similar.md).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from engine.types import DuplicateGroup, DuplicatePage

Checkpoint = Callable[[int, int], None]  # (pages done, total): progress and cancel
MIN_CHARS = 3  # a shorter word ("m3", "10") tells little; a CJK bigram counts from 2
SHOWN_WORDS = 8  # shared words listed with a group


def is_telling(token: str) -> bool:
    return len(token) >= MIN_CHARS or (len(token) == 2 and not token.isascii())


def telling_words(tokens: Sequence[Iterable[str]], rare_pages: int) -> list[frozenset[str]]:
    """Each page's telling words: on 2 to `rare_pages` of these pages (at most half of them in a
    small library, where a template word would otherwise be rare), long enough to tell."""
    sets = [frozenset(t for t in toks if is_telling(t)) for toks in tokens]
    df = Counter(t for s in sets for t in s)
    limit = min(rare_pages, max(2, len(sets) // 2))
    return [frozenset(t for t in s if 2 <= df[t] <= limit) for s in sets]


def candidate_pairs(words: Sequence[frozenset[str]]) -> set[tuple[int, int]]:
    """Pairs of pages sharing at least one telling word (a word is on few pages: few pairs)."""
    pages: dict[str, list[int]] = {}
    for i, ws in enumerate(words):
        for w in ws:
            pages.setdefault(w, []).append(i)
    return {(a, b) for holders in pages.values() for x, a in enumerate(holders) for b in holders[x + 1:]}


@dataclass(frozen=True)
class ScoredPair:
    i: int
    j: int
    score: float  # share of the smaller set of telling words found on the other page
    looks: float  # image-tower cosine (0 when a page has no vector)
    words: tuple[str, ...]  # the telling words they share, sorted


def score_pairs(tokens: Sequence[Iterable[str]], vectors: NDArray[np.float32] | None, rare_pages: int,
                checkpoint: Checkpoint | None = None) -> list[ScoredPair]:
    """Every pair of pages that shares a telling word, scored. `vectors`: (n, d) image-tower
    vectors (a row of zeros: no picture), or None."""
    words = telling_words(tokens, rare_pages)
    pairs = sorted(candidate_pairs(words))
    out = []
    for k, (i, j) in enumerate(pairs):
        shared = words[i] & words[j]
        looks = float(vectors[i] @ vectors[j]) if vectors is not None else 0.0
        out.append(ScoredPair(i, j, len(shared) / min(len(words[i]), len(words[j])), looks,
                              tuple(sorted(shared))))
        if checkpoint is not None and k % 5000 == 4999:
            checkpoint(k + 1, len(pairs))
    return out


def group_pages(n: int, pairs: Iterable[ScoredPair],
                threshold: float) -> list[tuple[list[int], list[ScoredPair]]]:
    """Groups (of 2 or more pages) by average linkage: pairs are taken strongest first, and two
    groups are joined only when the mean score over every pair of their pages (0 for a pair
    without a shared telling word) is at least `threshold` — one chance link does not chain two
    drawings' groups together. Each group comes with its pairs scored at least `threshold`."""
    ranked = sorted((p for p in pairs if p.score >= threshold), key=lambda p: (-p.score, p.i, p.j))
    score = {(p.i, p.j): p.score for p in ranked}
    members: dict[int, list[int]] = {}
    group_of = list(range(n))
    for p in ranked:
        a, b = group_of[p.i], group_of[p.j]
        if a == b:
            continue
        left, right = members.get(a, [a]), members.get(b, [b])
        total = sum(score.get((min(x, y), max(x, y)), 0.0) for x in left for y in right)
        if total >= threshold * len(left) * len(right):
            members[a] = left + right
            members.pop(b, None)
            for y in right:
                group_of[y] = a
    links: dict[int, list[ScoredPair]] = {}
    for p in ranked:
        if group_of[p.i] == group_of[p.j]:
            links.setdefault(group_of[p.i], []).append(p)
    return [(sorted(m), links[g]) for g, m in members.items() if len(m) > 1]


def duplicate_group(members: list[int], links: Sequence[ScoredPair],
                    pages: dict[int, DuplicatePage]) -> DuplicateGroup:
    """One group: its pages (text-layer pages first, then by path), the mean score over every
    two of its pages (0 for two that share no telling word), the closest look of two of them,
    and the telling words its pages share most."""
    ordered = sorted((pages[i] for i in members), key=lambda p: (p.source != "text-layer", p.path, p.page))
    counts = Counter(w for p in links for w in p.words)
    shown = tuple(w for w, _ in sorted(counts.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))[:SHOWN_WORDS])
    pairs = len(members) * (len(members) - 1) / 2
    return DuplicateGroup(pages=tuple(ordered), score=sum(p.score for p in links) / pairs,
                          looks=max(p.looks for p in links), words=shown)
