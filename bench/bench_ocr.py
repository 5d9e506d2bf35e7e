"""OCR benchmark on generated pages: speed (pages/s, latency p50/p95) and character accuracy.

    nice python bench/bench_ocr.py [--backends ppocr,tesseract] [--pages 6] [--threads 0]

Pages are generated with PyMuPDF (built-in CJK font "japan" for Japanese, Helvetica for Latin),
rendered at 150 dpi without a text layer, as a scan or phone photo would arrive:
- "lines": 12 known Japanese/English/symbol lines -> character accuracy (1 - edit distance / length)
- "drawing": an A3 landscape drawing (geometry, dimensions, notes, title block) -> latency
- "rotated": the lines page turned 90/180/270 -> was the rotation found?
- "synth": drawings from engine.synth (if present) -> share of their text-layer words OCR finds
Wall-clock latency depends on how busy the machine is; cpu_s_per_page does not (much): on an
idle 2-core machine, wall time per page is roughly cpu_s_per_page / 1.5 with --threads 0 (ppocr).
Nothing here is shipped data; everything is drawn on the fly.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pymupdf  # noqa: E402
from PIL import Image  # noqa: E402

from bench import common  # noqa: E402
from engine.extract.ocr import get_ocr_engine, read_upright  # noqa: E402

LINES: list[tuple[str, str]] = [  # (text, font): Latin in helv, because "japan" letter-spaces Latin
    ("材質 S45C 焼入れ焼戻し HRC40-45", "japan"),
    ("図番 1258-B2P 第3版", "japan"),
    ("表面処理：無電解ニッケルめっき", "japan"),
    ("注記 指示なき角部はC0.5とする", "japan"),
    ("Tolerance ISO 2768-m", "helv"),
    ("φ12 H7 ±0.02 Ra1.6 45°", "japan"),
    ("組立図 アセンブリ", "japan"),
    ("検査成績書 寸法測定", "japan"),
    ("Bolt M8x20 SUS304", "helv"),
    ("Surface finish 3.2 all over", "helv"),
    ("一般公差 JIS B 0405", "japan"),
    ("かえり・バリなきこと", "japan"),
]


def _png(page: pymupdf.Page, dpi: int = 150) -> Image.Image:
    return Image.open(io.BytesIO(page.get_pixmap(dpi=dpi).tobytes("png"))).convert("RGB")


def lines_page(dpi: int = 150) -> Image.Image:
    """A4 portrait with the 12 reference lines at 11 pt."""
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    for i, (text, font) in enumerate(LINES):
        page.insert_text((60, 80 + i * 26), text, fontname=font, fontsize=11)
    return _png(page, dpi)


def drawing_page(dpi: int = 150, seed: int = 0) -> Image.Image:
    """A3 landscape part drawing: border, two views with dimensions, notes and a title block."""
    doc = pymupdf.open()
    page = doc.new_page(width=1191, height=842)
    s = seed * 7
    page.draw_rect(pymupdf.Rect(20, 20, 1171, 822), width=1.5)
    page.draw_rect(pymupdf.Rect(120, 150, 520, 450), width=1.2)
    page.draw_circle((320, 300), 60 + s % 20, width=1.2)
    page.draw_rect(pymupdf.Rect(620, 150, 820, 450), width=1.2)
    for x in (120, 520):
        page.draw_line((x, 460), (x, 500), width=0.5)
    page.draw_line((120, 490), (520, 490), width=0.5)
    page.insert_text((300, 485), f"{120 + s}", fontname="helv", fontsize=10)
    page.insert_text((530, 300), f"{80 + s}±0.1", fontname="helv", fontsize=10)
    page.insert_text((250, 230), f"φ{24 + s} H7", fontname="japan", fontsize=10)
    page.insert_text((700, 140), "R5", fontname="helv", fontsize=10)
    page.insert_text((830, 300), "Ra 1.6", fontname="helv", fontsize=10)
    notes = ["注記", "1. 指示なき角部はC0.5とする", "2. 焼入れ焼戻し HRC40-45", "3. かえり・バリなきこと"]
    for i, t in enumerate(notes):
        page.insert_text((120, 560 + i * 18), t, fontname="japan", fontsize=10)
    tb = pymupdf.Rect(771, 672, 1171, 822)
    page.draw_rect(tb, width=1.2)
    for y in (702, 732, 762, 792):
        page.draw_line((tb.x0, y), (tb.x1, y), width=0.6)
    page.draw_line((871, tb.y0), (871, tb.y1), width=0.6)
    rows = [("図番", f"{1258 + seed}-B2P"), ("品名", "シャフト"), ("材質", "S45C"),
            ("尺度", "1:2"), ("Tolerance", "ISO 2768-m")]
    for i, (k, v) in enumerate(rows):
        page.insert_text((778, 692 + i * 30), k, fontname="japan" if k != "Tolerance" else "helv", fontsize=10)
        page.insert_text((880, 692 + i * 30), v, fontname="helv" if v.isascii() else "japan", fontsize=12)
    return _png(page, dpi)


def _cpu_s() -> float:
    """CPU seconds (user + system) of this process and its finished children (tesseract runs
    as a subprocess). On a busy shared machine this is steadier than wall time."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def synth_word_recall(ocr, n: int) -> dict:
    """Share of the text-layer words (2+ characters) of engine.synth drawings that OCR of the
    same page rendered at 150 dpi finds exactly: a realistic figure (title blocks, notes,
    dimensions with φ/±, Japanese and English). Empty if engine.synth is not available."""
    if n <= 0:
        return {}
    try:
        from engine.extract.pdf import text_layer_words
        from engine.synth.drawing import draw_pdf, pdf_to_image
        from engine.synth.sample_library import library_parts
    except ImportError:
        return {}
    found = total = 0
    lat = []
    for part in library_parts()[:n]:
        pdf = draw_pdf(part)
        with pymupdf.open(stream=pdf, filetype="pdf") as doc:
            truth = [w.text for w, _ in text_layer_words(doc[0]) if len(w.text) >= 2]
        img = pdf_to_image(pdf)
        t = time.perf_counter()
        got = {w.text for w in read_upright(ocr, img)[0]}
        lat.append(time.perf_counter() - t)
        found += sum(t in got for t in truth)
        total += len(truth)
    return {"synth_word_recall": round(found / max(1, total), 3),
            "synth_p50_s": round(statistics.median(lat), 2)}


