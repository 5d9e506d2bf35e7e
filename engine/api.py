"""The engine facade: the one object the CLI, the desktop app and the benchmarks talk to.

Every method returns plain frozen dataclasses from `engine.types` and raises `EngineError`
subclasses. Long calls take an optional progress callback and cancel token.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Collection, Protocol, Sequence

import numpy as np
from PIL import Image

from engine.config import EngineSettings, default_library_path
from engine.errors import EngineError, LibraryError, QueryError
from engine.files import readable
from engine.indexing.pipeline import IndexingPipeline
from engine.indexing.work import file_sha1
from engine.indexing.scanner import SKIPPED_EXAMPLES, canonical, file_key, is_under
from engine.library import AUTO, Library
from engine.orientation import (Orientation, displayed_words, other_vectors, page_orientation,
                                picture_vectors, read_unmirrored)
from engine.progress import CancelToken, Progress, ProgressCallback, report
from engine.analyze import normalize
from engine.search.geometry import (MAX_POINTS, SIDE_PX, PageFeatures, QueryKeypoints, lined_up_maps, page_features,
                                    verify_similar, with_points)
from engine.search.query import Searcher, edit_query_text, read_terms
from engine.types import (AdaptReport, DuplicatePage, DuplicatePair, DuplicateReport, EvalReport,
                          FileQueryResults, Hit, IndexReport, LibraryStatus, PackInfo, SearchResults,
                          SkippedType, Word)

log = logging.getLogger(__name__)

QUERY_CACHE_SIZE = 8
PAGE_FEATURES_CACHE_SIZE = 256  # library pages' keypoints kept for checking similar drawings (~20 KB each)
DUPLICATE_FEATURES_CACHE_SIZE = 4096  # pages' keypoints kept while checking duplicate pairs (~80 MB)
TEMPLATE_MATES = 3  # library pages that look most like a query: what a heatmap shows beyond them
TEMPLATE_POOL = 50  # pages looked up for them (those looking as much like the query as the hit are not)
COPY_MARGIN = 0.01  # a page within this raw cosine of the hit's looks as much like the query as the hit


class EngineProtocol(Protocol):
    """The calls a front end makes (the desktop app through desktop/engine_bridge.py).

    `Engine` implements it, and so does the desktop's test double (desktop/testing.py);
    tests/test_contract.py checks that all three signatures agree, parameter by parameter.
    """

    @property
    def pack_error(self) -> str | None: ...
    def add_folder(self, path: Path | str) -> str: ...
    def remove_folder(self, path: Path | str) -> int: ...
    def folders(self) -> tuple[str, ...]: ...
    def index(self, paths: Sequence[Path | str] | None = None, *,
              progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
              retry_failed: bool = False) -> IndexReport: ...
    def retry_files(self, paths: Sequence[Path | str], *, progress: ProgressCallback | None = None,
                    cancel: CancelToken | None = None) -> IndexReport: ...
    def ignore_file(self, path: Path | str, ignored: bool = True) -> None: ...
    def search(self, text: str, *, limit: int = 20, kinds: Collection[str] | None = None,
               evidence: Collection[str] | None = None) -> SearchResults: ...
    def search_file(self, path: Path | str, *, limit: int = 20,
                    evidence: Collection[str] | None = None,
                    progress: ProgressCallback | None = None,
                    cancel: CancelToken | None = None, show_weak: bool = False,
                    drop_terms: Collection[str] = (), add_terms: Sequence[str] = ()) -> FileQueryResults: ...
    def search_image(self, image: Image.Image, *, limit: int = 20,
                     evidence: Collection[str] | None = None,
                     progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
                     drop_terms: Collection[str] = (), add_terms: Sequence[str] = ()) -> FileQueryResults: ...
    def warm_up(self) -> None: ...
    def similar(self, target: Path | str | int, page: int = 1, *, limit: int = 20,
                evidence: Collection[str] | None = None) -> FileQueryResults: ...
    def duplicates(self, *, threshold: float | None = None, with_pairs: bool = False,
                   progress: ProgressCallback | None = None,
                   cancel: CancelToken | None = None) -> DuplicateReport: ...
    def render_page(self, target: Path | str | int, page: int = 1, dpi: int = 100, *,
                    max_px: int | None = None) -> Image.Image: ...
    def thumbnail(self, target: Path | str | int, page: int = 1) -> Path: ...
    def page_words(self, target: Path | str | int, page: int = 1) -> tuple[Word, ...]: ...
    def page_text(self, target: Path | str | int, page: int = 1) -> str: ...
    def page_turn(self, target: Path | str | int, page: int = 1) -> int: ...
    def visual_heatmaps(self, query_path: Path | str, hit: Hit, query_page: int = 1
                        ) -> tuple[np.ndarray, np.ndarray] | None: ...
    def record_feedback(self, query: str, hit: Hit, vote: int, *, query_path: str | None = None) -> None: ...
    def feedback(self) -> list[dict]: ...
    def status(self) -> LibraryStatus: ...
    def packs(self) -> list[PackInfo]: ...
    def activate_pack(self, pack: str | Path, *, progress: ProgressCallback | None = None,
                      cancel: CancelToken | None = None) -> PackInfo: ...
    def rollback_pack(self, *, progress: ProgressCallback | None = None) -> PackInfo: ...
    def close(self) -> None: ...



def _version_name(path: Path | str, size: int, mtime_ns: int, page: int, *more: object) -> str:
    """A file name for something made from one page of one version of a file (its size and
    mtime): a changed file gets a new one."""
    return hashlib.sha1("|".join(map(str, (path, size, mtime_ns, page, *more))).encode()).hexdigest()


# what the library keeps per page of a file's version, by folder: suffix, `_version_name`'s extras
_PAGE_KEPT = {"thumbs": (".png", ()), "keypoints": (".npz", (SIDE_PX, MAX_POINTS))}


def _drawable(hit: Hit) -> bool:
    """A hit whose page can be drawn to check its geometry: a page of a PDF or an image file."""
    from engine.extract import IMAGE_SUFFIXES

    return Path(hit.path).suffix.lower() in IMAGE_SUFFIXES | {".pdf"}


def _named(results: SearchResults) -> bool:
    """Whether the geometry check named a hit of the list the same drawing (it is then first)."""
    return bool(results.hits) and results.hits[0].explanation.same_drawing_points > 0


def _keep_recent(cache: OrderedDict, key: Any, size: int) -> None:
    """Mark `key` as the cache's most recently used and drop the least recent beyond `size`."""
    cache.move_to_end(key)
    while len(cache) > size:
        cache.popitem(last=False)

