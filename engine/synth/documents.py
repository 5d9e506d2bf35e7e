"""Documents that belong to synthetic parts: spec sheets, process plans, inspection reports,
prose-only notices (the hard case), a BOM CSV, a Markdown design note and a TXT memo.

Every generator is a pure function of its inputs (parts, language, seed) and returns a
`SyntheticDocument` whose `data` is the file's bytes; PDFs are multi-page, have a text layer and
are byte-for-byte deterministic. Japanese ("ja") and English ("en") versions exist for each kind.
"""

from __future__ import annotations

import html
import random
from dataclasses import dataclass
from typing import Sequence

import pymupdf

from engine.synth.parts import Lang, SyntheticPart, _dims_phrase

A4 = (595.0, 842.0)
CSS = """
* { font-family: sans-serif; font-size: 9.5pt; line-height: 1.35; }
h1 { font-size: 17pt; text-align: center; margin: 0 0 6pt 0; }
h2 { font-size: 11.5pt; margin: 10pt 0 3pt 0; border-bottom: 0.6pt solid black; }
table { border-collapse: collapse; width: 100%; margin: 3pt 0; }
td, th { border: 0.6pt solid black; padding: 2pt 4pt; vertical-align: top; }
th { background-color: #e6e6e6; font-weight: bold; }
p { margin: 2pt 0 4pt 0; }
.small { font-size: 8pt; }
"""


@dataclass(frozen=True)
class SyntheticDocument:
    name: str  # suggested file name, e.g. "spec_ZM-1258-B2P_ja.pdf"
    kind: str  # spec | process | inspection | change_notice | incident | minutes | bom | note | memo
    lang: Lang
    part_nos: tuple[str, ...]  # parts the document is about (whether or not it prints their numbers)
    title: str
    data: bytes


@dataclass(frozen=True)
class Assembly:
    code: str  # "CU-100"
    name_ja: str
    name_en: str


ASSEMBLIES: tuple[Assembly, ...] = (
    Assembly("CU-100", "コンベヤローラユニット", "conveyor roller unit"),
    Assembly("JG-210", "位置決め治具", "positioning jig"),
    Assembly("EC-300", "制御盤筐体", "control cabinet"),
)


# ---------------------------------------------------------------------------- PDF assembly
def _e(s: object) -> str:
    return html.escape(str(s))


