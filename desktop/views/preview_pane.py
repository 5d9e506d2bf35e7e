"""The matched page with its evidence outlined, the query beside it, and actions on the hit."""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import (QComboBox, QLabel, QPushButton, QSplitter, QStackedWidget,
                               QTextBrowser, QToolButton, QVBoxLayout, QWidget)

from desktop.engine_bridge import PREVIEW_MAX_PX, EngineBridge
from desktop.errors import explain
from desktop.i18n import tr
from desktop.views.flow_layout import FlowLayout
from desktop.views.formatting import MARK_STYLE, link_reasons
from desktop.views.labels import ElidedLabel, MessageLabel
from desktop.open_external import open_at_page, show_in_folder
from desktop.workers import TaskRunner
from engine.types import Box, Hit

PREVIEW_DPI = 110


TABLE_FORMATS = frozenset({"csv", "xlsx"})  # a "page" is one row
TEXT_FORMATS = TABLE_FORMATS | {"text", "markdown", "docx"}


def page_caption(hit: Hit, page: int) -> str:
    if hit.format in TABLE_FORMATS:
        return tr("Matched row {page}", page=page)
    if hit.format in TEXT_FORMATS:
        return tr("Matched text")
    return tr("Matched page {page}", page=page)


def matched_text_html(text: str, terms: Sequence[str], *, table: bool) -> str:
    """A row as a two-column table (header, value) or a text's lines, with the shared terms
    marked (case-insensitive) and the first mark anchored as "match-0"."""
    marks = [t for t in dict.fromkeys(terms) if t.strip()]
    pattern = re.compile("|".join(re.escape(t) for t in sorted(marks, key=len, reverse=True)),
                         re.IGNORECASE) if marks else None
    count = [0]

    def mark(part: str) -> str:
        if pattern is None:
            return html.escape(part)
        out, pos = [], 0
        for m in pattern.finditer(part):
            out.append(html.escape(part[pos:m.start()]))
            out.append(f'<a name="match-{count[0]}"></a><span style="{MARK_STYLE}">{html.escape(m.group())}</span>')
            count[0] += 1
            pos = m.end()
        out.append(html.escape(part[pos:]))
        return "".join(out)

    if table:
        cells = [c.partition(": ") for c in text.split(" | ")]
        rows = "".join(f"<tr><td><b>{mark(name)}</b></td><td>{mark(value)}</td></tr>" if sep
                       else f"<tr><td colspan=2>{mark(name)}</td></tr>" for name, sep, value in cells)
        return f'<table cellpadding="6" border="1" style="border-collapse:collapse">{rows}</table>'
    return "<br>".join(mark(line) for line in text.splitlines() or [text])


def fit_image(image: QImage, max_px: int) -> QImage:
    """`image` shrunk to at most `max_px` a side. Qt holds Python's lock while it scales, so a
    smooth scale of a 54-megapixel paste (~250 ms) froze the window even in a worker: a fast
    reduction to twice the size first, then a smooth one over few pixels."""
    if max(image.width(), image.height()) <= max_px:
        return image
    keep = Qt.AspectRatioMode.KeepAspectRatio
    if max(image.width(), image.height()) > 2 * max_px:
        image = image.scaled(2 * max_px, 2 * max_px, keep, Qt.TransformationMode.FastTransformation)
    return image.scaled(max_px, max_px, keep, Qt.TransformationMode.SmoothTransformation)


