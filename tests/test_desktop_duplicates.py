"""The duplicate drawings window on the fake engine (pytest-qt, offscreen): opened from the Library
page, groups listed with thumbnails, double-click opens a drawing, Cancel stops, Japanese texts."""

from __future__ import annotations

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from desktop import open_external  # noqa: E402
from desktop.i18n import translator  # noqa: E402
from desktop.testing import FakeEngine  # noqa: E402
from engine.progress import Progress  # noqa: E402
from test_desktop import make_window  # noqa: E402
from test_desktop_library import _setup  # noqa: E402,F401  (autouse: the None guard, English before and after)

WAIT_MS = 10_000


def open_dialog(qtbot, tmp_path, engine: FakeEngine):
    window = make_window(qtbot, tmp_path, engine)
    window.go("library")
    window.library.duplicates_button.click()
    dialog = window.library.duplicates
    assert dialog is not None and dialog.isVisible()
    return window, dialog


def test_the_window_lists_groups_with_thumbnails_and_opens_a_drawing(qtbot, tmp_path, monkeypatch):
    opened = []
    monkeypatch.setattr(open_external, "open_at_page", lambda path, page=1: opened.append((path, page)) or True)
    window, dialog = open_dialog(qtbot, tmp_path, FakeEngine())
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=WAIT_MS)
    tree = dialog.tree
    assert tree.topLevelItemCount() == 2
    first = tree.topLevelItem(0)
    assert first.text(0) == "Group 1: 3 drawings, match 97 %"
    assert [first.child(i).text(0) for i in range(first.childCount())] == [
        "1258-B2P_bracket.pdf", "1258-B2P_scan.png", "IMG_0412.jpg"]
    assert first.child(1).text(2) == "Picture: scan or photo (text read by OCR)"
    assert "2 groups of near-identical drawings among 12 drawing pages" in dialog.status_label.text()
    assert first.toolTip(0) == ("Shared words: 1258-b2p, s45c, bracket · looks alike 0.93\n"
                                "Same geometry: 140 points line up")  # the photo joined by its geometry
    assert "geometry" not in tree.topLevelItem(1).toolTip(0)  # revisions grouped by their words alone
    qtbot.waitUntil(lambda: not first.child(0).icon(0).isNull(), timeout=WAIT_MS)  # its thumbnail

    assert not dialog.open_button.isEnabled()  # nothing chosen yet
    with qtbot.waitSignal(dialog.opened, timeout=WAIT_MS) as blocker:
        dialog.tree.itemDoubleClicked.emit(first.child(1), 0)
    assert blocker.args == ["/plant/scans/1258-B2P_scan.png", 1]
    assert opened == [("/plant/scans/1258-B2P_scan.png", 1)]
    tree.setCurrentItem(tree.topLevelItem(1).child(0))
    assert dialog.open_button.isEnabled() and dialog.folder_button.isEnabled()
    window.runner.wait(5000)


def test_cancel_stops_the_comparison(qtbot, tmp_path):
    window, dialog = open_dialog(qtbot, tmp_path, FakeEngine(index_step_s=0.5))
    assert dialog.is_running() and dialog.cancel_button.isEnabled()
    dialog.cancel_button.click()
    qtbot.waitUntil(lambda: not dialog.is_running(), timeout=WAIT_MS)
    assert dialog.report is None and dialog.tree.topLevelItemCount() == 0
    assert dialog.status_label.text() == "Stopped. Press Find duplicates to start again."
    assert dialog.find_button.isEnabled()
    window.runner.wait(5000)


def test_the_window_speaks_japanese(qtbot, tmp_path):
    window, dialog = open_dialog(qtbot, tmp_path, FakeEngine())
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=WAIT_MS)
    translator.set_language("ja")
    assert dialog.windowTitle() == "重複図面"
    assert window.library.duplicates_button.text() == "重複図面を探す…"
    assert dialog.tree.topLevelItem(0).text(0) == "グループ 1：図面 3 件、一致度 97 %"
    assert dialog.tree.topLevelItem(0).toolTip(0).endswith("\n形状が一致：140 点が重なる")
    assert dialog.status_label.text().startswith("図面 12 ページの中に")
    dialog._progress(Progress("geometry", 3, 40, "pairs"))
    assert dialog.status_label.text() == "図面の形状を確認中：3 / 40 組"
    window.runner.wait(5000)


def test_progress_names_each_step(qtbot, tmp_path):
    window, dialog = open_dialog(qtbot, tmp_path, FakeEngine())
    qtbot.waitUntil(lambda: dialog.report is not None, timeout=WAIT_MS)
    for progress, text in [(Progress("duplicates", 5, 12, "pages"), "Comparing drawings: 5 / 12 pages"),
                           (Progress("duplicates", 7, 90, "pairs"), "Comparing drawings: 7 / 90 pairs"),
                           (Progress("geometry", 3, 40, "pairs"), "Checking the drawings' geometry: 3 / 40 pairs")]:
        dialog._progress(progress)
        assert dialog.status_label.text() == text and dialog.progress_bar.value() == progress.done
    window.runner.wait(5000)
