"""Search: drop zone, keyword box, filters, result lists and the preview."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QGuiApplication, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QApplication, QFileDialog, QLineEdit, QMenu, QPushButton,
                               QSplitter, QToolButton, QVBoxLayout, QWidget)

from desktop.engine_bridge import EngineBridge, qimage_to_pil
from desktop.errors import explain
from desktop.i18n import tr
from desktop.views.drop_zone import DROPPABLE, DropZoneView
from desktop.views.filter_bar import FilterBar
from desktop.views.flow_layout import FlowLayout
from desktop.views.history import HistoryEntry, Pins, SearchHistory
from desktop.views.preview_pane import PreviewPane
from desktop.views.query_chips import QueryChipsView
from desktop.views.result_pair import ResultPairView
from desktop.views.search_status import SearchStatusView
from desktop.workers import Task, TaskRunner
from engine.types import FileQueryResults, Hit, SearchResults


def _mtimes(hits: tuple[Hit, ...]) -> dict[str, float]:
    out: dict[str, float] = {}
    for hit in hits:
        try:
            out[hit.path] = os.path.getmtime(hit.path)
        except OSError:
            pass
    return out


class SearchPane(QWidget):
    results_shown = Signal(str)  # "keyword" / "file" / "similar"; once every row is built
    status_message = Signal(str)

    def __init__(self, bridge: EngineBridge, runner: TaskRunner) -> None:
        super().__init__()
        self.setAcceptDrops(True)
        self._bridge, self._runner = bridge, runner
        self._gen = 0
        self._task: Optional[Task] = None
        self._t0 = 0.0
        self.last_elapsed_s: Optional[float] = None
        self.last_error: Optional[BaseException] = None
        self.query_label = ""
        self.query_key = ""
        self._mode = ""
        self._results: dict[str, tuple[Hit, ...]] = {"first": (), "second": ()}
        self._mtimes: dict[str, float] = {}
        self._thumbs: dict[tuple[int, int], QImage] = {}
        self._announce = -1  # the search generation whose results_shown is still due

        self.drop_zone = DropZoneView()
        self.search_box = QLineEdit()
        self.search_box.setObjectName("SearchBox")
        self.search_box.setClearButtonEnabled(True)
        self.search_button, self.open_button, self.paste_button = QPushButton(), QPushButton(), QPushButton()
        self.search_button.setObjectName("PrimaryButton")
        self.history = SearchHistory()
        self.pins = Pins()
        self.back_button, self.forward_button = QToolButton(), QToolButton()
        self.back_button.setText("◀")
        self.forward_button.setText("▶")
        self.recent_button, self.pinned_button = QToolButton(), QToolButton()
        for button in (self.recent_button, self.pinned_button):
            button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
            button.setMenu(QMenu(button))
        self._pending: Optional[HistoryEntry] = None  # the search running, recorded when it answers
        self._restoring = False
        self._query_thumb: Optional[QImage] = None
        self.filters = FilterBar()
        self.status = SearchStatusView()
        self.chips = QueryChipsView()
        self.chips.setVisible(False)
        self._query: Path | QImage | None = None  # the drawing query on screen (chips refine it)
        self._refining = False
        self.results = ResultPairView()
        self.first_list, self.second_list = self.results.lists()
        self.first_title, self.second_title = self.results.first_title, self.results.second_title
        self.preview = PreviewPane(bridge, runner)

        search_row = QWidget()  # above the drop zone: it stays put when the zone shrinks
        flow = FlowLayout(search_row)  # wraps at large fonts instead of widening the window
        flow.addWidget(self.back_button)
        flow.addWidget(self.forward_button)
        flow.addWidget(self.search_box, stretch=1)
        for button in (self.search_button, self.open_button, self.paste_button, self.recent_button,
                       self.pinned_button):
            flow.addWidget(button)
        self.search_box.setMinimumWidth(260)
        self.results_splitter = QSplitter(Qt.Orientation.Horizontal)
        self.results_splitter.addWidget(self.results)
        self.results_splitter.addWidget(self.preview)
        self.results_splitter.setSizes([640, 480])
        self.results_splitter.setStretchFactor(0, 3)  # the lists keep more of a widening window
        self.results_splitter.setStretchFactor(1, 2)
        self.results_splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(search_row)
        layout.addWidget(self.drop_zone)
        layout.addWidget(self.filters)
        layout.addWidget(self.status)
        layout.addWidget(self.chips)
        layout.addWidget(self.results_splitter, 1)
        self.results_splitter.setVisible(False)

        self.drop_zone.file_dropped.connect(self.run_file)
        self.drop_zone.image_dropped.connect(self.run_image)
        self.search_box.returnPressed.connect(self.run_keyword_from_box)
        self.search_button.clicked.connect(self.run_keyword_from_box)
        self.open_button.clicked.connect(self.choose_file)
        self.paste_button.clicked.connect(self.paste)
        self.status.stop_requested.connect(self.stop)
        self.back_button.clicked.connect(self.go_back)
        self.forward_button.clicked.connect(self.go_forward)
        self.preview.pin_toggled.connect(self.toggle_pin)
        self.chips.changed.connect(self.refine)
        self.preview.query_shown.connect(self.chips.set_thumbnail)
        self.preview.query_shown.connect(self._query_shown)
        self.filters.changed.connect(self._refill)
        self.filters.view_changed.connect(self.results.set_mode)
        for view in self.results.lists():
            view.filled.connect(self._announce_when_filled)
        self.preview.more_like_this.connect(self.run_similar)
        self.preview.status_message.connect(self.status_message)
        for view, other in ((self.first_list, self.second_list), (self.second_list, self.first_list)):
            view.hit_selected.connect(lambda hit, other=other: self._selected(hit, other))
            view.open_requested.connect(lambda hit: (self.preview.show_hit(hit), self.preview.open_in_viewer()))
            view.voted.connect(self.record_vote)
            view.thumbnail_needed.connect(self._load_thumbnail)
        self.retranslate()

    # texts --------------------------------------------------------------------------------
    def retranslate(self) -> None:
        self.drop_zone.retranslate()
        self.search_box.setPlaceholderText(tr("Part number, material or words — then press Enter"))
        self.search_button.setText(tr("Search"))
        self.open_button.setText(tr("Open file…"))
        self.paste_button.setText(tr("Paste picture"))
        self.back_button.setToolTip(tr("Back to the previous search (Alt+←)"))
        self.forward_button.setToolTip(tr("Forward (Alt+→)"))
        self.recent_button.setText(tr("Recent"))
        self.recent_button.setToolTip(tr("Searches of this session"))
        self._fill_history_menus()
        self.filters.retranslate()
        self.chips.retranslate()
        self.preview.retranslate()
        self.results.retranslate()
        self.status.retranslate()

    def _set_status(self, text: str, **fields: object) -> None:
        self.status.set_text(text, **fields)

    # starting searches ------------------------------------------------------------------------
    def _begin(self, label: str, key: str | None = None) -> int:
        """Start a new search generation; answers of older ones are dropped when they arrive."""
        if self._task is not None:
            self._task.cancel()
        self._gen += 1
        self._t0 = time.perf_counter()
        self.last_elapsed_s, self.last_error = None, None
        self.query_label = label
        self.query_key = key or label  # what feedback records as the query
        self._set_status("Searching for “{query}”…", query=label)
        self.status.set_busy(True)
        self._results = {"first": (), "second": ()}  # the old answer goes at once: never stale
        self.results.clear_hits(tr("Searching…"))
        return self._gen

    def _forget_query(self) -> None:
        self._query, self._refining = None, False
        self.chips.setVisible(False)

    def stop(self) -> None:
        """Cancel the running search and forget its answer."""
        if self._task is not None and not self._task.is_done:
            self._task.cancel()
            self._gen += 1
            self.status.set_busy(False)
            self._set_status("Search stopped.")

    def run_keyword_from_box(self) -> None:
        text = self.search_box.text().strip()
        if text:
            self.run_keyword(text)

    def run_keyword(self, text: str) -> None:
        gen = self._begin(text)
        self._pending = HistoryEntry("keyword", text, text)
        self._forget_query()
        self.preview.clear()
        kinds = self.filters.kinds()

        def job(ctx) -> tuple[SearchResults, dict]:  # noqa: ANN001
            results = self._bridge.search(text, kinds=kinds)
            return results, _mtimes(results.hits)
        self._task = self._runner.submit(job, on_result=lambda r: self._show_single(gen, "keyword", *r),
                                         on_error=lambda e: self._failed(gen, e), name="search", priority=20)

    def run_file(self, path: Path) -> None:
        if Path(path).suffix.lower() not in DROPPABLE:
            self._set_status("Zumen cannot search with this kind of file: {name}", name=Path(path).name)
            return
        self._run_query(Path(path))

    def run_image(self, image: QImage) -> None:
        self._run_query(image)

    def refine(self, drop: tuple[str, ...], add: tuple[str, ...]) -> None:
        """Search the same drawing again with the chips' corrections (no new reading)."""
        if self._query is not None:
            self._run_query(self._query, drop, add)

    def _run_query(self, query: Path | QImage, drop: tuple[str, ...] = (), add: tuple[str, ...] = ()) -> None:
        """A drawing query: a dropped or opened file, or a pasted picture."""
        refining = query is self._query
        is_file = isinstance(query, Path)
        gen = self._begin(query.name if is_file else tr("pasted picture"), str(query) if is_file else None)
        self._query, self._refining = query, refining
        self._pending = HistoryEntry("file" if is_file else "image", self.query_label, query, drop, add)
        self.search_box.clear()
        if refining:
            self.preview.clear_hit()
        else:
            self._query_thumb = None
            self.chips.thumb.clear()
            self.preview.clear()
            self.chips.setVisible(False)
            if is_file:
                self.preview.show_query_file(query)
            else:
                self.preview.show_query_image(query)

        def job(ctx) -> tuple[FileQueryResults, dict]:  # noqa: ANN001
            kw = {"progress": ctx.progress, "cancel": ctx.cancel, "drop_terms": drop, "add_terms": add}
            results = (self._bridge.search_file(query, **kw) if is_file
                       else self._bridge.search_image(qimage_to_pil(query), **kw))
            return results, _mtimes(results.related.hits + results.similar.hits)
        self._task = self._runner.submit(job, on_result=lambda r: self._show_file(gen, *r),
                                         on_error=lambda e: self._failed(gen, e),
                                         on_progress=lambda p: self._progress(gen, p),
                                         name="search-file" if is_file else "search-image", priority=20)

    def run_similar(self, hit: Hit) -> None:
        gen = self._begin(hit.title)
        self._pending = HistoryEntry("similar", hit.title, hit)
        self._forget_query()
        self.preview.clear()
        self.preview.show_query_file(Path(hit.path), hit.page)  # the page asked about, beside its likes

        def job(ctx) -> tuple[FileQueryResults, dict]:  # noqa: ANN001
            results = self._bridge.similar(hit)
            return results, _mtimes(results.related.hits + results.similar.hits)
        self._task = self._runner.submit(job, on_result=lambda r: self._show_similar(gen, *r),
                                         on_error=lambda e: self._failed(gen, e), name="similar", priority=20)

    @staticmethod
    def _clipboard_file() -> Optional[Path]:
        mime = QGuiApplication.clipboard().mimeData()
        files = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []
        return next((f for f in files if f.suffix.lower() in DROPPABLE), None)

    def clipboard_searchable(self) -> bool:
        """Whether Ctrl+V should search: a picture, or a copied drawing/document file."""
        mime = QGuiApplication.clipboard().mimeData()
        return mime is not None and (mime.hasImage() or self._clipboard_file() is not None)

    def paste(self) -> None:
        """A picture or a copied file on the clipboard searches; text goes into the search box."""
        clipboard = QGuiApplication.clipboard()
        mime = clipboard.mimeData()
        if mime.hasImage():
            self.run_image(clipboard.image())
        elif (copied := self._clipboard_file()) is not None:
            self.run_file(copied)
        elif mime.hasText():
            if QApplication.focusWidget() is self.search_box:
                self.search_box.paste()
            else:
                self.search_box.setText(mime.text().strip())
                self.search_box.setFocus()
        else:
            self._set_status("The clipboard holds no picture. Copy a drawing first (e.g. a screenshot).")

    def choose_file(self) -> None:
        patterns = " ".join(f"*{suffix}" for suffix in sorted(DROPPABLE))
        path, _ = QFileDialog.getOpenFileName(self, tr("Open a drawing or document"), "",
                                              f"{tr('Drawings and documents')} ({patterns})")
        if path:
            self.run_file(Path(path))

    # results -------------------------------------------------------------------------------
    def _progress(self, gen: int, progress) -> None:  # noqa: ANN001
        if gen == self._gen:
            self.status.set_stage(progress.stage)

    def _failed(self, gen: int, err: BaseException) -> None:
        if gen == self._gen:
            self.last_error = err
            self.status.set_busy(False)
            why = explain(err)
            self._set_status("Search failed: {error}", error=why.text)
            self.status.label.setToolTip(why.detail)
            self.results.clear_hits(tr("No results: the search failed (see the message above)."))
            self.status_message.emit(self.status.text())

    def _take(self, gen: int, mode: str, results: SearchResults | FileQueryResults, mtimes: dict,
              first: tuple[Hit, ...], second: tuple[Hit, ...] = ()) -> bool:
        """Keep an answer that is still wanted (recorded in the history); False for a stale one."""
        if gen != self._gen:
            return False
        self._record(results, mtimes)
        self._mode, self._mtimes = mode, mtimes
        self._results = {"first": first, "second": second}
        return True

    def _show_single(self, gen: int, mode: str, results: SearchResults, mtimes: dict) -> None:
        if self._take(gen, mode, results, mtimes, results.hits):
            self._finish(len(results.hits), results.note if results.no_match else "")

    def _show_similar(self, gen: int, results: FileQueryResults, mtimes: dict) -> None:
        """"More like this": the engine's two lists (documents, drawings), titled after the page."""
        if self._take(gen, "similar", results, mtimes, results.related.hits, results.similar.hits):
            self._finish(len(results.related.hits) + len(results.similar.hits))

    def _show_file(self, gen: int, results: FileQueryResults, mtimes: dict) -> None:
        if not self._take(gen, "file", results, mtimes, results.related.hits, results.similar.hits):
            return
        if self._query is not None:
            entry = self.history.current()
            if self._restoring and entry is not None:
                self.chips.restore(self.query_label, results.read_terms, entry.drop, entry.add)
            elif self._refining:
                self.chips.update_terms(results.read_terms)
            else:
                self.chips.show_query(self.query_label, results.read_terms)
            self.chips.setVisible(True)
        self.preview.set_query_boxes(tuple(w.box for w in results.query_words
                                           if w.text in results.identifiers) or ())
        self._finish(len(results.related.hits) + len(results.similar.hits),
                     results.related.note if results.related.no_match else "")

    def _finish(self, count: int, note: str = "") -> None:
        self.last_elapsed_s = time.perf_counter() - self._t0
        self.status.set_busy(False)
        self.drop_zone.setVisible(False)  # the results need the room; a drag shows it again
        self.results_splitter.setVisible(True)
        self._refill()
        self.results.share_space()
        if note:  # the engine's sentence is the translation key (engine.search.query)
            self._set_status(note)
        else:
            self._set_status("{n} results in {s:.1f} s", n=count, s=self.last_elapsed_s)
        self.results.select_first()
        self._announce = self._gen
        self._announce_when_filled()

    def _announce_when_filled(self) -> None:
        """`results_shown` once every row of the answer is built (rows arrive a few per turn)."""
        if self._announce == self._gen and all(view.is_filled() for view in self.results.lists()):
            self._announce = -1
            self.results_shown.emit(self._mode)

    def _refill(self) -> None:
        shown = self.preview.hit
        self.results.show_hits(self._mode, self.query_label,
                               self.filters.apply(self._results["first"], self._mtimes),
                               self.filters.apply(self._results["second"], self._mtimes))
        if shown is not None and not self.results.select_hit(shown):
            self.preview.clear_hit()  # a filter hid it: the preview follows the lists
            self.results.select_first()

    def _selected(self, hit: Hit, other) -> None:  # noqa: ANN001 - the sibling ResultListView
        """One selected result at a time, across both lists; the preview shows it."""
        other.clear_selection()
        self.preview.show_hit(hit)
        self.preview.set_pinned(self.pins.is_pinned(hit))

    def focus_results(self) -> None:
        self.results.focus_results()

    def _load_thumbnail(self, doc_id: int, page: int) -> None:
        key = (doc_id, page)
        if key in self._thumbs:
            self._set_thumb(key, self._thumbs[key])
            return
        gen = self._gen

        def job(ctx) -> Optional[QImage]:  # noqa: ANN001
            return None if gen != self._gen else self._bridge.thumbnail(doc_id, page)  # skip stale
        self._runner.submit(job, on_result=lambda image: self._set_thumb(key, image), name="thumbnail")

    def _set_thumb(self, key: tuple[int, int], image: Optional[QImage]) -> None:
        if image is None or image.isNull():
            return
        self._thumbs[key] = image
        self.first_list.set_thumbnail(*key, image)
        self.second_list.set_thumbnail(*key, image)

    # history and pins ------------------------------------------------------------------------
    def _record(self, results: SearchResults | FileQueryResults, mtimes: dict) -> None:
        """Keep the answer with its search, so Back shows it again at once."""
        if not self._restoring and self._pending is not None:
            self._pending.results, self._pending.mtimes = results, mtimes
            if self._pending.query is self._query:
                self._pending.thumb = self._query_thumb
            self.history.push(self._pending)
        self._pending = None
        self._fill_history_menus()

    def go_back(self) -> None:
        if self.history.can_back():
            self.restore(self.history.back())

    def go_forward(self) -> None:
        if self.history.can_forward():
            self.restore(self.history.forward())

    def restore(self, entry: Optional[HistoryEntry]) -> None:
        """Show an earlier search and its answer as they were, without searching again."""
        if entry is None or entry.results is None:
            return
        gen = self._begin(entry.label, entry.label)
        self._restoring = True
        self.chips.thumb.clear()
        try:
            self.preview.clear()
            if entry.kind == "keyword":
                self._forget_query()
                self.search_box.setText(entry.query)
                self._show_single(gen, "keyword", entry.results, entry.mtimes)
            elif entry.kind == "similar":
                self._forget_query()
                self.preview.show_query_file(Path(entry.query.path), entry.query.page)
                self._show_similar(gen, entry.results, entry.mtimes)
            else:
                self._query, self._refining = entry.query, False
                self.search_box.clear()
                if entry.kind == "file":
                    self.query_key = str(entry.query)
                    self.preview.show_query_file(entry.query)
                else:
                    self.preview.show_query_image(entry.query)
                self._show_file(gen, entry.results, entry.mtimes)
        finally:
            self._restoring = False
        self._fill_history_menus()

    def _fill_history_menus(self) -> None:
        self.back_button.setEnabled(self.history.can_back())
        self.forward_button.setEnabled(self.history.can_forward())
        menu = self.recent_button.menu()
        menu.clear()
        for index, entry in self.history.recent():
            action = menu.addAction(entry.label)
            if entry.thumb is not None:
                action.setIcon(QIcon(QPixmap.fromImage(entry.thumb)))
            action.setCheckable(True)
            action.setChecked(index == self.history.pos)
            action.triggered.connect(lambda _=False, i=index: self.restore(self.history.go(i)))
        self.recent_button.setEnabled(bool(self.history.entries))
        pins = self.pinned_button.menu()
        pins.clear()
        for hit in self.pins.hits():
            action = pins.addAction(f"{hit.title} · {tr('page {page}', page=hit.page)}")
            action.setToolTip(hit.path)
            action.triggered.connect(lambda _=False, h=hit: self._show_pinned(h))
        self.pinned_button.setText(tr("Pinned ({n})", n=len(self.pins.records)))
        self.pinned_button.setEnabled(bool(self.pins.records))

    def _query_shown(self, image: QImage) -> None:
        """The query drawing is on screen: keep a small copy for the recent-searches menu."""
        self._query_thumb = image.scaled(64, 64, Qt.AspectRatioMode.KeepAspectRatio,
                                         Qt.TransformationMode.SmoothTransformation)
        entry = self.history.current()
        if entry is not None and entry.query is self._query and entry.thumb is None:
            entry.thumb = self._query_thumb
            self._fill_history_menus()

    def set_pins(self, pins: Pins) -> None:
        self.pins = pins
        self._fill_history_menus()

    def toggle_pin(self, hit: Hit) -> None:
        pinned = self.pins.toggle(hit)
        self.preview.set_pinned(pinned)
        self._set_status("Pinned: {title}" if pinned else "Unpinned: {title}", title=hit.title)
        self._fill_history_menus()

    def _show_pinned(self, hit: Hit) -> None:
        self.results.clear_selection()
        self.preview.show_hit(hit)
        self.preview.set_pinned(True)

    # feedback ------------------------------------------------------------------------------
    def record_vote(self, hit: Hit, vote: int) -> None:
        query = self.query_key
        query_path = self.query_key if self._mode == "file" and self.query_key != self.query_label else None
        self._runner.submit(lambda ctx: self._bridge.record_feedback(query, hit, vote, query_path),
                            on_result=lambda _: self._set_status("Thank you — your feedback was saved."),
                            on_error=lambda e: self._set_status("Error: {error}", error=explain(e).text),
                            name="feedback")

    # drops anywhere on the pane ------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:  # noqa: ANN001
        """A drag over the results brings the drop zone back, as a strip, as the target."""
        if self.results_splitter.isVisible():
            self.drop_zone.set_compact(True)
            self.drop_zone.setVisible(True)
        self.drop_zone.dragEnterEvent(event)

    def dragLeaveEvent(self, event) -> None:  # noqa: ANN001
        """Hide the strip again unless the drag went into it (the zone then holds "hover")."""
        if self.results_splitter.isVisible():
            QTimer.singleShot(250, self, lambda: self.drop_zone.property("hover")
                              or self.drop_zone.setVisible(False))

    def dropEvent(self, event) -> None:  # noqa: ANN001
        self.drop_zone.dropEvent(event)
        if self.results_splitter.isVisible():
            self.drop_zone.setVisible(False)
