"""A list of search hits: detailed or compact rows, or a thumbnail grid; keyboard navigable, with
feedback buttons."""

from __future__ import annotations

import html

from PySide6.QtCore import QEvent, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QKeyEvent, QPainter, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QFrame, QHBoxLayout, QLabel, QListView, QListWidget,
                               QListWidgetItem, QToolButton, QVBoxLayout, QWidget)

from desktop.i18n import tr
from desktop.views.formatting import icon, kind_label, link_reasons, snippet_html
from desktop.views.labels import ElidedLabel
from engine.types import Hit

THUMB = QSize(112, 80)
COMPACT_THUMB = QSize(56, 40)
GRID_THUMB = QSize(124, 88)
VIEW_MODES = ("detailed", "compact", "grid")
NARROW_ROW_PX = 560  # below this width a detailed row shows no score bars beside its text
FIRST_ROWS = 2  # built at once (both lists fill in the same turn); the rest follow at once
ROWS_PER_TURN = 2  # then a few per event-loop turn (a row takes ~5 ms)
BAR_COLORS = {"confidence": "#d62728", "lexical": "#1f77b4", "semantic": "#9467bd",
              "visual": "#2ca02c"}


class ScoreBarsView(QWidget):
    """Four labelled bars, each on an absolute 0..1 scale (not relative to the list's best):
    match (the calibrated confidence that the hit is relevant), words, meaning, shape."""

    def __init__(self, hit: Hit) -> None:
        super().__init__()
        self._values = {"lexical": hit.scores.lexical, "semantic": hit.scores.semantic,
                        "visual": hit.scores.visual}
        if hit.kind == "document" or hit.scores.confidence > 0:  # similar drawings: not calibrated
            self._values = {"confidence": hit.scores.confidence, **self._values}
        self.setFixedWidth(180)
        self.setFixedHeight(len(self._values) * (self.fontMetrics().height() + 4))
        self.setToolTip(tr("Match: how sure Zumen is that this result belongs to your query. "
                           "The other bars: how strongly each kind of evidence found it."))

    def changeEvent(self, event) -> None:  # noqa: ANN001
        super().changeEvent(event)
        if event.type() == QEvent.Type.FontChange:  # the style sheet's font arrives after __init__
            self.setFixedHeight(len(self._values) * (self.fontMetrics().height() + 4))

    def labels(self) -> dict[str, str]:
        names = {"confidence": tr("Match"), "lexical": tr("Words"), "semantic": tr("Meaning"),
                 "visual": tr("Shape")}
        return {key: names[key] for key in self._values}

    def paintEvent(self, event) -> None:  # noqa: ANN001
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        metrics = painter.fontMetrics()
        row_h = max(metrics.height(), self.height() / len(self._values))
        label_w = max(metrics.horizontalAdvance(text) for text in self.labels().values()) + 8
        for i, (key, label) in enumerate(self.labels().items()):
            y = i * row_h
            painter.setPen(self.palette().text().color())
            painter.drawText(QRectF(0, y, label_w, row_h), Qt.AlignmentFlag.AlignVCenter, label)
            bar = QRectF(label_w, y + row_h * 0.3, self.width() - label_w - 4, row_h * 0.4)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor("#e3e7ec"))
            painter.drawRoundedRect(bar, 3, 3)
            value = max(0.0, min(1.0, float(self._values[key])))
            painter.setBrush(QColor(BAR_COLORS[key]))
            painter.drawRoundedRect(QRectF(bar.x(), bar.y(), bar.width() * value, bar.height()), 3, 3)


def hit_tooltip(hit: Hit) -> str:
    """Everything a compact row or a grid tile leaves out, for hovering."""
    ex = hit.explanation
    lines = [f"<b>{html.escape(hit.title)}</b>", html.escape(hit.path),
             html.escape(tr("{kind} · page {page}", kind=kind_label(hit.kind), page=hit.page))]
    lines += [html.escape(reason) for reason in link_reasons(ex)]
    shared = list(ex.shared_identifiers) + [t for t in ex.shared_terms if t not in ex.shared_identifiers]
    if shared:
        lines.append(html.escape(tr("Shared words: {terms}", terms=", ".join(shared[:8]))))
    scores = [(tr("Match"), hit.scores.confidence)] if hit.kind == "document" or hit.scores.confidence > 0 else []
    scores += [(tr("Words"), hit.scores.lexical), (tr("Meaning"), hit.scores.semantic), (tr("Shape"), hit.scores.visual)]
    lines.append(" · ".join(f"{name} {value:.0%}" for name, value in scores))
    if hit.snippet.text:
        lines.append(snippet_html(hit.snippet))
    return "<br>".join(lines)


