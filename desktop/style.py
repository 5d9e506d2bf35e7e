"""Application look: a Japanese-capable font, large text, big targets in touch mode."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtGui import QFont, QFontDatabase
from PySide6.QtWidgets import QApplication

FONTS_DIR = Path(__file__).resolve().parent.parent / "resources" / "fonts"
PREFERRED_FAMILIES = ("Noto Sans CJK JP", "Noto Sans JP", "Yu Gothic UI", "Meiryo UI", "Meiryo",
                      "IPAexGothic", "IPAGothic", "Hiragino Sans", "Source Han Sans JP", "Droid Sans Fallback")


def ui_font_family() -> str:
    """A family that draws Japanese; loads fonts shipped in resources/fonts/ when the system has none."""
    japanese = set(QFontDatabase.families(QFontDatabase.WritingSystem.Japanese))
    if not japanese and FONTS_DIR.is_dir():
        for path in sorted(FONTS_DIR.glob("*.[ot]t[fc]")):
            QFontDatabase.addApplicationFont(str(path))
        japanese = set(QFontDatabase.families(QFontDatabase.WritingSystem.Japanese))
    for family in PREFERRED_FAMILIES:
        if family in japanese:
            return family
    return sorted(japanese)[0] if japanese else QApplication.font().family()


def has_japanese_font() -> bool:
    return bool(QFontDatabase.families(QFontDatabase.WritingSystem.Japanese))


TOUCH_TARGET_PX = 44  # the smallest control a finger hits reliably (Apple HIG, WCAG 2.5.5)
_touch = [False]


def touch_target_px() -> int:
    """The height every control and row must reach in touch mode (0 when it is off)."""
    return TOUCH_TARGET_PX if _touch[0] else 0


def touch_rules(touch: bool) -> str:
    """Touch mode: check boxes, radio buttons, spin box arrows, combo arrows, tabs and list rows
    grow to finger size (44 px targets; indicators drawn at 28 px in a 44 px row)."""
    if not touch:
        return ""
    t = TOUCH_TARGET_PX
    return f"""
QCheckBox, QRadioButton {{ min-height: {t}px; spacing: 12px; }}
QCheckBox::indicator, QRadioButton::indicator {{ width: 28px; height: 28px; }}
QSpinBox {{ padding-right: {t + 4}px; padding-left: {t + 4}px; }}
QSpinBox::up-button {{ subcontrol-origin: border; subcontrol-position: center right; width: {t}px; height: {t}px; }}
QSpinBox::down-button {{ subcontrol-origin: border; subcontrol-position: center left; width: {t}px; height: {t}px; }}
QSpinBox::up-arrow, QSpinBox::down-arrow {{ width: 16px; height: 16px; }}
QComboBox::drop-down {{ width: {t}px; }}
QTabBar::tab {{ min-height: {t}px; padding: 4px 16px; }}
QListView::item {{ min-height: {t}px; }}
QHeaderView::section {{ min-height: {t}px; }}
QScrollBar:vertical {{ width: 24px; }}
QScrollBar:horizontal {{ height: 24px; }}
"""


def stylesheet(font_pt: int, touch: bool) -> str:
    pad = 14 if touch else 8
    row_min = 56 if touch else 40
    return f"""
QWidget {{ font-size: {font_pt}pt; }}
QPushButton, QToolButton, QComboBox, QLineEdit, QSpinBox {{ min-height: {row_min - 12}px; padding: 4px {pad}px; }}
QPushButton#PrimaryButton {{ background: #1f4e79; color: white; border-radius: 6px; font-weight: bold; }}
QPushButton#PrimaryButton:disabled {{ background: #8aa2b8; }}
QPushButton#DangerButton {{ color: #a4262c; }}
QPushButton#DangerButton:disabled {{ color: #9a9a9a; }}
QLineEdit#SearchBox {{ font-size: {font_pt + 4}pt; min-height: {row_min}px; border: 2px solid #1f4e79; border-radius: 6px; }}
QFrame#DropZone {{ border: 3px dashed #7f9cbf; border-radius: 12px; background: #f2f6fb; }}
QFrame#DropZone[hover="true"] {{ border-color: #1f4e79; background: #dce9f7; }}
QLabel#DropTitle {{ font-size: {font_pt + 6}pt; font-weight: bold; color: #1f4e79; }}
QLabel#ListTitle, QLabel#PreviewTitle {{ font-size: {font_pt + 2}pt; font-weight: bold; }}
QLabel#ResultTitle {{ font-weight: bold; font-size: {font_pt + 1}pt; }}
QListWidget#ChipList {{ font-size: {max(10, font_pt - 2)}pt; }}
QLabel#ResultPath, QLabel#Hint {{ color: #555; font-size: {max(10, font_pt - 3)}pt; }}
QLabel#ResultMeta {{ color: #1f4e79; font-size: {max(10, font_pt - 2)}pt; }}
QLabel#PreviewWhy {{ background: #fff8db; border: 1px solid #f0d97a; padding: 6px; border-radius: 4px; }}
QLabel#SearchStatus {{ color: #333; }}
QLabel#Thumb {{ background: white; border: 1px solid #ccd; }}
QListWidget#ResultList::item:selected {{ background: #cfe3f7; border: 2px solid #1f4e79; }}
QListWidget#NavList {{ background: #1f4e79; color: white; border: none; font-size: {font_pt + 1}pt; outline: none; }}
QListWidget#NavList::item {{ padding: {pad + 6}px {pad}px; }}
QListWidget#NavList::item:selected {{ background: #2f6ea5; font-weight: bold; }}
QToolButton#VoteButton {{ min-width: {row_min - 8}px; min-height: {row_min - 12}px; }}
QToolButton#VoteButton:checked {{ background: #e3efe3; border: 1px solid #7a7; border-radius: 4px; }}
QGroupBox {{ font-weight: bold; margin-top: 1.6em; padding-top: 0.3em; }}
QGroupBox::title {{ subcontrol-origin: margin; subcontrol-position: top left; left: 8px; top: 0.2em; }}
QProgressBar {{ min-height: {row_min - 16}px; text-align: center; }}
""" + touch_rules(touch)


def apply_appearance(app: QApplication, font_pt: int, touch: bool) -> None:
    font = QFont(ui_font_family(), font_pt)
    app.setFont(font)
    _touch[0] = touch
    app.setStyleSheet(stylesheet(font_pt, touch))
