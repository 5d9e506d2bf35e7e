"""Test double: a deterministic fake of engine.api.Engine for UI tests and `--fake` demos
(no files, no models). Not used by the app on a real library.

It implements engine.api.EngineProtocol with the same signatures (tests/test_contract.py checks
them), returns the real engine.types dataclasses, reports progress and honours cancel tokens.
`delay_s` makes every call slow, to prove the window keeps painting while work runs.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Collection, Sequence

import numpy as np
from PIL import Image, ImageDraw

from engine.errors import QueryError
from engine.progress import CancelToken, ProgressCallback, RateMeter
from engine.progress import Progress
from engine.types import (Box, DuplicateGroup, DuplicatePage, DuplicateReport, Explanation,
                          FailedFile, FileQueryResults, Hit, IndexReport, LibraryStatus, PackInfo,
                          ScoreBreakdown, SearchResults, SkippedType, Snippet, Word)


@dataclass(frozen=True)
class FakeDoc:
    doc_id: int
    path: str
    title: str
    kind: str
    text: str


FAKE_DOCS: tuple[FakeDoc, ...] = (
    FakeDoc(1, "/plant/drawings/1258-B2P_bracket.pdf", "1258-B2P Bracket", "drawing",
            "BRACKET 1258-B2P material S45C quench 焼入れ HRC 45"),
    FakeDoc(2, "/plant/specs/1258-B2P_spec.pdf", "Bracket specification 1258-B2P", "document",
            "Specification for bracket 1258-B2P. Material S45C, 焼入れ after machining."),
    FakeDoc(3, "/plant/process/1258_process_sheet.xlsx", "Process sheet 1258", "document",
            "Process: cut, mill, drill, 焼入れ, grind. Part 1258-B2P."),
    FakeDoc(4, "/plant/drawings/1260-A1_plate.pdf", "1260-A1 Mounting plate", "drawing",
            "PLATE 1260-A1 material A5052 anodise"),
    FakeDoc(5, "/plant/inspection/1258_inspection.pdf", "Inspection report 1258-B2P", "document",
            "Inspection of 1258-B2P: hardness HRC 45 OK, S45C certificate attached."),
    FakeDoc(6, "/plant/drawings/1259-B2_bracket_v2.pdf", "1259-B2 Bracket (rev 2)", "drawing",
            "BRACKET 1259-B2 material S45C"),
)
PAGE_SIZE = (840, 594)  # an A-size landscape sheet at ~72 dpi


def _marks(text: str, terms: Sequence[str]) -> tuple[tuple[int, int], ...]:
    low = text.lower()
    spans = []
    for term in terms:
        start = low.find(term.lower())
        if start >= 0:
            spans.append((start, start + len(term)))
    return tuple(sorted(spans))


_THUMBS: list[Path] = []


def _thumbs_dir() -> Path:
    """One temporary thumbnail folder per process, removed at exit."""
    if not _THUMBS:
        _THUMBS.append(Path(tempfile.mkdtemp(prefix="zumen-fake-thumbs-")))
        atexit.register(shutil.rmtree, _THUMBS[0], True)
    return _THUMBS[0]


class FakeEngine:
    def __init__(self, delay_s: float = 0.0, index_files: int = 8, index_step_s: float = 0.0,
                 with_heatmap: bool = True, page_size: tuple[int, int] = PAGE_SIZE) -> None:
        self.delay_s = delay_s
        self.page_size = page_size
        self.index_files = index_files
        self.index_step_s = index_step_s
        self.with_heatmap = with_heatmap
        self.feedback_log: list[dict] = []
        self.heatmap_calls: list[tuple[str, int, int]] = []  # (query path, query page, hit doc id)
        self.rendered: list[tuple[str, int]] = []  # (path, page) of render_page
        self.calls: list[str] = []
        self.corrections: list[tuple[tuple[str, ...], tuple[str, ...]]] = []  # (drop, add) per query
        self._folders: list[str] = ["/plant/drawings", "/plant/specs"]
        self._thumbs = _thumbs_dir()
        self._lock = threading.Lock()
        self._active = "default-1.0.0"
        self.failed: list[FailedFile] = [
            FailedFile("/plant/specs/broken.pdf", "the PDF is password-protected", "2026-11-27T10:00:00")]
        self.ignored: list[str] = []
        self.skipped_types = (SkippedType(".dwg", 12, ("/plant/drawings/1258-B2P.dwg",)),
                              SkippedType(".step", 3, ("/plant/drawings/1258-B2P.step",)))
        self.documents = len(FAKE_DOCS)
        self.turns: dict[Path | str | int, int] = {}  # page_turn: documents read turned (sideways scans)

    # helpers ----------------------------------------------------------------------------------
    def _wait(self, name: str) -> None:
        with self._lock:
            self.calls.append(name)
        if self.delay_s:
            time.sleep(self.delay_s)

    def _hit(self, doc: FakeDoc, rank: int, terms: Sequence[str], visual: float = 0.0) -> Hit:
        lexical = min(1.0, 0.3 * len(_marks(doc.text, terms)))
        semantic = 0.8 - 0.05 * rank
        scores = ScoreBreakdown(lexical, semantic, visual, (lexical + semantic + visual) / 3)
        shared = tuple(t for t in terms if t.lower() in doc.text.lower())
        return Hit(doc.doc_id, doc.path, doc.title, doc.kind, Path(doc.path).suffix[1:], 1, scores,
                   Snippet(doc.text, _marks(doc.text, terms)),
                   Explanation(shared_terms=shared, boxes=(Box(0.70, 0.82, 0.95, 0.90), Box(0.1, 0.1, 0.3, 0.16)),
                               query_boxes=(Box(0.68, 0.80, 0.96, 0.92),),
                               summary=f"shares {', '.join(shared) or 'layout'}"), rank=rank,
                   other_pages=(2, 3) if doc.kind == "document" else ())

    @property
    def pack_error(self) -> str | None:
        return None

    # search -----------------------------------------------------------------------------------
    def search(self, text: str, *, limit: int = 20, kinds: Collection[str] | None = None,
               evidence: Collection[str] | None = None) -> SearchResults:
        self._wait("search")
        terms = tuple(t for t in text.split() if t)
        if not terms:
            raise QueryError("empty query")
        docs = [d for d in FAKE_DOCS if any(t.lower() in d.text.lower() for t in terms)]
        docs = [d for d in docs if not kinds or d.kind in kinds][:limit]
        hits = tuple(self._hit(d, i + 1, terms) for i, d in enumerate(docs))
        return SearchResults(text, "keyword", hits, 12.0, terms)

    READ_TERMS = ("1258-B2P", "S45C", "焼入れ", "uitimaker")  # "what was read", one misread

    def _file_results(self, query_path: str, drop: Sequence[str] = (), add: Sequence[str] = ()) -> FileQueryResults:
        terms = tuple(t for t in self.READ_TERMS if t not in drop) + tuple(add)
        related = tuple(self._hit(d, i + 1, terms) for i, d in
                        enumerate(d for d in FAKE_DOCS if d.kind == "document"))
        similar = tuple(self._hit(d, i + 1, terms, visual=0.9 - 0.1 * i) for i, d in
                        enumerate(d for d in FAKE_DOCS if d.kind == "drawing"))
        words = (Word("1258-B2P", Box(0.68, 0.80, 0.96, 0.86)), Word("S45C", Box(0.68, 0.86, 0.8, 0.92)))
        return FileQueryResults(query_path, FAKE_DOCS[0].text, ("1258-B2P", "S45C"), "text-layer",
                                SearchResults(query_path, "file", related, 20.0, terms),
                                SearchResults(query_path, "file", similar, 20.0, terms), words, 40.0,
                                terms)

    def _read_query(self, call: str, stage: str, drop_terms: Collection[str], add_terms: Sequence[str],
                    progress: ProgressCallback | None, cancel: CancelToken | None) -> None:
        """What a drawing query does before it ranks: note the call and the corrections, report
        reading progress, honour cancel."""
        self._wait(call)
        self.corrections.append((tuple(drop_terms), tuple(add_terms)))
        if progress:
            progress(RateMeter(stage, 1, "pages").progress(1))
        if cancel:
            cancel.check()

    def search_file(self, path: Path | str, *, limit: int = 20,
                    evidence: Collection[str] | None = None,
                    progress: ProgressCallback | None = None,
                    cancel: CancelToken | None = None, show_weak: bool = False,
                    drop_terms: Collection[str] = (), add_terms: Sequence[str] = ()) -> FileQueryResults:
        self._read_query("search_file", "extract", drop_terms, add_terms, progress, cancel)
        return self._file_results(str(path), drop_terms, add_terms)

    def search_image(self, image: Image.Image, *, limit: int = 20,
                     evidence: Collection[str] | None = None,
                     progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
                     drop_terms: Collection[str] = (), add_terms: Sequence[str] = ()) -> FileQueryResults:
        self._read_query("search_image", "ocr", drop_terms, add_terms, progress, cancel)
        return self._file_results("clipboard.png", drop_terms, add_terms)

    def warm_up(self) -> None:
        """Nothing to load: the fake has no models."""

    def similar(self, target: Path | str | int, page: int = 1, *, limit: int = 20,
                evidence: Collection[str] | None = None) -> FileQueryResults:
        self._wait("similar")
        docs = [d for d in FAKE_DOCS if d.doc_id != target]
        hits = {kind: tuple(self._hit(d, i + 1, ("S45C",), visual=0.5)
                            for i, d in enumerate(d for d in docs if d.kind == kind)) for kind in ("document", "drawing")}
        query = f"doc:{target}"
        return FileQueryResults(query, "", (), "text-layer", SearchResults(query, "file", hits["document"], 8.0, ()),
                                SearchResults(query, "file", hits["drawing"], 8.0, ()), (), 8.0)

    # pages ------------------------------------------------------------------------------------
    def duplicates(self, *, threshold: float | None = None, with_pairs: bool = False,
                   progress: ProgressCallback | None = None,
                   cancel: CancelToken | None = None) -> DuplicateReport:
        """Two groups: the bracket drawing with its scan and photo, and the bracket with its
        revision 2 (a lower score); pages compared one by one, with progress and cancel."""
        self._wait("duplicates")
        total = 4
        for done in range(total + 1):
            if cancel is not None:
                cancel.check()
            if progress:
                progress(Progress("duplicates", done, total, "pages", "comparing drawings"))
            time.sleep(self.index_step_s)

        def page(doc_id: int, path: str, fmt: str = "pdf", source: str = "text-layer") -> DuplicatePage:
            return DuplicatePage(doc_id, path, Path(path).stem, 1, fmt, source)

        scans = (page(1, FAKE_DOCS[0].path), page(7, "/plant/scans/1258-B2P_scan.png", "image", "ocr"),
                 page(8, "/plant/photos/IMG_0412.jpg", "image", "ocr"))
        revisions = (page(4, FAKE_DOCS[3].path), page(9, "/plant/drawings/old/1260-A1_plate_revA.pdf"))
        limit = 0.5 if threshold is None else threshold
        groups = tuple(g for g in (DuplicateGroup(scans, 0.97, 0.93, ("1258-b2p", "s45c", "bracket"), 140),
                                   DuplicateGroup(revisions, 0.71, 0.88, ("1260-a1", "a5052")))
                       if g.score >= limit)
        return DuplicateReport(groups, pages=12, threshold=limit, elapsed_ms=40.0)

    def render_page(self, target: Path | str | int, page: int = 1, dpi: int = 100, *,
                    max_px: int | None = None) -> Image.Image:
        """A drawn sheet of `page_size` pixels (`max_px` is ignored, like a careless engine)."""
        self._wait("render_page")
        self.rendered.append((str(target), page))
        return self._sheet(target, self.page_size)

    @staticmethod
    def _sheet(target: Path | str | int, size: tuple[int, int]) -> Image.Image:
        img = Image.new("RGB", size, "white")
        draw = ImageDraw.Draw(img)
        w, h = size
        draw.rectangle((10, 10, w - 10, h - 10), outline="black", width=3)
        draw.rectangle((int(w * 0.66), int(h * 0.78), w - 10, h - 10), outline="black", width=2)
        seed = hash(str(target)) % 7
        draw.ellipse((150 + seed * 10, 150, 350, 350), outline="black", width=3)
        draw.line((100, 250, 400 + seed * 20, 250), fill="black", width=1)
        draw.text((int(w * 0.7), int(h * 0.83)), f"DOC {target}", fill="black")
        return img

    def thumbnail(self, target: Path | str | int, page: int = 1) -> Path:
        path = self._thumbs / f"{target}-{page}.png"
        if not path.exists():
            self._sheet(target, PAGE_SIZE).resize((160, 113)).save(path)
        return path

    def page_words(self, target: Path | str | int, page: int = 1) -> tuple[Word, ...]:
        return (Word("S45C", Box(0.2, 0.3, 0.3, 0.35)), Word("unrelated", Box(0.5, 0.5, 0.6, 0.55)),
                Word("1258-B2P", Box(0.70, 0.82, 0.95, 0.90)))

    def page_turn(self, target: Path | str | int, page: int = 1) -> int:
        return self.turns.get(target, 0)

    def page_text(self, target: Path | str | int, page: int = 1) -> str:
        doc = next((d for d in FAKE_DOCS if d.doc_id == target), None)
        if doc is None:
            return ""
        if doc.path.endswith(".xlsx"):  # one row per page, as engine.extract.text writes it
            return f"Step: {page * 10} | Operation: {doc.text.split(': ')[-1]} | Part: 1258-B2P"
        return doc.text

    def visual_heatmaps(self, query_path: Path | str, hit: Hit, query_page: int = 1
                        ) -> tuple[np.ndarray, np.ndarray] | None:
        self.heatmap_calls.append((str(query_path), query_page, hit.doc_id))
        if not self.with_heatmap:
            return None
        yy, xx = np.mgrid[0:12, 0:16]
        hit_map = np.exp(-((xx - 5) ** 2 + (yy - 6) ** 2) / 10.0).astype(np.float32)  # (12, 16)
        return hit_map[:, ::-1].copy(), hit_map  # the query's view drawn on the other side

    # feedback ---------------------------------------------------------------------------------
    def record_feedback(self, query: str, hit: Hit, vote: int, *, query_path: str | None = None) -> None:
        self._wait("record_feedback")
        with self._lock:
            self.feedback_log.append({"query": query, "doc_id": hit.doc_id, "page": hit.page, "vote": vote,
                                      "query_path": query_path})

    def feedback(self) -> list[dict]:
        return list(self.feedback_log)

    # library ----------------------------------------------------------------------------------
    def add_folder(self, path: Path | str) -> str:
        self._folders.append(str(path))
        return str(path)

    def remove_folder(self, path: Path | str) -> int:
        self._folders.remove(str(path))
        return 0

    def folders(self) -> tuple[str, ...]:
        return tuple(self._folders)

    def index(self, paths: Sequence[Path | str] | None = None, *,
              progress: ProgressCallback | None = None, cancel: CancelToken | None = None,
              retry_failed: bool = False) -> IndexReport:
        """The real engine's steps: scan, index (files; documents count up as they are read),
        embed (items), save."""
        self._wait("index")
        if progress:
            progress(Progress("scan", 0, None, "files", "looking for files"))
        meter = RateMeter("index", self.index_files)
        start = len(FAKE_DOCS)
        for done in range(1, self.index_files + 1):
            if cancel is not None and cancel.cancelled:
                return IndexReport(added=done - 1, cancelled=True)
            time.sleep(self.index_step_s)
            self.documents = start + done
            if progress:
                progress(meter.progress(done, f"file{done}.pdf"))
        if progress:
            progress(Progress("embed", 0, 2, "items"))
            progress(Progress("embed", 2, 2, "items"))
            progress(Progress("save", 0, 1, "steps"))
        return IndexReport(added=self.index_files, pages=self.index_files * 2, elapsed_s=0.1)

    def retry_files(self, paths: Sequence[Path | str], *, progress: ProgressCallback | None = None,
                    cancel: CancelToken | None = None) -> IndexReport:
        """A retried file is still broken unless its name says "fixed"."""
        self._wait("retry_files")
        names = {str(p) for p in paths}
        fixed = [f for f in self.failed if f.path in names and "fixed" in f.path]
        self.failed = [f for f in self.failed if f not in fixed]
        return IndexReport(added=len(fixed), failed=len(names) - len(fixed), elapsed_s=0.1)

    def ignore_file(self, path: Path | str, ignored: bool = True) -> None:
        self._wait("ignore_file")
        path = str(path)
        if ignored:
            self.failed = [f for f in self.failed if f.path != path]
            self.ignored = sorted(set(self.ignored) | {path})
        else:
            self.ignored = [p for p in self.ignored if p != path]

    def status(self) -> LibraryStatus:
        self._wait("status")
        return LibraryStatus("/tmp/fake-library", tuple(self._folders), self.documents,
                             self.documents * 2, 20, 3, tuple(self.failed), 1_234_567,
                             self.packs()[0], tuple(self.ignored), self.skipped_types)

    # packs ------------------------------------------------------------------------------------
    def packs(self) -> list[PackInfo]:
        return [PackInfo("default", "1.0.0", "/packs/default", 384, True, "2026-11-27",
                         {"recall@1": 0.62, "mrr": 0.71, "map": 0.58}),
                PackInfo("site", "1.1.0", "/packs/site-1.1.0", 384, True, "2026-11-27",
                         {"recall@1": 0.74, "mrr": 0.80, "map": 0.69, "baseline": {"recall@1": 0.62}})]

    def activate_pack(self, pack: str | Path, *, progress: ProgressCallback | None = None,
                      cancel: CancelToken | None = None) -> PackInfo:
        self._wait("activate_pack")
        info = next(p for p in self.packs() if str(pack) in (p.pack_id, f"{p.name}-{p.version}", p.path))
        self._active = info.pack_id
        return info

    def rollback_pack(self, *, progress: ProgressCallback | None = None) -> PackInfo:
        self._wait("rollback_pack")
        self._active = "default-1.0.0"
        return self.packs()[0]

    def close(self) -> None:
        pass
