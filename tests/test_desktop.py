"""Desktop UI flows on a fake engine (pytest-qt, offscreen). Waits on signals, never sleeps."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from desktop.compat import guard_none_refcount  # noqa: E402


@pytest.fixture(autouse=True)
def _none_guard(qapp):
    guard_none_refcount()  # PySide6 6.12 on Python 3.11 leaks references to None

from PySide6.QtCore import QMimeData, QPointF, Qt, QTimer, QUrl  # noqa: E402
from PySide6.QtGui import QDropEvent  # noqa: E402
from PySide6.QtWidgets import QWidget  # noqa: E402

from desktop.engine_bridge import EngineBridge  # noqa: E402
from desktop.i18n import translator  # noqa: E402
from desktop.main_window import MainWindow  # noqa: E402
from desktop.settings import AppSettings  # noqa: E402
from desktop.testing import FakeEngine  # noqa: E402
from desktop.workers import TaskRunner  # noqa: E402

WAIT_MS = 10_000


@pytest.fixture(autouse=True)
def english():
    translator.set_language("en")
    yield
    translator.set_language("en")


def make_window(qtbot, tmp_path: Path, engine: FakeEngine) -> MainWindow:
    runner = TaskRunner(max_threads=4)
    window = MainWindow(EngineBridge(engine), runner, AppSettings(path=tmp_path / "settings.ini"))
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    return window


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def window(qtbot, tmp_path, engine) -> MainWindow:
    win = make_window(qtbot, tmp_path, engine)
    yield win
    win.runner.cancel_all()
    win.runner.wait(5000)


def drop_file(widget: QWidget, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    widget.dropEvent(event)


def test_drop_drawing_shows_related_and_similar(qtbot, window, tmp_path):
    search = window.search
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS) as blocker:
        drop_file(search.drop_zone, tmp_path / "1258-B2P.pdf")
    assert blocker.args == ["file"]
    assert search.first_list.count() == 3 and search.second_list.count() == 3
    assert search.first_title.text().startswith("Related documents")
    assert search.second_title.text().startswith("Similar drawings")
    assert search.second_list.isVisible()
    assert all(h.kind == "drawing" for h in search.second_list.hits())


def test_keyword_search_from_the_box(qtbot, window):
    search = window.search
    qtbot.keyClicks(search.search_box, "S45C")
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS) as blocker:
        qtbot.keyClick(search.search_box, Qt.Key.Key_Return)
    assert blocker.args == ["keyword"]
    assert search.first_list.count() == 4
    assert not search.second_list.isVisible()
    row = search.first_list.rows()[0]
    assert "background-color" in row.snippet.text() and "S45C" in row.snippet.text()


def test_type_filter_hides_drawings(qtbot, window):
    search = window.search
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        search.run_keyword("S45C")
    search.filters.kind.setCurrentIndex(search.filters.kind.findData("document"))
    assert search.first_list.count() == 2
    assert {h.kind for h in search.first_list.hits()} == {"document"}


def test_preview_outlines_the_hit_boxes(qtbot, window, engine):
    search = window.search
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        search.run_keyword("1258-B2P")
    view = search.preview.hit_view
    qtbot.waitUntil(view.has_page, timeout=WAIT_MS)
    hit = search.first_list.current_hit()
    rects = view.box_rects()
    assert len(rects) == len(hit.explanation.boxes) == 2
    w, h = view.sceneRect().width(), view.sceneRect().height()
    box = hit.explanation.boxes[0]
    assert abs(rects[0].center().x() - (box.x0 + box.x1) / 2 * w) < 2
    assert abs(rects[0].center().y() - (box.y0 + box.y1) / 2 * h) < 2
    assert "Why it matched" in search.preview.why.text()


def test_a_page_read_turned_is_previewed_upright_with_its_boxes(qtbot, window, engine):
    """A library scan OCR read turned (engine.page_turn) is shown turned upright: the view
    turns the page, its outlined words and its heatmap together, so a box still frames its
    word. Turned 90 degrees clockwise, the page's top-left corner shows top right."""
    search = window.search
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        search.run_keyword("1258-B2P")
    hit = search.first_list.current_hit()
    view = search.preview.hit_view
    qtbot.waitUntil(view.has_page, timeout=WAIT_MS)
    assert view.transform().isIdentity() or view.transform().m12() == 0  # as it lies: not turned
    engine.turns[hit.doc_id] = 90
    search.preview.show_page(hit.page)
    qtbot.waitUntil(lambda: abs(view.transform().m12()) > 0, timeout=WAIT_MS)
    view.fit()
    corner = view.mapFromScene(0, 0)
    size = view.viewport().size()
    assert corner.x() > size.width() / 2 and corner.y() < size.height() / 2
    rects = view.box_rects()  # still over the words, in the page's own frame
    box = hit.explanation.boxes[0]
    assert abs(rects[0].center().x() - (box.x0 + box.x1) / 2 * view.sceneRect().width()) < 2


