"""Prose documents about parts (the hard retrieval case), a BOM CSV, a Markdown note and a TXT memo.

Prose documents have no part table: a design change notice names its part number only inside
sentences; a field report and meeting minutes never print the number and describe the part by
name, material and size, the way people write about parts they all know.
"""

from __future__ import annotations

import csv
import io
from typing import Sequence

from engine.synth.documents import ASSEMBLIES, Assembly, SyntheticDocument, _e, _later, _pdf, heat_participle
from engine.synth.parts import Lang, SyntheticPart, _dims_phrase


def change_notice(part: SyntheticPart, lang: Lang, number: str, new_material: str = "SCM435") -> SyntheticDocument:
    """設計変更通知 / Design change notice: the part number appears only in running text."""
    date = _later(part.date, 60)
    m = part.material
    if lang == "ja":
        title = f"設計変更通知 {number}"
        p1 = (f"<h1>設計変更通知</h1><p>通知番号 {number}  発行日 {date}</p>"
              "<h2>変更内容</h2>"
              f"<p>{_e(part.name_ja)}(図番 {part.part_no})について、摩耗対策のため材質を {m} から {new_material} "
              f"に変更し、あわせて熱処理を調質 HRC 28-34 とする。寸法({_e(_dims_phrase(part, 'ja'))})に変更はない。</p>"
              "<h2>変更理由</h2>"
              f"<p>市場から返却された{_e(part.name_ja)}の数点に、軸受はめあい部の摩耗が認められた。現行材 {m} "
              "では硬さが不足するため、材質と熱処理を見直すこととした。</p>"
              "<h2>切替時期</h2>"
              f"<p>在庫品は使い切りとし、次回ロットから新仕様に切り替える。図面は改訂版を {_later(date, 14)} までに"
              f"発行する。関連する工程表及び検査基準も同時に改訂すること。</p>"
              f"<p>起案 {part.drawn_by} / 承認 {part.approved_by}</p>")
        p2 = ("<h2>影響範囲</h2><p>購買部門は新材料の手配を行うこと。品質保証部門は初品検査を実施し、"
              "硬さ及び寸法を確認すること。製造部門は熱処理外注先へ新しい硬さ指示を連絡すること。</p>"
              "<h2>備考</h2><p>本通知に関する問い合わせは設計部まで。</p>")
        header = f"{number}  設計変更通知"
    else:
        title = f"Engineering change notice {number}"
        p1 = (f"<h1>Engineering Change Notice</h1><p>ECN {number}, issued {date}</p>"
              "<h2>Change</h2>"
              f"<p>For the {_e(part.name_en.lower())} with drawing number {part.part_no}, the material changes "
              f"from {m} to {new_material} and the part will be through hardened to HRC 28-34. "
              f"Dimensions ({_e(_dims_phrase(part, 'en'))}) are unchanged.</p>"
              f"<h2>Reason</h2><p>Returned parts showed wear at the bearing seat; {m} is not hard enough.</p>"
              f"<h2>Effectivity</h2><p>Use up stock; the next lot is made to the new specification. The revised "
              f"drawing will be released by {_later(date, 14)}.</p>")
        p2 = ("<h2>Impact</h2><p>Purchasing orders the new material. QA performs a first article inspection. "
              "Production informs the heat treatment supplier.</p>")
        header = f"ECN {number}"
    return SyntheticDocument(f"change_notice_{number}.pdf", "change_notice", lang, (part.part_no,), title,
                             _pdf([p1, p2], header, title, date))


