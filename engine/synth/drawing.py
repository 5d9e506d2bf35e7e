"""Synthetic technical drawings: a `SyntheticPart` drawn as a one-page vector PDF.

    part = generate_part(42)               # or generate_part(rng, family="flange", style="iso")
    pdf = draw_pdf(part)                   # bytes, one page, with a text layer
    img = render(part, dpi=150)            # PIL grayscale ("L")

Styles change line weights, fonts, labels and layout (`STYLES` are drawn at random, "cn" on request):
  jis  bilingual JP/EN title block bottom right, third-angle projection, notes bottom left
  iso  English labels, first-angle projection, full-width title strip, heavier outlines
  jp   Japanese-only labels and notes (no English name anywhere)
  cad  monospace CAD-export look, open arrows, revision table top right
  cn   Chinese supplier sheet: Chinese labels and notes, GB/T 1804 tolerances, first-angle projection
Output bytes are deterministic: no timestamps or random ids in the PDF.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass

import pymupdf
from PIL import Image

from engine.synth import vocab_zh
from engine.synth.canvas import MM, LineStyle, Sheet, View
from engine.synth.parts import STYLES, SyntheticPart, generate_part, spec_text  # noqa: F401  (re-export)
from engine.synth.views import ViewSpec, drafting_terms, family_views

SHEETS = {"A4": (297.0, 210.0), "A3": (420.0, 297.0)}
TITLE_ROW_H = 7.0
SCALES = ((5, 1), (2, 1), (1, 1), (1, 2), (1, 3), (1, 5), (1, 10))  # JIS Z 8314 (1:3 permitted)


@dataclass(frozen=True)
class StyleSpec:
    lines: LineStyle
    labels: str  # "both" | "en" | "ja" | "zh"
    first_angle: bool
    title_full_width: bool
    revision_table: bool


STYLE_SPECS: dict[str, StyleSpec] = {
    "jis": StyleSpec(LineStyle(outline=0.5, thin=0.18, font="helv"), "both", False, False, False),
    "iso": StyleSpec(LineStyle(outline=0.7, thin=0.25, font="helv", text_mm=3.5, center_dash=(12, 2, 1, 2)),
                     "en", True, True, False),
    "jp": StyleSpec(LineStyle(outline=0.45, thin=0.15, font="cjk", text_mm=3.0), "ja", False, False, False),
    "cad": StyleSpec(LineStyle(outline=0.35, thin=0.13, font="cour", text_mm=3.0, filled_arrows=False,
                               hidden_dash=(2.0, 1.0)), "en", False, False, True),
    "cn": StyleSpec(LineStyle(outline=0.6, thin=0.2, font="cjk", text_mm=3.0, filled_arrows=True),
                    "zh", True, False, False),
}


def _label(spec: StyleSpec, ja: str, en: str) -> str:
    return {"both": f"{ja} {en}", "en": en, "ja": ja, "zh": vocab_zh.LABELS.get(ja, ja)}[spec.labels]


def _title_fields(part: SyntheticPart, spec: StyleSpec, scale: str) -> list[tuple[str, str]]:
    """(label, value) rows of the title block, in the style's language."""
    m = part.material_info
    ja_only = spec.labels in ("ja", "zh")
    person = (lambda n: n) if spec.labels != "en" else part.person_en
    treat = part.treatment if spec.labels != "en" else part.treatment_en()
    tol = part.general_tolerance
    if spec.labels == "zh":
        name = vocab_zh.NAMES[part.family]
        treat = vocab_zh.treatment(part.heat_treatment, part.hardness, part.surface)
        tol = vocab_zh.TOLERANCE
    elif ja_only:
        name = part.name_ja
    elif spec.labels == "en":
        name = part.name_en.upper() if spec.revision_table else part.name_en
    else:
        name = f"{part.name_ja} / {part.name_en}"
    return [
        (_label(spec, "品名", "TITLE" if spec.revision_table else "PART NAME"), name),
        (_label(spec, "図番", "DWG NO." if spec.revision_table else "PART NO."), part.part_no),
        (_label(spec, "材質", "MATERIAL"), f"{m.code} ({m.standard})" if not ja_only else m.code),
        (_label(spec, "処理", "FINISH" if spec.revision_table else "TREATMENT"), treat),
        (_label(spec, "尺度", "SCALE"), scale),
        (_label(spec, "用紙", "SIZE"), part.sheet),
        (_label(spec, "普通公差", "GEN. TOL."), tol),
        (_label(spec, "改訂", "REV."), part.revision),
        (_label(spec, "設計", "DRAWN"), person(part.drawn_by)),
        (_label(spec, "検図", "CHECKED"), person(part.checked_by)),
        (_label(spec, "承認", "APPROVED"), person(part.approved_by)),
        (_label(spec, "日付", "DATE"), part.date),
    ]


