"""Export the image tower to ONNX, check it against torch, and write the manifest "image" section.

    python -m engine.learn.export_image --checkpoint resources/models/image_tower/tower.pt \
        --out resources/models/image_tower

Writes `image.onnx` (input "pixels" (batch, 1, H, W) float32, normalised per the manifest: the runtime
letterboxes onto white, scales to [0, 1] and applies (x - mean) / std; outputs "embedding" (batch, dim)
and "patches" (batch, h, w, dim), both L2-normalised) and `image.json` (the section the default-pack
builder copies into manifest.json). The export fails (PackError) unless onnxruntime agrees with torch
to cosine >= 0.999 on every test image.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from engine.errors import PackError
from engine.files import file_digest

DEFAULT_SPEC: dict[str, Any] = {
    "size": [256, 256], "channels": 1, "resize": "letterbox", "pad_value": 1.0,
    "mean": [0.5], "std": [0.5], "interpolation": "bicubic",
}
PARITY_MIN_COSINE = 0.999


def sha256_file(path: Path) -> str:
    return file_digest(path, "sha256")


def _export_module(tower):
    import torch
    import torch.nn.functional as F

    class _Export(torch.nn.Module):
        def __init__(self, tower) -> None:
            super().__init__()
            self.tower = tower

        def forward(self, pixels: torch.Tensor):
            emb, patches = self.tower(pixels)  # (B, dim), (B, h, w, dim)
            return emb, F.normalize(patches, dim=-1)

    return _Export(tower).eval()


def export_onnx(tower, path: Path, size: Sequence[int], opset: int = 17) -> None:
    """Trace `tower` (eval mode) to ONNX with a dynamic batch axis."""
    import torch

    tower.eval()
    module = _export_module(tower)
    dummy = torch.zeros(2, tower.cfg.in_channels, int(size[0]), int(size[1]))  # (2, 1, H, W)
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # the TorchScript exporter: no onnxscript here
        torch.onnx.export(module, (dummy,), str(path), dynamo=False, opset_version=opset,
                          input_names=["pixels"], output_names=["embedding", "patches"],
                          dynamic_axes={"pixels": {0: "batch"}, "embedding": {0: "batch"},
                                        "patches": {0: "batch"}},
                          do_constant_folding=True)


def _session(path: Path, threads: int = 2):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])


def check_parity(tower, path: Path, pixels: np.ndarray, min_cosine: float = PARITY_MIN_COSINE) -> dict:
    """Run torch and onnxruntime on `pixels` (n, 1, H, W); raise PackError below `min_cosine`."""
    import torch

    tower.eval()
    with torch.no_grad():
        t_emb, t_patch = _export_module(tower)(torch.from_numpy(pixels))  # (n, dim), (n, h, w, dim)
    o_emb, o_patch = _session(path).run(["embedding", "patches"], {"pixels": pixels})
    t_emb, t_patch = t_emb.numpy(), t_patch.numpy()
    cos = (t_emb * o_emb).sum(axis=1) / (np.linalg.norm(t_emb, axis=1) * np.linalg.norm(o_emb, axis=1))  # (n,)
    pcos = (t_patch * o_patch).sum(-1)  # (n, h, w) both normalised
    report = {"min_cosine": float(cos.min()), "min_patch_cosine": float(pcos.min()),
              "max_abs_diff": float(np.abs(t_emb - o_emb).max()), "images": int(len(pixels))}
    if report["min_cosine"] < min_cosine or report["min_patch_cosine"] < min_cosine - 0.009:
        raise PackError(f"ONNX export of the image tower disagrees with torch: {report}")
    return report


def measure_throughput(path: Path, size: Sequence[int], batch: int = 16, threads: int = 2,
                       repeats: int = 3) -> float:
    """Images per second of the ONNX tower alone (preprocessing excluded), best of `repeats`."""
    sess = _session(path, threads)
    x = np.random.default_rng(0).standard_normal((batch, 1, int(size[0]), int(size[1]))).astype(np.float32)
    sess.run(["embedding"], {"pixels": x})  # warm-up
    best = 0.0
    for _ in range(repeats):
        t = time.perf_counter()
        sess.run(["embedding"], {"pixels": x})
        best = max(best, batch / (time.perf_counter() - t))
    return best


def export_image_tower(tower, out_dir: Path, *, spec: dict | None = None, parity_pixels: np.ndarray | None = None,
                       provenance: dict | None = None, measure: bool = True) -> dict:
    """Export + parity check + manifest section; returns the "image" section (also written to image.json)."""
    spec = dict(DEFAULT_SPEC if spec is None else spec)
    out_dir = Path(out_dir)
    onnx_path = out_dir / "image.onnx"
    export_onnx(tower, onnx_path, spec["size"])
    if parity_pixels is None:
        rng = np.random.default_rng(0)
        parity_pixels = rng.uniform(-1, 1, (3, tower.cfg.in_channels, *spec["size"])).astype(np.float32)
    parity = check_parity(tower, onnx_path, parity_pixels.astype(np.float32))
    h, w = spec["size"]
    section = {
        "file": "image.onnx", "sha256": sha256_file(onnx_path), "bytes": onnx_path.stat().st_size,
        "input": "pixels", "output": "embedding", "patch_output": "patches",
        **spec, "normalize": True, "dim": tower.cfg.dim, "patch_grid": [h // 32, w // 32],
        "architecture": {"name": "zumen-mnv3-gray", **tower.cfg.to_dict()},
        "parity": parity,
        "training": provenance or {},
    }
    if measure:
        section["images_per_s_2threads"] = round(measure_throughput(onnx_path, spec["size"]), 1)
    (out_dir / "image.json").write_text(json.dumps(section, indent=1, ensure_ascii=False) + "\n",
                                         encoding="utf-8")
    return section


def load_checkpoint(path: Path):
    """tower.pt (written by pretrain / adapt) -> (ImageTower in eval mode, saved metadata)."""
    import torch

    from engine.learn.model import ImageTower, TowerConfig

    state = torch.load(str(path), map_location="cpu", weights_only=False)
    tower = ImageTower(TowerConfig.from_dict(state["tower_config"]))
    tower.load_state_dict(state["tower"])
    return tower.eval(), state.get("meta", {})


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--checkpoint", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(2)
    tower, meta = load_checkpoint(args.checkpoint)
    spec = meta.get("image_spec") or DEFAULT_SPEC
    section = export_image_tower(tower, args.out, spec=spec, provenance=meta.get("provenance", {}))
    print(json.dumps({k: section[k] for k in ("sha256", "bytes", "parity", "images_per_s_2threads")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
