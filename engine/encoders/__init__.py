"""Model packs and ONNX encoders (onnxruntime + tokenizers; never torch).

    pack = ModelPack.load(DEFAULT_PACK_DIR)
    vectors = pack.text_encoder().encode(["焼入れ S45C", "shaft drawing"])  # (2, dim), L2-normalised
    image_encoder = pack.image_encoder()   # None when the pack has no image tower

See docs/encoders.md for the pack format.
"""

from engine.encoders.image import ImageEncoder, ImageSpec, preprocess_images
from engine.encoders.pack import (PACK_FORMAT, ModelPack, list_packs, make_pack_id, validate_manifest,
                                  write_pack)
from engine.encoders.text import TextEncoder

__all__ = ["PACK_FORMAT", "ImageEncoder", "ImageSpec", "ModelPack", "TextEncoder", "list_packs",
           "make_pack_id", "preprocess_images", "validate_manifest", "write_pack"]
