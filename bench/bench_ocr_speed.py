"""OCR speed per page and per stage, with recognition quality, on the sample library's scans and
phone photos and on dense text scans; a baseline (another git ref's engine/) in the same run.

    nice python bench/bench_ocr_speed.py                        # this tree vs main, 2 rounds
    nice python bench/bench_ocr_speed.py --baseline-ref ''      # this tree only
    nice python bench/bench_ocr_speed.py --profile              # + cProfile top functions

Sets (each file read with `engine.extract.extract_document`, as indexing reads it: decode or
render, upright detection, detection, recognition, words):
- "sample": every frame of resources/sample_library/scans/* and queries/* (scans, a fax, phone
  photos, one turned 90 deg, one 180 deg). Known text: the text layer of the drawing (or, for the
  fax's second frame, the spec) each was made from (qrels.json names it). Quality = share of its
  words of 2+ characters that OCR finds exactly (NFKC), and whether the rotation was found.
- "dense": `--dense` A4 pages of 30 generated spec lines (Japanese and English, 10 pt), only a
  150 dpi picture, as bench_speed.py's index-ocr phase indexes them. Quality = character accuracy
  per line (1 - edit distance / length, best-matching OCR line) and word recall.
Stages: exclusive wall time of named functions (a function's time less that of the named
functions it calls), found by name in whichever engine/ is measured, so a baseline is profiled
the same way; "model: rec (upright)" is recognition run while choosing the page's rotation.
Where recognition runs on several threads its rows are thread-seconds (they add up to more than
the wall time). "Model input per page" (detector megapixels, recogniser input columns of 48 px)
measures the models' work independently of the machine's load.
Each engine runs in its own process (models loaded and warmed up first, not timed); rounds
alternate baseline / current and the faster round of each is reported (a shared machine's load
only ever slows a run down).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import unicodedata
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLE = REPO / "resources" / "sample_library"
OUT = REPO / "bench" / "out"


# --------------------------------------------------------------------------- stage clock
class StageClock:
    """Exclusive wall time per label of wrapped callables (nested calls in the same thread are
    subtracted). Calls made on other threads (recognition runs on all cores) add their own time,
    so stages sum to thread-seconds, more than the wall time; the calling thread's wait for them
    stays in the caller's row."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: Counter = Counter()
        self.work: dict[str, float] = defaultdict(float)
        self._stacks: dict[int, list[list]] = defaultdict(list)  # per thread: [label, child seconds]

    @property
    def _stack(self) -> list[list]:
        return self._stacks[threading.get_ident()]

    def inside(self, label: str) -> bool:
        """Is the main thread (which hands work to the others) inside `label`?"""
        return any(f[0] == label for f in self._stacks[threading.main_thread().ident])

    def wrap(self, owner: object, attr: str, label) -> None:
        orig = getattr(owner, attr, None)
        if orig is None:
            return
        clock = self

        @functools.wraps(orig)
        def timed(*a, **k):
            lab = label(a) if callable(label) else label
            clock._stack.append([lab, 0.0])
            t = time.perf_counter()
            try:
                return orig(*a, **k)
            finally:
                el = time.perf_counter() - t
                _lab, child = clock._stack.pop()
                clock.seconds[lab] += el - child
                clock.calls[lab] += 1
                if clock._stack:
                    clock._stack[-1][1] += el

        setattr(owner, attr, timed)

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()
        self.work.clear()


