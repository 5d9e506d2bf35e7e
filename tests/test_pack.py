"""Model pack manifest: validation errors, hash verification and its cache, writing and listing packs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")

from engine.encoders import ModelPack, list_packs, make_pack_id, validate_manifest, write_pack  # noqa: E402
from engine.encoders import pack as pack_module  # noqa: E402
from tests.tiny_pack import build_tiny_pack  # noqa: E402
from engine.errors import PackError  # noqa: E402
from PIL import Image  # noqa: E402


@pytest.fixture
def tiny(tmp_path: Path) -> Path:
    return build_tiny_pack(tmp_path / "tiny")


def _edit_manifest(pack: Path, edit) -> None:
    manifest = json.loads((pack / "manifest.json").read_text(encoding="utf-8"))
    edit(manifest)
    (pack / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def test_tiny_pack_loads_with_info(tiny: Path) -> None:
    pack = ModelPack.load(tiny)
    assert pack.pack_id == "tiny-0.1.0"
    info = pack.info
    assert (info.name, info.version, info.text_dim, info.has_image_tower) == ("tiny", "0.1.0", 16, True)
    assert info.path == str(tiny)
    assert not list(tiny.parent.glob(".tiny.*")), "staging folders must not be left behind"


def test_missing_folder_and_manifest(tmp_path: Path) -> None:
    with pytest.raises(PackError, match="folder does not exist"):
        ModelPack.load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(PackError, match="manifest.json is missing"):
        ModelPack.load(tmp_path / "empty")


def test_unreadable_manifest(tiny: Path) -> None:
    (tiny / "manifest.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(PackError, match="not readable JSON"):
        ModelPack.load(tiny)


def test_wrong_format(tiny: Path) -> None:
    _edit_manifest(tiny, lambda m: m.update(format="zumen-pack/9"))
    with pytest.raises(PackError, match=r"unsupported manifest format 'zumen-pack/9'"):
        ModelPack.load(tiny)


def test_missing_required_keys(tiny: Path) -> None:
    _edit_manifest(tiny, lambda m: m["text"].pop("output"))
    with pytest.raises(PackError, match=r"'text' lacks required key\(s\): output"):
        ModelPack.load(tiny)
    _edit_manifest(tiny, lambda m: m.pop("dim"))
    with pytest.raises(PackError, match=r"lacks required key\(s\): dim"):
        ModelPack.load(tiny)


@pytest.mark.parametrize("edit, message", [
    (lambda m: m["text"].update(pooling="max"), "pooling 'max' is not one of"),
    (lambda m: m["image"].update(channels=2), "channels must be 1 or 3"),
    (lambda m: m["image"].update(mean=[0.5, 0.5]), "mean must list 1 value"),
    (lambda m: m["image"].update(std=[0.0]), "std values must be > 0"),
    (lambda m: m["image"].update(resize="stretch"), "resize 'stretch' is not one of"),
    (lambda m: m["image"].update(size=[224]), r"size must be \[height, width\]"),
    (lambda m: m.update(dim=-3), "dim must be a positive integer"),
    (lambda m: m["image"].update(dim=512), "image tower dimension 512 differs from the pack's dim 16"),
    (lambda m: m["text"].update(file="../text.onnx"), "must be a plain name inside the pack"),
])
def test_invalid_values_are_named(tiny: Path, edit, message: str) -> None:
    _edit_manifest(tiny, edit)
    with pytest.raises(PackError, match=message):
        ModelPack.load(tiny)


def test_missing_file(tiny: Path) -> None:
    (tiny / "image.onnx").unlink()
    with pytest.raises(PackError, match="image file image.onnx is missing"):
        ModelPack.load(tiny)


def test_bad_sha_is_detected_even_after_a_cached_verification(tiny: Path) -> None:
    ModelPack.load(tiny)  # verified and cached
    data = bytearray((tiny / "text.onnx").read_bytes())
    data[-1] ^= 0xFF  # same size; the mtime changes
    (tiny / "text.onnx").write_bytes(bytes(data))
    with pytest.raises(PackError, match="text file text.onnx is damaged or was replaced"):
        ModelPack.load(tiny)
    ModelPack.load(tiny, verify=False)  # existence checks only


def test_bad_tokenizer_sha(tiny: Path) -> None:
    _edit_manifest(tiny, lambda m: m["text"].update(tokenizer_sha256="0" * 64))
    with pytest.raises(PackError, match="text tokenizer file tokenizer.json is damaged"):
        ModelPack.load(tiny)


def test_verification_is_cached_by_size_and_mtime(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ModelPack.load(tiny)
    assert (tiny / ".verified.json").is_file()
    pack_module._HASH_CACHE.clear()  # a new process: only the stamp file remains

    def no_hashing(path: Path) -> str:
        raise AssertionError(f"{path} was hashed again")

    monkeypatch.setattr(pack_module, "file_sha256", no_hashing)
    ModelPack.load(tiny)
    os.utime(tiny / "text.onnx")  # touched: must be hashed again
    with pytest.raises(AssertionError, match="hashed again"):
        ModelPack.load(tiny)


def test_read_only_stamp_failure_is_harmless(tiny: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tiny / ".verified.json").unlink()
    monkeypatch.setattr(Path, "write_text", lambda *a, **k: (_ for _ in ()).throw(PermissionError("ro")))
    ModelPack.load(tiny)


def test_pack_id_is_filesystem_safe() -> None:
    assert make_pack_id("default", "1.0.0") == "default-1.0.0"
    pack_id = make_pack_id("Our Site/図面", "2.0 beta:1")
    assert pack_id == "Our_Site_-2.0_beta_1"
    assert make_pack_id("..", "") == "pack"


def test_validate_manifest_rejects_non_objects() -> None:
    with pytest.raises(PackError, match="must be a JSON object"):
        validate_manifest([], "x")


def test_write_pack_replaces_and_list_packs(tmp_path: Path) -> None:
    folder = tmp_path / "packs"
    build_tiny_pack(folder / "a", name="site", version="1")
    build_tiny_pack(folder / "b", name="site", version="2", image=False)
    (folder / "broken").mkdir()
    (folder / "broken" / "manifest.json").write_text("{}", encoding="utf-8")
    (folder / "not-a-pack").mkdir()
    infos = list_packs(folder)
    assert sorted((i.version, i.has_image_tower) for i in infos) == [("1", True), ("2", False)]
    assert list_packs(tmp_path / "absent") == []

    manifest = json.loads((folder / "a" / "manifest.json").read_text(encoding="utf-8"))
    manifest["version"] = "1.1"
    src = tmp_path / "src"
    src.mkdir()
    for name in ("text.onnx", "tokenizer.json", "image.onnx"):
        (src / name).write_bytes((folder / "a" / name).read_bytes())
    write_pack(folder / "a", manifest, {n: src / n for n in ("text.onnx", "tokenizer.json", "image.onnx")})
    assert ModelPack.load(folder / "a").version == "1.1"
    assert (src / "text.onnx").exists(), "copy mode keeps the sources"
    assert sorted(p.name for p in folder.iterdir()) == ["a", "b", "broken", "not-a-pack"]


def test_write_pack_requires_every_named_file(tmp_path: Path, tiny: Path) -> None:
    manifest = json.loads((tiny / "manifest.json").read_text(encoding="utf-8"))
    with pytest.raises(PackError, match="image file image.onnx was not given"):
        write_pack(tmp_path / "new", manifest, {"text.onnx": tiny / "text.onnx",
                                                "tokenizer.json": tiny / "tokenizer.json"})
    assert not (tmp_path / "new").exists()
    assert not list(tmp_path.glob(".new.*"))


def test_pack_without_image_tower(tmp_path: Path) -> None:
    pack = ModelPack.load(build_tiny_pack(tmp_path / "t", image=False))
    assert pack.image_encoder() is None
    assert pack.text_encoder().encode(["shaft"]).shape == (1, 16)


def test_clip_style_pack_end_to_end(tmp_path: Path) -> None:
    """Both towers, 3-channel center_crop input, own mean/std, no token_type_ids, token-level eos pooling."""
    pack = ModelPack.load(build_tiny_pack(tmp_path / "clip", style="clip"))
    image_spec = pack.manifest["image"]
    assert (image_spec["channels"], image_spec["resize"]) == (3, "center_crop")
    assert "token_type_ids" not in pack.manifest["text"]["inputs"]
    text = pack.text_encoder()
    vectors = text.encode(["stainless shaft", "aluminium plate drawing", "shaft"])  # (3, 16)
    assert vectors.shape == (3, 16) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] < 0.999, "eos pooling must see the whole text"
    images = pack.image_encoder()
    assert images is not None and images.has_patches
    photos = [Image.new("RGB", (640, 480), (200, 30, 30)), Image.new("RGB", (300, 500), (20, 20, 220))]
    embedded = images.encode(photos)  # (2, 16)
    assert embedded.shape == (2, 16)
    np.testing.assert_allclose(np.linalg.norm(embedded, axis=1), 1.0, atol=1e-5)
    assert images.patch_embeddings(photos[0]).shape == (4, 4, 16)


def test_a_pack_truncating_elsewhere_files_its_own_text_vectors(tmp_path: Path) -> None:
    """The same text graph with another `max_length` embeds other vectors: a library opened with
    it embeds its chunks again into their own index instead of trusting the old ones; the image
    tower's vectors (same graph, nothing changed) stay shared. 256 keeps the graph-hash name."""
    from engine.api import Engine
    from engine.library import pack_tower_id

    long_pack = build_tiny_pack(tmp_path / "long")
    _edit_manifest(long_pack, lambda m: m["text"].update(max_length=256))
    short_pack = build_tiny_pack(tmp_path / "short")
    _edit_manifest(short_pack, lambda m: m["text"].update(max_length=4))
    long_, short = ModelPack.load(long_pack), ModelPack.load(short_pack)
    sha = long_.manifest["text"]["sha256"]
    assert pack_tower_id(long_, "text") == f"text-{sha[:16]}"
    assert pack_tower_id(short, "text") == f"text-{sha[:16]}-L4"
    assert pack_tower_id(short, "image") == pack_tower_id(long_, "image")

    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "spec.txt").write_text("stainless shaft ground finish hardened bearing seat keyway " * 3,
                                   encoding="utf-8")
    with Engine.open(tmp_path / "lib", pack=long_pack) as engine:
        engine.index([docs])
        long_vectors = engine._lib.text_index.get(engine._lib.text_index.keys())
    with Engine.open(tmp_path / "lib", pack=short_pack) as engine:
        report = engine.index([docs])
        short_vectors = engine._lib.text_index.get(engine._lib.text_index.keys())
    assert report.embed_s > 0 and len(short_vectors) == len(long_vectors) > 0
    assert not np.allclose(short_vectors, long_vectors), "truncated at 4 tokens, the vectors differ"
    assert sorted(p.name for p in (tmp_path / "lib" / "vectors").iterdir() if p.name.startswith("text")) == \
        [f"text-{sha[:16]}", f"text-{sha[:16]}-L4"]
