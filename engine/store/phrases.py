"""Keyword ranking from remembered per-phrase scores: FTS5's own BM25, added up in numpy.

FTS5's `bm25()` is a sum over the phrases of the query, and each phrase's part depends only on
that phrase (its rarity, its count in the row, the row's length against the average). So the
score of a row for a whole query equals the sum of its scores for each phrase asked alone, bit
for bit when added in the query's order. A common phrase ("iso", a material on every drawing)
costs FTS5 ~1 µs for every row holding it, each time it is asked: 30-80 ms at 100k chunks. When
it is asked a second time, its rows and scores are read (~1.6 times what answering costs) and
kept for as long as the library does not change (`Catalog.generation`); a query whose phrases
are all known is answered by adding arrays: the same rows and the same scores as FTS5's
ORDER BY bm25(), in a few milliseconds. A search asked once (`zumen search` on the command
line) costs what it did.

`Expression` is a keyword query in the form `Catalog.search_lexical` builds: groups joined by
AND or OR, each group any one of its alternatives, each alternative all of its phrases.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import reduce

import numpy as np

# A phrase in at most this many rows is rare: its rows are read when it is first asked (~0.5 ms),
# and an AND with a rare term is cheap for FTS5 itself (it reads only the rows beside it).
SMALL_PHRASE_ROWS = 500
# The rows remembered over all phrases (16 bytes each: 64 MB), least recently asked dropped first.
MAX_REMEMBERED_ROWS = 4_000_000


@dataclass(frozen=True)
class Expression:
    groups: tuple[tuple[tuple[str, ...], ...], ...]  # group -> alternatives -> FTS5 phrases
    require_all: bool

    def fts(self) -> str:
        """The FTS5 MATCH string."""
        def alternative(phrases: tuple[str, ...]) -> str:
            return phrases[0] if len(phrases) == 1 else "(" + " AND ".join(phrases) + ")"

        parts = []
        for alternatives in self.groups:
            either = [alternative(a) for a in alternatives]
            parts.append(either[0] if len(either) == 1 else "(" + " OR ".join(either) + ")")
        return (" AND " if self.require_all else " OR ").join(parts)

    def phrases(self) -> list[str]:
        """Every phrase in the order FTS5 numbers them (a phrase asked twice counts twice)."""
        return [p for alternatives in self.groups for phrases in alternatives for p in phrases]


@dataclass(frozen=True)
class PhraseRows:
    """Every row holding one phrase and its bm25 score for that phrase alone (positive)."""
    rows: np.ndarray  # int64 rowids
    scores: np.ndarray  # float64

    def __len__(self) -> int:
        return len(self.rows)


class PhraseCache:
    """PhraseRows of the phrases asked, for one library generation; shared by threads."""

    def __init__(self, max_rows: int = MAX_REMEMBERED_ROWS) -> None:
        self.max_rows = max_rows
        self._lock = threading.Lock()
        self._generation: int | None = None
        self._known: OrderedDict[str, PhraseRows] = OrderedDict()
        self._held = 0
        self._asked: set[tuple[str, bool]] = set()  # (common phrase, in an AND query)
        self._common: set[str] = set()  # phrases found in more than SMALL_PHRASE_ROWS rows
        self._too_big: set[str] = set()  # phrases in more than max_rows rows

    def get(self, phrases: list[str], generation: int) -> dict[str, PhraseRows]:
        with self._lock:
            self._for(generation)
            out = {}
            for p in phrases:
                if (known := self._known.get(p)) is not None:
                    self._known.move_to_end(p)
                    out[p] = known
            return out

    def put(self, phrase: str, rows: PhraseRows, generation: int) -> None:
        with self._lock:
            self._for(generation)
            if len(rows) > self.max_rows:  # never kept: not to be read whole again
                self._too_big.add(phrase)
                return
            if phrase in self._known:
                return
            self._known[phrase] = rows
            self._held += len(rows)
            while self._held > self.max_rows:
                _, dropped = self._known.popitem(last=False)
                self._held -= len(dropped)

    def common(self, phrases: list[str], generation: int) -> set[str]:
        """Those of `phrases` found common (`found_common`) in this generation."""
        with self._lock:
            self._for(generation)
            return self._common.intersection(phrases)

    def found_common(self, phrase: str, generation: int) -> None:
        with self._lock:
            self._for(generation)
            self._common.add(phrase)

    def asked_before(self, phrases: list[str], require_all: bool, generation: int) -> list[str]:
        """Those of `phrases` asked before in this generation in a query of the same kind (a
        keyword search asks AND first, then OR to fill up: that is one ask) that may be kept;
        all of them count as asked now."""
        with self._lock:
            self._for(generation)
            again = [p for p in phrases if (p, require_all) in self._asked and p not in self._too_big]
            self._asked.update((p, require_all) for p in phrases)
            return again

    def _for(self, generation: int) -> None:
        if generation != self._generation:  # the library changed: forget every phrase
            self._generation, self._known, self._held = generation, OrderedDict(), 0
            self._asked, self._common, self._too_big = set(), set(), set()


def phrase_rows(pairs: list[tuple[int, float]]) -> PhraseRows:
    a = np.array(pairs, dtype=np.float64).reshape(-1, 2)
    return PhraseRows(rows=a[:, 0].astype(np.int64), scores=a[:, 1].copy())


def rank(expr: Expression, known: dict[str, PhraseRows], limit: int) -> list[tuple[int, float]]:
    """The rows matching `expr` and their bm25 scores, best first (ties: lower rowid first),
    from the rows of each of its phrases: what FTS5 answers for `expr.fts()` ordered by score."""
    phrases = expr.phrases()
    size = 1 + max((int(known[p].rows.max()) for p in phrases if len(known[p])), default=-1)
    if size <= 0 or limit <= 0:
        return []
    score = np.zeros(size)
    for p in phrases:  # FTS5's order of addition: equal sums, not only close ones
        score[known[p].rows] += known[p].scores
    present: dict[str, np.ndarray] = {}

    def holds(p: str) -> np.ndarray:
        if p not in present:
            present[p] = np.zeros(size, dtype=bool)
            present[p][known[p].rows] = True
        return present[p]

    groups = [reduce(np.logical_or, [reduce(np.logical_and, [holds(p) for p in alternative])
                                     for alternative in alternatives])
              for alternatives in expr.groups]
    rows = np.flatnonzero(reduce(np.logical_and if expr.require_all else np.logical_or, groups))
    values = score[rows]
    if len(rows) > limit:  # the best `limit`; at a tie on the last place, the lower rowids
        cut = np.partition(values, len(values) - limit)[len(values) - limit]
        above = rows[values > cut]
        tied = rows[values == cut][:limit - len(above)]
        rows = np.concatenate([above, tied])
        values = score[rows]
    order = np.lexsort((rows, -values))
    return [(int(r), float(v)) for r, v in zip(rows[order], values[order])]
