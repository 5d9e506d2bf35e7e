"""bench/bench_ocr_speed.py's stage clock and sample-library ground truth (no OCR run)."""

from __future__ import annotations

import sys
import types
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.bench_ocr_speed import StageClock, sample_items  # noqa: E402


def test_stage_clock_counts_exclusive_time(monkeypatch):
    import bench.bench_ocr_speed as b

    now = [0.0]
    monkeypatch.setattr(b, "time", types.SimpleNamespace(perf_counter=lambda: now[0]))

    def spend(seconds: float) -> None:
        now[0] += seconds

    mod = types.SimpleNamespace()
    mod.inner = lambda: spend(2.0)

    def outer():
        spend(1.0)
        mod.inner()

    mod.outer = outer
    clock = StageClock()
    clock.wrap(mod, "inner", "inner")
    clock.wrap(mod, "outer", "outer")
    clock.wrap(mod, "missing", "never")  # absent in this engine version: skipped
    mod.outer()
    assert clock.calls == {"inner": 1, "outer": 1}
    assert clock.seconds == {"inner": 2.0, "outer": 1.0}  # the inner call is not counted twice


def test_every_sample_picture_has_its_source_drawing():
    items = sample_items()
    names = {p.name for p, _ in items}
    assert {"scan_0003.png", "fax_0001.tif", "photo_04.jpg"} <= names and len(items) == 10
    for path, sources in items:
        assert path.exists() and sources and sources[0].exists()
