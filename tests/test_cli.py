"""The `zumen` command line: JSON output of every command, with a tiny real ONNX pack."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from engine.cli import main
from tests.tiny_pack import build_tiny_pack
from tests.test_engine import SPEC_JA, write_drawing


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    docs = tmp / "docs"
    docs.mkdir()
    (docs / "spec.txt").write_text(SPEC_JA, encoding="utf-8")
    (docs / "shaft.txt").write_text("shaft bearing housing steel", encoding="utf-8")
    write_drawing(docs / "ZM-1258-B2P.pdf", "ZM-1258-B2P", "S45C", "MAIN SHAFT")
    pack = build_tiny_pack(tmp / "pack")
    lib = tmp / "lib"
    return tmp, docs, pack, lib


def run(capsys, *args) -> object:
    code = main([*map(str, args)])
    out = capsys.readouterr().out
    assert code == 0, out
    lines = [ln for ln in out.splitlines() if ln.strip()]
    return json.loads(lines[-1]) if len(lines) == 1 else [json.loads(ln) for ln in lines]


def test_cli_json_round_trip(setup, capsys):
    tmp, docs, pack, lib = setup
    common = ["--library", lib, "--pack", pack, "--json"]
    report = run(capsys, "index", docs, *common)
    assert report["added"] == 3 and report["failed"] == 0

    res = run(capsys, "search", "焼入れ", *common)
    top = res["hits"][0]
    assert top["path"].endswith("spec.txt")
    assert set(top["scores"]) == {"lexical", "semantic", "visual", "fused", "lexical_doc",
                                  "cosine_page", "cosine_doc", "dimensions", "link_name",
                                  "link_folder", "matched_points", "confidence"}
    assert 0 < top["scores"]["confidence"] <= 1
    assert top["page"] == 1 and top["explanation"]["shared_terms"] == ["焼入れ"]

    res = run(capsys, "search", "--file", docs / "ZM-1258-B2P.pdf", *common)
    assert "ZM-1258-B2P" in res["identifiers"]
    assert res["related"]["hits"][0]["path"].endswith("spec.txt")
    assert "looks" not in res["similar"] and "no_match" in res["similar"]  # the ranking's own field is not output

    status = run(capsys, "status", *common)
    assert status["documents"] == 3 and status["pack"]["name"] == "tiny"

    res = run(capsys, "similar", f"{docs / 'ZM-1258-B2P.pdf'}#1", *common)
    assert res["related"]["hits"]


def test_cli_batch_json_lines(setup, capsys, tmp_path):
    _, docs, pack, lib = setup
    batch = tmp_path / "queries.txt"
    batch.write_text(f"S45C\n{docs / 'ZM-1258-B2P.pdf'}\n   \n焼入れ\n", encoding="utf-8")
    rows = run(capsys, "search", "--batch", batch, "--library", lib, "--pack", pack, "--json")
    assert [r["query"] for r in rows] == ["S45C", str(docs / "ZM-1258-B2P.pdf"), "焼入れ"]
    assert all(r["ok"] for r in rows)
    assert "related" in rows[1]["result"]


def test_cli_errors_are_clear(setup, capsys):
    _, _, pack, lib = setup
    code = main(["search", "--file", "/no/such/file.pdf", "--library", str(lib), "--pack", str(pack)])
    assert code == 2
    assert "not found" in capsys.readouterr().err


def test_import_engine_pulls_in_neither_torch_nor_qt():
    code = ("import sys, engine, engine.api, engine.cli, engine.search.query, engine.indexing.pipeline, "
            "engine.encoders.pack, engine.extract;"
            "bad = [m for m in ('torch', 'PySide6', 'sentence_transformers') if m in sys.modules];"
            "print(bad); sys.exit(1 if bad else 0)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_cli_eval_reports_per_query_type_and_draws_a_chart(setup, capsys, tmp_path):
    _, docs, pack, lib = setup
    run(capsys, "index", docs, "--library", lib, "--pack", pack, "--json")
    pairs = tmp_path / "pairs.csv"
    pairs.write_text(
        "query,relevant,grade\n"
        f"{docs / 'ZM-1258-B2P.pdf'},{docs / 'spec.txt'},2\n"
        "焼入れ,spec.txt,1\n"
        f"S45C,{docs / 'ZM-1258-B2P.pdf'},1\n"
        f"{docs / 'ZM-1258-B2P.pdf'},no-such-file.pdf,1\n", encoding="utf-8")
    (tmp_path / "spec.txt").symlink_to(docs / "spec.txt")
    chart = tmp_path / "eval.png"
    res = run(capsys, "eval", "--pairs", pairs, "--chart", chart, "--library", lib, "--pack", pack, "--json")
    assert set(res["query_types"]) == {"image->text", "text->text", "text->image"}
    assert res["query_types"]["image->text"]["recall@1"] == 1.0
    assert res["query_types"]["text->text"]["mrr"] == 1.0
    assert res["skipped_judgements"] == 1
    from PIL import Image

    assert Image.open(chart).size[0] > 600


def test_pack_list_line_says_how_a_version_was_measured():
    from engine.cli import _pack_measure

    adapted = {"split": "3-fold cross-validation over 7 queries", "before": {"map": 0.509}, "after": {"map": 0.661}}
    assert _pack_measure(adapted) == "held-out mAP 0.509 -> 0.661 (3-fold cross-validation over 7 queries)"
    assert _pack_measure({"parity_vs_torch": {"cosine_min": 1.0}}) == "shipped default"
    assert _pack_measure({}) == ""


def test_cli_adapt_ranking_only_needs_no_training(setup, capsys):
    tmp, docs, pack, lib = setup
    common = ["--library", lib, "--pack", pack]
    run(capsys, "index", docs, *common, "--json")
    pairs = tmp / "pairs.csv"
    pairs.write_text(f"query,relevant\n{docs / 'ZM-1258-B2P.pdf'},{docs / 'spec.txt'}\n", encoding="utf-8")
    report = run(capsys, "adapt", "--pairs", pairs, "--ranking-only", *common, "--json")[-1]  # after progress
    assert report["queries"] == 1 and report["kept"] is False and "at least 6" in report["why"]
    assert main(["adapt", "--pairs", str(pairs), "--ranking-only", *map(str, common)]) == 0
    assert "not kept: needs at least 6 drawing queries" in capsys.readouterr().out


def test_pack_subcommand_keeps_options_given_before_it(setup, capsys, monkeypatch, tmp_path):
    """`zumen pack --library X --json list` used to drop --library and --json (the subcommand's
    own defaults overwrote them)."""
    _, _, pack, lib = setup
    monkeypatch.setenv("ZUMEN_LIBRARY", str(tmp_path / "wrong-library"))
    before = run(capsys, "pack", "--library", lib, "--pack", pack, "--json", "list")
    after = run(capsys, "pack", "list", "--library", lib, "--pack", pack, "--json")
    assert before == after and before["active"]["name"] == "tiny"
    assert not (tmp_path / "wrong-library").exists()


def test_the_activation_command_adapt_prints_works(setup, capsys, monkeypatch):
    """An adapted version's id is sanitised ('+' -> '_'); the printed command must find it."""
    import shlex

    from engine.api import Engine
    from engine.encoders.pack import make_pack_id

    tmp, docs, pack, _ = setup
    lib = tmp / "lib-activate"
    version = "0.1.0+site.20260101000000"
    pack_id = make_pack_id("tiny", version)
    assert "+" not in pack_id

    def fake_adapt(self, pairs_csv=None, **kwargs):
        from engine.types import AdaptReport

        dest = build_tiny_pack(self.library_path / "packs" / pack_id, version=version)
        return AdaptReport(pack_dir=str(dest), pack_id=pack_id, parent="tiny-0.1.0", passed_gate=False,
                           refused_because="the held-out mAP did not improve (0.500 -> 0.500)", path="text",
                           before={"map": 0.5, "queries": 4}, after={"map": 0.5, "queries": 4}, trained=("text",))

    assert main(["index", str(docs), "--library", str(lib), "--pack", str(pack)]) == 0  # adapt needs a library
    monkeypatch.setattr(Engine, "adapt", fake_adapt)
    pairs = tmp / "pairs-activate.csv"
    pairs.write_text(f"query,relevant\n{docs / 'ZM-1258-B2P.pdf'},{docs / 'spec.txt'}\n", encoding="utf-8")
    assert main(["adapt", "--pairs", str(pairs), "--library", str(lib), "--pack", str(pack)]) == 0
    out = capsys.readouterr().out
    command = next(line for line in out.splitlines() if "Activate anyway with: " in line)
    argv = shlex.split(command.split("Activate anyway with: ", 1)[1])
    assert argv[:3] == ["zumen", "pack", "activate"]
    assert main(argv[1:]) == 0, capsys.readouterr().err
    capsys.readouterr()
    status = run(capsys, "status", "--library", lib, "--json")
    assert status["pack"]["version"] == version
