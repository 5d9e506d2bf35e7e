"""Shared helpers of the benchmark scripts: the Ultimaker corpus, query renders, a TF-IDF baseline,
timing and memory figures, tables and JSON output.

No engine imports here, so the helpers are testable without a built model pack.
"""

from __future__ import annotations

import csv
import json
import math
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

import engine  # noqa: E402,F401  first: it switches onnxruntime's telemetry off before it loads

try:  # usearch 2.26 loaded before onnxruntime 1.32 makes onnxruntime's import segfault: load it first
    import onnxruntime  # noqa: F401
except ImportError:
    pass

REPO = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO.parent / "shared" / "data" / "ultimaker-original"
OUT_DIR = REPO / "bench" / "out"
BOM_TITLE = "Ultimaker Original bill of materials"  # the phrasing of pairs.csv's bom_line


# --------------------------------------------------------------------------- ids

def safe_id(text: str) -> str:
    """A whitespace-free id (TREC files split on whitespace): runs of whitespace -> '_'."""
    return re.sub(r"\s+", "_", text.strip())


# --------------------------------------------------------------------------- the Ultimaker set

@dataclass(frozen=True)
class Pair:
    """One row of pairs.csv: a drawing and the part it draws."""

    drawing: str  # path relative to the data folder, e.g. "1002_Front_Panel/B1002-A2P-A.pdf"
    part_number: str
    part_name: str
    bom_line: str

    @property
    def query_id(self) -> str:
        return safe_id(self.drawing)


@dataclass(frozen=True)
class BomLine:
    """One row of a BOM CSV, written to the corpus as its own small text document."""

    doc_id: str  # "bom/main-003-1002.txt" (also its path relative to the corpus root)
    part_number: str
    name: str
    quantity: str
    source: str  # "main" | "controller"

    @property
    def text(self) -> str:
        # Same wording as pairs.csv's bom_line ("...: part number 1002, Front Panel, quantity 1").
        return f"{BOM_TITLE}: part number {self.part_number}, {self.name}, quantity {self.quantity}".rstrip()


def load_pairs(data_dir: Path = DEFAULT_DATA) -> list[Pair]:
    with open(data_dir / "pairs.csv", newline="", encoding="utf-8") as f:
        return [Pair(r["drawing"], r["part_number"].strip(), r["part_name"], r["bom_line"])
                for r in csv.DictReader(f)]


_BOM_FILES = {"main": "Ultimaker Original BOM__Blad1.csv",
              "controller": "BOM UltiController__Blad1.csv"}


