"""On-disk approximate nearest-neighbour index (usearch HNSW, cosine).

The store is deliberately small (add / remove / search / save) so a shared server backend can
replace it later. Saving is atomic: the index is written to a temporary file in the same folder,
flushed, then moved over the old file, so a reader never sees half a file and a crash never
corrupts the last good index.

Each vector is stored under a key made of the catalog id of what it embeds (a chunk or a page,
ids are never reused) and a 24-bit fingerprint of the embedded content
(`vector_key`). Callers speak in ids; recovery compares whole keys with the catalog's, so a
vector saved for other content (a lost catalog transaction, an id from an older version) is
never taken for the current one.
"""

from __future__ import annotations

import hashlib
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
from engine.faults import fault_point
from engine.types import Embeddings, Vector

ID_BITS = 40  # catalog ids below 2**40; the 24 bits above hold the content fingerprint
ID_MASK = (1 << ID_BITS) - 1
FP_MASK = (1 << 24) - 1


def fingerprint(content: str) -> int:
    """A 24-bit fingerprint of what a vector embeds, never 0 (0 marks an unverified key)."""
    value = int.from_bytes(hashlib.blake2b(content.encode("utf-8", "surrogatepass"),
                                           digest_size=3).digest(), "little")
    return value or 1


def vector_keys(ids: NDArray[np.uint64], fingerprints: NDArray[np.uint64] | None) -> NDArray[np.uint64]:
    """Index keys of catalog `ids` whose content has these fingerprints (0: unverified)."""
    ids = np.asarray(ids, dtype=np.uint64)
    if np.any(ids > ID_MASK):
        raise ValueError(f"catalog id above {ID_MASK}")
    if fingerprints is None:
        return ids
    fps = np.asarray(fingerprints, dtype=np.uint64) & np.uint64(FP_MASK)
    return (fps << np.uint64(ID_BITS)) | ids


class VectorStore(Protocol):
    dim: int

    def add(self, ids: NDArray[np.uint64], vectors: Embeddings,
            fingerprints: NDArray[np.uint64] | None = None) -> None: ...
    def remove(self, ids: NDArray[np.uint64]) -> None: ...
    def search(self, vector: Vector, k: int, *, exact: bool = False) -> list[tuple[int, float]]: ...
    def save(self) -> None: ...
    def __len__(self) -> int: ...


class VectorIndex:
    """A usearch index bound to a file. Thread-safe: one lock guards mutation and search.

    `add`, `remove`, `contains`, `get`, `keys` and `search` take and give catalog ids;
    `stored_keys` and `remove_keys` the whole keys (id and fingerprint) recovery verifies."""

    def __init__(self, path: Path, dim: int, settings: EngineSettings | None = None,
                 *, view: bool = False) -> None:
        settings = settings or EngineSettings()
        self.path = Path(path)
        self.dim = dim
        self._lock = threading.RLock()
        self._dirty = False
        self._ids: tuple[NDArray[np.uint64], NDArray[np.uint64]] | None = None  # sorted ids, keys
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

    def add(self, ids: NDArray[np.uint64], vectors: Embeddings,
            fingerprints: NDArray[np.uint64] | None = None) -> None:
        """Store the vectors of catalog `ids` (replacing any they had) with the fingerprints of
        what they embed."""
        ids = np.asarray(ids, dtype=np.uint64)
        # usearch takes aligned rows only: an array unpickled from a network frame may not be
        vectors = np.require(vectors, dtype=np.float32, requirements=["C", "A"])  # (n, dim)
        if len(ids) == 0:
            return
        if vectors.shape != (len(ids), self.dim):
            raise ValueError(f"expected ({len(ids)}, {self.dim}) vectors, got {vectors.shape}")
        keys = vector_keys(ids, fingerprints)
        with self._lock:
            self._ensure_writable()
            old = self._stored_of(ids)
            if len(old):  # re-adding an id replaces its vector
                self._index.remove(old)
            self._index.add(keys, vectors)
            self._changed()

    def remove(self, ids: NDArray[np.uint64]) -> None:
        """Forget the vectors of catalog `ids` (whatever their fingerprints)."""
        ids = np.asarray(ids, dtype=np.uint64)
        if len(ids) == 0:
            return
        with self._lock:
            self.remove_keys(self._stored_of(ids))

    def remove_keys(self, keys: NDArray[np.uint64]) -> None:
        keys = np.asarray(keys, dtype=np.uint64)
        if len(keys) == 0:
            return
        with self._lock:
            self._ensure_writable()
            self._index.remove(keys)
            self._changed()

    def contains(self, ids: NDArray[np.uint64]) -> NDArray[np.bool_]:
        ids = np.asarray(ids, dtype=np.uint64)
        if len(ids) == 0:
            return np.zeros(0, dtype=bool)
        with self._lock:
            return np.isin(ids, self._id_table()[0])

    def stored_keys(self) -> NDArray[np.uint64]:
        """Every key as stored: fingerprint and id."""
        with self._lock:
            return np.asarray(self._index.keys, dtype=np.uint64)

    def keys(self) -> NDArray[np.uint64]:
        """The catalog ids that have a vector (an id twice if it has two: a fault)."""
        return self.stored_keys() & np.uint64(ID_MASK)

    def get(self, ids: NDArray[np.uint64]) -> Embeddings:
        """The stored vectors of catalog `ids`; a zero row for an id without one (dropped since
        the caller looked: no evidence, never another id's vector)."""
        ids = np.asarray(ids, dtype=np.uint64)
        out = np.zeros((len(ids), self.dim), dtype=np.float32)  # (n, dim)
        with self._lock:
            sorted_ids, keys = self._id_table()
            if not len(ids) or not len(sorted_ids):
                return out
            at = np.minimum(np.searchsorted(sorted_ids, ids), len(sorted_ids) - 1)
            found = sorted_ids[at] == ids
            if np.any(found):
                rows = np.asarray(self._index.get(keys[at[found]]), dtype=np.float32)
                out[found] = rows.reshape(int(found.sum()), self.dim)
            return out

    def search(self, vector: Vector, k: int, *, exact: bool = False) -> list[tuple[int, float]]:
        """Top-k (catalog id, cosine similarity), best first."""
        with self._lock:
            n = len(self._index)
            if n == 0 or k <= 0:
                return []
            matches = self._index.search(np.asarray(vector, dtype=np.float32), min(k, n), exact=exact)
            return [(int(key) & ID_MASK, float(1.0 - dist))
                    for key, dist in zip(matches.keys, matches.distances)]

    def _changed(self) -> None:
        self._dirty = True
        self._ids = None

    def _id_table(self) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
        """(sorted ids, their keys), rebuilt after a change."""
        if self._ids is None:
            keys = self.stored_keys()
            ids = keys & np.uint64(ID_MASK)
            order = np.argsort(ids, kind="stable")
            self._ids = (ids[order], keys[order])
        return self._ids

    def _stored_of(self, ids: NDArray[np.uint64]) -> NDArray[np.uint64]:
        """The stored keys of catalog `ids` (all of them, should an id have two)."""
        sorted_ids, keys = self._id_table()
        return keys[np.isin(sorted_ids, ids)]

    def save(self) -> None:
        with self._lock:
            if not self._dirty and self.path.exists():
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(self.path.name + ".tmp")
            self._index.save(str(tmp))
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
            fault_point("saving")
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
