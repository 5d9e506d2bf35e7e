"""`zumen eval`: how well does the active model find what a site says belongs together?

Judgements come from a pairs file (the same CSV `zumen adapt` reads: query,relevant[,grade]) or
from TREC files (qrels "qid 0 docid grade" + a queries file "qid<TAB>query"). Each query runs
through the engine facade exactly as a user's would; results are scored per query type:

    image->text   a drawing/scan/photo query, a relevant document (spec, BOM line, process sheet)
    image->image  a drawing query, a relevant drawing
    text->image   a keyword query, a relevant drawing
    text->text    a keyword query, a relevant document
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from engine.errors import EngineError
from engine.evaluate.metrics import evaluate_run
from engine.progress import CancelToken, Progress, ProgressCallback, report

PAIRS_FILE_SUFFIXES = (".csv",)  # read_pairs_csv's format; the desktop's file picker offers these
QUERY_TYPES = ("image->text", "image->image", "text->image", "text->text")
CHART_METRICS = ("recall@1", "recall@5", "recall@10", "mrr", "ndcg@10", "map")


@dataclass(frozen=True)
class Judgement:
    query: str  # a file path (drawing, scan, photo) or keywords
    relevant: str  # a file path, optionally "path#page=N"
    grade: float = 1.0


def read_pairs_csv(path: Path) -> list[Judgement]:
    """query,relevant[,grade] rows; raises EngineError naming the line on malformed input."""
    out: list[Judgement] = []
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"query", "relevant"} <= set(reader.fieldnames):
            raise EngineError(f"{path}: needs a header with columns query,relevant[,grade]")
        for line, row in enumerate(reader, start=2):
            q, r = (row.get("query") or "").strip(), (row.get("relevant") or "").strip()
            if not q or not r:
                raise EngineError(f"{path}:{line}: empty query or relevant")
            try:
                grade = float(row.get("grade") or 1.0)
            except ValueError:
                raise EngineError(f"{path}:{line}: grade {row.get('grade')!r} is not a number") from None
            out.append(Judgement(q, r, grade))
    return out


def read_trec(qrels: Path, queries: Path) -> list[Judgement]:
    """TREC qrels (qid iter docid grade) joined with a queries file (qid<TAB>query text or path)."""
    texts: dict[str, str] = {}
    for line in Path(queries).read_text(encoding="utf-8").splitlines():
        if line.strip():
            qid, _, text = line.partition("\t")
            texts[qid.strip()] = text.strip()
    out = []
    for n, line in enumerate(Path(qrels).read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 4:
            raise EngineError(f"{qrels}:{n}: expected 'qid iter docid grade'")
        qid, _, doc, grade = parts
        if qid not in texts:
            raise EngineError(f"{qrels}:{n}: query {qid} is not in {queries}")
        out.append(Judgement(texts[qid], doc, float(grade)))
    return out


def _resolve(ref: str, base: Path) -> tuple[str, int | None] | None:
    """(canonical path, page or None) of a file reference, or None when it names no file."""
    path, sep, page = ref.rpartition("#page=")
    if not (sep and page.isdigit()):
        path, page = ref, ""
    p = Path(path).expanduser()
    p = p if p.is_absolute() else base / p
    try:
        if not p.is_file():
            return None
    except OSError:
        return None
    return str(p.resolve()), (int(page) if page else None)


def evaluate_judgements(engine, judgements: Sequence[Judgement], base: Path, *, limit: int = 20,
                        evidence=None, progress: ProgressCallback | None = None,
                        cancel: CancelToken | None = None) -> dict:
    """Run every distinct query once through `engine` and score it per query type."""
    kinds: dict[str, str] = {}

    def kind_of(path: str) -> str:
        if path not in kinds:
            kinds[path] = engine.kind_of(path) or "document"
        return kinds[path]

    by_query: dict[str, list[tuple[str, int | None, float]]] = defaultdict(list)
    skipped = 0
    for j in judgements:
        target = _resolve(j.relevant, base)
        if target is None or j.grade <= 0:
            skipped += 1
            continue
        by_query[j.query].append((target[0], target[1], j.grade))
    runs: dict[str, dict[str, list[str]]] = defaultdict(dict)
    qrels: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
    for i, (query, rels) in enumerate(sorted(by_query.items())):
        if cancel is not None:
            cancel.check()
        report(progress, Progress("eval", i, len(by_query), "queries", query[-40:]))
        qfile = _resolve(query, base)
        paged = {path for path, page, _ in rels if page is not None}

        def ident(path: str, page: int, paged: set[str] = paged) -> str:
            return f"{path}#{page}" if path in paged else path

        if qfile is not None:
            res = engine.search_file(qfile[0], limit=limit, evidence=evidence)
            ranked = {"image->text": [ident(h.path, h.page) for h in res.related.hits],
                      "image->image": [ident(h.path, h.page) for h in res.similar.hits]}
        else:
            hits = engine.search(query, limit=limit, evidence=evidence).hits
            ranked = {"text->text": [ident(h.path, h.page) for h in hits if h.kind == "document"],
                      "text->image": [ident(h.path, h.page) for h in hits if h.kind == "drawing"]}
        source = "image" if qfile is not None else "text"
        for path, page, grade in rels:
            qtype = f"{source}->{'image' if kind_of(path) == 'drawing' else 'text'}"
            doc_id = f"{path}#{page}" if page is not None else path
            qrels[qtype].setdefault(query, {})[doc_id] = max(grade, qrels[qtype].get(query, {}).get(doc_id, 0))
            runs[qtype][query] = ranked.get(qtype, [])
    report(progress, Progress("eval", len(by_query), len(by_query), "queries", "done"))
    results = {qtype: evaluate_run(runs[qtype], qrels[qtype]) for qtype in QUERY_TYPES if qrels.get(qtype)}
    for metrics in results.values():
        metrics.pop("per_query", None)
    return {"query_types": results, "queries": len(by_query), "skipped_judgements": skipped,
            "primary_metric": "map"}


def write_chart(result: dict, path: Path) -> Path:
    """A grouped bar chart (PNG) of the metrics per query type, drawn with Pillow."""
    from PIL import Image, ImageDraw, ImageFont

    types = list(result["query_types"])
    if not types:
        raise EngineError("nothing to chart: no query had a relevant file")
    width, height, left, bottom, top = 180 + 330 * len(types), 460, 60, 90, 50
    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=15)
    small = ImageFont.load_default(size=12)
    colors = ["#1f5fa8", "#3d85c6", "#9fc5e8", "#e69138", "#6aa84f", "#a61c00"]
    plot_h = height - bottom - top
    draw.text((left, 12), "Zumen retrieval quality per query type", fill="black", font=font)
    for tick in range(0, 11, 2):
        y = top + plot_h * (1 - tick / 10)
        draw.line((left, y, width - 20, y), fill="#dddddd")
        draw.text((10, y - 7), f"{tick / 10:.1f}", fill="black", font=small)
    bar, gap = 42, 36
    for g, qtype in enumerate(types):
        x0 = left + 20 + g * (len(CHART_METRICS) * bar + gap)
        metrics = result["query_types"][qtype]
        for m, name in enumerate(CHART_METRICS):
            value = float(metrics.get(name, 0.0))
            x = x0 + m * bar
            y = top + plot_h * (1 - value)
            draw.rectangle((x + 4, y, x + bar - 4, top + plot_h), fill=colors[m])
            draw.text((x + 6, y - 16), f"{value:.2f}", fill="black", font=small)
        draw.text((x0, top + plot_h + 8), f"{qtype}  (n={metrics.get('queries', 0)})", fill="black", font=font)
    for m, name in enumerate(CHART_METRICS):
        x = left + 20 + m * 110
        draw.rectangle((x, height - 30, x + 14, height - 16), fill=colors[m])
        draw.text((x + 20, height - 32), name, fill="black", font=small)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path
