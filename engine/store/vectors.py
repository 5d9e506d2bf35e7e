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
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Protocol

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
FOLD_AFTER = 65_536  # changes KeyTable keeps beside its sorted base before merging them in


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
        self.version = 0  # counts changes: what is derived from the vectors knows when to renew
        self._table: KeyTable | None = None  # built at the first lookup, then kept up to date
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
            table = self._key_table()
            old = table.keys_of(ids)
            with self._changing():
                if len(old):  # re-adding an id replaces its vector
                    self._index.remove(old)
                    table.remove(old)
                self._index.add(keys, vectors)
                table.add(keys)

    def remove(self, ids: NDArray[np.uint64]) -> None:
        """Forget the vectors of catalog `ids` (whatever their fingerprints)."""
        ids = np.asarray(ids, dtype=np.uint64)
        if len(ids) == 0:
            return
        with self._lock:
            self.remove_keys(self._key_table().keys_of(ids))

    def remove_keys(self, keys: NDArray[np.uint64]) -> None:
        keys = np.asarray(keys, dtype=np.uint64)
        if len(keys) == 0:
            return
        with self._lock:
            self._ensure_writable()
            with self._changing():
                self._index.remove(keys)
                if self._table is not None:
                    self._table.remove(keys)

    def contains(self, ids: NDArray[np.uint64]) -> NDArray[np.bool_]:
        ids = np.asarray(ids, dtype=np.uint64)
        if len(ids) == 0:
            return np.zeros(0, dtype=bool)
        with self._lock:
            return np.isin(ids, self._key_table().pairs_of(ids)[0])

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
            sorted_ids, keys = self._key_table().pairs_of(ids)
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

    @contextmanager
    def _changing(self) -> Iterator[None]:
        """Around a change of the usearch index: marks it unsaved; should the change fail half
        done, the key table is dropped (read again from the index at the next lookup)."""
        self._dirty = True
        self.version += 1
        try:
            yield
        except BaseException:
            self._table = None
            raise

    def _key_table(self) -> KeyTable:
        """Every stored key by id: read from the index once, then kept up to date by each change."""
        if self._table is None:
            self._table = KeyTable(self.stored_keys())
        return self._table

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


class KeyTable:
    """The stored keys of a vector index by catalog id: usearch finds a vector by its whole key
    (id and fingerprint), callers speak ids.

    Kept up to date by every change rather than sorted again (sorting every key after each change
    took 0.2 s of a 32-vector add at 1M vectors, docs/capacity.md): a sorted base whose removed
    entries are masked out, and a small sorted list of the keys added since, merged into a new
    base once FOLD_AFTER changes have gathered (a merge of two sorted runs). A change of k keys
    costs a binary search of each in the base, an insertion into the small list, and a share of
    the next merge."""

    def __init__(self, keys: NDArray[np.uint64]) -> None:
        self._base_ids, self._base_keys = _by_id(keys)
        self._alive = np.ones(len(self._base_ids), dtype=bool)
        self._new_ids, self._new_keys = _by_id(np.zeros(0, dtype=np.uint64))
        self._changes = 0

    def add(self, keys: NDArray[np.uint64]) -> None:
        """Keys just added to the index (none of them there before)."""
        ids, keys = _by_id(keys)
        at = np.searchsorted(self._new_ids, ids, side="right")
        self._new_ids = np.insert(self._new_ids, at, ids)
        self._new_keys = np.insert(self._new_keys, at, keys)
        self._changed(len(keys))

    def remove(self, keys: NDArray[np.uint64]) -> None:
        """Keys just removed from the index (any not stored are ignored)."""
        keys = np.asarray(keys, dtype=np.uint64)
        ids = np.unique(keys & np.uint64(ID_MASK))
        at = _positions(self._base_ids, ids)
        self._alive[at[np.isin(self._base_keys[at], keys)]] = False
        at = _positions(self._new_ids, ids)
        at = at[np.isin(self._new_keys[at], keys)]
        self._new_ids, self._new_keys = np.delete(self._new_ids, at), np.delete(self._new_keys, at)
        self._changed(len(keys))

    def pairs_of(self, ids: NDArray[np.uint64]) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
        """(ids, keys) of every stored key of `ids`, sorted by id (an id twice if it has two keys:
        a fault recovery removes)."""
        ids = np.unique(np.asarray(ids, dtype=np.uint64))
        base = _positions(self._base_ids, ids)
        base = base[self._alive[base]]
        new = _positions(self._new_ids, ids)
        found = np.concatenate([self._base_ids[base], self._new_ids[new]])
        keys = np.concatenate([self._base_keys[base], self._new_keys[new]])
        order = np.argsort(found, kind="stable")
        return found[order], keys[order]

    def keys_of(self, ids: NDArray[np.uint64]) -> NDArray[np.uint64]:
        """Every stored key of `ids`."""
        return self.pairs_of(ids)[1]

    def _changed(self, n: int) -> None:
        self._changes += n
        if self._changes >= FOLD_AFTER:
            self._fold()

    def _fold(self) -> None:
        """The keys added since merged into the base, the removed ones dropped."""
        ids = np.concatenate([self._base_ids[self._alive], self._new_ids])
        keys = np.concatenate([self._base_keys[self._alive], self._new_keys])
        order = np.argsort(ids, kind="stable")  # timsort: two sorted runs, one merge
        self._base_ids, self._base_keys = ids[order], keys[order]
        self._alive = np.ones(len(ids), dtype=bool)
        self._new_ids, self._new_keys = self._new_ids[:0], self._new_keys[:0]
        self._changes = 0


def _by_id(keys: NDArray[np.uint64]) -> tuple[NDArray[np.uint64], NDArray[np.uint64]]:
    """(ids, keys) sorted by id."""
    keys = np.asarray(keys, dtype=np.uint64)
    ids = keys & np.uint64(ID_MASK)
    order = np.argsort(ids, kind="stable")
    return ids[order], keys[order]


def _positions(sorted_ids: NDArray[np.uint64], ids: NDArray[np.uint64]) -> NDArray[np.intp]:
    """Where `sorted_ids` holds any of `ids` (unique), every position of each."""
    lo = np.searchsorted(sorted_ids, ids, side="left")
    counts = np.searchsorted(sorted_ids, ids, side="right") - lo
    starts = lo - (np.cumsum(counts) - counts)  # the ranges laid end to end: shift back to lo
    return np.repeat(starts, counts) + np.arange(int(counts.sum()))
