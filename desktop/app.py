"""Entry point: `zumen-desktop [--library PATH | --sample] [--lang ja|en]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from PySide6.QtWidgets import QApplication

from desktop.compat import guard_none_refcount
from desktop.engine_bridge import EngineBridge
from desktop.errors import explain
from desktop.i18n import tr, translator
from desktop.main_window import MainWindow
from desktop.settings import AppSettings
from desktop.style import apply_appearance
from desktop.workers import TaskRunner
from engine.config import SAMPLE_LIBRARY, default_library_path
from engine.logs import configure_logging

REPO_ROOT = Path(__file__).resolve().parent.parent


def sample_library_path() -> Path:
    """Where `--sample` keeps its library: next to the per-user default library."""
    return default_library_path().parent / "sample-library"


def parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="zumen-desktop", description="Zumen drawing and document search")
    parser.add_argument("--library", type=Path, help="library folder (default: settings, then per-user)")
    parser.add_argument("--sample", action="store_true",
                        help="open the bundled sample library (indexed on first start)")
    parser.add_argument("--lang", choices=("ja", "en"), help="UI language for this run")
    parser.add_argument("--fake", action="store_true", help="demo mode on a fake engine (no library)")
    return parser.parse_args(argv)


def build_window(args: argparse.Namespace, app: QApplication, settings: AppSettings,
                 runner: TaskRunner) -> MainWindow:
    translator.set_language(args.lang or settings.get("ui/language"))
    apply_appearance(app, settings.get("ui/font_pt"), settings.get("ui/touch_mode"))
    bridge = EngineBridge()
    window = MainWindow(bridge, runner, settings, repo_root=str(REPO_ROOT))
    if args.fake:
        from desktop.testing import FakeEngine
        bridge.attach(FakeEngine())
        return window
    library = args.library or (sample_library_path() if args.sample else None)
    if library is None and settings.get("library/path"):
        library = Path(settings.get("library/path"))
    pack_id = settings.get("model/pack")
    threads = settings.get("engine/threads")

    def open_job(ctx) -> None:  # noqa: ANN001
        bridge.open_engine(library, threads=threads)
        bridge.detect_adaptation()
        if args.sample and str(SAMPLE_LIBRARY) not in bridge.folders():
            bridge.add_folder(SAMPLE_LIBRARY)
        active = bridge.status().pack
        if pack_id and (active is None or pack_id != f"{active.name}-{active.version}"):
            try:
                bridge.activate_pack(pack_id)  # re-embeds the library: only when it differs
            except Exception:  # noqa: BLE001 - a stale setting must not stop the app
                pass
    window.index_if_empty = args.sample
    runner.submit(open_job, on_result=lambda _: (window.start(), runner.submit(
                      lambda ctx: bridge.warm_up(), name="warm-up", priority=-10)),
                  on_error=lambda err: window.statusBar().showMessage(
                      tr("Cannot open the library: {error}", error=explain(err).text)),
                  name="open")
    return window


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv if argv is not None else sys.argv[1:])
    configure_logging()
    app = QApplication.instance() or QApplication(sys.argv[:1])
    guard_none_refcount()
    app.setApplicationName("Zumen")
    app.setOrganizationName("Zumen")
    settings = AppSettings()
    runner = TaskRunner(max_threads=4)
    window = build_window(args, app, settings, runner)
    window.show()
    if args.fake:
        window.start()
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
