"""The one module of desktop/ that imports the engine facade (engine.api.Engine).

Every method blocks and may touch files or models: call them only from jobs submitted to
`desktop.workers.TaskRunner`, never from a widget's slot directly. Return values are the engine's
frozen dataclasses, or QImages built off the GUI thread (QImage, unlike QPixmap, is thread-safe).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
from PIL import Image
from PySide6.QtGui import QImage

from engine.api import EngineProtocol  # the contract; Engine itself is imported in open_engine
from engine.errors import Cancelled
from engine.evaluate.pairs import PAIRS_FILE_SUFFIXES
from engine.progress import CancelToken, ProgressCallback
from engine.types import (DuplicateReport, FileQueryResults, Hit, IndexReport, LibraryStatus,
                          PackInfo, SearchResults, Word)


ADAPT_UNCHECKED = "unchecked"
ADAPT_NEEDS_TORCH = "torch"
PAIRS_FILE_FILTER = "CSV ({})".format(" ".join(f"*{s}" for s in PAIRS_FILE_SUFFIXES))  # what the reader reads

PREVIEW_MAX_PX = 2000  # longer side of a page picture for the preview (an A1 sheet at ~60 dpi)


def pil_to_qimage(image: Image.Image) -> QImage:
    """Copy a PIL image into a QImage that owns its pixels."""
    rgba = image.convert("RGBA")
    data = rgba.tobytes("raw", "RGBA")
    qimage = QImage(data, rgba.width, rgba.height, rgba.width * 4, QImage.Format.Format_RGBA8888)
    return qimage.copy()


class EngineBridge:
    """Thin, blocking adapter over the facade; one writer (index / folders / packs) at a time.

    The engine may arrive later (`attach`), so the window shows at once while models load;
    calls made before then wait for it in their worker thread.
    """

    def __init__(self, engine: Optional[EngineProtocol] = None) -> None:
        self._engine: Optional[EngineProtocol] = None
        self._error: Optional[BaseException] = None
        self._ready = threading.Event()
        self._write_lock = threading.Lock()
        self._adapt_missing: Optional[str] = ADAPT_UNCHECKED
        if engine is not None:
            self.attach(engine)

    def attach(self, engine: EngineProtocol) -> None:
        self._engine = engine
        self._ready.set()

    def fail(self, error: BaseException) -> None:
        self._error = error
        self._ready.set()

    def is_open(self) -> bool:
        return self._engine is not None

    @property
    def engine(self) -> EngineProtocol:
        self._ready.wait()
        if self._engine is None:
            raise self._error or RuntimeError("engine not opened")
        return self._engine

    def open_engine(self, library: Optional[Path] = None, pack: Optional[Path] = None,
                    threads: int = 0) -> EngineProtocol:
        """Open engine.api.Engine and attach it (blocking: run in a worker)."""
        try:
            from engine.api import Engine  # the only import of the facade in desktop/
            from engine.config import EngineSettings
            engine = Engine.open(library, pack=pack, settings=EngineSettings(threads=threads))
        except BaseException as err:
            self.fail(err)
            raise
        self.attach(engine)
        return engine

    # capabilities ---------------------------------------------------------------------------
    def can_adapt(self) -> bool:
        """Whether the adaptation wizard can run (cached; never blocks the GUI)."""
        return self._adapt_missing is None

    def adaptation_missing(self) -> Optional[str]:
        """None when adaptation can run; ADAPT_NEEDS_TORCH when the training extra is missing;
        ADAPT_UNCHECKED before `detect_adaptation` ran (an engine that was not opened here)."""
        return self._adapt_missing

    def detect_adaptation(self) -> bool:
        """Look (once, in a worker) for torch: `zumen adapt`, run in its own process, needs it."""
        import importlib.util

        self._adapt_missing = None if importlib.util.find_spec("torch") is not None else ADAPT_NEEDS_TORCH
        return self.can_adapt()

    # search -------------------------------------------------------------------------------
    def search(self, text: str, limit: int = 30, kinds: set | None = None) -> SearchResults:
        return self.engine.search(text, limit=limit, kinds=kinds)

    def search_file(self, path: Path, limit: int = 30, progress: ProgressCallback | None = None,
                    cancel: CancelToken | None = None, drop_terms: Sequence[str] = (),
                    add_terms: Sequence[str] = ()) -> FileQueryResults:
        """A drawing query; `drop_terms` / `add_terms` are the user's corrections (query chips)."""
        return self.engine.search_file(Path(path), limit=limit, progress=progress, cancel=cancel,
                                       drop_terms=tuple(drop_terms), add_terms=tuple(add_terms))

    def search_image(self, image: Image.Image, limit: int = 30, progress: ProgressCallback | None = None,
                     cancel: CancelToken | None = None, drop_terms: Sequence[str] = (),
                     add_terms: Sequence[str] = ()) -> FileQueryResults:
        return self.engine.search_image(image, limit=limit, progress=progress, cancel=cancel,
                                        drop_terms=tuple(drop_terms), add_terms=tuple(add_terms))

    def warm_up(self) -> None:
        """Load the query models now (in a worker, at start) so the first drop does not wait."""
        self.engine.warm_up()

    def similar(self, hit: Hit, limit: int = 30) -> FileQueryResults:
        """"More like this": related documents and similar drawings."""
        return self.engine.similar(hit.doc_id, hit.page, limit=limit)

    def duplicates(self, progress: ProgressCallback | None = None,
                   cancel: CancelToken | None = None) -> Optional[DuplicateReport]:
        """Groups of near-identical drawings of the library; None when cancelled."""
        try:
            return self.engine.duplicates(progress=progress, cancel=cancel)
        except Cancelled:
            return None

    # pages ------------------------------------------------------------------------------------
    def render_page(self, doc_id_or_path: Any, page: int, dpi: int = 100,
                    max_px: int = PREVIEW_MAX_PX) -> QImage:
        """The page as a QImage no larger than `max_px` on its longer side: the GUI thread turns
        it into a pixmap, and a 108-megapixel photo took it seconds (the window froze)."""
        image = self.engine.render_page(doc_id_or_path, page, dpi=dpi, max_px=max_px)
        if max(image.size) > max_px:
            image.thumbnail((max_px, max_px), Image.Resampling.LANCZOS)
        return pil_to_qimage(image)

    def thumbnail(self, doc_id: int, page: int) -> QImage:
        return QImage(str(self.engine.thumbnail(doc_id, page)))

    def page_words(self, doc_id: int, page: int) -> tuple[Word, ...]:
        return tuple(self.engine.page_words(doc_id, page))

    def page_text(self, doc_id: int, page: int) -> str:
        return self.engine.page_text(doc_id, page)

    def page_turn(self, doc_id: int, page: int) -> int:
        return self.engine.page_turn(doc_id, page)

    def heatmaps(self, query_path: Any, hit: Hit, query_page: int = 1) -> Optional[tuple[np.ndarray, np.ndarray]]:
        """(query map, hit map): float arrays in 0..1 over each whole page; None when the pack
        has no patch output or a page is blank."""
        result = self.engine.visual_heatmaps(query_path, hit, query_page)
        if result is None:
            return None
        return tuple(np.asarray(m, dtype=np.float32) for m in result)  # type: ignore[return-value]

    # feedback --------------------------------------------------------------------------------
    def record_feedback(self, query: str, hit: Hit, vote: int, query_path: Optional[str] = None) -> None:
        self.engine.record_feedback(query, hit, vote, query_path=query_path)

    def feedback(self) -> list[dict]:
        return list(self.engine.feedback())

    # library ---------------------------------------------------------------------------------
    def status(self) -> LibraryStatus:
        return self.engine.status()

    def folders(self) -> tuple[str, ...]:
        return tuple(self.engine.folders())

    def add_folder(self, path: Path) -> None:
        with self._write_lock:
            self.engine.add_folder(Path(path))

    def remove_folder(self, path: Path) -> None:
        with self._write_lock:
            self.engine.remove_folder(Path(path))

    def index(self, paths: Sequence[Path] | None = None, progress: ProgressCallback | None = None,
              cancel: CancelToken | None = None) -> IndexReport:
        """Incremental index; a cancelled run returns a report with cancelled=True."""
        with self._write_lock:
            try:
                return self.engine.index(paths, progress=progress, cancel=cancel)
            except Cancelled:
                return IndexReport(cancelled=True)

    def retry_files(self, paths: Sequence[str], progress: ProgressCallback | None = None,
                    cancel: CancelToken | None = None) -> IndexReport:
        """Read these (failed) files again now; they do not become library folders."""
        with self._write_lock:
            try:
                return self.engine.retry_files([Path(p) for p in paths], progress=progress,
                                               cancel=cancel)
            except Cancelled:
                return IndexReport(cancelled=True)

    def ignore_file(self, path: str, ignored: bool = True) -> None:
        """Leave a file out of the library (persisted), or take it back with ignored=False.
        Quick (one catalog write), so it does not wait for a running index."""
        self.engine.ignore_file(Path(path), ignored)

    # model packs ----------------------------------------------------------------------------
    def packs(self) -> list[PackInfo]:
        return list(self.engine.packs())

    def activate_pack(self, pack_id: str, progress: ProgressCallback | None = None,
                      cancel: CancelToken | None = None) -> None:
        """Switching packs re-embeds the library: long, with progress where the engine reports it."""
        with self._write_lock:
            self.engine.activate_pack(pack_id, progress=progress, cancel=cancel)

    def rollback_pack(self, progress: ProgressCallback | None = None) -> None:
        with self._write_lock:
            self.engine.rollback_pack(progress=progress)

    def pack_error(self) -> Optional[str]:
        """Why the library's pack failed to load (engine.api.Engine.pack_error), if it did."""
        return self.engine.pack_error

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()


def qimage_to_pil(image: QImage) -> Image.Image:
    """Copy a QImage (e.g. from the clipboard) into a PIL RGB image."""
    rgba = image.convertToFormat(QImage.Format.Format_RGBA8888)
    data = bytes(rgba.constBits())[: rgba.sizeInBytes()]
    pil = Image.frombuffer("RGBA", (rgba.width(), rgba.height()), data, "raw", "RGBA",
                           rgba.bytesPerLine(), 1)
    return pil.convert("RGB")
