"""Large text and touch mode (pytest-qt, offscreen): at 20 pt nothing on the Library page is cut,
in Japanese and English, and the side menu needs no horizontal scrollbar; in touch mode every
control on the Library and Settings pages is a finger-sized target (44 px)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from PySide6.QtCore import QPoint  # noqa: E402
from PySide6.QtGui import QFontMetrics  # noqa: E402
from PySide6.QtWidgets import (QAbstractButton, QAbstractSpinBox, QApplication, QCheckBox,  # noqa: E402
                               QComboBox, QGroupBox, QLabel, QLineEdit, QListWidget, QRadioButton,
                               QStyle, QStyleOptionButton, QStyleOptionComboBox,
                               QStyleOptionGroupBox, QStyleOptionSpinBox, QTableWidget, QTabWidget,
                               QWidget)

import shiboken6  # noqa: E402

from desktop.compat import guard_none_refcount  # noqa: E402
from desktop.engine_bridge import EngineBridge  # noqa: E402
from desktop.i18n import translator  # noqa: E402
from desktop.main_window import MainWindow  # noqa: E402
from desktop.settings import AppSettings  # noqa: E402
from desktop.style import TOUCH_TARGET_PX, apply_appearance  # noqa: E402
from desktop.testing import FakeEngine  # noqa: E402
from desktop.workers import TaskRunner  # noqa: E402
from engine.types import FailedFile  # noqa: E402

WAIT_MS = 10_000


@pytest.fixture(autouse=True)
def _restore_look(qapp):
    """Appearance is application-wide: put back what the other tests run with."""
    guard_none_refcount()
    font, sheet = QApplication.font(), qapp.styleSheet()
    yield
    apply_appearance(qapp, font.pointSize(), False)
    qapp.setStyleSheet(sheet)
    QApplication.setFont(font)
    translator.set_language("en")


OPEN: list[MainWindow] = []


@pytest.fixture(autouse=True)
def _finish_workers(qtbot):
    """Wait for the windows' worker threads before qtbot deletes the windows."""
    yield
    while OPEN:
        window = OPEN.pop()
        window.runner.cancel_all()
        window.runner.wait(5000)
        window.close()
        shiboken6.delete(window)  # not left half-alive for the next test's style change


def open_window(qtbot, tmp_path: Path, lang: str, font_pt: int, touch: bool) -> MainWindow:
    engine = FakeEngine()
    engine.failed += [FailedFile(f"/plant/scans/スキャン_{i}.png", "the picture has no readable text",
                                 "2026-11-30T09:00:00") for i in range(3)]
    engine.ignored = ["/plant/old/旧図面.pdf"]
    settings = AppSettings(path=tmp_path / "settings.ini")
    window = MainWindow(EngineBridge(engine), TaskRunner(max_threads=2), settings)
    qtbot.addWidget(window)
    OPEN.append(window)
    settings.set("ui/font_pt", font_pt)
    settings.set("ui/touch_mode", touch)
    translator.set_language(lang)
    window.resize(1440, 900)
    window.show()
    qtbot.waitExposed(window)
    window.go("library")
    with qtbot.waitSignal(window.library.status_loaded, timeout=WAIT_MS):
        window.library.refresh()
    qtbot.wait(50)  # let the layouts settle after the new font (no signal for that)
    return window


def visible(root: QWidget, kind) -> list:  # noqa: ANN001
    return [w for w in root.findChildren(kind) if w.isVisible()]


def each_tab(pane: QWidget):
    """Show every tab of every tab widget on the pane in turn (hidden pages are not laid out)."""
    tabs = pane.findChildren(QTabWidget)
    yield None
    for tab in tabs:
        for i in range(tab.count()):
            tab.setCurrentIndex(i)
            QApplication.processEvents()
            yield tab, i


def cut_labels(pane: QWidget, viewport: QWidget) -> list[str]:
    """Labels whose text does not fit their geometry, or that reach past the visible width."""
    cut = []
    for label in visible(pane, QLabel):
        if not label.text():
            continue
        hint = label.sizeHint()
        if label.wordWrap():
            fits = label.heightForWidth(label.width()) <= label.height()
        else:
            fits = hint.width() <= label.width() and hint.height() <= label.height()
        right = label.mapTo(viewport, QPoint(label.width(), 0)).x() if viewport.isAncestorOf(label) else 0
        if not fits or right > viewport.width():
            cut.append(f"{label.text()!r} {label.size().toTuple()} needs {hint.toTuple()}")
    return cut


