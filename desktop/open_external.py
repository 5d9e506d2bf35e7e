"""Hand a file to the operating system: default viewer (at a page where possible), file manager."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Callable

from PySide6.QtCore import QProcess, QUrl
from PySide6.QtGui import QDesktopServices

# Viewers that accept a start page on the command line: executable -> argument builder.
PAGE_VIEWERS: dict[str, Callable[[str, int], list[str]]] = {
    "SumatraPDF": lambda path, page: ["-page", str(page), path],
    "Acrobat": lambda path, page: ["/A", f"page={page}", path],
    "AcroRd32": lambda path, page: ["/A", f"page={page}", path],
    "okular": lambda path, page: ["-p", str(page), path],
    "evince": lambda path, page: ["-i", str(page), path],
    "zathura": lambda path, page: ["-P", str(page), path],
    "qpdfview": lambda path, page: [f"{path}#{page}"],
}


def open_at_page(path: str, page: int = 1) -> bool:
    """Open with a page-aware PDF viewer when one is installed, else with the default viewer."""
    if path.lower().endswith(".pdf") and page > 1:
        for exe, args in PAGE_VIEWERS.items():
            found = shutil.which(exe)
            if found and QProcess.startDetached(found, args(path, page))[0]:
                return True
    return QDesktopServices.openUrl(QUrl.fromLocalFile(path))


def show_in_folder(path: str) -> bool:
    """Select the file in Explorer / Finder; elsewhere open its folder."""
    if sys.platform == "win32":
        return QProcess.startDetached("explorer", [f"/select,{Path(path)}"])[0]
    if sys.platform == "darwin":
        return QProcess.startDetached("open", ["-R", path])[0]
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent)))
