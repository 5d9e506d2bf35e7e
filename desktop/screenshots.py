"""Drive the app through its main states and save PNG screenshots (installer/screenshots.sh).

    python -m desktop.screenshots --out docs/screenshots [--samples DIR] [--query FILE] [--fake]

Indexes the sample folder into a fresh temporary library (so the progress bar is visible), then
runs a keyword query and a drawing query, and switches to Japanese. Also prints the time from
drop to first results. Settings go to a temporary file: the user's settings are left alone.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QEventLoop
from PySide6.QtWidgets import QApplication

from desktop.engine_bridge import EngineBridge
from desktop.i18n import translator
from desktop.main_window import MainWindow
from desktop.settings import AppSettings
from desktop.style import apply_appearance, has_japanese_font
from desktop.workers import TaskRunner
from engine.config import SAMPLE_LIBRARY

DRAWING_SUFFIXES = (".png", ".jpg", ".jpeg", ".pdf")


def wait_until(app: QApplication, predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 50)


def settle(app: QApplication, seconds: float = 0.4) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        app.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)


def wait_for_search(app: QApplication, search, timeout_s: float, what: str) -> float:  # noqa: ANN001
    """Seconds the search took, as the pane measured it; raises when it failed."""
    wait_until(app, lambda: search.last_elapsed_s is not None or search.last_error is not None,
               timeout_s, what)
    if search.last_error is not None:
        raise RuntimeError(f"{what} failed: {search.last_error}")
    return search.last_elapsed_s


def select_hit_with_boxes(search) -> None:  # noqa: ANN001
    """Show a hit whose evidence is outlined (prefer PDFs): the most telling preview."""
    for pdf_only in (True, False):  # a PDF of either list first, then anything with boxes
        for view in (search.first_list, search.second_list):
            for row, hit in enumerate(view.hits()):
                if hit.explanation.boxes and (hit.path.lower().endswith(".pdf") or not pdf_only):
                    view.setCurrentRow(row)
                    return


def preview_ready(search) -> bool:  # noqa: ANN001
    """The hit's page is drawn, or (CSV/Excel/text hits) its matched row or lines are shown."""
    preview = search.preview
    return preview.hit_view.has_page() or bool(preview.text_view.toPlainText())


def pick_query(samples: Path) -> Path:
    """A drawing to drop: prefer a photo/scan image, then a PDF under a 'drawings' folder."""
    files = sorted(p for p in samples.rglob("*") if p.suffix.lower() in DRAWING_SUFFIXES)
    for pred in (lambda p: p.suffix.lower() != ".pdf", lambda p: "draw" in str(p).lower(), lambda p: True):
        chosen = [p for p in files if pred(p)]
        if chosen:
            return chosen[0]
    raise FileNotFoundError(f"no drawing in {samples}")


def first_keyword(samples: Path) -> str:
    try:
        return json.loads((samples / "queries.json").read_text(encoding="utf-8"))["keyword"][0]["query"]
    except (OSError, ValueError, KeyError, IndexError):
        return "S45C"


