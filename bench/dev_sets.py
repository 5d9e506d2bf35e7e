"""The development sets of ../shared/data as one mixed library: corpus files, queries and qrels.

Five real drawing <-> document sets (see ../shared/data/README.md):
- ultimaker-original: part drawings <-> BOM lines (each BOM line written as its own small text
  document, worded like pairs.csv's bom_line; bench/common.py);
- openeai-arm, framework, psas-lv3, ja-pcb-mix: the common format, `drawings.txt`,
  `documents.txt` and `pairs.csv` (`query,relevant,grade`; `file#page=N` = one page or CSV row).

Every set is copied under `<corpus>/<set>/` (the data folder is never touched) so that one library
holds all of them: each query competes with every other source's documents, as in a real archive.
Document ids are `<set>/<path>` or `<set>/<path>#page=N`. No engine imports here.
"""

from __future__ import annotations

import csv
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from bench import common

SETS = ("ultimaker-original", "openeai-arm", "framework", "psas-lv3", "ja-pcb-mix")
DATA = common.REPO.parent / "shared" / "data"


@dataclass
class DevSet:
    """One source: its queries (drawing paths relative to the set) and graded related documents."""

    name: str
    data_dir: Path
    drawings: list[str]  # every drawing of the set (queries and distractors), relative paths
    documents: list[str]  # every document, relative paths (for ultimaker: bom/*.txt written here)
    qrels: dict[str, dict[str, int]] = field(default_factory=dict)  # query -> {doc id: grade}
    texts: dict[str, str] = field(default_factory=dict)  # generated documents (ultimaker BOM lines)

    @property
    def queries(self) -> list[str]:
        return sorted(self.qrels)

    def doc_id(self, rel: str, page: int | None = None) -> str:
        return f"{self.name}/{rel}" + (f"#page={page}" if page else "")


def _lines(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def load_set(name: str, data: Path = DATA) -> DevSet:
    folder = data / name
    if name == "ultimaker-original":
        pairs = common.load_pairs(folder)
        bom = common.load_bom_lines(folder)
        s = DevSet(name, folder, common.drawing_pdfs(folder), [b.doc_id for b in bom],
                   texts={b.doc_id: b.text for b in bom})
        by_part: dict[str, list[str]] = {}
        for b in bom:
            by_part.setdefault(b.part_number, []).append(b.doc_id)
        for p in pairs:
            s.qrels[p.drawing] = {s.doc_id(d): 2 for d in by_part.get(p.part_number, [])}
        return s
    s = DevSet(name, folder, _lines(folder / "drawings.txt"), _lines(folder / "documents.txt"))
    with open(folder / "pairs.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            rel, _, page = row["relevant"].partition("#page=")
            grade = int(row.get("grade") or 1)
            s.qrels.setdefault(row["query"], {})[s.doc_id(rel, int(page) if page else None)] = grade
    return s


# Ultimaker Original files every drawing in its own folder: its families are read from the part
# names (the first keyword a name holds), as in bench_learning's similar-drawings benchmark
ULTIMAKER_FAMILIES = (("iso 7380", "screw"), ("screw", "screw"), ("nut", "nut"), ("washer", "washer"),
                      ("spacer", "spacer"), ("panel", "panel"), ("plate", "plate"), ("shaft", "shaft"),
                      ("bearing", "bearing"), ("cable", "cable"), ("limit switch", "switch"),
                      ("print table arm", "arm"), ("sliding block", "block"), ("print head", "print head"),
                      ("motor", "motor"), ("timing", "timing"), ("controller", "controller"),
                      ("feeder", "feeder"))


def families(s: DevSet) -> dict[str, set[str]]:
    """Similar-drawings judgments by rule from the set's own metadata: query drawing -> the other
    drawings of its family (ids `<set>/<path>`, as hits are judged). Ultimaker Original: the same
    family keyword in the part name (ULTIMAKER_FAMILIES). The other sets: drawings filed in the
    same folder (an assembly step, a module, a subassembly), or related to a common document in
    pairs.csv (a module's guide, a subassembly's README). Queries without family are left out."""
    group: dict[str, set[str]] = {}
    if s.name == "ultimaker-original":
        for p in common.load_pairs(s.data_dir):
            name = p.part_name.lower()
            fam = next((f for k, f in ULTIMAKER_FAMILIES if k in name), None)
            if fam:
                group.setdefault(p.drawing, set()).add(fam)
    else:
        for rel in s.drawings:
            group.setdefault(rel, set()).add("folder:" + Path(rel).parent.as_posix())
        for rel, docs in s.qrels.items():
            group.setdefault(rel, set()).update("doc:" + d for d in docs)
    out = {}
    for q in s.queries:
        mine = group.get(q, set())
        related = {s.doc_id(d) for d, keys in group.items() if d != q and keys & mine}
        if related:
            out[q] = related
    return out


def available_sets(data: Path = DATA, names: tuple[str, ...] = SETS) -> list[DevSet]:
    return [load_set(n, data) for n in names if (data / n).is_dir()]


def build_corpus(sets: list[DevSet], root: Path) -> None:
    """Copy every drawing and document of every set under root/<set>/ (written once, reused)."""
    for s in sets:
        dest = root / s.name
        for rel in s.drawings + s.documents:
            target = dest / rel
            if target.exists():
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if rel in s.texts:
                target.write_text(s.texts[rel] + "\n", encoding="utf-8")
            else:
                shutil.copyfile(s.data_dir / rel, target)


def hit_id(corpus_root: Path, path: str, page: int, relevant: dict[str, int]) -> str:
    """The id a hit is judged by: `<set>/<path>#page=N` when the query's qrels name pages of that
    file (a CSV row, one page of a long PDF), else `<set>/<path>`; `outside:` for foreign files."""
    try:
        rel = Path(path).resolve().relative_to(corpus_root.resolve()).as_posix()
    except ValueError:
        return f"outside:{path}"
    paged = f"{rel}#page={page}"
    if paged in relevant or (rel not in relevant and any(r.startswith(rel + "#page=") for r in relevant)):
        return paged
    return rel


def judged_hit_id(corpus_root: Path, hit, relevant: dict[str, int]) -> str:
    """A hit's id; a hit standing for identical pages of other files (`Hit.duplicates`: a CSV and
    its XLSX) counts as whichever of them is relevant, since the user sees them all named."""
    ids = [hit_id(corpus_root, p, n, relevant) for p, n in ((hit.path, hit.page), *hit.duplicates)]
    return next((i for i in ids if i in relevant), ids[0])
