"""Orthographic views of each part family.

`family_views(part, rng)` returns the views (front / side / top) of a part as `ViewSpec`s: a model
bounding box plus a function that draws the view (outline, hidden and centre lines, hatching,
dimensions with tolerances, roughness marks, notes) onto a `View`. The layout (where each view
goes and at which scale) is decided by `drawing.py`.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Callable

from engine.synth import vocab_zh
from engine.synth.canvas import View
from engine.synth.parts import SyntheticPart


@dataclass(frozen=True)
class ViewSpec:
    bbox: tuple[float, float, float, float]  # model xmin, ymin, xmax, ymax (mm)
    draw: Callable[[View], None]


def _fit_tol(r: random.Random, hole: bool = False) -> str:
    return r.choice(("", "", " H7", " H8", " +0.02/0") if hole else ("", "", " h7", " g6", " ±0.02", " -0.01/-0.03"))


def _lin_tol(r: random.Random) -> str:
    return r.choice(("", "", "", " ±0.1", " ±0.05", " +0.1/0"))


def _g(v: float) -> str:
    return f"{v:g}"


EN_TERMS = (("キリ", "THRU"), ("キー溝", "KEYWAY"), ("深さ", "DEPTH "))


def drafting_terms(style: str) -> tuple[tuple[str, str], ...]:
    """Replacements for the Japanese drafting terms used in views (キリ -> THRU / 通孔), per style."""
    if style == "cn":
        return vocab_zh.TERMS
    return EN_TERMS if style in ("iso", "cad") else ()


# ---------------------------------------------------------------------------- revolved parts
def _revolved(part: SyntheticPart, r: random.Random, segs: list[tuple[float, float]], bore: float = 0.0,
              section: str = "none", hex_head: float = 0.0, thread: tuple[float, float] | None = None,
              ) -> dict[str, ViewSpec]:
    """Parts turned on a lathe: segments of (length, diameter) along x; bore through.

    section: none | half | full. hex_head: across-flats of a hex first segment (bolt heads).
    thread: (major diameter, threaded length from the right end).
    """
    length = sum(s[0] for s in segs)
    rmax = max(s[1] for s in segs) / 2
    xs = [0.0]
    for seg_len, _ in segs:
        xs.append(xs[-1] + seg_len)
    c = part.dims.get("chamfer", 1.0)

    def front(v: View) -> None:
        for i, (_, d) in enumerate(segs):
            x0, x1, rr = xs[i], xs[i + 1], d / 2
            cl = c if i == 0 else 0.0
            cr = c if i == len(segs) - 1 else 0.0
            for sgn in (1, -1):
                v.line(x0 + cl, sgn * rr, x1 - cr, sgn * rr)
                if cl:
                    v.line(x0, sgn * (rr - cl), x0 + cl, sgn * rr)
                if cr:
                    v.line(x1 - cr, sgn * rr, x1, sgn * (rr - cr))
            prev = segs[i - 1][1] / 2 if i else 0.0
            edge = max(prev, rr) if i else rr - cl
            v.line(x0, -edge, x0, edge)
            if cl:
                v.line(x0 + cl, -rr, x0 + cl, rr, "thin")
            if cr:
                v.line(x1 - cr, -rr, x1 - cr, rr, "thin")
        v.line(xs[-1], -(segs[-1][1] / 2 - c), xs[-1], segs[-1][1] / 2 - c)
        if hex_head:
            h = segs[0][1] / 2
            for y in (h / 2, -h / 2):
                v.line(xs[0], y, xs[1], y)
        if bore:
            rb = bore / 2
            if section == "none":
                for sgn in (1, -1):
                    v.line(0, sgn * rb, length, sgn * rb, "hidden")
            else:
                for sgn in (1, -1):
                    v.line(0, sgn * rb, length, sgn * rb, "outline" if (section == "full" or sgn > 0) else "hidden")
                for i, (_, d) in enumerate(segs):
                    v.hatch_rect(xs[i], rb, xs[i + 1], d / 2)
                    if section == "full":
                        v.hatch_rect(xs[i], -d / 2, xs[i + 1], -rb)
        if thread:
            major, tl = thread
            minor = major * 0.85
            for sgn in (1, -1):
                v.line(length - tl, sgn * minor / 2, length, sgn * minor / 2, "thin")
            v.line(length - tl, -major / 2, length - tl, major / 2)
        v.center_h(0, length)
        if section == "full":  # the view is section A-A; its cutting plane is marked in the side view
            top = v.p(length / 2, rmax)
            v.sheet.text((top[0], top[1] - 16), "A-A", 4.2, anchor="center")
        # dimensions: chain of segment lengths below, overall above, diameters across
        if len(segs) > 1:
            for i, (seg_len, d) in enumerate(segs):
                v.dim_h(xs[i], xs[i + 1], -d / 2, -((rmax - d / 2) * v.k + 8), _g(seg_len))
        v.dim_h(0, length, rmax, 10, _g(length) + _lin_tol(r))
        done: set[float] = set()
        for i in sorted(range(len(segs)), key=lambda j: -segs[j][0]):
            seg_len, d = segs[i]
            if (hex_head and i == 0) or d in done:
                continue
            done.add(d)
            label = ("M" + _g(thread[0]) if thread and i == len(segs) - 1 else "φ" + _g(d) + _fit_tol(r))
            at = 0.3 if (bore or (i == 0 and "key_w" in part.dims)) else 0.5
            v.dim_across_v(xs[i] + seg_len * at, -d / 2, d / 2, label)
        v.leader(c / 2, segs[0][1] / 2 - c / 2, -6, -8, f"C{_g(c)}")
        v.roughness(xs[len(segs) // 2] + segs[len(segs) // 2][0] * 0.75, segs[len(segs) // 2][1] / 2,
                    r.choice(("Ra 1.6", "Ra 0.8", "Ra 3.2")))
        # datum A on the left end face (the axis), a runout / coaxiality frame below the last step
        d0 = segs[0][1] - (2 * c if hex_head else 0.0)
        v.datum(0.0, -(d0 / 2 + bore / 2) / 2, "A", (-1.0, 0.0))  # middle of the end face (or wall)
        last = len(segs) - 1
        if last > 0 or bore:
            sym = r.choice((["↗", "0.02", "A"], ["◎", "φ0.02", "A"], ["○", "0.01"]))
            v.gdt(xs[last] + segs[last][0] * 0.6, -segs[last][1] / 2, 4.0,
                  (rmax - segs[last][1] / 2) * v.k + 15.0, sym)
        if "key_w" in part.dims and not bore:
            kw = part.dims["key_w"]
            kl = min(segs[0][0] * 0.45, segs[0][0] - 2 * c - 2)
            kx = xs[0] + segs[0][0] * 0.5
            if kl > kw * 1.5:
                v.line(kx + kw / 2, kw / 2, kx + kl - kw / 2, kw / 2)
                v.line(kx + kw / 2, -kw / 2, kx + kl - kw / 2, -kw / 2)
                v.arc(kx + kw / 2, 0, kw / 2, 90, 270)
                v.arc(kx + kl - kw / 2, 0, kw / 2, -90, 90)
                v.leader(kx + kl / 2, -kw / 2, -12, 16 + (rmax - kw / 2) * v.k, f"キー溝 {_g(kw)}N9")

    def side(v: View) -> None:
        if hex_head:
            s = hex_head
            rc = s / math.sqrt(3)
            pts = [(rc * math.cos(math.radians(30 + 60 * k)), rc * math.sin(math.radians(30 + 60 * k)))
                   for k in range(6)]
            v.poly(pts, closed=True)
            v.circle(0, 0, s / 2 * 0.95, "thin")
            v.dim_v(-s / 2, s / 2, rc, 8, _g(s))
        diams = sorted({d for _, d in segs[(1 if hex_head else 0):]}, reverse=True)
        for d in diams:
            v.circle(0, 0, d / 2)
        if bore:
            v.circle(0, 0, bore / 2)
            v.dim_diameter(0, 0, bore / 2, 135, "φ" + _g(bore) + _fit_tol(r, True))
        if thread:
            v.arc(0, 0, thread[0] * 0.85 / 2, 20, 290, "thin")
        rr = max(max(diams), hex_head / math.sqrt(3) if hex_head else 0) / 2
        v.center_cross(0, 0, max(rr, hex_head / math.sqrt(3) if hex_head else rr))
        if section == "full":
            for sgn in (1, -1):
                a = v.p(0, sgn * (rr + 2.0 / v.k))
                b = (a[0], a[1] - sgn * 5.0)
                v.sheet.line(a, b, "outline")
                v.sheet.line(b, (b[0] - 5.0, b[1]), "thin")
                v.sheet.arrow((b[0] - 5.0, b[1]), (-1.0, 0.0))
                v.sheet.text((b[0] - 3.0, b[1] - sgn * 1.5 + (3.0 if sgn < 0 else 0.0)), "A", 3.5, anchor="center")
        fl = part.dims
        if "holes" in fl:
            n, pcd, hd = int(fl["holes"]), fl["pcd"], fl["hole_d"]
            v.circle(0, 0, pcd / 2, "center")
            for k in range(n):
                a = math.radians(90 / n + 360 * k / n) if n != 4 else math.radians(45 + 90 * k)
                hx, hy = pcd / 2 * math.cos(a), pcd / 2 * math.sin(a)
                v.circle(hx, hy, hd / 2)
                v.center_cross(hx, hy, hd / 2 + 1)
            a = math.radians(45) if n == 4 else math.radians(90 / n)
            v.leader(pcd / 2 * math.cos(a) + hd / 2 * 0.7, pcd / 2 * math.sin(a) + hd / 2 * 0.7, 12, -12,
                     f"{n}-φ{_g(hd)} キリ")
            v.dim_diameter(0, 0, pcd / 2, 210, f"P.C.D. {_g(pcd)}")
        if "teeth" in fl:
            m, z = fl["module"], fl["teeth"]
            v.circle(0, 0, m * z / 2, "center")
            kw = fl["key_w"]
            rb = bore / 2
            v.rect(-kw / 2, rb - 0.5, kw / 2, rb + kw * 0.4, "outline")
        v.dim_diameter(0, 0, max(diams) / 2, 35 if "holes" not in fl else 330, "φ" + _g(max(diams)))

    front_bbox = (0.0, -rmax, length, rmax)
    side_r = max(rmax, hex_head / math.sqrt(3) if hex_head else 0.0)
    return {"front": ViewSpec(front_bbox, front),
            "side": ViewSpec((-side_r, -side_r, side_r, side_r), side)}


# ---------------------------------------------------------------------------- prismatic parts
def _plate(part: SyntheticPart, r: random.Random) -> dict[str, ViewSpec]:
    d = part.dims
    w, h, t, m = d["width"], d["height"], d["thickness"], d["margin"]
    nx, ny, hd = int(d["nx"]), int(d["ny"]), d["hole_d"]
    xs = [m + (w - 2 * m) * i / max(1, nx - 1) for i in range(nx)] if nx > 1 else [w / 2]
    ys = [m + (h - 2 * m) * j / max(1, ny - 1) for j in range(ny)] if ny > 1 else [h / 2]
    panel = part.family == "panel"
    cr = d.get("corner_r", 0.0)

    def front(v: View) -> None:
        if panel:
            v.rounded_rect(0, 0, w, h, cr)
            cw, ch = d["cut_w"], d["cut_h"]
            cx0, cy0 = (w - cw) / 2, (h - ch) / 2
            v.rounded_rect(cx0, cy0, cx0 + cw, cy0 + ch, min(3.0, cw / 4))
            v.dim_h(cx0, cx0 + cw, cy0 + ch, 6, _g(cw) + " +0.2/0")
            v.dim_v(cy0, cy0 + ch, cx0 + cw, 6, _g(ch))
            v.leader(w - cr * 0.3, h - cr * 0.3, 6, -6, f"4-R{_g(cr)}")
        else:
            v.rect(0, 0, w, h)
        for x in xs:
            for y in ys:
                v.circle(x, y, hd / 2)
                v.center_cross(x, y, hd / 2 + 1.5)
        v.dim_h(0, w, h, 16, _g(w) + _lin_tol(r))
        if nx > 1:
            v.dim_h(xs[0], xs[-1], h, 8, _g(round(xs[-1] - xs[0], 2)) + " ±0.1")
        v.dim_v(0, h, 0, -16, _g(h) + _lin_tol(r))
        if ny > 1:
            v.dim_v(ys[0], ys[-1], 0, -8, _g(round(ys[-1] - ys[0], 2)) + " ±0.1")
        v.leader(xs[-1] + hd / 2 * 0.7, ys[0] - hd / 2 * 0.7, 10, 8, f"{nx * ny}-φ{_g(hd)} キリ")
        v.roughness(w * 0.5, 0, part.roughness.replace("Ra ", "Ra"), up=False)

    def side(v: View) -> None:
        v.rect(0, 0, t, h)
        for y in ys:
            v.line(0, y - hd / 2, t, y - hd / 2, "hidden")
            v.line(0, y + hd / 2, t, y + hd / 2, "hidden")
            v.center_h(0, t, y, ext=2)
        v.dim_h(0, t, h, 8, ("t" if panel else "") + _g(t))

    return {"front": ViewSpec((0, 0, w, h), front), "side": ViewSpec((0, 0, t, h), side)}


def _l_bracket(part: SyntheticPart, r: random.Random) -> dict[str, ViewSpec]:
    d = part.dims
    w, a, b, t, hd, br = d["width"], d["leg_a"], d["leg_b"], d["thickness"], d["hole_d"], d["bend_r"]
    ro = br + t

    def front(v: View) -> None:  # profile: vertical leg at x=0..t, horizontal leg at y=0..t
        v.line(0, ro, 0, a)
        v.line(0, a, t, a)
        v.line(t, a, t, t + br)
        v.arc(t + br, t + br, br, 180, 270)
        v.line(t + br, t, b, t)
        v.line(b, t, b, 0)
        v.line(b, 0, ro, 0)
        v.arc(ro, ro, ro, 180, 270)
        v.dim_v(0, a, 0, -10, _g(a) + _lin_tol(r))
        v.dim_h(0, b, 0, -10, _g(b) + _lin_tol(r))
        v.dim_h(0, t, a, 6, _g(t))
        v.leader(t + br * 0.3, t + br * 0.3, 10, -12, f"R{_g(br)}")
        v.line(t / 2, a * 0.6 - hd / 2, t / 2, a * 0.6 + hd / 2, "center")
        v.line(0, a * 0.6 - hd / 2, t, a * 0.6 - hd / 2, "hidden")
        v.line(0, a * 0.6 + hd / 2, t, a * 0.6 + hd / 2, "hidden")

    def side(v: View) -> None:  # looking at the vertical leg
        v.rect(0, 0, w, a)
        v.line(0, t, w, t, "thin")
        for hx in (w * 0.25, w * 0.75):
            v.circle(hx, a * 0.6, hd / 2)
            v.center_cross(hx, a * 0.6, hd / 2 + 1.5)
        v.dim_h(0, w, a, 14, _g(w) + _lin_tol(r))
        v.dim_h(w * 0.25, w * 0.75, a, 7, _g(w * 0.5))
        v.dim_v(0, a * 0.6, w, 8, _g(round(a * 0.6, 1)))
        v.leader(w * 0.75 + hd / 2 * 0.7, a * 0.6 + hd / 2 * 0.7, 8, -8, f"2-φ{_g(hd)} キリ")

    return {"front": ViewSpec((0, 0, b, a), front), "side": ViewSpec((0, 0, w, a), side)}


def _block(part: SyntheticPart, r: random.Random) -> dict[str, ViewSpec]:
    d = part.dims
    w, dp, h, sw, sh, tap = d["width"], d["depth"], d["height"], d["step_w"], d["step_h"], d["tap"]
    tx = [(w - sw) * 0.25, (w - sw) * 0.75]  # tapped holes on the tall part

    def front(v: View) -> None:
        v.poly([(0, 0), (w, 0), (w, h - sh), (w - sw, h - sh), (w - sw, h), (0, h)], closed=True)
        for x in tx:
            v.line(x - tap * 0.425, h, x - tap * 0.425, h - tap * 2, "hidden")
            v.line(x + tap * 0.425, h, x + tap * 0.425, h - tap * 2, "hidden")
            v.center_v(x, h - tap * 2.3, h, ext=2)
        v.dim_h(0, w, 0, -15, _g(w) + _lin_tol(r))
        v.dim_v(0, h, 0, -10, _g(h) + _lin_tol(r))
        v.dim_h(w - sw, w, h, 8, _g(sw))
        v.dim_v(h - sh, h, w, 8, _g(sh) + " ±0.05")
        v.roughness(w * 0.3, 0, r.choice(("Ra1.6", "Ra3.2")), up=False)

    def top(v: View) -> None:
        v.rect(0, 0, w, dp)
        v.line(w - sw, 0, w - sw, dp)
        for x in tx:
            v.circle(x, dp / 2, tap * 0.425)
            v.arc(x, dp / 2, tap / 2, 100, 370, "thin")
            v.center_cross(x, dp / 2, tap / 2 + 1.5)
        v.dim_v(0, dp, w, 10, _g(dp))
        v.dim_h(tx[0], tx[1], dp, 8, _g(round(tx[1] - tx[0], 1)) + " ±0.05")
        v.leader(tx[1] + tap * 0.35, dp / 2 + tap * 0.35, 10, -8, f"2-M{_g(tap)} 深さ{int(tap * 2)}")

    def side(v: View) -> None:
        v.rect(0, 0, dp, h)
        v.line(0, h - sh, dp, h - sh)
        v.center_v(dp / 2, 0, h, ext=2)

    return {"front": ViewSpec((0, 0, w, h), front), "top": ViewSpec((0, 0, w, dp), top),
            "side": ViewSpec((0, 0, dp, h), side)}


def family_views(part: SyntheticPart, r: random.Random) -> dict[str, ViewSpec]:
    """The views of `part`, keyed front / side / top."""
    d = part.dims
    f = part.family
    if f in ("shaft", "pin"):
        n = sum(1 for k in d if k.startswith("d") and k[1:].isdigit())
        segs = [(d[f"l{i}"], d[f"d{i}"]) for i in range(1, n + 1)]
        return _revolved(part, r, segs)
    if f == "bushing":
        return _revolved(part, r, [(d["length"], d["od"])], bore=d["bore"], section="full")
    if f == "flange":
        return _revolved(part, r, [(d["length"], d["od"]), (d["hub_l"], d["hub_d"])], bore=d["bore"],
                         section="half")
    if f == "gear_blank":
        return _revolved(part, r, [(d["hub_l"], d["hub_d"]), (d["length"], d["od"]), (d["hub_l"], d["hub_d"])],
                         bore=d["bore"], section="full")
    if f == "bolt":
        s = d["head_s"]
        return _revolved(part, r, [(d["head_k"], s * 2 / math.sqrt(3)), (d["length"], d["d"])],
                         hex_head=s, thread=(d["d"], d["thread_l"]))
    if f in ("plate", "panel"):
        return _plate(part, r)
    if f == "l_bracket":
        return _l_bracket(part, r)
    if f == "block":
        return _block(part, r)
    raise ValueError(f"unknown family {f!r}")
