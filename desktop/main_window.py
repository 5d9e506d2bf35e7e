"""The main window: navigation (Search, Library, Model, Settings), shortcuts, status bar."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QEvent, QObject, QSize, Qt
from PySide6.QtGui import QCloseEvent, QKeyEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractSpinBox, QApplication, QHBoxLayout, QLineEdit, QListWidget,
                               QListWidgetItem, QMainWindow, QMessageBox, QStackedWidget, QWidget)

from desktop.engine_bridge import EngineBridge
from desktop.folder_watcher import FolderWatcher
from desktop.i18n import N_, tr, translator
from desktop.settings import AppSettings
from desktop.style import apply_appearance
from desktop.views.formatting import icon
from desktop.views.history import Pins
from desktop.views.library_pane import LibraryPane
from desktop.views.model_pane import ModelPane
from desktop.views.search_pane import SearchPane
from desktop.views.settings_pane import SettingsPane
from desktop.workers import TaskRunner

PAGES = (("search", N_("Search")), ("library", N_("Library")), ("model", N_("Model")),
         ("settings", N_("Settings")))
SHORTCUTS = (
    ("Ctrl+F", N_("Go to the search box")), ("Enter", N_("Search for the typed words")),
    ("Ctrl+O", N_("Open a drawing or document to search with")),
    ("Ctrl+V", N_("Search with the picture or file on the clipboard")),
    ("Ctrl+L", N_("Go to the results")), ("↑ ↓", N_("Move through the results")),
    ("← →", N_("Switch between the two result lists")), ("Enter", N_("Open the result in its viewer")),
    ("+ / −", N_("Mark the result good / wrong")), ("Ctrl+M", N_("More like this")),
    ("Ctrl++ / Ctrl+− / Ctrl+0", N_("Zoom in / out / fit the page")),
    ("F3 / Shift+F3", N_("Zoom to the next / previous matched region")),
    ("Alt+← / Alt+→", N_("Back / forward through your searches")),
    ("Ctrl+← →", N_("Switch lists in the thumbnail grid")),
    ("Ctrl+1 … Ctrl+4", N_("Search, Library, Model, Settings")), ("F5", N_("Update the index now")),
    ("Esc", N_("Stop the running search")), ("F1", N_("This list")))


class MainWindow(QMainWindow):
    def __init__(self, bridge: EngineBridge, runner: TaskRunner, settings: AppSettings,
                 repo_root: str | None = None) -> None:
        super().__init__()
        self.bridge, self.runner, self.settings = bridge, runner, settings
        self.watcher = FolderWatcher(settings.get("library/poll_minutes"))
        self.watcher.set_enabled(settings.get("library/watch"))
        self.search = SearchPane(bridge, runner)
        self.library = LibraryPane(bridge, runner, self.watcher)
        self.model = ModelPane(bridge, runner, repo_root)
        self.settings_pane = SettingsPane(settings)
        self.index_if_empty = False

        self.nav = QListWidget()
        self.nav.setObjectName("NavList")
        self.nav.setIconSize(QSize(28, 28))
        self.nav.setFixedWidth(200)  # widened to its entries by _fit_nav
        self.nav.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.stack = QStackedWidget()
        for (key, _), pane in zip(PAGES, (self.search, self.library, self.model, self.settings_pane)):
            item = QListWidgetItem(icon(key, "#ffffff"), "")
            self.nav.addItem(item)
            self.stack.addWidget(pane)
        self.nav.currentRowChanged.connect(self._page_changed)
        self.nav.setCurrentRow(0)
        central = QWidget()
        layout = QHBoxLayout(central)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.nav)
        layout.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self.resize(1400, 900)
        geometry = settings.get("ui/window_geometry")
        if geometry:
            self.restoreGeometry(QByteArray.fromBase64(geometry.encode("ascii")))

        self.search.set_pins(Pins(settings.get("ui/pins"), save=lambda text: settings.set("ui/pins", text)))
        self.search.filters.set_view_mode(settings.get("ui/result_view"))
        self.search.filters.view_changed.connect(lambda mode: settings.set("ui/result_view", mode))
        self.search.status_message.connect(lambda text: self.statusBar().showMessage(text, 8000))
        self.library.status_loaded.connect(self._status_loaded)
        self.library.folders_changed.connect(self.search.filters.set_folders)
        self.library.indexing_finished.connect(lambda r: self.statusBar().showMessage(
            tr("Index updated: {n} new or changed files", n=r.added + r.updated), 8000))
        self.model.packs_loaded.connect(self.settings_pane.set_packs)
        self.settings.changed.connect(self._setting_changed)
        translator.language_changed.connect(self._language_changed)  # bound: disconnects on delete
        self._install_shortcuts()
        for kind in (QLineEdit, QAbstractSpinBox):  # Ctrl+V with a picture, in any text field
            for field in self.findChildren(kind):
                field.installEventFilter(self)
        self.retranslate()

    def start(self) -> None:
        """First loads, off the GUI thread."""
        self.library.refresh()
        self.model.refresh()

    def _status_loaded(self, status) -> None:  # noqa: ANN001
        self.model.set_status(status)
        if self.index_if_empty and status.documents == 0 and not self.library.is_indexing():
            self.index_if_empty = False
            self.statusBar().showMessage(tr("Indexing the library for the first time…"))
            self.library.start_index()

    def _page_changed(self, row: int) -> None:
        """Show the page; Library and Model reload their figures (off the GUI thread)."""
        self.stack.setCurrentIndex(row)
        pane = self.stack.widget(row)
        if pane is self.model and self.bridge.is_open():
            self.model.refresh()
        elif pane is self.library and self.bridge.is_open() and not self.library.is_indexing():
            self.library.refresh()

    def go(self, page: str) -> None:
        self.nav.setCurrentRow([key for key, _ in PAGES].index(page))

    # shortcuts ------------------------------------------------------------------------------
    def _install_shortcuts(self) -> None:
        def add(keys: str | QKeySequence, slot) -> None:  # noqa: ANN001
            QShortcut(QKeySequence(keys), self, slot, context=Qt.ShortcutContext.WindowShortcut)
        add("Ctrl+F", self.focus_search)
        add("Ctrl+O", lambda: (self.go("search"), self.search.choose_file()))
        add(QKeySequence.StandardKey.Paste, self.paste)
        add("Ctrl+L", lambda: (self.go("search"), self.search.focus_results()))
        add("Ctrl+M", lambda: self.search.preview.hit and self.search.run_similar(self.search.preview.hit))
        add("Ctrl++", lambda: self.search.preview._zoom(1.25))
        add("Ctrl+=", lambda: self.search.preview._zoom(1.25))
        add("Ctrl+-", lambda: self.search.preview._zoom(0.8))
        add("Ctrl+0", self.search.preview.fit_pages)
        add(QKeySequence.StandardKey.Back, self.search.go_back)
        add(QKeySequence.StandardKey.Forward, self.search.go_forward)
        add("F3", lambda: self.search.preview.step_region(+1))
        add("Shift+F3", lambda: self.search.preview.step_region(-1))
        add("F5", self.library.start_index)
        add("Esc", self.search.stop)
        add("F1", self.show_shortcuts)
        for i in range(len(PAGES)):
            add(f"Ctrl+{i + 1}", lambda i=i: self.nav.setCurrentRow(i))

    def focus_search(self) -> None:
        self.go("search")
        self.search.search_box.setFocus()
        self.search.search_box.selectAll()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        """A text field takes Ctrl+V for itself (its ShortcutOverride), so the window's paste
        shortcut never saw a picture pasted while the search box had focus. When the clipboard
        holds a picture or a file to search with, refuse the override: the shortcut runs."""
        if (event.type() == QEvent.Type.ShortcutOverride
                and isinstance(event, QKeyEvent) and event.matches(QKeySequence.StandardKey.Paste)
                and self.search.clipboard_searchable()):
            event.ignore()
            return True
        return super().eventFilter(watched, event)

    def paste(self) -> None:
        """Ctrl+V anywhere: a picture or a copied file searches; text goes into the search box."""
        self.go("search")
        self.search.paste()

    def show_shortcuts(self) -> None:
        rows = "".join(f"<tr><td><b>{keys}</b></td><td>&nbsp;&nbsp;{tr(text)}</td></tr>" for keys, text in SHORTCUTS)
        QMessageBox.information(self, tr("Keyboard shortcuts"), f"<table>{rows}</table>")

    # settings and language ------------------------------------------------------------------
    def _setting_changed(self, key: str, value: object) -> None:
        if key == "ui/language":
            translator.set_language(str(value))
        elif key in ("ui/font_pt", "ui/touch_mode"):
            apply_appearance(QApplication.instance(), self.settings.get("ui/font_pt"),
                             self.settings.get("ui/touch_mode"))
            self._fit_nav()
        elif key == "library/watch":
            self.watcher.set_enabled(bool(value))
            self.library.watch_check.setChecked(bool(value))
        elif key == "library/poll_minutes":
            self.watcher.set_poll_minutes(int(value))

    def _language_changed(self, _lang: str) -> None:
        self.statusBar().clearMessage()  # a message shown in the old language would stay for seconds
        self.retranslate()

    def retranslate(self) -> None:
        self.setWindowTitle(tr("Zumen — drawing and document search"))
        for row, (_, label) in enumerate(PAGES):
            self.nav.item(row).setText(tr(label))
        for pane in (self.search, self.library, self.model, self.settings_pane):
            pane.retranslate()
        self._fit_nav()

    def _fit_nav(self) -> None:
        """The side menu as wide as its widest entry (at least 200 px): never a sideways scrollbar."""
        self.nav.setFixedWidth(max(200, self.nav.sizeHintForColumn(0) + 2 * self.nav.frameWidth()))

    def closeEvent(self, event: QCloseEvent) -> None:
        self.settings.set("ui/window_geometry", bytes(self.saveGeometry().toBase64()).decode("ascii"))
        self.runner.cancel_all()
        self.library.cancel_index()
        self.model.worker.cancel()
        self.runner.wait(5000)
        self.bridge.close()
        super().closeEvent(event)
