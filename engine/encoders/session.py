"""onnxruntime session factory shared by the text and image encoders.

Settings chosen for 2–4 core desktops that also run a GUI: one intra-op pool (`threads`, 0 = let
onnxruntime use every physical core), no inter-op parallelism, sequential execution, full graph
optimisation. onnxruntime is imported here, lazily, so reading a manifest never loads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from engine.errors import PackError

_ORT_DTYPES = {
    "tensor(int64)": np.int64,
    "tensor(int32)": np.int32,
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
}


@dataclass(frozen=True)
class GraphPort:
    """One graph input or output: name, numpy dtype and shape (ints or symbolic axis names)."""

    name: str
    dtype: type
    shape: tuple


def create_session(model: Path, threads: int = 0) -> Any:
    """An `onnxruntime.InferenceSession` on the CPU; raises PackError if the file cannot be loaded."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = max(0, int(threads))
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only; warnings about unused initializers are noise
    try:
        return ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
    except Exception as err:  # onnxruntime raises its own exception types (Fail, InvalidGraph, ...)
        raise PackError(f"cannot load ONNX model {model}: {err}") from None


def ports(session: Any, kind: str) -> dict[str, GraphPort]:
    """Graph inputs (`kind="inputs"`) or outputs (`kind="outputs"`) by name."""
    nodes = session.get_inputs() if kind == "inputs" else session.get_outputs()
    return {n.name: GraphPort(n.name, _ORT_DTYPES.get(n.type, np.float32), tuple(n.shape)) for n in nodes}


def require_ports(session: Any, model: Path, inputs: list[str], outputs: list[str]) -> None:
    """Raise PackError when the manifest names an input or output the graph does not have."""
    have_in, have_out = ports(session, "inputs"), ports(session, "outputs")
    for name in inputs:
        if name not in have_in:
            raise PackError(f"{model.name}: the manifest names input {name!r} but the graph has "
                            f"{sorted(have_in)}")
    for name in outputs:
        if name not in have_out:
            raise PackError(f"{model.name}: the manifest names output {name!r} but the graph has "
                            f"{sorted(have_out)}")


def l2_normalize(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length; all-zero rows stay zero."""
    vectors = np.asarray(vectors, dtype=np.float32)  # (n, dim)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)  # (n, 1)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)
