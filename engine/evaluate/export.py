"""`zumen export-pairs`: a site's adaptation pairs (a pairs CSV and/or the thumbs-up votes of
drawing queries) written as JSON lines with the text each side brings, so they can be looked at,
kept, or shared with whoever adapts the model elsewhere.

One line per pair: {"query", "relevant", "grade", "query_text", "relevant_text"}. `query` and
`relevant` are file references (path, or path#page=N) or the typed keywords. With `anonymise`:

- every file reference becomes an opaque id (`file-` + 12 hex of an HMAC with a key made for
  this export and then forgotten: one file keeps one id within the export, and no later export
  or dictionary of paths can map it back);
- texts lose every word that is a folder name along the file's path, and the file's own name
  unless that name is a part number (a drawing's number printed on it is content);
- no titles, folders, times or library details are written.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from pathlib import Path

from engine.errors import EngineError
from engine.evaluate.pairs import Judgement, _resolve, read_pairs_csv

MAX_TEXT = 4000  # characters of text per side


def collect_pairs(engine, pairs_csv: Path | None, feedback: bool) -> tuple[list[Judgement], Path]:
    judgements: list[Judgement] = []
    base = Path.cwd()
    if pairs_csv is not None:
        judgements += read_pairs_csv(Path(pairs_csv))
        base = Path(pairs_csv).resolve().parent
    if feedback:
        judgements += [Judgement(f["query_path"] or f["query"], f"{f['doc_path']}#page={f['page']}", 1.0)
                       for f in engine.feedback() if f["vote"] > 0]
    if not judgements:
        raise EngineError("nothing to export: give --pairs FILE and/or --feedback (thumbs-up votes)")
    return judgements, base


class _Side:
    """Text (and anonymous id) of one end of a pair: a file reference or keywords."""

    def __init__(self, engine, base: Path, anonymise: bool) -> None:
        self.engine, self.base, self.anonymise = engine, base, anonymise
        self._key = os.urandom(32)
        self._texts: dict[tuple[str, int | None], str] = {}

    def describe(self, ref: str) -> tuple[str, str]:
        target = _resolve(ref, self.base)
        if target is None:  # keywords, as typed
            return ref, ref
        path, page = target
        text = self._text(path, page)
        if not self.anonymise:
            return (f"{path}#page={page}" if page else path), text
        digest = hmac.new(self._key, path.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
        return f"file-{digest[:12]}" + (f"#page={page}" if page else ""), scrub_names(text, path)

    def _text(self, path: str, page: int | None) -> str:
        if (path, page) not in self._texts:
            lib = self.engine._lib  # noqa: SLF001 - facade-internal reads of the catalog
            doc = self.engine._doc_of(path)  # noqa: SLF001
            pages: list[str] = []
            if doc is not None:
                wanted = [page] if page else range(1, doc.page_count + 1)
                for n in wanted:
                    row = lib.catalog.page(doc.id, n)
                    if row is not None:
                        pages.append(row[1].text)
                    if sum(map(len, pages)) > MAX_TEXT:
                        break
            else:  # a query drawing outside the library: read it as a search would
                from engine.extract import extract_document

                try:
                    read = extract_document(Path(path), lib.settings, lib.ocr)
                    pages = [p.text for p in read.pages[(page or 1) - 1:(page or 1)]]
                except EngineError:
                    pages = []
            self._texts[(path, page)] = " ".join(" ".join(pages).split())[:MAX_TEXT]
        return self._texts[(path, page)]


def scrub_names(text: str, path: str) -> str:
    """`text` without the words that name the file or its folders (whole words, any case). A
    file named by the part number its drawing prints keeps that number in the text: it is the
    drawing's content, and what adaptation learns from."""
    from engine.analyze import extract_identifiers

    parts = Path(path).parts
    names = set(parts[:-1])
    if parts:
        stem = Path(parts[-1]).stem
        if stem not in extract_identifiers(stem):
            names.add(stem)
    words = sorted({n for n in names if len(n.strip(os.sep + "/\\")) >= 3}, key=len, reverse=True)
    for name in words:
        text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", "[name]", text, flags=re.IGNORECASE)
    return text


def export_pairs(engine, out: Path, *, pairs_csv: Path | None = None, feedback: bool = False,
                 anonymise: bool = False) -> dict:
    """Write the pairs to `out` (JSON lines); returns {"pairs", "anonymised", "out"}."""
    judgements, base = collect_pairs(engine, pairs_csv, feedback)
    side = _Side(engine, base, anonymise)
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for j in judgements:
            query, query_text = side.describe(j.query)
            relevant, relevant_text = side.describe(j.relevant)
            fh.write(json.dumps({"query": query, "relevant": relevant, "grade": j.grade,
                                 "query_text": query_text, "relevant_text": relevant_text},
                                ensure_ascii=False) + "\n")
    os.replace(tmp, out)
    return {"pairs": len(judgements), "anonymised": anonymise, "out": str(out)}
