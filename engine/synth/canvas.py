"""Drafting primitives on a pymupdf page, in millimetres.

`Sheet` wraps one PDF page (origin top-left, y down, units mm) and knows the line types of a
technical drawing (outline, hidden, centre, thin) and how to write text with a CJK fallback
font. `View` places a part's model coordinates (mm, origin on the part, y up) on the sheet at a
drawing scale and offers the dimensioning helpers (linear, diameter, radius, leader, hatching,
surface roughness marks) that the family drawers in `views.py` use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pymupdf

MM = 72.0 / 25.4  # points per millimetre
BLACK = (0.0, 0.0, 0.0)


@dataclass(frozen=True)
class LineStyle:
    """Line weights (mm) and fonts of one drawing style."""

    outline: float = 0.5
    thin: float = 0.18
    hidden_dash: tuple[float, float] = (3.0, 1.2)
    center_dash: tuple[float, float, float, float] = (10.0, 1.5, 1.5, 1.5)
    font: str = "helv"  # pymupdf builtin: helv / tiro / cour (CJK falls back to Droid Sans)
    text_mm: float = 3.2  # dimension text height
    arrow_mm: float = 3.0
    filled_arrows: bool = True


_FONTS: dict[str, pymupdf.Font] = {}


def font(name: str) -> pymupdf.Font:
    """pymupdf builtin fonts, loaded once per process (the CJK one is 3.5 MB)."""
    if name not in _FONTS:
        _FONTS[name] = pymupdf.Font(name)
    return _FONTS[name]


class Sheet:
    """One drawing sheet: a pymupdf page addressed in millimetres.

    Drawing is batched for speed: strokes go into one `Shape`, horizontal text into one
    `TextWriter`; `finish()` writes them to the page (call it once, at the end).
    """

    def __init__(self, page: pymupdf.Page, style: LineStyle) -> None:
        self.page = page
        self.style = style
        self.width = page.rect.width / MM
        self.height = page.rect.height / MM
        self._font = font(style.font)
        self._cjk = font("cjk")
        self._shape = page.new_shape()
        self._writer = pymupdf.TextWriter(page.rect)
        self._rotated: list[tuple[pymupdf.TextWriter, pymupdf.Point, float]] = []
        self.terms: tuple[tuple[str, str], ...] = ()  # (old, new) text replacements, e.g. キリ -> THRU

    def finish(self) -> None:
        """Write all batched strokes and text to the page."""
        self._shape.commit()
        self._writer.write_text(self.page)
        for tw, pivot, angle in self._rotated:
            tw.write_text(self.page, morph=(pivot, pymupdf.Matrix(angle)))

    def _stroke(self, kind: str, fill: tuple[float, float, float] | None = None, closed: bool = False) -> None:
        st = self.style
        width = st.outline if kind == "outline" else st.thin
        dashes = None
        if kind == "hidden":
            width = (st.outline + st.thin) / 2
            dashes = "[%.2f %.2f] 0" % tuple(v * MM for v in st.hidden_dash)
        elif kind in ("center", "phantom"):
            dashes = "[%.2f %.2f %.2f %.2f] 0" % tuple(v * MM for v in st.center_dash)
        self._shape.finish(color=BLACK, fill=fill, width=width * MM, dashes=dashes, lineCap=0,
                           closePath=closed)

    # ---- lines ----------------------------------------------------------------
    def line(self, p0: tuple[float, float], p1: tuple[float, float], kind: str = "outline") -> None:
        """kind: outline | thin | hidden | center | phantom."""
        self._shape.draw_line(pymupdf.Point(p0[0] * MM, p0[1] * MM), pymupdf.Point(p1[0] * MM, p1[1] * MM))
        self._stroke(kind)

    def rect(self, x0: float, y0: float, x1: float, y1: float, kind: str = "outline",
             fill: tuple[float, float, float] | None = None) -> None:
        self._shape.draw_rect(pymupdf.Rect(x0 * MM, y0 * MM, x1 * MM, y1 * MM))
        self._stroke(kind, fill)

    def circle(self, c: tuple[float, float], r: float, kind: str = "outline") -> None:
        self._shape.draw_circle(pymupdf.Point(c[0] * MM, c[1] * MM), r * MM)
        self._stroke(kind)

    def polyline(self, pts: list[tuple[float, float]], kind: str = "outline", closed: bool = False,
                 fill: tuple[float, float, float] | None = None) -> None:
        self._shape.draw_polyline([pymupdf.Point(x * MM, y * MM) for x, y in pts])
        self._stroke(kind, fill, closed)

    def arrow(self, tip: tuple[float, float], direction: tuple[float, float]) -> None:
        """Arrow head at `tip` pointing along `direction` (a vector in sheet mm)."""
        dx, dy = direction
        n = math.hypot(dx, dy) or 1.0
        ux, uy = dx / n, dy / n
        a = self.style.arrow_mm
        w = a * 0.17
        base = (tip[0] - ux * a, tip[1] - uy * a)
        p1 = (base[0] - uy * w, base[1] + ux * w)
        p2 = (base[0] + uy * w, base[1] - ux * w)
        if self.style.filled_arrows:
            self.polyline([tip, p1, p2], kind="thin", closed=True, fill=BLACK)
        else:
            self.polyline([p1, tip, p2], kind="thin")

    # ---- text -----------------------------------------------------------------
    def text(self, pos: tuple[float, float], s: str, size: float | None = None, *,
             angle: float = 0.0, anchor: str = "left", cjk: bool = False) -> None:
        """Write `s` with its baseline at `pos` (mm). anchor: left | center | right."""
        for old, new in self.terms:
            s = s.replace(old, new)
        size_mm = size or self.style.text_mm
        fs = size_mm * MM * 1.3  # text height ~ cap height; font size is larger
        runs = self._runs(s, cjk)
        width = sum(f.text_length(t, fontsize=fs) for f, t in runs)
        shift = {"left": 0.0, "center": width / 2, "right": width}[anchor]
        x, y = pos[0] * MM, pos[1] * MM
        rad = math.radians(angle)
        start = pymupdf.Point(x - shift * math.cos(rad), y + shift * math.sin(rad))
        tw = self._writer
        if angle:  # a rotated run needs its own writer (morph applies to a whole writer)
            tw = pymupdf.TextWriter(self.page.rect)
            self._rotated.append((tw, start, angle))
        cursor = pymupdf.Point(start)
        for f, t in runs:
            cursor = tw.append(cursor, t, font=f, fontsize=fs)[1]

    def _runs(self, s: str, cjk: bool = False) -> list[tuple[pymupdf.Font, str]]:
        """Split `s` into runs of the style font (Latin) and the CJK font (everything else)."""
        runs: list[tuple[pymupdf.Font, str]] = []
        for ch in s:
            f = self._cjk if (cjk or ord(ch) > 0x2FF) else self._font
            if runs and runs[-1][0] is f:
                runs[-1] = (f, runs[-1][1] + ch)
            else:
                runs.append((f, ch))
        return runs

    def text_width(self, s: str, size: float | None = None) -> float:
        fs = (size or self.style.text_mm) * MM * 1.3
        return sum(f.text_length(t, fontsize=fs) for f, t in self._runs(s)) / MM


class View:
    """A projection of the part on the sheet: model mm (y up) -> sheet mm at `scale`."""

    def __init__(self, sheet: Sheet, origin: tuple[float, float], scale: float) -> None:
        self.sheet = sheet
        self.ox, self.oy = origin
        self.k = scale

    def p(self, x: float, y: float) -> tuple[float, float]:
        return (self.ox + x * self.k, self.oy - y * self.k)

    def line(self, x0: float, y0: float, x1: float, y1: float, kind: str = "outline") -> None:
        self.sheet.line(self.p(x0, y0), self.p(x1, y1), kind)

    def poly(self, pts: list[tuple[float, float]], kind: str = "outline", closed: bool = False) -> None:
        self.sheet.polyline([self.p(x, y) for x, y in pts], kind=kind, closed=closed)

    def rect(self, x0: float, y0: float, x1: float, y1: float, kind: str = "outline") -> None:
        a, b = self.p(x0, y1), self.p(x1, y0)
        self.sheet.rect(a[0], a[1], b[0], b[1], kind)

    def circle(self, x: float, y: float, r: float, kind: str = "outline") -> None:
        self.sheet.circle(self.p(x, y), r * self.k, kind)

    def arc(self, x: float, y: float, r: float, a0: float, a1: float, kind: str = "outline") -> None:
        """Circular arc from angle a0 to a1 (degrees, counter-clockwise, model coordinates)."""
        n = max(4, int(abs(a1 - a0) / 10))
        pts = [(x + r * math.cos(math.radians(a0 + (a1 - a0) * i / n)),
                y + r * math.sin(math.radians(a0 + (a1 - a0) * i / n))) for i in range(n + 1)]
        self.poly(pts, kind)

    def rounded_rect(self, x0: float, y0: float, x1: float, y1: float, r: float, kind: str = "outline") -> None:
        self.line(x0 + r, y0, x1 - r, y0, kind)
        self.line(x0 + r, y1, x1 - r, y1, kind)
        self.line(x0, y0 + r, x0, y1 - r, kind)
        self.line(x1, y0 + r, x1, y1 - r, kind)
        self.arc(x1 - r, y0 + r, r, -90, 0, kind)
        self.arc(x1 - r, y1 - r, r, 0, 90, kind)
        self.arc(x0 + r, y1 - r, r, 90, 180, kind)
        self.arc(x0 + r, y0 + r, r, 180, 270, kind)

    def dim_across_v(self, x: float, y0: float, y1: float, text: str) -> None:
        """Vertical dimension line drawn across the part at model x (shaft diameters)."""
        a, b = self.p(x, y0), self.p(x, y1)
        self.sheet.line(a, b, "thin")
        self.sheet.arrow(a, (0, a[1] - b[1]))
        self.sheet.arrow(b, (0, b[1] - a[1]))
        self.sheet.text((a[0] - 0.8, (a[1] + b[1]) / 2), text, angle=90, anchor="center")

    def center_h(self, x0: float, x1: float, y: float = 0.0, ext: float = 3.0) -> None:
        """Horizontal centre line, extended `ext` sheet-mm beyond the outline."""
        a, b = self.p(x0, y), self.p(x1, y)
        self.sheet.line((a[0] - ext, a[1]), (b[0] + ext, b[1]), "center")

    def center_v(self, x: float, y0: float, y1: float, ext: float = 3.0) -> None:
        a, b = self.p(x, y0), self.p(x, y1)
        self.sheet.line((a[0], a[1] + ext), (b[0], b[1] - ext), "center")

    def center_cross(self, x: float, y: float, r: float) -> None:
        self.center_h(x - r, x + r, y, ext=2.0)
        self.center_v(x, y - r, y + r, ext=2.0)

    def hatch_rect(self, x0: float, y0: float, x1: float, y1: float, pitch_mm: float = 2.5) -> None:
        """45° section hatching clipped to a model rectangle (pitch in sheet mm)."""
        (ax, ay), (bx, by) = self.p(min(x0, x1), max(y0, y1)), self.p(max(x0, x1), min(y0, y1))
        w, h = bx - ax, by - ay
        c = pitch_mm
        while c < w + h:
            # line x + y' = c in local coords (y' measured downward from top)
            p0 = (ax + min(c, w), ay + (c - min(c, w)))
            p1 = (ax + max(0.0, c - h), ay + min(c, h))
            self.sheet.line(p0, p1, "thin")
            c += pitch_mm

    # ---- dimensions (offsets and gaps in sheet mm) ------------------------------
    def dim_h(self, x0: float, x1: float, y: float, offset: float, text: str) -> None:
        """Horizontal dimension between model x0..x1 measured from model height y, drawn `offset` above (+) / below (-)."""
        a, b = self.p(x0, y), self.p(x1, y)
        yd = a[1] - offset
        gap = 1.0 if offset > 0 else -1.0
        self.sheet.line((a[0], a[1] - gap), (a[0], yd - gap * 1.5), "thin")
        self.sheet.line((b[0], b[1] - gap), (b[0], yd - gap * 1.5), "thin")
        self.sheet.line((a[0], yd), (b[0], yd), "thin")
        self.sheet.arrow((a[0], yd), (-1, 0))
        self.sheet.arrow((b[0], yd), (1, 0))
        self.sheet.text(((a[0] + b[0]) / 2, yd - 0.8), text, anchor="center")

    def dim_v(self, y0: float, y1: float, x: float, offset: float, text: str) -> None:
        """Vertical dimension between model y0..y1 from model x, drawn `offset` sheet-mm to the right (+) / left (-)."""
        a, b = self.p(x, y0), self.p(x, y1)
        xd = a[0] + offset
        gap = 1.0 if offset > 0 else -1.0
        self.sheet.line((a[0] + gap, a[1]), (xd + gap * 1.5, a[1]), "thin")
        self.sheet.line((b[0] + gap, b[1]), (xd + gap * 1.5, b[1]), "thin")
        self.sheet.line((xd, a[1]), (xd, b[1]), "thin")
        self.sheet.arrow((xd, a[1]), (0, a[1] - b[1]))
        self.sheet.arrow((xd, b[1]), (0, b[1] - a[1]))
        self.sheet.text((xd - 0.8, (a[1] + b[1]) / 2), text, angle=90, anchor="center")

    def dim_diameter(self, x: float, y: float, r: float, angle_deg: float, text: str) -> None:
        """Diameter dimension across a circle along `angle_deg`, text on an outside shoulder."""
        c = self.p(x, y)
        rr = r * self.k
        ux, uy = math.cos(math.radians(angle_deg)), -math.sin(math.radians(angle_deg))
        p0 = (c[0] - ux * rr, c[1] - uy * rr)
        p1 = (c[0] + ux * rr, c[1] + uy * rr)
        tail = (p1[0] + ux * 6, p1[1] + uy * 6)
        self.sheet.line(p0, tail, "thin")
        self.sheet.arrow(p0, (-ux, -uy))
        self.sheet.arrow(p1, (ux, uy))
        sign = 1 if ux >= 0 else -1
        end = (tail[0] + sign * (self.sheet.text_width(text) + 1.5), tail[1])
        self.sheet.line(tail, end, "thin")
        self.sheet.text((tail[0] + (0.7 if sign > 0 else -0.7), tail[1] - 0.8), text,
                        anchor="left" if sign > 0 else "right")

    def leader(self, x: float, y: float, dx: float, dy: float, text: str, arrow: bool = True) -> None:
        """Leader from a model point to a text shoulder at (dx, dy) sheet mm away."""
        a = self.p(x, y)
        b = (a[0] + dx, a[1] + dy)
        self.sheet.line(a, b, "thin")
        if arrow:
            self.sheet.arrow(a, (a[0] - b[0], a[1] - b[1]))
        w = self.sheet.text_width(text) + 1.5
        end = (b[0] + (w if dx >= 0 else -w), b[1])
        self.sheet.line(b, end, "thin")
        self.sheet.text((b[0] + (0.7 if dx >= 0 else -0.7), b[1] - 0.8), text,
                        anchor="left" if dx >= 0 else "right")

    def frame(self, left: float, top: float, cells: list[str]) -> float:
        """Geometric tolerance frame (sheet mm, top-left corner); returns its right edge."""
        h, size = 5.0, 2.8
        x = left
        for c in cells:
            w = max(5.0, self.sheet.text_width(c, size) + 2.0)
            self.sheet.rect(x, top, x + w, top + h, "thin")
            self.sheet.text((x + w / 2, top + h - 1.1), c, size, anchor="center")
            x += w
        return x

    def gdt(self, x: float, y: float, dx: float, dy: float, cells: list[str]) -> None:
        """Leader from a model point (arrow on the surface) to a tolerance frame, e.g. ["↗", "0.02", "A"]."""
        a = self.p(x, y)
        b = (a[0], a[1] + dy)
        self.sheet.line(a, b, "thin")
        self.sheet.arrow(a, (0, -dy))
        self.sheet.line(b, (b[0] + dx, b[1]), "thin")
        self.frame(b[0] + dx, b[1] - 2.5, cells)

    def datum(self, x: float, y: float, letter: str, direction: tuple[float, float]) -> None:
        """Datum feature symbol: filled triangle on a model point, a stem along `direction`, a lettered box."""
        a = self.p(x, y)
        ux, uy = direction
        w = 1.8
        base = [(a[0] - uy * w, a[1] + ux * w), (a[0] + uy * w, a[1] - ux * w)]
        tip = (a[0] + ux * 2.6, a[1] + uy * 2.6)
        self.sheet.polyline([base[0], base[1], tip], kind="thin", closed=True, fill=(0.0, 0.0, 0.0))
        end = (a[0] + ux * 6.0, a[1] + uy * 6.0)
        self.sheet.line(tip, end, "thin")
        cx, cy = end[0] + ux * 2.5, end[1] + uy * 2.5
        self.sheet.rect(cx - 2.5, cy - 2.5, cx + 2.5, cy + 2.5, "thin")
        self.sheet.text((cx, cy + 1.2), letter, 3.0, anchor="center")

    def roughness(self, x: float, y: float, value: str, up: bool = True) -> None:
        """Surface roughness mark (check mark with bar) standing on a model point."""
        a = self.p(x, y)
        s = 1 if up else -1
        h = 3.5
        p_tip = a
        p_l = (a[0] - h * 0.58, a[1] - s * h)
        p_r = (a[0] + h * 1.15, a[1] - s * h * 2)
        self.sheet.polyline([p_l, p_tip, p_r], kind="thin")
        self.sheet.line(p_r, (p_r[0] + self.sheet.text_width(value, 2.5) + 1, p_r[1]), "thin")
        self.sheet.text((p_r[0] + 0.5, p_r[1] - 0.6 if up else p_r[1] + 3.0), value, 2.5)
