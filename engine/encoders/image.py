"""Image tower: manifest-driven preprocessing + onnxruntime -> L2-normalised image embeddings.

`preprocess_images` is a pure function (PIL for resampling, numpy for the rest) so the training code
in engine.learn imports the very same preprocessing: what the tower sees at training time is what it
sees here. Steps, all driven by the manifest "image" section:

1. colour: "L" for `channels: 1`, "RGB" for 3; transparency is flattened onto white (drawings);
2. resize to `size` = [height, width]:
   - "letterbox": keep the aspect ratio, fit inside, centre on a canvas filled with `pad_value`
   - "squash": stretch to the size
   - "center_crop": scale so the short side fits, crop the centre (CLIP / SigLIP)
3. scale to [0, 1], then (x - mean) / std per channel -> (n, channels, height, width) float32.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from engine.encoders.session import create_session, l2_normalize, ports, require_ports
from engine.errors import PackError
from engine.types import Embeddings

_RESAMPLE = {
    "nearest": Image.Resampling.NEAREST,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "lanczos": Image.Resampling.LANCZOS,
    "box": Image.Resampling.BOX,
}

ImageLike = Union[Image.Image, NDArray[np.uint8]]


@dataclass(frozen=True)
class ImageSpec:
    """The preprocessing half of a manifest "image" section."""

    size: tuple[int, int]  # (height, width)
    channels: int = 1
    resize: str = "letterbox"
    pad_value: float = 1.0  # canvas colour for letterbox, in [0, 1] (1.0 = white paper)
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)
    interpolation: str = "bicubic"

    @classmethod
    def from_dict(cls, spec: Union["ImageSpec", Mapping[str, Any]]) -> "ImageSpec":
        if isinstance(spec, ImageSpec):
            return spec
        channels = int(spec.get("channels", 1))
        return cls(size=(int(spec["size"][0]), int(spec["size"][1])), channels=channels,
                   resize=str(spec.get("resize", "letterbox")), pad_value=float(spec.get("pad_value", 1.0)),
                   mean=tuple(float(v) for v in spec.get("mean", [0.5] * channels)),
                   std=tuple(float(v) for v in spec.get("std", [0.5] * channels)),
                   interpolation=str(spec.get("interpolation", "bicubic")))


def _to_pil(image: ImageLike, mode: str) -> Image.Image:
    if isinstance(image, np.ndarray):
        image = Image.fromarray(np.asarray(image, dtype=np.uint8))
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        canvas = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(canvas, rgba)
    elif image.mode in ("I", "I;16", "F"):  # 16-bit / float scans: stretch to 8 bits
        values = np.asarray(image, dtype=np.float32)  # (h, w)
        lo, hi = float(values.min()), float(values.max())
        image = Image.fromarray(((values - lo) / max(hi - lo, 1e-6) * 255).astype(np.uint8))
    return image.convert(mode)


def _resize(image: Image.Image, spec: ImageSpec) -> Image.Image:
    height, width = spec.size
    resample = _RESAMPLE.get(spec.interpolation, Image.Resampling.BICUBIC)
    w, h = image.size
    if spec.resize == "squash":
        return image.resize((width, height), resample)
    if spec.resize == "center_crop":
        scale = max(width / w, height / h)
        new_w, new_h = max(width, round(w * scale)), max(height, round(h * scale))
        image = image.resize((new_w, new_h), resample)
        left, top = (new_w - width) // 2, (new_h - height) // 2
        return image.crop((left, top, left + width, top + height))
    if spec.resize == "letterbox":
        scale = min(width / w, height / h)
        new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
        fill = round(255 * spec.pad_value)
        canvas = Image.new(image.mode, (width, height), fill if image.mode == "L" else (fill,) * 3)
        canvas.paste(image.resize((new_w, new_h), resample), ((width - new_w) // 2, (height - new_h) // 2))
        return canvas
    raise PackError(f"unknown image resize {spec.resize!r}")


def preprocess_images(images: Sequence[ImageLike], spec: Union[ImageSpec, Mapping[str, Any]]) -> NDArray[np.float32]:
    """PIL images (or uint8 arrays) -> (n, channels, height, width) float32, normalised per the spec."""
    spec = ImageSpec.from_dict(spec)
    height, width = spec.size
    mode = "L" if spec.channels == 1 else "RGB"
    mean = np.asarray(spec.mean, dtype=np.float32).reshape(-1, 1, 1)  # (c, 1, 1)
    std = np.asarray(spec.std, dtype=np.float32).reshape(-1, 1, 1)  # (c, 1, 1)
    out = np.empty((len(images), spec.channels, height, width), dtype=np.float32)  # (n, c, h, w)
    for i, image in enumerate(images):
        pixels = np.asarray(_resize(_to_pil(image, mode), spec), dtype=np.float32) / 255.0  # (h, w[, c])
        pixels = pixels[None, :, :] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)  # (c, h, w)
        out[i] = (pixels - mean) / std
    return out


@dataclass
class ImageEncoder:
    """Encodes page renders / photos into the pack's shared embedding space."""

    session: Any
    spec: ImageSpec
    dim: int
    input: str
    output: str
    patch_output: Optional[str] = None
    normalize: bool = True
    fixed_batch: Optional[int] = None  # graphs exported with a fixed batch size (often 1)

    @classmethod
    def from_spec(cls, folder: Path, spec: Mapping[str, Any], dim: int, threads: int = 0) -> "ImageEncoder":
        """Build from a manifest "image" section; `folder` holds the file it names."""
        model = Path(folder) / spec["file"]
        session = create_session(model, threads)
        patch = spec.get("patch_output") or None
        require_ports(session, model, [spec["input"]], [spec["output"]] + ([patch] if patch else []))
        batch_axis = ports(session, "inputs")[spec["input"]].shape[:1]
        fixed = batch_axis[0] if batch_axis and isinstance(batch_axis[0], int) else None
        return cls(session=session, spec=ImageSpec.from_dict(spec), dim=int(dim), input=str(spec["input"]),
                   output=str(spec["output"]), patch_output=patch, normalize=bool(spec.get("normalize", True)),
                   fixed_batch=fixed)

    @property
    def has_patches(self) -> bool:
        return self.patch_output is not None

    def encode(self, images: Sequence[ImageLike], batch_size: int = 16) -> Embeddings:
        """(n, dim) float32, rows L2-normalised (when the manifest says so), in input order."""
        step = self.fixed_batch or max(1, batch_size)
        out = np.empty((len(images), self.dim), dtype=np.float32)  # (n, dim)
        for start in range(0, len(images), step):
            pixels = preprocess_images(images[start:start + step], self.spec)  # (b, c, h, w)
            result = self.session.run([self.output], {self.input: pixels})[0]  # (b, dim)
            if result.ndim != 2 or result.shape[1] != self.dim:
                raise PackError(f"image output has shape {result.shape}, expected (batch, {self.dim})")
            out[start:start + len(pixels)] = result
        return l2_normalize(out) if self.normalize else out

    def encode_turned(self, image: ImageLike, orientations: Sequence[Any]) -> Embeddings:
        """(k, dim): the image turned to each orientation (engine.orientation), one run.

        With a square input size the page is preprocessed once and its pixels turned (resizing
        and turning commute there, up to a pixel of letterbox rounding): k orientations cost
        one resize and k model inputs, not k page resizes."""
        from engine.orientation import turn, turn_array

        height, width = self.spec.size
        if height == width:
            pixels = preprocess_images([image], self.spec)[0]  # (c, h, w)
            batch = np.stack([turn_array(pixels, o) for o in orientations])  # (k, c, h, w)
        else:
            pil = image if isinstance(image, Image.Image) else Image.fromarray(image)
            batch = preprocess_images([turn(pil, o) for o in orientations], self.spec)
        step = self.fixed_batch or len(batch)
        out = np.concatenate([self.session.run([self.output], {self.input: np.ascontiguousarray(
            batch[i:i + step])})[0] for i in range(0, len(batch), step)])  # (k, dim)
        return l2_normalize(out) if self.normalize else out

    def patch_embeddings(self, image: ImageLike) -> NDArray[np.float32]:
        """(h, w, dim) patch embeddings of one image, each L2-normalised (for visual heatmaps)."""
        if not self.patch_output:
            raise PackError("this pack's image tower has no patch output")
        pixels = preprocess_images([image], self.spec)  # (1, c, h, w)
        patches = self.session.run([self.patch_output], {self.input: pixels})[0][0]  # (h, w, dim)
        if patches.ndim != 3 or patches.shape[-1] != self.dim:
            raise PackError(f"patch output has shape {patches.shape}, expected (h, w, {self.dim})")
        return l2_normalize(patches)  # (h, w, dim)