def _notes(part: SyntheticPart, spec: StyleSpec) -> list[str]:
    c = part.dims.get("chamfer", 0.5)
    if spec.labels == "zh":
        return vocab_zh.notes(c, part.heat_treatment, part.hardness, part.surface)
    if spec.labels == "ja" or spec.labels == "both":
        lines = ["注記" + (" NOTES" if spec.labels == "both" else ""),
                 f"1. 指示なき角部は C{c:g} の面取りのこと。",
                 f"2. 普通公差は {part.general_tolerance} による。"]
        if part.heat_treatment:
            lines.append(f"3. 熱処理: {part.heat_treatment} {part.hardness}")
        if part.surface:
            lines.append(f"{len(lines)}. 表面処理: {part.surface}")
        if spec.labels == "both":
            lines.append(f"{len(lines)}. Remove all burrs and sharp edges.")
        return lines
    lines = ["NOTES:", f"1. BREAK ALL SHARP EDGES C{c:g} UNLESS OTHERWISE SPECIFIED.",
             f"2. GENERAL TOLERANCES PER {part.general_tolerance}."]
    treat = part.treatment_en()
    if treat != "none":
        lines.append(f"3. TREATMENT: {treat.upper()}")
    return lines


def _layout(views: dict[str, ViewSpec], area: tuple[float, float, float, float], first_angle: bool,
            ) -> tuple[tuple[int, int], dict[str, tuple[float, float]]]:
    """Pick the largest standard scale that fits and the sheet origin of each view (model (0,0))."""
    ax0, ay0, ax1, ay1 = area
    gap, margin = 26.0, 16.0

    def size(name: str) -> tuple[float, float]:
        if name not in views:
            return 0.0, 0.0
        b = views[name].bbox
        return b[2] - b[0], b[3] - b[1]

    (fw, fh), (sw, sh), (_, th) = size("front"), size("side"), size("top")
    chosen = SCALES[-1]
    for num, den in SCALES:
        k = num / den
        need_w = fw * k + (gap + sw * k if sw else 0) + 2 * margin
        need_h = max(fh, sh) * k + (gap + th * k if th else 0) + 2 * margin
        if need_w <= ax1 - ax0 and need_h <= ay1 - ay0:
            chosen = (num, den)
            break
    k = chosen[0] / chosen[1]
    total_w = fw * k + (gap + sw * k if sw else 0)
    total_h = max(fh, sh) * k + (gap + th * k if th else 0)
    left = ax0 + (ax1 - ax0 - total_w) / 2
    top = ay0 + (ay1 - ay0 - total_h) / 2
    row_top = top + (gap + th * k if (th and not first_angle) else 0)  # third angle: top view above
    fx = left + (sw * k + gap if (first_angle and sw) else 0)
    sx = left if first_angle else left + fw * k + gap
    origins: dict[str, tuple[float, float]] = {}

    def place(name: str, x: float, y_top: float, h: float) -> None:
        b = views[name].bbox
        origins[name] = (x - b[0] * k, y_top + b[3] * k + (max(fh, sh) - h) * k / 2)

    place("front", fx, row_top, fh)
    if sw:
        place("side", sx, row_top, sh)
    if th:
        b = views["top"].bbox
        ty = top if not first_angle else row_top + max(fh, sh) * k + gap
        origins["top"] = (fx - b[0] * k, ty + b[3] * k)
    return chosen, origins


def _border(sheet: Sheet, spec: StyleSpec) -> tuple[float, float, float, float]:
    w, h = sheet.width, sheet.height
    m = 10.0
    sheet.rect(m, m, w - m, h - m, "outline")
    sheet.rect(m - 5, m - 5, w - m + 5, h - m + 5, "thin")
    # zone marks (1..n across, A..n down) and centring marks
    cols, rows = (8, 6) if max(w, h) > 300 else ((6, 4) if w > h else (4, 6))
    for i in range(cols):
        x = m + (w - 2 * m) * (i + 0.5) / cols
        sheet.text((x, m - 1.2), str(i + 1), 2.5, anchor="center")
        if i:
            sheet.line((m + (w - 2 * m) * i / cols, m - 5), (m + (w - 2 * m) * i / cols, m), "thin")
    for j in range(rows):
        y = m + (h - 2 * m) * (j + 0.5) / rows
        sheet.text((m - 3.8, y + 1), "ABCDEFGH"[j], 2.5)
    for x, y0, y1 in ((w / 2, m - 5, m + 5), (w / 2, h - m - 5, h - m + 5)):
        sheet.line((x, y0), (x, y1), "outline")
    return m, m, w - m, h - m


