"""The catalog: one SQLite database (WAL) holding documents, pages with word boxes, text chunks,
the FTS5 lexical index, failures, feedback and library settings.

The catalog is the source of truth. Vector indexes hold only embeddings keyed by catalog ids
(chunk id for text, page id for page images) and can always be rebuilt from it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from engine.analyze import ANALYZER_VERSION, QueryTerm, lexical_tokens
from engine.errors import SchemaError
from engine.store.phrases import SMALL_PHRASE_ROWS, Expression, PhraseCache, phrase_rows, rank
from engine.store.vectors import fingerprint
from engine.types import Box, FailedFile, FileNote, PageContent, Word

log = logging.getLogger(__name__)

SCHEMA_VERSION = 6
# bumped by every write transaction: Catalog.generation
_NEXT_REVISION = ("INSERT INTO meta(key, value) VALUES('revision', '1') ON CONFLICT(key) "
                  "DO UPDATE SET value = CAST(value AS INTEGER) + 1")
# a look-up of more tokens than this reads the whole vocabulary once (`vocab_table`), unless a
# table was read less than VOCAB_TABLE_EVERY_S ago, or less than VOCAB_TABLE_COST_FACTOR times
# as long ago as reading it took (the library is being indexed: exact SQL then; a query spends
# at most a tenth of the time reading it again, ~5 s at 1M chunks)
VOCAB_TABLE_MIN_TOKENS = 1000
VOCAB_TABLE_EVERY_S = 30.0
VOCAB_TABLE_COST_FACTOR = 10.0

_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE folders (path TEXT PRIMARY KEY, added_at TEXT NOT NULL);
    CREATE TABLE documents (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        size INTEGER NOT NULL,
        mtime_ns INTEGER NOT NULL,
        sha1 TEXT NOT NULL,
        format TEXT NOT NULL,
        kind TEXT NOT NULL,
        title TEXT NOT NULL,
        page_count INTEGER NOT NULL,
        indexed_at TEXT NOT NULL
    );
    CREATE INDEX documents_sha1 ON documents(sha1);
    CREATE TABLE pages (
        id INTEGER PRIMARY KEY,
        doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        page_no INTEGER NOT NULL,
        width REAL NOT NULL, height REAL NOT NULL,
        source TEXT NOT NULL, rotation INTEGER NOT NULL, visual INTEGER NOT NULL,
        text TEXT NOT NULL,
        words TEXT NOT NULL,           -- JSON [[text, x0, y0, x1, y1], ...], boxes normalised 0..1
        UNIQUE (doc_id, page_no)
    );
    CREATE TABLE chunks (
        id INTEGER PRIMARY KEY,
        doc_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
        page_id INTEGER NOT NULL REFERENCES pages(id) ON DELETE CASCADE,
        ord INTEGER NOT NULL,
        text TEXT NOT NULL,
        word_start INTEGER NOT NULL,   -- index range into the page's words, [start, end)
        word_end INTEGER NOT NULL
    );
    CREATE INDEX chunks_doc ON chunks(doc_id);
    CREATE INDEX chunks_page ON chunks(page_id);
    CREATE VIRTUAL TABLE chunk_fts USING fts5(tokens, tokenize = 'unicode61 remove_diacritics 0');
    CREATE TABLE failures (
        path TEXT PRIMARY KEY, reason TEXT NOT NULL, at TEXT NOT NULL,
        size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL
    );
    CREATE TABLE feedback (
        id INTEGER PRIMARY KEY, at TEXT NOT NULL, query TEXT NOT NULL, query_path TEXT,
        doc_path TEXT NOT NULL, page INTEGER NOT NULL, vote INTEGER NOT NULL, pack_id TEXT
    );
    """,
    # 2: document frequencies of lexical tokens (which shared words are worth showing as reasons)
    2: """
    CREATE VIRTUAL TABLE chunk_vocab USING fts5vocab(chunk_fts, 'row');
    """,
    # 3: query-by-document ranking scores whole documents and pages with every query token:
    #    token postings (which chunks hold a token, how often) and each chunk's token count
    3: """
    CREATE VIRTUAL TABLE chunk_postings USING fts5vocab(chunk_fts, 'instance');
    ALTER TABLE chunks ADD COLUMN ntok INTEGER NOT NULL DEFAULT 0;
    UPDATE chunks SET ntok = coalesce((SELECT length(f.tokens) - length(replace(f.tokens, ' ', '')) + 1
                                       FROM chunk_fts f WHERE f.rowid = chunks.id), 0);
    """,
    # 4: vectors are keyed by id + a fingerprint of what they embed (engine/store/vectors.py), and
    #    chunk and page ids are never reused (meta 'last_chunk_id', 'last_page_id'); the
    #    fingerprints of existing rows are filled in by _fill_fingerprints
    #    Long documents are committed in page batches: state 'reading' (resumed by the next run),
    #    'complete', or 'partial' (stopped by the page/time budget); note: what the reader warned
    #    about (a repaired PDF, pages left out), shown by `zumen status`
    4: """
    ALTER TABLE chunks ADD COLUMN fp INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE pages ADD COLUMN fp INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE documents ADD COLUMN state TEXT NOT NULL DEFAULT 'complete';
    ALTER TABLE documents ADD COLUMN note TEXT NOT NULL DEFAULT '';
    ALTER TABLE documents ADD COLUMN page_total INTEGER NOT NULL DEFAULT 0;
    """,
    # 5: the version of the reading code (engine.extract.EXTRACTOR_VERSION) that read a document:
    #    one read by an older version is read again by the next run (0: before this was recorded)
    5: """
    ALTER TABLE documents ADD COLUMN extractor INTEGER NOT NULL DEFAULT 0;
    """,
    # 6: each page's lexical tokens counted, keyed by `term_keys` (filled by _fill_page_terms): the
    #    whole-document TF-IDF cosines of a drawing query read and add these arrays instead of
    #    splitting and counting every token of the candidate documents' chunks
    6: """
    CREATE TABLE page_terms (
        page_id INTEGER PRIMARY KEY REFERENCES pages(id) ON DELETE CASCADE,
        keys BLOB NOT NULL,            -- int64 term_keys of its distinct tokens, ascending
        counts BLOB NOT NULL           -- uint16 (or uint32) occurrences in the page's chunks, same order
    );
    """,
}