def load_bom_lines(data_dir: Path = DEFAULT_DATA) -> list[BomLine]:
    """Every part row of both BOM CSVs (a part listed in both BOMs gives two documents)."""
    lines: list[BomLine] = []
    for source, name in _BOM_FILES.items():
        with open(data_dir / "BOM" / name, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
        header_at = next(i for i, r in enumerate(rows) if r and r[0].strip() == "Partnummer")
        header = [c.strip() for c in rows[header_at]]
        name_col, qty_col = header.index("Naam"), header.index("Quantity")
        for row_no, row in enumerate(rows[header_at + 1:], start=1):
            if not row or not re.fullmatch(r"\d{4}", row[0].strip()):
                continue
            pn = row[0].strip()
            lines.append(BomLine(doc_id=f"bom/{source}-{row_no:03d}-{pn}.txt", part_number=pn,
                                 name=row[name_col], quantity=row[qty_col].strip(), source=source))
    return lines


def drawing_pdfs(data_dir: Path = DEFAULT_DATA) -> list[str]:
    """Every PDF of the set except the BOM's own, relative to data_dir, sorted."""
    return sorted(p.relative_to(data_dir).as_posix() for p in data_dir.rglob("*")
                  if p.suffix.lower() == ".pdf" and p.relative_to(data_dir).parts[0] != "BOM")


@dataclass
class Corpus:
    """The benchmark library on disk: bom/*.txt (one BOM line each) and drawings/<as in the set>."""

    root: Path
    bom: list[BomLine]
    drawings: list[str]  # doc ids of the drawing PDFs ("drawings/1002_Front_Panel/B1002-A2P-A.pdf")
    texts: dict[str, str] = field(default_factory=dict)  # doc id -> text, for the BOM documents

    def doc_id(self, path: str | Path) -> str | None:
        """The doc id of a hit's path (absolute or relative to the root); None if outside the corpus."""
        p = Path(path)
        if not p.is_absolute():
            p = self.root / p
        try:
            rel = p.resolve().relative_to(self.root.resolve())
        except ValueError:
            return None
        return safe_id(rel.as_posix())

    @staticmethod
    def drawing_id(drawing: str) -> str:
        return safe_id(f"drawings/{drawing}")


def build_corpus(data_dir: Path, dest: Path, pairs: Sequence[Pair] | None = None) -> Corpus:
    """Write each BOM line as a .txt file under dest/bom and copy the drawing PDFs under dest/drawings.

    The data set is never modified: the engine indexes the copy.
    """
    bom = load_bom_lines(data_dir)
    (dest / "bom").mkdir(parents=True, exist_ok=True)
    texts: dict[str, str] = {}
    for line in bom:
        (dest / line.doc_id).write_text(line.text + "\n", encoding="utf-8")
        texts[line.doc_id] = line.text
    drawings = drawing_pdfs(data_dir)
    if pairs is not None:  # make sure every query drawing is in the library
        drawings = sorted(set(drawings) | {p.drawing for p in pairs})
    ids = []
    for rel in drawings:
        target = dest / "drawings" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            shutil.copyfile(data_dir / rel, target)
        ids.append(Corpus.drawing_id(rel))
    if len(set(ids)) != len(ids):
        raise ValueError("two drawings map to the same doc id")
    return Corpus(root=dest, bom=bom, drawings=ids, texts=texts)


def related_qrels(pairs: Sequence[Pair], bom: Sequence[BomLine]) -> dict[str, dict[str, int]]:
    """Query (drawing) -> the BOM line document(s) with its part number, grade 2."""
    by_part: dict[str, list[str]] = {}
    for line in bom:
        by_part.setdefault(line.part_number, []).append(line.doc_id)
    return {p.query_id: {d: 2 for d in by_part.get(p.part_number, [])} for p in pairs}


def similar_qrels(pairs: Sequence[Pair], include_self: bool = True) -> dict[str, dict[str, int]]:
    """Query -> the drawing itself (grade 2, unless include_self is False) and other drawings of the
    same part number (grade 1)."""
    by_part: dict[str, list[str]] = {}
    for p in pairs:
        by_part.setdefault(p.part_number, []).append(p.drawing)
    out: dict[str, dict[str, int]] = {}
    for p in pairs:
        rel = {Corpus.drawing_id(d): 1 for d in by_part[p.part_number] if d != p.drawing}
        if include_self:
            rel[Corpus.drawing_id(p.drawing)] = 2
        out[p.query_id] = rel
    return out


# --------------------------------------------------------------------------- query files

MAX_RENDER_SIDE_PX = 12000  # a scanner's largest output (A0 at ~300 dpi); huge CAD sheets


def render_png(pdf: Path, out: Path, dpi: int = 150, page_no: int = 1) -> Path:
    """Render one page to a grayscale PNG (no text layer: what a scan or phone photo gives).
    A sheet larger than MAX_RENDER_SIDE_PX at `dpi` (a 307 x 220 inch CAD sheet) is rendered at
    the dpi that fits, as a scanner would.

    Cached: an existing `out` is reused.
    """
    if out.exists() and out.stat().st_size > 0:
        return out
    import pymupdf

    out.parent.mkdir(parents=True, exist_ok=True)
    with pymupdf.open(pdf) as doc:
        page = doc[page_no - 1]
        dpi = min(dpi, int(72 * MAX_RENDER_SIDE_PX / max(page.rect.width, page.rect.height, 1)))
        pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, alpha=False)
        tmp = out.with_suffix(".tmp.png")
        pix.save(tmp)
        os.replace(tmp, out)
    return out


