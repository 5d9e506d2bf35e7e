"""Settings form: every field writes straight to AppSettings; UI settings apply at once."""

from __future__ import annotations

from PySide6.QtWidgets import (QCheckBox, QComboBox, QFileDialog, QFormLayout, QGroupBox,
                               QHBoxLayout, QLabel, QLineEdit, QPushButton, QSpinBox, QVBoxLayout,
                               QWidget)

from desktop.i18n import LANGUAGES, tr
from desktop.settings import SETTINGS, AppSettings
from engine.types import PackInfo

SHOWN = tuple(s for s in SETTINGS if s.shown)

RESTART_KEYS = {"library/path", "engine/threads", "engine/ocr_languages", "model/pack"}
OCR_CHOICES = ("jpn+eng", "jpn", "eng")


class SettingsPane(QWidget):
    def __init__(self, settings: AppSettings) -> None:
        super().__init__()
        self._settings = settings
        self.library = QLineEdit(settings.get("library/path"))
        self.library_browse = QPushButton()
        self.threads = QSpinBox(minimum=0, maximum=64, value=settings.get("engine/threads"))
        self.ocr = QComboBox(editable=True)
        self.ocr.addItems(OCR_CHOICES)
        self.ocr.setCurrentText(settings.get("engine/ocr_languages"))
        self.pack = QComboBox()
        self.language = QComboBox()
        self.font_size = QSpinBox(minimum=10, maximum=32, value=settings.get("ui/font_pt"))
        self.touch = QCheckBox()
        self.touch.setChecked(settings.get("ui/touch_mode"))
        self.watch = QCheckBox()
        self.watch.setChecked(settings.get("library/watch"))
        self.poll = QSpinBox(minimum=0, maximum=1440, value=settings.get("library/poll_minutes"))
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setObjectName("Hint")
        self.file_label = QLabel()
        self.file_label.setObjectName("Hint")
        self.file_label.setWordWrap(True)

        library_row = QHBoxLayout()
        library_row.addWidget(self.library, 1)
        library_row.addWidget(self.library_browse)
        self.form_box = QGroupBox()
        self.form = QFormLayout(self.form_box)
        self.fields = {"library/path": library_row, "engine/threads": self.threads,
                       "engine/ocr_languages": self.ocr, "model/pack": self.pack, "ui/language": self.language,
                       "ui/font_pt": self.font_size, "ui/touch_mode": self.touch, "library/watch": self.watch,
                       "library/poll_minutes": self.poll}
        for widget in (self.threads, self.poll, self.font_size):
            widget.setMaximumWidth(240)  # room for the value between touch mode's side arrows
        for widget in (self.ocr, self.pack, self.language):
            widget.setMaximumWidth(420)
        for setting in SHOWN:
            self.form.addRow(QLabel(), self.fields[setting.key])
        layout = QVBoxLayout(self)
        layout.addWidget(self.form_box)
        layout.addWidget(self.note)
        layout.addWidget(self.file_label)
        layout.addStretch(1)
        self._packs: list[PackInfo] = []

        self.library.editingFinished.connect(lambda: settings.set("library/path", self.library.text().strip()))
        self.library_browse.clicked.connect(self._browse)
        self.threads.valueChanged.connect(lambda v: settings.set("engine/threads", v))
        self.ocr.currentTextChanged.connect(lambda v: settings.set("engine/ocr_languages", v))
        self.pack.activated.connect(lambda i: settings.set("model/pack", self.pack.itemData(i) or ""))
        self.language.activated.connect(lambda i: settings.set("ui/language", self.language.itemData(i) or ""))
        self.font_size.valueChanged.connect(lambda v: settings.set("ui/font_pt", v))
        self.touch.toggled.connect(lambda v: settings.set("ui/touch_mode", v))
        self.watch.toggled.connect(lambda v: settings.set("library/watch", v))
        self.poll.valueChanged.connect(lambda v: settings.set("library/poll_minutes", v))
        self.retranslate()

    def retranslate(self) -> None:
        self.form_box.setTitle(tr("Settings"))
        for row, setting in enumerate(SHOWN):
            label = self.form.itemAt(row, QFormLayout.ItemRole.LabelRole).widget()
            mark = " *" if setting.key in RESTART_KEYS else ""
            label.setText(tr(setting.label) + mark)
        self.library.setPlaceholderText(tr("Default: your personal library"))
        self.library_browse.setText(tr("Browse…"))
        self.threads.setSpecialValueText(tr("Automatic"))
        self.poll.setSpecialValueText(tr("Off"))
        self.touch.setText(tr("Bigger buttons and rows for touch screens"))
        self.watch.setText(tr("Update the index when files change"))
        self.note.setText(tr("* takes effect the next time Zumen starts."))
        self.file_label.setText(tr("Settings are stored in {path}", path=self._settings.file_name()))
        self.language.clear()
        self.language.addItem(tr("Same as the system"), "")
        for code, name in LANGUAGES.items():
            self.language.addItem(name, code)
        self.language.setCurrentIndex(max(0, self.language.findData(self._settings.get("ui/language"))))
        self.set_packs(self._packs)

    def set_packs(self, packs: list[PackInfo]) -> None:
        self._packs = list(packs)
        self.pack.clear()
        self.pack.addItem(tr("The library's active model"), "")
        for pack in self._packs:
            self.pack.addItem(f"{pack.name} {pack.version}", f"{pack.name}-{pack.version}")
        self.pack.setCurrentIndex(max(0, self.pack.findData(self._settings.get("model/pack"))))

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, tr("Choose the library folder"))
        if folder:
            self.library.setText(folder)
            self._settings.set("library/path", folder)
