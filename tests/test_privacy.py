"""Nothing leaves the machine: real `zumen` commands, traced at the system-call level, open no
network socket (onnxruntime's default telemetry did: DNS look-ups of
mobile.events.data.microsoft.com) and leave no telemetry folder in the user's home: index,
search, search --file, eval, status, duplicates, adapt --ranking-only and demo, each under strace and, where
the system allows it, inside `unshare -n` (a network namespace without any network)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pymupdf
import pytest

from engine.config import DEFAULT_PACK_DIR
from tests.test_engine import write_drawing

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(shutil.which("strace") is None or sys.platform != "linux",
                                 reason="needs strace (Linux)"),
              pytest.mark.skipif(not (DEFAULT_PACK_DIR / "manifest.json").exists(),
                                 reason="default pack not built (zumen pack build-default)")]

NETWORK_SOCKET = re.compile(r"socket\((?!AF_UNIX|AF_LOCAL|AF_NETLINK)|connect\(\d+, \{sa_family=AF_INET")


def test_commands_open_no_network_socket_and_write_no_telemetry(tmp_path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "spec.txt").write_text("Specification ZM-1258-B2P main shaft, material S45C", encoding="utf-8")
    write_drawing(docs / "ZM-1258-B2P.pdf", "ZM-1258-B2P", "S45C", "MAIN SHAFT")
    (docs / "pairs.csv").write_text("query,relevant\nZM-1258-B2P.pdf,spec.txt\n", encoding="utf-8")
    samples = tmp_path / "samples"  # a small sample library for `zumen demo --samples`
    (samples / "queries").mkdir(parents=True)
    (samples / "spec.txt").write_text("Specification ZM-1258-B2P main shaft S45C", encoding="utf-8")
    (samples / "queries" / ".zumenignore").write_text("", encoding="utf-8")
    write_drawing(samples / "queries" / "drawing.pdf", "ZM-1258-B2P", "S45C", "MAIN SHAFT")
    pymupdf.open(samples / "queries" / "drawing.pdf")[0].get_pixmap(dpi=60).save(
        samples / "queries" / "photo.png")  # a picture: the query is OCR'd (onnxruntime)
    (samples / "queries" / "drawing.pdf").unlink()
    (samples / "queries.json").write_text('{"keyword": ["S45C"]}', encoding="utf-8")
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ORT_")}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"), ZUMEN_LIBRARY=str(tmp_path / "lib"))
    zumen = [sys.executable, "-m", "engine.cli"]
    commands = [["index", str(docs)], ["search", "S45C"], ["search", "--file", str(docs / "ZM-1258-B2P.pdf")],
                ["eval", "--pairs", str(docs / "pairs.csv")], ["status"], ["duplicates"],
                ["adapt", "--pairs", str(docs / "pairs.csv"), "--ranking-only"],
                ["demo", "--samples", str(samples), "--library", str(tmp_path / "demo-lib")]]
    # where the system allows it, inside a network namespace with no network at all, as well
    offline = ["unshare", "-n"] if shutil.which("unshare") and subprocess.run(
        ["unshare", "-n", "true"], capture_output=True).returncode == 0 else []
    for args in commands:
        trace = tmp_path / f"trace-{args[0]}.log"
        proc = subprocess.run([*offline, "strace", "-f", "-qq", "-e", "trace=socket,connect", "-o",
                               str(trace), *zumen, *args], env=env, capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, (args, proc.stderr[-2000:])
        lines = trace.read_text().splitlines()
        network = [line for line in lines if NETWORK_SOCKET.search(line)]
        sockets = sorted({m.group(1) for m in map(re.compile(r"socket\((\w+)").search, lines) if m})
        print(f"{' '.join(offline)} strace {args[0]}: {len(lines)} socket/connect calls, "
              f"families {sockets or 'none'}, network {len(network)}")
        assert not network, (args, network[:5])
    assert not (home / ".cache" / "Microsoft").exists()
    assert not any(p.name == "Microsoft" for p in home.rglob("*"))