def test_keyboard_moves_selection_and_preview(qtbot, window):
    search = window.search
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        search.run_keyword("S45C")
    search.focus_results()
    with qtbot.waitSignal(search.first_list.hit_selected, timeout=WAIT_MS) as blocker:
        qtbot.keyClick(search.first_list, Qt.Key.Key_Down)
    assert blocker.args[0] == search.first_list.hits()[1]
    assert search.preview.hit == search.first_list.hits()[1]


def test_heatmap_toggle_appears_for_file_queries(qtbot, window, tmp_path):
    search = window.search
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        search.run_file(tmp_path / "q.png")
    qtbot.waitUntil(lambda: not search.preview.heatmap_button.isHidden(), timeout=WAIT_MS)


def test_more_like_this(qtbot, window):
    search = window.search
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        search.run_keyword("S45C")
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS) as blocker:
        search.preview.more_button.click()
    # Engine.similar gives two lists (FileQueryResults), as the fake now does (tests/test_contract.py)
    assert blocker.args == ["similar"]
    assert search.first_title.text().startswith("More like")
    assert search.first_list.count() and search.second_list.count() and search.second_list.isVisibleTo(window)


def test_more_like_this_shows_the_page_asked_about_and_its_heatmaps(qtbot, window, engine):
    search, preview = window.search, window.search.preview
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        search.run_keyword("S45C")
    asked = replace(preview.hit, page=2)  # e.g. "more like this" on page 2 of a drawing set
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        search.run_similar(asked)
    qtbot.waitUntil(lambda: preview.query_view.has_page(), timeout=WAIT_MS)
    assert preview.query_box.isVisibleTo(window)
    assert (asked.path, 2) in engine.rendered  # the query side shows page 2, not page 1
    search.second_list.setCurrentRow(0)
    qtbot.waitUntil(lambda: not preview.heatmap_button.isHidden(), timeout=WAIT_MS)
    assert engine.heatmap_calls[-1][:2] == (asked.path, 2)


def test_thumbs_up_is_recorded(qtbot, window, engine):
    search = window.search
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        search.run_keyword("S45C")
    row = search.first_list.rows()[0]
    qtbot.mouseClick(row.up, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(engine.feedback_log) == 1, timeout=WAIT_MS)
    assert engine.feedback_log[0] == {"query": "S45C", "doc_id": row.hit.doc_id, "page": 1, "vote": 1,
                                      "query_path": None}
    search.first_list.setCurrentRow(1)
    qtbot.keyClick(search.first_list, Qt.Key.Key_Minus)
    qtbot.waitUntil(lambda: len(engine.feedback_log) == 2, timeout=WAIT_MS)
    assert engine.feedback_log[1]["vote"] == -1


def test_indexing_progress_and_cancel(qtbot, tmp_path):
    engine = FakeEngine(index_files=500, index_step_s=0.01)
    window = make_window(qtbot, tmp_path, engine)
    library = window.library
    library.start_index()
    assert library.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: library.last_progress is not None and library.last_progress.done >= 3,
                    timeout=WAIT_MS)
    assert library.progress_bar.maximum() == 500
    label = library.progress_label
    assert label.text().startswith("Step 2 of 4: Reading files")
    assert "estimating the time left" in label.text()  # no guess from the first few files
    qtbot.waitUntil(lambda: "left in this step" in label.text(), timeout=WAIT_MS)
    assert "files/s" in label.text()
    with qtbot.waitSignal(library.indexing_finished, timeout=WAIT_MS) as blocker:
        library.cancel_button.click()
    report = blocker.args[0]
    assert report.cancelled and report.added < 500
    assert library.progress_label.text().startswith("Cancelled")
    assert library.reindex_button.isEnabled()
    window.runner.wait(5000)