class PreviewPane(QWidget):
    more_like_this = Signal(object)  # Hit
    status_message = Signal(str)
    query_shown = Signal(QImage)  # the query's page as drawn beside the results
    pin_toggled = Signal(object)  # Hit

    def __init__(self, bridge: EngineBridge, runner: TaskRunner) -> None:
        super().__init__()
        from desktop.views.page_view import PageView
        self.setObjectName("PreviewPane")
        self._bridge, self._runner = bridge, runner
        self.hit: Optional[Hit] = None
        self._query_path: Optional[str] = None
        self._query_page = 1  # of the query file shown: a library page asked "more like this" may be another
        self._query_boxes: tuple[Box, ...] = ()
        self._gen = 0  # of the hit shown: late pages of an earlier hit are dropped
        self._query_gen = 0  # of the query shown
        self.title = ElidedLabel(mode=Qt.TextElideMode.ElideMiddle)  # one line; whole in the tooltip
        self.title.setObjectName("PreviewTitle")
        self.why = MessageLabel(max_lines=2)
        self.why.setObjectName("PreviewWhy")
        self.query_caption, self.hit_caption = QLabel(), QLabel()
        self.query_view, self.hit_view = PageView(), PageView()
        self.open_button, self.folder_button, self.more_button = QPushButton(), QPushButton(), QPushButton()
        self.pin_button = QPushButton()
        self.pin_button.setCheckable(True)
        self.pin_button.clicked.connect(lambda: self.hit and self.pin_toggled.emit(self.hit))
        self.page_combo = QComboBox()
        self.page_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.page_combo.setVisible(False)
        self.page_combo.activated.connect(lambda i: self.show_page(self.page_combo.itemData(i)))
        self.page = 1  # the page on screen
        self._maps: Optional[tuple[np.ndarray, np.ndarray]] = None  # (query, hit page) heatmaps
        self.heatmap_button = QPushButton()
        self.heatmap_button.setCheckable(True)
        self.heatmap_button.setVisible(False)
        self.zoom_in, self.zoom_out, self.zoom_fit = QToolButton(), QToolButton(), QToolButton()
        for button, text in ((self.zoom_in, "+"), (self.zoom_out, "−"), (self.zoom_fit, "⤢")):
            button.setText(text)
            button.setObjectName("ZoomButton")

        self.open_button.clicked.connect(self.open_in_viewer)
        self.folder_button.clicked.connect(lambda: self.hit and show_in_folder(self.hit.path))
        self.more_button.clicked.connect(lambda: self.hit and self.more_like_this.emit(self.hit))
        self.heatmap_button.toggled.connect(self._show_heatmaps)
        self.zoom_in.clicked.connect(lambda: self._zoom(1.25))
        self.zoom_out.clicked.connect(lambda: self._zoom(0.8))
        self.zoom_fit.clicked.connect(self.fit_pages)

        self.query_box = QWidget()
        query_layout = QVBoxLayout(self.query_box)
        query_layout.setContentsMargins(0, 0, 0, 0)
        query_layout.addWidget(self.query_caption)
        query_layout.addWidget(self.query_view, 1)
        hit_box = QWidget()
        hit_layout = QVBoxLayout(hit_box)
        hit_layout.setContentsMargins(0, 0, 0, 0)
        hit_layout.addWidget(self.hit_caption)
        self.text_view = QTextBrowser()  # a CSV/Excel row or a text file's lines, marked
        self.text_view.setObjectName("MatchedText")
        self.hit_stack = QStackedWidget()
        self.hit_stack.addWidget(self.hit_view)
        self.hit_stack.addWidget(self.text_view)
        hit_layout.addWidget(self.hit_stack, 1)
        pages = QSplitter(Qt.Orientation.Horizontal)
        pages.addWidget(self.query_box)
        pages.addWidget(hit_box)
        pages.setSizes([400, 400])
        self.pages = pages

        self.prev_region, self.next_region = QToolButton(), QToolButton()
        self.prev_region.setText("◀")
        self.next_region.setText("▶")
        self.region_label = QLabel()
        self.prev_region.clicked.connect(lambda: self.step_region(-1))
        self.next_region.clicked.connect(lambda: self.step_region(+1))
        tools_row = QWidget()  # actions and view tools in one flow: wraps when the preview is narrow
        tools = FlowLayout(tools_row)
        for widget in (self.open_button, self.folder_button, self.more_button, self.pin_button,
                       self.page_combo, self.prev_region, self.region_label, self.next_region,
                       self.heatmap_button, self.zoom_out, self.zoom_fit, self.zoom_in):
            tools.addWidget(widget)
        self._show_regions()
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.why)
        layout.addWidget(tools_row)
        layout.addWidget(pages, 1)
        self.query_box.setVisible(False)
        self._set_actions_enabled(False)
        self.retranslate()

    def retranslate(self) -> None:
        self.query_caption.setText(tr("Your query"))
        self.hit_caption.setText(tr("Matched page") if self.hit is None else page_caption(self.hit, self.page))
        self.page_combo.setToolTip(tr("Other pages of this document that match"))
        if self.hit is not None:
            self._fill_pages(self.hit)
        self.open_button.setText(tr("Open in viewer"))
        self.folder_button.setText(tr("Show in folder"))
        self.more_button.setText(tr("More like this"))
        self.pin_button.setText(tr("Pinned") if self.pin_button.isChecked() else tr("Pin"))
        self.pin_button.setToolTip(tr("Keep this result in the Pinned list (also after a restart)"))
        self.heatmap_button.setText(tr("Visual heatmap"))
        self.zoom_in.setToolTip(tr("Zoom in (Ctrl+wheel)"))
        self.zoom_out.setToolTip(tr("Zoom out"))
        self.zoom_fit.setToolTip(tr("Fit page"))
        self.prev_region.setToolTip(tr("Previous matched region (Shift+F3)"))
        self.next_region.setToolTip(tr("Next matched region (F3)"))
        self._show_regions()
        if self.hit is None:
            self.title.setText(tr("Select a result to see the page and why it matched."))
            self.why.setText("")
        else:
            self._describe(self.hit)

    def _set_actions_enabled(self, enabled: bool) -> None:
        for button in (self.open_button, self.folder_button, self.more_button, self.pin_button):
            button.setEnabled(enabled)
        self.more_button.setEnabled(enabled and self.hit is not None and self.hit.doc_id >= 0)

    def set_pinned(self, pinned: bool) -> None:
        self.pin_button.setChecked(pinned)
        self.pin_button.setText(tr("Pinned") if pinned else tr("Pin"))

    def fit_pages(self) -> None:
        """Whole pages again (Ctrl+0), on both sides."""
        self.hit_view.fit()
        self.query_view.fit()
        self._show_regions()

    def _zoom(self, factor: float) -> None:
        self.hit_view.zoom(factor)
        if self.query_box.isVisible():
            self.query_view.zoom(factor)

    # query side -------------------------------------------------------------------------------
    def clear(self) -> None:
        """Forget the query and the hit (a new search starts)."""
        self._query_gen += 1
        self._query_path, self._query_boxes = None, ()
        self.query_view.clear_page()
        self.query_box.setVisible(False)
        self.clear_hit()

    def clear_hit(self) -> None:
        """Forget the hit but keep the query beside it (e.g. a filter hid the hit)."""
        self._gen += 1
        self.hit, self.page = None, 1
        self.hit_view.clear_page()
        self.text_view.clear()
        self.hit_stack.setCurrentWidget(self.hit_view)
        self._show_regions()
        self.page_combo.clear()
        self.page_combo.setVisible(False)
        self._maps = None
        self._apply_heatmaps()
        self._set_actions_enabled(False)
        self.retranslate()

    def show_query_image(self, image: QImage, boxes: tuple[Box, ...] = ()) -> None:
        """A pasted picture beside the results; shrunk off the GUI thread (it may be huge)."""
        self.query_box.setVisible(True)
        gen = self._query_gen

        def fitted(ctx) -> QImage:  # noqa: ANN001
            return fit_image(image, PREVIEW_MAX_PX)
        self._runner.submit(fitted, priority=10, name="fit-query",
                            on_result=lambda small: self._query_loaded(gen, small, boxes))

    def show_query_file(self, path: Path, page: int = 1) -> None:
        """Render the query's page beside the results (off the GUI thread): page 1 of a dropped
        file, or the library page asked "more like this"."""
        self._query_path, self._query_page = str(path), page
        self.query_box.setVisible(True)
        gen = self._query_gen
        self._runner.submit(lambda ctx: self._bridge.render_page(str(path), page, PREVIEW_DPI),
                            on_result=lambda image: self._query_loaded(gen, image, self._query_boxes), priority=10,
                            on_error=lambda err: self.status_message.emit(explain(err).text), name="render-query")

    def _query_loaded(self, gen: int, image: QImage, boxes: tuple[Box, ...]) -> None:
        if gen == self._query_gen:
            self.query_view.set_page(image, boxes)
            self._apply_heatmaps()
            self.query_shown.emit(image)

    def set_query_boxes(self, boxes: tuple[Box, ...]) -> None:
        self._query_boxes = tuple(boxes)
        self.query_view.set_boxes(boxes)

    # hit side ---------------------------------------------------------------------------------
    def show_hit(self, hit: Hit) -> None:
        self.hit, self.page, self._maps = hit, hit.page, None
        self._describe(hit)
        self._fill_pages(hit)
        self._set_actions_enabled(True)
        self.show_page(hit.page)
        if self._query_path is not None and hit.doc_id >= 0:
            query, page = self._query_path, self._query_page
            self._runner.submit(lambda ctx: self._bridge.heatmaps(query, hit, page),
                                on_result=lambda maps: self._heat_loaded(hit, maps), name="heatmap")

    def _fill_pages(self, hit: Hit) -> None:
        self.page_combo.clear()
        rows = hit.format in TABLE_FORMATS
        self.page_combo.addItem(tr("Row {page} (best match)", page=hit.page) if rows
                                else tr("Page {page} (best match)", page=hit.page), hit.page)
        for page in hit.other_pages:
            self.page_combo.addItem(tr("Row {page}", page=page) if rows else tr("Page {page}", page=page), page)
        self.page_combo.setCurrentIndex(max(0, self.page_combo.findData(self.page)))
        self.page_combo.setVisible(bool(hit.other_pages))

    def show_page(self, page: int) -> None:
        """Render `page` of the current hit; outline the explanation's boxes, or on other pages
        the words that match the shared terms (from engine.page_words)."""
        hit = self.hit
        if hit is None:
            return
        self._gen += 1
        gen = self._gen
        self.page = page
        self.hit_caption.setText(page_caption(hit, page))
        self._apply_heatmaps(loading=True)
        terms = {t.lower() for t in hit.explanation.shared_terms + hit.explanation.shared_identifiers}

        target = hit.doc_id if hit.doc_id >= 0 else hit.path  # a pinned hit is found by its path
        if hit.format in TEXT_FORMATS:  # a row or lines say more than a typeset page
            self._runner.submit(lambda ctx: self._bridge.page_text(target, page), priority=10,
                                on_result=lambda text: self._text_loaded(gen, text, hit, page),
                                on_error=lambda err: self.status_message.emit(explain(err).text),
                                name="page-text")
            return

        def job(ctx) -> tuple[QImage, tuple[Box, ...], int]:  # noqa: ANN001
            image = self._bridge.render_page(target, page, PREVIEW_DPI)
            turn = self._bridge.page_turn(target, page)  # a sideways scan is shown upright
            if page == hit.page:
                return image, hit.explanation.boxes, turn
            words = self._bridge.page_words(target, page)
            return image, tuple(w.box for w in words if w.text.lower().strip(".,:;()") in terms), turn
        self._runner.submit(job, on_result=lambda r: self._page_loaded(gen, *r), priority=10,
                            on_error=lambda err: self.status_message.emit(explain(err).text), name="render-hit")

    def _describe(self, hit: Hit) -> None:
        """Why it matched, from the structured explanation (the engine's summary is English-only)."""
        self.title.setText(f"{hit.title}  ·  {Path(hit.path).name}")
        ex = hit.explanation
        reasons = link_reasons(ex)
        if ex.shared_identifiers:
            reasons.append(tr("Shared numbers: {ids}", ids=", ".join(ex.shared_identifiers)))
        ids = {i.lower() for i in ex.shared_identifiers}
        words = [t for t in ex.shared_terms if t.lower() not in ids][:8]
        if words:
            reasons.append(tr("Shared words: {terms}", terms=", ".join(words)))
        if hit.scores.semantic > 0:
            reasons.append(tr("Similar meaning: {score:.0%}", score=hit.scores.semantic))
        if hit.scores.visual > 0:
            reasons.append(tr("Similar shape: {score:.0%}", score=hit.scores.visual))
        self.why.setText(tr("Why it matched: {reasons}", reasons=" · ".join(reasons)) if reasons
                         else tr("A pinned result.") if hit.doc_id < 0 else tr("Matched by overall similarity."))
        self.why.setToolTip(ex.summary)

    def _page_loaded(self, gen: int, image: QImage, boxes: tuple[Box, ...], turn: int = 0) -> None:
        if gen == self._gen:
            self.hit_stack.setCurrentWidget(self.hit_view)
            self.hit_view.set_page(image, boxes, zoom_to_first=True, turn=turn)
            self._apply_heatmaps()
            self._show_regions()

    def _text_loaded(self, gen: int, text: str, hit: Hit, page: int) -> None:
        if gen != self._gen:
            return
        terms = hit.explanation.shared_identifiers + hit.explanation.shared_terms
        self.text_view.setHtml(matched_text_html(text, terms, table=hit.format in TABLE_FORMATS))
        self.text_view.scrollToAnchor("match-0")
        self.hit_stack.setCurrentWidget(self.text_view)
        self._show_regions()

    def step_region(self, step: int) -> None:
        """Next / previous outlined region of the matched page (F3 / Shift+F3)."""
        if self.hit_stack.currentWidget() is self.hit_view and self.hit_view.region_count():
            self.hit_view.step_region(step)
            self._show_regions()

    def _show_regions(self) -> None:
        count = self.hit_view.region_count() if self.hit_stack.currentWidget() is self.hit_view else 0
        for widget in (self.prev_region, self.region_label, self.next_region):
            widget.setVisible(count > 1 or (count == 1 and widget is self.region_label))
        region = self.hit_view.region
        self.region_label.setText(tr("Region {i} of {n}", i=region + 1, n=count) if region >= 0
                                  else tr("Whole page") if count else "")

    def _heat_loaded(self, hit: Hit, maps: Optional[tuple[np.ndarray, np.ndarray]]) -> None:
        if hit is self.hit and maps is not None:
            self._maps = maps
            self._apply_heatmaps()

    def _apply_heatmaps(self, *, loading: bool = False) -> None:
        """The regions that made the query and the hit alike, one map on each page, while the
        hit's best page is on screen (the maps are of that page); none otherwise, nor while a
        page is `loading`."""
        hit = self.hit
        shown = (not loading and self._maps is not None and hit is not None and self.page == hit.page
                 and self.hit_view.has_page() and self.query_view.has_page())
        self.query_view.set_heatmap(self._maps[0] if shown else None)
        self.hit_view.set_heatmap(self._maps[1] if shown else None)
        self._show_heatmaps(self.heatmap_button.isChecked())
        self.heatmap_button.setVisible(shown)

    def _show_heatmaps(self, visible: bool) -> None:
        self.query_view.set_heatmap_visible(visible)
        self.hit_view.set_heatmap_visible(visible)

    def open_in_viewer(self) -> None:
        if self.hit is not None and not open_at_page(self.hit.path, self.page):
            self.status_message.emit(tr("Could not open {path}", path=self.hit.path))
