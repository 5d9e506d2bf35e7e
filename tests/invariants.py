"""The library invariant crash tests check: every chunk (and every picture page) has exactly one
vector, equal (cosine >= 0.999) to a fresh embedding of its content, and no vector belongs to
nothing."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from engine.library import Library
from engine.store.catalog import embedding_text
from tests.fakes import FakeImageEncoder, FakeTextEncoder


def _check(index, ids: list[int], fresh_of, label: str) -> list[str]:
    faults = []
    stored = index.keys().tolist()
    if len(stored) != len(set(stored)):
        faults.append(f"{label}: an id has two vectors")
    orphans = set(stored) - set(ids)
    if orphans:
        faults.append(f"{label}: {len(orphans)} vectors of nothing in the catalog")
    have = index.contains(np.array(ids, dtype=np.uint64))
    faults += [f"{label} {i}: no vector" for i, ok in zip(ids, have) if not ok]
    ids = [i for i, ok in zip(ids, have) if ok]
    if ids:
        fresh = fresh_of(ids)  # (n, dim)
        old = index.get(np.array(ids, dtype=np.uint64))  # (n, dim)
        cos = np.sum(fresh * old, axis=1) / (np.linalg.norm(fresh, axis=1) * np.linalg.norm(old, axis=1))
        faults += [f"{label} {i}: vector cosine {v:.3f} to its content" for i, v in zip(ids, cos) if v < 0.999]
    return faults


def vector_faults(lib_root: Path, *, images: bool = False) -> list[str]:
    """What breaks the invariant in the library at `lib_root` (empty when it holds)."""
    from engine.extract import render_page

    text_enc = FakeTextEncoder()
    image_enc = FakeImageEncoder() if images else None
    lib = Library(lib_root, text_encoder=text_enc, image_encoder=image_enc, ocr=None)
    try:
        cat = lib.catalog
        ids = cat.all_chunk_ids()
        rows = cat.chunks_by_ids(ids)
        docs = cat.documents_by_ids(r.doc_id for r in rows.values())
        faults = _check(lib.text_index, ids, lambda some: text_enc.encode(
            [embedding_text(docs[rows[c].doc_id].title, rows[c].text) for c in some]), "chunk")
        if images:
            pages = {p[0]: p for p in cat.visual_pages()}
            pdocs = cat.documents_by_ids(p[1] for p in pages.values())
            faults += _check(lib.image_index, list(pages), lambda some: image_enc.encode(
                [render_page(Path(pdocs[pages[p][1]].path), pages[p][2], lib.settings.render_dpi,
                             grayscale=True) for p in some]), "page")
        return faults
    finally:
        lib.close()
