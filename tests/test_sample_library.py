"""Quality guard on the bundled sample library: the real pack, real OCR, the shipped queries."""

from __future__ import annotations

import json

import pytest

from engine.api import Engine
from engine.config import DEFAULT_PACK_DIR, SAMPLE_LIBRARY
from engine.evaluate.metrics import evaluate_run

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (DEFAULT_PACK_DIR / "manifest.json").exists(),
                                 reason="default pack not built (zumen pack build-default)")]


@pytest.fixture(scope="module")
def engine(tmp_path_factory):
    with Engine.open(tmp_path_factory.mktemp("sample") / "lib") as eng:
        report = eng.index([SAMPLE_LIBRARY])
        assert report.failed == 0, report.errors
        yield eng


def rel(path: str) -> str:
    return str(SAMPLE_LIBRARY.resolve() / path)


def test_keyword_queries(engine):
    spec = json.loads((SAMPLE_LIBRARY / "queries.json").read_text(encoding="utf-8"))
    run, qrels = {}, {}
    for q in spec["keyword"]:
        run[q["id"]] = [h.path for h in engine.search(q["query"], limit=20).hits]
        qrels[q["id"]] = {rel(p): g for p, g in q["relevant"].items()}
    m = evaluate_run(run, qrels)
    assert m["mrr"] >= 0.9, m
    assert m["map"] >= 0.7, m


def test_phone_photo_queries(engine):
    spec = json.loads((SAMPLE_LIBRARY / "queries.json").read_text(encoding="utf-8"))
    related_run, related_qrels, similar_run, similar_qrels = {}, {}, {}, {}
    for q in spec["image"]:
        res = engine.search_file(SAMPLE_LIBRARY / q["file"], limit=10)
        related_run[q["id"]] = [h.path for h in res.related.hits]
        similar_run[q["id"]] = [h.path for h in res.similar.hits]
        related_qrels[q["id"]] = {rel(p): g for p, g in q["related"].items()}
        similar_qrels[q["id"]] = {rel(p): g for p, g in q["similar"].items()}
    similar = evaluate_run(similar_run, similar_qrels)
    related = evaluate_run(related_run, related_qrels)
    assert similar["recall@1"] >= 0.75, similar  # the photographed drawing itself first
    assert related["recall@5"] >= 0.75, related
