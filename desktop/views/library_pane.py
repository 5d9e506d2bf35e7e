"""Library: folders, index status, indexing progress with Cancel, failed files, folder watching."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QFileDialog, QGridLayout, QGroupBox,
                               QHBoxLayout, QHeaderView, QLabel, QListWidget, QListWidgetItem, QProgressBar,
                               QPushButton, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from desktop.engine_bridge import EngineBridge
from desktop.folder_watcher import FolderWatcher, watchable_dirs
from desktop.i18n import N_, tr
from desktop.views.formatting import format_bytes, format_duration
from desktop.workers import Task, TaskRunner
from engine.progress import Progress
from engine.types import IndexReport, LibraryStatus

STAGES = {"scan": N_("Looking for files"), "index": N_("Indexing files"), "extract": N_("Reading files"),
          "ocr": N_("Reading text in pictures"), "render": N_("Drawing pages"),
          "embed": N_("Understanding content"), "save": N_("Saving the index")}
UNITS = {"files": N_("files"), "pages": N_("pages"), "chunks": N_("chunks")}
STATUS_NAMES = {"library": N_("Library:"), "documents": N_("Documents:"), "drawings": N_("Drawings:"),
                "pages": N_("Pages:"), "size": N_("Index size:"), "pack": N_("Model:")}


class LibraryPane(QWidget):
    indexing_finished = Signal(object)  # IndexReport
    status_loaded = Signal(object)  # LibraryStatus
    folders_changed = Signal(tuple)

    def __init__(self, bridge: EngineBridge, runner: TaskRunner, watcher: FolderWatcher) -> None:
        super().__init__()
        self._bridge, self._runner, self._watcher = bridge, runner, watcher
        self._task: Optional[Task] = None
        self._pending = False
        self.status: Optional[LibraryStatus] = None
        self.last_report: Optional[IndexReport] = None
        self.last_progress: Optional[Progress] = None
        self._reachable: dict[str, bool] = {}

        self.folders_box, self.status_box, self.progress_box, self.failed_box = (QGroupBox() for _ in range(4))
        self.folder_list = QListWidget()
        self.folder_list.setObjectName("FolderList")
        self.folder_list.setMaximumHeight(160)
        self.add_button, self.remove_button, self.reindex_button = QPushButton(), QPushButton(), QPushButton()
        self.reindex_button.setObjectName("PrimaryButton")
        self.watch_check = QCheckBox()
        self.watch_check.setChecked(watcher.enabled)
        self.watch_check.toggled.connect(watcher.set_enabled)
        buttons = QHBoxLayout()
        for widget in (self.add_button, self.remove_button, self.reindex_button):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        buttons.addWidget(self.watch_check)
        folders_layout = QVBoxLayout(self.folders_box)
        folders_layout.addWidget(self.folder_list)
        folders_layout.addLayout(buttons)

        self.status_labels = {key: (QLabel(), QLabel()) for key in
                              ("library", "documents", "drawings", "pages", "size", "pack")}
        grid = QGridLayout(self.status_box)
        for row, (name, value) in enumerate(self.status_labels.values()):
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            grid.addWidget(name, row // 3, (row % 3) * 2)
            grid.addWidget(value, row // 3, (row % 3) * 2 + 1)

        self.progress_bar = QProgressBar()
        self.progress_label = QLabel()
        self.progress_label.setWordWrap(True)
        self.cancel_button = QPushButton()
        self.cancel_button.setObjectName("DangerButton")
        self.cancel_button.setEnabled(False)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress_bar, 1)
        progress_row.addWidget(self.cancel_button)
        progress_layout = QVBoxLayout(self.progress_box)
        progress_layout.addLayout(progress_row)
        progress_layout.addWidget(self.progress_label)

        self.failed_table = QTableWidget(0, 3)
        self.failed_table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.failed_table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.failed_table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.failed_table.verticalHeader().setVisible(False)
        QVBoxLayout(self.failed_box).addWidget(self.failed_table)

        layout = QVBoxLayout(self)
        layout.addWidget(self.folders_box)
        layout.addWidget(self.status_box)
        layout.addWidget(self.progress_box)
        layout.addWidget(self.failed_box, 1)

        self.add_button.clicked.connect(self.choose_folder)
        self.remove_button.clicked.connect(self.remove_selected)
        self.reindex_button.clicked.connect(lambda: self.start_index())
        self.cancel_button.clicked.connect(self.cancel_index)
        watcher.changed.connect(self.start_index)
        self.retranslate()

    def retranslate(self) -> None:
        self.folders_box.setTitle(tr("Folders in the library"))
        self.status_box.setTitle(tr("Index status"))
        self.progress_box.setTitle(tr("Indexing"))
        self.failed_box.setTitle(tr("Files that could not be read"))
        self.add_button.setText(tr("Add folder…"))
        self.remove_button.setText(tr("Remove folder"))
        self.reindex_button.setText(tr("Update index now"))
        self.watch_check.setText(tr("Watch folders for changes"))
        self.cancel_button.setText(tr("Cancel"))
        for key, (label, _) in self.status_labels.items():
            label.setText(tr(STATUS_NAMES[key]))
        self.failed_table.setHorizontalHeaderLabels([tr("File"), tr("Reason"), tr("When")])
        for row in range(self.folder_list.count()):
            item = self.folder_list.item(row)
            item.setText(self._folder_text(item.data(Qt.ItemDataRole.UserRole)))
        if self.last_progress is not None and self.is_indexing():
            self._show_progress(self.last_progress)
        elif not self.is_indexing():
            self.progress_label.setText(self._report_text())

    # status -----------------------------------------------------------------------------------
    def refresh(self) -> None:
        watch = self._watcher.enabled

        def job(ctx) -> tuple[LibraryStatus, dict[str, bool], list[str]]:  # noqa: ANN001
            status = self._bridge.status()
            dirs = watchable_dirs(status.folders) if watch else []
            return status, {folder: os.path.isdir(folder) for folder in status.folders}, dirs
        self._runner.submit(job, on_result=lambda r: self._show_status(*r), name="status")

    def _folder_text(self, folder: str) -> str:
        prefix = folder.rstrip("/\\")
        failed = sum(1 for f in self.status.failed if f.path.startswith(prefix)) if self.status else 0
        state = tr("reachable") if self._reachable.get(folder, True) else tr("NOT reachable")
        return f"{folder}   —   {state}" + (tr(" · {n} failed", n=failed) if failed else "")

    def _show_status(self, status: LibraryStatus, reachable: dict[str, bool] | None = None,
                     watch_dirs: list[str] | None = None) -> None:
        self.status = status
        self._reachable = reachable or {}
        values = {"library": status.library, "documents": str(status.documents),
                  "drawings": str(status.drawings), "pages": str(status.pages),
                  "size": format_bytes(status.index_bytes),
                  "pack": f"{status.pack.name} {status.pack.version}" if status.pack else "–"}
        for key, value in values.items():
            self.status_labels[key][1].setText(value)
        self.folder_list.clear()
        for folder in status.folders:
            item = QListWidgetItem(self._folder_text(folder))
            item.setData(Qt.ItemDataRole.UserRole, folder)
            if not self._reachable.get(folder, True):
                item.setForeground(Qt.GlobalColor.darkRed)
            self.folder_list.addItem(item)
        self._watcher.set_folders(watch_dirs or [])
        self.failed_table.setRowCount(len(status.failed))
        for row, failed in enumerate(status.failed):
            for col, text in enumerate((failed.path, failed.reason, failed.when[:16].replace("T", " "))):
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.failed_table.setItem(row, col, item)
        self.folders_changed.emit(status.folders)
        self.status_loaded.emit(status)

    # folders ----------------------------------------------------------------------------------
    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, tr("Choose a folder to add"))
        if folder:
            self.add_folder(Path(folder))

    def add_folder(self, folder: Path) -> None:
        self._runner.submit(lambda ctx: self._bridge.add_folder(folder),
                            on_result=lambda _: (self.refresh(), self.start_index()),
                            on_error=self._error, name="add-folder")

    def remove_selected(self) -> None:
        item = self.folder_list.currentItem()
        if item is not None:
            folder = Path(item.data(Qt.ItemDataRole.UserRole))
            self._runner.submit(lambda ctx: self._bridge.remove_folder(folder),
                                on_result=lambda _: (self.refresh(), self.start_index()),
                                on_error=self._error, name="remove-folder")

    def _error(self, err: BaseException) -> None:
        self.progress_label.setText(tr("Error: {error}", error=str(err)))

    # indexing ---------------------------------------------------------------------------------
    def is_indexing(self) -> bool:
        return self._task is not None and not self._task.is_done

    def start_index(self) -> None:
        if self.is_indexing():
            self._pending = True  # a change arrived while indexing: run once more afterwards
            return
        self._pending = False
        self.last_progress = None
        self.cancel_button.setEnabled(True)
        self.reindex_button.setEnabled(False)
        self.progress_bar.setRange(0, 0)
        self.progress_label.setText(tr("Starting…"))
        self._task = self._runner.submit(
            lambda ctx: self._bridge.index(progress=ctx.progress, cancel=ctx.cancel),
            on_result=self._index_done, on_error=self._index_failed, on_progress=self._show_progress,
            name="index")

    def cancel_index(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self.cancel_button.setEnabled(False)
            self.progress_label.setText(tr("Cancelling… the files read so far are kept."))

    def _show_progress(self, progress: Progress) -> None:
        self.last_progress = progress
        if progress.total:
            self.progress_bar.setRange(0, progress.total)
            self.progress_bar.setValue(progress.done)
        else:
            self.progress_bar.setRange(0, 0)
        parts = [tr(STAGES.get(progress.stage, progress.stage))]
        parts.append(f"{progress.done} / {progress.total}" if progress.total else str(progress.done))
        if progress.rate:
            parts.append(tr("{rate:.1f} {unit}/s", rate=progress.rate, unit=tr(UNITS.get(progress.unit, progress.unit))))
        if progress.eta_s is not None:
            parts.append(tr("about {eta} left", eta=format_duration(progress.eta_s)))
        if progress.message:
            parts.append(Path(progress.message).name)
        self.progress_label.setText(" · ".join(parts))

    def _finish(self) -> None:
        self.cancel_button.setEnabled(False)
        self.reindex_button.setEnabled(True)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1 if self.last_report and not self.last_report.cancelled else 0)
        self.refresh()
        if self._pending:
            self.start_index()

    def _index_done(self, report: IndexReport) -> None:
        self.last_report = report
        self.progress_label.setText(self._report_text())
        self._finish()
        self.indexing_finished.emit(report)

    def _index_failed(self, err: BaseException) -> None:
        self.last_report = None
        self.progress_label.setText(tr("Indexing failed: {error}", error=str(err)))
        self._finish()

    def _report_text(self) -> str:
        r = self.last_report
        if r is None:
            return tr("The index is up to date when this bar is full.")
        text = tr("{added} added, {updated} updated, {removed} removed, {failed} failed in {time}",
                  added=r.added, updated=r.updated, removed=r.removed, failed=r.failed,
                  time=format_duration(r.elapsed_s))
        return tr("Cancelled — ") + text if r.cancelled else text
