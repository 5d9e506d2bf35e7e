"""`zumen` command line. Every command has `--json` for scripts and benchmarks."""

from __future__ import annotations

import argparse
import json
import shlex
import signal
import sqlite3
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

from engine.config import SAMPLE_LIBRARY, EngineSettings, default_library_path
from engine.errors import EngineError
from engine.logs import configure_logging
from engine.progress import CancelToken, Progress
from engine.types import AdaptReport, DuplicateReport, FileQueryResults, SearchResults, to_jsonable


# --------------------------------------------------------------------------- output helpers
class ProgressBar:
    """A one-line progress bar on stderr (only when stderr is a terminal)."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled and sys.stderr.isatty()
        self._last = 0.0

    def __call__(self, p: Progress) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if now - self._last < 0.1 and p.total and p.done < p.total:
            return
        self._last = now
        width = 28
        if p.total:
            filled = int(width * p.done / max(p.total, 1))
            bar = "#" * filled + "." * (width - filled)
            count = f"{p.done}/{p.total} {p.unit}"
        else:
            bar, count = "." * width, f"{p.done} {p.unit}"
        rate = f" {p.rate:.1f}/s" if p.rate else ""
        eta = f" ETA {int(p.eta_s) // 60}:{int(p.eta_s) % 60:02d}" if p.eta_s is not None else ""
        msg = (p.message or "")[:40]
        sys.stderr.write(f"\r{p.stage:>7} [{bar}] {count}{rate}{eta} {msg}".ljust(110)[:110])
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def _color() -> bool:
    return sys.stdout.isatty()


def mark_snippet(text: str, marks: Sequence[Sequence[int]]) -> str:
    on, off = ("\033[1;33m", "\033[0m") if _color() else ("[", "]")
    out, pos = [], 0
    for s, e in marks:
        out += [text[pos:s], on, text[s:e], off]
        pos = e
    out.append(text[pos:])
    return "".join(out)


def print_hits(title: str, results: SearchResults) -> None:
    print(f"{title} ({len(results.hits)} in {results.elapsed_ms:.0f} ms)")
    if results.no_match:
        print(f"  No match: {results.note}")
    elif not results.hits:
        print("  (nothing found)")
    for h in results.hits:
        s = h.scores
        pages = f"p.{h.page}" + (f" (+{len(h.other_pages)} more)" if h.other_pages else "")
        # similar drawings carry no calibrated confidence (0): nothing to print
        sure = f"confidence {s.confidence:.0%}   " if s.confidence > 0 or h.kind == "document" else ""
        print(f"{h.rank:>3}. [{h.kind}] {h.title}  {pages}   {sure}"
              f"lexical {s.lexical:.2f}  semantic {s.semantic:.2f}  visual {s.visual:.2f}")
        print(f"     {h.path}")
        if h.snippet.text:
            print(f"     {mark_snippet(h.snippet.text, h.snippet.marks)}")
        print(f"     why: {h.explanation.summary}"
              + (f"  ({len(h.explanation.boxes)} boxes on the page)" if h.explanation.boxes else ""))


def print_file_results(r: FileQueryResults) -> None:
    print(f"Query: {r.query_path}  (text from {r.text_source}; {len(r.query_text)} characters)")
    if r.identifiers:
        print(f"Identifiers: {', '.join(r.identifiers)}")
    print()
    print_hits("Related documents", r.related)
    print()
    print_hits("Similar drawings", r.similar)
    print(f"\n{r.elapsed_ms:.0f} ms in all")


def emit_json(obj: Any) -> None:
    print(json.dumps(to_jsonable(obj), ensure_ascii=False))


# --------------------------------------------------------------------------- commands
def _open(args: argparse.Namespace, *, create: bool = False, settings: EngineSettings | None = None):
    """The library of `--library` ($ZUMEN_LIBRARY, the default). Only `index` creates one: a
    misspelt path elsewhere is an error, not a new empty library."""
    from engine.api import Engine

    root = Path(args.library).expanduser() if args.library else default_library_path()
    if not (root / "catalog.sqlite").is_file():
        if not create:
            raise EngineError(f"no library at {root} (`zumen index FOLDER --library {root}` "
                              "creates one)")
        if not getattr(args, "json", False):
            print(f"Creating a new library at {root}", file=sys.stderr)
    return Engine.open(root, pack=args.pack, settings=settings)


@contextmanager
def _cancel_on_sigint() -> Iterator[CancelToken]:
    """While the job runs, a first Ctrl-C (or SIGTERM, as a service manager or `kill` sends)
    asks it to stop cleanly (work so far is saved); a second one aborts. The handlers before it
    are put back when the job ends: `main` is also called in-process (tests, scripts), and a
    process left with this handler would let a later SIGTERM, e.g. a multiprocessing pool
    terminating the worker it forked, be taken for a request to stop and never end it."""
    token = CancelToken()

    def handler(signum, frame):  # noqa: ARG001
        if token.cancelled:
            raise KeyboardInterrupt
        token.cancel()
        sys.stderr.write("\nstopping after the current file… (Ctrl-C again to abort)\n")

    signals = [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])
    before = {s: signal.getsignal(s) for s in signals}
    for s in signals:
        signal.signal(s, handler)
    try:
        yield token
    finally:
        for s, previous in before.items():
            signal.signal(s, previous)


def cmd_index(args: argparse.Namespace) -> int:
    settings = EngineSettings(cluster=args.cluster or "", cluster_timeout_s=args.cluster_timeout,
                              threads=args.threads)
    with _open(args, create=True, settings=settings) as engine, _cancel_on_sigint() as cancel:
        bar = ProgressBar(not args.json)
        report = engine.index(args.paths or None, progress=bar, cancel=cancel,
                              retry_failed=args.retry_failed)
        bar.close()
        if args.json:
            emit_json(report)
        else:
            state = "stopped early (run again to resume)" if report.cancelled else "done"
            print(f"Indexing {state}: {report.added} added, {report.updated} updated, "
                  f"{report.removed} removed, {report.unchanged} unchanged, {report.failed} failed; "
                  f"{report.pages} pages in {report.elapsed_s:.1f} s "
                  f"(keyword-searchable after {report.elapsed_s - report.embed_s:.1f} s)")
            for f in report.errors:
                print(f"  failed: {f.path}: {f.reason}")
            for n in report.notes:
                print(f"  note: {n.path}: {n.note}")
        return 0


def _evidence(args: argparse.Namespace) -> set[str] | None:
    if not args.evidence:
        return None
    from engine.search.query import EVIDENCE

    wanted = {e.strip() for e in args.evidence.split(",") if e.strip()}
    unknown = sorted(wanted - set(EVIDENCE))
    if unknown or not wanted:
        raise EngineError(f"unknown evidence {', '.join(unknown) or repr(args.evidence)}: "
                          f"use a comma list of {','.join(EVIDENCE)}")
    return wanted


def _query_file(path: Path) -> Path:
    """A query file that exists and is a file, else a clear error."""
    if path.is_dir():
        raise EngineError(f"{path} is a folder: give a drawing, scan or photo file")
    if not path.is_file():
        raise EngineError(f"query file not found: {path}")
    return path


def _run_query(engine, line: str, args: argparse.Namespace):
    from engine.extract import SUPPORTED_SUFFIXES

    candidate = Path(line).expanduser()
    if candidate.suffix.lower() in SUPPORTED_SUFFIXES or (candidate.suffix and candidate.is_file()):
        # a line naming a file is a drawing query; a missing one is an error, not keywords
        return engine.search_file(_query_file(candidate), limit=args.limit, evidence=_evidence(args))
    kinds = {args.kind} if args.kind else None
    return engine.search(line, limit=args.limit, kinds=kinds, evidence=_evidence(args))


def _read_lines(path: str) -> list[str]:
    try:
        return Path(path).read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise EngineError(f"{path} is not UTF-8 text: save the batch file as UTF-8") from None
    except OSError as exc:
        raise EngineError(f"cannot read the batch file {path}: {exc.strerror or exc}") from None


def cmd_search(args: argparse.Namespace) -> int:
    _evidence(args)  # a wrong --evidence is an error before anything runs
    lines = _read_lines(args.batch) if args.batch else []
    with _open(args) as engine:
        if args.batch:
            for line in (ln.strip() for ln in lines):
                if not line:
                    continue
                try:
                    result = _run_query(engine, line, args)
                    payload = {"query": line, "ok": True, "result": to_jsonable(result)}
                except EngineError as exc:
                    payload = {"query": line, "ok": False, "error": str(exc)}
                print(json.dumps(payload, ensure_ascii=False), flush=True)
            return 0
        if args.file:
            result = engine.search_file(_query_file(Path(args.file).expanduser()), limit=args.limit,
                                        evidence=_evidence(args))
        elif args.text:
            result = engine.search(" ".join(args.text), limit=args.limit,
                                   kinds={args.kind} if args.kind else None, evidence=_evidence(args))
        else:
            raise EngineError("give keywords, --file PATH or --batch FILE")
        if args.json:
            emit_json(result)
        elif isinstance(result, FileQueryResults):
            print_file_results(result)
        else:
            print_hits(f"Results for {' '.join(args.text)!r}", result)
        return 0


def similar_target(text: str) -> tuple[str, int]:
    """DOC[#page] -> (DOC, page). A '#' is part of the name unless digits follow the last one
    and the whole is no file (`part#2.txt` is a file; `part#2.txt#3` its page 3)."""
    name, sep, page = text.rpartition("#")
    if sep and page.isdigit() and name and not Path(text).expanduser().exists():
        return name, int(page)
    return text, 1


def cmd_similar(args: argparse.Namespace) -> int:
    target, page = similar_target(args.target)
    with _open(args) as engine:
        result = engine.similar(Path(target), page, limit=args.limit)
        emit_json(result) if args.json else print_file_results(result)
    return 0


def print_duplicates(report: DuplicateReport) -> None:
    n = len(report.groups)
    print(f"{n} group{'' if n == 1 else 's'} of near-identical drawings among {report.pages} drawing pages "
          f"(threshold {report.threshold:.2f}; {report.elapsed_ms / 1000:.1f} s)")
    for n, group in enumerate(report.groups, start=1):
        geometry = f"   geometry: {group.points} points line up" if group.points else ""
        print(f"{n:>3}. {len(group.pages)} pages   score {group.score:.2f}   looks {group.looks:.2f}   "
              f"shared words: {', '.join(group.words)}{geometry}")
        for page in group.pages:
            read = page.source.replace("text-layer", "text layer")  # "text layer", "text layer+ocr", "ocr"
            print(f"     {page.path}" + (f"#{page.page}" if page.page > 1 else "") + f"   [{page.format}, {read}]")


def cmd_duplicates(args: argparse.Namespace) -> int:
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise EngineError("--threshold is a probability: give a value from 0 to 1")
    with _open(args) as engine, _cancel_on_sigint() as cancel:
        bar = ProgressBar(not args.json)
        report = engine.duplicates(threshold=args.threshold, progress=bar, cancel=cancel)
        bar.close()
        emit_json(report) if args.json else print_duplicates(report)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    with _open(args) as engine:
        st = engine.status()
        if args.json:
            data = to_jsonable(st)
            data["pack_error"] = engine.pack_error
            print(json.dumps(data, ensure_ascii=False))
            return 0
        print(f"Library:   {st.library}")
        print(f"Folders:   {', '.join(st.folders) or '(none: zumen index FOLDER)'}")
        print(f"Documents: {st.documents} ({st.drawings} drawings), {st.pages} pages, {st.chunks} chunks")
        print(f"Index:     {st.index_bytes / 1e6:.1f} MB")
        if st.pack:
            tower = "text + image towers" if st.pack.has_image_tower else "text tower only"
            print(f"Model:     {st.pack.name} {st.pack.version} ({tower}, {st.pack.text_dim}-d)")
        else:
            print(f"Model:     none ({engine.pack_error}); keyword search only")
        print(f"Failed:    {len(st.failed)}")
        for f in st.failed:
            print(f"  {f.path}: {f.reason}")
        if st.notes:
            print(f"Notes:     {len(st.notes)} (indexed with a warning, or only in part)")
            for n in st.notes:
                print(f"  {n.path}: {n.note}")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    with _open(args) as engine:
        n = engine.remove_folder(args.folder)
        emit_json({"removed_documents": n}) if args.json else print(f"Removed {n} documents.")
    return 0


def cmd_pack(args: argparse.Namespace) -> int:
    if args.pack_cmd == "build-default":
        from engine.config import DEFAULT_PACK_DIR
        from engine.learn.export_text import build_default_pack

        dest = Path(args.dest) if args.dest else DEFAULT_PACK_DIR
        if args.if_stale and not default_pack_stale(dest):
            print(f"Default model pack at {dest} is up to date.")
            return 0
        out = build_default_pack(dest, quantize=args.quantize)
        emit_json({"pack": str(out)}) if args.json else print(f"Default model pack written to {out}")
        return 0
    with _open(args, create=True) as engine:  # packs can be chosen before the first index
        if args.pack_cmd == "list":
            packs = engine.packs()
            active = engine.active_pack()
            if args.json:
                emit_json({"active": active, "packs": packs})
            else:
                for p in packs:
                    star = "*" if active and p.path == active.path else " "
                    print(f"{star} {p.name}-{p.version}  {p.created}  {_pack_measure(p.metrics)}\n    {p.path}")
        else:
            bar = ProgressBar(not args.json)
            info = (engine.activate_pack(args.name, progress=bar) if args.pack_cmd == "activate"
                    else engine.rollback_pack(progress=bar))
            bar.close()
            emit_json(info) if args.json else print(f"Active model pack: {info.name}-{info.version}")
    return 0


def default_pack_stale(dest: Path) -> bool:
    """True when `dest` holds no pack, or not the image tower that resources/ ships now."""
    from engine.config import RESOURCES

    manifest = dest / "manifest.json"
    if not manifest.exists():
        return True
    try:
        image = json.loads(manifest.read_text(encoding="utf-8")).get("image")
    except (OSError, ValueError):
        return True
    tower = RESOURCES / "models" / "image_tower" / "image.json"
    if not tower.exists():
        return image is not None
    shipped = json.loads(tower.read_text(encoding="utf-8")).get("sha256")
    return image is None or image.get("sha256") != shipped


class JsonProgress:
    """Progress as JSON lines on stdout ({"stage", "done", "total", ...}, the Progress fields),
    read by the desktop app's adaptation process; the last line is the result."""

    def __call__(self, p: Progress) -> None:
        print(json.dumps(to_jsonable(p), ensure_ascii=False), flush=True)

    def close(self) -> None:
        pass


def _pack_measure(metrics: dict) -> str:
    """One line on how a pack version was measured: an adapted one's held-out mAP before -> after."""
    before, after = (metrics.get("before") or {}).get("map"), (metrics.get("after") or {}).get("map")
    if isinstance(before, (int, float)) and isinstance(after, (int, float)):
        return f"held-out mAP {before:.3f} -> {after:.3f} ({metrics.get('split', 'held-out queries')})"
    return "shipped default" if metrics.get("parity_vs_torch") else ""


def print_ranking_fit(report: dict) -> None:
    """What fitting the drawing-query ranking to the site's pairs did (engine.evaluate.ranking_fit)."""
    before, after = report.get("before"), report.get("after")
    print(f"Ranking of drawing queries, fitted to {report.get('queries', 0)} drawing queries"
          + (f" ({report['protocol']}):" if before else ":"))
    if before and after:
        for key in ("recall@1", "recall@5", "mrr", "map"):
            print(f"  {key:>10}: {before[key]:.3f} -> {after[key]:.3f} ({after[key] - before[key]:+.3f})")
    print("  kept for this model pack" if report.get("kept") else f"  not kept: {report.get('why')}")


def activation_command(args: argparse.Namespace, pack_id: str) -> str:
    """The command that activates an adapted version, for the library this command used."""
    library = f" --library {shlex.quote(str(args.library))}" if args.library else ""
    return f"zumen pack activate {shlex.quote(pack_id)}{library}"


def cmd_adapt(args: argparse.Namespace) -> int:
    with _open(args) as engine, _cancel_on_sigint() as cancel:
        if args.ranking_only:
            if args.pairs is None:
                raise EngineError("--ranking-only needs --pairs")
            bar = JsonProgress() if args.json else ProgressBar(True)
            report = engine.fit_ranking(args.pairs, progress=bar, cancel=cancel)
            bar.close()
            emit_json(report) if args.json else print_ranking_fit(report)
            return 0
        bar = JsonProgress() if args.json else ProgressBar(True)
        result = engine.adapt(args.pairs, use_feedback=args.feedback, mine_library=args.mine,
                              activate=not args.no_activate,
                              progress=bar, cancel=cancel)
        bar.close()
        if args.json:  # the last line; desktop/adapt_worker.py reads it back with AdaptReport.from_json
            emit_json(result)
        else:
            print_adapt_report(result, args)
    return 0


def print_adapt_report(result: AdaptReport, args: argparse.Namespace) -> None:
    print(f"New pack version {result.pack_id} (from {result.parent}); "
          f"adapted: {', '.join(result.trained) or 'nothing'}")
    for tower, why in result.skipped.items():
        print(f"  {tower} tower not adapted: {why}")
    path = "the query's words -> text tower" if result.path == "text" else "the picture -> image tower"
    print(f"Measured on {result.before.get('queries', '?')} held-out queries ({path}):")
    for key in ("recall@1", "recall@5", "recall@10", "mrr", "ndcg@10", "map"):
        b, a = result.before.get(key), result.after.get(key)
        if isinstance(b, (int, float)) and isinstance(a, (int, float)):
            print(f"  {key:>10}: {b:.3f} -> {a:.3f} ({a - b:+.3f})")
    guard = result.paths.get("text", {}).get("keywords")
    if guard:
        print(f"Keyword queries ({guard['before'].get('queries', '?')}), the guard: "
              f"mAP {guard['before']['map']:.3f} -> {guard['after']['map']:.3f}")
    if result.activated:
        print("Activated. Roll back with: zumen pack rollback")
    elif result.passed_gate:  # --no-activate kept the old version
        print(f"Passed the gate, kept inactive (--no-activate). Activate with: "
              f"{activation_command(args, result.pack_id)}")
    else:
        print(f"Not activated: {result.refused_because}. "
              f"Activate anyway with: {activation_command(args, result.pack_id)}")
    if result.ranking:
        print_ranking_fit(result.ranking)


def cmd_eval(args: argparse.Namespace) -> int:
    with _open(args) as engine:
        bar = ProgressBar(not args.json)
        result = engine.evaluate(args.pairs, qrels=args.qrels, queries=args.queries, chart=args.chart,
                                 evidence=_evidence(args), progress=bar)
        bar.close()
        if args.json:
            emit_json(result)
            return 0
        print(f"{result.queries} queries, model {result.pack}"
              + (f", {result.skipped_judgements} judgements without a file skipped"
                 if result.skipped_judgements else ""))
        print(f"{'query type':<14} {'n':>4} {'R@1':>6} {'R@5':>6} {'R@10':>6} {'MRR':>6} {'nDCG@10':>8} {'mAP':>6}")
        for qtype, m in result.query_types.items():
            print(f"{qtype:<14} {m['queries']:>4} {m['recall@1']:>6.3f} {m['recall@5']:>6.3f} "
                  f"{m['recall@10']:>6.3f} {m['mrr']:>6.3f} {m['ndcg@10']:>8.3f} {m['map']:>6.3f}")
        if result.chart:
            print(f"Chart: {result.chart}")
    return 0


def cmd_export_pairs(args: argparse.Namespace) -> int:
    with _open(args) as engine:
        result = engine.export_pairs(args.out, pairs_csv=args.pairs, feedback=args.feedback,
                                     anonymise=args.anonymise)
    if args.json:
        emit_json(result)
    else:
        print(f"{result['pairs']} pairs written to {result['out']}"
              + (" (anonymised: no paths or file names)" if result["anonymised"] else ""))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from engine.demo import run_demo

    return run_demo(args)


# --------------------------------------------------------------------------- parser
def _common_options(inherited: bool = False) -> argparse.ArgumentParser:
    """--library, --pack, --json, -v. `inherited`: for the subcommands of a command that already
    takes them (`zumen pack --library X list`): no defaults there, or the subcommand's default
    would overwrite what was given before it."""
    def default(value: Any) -> Any:
        return argparse.SUPPRESS if inherited else value

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--library", type=Path, default=default(None),
                        help=f"library folder (default: $ZUMEN_LIBRARY or {default_library_path()})")
    common.add_argument("--pack", type=Path, default=default(None), help="model pack folder to use")
    common.add_argument("--json", action="store_true", default=default(False), help="machine-readable output")
    common.add_argument("-v", "--verbose", action="store_true", default=default(False))
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common_options()
    inherited = _common_options(inherited=True)

    p = argparse.ArgumentParser(prog="zumen", description="Offline drawing and document search.")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("index", parents=[common], help="index folders (incremental)")
    s.add_argument("paths", nargs="*", type=Path, help="folders or files (default: all library folders)")
    s.add_argument("--retry-failed", action="store_true", help="try files that failed before again")
    s.add_argument("--cluster", metavar="ADDRESS",
                   help="read and embed on a Dask cluster (tcp://host:8786; docs/scale.md); this "
                        "machine still writes the library")
    s.add_argument("--cluster-timeout", type=float, default=EngineSettings.cluster_timeout_s, metavar="S",
                   help="seconds to reach the cluster's scheduler and to wait for a worker")
    s.add_argument("--threads", type=int, default=EngineSettings.threads, metavar="N",
                   help="OCR and model threads of the process that reads (this one, or each cluster "
                        "worker process); 0: all cores")
    s.set_defaults(func=cmd_index)

    s = sub.add_parser("search", parents=[common], help="search by keywords or by a drawing")
    s.add_argument("text", nargs="*", help="keywords: part numbers, materials, words (日本語 OK)")
    s.add_argument("--file", help="query with a drawing: PDF, scan or photo")
    s.add_argument("--batch", help="file with one query per line (text or a file path); JSON lines out")
    s.add_argument("--limit", type=int, default=10)
    s.add_argument("--kind", choices=("drawing", "document"))
    s.add_argument("--evidence", help="comma list of lexical,semantic,visual (default: all, fused)")
    s.set_defaults(func=cmd_search)

    s = sub.add_parser("similar", parents=[common], help="documents like an indexed one: DOC[#page]")
    s.add_argument("target")
    s.add_argument("--limit", type=int, default=10)
    s.set_defaults(func=cmd_similar)

    s = sub.add_parser("duplicates", parents=[common],
                       help="groups of near-identical drawings: rescans, photos, re-exports, revisions")
    s.add_argument("--threshold", type=float, default=None,
                   help="share (0-1) of telling words two drawings must share to be grouped, or "
                        "fewer confirmed by their geometry (default: the calibrated one)")
    s.set_defaults(func=cmd_duplicates)

    s = sub.add_parser("status", parents=[common], help="what the library holds")
    s.set_defaults(func=cmd_status)

    s = sub.add_parser("remove", parents=[common], help="forget a folder and its documents")
    s.add_argument("folder", type=Path)
    s.set_defaults(func=cmd_remove)

    s = sub.add_parser("demo", parents=[common], help="index the bundled sample library and run example queries")
    s.add_argument("--samples", type=Path, default=SAMPLE_LIBRARY)
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("eval", parents=[common], help="measure retrieval quality on your own pairs")
    s.add_argument("--pairs", type=Path, help="CSV with query,relevant[,grade] columns")
    s.add_argument("--qrels", type=Path, help="TREC qrels file (qid iter docid grade)")
    s.add_argument("--queries", type=Path, help="with --qrels: qid<TAB>query (text or file path)")
    s.add_argument("--chart", type=Path, help="also write a PNG bar chart here")
    s.add_argument("--evidence", help="comma list of lexical,semantic,visual (default: all, fused)")
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("adapt", parents=[common],
                       help="fine-tune both towers on your own (drawing, document) pairs or feedback; "
                            "the new version is activated only if held-out mAP improves")
    s.add_argument("--pairs", type=Path, help="CSV with query,relevant[,grade] columns")
    s.add_argument("--feedback", action="store_true", help="also learn from thumbs-up votes")
    s.add_argument("--mine", action="store_true",
                   help="also learn from the library: each drawing page's picture with its own text")
    s.add_argument("--no-activate", action="store_true", help="write the new version, keep the old active")
    s.add_argument("--ranking-only", action="store_true",
                   help="only fit the ranking of drawing queries to --pairs (no training, no torch)")
    s.set_defaults(func=cmd_adapt)

    s = sub.add_parser("export-pairs", parents=[common],
                       help="write the adaptation pairs (with their texts) as JSON lines")
    s.add_argument("out", type=Path, help="output file (.jsonl)")
    s.add_argument("--pairs", type=Path, help="CSV with query,relevant[,grade] columns")
    s.add_argument("--feedback", action="store_true", help="also the thumbs-up votes")
    s.add_argument("--anonymise", "--anonymize", action="store_true",
                   help="opaque ids instead of paths; file and folder names removed from the texts")
    s.set_defaults(func=cmd_export_pairs)

    s = sub.add_parser("pack", parents=[common], help="model packs")
    psub = s.add_subparsers(dest="pack_cmd", required=True)
    b = psub.add_parser("build-default", parents=[inherited], help="export the default pack (needs torch)")
    b.add_argument("--dest", help="output folder (default: resources/models/default)")
    b.add_argument("--quantize", default="auto", choices=("auto", "none", "int8"))
    b.add_argument("--if-stale", action="store_true",
                   help="only build when the pack is missing or its shipped image tower changed")
    psub.add_parser("list", parents=[inherited])
    a = psub.add_parser("activate", parents=[inherited])
    a.add_argument("name", help="pack id (as `zumen pack list` and `zumen adapt` print it), name-version or folder")
    psub.add_parser("rollback", parents=[inherited])
    s.set_defaults(func=cmd_pack)

    from engine.doctor import add_doctor_parser  # its own module (offline installer's last step)
    add_doctor_parser(sub, common)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging(verbose=args.verbose)
    try:
        return int(args.func(args) or 0)
    except EngineError as exc:
        if getattr(args, "json", False):
            print(json.dumps({"error": str(exc), "type": type(exc).__name__}, ensure_ascii=False))
        print(f"zumen: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nzumen: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into `head` and the like
        sys.stderr.close()
        return 0
    except sqlite3.OperationalError as exc:  # e.g. indexing a library the user may only read
        why = ("the library is read-only for this user: searching works, changing it needs "
               "write access" if "readonly" in str(exc) else str(exc))
        print(f"zumen: {why}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file the command needed could not be read or written
        where = f" {exc.filename}" if exc.filename else ""
        print(f"zumen: {exc.strerror or exc}:{where}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
