"""`zumen demo`: index the bundled sample library and run the example queries it ships with."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from engine.config import default_library_path
from engine.errors import EngineError


def demo_library_path() -> Path:
    return default_library_path().parent / "demo-library"


def run_demo(args: argparse.Namespace) -> int:
    from engine.api import Engine
    from engine.cli import ProgressBar, emit_json, print_file_results, print_hits

    samples = Path(args.samples)
    if not samples.is_dir():
        raise SystemExit(f"sample library not found at {samples}")
    library = args.library or demo_library_path()
    queries_file = samples / "queries.json"
    spec = json.loads(queries_file.read_text(encoding="utf-8")) if queries_file.exists() else {}
    keyword_queries = [q["query"] if isinstance(q, dict) else q for q in spec.get("keyword", [])]
    file_queries = sorted((samples / "queries").glob("*")) if (samples / "queries").is_dir() else []
    roots = [samples]  # samples/queries holds a .zumenignore: query pictures are not in the library

    with Engine.open(library, pack=args.pack) as engine:
        if not args.json:
            print(f"Zumen demo — library {library}")
            print(f"Indexing the sample library {samples} …")
        bar = ProgressBar(not args.json)
        report = engine.index(roots, progress=bar)
        bar.close()
        out: dict = {"library": str(library), "index": report, "keyword": [], "file": []}
        if not args.json:
            st = engine.status()
            print(f"{st.documents} documents ({st.drawings} drawings), {st.pages} pages indexed; "
                  f"{report.added} new, {report.unchanged} unchanged, {report.failed} failed "
                  f"in {report.elapsed_s:.1f} s")
            if st.pack is None:
                print(f"(no model pack: {engine.pack_error}; keyword evidence only)")
        for text in keyword_queries:
            res = engine.search(text, limit=5)
            out["keyword"].append(res)
            if not args.json:
                print("\n" + "=" * 78)
                print_hits(f"Keyword search {text!r}", res)
        for path in file_queries:
            try:
                res = engine.search_file(path, limit=5)
            except EngineError as exc:  # one unreadable query picture must not end the demo
                print(f"\n{path.name}: {exc}")
                continue
            out["file"].append(res)
            if not args.json:
                print("\n" + "=" * 78)
                print_file_results(res)
        if args.json:
            emit_json(out)
    return 0
