"""The desktop app on the real engine: a few sample files, indexed, searched, voted on (slow)."""

from __future__ import annotations

import shutil

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from desktop.compat import guard_none_refcount  # noqa: E402
from engine.config import DEFAULT_PACK_DIR, SAMPLE_LIBRARY  # noqa: E402

pytestmark = pytest.mark.slow
WAIT_MS = 120_000


@pytest.fixture
def window(qtbot, tmp_path):
    if not (DEFAULT_PACK_DIR / "manifest.json").exists() or not (SAMPLE_LIBRARY / "drawings").is_dir():
        pytest.skip("needs resources/models/default and resources/sample_library")
    guard_none_refcount()
    from desktop.engine_bridge import EngineBridge
    from desktop.main_window import MainWindow
    from desktop.settings import AppSettings
    from desktop.workers import TaskRunner

    folder = tmp_path / "docs"
    folder.mkdir()
    drawings = sorted((SAMPLE_LIBRARY / "drawings").glob("*.pdf"))[:2]
    specs = [p for d in drawings for p in (SAMPLE_LIBRARY / "documents").glob(f"spec_{d.stem}_*.pdf")]
    for path in drawings + specs:
        shutil.copy(path, folder / path.name)
    bridge = EngineBridge()
    runner = TaskRunner(max_threads=2)
    win = MainWindow(bridge, runner, AppSettings(path=tmp_path / "settings.ini"))
    qtbot.addWidget(win)
    task = runner.submit(lambda ctx: (bridge.open_engine(tmp_path / "library"), bridge.add_folder(folder)))
    with qtbot.waitSignal(task.done, timeout=WAIT_MS):
        pass
    win.show()
    win.drawings = drawings
    yield win
    runner.cancel_all()
    runner.wait(30_000)
    bridge.close()


def test_index_search_drop_vote_on_the_real_engine(qtbot, window):
    with qtbot.waitSignal(window.library.indexing_finished, timeout=WAIT_MS) as blocker:
        window.library.start_index()
    assert blocker.args[0].added >= 2
    search = window.search
    part_no = window.drawings[0].stem
    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        search.run_keyword(part_no)
    assert part_no in search.first_list.hits()[0].path
    qtbot.waitUntil(search.preview.hit_view.has_page, timeout=WAIT_MS)
    assert search.preview.hit_view.box_rects(), "the part number should be outlined on the page"

    with qtbot.waitSignal(search.results_shown, timeout=WAIT_MS):
        search.run_file(window.drawings[0])
    hits = search.first_list.hits() + search.second_list.hits()
    assert hits
    row = (search.first_list.rows() or search.second_list.rows())[0]
    row.vote(+1)
    qtbot.waitUntil(lambda: len(window.bridge.feedback()) == 1, timeout=WAIT_MS)


def test_failed_files_retry_and_ignore_on_the_real_engine(qtbot, window, tmp_path):
    library = window.library
    folder = tmp_path / "docs"
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n% an interrupted copy\n")
    (folder / "later.pdf").write_bytes(b"%PDF-1.7\n% not yet\n")
    (folder / "assembly.dwg").write_bytes(b"\0" * 16)
    with qtbot.waitSignal(library.indexing_finished, timeout=WAIT_MS):
        library.start_index()
    qtbot.waitUntil(lambda: library.failed_table.rowCount() == 2, timeout=WAIT_MS)
    assert "2 files could not be read" in library.progress_label.text()
    assert [s.extension for s in library.status.skipped_types] == [".dwg"]
    documents = library.status.documents

    shutil.copy(window.drawings[1], folder / "later.pdf")  # fixed: read it again, just that one
    library.failed_view.select_paths([f.path for f in library.status.failed if f.path.endswith("later.pdf")])
    with qtbot.waitSignal(library.indexing_finished, timeout=WAIT_MS) as blocker:
        library.failed_view.retry_button.click()
    assert (blocker.args[0].added, blocker.args[0].failed) == (1, 0)
    qtbot.waitUntil(lambda: library.failed_table.rowCount() == 1, timeout=WAIT_MS)
    assert library.status.documents == documents + 1

    library.failed_view.select_paths([library.status.failed[0].path])
    with qtbot.waitSignal(library.status_loaded, timeout=WAIT_MS):
        library.failed_view.ignore_button.click()
    assert library.failed_table.rowCount() == 0 and library.failed_view.ignored_list.count() == 1
    with qtbot.waitSignal(library.indexing_finished, timeout=WAIT_MS) as blocker:
        library.start_index()
    assert blocker.args[0].failed == 0  # ignored: not read, not counted