def instrument(clock: StageClock) -> None:
    import onnxruntime as ort

    import engine.extract as ex
    from engine.extract import image, ocr, pdf, ppocr

    rec_path, det_path = (str(x) for x in (ppocr.PaddleOcr().rec_path, ppocr.PaddleOcr().det_path))

    def model_label(args) -> str:
        path = str(getattr(args[0], "_model_path", ""))
        if path == det_path:
            return "model: det"
        if path == rec_path:
            return "model: rec (upright)" if clock.inside("upright: choose rotation") else "model: rec"
        return "query: text embedding" if Path(path).stem.startswith("text") else "query: image embedding"

    clock.wrap(ort.InferenceSession, "run", model_label)
    timed_run = ort.InferenceSession.run

    def counted_run(sess, output_names, feeds, *a, **k):  # model input size: a load-free cost measure
        x = next(iter(feeds.values()))
        path = str(getattr(sess, "_model_path", ""))
        if path == det_path:
            clock.work["det input Mpx"] += x.shape[0] * x.shape[2] * x.shape[3] / 1e6
        elif path == rec_path:
            clock.work["rec input kcolumns"] += x.shape[0] * x.shape[3] / 1e3
        return timed_run(sess, output_names, feeds, *a, **k)

    ort.InferenceSession.run = counted_run
    clock.wrap(ex, "extract_document", "other (text, words, file)")
    clock.wrap(pdf, "render_pdf_page", "render / decode")
    clock.wrap(image, "downscale_frame", "render / decode")
    clock.wrap(ocr, "_bgr", "render / decode")
    for name in ("read_upright", "read"):
        clock.wrap(ocr.PaddleOcrEngine, name, "ocr: other")
    clock.wrap(ocr.PaddleOcrEngine, "_choose_rotation", "upright: choose rotation")
    clock.wrap(ocr.PaddleOcrEngine, "_sample_conf", "upright: choose rotation")
    clock.wrap(ppocr.PaddleOcr, "detect", "det: resize, normalise")
    clock.wrap(ppocr.PaddleOcr, "_det_input", "det: resize, normalise")
    clock.wrap(ppocr, "_db_boxes", "det: boxes (DB post-processing)")
    clock.wrap(ppocr, "reading_order", "det: boxes (DB post-processing)")
    clock.wrap(ppocr.PaddleOcr, "read_lines", "rec: other")
    clock.wrap(ppocr.PaddleOcr, "recognize", "rec: batch, normalise (+ wait for threads)")
    clock.wrap(ppocr.PaddleOcr, "_ctc_decode", "rec: CTC decode")
    clock.wrap(ppocr.PaddleOcr, "_decode_batch", "rec: CTC decode")
    for mod in (ppocr, ocr):
        clock.wrap(mod, "crop_quad", "rec: crop lines")
    clock.wrap(ocr, "lines_to_words", "other (text, words, file)")
    from engine import api
    from engine.encoders import image as image_encoder

    clock.wrap(api.Engine, "_read_query", "query: other (cache, sha1)")
    clock.wrap(ex, "render_page", "query: render for the picture")
    clock.wrap(image_encoder.ImageEncoder, "encode", "query: image embedding")  # + its preprocessing
    clock.wrap(api.Engine, "_file_results", "query: search, fuse, explain")


# --------------------------------------------------------------------------- data
def sample_items() -> list[tuple[Path, list[Path | None]]]:
    """(image file, [source PDF of each frame]) for the sample library's scans and photos."""
    q = json.loads((SAMPLE / "qrels.json").read_text(encoding="utf-8"))
    queries = json.loads((SAMPLE / "queries.json").read_text(encoding="utf-8"))
    items = []
    for path, d in sorted(q["drawings"].items()):
        if d.get("source"):
            frames: list[Path | None] = [SAMPLE / d["source"]]
            if path.endswith(".tif"):  # the fax's second frame is the part's spec
                frames += sorted((SAMPLE / "documents").glob(f"spec_{d['part_no']}_*.pdf"))[:1] or [None]
            items.append((SAMPLE / path, frames))
    for e in queries["image"]:
        items.append((SAMPLE / e["file"], [SAMPLE / "drawings" / f"{e['part_no']}.pdf"]))
    return items


def truth_words(pdf: Path | None) -> list[str]:
    if pdf is None or not pdf.exists():
        return []
    import pymupdf

    with pymupdf.open(pdf) as doc:
        words = [unicodedata.normalize("NFKC", w[4]) for w in doc[0].get_text("words")]
    return [w for w in words if len(w) >= 2]


def dense_pages(folder: Path, n: int, seed: int = 7) -> list[tuple[Path, list[str]]]:
    """The pages bench_speed.py's index-ocr phase indexes: 30 spec lines, image only."""
    from bench import common
    from bench.bench_speed import spec_lines

    out = []
    for i in range(n):
        lines = spec_lines(seed * 777 + i, 30)
        out.append((common.write_scanned_pdf(folder / f"scan-{i:03d}.pdf", [lines]), lines))
    return out


