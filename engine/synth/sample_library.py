"""Write the bundled sample library deterministically.

    python -m engine.synth.sample_library resources/sample_library [--seed 7]

Layout of OUT_DIR:
    drawings/<part_no>.pdf        24 vector drawings (10 families, 5 styles incl. 2 Chinese sheets), text layer
    scans/                        6 of them again without text layer: scans (PNG/JPEG, one turned 90°),
                                  phone photos (JPEG), a 2-page fax (TIFF: drawing + its spec's first page)
    documents/                    spec sheets, process plans, inspection reports (JP and EN, multi-page PDF),
                                  prose-only documents (change notice, field report, meeting minutes)
    bom.csv, notes/*.md, notes/*.txt  design note, shop memo, and two prose-only notes (supplier mail, quality note)
    queries/                      phone photos of library drawings that are NOT library files (drawing queries)
    qrels.json                    per drawing: related documents and similar drawings (graded)
    queries.json                  keyword queries and image queries with their relevant files
    .zumenignore                  "queries/" - the query photos are not part of the library

Relevance grades in qrels.json: related 3 = spec/process/inspection of the part, 2 = prose document
about it, 1 = BOM/note/memo listing it; similar 2 = another copy of the same drawing (scan/photo/fax),
1 = a drawing of the same family.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import unicodedata
from dataclasses import replace
from pathlib import Path

import pymupdf
from PIL import Image

from engine.synth.degrade import degrade
from engine.synth.documents import (ASSEMBLIES, Assembly, SyntheticDocument, _later, inspection_report,
                                    process_sheet, spec_sheet)
from engine.synth.drawing import draw_pdf, pdf_to_image
from engine.synth.notes import (bom_csv, change_notice, design_note_md, field_report, meeting_minutes, memo_txt,
                                quality_note_md, supplier_email)
from engine.synth.parts import FAMILIES, STYLES, SyntheticPart, generate_part

DEFAULT_SEED = 7
_ASSEMBLY_OF = {"shaft": 0, "bushing": 0, "flange": 0, "gear_blank": 0,
                "block": 1, "pin": 1, "plate": 1, "panel": 2, "l_bracket": 2, "bolt": 2}
_DOC_GRADE = {"spec": 3, "process": 3, "inspection": 3, "change_notice": 2, "incident": 2, "minutes": 2,
              "bom": 1, "note": 1, "memo": 1}
KEYWORDS = (("S45C", "en"), ("焼入れ", "ja"), ("軸受", "ja"), ("SUS304", "en"), ("induction hardening", "en"),
            ("process plan", "en"), ("検査成績書", "ja"), ("JIS G 4051", "en"), ("fretting marks", "en"),
            ("アルマイト", "ja"))


def library_parts(seed: int = DEFAULT_SEED) -> list[SyntheticPart]:
    """24 parts: every family twice plus four extra, styles in rotation, unique part numbers."""
    r = random.Random(seed)
    families = list(FAMILIES) * 2 + ["shaft", "flange", "plate", "bushing"]
    r.shuffle(families)
    parts: list[SyntheticPart] = []
    seen: set[str] = set()
    for i, fam in enumerate(families):
        style = "cn" if i in (5, 18) else STYLES[i % len(STYLES)]  # two Chinese supplier sheets (hard case)
        while True:
            p = generate_part(r.randrange(2**31), family=fam, style=style)
            if p.part_no not in seen:
                break
        seen.add(p.part_no)
        parts.append(p)
    # make sure the classic keyword "軸受" (bearing) has answers
    for fam, ja, en in (("shaft", "軸受シャフト", "Bearing shaft"), ("bushing", "軸受ブッシュ", "Bearing bush")):
        i = next(i for i, p in enumerate(parts) if p.family == fam)
        parts[i] = replace(parts[i], name_ja=ja, name_en=en)
    return parts


def _assembly(part: SyntheticPart) -> Assembly:
    return ASSEMBLIES[_ASSEMBLY_OF[part.family]]


def library_documents(parts: list[SyntheticPart]) -> list[tuple[str, SyntheticDocument]]:
    """(relative path, document) for every non-drawing file of the library."""
    # the documented parts: heat-treated and varied families first, deterministic order
    ranked = sorted(parts, key=lambda p: (not p.heat_treatment, FAMILIES.index(p.family), p.part_no))
    picked: list[SyntheticPart] = []
    for p in ranked:
        if all(q.family != p.family for q in picked):
            picked.append(p)
    picked += [p for p in ranked if p not in picked]
    docs: list[SyntheticDocument] = []
    for p, lang in zip(picked[:6], ("ja", "ja", "ja", "ja", "en", "en")):
        docs.append(spec_sheet(p, lang, _assembly(p)))
    for p, lang in zip(picked[:3] + [picked[4]], ("ja", "ja", "ja", "en")):
        docs.append(process_sheet(p, lang))
    for p, lang in zip([picked[0], picked[1], picked[5], picked[6]], ("ja", "ja", "ja", "en")):
        docs.append(inspection_report(p, lang, seed=len(docs)))
    shaft = next(p for p in picked if p.family == "shaft")
    docs.append(change_notice(shaft, "ja", f"DCN-{_later(shaft.date, 60)[:4]}-031"))
    target = next(p for p in picked[7:] if p.family in ("bushing", "flange", "pin", "gear_blank"))
    docs.append(field_report(target, _assembly(target), "FR-0417"))
    jig = [p for p in parts if _ASSEMBLY_OF[p.family] == 1][:3]
    docs.append(meeting_minutes(jig, ASSEMBLIES[1], "MR-" + _later(jig[0].date, 30)[:7]))
    out = [(f"documents/{d.name}", d) for d in docs]
    groups = [(a, [p for p in parts if ASSEMBLIES[_ASSEMBLY_OF[p.family]] is a]) for a in ASSEMBLIES]
    out.append(("bom.csv", bom_csv(groups)))
    out.append((f"notes/{design_note_md(*groups[0]).name}", design_note_md(*groups[0])))
    memo_part = next(p for p in picked[6:] if p.family in ("shaft", "pin", "bushing"))
    out.append((f"notes/{memo_txt(memo_part).name}", memo_txt(memo_part)))
    # more prose-only hard cases: parts without any other document
    bare = [p for p in parts if all(p.part_no not in d.part_nos for d in docs) and p is not memo_part
            and p.family not in ("panel", "l_bracket")]
    mail = supplier_email(bare[0], _assembly(bare[0]))
    out.append((f"notes/{mail.name}", mail))
    quality = quality_note_md(bare[1])
    out.append((f"notes/{quality.name}", quality))
    return out


def _encode(img: Image.Image, fmt: str, quality: int = 70) -> bytes:
    buf = io.BytesIO()
    if fmt == "png":
        img.save(buf, format="PNG", optimize=True)
    else:
        img.save(buf, format="JPEG", quality=quality, optimize=True)
    return buf.getvalue()


def _posterize(img: Image.Image, levels: int = 8) -> Image.Image:
    """Scanner 'text' mode: few grey levels, so the PNG stays small."""
    step = 256 // levels
    return img.point(lambda v: min(255, (v // step) * step + step // 2))


def build(out: Path, seed: int = DEFAULT_SEED) -> dict:
    """Write the library into `out` (its generated content is replaced); returns the qrels dict."""
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("drawings", "scans", "documents", "notes", "queries"):
        shutil.rmtree(out / sub, ignore_errors=True)
        (out / sub).mkdir()
    parts = library_parts(seed)
    files: dict[str, bytes] = {}
    about: dict[str, tuple[str, ...]] = {}  # path -> part numbers it is about
    kind_of: dict[str, str] = {}
    texts: dict[str, str] = {}  # path -> what a reader (text layer or OCR) can find in it
    pdfs: dict[str, bytes] = {}
    for p in parts:
        path = f"drawings/{p.part_no}.pdf"
        pdfs[p.part_no] = files[path] = draw_pdf(p)
        about[path], kind_of[path] = (p.part_no,), "drawing"
    for path, d in library_documents(parts):
        files[path] = d.data
        about[path], kind_of[path] = d.part_nos, d.kind
    for path, data in files.items():
        texts[path] = _text_of(path, data)

    # scanned / photographed / faxed copies of six drawings (no text layer)
    r = random.Random(seed * 1009)
    spec_of = {about[p][0]: p for p in files if kind_of[p] == "spec"}
    with_spec = [p for p in parts if p.part_no in spec_of]
    others = [p for p in parts if p.part_no not in spec_of]
    copies = [("scans/scan_0001.png", with_spec[0], "scan", 0), ("scans/scan_0002.jpg", others[0], "scan", 0),
              ("scans/scan_0003.png", others[1], "scan", 90), ("scans/IMG_2041.jpg", with_spec[1], "photo", 0),
              ("scans/IMG_2042.jpg", others[2], "photo", 0), ("scans/fax_0001.tif", with_spec[2], "fax", 0)]
    source: dict[str, str] = {}
    for path, p, kind, rot in copies:
        page = pdf_to_image(pdfs[p.part_no], dpi=150)
        img = degrade(page, r.randrange(2**31), kind, rotate=rot or None)
        if path.endswith(".tif"):
            spec_page = pdf_to_image(files[spec_of[p.part_no]], dpi=150)
            frames = [img.convert("1"), degrade(spec_page, r.randrange(2**31), "fax").convert("1")]
            buf = io.BytesIO()
            frames[0].save(buf, format="TIFF", compression="group4", save_all=True, append_images=frames[1:])
            files[path] = buf.getvalue()
            texts[path] = texts[f"drawings/{p.part_no}.pdf"] + "\n" + texts[spec_of[p.part_no]]
        else:
            files[path] = _encode(_posterize(img) if path.endswith(".png") else img, path.rsplit(".", 1)[1],
                                  quality=60 if kind == "photo" else 70)
            texts[path] = texts[f"drawings/{p.part_no}.pdf"]
        about[path], kind_of[path] = (p.part_no,), "drawing"
        source[path] = f"drawings/{p.part_no}.pdf"

    # query photos: other library drawings, photographed again (not library files)
    queries_img = []
    for i, p in enumerate([with_spec[0], with_spec[3], others[3], parts[-1]], 1):
        page = pdf_to_image(pdfs[p.part_no], dpi=150)
        img = degrade(page, r.randrange(2**31), "photo", rotate=180 if i == 4 else None)
        qpath = f"queries/photo_{i:02d}.jpg"
        files[qpath] = _encode(img, "jpg", quality=60)
        queries_img.append((qpath, p))

    qrels = _qrels(parts, about, kind_of, source)
    queries = _queries(parts, about, kind_of, texts, qrels, queries_img)
    for path, data in sorted(files.items()):
        (out / path).write_bytes(data)
    (out / "qrels.json").write_text(json.dumps(qrels, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (out / "queries.json").write_text(json.dumps(queries, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    (out / ".zumenignore").write_text("# not part of the library: query photos for the demo\nqueries/\n",
                                      encoding="utf-8")
    return qrels


def _text_of(path: str, data: bytes) -> str:
    if path.endswith(".pdf"):
        with pymupdf.open(stream=data, filetype="pdf") as doc:
            return "\n".join(page.get_text() for page in doc)
    return data.decode("utf-8-sig")


def _norm(s: str) -> str:
    return unicodedata.normalize("NFKC", s).casefold()


def _qrels(parts: list[SyntheticPart], about: dict[str, tuple[str, ...]], kind_of: dict[str, str],
           source: dict[str, str]) -> dict:
    drawings = sorted(p for p, k in kind_of.items() if k == "drawing")
    by_no = {p.part_no: p for p in parts}
    out: dict[str, dict] = {}
    for d in drawings:
        no = about[d][0]
        part = by_no[no]
        related = {p: _DOC_GRADE[k] for p, k in sorted(kind_of.items()) if k != "drawing" and no in about[p]}
        similar: dict[str, int] = {}
        for other in drawings:
            if other == d:
                continue
            other_part = by_no[about[other][0]]
            if other_part.part_no == no:
                similar[other] = 2
            elif other_part.family == part.family:
                similar[other] = 1
        out[d] = {"part_no": no, "family": part.family, "style": part.style, "source": source.get(d),
                  "related": related, "similar": similar}
    return {"generator": "engine.synth.sample_library", "grades": {
        "related": "3 spec/process/inspection, 2 prose document about the part, 1 BOM/note/memo",
        "similar": "2 another copy of the same drawing, 1 same part family"},
        "parts": {p.part_no: {"family": p.family, "style": p.style, "name_ja": p.name_ja, "name_en": p.name_en,
                              "material": p.material, "treatment": p.treatment,
                              "assembly": _assembly(p).code} for p in parts},
        "drawings": out}


def _queries(parts: list[SyntheticPart], about: dict[str, tuple[str, ...]], kind_of: dict[str, str],
             texts: dict[str, str], qrels: dict, queries_img: list[tuple[str, SyntheticPart]]) -> dict:
    library = sorted(p for p in kind_of)
    keyword = []
    counts = {p.part_no: sum(1 for f in library if p.part_no in about[f]) for p in parts}
    best = max(parts, key=lambda p: (counts[p.part_no], p.part_no))
    memo_no = next(about[f][0] for f in library if kind_of[f] == "memo")
    for i, (no, note) in enumerate(((best.part_no, "part number with the most documents"),
                                    (memo_no.replace("-", ""), "part number typed without hyphens"))):
        real = next(p.part_no for p in parts if p.part_no.replace("-", "") == no.replace("-", ""))
        rel = {f: (3 if kind_of[f] in ("drawing", "spec", "process", "inspection") else 2)
               for f in library if real in about[f]}
        keyword.append({"id": f"k{i + 1:02d}", "query": no, "lang": "en", "note": note, "relevant": rel})
    for term, lang in KEYWORDS:
        rel = {f: 1 for f in library if _norm(term) in _norm(texts[f])}
        keyword.append({"id": f"k{len(keyword) + 1:02d}", "query": term, "lang": lang,
                        "note": "files whose text (or the text of the drawing a scan shows) contains the term",
                        "relevant": rel})
    images = []
    for qpath, p in queries_img:
        d = f"drawings/{p.part_no}.pdf"
        entry = qrels["drawings"][d]
        similar = {d: 3, **{k: v + (1 if v == 2 else 0) for k, v in entry["similar"].items()}}
        images.append({"id": Path(qpath).stem, "file": qpath, "part_no": p.part_no, "related": entry["related"],
                       "similar": similar})
    return {"keyword": keyword, "image": images}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out", type=Path, help="output folder, e.g. resources/sample_library")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = ap.parse_args(argv)
    qrels = build(args.out, args.seed)
    total = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(f"wrote {len(qrels['drawings'])} drawings and their documents to {args.out} ({total / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
