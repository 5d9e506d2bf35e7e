"""Test-only: tiny, real model packs for tests (a few KB, built in ~0.1 s with `onnx.helper`; no torch).

    pack_dir = build_tiny_pack(tmp_path / "pack")                 # BERT-style text + 1-channel image tower
    pack_dir = build_tiny_pack(tmp_path / "clip", style="clip")   # CLIP-style: no token_type_ids, eos
                                                                  # pooling, RGB center_crop, patches

The text tower is a bag-of-embeddings (masked mean of token embeddings, so padding mistakes change
the result); the image tower averages the pixels per channel and patch and projects them. The
vectors mean nothing, but every manifest code path, tokenizer and onnxruntime call is the real one.
Needs the `onnx` package (dev/train extra), imported lazily.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from engine.encoders.pack import write_pack

TINY_WORDS = (
    "shaft bracket flange housing gear bushing plate cover pulley spacer bolt nut washer drawing spec "
    "specification process sheet inspection report material steel aluminium stainless hardened ground "
    "anodised plated tolerance diameter hole thread surface finish assembly part number revision "
    "s45c sus304 a5052 scm440 ss400 the a of and for with to in on 焼 入 材 質 図 面 番 号 検 査"
).split()
_OPSET = 17


def _tokenizer(style: str, fixed_padding: int = 16) -> Any:
    """A WordLevel tokenizer; BERT style ships padding to a fixed length (like all-MiniLM-L6-v2)."""
    from tokenizers import Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordLevel

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"] if style == "bert" else ["<|endoftext|>", "[UNK]", "<|startoftext|>"]
    vocab = {tok: i for i, tok in enumerate(specials + list(TINY_WORDS))}
    tokenizer = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True, handle_chinese_chars=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    if style == "bert":
        tokenizer.post_processor = processors.TemplateProcessing(
            single="[CLS] $A [SEP]", special_tokens=[("[CLS]", vocab["[CLS]"]), ("[SEP]", vocab["[SEP]"])])
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]", length=fixed_padding)
    else:  # CLIP pads with its end-of-text token, which is also the last real token
        bos, eos = vocab["<|startoftext|>"], vocab["<|endoftext|>"]
        tokenizer.post_processor = processors.TemplateProcessing(
            single="<|startoftext|> $A <|endoftext|>", special_tokens=[("<|startoftext|>", bos), ("<|endoftext|>", eos)])
    tokenizer.enable_truncation(max_length=fixed_padding)
    return tokenizer


def _text_graph(style: str, vocab_size: int, dim: int, rng: np.random.Generator) -> Any:
    """BERT: (ids, mask, types) -> masked mean, (b, dim). CLIP: (ids, mask) -> token-level (b, s, dim)."""
    from onnx import TensorProto, helper, numpy_helper

    table = rng.standard_normal((vocab_size, dim)).astype(np.float32)  # (vocab, dim)
    types = rng.standard_normal((2, dim)).astype(np.float32)  # (2, dim)
    inits = [numpy_helper.from_array(table, "table"), numpy_helper.from_array(types, "type_table"),
             numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
             numpy_helper.from_array(np.array([-1], dtype=np.int64), "axis_last")]
    seq = ["batch", "sequence"]
    inputs = [helper.make_tensor_value_info("input_ids", TensorProto.INT64, seq),
              helper.make_tensor_value_info("attention_mask", TensorProto.INT64, seq)]
    nodes = [helper.make_node("Gather", ["table", "input_ids"], ["tok"], axis=0)]  # (b, s, d)
    if style == "bert":
        inputs.append(helper.make_tensor_value_info("token_type_ids", TensorProto.INT64, seq))
        nodes += [
            helper.make_node("Gather", ["type_table", "token_type_ids"], ["typ"], axis=0),  # (b, s, d)
            helper.make_node("Add", ["tok", "typ"], ["emb"]),  # (b, s, d)
            helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),  # (b, s)
            helper.make_node("Unsqueeze", ["maskf", "axis_last"], ["mask3"]),  # (b, s, 1)
            helper.make_node("Mul", ["emb", "mask3"], ["masked"]),  # (b, s, d)
            helper.make_node("ReduceSum", ["masked", "axis1"], ["summed"], keepdims=0),  # (b, d)
            helper.make_node("ReduceSum", ["mask3", "axis1"], ["count"], keepdims=0),  # (b, 1)
            helper.make_node("Div", ["summed", "count"], ["embedding"]),  # (b, d)
        ]
        output = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", dim])
    else:  # token-level, causal like CLIP: token i sums tokens 0..i, so the eos token sees the text
        nodes += [helper.make_node("Cast", ["attention_mask"], ["maskf"], to=TensorProto.FLOAT),
                  helper.make_node("Unsqueeze", ["maskf", "axis_last"], ["mask3"]),  # (b, s, 1)
                  helper.make_node("Mul", ["tok", "mask3"], ["masked"]),  # (b, s, d)
                  helper.make_node("CumSum", ["masked", "axis_scalar"], ["last_hidden_state"])]  # (b, s, d)
        inits.append(numpy_helper.from_array(np.array(1, dtype=np.int64), "axis_scalar"))
        output = helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch", "sequence", dim])
    graph = helper.make_graph(nodes, f"tiny_{style}_text", inputs, [output], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)], ir_version=8)


def _image_graph(channels: int, dim: int, patch: int, rng: np.random.Generator) -> Any:
    """pixels (b, c, H, W) -> embedding (b, dim) and patches (b, H/patch, W/patch, dim)."""
    from onnx import TensorProto, helper, numpy_helper

    proj = rng.standard_normal((channels * 4, dim)).astype(np.float32)  # (4c, dim)
    patch_proj = rng.standard_normal((channels, dim)).astype(np.float32)  # (c, dim)
    bias = rng.standard_normal((dim,)).astype(np.float32)  # (dim,)
    inits = [numpy_helper.from_array(proj, "proj"), numpy_helper.from_array(patch_proj, "patch_proj"),
             numpy_helper.from_array(bias, "bias")]
    nodes = [
        helper.make_node("AveragePool", ["pixels"], ["quad"], kernel_shape=[8, 8], strides=[8, 8]),
        helper.make_node("GlobalAveragePool", ["quad"], ["g"]),  # (b, c, 1, 1)
        # 2x2 grid summary keeps a little layout information: (b, c, 2, 2) -> (b, 4c)
        helper.make_node("MaxPool", ["quad"], ["grid"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalMaxPool", ["grid"], ["gm"]),  # (b, c, 1, 1)
        helper.make_node("Concat", ["g", "gm", "g", "gm"], ["cat"], axis=1),  # (b, 4c, 1, 1)
        helper.make_node("Flatten", ["cat"], ["flat"], axis=1),  # (b, 4c)
        helper.make_node("MatMul", ["flat", "proj"], ["proj_out"]),  # (b, dim)
        helper.make_node("Add", ["proj_out", "bias"], ["embedding"]),  # (b, dim)
        helper.make_node("AveragePool", ["pixels"], ["cells"], kernel_shape=[patch, patch], strides=[patch, patch]),
        helper.make_node("Transpose", ["cells"], ["cells_last"], perm=[0, 2, 3, 1]),  # (b, h, w, c)
        helper.make_node("MatMul", ["cells_last", "patch_proj"], ["patches"]),  # (b, h, w, dim)
    ]
    inputs = [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, ["batch", channels, "height", "width"])]
    outputs = [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", dim]),
               helper.make_tensor_value_info("patches", TensorProto.FLOAT, ["batch", "h", "w", dim])]
    graph = helper.make_graph(nodes, "tiny_image", inputs, outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", _OPSET)], ir_version=8)


def build_tiny_pack(dest: Path, *, style: str = "bert", dim: int = 16, image: bool = True, seed: int = 0,
                    name: str = "tiny", version: str = "0.1.0") -> Path:
    """Write a tiny pack folder at `dest` and return it. style: "bert" or "clip"."""
    import onnx

    if style not in ("bert", "clip"):
        raise ValueError(f"style must be 'bert' or 'clip', got {style!r}")
    rng = np.random.default_rng(seed)
    dest = Path(dest)
    work = dest.parent / f".{dest.name}.src"
    work.mkdir(parents=True, exist_ok=True)
    tokenizer = _tokenizer(style)
    tokenizer.save(str(work / "tokenizer.json"))
    onnx.save(_text_graph(style, tokenizer.get_vocab_size(), dim, rng), str(work / "text.onnx"))
    text: dict[str, Any] = {"file": "text.onnx", "sha256": "", "tokenizer": "tokenizer.json", "max_length": 12,
                            "normalize": True, "source": f"tests/tiny_pack.py ({style})", "quantization": "none"}
    if style == "bert":
        text |= {"inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask",
                            "token_type_ids": "token_type_ids"}, "output": "embedding", "pooling": "none"}
    else:
        text |= {"inputs": {"input_ids": "input_ids", "attention_mask": "attention_mask"},
                 "output": "last_hidden_state", "pooling": "eos"}
    files = {"text.onnx": work / "text.onnx", "tokenizer.json": work / "tokenizer.json"}
    image_section = None
    if image:
        channels = 1 if style == "bert" else 3
        onnx.save(_image_graph(channels, dim, 8, rng), str(work / "image.onnx"))
        files["image.onnx"] = work / "image.onnx"
        image_section = {"file": "image.onnx", "sha256": "", "input": "pixels", "output": "embedding",
                         "size": [32, 48] if style == "bert" else [32, 32], "channels": channels,
                         "resize": "letterbox" if style == "bert" else "center_crop", "pad_value": 1.0,
                         "mean": [0.5] * channels if style == "bert" else [0.481, 0.458, 0.408],
                         "std": [0.5] * channels if style == "bert" else [0.269, 0.261, 0.276],
                         "normalize": True, "patch_output": "patches"}
    manifest = {"format": "zumen-pack/1", "name": name, "version": version, "created": "2026-01-01T00:00:00Z",
                "dim": dim, "licence": "test fixture", "parent": None, "text": text, "image": image_section,
                "metrics": {}}
    write_pack(dest, manifest, files, move=True)
    work.rmdir()
    return dest