# --------------------------------------------------------------------------- worker
def worker(args: argparse.Namespace) -> dict:
    """Measure the engine/ found first on sys.path (this tree, or a baseline's export)."""
    import engine

    from bench import common  # after engine: its `import engine` finds the one measured
    from engine.config import EngineSettings
    from engine.extract import extract_document, get_ocr_engine

    clock = StageClock()
    instrument(clock)
    settings = EngineSettings()
    ocr = get_ocr_engine("ppocr")
    work = Path(args.workdir)
    sets = {"sample": [(p, [truth_words(s) for s in srcs], None) for p, srcs in sample_items()],
            "dense": [(p, None, lines) for p, lines in dense_pages(work / "dense", args.dense)]}
    extract_document(sets["dense"][0][0], settings, ocr)  # load + warm up the models (not timed)
    extract_document(sets["sample"][0][0], settings, ocr)
    prof = None
    if args.profile:
        import cProfile

        prof = cProfile.Profile()
        prof.enable()
    result: dict = {"engine": str(Path(engine.__file__).parent), "load_average": [round(x, 2) for x in os.getloadavg()]}
    for name, items in sets.items():
        clock.reset()
        load = [round(x, 2) for x in os.getloadavg()]
        pages = 0
        t0, c0 = time.perf_counter(), time.process_time()
        per_file, found, total, accs, rot_ok, rot_n = [], 0, 0, [], 0, 0
        for path, truths, lines in items:
            t = time.perf_counter()
            doc = extract_document(path, settings, ocr)
            el = time.perf_counter() - t
            pages += len(doc.pages)
            row = {"file": path.name, "pages": len(doc.pages), "s": round(el, 3),
                   "rotation": [p.rotation for p in doc.pages]}
            if truths is not None:
                for page, truth in zip(doc.pages, truths):
                    got = {w.text for w in page.words}
                    f = sum(t in got for t in truth)
                    found += f
                    total += len(truth)
                    row.setdefault("word_recall", []).append(round(f / max(1, len(truth)), 3))
                want = 90 if path.name == "scan_0003.png" else 180 if path.name == "photo_04.jpg" else None
                if want is not None:  # made turned: reading it needs this clockwise rotation back
                    rot_n += 1
                    rot_ok += doc.pages[0].rotation in (want, (360 - want) % 360)
            if lines is not None:
                got_lines = common.line_texts(doc.pages[0].words, tolerance=0.006)
                acc = [max((common.char_accuracy(x, g) for g in got_lines), default=0.0) for x in lines]
                accs += acc
                row["char_acc"] = round(statistics.mean(acc), 4)
                got = {w.text for w in doc.pages[0].words}
                truth = [w for x in lines for w in unicodedata.normalize("NFKC", x).split() if len(w) >= 2]
                found += sum(t in got for t in truth)
                total += len(truth)
            per_file.append(row)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        stages = {k: round(v / pages, 4) for k, v in sorted(clock.seconds.items(), key=lambda kv: -kv[1])}
        result[name] = {"load_average": load, "pages": pages, "wall_s": round(wall, 2), "pages_per_s": round(pages / wall, 3),
                        "cpu_s_per_page": round(cpu / pages, 3), "stages_s_per_page": stages,
                        "calls": dict(clock.calls),
                        "work_per_page": {k: round(v / pages, 3) for k, v in clock.work.items()},
                        "word_recall": round(found / max(1, total), 4),
                        "words": total, "files": per_file}
        if accs:
            result[name]["char_acc"] = round(statistics.mean(accs), 4)
            result[name]["lines_exact"] = f"{sum(a == 1.0 for a in accs)}/{len(accs)}"
        if rot_n:
            result[name]["rotations_found"] = f"{rot_ok}/{rot_n}"
    if args.query_library and args.query_files:
        result["queries"] = time_queries(args, clock)
    if prof is not None:
        import io
        import pstats

        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(25)
        result["profile"] = buf.getvalue()
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    return result


def time_queries(args: argparse.Namespace, clock: StageClock) -> dict:
    """`Engine.search_file` on each query picture once (after one untimed warm-up query on the
    first one, under another name, so no query is answered from the engine's cache)."""
    import shutil

    from engine.api import Engine

    files = [Path(f) for f in args.query_files.split(",")]
    warm = Path(args.workdir) / f"warm-{time.monotonic_ns()}{files[0].suffix}"
    shutil.copyfile(files[0], warm)
    with Engine.open(args.query_library) as engine:
        engine.search_file(warm)
        clock.reset()
        load = [round(x, 2) for x in os.getloadavg()]
        lat = []
        for f in files:
            t = time.perf_counter()
            engine.search_file(f)
            lat.append(time.perf_counter() - t)
    n = len(files)
    return {"load_average": load, "pages": n, "wall_s": round(sum(lat), 2), "pages_per_s": round(n / sum(lat), 3),
            "p50_s": round(statistics.median(lat), 3), "latency_s": [round(x, 3) for x in lat],
            "stages_s_per_page": {k: round(v / n, 4) for k, v in sorted(clock.seconds.items(), key=lambda kv: -kv[1])},
            "work_per_page": {k: round(v / n, 3) for k, v in clock.work.items()},
            "files": [str(f) for f in files]}


