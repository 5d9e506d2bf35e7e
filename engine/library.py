"""A library on disk: catalog + model pack + encoders + vector indexes, opened lazily.

Heavy things (ONNX sessions, OCR models, vector files) load on first use, so `zumen status`
is instant and a keyword search never loads the image tower. The desktop calls the engine from
several worker threads at once: each load happens under one lock, so a model is loaded once
(not once per thread that asked for it first) and no thread sees a half-built one.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np

from engine.config import DEFAULT_PACK_DIR, EngineSettings
from engine.errors import EngineError, PackError
from engine.faults import fault_point
from engine.store.catalog import Catalog
from engine.store.lock import WriterLock
from engine.store.vectors import VectorIndex

log = logging.getLogger(__name__)

AUTO = object()  # "not loaded yet" / "load it yourself" (Engine.open's image_encoder and ocr)


class Library:
    def __init__(self, root: Path, *, pack_dir: Path | None = None,
                 settings: EngineSettings | None = None, text_encoder: Any = None,
                 image_encoder: Any = AUTO, ocr: Any = AUTO) -> None:
        self.root = Path(root).expanduser()
        self.root.mkdir(parents=True, exist_ok=True)
        self.settings = settings or EngineSettings()
        self.catalog = Catalog(self.root / "catalog.sqlite")
        self.writer_lock = WriterLock(self.root / "writer.lock")
        self._pack_dir = Path(pack_dir) if pack_dir else None
        self._pack: Any = AUTO
        self._text_encoder = text_encoder
        self._image_encoder = image_encoder
        self._injected = {"text": text_encoder,
                          "image": None if image_encoder is AUTO else image_encoder}
        self._ocr = ocr
        self._text_index: VectorIndex | None = None
        self._image_index: VectorIndex | None | object = AUTO
        self._stamps: dict[str, int] = {}
        self.pack_error: str | None = None
        self._load_lock = threading.RLock()  # every lazy load below (re-entrant: they nest)

    # -- model pack --------------------------------------------------------------------------
    def pack_path(self) -> Path:
        if self._pack_dir is not None:
            return self._pack_dir
        active = self.catalog.get_meta("active_pack")
        if active and Path(active).is_dir():
            return Path(active)
        return DEFAULT_PACK_DIR

    def _loaded(self, attr: str, unset: object, load: Callable[[], Any]) -> Any:
        """`self.<attr>`, loaded by `load()` under the lock while it is `unset`; the value is read
        under the lock too, so a concurrent reset_models() never hands out a half-made state."""
        value = getattr(self, attr)
        if value is unset:
            with self._load_lock:
                if getattr(self, attr) is unset:
                    setattr(self, attr, load())
                value = getattr(self, attr)
        return value

    @property
    def pack(self):
        """The active ModelPack, or None when no pack is installed (lexical search still works)."""
        return self._loaded("_pack", AUTO, self._load_pack)

    def _load_pack(self):
        from engine.encoders.pack import ModelPack

        try:
            pack = ModelPack.load(self.pack_path())
            self.pack_error = None
            return pack
        except PackError as exc:
            self.pack_error = str(exc)
            log.warning("no usable model pack: %s", exc)
            return None

    @property
    def pack_id(self) -> str:
        if self._text_encoder is not None:
            return getattr(self._text_encoder, "pack_id", "custom")
        return self.pack.pack_id if self.pack is not None else "none"

    @property
    def text_encoder(self):
        def load():
            pack = self.pack
            return pack.text_encoder(threads=self.settings.threads) if pack is not None else None

        return self._loaded("_text_encoder", None, load)

    @property
    def image_encoder(self):
        def load():
            # with an injected text encoder (tests, tools) the pack's image tower would not
            # share its space: no image tower then unless one is injected too
            pack = self.pack if self._injected["text"] is None else None
            return pack.image_encoder(threads=self.settings.threads) if pack is not None else None

        return self._loaded("_image_encoder", AUTO, load)

    @property
    def ocr(self):
        return self._loaded("_ocr", AUTO, self._load_ocr)

    def _load_ocr(self):
        if not self.settings.ocr_enabled:
            return None
        try:
            from engine.extract.ocr import get_ocr_engine

            return get_ocr_engine("auto", threads=self.settings.threads)
        except EngineError as exc:
            log.warning("OCR unavailable: %s", exc)
            return None

    # -- ranking -------------------------------------------------------------------------------
    def ranking(self):
        """(FileWeights, Calibration) of the drawing-query documents list: the site's own, fitted
        by `zumen adapt` for the active pack (engine.evaluate.ranking_fit), else the defaults."""
        from engine.evaluate.ranking_fit import stored_ranking

        site = stored_ranking(self.catalog, self.pack_id)
        return site if site is not None else (self.settings.related_weights, self.settings.calibration)

    # -- vector indexes ----------------------------------------------------------------------
    # Each index is keyed by the tower that made it, not by the pack: adapting only the image
    # tower keeps every text vector valid, and two packs sharing a tower share its vectors.
    def tower_id(self, tower: str) -> str:
        injected = self._injected.get(tower)
        if injected is not None:  # an encoder handed in by a test or a tool
            return f"{tower}-{getattr(injected, 'pack_id', 'custom')}"
        return pack_tower_id(self.pack, tower)

    def injected_encoder(self, tower: str) -> Any:
        """The encoder of `tower` ("text" / "image") handed in when opening (tests, tools), else
        None: the pack's own is used."""
        return self._injected.get(tower)

    def vector_path(self, tower: str) -> Path:
        return self.root / "vectors" / self.tower_id(tower) / "index.usearch"

    @property
    def text_index(self) -> VectorIndex:
        def load() -> VectorIndex:
            enc = self.text_encoder
            return self._open_index("text", enc.dim if enc is not None else 1)

        return self._loaded("_text_index", None, load)

    @property
    def image_index(self) -> VectorIndex | None:
        def load() -> VectorIndex | None:
            enc = self.image_encoder
            return self._open_index("image", enc.dim) if enc is not None else None

        return self._loaded("_image_index", AUTO, load)

    def _open_index(self, tower: str, dim: int) -> VectorIndex:
        path = self.vector_path(tower)
        self._stamps[str(path)] = _mtime(path)  # before reading it: a later save is then seen by refresh()
        return VectorIndex(path, dim, self.settings)

    def drop_vectors(self, chunk_ids: list[int], page_ids: list[int]) -> None:
        """Forget the vectors of removed chunks (text index) and pages (image index)."""
        self.text_index.remove(np.array(chunk_ids, dtype=np.uint64))
        if self.image_index is not None:
            self.image_index.remove(np.array(page_ids, dtype=np.uint64))

    def save_vectors(self) -> None:
        for index in (self._text_index, self._image_index):
            if isinstance(index, VectorIndex):
                index.save()
                self._stamps[str(index.path)] = _mtime(index.path)
                fault_point("saved")

    def refresh(self) -> None:
        """Pick up vector files another process saved since we loaded them (atomic swap)."""
        with self._load_lock:
            for attr in ("_text_index", "_image_index"):
                index = getattr(self, attr)
                if isinstance(index, VectorIndex) and not index.dirty:
                    if _mtime(index.path) != self._stamps.get(str(index.path)):
                        setattr(self, attr, None if attr == "_text_index" else AUTO)

    def index_bytes(self) -> int:
        total = 0
        for p in [self.root / "catalog.sqlite", self.root / "catalog.sqlite-wal"]:
            total += p.stat().st_size if p.exists() else 0
        towers = ["text"] + (["image"] if self.image_encoder is not None else [])
        for tower in towers:
            path = self.vector_path(tower)
            total += path.stat().st_size if path.exists() else 0
        return total

    def switch_pack(self, pack_dir: Path) -> None:
        """Make `pack_dir` the active pack; vectors for it are built by the next reconcile."""
        history = json.loads(self.catalog.get_meta("pack_history", "[]") or "[]")
        current = str(self.pack_path())
        if not history or history[-1] != current:
            history.append(current)
        self.catalog.set_meta("pack_history", json.dumps(history))
        self.catalog.set_meta("active_pack", str(Path(pack_dir).resolve()))
        self._pack_dir = None  # a pack chosen when opening gives way to the one activated now
        self.reset_models()

    def reset_models(self) -> None:
        with self._load_lock:
            self._injected = {"text": None, "image": None}
            self._pack = AUTO
            self._text_encoder = None
            self._image_encoder = AUTO
            self._text_index = None
            self._image_index = AUTO

    def close(self) -> None:
        self.writer_lock.release()
        self.catalog.close()


# the text towers' truncation when vectors were filed by the graph's hash alone: such folders
# keep their name (no re-embedding on upgrade); any other truncation is part of the name
FILED_MAX_LENGTH = 256


def pack_tower_id(pack: Any, tower: str) -> str:
    """`<tower>-<first 16 hex digits of its sha256>`: what a tower's vectors are filed under (and
    how a cluster worker proves it loaded the same tower). A text tower truncating at another
    length than 256 tokens adds `-L<length>`: the same graph embeds other vectors then, and a
    pack that only changes `max_length` must not find the old ones valid."""
    if pack is None:
        return f"{tower}-none"
    section = pack.manifest.get(tower) or {}
    name = f"{tower}-{section.get('sha256', pack.pack_id)[:16]}"
    length = int(section.get("max_length", FILED_MAX_LENGTH)) if tower == "text" else FILED_MAX_LENGTH
    return name if length == FILED_MAX_LENGTH else f"{name}-L{length}"


def _mtime(path: Path) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0
