"""Duplicate drawings: groups of near-identical drawings of the library (Engine.duplicates) — the
same sheet scanned twice, a PDF and its photo, two revisions of one part. Found in a worker with
progress and Cancel; each drawing shows its thumbnail; double-click (or Open) opens it at its
page, Show in folder selects it."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QCloseEvent, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QHBoxLayout, QHeaderView, QLabel,
                               QProgressBar, QPushButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout,
                               QWidget)

from desktop import open_external
from desktop.engine_bridge import EngineBridge
from desktop.errors import explain
from desktop.i18n import tr
from desktop.style import touch_target_px
from desktop.workers import Task, TaskRunner
from engine.progress import Progress
from engine.types import DuplicatePage, DuplicateReport

THUMB = QSize(120, 90)
MAX_THUMBS = 120  # thumbnails loaded for the first drawings listed (each is a page render)
PAGE_ROLE = Qt.ItemDataRole.UserRole


def read_as(page: DuplicatePage) -> str:
    """How a drawing came in, in words: a PDF with text, a scanned PDF, a picture."""
    if page.format == "image":
        return tr("Picture: scan or photo (text read by OCR)")
    if page.source == "text-layer":
        return tr("PDF with text")
    if page.source == "ocr":
        return tr("Scanned PDF (text read by OCR)")
    return tr("PDF")


class DuplicatesDialog(QDialog):
    opened = Signal(str, int)  # path, page handed to the system's viewer

    def __init__(self, bridge: EngineBridge, runner: TaskRunner, parent: Optional[QWidget] = None) -> None:
        super().__init__(parent)
        self._bridge, self._runner = bridge, runner
        self._task: Optional[Task] = None
        self.report: Optional[DuplicateReport] = None
        self._icons: dict[tuple[int, int], QIcon] = {}  # (doc_id, page) -> thumbnail, once loaded
        self._items: dict[tuple[int, int], list[QTreeWidgetItem]] = {}  # the rows showing a page
        self.setMinimumSize(900, 600)

        self.hint = QLabel()
        self.hint.setObjectName("Hint")
        self.hint.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setColumnCount(3)
        self.tree.setIconSize(THUMB)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = self.tree.header()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        self.status_label = QLabel()
        self.status_label.setWordWrap(True)
        self.progress_bar = QProgressBar()
        self.find_button, self.cancel_button = QPushButton(), QPushButton()
        self.open_button, self.folder_button, self.close_button = QPushButton(), QPushButton(), QPushButton()
        self.find_button.setObjectName("PrimaryButton")
        self.cancel_button.setObjectName("DangerButton")
        self.cancel_button.setEnabled(False)

        run_row = QHBoxLayout()
        run_row.addWidget(self.find_button)
        run_row.addWidget(self.progress_bar, 1)
        run_row.addWidget(self.cancel_button)
        buttons = QHBoxLayout()
        for button in (self.open_button, self.folder_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        buttons.addWidget(self.close_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.hint)
        layout.addLayout(run_row)
        layout.addWidget(self.status_label)
        layout.addWidget(self.tree, 1)
        layout.addLayout(buttons)

        self.find_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.open_button.clicked.connect(self.open_selected)
        self.folder_button.clicked.connect(self.show_selected_in_folder)
        self.close_button.clicked.connect(self.close)
        self.tree.itemDoubleClicked.connect(lambda item, _col: self._open(item))
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self.retranslate()

    def retranslate(self) -> None:
        self.setWindowTitle(tr("Duplicate drawings"))
        self.hint.setText(tr("Drawings that are the same sheet: scanned twice, a PDF and its photo, or two "
                             "revisions of one part. Double-click a drawing to open it."))
        self.tree.setHeaderLabels([tr("Drawing"), tr("Folder"), tr("Came in as")])
        self.find_button.setText(tr("Find duplicates"))
        self.cancel_button.setText(tr("Cancel"))
        self.open_button.setText(tr("Open"))
        self.folder_button.setText(tr("Show in folder"))
        self.close_button.setText(tr("Close"))
        if self.report is not None and not self.is_running():
            self._show(self.report)
        self._update_buttons()

    # running ----------------------------------------------------------------------------------
    def is_running(self) -> bool:
        return self._task is not None and not self._task.is_done

    def start(self) -> None:
        """Compare the library's drawings (in a worker; the window stays responsive)."""
        if self.is_running():
            return
        self.find_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.progress_bar.setRange(0, 0)
        self.status_label.setText(tr("Comparing drawings…"))
        self._task = self._runner.submit(
            lambda ctx: self._bridge.duplicates(progress=ctx.progress, cancel=ctx.cancel),
            on_result=self._done, on_error=self._failed, on_progress=self._progress, name="duplicates")

    def cancel(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self.cancel_button.setEnabled(False)

    def _progress(self, progress: Progress) -> None:
        if progress.total:
            self.progress_bar.setRange(0, progress.total)
            self.progress_bar.setValue(progress.done)
            if progress.stage == "geometry":  # a scan or photo checked against a drawing with text
                text = tr("Checking the drawings' geometry: {done} / {total} pairs", done=progress.done,
                          total=progress.total)
            elif progress.unit == "pairs":
                text = tr("Comparing drawings: {done} / {total} pairs", done=progress.done, total=progress.total)
            else:
                text = tr("Comparing drawings: {done} / {total} pages", done=progress.done, total=progress.total)
            self.status_label.setText(text)

    def _finish(self) -> None:
        self.find_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1 if self.report is not None else 0)

    def _done(self, report: Optional[DuplicateReport]) -> None:
        if report is None:  # cancelled: what was shown before stays
            self._finish()
            self.status_label.setText(tr("Stopped. Press Find duplicates to start again."))
            return
        self.report = report
        self._finish()
        self._show(report)

    def _failed(self, err: BaseException) -> None:
        self._finish()
        self.status_label.setText(tr("Error: {error}", error=explain(err).text))

    # the list ---------------------------------------------------------------------------------
    def _show(self, report: DuplicateReport) -> None:
        self.tree.clear()
        self._items = {}
        if not report.groups:
            self.status_label.setText(tr("No near-identical drawings among {pages} drawing pages.",
                                         pages=report.pages))
            return
        self.status_label.setText(tr("{groups} groups of near-identical drawings among {pages} drawing pages",
                                     groups=len(report.groups), pages=report.pages))
        thumbs = 0
        rows = max(THUMB.height() + 8, touch_target_px())
        for n, group in enumerate(report.groups, start=1):
            top = QTreeWidgetItem([tr("Group {n}: {count} drawings, match {percent} %", n=n,
                                      count=len(group.pages), percent=round(group.score * 100))])
            tip = tr("Shared words: {words} · looks alike {looks:.2f}", words=", ".join(group.words), looks=group.looks)
            if group.points:  # some pages joined by their geometry (a photo or scan OCR read poorly)
                tip += "\n" + tr("Same geometry: {points} points line up", points=group.points)
            top.setToolTip(0, tip)
            font = top.font(0)
            font.setBold(True)
            top.setFont(0, font)
            self.tree.addTopLevelItem(top)
            top.setFirstColumnSpanned(True)
            for page in group.pages:
                name = Path(page.path).name + (tr(" (page {n})", n=page.page) if page.page > 1 else "")
                child = QTreeWidgetItem([name, str(Path(page.path).parent), read_as(page)])
                child.setData(0, PAGE_ROLE, page)
                child.setToolTip(0, page.path)
                child.setToolTip(1, page.path)
                child.setSizeHint(0, QSize(THUMB.width(), rows))
                top.addChild(child)
                key = (page.doc_id, page.page)
                self._items.setdefault(key, []).append(child)
                if key in self._icons:
                    child.setIcon(0, self._icons[key])
                elif thumbs < MAX_THUMBS:
                    thumbs += 1
                    self._load_thumbnail(key)
            top.setExpanded(True)

    def _load_thumbnail(self, key: tuple[int, int]) -> None:
        def show(image: QImage) -> None:
            if image.isNull():
                return
            self._icons[key] = QIcon(QPixmap.fromImage(image).scaled(
                THUMB, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))
            for item in self._items.get(key, []):  # the rows showing it now (the list may be rebuilt)
                item.setIcon(0, self._icons[key])
        self._runner.submit(lambda ctx: self._bridge.thumbnail(*key), on_result=show, name="thumbnail",
                            priority=-1)

    def selected_page(self) -> Optional[DuplicatePage]:
        items = self.tree.selectedItems()
        return items[0].data(0, PAGE_ROLE) if items else None

    def _update_buttons(self) -> None:
        chosen = self.selected_page() is not None
        self.open_button.setEnabled(chosen)
        self.folder_button.setEnabled(chosen)

    def _open(self, item: QTreeWidgetItem) -> None:
        page = item.data(0, PAGE_ROLE)
        if page is not None:
            open_external.open_at_page(page.path, page.page)
            self.opened.emit(page.path, page.page)

    def open_selected(self) -> None:
        items = self.tree.selectedItems()
        if items:
            self._open(items[0])

    def show_selected_in_folder(self) -> None:
        page = self.selected_page()
        if page is not None:
            open_external.show_in_folder(page.path)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt API
        self.cancel()
        super().closeEvent(event)