def pdf_text(pdf: Path) -> str:
    """The text layer of every page (empty for image-only PDFs)."""
    import pymupdf

    with pymupdf.open(pdf) as doc:
        return "\n".join(page.get_text() for page in doc)


# --------------------------------------------------------------------------- generated documents

PageLines = Sequence[str]  # lines of one page; a line with CJK characters is set in the CJK font


def _font_for(line: str) -> str:
    # PyMuPDF's built-in "japan" font letter-spaces Latin text, so Latin-only lines use Helvetica
    return "japan" if _CJK.search(line) else "helv"


def write_text_pdf(path: Path, pages: Sequence[PageLines], fontsize: float = 10.0) -> Path:
    """An A4 PDF with a real text layer, one list of lines per page."""
    import pymupdf

    path.parent.mkdir(parents=True, exist_ok=True)
    doc = pymupdf.open()
    for lines in pages:
        page = doc.new_page(width=595, height=842)
        y = 60.0
        for line in lines:
            page.insert_text((50, y), line, fontsize=fontsize, fontname=_font_for(line))
            y += fontsize * 1.6
            if y > 800:
                break
    doc.save(path)
    doc.close()
    return path


def write_scanned_pdf(path: Path, pages: Sequence[PageLines], dpi: int = 150) -> Path:
    """The same pages as `write_text_pdf`, but each page is only a grayscale picture (no text layer),
    as a scanner produces: indexing it needs OCR."""
    import pymupdf

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".text.tmp.pdf")
    write_text_pdf(tmp, pages)
    out = pymupdf.open()
    with pymupdf.open(tmp) as src:
        for page in src:
            pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, alpha=False)
            new = out.new_page(width=page.rect.width, height=page.rect.height)
            new.insert_image(new.rect, pixmap=pix)
    out.save(path)
    out.close()
    tmp.unlink()
    return path


# --------------------------------------------------------------------------- TF-IDF baseline

_TOKEN = re.compile(r"[^\W\d_]+|\d+", re.UNICODE)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def tfidf_tokens(text: str) -> list[str]:
    """Plain analysis for the baseline: NFKC, lower case, runs of letters and runs of digits
    (so "B1002-A2P" gives b, 1002, a, 2, p), and CJK text as character unigrams + bigrams."""
    text = unicodedata.normalize("NFKC", text).lower()
    out: list[str] = []
    for tok in _TOKEN.findall(text):
        if _CJK.search(tok):
            chars = list(tok)
            out.extend(chars)
            out.extend(a + b for a, b in zip(chars, chars[1:]))
        else:
            out.append(tok)
    return out


class TfidfIndex:
    """Cosine similarity of TF-IDF vectors (sublinear tf, smoothed idf, L2-normalised), in numpy.

    Dense (documents x vocabulary) matrix: meant for benchmark-sized corpora (thousands of docs).
    """

    def __init__(self, docs: Mapping[str, str]) -> None:
        self.ids = list(docs)
        counts = [Counter(tfidf_tokens(docs[d])) for d in self.ids]
        vocab = sorted({t for c in counts for t in c})
        self.vocab = {t: i for i, t in enumerate(vocab)}
        n = len(self.ids)
        df = np.zeros(len(vocab), dtype=np.float64)  # (V,)
        for c in counts:
            for t in c:
                df[self.vocab[t]] += 1
        self.idf = np.log((1 + n) / (1 + df)) + 1.0  # (V,)
        self.matrix = np.zeros((n, len(vocab)), dtype=np.float32)  # (N, V)
        for row, c in enumerate(counts):
            self.matrix[row] = self._weights(c)

    def _weights(self, counts: Counter) -> np.ndarray:
        vec = np.zeros(len(self.vocab), dtype=np.float32)  # (V,)
        for t, c in counts.items():
            j = self.vocab.get(t)
            if j is not None:
                vec[j] = (1.0 + math.log(c)) * self.idf[j]
        norm = float(np.linalg.norm(vec))
        return vec / norm if norm > 0 else vec

    def scores(self, query: str) -> np.ndarray:
        """Cosine of the query to every document, (N,)."""
        return self.matrix @ self._weights(Counter(tfidf_tokens(query)))

    def search(self, query: str, k: int = 10) -> list[tuple[str, float]]:
        """Top k (doc id, cosine) with cosine > 0, best first; ties keep corpus order."""
        s = self.scores(query)
        order = np.argsort(-s, kind="stable")[:k]
        return [(self.ids[i], float(s[i])) for i in order if s[i] > 0]