class ResultRowView(QFrame):
    """Thumbnail · title, path, type, page, snippet · score bars over thumbs up / down."""

    voted = Signal(object, int)  # Hit, +1 / -1

    def __init__(self, hit: Hit, compact: bool = False) -> None:
        super().__init__()
        self.hit = hit
        self.compact = compact
        self.thumb_size = COMPACT_THUMB if compact else THUMB
        self.setObjectName("ResultRow")
        self.thumb = QLabel()
        self.thumb.setFixedSize(self.thumb_size)
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.thumb.setObjectName("Thumb")
        self.title = QLabel(f"{hit.rank}. {hit.title}")
        self.title.setObjectName("ResultTitle")
        self.title.setWordWrap(True)
        self.path = ElidedLabel(hit.path)
        self.path.setObjectName("ResultPath")
        self.meta = ElidedLabel("", Qt.TextElideMode.ElideRight)
        self.meta.setObjectName("ResultMeta")
        self.snippet = QLabel(snippet_html(hit.snippet))
        self.snippet.setTextFormat(Qt.TextFormat.RichText)
        self.snippet.setWordWrap(True)
        self.snippet.setObjectName("ResultSnippet")
        self.up = self._vote_button("thumb_up", +1)
        self.down = self._vote_button("thumb_down", -1)
        self.bars = ScoreBarsView(hit)

        text = QVBoxLayout()
        text.setSpacing(2)
        for widget in (self.title, self.path, self.meta, self.snippet):
            text.addWidget(widget)
        text.addStretch(1)
        votes = QHBoxLayout()
        votes.addStretch(1)
        votes.addWidget(self.up)
        votes.addWidget(self.down)
        side = QVBoxLayout()
        side.addWidget(self.bars)
        side.addLayout(votes)
        side.addStretch(1)
        layout = QHBoxLayout(self)
        layout.addWidget(self.thumb, 0, Qt.AlignmentFlag.AlignTop)
        layout.addLayout(text, 1)
        layout.addLayout(side)
        if compact:  # one line: the title, what it shares and its match; the rest in the tooltip
            self.title.setWordWrap(False)
            for widget in (self.path, self.snippet, self.bars):
                widget.setVisible(False)
            layout.setContentsMargins(4, 2, 4, 2)
            side.removeWidget(self.bars)
            self.setToolTip(hit_tooltip(hit))
        self.retranslate()

    def fit(self, width: int, max_height: int) -> None:
        """Fit the row into `width` x `max_height` (the list's viewport): a narrow row (narrow
        list, large fonts) drops the bars beside the text (the match goes into the meta line,
        the bars into the tooltip); the snippet keeps as many lines as the height allows, up
        to three, and the path goes last, so that a row is never taller than its list."""
        side = self.bars.minimumHeight() + self.up.sizeHint().height() + 16  # fixed height: no hint
        narrow = self.compact or width < NARROW_ROW_PX or max_height < side
        if not self.compact:
            self.bars.setVisible(not narrow)
            self.setToolTip(hit_tooltip(self.hit) if narrow else "")
            if narrow != getattr(self, "_narrow", None):
                self._narrow = narrow
                self.retranslate()
            line = self.snippet.fontMetrics().lineSpacing()
            margins = self.layout().contentsMargins()
            fixed = sum(w.sizeHint().height() + 2 for w in (self.title, self.meta)) + margins.top() + margins.bottom()
            if not narrow:
                fixed = max(fixed, self.bars.height() + self.up.sizeHint().height() + 8)
            lines = max(0, min(3, (max_height - fixed - self.path.sizeHint().height()) // line))
            self.path.setVisible(lines > 0 or max_height - fixed >= self.path.sizeHint().height())
            self.snippet.setVisible(lines > 0)
            self.snippet.setMaximumHeight(lines * line + 4)

    def _vote_button(self, name: str, vote: int) -> QToolButton:
        button = QToolButton()
        button.setIcon(icon(name))
        button.setIconSize(QSize(24, 24))
        button.setCheckable(True)
        button.setObjectName("VoteButton")
        button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        button.clicked.connect(lambda: self.vote(vote))
        return button

    def vote(self, vote: int) -> None:
        self.up.setChecked(vote > 0)
        self.down.setChecked(vote < 0)
        self.voted.emit(self.hit, vote)

    def retranslate(self) -> None:
        meta = tr("{kind} · page {page}", kind=kind_label(self.hit.kind), page=self.hit.page)
        ex = self.hit.explanation
        shared = ex.shared_identifiers or ex.shared_terms[:5]
        if shared:
            meta += " · " + ", ".join(shared)
        if (self.compact or getattr(self, "_narrow", False)) and self.hit.scores.confidence > 0:
            meta = tr("Match {score:.0%}", score=self.hit.scores.confidence) + " · " + meta
        self.meta.set_full_text(meta)
        self.up.setToolTip(tr("Good result (+)"))
        self.down.setToolTip(tr("Wrong result (−)"))
        self.up.setAccessibleName(tr("Good result (+)"))
        self.down.setAccessibleName(tr("Wrong result (−)"))

    def set_thumbnail(self, image: QImage) -> None:
        pixmap = QPixmap.fromImage(image).scaled(self.thumb_size, Qt.AspectRatioMode.KeepAspectRatio,
                                                 Qt.TransformationMode.SmoothTransformation)
        self.thumb.setPixmap(pixmap)


class ResultListView(QListWidget):
    """Hits as detailed rows, compact rows or a thumbnail grid. Up/Down (arrows in the grid)
    select, Enter opens, + / − vote, Left/Right (Ctrl+Left/Right in the grid) jump to the
    sibling list."""

    hit_selected = Signal(object)  # Hit
    open_requested = Signal(object)  # Hit
    voted = Signal(object, int)  # Hit, vote
    thumbnail_needed = Signal(int, int)  # doc_id, page
    switch_requested = Signal()
    filled = Signal()  # every row of the last set_hits is built

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("ResultList")
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setSpacing(2)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.currentRowChanged.connect(self._on_row)
        self.itemDoubleClicked.connect(lambda item: self.open_requested.emit(item.data(Qt.ItemDataRole.UserRole)))
        self._rows: list[ResultRowView | None] = []  # one per item built; None in the grid
        self._hits: list[Hit] = []
        self._batch = 0
        self.mode = "detailed"
        self.empty_text = ""

    def set_mode(self, mode: str) -> None:
        """"detailed" | "compact" | "grid"; the hits are shown again in the new form."""
        if mode not in VIEW_MODES or mode == self.mode:
            return
        self.mode = mode
        grid = mode == "grid"
        self.setViewMode(QListView.ViewMode.IconMode if grid else QListView.ViewMode.ListMode)
        self.setFlow(QListView.Flow.LeftToRight if grid else QListView.Flow.TopToBottom)
        self.setWrapping(grid)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setWordWrap(grid)
        self.setIconSize(GRID_THUMB if grid else QSize())
        self.setGridSize(QSize(GRID_THUMB.width() + 20, GRID_THUMB.height() + 3 * self.fontMetrics().height())
                         if grid else QSize())
        current = self.current_hit()
        self.set_hits(self._hits)
        if current is not None and current in self._hits[:self.count()]:
            self.blockSignals(True)
            self.setCurrentRow(self._hits.index(current))
            self.blockSignals(False)

    def paintEvent(self, event) -> None:  # noqa: ANN001
        super().paintEvent(event)
        if not self._hits and self.empty_text:
            painter = QPainter(self.viewport())
            painter.setPen(QColor("#666"))
            painter.drawText(self.viewport().rect().adjusted(12, 12, -12, -12),
                             Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap,
                             self.empty_text)

    def set_hits(self, hits: tuple[Hit, ...] | list[Hit]) -> None:
        """Show `hits`: the rows a screen holds at once, the rest a few per event-loop turn.

        A row is a widget tree (~4 ms to build and lay out): 30 of them built in one go froze
        the window for over 100 ms when an answer arrived. Grid tiles are plain items."""
        self._batch += 1
        self._rows = []  # first: clear() may resize the list, and the old row widgets are going
        self.clear()
        self._hits = list(hits)
        self._add_rows(self._batch)

    def _add_rows(self, batch: int) -> None:
        if batch != self._batch:  # a newer answer replaced these hits
            return
        start = len(self._rows)
        step = len(self._hits) if self.mode == "grid" else FIRST_ROWS if start == 0 else ROWS_PER_TURN
        end = min(len(self._hits), start + step)
        for hit in self._hits[start:end]:
            item = QListWidgetItem()
            item.setData(Qt.ItemDataRole.UserRole, hit)
            if self.mode == "grid":
                item.setText(f"{hit.rank}. {hit.title}")
                item.setToolTip(hit_tooltip(hit))
                item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
                self.addItem(item)
                self._rows.append(None)
            else:
                row = ResultRowView(hit, compact=self.mode == "compact")
                row.voted.connect(self.voted)
                self.addItem(item)
                self.setItemWidget(item, row)
                self._rows.append(row)
            self.thumbnail_needed.emit(hit.doc_id, hit.page)
        self._fit_rows(start)
        if end < len(self._hits):
            QTimer.singleShot(0, self, lambda: self._add_rows(batch))  # dropped if the list goes
        else:
            self.filled.emit()

    def is_filled(self) -> bool:
        return len(self._rows) == len(self._hits)

    def rows(self) -> list[ResultRowView]:
        """The row widgets built (none in the grid)."""
        return [row for row in self._rows if row is not None]

    def hits(self) -> list[Hit]:
        """Every hit of the list, also those whose rows are still being built."""
        return list(self._hits)

    def shown_hits(self) -> list[Hit]:
        """The hits that have a row or tile on screen already."""
        return self._hits[: len(self._rows)]

    def total(self) -> int:
        return len(self._hits)

    def current_hit(self) -> Hit | None:
        row = self.currentRow()
        return self._hits[row] if 0 <= row < len(self._rows) else None

    def clear_selection(self) -> None:
        """No current row (the sibling list has the selection); emits nothing."""
        self.blockSignals(True)
        self.setCurrentRow(-1)
        self.clearSelection()
        self.blockSignals(False)

    def set_thumbnail(self, doc_id: int, page: int, image: QImage) -> None:
        for i, hit in enumerate(self.shown_hits()):
            if hit.doc_id == doc_id and hit.page == page:
                row = self._rows[i]
                if row is not None:
                    row.set_thumbnail(image)
                else:
                    self.item(i).setIcon(QIcon(QPixmap.fromImage(image).scaled(
                        GRID_THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                        Qt.TransformationMode.SmoothTransformation)))

    def retranslate(self) -> None:
        for row in self.rows():
            row.retranslate()
        if self.mode == "grid":
            for i, hit in enumerate(self.shown_hits()):
                self.item(i).setToolTip(hit_tooltip(hit))

    def _on_row(self, row: int) -> None:
        if 0 <= row < len(self._rows):
            self.hit_selected.emit(self._hits[row])

    def vote(self, row: int, vote: int) -> None:
        widget = self._rows[row] if 0 <= row < len(self._rows) else None
        if widget is not None:
            widget.vote(vote)
        elif 0 <= row < len(self._rows):
            self.voted.emit(self._hits[row], vote)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        row = self.currentRow()
        grid = self.mode == "grid"
        ctrl = bool(event.modifiers() & Qt.KeyboardModifier.ControlModifier)
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and 0 <= row < len(self._rows):
            self.open_requested.emit(self._hits[row])
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Minus) and 0 <= row < len(self._rows):
            self.vote(row, +1 if key == Qt.Key.Key_Plus else -1)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Right) and (ctrl or not grid):
            self.switch_requested.emit()
        else:
            super().keyPressEvent(event)

    def resizeEvent(self, event) -> None:  # noqa: ANN001
        super().resizeEvent(event)
        self._fit_rows()

    def changeEvent(self, event) -> None:  # noqa: ANN001
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):  # font size, touch mode
            QTimer.singleShot(0, self, self._fit_rows)

    def _fit_rows(self, start: int = 0) -> None:
        """Rows as wide as the list; their height follows the wrapped snippet, at most three
        lines of it, so that a row is never taller than its list (large fonts, narrow lists)."""
        width = max(240, self.viewport().width() - 6)
        if self.count() != len(self._rows) or self.mode == "grid":  # being added, or tiles
            return
        max_height = max(self.viewport().height() - 2 * self.spacing() - 2, 48)
        for i in range(start, len(self._rows)):
            row = self._rows[i]
            row.fit(width, max_height)
            row.setFixedWidth(width)
            height = row.layout().heightForWidth(width) if row.layout().hasHeightForWidth() else -1
            height = max(height, row.sizeHint().height(), row.thumb_size.height() + (8 if row.compact else 24))
            height = min(height, max(max_height, row.thumb_size.height() + 8))
            self.item(i).setSizeHint(QSize(width, height))
            row.setFixedHeight(height)
