"""The files the library left out, in three tabs: could not be read (Retry, Open, Show in folder,
Ignore), ignored by the user (Stop ignoring), and the file types the scanner skipped."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, Qt, Signal
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QHeaderView, QLabel, QListWidget,
                               QListWidgetItem, QPushButton, QStyledItemDelegate, QStyleOptionViewItem,
                               QTableWidget,
                               QTableWidgetItem,
                               QTabWidget, QVBoxLayout, QWidget)

from desktop.errors import explain_reason
from desktop.i18n import tr
from desktop.open_external import open_at_page, show_in_folder
from engine.types import LibraryStatus


def _table(columns: int) -> QTableWidget:
    table = QTableWidget(0, columns)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().setVisible(False)
    table.setItemDelegateForColumn(0, _PathDelegate(table))
    return table


class _PathDelegate(QStyledItemDelegate):
    """Paths stay on one line, shortened in the middle, so the file name stays in view."""

    def initStyleOption(self, option, index) -> None:  # noqa: ANN001, N802 - Qt API
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle
        option.features &= ~QStyleOptionViewItem.ViewItemFeature.WrapText


def _fill(table: QTableWidget, rows: list[tuple[str, ...]], keys: list[str],
          tips: dict[tuple[int, int], str] | None = None) -> None:
    table.setRowCount(len(rows))
    for row, texts in enumerate(rows):
        for col, text in enumerate(texts):
            item = QTableWidgetItem(text)
            item.setToolTip((tips or {}).get((row, col), text))
            item.setData(Qt.ItemDataRole.UserRole, keys[row])
            table.setItem(row, col, item)


class FailedFilesView(QTabWidget):
    retry_requested = Signal(list)  # paths to read again
    ignore_requested = Signal(list, bool)  # paths, ignored (False: take them back)

    def __init__(self) -> None:
        super().__init__()
        self.status: LibraryStatus | None = None
        self._busy = False

        self.failed_table = _table(3)
        self.failed_table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        header = self.failed_table.horizontalHeader()
        for col in (0, 1):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.failed_table.setWordWrap(True)  # the reason says what to do: shown whole
        self.failed_table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.failed_hint = QLabel()
        self.failed_hint.setObjectName("Hint")
        self.failed_hint.setWordWrap(True)
        self.retry_button, self.open_button, self.folder_button, self.ignore_button = (
            QPushButton() for _ in range(4))
        self.failed_page = self._page(self.failed_hint, self.failed_table,
                                      (self.retry_button, self.open_button, self.folder_button,
                                       self.ignore_button))

        self.ignored_list = QListWidget()
        self.ignored_list.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.ignored_list.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.ignored_hint = QLabel()
        self.ignored_hint.setObjectName("Hint")
        self.ignored_hint.setWordWrap(True)
        self.unignore_button = QPushButton()
        self.ignored_page = self._page(self.ignored_hint, self.ignored_list, (self.unignore_button,))

        self.skipped_table = _table(3)
        self.skipped_table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        self.skipped_hint = QLabel()
        self.skipped_hint.setObjectName("Hint")
        self.skipped_hint.setWordWrap(True)
        self.skipped_page = self._page(self.skipped_hint, self.skipped_table, ())
        for page in (self.failed_page, self.ignored_page, self.skipped_page):
            self.addTab(page, "")

        self.retry_button.clicked.connect(lambda: self.retry_requested.emit(self.selected_failed()))
        self.ignore_button.clicked.connect(lambda: self.ignore_requested.emit(self.selected_failed(), True))
        self.unignore_button.clicked.connect(lambda: self.ignore_requested.emit(self.selected_ignored(), False))
        self.open_button.clicked.connect(lambda: [open_at_page(p) for p in self.selected_failed()[:5]])
        self.folder_button.clicked.connect(lambda: [show_in_folder(p) for p in self.selected_failed()[:1]])
        self.failed_table.itemSelectionChanged.connect(self._update_buttons)
        self.failed_table.itemDoubleClicked.connect(lambda item: open_at_page(
            item.data(Qt.ItemDataRole.UserRole)))
        self.ignored_list.itemSelectionChanged.connect(self._update_buttons)
        self.retranslate()

    @staticmethod
    def _page(hint: QLabel, view: QWidget, buttons: tuple[QPushButton, ...]) -> QWidget:
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.addWidget(hint)
        layout.addWidget(view, 1)
        if buttons:
            row = QHBoxLayout()
            for button in buttons:
                row.addWidget(button)
            row.addStretch(1)
            layout.addLayout(row)
        return page

    def retranslate(self) -> None:
        self.failed_table.setHorizontalHeaderLabels([tr("File"), tr("Reason"), tr("When")])
        self.skipped_table.setHorizontalHeaderLabels([tr("Type"), tr("Files"), tr("For example")])
        self.failed_hint.setText(tr("Select files, then read them again (after fixing them), open "
                                    "them, or ignore them: ignored files are left out of every "
                                    "later update."))
        self.ignored_hint.setText(tr("These files are left out of the library. Stop ignoring a file "
                                     "to read it at the next update."))
        self.skipped_hint.setText(tr("Zumen cannot read these types of file, so the scan passed over "
                                     "them."))
        self.retry_button.setText(tr("Try again"))
        self.open_button.setText(tr("Open"))
        self.folder_button.setText(tr("Show in folder"))
        self.ignore_button.setText(tr("Ignore"))
        self.unignore_button.setText(tr("Stop ignoring"))
        self._update_titles()
        if self.status is not None:
            self._fill_failed(self.status)
            self._fill_skipped(self.status)

    # contents ---------------------------------------------------------------------------------
    def set_status(self, status: LibraryStatus) -> None:
        """Fill the three tabs from one status, so counts and rows always agree."""
        old = self.status
        self.status = status
        if old is None or old.failed != status.failed:
            self._fill_failed(status)
        if old is None or old.ignored != status.ignored:
            self.ignored_list.clear()
            for path in status.ignored:
                item = QListWidgetItem(path)
                item.setToolTip(path)
                self.ignored_list.addItem(item)
        if old is None or old.skipped_types != status.skipped_types:
            self._fill_skipped(status)
        self._update_titles()
        self._update_buttons()

    def _fill_failed(self, status: LibraryStatus) -> None:
        """Reasons in the UI language with what to do next; the engine's words in the tooltip."""
        selected = set(self.selected_failed())
        reasons = [explain_reason(f.reason) for f in status.failed]
        _fill(self.failed_table, [(f.path, why.text, f.when[:16].replace("T", " "))
                                  for f, why in zip(status.failed, reasons)],
              [f.path for f in status.failed],
              {(row, 1): why.detail for row, why in enumerate(reasons)})
        self.select_paths(selected)

    def _fill_skipped(self, status: LibraryStatus) -> None:
        types = status.skipped_types
        _fill(self.skipped_table, [(s.extension or tr("(no extension)"), str(s.count),
                                    "  ·  ".join(s.examples)) for s in types],
              [s.extension for s in types])
        for row in range(self.skipped_table.rowCount()):
            self.skipped_table.item(row, 1).setTextAlignment(
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.skipped_table.resizeColumnToContents(0)
        self.skipped_table.resizeColumnToContents(1)

    def failed_count(self) -> int:
        return len(self.status.failed) if self.status else 0

    def _update_titles(self) -> None:
        s = self.status
        self.setTabText(0, tr("Could not be read ({n})", n=len(s.failed) if s else 0))
        self.setTabText(1, tr("Ignored ({n})", n=len(s.ignored) if s else 0))
        self.setTabText(2, tr("Skipped file types ({n})",
                              n=sum(t.count for t in s.skipped_types) if s else 0))

    def set_busy(self, busy: bool) -> None:
        """While the library is indexing, files cannot be read again (one writer at a time)."""
        self._busy = busy
        self._update_buttons()

    def _update_buttons(self) -> None:
        has_failed = bool(self.failed_table.selectionModel().selectedRows())
        self.retry_button.setEnabled(has_failed and not self._busy)
        for button in (self.open_button, self.folder_button, self.ignore_button):
            button.setEnabled(has_failed)
        self.unignore_button.setEnabled(bool(self.ignored_list.selectedItems()))

    def select_paths(self, paths: set[str] | list[str]) -> None:
        """Select the failed files with these paths (and no others)."""
        table, wanted = self.failed_table, set(paths)
        table.clearSelection()
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        for row in range(table.rowCount()):
            if table.item(row, 0).data(Qt.ItemDataRole.UserRole) in wanted:
                table.selectionModel().select(table.model().index(row, 0), flags)

    def selected_failed(self) -> list[str]:
        rows = sorted(index.row() for index in self.failed_table.selectionModel().selectedRows())
        return [self.failed_table.item(row, 0).data(Qt.ItemDataRole.UserRole) for row in rows]

    def selected_ignored(self) -> list[str]:
        return [item.text() for item in self.ignored_list.selectedItems()]
