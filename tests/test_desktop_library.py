"""The Library page on the fake engine (pytest-qt, offscreen): live counts while indexing, failed
counts that agree with the list, Retry / Open / Ignore / Stop ignoring, skipped file types."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from desktop.compat import guard_none_refcount  # noqa: E402
from desktop.i18n import translator  # noqa: E402
from desktop.testing import FakeEngine  # noqa: E402
from engine.types import FailedFile  # noqa: E402
from test_desktop import make_window  # noqa: E402

WAIT_MS = 10_000
BROKEN = [FailedFile(f"/plant/scans/scan_{i}.png", "not a readable image", "2026-11-30T09:00:00")
          for i in range(3)] + [FailedFile("/plant/specs/fixed_later.pdf", "the PDF is password-protected", "")]


@pytest.fixture(autouse=True)
def _setup(qapp):
    guard_none_refcount()
    translator.set_language("en")
    yield
    translator.set_language("en")


@pytest.fixture
def engine() -> FakeEngine:
    fake = FakeEngine()
    fake.failed = list(BROKEN)
    return fake


@pytest.fixture
def library(qtbot, tmp_path, engine):
    window = make_window(qtbot, tmp_path, engine)
    window.go("library")
    with qtbot.waitSignal(window.library.status_loaded, timeout=WAIT_MS):
        window.library.refresh()
    yield window.library
    window.runner.cancel_all()
    window.runner.wait(5000)


def select_failed(library, *names: str) -> None:
    table = library.failed_table
    library.failed_view.select_paths([table.item(row, 0).text() for row in range(table.rowCount())
                                      if Path(table.item(row, 0).text()).name in names])


def test_document_counts_grow_while_the_first_index_runs(qtbot, tmp_path):
    engine = FakeEngine(index_files=60, index_step_s=0.05)
    window = make_window(qtbot, tmp_path, engine)
    library = window.library
    library.start_index()
    documents = library.status_labels["documents"][1]
    qtbot.waitUntil(lambda: documents.text().isdigit() and int(documents.text()) > 6 + 5, timeout=WAIT_MS)
    assert library.is_indexing()  # the count moved before the run ended
    with qtbot.waitSignal(library.indexing_finished, timeout=WAIT_MS):
        pass
    qtbot.waitUntil(lambda: documents.text() == str(6 + 60), timeout=WAIT_MS)


def test_the_failed_count_always_matches_the_list(qtbot, library, engine):
    with qtbot.waitSignal(library.indexing_finished, timeout=WAIT_MS) as blocker:
        library.start_index()
    assert blocker.args[0].failed == 0  # nothing new failed in this run…
    qtbot.waitUntil(lambda: "4 files could not be read" in library.progress_label.text(), timeout=WAIT_MS)
    assert library.failed_table.rowCount() == 4  # …but four files of the library did, and say so
    assert library.failed_view.tabText(0) == "Could not be read (4)"
    assert "0 failed" not in library.progress_label.text()


def test_ignore_removes_a_file_from_the_failed_list_and_stop_ignoring_brings_it_back(qtbot, library, engine):
    view = library.failed_view
    assert not view.ignore_button.isEnabled()  # nothing selected yet
    select_failed(library, "scan_0.png", "scan_1.png")
    assert view.ignore_button.isEnabled()
    with qtbot.waitSignal(library.status_loaded, timeout=WAIT_MS):
        view.ignore_button.click()
    assert engine.ignored == ["/plant/scans/scan_0.png", "/plant/scans/scan_1.png"]
    assert library.failed_table.rowCount() == 2 and view.tabText(0) == "Could not be read (2)"
    assert view.ignored_list.count() == 2 and view.tabText(1) == "Ignored (2)"
    assert "2 files could not be read" in library.progress_label.text()
    view.ignored_list.item(0).setSelected(True)
    with qtbot.waitSignal(library.indexing_finished, timeout=WAIT_MS):  # taken back: read at once
        view.unignore_button.click()
    assert engine.ignored == ["/plant/scans/scan_1.png"]
    qtbot.waitUntil(lambda: view.ignored_list.count() == 1, timeout=WAIT_MS)


def test_try_again_reads_only_the_selected_files(qtbot, library, engine):
    select_failed(library, "fixed_later.pdf")
    with qtbot.waitSignal(library.indexing_finished, timeout=WAIT_MS) as blocker:
        library.failed_view.retry_button.click()
    assert blocker.args[0].added == 1
    assert "retry_files" in engine.calls and engine.calls.count("index") == 0
    qtbot.waitUntil(lambda: library.failed_table.rowCount() == 3, timeout=WAIT_MS)
    assert "3 files could not be read" in library.progress_label.text()


def test_try_again_waits_for_a_running_index(qtbot, tmp_path):
    engine = FakeEngine(index_files=200, index_step_s=0.01)
    engine.failed = list(BROKEN)
    window = make_window(qtbot, tmp_path, engine)
    library = window.library
    with qtbot.waitSignal(library.status_loaded, timeout=WAIT_MS):
        library.refresh()
    library.start_index()
    select_failed(library, "fixed_later.pdf")
    assert not library.failed_view.retry_button.isEnabled()  # one writer at a time
    assert library.failed_view.ignore_button.isEnabled()
    with qtbot.waitSignal(library.indexing_finished, timeout=WAIT_MS):
        library.cancel_index()
    assert library.failed_view.retry_button.isEnabled()
    window.runner.wait(5000)


def test_open_and_show_in_folder_hand_the_file_to_the_system(qtbot, library, monkeypatch):
    import desktop.views.failed_files as failed_files
    opened, shown = [], []
    monkeypatch.setattr(failed_files, "open_at_page", lambda path, page=1: opened.append(path) or True)
    monkeypatch.setattr(failed_files, "show_in_folder", lambda path: shown.append(path) or True)
    select_failed(library, "scan_2.png")
    library.failed_view.open_button.click()
    library.failed_view.folder_button.click()
    assert opened == shown == ["/plant/scans/scan_2.png"]


def test_skipped_file_types_are_listed_per_extension(library):
    view = library.failed_view
    assert view.tabText(2) == "Skipped file types (15)"
    rows = [(view.skipped_table.item(r, 0).text(), view.skipped_table.item(r, 1).text())
            for r in range(view.skipped_table.rowCount())]
    assert rows == [(".dwg", "12"), (".step", "3")]
    assert "1258-B2P.dwg" in view.skipped_table.item(0, 2).text()


def test_reasons_follow_the_language_and_keep_the_engines_words_in_the_tooltip(library):
    table = library.failed_table
    row = next(r for r in range(table.rowCount()) if table.item(r, 0).text().endswith("fixed_later.pdf"))
    assert table.item(row, 1).text().startswith("The PDF is protected by a password")
    translator.set_language("ja")
    assert "パスワード" in table.item(row, 1).text()
    assert table.item(row, 1).toolTip() == "the PDF is password-protected"
    assert library.failed_view.tabText(0) == "読み取れなかったファイル（4）"


def test_each_step_is_named_with_translated_units(qtbot, tmp_path):
    from engine.progress import Progress
    engine = FakeEngine(index_files=400, index_step_s=0.02)
    window = make_window(qtbot, tmp_path, engine)
    library = window.library
    translator.set_language("ja")
    library.start_index()
    library._show_progress(Progress("embed", 64, 320, "items"))
    assert library.progress_label.text().startswith("手順 3/4：")
    assert "64 / 320 件" in library.progress_label.text() and "items" not in library.progress_label.text()
    library._show_progress(Progress("save", 0, 1, "steps"))
    assert library.progress_label.text() == "手順 4/4：索引を保存しています"
    with qtbot.waitSignal(library.indexing_finished, timeout=WAIT_MS):
        library.cancel_index()
    window.runner.wait(5000)
