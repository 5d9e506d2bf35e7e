"""Filters applied to shown results: document type, folder, modification date."""

from __future__ import annotations

import time
from typing import Mapping, Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QLabel, QWidget

from desktop.i18n import N_, tr
from desktop.views.flow_layout import FlowLayout
from engine.types import Hit

DAY_S = 86400.0
DATE_CHOICES: tuple[tuple[str, float | None], ...] = (
    (N_("Any date"), None), (N_("Last 7 days"), 7 * DAY_S), (N_("Last 30 days"), 30 * DAY_S), (N_("Last year"), 365 * DAY_S))
KIND_CHOICES: tuple[tuple[str, str | None], ...] = (
    (N_("All types"), None), (N_("Drawings"), "drawing"), (N_("Documents"), "document"))
VIEW_CHOICES: tuple[tuple[str, str], ...] = (
    (N_("Detailed list"), "detailed"), (N_("Compact list"), "compact"), (N_("Thumbnail grid"), "grid"))


class FilterBar(QWidget):
    """The filters, and at the right how results are shown (detailed, compact, grid)."""

    changed = Signal()
    view_changed = Signal(str)  # "detailed" | "compact" | "grid"

    def __init__(self) -> None:
        super().__init__()
        self.label = QLabel()
        self.kind, self.folder, self.date = QComboBox(), QComboBox(), QComboBox()
        self.folder.setMinimumContentsLength(12)
        self.folder.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        layout = FlowLayout(self)  # wraps at large fonts
        layout.addWidget(self.label)
        for combo in (self.kind, self.folder, self.date):
            layout.addWidget(combo)
            combo.currentIndexChanged.connect(lambda _: self.changed.emit())
        self.view_label, self.view = QLabel(), QComboBox()
        layout.addWidget(self.view_label)
        layout.addWidget(self.view)
        self.view.currentIndexChanged.connect(lambda _: self.view_changed.emit(self.view_mode()))
        self._folders: tuple[str, ...] = ()
        self.retranslate()

    def retranslate(self) -> None:
        self.label.setText(tr("Filter:"))
        self.view_label.setText(tr("Show as:"))
        for combo, choices in ((self.kind, KIND_CHOICES), (self.date, DATE_CHOICES), (self.view, VIEW_CHOICES)):
            index = max(0, combo.currentIndex())
            combo.blockSignals(True)
            combo.clear()
            for text, value in choices:
                combo.addItem(tr(text), value)
            combo.setCurrentIndex(index)
            combo.blockSignals(False)
        self.set_folders(self._folders)

    def set_folders(self, folders: Sequence[str]) -> None:
        current = self.folder.currentData()
        self._folders = tuple(folders)
        self.folder.blockSignals(True)
        self.folder.clear()
        self.folder.addItem(tr("All folders"), None)
        for folder in self._folders:
            self.folder.addItem(folder, folder)
        index = self.folder.findData(current)
        self.folder.setCurrentIndex(max(0, index))
        self.folder.blockSignals(False)

    def view_mode(self) -> str:
        return self.view.currentData() or "detailed"

    def set_view_mode(self, mode: str) -> None:
        self.view.setCurrentIndex(max(0, self.view.findData(mode)))

    def kinds(self) -> set[str] | None:
        kind = self.kind.currentData()
        return {kind} if kind else None

    def apply(self, hits: Sequence[Hit], mtimes: Mapping[str, float]) -> list[Hit]:
        kind, folder, age = self.kind.currentData(), self.folder.currentData(), self.date.currentData()
        now = time.time()
        out = []
        for hit in hits:
            if kind and hit.kind != kind:
                continue
            if folder and not hit.path.startswith(folder.rstrip("/\\")):
                continue
            if age and now - mtimes.get(hit.path, now) > age:
                continue
            out.append(hit)
        return out
