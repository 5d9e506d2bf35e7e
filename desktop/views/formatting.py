"""Pure text helpers for the views (no Qt widgets): snippets, durations, sizes, icons."""

from __future__ import annotations

import html
import math
import re
from pathlib import PurePath
from typing import Optional

from PySide6.QtGui import QIcon, QPixmap

from desktop.i18n import tr
from engine.config import RESOURCES
from engine.types import Explanation, Snippet

ICONS_DIR = RESOURCES / "icons"
MARK_STYLE = "background-color:#ffe066;color:#000;font-weight:bold"


_ICONS: dict[tuple[str, str], QIcon] = {}


def icon(name: str, color: str | None = None) -> QIcon:
    """An SVG icon from resources/icons, optionally recoloured (e.g. white on the dark nav bar)."""
    key = (name, color or "")
    if key not in _ICONS:
        path = ICONS_DIR / f"{name}.svg"
        if color is None:
            _ICONS[key] = QIcon(str(path))
        else:
            svg = re.sub(r'fill="#[0-9a-fA-F]{6}"', f'fill="{color}"', path.read_text(encoding="utf-8"))
            pixmap = QPixmap()
            pixmap.loadFromData(svg.encode("utf-8"), "SVG")
            _ICONS[key] = QIcon(pixmap)
    return _ICONS[key]


def snippet_html(snippet: Snippet, max_chars: int = 150) -> str:
    """Escape the snippet and wrap every marked span in a highlight."""
    text = snippet.text
    parts: list[str] = []
    pos = 0
    for start, end in sorted(snippet.marks):
        if start < pos or start >= len(text):
            continue
        parts.append(html.escape(text[pos:start]))
        parts.append(f'<span style="{MARK_STYLE}">{html.escape(text[start:end])}</span>')
        pos = end
        if pos > max_chars:
            break
    tail = text[pos:]
    if pos + len(tail) > max_chars:
        tail = tail[: max(0, max_chars - pos)] + "…"
    parts.append(html.escape(tail))
    return "".join(parts)


def format_duration(seconds: Optional[float]) -> str:
    if seconds is None:
        return "–"
    seconds = int(math.ceil(seconds))
    if seconds < 60:
        return tr("{n} s", n=seconds)
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return tr("{m} min {s} s", m=minutes, s=seconds)
    hours, minutes = divmod(minutes, 60)
    return tr("{h} h {m} min", h=hours, m=minutes)


def format_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def kind_label(kind: str) -> str:
    return {"drawing": tr("Drawing"), "document": tr("Document")}.get(kind, kind)


def link_reasons(ex: Explanation) -> list[str]:
    """What relates a hit to the query drawing beyond shared words: its geometry lines up with
    the query page's (the drawing itself or a near copy), or the library's own links (the query
    found in the library): the hit names its file, or lies in its folder or a folder above it."""
    reasons = []
    if ex.same_drawing_points:
        reasons.append(tr("Same geometry as your drawing: {points} points line up", points=ex.same_drawing_points))
    if ex.names_drawing:
        reasons.append(tr("Names the drawing {name}", name=PurePath(ex.names_drawing).name))
    if ex.beside_drawing:
        name = PurePath(ex.beside_drawing).name
        reasons.append(tr("In the folder of the drawing {name}", name=name) if not ex.folders_up
                       else tr("In a folder above the drawing {name}", name=name))
    return reasons