def embedding_text(title: str, text: str) -> str:
    """What the text encoder sees for a chunk: the document title gives context to short chunks."""
    return f"{title}\n{text}" if title else text


def chunk_fingerprint(title: str, text: str) -> int:
    return fingerprint(embedding_text(title, text))


def page_fingerprint(sha1: str, page_no: int) -> int:
    """A page picture is its file's bytes (sha1) at that page."""
    return fingerprint(f"{sha1}#{page_no}")


def picture_fingerprint(page_fp: int, rotation: int) -> int:
    """What a page's image vector embeds: the page picture turned upright by the rotation OCR
    read it at. An upright page keeps its page fingerprint, so only the vectors of turned pages
    made before pictures were turned upright are embedded again."""
    return page_fp if not rotation else fingerprint(f"{page_fp}@{rotation % 360}")


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class PageTable:
    """Every page with text, as arrays (row i = one page): how drawing queries map chunk postings
    to pages and documents without joining them in SQL per query (Catalog.page_table)."""

    chunk_ids: np.ndarray  # int64, sorted: every chunk…
    chunk_page: np.ndarray  # int64: …and the row of its page
    doc: np.ndarray  # int64 per page row: document id
    page_no: np.ndarray  # int64 per page row
    length: np.ndarray  # int64 per page row: lexical tokens on the page
    doc_length: dict[int, int]  # document id -> lexical tokens in the document
    totals: tuple[int, int, int]  # documents with text, pages with text, lexical tokens

    def rows_of(self, chunk_ids: np.ndarray) -> np.ndarray:
        """Page rows of chunk ids; -1 for a chunk not in the table."""
        if not len(self.chunk_ids):
            return np.full(len(chunk_ids), -1, dtype=np.int64)
        at = np.minimum(np.searchsorted(self.chunk_ids, chunk_ids), len(self.chunk_ids) - 1)
        return np.where(self.chunk_ids[at] == chunk_ids, self.chunk_page[at], -1)


@dataclass(frozen=True)
class VocabTable:
    """In how many chunks each token of the library occurs, as arrays (Catalog.vocab_table): a
    drawing query asks it for the ~10^4 distinct tokens of its candidate documents, which cost
    ~0.5 s of FTS5 vocabulary look-ups at 100k chunks. A token is keyed by `term_keys`, as the
    page_terms table keys it."""

    keys: np.ndarray  # int64, sorted: the term_keys of the tokens
    counts: np.ndarray  # int64: chunks holding it
    made: float  # time.monotonic() when it was read
    cost: float = 0.0  # seconds reading it took

    def lookup(self, tokens: Sequence[str]) -> np.ndarray:
        """Chunks holding each token (0 for a token the library does not hold)."""
        return self.lookup_keys(term_keys(tokens))

    def lookup_keys(self, keys: np.ndarray) -> np.ndarray:
        """Chunks holding each token given by its key (`term_keys`; 0 for one the library does not hold)."""
        if not len(self.keys):
            return np.zeros(len(keys), dtype=np.int64)
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return np.where(self.keys[at] == keys, self.counts[at], 0)


def term_keys(tokens: Sequence[str]) -> np.ndarray:
    """A stable 64-bit key of each lexical token (int64): the first 8 bytes of its BLAKE2b digest,
    the same in every process and on every machine (Python's own hash is salted per process),
    so the keys can be stored (page_terms). Two of 10^6 tokens share a key with a chance of
    ~10^-8."""
    digest = b"".join(hashlib.blake2b(t.encode(), digest_size=8).digest() for t in tokens)
    return np.frombuffer(digest, dtype="<i8").astype(np.int64)


def page_term_arrays(chunk_tokens: Iterable[Sequence[str]]) -> tuple[bytes, bytes]:
    """A page's row of page_terms: the term keys of its chunks' distinct tokens, ascending, and
    how often each occurs over the chunks (as a query counts them: a word in two overlapping
    chunks counts twice), 2 bytes a count (4 where one reaches 65,536: `Catalog.page_terms`
    tells them apart by the blobs' lengths)."""
    counts: Counter = Counter()
    for tokens in chunk_tokens:
        counts.update(tokens)
    keys = term_keys(list(counts))
    order = np.argsort(keys, kind="stable")
    n = np.fromiter(counts.values(), dtype=np.int64, count=len(counts))[order]
    # two bytes a count, four for a page that repeats a token 65,536 times or more
    return keys[order].tobytes(), n.astype("<u2" if not len(n) or n.max() < 1 << 16 else "<u4").tobytes()


@dataclass(frozen=True)
class DocumentRow:
    id: int
    path: str
    size: int
    mtime_ns: int
    sha1: str
    format: str
    kind: str
    title: str
    page_count: int


@dataclass(frozen=True)
class ChunkRow:
    id: int
    doc_id: int
    page_id: int
    page_no: int
    text: str
    word_start: int
    word_end: int


@dataclass(frozen=True)
class ChunkDraft:
    """A chunk before it has an id."""

    text: str
    word_start: int
    word_end: int


def words_to_json(words: Sequence[Word]) -> str:
    return json.dumps([[w.text, round(w.box.x0, 4), round(w.box.y0, 4), round(w.box.x1, 4),
                        round(w.box.y1, 4)] for w in words], ensure_ascii=False)


def words_from_json(data: str) -> tuple[Word, ...]:
    return tuple(Word(t, Box(x0, y0, x1, y1)) for t, x0, y0, x1, y1 in json.loads(data))


_PAGE_COLUMNS = ("id", "page_no", "text", "words", "width", "height", "source", "rotation", "visual")


def _page_content(row: tuple) -> tuple[int, PageContent]:
    """(page id, its content) of a row of `pages` read as _PAGE_COLUMNS."""
    pid, no, text, words, w, h, source, rot, visual = row
    return pid, PageContent(no, text, words_from_json(words), w, h, source, rot, bool(visual))


def lexical_expression(terms: Sequence[QueryTerm], require_all: bool) -> Expression | None:
    """The FTS5 expression of keyword `terms` (see `Catalog.search_lexical`); None for none."""
    groups = []
    for term in terms:
        alternatives = [(f'"{term.tokens[0]}" *',) if term.prefix else tuple(f'"{t}"' for t in term.tokens)]
        if term.pieces:  # a code typed with spaces: joined or its pieces in a row (the OR
            # that fills a short list up: its pieces anywhere)
            alternatives.append(('"' + " ".join(term.pieces) + '"',) if require_all
                                else tuple(f'"{t}"' for t in term.pieces))
        if not require_all:
            alternatives += [(f'"{n}"',) for n in term.numbers]
        groups.append(tuple(alternatives))
    return Expression(tuple(groups), require_all) if groups else None


