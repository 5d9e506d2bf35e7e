"""Site adaptation's output: a new pack version with the adapted towers (torch for the export)."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import PackError
from engine.learn.adapt_data import AdaptData
from engine.learn.train_image import image_tower_weights

if TYPE_CHECKING:
    from engine.learn.adapt import AdaptConfig


def write_version(base, out_dir: Path, cfg: "AdaptConfig", pairs_csv: Path, data: AdaptData, text_tower,
                  image_tower, meta, metrics: dict) -> tuple[Path, str]:
    """The new pack version: the adapted towers' ONNX graphs and weights, the rest of the base pack.
    Returns (its folder, its pack id)."""
    import torch

    from engine.encoders.pack import make_pack_id, write_pack
    from engine.learn.export_image import export_image_tower

    stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
    version = f"{base.version}+site.{stamp}"
    pack_id = make_pack_id(base.name, version)
    dest = Path(out_dir) / pack_id
    work = Path(out_dir) / f".{pack_id}.work"
    work.mkdir(parents=True, exist_ok=True)
    manifest = json.loads(json.dumps(base.manifest))
    provenance = {"kind": "adapt", "parent": base.pack_id, "pairs_csv": str(pairs_csv),
                  "train_queries": len(data.train), "val_queries": len(data.val),
                  "config": {**asdict(replace(cfg, loss=None, text_loss=None)), "loss": asdict(cfg.loss),
                             "text_loss": asdict(cfg.text_loss)}, "seed": cfg.seed}
    text = manifest["text"]
    files = {text["file"]: base.path / text["file"]}
    if text.get("tokenizer"):
        files[text["tokenizer"]] = base.path / text["tokenizer"]
    if text.get("weights"):
        files[text["weights"]] = base.path / text["weights"]
    try:
        if text_tower is not None:
            from engine.learn.text_tower import TUNED_FILE, export_text_tower

            checks = export_text_tower(text_tower, work, base.path / text["tokenizer"])
            text.update({"file": "text.onnx", "tokenizer": "tokenizer.json", "weights": TUNED_FILE,
                         "quantization": "none", "training": {**provenance, "pairs": metrics["text_pairs"]},
                         "checks": checks})
            files = {"text.onnx": work / "text.onnx", "tokenizer.json": work / "tokenizer.json",
                     TUNED_FILE: work / TUNED_FILE}
        if manifest.get("image"):
            if image_tower is not None:
                section = export_image_tower(image_tower, work, spec=data.spec, measure=False,
                                             provenance={**provenance, "base_training": meta.get("provenance", {})})
                torch.save({"tower": image_tower.state_dict(), "tower_config": image_tower.cfg.to_dict(),
                            "meta": {"image_spec": data.spec, "provenance": provenance}}, work / "tower.pt")
                manifest["image"] = {**manifest["image"], **section}
                files.update({"image.onnx": work / "image.onnx", "tower.pt": work / "tower.pt"})
            else:
                files[manifest["image"]["file"]] = base.path / manifest["image"]["file"]
                try:
                    files["tower.pt"] = image_tower_weights(base.path, base.manifest)
                except PackError:
                    pass  # a pack without training weights stays one
        manifest.update({"version": version, "parent": base.pack_id, "metrics": metrics,
                         "created": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")})
        write_pack(dest, manifest, files)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return dest, pack_id
