"""Search history (Back / Forward, recent searches) and pinned results.

History entries keep their answer, so going back shows it at once, exactly as it was, without
searching again. Pinned results outlive the session: they are stored in the settings as plain
(path, page, title) records and shown again as hits without scores.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from PySide6.QtGui import QImage

from engine.types import Explanation, Hit, ScoreBreakdown, Snippet

HISTORY_LIMIT = 30
PINS_LIMIT = 50


@dataclass
class HistoryEntry:
    kind: str  # "keyword" | "file" | "image" | "similar"
    label: str  # what the user sees: the words, the file name, "pasted picture", a title
    query: Any  # the text, the Path, the QImage or the Hit searched with
    drop: tuple[str, ...] = ()  # query chips left out
    add: tuple[str, ...] = ()  # words added to a drawing query
    results: Any = None  # SearchResults | FileQueryResults
    mtimes: dict[str, float] = field(default_factory=dict)
    thumb: Optional[QImage] = None  # the query drawing, small (recent-searches menu)

    def same_query(self, other: "HistoryEntry") -> bool:
        same = self.query is other.query or (not isinstance(self.query, QImage) and self.query == other.query)
        return self.kind == other.kind and same and (self.drop, self.add) == (other.drop, other.add)


class SearchHistory:
    """A browser-like history: a new search drops the entries ahead of the current one."""

    def __init__(self, limit: int = HISTORY_LIMIT) -> None:
        self.limit = limit
        self.entries: list[HistoryEntry] = []
        self.pos = -1

    def push(self, entry: HistoryEntry) -> None:
        current = self.current()
        if current is not None and current.same_query(entry):  # the same search again: refresh it
            self.entries[self.pos] = entry
            return
        del self.entries[self.pos + 1:]
        self.entries.append(entry)
        if len(self.entries) > self.limit:
            del self.entries[0]
        self.pos = len(self.entries) - 1

    def current(self) -> Optional[HistoryEntry]:
        return self.entries[self.pos] if 0 <= self.pos < len(self.entries) else None

    def can_back(self) -> bool:
        return self.pos > 0

    def can_forward(self) -> bool:
        return self.pos < len(self.entries) - 1

    def back(self) -> Optional[HistoryEntry]:
        if self.can_back():
            self.pos -= 1
        return self.current() if self.entries else None

    def forward(self) -> Optional[HistoryEntry]:
        if self.can_forward():
            self.pos += 1
        return self.current() if self.entries else None

    def go(self, index: int) -> Optional[HistoryEntry]:
        if 0 <= index < len(self.entries):
            self.pos = index
        return self.current()

    def recent(self) -> list[tuple[int, HistoryEntry]]:
        """(index, entry), newest first, one per distinct search."""
        out: list[tuple[int, HistoryEntry]] = []
        for index in range(len(self.entries) - 1, -1, -1):
            entry = self.entries[index]
            if not any(entry.same_query(seen) for _, seen in out):
                out.append((index, entry))
        return out


def pin_record(hit: Hit) -> dict:
    return {"path": hit.path, "page": hit.page, "title": hit.title, "kind": hit.kind, "format": hit.format}


def pinned_hit(record: dict, rank: int = 0) -> Hit:
    """A pinned result as a hit without scores; doc_id -1: the engine finds it by path."""
    return Hit(-1, str(record["path"]), str(record.get("title") or Path(record["path"]).stem),
               record.get("kind", "document"), record.get("format", ""), int(record.get("page", 1)),
               ScoreBreakdown(0.0, 0.0, 0.0, 0.0), Snippet(""), Explanation(), rank=rank)


class Pins:
    """Pinned results, newest first, stored as JSON through `save` (the app's settings)."""

    def __init__(self, stored: str = "", save=None) -> None:  # noqa: ANN001 - save(str) -> None
        self._save = save
        try:
            records = json.loads(stored) if stored else []
        except json.JSONDecodeError:
            records = []
        self.records: list[dict] = [r for r in records if isinstance(r, dict) and r.get("path")][:PINS_LIMIT]

    def is_pinned(self, hit: Hit) -> bool:
        return any((r["path"], r["page"]) == (hit.path, hit.page) for r in self.records)

    def toggle(self, hit: Hit) -> bool:
        """Pin or unpin `hit`; True when it is pinned now."""
        key = (hit.path, hit.page)
        kept = [r for r in self.records if (r["path"], r["page"]) != key]
        pinned = len(kept) == len(self.records)
        self.records = ([pin_record(hit)] + kept)[:PINS_LIMIT] if pinned else kept
        if self._save is not None:
            self._save(json.dumps(self.records, ensure_ascii=False))
        return pinned

    def hits(self) -> list[Hit]:
        return [pinned_hit(r, rank=i + 1) for i, r in enumerate(self.records)]