class Catalog:
    """SQLite catalog. One connection per thread; writes are serialised by a lock."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # a library the user may read but not write (another user's, a read-only share) is
        # opened read-only: searches work, writes raise sqlite3.OperationalError
        self.read_only = self.path.exists() and not (
            os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK))
        self._local = threading.local()
        self._write_lock = threading.RLock()
        # per-generation caches (see `generation`), shared by the threads' connections
        self._vocab: tuple[object, VocabTable | None] = (None, None)
        self._pages: tuple[object, PageTable | None] = (None, None)
        self._phrases = PhraseCache()  # the rows of each FTS5 phrase asked (`search_lexical`)
        self._migrate()

    # -- connection handling -------------------------------------------------------------
    @property
    def db(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self.read_only:
                conn = self._connect_read_only()
            else:
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                       check_same_thread=False)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    def _connect_read_only(self) -> sqlite3.Connection:
        """A read-only connection. A WAL database needs its shared-memory file, which a reader
        without write access to the folder cannot create: then the file is read as immutable
        (a search may miss what an indexer commits meanwhile, until it is opened again)."""
        uri = self.path.resolve().as_uri()
        for mode in ("?mode=ro", "?mode=ro&immutable=1"):
            conn = sqlite3.connect(uri + mode, uri=True, timeout=30, isolation_level=None,
                                   check_same_thread=False)
            try:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                return conn
            except sqlite3.OperationalError:
                conn.close()
        raise sqlite3.OperationalError(f"cannot read {self.path}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock:
            db = self.db
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
                db.execute(_NEXT_REVISION)  # the query caches' `generation`
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def generation(self) -> int:
        """The library's revision: every write transaction, by any connection, thread or process,
        counts one more (`transaction`). The query caches below are valid for one generation
        and shared by this catalog's threads; reading it costs microseconds."""
        row = self.db.execute("SELECT value FROM meta WHERE key='revision'").fetchone()
        return int(row[0]) if row else 0

    def _migrate(self) -> None:
        db = self.db
        has_meta = db.execute(
            "SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
        version = 0
        if has_meta:
            row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            version = int(row[0]) if row else 0
        if version > SCHEMA_VERSION:
            raise SchemaError(f"{self.path} was written by a newer Zumen (schema {version}, "
                              f"this version reads up to {SCHEMA_VERSION})")
        if self.read_only:
            if version < SCHEMA_VERSION:
                raise SchemaError(f"{self.path} was written by an older Zumen and is read-only "
                                  "here: open it once with write access to upgrade it")
            return
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self.transaction() as tx:
                for statement in _MIGRATIONS[target].split(";"):
                    if statement.strip():
                        tx.execute(statement)
                tx.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', ?)",
                           (str(target),))
                if target == 4:
                    self._fill_fingerprints(tx)
                if target == 6:
                    self._fill_page_terms(tx)
                if version == 0:  # a new library: tokens are written by this analyser
                    tx.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('analyzer_version', ?)",
                               (str(ANALYZER_VERSION),))
        self._retokenise_if_stale()

    @staticmethod
    def _fill_fingerprints(tx: sqlite3.Connection) -> None:
        """Schema 4: fingerprints of existing chunks and pages; their ids from now on start above
        the highest in use (vectors saved under older keys are embedded again, once)."""
        rows = tx.execute("SELECT c.id, d.title, c.text FROM chunks c "
                          "JOIN documents d ON d.id = c.doc_id").fetchall()
        tx.executemany("UPDATE chunks SET fp=? WHERE id=?",
                       [(chunk_fingerprint(t, x), i) for i, t, x in rows])
        rows = tx.execute("SELECT p.id, d.sha1, p.page_no FROM pages p "
                          "JOIN documents d ON d.id = p.doc_id").fetchall()
        tx.executemany("UPDATE pages SET fp=? WHERE id=?",
                       [(page_fingerprint(s, n), i) for i, s, n in rows])

    @staticmethod
    def _fill_page_terms(tx: sqlite3.Connection) -> None:
        """Schema 6, and after re-tokenising: every page's row of page_terms, from the tokens the
        FTS index holds for its chunks (one pass, in page order)."""
        tx.execute("DELETE FROM page_terms")
        rows = tx.execute("SELECT c.page_id, f.tokens FROM chunks c JOIN chunk_fts f ON f.rowid = c.id "
                          "ORDER BY c.page_id, c.ord")
        page, tokens = None, []
        for page_id, text in itertools.chain(rows, [(None, "")]):
            if page_id != page and tokens:
                tx.execute("INSERT INTO page_terms(page_id, keys, counts) VALUES(?,?,?)",
                           (page, *page_term_arrays(tokens)))
                tokens = []
            page = page_id
            tokens.append(text.split())

    def _retokenise_if_stale(self) -> None:
        """Re-tokenise every chunk when the library was indexed by an older analyser, so that a
        query matches old and new documents alike (one transaction; readers keep the old tokens
        until it commits). A read-only library keeps its tokens and still answers searches."""
        if int(self.get_meta("analyzer_version", "1") or 1) >= ANALYZER_VERSION:
            return
        try:
            with self.transaction() as tx:
                rows = tx.execute("SELECT c.id, c.ord, c.text, d.title FROM chunks c "
                                  "JOIN documents d ON d.id = c.doc_id").fetchall()
                for chunk_id, ord_, text, title in rows:
                    tokens = lexical_tokens(f"{title} {text}" if ord_ == 0 else text)
                    tx.execute("DELETE FROM chunk_fts WHERE rowid=?", (chunk_id,))
                    tx.execute("INSERT INTO chunk_fts(rowid, tokens) VALUES(?, ?)",
                               (chunk_id, " ".join(tokens)))
                    tx.execute("UPDATE chunks SET ntok=? WHERE id=?", (len(tokens), chunk_id))
                self._fill_page_terms(tx)
                tx.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('analyzer_version', ?)",
                           (str(ANALYZER_VERSION),))
        except sqlite3.OperationalError as exc:  # read-only: search with the tokens it has
            log.warning("cannot re-tokenise %s: %s", self.path, exc)

    # -- settings --------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as tx:
            tx.execute("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)", (key, value))

    # -- folders ---------------------------------------------------------------------------
    def add_folder(self, path: str) -> None:
        with self.transaction() as tx:
            tx.execute("INSERT OR IGNORE INTO folders(path, added_at) VALUES(?, ?)", (path, _now()))

    def remove_folder(self, path: str) -> None:
        with self.transaction() as tx:
            tx.execute("DELETE FROM folders WHERE path=?", (path,))

    def folders(self) -> tuple[str, ...]:
        return tuple(r[0] for r in self.db.execute("SELECT path FROM folders ORDER BY path"))

    # -- documents -------------------------------------------------------------------------
    def document_by_path(self, path: str) -> DocumentRow | None:
        row = self.db.execute(
            "SELECT id, path, size, mtime_ns, sha1, format, kind, title, page_count "
            "FROM documents WHERE path=?", (path,)).fetchone()
        return DocumentRow(*row) if row else None

    def document(self, doc_id: int) -> DocumentRow | None:
        row = self.db.execute(
            "SELECT id, path, size, mtime_ns, sha1, format, kind, title, page_count "
            "FROM documents WHERE id=?", (doc_id,)).fetchone()
        return DocumentRow(*row) if row else None

    def restamp_document(self, doc_id: int, size: int, mtime_ns: int) -> None:
        """A file touched but not changed (same content): remember its new size and time only."""
        with self.transaction() as tx:
            tx.execute("UPDATE documents SET size=?, mtime_ns=? WHERE id=?", (size, mtime_ns, doc_id))

    def _rows_in(self, sql: str, ids: Iterable) -> list[tuple]:
        """Rows of `sql` (with one `{ids}` placeholder for `IN (...)`) for many ids, in batches
        that stay under SQLite's parameter limit."""
        ids = list(dict.fromkeys(ids))
        rows: list[tuple] = []
        for i in range(0, len(ids), 500):
            part = ids[i:i + 500]
            rows += self.db.execute(sql.format(ids=",".join("?" * len(part))), part).fetchall()
        return rows

    def documents_by_ids(self, ids: Iterable[int]) -> dict[int, DocumentRow]:
        return {row[0]: DocumentRow(*row) for row in self._rows_in(
            "SELECT id, path, size, mtime_ns, sha1, format, kind, title, page_count "
            "FROM documents WHERE id IN ({ids})", ids)}

    def document_kinds(self, ids: Iterable[int]) -> dict[int, str]:
        """Document id -> kind ("drawing" / "document") for the ids that exist."""
        return dict(self._rows_in("SELECT id, kind FROM documents WHERE id IN ({ids})", ids))

    def drawing_paths(self) -> list[tuple[int, str]]:
        """(id, path) of every document classified as a drawing."""
        return self.db.execute("SELECT id, path FROM documents WHERE kind = 'drawing'").fetchall()

    def drawing_ids(self, ids: Iterable[int]) -> set[int]:
        """The ids among `ids` of documents classified as drawings."""
        return {r[0] for r in self._rows_in(
            "SELECT id FROM documents WHERE kind = 'drawing' AND id IN ({ids})", ids)}

    def documents_by_sha1(self, sha1: str) -> list[DocumentRow]:
        return [DocumentRow(*r) for r in self.db.execute(
            "SELECT id, path, size, mtime_ns, sha1, format, kind, title, page_count "
            "FROM documents WHERE sha1=?", (sha1,))]

    def document_stamps(self, *, resume_partial: bool = False,
                        read_as_now: Callable[[str, int], bool] | None = None) -> dict[str, tuple[int, int]]:
        """path -> (size, mtime_ns) of every indexed document (for incremental scans); a document
        still being read in page batches (or stopped by the budget, with `resume_partial`), or
        one whose (format, version of the reading code that read it) `read_as_now` says is not
        read as this version reads it (engine.config.read_as_now), gets size -1, so the scan takes
        it up again."""
        states = ("reading", "partial") if resume_partial else ("reading",)
        out: dict[str, tuple[int, int]] = {}
        for path, size, mtime_ns, state, format, extractor in self.db.execute(
                "SELECT path, size, mtime_ns, state, format, extractor FROM documents"):
            again = state in states or (read_as_now is not None and not read_as_now(format, extractor))
            out[path] = (-1 if again else size, mtime_ns)
        return out

    def document_versions(self) -> Iterator[tuple[str, int, int, int]]:
        """(path, size, mtime_ns, pages) of every indexed document, as last read (streamed)."""
        return self.db.execute("SELECT path, size, mtime_ns, MAX(page_count, page_total) FROM documents")

    def document_progress(self, path: str) -> tuple[str, int, int, int, str] | None:
        """(state, pages stored, pages in the file, version of the reading code that read it,
        format) of a document, None when not indexed."""
        row = self.db.execute("SELECT state, page_count, page_total, extractor, format FROM documents "
                              "WHERE path=?", (path,)).fetchone()
        return (row[0], int(row[1]), int(row[2]), int(row[3]), row[4]) if row else None

    def document_note(self, doc_id: int) -> str:
        row = self.db.execute("SELECT note FROM documents WHERE id=?", (doc_id,)).fetchone()
        return row[0] if row else ""

    def notes(self) -> tuple[FileNote, ...]:
        """Documents indexed with a warning or only in part."""
        return tuple(FileNote(p, n, s) for p, n, s in self.db.execute(
            "SELECT path, note, state FROM documents WHERE note != '' ORDER BY path"))

    def replace_document(self, *, path: str, size: int, mtime_ns: int, sha1: str, format: str,
                         kind: str, title: str, pages: Sequence[PageContent],
                         chunks: Sequence[Sequence[ChunkDraft]], state: str = "complete",
                         note: str = "", page_total: int = 0, extractor: int = 0
                         ) -> tuple[int, list[int], list[int], list[int]]:
        """Insert or replace a document with its pages and chunks, in one transaction
        (`extractor`: the version of the reading code that read them).

        Returns (doc_id, removed_chunk_ids, removed_page_ids, new_chunk_ids); the caller removes
        the old keys from the vector indexes and embeds the new chunks.
        """
        with self.transaction() as tx:
            removed_chunks, removed_pages = self._delete_document(tx, path)
            cur = tx.execute(
                "INSERT INTO documents(path, size, mtime_ns, sha1, format, kind, title, page_count,"
                " indexed_at, state, note, page_total, extractor) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (path, size, mtime_ns, sha1, format, kind, title, len(pages), _now(), state, note,
                 page_total or len(pages), extractor))
            doc_id = int(cur.lastrowid)
            new_chunks = self._insert_pages(tx, doc_id, sha1, title, pages, chunks)
            tx.execute("DELETE FROM failures WHERE path=?", (path,))
        return doc_id, removed_chunks, removed_pages, new_chunks

    def append_pages(self, doc_id: int, pages: Sequence[PageContent],
                     chunks: Sequence[Sequence[ChunkDraft]], *, state: str, note: str) -> list[int]:
        """Add the next batch of a long document's pages (one transaction); returns the new
        chunk ids."""
        with self.transaction() as tx:
            sha1, title = tx.execute("SELECT sha1, title FROM documents WHERE id=?", (doc_id,)).fetchone()
            new_chunks = self._insert_pages(tx, doc_id, sha1, title, pages, chunks)
            tx.execute("UPDATE documents SET page_count = page_count + ?, state=?, note=? WHERE id=?",
                       (len(pages), state, note, doc_id))
        return new_chunks

    def _insert_pages(self, tx: sqlite3.Connection, doc_id: int, sha1: str, title: str,
                      pages: Sequence[PageContent], chunks: Sequence[Sequence[ChunkDraft]]) -> list[int]:
        """Pages and their chunks under fresh ids (never reused), with their fingerprints."""
        new_chunks: list[int] = []
        page_id, chunk_id = self._last_id(tx, "pages"), self._last_id(tx, "chunks")
        for page, page_chunks in zip(pages, chunks):
            page_id += 1
            tx.execute(
                "INSERT INTO pages(id, doc_id, page_no, width, height, source, rotation, visual,"
                " text, words, fp) VALUES(?,?,?,?,?,?,?,?,?,?,?)",
                (page_id, doc_id, page.page_no, page.width, page.height, page.source,
                 page.rotation, int(page.visual), page.text, words_to_json(page.words),
                 page_fingerprint(sha1, page.page_no)))
            page_tokens = []
            for ord_, ch in enumerate(page_chunks):
                chunk_id += 1
                tokens = lexical_tokens(f"{title} {ch.text}" if ord_ == 0 else ch.text)
                tx.execute(
                    "INSERT INTO chunks(id, doc_id, page_id, ord, text, word_start, word_end,"
                    " ntok, fp) VALUES(?,?,?,?,?,?,?,?,?)",
                    (chunk_id, doc_id, page_id, ord_, ch.text, ch.word_start, ch.word_end,
                     len(tokens), chunk_fingerprint(title, ch.text)))
                tx.execute("INSERT INTO chunk_fts(rowid, tokens) VALUES(?, ?)",
                           (chunk_id, " ".join(tokens)))
                new_chunks.append(chunk_id)
                page_tokens.append(tokens)
            if page_tokens:
                tx.execute("INSERT INTO page_terms(page_id, keys, counts) VALUES(?,?,?)",
                           (page_id, *page_term_arrays(page_tokens)))
        tx.executemany("INSERT OR REPLACE INTO meta(key, value) VALUES(?, ?)",
                       [("last_page_id", str(page_id)), ("last_chunk_id", str(chunk_id))])
        return new_chunks

    @staticmethod
    def _last_id(tx: sqlite3.Connection, table: str) -> int:
        """The highest id the table ever used: ids are never reused, so a vector saved for a
        deleted chunk or page can never be taken for a new one."""
        row = tx.execute("SELECT value FROM meta WHERE key=?", (f"last_{table[:-1]}_id",)).fetchone()
        used = tx.execute(f"SELECT coalesce(max(id), 0) FROM {table}").fetchone()[0]
        return max(int(row[0]) if row else 0, int(used))

    def delete_document(self, path: str) -> tuple[list[int], list[int]]:
        """Remove a document; returns (chunk_ids, page_ids) to drop from the vector indexes."""
        with self.transaction() as tx:
            result = self._delete_document(tx, path)
            tx.execute("DELETE FROM failures WHERE path=?", (path,))
        return result

    @staticmethod
    def _delete_document(tx: sqlite3.Connection, path: str) -> tuple[list[int], list[int]]:
        row = tx.execute("SELECT id FROM documents WHERE path=?", (path,)).fetchone()
        if not row:
            return [], []
        doc_id = row[0]
        chunk_ids = [r[0] for r in tx.execute("SELECT id FROM chunks WHERE doc_id=?", (doc_id,))]
        page_ids = [r[0] for r in tx.execute("SELECT id FROM pages WHERE doc_id=?", (doc_id,))]
        tx.executemany("DELETE FROM chunk_fts WHERE rowid=?", [(c,) for c in chunk_ids])
        tx.execute("DELETE FROM documents WHERE id=?", (doc_id,))
        return chunk_ids, page_ids

    # -- pages and chunks ------------------------------------------------------------------
    def page(self, doc_id: int, page_no: int) -> tuple[int, PageContent] | None:
        row = self.db.execute(
            f"SELECT {', '.join(_PAGE_COLUMNS)} FROM pages WHERE doc_id=? AND page_no=?",
            (doc_id, page_no)).fetchone()
        return _page_content(row) if row else None

    def pages_at(self, keys: Sequence[tuple[int, int]]) -> dict[tuple[int, int], tuple[int, PageContent]]:
        """`page` for many (doc_id, page_no) at once: one query per 400 pages (the keys that
        exist)."""
        out = {}
        for i in range(0, len(keys), 400):
            part = keys[i:i + 400]
            for doc_id, *row in self.db.execute(
                    f"SELECT p.doc_id, {', '.join('p.' + c for c in _PAGE_COLUMNS)} FROM (VALUES "
                    + ",".join(["(?,?)"] * len(part)) + ") AS k "
                    "JOIN pages p ON p.doc_id = k.column1 AND p.page_no = k.column2",
                    [v for key in part for v in key]):
                out[(doc_id, row[1])] = _page_content(row)
        return out

    def pages_by_ids(self, page_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
        """page id -> (doc_id, page_no)."""
        return {pid: (doc_id, page_no) for pid, doc_id, page_no in self._rows_in(
            "SELECT id, doc_id, page_no FROM pages WHERE id IN ({ids})", page_ids)}

    def visual_pages(self) -> list[tuple[int, int, int, int]]:
        """(page_id, doc_id, page_no, fingerprint) of every page that deserves a visual
        embedding."""
        return list(self.db.execute("SELECT id, doc_id, page_no, fp FROM pages WHERE visual=1"))

    def page_sources(self, page_ids: Iterable[int]) -> dict[int, str]:
        """page id -> how its text was read ("text-layer", "ocr", ...)."""
        return dict(self._rows_in("SELECT id, source FROM pages WHERE id IN ({ids})", page_ids))

    def page_rotations(self) -> dict[int, int]:
        """page_id -> the rotation OCR turned it by, for the visual pages it turned."""
        return dict(self.db.execute("SELECT id, rotation FROM pages WHERE visual=1 AND rotation != 0"))

    def chunks_by_ids(self, chunk_ids: Iterable[int]) -> dict[int, ChunkRow]:
        return {row[0]: ChunkRow(*row) for row in self._rows_in(
            "SELECT c.id, c.doc_id, c.page_id, p.page_no, c.text, c.word_start, c.word_end "
            "FROM chunks c JOIN pages p ON p.id = c.page_id WHERE c.id IN ({ids})", chunk_ids)}

    def chunk_fingerprints(self) -> tuple[list[int], list[int]]:
        """(chunk ids, fingerprints of their embedded text), by id."""
        rows = self.db.execute("SELECT id, fp FROM chunks ORDER BY id").fetchall()
        return [r[0] for r in rows], [r[1] for r in rows]

    def all_chunk_ids(self) -> list[int]:
        return [r[0] for r in self.db.execute("SELECT id FROM chunks ORDER BY id")]

    def chunk_texts(self, chunk_ids: Sequence[int]) -> list[str]:
        rows = self.chunks_by_ids(chunk_ids)
        return [rows[c].text for c in chunk_ids]

    def page_chunk_ids(self, page_id: int) -> list[int]:
        return [r[0] for r in self.db.execute(
            "SELECT id FROM chunks WHERE page_id=? ORDER BY ord", (page_id,))]

    # -- lexical search --------------------------------------------------------------------
    def search_lexical(self, terms: Sequence[QueryTerm], limit: int, *, require_all: bool = False
                       ) -> list[tuple[int, float]]:
        """BM25 over chunk tokens. Any term may match (OR), or every term (AND) with `require_all`;
        a code typed with spaces (`QueryTerm.pieces`) matches joined or as its pieces in a row,
        and with OR also as its pieces anywhere; with OR a code also matches by a number inside
        it (`QueryTerm.numbers`).
        Returns (chunk_id, score > 0), best first: FTS5's bm25() of the whole expression, either
        asked of FTS5 or added up from the rows of each phrase (`engine.store.phrases`). A rare
        phrase's rows are read when first asked; a common phrase's (FTS5 scores each of its rows
        for every query: 30-80 ms at 100k chunks for a word on half of them) when it is asked
        again while the library is unchanged, and then kept. An AND with a rare term is left to
        FTS5, which reads only the rows beside the rare term's."""
        expr = lexical_expression(terms, require_all)
        if expr is None:
            return []
        generation = self.generation()
        phrases = list(dict.fromkeys(expr.phrases()))
        known = self._phrases.get(phrases, generation)
        common = self._phrases.common(phrases, generation)
        for phrase in phrases:
            if phrase not in known and phrase not in common:
                rows = self._phrase_rows(phrase, SMALL_PHRASE_ROWS + 1)
                if len(rows) > SMALL_PHRASE_ROWS:
                    self._phrases.found_common(phrase, generation)
                    common.add(phrase)
                else:
                    known[phrase] = phrase_rows(rows)
                    self._phrases.put(phrase, known[phrase], generation)
        common -= set(known)
        rare_group = any(all(p in known for a in alternatives for p in a) for alternatives in expr.groups)
        if common and not (require_all and rare_group):
            for phrase in self._phrases.asked_before(sorted(common), require_all, generation):
                known[phrase] = phrase_rows(self._phrase_rows(phrase))
                self._phrases.put(phrase, known[phrase], generation)
        if any(p not in known for p in phrases):
            rows = self.db.execute(
                "SELECT rowid, -bm25(chunk_fts) AS s FROM chunk_fts WHERE chunk_fts MATCH ? "
                "ORDER BY s DESC LIMIT ?", (expr.fts(), limit)).fetchall()
            return [(int(r), float(s)) for r, s in rows]
        return rank(expr, known, limit)

    def _phrase_rows(self, phrase: str, limit: int = -1) -> list[tuple[int, float]]:
        """The rows holding one FTS5 phrase and their bm25 for it alone, in no order."""
        return self.db.execute("SELECT rowid, -bm25(chunk_fts) FROM chunk_fts WHERE chunk_fts MATCH ? "
                               "LIMIT ?", (phrase, limit)).fetchall()

    def has_token_prefix(self, prefix: str) -> bool:
        """Does some indexed token begin with `prefix` (lexical tokens: lower-case alphanumerics)?"""
        if not prefix or not prefix.isalnum():
            return False
        return self.db.execute("SELECT 1 FROM chunk_fts WHERE chunk_fts MATCH ? LIMIT 1",
                               (f'"{prefix}" *',)).fetchone() is not None

    def page_tokens(self, page_ids: Iterable[int]) -> dict[int, list[str]]:
        """The lexical tokens stored for each page's chunks (no re-tokenising at query time)."""
        out: dict[int, list[str]] = {}
        for page_id, tokens in self._rows_in(
                "SELECT c.page_id, f.tokens FROM chunks c JOIN chunk_fts f ON f.rowid = c.id "
                "WHERE c.page_id IN ({ids}) ORDER BY c.page_id, c.ord", page_ids):
            out.setdefault(page_id, []).extend(tokens.split())
        return out

    def chunk_tokens(self, chunk_ids: Sequence[int]) -> dict[int, list[str]]:
        return {int(rowid): tokens.split() for rowid, tokens in self._rows_in(
            "SELECT rowid, tokens FROM chunk_fts WHERE rowid IN ({ids})", chunk_ids)}

    def token_doc_freq(self, tokens: Sequence[str], *, cached: bool = False) -> dict[str, int]:
        """In how many chunks each token occurs (0 when it occurs nowhere). `cached`: many tokens
        (drawing queries look up the whole vocabulary of their candidate pages) are answered from
        `vocab_table`, read again when the library changed but at most every
        VOCAB_TABLE_EVERY_S seconds (or 10 times as long as reading it took); while a newer
        table is not due, by SQL (exact either way)."""
        if cached and (table := self.vocab_table_for(len(tokens))) is not None:
            return dict(zip(tokens, table.lookup(tokens).tolist()))
        out = {t: 0 for t in tokens}
        out.update((term, int(doc)) for term, doc in self._rows_in(
            "SELECT term, doc FROM chunk_vocab WHERE term IN ({ids})", out))
        return out

    def vocab_table_for(self, n_tokens: int) -> VocabTable | None:
        """The vocabulary table, when a look-up of `n_tokens` tokens should use it (see
        token_doc_freq): it is current, or that many tokens are worth reading it again and it is
        due. None: look them up by SQL."""
        generation = self.generation()
        with self._write_lock:
            built, table = self._vocab
        due = table is None or time.monotonic() - table.made >= max(
            VOCAB_TABLE_EVERY_S, VOCAB_TABLE_COST_FACTOR * table.cost)
        if built == generation or (n_tokens > VOCAB_TABLE_MIN_TOKENS and due):
            return self.vocab_table()
        return None

    def vocab_table(self) -> VocabTable:
        """The whole vocabulary's chunk counts, remembered for one `generation` (one pass over
        FTS5's vocabulary: ~0.5 s and 4 MB per 250k distinct tokens)."""
        generation = self.generation()
        with self._write_lock:
            if self._vocab[0] == generation and self._vocab[1] is not None:
                return self._vocab[1]
        start = time.monotonic()
        keys: list[np.ndarray] = []
        counts: list[np.ndarray] = []
        cursor = self.db.execute("SELECT term, doc FROM chunk_vocab")
        while rows := cursor.fetchmany(50_000):
            keys.append(term_keys([t for t, _ in rows]))
            counts.append(np.fromiter((d for _, d in rows), dtype=np.int64, count=len(rows)))
        key = np.concatenate(keys) if keys else np.zeros(0, dtype=np.int64)
        order = np.argsort(key, kind="stable")
        now = time.monotonic()
        table = VocabTable(key[order], (np.concatenate(counts) if counts else key)[order], now, now - start)
        with self._write_lock:
            self._vocab = (generation, table)
        return table

    def chunk_postings(self, tokens: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(index of the token in `tokens`, chunk id, occurrences in the chunk) for every chunk
        holding one of `tokens`, as int64 arrays: the FTS index alone, no join (map chunks to
        pages with `page_table`). Occurrences are counted here, not by SQL's GROUP BY (which
        sorts every occurrence first: 1.5x the time)."""
        index = {t: i for i, t in enumerate(tokens)}
        rows = self._rows_in("SELECT term, doc FROM chunk_postings WHERE term IN ({ids})", tokens)
        term = np.fromiter((index[r[0]] for r in rows), dtype=np.int64, count=len(rows))
        chunk = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
        keys, counts = np.unique((term << 40) | chunk, return_counts=True)  # chunk ids < 2^40
        return keys >> 40, keys & ((1 << 40) - 1), counts.astype(np.int64)

    def page_table(self) -> PageTable:
        """Every page with text and its chunks as arrays, remembered for one `generation` (built
        in one pass over the chunks: ~0.1 s per 100k chunks, ~20 bytes per chunk)."""
        generation = self.generation()
        with self._write_lock:
            if self._pages[0] == generation and self._pages[1] is not None:
                return self._pages[1]
        # without ORDER BY, SQLite reads the small (doc_id, page_no) index instead of the pages
        # table with its texts and word boxes (4.58M chunks: 0.6 s instead of 5.7 s CPU)
        pages = np.array(self.db.execute(
            "SELECT id, doc_id, page_no FROM pages").fetchall(), dtype=np.int64).reshape(-1, 3)
        pages = pages[np.argsort(pages[:, 0], kind="stable")]
        chunks = np.array(self.db.execute(
            "SELECT id, page_id, ntok FROM chunks ORDER BY id").fetchall(), dtype=np.int64).reshape(-1, 3)
        chunk_page = np.searchsorted(pages[:, 0], chunks[:, 1]) if len(pages) else chunks[:, 1] * 0
        length = np.bincount(chunk_page, weights=chunks[:, 2], minlength=len(pages)).astype(np.int64)
        doc_length: dict[int, int] = {}
        for doc_id, n in zip(pages[:, 1].tolist(), length.tolist()):
            doc_length[doc_id] = doc_length.get(doc_id, 0) + n
        with_text = np.unique(chunk_page)  # page rows holding a chunk
        totals = (len(np.unique(pages[with_text, 1])), len(with_text), int(chunks[:, 2].sum()))
        table = PageTable(chunk_ids=chunks[:, 0], chunk_page=chunk_page, doc=pages[:, 1],
                          page_no=pages[:, 2], length=length, doc_length=doc_length, totals=totals)
        with self._write_lock:
            self._pages = (generation, table)
        return table

    def chunk_pages(self, chunk_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
        """chunk id -> (doc_id, page_no) of its page, from the page table (no SQL per query);
        chunks not in the library are left out."""
        ids = np.fromiter(chunk_ids, dtype=np.int64)
        table = self.page_table()
        rows = table.rows_of(ids)
        found = rows >= 0
        return dict(zip(ids[found].tolist(), zip(table.doc[rows[found]].tolist(),
                                                 table.page_no[rows[found]].tolist())))

    def chunk_ids_of_pages(self, pages: Iterable[tuple[int, int]]) -> list[int]:
        """Chunk ids of pages given as (doc_id, page_no)."""
        wanted = set(pages)
        return [c for c, d, n in self._rows_in(
            "SELECT c.id, c.doc_id, p.page_no FROM chunks c JOIN pages p ON p.id = c.page_id "
            "WHERE c.doc_id IN ({ids})", {d for d, _ in wanted}) if (d, n) in wanted]

    def tokens_of_documents(self, doc_ids: Iterable[int]) -> Iterator[tuple[int, int, str]]:
        """(doc_id, page_no, space-separated lexical tokens) for every chunk of these documents."""
        yield from self._rows_in(
            "SELECT c.doc_id, p.page_no, f.tokens FROM chunks c JOIN pages p ON p.id = c.page_id "
            "JOIN chunk_fts f ON f.rowid = c.id WHERE c.doc_id IN ({ids})", doc_ids)

    def tokens_of_pages(self, pages: Iterable[tuple[int, int]]) -> Iterator[tuple[int, int, str]]:
        """(doc_id, page_no, space-separated lexical tokens) for every chunk of these pages."""
        for doc_id, page_no in pages:
            yield from self.db.execute(
                "SELECT p.doc_id, p.page_no, f.tokens FROM pages p JOIN chunks c ON c.page_id = p.id "
                "JOIN chunk_fts f ON f.rowid = c.id WHERE p.doc_id = ? AND p.page_no = ?",
                (doc_id, page_no))

    def page_terms(self, doc_ids: Iterable[int]) -> list[tuple[int, int, np.ndarray, np.ndarray]]:
        """(doc_id, page_no, term keys, counts) of every page with words of these documents: the
        counted tokens of page_terms (`page_term_arrays`), read as int64 and unsigned arrays."""
        return [(doc_id, page_no, np.frombuffer(keys, dtype="<i8"),
                 np.frombuffer(counts, dtype="<u2" if len(counts) * 4 == len(keys) else "<u4"))
                for doc_id, page_no, keys, counts in self._rows_in(
                    "SELECT p.doc_id, p.page_no, t.keys, t.counts FROM pages p "
                    "JOIN page_terms t ON t.page_id = p.id WHERE p.doc_id IN ({ids})", doc_ids)]

    def pages_holding_token(self, token: str) -> dict[int, set[int]]:
        """document id -> numbers of its pages with a chunk holding `token`."""
        out: dict[int, set[int]] = {}
        for doc_id, page_no in self.db.execute(
                "SELECT DISTINCT c.doc_id, p.page_no FROM chunk_postings v JOIN chunks c ON c.id = v.doc "
                "JOIN pages p ON p.id = c.page_id WHERE v.term = ?", (token,)):
            out.setdefault(int(doc_id), set()).add(int(page_no))
        return out

    def length_totals(self) -> tuple[int, int, int]:
        """(documents with text, pages with text, lexical tokens) over the library, from the
        page table (one scan of the chunks per `generation`, shared with the postings' mapping)."""
        return self.page_table().totals

    def documents_in_folder(self, folder: str, sep: str) -> list[DocumentRow]:
        """Documents directly in `folder` (a path prefix ending in the separator `sep`)."""
        return [DocumentRow(*r) for r in self.db.execute(
            "SELECT id, path, size, mtime_ns, sha1, format, kind, title, page_count FROM documents "
            "WHERE path > ? AND path < ? AND instr(substr(path, ?), ?) = 0",
            (folder, folder + "\U0010ffff", len(folder) + 1, sep))]

    # -- failures --------------------------------------------------------------------------
    def record_failure(self, path: str, reason: str, size: int, mtime_ns: int) -> None:
        with self.transaction() as tx:
            tx.execute("INSERT OR REPLACE INTO failures(path, reason, at, size, mtime_ns) "
                       "VALUES(?,?,?,?,?)", (path, reason, _now(), size, mtime_ns))

    def failure_stamps(self) -> dict[str, tuple[int, int]]:
        return {p: (s, m) for p, s, m in self.db.execute(
            "SELECT path, size, mtime_ns FROM failures")}

    def clear_failure(self, path: str) -> None:
        with self.transaction() as tx:
            tx.execute("DELETE FROM failures WHERE path=?", (path,))

    def failures(self) -> tuple[FailedFile, ...]:
        return tuple(FailedFile(p, r, a) for p, r, a in self.db.execute(
            "SELECT path, reason, at FROM failures ORDER BY path"))

    # -- files left out: ignored by the user, types the scanner skipped ----------------------
    def ignored_paths(self) -> tuple[str, ...]:
        return tuple(json.loads(self.get_meta("ignored_paths", "[]") or "[]"))

    def set_ignored(self, path: str, ignored: bool) -> None:
        """Leave a file out of every later run (and the failed list), or take it back."""
        with self.transaction() as tx:
            row = tx.execute("SELECT value FROM meta WHERE key='ignored_paths'").fetchone()
            paths = set(json.loads(row[0])) if row else set()
            (paths.add if ignored else paths.discard)(path)
            tx.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('ignored_paths', ?)",
                       (json.dumps(sorted(paths), ensure_ascii=False),))
            if ignored:
                tx.execute("DELETE FROM failures WHERE path=?", (path,))

    def skipped_types(self) -> dict[str, dict[str, list]]:
        """Per scanned folder: extension -> [count, example paths] (see scanner.walk_files)."""
        return json.loads(self.get_meta("skipped_types", "{}") or "{}")

    def set_skipped_types(self, root: str, found: dict[str, list]) -> None:
        with self.transaction() as tx:
            row = tx.execute("SELECT value FROM meta WHERE key='skipped_types'").fetchone()
            per_root = json.loads(row[0]) if row else {}
            per_root[root] = found
            tx.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('skipped_types', ?)",
                       (json.dumps(per_root, ensure_ascii=False),))

    # -- feedback --------------------------------------------------------------------------
    def add_feedback(self, query: str, query_path: str | None, doc_path: str, page: int,
                     vote: int, pack_id: str | None) -> None:
        with self.transaction() as tx:
            tx.execute("INSERT INTO feedback(at, query, query_path, doc_path, page, vote, pack_id)"
                       " VALUES(?,?,?,?,?,?,?)",
                       (_now(), query, query_path, doc_path, page, vote, pack_id))

    def feedback(self) -> list[dict]:
        cols = ("at", "query", "query_path", "doc_path", "page", "vote", "pack_id")
        return [dict(zip(cols, r)) for r in self.db.execute(
            f"SELECT {', '.join(cols)} FROM feedback ORDER BY id")]

    # -- counts ----------------------------------------------------------------------------
    def chunk_count(self) -> int:
        return self.db.execute("SELECT count(*) FROM chunks").fetchone()[0]

    def counts(self) -> dict[str, int]:
        db = self.db
        return {
            "documents": db.execute("SELECT count(*) FROM documents").fetchone()[0],
            "drawings": db.execute("SELECT count(*) FROM documents WHERE kind='drawing'").fetchone()[0],
            "pages": db.execute("SELECT count(*) FROM pages").fetchone()[0],
            "chunks": db.execute("SELECT count(*) FROM chunks").fetchone()[0],
        }
