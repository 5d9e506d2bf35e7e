"""The expensive, pure part of indexing: a file becomes its pages and chunks, texts become vectors,
pages become picture vectors. Nothing here touches the catalog or the vector indexes: these
functions run in the indexing process (`LocalRunner`) or, with `EngineSettings.cluster`, on a
cluster's workers (engine/indexing/cluster.py), and the library's single writer
(engine/indexing/pipeline.py) commits what they return in the same order either way, so both give
the same catalog and the same vectors.

Each function takes its item and a `Tools` (settings, reader, renderer, OCR and encoders): the
library's own in the indexing process, a per-process set loaded from the model pack on a worker.
What they return is plain data that pickles (no paths of one OS, no model objects).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence, TypeVar, Union

import numpy as np

from engine.config import EngineSettings
from engine.errors import Cancelled, ExtractionError
from engine.files import file_digest
from engine.orientation import Orientation, turn
from engine.progress import CancelToken
from engine.store.catalog import ChunkDraft
from engine.types import Embeddings, ExtractedDocument, PageContent

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


def file_sha1(path: Path | str) -> str:
    """Content identity of a library file (touched-but-unchanged files are not re-read)."""
    return file_digest(path, "sha1")


def chunk_page(page: PageContent, words_per_chunk: int, overlap: int) -> list[ChunkDraft]:
    """Split a page into overlapping chunks of words (keeping word ranges for highlighting).

    Pages without word boxes (plain text) are chunked by whitespace tokens, or by characters for
    unspaced Japanese text.
    """
    if page.words:
        texts = [w.text for w in page.words]
        return word_windows(texts, words_per_chunk, overlap, ranged=True)
    text = page.text.strip()
    if not text:
        return []
    tokens = text.split()
    if len(tokens) > 1 and len(text) / len(tokens) < 40:
        return word_windows(tokens, words_per_chunk, overlap, ranged=False)
    size, step = words_per_chunk * 5, (words_per_chunk - overlap) * 5  # ~characters
    return [ChunkDraft(text[i:i + size], 0, 0) for i in range(0, max(1, len(text) - overlap * 5), step)]


def word_windows(tokens: list[str], size: int, overlap: int, *, ranged: bool) -> list[ChunkDraft]:
    """Chunks of `size` tokens, each sharing `overlap` with the one before; `ranged`: each keeps
    its token range (for highlighting words)."""
    step = max(1, size - overlap)
    out = []
    for start in range(0, len(tokens), step):
        end = min(len(tokens), start + size)
        out.append(ChunkDraft(" ".join(tokens[start:end]), start if ranged else 0, end if ranged else 0))
        if end == len(tokens):
            break
    return out


class Tools(Protocol):
    """What the work needs: the library's own in-process, loaded once per worker process."""

    settings: EngineSettings
    extract: Callable[..., ExtractedDocument]
    render: Callable[..., Any]

    @property
    def ocr(self) -> Any: ...
    @property
    def text_encoder(self) -> Any: ...
    @property
    def image_encoder(self) -> Any: ...


# -- reading one file ----------------------------------------------------------------------------
@dataclass(frozen=True)
class FileJob:
    """A file to read, with what the catalog knows of it (read by the writer before submitting)."""

    path: str
    known_sha1: str | None = None  # the bytes the catalog holds for this path
    resume_from: int | None = None  # pages stored of an unfinished read of those bytes, to go on after
    notes: tuple[str, ...] = ()  # that document's notes so far (when resuming)


@dataclass(frozen=True)
class PageBatch:
    """Pages read from a file: one catalog transaction. `append`: they continue a stored document."""

    sha1: str
    append: bool
    format: str
    kind: str
    title: str
    pages: tuple[PageContent, ...]
    chunks: tuple[tuple[ChunkDraft, ...], ...]  # per page
    state: str  # "complete", "partial" (a budget stopped it) or "reading" (more batches follow)
    note: str
    page_total: int


@dataclass(frozen=True)
class Unchanged:
    """Same bytes as the catalog's and nothing left to read: only the stamp changes."""

    sha1: str


@dataclass(frozen=True)
class Unreadable:
    """The file cannot be read; `reason` is what `zumen status` shows."""

    reason: str


ReadEvent = Union[PageBatch, Unchanged, Unreadable]


