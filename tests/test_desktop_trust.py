"""Desktop defects that broke a user's trust in the first hour (issue #9), one test each.

pytest-qt on the fake engine, offscreen; waits on signals, never sleeps.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QMimeData, Qt, QUrl  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage  # noqa: E402
from test_desktop import (WAIT_MS, _none_guard, drop_file, english, make_window,  # noqa: E402,F401
                          select_hit_with_other_pages)

from desktop.i18n import translator  # noqa: E402
from desktop.testing import FakeEngine  # noqa: E402
from engine.errors import ExtractionError  # noqa: E402

LONG_REASON = ("cannot open broken file: " + "/".join(["very_long_folder_name_without_spaces"] * 12)
               + "/drawing.pdf: " + "x" * 300)


class BrokenFileEngine(FakeEngine):
    """Fails every query file whose name says "corrupt", the way a damaged PDF does."""

    def search_file(self, path, **kwargs):  # noqa: ANN001, ANN003
        if "corrupt" in Path(path).name:
            self._wait("search_file")
            raise ExtractionError(path, LONG_REASON)
        return super().search_file(path, **kwargs)


@pytest.fixture
def window(qtbot, tmp_path):
    win = make_window(qtbot, tmp_path, BrokenFileEngine())
    yield win
    win.runner.cancel_all()
    win.runner.wait(5000)


def search_file(qtbot, window, path: Path) -> None:
    with qtbot.waitSignal(window.search.results_shown, timeout=WAIT_MS):
        window.search.run_file(path)


@pytest.mark.parametrize("lang", ["en", "ja"])
def test_a_long_error_never_widens_the_window(qtbot, window, tmp_path, lang):
    translator.set_language(lang)
    window.resize(1440, 900)
    qtbot.waitUntil(lambda: window.width() == 1440)
    with qtbot.waitSignal(window.search.status_message, timeout=WAIT_MS):
        drop_file(window.search.drop_zone, tmp_path / "corrupt.pdf")
    qtbot.wait(50)  # let the layout settle
    assert window.search.status.text().startswith(("Search failed", "検索"))
    assert window.width() == 1440
    assert window.minimumSizeHint().width() < 1280, "a message forces the window wider"
    assert LONG_REASON in window.search.status.label.toolTip()  # the whole message stays readable


def test_long_titles_and_paths_do_not_widen_the_window(qtbot, window, tmp_path):
    long_name = "A" * 60 + "_" + "B" * 60 + ".pdf"
    search_file(qtbot, window, tmp_path / long_name)
    window.search.run_similar(window.search.first_list.hits()[0])
    qtbot.waitUntil(lambda: window.search.first_title.text().startswith("More like"), timeout=WAIT_MS)
    assert window.minimumSizeHint().width() < 1280


def test_ctrl_v_with_a_picture_searches_even_from_the_search_box(qtbot, window):
    image = QImage(64, 48, QImage.Format.Format_RGB32)
    image.fill(0xFFFFFF)
    QGuiApplication.clipboard().setImage(image)
    box = window.search.search_box
    window.activateWindow()
    box.setFocus()
    qtbot.waitUntil(box.hasFocus)
    with qtbot.waitSignal(window.search.results_shown, timeout=WAIT_MS) as blocker:
        qtbot.keyClick(box, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert blocker.args == ["file"] and "search_image" in window.bridge.engine.calls
    assert box.text() == ""


def test_ctrl_v_with_a_copied_drawing_file_searches_with_it(qtbot, window, tmp_path):
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tmp_path / "1258-B2P.pdf"))])
    mime.setText(str(tmp_path / "1258-B2P.pdf"))  # file managers put the path as text too
    QGuiApplication.clipboard().setMimeData(mime)
    window.search.search_box.setFocus()
    with qtbot.waitSignal(window.search.results_shown, timeout=WAIT_MS):
        qtbot.keyClick(window.search.search_box, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert window.search.query_key == str(tmp_path / "1258-B2P.pdf")


def test_ctrl_v_with_text_stays_text_in_the_search_box(qtbot, window):
    QGuiApplication.clipboard().setText("S45C 焼入れ")
    box = window.search.search_box
    box.setFocus()
    qtbot.keyClick(box, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert box.text() == "S45C 焼入れ"
    assert "search_image" not in window.bridge.engine.calls and "search" not in window.bridge.engine.calls


def test_a_failed_drop_clears_the_old_results_and_preview(qtbot, window, tmp_path):
    search = window.search
    search_file(qtbot, window, tmp_path / "1258-B2P.pdf")
    doc = next(i for i, h in enumerate(search.first_list.hits()) if h.other_pages)
    search.first_list.setCurrentRow(doc)
    assert search.preview.page_combo.isVisibleTo(search.preview)
    with qtbot.waitSignal(search.status_message, timeout=WAIT_MS):
        drop_file(search.drop_zone, tmp_path / "corrupt.pdf")
    assert search.first_list.count() == 0 and search.second_list.count() == 0
    assert search.preview.hit is None
    assert not search.preview.page_combo.isVisibleTo(search.preview)  # no stale "Page 2 (best match)"


def test_a_new_query_clears_the_old_answer_while_it_runs(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path, FakeEngine(delay_s=0.3))
    search = window.search
    search_file(qtbot, window, tmp_path / "1258-B2P.pdf")
    assert search.first_list.count() == 3
    search.run_file(tmp_path / "other.pdf")
    assert search.first_list.count() == 0 and search.second_list.count() == 0
    assert search.preview.hit is None and search.first_list.empty_text == "Searching…"
    qtbot.waitSignal(search.results_shown, timeout=WAIT_MS).wait()
    window.runner.wait(5000)


def test_only_one_list_has_a_selected_row(qtbot, window, tmp_path):
    search = window.search
    search_file(qtbot, window, tmp_path / "1258-B2P.pdf")
    assert search.first_list.currentRow() == 0
    search.second_list.setCurrentRow(1)
    assert search.first_list.currentRow() == -1 and not search.first_list.selectedItems()
    assert search.preview.hit == search.second_list.hits()[1]
    search.first_list.setCurrentRow(2)
    assert search.second_list.currentRow() == -1
    assert search.preview.hit == search.first_list.hits()[2]


def test_the_preview_follows_the_type_filter(qtbot, window):
    search = window.search
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        search.run_keyword("S45C")
    drawing_row = next(i for i, h in enumerate(search.first_list.hits()) if h.kind == "drawing")
    search.first_list.setCurrentRow(drawing_row)
    assert search.preview.hit.kind == "drawing"
    search.filters.kind.setCurrentIndex(search.filters.kind.findData("document"))
    assert search.preview.hit is not None and search.preview.hit.kind == "document"
    assert search.preview.hit == search.first_list.current_hit()


def test_a_failed_search_says_why_in_the_ui_language(qtbot, window, tmp_path):
    translator.set_language("ja")
    with qtbot.waitSignal(window.search.status_message, timeout=WAIT_MS):
        drop_file(window.search.drop_zone, tmp_path / "corrupt.pdf")
    shown = window.search.status.text()
    assert shown.startswith("検索に失敗しました") and "corrupt.pdf" in shown
    assert "cannot open broken file" not in shown  # the engine's English stays in the tooltip
    assert "cannot open broken file" in window.search.status.label.toolTip()


class ManyHitsEngine(FakeEngine):
    """A library answering with 30 documents and 30 drawings, on A1 sheets of 108 megapixels."""

    def __init__(self, page_size: tuple[int, int] = (12_000, 9_000)) -> None:
        super().__init__(page_size=page_size)

    def _file_results(self, query_path, drop=(), add=()):  # noqa: ANN001
        from dataclasses import replace
        results = super()._file_results(query_path, drop, add)
        def many(hits):  # noqa: ANN001, ANN202
            return tuple(replace(h, doc_id=h.doc_id + 10 * i, rank=i + 1)
                         for i, h in enumerate(hits * (30 // len(hits))))
        return replace(results, related=replace(results.related, hits=many(results.related.hits)),
                       similar=replace(results.similar, hits=many(results.similar.hits)))


class StallMeter:
    """Longest stretch of work of the GUI thread between two ticks of a 10 ms timer.

    Measured in the GUI thread's own CPU time (time.thread_time), so that other processes
    on a busy 2-core machine cannot make the window look frozen when it is not, and cannot
    hide a slot that really works for too long. `worst_wall_ms` is the plain wall-clock gap."""

    def __init__(self) -> None:
        import time
        from PySide6.QtCore import QTimer
        self._time = time
        self.ticks: list[tuple[float, float]] = []
        self.timer = QTimer(interval=10)
        self.timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        self.ticks.append((self._time.perf_counter(), self._time.thread_time()))

    def __enter__(self) -> "StallMeter":
        import gc

        # The objects earlier tests left in this process are not the window's: a full garbage
        # collection over them (hundreds of ms late in a whole test session) would be counted
        # as the window's work. They are set aside; what the window makes is still collected.
        gc.collect()
        gc.freeze()
        self.ticks = []
        self._tick()
        self.timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        import gc

        self.timer.stop()
        gc.unfreeze()

    def worst_ms(self) -> float:
        return max((b[1] - a[1]) * 1000 for a, b in zip(self.ticks, self.ticks[1:]))

    def worst_wall_ms(self) -> float:
        return max((b[0] - a[0]) * 1000 for a, b in zip(self.ticks, self.ticks[1:]))


def test_the_event_loop_never_stalls_during_a_drop(qtbot, tmp_path):
    """Rows are built a few per turn, pages arrive shrunk (≤ 3000 px) from the workers."""
    window = make_window(qtbot, tmp_path, ManyHitsEngine())
    search = window.search
    with StallMeter() as meter:
        with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
            search.run_file(tmp_path / "A1-sheet.pdf")
        qtbot.waitUntil(lambda: search.first_list.is_filled() and search.second_list.is_filled(),
                        timeout=WAIT_MS)
        qtbot.waitUntil(lambda: search.preview.hit_view.has_page() and search.preview.query_view.has_page(),
                        timeout=WAIT_MS)
        qtbot.wait(200)  # thumbnails and the heat map land
    assert search.first_list.total() == 30 and search.first_title.text() == "Related documents (30)"
    page = search.preview.hit_view.sceneRect()
    assert max(page.width(), page.height()) <= 3000
    assert meter.worst_ms() < 100, (f"the GUI thread worked {meter.worst_ms():.0f} ms at a stretch "
                                    f"(wall clock {meter.worst_wall_ms():.0f} ms)")
    window.runner.wait(10_000)


def test_a_huge_pasted_picture_is_shrunk_off_the_gui_thread(qtbot, window):
    image = QImage(9000, 6000, QImage.Format.Format_RGB32)
    image.fill(0xFFFFFF)
    with StallMeter() as meter:
        with qtbot.waitSignal(window.search.results_shown, timeout=WAIT_MS):
            window.search.run_image(image)
        qtbot.waitUntil(window.search.preview.query_view.has_page, timeout=WAIT_MS)
    assert max(window.search.preview.query_view.sceneRect().width(), 0) <= 3000
    assert meter.worst_ms() < 100, (f"the GUI thread worked {meter.worst_ms():.0f} ms at a stretch "
                                    f"(wall clock {meter.worst_wall_ms():.0f} ms)")


def test_query_chips_show_what_was_read_and_correct_it(qtbot, window, tmp_path):
    search, engine = window.search, window.bridge.engine
    search_file(qtbot, window, tmp_path / "1258-B2P.pdf")
    chips = search.chips
    assert chips.isVisibleTo(search) and chips.name.text() == "1258-B2P.pdf"
    assert chips.terms() == ("1258-B2P", "S45C", "焼入れ", "uitimaker")
    qtbot.waitUntil(lambda: chips.thumb.pixmap() is not None and not chips.thumb.pixmap().isNull(),
                    timeout=WAIT_MS)
    misread = chips.chips.item(3)
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        chips.chips.itemClicked.emit(misread)  # a click on "uitimaker ✕"
    assert engine.corrections[-1] == (("uitimaker",), ())
    assert chips.left_out() == ("uitimaker",) and chips.chips.item(3).font().strikeOut()
    assert search.preview.query_view.has_page()  # the query stays beside the results
    chips.add_box.setText("焼戻し")
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        qtbot.keyClick(chips.add_box, Qt.Key.Key_Return)
    assert engine.corrections[-1] == (("uitimaker",), ("焼戻し",))
    assert engine.calls.count("search_file") == 3
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        chips.reset_button.click()
    assert engine.corrections[-1] == ((), ()) and chips.left_out() == () and chips.added() == ()
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        search.run_keyword("S45C")
    assert not chips.isVisibleTo(search)


def test_query_chips_refine_a_pasted_picture(qtbot, window):
    image = QImage(64, 48, QImage.Format.Format_RGB32)
    image.fill(0xFFFFFF)
    with qtbot.waitSignal(window.search.results_shown, timeout=WAIT_MS):
        window.search.run_image(image)
    with qtbot.waitSignal(window.search.results_shown, timeout=WAIT_MS):
        window.search.chips.chips.itemClicked.emit(window.search.chips.chips.item(1))
    assert window.bridge.engine.corrections[-1] == (("S45C",), ())
    assert window.bridge.engine.calls.count("search_image") == 2


def visible_hits(view) -> int:  # noqa: ANN001 - a ResultListView
    area = view.viewport().rect()
    return sum(1 for i in range(view.count())
               if area.contains(view.visualItemRect(view.item(i)).center()))


@pytest.mark.parametrize("mode, at_least", [("detailed", 2), ("compact", 8), ("grid", 8)])
def test_compact_list_and_grid_show_many_hits_at_once(qtbot, tmp_path, mode, at_least):
    window = make_window(qtbot, tmp_path, ManyHitsEngine(page_size=(840, 594)))
    window.resize(1600, 1000)
    search = window.search
    search.filters.set_view_mode(mode)
    search_file(qtbot, window, tmp_path / "A1.pdf")
    qtbot.wait(100)
    shown = visible_hits(search.first_list) + visible_hits(search.second_list)
    assert shown >= at_least, f"{mode}: {shown} hits visible"
    if mode == "grid":
        assert search.first_list.rows() == [] and search.first_list.item(0).toolTip().count("Match") == 1
        search.first_list.setFocus()
        search.first_list.setCurrentRow(0)
        qtbot.keyClick(search.first_list, Qt.Key.Key_Right)  # moves within the grid
        assert search.first_list.currentRow() == 1 and search.preview.hit == search.first_list.hits()[1]
        qtbot.keyClick(search.first_list, Qt.Key.Key_Plus)
        qtbot.waitUntil(lambda: len(window.bridge.engine.feedback_log) == 1, timeout=WAIT_MS)
    assert window.settings.get("ui/result_view") == mode
    window.runner.wait(10_000)


def test_the_preview_zooms_to_the_matched_region_and_steps_through_them(qtbot, window):
    search = window.search
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        search.run_keyword("1258-B2P")
    search.first_list.setCurrentRow(0)
    preview = search.preview
    view = preview.hit_view
    qtbot.waitUntil(view.has_page, timeout=WAIT_MS)
    assert view.region == 0 and preview.region_label.text() == "Region 1 of 2"
    box = view.box_rects()[0]
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    assert shown.contains(box.center()) and shown.width() < view.sceneRect().width() * 0.6
    scale = view.transform().m11()
    assert box.width() * scale >= 60, "the matched region should be large enough to read"
    qtbot.keyClick(window, Qt.Key.Key_F3)
    assert view.region == 1 and preview.region_label.text() == "Region 2 of 2"
    assert view.mapToScene(view.viewport().rect()).boundingRect().contains(view.box_rects()[1].center())
    qtbot.keyClick(window, Qt.Key.Key_F3, Qt.KeyboardModifier.ShiftModifier)
    assert view.region == 0
    preview.zoom_fit.click()
    assert view.region == -1 and preview.region_label.text() == "Whole page"


def test_a_spreadsheet_hit_shows_its_matched_row_not_a_page(qtbot, window):
    search = window.search
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        search.run_keyword("1258-B2P")
    row = next(i for i, h in enumerate(search.first_list.hits()) if h.format == "xlsx")
    search.first_list.setCurrentRow(row)
    preview = search.preview
    qtbot.waitUntil(lambda: preview.hit_stack.currentWidget() is preview.text_view, timeout=WAIT_MS)
    html_text = preview.text_view.toHtml()
    assert "Operation" in html_text and "1258-B2P" in preview.text_view.toPlainText()
    assert "background-color:#ffe066" in html_text  # the shared part number is marked
    assert preview.hit_caption.text() == "Matched row 1" and not preview.region_label.isVisibleTo(preview)
    assert preview.page_combo.itemText(0) == "Row 1 (best match)"


def test_back_and_forward_show_earlier_answers_without_searching_again(qtbot, window, tmp_path):
    search, engine = window.search, window.bridge.engine
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        search.run_keyword("S45C")
    search_file(qtbot, window, tmp_path / "1258-B2P.pdf")
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        search.chips.chips.itemClicked.emit(search.chips.chips.item(3))  # leave "uitimaker" out
    calls = len(engine.calls)
    assert not search.forward_button.isEnabled() and search.back_button.isEnabled()
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        qtbot.keyClick(window, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert search.chips.left_out() == ()  # the drawing as first searched
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        search.back_button.click()
    assert search.search_box.text() == "S45C" and search.first_list.total() == 4
    assert not search.chips.isVisibleTo(search) and not search.back_button.isEnabled()
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        qtbot.keyClick(window, Qt.Key.Key_Right, Qt.KeyboardModifier.AltModifier)
    assert search.chips.isVisibleTo(search) and search.first_title.text() == "Related documents (3)"
    assert [c for c in engine.calls[calls:] if c.startswith("search")] == []  # answers were kept
    labels = [a.text() for a in search.recent_button.menu().actions()]
    assert labels == ["1258-B2P.pdf", "1258-B2P.pdf", "S45C"]
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        search.recent_button.menu().actions()[-1].trigger()
    assert search.search_box.text() == "S45C"


def test_a_pinned_result_survives_a_restart(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path, FakeEngine())
    search = window.search
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        search.run_keyword("S45C")
    search.first_list.setCurrentRow(1)
    hit = search.first_list.current_hit()
    search.preview.pin_button.click()
    assert search.preview.pin_button.isChecked() and search.pinned_button.text() == "Pinned (1)"
    window.close()
    again = make_window(qtbot, tmp_path, FakeEngine())
    assert again.search.pinned_button.text() == "Pinned (1)"
    action = again.search.pinned_button.menu().actions()[0]
    assert action.text().startswith(hit.title)
    action.trigger()
    preview = again.search.preview
    assert preview.hit.path == hit.path and preview.pin_button.isChecked()
    qtbot.waitUntil(lambda: preview.hit_view.has_page() or bool(preview.text_view.toPlainText()), timeout=WAIT_MS)
    preview.pin_button.click()
    assert again.search.pinned_button.text() == "Pinned (0)" and not again.search.pinned_button.isEnabled()
    again.runner.wait(5000)


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="fake viewer is a shell script")
def test_open_in_viewer_opens_the_pdf_at_the_matched_page(qtbot, tmp_path, monkeypatch):
    from desktop import open_external
    record = tmp_path / "args.txt"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name in ("evince", "okular"):
        viewer = bin_dir / name
        viewer.write_text(f'#!/bin/sh\necho "{name} $@" > "{record}"\n')
        viewer.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    monkeypatch.setattr(open_external, "default_pdf_viewer", lambda: "okular")
    pdf = tmp_path / "spec.pdf"
    pdf.write_bytes(b"%PDF-1.4\n")
    assert open_external.open_at_page(str(pdf), 7)
    qtbot.waitUntil(lambda: record.exists() and record.read_text().strip() != "", timeout=WAIT_MS)
    assert record.read_text().split() == ["okular", "-p", "7", str(pdf)]  # the user's default viewer
    record.unlink()
    (bin_dir / "okular").unlink()
    monkeypatch.setattr(open_external, "default_pdf_viewer", lambda: None)
    assert open_external.open_at_page(str(pdf), 2)
    qtbot.waitUntil(lambda: record.exists() and record.read_text().strip() != "", timeout=WAIT_MS)
    assert record.read_text().split() == ["evince", "-i", "2", str(pdf)]


def test_the_page_chooser_names_the_page_shown(qtbot, window):
    search = window.search
    preview = select_hit_with_other_pages(qtbot, search)
    preview.page_combo.setCurrentIndex(1)
    preview.page_combo.activated.emit(1)  # page 2 of this hit
    search.first_list.setCurrentRow(0)  # another hit: its best page is chosen again
    assert preview.page == search.first_list.hits()[0].page
    assert preview.page_combo.currentData() == preview.page


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_at_20_pt_in_touch_mode_the_search_page_fits_a_1440_px_window(qtbot, tmp_path, lang):
    from desktop.style import apply_appearance
    from PySide6.QtWidgets import QApplication
    translator.set_language(lang)
    window = make_window(qtbot, tmp_path, ManyHitsEngine(page_size=(840, 594)))
    window.resize(1440, 900)
    apply_appearance(QApplication.instance(), 20, True)
    try:
        search_file(qtbot, window, tmp_path / "1258-B2P.pdf")
        search.first_list.setCurrentRow(0) if (search := window.search) else None
        qtbot.wait(100)
        assert window.minimumSizeHint().width() <= 1440, window.minimumSizeHint()
        assert window.width() == 1440
        for name, view in (("documents", search.first_list), ("drawings", search.second_list)):
            assert view.width() >= 300, f"the {name} list is squeezed to {view.width()} px"
            row = view.rows()[0]
            assert row.height() <= view.viewport().height(), f"a {name} row is taller than its list"
        box = search.search_box
        assert box.width() >= 260 and box.height() >= 44
        assert not search.chips.chips.height() > 3 * search.chips.chips.fontMetrics().height() + 30
    finally:
        apply_appearance(QApplication.instance(), 14, False)
        window.runner.wait(10_000)
