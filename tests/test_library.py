"""engine.library.Library: lazy loading is safe from several threads (the desktop's workers)."""

from __future__ import annotations

import threading
import time

from engine.config import EngineSettings
from engine.library import Library


class SlowPack:
    """A model pack whose loads take a while and are counted."""

    pack_id = "slow-1.0"
    manifest: dict = {}

    def __init__(self, counts: dict) -> None:
        self.counts = counts

    def text_encoder(self, threads: int = 0):
        self.counts["text"] += 1
        time.sleep(0.05)
        return object()

    def image_encoder(self, threads: int = 0):
        self.counts["image"] += 1
        time.sleep(0.05)
        return None


def load_from_threads(fn, n: int = 8) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i: int) -> None:
        barrier.wait()
        results[i] = fn()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_models_load_once_however_many_threads_ask(tmp_path, monkeypatch):
    from engine.encoders.pack import ModelPack

    counts = {"pack": 0, "text": 0, "image": 0}

    def slow_load(path, *args, **kwargs):
        counts["pack"] += 1
        time.sleep(0.05)  # long enough for every thread to arrive while the first one loads
        return SlowPack(counts)

    monkeypatch.setattr(ModelPack, "load", staticmethod(slow_load))
    lib = Library(tmp_path / "lib", settings=EngineSettings(ocr_enabled=False))
    try:
        packs = load_from_threads(lambda: lib.pack)
        encoders = load_from_threads(lambda: lib.text_encoder)
        load_from_threads(lambda: lib.image_encoder)
    finally:
        lib.close()
    assert counts == {"pack": 1, "text": 1, "image": 1}
    assert all(p is packs[0] for p in packs) and all(e is encoders[0] for e in encoders)
