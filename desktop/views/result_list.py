"""A list of search hits: one row widget per hit, keyboard navigable, with feedback buttons."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QImage, QKeyEvent, QPainter, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QFrame, QHBoxLayout, QLabel, QListWidget,
                               QListWidgetItem, QToolButton, QVBoxLayout, QWidget)

from desktop.i18n import tr
from desktop.views.formatting import icon, kind_label, snippet_html
from desktop.views.labels import ElidedLabel
from engine.types import Hit

THUMB = QSize(112, 80)
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


class ResultRowView(QFrame):
    """Thumbnail · title, path, type, page, snippet · score bars over thumbs up / down."""

    voted = Signal(object, int)  # Hit, +1 / -1

    def __init__(self, hit: Hit) -> None:
        super().__init__()
        self.hit = hit
        self.setObjectName("ResultRow")
        self.thumb = QLabel()
        self.thumb.setFixedSize(THUMB)
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
        self.retranslate()

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
        self.meta.set_full_text(meta)
        self.up.setToolTip(tr("Good result (+)"))
        self.down.setToolTip(tr("Wrong result (−)"))
        self.up.setAccessibleName(tr("Good result (+)"))
        self.down.setAccessibleName(tr("Wrong result (−)"))

    def set_thumbnail(self, image: QImage) -> None:
        pixmap = QPixmap.fromImage(image).scaled(THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                                 Qt.TransformationMode.SmoothTransformation)
        self.thumb.setPixmap(pixmap)


class ResultListView(QListWidget):
    """Rows of hits. Up/Down select, Enter opens, + / − vote, Left/Right jump to the sibling list."""

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
        self._rows: list[ResultRowView] = []
        self._hits: list[Hit] = []
        self._batch = 0
        self.empty_text = ""

    def paintEvent(self, event) -> None:  # noqa: ANN001
        super().paintEvent(event)
        if not self._rows and self.empty_text:
            painter = QPainter(self.viewport())
            painter.setPen(QColor("#666"))
            painter.drawText(self.viewport().rect().adjusted(12, 12, -12, -12),
                             Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap,
                             self.empty_text)

    def set_hits(self, hits: tuple[Hit, ...] | list[Hit]) -> None:
        """Show `hits`: the rows a screen holds at once, the rest a few per event-loop turn.

        A row is a widget tree (~4 ms to build and lay out): 30 of them built in one go froze
        the window for over 100 ms when an answer arrived."""
        self._batch += 1
        self._rows = []  # first: clear() may resize the list, and the old row widgets are going
        self.clear()
        self._hits = list(hits)
        self._add_rows(self._batch)

    def _add_rows(self, batch: int) -> None:
        if batch != self._batch:  # a newer answer replaced these hits
            return
        start = len(self._rows)
        end = min(len(self._hits), start + (FIRST_ROWS if start == 0 else ROWS_PER_TURN))
        for hit in self._hits[start:end]:
            row = ResultRowView(hit)
            row.voted.connect(self.voted)
            item = QListWidgetItem()
            item.setData(Qt.ItemDataRole.UserRole, hit)
            self.addItem(item)
            self.setItemWidget(item, row)
            self._rows.append(row)
            self.thumbnail_needed.emit(hit.doc_id, hit.page)
        self._fit_rows(start)
        if end < len(self._hits):
            QTimer.singleShot(0, lambda: self._add_rows(batch))
        else:
            self.filled.emit()

    def is_filled(self) -> bool:
        return len(self._rows) == len(self._hits)

    def rows(self) -> list[ResultRowView]:
        return list(self._rows)

    def hits(self) -> list[Hit]:
        """Every hit of the list, also those whose rows are still being built."""
        return list(self._hits)

    def total(self) -> int:
        return len(self._hits)

    def current_hit(self) -> Hit | None:
        row = self.currentRow()
        return self._rows[row].hit if 0 <= row < len(self._rows) else None

    def clear_selection(self) -> None:
        """No current row (the sibling list has the selection); emits nothing."""
        self.blockSignals(True)
        self.setCurrentRow(-1)
        self.clearSelection()
        self.blockSignals(False)

    def set_thumbnail(self, doc_id: int, page: int, image: QImage) -> None:
        for row in self._rows:
            if row.hit.doc_id == doc_id and row.hit.page == page:
                row.set_thumbnail(image)

    def retranslate(self) -> None:
        for row in self._rows:
            row.retranslate()

    def _on_row(self, row: int) -> None:
        if 0 <= row < len(self._rows):
            self.hit_selected.emit(self._rows[row].hit)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        row = self.currentRow()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and 0 <= row < len(self._rows):
            self.open_requested.emit(self._rows[row].hit)
        elif key in (Qt.Key.Key_Plus, Qt.Key.Key_Minus) and 0 <= row < len(self._rows):
            self._rows[row].vote(+1 if key == Qt.Key.Key_Plus else -1)
        elif key in (Qt.Key.Key_Left, Qt.Key.Key_Right):
            self.switch_requested.emit()
        else:
            super().keyPressEvent(event)

    def resizeEvent(self, event) -> None:  # noqa: ANN001
        super().resizeEvent(event)
        self._fit_rows()

    def _fit_rows(self, start: int = 0) -> None:
        """Rows as wide as the list; their height follows the wrapped snippet."""
        width = max(300, self.viewport().width() - 6)
        if self.count() != len(self._rows):  # rows are being added: _add_rows fits them
            return
        for i in range(start, len(self._rows)):
            row = self._rows[i]
            row.setFixedWidth(width)
            height = row.layout().heightForWidth(width) if row.layout().hasHeightForWidth() else -1
            height = max(height, row.sizeHint().height(), THUMB.height() + 24)
            self.item(i).setSizeHint(QSize(width, height))