def _table(rows: Sequence[Sequence[object]], head: Sequence[str] | None = None, widths: Sequence[int] = ()) -> str:
    out = ["<table>"]
    if head:
        cells = []
        for i, h in enumerate(head):
            width = f' style="width:{widths[i]}%"' if i < len(widths) else ""
            cells.append(f"<th{width}>{_e(h)}</th>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _pdf(pages: Sequence[str], header: str, title: str, date: str) -> bytes:
    """HTML bodies (one per page) -> deterministic PDF bytes with a running header and page numbers."""
    doc = pymupdf.open()
    font = pymupdf.Font("helv")
    for i, body in enumerate(pages):
        page = doc.new_page(width=A4[0], height=A4[1])
        spare, _ = page.insert_htmlbox(pymupdf.Rect(50, 62, A4[0] - 50, A4[1] - 50), body, css=CSS, scale_low=0)
        tw = pymupdf.TextWriter(page.rect)
        tw.append((50, 40), header, font=pymupdf.Font("cjk"), fontsize=8)
        tw.append((A4[0] - 80, A4[1] - 28), f"{i + 1} / {len(pages)}", font=font, fontsize=8)
        tw.write_text(page)
        page.draw_line((50, 46), (A4[0] - 50, 46), width=0.5)
    stamp = "D:" + date.replace("-", "") + "090000"
    doc.set_metadata({"title": title, "author": "Zumen synth", "creator": "Zumen synth", "producer": "Zumen synth",
                      "subject": "", "keywords": "", "creationDate": stamp, "modDate": stamp})
    doc.subset_fonts()
    data = doc.tobytes(garbage=3, deflate=True, no_new_id=True)
    doc.close()
    return data


def _later(date: str, days: int) -> str:
    y, m, d = (int(x) for x in date.split("-"))
    d += days
    while d > 28:
        d -= 28
        m += 1
        if m > 12:
            m, y = 1, y + 1
    return f"{y:04d}-{m:02d}-{d:02d}"


def _key_dims(part: SyntheticPart, lang: Lang) -> list[tuple[str, str, str]]:
    """(item, nominal with tolerance, instrument) rows for tables."""
    d = part.dims
    ja = lang == "ja"
    rows: list[tuple[str, str, str]] = []
    mic, cal, gauge = ("マイクロメータ", "ノギス", "ピンゲージ") if ja else ("micrometer", "caliper", "pin gauge")
    if part.family in ("shaft", "pin"):
        n = sum(1 for k in d if k.startswith("d") and k[1:].isdigit())
        for i in range(1, n + 1):
            rows.append(((f"外径 {i}" if ja else f"Diameter {i}"), f"φ{d[f'd{i}']:g} h7", mic))
        rows.append(("全長" if ja else "Overall length", f"{sum(d[f'l{i}'] for i in range(1, n + 1)):g} ±0.1", cal))
    elif part.family in ("bushing", "flange", "gear_blank"):
        rows += [("外径" if ja else "Outer diameter", f"φ{d['od']:g} h8", mic),
                 ("内径" if ja else "Bore", f"φ{d['bore']:g} H7", gauge),
                 ("幅" if ja else "Width", f"{d['length']:g} ±0.05", mic)]
        if "pcd" in d:
            rows.append(("穴ピッチ円" if ja else "Bolt circle (PCD)", f"{d['pcd']:g} ±0.1", cal))
    elif part.family in ("plate", "panel", "l_bracket", "block"):
        for key, ja_name, en_name in (("width", "幅", "Width"), ("height", "高さ", "Height"),
                                      ("depth", "奥行", "Depth"), ("leg_a", "脚長 A", "Leg A"),
                                      ("leg_b", "脚長 B", "Leg B"), ("thickness", "板厚", "Thickness")):
            if key in d:
                rows.append((ja_name if ja else en_name, f"{d[key]:g} ±0.1", cal if key != "thickness" else mic))
    else:
        rows += [("ねじ径" if ja else "Thread", f"M{d['d']:g} 6g", "ねじリングゲージ" if ja else "thread ring gauge"),
                 ("首下長さ" if ja else "Length under head", f"{d['length']:g} ±0.3", cal),
                 ("二面幅" if ja else "Width across flats", f"{d['head_s']:g} -0.3/0", cal)]
    return rows


def _treat_rows(part: SyntheticPart, lang: Lang) -> list[tuple[str, str]]:
    m = part.material_info
    if lang == "ja":
        return [("図番", part.part_no), ("品名", part.name_ja), ("材質", f"{m.code}({m.standard} {m.name_ja})"),
                ("熱処理", f"{part.heat_treatment} {part.hardness}" if part.heat_treatment else "なし"),
                ("表面処理", part.surface or "なし"), ("普通公差", part.general_tolerance),
                ("表面粗さ", part.roughness), ("主要寸法", _dims_phrase(part, "ja"))]
    heat = part.treatment_en()
    return [("Part number", part.part_no), ("Part name", part.name_en), ("Material", f"{m.code} ({m.standard})"),
            ("Treatment", heat), ("General tolerance", part.general_tolerance),
            ("Surface roughness", part.roughness), ("Main dimensions", _dims_phrase(part, "en"))]


def heat_participle(part: SyntheticPart) -> str:
    """'quench and temper' -> 'quenched and tempered' (for English prose)."""
    verb = part.treatment_en().split(",")[0]
    return {"quench and temper": "quenched and tempered", "induction hardening": "induction hardened",
            "through hardening": "through hardened"}.get(verb, verb)


# family -> (what the part does, ja / en)
_FUNCTION = {
    "shaft": ("軸受に支持されて回転し、プーリ及び歯車へ動力を伝達する", "runs in bearings and carries pulleys and gears"),
    "flange": ("軸端に取り付け、相手部品とボルトで締結する", "is bolted to the mating part at the shaft end"),
    "plate": ("ユニットの取付基準面となる", "is the mounting reference of the unit"),
    "l_bracket": ("センサ及び配線をフレームに固定する", "holds sensors and cables on the frame"),
    "bushing": ("軸上の部品間の間隔を保持し、軸方向の位置を決める", "keeps the spacing and axial position of parts on the shaft"),
    "gear_blank": ("歯切り後に動力伝達用の歯車となる", "becomes the drive gear after hobbing"),
    "pin": ("相手部品の位置決めに用いる", "locates the mating parts"),
    "panel": ("筐体の開口部を覆い、内部機器を保護する", "closes the cabinet opening and protects the equipment"),
    "block": ("ワークを案内し、クランプの基準となる", "guides the workpiece and is the clamping reference"),
    "bolt": ("部品を締結し、調整量を保持する", "fastens the parts and holds the adjustment"),
}


# ---------------------------------------------------------------------------- spec sheet
def spec_sheet(part: SyntheticPart, lang: Lang, assembly: Assembly = ASSEMBLIES[0]) -> SyntheticDocument:
    """仕様書 / Specification: 2 pages, part table, requirements, inspection, revision history."""
    m = part.material_info
    doc_no = f"SP-{part.part_no}"
    if lang == "ja":
        title = f"部品仕様書 {part.name_ja}"
        heat = (f"{part.heat_treatment}を施し、硬さ {part.hardness} を満足すること。" if part.heat_treatment
                else "熱処理は施さない。")
        surf = f"{part.surface}を施すこと。" if part.surface else "表面処理は不要とする。"
        p1 = ("<h1>部品仕様書</h1>"
              + _table([("文書番号", doc_no, "版", part.revision), ("発行日", part.date, "作成", part.drawn_by)])
              + "<h2>1. 適用範囲</h2>"
              f"<p>本仕様書は、{_e(assembly.name_ja)}({assembly.code})に使用する{_e(part.name_ja)}"
              f"(図番 {part.part_no})の材料、熱処理、表面処理、寸法及び検査について規定する。</p>"
              f"<p>本部品は{_FUNCTION[part.family][0]}。使用環境は屋内、周囲温度 0～40℃、相対湿度 85%以下とし、"
              "切削油及び潤滑油が付着する環境を想定する。図面と本仕様書の内容が異なる場合は図面を優先する。</p>"
              "<h2>2. 部品情報</h2>" + _table(_treat_rows(part, "ja"), ("項目", "内容"), (25, 75))
              + "<h2>3. 材料</h2>"
              f"<p>材料は {m.standard} に規定する {m.code}({_e(m.name_ja)})とし、納入時にミルシートを添付すること。</p>"
              f"<h2>4. 熱処理</h2><p>{heat}</p><h2>5. 表面処理</h2><p>{surf}</p>")
        p2 = ("<h2>6. 寸法及び公差</h2>"
              f"<p>図面に指示のない寸法の許容差は {part.general_tolerance} による。主要寸法を次に示す。</p>"
              + _table(_key_dims(part, "ja"), ("項目", "規格値", "測定器"), (30, 40, 30))
              + "<h2>7. 検査</h2><p>外観、寸法、硬さ及び表面粗さを検査し、検査成績書を添付すること。"
              "抜取り検査は JIS Z 9015-1 による。</p>"
              "<h2>8. 梱包及び表示</h2><p>防錆処理を施し、部品番号及び数量を表示した上で梱包すること。</p>"
              "<h2>9. 不適合品の処置</h2><p>不適合品が発見された場合は、直ちに当該ロットを隔離し、発注者に報告すること。"
              "発注者の承認なく手直し又は特別採用を行ってはならない。</p>"
              "<h2>10. 変更管理</h2><p>材料、熱処理条件、加工方法、製造場所又は外注先を変更する場合は、事前に変更申請を行い、"
              "発注者の承認を得ること。</p>"
              "<h2>改訂履歴</h2>"
              + _table([(part.revision, part.date, "初版発行", part.approved_by)], ("版", "日付", "内容", "承認")))
        header = f"{doc_no}  部品仕様書  {part.name_ja}"
    else:
        title = f"Specification {part.name_en}"
        heat = (f"The part shall be {heat_participle(part)} to {part.hardness}." if part.heat_treatment
                else "No heat treatment is required.")
        p1 = ("<h1>Part Specification</h1>"
              + _table([("Document no.", doc_no, "Revision", part.revision),
                        ("Issued", part.date, "Prepared by", part.person_en(part.drawn_by))])
              + "<h2>1. Scope</h2>"
              f"<p>This specification covers material, heat treatment, surface finish, dimensions and inspection of "
              f"the {_e(part.name_en.lower())} (drawing no. {part.part_no}) used in the {_e(assembly.name_en)} "
              f"({assembly.code}).</p>"
              f"<p>The part {_FUNCTION[part.family][1]}. It operates indoors at 0 to 40 °C and up to 85 % relative "
              "humidity, exposed to cutting fluid and lubricating oil. Where this specification and the drawing "
              "differ, the drawing governs.</p>"
              "<h2>2. Part data</h2>" + _table(_treat_rows(part, "en"), ("Item", "Value"), (28, 72))
              + f"<h2>3. Material</h2><p>Material shall be {m.code} ({_e(m.name_en)}) according to {m.standard}. "
              "A mill certificate shall accompany each delivery.</p>"
              f"<h2>4. Heat treatment</h2><p>{_e(heat)}</p>")
        p2 = ("<h2>5. Dimensions and tolerances</h2>"
              f"<p>Untoleranced dimensions follow {part.general_tolerance}. Main dimensions:</p>"
              + _table(_key_dims(part, "en"), ("Item", "Specified", "Instrument"), (30, 40, 30))
              + "<h2>6. Inspection</h2><p>Appearance, dimensions, hardness and surface roughness shall be "
              "inspected; an inspection report shall be supplied with every lot.</p>"
              "<h2>7. Packing and marking</h2><p>Parts shall be oiled against rust and packed with a label showing "
              "part number and quantity.</p>"
              "<h2>8. Nonconforming parts</h2><p>Nonconforming lots shall be quarantined and reported to the "
              "purchaser at once. Rework or concession without written approval is not permitted.</p>"
              "<h2>9. Change control</h2><p>Any change of material, heat treatment, process, manufacturing site or "
              "subcontractor requires prior written approval by the purchaser.</p><h2>Revision history</h2>"
              + _table([(part.revision, part.date, "First issue", part.person_en(part.approved_by))],
                       ("Rev.", "Date", "Description", "Approved")))
        header = f"{doc_no}  SPECIFICATION  {part.name_en}"
    return SyntheticDocument(f"spec_{part.part_no}_{lang}.pdf", "spec", lang, (part.part_no,), title,
                             _pdf([p1, p2], header, title, part.date))


# ---------------------------------------------------------------------------- process plan
def process_route(part: SyntheticPart, lang: Lang) -> list[tuple[str, str, str]]:
    """(operation, machine, content) steps, e.g. 切断 -> 旋盤加工 -> 焼入れ -> 研削 -> 検査."""
    f = part.family
    ja = lang == "ja"
    S = (lambda j, e: j if ja else e)  # noqa: E731
    steps = [(S("切断", "Cutting"), S("バンドソー", "band saw"), S("素材を所定長さに切断", "cut bar stock to length"))]
    if f in ("shaft", "pin", "bushing", "flange", "gear_blank", "bolt"):
        steps.append((S("旋盤加工", "Turning"), S("NC旋盤", "CNC lathe"), S("外径・端面・面取り加工", "turn diameters, faces, chamfers")))
        if "key_w" in part.dims:
            steps.append((S("キー溝加工", "Keyway milling"), S("フライス盤", "milling machine"), S("キー溝加工", "mill keyway")))
        if f == "flange":
            steps.append((S("穴あけ", "Drilling"), S("ボール盤", "drill press"), S("取付穴加工", "drill bolt holes")))
        if f == "gear_blank":
            steps.append((S("歯切り", "Gear hobbing"), S("ホブ盤", "hobbing machine"), S("歯切り加工", "hob teeth")))
        if f == "bolt":
            steps.append((S("転造", "Thread rolling"), S("転造盤", "thread roller"), S("ねじ転造", "roll thread")))
    elif f in ("plate", "block"):
        steps.append((S("フライス加工", "Milling"), S("マシニングセンタ", "machining centre"), S("6面フライス加工", "mill all faces")))
        steps.append((S("穴あけ・タップ", "Drilling and tapping"), S("マシニングセンタ", "machining centre"), S("穴加工", "drill and tap holes")))
    else:
        steps[0] = (S("レーザ切断", "Laser cutting"), S("レーザ加工機", "laser cutter"), S("外形・穴抜き", "cut outline and holes"))
        if f == "l_bracket":
            steps.append((S("曲げ", "Bending"), S("プレスブレーキ", "press brake"), S("90°曲げ", "bend 90°")))
    steps.append((S("バリ取り", "Deburring"), S("手作業", "manual"), S("バリ・カエリ除去", "remove burrs")))
    if part.heat_treatment:
        steps.append((S(part.heat_treatment, part.treatment_en().split(",")[0].capitalize()),
                      S("熱処理炉(外注)", "furnace (outsourced)"), part.hardness))
        if f in ("shaft", "pin", "bushing", "gear_blank"):
            steps.append((S("研削", "Grinding"), S("円筒研削盤", "cylindrical grinder"), S("軸受部 研削仕上げ", "finish-grind bearing seats")))
    if part.surface:
        en = part.treatment_en().split(", ")[-1]
        steps.append((S("表面処理", "Surface treatment"), S("外注", "outsourced"), S(part.surface, en)))
    steps.append((S("検査", "Inspection"), S("検査室", "QA room"), S("寸法・外観・硬さ検査", "dimensional, visual and hardness check")))
    return steps


def process_sheet(part: SyntheticPart, lang: Lang, seed: int = 0) -> SyntheticDocument:
    """工程表 / Process plan: 2 pages, header, operations table, notes and sign-off."""
    r = random.Random(seed ^ part.seed)
    steps = process_route(part, lang)
    doc_no = f"PR-{part.part_no}"
    ja = lang == "ja"
    rows = [(f"{(i + 1) * 10}", op, mc, content, f"{r.choice((5, 8, 10, 15, 20, 30, 45))}")
            for i, (op, mc, content) in enumerate(steps)]
    arrow = " → ".join(op for op, _, _ in steps)
    m = part.material_info
    if ja:
        title = f"工程表 {part.name_ja}"
        p1 = ("<h1>工程表</h1>"
              + _table([("図番", part.part_no, "品名", part.name_ja), ("材質", f"{m.code}", "数量", f"{part.qty * 10}"),
                        ("文書番号", doc_no, "発行日", _later(part.date, 3))])
              + f"<h2>工程順序</h2><p>{_e(arrow)}</p>"
              + _table(rows, ("工程No", "工程", "設備", "作業内容", "標準時間(分)"), (10, 20, 22, 34, 14)))
        p2 = ("<h2>注意事項</h2>"
              f"<p>材料 {m.code} は {m.standard} 適合品を使用すること。普通公差は {part.general_tolerance} による。</p>"
              + (f"<p>{part.heat_treatment}後の硬さ {part.hardness} を全数確認すること。</p>" if part.heat_treatment else "")
              + "<p>初品は検査員の確認を受けてから量産に移ること。</p>"
              + _table([("作成", part.drawn_by, _later(part.date, 3)), ("確認", part.checked_by, _later(part.date, 4)),
                        ("承認", part.approved_by, _later(part.date, 5))], ("役割", "氏名", "日付")))
        header = f"{doc_no}  工程表"
    else:
        title = f"Process plan {part.name_en}"
        p1 = ("<h1>Process Plan</h1>"
              + _table([("Part number", part.part_no, "Part name", part.name_en),
                        ("Material", m.code, "Lot size", f"{part.qty * 10}"),
                        ("Document no.", doc_no, "Issued", _later(part.date, 3))])
              + f"<h2>Routing</h2><p>{_e(arrow)}</p>"
              + _table(rows, ("Op.", "Operation", "Machine", "Content", "Std. time (min)"), (8, 22, 22, 34, 14)))
        p2 = ("<h2>Notes</h2>"
              f"<p>Use {m.code} material certified to {m.standard}. General tolerances per {part.general_tolerance}.</p>"
              + (f"<p>Check hardness {part.hardness} on every part after heat treatment.</p>" if part.heat_treatment else "")
              + "<p>First article must be approved by QA before series production.</p>"
              + _table([("Prepared", part.person_en(part.drawn_by)), ("Checked", part.person_en(part.checked_by)),
                        ("Approved", part.person_en(part.approved_by))], ("Role", "Name")))
        header = f"{doc_no}  PROCESS PLAN"
    return SyntheticDocument(f"process_{part.part_no}_{lang}.pdf", "process", lang, (part.part_no,), title,
                             _pdf([p1, p2], header, title, _later(part.date, 3)))


# ---------------------------------------------------------------------------- inspection report
_CHEM = {"S45C": "C 0.45 Si 0.22 Mn 0.75 P 0.015 S 0.012", "SCM435": "C 0.35 Si 0.25 Mn 0.72 Cr 1.05 Mo 0.20",
         "SUJ2": "C 1.00 Si 0.25 Mn 0.40 Cr 1.45", "SUS304": "C 0.05 Si 0.45 Mn 1.20 Ni 8.10 Cr 18.2",
         "A5052": "Si 0.10 Fe 0.25 Mg 2.5 Cr 0.20", "SS400": "P 0.020 S 0.015 (TS 450 MPa)",
         "C3604": "Cu 58.5 Pb 3.0 Fe 0.3 Zn bal.", "SPCC": "C 0.05 Mn 0.25 P 0.015 S 0.010",
         "FC250": "C 3.3 Si 1.9 Mn 0.7 (TS 265 MPa)"}


def inspection_report(part: SyntheticPart, lang: Lang, seed: int = 0) -> SyntheticDocument:
    """検査成績書 / Inspection report: measured values of 5 samples, material certificate summary."""
    r = random.Random(seed * 31 + part.seed)
    ja = lang == "ja"
    lot = f"L{part.date.replace('-', '')[2:]}-{r.randrange(1, 99):02d}"
    rows = []
    for i, (item, spec, inst) in enumerate(_key_dims(part, lang), 1):
        nominal = float(spec.replace("φ", "").replace("M", "").split()[0])
        vals = [f"{nominal + r.uniform(-0.012, 0.006):.3f}" for _ in range(5)]
        rows.append((str(i), item, spec, inst, *vals, "合" if ja else "OK"))
    if part.hardness:
        lo, hi = (int(x) for x in part.hardness.split()[1].split("-"))
        vals = [f"{r.uniform(lo + 0.5, hi - 0.5):.1f}" for _ in range(5)]
        rows.append((str(len(rows) + 1), "硬さ" if ja else "Hardness", part.hardness,
                     "ロックウェル硬さ試験機" if ja else "Rockwell tester", *vals, "合" if ja else "OK"))
    rows.append((str(len(rows) + 1), "外観" if ja else "Appearance", "傷・打痕なきこと" if ja else "no scratches",
                 "目視" if ja else "visual", *(["良" if ja else "good"] * 5), "合" if ja else "OK"))
    head = (("No", "検査項目", "規格値", "測定器", "x1", "x2", "x3", "x4", "x5", "判定") if ja
            else ("No", "Item", "Specified", "Instrument", "x1", "x2", "x3", "x4", "x5", "Result"))
    date = _later(part.date, 20)
    m = part.material_info
    if ja:
        title = f"検査成績書 {part.part_no}"
        p1 = ("<h1>検査成績書</h1>"
              + _table([("図番", part.part_no, "品名", part.name_ja), ("材質", f"{m.code}({m.standard})", "ロットNo", lot),
                        ("数量", f"{part.qty * 10}", "検査日", date), ("検査員", part.checked_by, "抜取数", "5")])
              + "<h2>寸法・硬さ検査結果</h2>" + f"<div class='small'>{_table(rows, head)}</div>")
        p2 = ("<h2>材料証明(ミルシート抜粋)</h2>"
              + _table([(m.code, m.standard, _CHEM[m.code])], ("材質", "規格", "化学成分(%)"))
              + (f"<h2>熱処理記録</h2><p>{part.heat_treatment} 実施。硬さ {part.hardness} 規格内。</p>" if part.heat_treatment else "")
              + "<h2>総合判定</h2><p>上記のとおり全項目規格を満足しており、合格と判定する。</p>"
              + _table([("検査", part.checked_by), ("承認", part.approved_by)], ("役割", "氏名")))
        header = f"検査成績書  {part.part_no}  ロット {lot}"
    else:
        title = f"Inspection report {part.part_no}"
        p1 = ("<h1>Inspection Report</h1>"
              + _table([("Part number", part.part_no, "Part name", part.name_en),
                        ("Material", f"{m.code} ({m.standard})", "Lot no.", lot),
                        ("Quantity", f"{part.qty * 10}", "Date", date),
                        ("Inspector", part.person_en(part.checked_by), "Samples", "5")])
              + "<h2>Dimensional and hardness results</h2>" + f"<div class='small'>{_table(rows, head)}</div>")
        p2 = ("<h2>Material certificate (extract)</h2>"
              + _table([(m.code, m.standard, _CHEM[m.code])], ("Material", "Standard", "Chemical composition (%)"))
              + "<h2>Verdict</h2><p>All items conform to the specification. The lot is accepted.</p>"
              + _table([("Inspected", part.person_en(part.checked_by)), ("Approved", part.person_en(part.approved_by))],
                       ("Role", "Name")))
        header = f"INSPECTION REPORT  {part.part_no}  LOT {lot}"
    return SyntheticDocument(f"inspection_{part.part_no}_{lang}.pdf", "inspection", lang, (part.part_no,), title,
                             _pdf([p1, p2], header, title, date))
