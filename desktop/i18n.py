"""UI translation: English source strings, Japanese from resources/translations/ja.json.

Reviewable on purpose: ja.json is a flat {"English source": "日本語"} dictionary. Every literal
passed to `tr()` or `N_()` in desktop/ must have an entry (tests/test_desktop_i18n.py checks it).
Switching language at run time emits `language_changed`; each pane re-reads its texts in
`retranslate()`.
"""

from __future__ import annotations

import json

from PySide6.QtCore import QLocale, QObject, Signal

from engine.config import RESOURCES

TRANSLATIONS_DIR = RESOURCES / "translations"
LANGUAGES: dict[str, str] = {"ja": "日本語", "en": "English"}


def load_catalog(lang: str) -> dict[str, str]:
    path = TRANSLATIONS_DIR / f"{lang}.json"
    if lang == "en" or not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def system_language() -> str:
    return "ja" if QLocale.system().language() == QLocale.Language.Japanese else "en"


class Translator(QObject):
    language_changed = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.language = "en"
        self._catalog: dict[str, str] = {}

    def set_language(self, lang: str) -> None:
        lang = lang if lang in LANGUAGES else system_language()
        if lang == self.language:
            return
        self.language = lang
        self._catalog = load_catalog(lang)
        self.language_changed.emit(lang)

    def translate(self, text: str) -> str:
        return self._catalog.get(text, text)


translator = Translator()


def N_(text: str) -> str:
    """Mark a literal for translation where it is declared; translate it with tr() where shown."""
    return text


def tr(text: str, **fields: object) -> str:
    """Translate an English UI string, then fill `{name}` fields."""
    out = translator.translate(text)
    return out.format(**fields) if fields else out
