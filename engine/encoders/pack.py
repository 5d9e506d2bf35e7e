"""Model packs: a folder with `manifest.json`, ONNX towers and a tokenizer.

A pack is what the runtime loads and what exporters write (see docs/encoders.md):

    PACK/
      manifest.json        format "zumen-pack/1", dims, per-tower file + sha256 + preprocessing
      text.onnx            text tower (required)
      tokenizer.json       Hugging Face `tokenizers` file of the text tower
      image.onnx           image tower (optional; manifest "image": null without one)
      .verified.json       cache of checked hashes, keyed by (size, mtime); never required

`ModelPack.load` validates the manifest and the files, raising `PackError` with a message that names
the pack, the key or file, and what is wrong. Hashing a 90 MB tower takes ~0.3 s, so a verified
(size, mtime_ns, sha256) stamp is cached in memory and in `.verified.json` (best effort: a read-only
install folder simply re-hashes once per process).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Optional

from engine.errors import PackError
from engine.files import file_digest
from engine.types import PackInfo

if TYPE_CHECKING:  # runtime imports are lazy: loading a manifest needs no onnxruntime
    from engine.encoders.image import ImageEncoder
    from engine.encoders.text import TextEncoder

log = logging.getLogger(__name__)

PACK_FORMAT = "zumen-pack/1"
MANIFEST_NAME = "manifest.json"
STAMP_NAME = ".verified.json"

TEXT_POOLING = ("none", "mean", "cls", "eos")
IMAGE_RESIZE = ("letterbox", "squash", "center_crop")
_TOP_KEYS = ("format", "name", "version", "dim", "text")
_TEXT_KEYS = ("file", "sha256", "tokenizer", "output")
_IMAGE_KEYS = ("file", "sha256", "input", "output", "size", "channels", "resize", "mean", "std")
_SAFE_ID = re.compile(r"[^A-Za-z0-9._-]+")

# (absolute path, size, mtime_ns) -> sha256 of files hashed by this process
_HASH_CACHE: dict[tuple[str, int, int], str] = {}
_HASH_LOCK = threading.Lock()


# --------------------------------------------------------------------------- manifest checks


def _need(section: Mapping[str, Any], keys: tuple[str, ...], where: str, pack: str) -> None:
    missing = [k for k in keys if k not in section]
    if missing:
        raise PackError(f"pack {pack}: manifest {where} lacks required key(s): {', '.join(missing)}")


def _check_text(text: Any, pack: str) -> None:
    if not isinstance(text, dict):
        raise PackError(f"pack {pack}: manifest 'text' must be an object")
    _need(text, _TEXT_KEYS, "'text'", pack)
    pooling = text.get("pooling", "none")
    if pooling not in TEXT_POOLING:
        raise PackError(f"pack {pack}: text pooling {pooling!r} is not one of {', '.join(TEXT_POOLING)}")
    max_length = text.get("max_length", 256)
    if not isinstance(max_length, int) or max_length < 2:
        raise PackError(f"pack {pack}: text max_length must be an integer >= 2, got {max_length!r}")
    inputs = text.get("inputs", {})
    if not isinstance(inputs, dict) or not set(inputs) <= {"input_ids", "attention_mask", "token_type_ids"}:
        raise PackError(f"pack {pack}: text inputs must map input_ids/attention_mask/token_type_ids "
                        f"to graph input names, got {inputs!r}")


def _check_image(image: Any, pack: str) -> None:
    if not isinstance(image, dict):
        raise PackError(f"pack {pack}: manifest 'image' must be an object or null")
    _need(image, _IMAGE_KEYS, "'image'", pack)
    channels = image["channels"]
    if channels not in (1, 3):
        raise PackError(f"pack {pack}: image channels must be 1 or 3, got {channels!r}")
    size = image["size"]
    if (not isinstance(size, (list, tuple)) or len(size) != 2
            or not all(isinstance(s, int) and s > 0 for s in size)):
        raise PackError(f"pack {pack}: image size must be [height, width] in pixels, got {size!r}")
    if image["resize"] not in IMAGE_RESIZE:
        raise PackError(f"pack {pack}: image resize {image['resize']!r} is not one of "
                        f"{', '.join(IMAGE_RESIZE)}")
    for key in ("mean", "std"):
        values = image[key]
        if not isinstance(values, (list, tuple)) or len(values) != channels:
            raise PackError(f"pack {pack}: image {key} must list {channels} value(s), got {values!r}")
    if any(float(s) <= 0 for s in image["std"]):
        raise PackError(f"pack {pack}: image std values must be > 0")


def validate_manifest(manifest: Any, pack: str = "?") -> None:
    """Raise PackError naming the first problem of a manifest dict (files are not checked here)."""
    if not isinstance(manifest, dict):
        raise PackError(f"pack {pack}: manifest must be a JSON object")
    fmt = manifest.get("format")
    if fmt != PACK_FORMAT:
        raise PackError(f"pack {pack}: unsupported manifest format {fmt!r} (expected {PACK_FORMAT!r})")
    _need(manifest, _TOP_KEYS, "", pack)
    dim = manifest["dim"]
    if not isinstance(dim, int) or dim <= 0:
        raise PackError(f"pack {pack}: manifest dim must be a positive integer, got {dim!r}")
    for key in ("name", "version"):
        if not isinstance(manifest[key], str) or not manifest[key].strip():
            raise PackError(f"pack {pack}: manifest {key} must be a non-empty string")
    _check_text(manifest["text"], pack)
    if manifest.get("image") is not None:
        _check_image(manifest["image"], pack)
    for tower in ("text", "image"):  # optional per-tower "dim": both towers share one space
        own = (manifest.get(tower) or {}).get("dim", dim)
        if own != dim:
            raise PackError(f"pack {pack}: {tower} tower dimension {own!r} differs from the pack's dim {dim} "
                            f"(both towers must embed into one space)")


def make_pack_id(name: str, version: str) -> str:
    """'name-version' with every character outside [A-Za-z0-9._-] replaced: safe as a folder name."""
    raw = f"{name.strip()}-{version.strip()}"
    return _SAFE_ID.sub("_", raw).strip("._-") or "pack"


# --------------------------------------------------------------------------- hashing


def file_sha256(path: Path) -> str:
    return file_digest(path, "sha256")


def _read_stamps(folder: Path) -> dict[str, list]:
    try:
        data = json.loads((folder / STAMP_NAME).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_stamps(folder: Path, stamps: Mapping[str, list]) -> None:
    """Best effort: a read-only pack folder just means hashing once per process."""
    tmp = folder / f"{STAMP_NAME}.{os.getpid()}.tmp"
    try:
        tmp.write_text(json.dumps(stamps, indent=1, sort_keys=True), encoding="utf-8")
        os.replace(tmp, folder / STAMP_NAME)
    except OSError:
        tmp.unlink(missing_ok=True)


def cached_sha256(path: Path, stamps: dict[str, list]) -> str:
    """sha256 of `path`, reusing a stamp (size, mtime_ns, sha) when the file did not change.

    `stamps` (relative name -> [size, mtime_ns, sha]) is updated in place.
    """
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    stamp = stamps.get(path.name)
    with _HASH_LOCK:
        sha = _HASH_CACHE.get(key)
    if sha is None and isinstance(stamp, list) and len(stamp) == 3 and stamp[:2] == [st.st_size, st.st_mtime_ns]:
        sha = str(stamp[2])
    if sha is None:
        sha = file_sha256(path)
    with _HASH_LOCK:
        _HASH_CACHE[key] = sha
    stamps[path.name] = [st.st_size, st.st_mtime_ns, sha]
    return sha


# --------------------------------------------------------------------------- the pack


def _tower_files(manifest: Mapping[str, Any]) -> list[tuple[str, str, Optional[str]]]:
    """(tower, relative file, expected sha256 or None) for every file the manifest names."""
    text = manifest["text"]
    files = [("text", text["file"], text["sha256"]),
             ("text tokenizer", text["tokenizer"], text.get("tokenizer_sha256"))]
    image = manifest.get("image")
    if image:
        files.append(("image", image["file"], image["sha256"]))
    return files


@dataclass
class ModelPack:
    """A validated pack folder. Encoders are created on demand (each owns an onnxruntime session)."""

    path: Path
    manifest: dict

    @classmethod
    def load(cls, path: Path, *, verify: bool = True) -> "ModelPack":
        """Read and validate `path/manifest.json`; with `verify`, check every file's sha256."""
        path = Path(path)
        label = str(path)
        if not path.is_dir():
            raise PackError(f"pack {label}: folder does not exist")
        manifest_path = path / MANIFEST_NAME
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise PackError(f"pack {label}: {MANIFEST_NAME} is missing") from None
        except (OSError, UnicodeDecodeError, ValueError) as err:
            raise PackError(f"pack {label}: {MANIFEST_NAME} is not readable JSON ({err})") from None
        validate_manifest(manifest, label)
        stamps = _read_stamps(path) if verify else {}
        changed = False
        for tower, rel, expected in _tower_files(manifest):
            file = path / rel
            if Path(rel).is_absolute() or ".." in Path(rel).parts:
                raise PackError(f"pack {label}: {tower} file {rel!r} must be a plain name inside the pack")
            if not file.is_file():
                raise PackError(f"pack {label}: {tower} file {rel} is missing")
            if verify and expected:
                before = stamps.get(file.name)
                actual = cached_sha256(file, stamps)
                changed |= stamps.get(file.name) != before
                if actual != str(expected).lower():
                    raise PackError(f"pack {label}: {tower} file {rel} is damaged or was replaced "
                                    f"(sha256 {actual[:12]}… does not match the manifest's "
                                    f"{str(expected)[:12]}…)")
        if changed:
            _write_stamps(path, stamps)
        return cls(path=path, manifest=manifest)

    # ---- descriptive properties
    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def version(self) -> str:
        return str(self.manifest["version"])

    @property
    def pack_id(self) -> str:
        return make_pack_id(self.name, self.version)

    @property
    def dim(self) -> int:
        return int(self.manifest["dim"])

    @property
    def has_image_tower(self) -> bool:
        return bool(self.manifest.get("image"))

    @property
    def info(self) -> PackInfo:
        return PackInfo(name=self.name, version=self.version, path=str(self.path), text_dim=self.dim,
                        has_image_tower=self.has_image_tower, created=str(self.manifest.get("created", "")),
                        metrics=dict(self.manifest.get("metrics") or {}))

    # ---- encoders
    def text_encoder(self, threads: int = 0) -> "TextEncoder":
        from engine.encoders.text import TextEncoder

        return TextEncoder.from_spec(self.path, self.manifest["text"], self.dim, threads=threads)

    def image_encoder(self, threads: int = 0) -> "Optional[ImageEncoder]":
        if not self.has_image_tower:
            return None
        from engine.encoders.image import ImageEncoder

        return ImageEncoder.from_spec(self.path, self.manifest["image"], self.dim, threads=threads)


