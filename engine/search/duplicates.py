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
bench/bench_similar.py) are joined into groups by average linkage (`group_pages`). Two pages of
one file are never a pair, nor in one group: they are the sheets of a set, sharing its title block.

A share cannot tell one shared word from ten: two drawings whose only telling word is "washer"
share all of it. So a pair's words count only beyond chance (`chance_of`): when at most
10**`max_chance` pairs of the library (default 1) would share words as rare as theirs by chance.
A pair above the threshold but within chance is left to geometry like a pair below it.

A scan or photo that OCR read poorly shares too few words with its drawing to clear the bar, yet
its views and dimensions line up with the drawing's. So a pair of a page OCR read and a page with
a text layer, below the threshold but sharing at least `check_share` of the telling words, is
checked by its geometry (search/geometry.py): when at least `check_points` keypoints line up
under one perspective transform, the pair is *confirmed* and counts as scoring the threshold.
Words read from text layers on both sides are trusted as they are (two near-identical drawings
of one family, spacers of two lengths, line up as well as a copy; only their words tell them
apart), and two pictures are not checked against each other (each carries its own scan or
photo noise, and two pictures of different drawings on one template line up more often than two
of the same one: 128 false against 80 true such pairs on the dev sets). Both bars are chosen
leave-one-source-out with the threshold (bench/bench_similar.py; docs/similar.md).

