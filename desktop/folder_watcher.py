"""Notice changes in library folders: QFileSystemWatcher plus a polling timer for network shares."""

from __future__ import annotations

import os
from typing import Sequence

from PySide6.QtCore import QFileSystemWatcher, QObject, QTimer, Signal


MAX_WATCHED_DIRS = 256


def watchable_dirs(folders: Sequence[str], depth: int = 2, limit: int = MAX_WATCHED_DIRS) -> list[str]:
    """The folders and their subfolders down to `depth` levels (file I/O: call it in a worker)."""
    found: list[str] = []
    level = [f for f in folders if os.path.isdir(f)]
    for _ in range(depth + 1):
        found.extend(level)
        if len(found) >= limit:
            return found[:limit]
        below = []
        for folder in level:
            try:
                with os.scandir(folder) as entries:
                    below.extend(e.path for e in entries if e.is_dir(follow_symlinks=False)
                                 and not e.name.startswith("."))
            except OSError:
                continue
        level = below
    return found[:limit]


class FolderWatcher(QObject):
    """Emits `changed` (debounced) when a watched folder changes or the poll interval passes.

    Qt watches single directories, so callers pass the folders with their subfolders
    (`watchable_dirs`, to a limited depth); network shares often send no events, so the poll timer
    is the safety net; the engine's incremental index makes a poll with no changes cheap.
    """

    changed = Signal()

    def __init__(self, poll_minutes: int = 10, debounce_ms: int = 3000) -> None:
        super().__init__()
        self._watcher = QFileSystemWatcher(self)
        self._watcher.directoryChanged.connect(self._poke)
        self._debounce = QTimer(self, singleShot=True, interval=debounce_ms)
        self._debounce.timeout.connect(self.changed)
        self._poll = QTimer(self)
        self._poll.timeout.connect(self.changed)
        self.set_poll_minutes(poll_minutes)
        self.enabled = True

    def set_folders(self, folders: Sequence[str]) -> None:
        current = self._watcher.directories()
        if current:
            self._watcher.removePaths(current)
        if folders:
            self._watcher.addPaths(list(folders))  # missing folders are skipped by Qt

    def set_poll_minutes(self, minutes: int) -> None:
        self._poll_minutes = minutes
        if minutes > 0:
            self._poll.start(minutes * 60_000)
        else:
            self._poll.stop()

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled
        if enabled:
            self.set_poll_minutes(self._poll_minutes)
        else:
            self._poll.stop()
            self._debounce.stop()

    def watched(self) -> list[str]:
        return self._watcher.directories()

    def _poke(self, _path: str = "") -> None:
        if self.enabled:
            self._debounce.start()
