"""Library: folders, index status (live while indexing), indexing progress with step, rate, time
left and Cancel, the files left out (failed / ignored / skipped types), folder watching."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtWidgets import (QCheckBox, QFileDialog, QFrame, QGridLayout, QGroupBox, QHBoxLayout,
                               QLabel, QListWidget, QListWidgetItem, QProgressBar, QPushButton,
                               QScrollArea, QVBoxLayout, QWidget)

from desktop.engine_bridge import EngineBridge
from desktop.errors import explain
from desktop.eta import EtaEstimator
from desktop.folder_watcher import FolderWatcher, watchable_dirs
from desktop.i18n import N_, tr
from desktop.style import touch_target_px
from desktop.views.duplicates_dialog import DuplicatesDialog
from desktop.views.failed_files import FailedFilesView
from desktop.views.formatting import format_bytes, format_duration
from desktop.workers import Task, TaskRunner
from engine.progress import Progress
from engine.types import IndexReport, LibraryStatus

STAGES = {"scan": N_("Looking for files"), "index": N_("Reading files"), "extract": N_("Reading files"),
          "ocr": N_("Reading text in pictures"), "render": N_("Drawing pages"),
          "embed": N_("Understanding content"), "save": N_("Saving the index")}
UNITS = {"files": N_("files"), "pages": N_("pages"), "chunks": N_("chunks"), "items": N_("items"),
         "steps": N_("steps")}
INDEX_STEPS = ("scan", "index", "embed", "save")  # the order engine.api.Engine.index reports them
LIVE_STATUS_MS = 1000  # how often the counts are re-read while indexing
BUSY_NOTE_S = 5.0  # a file taking longer than this is named with its time so far
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
        self._live_task: Optional[Task] = None
        self.status: Optional[LibraryStatus] = None
        self.last_report: Optional[IndexReport] = None
        self.last_progress: Optional[Progress] = None
        self.estimator = EtaEstimator()
        self._reachable: dict[str, bool] = {}
        self._error_text = ""  # why the last run or folder change failed (kept over refreshes)

        self.folders_box, self.status_box, self.progress_box, self.failed_box = (QGroupBox() for _ in range(4))
        self.folder_list = QListWidget()
        self.folder_list.setObjectName("FolderList")
        self.add_button, self.remove_button, self.reindex_button = QPushButton(), QPushButton(), QPushButton()
        self.reindex_button.setObjectName("PrimaryButton")
        self.duplicates_button = QPushButton()
        self.duplicates: Optional[DuplicatesDialog] = None
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
        grid.setHorizontalSpacing(16)
        for row, (key, (name, value)) in enumerate(self.status_labels.items()):
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            if key == "library":  # a path: a row of its own, so long paths are not cut
                grid.addWidget(name, 0, 0)
                grid.addWidget(value, 0, 1, 1, 5)
                continue
            grid.addWidget(name, 1 + (row - 1) // 3, ((row - 1) % 3) * 2)
            grid.addWidget(value, 1 + (row - 1) // 3, ((row - 1) % 3) * 2 + 1)
        for col in (1, 3, 5):
            grid.setColumnStretch(col, 1)
        grid.addWidget(self.duplicates_button, 3, 0, 1, 6, Qt.AlignmentFlag.AlignLeft)

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

        self.failed_view = FailedFilesView()
        self.failed_table = self.failed_view.failed_table
        self.failed_view.setMinimumHeight(320)
        QVBoxLayout(self.failed_box).addWidget(self.failed_view)

        content = QWidget()
        layout = QVBoxLayout(content)
        layout.addWidget(self.folders_box)
        layout.addWidget(self.status_box)
        layout.addWidget(self.progress_box)
        layout.addWidget(self.failed_box, 1)
        self.scroll = QScrollArea()  # at large fonts the page scrolls instead of squeezing its text
        self.scroll.setWidget(content)
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(self.scroll)

        self._tick = QTimer(self)  # the time left counts down (and a stall shows) between reports
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._render_progress)
        self._live = QTimer(self)  # counts and failed files follow the running index
        self._live.setInterval(LIVE_STATUS_MS)
        self._live.timeout.connect(self._refresh_live)

        self.add_button.clicked.connect(self.choose_folder)
        self.remove_button.clicked.connect(self.remove_selected)
        self.reindex_button.clicked.connect(lambda: self.start_index())
        self.duplicates_button.clicked.connect(self.show_duplicates)
        self.cancel_button.clicked.connect(self.cancel_index)
        self.failed_view.retry_requested.connect(self.retry_files)
        self.failed_view.ignore_requested.connect(self.ignore_files)
        watcher.changed.connect(self.start_index)
        self.retranslate()
        self._apply_touch()

    def retranslate(self) -> None:
        self.folders_box.setTitle(tr("Folders in the library"))
        self.status_box.setTitle(tr("Index status"))
        self.progress_box.setTitle(tr("Indexing"))
        self.failed_box.setTitle(tr("Files left out of the index"))
        self.add_button.setText(tr("Add folder…"))
        self.remove_button.setText(tr("Remove folder"))
        self.reindex_button.setText(tr("Update index now"))
        self.duplicates_button.setText(tr("Find duplicate drawings…"))
        if self.duplicates is not None:
            self.duplicates.retranslate()
        self.watch_check.setText(tr("Watch folders for changes"))
        self.cancel_button.setText(tr("Cancel"))
        for key, (label, _) in self.status_labels.items():
            label.setText(tr(STATUS_NAMES[key]))
        self.failed_view.retranslate()
        for row in range(self.folder_list.count()):
            item = self.folder_list.item(row)
            item.setText(self._folder_text(item.data(Qt.ItemDataRole.UserRole)))
        if self.is_indexing():
            self._render_progress()
        else:
            self.progress_label.setText(self._report_text())

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt API
        if event.type() == QEvent.Type.StyleChange:
            self._apply_touch()
        super().changeEvent(event)

    def _apply_touch(self) -> None:
        """Table rows are no style-sheet item: give them the touch height by hand."""
        rows = max(touch_target_px(), self.fontMetrics().height() + 12)
        for table in (self.failed_view.failed_table, self.failed_view.skipped_table):
            table.verticalHeader().setMinimumSectionSize(rows)
            table.verticalHeader().setDefaultSectionSize(rows)
        self._fit_folder_list()

    def _fit_folder_list(self) -> None:
        """As tall as its folders (2 to 5 rows), at any font size."""
        rows = min(max(self.folder_list.count(), 2), 5)
        row = max(self.folder_list.sizeHintForRow(0), self.fontMetrics().height() + 8,
                  touch_target_px())
        self.folder_list.setFixedHeight(row * rows + 2 * self.folder_list.frameWidth() + 8)

    def show_duplicates(self) -> None:
        """The duplicate drawings window (one, kept), comparing the library's drawings now."""
        if self.duplicates is None:
            self.duplicates = DuplicatesDialog(self._bridge, self._runner, self)
        self.duplicates.show()
        self.duplicates.raise_()
        self.duplicates.activateWindow()
        self.duplicates.start()

    # status -----------------------------------------------------------------------------------
    def refresh(self) -> None:
        watch = self._watcher.enabled

        def job(ctx) -> tuple[LibraryStatus, dict[str, bool], list[str]]:  # noqa: ANN001
            status = self._bridge.status()
            dirs = watchable_dirs(status.folders) if watch else []
            return status, {folder: os.path.isdir(folder) for folder in status.folders}, dirs
        self._runner.submit(job, on_result=lambda r: self._show_status(*r), name="status")

    def _refresh_live(self) -> None:
        """While indexing: re-read the counts and failures (one request at a time)."""
        if self._live_task is not None and not self._live_task.is_done:
            return
        self._live_task = self._runner.submit(lambda ctx: self._bridge.status(),
                                              on_result=self._show_counts, name="status-live")

    def _folder_text(self, folder: str) -> str:
        prefix = folder.rstrip("/\\")
        failed = sum(1 for f in self.status.failed if f.path.startswith(prefix)) if self.status else 0
        state = tr("reachable") if self._reachable.get(folder, True) else tr("NOT reachable")
        return f"{folder}   —   {state}" + (tr(" · {n} failed", n=failed) if failed else "")

    def _show_counts(self, status: LibraryStatus) -> None:
        """Counts, size, model and the files left out: all from one status, so they agree."""
        self.status = status
        values = {"library": status.library, "documents": str(status.documents),
                  "drawings": str(status.drawings), "pages": str(status.pages),
                  "size": format_bytes(status.index_bytes),
                  "pack": f"{status.pack.name} {status.pack.version}" if status.pack else "–"}
        for key, value in values.items():
            self.status_labels[key][1].setText(value)
        self.failed_view.set_status(status)
        for row in range(self.folder_list.count()):
            item = self.folder_list.item(row)
            item.setText(self._folder_text(item.data(Qt.ItemDataRole.UserRole)))
        if not self.is_indexing():
            self.progress_label.setText(self._report_text())

    def _show_status(self, status: LibraryStatus, reachable: dict[str, bool] | None = None,
                     watch_dirs: list[str] | None = None) -> None:
        self._reachable = reachable or {}
        current = [self.folder_list.item(i).data(Qt.ItemDataRole.UserRole)
                   for i in range(self.folder_list.count())]
        if current != list(status.folders):  # rebuilt only when the folders change (keeps selection)
            self.folder_list.clear()
            for folder in status.folders:
                item = QListWidgetItem()
                item.setData(Qt.ItemDataRole.UserRole, folder)
                self.folder_list.addItem(item)
        for row in range(self.folder_list.count()):
            item = self.folder_list.item(row)
            folder = item.data(Qt.ItemDataRole.UserRole)
            item.setForeground(Qt.GlobalColor.darkRed if not self._reachable.get(folder, True)
                               else self.folder_list.palette().text())
        self._fit_folder_list()
        self._show_counts(status)
        self._watcher.set_folders(watch_dirs or [])
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
        self._error_text = tr("Error: {error}", error=explain(err).text)
        self.progress_label.setText(self._error_text)

    # files left out ---------------------------------------------------------------------------
    def retry_files(self, paths: list[str]) -> None:
        """Read these failed files again now (progress and Cancel as for an index run)."""
        if paths and not self.is_indexing():
            self.start_index(lambda ctx: self._bridge.retry_files(paths, progress=ctx.progress,
                                                                   cancel=ctx.cancel))

    def ignore_files(self, paths: list[str], ignored: bool) -> None:
        """Ignore (persisted in the library) or stop ignoring; a file taken back is read at once."""
        def job(ctx) -> None:  # noqa: ANN001
            for path in paths:
                self._bridge.ignore_file(path, ignored)

        def done(_: object) -> None:
            self.refresh()
            if not ignored:
                self.start_index()
        if paths:
            self._runner.submit(job, on_result=done, on_error=self._error, name="ignore")

    # indexing ---------------------------------------------------------------------------------
    def is_indexing(self) -> bool:
        return self._task is not None and not self._task.is_done

    def start_index(self, job=None) -> None:  # noqa: ANN001 - a TaskRunner job; default: index all
        if self.is_indexing():
            self._pending = True  # a change arrived while indexing: run once more afterwards
            return
        self._pending = False
        self._error_text = ""
        self.last_progress = None
        self.estimator.reset()
        self.cancel_button.setEnabled(True)
        self.reindex_button.setEnabled(False)
        self.failed_view.set_busy(True)
        self.progress_bar.setRange(0, 0)
        self.progress_label.setText(tr("Starting…"))
        self._task = self._runner.submit(
            job or (lambda ctx: self._bridge.index(progress=ctx.progress, cancel=ctx.cancel)),
            on_result=self._index_done, on_error=self._index_failed, on_progress=self._show_progress,
            name="index")
        self._tick.start()
        self._live.start()

    def cancel_index(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self.cancel_button.setEnabled(False)
            self.progress_label.setText(tr("Cancelling… the files read so far are kept."))

    def _show_progress(self, progress: Progress) -> None:
        self.last_progress = progress
        self.estimator.update(progress.stage, progress.done, progress.total)
        if progress.total:
            self.progress_bar.setRange(0, progress.total)
            self.progress_bar.setValue(progress.done)
        else:
            self.progress_bar.setRange(0, 0)
        self._render_progress()

    def _render_progress(self) -> None:
        """Step n of 4: what · done / total · rate · time left in this step · current file."""
        progress = self.last_progress
        if progress is None or not self.is_indexing() or not self.cancel_button.isEnabled():
            return
        estimate = self.estimator.estimate()
        stage = tr(STAGES.get(progress.stage, progress.stage))
        if progress.stage in INDEX_STEPS:
            stage = tr("Step {n} of {m}: {stage}", n=INDEX_STEPS.index(progress.stage) + 1,
                       m=len(INDEX_STEPS), stage=stage)
        unit = tr(UNITS.get(progress.unit, progress.unit))
        parts = [stage]
        if progress.stage != "save":  # saving is one step: its "0 / 1" says nothing
            parts.append(f"{progress.done} / {progress.total} {unit}" if progress.total
                         else f"{progress.done} {unit}")
        if progress.total and progress.total > 1 and progress.stage != "save":
            if estimate.rate is not None:
                parts.append(tr("{rate:.1f} {unit}/s", rate=estimate.rate, unit=unit))
            if estimate.eta_s is None:
                parts.append(tr("estimating the time left…"))
            elif estimate.eta_s >= 1:
                parts.append(tr("about {eta} left in this step", eta=format_duration(estimate.eta_s)))
        if progress.message and progress.stage == "index":
            name = Path(progress.message).name
            if estimate.busy_s >= BUSY_NOTE_S:
                name = tr("{name} (reading for {time})", name=name,
                          time=format_duration(estimate.busy_s))
            parts.append(name)
        self.progress_label.setText(" · ".join(parts))

    def _finish(self) -> None:
        self._tick.stop()
        self._live.stop()
        self.cancel_button.setEnabled(False)
        self.reindex_button.setEnabled(True)
        self.failed_view.set_busy(False)
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
        self._error_text = tr("Indexing failed: {error}", error=explain(err).text)
        self.progress_label.setText(self._error_text)
        self._finish()

    def _report_text(self) -> str:
        """The last run's figures; the failed count is the library's, the same as the list's."""
        r = self.last_report
        failed = self.failed_view.failed_count()
        note = tr(" · {n} files could not be read (see below)", n=failed) if failed else ""
        if self._error_text:
            return self._error_text + note
        if r is None:
            return tr("The index is up to date when this bar is full.") + note
        text = tr("{added} added, {updated} updated, {removed} removed in {time}",
                  added=r.added, updated=r.updated, removed=r.removed,
                  time=format_duration(r.elapsed_s))
        return (tr("Cancelled — ") + text if r.cancelled else text) + note