def test_library_status_lists_folders_and_failures(qtbot, window):
    with qtbot.waitSignal(window.library.status_loaded, timeout=WAIT_MS):
        window.library.refresh()
    assert window.library.folder_list.count() == 2
    assert "NOT reachable" in window.library.folder_list.item(0).text()  # /plant/... is not here
    assert "1 failed" in window.library.folder_list.item(1).text()  # /plant/specs/broken.pdf
    assert window.library.failed_table.rowCount() == 1
    reason = window.library.failed_table.item(0, 1)
    assert "password" in reason.text() and "Save a copy" in reason.text()  # what to do next
    assert reason.toolTip() == "the PDF is password-protected"  # the engine's own words


def test_language_switch_changes_visible_texts(qtbot, window):
    assert window.nav.item(0).text() == "Search"
    window.settings.set("ui/language", "ja")
    assert window.nav.item(0).text() == "検索"
    assert window.search.search_button.text() == "検索"
    assert window.library.cancel_button.text() == "キャンセル"
    assert window.windowTitle().startswith("Zumen — 図面")
    window.settings.set("ui/language", "en")
    assert window.search.open_button.text() == "Open file…"


class PaintProbe(QWidget):
    def __init__(self) -> None:
        super().__init__()
        self.paints = 0
        self.resize(40, 40)

    def paintEvent(self, event) -> None:  # noqa: ANN001
        self.paints += 1


def test_window_keeps_painting_while_a_slow_search_runs(qtbot, tmp_path):
    engine = FakeEngine(delay_s=1.0)
    window = make_window(qtbot, tmp_path, engine)
    probe = PaintProbe()
    probe.setParent(window.search)
    probe.show()
    ticks = []
    timer = QTimer(interval=20)
    timer.timeout.connect(lambda: (ticks.append(1), probe.update()))
    timer.start()
    with qtbot.waitSignal(window.search.results_shown, timeout=WAIT_MS):
        window.search.run_keyword("S45C")
        assert window.search.first_list.count() == 0  # the call returned before the answer
    timer.stop()
    assert len(ticks) >= 20, "the event loop stalled during the search"
    assert probe.paints >= 10, "the window did not repaint during the search"
    window.runner.wait(5000)


def test_ctrl_v_pastes_a_picture_and_searches(qtbot, window, engine):
    from PySide6.QtGui import QGuiApplication, QImage
    image = QImage(64, 48, QImage.Format.Format_RGB32)
    image.fill(0xFFFFFF)
    QGuiApplication.clipboard().setImage(image)
    with qtbot.waitSignal(window.search.results_shown, timeout=WAIT_MS) as blocker:
        window.paste()
    assert blocker.args == ["file"] and "search_image" in engine.calls


def test_folder_change_triggers_incremental_index(qtbot, window, engine, tmp_path):
    folder = tmp_path / "watched"
    folder.mkdir()
    window.watcher._debounce.setInterval(50)
    window.watcher.set_folders([str(folder)])
    assert window.watcher.watched() == [str(folder)]
    with qtbot.waitSignal(window.library.indexing_finished, timeout=WAIT_MS):
        (folder / "new_drawing.pdf").write_bytes(b"%PDF-1.4\n")
    assert engine.calls.count("index") == 1


def test_status_line_follows_the_language(qtbot, window):
    with qtbot.waitSignal(window.search.results_shown, timeout=WAIT_MS):
        window.search.run_keyword("S45C")
    assert window.search.status.text().startswith("4 results")
    window.settings.set("ui/language", "ja")
    assert window.search.status.text().startswith("4 件")
    assert window.search.first_title.text() == "検索結果（4）"


def test_stop_drops_a_slow_search(qtbot, tmp_path):
    engine = FakeEngine(delay_s=0.5)
    window = make_window(qtbot, tmp_path, engine)
    search = window.search
    search.run_keyword("S45C")
    assert search.status.is_busy()
    with qtbot.waitSignal(search.results_shown, timeout=1500, raising=False) as blocker:
        search.status.stop.click()
    assert not blocker.signal_triggered
    assert search.status.text() == "Search stopped." and not search.status.is_busy()
    window.runner.wait(5000)


def test_dropping_an_unsupported_file_explains_why(qtbot, window, tmp_path):
    drop_file(window.search.drop_zone, tmp_path / "notes.zip")
    assert "cannot search with this kind of file" in window.search.status.text()