@dataclass(frozen=True)
class _QueryRead:
    """What a query file gave: its first page's text and words, and its picture's embedding."""

    text: str
    words: tuple[Word, ...]
    source: str
    image_vector: Any
    same_docs: frozenset[int]  # library documents with identical bytes (left out of the results)
    format: str
    rotation: int = 0  # how OCR turned the page to read it (engine.orientation)
    image_variants: Any = None  # (k, dim): the picture in other orientations, when OCR cannot tell
    orientation: Orientation | None = None  # how its picture was turned upright, once compared
    features: Any = ()  # the picture's keypoints, as it comes and mirrored (search/geometry.QueryKeypoints)
    other_vectors: Any = None  # its picture's other turns and its mirror image's (orientation.other_vectors)


class Engine:
    """Open with `Engine.open(path)`; close with `close()` (or use it as a context manager)."""

    def __init__(self, library: Library) -> None:
        self._lib = library
        self._searcher = Searcher(library)
        self._query_cache: OrderedDict[tuple, _QueryRead] = OrderedDict()
        self._features_cache: OrderedDict[tuple, PageFeatures | None] = OrderedDict()
        self._pastes: Path | None = None  # temporary folder of pasted pictures, while open

    @classmethod
    def open(cls, library: Path | str | None = None, *, pack: Path | str | None = None,
             settings: EngineSettings | None = None, text_encoder: Any = None,
             image_encoder: Any = AUTO, ocr: Any = AUTO) -> "Engine":
        """Open (creating if needed) the library folder. Encoders/OCR may be injected for tests."""
        root = Path(library).expanduser() if library else default_library_path()
        try:
            lib = Library(root, pack_dir=Path(pack) if pack else None, settings=settings,
                          text_encoder=text_encoder, image_encoder=image_encoder, ocr=ocr)
        except OSError as exc:
            raise LibraryError(f"cannot open library at {root}: {exc}") from exc
        return cls(lib)

    def __enter__(self) -> "Engine":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._pastes is not None:
            import shutil

            shutil.rmtree(self._pastes, ignore_errors=True)
            self._pastes = None
        self._searcher.close()
        self._lib.close()

    @property
    def library_path(self) -> Path:
        return self._lib.root

    @property
    def settings(self) -> EngineSettings:
        return self._lib.settings

    # -- folders and indexing --------------------------------------------------------------
    def add_folder(self, path: Path | str) -> str:
        p = Path(path).expanduser()
        if not p.exists():
            raise LibraryError(f"folder not found: {p}")
        key = canonical(p)
        self._lib.catalog.add_folder(key)
        return key

    def remove_folder(self, path: Path | str) -> int:
        """Forget a folder and every document indexed under it. Returns documents removed."""
        key = canonical(path)
        self._require_writable()
        with self._lib.writer_lock:  # refused while indexing: then nothing is forgotten
            self._lib.catalog.remove_folder(key)
            removed = 0
            for doc_path in list(self._lib.catalog.document_stamps()):
                if is_under(doc_path, [key]):
                    self._lib.drop_vectors(*self._lib.catalog.delete_document(doc_path))
                    removed += 1
            self._lib.save_vectors()
        return removed

    def _require_writable(self) -> None:
        if self._lib.catalog.read_only:
            raise LibraryError(f"the library {self._lib.root} is read-only for this user: "
                               "searching works, changing it needs write access")

    def folders(self) -> tuple[str, ...]:
        return self._lib.catalog.folders()

    def index(self, paths: Sequence[Path | str] | None = None, *,
              progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
              retry_failed: bool = False) -> IndexReport:
        """Index new/changed files and drop deleted ones under `paths` (default: all folders).

        Paths given here become library folders. Only one indexer per library runs at a time.
        """
        self._require_writable()
        if paths:
            roots = [Path(self.add_folder(p)) for p in paths]
        else:
            roots = [Path(f) for f in self.folders()]
        with self._lib.writer_lock:
            done = self._pipeline().run(roots, progress=progress, cancel=cancel, retry_failed=retry_failed)
            if done.removed or done.updated:  # only these leave files of versions no longer held
                self._prune_page_files()
            return done

    def _prune_page_files(self) -> None:
        """Remove the thumbnails and kept keypoints of file versions the library no longer holds
        (a deleted file, an older version of a changed one): they are named by the version
        (`_version_name`), so nothing else would ever read them again. Memory is bounded by the
        files kept, not by the library: each page the catalog holds strikes its names off."""
        kept = {p.name: p for folder, (suffix, _) in _PAGE_KEPT.items()
                for p in (self._lib.root / folder).glob(f"*{suffix}")
                if p.stem.isalnum()}  # not a file being written aside
        for path, size, mtime_ns, pages in self._lib.catalog.document_versions():
            if not kept:
                return
            for page in range(1, pages + 1):
                for suffix, more in _PAGE_KEPT.values():
                    kept.pop(_version_name(path, size, mtime_ns, page, *more) + suffix, None)
        for stale in kept.values():
            stale.unlink(missing_ok=True)
        if kept:
            log.info("removed %d thumbnails and kept keypoints of files no longer in the library", len(kept))

    def retry_files(self, paths: Sequence[Path | str], *, progress: ProgressCallback | None = None,
                    cancel: CancelToken | None = None) -> IndexReport:
        """Read these files again now (e.g. failed ones after a fix), whatever their stamps say.
        They do not become library folders; a file that is gone leaves the failed list."""
        with self._lib.writer_lock:
            for p in paths:
                if not Path(p).exists():
                    self._lib.catalog.clear_failure(canonical(p))
            roots = [Path(p) for p in paths if Path(p).exists()]
            return self._pipeline().run(roots, progress=progress, cancel=cancel, retry_failed=True)

    def ignore_file(self, path: Path | str, ignored: bool = True) -> None:
        """Leave a file out of the library (later runs skip it; it leaves the failed list), or
        with `ignored=False` take it back (the next index reads it)."""
        self._lib.catalog.set_ignored(canonical(path), ignored)

    def _pipeline(self) -> IndexingPipeline:
        from engine.extract import SUPPORTED_SUFFIXES, extract_document, render_page

        return IndexingPipeline(self._lib, extract=extract_document, render=render_page,
                                suffixes=SUPPORTED_SUFFIXES)

    # -- search ----------------------------------------------------------------------------
    def search(self, text: str, *, limit: int = 20, kinds: Collection[str] | None = None,
               evidence: Collection[str] | None = None) -> SearchResults:
        """Keyword / natural-language search over every indexed page."""
        if not text or not text.strip():
            raise QueryError("the search text is empty")
        self._lib.refresh()
        q = self._searcher.make_query(text, keyword=True)
        if not q.terms and q.text_vector is None:
            raise QueryError(f"nothing to search for in {text!r}")
        return self._searcher.search(q, limit=limit, kinds=kinds, evidence=evidence, mode="keyword")

    def search_file(self, path: Path | str, *, limit: int = 20,
                    evidence: Collection[str] | None = None,
                    progress: ProgressCallback | None = None,
                    cancel: CancelToken | None = None, show_weak: bool = False,
                    drop_terms: Collection[str] = (), add_terms: Sequence[str] = ()) -> FileQueryResults:
        """"I have this drawing": related documents and similar drawings for a PDF or image.

        `drop_terms` / `add_terms` correct what was read (FileQueryResults.read_terms): a misread
        or a word that should not count is left out, a word is added; the page is not read again.

        When no document reaches the calibrated confidence, `related.no_match` is set and the
        list is empty (with `show_weak`, the weak hits are listed all the same).
        What was read from a query file (OCR text, image vector) is kept for the last few files,
        so asking again (another evidence mix, more results, "more like this") costs no OCR. A
        file the library holds (the same bytes: a drawing dragged in from the archive) is not
        read at all: its first page's words and picture vector are the library's."""
        t0 = time.perf_counter()
        path = Path(path).expanduser()
        if not path.is_file():
            raise QueryError(f"query file not found: {path}")
        report(progress, Progress("extract", 0, 3, "steps", "reading the drawing"))
        want_image = evidence is None or "visual" in evidence
        read = self._read_query(path, want_image, progress)
        if cancel is not None:
            cancel.check()
        text, words = read.text, displayed_words(read.words, read.rotation)  # boxes over the page as shown
        if drop_terms or add_terms:
            text = edit_query_text(text, drop_terms, add_terms)
            dropped = {normalize(t) for t in drop_terms}
            words = tuple(w for w in words if normalize(w.text).strip(".,:;()") not in dropped)
        return self._file_results(str(path), text, words, read.source,
                                  read.image_vector if want_image else None, read.same_docs, limit,
                                  evidence, t0, progress, show_weak,
                                  image_variants=read.image_variants if want_image else None,
                                  features=read.features if want_image else (),
                                  other_vecs=read.other_vectors if want_image else None)

    def _read_query(self, path: Path, want_image: bool, progress: ProgressCallback | None):
        from engine.extract import extract_document, render_page

        key = self._query_key(path)
        read = self._query_cache.get(key)
        if read is None:
            same = self._lib.catalog.documents_by_sha1(file_sha1(path))
            read = self._library_reading(same)
        if read is None:
            doc = extract_document(path, self._lib.settings, self._lib.ocr)
            page = doc.pages[0] if doc.pages else None
            read = _QueryRead(text=page.text if page else "", words=page.words if page else (),
                              source=page.source if page else "none", image_vector=None,
                              same_docs=frozenset(d.id for d in same), format=doc.format,
                              rotation=page.rotation if page else 0)
        if (want_image and read.image_vector is None and self._lib.image_encoder is not None
                and read.format in ("pdf", "image")):
            report(progress, Progress("embed", 1, 3, "steps", "comparing pictures"))
            image = render_page(path, 1, self._lib.settings.render_dpi, grayscale=True)
            orientation = self._orientation(read, image)
            if orientation.mirrored or (read.words and not orientation.known):
                # a mirrored page reads as gibberish: read it again the right way round (one
                # whose words could not tell, flipped too: the better reading decides)
                from engine.extract.layout import words_to_text

                flipped = orientation if orientation.mirrored else Orientation(read.rotation, mirrored=True)
                again = read_unmirrored(self._lib.ocr, image, read.words, read.rotation, flipped)
                if again is not None:
                    words, orientation = again
                    read = replace(read, text=words_to_text(words), words=tuple(words))
            vector, variants = picture_vectors(self._lib.image_encoder, image, orientation)
            checked = self._lib.settings.verify_top > 0
            features = QueryKeypoints(image, mirrored_first=orientation.mirrored) if checked else ()
            others = other_vectors(self._lib.image_encoder, image, orientation) if checked else None
            read = replace(read, image_vector=vector, image_variants=variants, orientation=orientation,
                           features=features, other_vectors=others)
        self._query_cache[key] = read
        _keep_recent(self._query_cache, key, QUERY_CACHE_SIZE)
        return read

    def _query_key(self, path: Path) -> tuple:
        """The query cache's key of a file: the file as it is now, read with the active pack."""
        st = path.stat()
        return str(path.resolve()), st.st_size, st.st_mtime_ns, self._lib.pack_id

    def _library_reading(self, same: Sequence[Any]) -> _QueryRead | None:
        """What the library already read from a file with the query's very bytes (a drawing
        dragged in from the archive): its first page's text, words and picture vector, as
        indexing read them with the same extraction and OCR, so the query costs no OCR and
        ranks on exactly what the library knows of it. None when no such file has a first page
        worth reusing (one indexed without OCR, when OCR is available now)."""
        cat, index = self._lib.catalog, self._lib.image_index
        for doc in same:
            row = cat.page(doc.id, 1)
            if row is None or (row[1].source == "none" and self._lib.ocr is not None
                               and doc.format in ("pdf", "image")):
                continue
            page_id, page = row
            key = np.array([page_id], dtype=np.uint64)
            vector = index.get(key)[0] if index is not None and index.contains(key)[0] else None
            return _QueryRead(text=page.text, words=page.words, source=page.source,
                              image_vector=vector, same_docs=frozenset(d.id for d in same),
                              format=doc.format, rotation=page.rotation)
        return None

    def _orientation(self, read: _QueryRead, image: Image.Image) -> Orientation:
        """Which way up the query page lies: as OCR turned it to read it, mirrored when its
        words read better flipped; unknown when OCR ran and read nothing telling. A page with a
        text layer, or one OCR did not read, is taken as it comes."""
        if read.source != "ocr" or self._lib.ocr is None:
            return Orientation()
        return page_orientation(self._lib.ocr, image, read.words, read.rotation)

    def search_image(self, image: Image.Image, *, limit: int = 20,
                     evidence: Collection[str] | None = None,
                     progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
                     drop_terms: Collection[str] = (), add_terms: Sequence[str] = ()) -> FileQueryResults:
        """Query with a picture already in memory (clipboard paste, camera).

        The picture is kept, named by its content, in a temporary folder while the engine is
        open (never in the library): asking again about the same picture, e.g. with corrected
        terms, reuses what was read from it instead of reading it again."""
        import tempfile

        if self._pastes is None:
            self._pastes = Path(tempfile.mkdtemp(prefix="zumen-pasted-"))
        digest = hashlib.sha1(f"{image.mode}{image.size}".encode() + image.tobytes()).hexdigest()[:24]
        target = self._pastes / f"pasted-{digest}.png"
        if not target.exists():
            partial = target.with_suffix(".part")
            image.save(partial, format="PNG")
            partial.replace(target)
        return self.search_file(target, limit=limit, evidence=evidence, progress=progress,
                                cancel=cancel, drop_terms=drop_terms, add_terms=add_terms)

    def warm_up(self) -> None:
        """Load the models a drawing query needs (text and image towers, OCR) and read the
        library's tables it uses (every chunk's page, the vocabulary's frequencies) now, e.g.
        while the desktop window opens, so that the first drop does not wait for them."""
        for model in ("text_encoder", "image_encoder", "ocr"):
            getattr(self._lib, model)  # each property loads its model on first access
        self._lib.catalog.page_table()  # both kept until the library changes
        self._lib.catalog.vocab_table()

    def _file_results(self, query_path: str, text: str, words: Sequence[Word], source: str,
                      image_vec, exclude: set[int], limit: int,
                      evidence: Collection[str] | None, t0: float,
                      progress: ProgressCallback | None = None,
                      show_weak: bool = False, image_variants=None,
                      features: Any = (), other_vecs=None) -> FileQueryResults:
        self._lib.refresh()
        report(progress, Progress("search", 2, 3, "steps", "searching"))
        q = self._searcher.make_query(text, keyword=False, image_vector=image_vec, words=words,
                                      exclude_docs=exclude, image_variants=image_variants)
        s = self._lib.settings
        check = s.verify_top if features else 0
        # the drawing itself may rank low by words (a photo OCR reads poorly) yet lead by looks:
        # the first drawings by looks alone are checked too, and the first related documents that
        # can be drawn (a table-like sheet, e.g. a pin-assignment chart, is indexed as a document)
        related, similar = self._searcher.search_many(q, [{"document"}, {"drawing"}], limit=limit,
                                                      evidence=evidence, mode="file",
                                                      show_weak=show_weak, looks=check)
        if check > 0:
            listed, candidates = similar, [similar.looks, [h for h in related.hits if _drawable(h)]]
            matched: dict = {}  # each page matched once, also when the check goes on below
            similar, checked = verify_similar(listed, features, self._page_features, top=check,
                                              min_points=s.verify_min_points, ratio=s.verify_ratio,
                                              also=candidates, memo=matched)
            if not _named(similar) and other_vecs is not None:
                # nothing stands out: perhaps OCR turned the page wrong or the mirror check was
                # fooled (a page read as gibberish), and its own drawing does not look alike the
                # way it was turned; the first drawings by looks in the other orientations are
                # checked too (keypoints match whatever the turn)
                candidates += [self._looks_of(vectors, exclude, check) for vectors in other_vecs]
                similar, checked = verify_similar(listed, features, self._page_features, top=check,
                                                  min_points=s.verify_min_points, ratio=s.verify_ratio,
                                                  also=candidates, memo=matched)
            related = with_points(related, checked)
        similar = replace(similar, looks=())
        report(progress, Progress("search", 3, 3, "steps", "done"))
        return FileQueryResults(query_path, text, tuple(q.identifiers), source,  # type: ignore[arg-type]
                                related, similar, tuple(words),
                                (time.perf_counter() - t0) * 1000, read_terms(q))

    def _looks_of(self, vectors: np.ndarray, exclude: set[int], n: int) -> tuple[Hit, ...]:
        """The first `n` drawings by looks alone for a picture's vectors ((k, dim): a library
        page counts with its best cosine to any)."""
        q = self._searcher.make_query("", keyword=False, image_vector=vectors[0], exclude_docs=exclude,
                                      image_variants=vectors[1:] if len(vectors) > 1 else None)
        (drawings,) = self._searcher.search_many(q, [{"drawing"}], limit=n, evidence={"visual"}, mode="file",
                                                 looks=n)
        return drawings.looks

    def _page_features(self, hit: Hit) -> PageFeatures | None:
        """A library page's keypoints (search/geometry.py), kept for the last pages checked; None
        when it cannot be drawn now."""
        return self._features_of(hit.path, hit.page, self._features_cache, PAGE_FEATURES_CACHE_SIZE)

    def _features_of(self, path: str, page: int, cache: OrderedDict, size: int) -> PageFeatures | None:
        """A page's keypoints, kept in `cache` (keyed by path, page, size and mtime) for the last
        `size` pages and in the library's `keypoints/` folder (found once per version of the file,
        ~20 KB a page); None when it cannot be drawn now."""
        from engine.extract import render_page
        from engine.search.geometry import read_features, write_features

        try:
            st = Path(path).stat()
        except OSError:
            return None
        key = (path, page, st.st_size, st.st_mtime_ns)
        if key not in cache:
            name = _version_name(path, st.st_size, st.st_mtime_ns, page, *_PAGE_KEPT["keypoints"][1])
            kept = self._lib.root / "keypoints" / f"{name}.npz"
            cache[key] = read_features(kept)  # None when not kept yet (or unreadable)
            if cache[key] is None:
                try:
                    image = render_page(Path(path), page, self._lib.settings.render_dpi, grayscale=True,
                                        max_px=SIDE_PX, settings=self._lib.settings)
                    cache[key] = page_features(image)
                except (EngineError, OSError) as exc:
                    log.warning("cannot draw %s page %d to check it: %s", path, page, exc)
                else:
                    try:
                        write_features(cache[key], kept)
                    except OSError as exc:  # a read-only library: found again next time
                        log.debug("cannot keep the keypoints of %s page %d: %s", path, page, exc)
        features = cache[key]
        _keep_recent(cache, key, size)
        return features

    def similar(self, target: Path | str | int, page: int = 1, *, limit: int = 20,
                evidence: Collection[str] | None = None) -> FileQueryResults:
        """Documents and drawings like an indexed page ("more like this"). A drawing elsewhere in
        the library that is the same sheet (a scan or photo of it, a copy) is checked by its
        geometry and comes first, as for a drawing query (search/geometry.py)."""
        doc = self._doc_of(target)
        if doc is None:
            raise QueryError(f"not in the library: {target}")
        row = self._lib.catalog.page(doc.id, page)
        if row is None:
            raise QueryError(f"{doc.path} has no page {page}")
        page_id, content = row
        image_vec = None
        index = self._lib.image_index
        if index is not None and index.contains(np.array([page_id], dtype=np.uint64))[0]:
            image_vec = index.get(np.array([page_id], dtype=np.uint64))[0]
        features: tuple[PageFeatures, ...] = ()
        if image_vec is not None and self._lib.settings.verify_top > 0:
            own = self._features_of(doc.path, page, self._features_cache, PAGE_FEATURES_CACHE_SIZE)
            features = (own,) if own is not None else ()
        return self._file_results(doc.path, content.text, displayed_words(content.words, content.rotation),
                                  content.source, image_vec, {doc.id}, limit, evidence, time.perf_counter(),
                                  features=features)

    def duplicates(self, *, threshold: float | None = None, with_pairs: bool = False,
                   progress: ProgressCallback | None = None,
                   cancel: CancelToken | None = None) -> DuplicateReport:
        """Groups of near-identical drawings: the same sheet scanned twice, a PDF and its photo,
        revisions of one part (engine.search.duplicates). Every drawing page the user may read
        is compared by the telling words it shares with others (part numbers, dimensions, notes:
        words on few drawings); pairs scored at least `threshold` (default: the calibrated
        `EngineSettings.duplicate_threshold`) are grouped. `with_pairs`: also every pair that
        shares a telling word, with its scores and geometry (benchmarks, calibration). A pair's
        words count only beyond chance (at most 10**`duplicate_max_chance` pairs of the library
        expected to share such rare words); two pages of one file are never paired.

        A page OCR read (a scan, a photo) and a page with a text layer, below the threshold (or
        within chance) but sharing `duplicate_check_share` of their telling words, are checked by
        their geometry (search/geometry.py) and count as duplicates when `duplicate_check_points`
        keypoints line up: a picture OCR read poorly and its drawing."""
        from engine.search.duplicates import check_geometry, duplicate_group, group_pages, is_ocr_page, score_pairs
        from engine.search.geometry import matched_points

        t0 = time.perf_counter()
        self._lib.refresh()
        cat, settings = self._lib.catalog, self._lib.settings
        limit = settings.duplicate_threshold if threshold is None else float(threshold)
        visual = cat.visual_pages()
        docs = cat.documents_by_ids({p[1] for p in visual})
        if settings.check_access:  # another user's private files: not even their names
            docs = {d: row for d, row in docs.items() if readable(row.path)}
        visual = [p for p in visual if p[1] in docs]
        ids = np.array([p[0] for p in visual], dtype=np.uint64)
        report(progress, Progress("duplicates", 0, len(ids), "pages", "reading the drawings' words"))
        found = cat.page_tokens(ids.tolist())
        vectors = None
        index = self._lib.image_index
        if index is not None and len(ids):
            vectors = np.zeros((len(ids), index.dim), dtype=np.float32)  # (n, dim), 0 = no picture
            have = index.contains(ids)
            if have.any():
                vectors[have] = index.get(ids[have])

        def checkpoint(done: int, total: int) -> None:
            if cancel is not None:
                cancel.check()
            report(progress, Progress("duplicates", done, total, "pairs", "comparing drawings"))

        files = [p[1] for p in visual]
        scored = score_pairs([found.get(int(pid), []) for pid in ids], vectors,
                             settings.duplicate_rare_pages, checkpoint, files=files,
                             chance_share=settings.duplicate_chance_share)
        cache: OrderedDict[tuple, PageFeatures | None] = OrderedDict()

        def points_of(i: int, j: int) -> int:
            a, b = (self._features_of(docs[visual[k][1]].path, visual[k][2], cache, DUPLICATE_FEATURES_CACHE_SIZE)
                    for k in (i, j))
            return matched_points(a, b) if a is not None and b is not None else 0

        def checked(done: int, total: int) -> None:
            if cancel is not None:
                cancel.check()
            report(progress, Progress("geometry", done, total, "pairs", "checking the drawings' geometry"))

        read = cat.page_sources(int(pid) for pid in ids)
        scored = check_geometry(scored, points_of, [is_ocr_page(read.get(int(pid), "none")) for pid in ids],
                                threshold=limit,
                                min_share=settings.duplicate_check_share, min_points=settings.duplicate_check_points,
                                max_chance=settings.duplicate_max_chance, checkpoint=checked, every=with_pairs)
        if cancel is not None:
            cancel.check()
        groups = group_pages(len(ids), scored, limit, max_chance=settings.duplicate_max_chance, files=files)
        wanted = {i for g, _ in groups for i in g} | ({i for p in scored for i in (p.i, p.j)} if with_pairs else set())
        pages = {i: DuplicatePage(doc_id=visual[i][1], path=docs[visual[i][1]].path,
                                  title=docs[visual[i][1]].title, page=visual[i][2],
                                  format=docs[visual[i][1]].format,
                                  source=read.get(int(ids[i]), "none")) for i in wanted}
        report(progress, Progress("duplicates", len(ids), len(ids), "pages", "done"))
        first = cat.pages_at([(visual[g[0]][1], visual[g[0]][2]) for g, _ in groups])

        def text_of(i: int) -> str:  # a group's first page's text: its shared words as written
            row = first.get((visual[i][1], visual[i][2]))
            return row[1].text if row else ""
        return DuplicateReport(
            groups=tuple(duplicate_group(g, links, pages, limit, settings.duplicate_max_chance,
                                         texts=[text_of(g[0])]) for g, links in
                         sorted(groups, key=lambda gl: (-len(gl[0]), min(pages[i].path for i in gl[0])))),
            pages=len(ids), threshold=limit, elapsed_ms=(time.perf_counter() - t0) * 1000,
            pairs=tuple(DuplicatePair(pages[p.i], pages[p.j], p.score, p.looks, p.words, p.points, p.confirmed,
                                        p.chance)
                        for p in scored) if with_pairs else ())

    # -- pages, thumbnails, explanations ---------------------------------------------------
    def render_page(self, target: Path | str | int, page: int = 1, dpi: int = 100, *,
                    max_px: int | None = None) -> Image.Image:
        """Picture of a page; with `max_px`, its longer side is at most that (a 108-megapixel
        photo is decoded at a reduced size, never whole, for a preview)."""
        from engine.extract import render_page

        return render_page(self._path_of(target), page, dpi, max_px=max_px,
                           settings=self._lib.settings)

    def thumbnail(self, target: Path | str | int, page: int = 1) -> Path:
        """A cached PNG thumbnail of a page (rendered on first request)."""
        path = self._path_of(target)
        st = path.stat()
        key = _version_name(path, st.st_size, st.st_mtime_ns, page)
        out = self._lib.root / "thumbs" / f"{key}.png"
        if not out.exists():
            from engine.extract import render_page

            size = self._lib.settings.thumbnail_px
            image = render_page(path, page, 72, max_px=size * 2)
            image.thumbnail((size, size))
            out.parent.mkdir(parents=True, exist_ok=True)
            tmp = out.with_suffix(".tmp.png")
            image.save(tmp)
            tmp.replace(out)
        return out

    def page_words(self, target: Path | str | int, page: int = 1) -> tuple[Word, ...]:
        """The words indexed for a page, their boxes over the page as `render_page` draws it
        (OCR's reading of a page it turned is kept in the upright page's frame)."""
        content = self._indexed_page(target, page)
        return displayed_words(content.words, content.rotation) if content else ()

    def page_turn(self, target: Path | str | int, page: int = 1) -> int:
        """Degrees clockwise (0, 90, 180, 270) that show a page upright: how OCR turned it to
        read it (a scan fed in sideways); 0 for a page read as it lies or not in the library.
        A preview turned by it shows `page_words` and the visual heatmap turned with it."""
        content = self._indexed_page(target, page)
        return content.rotation % 360 if content else 0

    def page_text(self, target: Path | str | int, page: int = 1) -> str:
        """The text indexed for a page: a CSV/Excel row ("Header: value | …"), a text file's
        text, a PDF page's text layer or OCR. Empty when the page is not in the library."""
        content = self._indexed_page(target, page)
        return content.text if content else ""

    def _indexed_page(self, target: Path | str | int, page: int):
        """The catalog's PageContent of a page, or None when it is not in the library."""
        doc = self._doc_of(target)
        row = self._lib.catalog.page(doc.id, page) if doc else None
        return row[1] if row else None

    def visual_heatmaps(self, query_path: Path | str, hit: Hit, query_page: int = 1
                        ) -> tuple[np.ndarray, np.ndarray] | None:
        """Which regions made the query's page (`query_page`: 1 for a dropped file, the page
        asked about for "more like this") and the hit's page alike: ((h, w) map of the query,
        (h', w') map of the hit), each in 0..1 and covering its page exactly as it lies
        (stretch it over the page's picture); None when the pack has no patch output or a page
        is blank (engine/search/heatmap.py). Both pages are compared upright, as search compares
        them: the query as it was turned for its search (a scan fed in sideways, a mirrored
        copy; a library page as the library turned it to read it), the hit as OCR turned it when
        the library read it; each map is turned back. What the query's template-mates in the
        library match as well (a border, a title block) stays dark (`_template_mates`). For the
        drawing itself (the hit the geometry check named the same drawing) the maps show where
        the keypoints that line up lie on both pages."""
        if hit.explanation.same_drawing_points:
            maps = self._lined_up_maps(Path(query_path), hit, query_page)
            if maps is not None:
                return maps
        enc = self._lib.image_encoder
        if enc is None or not getattr(enc, "has_patches", False):
            return None
        from engine.extract import render_page
        from engine.orientation import turn
        from engine.search.heatmap import match_maps, page_patches, unturn_map

        height, width = enc.spec.size

        def patches(image: Image.Image):
            return page_patches(image, enc.patch_embeddings(image), (width, height), enc.spec.resize)

        hit_row = self._lib.catalog.page(hit.doc_id, hit.page)
        # the hit as the library turned it to read it (OCR's rotation; never mirrored)
        hit_turn = Orientation(hit_row[1].rotation) if hit_row is not None else Orientation()
        pictures, orientations = [], []
        for path, page, orientation in ((Path(query_path), query_page, self._query_orientation(Path(query_path),
                                                                                              query_page)),
                                        (Path(hit.path), hit.page, hit_turn)):
            try:
                pictures.append(turn(render_page(path, page, self._lib.settings.render_dpi, grayscale=True),
                                     orientation))
            except EngineError:
                return None
            orientations.append(orientation)
        mates = self._template_mates(enc.encode([pictures[0]])[0], hit_row[0]) if hit_row is not None else []
        maps = match_maps(*(patches(p) for p in pictures), template=[patches(m) for m in mates])
        if maps is None:
            return None
        return unturn_map(maps[0], orientations[0]), unturn_map(maps[1], orientations[1])

    def _lined_up_maps(self, query_path: Path, hit: Hit, query_page: int = 1
                       ) -> tuple[np.ndarray, np.ndarray] | None:
        """Where the keypoints that line up lie on the query's page and on the hit's page, each
        as it lies (search/geometry.py); None when a page cannot be drawn or they do not line up."""
        from engine.extract import render_page

        try:
            read = self._query_cache.get(self._query_key(query_path)) if query_page == 1 else None
            query = read.features if read is not None and read.features else QueryKeypoints(
                render_page(query_path, query_page, self._lib.settings.render_dpi, grayscale=True))
        except (EngineError, OSError):
            return None
        page = self._page_features(hit)
        return lined_up_maps(query, page) if page is not None else None

    def _template_mates(self, vector: np.ndarray, hit_page_id: int) -> list[Image.Image]:
        """Up to TEMPLATE_MATES library pages, upright as the library read them, that look most
        like the query picture (`vector`) of those that look clearly less like it than the hit's
        page: its template-mates, for the heatmap to see past. The hit's page, and a copy of the
        query or of the hit (the query's own drawing in the library, a scan of it), look as much
        like the query as the hit or more and are not among them. A page that cannot be rendered
        now is left out."""
        from engine.extract import render_page
        from engine.orientation import turn

        index, cat = self._lib.image_index, self._lib.catalog
        if index is None:
            return []
        vector = np.asarray(vector, dtype=np.float32)
        stored = index.get(np.array([hit_page_id], dtype=np.uint64))[0]  # zeros: no picture
        below = float(stored @ vector) - COPY_MARGIN if np.any(stored) else 1.0
        found = [page_id for page_id, score in index.search(vector, TEMPLATE_POOL)
                 if page_id != hit_page_id and score < below]
        where = cat.pages_by_ids(found)
        docs = cat.documents_by_ids({doc_id for doc_id, _ in where.values()})
        mates: list[Image.Image] = []
        for page_id in found:
            doc_id, page_no = where.get(page_id, (None, 0))
            row = cat.page(doc_id, page_no) if doc_id in docs else None
            if row is None:
                continue
            try:
                image = render_page(Path(docs[doc_id].path), page_no, self._lib.settings.render_dpi, grayscale=True)
            except EngineError:
                continue
            mates.append(turn(image, Orientation(row[1].rotation)))
            if len(mates) == TEMPLATE_MATES:
                break
        return mates

    def _query_orientation(self, path: Path, page: int = 1) -> Orientation:
        """How a query file's picture was turned upright for its search; a page not searched in
        this session (a library page asked "more like this") as the library turned it to read it;
        else as it lies (also when no text told which way is up)."""
        try:
            read = self._query_cache.get(self._query_key(path)) if page == 1 else None
        except OSError:
            read = None
        orientation = read.orientation if read is not None else None
        if orientation is not None and orientation.known:
            return orientation
        indexed = self._indexed_page(path, page) if read is None else None
        return Orientation(indexed.rotation) if indexed is not None else Orientation()

    def kind_of(self, target: Path | str | int) -> str | None:
        """"drawing" or "document" for an indexed file (path or document id); None when the
        library does not hold it."""
        doc = self._doc_of(target)
        return doc.kind if doc is not None else None

    def _doc_of(self, target: Path | str | int):
        """The catalog row of an indexed document, None when there is none the user may read
        (another user's private file looks like no file)."""
        cat = self._lib.catalog
        if isinstance(target, int):
            doc = cat.document(target)
        else:  # a link is stored under its own path, other files under their real one
            doc = cat.document_by_path(file_key(Path(target))) or cat.document_by_path(canonical(target))
        if doc is not None and self._lib.settings.check_access and not readable(doc.path):
            return None
        return doc

    def _path_of(self, target: Path | str | int) -> Path:
        if isinstance(target, int):
            doc = self._doc_of(target)
            if doc is None:
                raise QueryError(f"no document with id {target}")
            return Path(doc.path)
        return Path(target)

    # -- feedback ---------------------------------------------------------------------------
    def record_feedback(self, query: str, hit: Hit, vote: int, *, query_path: str | None = None) -> None:
        if vote not in (-1, 1):
            raise QueryError("vote must be +1 or -1")
        self._lib.catalog.add_feedback(query, query_path, hit.path, hit.page, vote, self._lib.pack_id)

    def feedback(self) -> list[dict]:
        return self._lib.catalog.feedback()

    def export_pairs(self, out: Path | str, *, pairs_csv: Path | str | None = None,
                     feedback: bool = False, anonymise: bool = False) -> dict:
        """The site's adaptation pairs as JSON lines with their texts; `anonymise` replaces
        paths and file names by opaque ids (engine.evaluate.export)."""
        from engine.evaluate.export import export_pairs

        return export_pairs(self, Path(out), pairs_csv=Path(pairs_csv) if pairs_csv else None,
                            feedback=feedback, anonymise=anonymise)

    # -- evaluation --------------------------------------------------------------------------
    def evaluate(self, pairs_csv: Path | str | None = None, *, qrels: Path | str | None = None,
                 queries: Path | str | None = None, chart: Path | str | None = None,
                 limit: int = 20, evidence: Collection[str] | None = None,
                 progress: ProgressCallback | None = None, cancel: CancelToken | None = None) -> EvalReport:
        """Recall@1/5/10, MRR, nDCG@10 and mAP per query type for a pairs file or TREC qrels;
        optionally a PNG chart. Relative paths resolve against the judgement file's folder."""
        from engine.evaluate.pairs import (evaluate_judgements, read_pairs_csv, read_trec,
                                           write_chart)

        if pairs_csv is not None:
            source = Path(pairs_csv)
            judgements = read_pairs_csv(source)
        elif qrels is not None and queries is not None:
            source = Path(qrels)
            judgements = read_trec(source, Path(queries))
        else:
            raise EngineError("give a pairs file, or TREC qrels together with a queries file")
        result = evaluate_judgements(self, judgements, source.parent, limit=limit, evidence=evidence,
                                     progress=progress, cancel=cancel)
        return EvalReport(pack=self._lib.pack_id, queries=result["queries"],
                          skipped_judgements=result["skipped_judgements"], query_types=result["query_types"],
                          primary_metric=result["primary_metric"],
                          chart=str(write_chart(result, Path(chart))) if chart is not None else None)

    # -- adaptation --------------------------------------------------------------------------
    def adapt(self, pairs_csv: Path | str | None = None, *, use_feedback: bool = False,
              mine_library: bool = False, activate: bool = True,
              progress: ProgressCallback | None = None,
              cancel: CancelToken | None = None) -> AdaptReport:
        """Fine-tune the active pack on a site's (drawing, text) pairs, the thumbs-up votes of
        drawing queries, and/or pairs mined from the library (each drawing page's picture with
        its own text); a new pack version is written to LIBRARY/packs/ and activated only if
        its held-out mAP improved (see engine.learn.adapt). Needs the training extra (torch).
        With a pairs file, the ranking of drawing queries is then fitted to it too
        (`fit_ranking`; `report.ranking`)."""
        import csv
        import tempfile

        try:
            from engine.learn.adapt import Pair, adapt, read_pairs
        except ImportError as exc:  # torch missing: the training extra is not installed
            raise EngineError(f"adaptation needs the training extra (torch): {exc}") from exc
        extra: list = []
        if use_feedback:
            extra = [Pair(f["query_path"], f"{f['doc_path']}#page={f['page']}", 1.0)
                     for f in self.feedback()
                     if f["vote"] > 0 and f.get("query_path") and Path(f["query_path"]).is_file()]
        if mine_library:
            extra += [Pair(ref, text, 1.0) for ref, text in self._mined_pairs()]
        site_pairs = pairs_csv
        if pairs_csv is None and not extra:
            raise EngineError("nothing to learn from: give a pairs file, collect thumbs-up votes "
                              "on drawing searches, or mine the library's drawings")
        with tempfile.TemporaryDirectory(prefix="zumen-adapt-") as tmp:
            if pairs_csv is None:  # feedback only: adapt() reads a CSV, give it an empty one
                pairs_csv = Path(tmp) / "feedback.csv"
                with open(pairs_csv, "w", newline="", encoding="utf-8") as fh:
                    csv.writer(fh).writerow(["query", "relevant", "grade"])
            else:
                read_pairs(Path(pairs_csv))  # fail early, with the line number, on a bad file
            with self._lib.writer_lock:
                result = adapt(self._lib.root, Path(pairs_csv), self._lib.pack_path(),
                               self._lib.root / "packs", extra_pairs=extra, progress=progress,
                               cancel=cancel)
        if activate and result.passed_gate:
            self.activate_pack(result.pack_dir, progress=progress, cancel=cancel)
            result = replace(result, activated=True)
        if site_pairs is not None and activate:  # the final ranking, with the pack now in use
            result = replace(result, ranking=self.fit_ranking(site_pairs, progress=progress, cancel=cancel))
        return result

    def _mined_pairs(self, limit: int = 2000) -> list[tuple[str, str]]:
        """(drawing page reference, that page's own text) for pages with a picture and words."""
        cat = self._lib.catalog
        pages = cat.visual_pages()[:limit]
        docs = cat.documents_by_ids(p[1] for p in pages)
        out = []
        for _, doc_id, page_no, _ in pages:
            row = cat.page(doc_id, page_no)
            text = " ".join(row[1].text.split())[:1500] if row else ""
            if len(text) >= 20:  # a page with almost no words teaches nothing
                out.append((f"{docs[doc_id].path}#page={page_no}", text))
        return out

    def ranking_weights(self):
        """The drawing-query documents ranking in force: FileWeights (site-fitted or default)."""
        return self._lib.ranking()[0]

    def set_ranking_weights(self, weights, calibration) -> None:
        """Keep a site-fitted ranking for the active model pack (engine.evaluate.ranking_fit)."""
        from engine.evaluate.ranking_fit import store_ranking

        store_ranking(self._lib.catalog, self._lib.pack_id, weights, calibration)

    def fit_ranking(self, pairs_csv: Path | str, *, progress: ProgressCallback | None = None,
                    cancel: CancelToken | None = None) -> dict:
        """Fit the documents ranking of drawing queries to a site's pairs, cross-validated; kept
        for the active pack only if the final ranking's held-out mAP improves (`zumen adapt`)."""
        from engine.evaluate.pairs import read_pairs_csv
        from engine.evaluate.ranking_fit import fit_site_ranking

        source = Path(pairs_csv)
        return fit_site_ranking(self, read_pairs_csv(source), source.parent, progress=progress,
                                cancel=cancel)

    # -- status and packs -----------------------------------------------------------------
    def status(self) -> LibraryStatus:
        cat = self._lib.catalog
        counts = cat.counts()
        return LibraryStatus(
            library=str(self._lib.root), folders=cat.folders(), documents=counts["documents"],
            pages=counts["pages"], chunks=counts["chunks"], drawings=counts["drawings"],
            failed=cat.failures(), index_bytes=self._lib.index_bytes(), pack=self.active_pack(),
            ignored=cat.ignored_paths(), skipped_types=self._skipped_types(), notes=cat.notes())

    def _skipped_types(self) -> tuple[SkippedType, ...]:
        """Unsupported file types under the library's folders, as their last scans found them."""
        folders = set(self.folders())
        merged: dict[str, tuple[int, list[str]]] = {}
        for root, found in self._lib.catalog.skipped_types().items():
            if root not in folders:
                continue
            for ext, (count, examples) in found.items():
                n, ex = merged.get(ext, (0, []))
                merged[ext] = (n + count, (ex + examples)[:SKIPPED_EXAMPLES])
        return tuple(SkippedType(ext, n, tuple(ex))
                     for ext, (n, ex) in sorted(merged.items(), key=lambda kv: (-kv[1][0], kv[0])))

    def active_pack(self) -> PackInfo | None:
        pack = self._lib.pack
        return pack.info if pack is not None else None

    @property
    def pack_error(self) -> str | None:
        return self._lib.pack_error

    def packs(self) -> list[PackInfo]:
        """The bundled default pack plus every pack version in the library's packs/ folder."""
        from engine.config import DEFAULT_PACK_DIR
        from engine.encoders.pack import ModelPack
        from engine.errors import PackError

        found = []
        candidates = [DEFAULT_PACK_DIR]
        packs_dir = self._lib.root / "packs"
        if packs_dir.is_dir():
            candidates += sorted(p for p in packs_dir.iterdir() if p.is_dir())
        for p in candidates:
            try:
                found.append(ModelPack.load(p, verify=False).info)
            except PackError:
                continue
        return found

    def activate_pack(self, pack: str | Path, *, progress: ProgressCallback | None = None,
                      cancel: CancelToken | None = None) -> PackInfo:
        """Switch to another pack version and embed the library with it.

        Searches keep using the old vectors until the new ones are complete: the new pack's
        vectors live in their own folder and the switch happens after they are saved.
        """
        from engine.encoders.pack import ModelPack

        target = self._resolve_pack(pack)
        new_pack = ModelPack.load(target)
        staging = Library(self._lib.root, pack_dir=target, settings=self._lib.settings, ocr=None)
        try:
            with self._lib.writer_lock:
                IndexingPipeline(staging, extract=None, render=self._render_fn(),  # type: ignore[arg-type]
                                 suffixes=frozenset()).reconcile(progress, cancel)
                staging.save_vectors()
                self._lib.switch_pack(target)
        finally:
            staging.catalog.close()
        return new_pack.info

    def rollback_pack(self, *, progress: ProgressCallback | None = None) -> PackInfo:
        import json

        history = json.loads(self._lib.catalog.get_meta("pack_history", "[]") or "[]")
        if not history:
            raise EngineError("there is no earlier model pack to roll back to")
        info = self.activate_pack(history[-1], progress=progress)
        # activate_pack recorded the pack we left; forget it and the one we returned to
        self._lib.catalog.set_meta("pack_history", json.dumps(history[:-1]))
        return info

    def _resolve_pack(self, pack: str | Path) -> Path:
        p = Path(pack)
        if p.is_dir():
            return p.resolve()
        for info in self.packs():  # the pack id (sanitised, a folder name), name-version, name or version
            if str(pack) in (info.pack_id, Path(info.path).name, f"{info.name}-{info.version}", info.name,
                             info.version):
                return Path(info.path)
        raise EngineError(f"no model pack named {pack!r}")

    @staticmethod
    def _render_fn():
        from engine.extract import render_page

        return render_page
