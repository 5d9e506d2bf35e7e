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

The expensive work (reading a file, encoding a batch of texts, rendering and encoding a batch of
pages) is engine/indexing/work.py's, run by a runner: in this process, or on a cluster's workers
(engine/indexing/cluster.py, `EngineSettings.cluster`). Either way this class is the library's
single writer: it hands out the same items and commits what comes back in the same order, so
both build the same catalog and the same vector indexes.
"""

from __future__ import annotations

import logging
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Protocol, Sequence

import numpy as np

from engine.config import EXTRACTOR_VERSION, read_as_now
from engine.errors import Cancelled
from engine.faults import fault_point
from engine.indexing.scanner import FileStamp, canonical, is_under, plan_scan, walk_files
from engine.indexing.work import (FileJob, LocalRunner, LocalTools, PageBatch, ReadEvent, Unchanged,
                                  Unreadable, embed_pages, encode_texts, read_file)
from engine.progress import CancelToken, Progress, ProgressCallback, RateMeter, report
from engine.store.catalog import embedding_text, picture_fingerprint
from engine.store.vectors import vector_keys
from engine.types import Embeddings, ExtractedDocument, FailedFile, IndexReport

log = logging.getLogger(__name__)

SAVE_EVERY_S = 30.0
PAGES_PER_BATCH = 16  # pictures rendered and embedded together


class Runner(Protocol):
    """Where the work runs: `LocalRunner` (this process) or `ClusterRunner` (a Dask cluster)."""

    def map(self, fn: Callable[[Any, Any], Any], items: Iterable[Any], payload: Callable[[Any], Any],
            cancel: CancelToken | None = None, lost: Callable[[str], Any] | None = None
            ) -> Iterator[tuple[Any, Any]]: ...
    def close(self) -> None: ...


class IndexingPipeline:
    """Runs one indexing job over a `Library` (catalog + vector indexes + encoders)."""

    def __init__(self, library, *, extract: Callable[..., ExtractedDocument],
                 render: Callable[..., object], suffixes: frozenset[str]) -> None:
        self.lib = library
        self.settings = library.settings
        self._extract = extract
        self._render = render
        self._suffixes = suffixes

    @contextmanager
    def _runner(self, progress: ProgressCallback | None = None) -> Iterator[Runner]:
        """This process, or the cluster at `settings.cluster` (connected now, closed after)."""
        if not self.settings.cluster:
            yield LocalRunner(LocalTools(self.lib, self._extract, self._render))
            return
        from engine.indexing.cluster import ClusterRunner

        report(progress, Progress("scan", 0, None, "files", f"connecting to {self.settings.cluster}"))
        runner = ClusterRunner.connect(self.lib, self._extract, self._render)
        try:
            yield runner
        finally:
            runner.close()

    # -- entry point -------------------------------------------------------------------------
    def run(self, roots: Sequence[Path], *, progress: ProgressCallback | None = None,
            cancel: CancelToken | None = None, retry_failed: bool = False) -> IndexReport:
        with self._runner(progress) as work:  # a cluster that cannot be reached stops us here
            return self._run(work, roots, progress, cancel or CancelToken(), retry_failed)

    def _run(self, work: Runner, roots: Sequence[Path], progress: ProgressCallback | None,
             cancel: CancelToken, retry_failed: bool) -> IndexReport:
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
        indexed = cat.document_stamps(resume_partial=retry_failed, read_as_now=read_as_now)
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
            jobs = ((stamp, *self._job(stamp, retry_failed)) for stamp in todo)
            reads = work.map(read_file, jobs, payload=lambda item: item[1], cancel=cancel,
                             lost=lambda why: [Unreadable(why)])
            for i, ((stamp, _, doc_id), events) in enumerate(reads):
                cancel.check()
                report(progress, meter.progress(i, Path(stamp.path).name))
                outcome = self._commit(stamp, doc_id, events, cancel)
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
            self.reconcile(progress, cancel, work=work)
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
    def _job(self, stamp: FileStamp, resume_partial: bool) -> tuple[FileJob, int | None]:
        """What the reader needs to know of a file from the catalog, and its document id there.

        Same bytes as stored: an interrupted read ("reading"; with `resume_partial`, `zumen
        index --retry-failed`, also one a page/time budget stopped) goes on after its last
        committed batch, keeping the notes it had; otherwise only the stamp changes. A document
        read by an older version of the reading code is read again whole, as if it had changed
        (better reading: OCR, drawing or document)."""
        cat = self.lib.catalog
        old = cat.document_by_path(stamp.path)
        if old is None:
            return FileJob(stamp.path), None
        progress = cat.document_progress(stamp.path)
        if progress is not None and not read_as_now(progress[4], progress[3]):
            return FileJob(stamp.path), old.id
        resumable = ("reading", "partial") if resume_partial else ("reading",)
        if progress is None or progress[0] not in resumable:
            return FileJob(stamp.path, old.sha1), old.id
        notes = tuple(n for n in cat.document_note(old.id).split("; ")
                      if n and not n.startswith("partially indexed"))
        return FileJob(stamp.path, old.sha1, progress[1], notes), old.id

    def _commit(self, stamp: FileStamp, doc_id: int | None, events: Iterable[ReadEvent],
                cancel: CancelToken | None = None) -> int | FailedFile | None:
        """Commit a file's read (work.read_file): returns the number of pages indexed, a
        FailedFile, or None when the content is unchanged. Each PageBatch is one transaction, so
        a run that stops (crash, cancel) resumes after the last committed batch."""
        cat = self.lib.catalog
        pages_read = 0
        for event in events:
            if isinstance(event, Unchanged):
                cat.restamp_document(doc_id, stamp.size, stamp.mtime_ns)  # touched, not changed
                return None
            if isinstance(event, Unreadable):
                return self._fail(stamp, event.reason)
            assert isinstance(event, PageBatch)
            if not event.append:
                doc_id, old_chunks, old_pages, _ = cat.replace_document(
                    path=stamp.path, size=stamp.size, mtime_ns=stamp.mtime_ns, sha1=event.sha1,
                    format=event.format, kind=event.kind, title=event.title, pages=event.pages,
                    chunks=event.chunks, state=event.state, note=event.note,
                    page_total=event.page_total, extractor=EXTRACTOR_VERSION)
                self.lib.drop_vectors(old_chunks, old_pages)
            else:
                cat.append_pages(doc_id, event.pages, event.chunks, state=event.state, note=event.note)
            fault_point("committed")
            pages_read += len(event.pages)
            if event.state != "reading":
                break
            if cancel is not None:
                cancel.check()
        return pages_read

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

    def _store_texts(self, vecs: Embeddings, holders: list[list[tuple[int, int]]]) -> int:
        """Store each text's vector under every (chunk id, fingerprint) holding that text;
        returns the number of chunks given a vector."""
        keys = np.array([k for h in holders for k in h], dtype=np.uint64)  # (n, 2): id, fp
        vecs = np.repeat(vecs, [len(h) for h in holders], axis=0)  # (n, dim)
        self.lib.text_index.add(keys[:, 0], vecs, keys[:, 1])
        fault_point("embedded")
        return len(keys)

    def _store_pages(self, pages: list[tuple[int, str, int, int, int]], rendered: list[int],
                     vecs: Embeddings) -> None:
        """Store the vectors of the (page_id, path, page_no, fingerprint, rotation) pages that
        rendered."""
        if rendered:
            self.lib.image_index.add(np.array([pages[i][0] for i in rendered], dtype=np.uint64), vecs,
                                     np.array([pages[i][3] for i in rendered], dtype=np.uint64))
            fault_point("embedded")

    def reconcile(self, progress: ProgressCallback | None = None,
                  cancel: CancelToken | None = None, *, work: Runner | None = None) -> int:
        """Make the vector indexes match the catalog: embed what they lack (new documents, or
        everything after a model-pack switch, or a vector saved for other content), drop what
        the catalog no longer has. `work` runs the encoders (default: as the settings say).
        Returns the number of vectors computed. Saves every SAVE_EVERY_S seconds."""
        lib = self.lib
        if lib.text_encoder is None:
            return 0
        cat = lib.catalog
        ids, fps = (np.array(a, dtype=np.uint64) for a in cat.chunk_fingerprints())
        missing, missing_fps = self._verify(lib.text_index, ids, fps)
        todo_pages: list[tuple[int, int, int, int, int]] = []
        if lib.image_encoder is not None and lib.image_index is not None:
            # (page_id, doc_id, page_no, fingerprint of its picture, rotation OCR read it at)
            rotations = cat.page_rotations()
            pages = [(pid, d, no, picture_fingerprint(fp, rotations.get(pid, 0)), rotations.get(pid, 0))
                     for pid, d, no, fp in cat.visual_pages()]
            page_ids = np.array([p[0] for p in pages], dtype=np.uint64)
            page_fps = np.array([p[3] for p in pages], dtype=np.uint64)
            absent, _ = self._verify(lib.image_index, page_ids, page_fps)
            absent_set = set(absent.tolist())
            todo_pages = [p for p in pages if p[0] in absent_set]
        if not len(missing) and not todo_pages:
            return 0
        if work is None:
            with self._runner(progress) as work:
                return self._embed(missing, missing_fps, todo_pages, work, progress, cancel)
        return self._embed(missing, missing_fps, todo_pages, work, progress, cancel)

    def _embed(self, missing: np.ndarray, missing_fps: np.ndarray,
               todo_pages: list[tuple[int, int, int, int, int]], work: Runner,
               progress: ProgressCallback | None, cancel: CancelToken | None) -> int:
        meter = RateMeter("embed", len(missing) + len(todo_pages), "items")
        done = 0
        last_save = time.perf_counter()
        report(progress, meter.progress(0, "understanding text"))  # loading the encoders may take a while
        if len(missing):
            batches = self._text_batches(missing, missing_fps)
            for (_, holders), vecs in work.map(encode_texts, batches, payload=lambda b: b[0],
                                                cancel=cancel):
                if cancel is not None:
                    cancel.check()
                done += self._store_texts(vecs, holders)
                report(progress, meter.progress(done, "understanding text"))
                last_save = self._save_now(last_save)
        if todo_pages:
            docs = self.lib.catalog.documents_by_ids(p[1] for p in todo_pages)
            batches = ([(pid, docs[d].path, no, fp, rotation)
                        for pid, d, no, fp, rotation in todo_pages[start:start + PAGES_PER_BATCH]]
                       for start in range(0, len(todo_pages), PAGES_PER_BATCH))
            for batch, (rendered, vecs) in work.map(embed_pages, batches, cancel=cancel,
                                                    payload=lambda b: [(p[1], p[2], p[4]) for p in b]):
                if cancel is not None:
                    cancel.check()
                self._store_pages(batch, rendered, vecs)
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

