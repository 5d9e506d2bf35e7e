"""Plain, frozen value types that cross the engine boundary (CLI, desktop, benchmarks).

Coordinates: every `Box` is normalised to its page, 0..1 on both axes, origin top-left,
so the UI can draw it over a render of any size.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from pathlib import Path
from typing import Literal, Optional

import numpy as np
from numpy.typing import NDArray

Embeddings = NDArray[np.float32]  # (n, dim), rows L2-normalised
Vector = NDArray[np.float32]  # (dim,)

DocKind = Literal["drawing", "document"]
TextSource = Literal["text-layer", "ocr", "text-layer+ocr", "plain", "none"]


@dataclass(frozen=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float

    def union(self, other: "Box") -> "Box":
        return Box(min(self.x0, other.x0), min(self.y0, other.y0),
                   max(self.x1, other.x1), max(self.y1, other.y1))


@dataclass(frozen=True)
class Word:
    text: str
    box: Box
    conf: float = 1.0


@dataclass(frozen=True)
class PageContent:
    """Text and geometry of one page (a PDF page, an image frame, a CSV row, a text file)."""

    page_no: int  # 1-based
    text: str  # reading-order text (NFKC-normalised)
    words: tuple[Word, ...] = ()
    width: float = 0.0  # page size in points (PDF) or pixels (image); 0 for plain text
    height: float = 0.0
    source: TextSource = "plain"
    rotation: int = 0  # degrees the page was turned to read it upright (0/90/180/270)
    visual: bool = False  # True when the page is a picture worth a visual embedding


@dataclass(frozen=True)
class ExtractedDocument:
    path: Path
    format: str  # "pdf", "image", "text", "markdown", "csv", "docx", "xlsx"
    kind: DocKind
    title: str
    pages: tuple[PageContent, ...]
    warnings: tuple[str, ...] = ()
    page_total: int = 0  # pages in the file when `pages` is one batch of them (0: all are here)


@dataclass(frozen=True)
class ScoreBreakdown:
    """Per-evidence scores of one hit. 0 means 'this evidence did not find it'."""

    lexical: float = 0.0  # keywords: share of the terms on the page; drawings: page BM25 / query mass
    semantic: float = 0.0  # cosine, text embedding vs text embedding
    visual: float = 0.0  # cosine, image embedding vs image/text embedding
    fused: float = 0.0  # the ranking score
    lexical_doc: float = 0.0  # drawing queries: BM25 of the whole document / query mass
    cosine_page: float = 0.0  # drawing queries: TF-IDF cosine of the query and the page
    cosine_doc: float = 0.0  # drawing queries: TF-IDF cosine of the query and the whole document
    dimensions: float = 0.0  # drawing queries: BM25 of the query's sizes and numbers on the page
    link_name: float = 0.0  # drawing queries: names the file of the drawing found in the library
    link_folder: float = 0.0  # drawing queries: lies beside (or above) that drawing's file
    # similar drawings: keypoints lining up with the query page's under one perspective
    # (engine/search/geometry.py), for the first `verify_top` hits; 0 = not checked, or none
    matched_points: int = 0
    # how sure the hit is relevant, 0..1 (absolute): keywords, the share of the terms on the page;
    # a drawing's related documents, a calibrated probability; similar drawings: 0, not calibrated
    confidence: float = 0.0


@dataclass(frozen=True)
class Snippet:
    text: str
    marks: tuple[tuple[int, int], ...] = ()  # [start, end) character spans of matched terms


@dataclass(frozen=True)
class Explanation:
    shared_terms: tuple[str, ...] = ()
    shared_identifiers: tuple[str, ...] = ()  # part numbers, materials, standards
    boxes: tuple[Box, ...] = ()  # where the shared terms are on the hit page
    query_boxes: tuple[Box, ...] = ()  # where they are on the query page (file queries)
    summary: str = ""  # one human sentence: "shares part no. 1258, material S45C"
    # drawing queries, the library's own links (the query found as a library drawing):
    names_drawing: str = ""  # path of that drawing, when this page names its file (a BOM row)
    beside_drawing: str = ""  # path of that drawing, when this document lies in its folder…
    folders_up: int = 0  # …or this many folders above it
    # similar drawings: the hit whose geometry stands out as the query's (its own drawing, or a
    # near copy: a revision, a variant drawn alike): how many of its keypoints line up with the
    # query page's under one perspective (engine/search/geometry.py); else 0
    same_drawing_points: int = 0


@dataclass(frozen=True)
class Hit:
    doc_id: int
    path: str
    title: str
    kind: DocKind
    format: str
    page: int  # 1-based best page
    scores: ScoreBreakdown
    snippet: Snippet
    explanation: Explanation
    rank: int = 0
    other_pages: tuple[int, ...] = ()  # further matching pages of the same document
    duplicates: tuple[tuple[str, int], ...] = ()  # (path, page) of other files with this page's text


@dataclass(frozen=True)
class SearchResults:
    query: str
    mode: Literal["keyword", "file", "similar"]
    hits: tuple[Hit, ...]
    elapsed_ms: float = 0.0
    terms: tuple[str, ...] = ()  # lexical terms the query was split into
    # True when nothing in the library matches: no page holds the keywords (hits, if any, are
    # by meaning alone), or no document reaches the calibrated confidence for a drawing
    no_match: bool = False
    note: str = ""  # a sentence for the user when no_match (English; the UI translates by key)
    # a drawing query's similar drawings while they are ranked: the first few by looks alone
    # (engine/search/geometry.py checks them too); empty in every answer the engine gives, and
    # not part of its JSON
    looks: tuple["Hit", ...] = field(default=(), metadata={"internal": True})


@dataclass(frozen=True)
class FileQueryResults:
    """Answer to "I have this drawing": related documents and similar drawings."""

    query_path: str
    query_text: str
    identifiers: tuple[str, ...]
    text_source: TextSource
    related: SearchResults
    similar: SearchResults
    query_words: tuple[Word, ...] = ()  # words found on the query page (for highlighting)
    elapsed_ms: float = 0.0
    read_terms: tuple[str, ...] = ()  # what was read that counts: part numbers, then rarest words


@dataclass(frozen=True)
class FailedFile:
    path: str
    reason: str
    when: str  # ISO timestamp


@dataclass(frozen=True)
class FileNote:
    """An indexed file with something to say: a warning of the reader (a repaired PDF), or only
    part of it indexed (state "partial": the page/time budget; "reading": resumed next run)."""

    path: str
    note: str
    state: str


@dataclass(frozen=True)
class PackInfo:
    name: str
    version: str
    path: str
    text_dim: int
    has_image_tower: bool
    created: str = ""
    metrics: dict = field(default_factory=dict)

    @property
    def pack_id(self) -> str:
        """'name-version' made safe as a folder name: what `zumen adapt` prints and `activate` takes."""
        from engine.encoders.pack import make_pack_id

        return make_pack_id(self.name, self.version)


@dataclass(frozen=True)
class SkippedType:
    """Files of one type the scanner passed over because Zumen cannot read that type."""

    extension: str  # lower case with the dot (".dwg"); "" for names without one
    count: int
    examples: tuple[str, ...] = ()  # a few of the paths


@dataclass(frozen=True)
class LibraryStatus:
    library: str
    folders: tuple[str, ...]
    documents: int
    pages: int
    chunks: int
    drawings: int
    failed: tuple[FailedFile, ...]
    index_bytes: int
    pack: Optional[PackInfo]
    ignored: tuple[str, ...] = ()  # files the user chose to leave out (never indexed, not "failed")
    skipped_types: tuple[SkippedType, ...] = ()  # unsupported types found by the last scan, most first
    notes: tuple[FileNote, ...] = ()  # repaired files, partially indexed ones


@dataclass(frozen=True)
class DuplicatePage:
    """One drawing page of a duplicate group."""

    doc_id: int
    path: str
    title: str
    page: int  # 1-based
    format: str  # "pdf", "image"
    source: str  # how its text was read: "text-layer", "ocr", ... (a scan or photo: "ocr")


@dataclass(frozen=True)
class DuplicatePair:
    """Two drawing pages compared: the words they share and how alike they look."""

    a: DuplicatePage
    b: DuplicatePage
    score: float  # share of the telling words (on few drawings) of one page found on the other
    looks: float  # image-tower cosine of their pictures (reported; it does not decide)
    words: tuple[str, ...]  # the telling words they share
    points: int = 0  # keypoints lining up under one perspective transform (0: none, or not checked)
    confirmed: bool = False  # not enough by its words, confirmed by geometry
    chance: float = 0.0  # log10 of the pairs of this library expected to share such words by chance


@dataclass(frozen=True)
class DuplicateGroup:
    """Near-identical drawings: the same sheet scanned twice, a PDF and its photo, revisions of
    one part. Pages with a text layer first, then by path."""

    pages: tuple[DuplicatePage, ...]
    score: float  # mean score over every two of its pages (0 for two sharing no telling word)
    looks: float  # the closest look of two of its pages (image-tower cosine)
    words: tuple[str, ...]  # the telling words its pages share most (part numbers, dimensions)
    points: int = 0  # the most keypoints two of its pages line up, where geometry confirmed them (0: words alone)


@dataclass(frozen=True)
class DuplicateReport:
    groups: tuple[DuplicateGroup, ...]  # largest first
    pages: int  # drawing pages compared
    threshold: float  # a pair scored at least this is a duplicate
    elapsed_ms: float
    pairs: tuple[DuplicatePair, ...] = ()  # every candidate pair, when asked for (benchmarks)


@dataclass(frozen=True)
class IndexReport:
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    failed: int = 0
    pages: int = 0
    elapsed_s: float = 0.0
    embed_s: float = 0.0  # of elapsed_s, the time spent embedding (pages were keyword-searchable before)
    cancelled: bool = False
    errors: tuple[FailedFile, ...] = ()
    notes: tuple[FileNote, ...] = ()  # files indexed with a warning, or only in part (budget)


@dataclass(frozen=True)
class AdaptReport:
    """What site adaptation did (Engine.adapt, `zumen adapt`; engine.learn.adapt).

    Metric dicts are engine.evaluate.metrics output ({"recall@1", ..., "map", "queries"}).
    `paths` measures each path a drawing query takes to documents, before and after: "text" (the
    query's words -> text tower), "image" (its picture -> image tower -> text space) and
    "image->image"; `path` names the one that decides (`before`/`after` are its metrics)."""

    pack_dir: str
    pack_id: str
    parent: str
    passed_gate: bool  # the held-out mAP improved and keyword queries did not get worse
    refused_because: str  # why the gate refused it ("" when it passed)
    path: str  # "text" | "image"
    before: dict
    after: dict
    paths: dict = field(default_factory=dict)
    trained: tuple[str, ...] = ()  # towers adapted
    skipped: dict = field(default_factory=dict)  # tower -> why it was not adapted
    history: dict = field(default_factory=dict)  # tower -> per-epoch losses
    pairs: dict = field(default_factory=dict)  # {"total", "train_queries", "val_queries", "texts", "text_train_pairs"}
    timing: dict = field(default_factory=dict)
    primary: str = "map"
    activated: bool = False  # set by Engine.adapt: the library uses the new version now
    ranking: Optional[dict] = None  # Engine.adapt with a pairs file: the ranking fit (engine.evaluate.ranking_fit)

    @property
    def not_activated_because(self) -> str:
        """Why the library does not use the new version ("" when it does)."""
        if self.activated:
            return ""
        return self.refused_because or "kept inactive on request (--no-activate)"

    @classmethod
    def from_json(cls, data: dict) -> "AdaptReport":
        """The report back from `zumen adapt --json` (unknown keys are ignored)."""
        known = {f: data[f] for f in cls.__dataclass_fields__ if f in data}
        known["trained"] = tuple(known.get("trained", ()))
        return cls(**known)


@dataclass(frozen=True)
class EvalReport:
    """How well the active pack finds what a site's judgements say belongs together (`zumen eval`)."""

    pack: str
    queries: int  # distinct queries run
    skipped_judgements: int  # judgements whose relevant file does not exist (or grade <= 0)
    query_types: dict  # "image->text" | "image->image" | "text->image" | "text->text" -> metrics
    primary_metric: str = "map"
    chart: Optional[str] = None  # the PNG written, when one was asked for


def to_jsonable(obj: object) -> object:
    """Dataclasses -> dicts (without their internal fields), Paths -> str, tuples -> lists; for
    `--json` output."""
    if is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in fields(obj) if not f.metadata.get("internal")}
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, float):
        return round(obj, 6)
    if isinstance(obj, np.generic):
        return obj.item()
    return obj
