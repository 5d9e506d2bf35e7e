"""What Zumen read from the query drawing, as chips the user can switch off, plus added words.

A drawing query is only as good as what was read from it: a misread ("uitimaker"), the
company name or a stock title-block word can pull the wrong documents up. The chips show the
part numbers and telling words that counted (FileQueryResults.read_terms); clicking one leaves
it out (struck through) and searches again, clicking it again brings it back, and words typed
in the box are added. The page is not read again (the engine keeps what it read).
"""

from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPixmap
from PySide6.QtWidgets import (QHBoxLayout, QLabel, QLineEdit, QListView, QListWidget,
                               QListWidgetItem, QPushButton, QVBoxLayout, QWidget)

from desktop.i18n import tr
from desktop.views.labels import ElidedLabel

QUERY_THUMB = QSize(56, 40)
ON, OFF = "on", "off"


class QueryChipsView(QWidget):
    """Thumbnail and name of the query, its read terms as toggles, a box to add words."""

    changed = Signal(tuple, tuple)  # (terms left out, words added)

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("QueryChips")
        self.thumb = QLabel()
        self.thumb.setFixedSize(QUERY_THUMB)
        self.thumb.setObjectName("Thumb")
        self.thumb.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.name = ElidedLabel(mode=Qt.TextElideMode.ElideMiddle)
        self.name.setObjectName("ResultTitle")
        self.caption = QLabel()
        self.caption.setObjectName("Hint")
        self.chips = QListWidget()
        self.chips.setObjectName("ChipList")
        self.chips.setFlow(QListView.Flow.LeftToRight)
        self.chips.setWrapping(True)
        self.chips.setResizeMode(QListView.ResizeMode.Adjust)
        self.chips.setSpacing(4)
        self.chips.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.chips.setSelectionMode(QListWidget.SelectionMode.NoSelection)
        self.chips.itemClicked.connect(self._toggle)
        self.chips.itemActivated.connect(self._toggle)
        self.add_box = QLineEdit()
        self.add_box.setObjectName("AddWord")
        self.add_box.returnPressed.connect(self._add)
        self.add_button = QPushButton()
        self.add_button.clicked.connect(self._add)
        self.reset_button = QPushButton()
        self.reset_button.clicked.connect(self.reset)

        head = QVBoxLayout()
        head.setSpacing(0)
        head.addWidget(self.name)
        head.addWidget(self.caption)
        top = QHBoxLayout()
        top.addWidget(self.thumb)
        top.addLayout(head, 1)
        top.addWidget(self.add_box)
        top.addWidget(self.add_button)
        top.addWidget(self.reset_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.chips)
        self._added: list[str] = []
        self.retranslate()

    # state ------------------------------------------------------------------------------------
    def show_query(self, name: str, terms: Sequence[str]) -> None:
        """A new query: its read terms, all switched on, nothing added."""
        self._added = []
        self.name.setText(name)
        self._fill(terms, set())

    def restore(self, name: str, terms: Sequence[str], left_out: Sequence[str], added: Sequence[str]) -> None:
        """An earlier query from the history, with the corrections it had."""
        self._added = list(added)
        self.name.setText(name)
        self._fill(list(dict.fromkeys([t for t in terms if t not in self._added] + list(left_out))),
                   set(left_out))

    def update_terms(self, terms: Sequence[str]) -> None:
        """The same query searched again: keep what is off, show what now counts."""
        off = set(self.left_out())
        self._fill(list(dict.fromkeys(list(terms) + sorted(off))), off)

    def set_thumbnail(self, image: QImage) -> None:
        if not image.isNull():
            self.thumb.setPixmap(QPixmap.fromImage(image).scaled(
                QUERY_THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))

    def left_out(self) -> tuple[str, ...]:
        return tuple(self.chips.item(i).data(Qt.ItemDataRole.UserRole)
                     for i in range(self.chips.count())
                     if self.chips.item(i).data(Qt.ItemDataRole.UserRole + 1) == OFF)

    def added(self) -> tuple[str, ...]:
        return tuple(self._added)

    def terms(self) -> tuple[str, ...]:
        """The read terms shown (on or off), without the added words."""
        items = (self.chips.item(i) for i in range(self.chips.count()))
        return tuple(item.data(Qt.ItemDataRole.UserRole) for item in items
                     if item.data(Qt.ItemDataRole.UserRole + 1) in (ON, OFF))

    def reset(self) -> None:
        """Every read term back on, added words gone, and search again."""
        if self.left_out() or self._added:
            self._added = []
            self._fill(self.terms(), set())
            self.changed.emit((), ())

    # chips ------------------------------------------------------------------------------------
    def _fill(self, terms: Sequence[str], off: set[str]) -> None:
        self.chips.clear()
        for term in terms:
            item = QListWidgetItem()
            item.setData(Qt.ItemDataRole.UserRole, term)
            self.chips.addItem(item)
            self._style(item, OFF if term in off else ON)
        for word in self._added:
            item = QListWidgetItem(f"+ {word}")
            item.setData(Qt.ItemDataRole.UserRole, word)
            item.setData(Qt.ItemDataRole.UserRole + 1, "added")
            item.setForeground(QColor("#1b5e20"))
            self.chips.addItem(item)
        self.retranslate()
        self._fit_height()

    def _style(self, item: QListWidgetItem, state: str) -> None:
        term = item.data(Qt.ItemDataRole.UserRole)
        item.setData(Qt.ItemDataRole.UserRole + 1, state)
        font = QFont(self.font())
        font.setStrikeOut(state == OFF)
        item.setFont(font)
        item.setText(f"{term}  ✕" if state == ON else f"{term}  ↺")
        item.setForeground(QColor("#1f4e79" if state == ON else "#888888"))
        item.setToolTip(tr("Leave “{term}” out and search again", term=term) if state == ON
                        else tr("Count “{term}” again", term=term))

    def _toggle(self, item: QListWidgetItem) -> None:
        state = item.data(Qt.ItemDataRole.UserRole + 1)
        if state == "added":
            self._added.remove(item.data(Qt.ItemDataRole.UserRole))
            self.chips.takeItem(self.chips.row(item))
        else:
            self._style(item, OFF if state == ON else ON)
        self.changed.emit(self.left_out(), self.added())

    def _add(self) -> None:
        words = [w for w in self.add_box.text().split() if w and w not in self._added]
        self.add_box.clear()
        if words:
            self._added += words
            self._fill(self.terms(), set(self.left_out()))
            self.changed.emit(self.left_out(), self.added())

    def _fit_height(self) -> None:
        """As tall as its chips need (wrapped), at most two rows (then it scrolls): the results
        below matter more."""
        self.chips.doItemsLayout()
        rows_px = self.chips.contentsSize().height() if self.chips.count() else 0
        line = (self.chips.sizeHintForRow(0) if self.chips.count() else self.chips.fontMetrics().height()) \
            + 2 * self.chips.spacing()
        frame = 2 * self.chips.frameWidth()
        self.chips.setFixedHeight(min(rows_px, 2 * line) + frame + 2)

    def resizeEvent(self, event) -> None:  # noqa: ANN001
        super().resizeEvent(event)
        self._fit_height()

    def changeEvent(self, event) -> None:  # noqa: ANN001
        super().changeEvent(event)
        if event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):  # font size, touch mode
            self._fit_height()

    def retranslate(self) -> None:
        self.caption.setText(tr("Read from your drawing — click a word to leave it out"))
        self.add_box.setPlaceholderText(tr("Add a word…"))
        self.add_button.setText(tr("Add"))
        self.reset_button.setText(tr("Reset"))
        self.reset_button.setToolTip(tr("Count every word read again and drop the added ones"))
        for i in range(self.chips.count()):
            item = self.chips.item(i)
            if item.data(Qt.ItemDataRole.UserRole + 1) in (ON, OFF):
                self._style(item, item.data(Qt.ItemDataRole.UserRole + 1))