def _projection_symbol(sheet: Sheet, x: float, y: float, first_angle: bool) -> None:
    """ISO 128 projection symbol (truncated cone) with its centre lines, 14 x 7 mm."""
    cone = [(0, 1.5), (6, 0), (6, 7), (0, 5.5)] if not first_angle else [(0, 0), (6, 1.5), (6, 5.5), (0, 7)]
    circ_x = 10.0 if not first_angle else -4.0
    sheet.polyline([(x + a, y + b) for a, b in cone], kind="thin", closed=True)
    sheet.circle((x + circ_x, y + 3.5), 3.5, "thin")
    sheet.circle((x + circ_x, y + 3.5), 1.5, "thin")
    sheet.line((x - 6, y + 3.5), (x + 15, y + 3.5), "center")


def _title_block(sheet: Sheet, part: SyntheticPart, spec: StyleSpec, frame: tuple[float, float, float, float],
                 scale: str) -> float:
    """Draw the title block in the frame's bottom right; returns its top y (mm)."""
    x0, y0, x1, y1 = frame
    fields = _title_fields(part, spec, scale)
    row_h = TITLE_ROW_H
    width = (x1 - x0) if spec.title_full_width else min(190.0 if sheet.width > 300 else 165.0, x1 - x0)
    ncols = 4 if spec.title_full_width else 3
    nrows = -(-len(fields) // ncols) + 1  # + name row
    top = y1 - nrows * row_h
    left = x1 - width
    sheet.rect(left, top, x1, y1, "outline")
    # big row: company + part name
    sheet.line((left, top + row_h * 1.0), (x1, top + row_h * 1.0), "thin")
    company = {"ja": "株式会社 図面製作所", "en": "ZUMEN MFG. CO., LTD.", "both": "図面製作所 ZUMEN MFG.",
               "zh": vocab_zh.COMPANY}[spec.labels]
    sheet.text((left + 2, top + row_h - 2), company, 3.2)
    sheet.text((x1 - 2, top + row_h - 2), part.part_no, 4.0, anchor="right")
    col_w = width / ncols
    for i, (label, value) in enumerate(fields):
        c, rr = i % ncols, i // ncols
        cx = left + c * col_w
        cy = top + row_h * (rr + 1)
        sheet.rect(cx, cy, cx + col_w, cy + row_h, "thin")
        sheet.text((cx + 1.0, cy + 2.2), label, 1.6)
        fit = 2.7
        while sheet.text_width(value, fit) > col_w - 3 and fit > 1.6:
            fit -= 0.2
        sheet.text((cx + 2.5, cy + row_h - 1.0), value, fit)
    return top


def _gear_table(sheet: Sheet, part: SyntheticPart, spec: StyleSpec, x1: float, y0: float) -> None:
    d = part.dims
    standard = {"both": "標準 / Standard", "ja": "標準", "en": "Standard", "zh": "标准"}[spec.labels]
    rows = [("歯形", "Tooth form", standard),
            ("モジュール", "Module", f"{d['module']:g}"), ("歯数", "Teeth", f"{int(d['teeth'])}"),
            ("圧力角", "Pressure angle", "20°"), ("基準円直径", "Pitch dia.", f"{d['module'] * d['teeth']:g}"),
            ("精度", "Accuracy", "JIS B 1702-1 N8")]
    w, rh = 84.0, 6.0
    x0 = x1 - w - 4
    for i, (ja, en, val) in enumerate(rows):
        y = y0 + 4 + i * rh
        sheet.rect(x0, y, x0 + w * 0.55, y + rh, "thin")
        sheet.rect(x0 + w * 0.55, y, x0 + w, y + rh, "thin")
        sheet.text((x0 + 1.5, y + rh - 1.6), _label(spec, ja, en), 2.4)
        sheet.text((x0 + w * 0.55 + 1.5, y + rh - 1.6), val, 2.5)


def _revision_table(sheet: Sheet, part: SyntheticPart, x1: float, y0: float) -> None:
    w, rh = 110.0, 6.0
    x0 = x1 - w
    heads = (("REV", 12), ("DESCRIPTION", 52), ("DATE", 24), ("BY", 22))
    x = x0
    for j, (h, cw) in enumerate(heads):
        sheet.rect(x, y0, x + cw, y0 + rh, "thin")
        sheet.rect(x, y0 + rh, x + cw, y0 + 2 * rh, "thin")
        sheet.text((x + 1.2, y0 + rh - 1.6), h, 2.4)
        val = (part.revision, "INITIAL RELEASE", part.date, part.person_en(part.drawn_by).upper())[j]
        sheet.text((x + 1.2, y0 + 2 * rh - 1.6), val, 2.4)
        x += cw


def draw_pdf(part: SyntheticPart) -> bytes:
    """One-page vector PDF of `part` with a text layer; same part -> same bytes."""
    spec = STYLE_SPECS[part.style]
    r = random.Random(part.seed * 7919 + 17)
    w, h = SHEETS[part.sheet]
    if part.portrait:
        w, h = h, w
    doc = pymupdf.open()
    page = doc.new_page(width=w * MM, height=h * MM)
    sheet = Sheet(page, spec.lines)
    frame = _border(sheet, spec)
    views = family_views(part, r)
    # a provisional title block height to know the free area
    tb_rows = -(-12 // (4 if spec.title_full_width else 3)) + 1
    tb_top = frame[3] - tb_rows * TITLE_ROW_H
    top_reserved = 16.0 if spec.revision_table and part.family != "gear_blank" else 0.0
    x_right = frame[2] - (88.0 if part.family == "gear_blank" else 0.0)
    area = (frame[0] + 2, frame[1] + 2 + top_reserved, x_right - 2, tb_top - 14)
    (num, den), origins = _layout(views, area, spec.first_angle)
    scale = f"{num}:{den}"
    sheet.terms = drafting_terms(part.style)
    for name, vs in views.items():
        vs.draw(View(sheet, origins[name], num / den))
    sheet.terms = ()
    _title_block(sheet, part, spec, frame, scale)
    notes = _notes(part, spec)
    ny = tb_top - 4 - 4.5 * (len(notes) - 1)
    for i, line in enumerate(notes):
        sheet.text((frame[0] + 4, ny + i * 4.5), line, 2.8 if i else 3.2)
    # general roughness and projection symbols sit right of the notes, or above them on narrow sheets
    notes_right = frame[0] + 4 + max(sheet.text_width(line, 2.8) for line in notes)
    sym_y = tb_top - 4 if notes_right < frame[2] - 66 else ny - 9
    _projection_symbol(sheet, frame[2] - 24, sym_y - 7, spec.first_angle)
    # general surface roughness: symbol + (value)
    gv = View(sheet, (frame[2] - 62, sym_y), 1.0)
    gv.roughness(0, 0, part.roughness.replace("Ra ", "Ra"))
    if part.family == "gear_blank":
        _gear_table(sheet, part, spec, frame[2], frame[1] + (14.0 if spec.revision_table else 0.0))
    if spec.revision_table:
        _revision_table(sheet, part, frame[2], frame[1])
    sheet.finish()
    doc.set_metadata({"title": part.part_no, "author": "Zumen synth",  # no names: they would leak
                      "creator": "Zumen synth", "producer": "Zumen synth", "subject": "",
                      "keywords": "", "creationDate": "D:" + part.date.replace("-", "") + "000000",
                      "modDate": "D:" + part.date.replace("-", "") + "000000"})
    doc.subset_fonts()
    data = doc.tobytes(garbage=3, deflate=True, no_new_id=True)
    doc.close()
    return data


def pdf_to_image(pdf: bytes, dpi: int = 150, page: int = 0) -> Image.Image:
    """Rasterise one page of a PDF to a grayscale PIL image."""
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        pix = doc[page].get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, alpha=False)
        return Image.frombytes("L", (pix.width, pix.height), pix.samples)


def render(part: SyntheticPart, dpi: int = 150) -> Image.Image:
    """The drawing of `part` as a grayscale ("L") image at `dpi` (A4 at 150 dpi: 1754 x 1240)."""
    return pdf_to_image(draw_pdf(part), dpi=dpi)


def save_png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()
