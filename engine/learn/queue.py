"""A FIFO bank of negatives (MoCo): momentum-encoder embeddings with the id of their pair group.

The number of negatives a training step sees is then the queue size, not the batch size, which is
what makes contrastive training work with the small batches a 2-core CPU affords.

Ids are pair-group ids: every embedding of the same sample (or of the same part, several renders)
carries the same id. `negative_mask` masks the queue entries that share an anchor's id, so a sample is
never its own negative, even when an older embedding of it is still in the queue, and duplicate
positives are never pushed apart.
"""

from __future__ import annotations

import torch


class NegativeQueue:
    """Fixed-size FIFO of (embedding, id). Empty slots have id -1 and are never used."""

    def __init__(self, size: int, dim: int, dtype: torch.dtype = torch.float32) -> None:
        if size <= 0:
            raise ValueError("queue size must be positive")
        self.size, self.dim = size, dim
        self.keys = torch.zeros(size, dim, dtype=dtype)  # (K, D)
        self.ids = torch.full((size,), -1, dtype=torch.long)  # (K,)
        self.ptr = 0  # next slot to write (the oldest entry once full)
        self.count = 0  # filled slots

    def __len__(self) -> int:
        return self.count

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor, ids: torch.Tensor) -> None:
        """Append a batch, overwriting the oldest entries. keys: (B, D), ids: (B,)."""
        keys = keys.detach().to(self.keys.dtype)  # (B, D)
        ids = ids.detach().to(torch.long)  # (B,)
        if keys.shape[0] > self.size:  # only the newest `size` rows can survive
            keys, ids = keys[-self.size:], ids[-self.size:]
        n = keys.shape[0]
        idx = (self.ptr + torch.arange(n)) % self.size  # (B,)
        self.keys[idx] = keys
        self.ids[idx] = ids
        self.ptr = (self.ptr + n) % self.size
        self.count = min(self.size, self.count + n)

    def contents(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(keys (K, D), ids (K,)) of all slots, oldest first; empty slots carry id -1."""
        if self.count < self.size:
            order = torch.arange(self.size)
        else:
            order = (self.ptr + torch.arange(self.size)) % self.size
        return self.keys[order], self.ids[order]

    def negative_mask(self, anchor_ids: torch.Tensor) -> torch.Tensor:
        """(B,) anchor ids -> (B, K) bool: True where slot k is a usable negative for anchor b
        (filled, and not of the anchor's own pair group). Columns follow `contents()` order."""
        _, ids = self.contents()
        return (ids[None, :] >= 0) & (ids[None, :] != anchor_ids[:, None])  # (B, K)

    def state_dict(self) -> dict:
        return {"keys": self.keys.clone(), "ids": self.ids.clone(), "ptr": self.ptr, "count": self.count}

    def load_state_dict(self, state: dict) -> None:
        self.keys.copy_(state["keys"])
        self.ids.copy_(state["ids"])
        self.ptr, self.count = int(state["ptr"]), int(state["count"])
