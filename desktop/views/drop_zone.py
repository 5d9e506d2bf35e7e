"""The big "drop a drawing here" target; also accepts drops when compact."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QImage
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout

from desktop.i18n import tr
from desktop.views.formatting import icon

DROPPABLE = {".pdf", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp"}


class DropZoneView(QFrame):
    """Emits `file_dropped(Path)` for files and `image_dropped(QImage)` for dragged pictures."""

    file_dropped = Signal(Path)
    image_dropped = Signal(QImage)

    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("DropZone")
        self.setAcceptDrops(True)
        self._icon = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self._title = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self._title.setObjectName("DropTitle")
        self._hint = QLabel(alignment=Qt.AlignmentFlag.AlignCenter)
        self._hint.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        for widget in (self._icon, self._title, self._hint):
            layout.addWidget(widget)
        layout.addStretch(1)
        self.set_compact(False)
        self.retranslate()

    def retranslate(self) -> None:
        self._title.setText(tr("Drop a drawing or document here"))
        self._hint.setText(tr("PDF, scan or phone photo · Ctrl+V pastes a picture · Ctrl+O opens a file"))

    def set_compact(self, compact: bool) -> None:
        """Large when the window is empty; a slim strip once results are shown."""
        self._icon.setPixmap(icon("drop").pixmap(32 if compact else 72))
        self._icon.setVisible(not compact)
        self._hint.setVisible(not compact)
        self.setMinimumHeight(56 if compact else 220)
        self.setMaximumHeight(72 if compact else 16777215)
        self.setProperty("compact", compact)

    def _set_hover(self, on: bool) -> None:
        self.setProperty("hover", on)
        self.style().unpolish(self)
        self.style().polish(self)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        mime = event.mimeData()
        if mime.hasImage() or any(u.isLocalFile() for u in mime.urls()):
            event.acceptProposedAction()  # unsupported files are explained after the drop
            self._set_hover(True)

    def dragLeaveEvent(self, event) -> None:  # noqa: ANN001
        self._set_hover(False)

    def dropEvent(self, event: QDropEvent) -> None:
        self._set_hover(False)
        mime = event.mimeData()
        paths = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            usable = [p for p in paths if p.suffix.lower() in DROPPABLE]
            self.file_dropped.emit(usable[0] if usable else paths[0])
        elif mime.hasImage():
            event.acceptProposedAction()
            self.image_dropped.emit(QImage(mime.imageData()))
