"""Synthetic part records: what a drawing shows and what its documents say about it.

`generate_part(seed)` draws every attribute of a part (family, part number, names, material,
treatments, key dimensions, people, dates) from one `random.Random`, so the same seed always
gives the same part. `spec_text(part, lang)` turns a part into the sentence-level text a
specification sheet would contain; it is the text half of (drawing, text) training pairs.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Literal, Union

Lang = Literal["ja", "en"]
Seed = Union[int, random.Random]

FAMILIES: tuple[str, ...] = (
    "shaft", "flange", "plate", "l_bracket", "bushing",
    "gear_blank", "pin", "panel", "block", "bolt",
)
STYLES: tuple[str, ...] = ("jis", "iso", "jp", "cad")  # drawn at random
EXTRA_STYLES: tuple[str, ...] = ("cn",)  # only on request (keeps seed -> part stable); see drawing.py

# family -> list of (name_ja, name_en)
_NAMES: dict[str, list[tuple[str, str]]] = {
    "shaft": [("段付きシャフト", "Stepped shaft"), ("駆動軸", "Drive shaft"),
              ("軸受シャフト", "Bearing shaft"), ("ローラ軸", "Roller shaft")],
    "flange": [("取付フランジ", "Mounting flange"), ("軸受フランジ", "Bearing flange"),
               ("カップリングフランジ", "Coupling flange")],
    "plate": [("取付プレート", "Mounting plate"), ("ベースプレート", "Base plate"),
              ("ストッパープレート", "Stopper plate")],
    "l_bracket": [("Lブラケット", "L-bracket"), ("センサ取付金具", "Sensor mounting bracket"),
                  ("アングルブラケット", "Angle bracket")],
    "bushing": [("スペーサ", "Spacer"), ("軸受ブッシュ", "Bearing bush"), ("カラー", "Collar")],
    "gear_blank": [("平歯車素材", "Spur gear blank"), ("ギヤブランク", "Gear blank"),
                   ("スプロケット素材", "Sprocket blank")],
    "pin": [("位置決めピン", "Locating pin"), ("平行ピン", "Parallel pin"), ("ガイドピン", "Guide pin")],
    "panel": [("カバーパネル", "Cover panel"), ("操作パネル", "Control panel"),
              ("点検口パネル", "Access panel")],
    "block": [("ガイドブロック", "Guide block"), ("治具ブロック", "Jig block"),
              ("クランプブロック", "Clamp block")],
    "bolt": [("六角ボルト", "Hex bolt"), ("段付きボルト", "Shoulder bolt"),
             ("調整ボルト", "Adjusting bolt")],
}


@dataclass(frozen=True)
class Material:
    code: str
    standard: str
    name_ja: str
    name_en: str


MATERIALS: dict[str, Material] = {m.code: m for m in (
    Material("S45C", "JIS G 4051", "機械構造用炭素鋼", "carbon steel for machine structural use"),
    Material("SCM435", "JIS G 4053", "クロムモリブデン鋼", "chromium molybdenum steel"),
    Material("SUJ2", "JIS G 4805", "高炭素クロム軸受鋼", "high carbon chromium bearing steel"),
    Material("SUS304", "JIS G 4303", "ステンレス鋼", "austenitic stainless steel"),
    Material("A5052", "JIS H 4000", "アルミニウム合金", "aluminium alloy"),
    Material("SS400", "JIS G 3101", "一般構造用圧延鋼材", "rolled steel for general structure"),
    Material("C3604", "JIS H 3250", "快削黄銅", "free-cutting brass"),
    Material("SPCC", "JIS G 3141", "冷間圧延鋼板", "cold-rolled steel sheet"),
    Material("FC250", "JIS G 5501", "ねずみ鋳鉄", "grey cast iron"),
)}

# heat treatments: (ja, en, hardness)
_HEAT = {
    "qt": ("焼入れ焼戻し", "quench and temper", "HRC 40-45"),
    "ind": ("高周波焼入れ", "induction hardening", "HRC 50-55"),
    "thr": ("調質", "through hardening", "HRC 28-34"),
    "hard": ("焼入れ焼戻し", "quench and temper", "HRC 58-62"),
    "none": ("", "", ""),
}
# surface treatments: (ja, en)
_SURFACE = {
    "black": ("黒染め", "black oxide"),
    "eni": ("無電解ニッケルめっき", "electroless nickel plating"),
    "alm_w": ("白アルマイト", "clear anodize"),
    "alm_b": ("黒アルマイト", "black anodize"),
    "galv": ("溶融亜鉛めっき", "hot-dip galvanizing"),
    "paint": ("メラミン焼付塗装", "baked melamine paint"),
    "ni": ("ニッケルめっき", "nickel plating"),
    "powder": ("粉体塗装", "powder coating"),
    "chromate": ("三価クロメート", "trivalent chromate"),
    "none": ("", ""),
}
# family -> list of (material, heat key, surface keys)
_RECIPES: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {
    "shaft": [("S45C", "qt", ("black", "none")), ("S45C", "ind", ("none",)),
              ("SCM435", "thr", ("black", "none")), ("SUS304", "none", ("none",))],
    "flange": [("S45C", "none", ("black", "eni")), ("SS400", "none", ("galv", "paint")),
               ("A5052", "none", ("alm_w",)), ("FC250", "none", ("paint",))],
    "plate": [("SS400", "none", ("paint", "galv")), ("A5052", "none", ("alm_w", "alm_b")),
              ("SUS304", "none", ("none",))],
    "l_bracket": [("SS400", "none", ("paint", "chromate")), ("A5052", "none", ("alm_b",)),
                  ("SPCC", "none", ("powder",))],
    "bushing": [("C3604", "none", ("ni", "none")), ("S45C", "qt", ("black",)),
                ("SUS304", "none", ("none",))],
    "gear_blank": [("S45C", "ind", ("none", "black")), ("SCM435", "thr", ("none",))],
    "pin": [("SUJ2", "hard", ("none",)), ("S45C", "qt", ("black", "eni")), ("SUS304", "none", ("none",))],
    "panel": [("SPCC", "none", ("powder", "paint")), ("A5052", "none", ("alm_w",)),
              ("SUS304", "none", ("none",))],
    "block": [("S45C", "none", ("black", "eni")), ("A5052", "none", ("alm_w",)),
              ("FC250", "none", ("paint",))],
    "bolt": [("SCM435", "thr", ("black", "chromate")), ("SUS304", "none", ("none",)),
             ("S45C", "qt", ("black",))],
}

_PEOPLE = ("山田", "佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "中村", "小林", "加藤")
_PEOPLE_EN = {"山田": "Yamada", "佐藤": "Sato", "鈴木": "Suzuki", "高橋": "Takahashi", "田中": "Tanaka",
              "伊藤": "Ito", "渡辺": "Watanabe", "中村": "Nakamura", "小林": "Kobayashi", "加藤": "Kato"}
_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"


@dataclass(frozen=True)
class SyntheticPart:
    """Everything a drawing of one part shows; frozen, deterministic from `seed`."""

    seed: int
    family: str
    style: str
    part_no: str
    name_ja: str
    name_en: str
    material: str  # code, e.g. "S45C"
    heat_treatment: str  # ja, "" if none
    hardness: str  # "HRC 40-45" or ""
    surface: str  # ja, "" if none
    dims: dict[str, float]  # key dimensions in mm (family specific keys)
    sheet: str  # "A4" / "A3"
    scale: str  # "1:1", "1:2", "2:1"
    general_tolerance: str  # "JIS B 0405-m" / "ISO 2768-m"
    roughness: str  # general surface roughness, e.g. "Ra 6.3"
    drawn_by: str
    checked_by: str
    approved_by: str
    date: str  # ISO date
    revision: str
    qty: int
    features: tuple[str, ...] = field(default=())  # notes such as "4-φ9 キリ"
    portrait: bool = False  # A4 upright (small parts); A3 and most A4 sheets are landscape

    @property
    def material_info(self) -> Material:
        return MATERIALS[self.material]

    @property
    def treatment(self) -> str:
        """Heat and surface treatment in Japanese, joined (what a title block shows)."""
        parts = [p for p in (self.heat_treatment, self.hardness, self.surface) if p]
        return " ".join(parts) if parts else "なし"

    def treatment_en(self) -> str:
        heat = next((v[1] for v in _HEAT.values() if v[0] == self.heat_treatment and v[0]), "")
        surf = next((v[1] for v in _SURFACE.values() if v[0] == self.surface and v[0]), "")
        parts = [p for p in (heat, self.hardness if heat else "", surf) if p]
        return ", ".join(parts) if parts else "none"

    def person_en(self, name: str) -> str:
        return _PEOPLE_EN.get(name, name)


def _rng(seed: Seed) -> tuple[random.Random, int]:
    if isinstance(seed, random.Random):
        s = seed.randrange(2**31)
        return random.Random(s), s
    return random.Random(int(seed)), int(seed)


def make_part_no(rng: random.Random) -> str:
    """A plausible drawing/part number in one of several company formats."""
    kind = rng.choices((0, 1, 2, 3), weights=(4, 3, 2, 1.5))[0]
    if kind == 0:  # ZM-1258-B2P
        return (f"ZM-{rng.randrange(1000, 9999)}-{rng.choice(_LETTERS)}"
                f"{rng.randrange(1, 9)}{rng.choice(_LETTERS)}")
    if kind == 1:  # A-20431-03
        return f"{rng.choice('ABCDK')}-{rng.randrange(10000, 99999)}-{rng.randrange(1, 20):02d}"
    if kind == 2:  # KT2-0412-001
        return f"{rng.choice(('KT', 'SG', 'HM'))}{rng.randrange(1, 9)}-{rng.randrange(100, 9999):04d}-{rng.randrange(1, 999):03d}"
    return f"ZB{rng.randrange(100000, 999999)}{rng.choice(_LETTERS)}"  # ZB302114C


def _round(x: float, step: float = 1.0) -> float:
    return round(round(x / step) * step, 3)


def _family_dims(family: str, r: random.Random) -> tuple[dict[str, float], tuple[str, ...]]:
    """Key dimensions (mm) and feature notes (ja) of one family."""
    if family in ("shaft", "pin"):
        n = r.randint(3, 5) if family == "shaft" else r.randint(1, 2)
        d0 = _round(r.uniform(12, 40) if family == "shaft" else r.uniform(5, 16))
        dims: dict[str, float] = {}
        diam = d0
        for i in range(n):
            dims[f"d{i + 1}"] = diam
            dims[f"l{i + 1}"] = _round(r.uniform(0.8, 2.5) * diam + 5, 1 if family == "shaft" else 0.5)
            diam = _round(diam + r.choice((-5, -4, 4, 5, 6, 8)), 1)
            diam = min(max(diam, 6 if family == "shaft" else 3), 60)
        dims["chamfer"] = r.choice((0.5, 1.0)) if family == "shaft" else 0.5
        feats = (f"C{dims['chamfer']:g}",)
        if family == "shaft" and r.random() < 0.6:
            dims["key_w"] = _round(max(4.0, dims["d1"] / 4))
            feats += (f"キー溝 {dims['key_w']:g}N9",)
        return dims, feats
    if family in ("bushing", "flange", "gear_blank"):
        od = _round(r.uniform(20, 60) if family == "bushing" else r.uniform(60, 160))
        bore = _round(od * (r.uniform(0.3, 0.6) if family != "gear_blank" else r.uniform(0.15, 0.3)))
        dims = {"od": od, "bore": bore,
                "length": _round(r.uniform(0.3, 1.2) * od if family == "bushing" else r.uniform(10, 30))}
        feats: tuple[str, ...] = ()
        if family == "flange":
            dims["hub_d"] = _round((od + bore) / 2.2)
            dims["hub_l"] = _round(r.uniform(10, 30))
            dims["holes"] = float(r.choice((4, 6, 8)))
            ring = (od - dims["hub_d"]) / 2  # radial width of the flange ring
            dims["hole_d"] = max([h for h in (5.5, 6.6, 9.0, 11.0, 14.0) if h <= ring * 0.55] or [4.5])
            if r.random() < 0.4:
                dims["hole_d"] = min(dims["hole_d"], 6.6)
            dims["pcd"] = _round((od + dims["hub_d"]) / 2, 1)
            feats = (f"{int(dims['holes'])}-φ{dims['hole_d']:g} キリ",)
        elif family == "gear_blank":
            dims["module"] = float(r.choice((1.0, 1.5, 2.0, 2.5, 3.0)))
            dims["teeth"] = float(max(12, int(od / dims["module"]) - 2))
            dims["hub_d"] = _round(min(bore * 1.6 + 6, od * 0.6))
            dims["hub_l"] = _round(r.uniform(8, 20))
            dims["key_w"] = _round(max(4.0, bore / 4))
            feats = (f"モジュール m{dims['module']:g}", f"歯数 z={int(dims['teeth'])}", f"キー溝 {dims['key_w']:g}Js9")
        return dims, feats
    if family in ("plate", "panel"):
        w = _round(r.uniform(80, 300), 5)
        h = _round(r.uniform(60, 200), 5)
        t = float(r.choice((6, 9, 12, 16, 20)) if family == "plate" else r.choice((1.0, 1.2, 1.6, 2.0, 2.3)))
        nx, ny = r.randint(2, 4), r.randint(1, 3)
        if family == "panel":
            ny = 2  # holes along the top and bottom edges only: clear of the central cutout
        hole = float(r.choice((5.5, 6.6, 9.0, 11.0)))
        dims = {"width": w, "height": h, "thickness": t, "nx": float(nx), "ny": float(ny), "hole_d": hole,
                "margin": _round(min(w, h) * 0.12, 1)}
        feats = (f"{nx * ny}-φ{hole:g} キリ",)
        if family == "panel":
            dims["cut_w"] = _round(w * r.uniform(0.25, 0.45), 1)
            dims["cut_h"] = _round(h * r.uniform(0.25, 0.45), 1)
            dims["corner_r"] = float(r.choice((3, 5, 8)))
            feats += (f"R{dims['corner_r']:g}", "バリなきこと")
        return dims, feats
    if family == "l_bracket":
        dims = {"width": _round(r.uniform(30, 120), 5), "leg_a": _round(r.uniform(40, 150), 5),
                "leg_b": _round(r.uniform(30, 100), 5), "thickness": float(r.choice((3.2, 4.5, 6, 9))),
                "hole_d": float(r.choice((5.5, 6.6, 9.0))), "bend_r": float(r.choice((2, 3, 5)))}
        return dims, (f"2-φ{dims['hole_d']:g} キリ", f"R{dims['bend_r']:g}")
    if family == "block":
        dims = {"width": _round(r.uniform(40, 160), 5), "depth": _round(r.uniform(30, 100), 5),
                "height": _round(r.uniform(20, 80), 5), "step_w": 0.0, "step_h": 0.0,
                "tap": float(r.choice((5, 6, 8, 10)))}
        dims["step_w"] = _round(dims["width"] * r.uniform(0.25, 0.45))
        dims["step_h"] = _round(dims["height"] * r.uniform(0.3, 0.5))
        return dims, (f"2-M{dims['tap']:g} 深さ{int(dims['tap'] * 2)}", "C1")
    if family == "bolt":
        d = float(r.choice((6, 8, 10, 12, 16, 20)))
        dims = {"d": d, "length": _round(d * r.uniform(2.5, 6), 5), "head_s": {6: 10, 8: 13, 10: 17, 12: 19,
                16: 24, 20: 30}[int(d)], "head_k": _round(d * 0.65, 0.5), "thread_l": _round(d * 2 + 6)}
        return dims, (f"M{d:g}×{'1.25' if d == 8 else '1.5' if d >= 10 else '1'}", "6g")
    raise ValueError(f"unknown family {family!r}")


def generate_part(rng: Seed = 0, family: str | None = None, style: str | None = None) -> SyntheticPart:
    """Draw one random part. Same seed (or same `Random` state) -> same part."""
    r, seed = _rng(rng)
    family = family or r.choice(FAMILIES)
    if family not in FAMILIES:
        raise ValueError(f"unknown family {family!r}; one of {FAMILIES}")
    style = style or r.choice(STYLES)
    if style not in STYLES + EXTRA_STYLES:
        raise ValueError(f"unknown style {style!r}; one of {STYLES + EXTRA_STYLES}")
    name_ja, name_en = r.choice(_NAMES[family])
    mat, heat_key, surfaces = r.choice(_RECIPES[family])
    heat = _HEAT[heat_key]
    surf = _SURFACE[r.choice(surfaces)]
    dims, feats = _family_dims(family, r)
    big = max(v for k, v in dims.items() if k in ("od", "width", "length", "leg_a") or k.startswith("l"))
    people = r.sample(_PEOPLE, 3)
    part_no = make_part_no(r)  # keep this draw order: it defines seed -> part for every user
    sheet = "A3" if big > 220 or r.random() < 0.25 else "A4"
    return SyntheticPart(
        seed=seed, family=family, style=style, part_no=part_no,
        name_ja=name_ja, name_en=name_en, material=mat,
        heat_treatment=heat[0], hardness=heat[2], surface=surf[0], dims=dims,
        sheet=sheet,
        scale="2:1" if big < 40 else ("1:2" if big > 250 else "1:1"),
        general_tolerance=("ISO 2768-m" if style == "iso" else "GB/T 1804-m" if style == "cn"
                           else r.choice(("JIS B 0405-m", "JIS B 0405-m", "JIS B 0405-f"))),
        roughness=r.choice(("Ra 3.2", "Ra 6.3", "Ra 12.5")),
        drawn_by=people[0], checked_by=people[1], approved_by=people[2],
        date=f"20{r.randint(19, 26)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}",
        revision=r.choice(("A", "A", "B", "C", "0", "1")), qty=r.choice((1, 2, 4, 5, 10, 20, 50)),
        features=feats,
        # decided without drawing from `r`, so adding it kept every seed's other attributes unchanged
        portrait=sheet == "A4" and family in ("pin", "bushing", "l_bracket", "block", "bolt") and seed % 3 == 0,
    )


def _dims_phrase(part: SyntheticPart, lang: Lang) -> str:
    d = part.dims
    f = part.family
    if f in ("shaft", "pin"):
        n = sum(1 for k in d if k.startswith("d") and k[1:].isdigit())
        length = sum(d[f"l{i}"] for i in range(1, n + 1))
        dmax = max(d[f"d{i}"] for i in range(1, n + 1))
        return (f"全長 {length:g} mm、最大径 φ{dmax:g}、{n}段" if lang == "ja"
                else f"overall length {length:g} mm, max diameter {dmax:g} mm, {n} steps")
    if f in ("bushing", "flange", "gear_blank"):
        return (f"外径 φ{d['od']:g}、内径 φ{d['bore']:g}、幅 {d['length']:g} mm" if lang == "ja"
                else f"outer diameter {d['od']:g} mm, bore {d['bore']:g} mm, width {d['length']:g} mm")
    if f in ("plate", "panel"):
        return (f"{d['width']:g}×{d['height']:g}×t{d['thickness']:g}" if lang == "ja"
                else f"{d['width']:g} x {d['height']:g} mm, thickness {d['thickness']:g} mm")
    if f == "l_bracket":
        return (f"幅 {d['width']:g}、脚長 {d['leg_a']:g}×{d['leg_b']:g}、板厚 t{d['thickness']:g}" if lang == "ja"
                else f"width {d['width']:g} mm, legs {d['leg_a']:g} x {d['leg_b']:g} mm, thickness {d['thickness']:g} mm")
    if f == "block":
        return (f"{d['width']:g}×{d['depth']:g}×{d['height']:g}" if lang == "ja"
                else f"{d['width']:g} x {d['depth']:g} x {d['height']:g} mm")
    return (f"M{d['d']:g}×{d['length']:g}" if lang == "ja" else f"M{d['d']:g} x {d['length']:g} mm")


def spec_text(part: SyntheticPart, lang: Lang = "ja") -> str:
    """The few sentences a specification sheet says about `part` (no part-specific layout)."""
    m = part.material_info
    if lang == "ja":
        s = (f"部品番号 {part.part_no} {part.name_ja}。材質 {m.code}({m.standard} {m.name_ja})。"
             f"寸法 {_dims_phrase(part, 'ja')}。")
        if part.heat_treatment:
            s += f"熱処理 {part.heat_treatment} {part.hardness}。"
        if part.surface:
            s += f"表面処理 {part.surface}。"
        s += f"普通公差 {part.general_tolerance}。表面粗さ {part.roughness}。"
        if part.features:
            s += "加工指示 " + "、".join(part.features) + "。"
        return s
    s = (f"Part number {part.part_no}, {part.name_en.lower()}. Material {m.code} ({m.standard}, {m.name_en}). "
         f"Dimensions: {_dims_phrase(part, 'en')}. ")
    treat = part.treatment_en()
    if treat != "none":
        s += f"Treatment: {treat}. "
    s += f"General tolerance {part.general_tolerance}. Surface roughness {part.roughness}."
    return s
