"""On-disk approximate nearest-neighbour index (usearch HNSW, cosine).

The store is deliberately small (add / remove / search / save) so a shared server backend can
replace it later. Saving is atomic: the index is written to a temporary file in the same folder,
flushed, then moved over the old file, so a reader never sees half a file and a crash never
corrupts the last good index.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Protocol

import numpy as np
import onnxruntime  # noqa: F401  must be loaded before usearch: the reverse order segfaults (usearch 2.26 + onnxruntime 1.32)
from numpy.typing import NDArray
from usearch.index import Index

from engine.config import EngineSettings
from engine.errors import LibraryError
from engine.types import Embeddings, Vector


class VectorStore(Protocol):
    dim: int

    def add(self, keys: NDArray[np.uint64], vectors: Embeddings) -> None: ...
    def remove(self, keys: NDArray[np.uint64]) -> None: ...
    def search(self, vector: Vector, k: int, *, exact: bool = False) -> list[tuple[int, float]]: ...
    def save(self) -> None: ...
    def __len__(self) -> int: ...


class VectorIndex:
    """A usearch index bound to a file. Thread-safe: one lock guards mutation and search."""

    def __init__(self, path: Path, dim: int, settings: EngineSettings | None = None,
                 *, view: bool = False) -> None:
        settings = settings or EngineSettings()
        self.path = Path(path)
        self.dim = dim
        self._lock = threading.RLock()
        self._dirty = False
        self._index = Index(
            ndim=dim, metric="cos", dtype="f32",
            connectivity=settings.ann_connectivity,
            expansion_add=settings.ann_expansion_add,
            expansion_search=settings.ann_expansion_search,
        )
        if self.path.exists():
            try:
                if view:
                    self._index.view(str(self.path))
                else:
                    self._index.load(str(self.path))
            except Exception as exc:  # usearch raises RuntimeError/ValueError on bad files
                raise LibraryError(f"vector index {self.path} is unreadable: {exc}") from exc
            if self._index.ndim != dim:
                raise LibraryError(
                    f"vector index {self.path} has {self._index.ndim} dimensions, the model pack {dim}")
        self._view = view

    def __len__(self) -> int:
        return len(self._index)

    def add(self, keys: NDArray[np.uint64], vectors: Embeddings) -> None:
        keys = np.asarray(keys, dtype=np.uint64)
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)  # (n, dim)
        if len(keys) == 0:
            return
        if vectors.shape != (len(keys), self.dim):
            raise ValueError(f"expected ({len(keys)}, {self.dim}) vectors, got {vectors.shape}")
        with self._lock:
            self._ensure_writable()
            present = self._index.contains(keys)
            if np.any(present):  # re-adding a key replaces it
                self._index.remove(keys[present])
            self._index.add(keys, vectors)
            self._dirty = True

    def remove(self, keys: NDArray[np.uint64]) -> None:
        keys = np.asarray(keys, dtype=np.uint64)
        if len(keys) == 0:
            return
        with self._lock:
            self._ensure_writable()
            self._index.remove(keys)
            self._dirty = True

    def contains(self, keys: NDArray[np.uint64]) -> NDArray[np.bool_]:
        keys = np.asarray(keys, dtype=np.uint64)
        if len(keys) == 0:
            return np.zeros(0, dtype=bool)
        with self._lock:
            return np.asarray(self._index.contains(keys), dtype=bool)

    def keys(self) -> NDArray[np.uint64]:
        with self._lock:
            return np.asarray(self._index.keys, dtype=np.uint64)

    def get(self, keys: NDArray[np.uint64]) -> Embeddings:
        keys = np.asarray(keys, dtype=np.uint64)
        with self._lock:
            return np.asarray(self._index.get(keys), dtype=np.float32).reshape(len(keys), self.dim)

    def search(self, vector: Vector, k: int, *, exact: bool = False) -> list[tuple[int, float]]:
        """Top-k (key, cosine similarity), best first."""
        with self._lock:
            n = len(self._index)
            if n == 0 or k <= 0:
                return []
            matches = self._index.search(np.asarray(vector, dtype=np.float32), min(k, n), exact=exact)
            return [(int(key), float(1.0 - dist)) for key, dist in zip(matches.keys, matches.distances)]

    def save(self) -> None:
        with self._lock:
            if not self._dirty and self.path.exists():
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".tmp")
            self._index.save(str(tmp))
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
            self._dirty = False

    @property
    def dirty(self) -> bool:
        return self._dirty

    def _ensure_writable(self) -> None:
        if self._view:
            # a memory-mapped view is read-only: load it fully before the first change
            self._index.load(str(self.path))
            self._view = False
