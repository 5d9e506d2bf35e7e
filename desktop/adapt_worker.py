"""Model adaptation in a separate process (`python -m engine.cli adapt … --json`).

Training is heavy (torch); running it in its own process keeps the window responsive and lets
Cancel stop it for sure. Protocol of `zumen adapt --json` (engine/cli.py): one JSON object per
stdout line; progress lines are engine.progress.Progress fields ({"stage": "train", "done": 3,
"total": 10, ...}) and the last line is the engine.types.AdaptReport, read back with
AdaptReport.from_json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

from PySide6.QtCore import QObject, QProcess, QTimer, Signal

from engine.progress import Progress
from engine.types import AdaptReport

PROGRESS_FIELDS = ("stage", "done", "total", "unit", "message", "rate", "eta_s")


class AdaptationWorker(QObject):
    progress = Signal(object)  # Progress
    finished = Signal(object)  # AdaptReport
    failed = Signal(str)

    def __init__(self, python: str = sys.executable) -> None:
        super().__init__()
        self._python = python
        self._process: Optional[QProcess] = None
        self._buffer = b""
        self._result: Optional[dict] = None
        self._cancelled = False
        self._finished_process: Optional[QProcess] = None

    def command(self, library: str, pairs: Optional[Path], use_feedback: bool) -> list[str]:
        args = ["-m", "engine.cli", "adapt", "--library", library, "--json"]
        if pairs is not None:
            args += ["--pairs", str(pairs)]
        if use_feedback:
            args.append("--feedback")
        return args

    def start(self, library: str, pairs: Optional[Path] = None, use_feedback: bool = False,
              cwd: Optional[str] = None) -> None:
        self._buffer, self._result, self._cancelled = b"", None, False
        process = QProcess(self)
        if cwd:
            process.setWorkingDirectory(cwd)
        process.readyReadStandardOutput.connect(self._read)
        process.finished.connect(self._done)
        process.errorOccurred.connect(lambda _err: self._process and self._process.state() ==
                                      QProcess.ProcessState.NotRunning and self._done(-1, None))
        self._process = process
        process.start(self._python, self.command(library, pairs, use_feedback))

    def is_running(self) -> bool:
        return self._process is not None and self._process.state() != QProcess.ProcessState.NotRunning

    def cancel(self) -> None:
        if self.is_running():
            self._cancelled = True
            self._process.terminate()
            QTimer.singleShot(5000, lambda: self.is_running() and self._process.kill())

    def _read(self) -> None:
        self._buffer += bytes(self._process.readAllStandardOutput())
        *lines, self._buffer = self._buffer.split(b"\n")
        for line in lines:
            self._line(line)

    def _line(self, line: bytes) -> None:
        try:
            obj = json.loads(line.decode("utf-8", "replace"))
        except ValueError:
            return
        if isinstance(obj, dict) and "stage" in obj and "done" in obj:
            self.progress.emit(Progress(**{k: obj.get(k) for k in PROGRESS_FIELDS if k in obj}))
        elif isinstance(obj, dict):
            self._result = obj

    def _done(self, code: int, _status: object) -> None:
        if self._process is None:
            return
        self._read()
        if self._buffer.strip():
            self._line(self._buffer)
        process, self._process = self._process, None
        if self._cancelled:
            self.failed.emit("cancelled")
        elif code == 0 and self._result is not None:
            try:
                report = AdaptReport.from_json(self._result)
            except TypeError as exc:  # not the report this version of the CLI writes
                self.failed.emit(f"unexpected result from the adaptation process ({exc})")
            else:
                self.finished.emit(report)
        else:
            err = bytes(process.readAllStandardError()).decode("utf-8", "replace").strip()
            self.failed.emit(err.splitlines()[-1] if err else f"exit code {code}")
        self._finished_process = process  # freed with the worker (deleteLater here double-frees)
