"""Model (admin): the active pack and its evaluation, pack versions, and the adaptation wizard."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from PySide6.QtWidgets import (QButtonGroup, QFileDialog, QGroupBox, QHBoxLayout, QLabel,
                               QListWidget, QListWidgetItem, QProgressBar, QPushButton,
                               QRadioButton, QVBoxLayout, QWidget)
from PySide6.QtCore import Qt, Signal

from desktop.adapt_worker import AdaptationWorker
from desktop.engine_bridge import ADAPT_NEEDS_TORCH, PAIRS_FILE_FILTER, EngineBridge
from desktop.i18n import N_, tr
from desktop.views.metrics_chart import MetricsChartView, split_metrics
from desktop.workers import TaskRunner
from engine.progress import Progress
from engine.types import AdaptReport, LibraryStatus, PackInfo

ADAPT_STAGES = {"prepare": N_("Reading the pairs"), "train-text": N_("Teaching the text model"),
                "train": N_("Teaching the picture model"), "export": N_("Saving the new version"),
                "embed": N_("Understanding content"), "save": N_("Saving the index")}


class ModelPane(QWidget):
    packs_loaded = Signal(list)

    def __init__(self, bridge: EngineBridge, runner: TaskRunner, repo_root: Optional[str] = None) -> None:
        super().__init__()
        self._bridge, self._runner, self._repo_root = bridge, runner, repo_root
        self._packs: list[PackInfo] = []
        self._active: Optional[PackInfo] = None
        self._library = ""
        self._pairs: Optional[Path] = None
        self._votes = 0
        self.worker = AdaptationWorker()

        self.active_box, self.packs_box, self.wizard_box = QGroupBox(), QGroupBox(), QGroupBox()
        self.active_label = QLabel()
        self.active_label.setWordWrap(True)
        self.chart = MetricsChartView()
        active_layout = QVBoxLayout(self.active_box)
        active_layout.addWidget(self.active_label)
        active_layout.addWidget(self.chart, 1)

        self.pack_list = QListWidget()
        self.activate_button, self.rollback_button = QPushButton(), QPushButton()
        pack_buttons = QHBoxLayout()
        pack_buttons.addWidget(self.activate_button)
        pack_buttons.addWidget(self.rollback_button)
        pack_buttons.addStretch(1)
        packs_layout = QVBoxLayout(self.packs_box)
        packs_layout.addWidget(self.pack_list)
        packs_layout.addLayout(pack_buttons)

        self.unavailable = QLabel()
        self.unavailable.setWordWrap(True)
        self.pairs_radio, self.feedback_radio = QRadioButton(), QRadioButton()
        self.pairs_radio.setChecked(True)
        group = QButtonGroup(self)
        group.addButton(self.pairs_radio)
        group.addButton(self.feedback_radio)
        self.pairs_button, self.run_button, self.cancel_button = QPushButton(), QPushButton(), QPushButton()
        self.run_button.setObjectName("PrimaryButton")
        self.cancel_button.setEnabled(False)
        self.progress_bar = QProgressBar()
        self.progress_label = QLabel()
        self.progress_label.setWordWrap(True)
        source_row = QHBoxLayout()
        for widget in (self.pairs_radio, self.pairs_button, self.feedback_radio):
            source_row.addWidget(widget)
        source_row.addStretch(1)
        run_row = QHBoxLayout()
        run_row.addWidget(self.run_button)
        run_row.addWidget(self.progress_bar, 1)
        run_row.addWidget(self.cancel_button)
        wizard_layout = QVBoxLayout(self.wizard_box)
        wizard_layout.addWidget(self.unavailable)
        wizard_layout.addLayout(source_row)
        wizard_layout.addLayout(run_row)
        wizard_layout.addWidget(self.progress_label)

        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        top.addWidget(self.active_box, 3)
        top.addWidget(self.packs_box, 2)
        layout.addLayout(top, 1)
        layout.addWidget(self.wizard_box)

        self.activate_button.clicked.connect(self.activate_selected)
        self.rollback_button.clicked.connect(self.rollback)
        self.pairs_button.clicked.connect(self.choose_pairs)
        self.run_button.clicked.connect(self.run_adaptation)
        self.cancel_button.clicked.connect(self.worker.cancel)
        self.worker.progress.connect(self._adapt_progress)
        self.worker.finished.connect(self._adapt_done)
        self.worker.failed.connect(self._adapt_failed)
        self.retranslate()

    def retranslate(self) -> None:
        self.active_box.setTitle(tr("Active model"))
        self.packs_box.setTitle(tr("Model versions"))
        self.wizard_box.setTitle(tr("Teach the search your drawings (adaptation)"))
        self.activate_button.setText(tr("Activate selected"))
        self.rollback_button.setText(tr("Roll back"))
        self.pairs_radio.setText(tr("Pairs file (drawing, document)"))
        self.pairs_button.setText(self._pairs.name if self._pairs else tr("Choose file…"))
        self.feedback_radio.setText(tr("Collected thumbs-up / down ({n})", n=self._votes))
        self.run_button.setText(tr("Start adaptation"))
        self.cancel_button.setText(tr("Cancel"))
        self._update_available()
        self._show_active()

    # loading ----------------------------------------------------------------------------------
    def refresh(self) -> None:
        self._runner.submit(lambda ctx: (self._bridge.packs(), len(self._bridge.feedback())),
                            on_result=lambda r: self._show_packs(*r), name="packs")

    def set_status(self, status: LibraryStatus) -> None:
        self._library = status.library
        self._active = status.pack
        self._show_active()

    def _show_packs(self, packs: list[PackInfo], votes: int = 0) -> None:
        self._packs = packs
        self._votes = votes
        self.feedback_radio.setText(tr("Collected thumbs-up / down ({n})", n=votes))
        self.pack_list.clear()
        for pack in packs:
            item = QListWidgetItem(f"{pack.name} {pack.version}   {pack.created[:10]}")
            item.setData(Qt.ItemDataRole.UserRole, pack)
            self.pack_list.addItem(item)
        if self._active is None and packs:
            self._active = packs[0]
        self._show_active()
        self._update_available()
        self.packs_loaded.emit(packs)

    def _show_active(self) -> None:
        pack = self._active
        if pack is None:
            self.active_label.setText(tr("No model loaded."))
            self.chart.set_metrics(None, {})
            return
        tower = tr("text and image") if pack.has_image_tower else tr("text only")
        self.active_label.setText(tr("{name} {version} · {tower} · created {created}", name=pack.name,
                                     version=pack.version, tower=tower, created=pack.created[:10] or "–"))
        before, after = split_metrics(pack.metrics)
        self.chart.set_metrics(before, after)

    def _update_available(self) -> None:
        available = self._bridge.can_adapt()
        if self._bridge.adaptation_missing() == ADAPT_NEEDS_TORCH:
            self.unavailable.setText(tr("Adaptation needs the training extra, which is not installed here. "
                                        "Install it with: pip install torch==2.13.0 and pip install "
                                        "'zumen[train]' (installer/setup.sh does both), then restart."))
        else:
            self.unavailable.setText(tr("Adaptation runs only on a library opened by this app (not in the "
                                        "demo). The chart above shows the active model's evaluation."))
        self.unavailable.setVisible(not available)
        for widget in (self.pairs_radio, self.pairs_button, self.feedback_radio, self.run_button):
            widget.setEnabled(available and not self.worker.is_running())

    # packs ------------------------------------------------------------------------------------
    def activate_selected(self) -> None:
        item = self.pack_list.currentItem()
        if item is None:
            return
        pack: PackInfo = item.data(Qt.ItemDataRole.UserRole)
        pack_id = pack.pack_id
        self.progress_label.setText(tr("Switching model: the library is embedded again…"))
        self._runner.submit(lambda ctx: self._bridge.activate_pack(pack_id, ctx.progress, ctx.cancel),
                            on_result=lambda _: self._changed(pack), on_progress=self._adapt_progress,
                            on_error=lambda e: self.progress_label.setText(str(e)), name="activate")

    def rollback(self) -> None:
        self.progress_label.setText(tr("Switching model: the library is embedded again…"))
        self._runner.submit(lambda ctx: self._bridge.rollback_pack(ctx.progress), on_result=lambda _: self._changed(None),
                            on_progress=self._adapt_progress,
                            on_error=lambda e: self.progress_label.setText(str(e)), name="rollback")

    def _changed(self, pack: Optional[PackInfo]) -> None:
        if pack is not None:
            self._active = pack
        self.progress_label.setText(tr("Model changed. Searches use it from now on."))
        self.refresh()

    # adaptation -------------------------------------------------------------------------------
    def choose_pairs(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, tr("Choose a pairs file"), "", PAIRS_FILE_FILTER)
        if path:
            self._pairs = Path(path)
            self.pairs_button.setText(self._pairs.name)

    def run_adaptation(self) -> None:
        use_feedback = self.feedback_radio.isChecked()
        if not use_feedback and self._pairs is None:
            self.progress_label.setText(tr("Choose a pairs file first."))
            return
        self.worker.start(self._library, None if use_feedback else self._pairs, use_feedback, cwd=self._repo_root)
        self.cancel_button.setEnabled(True)
        self.progress_bar.setRange(0, 0)
        self.progress_label.setText(tr("Adapting the model… the window stays usable."))
        self._update_available()

    def _adapt_progress(self, progress: Progress) -> None:
        if progress.total:
            self.progress_bar.setRange(0, progress.total)
            self.progress_bar.setValue(progress.done)
        self.progress_label.setText(f"{tr(ADAPT_STAGES.get(progress.stage, progress.stage))} "
                                    f"{progress.done}/{progress.total or '?'} {progress.message}")

    def _adapt_done(self, result: AdaptReport) -> None:
        self.cancel_button.setEnabled(False)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(1)
        self.chart.set_metrics(result.before, result.after)
        pack = result.pack_id
        scores = dict(before=result.before.get("map", 0.0), after=result.after.get("map", 0.0))
        if result.activated:
            text = tr("Adaptation finished: version {pack} is now in use (held-out mAP {before:.2f} → {after:.2f}).",
                      pack=pack, **scores)
        elif scores["after"] > scores["before"]:  # refused by the keyword guard (engine.learn.gate.refusal)
            text = tr("Adaptation finished: version {pack} improved drawing searches (held-out mAP "
                      "{before:.2f} → {after:.2f}) but ranked your keyword queries worse, so it was not "
                      "activated.", pack=pack, **scores)
        else:
            text = tr("Adaptation finished: version {pack} did not beat the current model (held-out mAP "
                      "{before:.2f} → {after:.2f}), so it was not activated.", pack=pack, **scores)
        self.progress_label.setText(text)
        self._update_available()
        self.refresh()

    def _adapt_failed(self, message: str) -> None:
        self.cancel_button.setEnabled(False)
        self.progress_bar.setRange(0, 1)
        self.progress_bar.setValue(0)
        self.progress_label.setText(tr("Adaptation stopped: {reason}", reason=message))
        self._update_available()