def read_file(job: FileJob, tools: Tools) -> Iterator[ReadEvent]:
    """Read a file as its catalog transactions: `Unchanged`, or `PageBatch`es (a PDF `page_batch`
    pages at a time), possibly ending in `Unreadable`. Lazy: in-process, each batch is committed
    before the next is read, so a long PDF is searchable as it is read and resumes after the last
    batch. `max_pages_per_file` / `max_seconds_per_file` end a file early as "partial"."""
    s = tools.settings
    path = Path(job.path)
    batched = path.suffix.lower() == ".pdf"
    t0 = time.monotonic()
    try:
        sha1 = file_sha1(path)
    except OSError as exc:
        yield Unreadable(f"cannot read file: {exc.strerror or exc}")
        return
    first, notes, append = 1, [], False
    if sha1 == job.known_sha1:
        if job.resume_from is None:
            yield Unchanged(sha1)
            return
        first, notes, append = job.resume_from + 1, list(job.notes), True
    while True:
        limit = None
        if batched:
            limit = s.page_batch
            if s.max_pages_per_file:
                limit = max(1, min(limit, s.max_pages_per_file - (first - 1)))
        doc = _extract(tools, path, first, limit) if batched else _extract(tools, path)
        if isinstance(doc, Unreadable):
            yield doc
            return
        total = doc.page_total or len(doc.pages)
        end = first - 1 + len(doc.pages)
        notes += [w for w in doc.warnings if w not in notes]
        done = end >= total or not doc.pages
        over = not done and bool(
            (s.max_pages_per_file and end >= s.max_pages_per_file)
            or (s.max_seconds_per_file and time.monotonic() - t0 >= s.max_seconds_per_file))
        if over:
            notes.append(f"partially indexed: pages 1-{end} of {total} (the page/time budget "
                         "per file stopped it; raise it and change the file to read the rest)")
        state = "complete" if done else "partial" if over else "reading"
        chunks = tuple(tuple(chunk_page(p, s.chunk_words, s.chunk_overlap_words)) for p in doc.pages)
        yield PageBatch(sha1, append, doc.format, doc.kind, doc.title, tuple(doc.pages), chunks,
                        state, "; ".join(notes)[:1000], total)
        if state != "reading":
            return
        first, append = end + 1, True


def _extract(tools: Tools, path: Path, first: int = 1, limit: int | None = None
             ) -> ExtractedDocument | Unreadable:
    """Extract (a batch of pages of) a file; a failure to read is returned, never raised."""
    try:
        if limit is None and first == 1:
            return tools.extract(path, tools.settings, tools.ocr)
        return tools.extract(path, tools.settings, tools.ocr, first_page=first, max_pages=limit)
    except Cancelled:
        raise
    except ExtractionError as exc:
        return Unreadable(exc.reason)
    except OSError as exc:
        return Unreadable(f"cannot read file: {exc.strerror or exc}")
    except Exception as exc:  # a bug or a library error on odd input must not stop the run
        log.exception("extraction failed for %s", path)
        return Unreadable(f"unexpected error while reading: {type(exc).__name__}: {exc}")


# -- embedding -----------------------------------------------------------------------------------
def encode_texts(texts: Sequence[str], tools: Tools) -> Embeddings:
    """(n, dim) vectors of one batch of texts (the batch is padded to its longest text)."""
    return tools.text_encoder.encode(list(texts), batch_size=len(texts))  # (n, dim)


def embed_pages(pages: Sequence[tuple[str, int, int]], tools: Tools) -> tuple[list[int], Embeddings]:
    """Render and embed (path, page_no, rotation) pages, each turned upright by the rotation OCR
    read it at (a query picture is turned the same way, engine.orientation): (positions rendered,
    their (k, dim) vectors). A page that renders for text but not as a picture is logged and left
    out."""
    images, ok = [], []
    for i, (path, page_no, rotation) in enumerate(pages):
        try:
            image = tools.render(Path(path), page_no, tools.settings.render_dpi, grayscale=True)
            images.append(turn(image, Orientation(rotation)) if rotation else image)
            ok.append(i)
        except Exception as exc:
            log.warning("cannot render %s page %d: %s", path, page_no, exc)
    if not images:
        return ok, np.zeros((0, 0), dtype=np.float32)
    return ok, tools.image_encoder.encode(images)  # (k, dim)


# -- where the work runs ---------------------------------------------------------------------------
class LocalTools:
    """The library's own settings, reader, renderer, OCR and encoders (each loaded on first use)."""

    def __init__(self, library: Any, extract: Callable[..., ExtractedDocument],
                 render: Callable[..., Any]) -> None:
        self._lib = library
        self.settings = library.settings
        self.extract = extract
        self.render = render

    @property
    def ocr(self) -> Any:
        return self._lib.ocr

    @property
    def text_encoder(self) -> Any:
        return self._lib.text_encoder

    @property
    def image_encoder(self) -> Any:
        return self._lib.image_encoder


class LocalRunner:
    """Runs the work in this process, one item at a time, as the caller asks for it."""

    def __init__(self, tools: Tools) -> None:
        self.tools = tools

    def map(self, fn: Callable[[Any, Tools], R], items: Iterable[T], payload: Callable[[T], Any],
            cancel: CancelToken | None = None, lost: Callable[[str], R] | None = None
            ) -> Iterator[tuple[T, R]]:
        """(item, fn(payload(item), tools)) for each item, in order; `read_file`'s batches stay
        lazy (each is read when the writer asks for it). The caller checks `cancel` between
        items; `lost` (what a cluster gives for an item whose workers died) has no use here."""
        for item in items:
            yield item, fn(payload(item), self.tools)

    def close(self) -> None:
        pass
