"""Text tower: `tokenizers` + onnxruntime -> L2-normalised sentence embeddings.

The shipped tokenizer.json of all-MiniLM-L6-v2 pads every input to 128 tokens; here padding is
switched off in the tokenizer and done per batch to the longest member (inputs sorted by length so
batches hold similar lengths), and truncation follows the manifest's `max_length`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from numpy.typing import NDArray

from engine.encoders.session import create_session, l2_normalize, ports, require_ports
from engine.errors import PackError
from engine.types import Embeddings

_ROLES = ("input_ids", "attention_mask", "token_type_ids")
_PAD_TOKENS = ("[PAD]", "<pad>", "<|pad|>", "<|endoftext|>")


def _load_tokenizer(path: Path, max_length: int) -> tuple[Any, int]:
    """The tokenizer with padding off and truncation at `max_length`, and its pad id."""
    from tokenizers import Tokenizer

    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as err:  # tokenizers raises a bare Exception on malformed JSON
        raise PackError(f"cannot read tokenizer {path}: {err}") from None
    shipped = tokenizer.padding
    pad_id = shipped["pad_id"] if shipped else None
    if pad_id is None:
        pad_id = next((tokenizer.token_to_id(t) for t in _PAD_TOKENS if tokenizer.token_to_id(t) is not None), 0)
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=max_length)
    return tokenizer, int(pad_id)


def pool_tokens(tokens: NDArray[np.float32], mask: NDArray[np.int64], pooling: str) -> NDArray[np.float32]:
    """Token-level output -> one vector per row. `tokens` (b, s, d), `mask` (b, s) of 0/1."""
    if pooling == "cls":
        return tokens[:, 0, :]  # (b, d)
    if pooling == "eos":  # last attended token (CLIP's end-of-text with right padding)
        last = np.maximum(mask.sum(axis=1) - 1, 0)  # (b,)
        return tokens[np.arange(tokens.shape[0]), last, :]  # (b, d)
    if pooling == "mean":
        weights = mask[:, :, None].astype(np.float32)  # (b, s, 1)
        summed = (tokens * weights).sum(axis=1)  # (b, d)
        return summed / np.maximum(weights.sum(axis=1), 1e-9)  # (b, d)
    raise PackError(f"unknown text pooling {pooling!r}")


@dataclass
class TextEncoder:
    """Encodes strings into the pack's shared embedding space."""

    session: Any
    tokenizer: Any
    dim: int
    pad_id: int
    feeds: dict[str, tuple[str, type]]  # role -> (graph input name, numpy dtype)
    output: str
    pooling: str = "none"
    normalize: bool = True
    max_length: int = 256

    @classmethod
    def from_spec(cls, folder: Path, spec: Mapping[str, Any], dim: int, threads: int = 0) -> "TextEncoder":
        """Build from a manifest "text" section; `folder` holds the files it names."""
        model = Path(folder) / spec["file"]
        session = create_session(model, threads)
        max_length = int(spec.get("max_length", 256))
        tokenizer, pad_id = _load_tokenizer(Path(folder) / spec["tokenizer"], max_length)
        pad_id = int(spec.get("pad_id", pad_id))
        graph_inputs = ports(session, "inputs")
        mapping = dict(spec.get("inputs") or {r: r for r in _ROLES})
        feeds: dict[str, tuple[str, type]] = {}
        for role in _ROLES:
            name = mapping.get(role)
            if name and name in graph_inputs:
                feeds[role] = (name, graph_inputs[name].dtype)
        unfed = set(graph_inputs) - {name for name, _ in feeds.values()}
        if unfed or "input_ids" not in feeds:
            raise PackError(f"{model.name}: graph inputs {sorted(graph_inputs)} do not match the manifest "
                            f"text inputs {mapping}")
        require_ports(session, model, [], [spec["output"]])
        return cls(session=session, tokenizer=tokenizer, dim=int(dim), pad_id=pad_id, feeds=feeds,
                   output=str(spec["output"]), pooling=str(spec.get("pooling", "none")),
                   normalize=bool(spec.get("normalize", True)), max_length=max_length)

    def encode(self, texts: Sequence[str], batch_size: int = 32) -> Embeddings:
        """(n, dim) float32, rows L2-normalised (when the manifest says so), in input order."""
        if isinstance(texts, str):
            raise TypeError("encode() takes a sequence of strings, not one string")
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        encodings = self.tokenizer.encode_batch([t if isinstance(t, str) else str(t) for t in texts])
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids), reverse=True)
        out = np.empty((len(texts), self.dim), dtype=np.float32)  # (n, dim)
        for start in range(0, len(order), max(1, batch_size)):
            chunk = order[start:start + max(1, batch_size)]
            out[chunk] = self._run([encodings[i] for i in chunk])
        return l2_normalize(out) if self.normalize else out

    def token_counts(self, texts: Sequence[str]) -> list[int]:
        """Tokens each text is encoded with (after truncation): what a batch is padded to."""
        return [len(e.ids) for e in self.tokenizer.encode_batch(list(texts))]

    def encode_one(self, text: str) -> NDArray[np.float32]:
        """(dim,) vector of one query string."""
        return self.encode([text])[0]

    def _run(self, encodings: list) -> NDArray[np.float32]:
        """Pad one batch to its longest member and run the graph -> (b, dim)."""
        width = max(1, max(len(e.ids) for e in encodings))
        ids = np.full((len(encodings), width), self.pad_id, dtype=np.int64)  # (b, s)
        mask = np.zeros((len(encodings), width), dtype=np.int64)  # (b, s)
        types = np.zeros((len(encodings), width), dtype=np.int64)  # (b, s)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            if n == 0:  # a tokenizer without special tokens turns "" into nothing: feed one pad token
                mask[row, 0] = 1
                continue
            ids[row, :n] = enc.ids
            mask[row, :n] = 1
            types[row, :n] = enc.type_ids
        arrays = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        feed = {name: arrays[role].astype(dtype, copy=False) for role, (name, dtype) in self.feeds.items()}
        result = self.session.run([self.output], feed)[0]
        if result.ndim == 3:  # token-level (b, s, d)
            if self.pooling == "none":
                raise PackError(f"text output {self.output!r} is token-level; the manifest must set pooling")
            result = pool_tokens(result, mask, self.pooling)
        if result.shape[-1] != self.dim:
            raise PackError(f"text output has dimension {result.shape[-1]}, the manifest says {self.dim}")
        return result.astype(np.float32, copy=False)  # (b, dim)
