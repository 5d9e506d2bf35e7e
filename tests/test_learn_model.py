"""Image tower shapes, momentum update, ONNX export parity, import boundary."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engine.learn.model import ImageTower, MomentumEncoder, TowerConfig  # noqa: E402

TINY = TowerConfig(dim=16, head_hidden=32, feature_channels=32,
                   blocks=((1, 8, 2, True), (2, 16, 2, False), (2, 16, 2, True), (2, 24, 2, True)))


def test_tower_shapes_and_normalisation():
    torch.manual_seed(0)
    tower = ImageTower(TINY).eval()
    x = torch.randn(3, 1, 96, 128)  # (B, 1, H, W)
    emb, patches = tower(x)
    assert emb.shape == (3, 16)
    assert patches.shape == (3, 3, 4, 16)  # H/32, W/32
    assert torch.allclose(emb.norm(dim=1), torch.ones(3), atol=1e-5)
    assert torch.allclose(tower.embed(x), emb, atol=1e-6)
    # the embedding is the normalised mean of the (unnormalised) patch embeddings
    mean = torch.nn.functional.normalize(patches.mean(dim=(1, 2)), dim=1)
    assert torch.allclose(mean, emb, atol=1e-5)


def test_default_tower_is_small():
    from engine.learn.model import count_parameters

    assert count_parameters(ImageTower()) < 6_000_000  # ONNX well under the 25 MB budget


def test_momentum_encoder_moves_toward_online():
    torch.manual_seed(0)
    online = torch.nn.Linear(3, 2)
    mom = MomentumEncoder(online, momentum=0.9)
    before = mom.module.weight.clone()
    with torch.no_grad():
        online.weight.add_(1.0)
    mom.update(online)
    assert torch.allclose(mom.module.weight, 0.9 * before + 0.1 * online.weight)
    assert not any(p.requires_grad for p in mom.module.parameters())


def test_onnx_export_parity_and_manifest(tmp_path):
    pytest.importorskip("onnxruntime")
    from engine.learn.export_image import export_image_tower, sha256_file

    torch.manual_seed(1)
    tower = ImageTower(TINY)
    tower.train()
    tower(torch.randn(4, 1, 64, 64))  # give BatchNorm non-trivial running statistics
    spec = {"size": [64, 96], "channels": 1, "resize": "letterbox", "pad_value": 1.0,
            "mean": [0.5], "std": [0.5], "interpolation": "bicubic"}
    section = export_image_tower(tower, tmp_path, spec=spec, provenance={"seed": 0}, measure=False)
    assert section["parity"]["min_cosine"] >= 0.999
    written = json.loads((tmp_path / "image.json").read_text(encoding="utf-8"))
    assert written["sha256"] == sha256_file(tmp_path / "image.onnx")
    assert written["size"] == [64, 96] and written["input"] == "pixels" and written["patch_output"] == "patches"
    import onnxruntime as ort

    sess = ort.InferenceSession(str(tmp_path / "image.onnx"), providers=["CPUExecutionProvider"])
    for batch in (1, 5):  # dynamic batch axis
        emb, patches = sess.run(None, {"pixels": np.zeros((batch, 1, 64, 96), np.float32)})
        assert emb.shape == (batch, 16) and patches.shape == (batch, 2, 3, 16)


def test_runtime_image_encoder_reads_the_export(tmp_path):
    """The engine's ImageEncoder (preprocessing + onnxruntime) agrees with torch on a real image."""
    pytest.importorskip("onnxruntime")
    image_mod = pytest.importorskip("engine.encoders.image")
    from PIL import Image, ImageDraw

    from engine.learn.export_image import export_image_tower

    torch.manual_seed(2)
    tower = ImageTower(TINY).eval()
    spec = {"size": [64, 64], "channels": 1, "resize": "letterbox", "pad_value": 1.0,
            "mean": [0.5], "std": [0.5], "interpolation": "bicubic"}
    section = export_image_tower(tower, tmp_path, spec=spec, measure=False)
    img = Image.new("L", (120, 80), 255)
    ImageDraw.Draw(img).rectangle((10, 10, 90, 60), outline=0, width=2)
    enc = image_mod.ImageEncoder.from_spec(tmp_path, section, dim=16)
    got = enc.encode([img])  # (1, 16)
    pixels = torch.from_numpy(image_mod.preprocess_images([img], spec))
    with torch.no_grad():
        want = tower.embed(pixels).numpy()
    assert float((got * want).sum()) > 0.999


def test_import_engine_does_not_import_torch():
    code = "import sys, engine, engine.learn; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)