# --------------------------------------------------------------------------- driver
def export_ref(ref: str, dest: Path) -> Path:
    """engine/ of git `ref`, exported (not checked out) under `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    tar = dest / "engine.tar"
    with open(tar, "wb") as fh:
        subprocess.run(["git", "archive", ref, "engine"], cwd=REPO, stdout=fh, check=True)
    with tarfile.open(tar) as tf:
        tf.extractall(dest, filter="data")
    return dest


def run_worker(root: Path, args: argparse.Namespace, work: Path) -> dict:
    out = work / f"result-{time.monotonic_ns()}.json"
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--root", str(root),
           "--dense", str(args.dense), "--workdir", str(work), "--json-out", str(out)]
    if args.profile:
        cmd.append("--profile")
    if args.query_library and args.query_files:
        cmd += ["--query-library", str(args.query_library), "--query-files", args.query_files]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), str(REPO)]))
    subprocess.run(cmd, check=True, env=env)
    return json.loads(out.read_text(encoding="utf-8"))


def summarise(runs: dict[str, list[dict]]) -> dict:
    """Per engine and set: the faster round's figures."""
    out: dict = {}
    for who, rounds in runs.items():
        out[who] = {}
        for name in ("sample", "dense", "queries"):
            if name not in rounds[0]:
                continue
            best = min(rounds, key=lambda r: r[name]["wall_s"])
            out[who][name] = {**best[name],
                              "all_rounds_pages_per_s": [r[name]["pages_per_s"] for r in rounds]}
    return out


def print_summary(summary: dict) -> None:
    whos = list(summary)
    for name, title in (("sample", "sample library scans + photos"), ("dense", "dense 30-line text scans"),
                        ("queries", "drawing queries: Engine.search_file, OCR included")):
        if any(name not in summary[w] for w in whos):
            continue
        print(f"\n== {title} ==")
        print(f"{'':34}" + "".join(f"{w:>18}" for w in whos))
        rows = [("pages", "pages"), ("pages/s (faster round)", "pages_per_s"), ("latency p50 s", "p50_s"),
                ("all rounds pages/s", "all_rounds_pages_per_s"), ("CPU s/page", "cpu_s_per_page"),
                ("load average", "load_average"), ("word recall", "word_recall"), ("char accuracy", "char_acc"),
                ("lines exact", "lines_exact"), ("rotations found", "rotations_found")]
        for label, key in rows:
            vals = [summary[w][name].get(key) for w in whos]
            if all(v is None for v in vals):
                continue
            print(f"{label:34}" + "".join(f"{str(v):>18}" for v in vals))
        for k in sorted({k for w in whos for k in summary[w][name]["work_per_page"]}):
            print(f"{k + ' per page':34}" + "".join(f"{summary[w][name]['work_per_page'].get(k, 0):>18.1f}"
                                                   for w in whos))
        print("stage, s/page (exclusive wall time)")
        labels = sorted({k for w in whos for k in summary[w][name]["stages_s_per_page"]},
                        key=lambda k: -max(summary[w][name]["stages_s_per_page"].get(k, 0) for w in whos))
        for k in labels:
            print(f"  {k:32}" + "".join(f"{summary[w][name]['stages_s_per_page'].get(k, 0):>18.3f}" for w in whos))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline-ref", default="main", help="git ref whose engine/ is the baseline ('' for none)")
    ap.add_argument("--rounds", type=int, default=2, help="alternating rounds per engine")
    ap.add_argument("--dense", type=int, default=6, help="dense text pages")
    ap.add_argument("--profile", action="store_true", help="add cProfile's top functions per run")
    ap.add_argument("--query-library", type=Path, default=None,
                    help="also time Engine.search_file on --query-files against this library (read only)")
    ap.add_argument("--query-files", default="", help="comma-separated query pictures")
    ap.add_argument("--out", type=Path, default=OUT / "ocr-speed.json")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--root", default=str(REPO), help=argparse.SUPPRESS)
    ap.add_argument("--workdir", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--json-out", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        sys.path.insert(0, args.root)
        Path(args.json_out).write_text(json.dumps(worker(args), ensure_ascii=False), encoding="utf-8")
        return 0
    sys.path.insert(0, str(REPO))
    from bench import common

    with tempfile.TemporaryDirectory(prefix="zumen-bench-ocr-") as tmp:
        work = Path(tmp)
        roots = {"current": REPO}
        if args.baseline_ref:
            roots = {f"baseline {args.baseline_ref}": export_ref(args.baseline_ref, work / "baseline"), **roots}
        runs: dict[str, list[dict]] = {w: [] for w in roots}
        for i in range(args.rounds):
            for who, root in roots.items():
                print(f"[{time.strftime('%H:%M:%S')}] round {i + 1}: {who}", file=sys.stderr, flush=True)
                runs[who].append(run_worker(root, args, work))
    summary = summarise(runs)
    print_summary(summary)
    if args.profile:
        for who, rounds in runs.items():
            print(f"\n== cProfile, {who}, last round ==\n{rounds[-1].get('profile', '')}")
    common.write_json(args.out, {"benchmark": "ocr-speed", "machine": common.machine_info(),
                                 "args": {k: str(v) for k, v in vars(args).items()}, "summary": summary,
                                 "runs": runs})
    print(f"\nJSON: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