Looks (the image-tower cosine of the pages' stored vectors) are reported with every pair but do
not decide: measured, they add nothing at this precision (the shipped tower puts a scan of a
drawing no closer to it than to another drawing on the same sheet template; docs/similar.md).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from engine.types import DuplicateGroup, DuplicatePage

Checkpoint = Callable[[int, int], None]  # (pages done, total): progress and cancel
MIN_CHARS = 3  # a shorter word ("m3", "10") tells little; a CJK bigram counts from 2
SHOWN_WORDS = 8  # shared words listed with a group
MIN_CHANCE_PAGES = 3  # `chance_limit`: a drawing, its copy and its scan


def is_telling(token: str) -> bool:
    return len(token) >= MIN_CHARS or (len(token) == 2 and not token.isascii())


def rare_limit(rare_pages: int, pages: int) -> int:
    """On how many pages a telling word may be: `rare_pages`, at most half of them in a small
    library (where a template word would otherwise be rare)."""
    return min(rare_pages, max(2, pages // 2))


def telling_words(tokens: Sequence[Iterable[str]], rare_pages: int) -> list[frozenset[str]]:
    """Each page's telling words: on 2 to `rare_limit` of these pages, long enough to tell."""
    sets, df = page_words(tokens)
    return words_on(sets, df, rare_limit(rare_pages, len(sets)))


def page_words(tokens: Iterable[Iterable[str]]) -> tuple[list[frozenset[str]], Counter]:
    """Each page's words long enough to tell, and on how many pages each word is."""
    sets = [frozenset(t for t in toks if is_telling(t)) for toks in tokens]
    return sets, Counter(t for s in sets for t in s)


def words_on(sets: Sequence[frozenset[str]], df: Counter, limit: float) -> list[frozenset[str]]:
    """Each page's words (`page_words`) that are on 2 to `limit` of the pages."""
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
    points: int = 0  # keypoints lining up under one perspective transform (0: none, or not checked)
    confirmed: bool = False  # not enough by its words, confirmed by geometry (`check_geometry`)
    chance: float = 0.0  # log10 of how many pairs of this library would share such words by chance (`chance_of`)

    def strength(self, threshold: float, max_chance: float = math.inf) -> float:
        """What grouping weighs: the score, the threshold for a pair geometry confirmed, 0 for
        words shared by chance (`chance` above `max_chance`) that geometry did not confirm."""
        if self.confirmed:
            return max(self.score, threshold)
        return self.score if self.chance <= max_chance else 0.0


def chance_of(shared: Iterable[str], fewer: int, df: Counter, pages: int) -> float:
    """log10 of the number of page pairs of a library of `pages` pages expected to share words
    as rare as `shared` by chance: over every pair, every choice of that many words among the
    `fewer` words of the page with fewer, each on one of the other page's `df - 1` fellow pages.
    One word that two other drawings also carry ("washer") is chance in any library of a few
    hundred drawings; a copy shares its dimensions and notes too, each on few pages, and is not."""
    shared = list(shared)
    if pages < 2 or not shared:
        return math.log10(max(1.0, pages * (pages - 1) / 2))
    log_pairs = math.log10(pages * (pages - 1) / 2)
    log_choices = (math.lgamma(fewer + 1) - math.lgamma(len(shared) + 1)
                   - math.lgamma(fewer - len(shared) + 1)) / math.log(10)
    return log_pairs + log_choices + sum(math.log10(max(1, df[w] - 1) / (pages - 1)) for w in shared)


def chance_limit(pages: int, share: float) -> float:
    """On how many pages a word the chance weighs may be: `share` of them (dimensions, notes; not
    the template's words), at least 3 (a drawing, its copy and its scan in any library). In a
    small library this is fewer pages than the telling words' limit: there, a sheet style's
    title-block words on five of 30 drawings are telling, shared by every two of them, and no
    evidence (docs/similar.md)."""
    return max(MIN_CHANCE_PAGES, share * pages)


def score_pairs(tokens: Sequence[Iterable[str]], vectors: NDArray[np.float32] | None, rare_pages: int,
                checkpoint: Checkpoint | None = None, *, files: Sequence[int] | None = None,
                chance_share: float = 0.1) -> list[ScoredPair]:
    """Every pair of pages that shares a telling word, scored, with its `chance` (`chance_of`
    over the words on 2 pages to `chance_limit`). `vectors`: (n, d) image-tower vectors
    (a row of zeros: no picture), or None. `files`: each page's file; two pages of one file (the
    sheets of a set, sharing its title block) are never a pair."""
    sets, df = page_words(tokens)
    words = words_on(sets, df, rare_limit(rare_pages, len(sets)))
    vocab = words_on(sets, df, chance_limit(len(sets), chance_share))
    pairs = sorted(p for p in candidate_pairs(words) if files is None or files[p[0]] != files[p[1]])
    out = []
    for k, (i, j) in enumerate(pairs):
        shared = words[i] & words[j]
        looks = float(vectors[i] @ vectors[j]) if vectors is not None else 0.0
        out.append(ScoredPair(i, j, len(shared) / min(len(words[i]), len(words[j])), looks,
                              tuple(sorted(shared)),
                              chance=chance_of(vocab[i] & vocab[j], min(len(vocab[i]), len(vocab[j])), df,
                                               len(vocab))))
        if checkpoint is not None and k % 5000 == 4999:
            checkpoint(k + 1, len(pairs))
    return out


def is_ocr_page(source: str) -> bool:
    """Whether a page's words came from OCR alone (`PageContent.source` "ocr"), not a text layer:
    the pages whose words may fall short, so geometry may confirm them against a text layer."""
    return source == "ocr"


def check_geometry(pairs: Sequence[ScoredPair], points_of: Callable[[int, int], int], read_by_ocr: Sequence[bool],
                   *, threshold: float, min_share: float, min_points: int, max_chance: float = math.inf,
                   checkpoint: Checkpoint | None = None, every: bool = False) -> list[ScoredPair]:
    """The pairs, each of a page OCR read and a page with a text layer (`read_by_ocr`, per page)
    sharing at least `min_share` of their telling words but not enough (below `threshold`, or
    words as likely by chance as `max_chance` allows no more) checked by its geometry
    (`points_of(i, j)`: keypoints lining up) and confirmed at `min_points`. `every`: every pair's
    points are found (benchmarks), only those the rule names decide. Pairs are checked in page
    order, so a page's keypoints serve all its pairs in a row."""
    if min_points <= 0:
        return list(pairs)

    def decides(p: ScoredPair) -> bool:
        return (read_by_ocr[p.i] != read_by_ocr[p.j] and p.score >= min_share
                and (p.score < threshold or p.chance > max_chance))

    wanted = [k for k, p in enumerate(pairs) if every or decides(p)]
    out = list(pairs)
    for n, k in enumerate(sorted(wanted, key=lambda k: (pairs[k].i, pairs[k].j))):
        p = pairs[k]
        points = points_of(p.i, p.j)
        out[k] = replace(p, points=points, confirmed=decides(p) and points >= min_points)
        if checkpoint is not None and n % 20 == 19:
            checkpoint(n + 1, len(wanted))
    return out


def group_pages(n: int, pairs: Iterable[ScoredPair], threshold: float, *, max_chance: float = math.inf,
                files: Sequence[int] | None = None) -> list[tuple[list[int], list[ScoredPair]]]:
    """Groups (of 2 or more pages) by average linkage: pairs are taken strongest first, and two
    groups are joined only when the mean strength over every pair of their pages (0 for a pair
    below the threshold or sharing its words by chance; the threshold for a pair geometry
    confirmed) is at least `threshold` — one chance link does not chain two drawings' groups
    together — and, with `files` (each page's file), they hold no two pages of one file. Each
    group comes with its pairs of at least that strength."""
    pairs = list(pairs)
    strength = {(p.i, p.j): p.strength(threshold, max_chance) for p in pairs}
    ranked = sorted((p for p in pairs if strength[p.i, p.j] >= threshold),
                    key=lambda p: (-strength[p.i, p.j], p.i, p.j))
    score = {(p.i, p.j): strength[p.i, p.j] for p in ranked}
    members: dict[int, list[int]] = {}
    group_of = list(range(n))
    for p in ranked:
        a, b = group_of[p.i], group_of[p.j]
        if a == b:
            continue
        left, right = members.get(a, [a]), members.get(b, [b])
        if files is not None and {files[x] for x in left} & {files[y] for y in right}:
            continue
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


def readable_words(tokens: Iterable[str], texts: Iterable[str] = ()) -> dict[str, list[str]]:
    """Words to show for shared tokens, each with the tokens it stands for: where `texts` (the
    pages' text) hold a Japanese or Chinese run whose overlapping bigrams are all among the tokens,
    the run (焼入, 入れ, れ焼, 焼戻, 戻し → 焼入れ焼戻し; 株式, 式会, 会社 → 株式会社); other tokens as
    they are."""
    from engine.analyze import CJK_RUN, cjk_bigrams, normalize

    tokens = set(tokens)
    out: dict[str, list[str]] = {}
    covered: set[str] = set()
    for text in texts:
        for match in CJK_RUN.finditer(normalize(text)):
            run, start = match.group(), 0
            for end in range(1, len(run) + 1):  # split the run where a bigram is not shared
                if end == len(run) or run[end - 1:end + 1] not in tokens:
                    piece = run[start:end]
                    if len(piece) >= 3:
                        parts = cjk_bigrams(piece)
                        out.setdefault(piece, parts)
                        covered.update(parts)
                    start = end
    for t in sorted(tokens - covered):
        out[t] = [t]
    return out


def duplicate_group(members: list[int], links: Sequence[ScoredPair], pages: dict[int, DuplicatePage],
                    threshold: float, max_chance: float = math.inf, texts: Sequence[str] = ()) -> DuplicateGroup:
    """One group: its pages (text-layer pages first, then by path), the mean strength over every
    two of its pages (0 for two that share no telling word), the closest look of two of them,
    the most keypoints two of them line up, and the telling words its pages share most (as
    `readable_words` finds them in `texts`, its pages' text)."""
    ordered = sorted((pages[i] for i in members), key=lambda p: (p.source != "text-layer", p.path, p.page))
    counts = Counter(w for p in links for w in p.words)
    joined = {word: min(counts[t] for t in parts) for word, parts in readable_words(counts, texts).items()}
    shown = tuple(w for w, _ in sorted(joined.items(), key=lambda kv: (-kv[1], -len(kv[0]), kv[0]))[:SHOWN_WORDS])
    pairs = len(members) * (len(members) - 1) / 2
    confirmed = [p.points for p in links if p.confirmed]
    return DuplicateGroup(pages=tuple(ordered), score=sum(p.strength(threshold, max_chance) for p in links) / pairs,
                          looks=max(p.looks for p in links), words=shown, points=max(confirmed, default=0))