def cut_titles(pane: QWidget) -> list[str]:
    cut = []
    for box in visible(pane, QGroupBox):
        option = QStyleOptionGroupBox()
        box.initStyleOption(option)
        rect = box.style().subControlRect(QStyle.ComplexControl.CC_GroupBox, option,
                                          QStyle.SubControl.SC_GroupBoxLabel, box)
        metrics = QFontMetrics(box.font())
        below = min((w.geometry().top() for w in box.findChildren(QWidget) if w.parent() is box
                     and w.isVisible()), default=box.height())
        if (rect.top() < 0 or rect.height() < metrics.height() or rect.bottom() >= below
                or rect.width() < metrics.horizontalAdvance(box.title())):
            cut.append(f"{box.title()!r} {rect.getRect()} needs {metrics.horizontalAdvance(box.title())}"
                       f"x{metrics.height()} above y={below}")
    for tabs in visible(pane, QTabWidget):
        bar = tabs.tabBar()
        for i in range(bar.count()):
            if bar.tabRect(i).width() < QFontMetrics(bar.font()).horizontalAdvance(bar.tabText(i)):
                cut.append(f"tab {bar.tabText(i)!r}")
    return cut


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_nothing_on_the_library_page_is_cut_at_20_pt(qtbot, tmp_path, lang):
    window = open_window(qtbot, tmp_path, lang, 20, touch=False)
    library = window.library
    assert QApplication.font().pointSize() == 20
    problems = []
    for _ in each_tab(library):
        problems += cut_labels(library, library.scroll.viewport()) + cut_titles(library)
    assert not problems, problems


@pytest.mark.parametrize("lang", ["ja", "en"])
@pytest.mark.parametrize("touch", [False, True])
def test_the_side_menu_never_scrolls_sideways(qtbot, tmp_path, lang, touch):
    window = open_window(qtbot, tmp_path, lang, 20, touch)
    nav = window.nav
    assert not nav.horizontalScrollBar().isVisible()
    assert nav.viewport().width() >= nav.sizeHintForColumn(0)  # every entry fits
    window.settings.set("ui/font_pt", 12)  # and it gives the room back at a small size
    qtbot.waitUntil(lambda: nav.width() <= 220, timeout=WAIT_MS)


def small_targets(pane: QWidget) -> list[str]:
    """Interactive controls (and their sub-controls) under 44 px; indicators may be drawn at
    24 px or more inside a 44 px row."""
    small = []
    t = TOUCH_TARGET_PX
    style = pane.style()
    for w in visible(pane, QWidget):
        name = f"{type(w).__name__} {getattr(w, 'text', lambda: '')()!r}"
        if isinstance(w, (QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit)) and w.height() < t:
            small.append(f"{name} is {w.height()} px tall")
        if isinstance(w, (QCheckBox, QRadioButton)):
            option = QStyleOptionButton()
            w.initStyleOption(option)
            element = (QStyle.SubElement.SE_CheckBoxIndicator if isinstance(w, QCheckBox)
                       else QStyle.SubElement.SE_RadioButtonIndicator)
            indicator = w.style().subElementRect(element, option, w)
            if min(indicator.width(), indicator.height()) < 24:
                small.append(f"{name} indicator {indicator.size().toTuple()}")
        if isinstance(w, QAbstractSpinBox):
            option = QStyleOptionSpinBox()
            w.initStyleOption(option)
            for sub in (QStyle.SubControl.SC_SpinBoxUp, QStyle.SubControl.SC_SpinBoxDown):
                r = w.style().subControlRect(QStyle.ComplexControl.CC_SpinBox, option, sub, w)
                if r.width() < t or r.height() < t:
                    small.append(f"{name} arrow {r.size().toTuple()}")
        if isinstance(w, QComboBox):
            option = QStyleOptionComboBox()
            w.initStyleOption(option)
            r = w.style().subControlRect(QStyle.ComplexControl.CC_ComboBox, option,
                                         QStyle.SubControl.SC_ComboBoxArrow, w)
            if r.width() < t:
                small.append(f"{name} arrow {r.size().toTuple()}")
        if isinstance(w, QListWidget) and w.count():
            h = w.visualItemRect(w.item(0)).height()
            if h < t:
                small.append(f"{type(w).__name__} rows are {h} px")
        if isinstance(w, QTableWidget) and w.rowCount() and w.rowHeight(0) < t:
            small.append(f"table rows are {w.rowHeight(0)} px")
        if isinstance(w, QTabWidget):
            bar = w.tabBar()
            if any(bar.tabRect(i).height() < t for i in range(bar.count())):
                small.append(f"tabs are {bar.tabRect(0).height()} px")
    del style
    return small


@pytest.mark.parametrize("lang", ["ja", "en"])
def test_touch_mode_makes_every_control_a_44_px_target(qtbot, tmp_path, lang):
    window = open_window(qtbot, tmp_path, lang, 14, touch=True)
    problems = []
    for _ in each_tab(window.library):
        problems += small_targets(window.library)
    window.go("settings")
    qtbot.wait(50)
    problems += small_targets(window.settings_pane)
    assert not problems, sorted(set(problems))


def test_without_touch_mode_the_controls_stay_compact(qtbot, tmp_path):
    window = open_window(qtbot, tmp_path, "en", 14, touch=False)
    assert small_targets(window.library)  # the checks above can fail: the same page, not enlarged