def damaged_folder(folder: Path) -> Path:
    """A folder of files that cannot be indexed: a broken PDF, an empty scan, CAD formats."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "broken_drawing.pdf").write_bytes(b"%PDF-1.7\n% an interrupted copy\n")
    (folder / "empty_scan.png").write_bytes(b"")
    for name in ("bracket_1258.dwg", "housing_2210.dwg", "shaft_3301.step"):
        (folder / name).write_bytes(b"\0" * 64)
    return folder


def library_shots(app: QApplication, window: MainWindow, settings: AppSettings, shot,  # noqa: ANN001
                  out: Path) -> None:
    """The Library page at 20 pt in touch mode (Japanese), then its files left out and its
    Duplicate drawings window (English)."""
    library = window.library
    settings.set("ui/font_pt", 20)
    settings.set("ui/touch_mode", True)
    window.go("library")
    library.scroll.verticalScrollBar().setValue(0)
    shot("20-library-touch-20pt-ja")
    settings.set("ui/language", "en")
    settings.set("ui/font_pt", 14)
    settings.set("ui/touch_mode", False)
    settle(app)
    if library.failed_table.rowCount():
        library.failed_table.selectRow(0)
    library.scroll.ensureWidgetVisible(library.failed_box)
    shot("21-library-failed-files")
    duplicates_shot(app, library, out)


def duplicates_shot(app: QApplication, library, out: Path) -> None:  # noqa: ANN001
    """The Duplicate drawings window on the library, its groups listed with their thumbnails."""
    library.show_duplicates()
    dialog = library.duplicates
    dialog.resize(1100, 760)
    wait_until(app, lambda: dialog.report is not None and not dialog.is_running(), 300, "the duplicate drawings")
    shown = {(p.doc_id, p.page) for g in dialog.report.groups for p in g.pages}
    wait_until(app, lambda: shown <= set(dialog._icons), 60, "the duplicates' thumbnails")
    settle(app, 0.5)
    dialog.grab().save(str(out / "18-duplicates.png"))
    print(f"saved {out / '18-duplicates'}.png")
    dialog.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    parser.add_argument("--samples", type=Path, default=SAMPLE_LIBRARY)
    parser.add_argument("--query", type=Path, help="drawing to drop (default: one from the samples)")
    parser.add_argument("--keyword", help="keyword query (default: the first in the samples' queries.json)")
    parser.add_argument("--library", type=Path, help="library folder (default: a fresh temporary one)")
    parser.add_argument("--fake", action="store_true", help="use the fake engine (no real library)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds allowed for indexing")
    args = parser.parse_args(argv)

    app = QApplication.instance() or QApplication(sys.argv[:1])
    tmp = Path(tempfile.mkdtemp(prefix="zumen-shots-"))
    settings = AppSettings(path=tmp / "settings.ini")
    translator.set_language("en")
    apply_appearance(app, settings.get("ui/font_pt"), False)
    if not has_japanese_font():
        print("WARNING: no Japanese font installed; Japanese text will show as boxes", file=sys.stderr)
    runner = TaskRunner(max_threads=4)
    bridge = EngineBridge()
    window = MainWindow(bridge, runner, settings)
    window.resize(1440, 900)
    window.show()
    args.out.mkdir(parents=True, exist_ok=True)

    def shot(name: str) -> None:
        settle(app)
        window.grab().save(str(args.out / f"{name}.png"))
        print(f"saved {args.out / name}.png")

    if args.fake:
        from desktop.testing import FakeEngine
        bridge.attach(FakeEngine(index_files=60, index_step_s=0.05))
        query = args.query or Path("/plant/queries/1258-B2P_photo.png")
    else:
        damaged = damaged_folder(tmp / "damaged")  # files the Library page lists as left out
        task = runner.submit(lambda ctx: (bridge.open_engine(args.library or tmp / "library"),
                                          bridge.add_folder(args.samples), bridge.add_folder(damaged)))
        wait_until(app, lambda: task.is_done, 300, "the engine to open")
        query = args.query or pick_query(args.samples)
    window.start()
    shot("01-empty-window")

    window.go("library")
    window.library.start_index()
    wait_until(app, lambda: (p := window.library.last_progress) is not None and p.total and
               p.done >= max(1, p.total // 3), args.timeout, "indexing progress")
    shot("04-library-indexing")
    wait_until(app, lambda: not window.library.is_indexing(), args.timeout, "indexing to finish")
    settle(app, 1.0)
    shot("05-library-done")

    keyword = args.keyword or ("S45C" if args.fake else first_keyword(args.samples))
    search = window.search
    window.go("search")
    search.search_box.setText(keyword)
    search.run_keyword(keyword)
    keyword_s = wait_for_search(app, search, 120, "keyword search")
    if search.first_list.count():
        select_hit_with_boxes(search)  # a page with outlined words (a CSV hit shows its row instead)
        wait_until(app, lambda: preview_ready(search), 60, "the preview")
    shot("02-keyword-results")

    t0 = time.perf_counter()
    search.run_file(query)
    wait_for_search(app, search, 300, "drawing query")
    first_results_s = time.perf_counter() - t0
    select_hit_with_boxes(search)
    wait_until(app, lambda: preview_ready(search) and search.preview.query_view.has_page(),
               60, "the preview pages")
    shot("03-drawing-query")

    search.run_file(query)  # again, warm: models and OCR loaded
    warm_s = wait_for_search(app, search, 300, "drawing query (warm)")
    select_hit_with_boxes(search)
    wait_until(app, lambda: preview_ready(search) and search.preview.query_view.has_page(),
               60, "the preview pages")
    if search.preview.hit_view.region_count() > 1:
        search.preview.step_region(+1)
    shot("11-zoomed-evidence")

    if search.second_list.count():  # the most alike drawing, with where it is alike on both pages
        search.second_list.setCurrentRow(0)
        preview = search.preview
        wait_until(app, lambda: not preview.heatmap_button.isHidden(), 60, "the visual heatmaps")
        preview.heatmap_button.setChecked(True)
        preview.fit_pages()
        settle(app, 0.5)
        shot("16-visual-heatmap")
        preview.heatmap_button.setChecked(False)

    chips = search.chips
    if chips.chips.count() > 2:  # leave a word of the first row out, as after a misread
        chips.chips.itemClicked.emit(chips.chips.item(min(8, chips.chips.count() - 1)))
        wait_for_search(app, search, 120, "the corrected drawing query")
        select_hit_with_boxes(search)
        wait_until(app, lambda: preview_ready(search), 60, "the preview")
    shot("09-query-chips")
    for mode, name in (("grid", "10-grid-view"), ("compact", "15-compact-list")):
        search.filters.set_view_mode(mode)
        wait_until(app, lambda: search.first_list.is_filled() and search.second_list.is_filled(), 30,
                   f"the {mode} view")
        shot(name)
    search.filters.set_view_mode("detailed")

    if search.second_list.count():  # more like the most alike drawing: its page beside its likes
        search.second_list.setCurrentRow(0)
        wait_until(app, lambda: preview_ready(search), 60, "the preview")
        search.preview.more_button.click()
        wait_for_search(app, search, 120, "more like this")
        if search.second_list.count():
            search.second_list.setCurrentRow(0)
            preview = search.preview
            wait_until(app, lambda: preview.query_view.has_page() and not preview.heatmap_button.isHidden(),
                       60, "the page asked about and the heatmaps")
            preview.heatmap_button.setChecked(True)
            preview.fit_pages()
            settle(app, 0.5)
            shot("17-more-like-this")
            preview.heatmap_button.setChecked(False)

    search.search_box.setText("zzqx 存在しない部品")
    search.run_keyword(search.search_box.text())
    wait_for_search(app, search, 120, "a search for something that is not there")
    shot("12-no-match")
    broken = tmp / "broken_drawing.pdf"
    broken.write_bytes(os.urandom(4096))
    search.run_file(broken)
    wait_until(app, lambda: search.last_error is not None, 60, "the broken file's error")
    shot("13-error")
    search.run_file(query)
    wait_for_search(app, search, 300, "drawing query (again)")
    select_hit_with_boxes(search)
    wait_until(app, lambda: search.preview.hit_view.has_page() and search.preview.query_view.has_page(),
               60, "the preview pages")

    window.go("model")
    shot("06-model")
    window.go("search")
    settings.set("ui/language", "ja")
    shot("08-drawing-query-ja")
    window.go("settings")
    shot("07-settings-ja")
    window.resize(1600, 1000)  # the screen the shop-floor tests use
    settings.set("ui/font_pt", 20)
    settings.set("ui/touch_mode", True)
    window.go("search")
    shot("14-touch-20pt-ja")
    library_shots(app, window, settings, shot, args.out)
    timings = {"drop_to_first_results_s": round(first_results_s, 3),
               "drop_to_first_results_warm_s": round(warm_s, 3), "query": str(query),
               "keyword_results_s": round(keyword_s, 3), "engine": "fake" if args.fake else "real",
               "documents": window.library.status.documents if window.library.status else None}
    (args.out / "timings.json").write_text(json.dumps(timings, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(timings))
    window.close()  # closes the engine too
    shutil.rmtree(tmp, ignore_errors=True)  # the temporary settings and library
    return 0


if __name__ == "__main__":
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)  # skip Qt's teardown: QSettings would re-create the removed temporary folder