def list_packs(folder: Path) -> list[PackInfo]:
    """Packs found in `folder` (the folder itself and its direct subfolders), newest first.

    Folders that are not valid packs are skipped with a log warning; hashes are not checked here.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return []
    candidates = [folder] + sorted(p for p in folder.iterdir() if p.is_dir())
    infos: list[PackInfo] = []
    for candidate in candidates:
        if not (candidate / MANIFEST_NAME).is_file():
            continue
        try:
            infos.append(ModelPack.load(candidate, verify=False).info)
        except PackError as err:
            log.warning("skipping %s", err)
    return sorted(infos, key=lambda i: (i.created, i.name, i.version), reverse=True)


# --------------------------------------------------------------------------- writing packs


def write_pack(dest: Path, manifest: Mapping[str, Any], files: Mapping[str, Path], *,
               move: bool = False) -> Path:
    """Write a pack folder: copy (or move) `files` (pack-relative name -> source), fill in their sha256
    and write `manifest.json`. Returns `dest`.

    The pack is assembled in a sibling staging folder and swapped in with renames, so readers see
    either the old pack or the complete new one. Each tower section's "sha256" (and the text
    section's "tokenizer_sha256") is computed here; callers may leave them empty.
    """
    dest = Path(dest)
    manifest = json.loads(json.dumps(manifest))  # deep copy, and proves it is JSON-able
    stage = dest.parent / f".{dest.name}.staging-{os.getpid()}"
    if stage.exists():
        shutil.rmtree(stage)
    stage.mkdir(parents=True)
    try:
        stamps: dict[str, list] = {}
        hashes: dict[str, str] = {}
        for rel, src in files.items():
            target = stage / rel
            if target.parent != stage:
                raise PackError(f"pack file name {rel!r} must be a plain file name")
            (shutil.move if move else shutil.copy2)(str(src), str(target))
            hashes[rel] = cached_sha256(target, stamps)
        _fill_hashes(manifest, hashes)
        validate_manifest(manifest, str(dest))
        for tower, rel, _ in _tower_files(manifest):
            if rel not in hashes:
                raise PackError(f"pack {dest}: {tower} file {rel} was not given to write_pack")
        _write_json_atomic(stage / MANIFEST_NAME, manifest)
        _write_stamps(stage, stamps)
        _swap_in(stage, dest)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    # stamps hold mtimes, which survive the rename; refresh the in-memory cache keys for dest
    for rel, sha in hashes.items():
        st = (dest / rel).stat()
        with _HASH_LOCK:
            _HASH_CACHE[(str((dest / rel).resolve()), st.st_size, st.st_mtime_ns)] = sha
    return dest


def _fill_hashes(manifest: dict, hashes: Mapping[str, str]) -> None:
    text = manifest.get("text") or {}
    if text.get("file") in hashes:
        text["sha256"] = hashes[text["file"]]
    if text.get("tokenizer") in hashes:
        text["tokenizer_sha256"] = hashes[text["tokenizer"]]
    image = manifest.get("image") or {}
    if image.get("file") in hashes:
        image["sha256"] = hashes[image["file"]]


def _write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=2)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def _swap_in(stage: Path, dest: Path) -> None:
    old = dest.parent / f".{dest.name}.old-{os.getpid()}"
    if dest.exists():
        if old.exists():
            shutil.rmtree(old)
        os.replace(dest, old)
    try:
        os.replace(stage, dest)
    except OSError:
        if old.exists():
            os.replace(old, dest)
        raise
    shutil.rmtree(old, ignore_errors=True)
