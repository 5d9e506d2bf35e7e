"""Simplified-Chinese drafting vocabulary for the "cn" drawing style.

Chinese suppliers draw Japanese customers' parts on GB-style sheets: Chinese labels and notes,
first-angle projection, GB/T 1804 general tolerances, while part numbers and JIS material codes
stay as the customer wrote them. This is the "Chinese title block" hard case of the brief.
"""

from __future__ import annotations

LABELS = {  # ja label -> zh label
    "品名": "零件名称", "図番": "图号", "材質": "材料", "処理": "热处理/表面处理", "尺度": "比例",
    "用紙": "图幅", "普通公差": "未注公差", "改訂": "版本", "設計": "设计", "検図": "审核", "承認": "批准",
    "日付": "日期", "歯形": "齿形", "モジュール": "模数", "歯数": "齿数", "圧力角": "压力角",
    "基準円直径": "分度圆直径", "精度": "精度等级", "標準": "标准",
}
NAMES = {"shaft": "阶梯轴", "flange": "法兰盘", "plate": "安装板", "l_bracket": "L型支架", "bushing": "轴套",
         "gear_blank": "齿轮坯", "pin": "定位销", "panel": "盖板", "block": "导向块", "bolt": "六角螺栓"}
TREATMENTS = {  # ja -> zh
    "焼入れ焼戻し": "淬火回火", "高周波焼入れ": "高频淬火", "調質": "调质", "黒染め": "发黑",
    "無電解ニッケルめっき": "化学镀镍", "白アルマイト": "本色阳极氧化", "黒アルマイト": "黑色阳极氧化",
    "溶融亜鉛めっき": "热镀锌", "メラミン焼付塗装": "烤漆", "ニッケルめっき": "镀镍", "粉体塗装": "静电喷粉",
    "三価クロメート": "三价钝化",
}
TERMS = (("キリ", "通孔"), ("キー溝", "键槽"), ("深さ", "深"))
COMPANY = "图面精密机械有限公司"
TOLERANCE = "GB/T 1804-m"


def treatment(heat: str, hardness: str, surface: str) -> str:
    parts = [TREATMENTS.get(heat, heat), hardness, TREATMENTS.get(surface, surface)]
    return " ".join(p for p in parts if p) or "无"


def notes(chamfer: float, heat: str, hardness: str, surface: str) -> list[str]:
    lines = ["技术要求", f"1. 未注倒角 C{chamfer:g}。", f"2. 未注尺寸公差按 {TOLERANCE}。",
             "3. 去除毛刺飞边。"]
    if heat:
        lines.append(f"{len(lines)}. 热处理: {TREATMENTS.get(heat, heat)} {hardness}。")
    if surface:
        lines.append(f"{len(lines)}. 表面处理: {TREATMENTS.get(surface, surface)}。")
    return lines