def field_report(part: SyntheticPart, assembly: Assembly, number: str) -> SyntheticDocument:
    """English field failure report that never prints the part number (hard case)."""
    date = _later(part.date, 200)
    m = part.material_info
    treat = (f"{heat_participle(part)} to {part.hardness}" if part.heat_treatment else "not heat treated")
    title = f"Field failure report {number}"
    p1 = (f"<h1>Field Failure Report</h1><p>Report {number}, {date}. Customer site: Nagoya plant, line 3.</p>"
          "<h2>Summary</h2>"
          f"<p>During the scheduled maintenance of the {_e(assembly.name_en)} the service engineer found that the "
          f"{_e(part.name_en.lower())} had failed. The part is made of {m.code} ({_e(m.name_en)}), {treat}, "
          f"{_e(_dims_phrase(part, 'en'))}. Two of the eight units on the line were affected.</p>"
          "<h2>Observations</h2>"
          "<p>Fretting marks and a loss of fit were visible; surface roughness at the contact area had risen well "
          f"above the drawing value of {part.roughness}. No cracks were found by dye penetrant testing.</p>"
          "<h2>Probable cause</h2>"
          "<p>Misalignment during assembly combined with insufficient lubrication. The material and heat treatment "
          "met the specification according to the inspection records of the lot.</p>")
    p2 = ("<h2>Actions</h2><p>1. Replace the affected parts with stock items. 2. Add an alignment check to the "
          "assembly instruction. 3. Review the lubrication interval with the customer.</p>"
          "<h2>Status</h2><p>Open until the customer confirms three months of trouble-free operation.</p>")
    return SyntheticDocument(f"field_report_{number}.pdf", "incident", "en", (part.part_no,), title,
                             _pdf([p1, p2], f"FIELD REPORT {number}", title, date))


def meeting_minutes(parts: Sequence[SyntheticPart], assembly: Assembly, number: str) -> SyntheticDocument:
    """Japanese design review minutes that discuss parts by name and material only (hard case)."""
    date = _later(parts[0].date, 30)
    items = []
    for p in parts:
        treat = f"{p.heat_treatment} {p.hardness}" if p.heat_treatment else "熱処理なし"
        items.append(f"<p>・{_e(p.name_ja)}: 材質 {p.material}、{_e(treat)}、{_e(_dims_phrase(p, 'ja'))}。"
                     f"{_e(p.surface + 'の膜厚管理を徹底すること。' if p.surface else '現行仕様で問題なし。')}</p>")
    title = f"設計審査 議事録 {number}"
    p1 = (f"<h1>設計審査 議事録</h1><p>議事録番号 {number}  日時 {date} 10:00-11:30  場所 第2会議室</p>"
          f"<p>出席者: {parts[0].drawn_by}、{parts[0].checked_by}、{parts[0].approved_by}(敬称略)</p>"
          f"<h2>議題: {_e(assembly.name_ja)}の量産移行審査</h2>" + "".join(items)
          + "<h2>決定事項</h2><p>上記の指摘を反映のうえ、次回ロットから量産に移行する。</p>")
    p2 = ("<h2>宿題事項</h2><p>1. 組立手順書に締付トルクを追記する。2. 検査基準書に硬さの抜取り数を明記する。"
          "3. 購買先へ材料証明書の提出を依頼する。</p><h2>次回</h2><p>2週間後に進捗を確認する。</p>")
    return SyntheticDocument(f"minutes_{number}.pdf", "minutes", "ja", tuple(p.part_no for p in parts), title,
                             _pdf([p1, p2], f"議事録 {number}", title, date))


def supplier_email(part: SyntheticPart, assembly: Assembly) -> SyntheticDocument:
    """English e-mail from a supplier about a part it never numbers (plain text, hard case)."""
    m = part.material_info
    date = _later(part.date, 90)
    text = (f"From: sales@kansai-seimitsu.example\nTo: purchasing@zumen.example\nDate: {date}\n"
            f"Subject: Material availability for your {part.name_en.lower()}\n\n"
            "Dear purchasing team,\n\n"
            f"regarding the {part.name_en.lower()} we machine for your {assembly.name_en} "
            f"({_dims_phrase(part, 'en')}), our usual {m.code} bar stock is on back-order for six weeks. "
            f"We can offer an equivalent grade to {m.standard} from another mill with the same certificate, "
            "or keep the original delivery date if you accept a partial shipment.\n\n"
            "Please let us know which option you prefer.\n\nBest regards,\nKansai Seimitsu Co., Ltd.\n")
    return SyntheticDocument(f"mail_{date}.txt", "incident", "en", (part.part_no,), f"mail {date}",
                             text.encode("utf-8"))