def bench_backend(name: str, pages: int, threads: int, synth: int = 8) -> dict:
    ocr = get_ocr_engine(name, threads=threads)
    if ocr is None:
        return {"backend": name, "error": "not installed"}
    t0 = time.perf_counter()
    ocr.read(Image.new("RGB", (64, 64), "white"))
    load_s = time.perf_counter() - t0

    ref = lines_page()
    words, _ = read_upright(ocr, ref)
    got = common.line_texts(words)
    accs = []
    for text, _font in LINES:  # best-matching OCR line for each reference line
        accs.append(max((common.char_accuracy(text, g) for g in got), default=0.0))
    exact = sum(a == 1.0 for a in accs)

    lat = []
    cpu0 = _cpu_s()
    for i in range(pages):
        img = drawing_page(seed=i)
        t = time.perf_counter()
        read_upright(ocr, img)
        lat.append(time.perf_counter() - t)
    cpu = (_cpu_s() - cpu0) / pages  # includes drawing the pages (~0.05 s each)

    rot_ok = 0
    for deg in (90, 180, 270):
        # turned clockwise by `deg`, so reading it upright needs a further (360 - deg) clockwise
        _w, r = read_upright(ocr, ref.rotate(-deg, expand=True))  # PIL rotates counter-clockwise
        rot_ok += r == (360 - deg) % 360
    lat.sort()
    recall = synth_word_recall(ocr, synth)
    return {"backend": ocr.name, "load_s": round(load_s, 2),
            "pages_per_s": round(len(lat) / sum(lat), 2),
            "p50_s": round(statistics.median(lat), 2),
            "p95_s": round(lat[min(len(lat) - 1, int(0.95 * len(lat)))], 2),
            "cpu_s_per_page": round(cpu, 2),
            "char_acc": round(sum(accs) / len(accs), 3), "lines_exact": f"{exact}/{len(LINES)}",
            "rotations_found": f"{rot_ok}/3", **recall}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backends", default="ppocr,tesseract")
    ap.add_argument("--pages", type=int, default=6, help="drawing pages timed per backend")
    ap.add_argument("--threads", type=int, default=0, help="onnxruntime threads (0: all cores)")
    ap.add_argument("--synth", type=int, default=8, help="engine.synth drawings for word recall (0: skip)")
    args = ap.parse_args()
    for name in args.backends.split(","):
        print(bench_backend(name.strip(), args.pages, args.threads, args.synth), flush=True)


if __name__ == "__main__":
    main()
