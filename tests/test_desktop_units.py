"""Desktop building blocks: settings, translations, workers, the engine boundary, adaptation process."""

from __future__ import annotations

import ast
import json
import string
import sys
from pathlib import Path

import pytest

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")

from desktop.compat import guard_none_refcount  # noqa: E402


@pytest.fixture(autouse=True)
def _none_guard(qapp):
    guard_none_refcount()  # PySide6 6.12 on Python 3.11 leaks references to None

from desktop.adapt_worker import AdaptationWorker  # noqa: E402
from desktop.engine_bridge import EngineBridge, pil_to_qimage, qimage_to_pil  # noqa: E402
from desktop.i18n import load_catalog, tr, translator  # noqa: E402
from desktop.settings import SETTINGS, AppSettings  # noqa: E402
from desktop.testing import FakeEngine  # noqa: E402
from desktop.views.formatting import snippet_html  # noqa: E402
from desktop.views.metrics_chart import split_metrics  # noqa: E402
from desktop.workers import SyncTaskRunner, TaskRunner  # noqa: E402
from engine.errors import QueryError  # noqa: E402
from engine.types import Snippet  # noqa: E402

DESKTOP = Path(__file__).resolve().parent.parent / "desktop"


def translatable_literals() -> set[str]:
    found = set()
    for path in DESKTOP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None) \
                if isinstance(node, ast.Call) else None
            if (name in ("tr", "N_", "_set_status") and node.args
                    and isinstance(node.args[0], ast.Constant)):
                found.add(node.args[0].value)
    return found


def placeholders(text: str) -> list[str]:
    return sorted(name for _, name, _, _ in string.Formatter().parse(text) if name)


def test_every_ui_string_has_a_japanese_translation():
    catalog = load_catalog("ja")
    missing = sorted(translatable_literals() - set(catalog))
    assert not missing, f"add to resources/translations/ja.json: {missing}"
    for source, target in catalog.items():
        assert placeholders(target) == placeholders(source), source


def test_tr_switches_language():
    translator.set_language("ja")
    try:
        assert tr("Search") == "検索"
        assert tr("Related documents ({n})", n=3) == "関連文書（3）"
    finally:
        translator.set_language("en")
    assert tr("Related documents ({n})", n=3) == "Related documents (3)"


def test_settings_defaults_types_and_persistence(tmp_path, qapp):
    path = tmp_path / "zumen.ini"
    settings = AppSettings(path=path)
    assert settings.get("ui/font_pt") == 14 and settings.get("ui/touch_mode") is False
    settings.set("ui/font_pt", "18")
    settings.set("ui/touch_mode", True)
    settings._store.setValue("future/unknown", "kept")  # a key from a newer version
    again = AppSettings(path=path)  # after an "upgrade": same file, same keys
    assert again.get("ui/font_pt") == 18 and again.get("ui/touch_mode") is True
    assert again._store.value("future/unknown") == "kept"
    assert len({s.key for s in SETTINGS}) == len(SETTINGS)


def test_snippet_marks_are_escaped_and_highlighted():
    html = snippet_html(Snippet("a <b> S45C 焼入れ", ((6, 10), (11, 14))))
    assert "&lt;b&gt;" in html
    assert html.count("background-color") == 2 and ">S45C</span>" in html and ">焼入れ</span>" in html


def test_sync_runner_delivers_result_error_and_progress(qapp):
    runner = SyncTaskRunner()
    got: list = []
    runner.submit(lambda ctx: (ctx.progress("p"), 42)[1], on_result=got.append, on_progress=got.append)
    runner.submit(lambda ctx: (_ for _ in ()).throw(QueryError("bad")), on_error=got.append)
    assert got[:2] == ["p", 42] and isinstance(got[2], QueryError)


def test_thread_runner_cancel_is_cooperative(qtbot):
    runner = TaskRunner(max_threads=2)

    def job(ctx):  # noqa: ANN001
        while not ctx.cancel.cancelled:
            ctx.cancel._event.wait(0.01)
        return "stopped"
    task = runner.submit(job)
    with qtbot.waitSignal(task.finished, timeout=5000) as blocker:
        task.cancel()
    assert blocker.args == ["stopped"]
    assert runner.wait(5000)


def test_bridge_waits_for_a_late_engine_and_converts_images(qtbot):
    bridge = EngineBridge()
    runner = TaskRunner(max_threads=2)
    task = runner.submit(lambda ctx: bridge.search("S45C"))
    with qtbot.waitSignal(task.finished, timeout=5000) as blocker:
        bridge.attach(FakeEngine())
    assert len(blocker.args[0].hits) == 4
    image = bridge.render_page(1, 1)
    assert (image.width(), image.height()) == (840, 594)
    assert qimage_to_pil(pil_to_qimage(qimage_to_pil(image))).size == (840, 594)