def select_hit_with_other_pages(qtbot, search):
    """Search "S45C" and select a hit matched on several pages: the preview showing it."""
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        search.run_keyword("S45C")
    search.first_list.setCurrentRow(next(i for i, h in enumerate(search.first_list.hits()) if h.other_pages))
    return search.preview


def test_other_matching_pages_can_be_shown(qtbot, window):
    preview = select_hit_with_other_pages(qtbot, window.search)
    assert not preview.page_combo.isHidden() and preview.page_combo.count() == 3
    preview.page_combo.setCurrentIndex(1)
    preview.page_combo.activated.emit(1)
    qtbot.waitUntil(lambda: preview.hit_view.has_page() and preview.page == 2, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: len(preview.hit_view.box_rects()) == 1, timeout=WAIT_MS)  # only "S45C"
    assert preview.hit_caption.text() == "Matched page 2"


def test_window_geometry_survives_a_restart(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path, FakeEngine())
    window.resize(640, 480)
    size = (window.width(), window.height())  # the window may not shrink below its minimum
    window.close()
    assert window.settings.get("ui/window_geometry")
    again = make_window(qtbot, tmp_path, FakeEngine())
    assert (again.width(), again.height()) == size != (1400, 900)


def test_model_page_shows_packs_and_activates(qtbot, window, engine):
    model = window.model
    with qtbot.waitSignal(model.packs_loaded, timeout=WAIT_MS):
        window.go("model")
    assert model.pack_list.count() == 2
    assert model.chart.after  # the active pack's evaluation is charted
    assert not model.unavailable.isHidden()  # the fake engine has no `adapt`
    model.pack_list.setCurrentRow(1)
    with qtbot.waitSignal(model.packs_loaded, timeout=WAIT_MS):
        model.activate_button.click()
    assert engine._active == "site-1.1.0"
    assert model.chart.before == {"recall@1": 0.62}
    with qtbot.waitSignal(model.packs_loaded, timeout=WAIT_MS):
        model.rollback_button.click()
    assert engine._active == "default-1.0.0"


def test_model_page_says_whether_the_adapted_version_is_in_use(qtbot, window):
    from dataclasses import replace

    from engine.types import AdaptReport

    model = window.model
    report = AdaptReport(pack_dir="/packs/default-1.0.0_site.1", pack_id="default-1.0.0_site.1",
                         parent="default-1.0.0", passed_gate=True, refused_because="", path="text",
                         before={"map": 0.5}, after={"map": 0.66})
    model._adapt_done(replace(report, activated=True))
    assert "0.50 → 0.66" in model.progress_label.text() and "in use" in model.progress_label.text()
    model._adapt_done(replace(report, after={"map": 0.4}, passed_gate=False, refused_because="no gain"))
    assert "not activated" in model.progress_label.text()
    model._adapt_done(replace(report, passed_gate=False, refused_because="keyword queries got worse"))
    assert "keyword queries worse" in model.progress_label.text()


def test_heatmaps_show_on_both_pages_only_on_the_matched_page(qtbot, window, tmp_path):
    search = window.search
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        search.run_file(tmp_path / "q.png")
    preview = search.preview
    qtbot.waitUntil(lambda: not preview.heatmap_button.isHidden(), timeout=WAIT_MS)
    preview.heatmap_button.setChecked(True)
    heat = [view._heat for view in (preview.query_view, preview.hit_view)]
    assert all(h is not None and h.isVisible() for h in heat)  # where they are alike, both sides
    preview.heatmap_button.setChecked(False)
    assert not any(h.isVisible() for h in heat)
    paged = next(h for h in search.first_list.hits() if h.other_pages)
    preview.show_hit(paged)
    qtbot.waitUntil(lambda: not preview.heatmap_button.isHidden(), timeout=WAIT_MS)
    preview.show_page(paged.other_pages[0])  # another page of the hit: the maps are not of it
    assert preview.heatmap_button.isHidden() and preview.query_view._heat is None
    preview.show_page(paged.page)  # back on the matched page: shown again once it is drawn
    qtbot.waitUntil(lambda: not preview.heatmap_button.isHidden(), timeout=WAIT_MS)
    assert preview.query_view._heat is not None and preview.hit_view._heat is not None
