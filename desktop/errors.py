"""What a user reads when something fails: the engine's reason, translated, with what to do next.

The engine's messages are English sentences for the CLI and logs, and some end with the raw
words of the library that failed ("(Failed to open file: format error: cannot find xref)"). The
desktop shows none of that text directly: each reason the engine can give is matched here and
replaced by a sentence in the UI language that says what happened and what to do next. The raw
message stays available as `Explained.detail` (tooltips, "copy details").

tests/test_desktop_errors.py reads every reason written in engine/ and fails when one has no
entry here, so a new engine message cannot reach a user untranslated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from desktop.i18n import N_, tr
from engine.errors import Cancelled, EngineError, ExtractionError, LibraryError, PackError, QueryError

# (pattern over the engine's reason, the sentence shown). Named groups fill the sentence's fields.
REASONS: tuple[tuple[str, str], ...] = (
    (r"the file is empty \(0 bytes\)",
     N_("The file is empty (0 bytes). Copy it again from where it came from.")),
    (r"not a PDF file",
     N_("This is not a PDF, although its name ends in .pdf (wrong name or damaged file). "
        "Open it to check, or export the PDF again.")),
    (r"the PDF is incomplete",
     N_("The PDF is incomplete (an interrupted copy or download). Copy it again.")),
    (r"not a readable PDF",
     N_("The PDF is damaged and cannot be read. Open it in a PDF viewer to check, or export it again.")),
    (r"the PDF is password-protected",
     N_("The PDF is protected by a password. Save a copy without the password and use that.")),
    (r"the PDF has no pages|no page of the PDF could be read",
     N_("The PDF has no readable page (damaged or cut short). Export or copy it again.")),
    (r"not a readable image",
     N_("The picture cannot be read: the file is damaged or is not the type its name says. "
        "Save it again as PNG or JPEG.")),
    (r"the image could not be opened|the image data is damaged",
     N_("The picture is damaged or cut short. Copy it again, or save it again as PNG or JPEG.")),
    (r"the image is too large to read safely \((?P<size>[^:;]*)",
     N_("The picture is too large to read ({size}). Scan it at a lower resolution or crop it.")),
    (r"files of type '(?P<suffix>[^']*)' are not supported",
     N_("Zumen does not read “{suffix}” files. It reads PDF, pictures (PNG, JPEG, TIFF), text, "
        "Markdown, CSV, Excel and Word files.")),
    (r"the file does not exist",
     N_("The file is no longer there (moved or deleted). Update the index (F5).")),
    (r"the file cannot be accessed",
     N_("Zumen is not allowed to read this file. Ask its owner or your administrator for read access.")),
    (r"this is a folder, not a file",
     N_("This is a folder, not a file. Add folders on the Library page.")),
    (r"not enough memory",
     N_("There is not enough memory to read this file. Close other programs and try again.")),
    (r"unexpected error while reading",
     N_("Zumen could not read this file (an unexpected error). If it opens in its own program, "
        "please give the file to your administrator.")),
    (r"the page could not be drawn",
     N_("The page could not be drawn; the file may be damaged. Open it in its own program to check.")),
    (r"the text file is too large",
     N_("The text file is too large to index. Split it into smaller files.")),
    (r"this is a binary file, not text",
     N_("This file holds binary data, not text, although its name says text. Check its name.")),
    (r"the CSV file is malformed",
     N_("The CSV file is malformed. Open it in a spreadsheet and save it again as CSV.")),
    (r"not a readable Excel workbook",
     N_("The Excel workbook cannot be read (damaged, or an old .xls renamed). "
        "Open it in Excel and save it again as .xlsx.")),
    (r"not a readable Word document",
     N_("The Word document cannot be read (damaged, or an old .doc renamed). "
        "Open it in Word and save it again as .docx.")),
    (r"not a readable .*: the file is damaged",
     N_("The file cannot be read: it is damaged or not the type its name says. Open it in its own "
        "program and save it again.")),
    (r"would unpack to .* decompression bomb",
     N_("The file would unpack to far more data than it holds (damaged, or made to overload a "
        "computer). Open it in its own program and save it again.")),
    (r"is read-only for this user",
     N_("You may search this library but not change it. Ask your administrator to update it.")),
    (r"folder not found",
     N_("The folder is not there (moved, renamed, or on a drive that is not connected). Check its path.")),
    (r"has no page (?P<page>\d+)",
     N_("Page {page} does not exist in this file. Update the index (F5).")),
    (r"vote must be",
     N_("The vote was not saved. Try again.")),
    (r"page (?P<page>\d+) does not exist",
     N_("Page {page} does not exist in this file. Update the index (F5).")),
    (r"query file not found",
     N_("The file is no longer there (moved or deleted).")),
    (r"the search text is empty",
     N_("Type a part number, a material or some words first.")),
    (r"nothing to search for in",
     N_("There is nothing to search for: type letters or numbers.")),
    (r"not in the library|no document with id",
     N_("This file is not in the library (any more). Update the index (F5).")),
    (r"another Zumen process is indexing or adapting this library",
     N_("Another Zumen is updating this library. Try again when it has finished.")),
    (r"cannot open library at",
     N_("The library cannot be opened. Check that its folder exists and that you may write to it.")),
    (r"vector index .* (is unreadable|has \d+ dimensions)",
     N_("The library's search index is damaged or belongs to another model. Update the index (F5) "
        "to rebuild it.")),
)
_COMPILED = tuple((re.compile(pattern), text) for pattern, text in REASONS)
UNKNOWN = N_("Something went wrong. The details are in the tooltip; please tell your administrator.")


@dataclass(frozen=True)
class Explained:
    text: str  # in the UI language: what happened and what to do next
    detail: str  # the engine's own words (English, technical), for tooltips and reports
    known: bool  # False: no entry in REASONS matched


def explain_reason(reason: str) -> Explained:
    """The UI sentence for one of the engine's reasons (also those stored for failed files)."""
    for pattern, text in _COMPILED:
        match = pattern.search(reason)
        if match:
            return Explained(tr(text, **match.groupdict()) if match.groupdict() else tr(text),
                             reason, True)
    return Explained(tr(UNKNOWN), reason, False)


def explain(error: BaseException) -> Explained:
    """The UI sentence for an exception from the engine (or anything a worker raised)."""
    if isinstance(error, Cancelled):
        return Explained(tr("Stopped."), str(error), True)
    if isinstance(error, ExtractionError):
        found = explain_reason(error.reason)
        return Explained(f"{Path(error.path).name}: {found.text}", str(error), found.known)
    if isinstance(error, (QueryError, LibraryError, PackError, EngineError)):
        found = explain_reason(str(error))
        if found.known or not isinstance(error, PackError):
            return found
        return Explained(tr("The model pack could not be loaded. Ask your administrator to install "
                            "it again (“zumen doctor” says what is wrong)."), str(error), True)
    if isinstance(error, MemoryError):
        return explain_reason("not enough memory")
    return Explained(tr(UNKNOWN), f"{type(error).__name__}: {error}", False)
