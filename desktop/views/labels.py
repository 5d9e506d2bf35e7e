"""Labels that never widen their window: an eliding one-liner and a wrapping message line.

A QLabel asks its layout for the width of its whole text; a long path or a library's error
message then pushes the window past the screen (seen: 1440 px → 1787 px after one corrupt PDF),
and Qt never shrinks a window by itself. Both labels here ignore their text's width.
"""

from __future__ import annotations

import re

from PySide6.QtCore import QEvent, Qt
from PySide6.QtWidgets import QLabel, QSizePolicy

MESSAGE_MAX_CHARS = 320  # longer messages are cut; the whole text is in the tooltip
_BREAK_AFTER = re.compile(r"([/\\_.:,;=&?-])(?=\S)")  # where a long path or URL may wrap


class ElidedLabel(QLabel):
    """A one-line label that shows "…" instead of widening its parent (long paths)."""

    def __init__(self, text: str = "", mode: Qt.TextElideMode = Qt.TextElideMode.ElideMiddle) -> None:
        super().__init__()
        self.mode = mode
        self.full_text = ""
        self.setMinimumWidth(40)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.set_full_text(text)

    def set_full_text(self, text: str) -> None:
        self.full_text = text
        self.setToolTip(text)
        self._elide()

    def resizeEvent(self, event) -> None:  # noqa: ANN001
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        super().setText(self.fontMetrics().elidedText(self.full_text, self.mode, max(40, self.width())))

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self.set_full_text(text)

    def text(self) -> str:  # noqa: D102 - the whole text, not the elided one on screen
        return self.full_text


def breakable(text: str) -> str:
    """Allow a line break after path separators and punctuation (a zero-width space), so a
    path or a library's message without spaces wraps instead of running off the window."""
    return _BREAK_AFTER.sub("\\1\u200b", text)


class MessageLabel(QLabel):
    """A message that wraps to the width it is given and never asks for more.

    Long messages are cut at MESSAGE_MAX_CHARS with "…"; the full text is the tooltip and
    `full_text` (tests, copy to clipboard)."""

    def __init__(self, text: str = "", max_lines: int = 0) -> None:
        super().__init__()
        self.full_text = ""
        self.max_lines = max_lines  # > 0: at most this many lines (the rest is in the tooltip)
        self.setWordWrap(True)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(40)
        self.set_message(text)

    def set_message(self, text: str) -> None:
        self.full_text = text
        shown = text if len(text) <= MESSAGE_MAX_CHARS else text[:MESSAGE_MAX_CHARS - 1] + "…"
        self.setToolTip(text if shown != text or len(text) > 80 or self.max_lines else "")
        super().setText(breakable(shown))

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        self.set_message(text)

    def text(self) -> str:  # noqa: D102 - what was set, without the inserted break points
        return self.full_text

    def changeEvent(self, event) -> None:  # noqa: ANN001
        super().changeEvent(event)
        if self.max_lines and event.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._cap()

    def showEvent(self, event) -> None:  # noqa: ANN001
        super().showEvent(event)
        self._cap()

    def _cap(self) -> None:
        if self.max_lines:
            self.setMaximumHeight(self.max_lines * self.fontMetrics().lineSpacing() + 2 * self.margin() + 14)
            if self.full_text:
                self.setToolTip(self.full_text)
