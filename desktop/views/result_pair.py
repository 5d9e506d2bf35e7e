"""One or two titled result lists: "Related documents" over "Similar drawings", or "Results"."""

from __future__ import annotations

from typing import Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from desktop.i18n import tr
from desktop.views.labels import ElidedLabel
from desktop.views.result_list import ResultListView
from engine.types import Hit

EMPTY_LIST_PX = 110  # an empty list keeps room for its "nothing found" line


class ResultPairView(QSplitter):
    def __init__(self) -> None:
        super().__init__(Qt.Orientation.Vertical)
        self.mode = ""  # "keyword" | "file" | "similar"
        self.query_label = ""
        self.first_title, self.second_title = (ElidedLabel(mode=Qt.TextElideMode.ElideRight) for _ in range(2))
        self.first_list, self.second_list = ResultListView(), ResultListView()
        for title, view in ((self.first_title, self.first_list), (self.second_title, self.second_list)):
            title.setObjectName("ListTitle")
            box = QWidget()
            layout = QVBoxLayout(box)
            layout.setContentsMargins(0, 0, 0, 0)
            layout.addWidget(title)
            layout.addWidget(view, 1)
            self.addWidget(box)
        self.first_list.switch_requested.connect(lambda: self._focus_other(self.second_list))
        self.second_list.switch_requested.connect(lambda: self._focus_other(self.first_list))

    def set_mode(self, mode: str) -> None:
        """Detailed rows, compact rows or a thumbnail grid, for both lists."""
        for view in self.lists():
            view.set_mode(mode)

    def lists(self) -> tuple[ResultListView, ResultListView]:
        return self.first_list, self.second_list

    def show_hits(self, mode: str, query_label: str, first: Sequence[Hit], second: Sequence[Hit]) -> None:
        self.mode, self.query_label = mode, query_label
        self.widget(1).setVisible(mode in ("file", "similar"))  # Engine.similar: documents and drawings
        self.first_list.set_hits(first)
        self.second_list.set_hits(second)
        self.retranslate()

    def share_space(self) -> None:
        """Two lists split the height; an empty one shrinks to its "nothing found" line."""
        total = max(400, self.height())
        first, second = self.first_list.total(), self.second_list.total()
        if first and not second:
            self.setSizes([total - EMPTY_LIST_PX, EMPTY_LIST_PX])
        elif second and not first:
            self.setSizes([EMPTY_LIST_PX, total - EMPTY_LIST_PX])
        else:
            self.setSizes([total // 2, total // 2])

    def clear_hits(self, why: str = "") -> None:
        """Empty both lists (a new search runs, or the last one failed); `why` is shown in them."""
        self.first_list.set_hits(())
        self.second_list.set_hits(())
        self.retranslate()
        if why:
            self.first_list.empty_text = self.second_list.empty_text = why

    def clear_selection(self) -> None:
        for view in self.lists():
            view.clear_selection()

    def select_hit(self, hit: Hit) -> bool:
        """Select `hit` where it is listed; False when neither list shows it."""
        for view in self.lists():
            for row, listed in enumerate(view.shown_hits()):
                if (listed.doc_id, listed.page) == (hit.doc_id, hit.page) and view.isVisibleTo(self):
                    if view.currentRow() != row:
                        view.setCurrentRow(row)
                    return True
        return False

    def select_first(self) -> None:
        view = self.first_list if self.first_list.count() else self.second_list
        if view.count():
            view.setCurrentRow(0)

    def focus_results(self) -> None:
        self._focus(self.first_list if self.first_list.count() else self.second_list)

    def _focus_other(self, view: ResultListView) -> None:
        if view.isVisible() and view.count():
            self._focus(view)

    @staticmethod
    def _focus(view: ResultListView) -> None:
        view.setFocus()
        if view.currentRow() < 0 and view.count():
            view.setCurrentRow(0)

    def retranslate(self) -> None:
        file_mode = self.mode == "file"
        self.first_list.empty_text = tr("No related documents found.") if file_mode else tr("Nothing found.")
        self.second_list.empty_text = tr("No similar drawings found.")
        first, second = self.first_list.total(), self.second_list.total()
        if file_mode:
            self.first_title.setText(tr("Related documents ({n})", n=first))
            self.second_title.setText(tr("Similar drawings ({n})", n=second))
        elif self.mode == "similar":
            self.first_title.setText(tr("More like “{query}” ({n})", query=self.query_label, n=first))
            self.second_title.setText(tr("Similar drawings ({n})", n=second))
        else:
            self.first_title.setText(tr("Results ({n})", n=first))
        self.first_list.retranslate()
        self.second_list.retranslate()
        self.first_list.viewport().update()
        self.second_list.viewport().update()
