"""Synthetic technical drawings and the documents that belong to them.

Used for the bundled sample library (`python -m engine.synth.sample_library OUT_DIR`), for tests,
and as pretraining data for the image tower:

    from engine.synth import generate_part, render, degrade, spec_text
    part = generate_part(seed)                  # SyntheticPart, deterministic from the seed
    img = degrade(render(part, dpi=150), rng, kind="photo")
    text = spec_text(part, "ja")                # the paired text

Everything here is pure Python on pymupdf + Pillow + numpy (OpenCV optional, for speed).
"""

from engine.synth.degrade import KINDS, degrade
from engine.synth.drawing import STYLE_SPECS, draw_pdf, pdf_to_image, render
from engine.synth.parts import EXTRA_STYLES, FAMILIES, MATERIALS, STYLES, SyntheticPart, generate_part, spec_text

__all__ = [
    "EXTRA_STYLES", "FAMILIES", "KINDS", "MATERIALS", "STYLES", "STYLE_SPECS", "SyntheticPart",
    "degrade", "draw_pdf", "generate_part", "pdf_to_image", "render", "spec_text",
]