def test_only_the_bridge_imports_the_engine_facade():
    offenders = []
    for path in DESKTOP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module else
                     [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            if any(n == "engine.api" or n.startswith("engine.api.") for n in names):
                offenders.append(path.name)
    assert set(offenders) == {"engine_bridge.py"}


def test_split_metrics_before_after():
    assert split_metrics({"mrr": 0.5}) == ({}, {"mrr": 0.5})
    assert split_metrics({"before": {"mrr": 0.4}, "after": {"mrr": 0.6}}) == ({"mrr": 0.4}, {"mrr": 0.6})


class ScriptedAdaptation(AdaptationWorker):
    def __init__(self, script: str) -> None:
        super().__init__(python=sys.executable)
        self.script = script

    def command(self, library, pairs, use_feedback):  # noqa: ANN001
        return ["-c", self.script]


def cli_adapt_output(report) -> list[str]:
    """What `zumen adapt --json` prints: JSON progress lines, then the report (engine/cli.py)."""
    import contextlib
    import io

    from engine.cli import JsonProgress, emit_json
    from engine.progress import Progress

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        bar = JsonProgress()
        for i in range(1, 4):
            bar(Progress("train", i, 3, "steps", message=f"loss {1 / i:.3f}"))
        emit_json(report)
    return out.getvalue().splitlines()


def test_adaptation_process_reads_what_the_cli_writes(qtbot):
    from engine.types import AdaptReport

    report = AdaptReport(pack_dir="/lib/packs/default-1.0.0_site.1", pack_id="default-1.0.0_site.1",
                         parent="default-1.0.0", passed_gate=True, refused_because="", path="text",
                         before={"map": 0.4, "queries": 9}, after={"map": 0.6, "queries": 9},
                         trained=("text", "image"), activated=True)
    script = "for line in %r: print(line, flush=True)" % (cli_adapt_output(report),)
    worker = ScriptedAdaptation(script)
    progress = []
    worker.progress.connect(progress.append)
    with qtbot.waitSignal(worker.finished, timeout=20000) as blocker:
        worker.start("/tmp/lib")
    assert [p.done for p in progress] == [1, 2, 3]
    assert blocker.args[0] == report


def test_adaptation_process_refuses_a_result_it_cannot_read(qtbot):
    """The old {"pack", "metrics"} line is not a report: say so instead of showing nothing."""
    stale = {"pack": "site-1.1.0", "metrics": {"before": {"mrr": 0.4}, "after": {"mrr": 0.6}}}
    worker = ScriptedAdaptation("import json\nprint(json.dumps(%r), flush=True)" % (stale,))
    with qtbot.waitSignal(worker.failed, timeout=20000) as blocker:
        worker.start("/tmp/lib")
    assert "unexpected result" in blocker.args[0]


def test_adaptation_process_cancel(qtbot):
    worker = ScriptedAdaptation("import time\nprint('{\"stage\": \"train\", \"done\": 0, \"total\": 9}', flush=True)\n"
                                "time.sleep(60)")
    with qtbot.waitSignal(worker.progress, timeout=20000):
        worker.start("/tmp/lib")
    with qtbot.waitSignal(worker.failed, timeout=20000) as blocker:
        worker.cancel()
    assert blocker.args == ["cancelled"]


def test_translation_file_is_valid_json():
    path = Path(__file__).resolve().parent.parent / "resources" / "translations" / "ja.json"
    assert isinstance(json.loads(path.read_text(encoding="utf-8")), dict)


def test_none_guard_survives_many_void_calls(qapp):
    """After 20000 void calls None still has its references: the binding does not leak them here,
    or the guard pinned None's count far above what the calls can take."""
    from PySide6.QtCore import QObject

    from desktop import compat
    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(20000):
        probe.setObjectName("x")
    after = sys.getrefcount(None)
    assert after >= before - 100 or (compat._pinned and after > compat.PIN // 2), (before, after)


def test_watchable_dirs_goes_two_levels_down_and_skips_hidden(tmp_path):
    from desktop.folder_watcher import watchable_dirs
    for sub in ("a/b/c/d", "e", ".git/x"):
        (tmp_path / sub).mkdir(parents=True)
    found = watchable_dirs([str(tmp_path)])
    assert {p.replace(str(tmp_path), "") for p in found} == {"", "/a", "/e", "/a/b"}
    assert len(watchable_dirs([str(tmp_path)], limit=2)) == 2


def test_score_bars_show_the_calibrated_match_only_where_there_is_one(qtbot):
    from desktop.views.result_list import ScoreBarsView
    from engine.types import Explanation, Hit, ScoreBreakdown, Snippet

    def hit(kind: str, confidence: float) -> Hit:
        return Hit(1, "/a.pdf", "a", kind, "pdf", 1, ScoreBreakdown(0.4, 0.3, 0.2, 0.5, confidence=confidence),
                   Snippet(""), Explanation())

    document = ScoreBarsView(hit("document", 0.8))
    qtbot.addWidget(document)
    assert list(document.labels()) == ["confidence", "lexical", "semantic", "visual"]
    drawing = ScoreBarsView(hit("drawing", 0.0))  # a similar drawing: no calibrated confidence
    qtbot.addWidget(drawing)
    assert list(drawing.labels()) == ["lexical", "semantic", "visual"]
    assert drawing.height() < document.height()


class ActivationRaisesTypeError(FakeEngine):
    """An engine whose activation fails inside with a TypeError (a bug, not a signature mismatch)."""

    def __init__(self) -> None:
        super().__init__()
        self.activations = 0

    def activate_pack(self, pack, *, progress=None, cancel=None):
        self.activations += 1
        raise TypeError("unsupported operand type(s) inside the activation")


def test_bridge_runs_an_activation_once_even_when_it_raises_type_error():
    engine = ActivationRaisesTypeError()
    bridge = EngineBridge(engine)
    with pytest.raises(TypeError, match="inside the activation"):
        bridge.activate_pack("site-1.1.0")
    assert engine.activations == 1  # no second run of a half-done activation


def test_bridge_passes_the_query_file_with_a_vote():
    engine = FakeEngine()
    bridge = EngineBridge(engine)
    hit = engine.search("S45C").hits[0]
    bridge.record_feedback("S45C", hit, 1, query_path="/q/drawing.pdf")
    assert engine.feedback_log[-1]["query_path"] == "/q/drawing.pdf"


def test_pairs_file_picker_offers_only_what_the_reader_reads(qtbot, tmp_path, monkeypatch):
    """Every file type the Model page's picker offers, written in its own format, is read by the
    engine's pairs reader (the picker used to offer JSONL, which the reader refuses)."""
    import fnmatch
    import re

    from PySide6.QtWidgets import QFileDialog

    from desktop.views.model_pane import ModelPane
    from engine.evaluate.pairs import read_pairs_csv

    offered = []
    monkeypatch.setattr(QFileDialog, "getOpenFileName",
                        staticmethod(lambda *args, **kw: (offered.append(args[3]), ("", ""))[1]))
    pane = ModelPane(EngineBridge(FakeEngine()), SyncTaskRunner())
    qtbot.addWidget(pane)
    pane.choose_pairs()
    patterns = re.findall(r"\*\.\w+", offered[0])
    assert patterns
    rows = [{"query": "drawing.pdf", "relevant": "spec.pdf"}]
    natural = {".csv": "query,relevant\ndrawing.pdf,spec.pdf\n",
               ".jsonl": "".join(json.dumps(r) + "\n" for r in rows), ".json": json.dumps(rows)}
    for pattern in patterns:
        suffix = pattern[1:]
        path = tmp_path / f"pairs{suffix}"
        assert fnmatch.fnmatch(path.name, pattern)
        path.write_text(natural[suffix], encoding="utf-8")
        assert [(j.query, j.relevant) for j in read_pairs_csv(path)] == [("drawing.pdf", "spec.pdf")]


def test_model_page_says_what_to_install_when_torch_is_missing(qtbot, monkeypatch):
    import importlib.util

    from desktop.views.model_pane import ModelPane

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "torch" else real_find_spec(name, *a))
    bridge = EngineBridge(FakeEngine())
    assert bridge.detect_adaptation() is False
    pane = ModelPane(bridge, SyncTaskRunner())
    qtbot.addWidget(pane)
    text = pane.unavailable.text()
    assert not pane.unavailable.isHidden() and "pip install torch==2.13.0" in text and "not available" not in text
    assert not pane.run_button.isEnabled()


def test_the_librarys_links_and_the_same_drawing_are_shown_as_reasons_in_both_languages():
    from desktop.views.formatting import link_reasons
    from desktop.views.result_list import hit_tooltip
    from engine.types import Explanation, Hit, ScoreBreakdown, Snippet

    named = Explanation(names_drawing="/lib/bom/../drawings/JXS-02-03.pdf")
    beside = Explanation(beside_drawing="/lib/STEP2/JXS-02-03.pdf")
    above = Explanation(beside_drawing="/lib/STEP2/JXS-02-03.pdf", folders_up=1)
    assert link_reasons(named) == ["Names the drawing JXS-02-03.pdf"]
    assert link_reasons(beside) == ["In the folder of the drawing JXS-02-03.pdf"]
    assert link_reasons(above) == ["In a folder above the drawing JXS-02-03.pdf"]
    assert link_reasons(Explanation()) == []
    same = Explanation(same_drawing_points=212)  # a similar drawing checked by its geometry
    assert link_reasons(same) == ["Same geometry as your drawing: 212 points line up"]
    hit = Hit(1, "/lib/bom/BOM.csv", "BOM", "document", "csv", 8, ScoreBreakdown(link_name=1.0),
              Snippet(""), named)
    assert "Names the drawing JXS-02-03.pdf" in hit_tooltip(hit)
    translator.set_language("ja")
    try:
        assert link_reasons(beside) == ["図面 JXS-02-03.pdf と同じフォルダー"]
        assert link_reasons(same) == ["図面と形状が一致：212 点が重なる"]
    finally:
        translator.set_language("en")


def test_the_engines_notes_have_a_japanese_translation():
    """The app shows the engine's "no match" sentences as translation keys."""
    from engine.search import query

    catalog = load_catalog("ja")
    notes = [getattr(query, n) for n in dir(query) if n.startswith("NO_") and isinstance(getattr(query, n), str)]
    assert len(notes) >= 3 and not [n for n in notes if n not in catalog]
