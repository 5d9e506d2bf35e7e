"""The line under the search box: what is happening, a busy bar and Stop while a search runs."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QWidget

from desktop.i18n import N_, tr
from desktop.views.labels import MessageLabel

STAGES = {"extract": N_("Reading the drawing…"), "ocr": N_("Reading the drawing…"),
          "embed": N_("Comparing pictures…"), "search": N_("Searching the library…")}


class SearchStatusView(QWidget):
    stop_requested = Signal()

    def __init__(self) -> None:
        super().__init__()
        self.label = MessageLabel()
        self.label.setObjectName("SearchStatus")
        self.busy = QProgressBar()
        self.busy.setRange(0, 0)  # indeterminate
        self.busy.setMaximumWidth(220)
        self.busy.setTextVisible(False)
        self.stop = QPushButton()
        self.stop.clicked.connect(self.stop_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.busy)
        layout.addWidget(self.stop)
        self._text: tuple[str, dict] = ("", {})
        self.set_busy(False)
        self.retranslate()

    def set_text(self, text: str, **fields: object) -> None:
        """Kept untranslated so a language switch can redo it."""
        self._text = (text, fields)
        self.label.setText(tr(text, **fields))

    def set_stage(self, stage: str) -> None:
        if stage in STAGES:
            self.set_text(STAGES[stage])

    def text(self) -> str:
        return self.label.text()

    def set_busy(self, busy: bool) -> None:
        self.busy.setVisible(busy)
        self.stop.setVisible(busy)

    def is_busy(self) -> bool:
        return not self.busy.isHidden()

    def retranslate(self) -> None:
        self.stop.setText(tr("Stop"))
        self.stop.setToolTip(tr("Stop the running search (Esc)"))
        if self._text[0]:
            self.label.setText(tr(self._text[0], **self._text[1]))