def quality_note_md(part: SyntheticPart) -> SyntheticDocument:
    """Japanese quality note (Markdown) describing a part by name, material and treatment only (hard case)."""
    treat = f"{part.heat_treatment} {part.hardness}" if part.heat_treatment else "熱処理なし"
    text = (f"# 品質連絡票 {part.date}\n\n"
            f"## 対象\n\n{part.name_ja}(材質 {part.material}、{treat}、{_dims_phrase(part, 'ja')})\n\n"
            "## 内容\n\n"
            f"受入検査で{part.name_ja}の表面に打痕が見つかった。{part.surface or '仕上げ面'}の前工程での取扱いが原因と"
            "推定される。\n\n## 処置\n\n- 当該ロットは全数選別とする。\n- 搬送箱に仕切り板を追加する。\n")
    return SyntheticDocument(f"quality_{part.date}.md", "incident", "ja", (part.part_no,), f"品質連絡票 {part.date}",
                             text.encode("utf-8"))


def bom_csv(groups: Sequence[tuple[Assembly, Sequence[SyntheticPart]]]) -> SyntheticDocument:
    """BOM: assembly, item, part_no, name, name_en, material, treatment, qty (UTF-8 with BOM for Excel)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["assembly", "item", "part_no", "name", "name_en", "material", "treatment", "qty"])
    nos: list[str] = []
    for asm, parts in groups:
        for i, p in enumerate(parts, 1):
            w.writerow([asm.code, i, p.part_no, p.name_ja, p.name_en, p.material,
                        p.treatment if p.treatment != "なし" else "", p.qty])
            nos.append(p.part_no)
    return SyntheticDocument("bom.csv", "bom", "ja", tuple(nos), "BOM", ("\ufeff" + buf.getvalue()).encode("utf-8"))


def design_note_md(assembly: Assembly, parts: Sequence[SyntheticPart]) -> SyntheticDocument:
    """Markdown design note (English with Japanese names), listing parts with their numbers."""
    lines = [f"# Design note: {assembly.name_en} ({assembly.code})", "",
             f"Japanese name: {assembly.name_ja}. This note collects decisions about the parts of the unit.", "",
             "| Part no. | Name | Material | Treatment |", "|---|---|---|---|"]
    for p in parts:
        lines.append(f"| {p.part_no} | {p.name_en} ({p.name_ja}) | {p.material} | {p.treatment_en()} |")
    lines += ["", "## Decisions", ""]
    for p in parts[:3]:
        lines.append(f"- {p.name_en}: keep {p.material}; general tolerance {p.general_tolerance}.")
    lines += ["- All machined parts: break sharp edges, remove burrs.", ""]
    return SyntheticDocument(f"design_note_{assembly.code}.md", "note", "en", tuple(p.part_no for p in parts),
                             f"Design note {assembly.code}", "\n".join(lines).encode("utf-8"))


def memo_txt(part: SyntheticPart) -> SyntheticDocument:
    """A short shop-floor memo in Japanese (prose; mentions the part number once, informally)."""
    no = part.part_no.replace("-", "")  # people drop the hyphens when typing
    text = (f"現場メモ {part.date}\n\n"
            f"{part.name_ja}({no})の段取り替え手順について。\n"
            f"材料は {part.material}。{part.heat_treatment + 'は外注' if part.heat_treatment else '熱処理なし'}。\n"
            f"チャック爪は前回のものを流用可。寸法は {_dims_phrase(part, 'ja')}。\n"
            "初品は必ず検査課に回すこと。\n")
    return SyntheticDocument(f"memo_{part.date}.txt", "memo", "ja", (part.part_no,), f"memo {part.date}",
                             text.encode("utf-8"))


__all__ = ["ASSEMBLIES", "bom_csv", "change_notice", "design_note_md", "field_report", "meeting_minutes",
           "memo_txt", "quality_note_md", "supplier_email"]
