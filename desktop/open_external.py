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


# The system's default PDF application (xdg-mime's .desktop name) -> the viewer it is.
DESKTOP_FILES = {"org.gnome.evince": "evince", "evince": "evince", "okularapplication_pdf": "okular",
                 "org.kde.okular": "okular", "org.pwmt.zathura": "zathura", "zathura": "zathura",
                 "qpdfview": "qpdfview"}
WINDOWS_APP_PATHS = ("SumatraPDF.exe", "Acrobat.exe", "AcroRd32.exe")


def default_pdf_viewer() -> str | None:
    """The page-aware viewer the user chose as default for PDFs, if it is one we know."""
    if sys.platform.startswith("linux") and shutil.which("xdg-mime"):
        import subprocess

        try:
            out = subprocess.run(["xdg-mime", "query", "default", "application/pdf"], capture_output=True,
                                 text=True, timeout=2).stdout.strip().lower()
        except (OSError, subprocess.SubprocessError):
            return None
        return DESKTOP_FILES.get(out.removesuffix(".desktop"))
    return None


def find_viewer(exe: str) -> str | None:
    """The viewer's executable: on PATH, or (Windows) registered under App Paths."""
    found = shutil.which(exe)
    if found or sys.platform != "win32":
        return found
    import winreg

    for name in (f"{exe}.exe", exe):
        try:
            with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE,
                                rf"SOFTWARE\Microsoft\Windows\CurrentVersion\App Paths\{name}") as key:
                return str(winreg.QueryValue(key, None)) or None
        except OSError:
            continue
    return None


def open_at_page(path: str, page: int = 1) -> bool:
    """Open a PDF at `page` with a viewer that takes a start page (the user's default viewer
    first); otherwise, and for every other file, with the system's default application."""
    if path.lower().endswith(".pdf") and page > 1:
        default = default_pdf_viewer()
        order = ([default] if default in PAGE_VIEWERS else []) + [v for v in PAGE_VIEWERS if v != default]
        for exe in order:
            found = find_viewer(exe)
            if found and QProcess.startDetached(found, PAGE_VIEWERS[exe](path, page))[0]:
                return True
    return QDesktopServices.openUrl(QUrl.fromLocalFile(path))


def show_in_folder(path: str) -> bool:
    """Select the file in Explorer / Finder; elsewhere open its folder."""
    if sys.platform == "win32":
        return QProcess.startDetached("explorer", [f"/select,{Path(path)}"])[0]
    if sys.platform == "darwin":
        return QProcess.startDetached("open", ["-R", path])[0]
    return QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent)))
