"""Incremental indexing in two phases:

1. read: scan -> extract (text layer / OCR) -> chunk -> catalog. Each document is one catalog
   transaction, and is searchable by keywords as soon as it is committed.
2. embed: `reconcile` gives every catalog chunk its text vector and every picture page its
   image vector, in batches, saving the vector indexes atomically every `SAVE_EVERY_S` seconds.

The same `reconcile` runs after a crash, a cancel or a model-pack switch. It verifies rather than
trusts: a vector counts only when its key (catalog id + fingerprint of the embedded content,
engine/store/vectors.py) is the one the catalog expects now; whatever the indexes lack is
embedded, whatever else they hold is dropped, so catalog and vectors always converge. Cancelling
never waits for embeddings: the next run finishes them.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from engine.errors import Cancelled, ExtractionError
from engine.faults import fault_point
from engine.files import file_digest
from engine.indexing.scanner import FileStamp, canonical, is_under, plan_scan, walk_files
from engine.progress import CancelToken, Progress, ProgressCallback, RateMeter, report
from engine.store.catalog import ChunkDraft, embedding_text, picture_fingerprint
from engine.store.vectors import vector_keys
from engine.types import ExtractedDocument, FailedFile, IndexReport, PageContent

log = logging.getLogger(__name__)

SAVE_EVERY_S = 30.0


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
        try:
            for root in roots:  # one walk per root: skipped types are remembered per folder
                skipped: dict[str, list] = {}
                by_path.update((f.path, f) for f in walk_files(
                    [root], self._suffixes, cancel, rejected, skipped,
                    follow_symlinks=self.settings.follow_symlinks) if f.path not in ignored)
                if Path(root).is_dir():
                    cat.set_skipped_types(canonical(root), skipped)
        except (Cancelled, KeyboardInterrupt):  # stopped while looking: nothing changed yet
            return IndexReport(elapsed_s=time.perf_counter() - t0, cancelled=True)
        found = [by_path[k] for k in sorted(by_path)]
        rejected = [(p, why) for p, why in rejected if p not in ignored]
        indexed = cat.document_stamps(resume_partial=retry_failed)
        plan = plan_scan(found, indexed, cat.failure_stamps(),
                         [canonical(r) for r in roots], retry_failed=retry_failed)
        folders = cat.folders()  # documents under no library folder (a link's target stored by
        if folders:              # an older version, a folder removed by a crashed run): dropped
            plan.deleted += sorted(p for p in indexed
                                   if p not in plan.deleted and not is_under(p, folders))
        counts = dict(added=0, updated=0, removed=0, failed=len(rejected), pages=0, touched=0)
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
                outcome = self._index_file(stamp, cancel, resume_partial=retry_failed)
                if isinstance(outcome, FailedFile):
                    errors.append(outcome)
                    counts["failed"] += 1
                elif outcome is not None:
                    counts["added" if stamp.path in new_paths else "updated"] += 1
                    counts["pages"] += outcome
                else:  # touched, same bytes
                    counts["touched"] += 1
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
            unchanged=len(plan.unchanged) + counts["touched"], failed=counts["failed"],
            pages=counts["pages"],
            elapsed_s=time.perf_counter() - t0,
            embed_s=time.perf_counter() - t_embed if t_embed is not None else 0.0,
            cancelled=cancelled, errors=tuple(errors),
            notes=tuple(n for n in cat.notes() if n.path in {f.path for f in plan.to_process}))

    # -- one file ----------------------------------------------------------------------------
    def _index_file(self, stamp: FileStamp, cancel: CancelToken | None = None, *,
                    resume_partial: bool = False) -> int | FailedFile | None:
        """Returns the number of pages indexed, a FailedFile, or None when content is unchanged.

        A PDF is read and committed `page_batch` pages at a time: its pages are searchable as
        they come, and a run that stops (crash, cancel) resumes after the last committed batch.
        `max_pages_per_file` / `max_seconds_per_file` stop a file early: it stays "partial", with
        a note saying which pages are in, until it changes or `resume_partial` (`zumen index
        --retry-failed`) continues it."""
        cat, s = self.lib.catalog, self.settings
        path = Path(stamp.path)
        batched = path.suffix.lower() == ".pdf"
        t0 = time.monotonic()
        try:
            sha1 = file_sha1(path)
        except OSError as exc:
            return self._fail(stamp, f"cannot read file: {exc.strerror or exc}")
        old = cat.document_by_path(stamp.path)
        first, doc_id, pages_read = 1, None, 0
        notes: list[str] = []
        if old is not None and old.sha1 == sha1:
            progress = cat.document_progress(stamp.path)
            resumable = ("reading", "partial") if resume_partial else ("reading",)
            if progress is None or progress[0] not in resumable:
                cat.restamp_document(old.id, stamp.size, stamp.mtime_ns)  # touched, not changed
                return None
            first, doc_id = progress[1] + 1, old.id  # resume an interrupted or budgeted read
            notes = [n for n in cat.document_note(old.id).split("; ")
                     if n and not n.startswith("partially indexed")]
        while True:
            limit = None
            if batched:
                limit = s.page_batch
                if s.max_pages_per_file:
                    limit = max(1, min(limit, s.max_pages_per_file - (first - 1)))
            doc = self._read(path, stamp, first, limit) if batched else self._read(path, stamp)
            if isinstance(doc, FailedFile):
                return doc
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
            note = "; ".join(notes)[:1000]
            chunks = [chunk_page(p, s.chunk_words, s.chunk_overlap_words) for p in doc.pages]
            if doc_id is None:
                doc_id, old_chunks, old_pages, _ = cat.replace_document(
                    path=stamp.path, size=stamp.size, mtime_ns=stamp.mtime_ns, sha1=sha1,
                    format=doc.format, kind=doc.kind, title=doc.title, pages=doc.pages,
                    chunks=chunks, state=state, note=note, page_total=total)
                self.lib.drop_vectors(old_chunks, old_pages)
            else:
                cat.append_pages(doc_id, doc.pages, chunks, state=state, note=note)
            fault_point("committed")
            pages_read += len(doc.pages)
            if state != "reading":
                return pages_read
            first = end + 1
            if cancel is not None:
                cancel.check()

    def _read(self, path: Path, stamp: FileStamp, first: int = 1, limit: int | None = None
              ) -> ExtractedDocument | FailedFile:
        """Extract (a batch of pages of) a file; a failure to read is recorded, never raised."""
        try:
            if limit is None and first == 1:
                return self._extract(path, self.settings, self.lib.ocr)
            return self._extract(path, self.settings, self.lib.ocr, first_page=first, max_pages=limit)
        except Cancelled:
            raise
        except ExtractionError as exc:
            return self._fail(stamp, exc.reason)
        except OSError as exc:
            return self._fail(stamp, f"cannot read file: {exc.strerror or exc}")
        except Exception as exc:  # a bug or a library error on odd input must not stop the run
            log.exception("extraction failed for %s", path)
            return self._fail(stamp, f"unexpected error while reading: {type(exc).__name__}: {exc}")

    def _fail(self, stamp: FileStamp, reason: str) -> FailedFile:
        cat = self.lib.catalog
        old_chunks, old_pages = cat.delete_document(stamp.path)
        self.lib.drop_vectors(old_chunks, old_pages)
        cat.record_failure(stamp.path, reason, stamp.size, stamp.mtime_ns)
        log.warning("could not index %s: %s", stamp.path, reason)
        return FailedFile(stamp.path, reason, "")

    # -- embeddings --------------------------------------------------------------------------
    def _text_batches(self, missing: np.ndarray, missing_fps: np.ndarray
                      ) -> Iterator[tuple[list[str], list[list[tuple[int, int]]]]]:
        """The chunks to embed as (texts, holders) batches: each distinct embedding text once,
        with the (chunk id, fingerprint) of every chunk that has it (repeated title blocks, a
        CSV and its XLSX), longest texts first over the whole set, so each batch is padded to
        nearly its own length (sorting within batches of 32 padded a mixed library ~40 % more)."""
        cat = self.lib.catalog
        rows = cat.chunks_by_ids(missing.tolist())
        docs = cat.documents_by_ids(r.doc_id for r in rows.values())
        holders: dict[str, list[tuple[int, int]]] = {}  # embedding text -> [(chunk id, fp)]
        for c, fp in zip(missing.tolist(), missing_fps.tolist()):
            holders.setdefault(embedding_text(docs[rows[c].doc_id].title, rows[c].text), []).append((c, fp))
        texts = list(holders)
        counts = getattr(self.lib.text_encoder, "token_counts", None)  # fakes in tests have none
        lengths = counts(texts) if counts is not None else [len(t) for t in texts]
        texts = [texts[i] for i in sorted(range(len(texts)), key=lambda i: -lengths[i])]
        size = max(1, self.settings.embed_batch)
        for start in range(0, len(texts), size):
            batch = texts[start:start + size]
            yield batch, [holders[t] for t in batch]

    def _embed_texts(self, texts: list[str], holders: list[list[tuple[int, int]]]) -> int:
        """Embed `texts` and store each vector under every (chunk id, fingerprint) holding that
        text; returns the number of chunks given a vector."""
        vecs = self.lib.text_encoder.encode(texts, batch_size=len(texts))  # (t, dim)
        keys = np.array([k for h in holders for k in h], dtype=np.uint64)  # (n, 2): id, fp
        vecs = np.repeat(vecs, [len(h) for h in holders], axis=0)  # (n, dim)
        self.lib.text_index.add(keys[:, 0], vecs, keys[:, 1])
        fault_point("embedded")
        return len(keys)

    def _embed_pages(self, pages: list[tuple[int, str, int, int, int]]) -> None:
        """Render and embed (page_id, path, page_no, fingerprint, rotation) pages, each turned
        upright as OCR read it (the query picture is turned the same way); a page that renders
        for text but not as a picture is logged and left out."""
        from engine.orientation import Orientation, turn

        images, ids, fps = [], [], []
        for page_id, path, page_no, fp, rotation in pages:
            try:
                image = self._render(Path(path), page_no, self.settings.render_dpi, grayscale=True)
                images.append(turn(image, Orientation(rotation)) if rotation else image)
                ids.append(page_id)
                fps.append(fp)
            except Exception as exc:
                log.warning("cannot render %s page %d: %s", path, page_no, exc)
        if images:
            self.lib.image_index.add(np.array(ids, dtype=np.uint64),
                                     self.lib.image_encoder.encode(images),
                                     np.array(fps, dtype=np.uint64))
            fault_point("embedded")

    def reconcile(self, progress: ProgressCallback | None = None,
                  cancel: CancelToken | None = None) -> int:
        """Make the vector indexes match the catalog: embed what they lack (new documents, or
        everything after a model-pack switch, or a vector saved for other content), drop what
        the catalog no longer has.
        Returns the number of vectors computed. Saves every SAVE_EVERY_S seconds."""
        lib = self.lib
        if lib.text_encoder is None:
            return 0
        cat = lib.catalog
        ids, fps = (np.array(a, dtype=np.uint64) for a in cat.chunk_fingerprints())
        missing, missing_fps = self._verify(lib.text_index, ids, fps)
        todo_pages: list[tuple[int, int, int, int]] = []
        rotations: dict[int, int] = {}
        if lib.image_encoder is not None and lib.image_index is not None:
            rotations = cat.page_rotations()
            pages = [(pid, d, no, picture_fingerprint(fp, rotations.get(pid, 0)))
                     for pid, d, no, fp in cat.visual_pages()]
            page_ids = np.array([p[0] for p in pages], dtype=np.uint64)
            page_fps = np.array([p[3] for p in pages], dtype=np.uint64)
            absent, _ = self._verify(lib.image_index, page_ids, page_fps)
            absent_set = set(absent.tolist())
            todo_pages = [p for p in pages if p[0] in absent_set]
        total = len(missing) + len(todo_pages)
        meter = RateMeter("embed", total, "items")
        done = 0
        last_save = time.perf_counter()
        if total:  # the step starts now (loading the encoders may take a while)
            report(progress, meter.progress(0, "understanding text"))
        if len(missing):
            for texts, holders in self._text_batches(missing, missing_fps):
                if cancel is not None:
                    cancel.check()
                done += self._embed_texts(texts, holders)
                report(progress, meter.progress(done, "understanding text"))
                last_save = self._save_now(last_save)
        if todo_pages:
            docs = cat.documents_by_ids(p[1] for p in todo_pages)
            for start in range(0, len(todo_pages), 16):
                if cancel is not None:
                    cancel.check()
                batch = [(pid, docs[d].path, no, fp, rotations.get(pid, 0))
                         for pid, d, no, fp in todo_pages[start:start + 16]]
                self._embed_pages(batch)
                done += len(batch)
                report(progress, meter.progress(done, "looking at pages"))
                last_save = self._save_now(last_save)
        return done

    @staticmethod
    def _verify(index, ids: np.ndarray, fps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Drop every stored vector whose key (id + fingerprint) the catalog does not expect now
        (gone, saved for other content, or an id stored twice); return the (ids, fingerprints)
        that still need a vector."""
        expected = vector_keys(ids, fps)
        stored = index.stored_keys()
        index.remove_keys(np.setdiff1d(stored, expected))
        need = ~np.isin(expected, stored)
        return ids[need], fps[need]

    def _save_now(self, last_save: float) -> float:
        if time.perf_counter() - last_save > SAVE_EVERY_S:
            self.lib.save_vectors()
            return time.perf_counter()
        return last_save

