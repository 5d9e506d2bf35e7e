"""Every desktop setting, declared once with its default, stored in QSettings.

Keys are stable strings: never rename one (users' settings must survive upgrades). To retire a
setting, leave its key out of SETTINGS; stored values of unknown keys are left untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QSettings, Signal

from desktop.i18n import N_

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class Setting:
    key: str
    default: Any
    label: str  # English label; translated with tr() where shown
    shown: bool = True  # False: kept by the app itself (window geometry), not on the Settings page


SETTINGS: tuple[Setting, ...] = (
    Setting("library/path", "", N_("Library location")),          # "" -> the per-user default library
    Setting("library/watch", True, N_("Watch folders for changes")),
    Setting("library/poll_minutes", 10, N_("Check network folders every (minutes)")),
    Setting("engine/threads", 0, N_("Worker threads")),          # 0 -> automatic
    Setting("engine/ocr_languages", "jpn+eng", N_("OCR languages")),
    Setting("model/pack", "", N_("Model pack")),                  # "" -> the library's active pack
    Setting("ui/language", "", N_("Language")),                   # "" -> from the system locale
    Setting("ui/font_pt", 14, N_("Font size")),
    Setting("ui/touch_mode", False, N_("Large touch targets")),
    Setting("ui/window_geometry", "", "window geometry", shown=False),  # base64 of saveGeometry()
    Setting("ui/result_view", "detailed", "results shown as", shown=False),  # detailed|compact|grid
    Setting("ui/pins", "", "pinned results", shown=False),  # JSON list of {path, page, title, ...}
)
_BY_KEY = {s.key: s for s in SETTINGS}


def _coerce(value: Any, default: Any) -> Any:
    """QSettings returns strings from INI files and the registry; bring them back to the default's type."""
    if value is None:
        return default
    if isinstance(default, bool):
        if isinstance(value, str):
            return value.strip().lower() in ("1", "true", "yes", "on")
        return bool(value)
    if isinstance(default, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            return default
    return str(value)


class AppSettings(QObject):
    """Typed access to the declared settings; emits `changed(key, value)` on every write."""

    changed = Signal(str, object)

    def __init__(self, store: QSettings | None = None, path: Path | None = None) -> None:
        super().__init__()
        if store is None:
            store = (QSettings(str(path), QSettings.Format.IniFormat) if path is not None
                     else QSettings("Zumen", "Zumen Desktop"))
        self._store = store
        if _coerce(self._store.value("meta/schema"), 0) < SCHEMA_VERSION:
            self._store.setValue("meta/schema", SCHEMA_VERSION)

    def get(self, key: str) -> Any:
        setting = _BY_KEY[key]
        return _coerce(self._store.value(key), setting.default)

    def set(self, key: str, value: Any) -> None:
        setting = _BY_KEY[key]
        value = _coerce(value, setting.default)
        if value == self.get(key) and self._store.contains(key):
            return
        self._store.setValue(key, value)
        self._store.sync()
        self.changed.emit(key, value)

    def reset(self, key: str) -> None:
        self.set(key, _BY_KEY[key].default)

    def file_name(self) -> str:
        return self._store.fileName()
