"""Incremental indexing in two phases:

1. read: scan -> extract (text layer / OCR) -> chunk -> catalog. Each document is one catalog
   transaction, and is searchable by keywords as soon as it is committed.
2. embed: `reconcile` gives every catalog chunk its text vector and every picture page its
   image vector, in batches, saving the vector indexes atomically every `SAVE_EVERY_S` seconds.

The same `reconcile` runs after a crash, a cancel or a model-pack switch: whatever the vector
indexes lack is embedded, whatever they hold for chunks that are gone is dropped, so catalog and
vectors always converge. Cancelling never waits for embeddings: the next run finishes them.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from engine.errors import Cancelled, ExtractionError
from engine.files import file_digest
from engine.indexing.scanner import FileStamp, canonical, plan_scan, walk_files
from engine.progress import CancelToken, Progress, ProgressCallback, RateMeter, report
from engine.store.catalog import ChunkDraft
from engine.types import ExtractedDocument, FailedFile, IndexReport, PageContent

log = logging.getLogger(__name__)

SAVE_EVERY_S = 30.0
TEXT_BATCH = 32  # chunks embedded between progress reports and cancel checks


def file_sha1(path: Path) -> str:
    """Content identity of a library file (touched-but-unchanged files are not re-read)."""
    return file_digest(path, "sha1")


def chunk_page(page: PageContent, words_per_chunk: int, overlap: int) -> list[ChunkDraft]:
    """Split a page into overlapping chunks of words (keeping word ranges for highlighting).

    Pages without word boxes (plain text) are chunked by whitespace tokens, or by characters for
    unspaced Japanese text.
    """
    if page.words:
        texts = [w.text for w in page.words]
        return _windows(texts, words_per_chunk, overlap, ranged=True)
    text = page.text.strip()
    if not text:
        return []
    tokens = text.split()
    if len(tokens) > 1 and len(text) / len(tokens) < 40:
        return _windows(tokens, words_per_chunk, overlap, ranged=False)
    size, step = words_per_chunk * 5, (words_per_chunk - overlap) * 5  # ~characters
    return [ChunkDraft(text[i:i + size], 0, 0) for i in range(0, max(1, len(text) - overlap * 5), step)]


def _windows(tokens: list[str], size: int, overlap: int, *, ranged: bool) -> list[ChunkDraft]:
    step = max(1, size - overlap)
    out = []
    for start in range(0, len(tokens), step):
        end = min(len(tokens), start + size)
        out.append(ChunkDraft(" ".join(tokens[start:end]), start if ranged else 0, end if ranged else 0))
        if end == len(tokens):
            break
    return out


class IndexingPipeline:
    """Runs one indexing job over a `Library` (catalog + vector indexes + encoders)."""

    def __init__(self, library, *, extract: Callable[..., ExtractedDocument],
                 render: Callable[..., object], suffixes: frozenset[str]) -> None:
        self.lib = library
        self.settings = library.settings
        self._extract = extract
        self._render = render
        self._suffixes = suffixes

    # -- entry point -------------------------------------------------------------------------
    def run(self, roots: Sequence[Path], *, progress: ProgressCallback | None = None,
            cancel: CancelToken | None = None, retry_failed: bool = False) -> IndexReport:
        cancel = cancel or CancelToken()
        t0 = time.perf_counter()
        cat = self.lib.catalog
        report(progress, Progress("scan", 0, None, "files", "looking for files"))
        rejected: list[tuple[str, str]] = []
        by_path: dict[str, FileStamp] = {}
        ignored = set(cat.ignored_paths())  # left out by the user: neither indexed nor failed
        for root in roots:  # one walk per root: skipped types are remembered per folder
            skipped: dict[str, list] = {}
            by_path.update((f.path, f) for f in walk_files([root], self._suffixes, cancel,
                                                            rejected, skipped)
                           if f.path not in ignored)
            if Path(root).is_dir():
                cat.set_skipped_types(canonical(root), skipped)
        found = [by_path[k] for k in sorted(by_path)]
        rejected = [(p, why) for p, why in rejected if p not in ignored]
        plan = plan_scan(found, cat.document_stamps(), cat.failure_stamps(),
                         [canonical(r) for r in roots], retry_failed=retry_failed)
        counts = dict(added=0, updated=0, removed=0, failed=len(rejected), pages=0)
        errors: list[FailedFile] = []
        for path, reason in rejected:  # recorded, shown in `zumen status`; the run goes on
            cat.record_failure(path, reason, 0, 0)
            errors.append(FailedFile(path, reason, ""))
        cancelled = False
        t_embed = None
        try:
            for path in plan.deleted:
                chunk_ids, page_ids = cat.delete_document(path)
                self.lib.drop_vectors(chunk_ids, page_ids)
                counts["removed"] += 1
            todo = plan.to_process
            new_paths = {f.path for f in plan.new}
            meter = RateMeter("index", len(todo), "files")
            for i, stamp in enumerate(todo):
                cancel.check()
                report(progress, meter.progress(i, Path(stamp.path).name))
                outcome = self._index_file(stamp)
                if isinstance(outcome, FailedFile):
                    errors.append(outcome)
                    counts["failed"] += 1
                elif outcome is not None:
                    counts["added" if stamp.path in new_paths else "updated"] += 1
                    counts["pages"] += outcome
            report(progress, meter.progress(len(todo), "read"))
            t_embed = time.perf_counter()
            self.reconcile(progress, cancel)
        except (Cancelled, KeyboardInterrupt):
            cancelled = True  # what is in the catalog stays; the next run embeds the rest
        finally:
            report(progress, Progress("save", 0, 1, "steps", "saving index"))
            self.lib.save_vectors()
        return IndexReport(
            added=counts["added"], updated=counts["updated"], removed=counts["removed"],
            unchanged=len(plan.unchanged), failed=counts["failed"], pages=counts["pages"],
            elapsed_s=time.perf_counter() - t0,
            embed_s=time.perf_counter() - t_embed if t_embed is not None else 0.0,
            cancelled=cancelled, errors=tuple(errors))

    # -- one file ----------------------------------------------------------------------------
    def _index_file(self, stamp: FileStamp) -> int | FailedFile | None:
        """Returns the number of pages indexed, a FailedFile, or None when content is unchanged."""
        cat = self.lib.catalog
        path = Path(stamp.path)
        try:
            sha1 = file_sha1(path)
            old = cat.document_by_path(stamp.path)
            if old is not None and old.sha1 == sha1:
                cat.restamp_document(old.id, stamp.size, stamp.mtime_ns)  # touched, not changed
                return None
            doc = self._extract(path, self.settings, self.lib.ocr)
        except Cancelled:
            raise
        except ExtractionError as exc:
            return self._fail(stamp, exc.reason)
        except OSError as exc:
            return self._fail(stamp, f"cannot read file: {exc.strerror or exc}")
        except Exception as exc:  # a bug or a library error on odd input must not stop the run
            log.exception("extraction failed for %s", path)
            return self._fail(stamp, f"unexpected error while reading: {type(exc).__name__}: {exc}")
        chunks = [chunk_page(p, self.settings.chunk_words, self.settings.chunk_overlap_words)
                  for p in doc.pages]
        _, old_chunks, old_pages, _ = cat.replace_document(
            path=stamp.path, size=stamp.size, mtime_ns=stamp.mtime_ns, sha1=sha1,
            format=doc.format, kind=doc.kind, title=doc.title, pages=doc.pages, chunks=chunks)
        self.lib.drop_vectors(old_chunks, old_pages)
        return len(doc.pages)

    def _fail(self, stamp: FileStamp, reason: str) -> FailedFile:
        cat = self.lib.catalog
        old_chunks, old_pages = cat.delete_document(stamp.path)
        self.lib.drop_vectors(old_chunks, old_pages)
        cat.record_failure(stamp.path, reason, stamp.size, stamp.mtime_ns)
        log.warning("could not index %s: %s", stamp.path, reason)
        return FailedFile(stamp.path, reason, "")

    # -- embeddings --------------------------------------------------------------------------
    def _embed_chunks(self, chunk_ids: list[int], texts: list[str]) -> None:
        vecs = self.lib.text_encoder.encode(texts, batch_size=self.settings.embed_batch)
        self.lib.text_index.add(np.array(chunk_ids, dtype=np.uint64), vecs)

    def _embed_pages(self, pages: list[tuple[int, str, int]]) -> None:
        """Render and embed (page_id, path, page_no) pages; a page that renders for text but
        not as a picture is logged and left out."""
        images, ids = [], []
        for page_id, path, page_no in pages:
            try:
                images.append(self._render(Path(path), page_no, self.settings.render_dpi,
                                           grayscale=True))
                ids.append(page_id)
            except Exception as exc:
                log.warning("cannot render %s page %d: %s", path, page_no, exc)
        if images:
            self.lib.image_index.add(np.array(ids, dtype=np.uint64), self.lib.image_encoder.encode(images))

    def reconcile(self, progress: ProgressCallback | None = None,
                  cancel: CancelToken | None = None) -> int:
        """Make the vector indexes match the catalog: embed what they lack (new documents, or
        everything after a model-pack switch), drop what the catalog no longer has.
        Returns the number of vectors computed. Saves every SAVE_EVERY_S seconds."""
        lib = self.lib
        if lib.text_encoder is None:
            return 0
        cat = lib.catalog
        chunk_ids = np.array(cat.all_chunk_ids(), dtype=np.uint64)
        lib.text_index.remove(np.setdiff1d(lib.text_index.keys(), chunk_ids))
        missing = chunk_ids[~lib.text_index.contains(chunk_ids)] if len(chunk_ids) else chunk_ids
        todo_pages: list[tuple[int, int, int]] = []
        if lib.image_encoder is not None and lib.image_index is not None:
            pages = cat.visual_pages()
            page_ids = np.array([p[0] for p in pages], dtype=np.uint64)
            lib.image_index.remove(np.setdiff1d(lib.image_index.keys(), page_ids))
            if len(page_ids):
                absent = ~lib.image_index.contains(page_ids)
                todo_pages = [p for p, a in zip(pages, absent) if a]
        total = len(missing) + len(todo_pages)
        meter = RateMeter("embed", total, "items")
        done = 0
        last_save = time.perf_counter()
        if total:  # the step starts now (loading the encoders may take a while)
            report(progress, meter.progress(0, "understanding text"))
        if len(missing):
            rows = cat.chunks_by_ids(missing.tolist())
            docs = cat.documents_by_ids(r.doc_id for r in rows.values())
            for start in range(0, len(missing), TEXT_BATCH):
                if cancel is not None:
                    cancel.check()
                batch = missing[start:start + TEXT_BATCH].tolist()
                self._embed_chunks(batch, [embedding_text(docs[rows[c].doc_id].title, rows[c].text)
                                           for c in batch])
                done += len(batch)
                report(progress, meter.progress(done, "understanding text"))
                last_save = self._save_now(last_save)
        if todo_pages:
            docs = cat.documents_by_ids(p[1] for p in todo_pages)
            for start in range(0, len(todo_pages), 16):
                if cancel is not None:
                    cancel.check()
                batch = [(pid, docs[d].path, no) for pid, d, no in todo_pages[start:start + 16]]
                self._embed_pages(batch)
                done += len(batch)
                report(progress, meter.progress(done, "looking at pages"))
                last_save = self._save_now(last_save)
        return done

    def _save_now(self, last_save: float) -> float:
        if time.perf_counter() - last_save > SAVE_EVERY_S:
            self.lib.save_vectors()
            return time.perf_counter()
        return last_save


def embedding_text(title: str, text: str) -> str:
    """What the text encoder sees for a chunk: the document title gives context to short chunks."""
    return f"{title}\n{text}" if title else text