# --------------------------------------------------------------------------- timing and memory

def percentiles(values_s: Sequence[float]) -> dict[str, float]:
    """p50 / p95 / mean / max in milliseconds from durations in seconds."""
    if not values_s:
        return {"n": 0}
    a = np.asarray(values_s, dtype=np.float64) * 1000.0
    return {"n": int(a.size), "p50_ms": float(np.percentile(a, 50)), "p95_ms": float(np.percentile(a, 95)),
            "mean_ms": float(a.mean()), "max_ms": float(a.max())}


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (ru_maxrss: KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def current_rss_mb() -> float:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:
        return float("nan")


class Stopwatch:
    def __enter__(self) -> "Stopwatch":
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.t0


def machine_info() -> dict:
    """What the numbers were measured on (they mean little without it)."""
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=REPO,
                               capture_output=True, text=True, timeout=10).stdout.count("\n")
    except (OSError, subprocess.SubprocessError):
        commit, dirty = "", -1
    try:
        load = [round(x, 2) for x in os.getloadavg()]  # other work on the machine skews timings
    except OSError:
        load = []
    return {"python": platform.python_version(), "platform": platform.platform(),
            "cpus": os.cpu_count(), "load_average": load, "commit": commit,
            "changed_tracked_files": dirty,
            "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}


# --------------------------------------------------------------------------- output

def parse_ints(text: str) -> list[int]:
    """"10000,100000" or "10k,100k" -> [10000, 100000]."""
    out = []
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        mult = 1000 if part.endswith("k") else 1
        out.append(int(float(part.rstrip("k")) * mult))
    if not out:
        raise ValueError(f"no numbers in {text!r}")
    return out


def format_table(rows: Iterable[Mapping[str, object]], columns: Sequence[str],
                 headers: Sequence[str] | None = None) -> str:
    """A plain-text table; floats with 3 decimals."""
    def cell(v: object) -> str:
        if isinstance(v, float):
            return "nan" if math.isnan(v) else f"{v:.3f}"
        return "" if v is None else str(v)

    rows = list(rows)
    head = list(headers or columns)
    body = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    sep = "  ".join("-" * w for w in widths)
    return "\n".join([line(head), sep, *(line(b) for b in body)])


def write_json(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def char_accuracy(expected: str, got: str) -> float:
    """1 - Levenshtein(expected, got) / len(expected), spaces ignored, NFKC on both."""
    a = unicodedata.normalize("NFKC", expected).replace(" ", "")
    b = unicodedata.normalize("NFKC", got).replace(" ", "")
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return max(0.0, 1.0 - prev[-1] / max(1, len(a)))


def line_texts(words, tolerance: float = 0.008) -> list[str]:
    """OCR words grouped into lines by their vertical centre (`tolerance`: of the page height;
    enough for generated pages), each line read left to right."""
    rows: list[list] = []
    for w in sorted(words, key=lambda w: ((w.box.y0 + w.box.y1) / 2, w.box.x0)):
        cy = (w.box.y0 + w.box.y1) / 2
        if rows and abs(cy - rows[-1][0]) < tolerance:
            rows[-1][1].append(w)
        else:
            rows.append([cy, [w]])
    return [" ".join(w.text for w in sorted(r[1], key=lambda w: w.box.x0)) for r in rows]
