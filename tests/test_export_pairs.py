"""`zumen export-pairs --anonymise` (issue #10): an administrator can share adaptation pairs
without paths or names; the pair structure and the texts stay."""

from __future__ import annotations

import json

from engine.api import Engine
from engine.cli import main
from tests.tiny_pack import build_tiny_pack
from tests.test_engine import write_drawing


def test_anonymised_export_keeps_pairs_and_texts_and_drops_every_name(tmp_path, capsys):
    secret = tmp_path / "ACME-Aerospace" / "Project-Falcon"
    secret.mkdir(parents=True)
    write_drawing(secret / "ZM-1258-B2P.pdf", "ZM-1258-B2P", "S45C", "MAIN SHAFT")
    (secret / "spec_falcon_shaft.txt").write_text(
        "Specification for ZM-1258-B2P main shaft, material S45C, Project-Falcon use only",
        encoding="utf-8")
    (secret / "memo_bracket.txt").write_text("Bracket memo SS400", encoding="utf-8")
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("query,relevant,grade\n"
                     f"{secret / 'ZM-1258-B2P.pdf'},{secret / 'spec_falcon_shaft.txt'},2\n"
                     f"S45C shaft,{secret / 'spec_falcon_shaft.txt'},1\n", encoding="utf-8")
    pack = build_tiny_pack(tmp_path / "pack")
    lib = tmp_path / "lib"
    common = ["--library", str(lib), "--pack", str(pack)]
    assert main(["index", str(secret), *common, "--json"]) == 0
    with Engine.open(lib, pack=pack) as engine:  # a thumbs-up on a drawing query
        hit = engine.search("Bracket SS400").hits[0]
        engine.record_feedback("Bracket SS400", hit, +1, query_path=str(secret / "ZM-1258-B2P.pdf"))
    capsys.readouterr()

    out = tmp_path / "shared.jsonl"
    assert main(["export-pairs", str(out), "--pairs", str(pairs), "--feedback", "--anonymise",
                 *common]) == 0
    assert "3 pairs written" in capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    rows = [json.loads(line) for line in text.splitlines()]
    for leak in ("ACME", "Aerospace", "Falcon", "spec_falcon_shaft", "memo_bracket", str(tmp_path),
                 "ZM-1258-B2P.pdf", ".txt", "/"):
        assert leak.lower() not in text.lower(), leak
    drawing = rows[0]["query"]
    assert drawing.startswith("file-") and rows[2]["query"] == drawing  # one file, one id
    assert rows[0]["relevant"] == rows[1]["relevant"] != drawing
    assert rows[1]["query"] == "S45C shaft"  # typed keywords stay as typed
    assert "S45C" in rows[0]["query_text"] and "ZM-1258-B2P" in rows[0]["query_text"]  # content
    assert "[name]" in rows[0]["relevant_text"]  # "Project-Falcon" in the text was a folder name
    assert rows[0]["grade"] == 2.0

    plain = tmp_path / "plain.jsonl"
    assert main(["export-pairs", str(plain), "--pairs", str(pairs), *common]) == 0
    first = json.loads(plain.read_text(encoding="utf-8").splitlines()[0])
    assert first["query"] == str((secret / "ZM-1258-B2P.pdf").resolve())


def test_export_without_pairs_says_so(tmp_path, capsys):
    pack = build_tiny_pack(tmp_path / "pack")
    lib = tmp_path / "lib"
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("x y z", encoding="utf-8")
    assert main(["index", str(tmp_path / "d"), "--library", str(lib), "--pack", str(pack), "--json"]) == 0
    capsys.readouterr()
    code = main(["export-pairs", str(tmp_path / "o.jsonl"), "--library", str(lib), "--pack", str(pack)])
    assert code == 2 and "nothing to export" in capsys.readouterr().err
