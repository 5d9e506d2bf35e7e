"""Every reason the engine can give reaches a user translated, with what to do next (issue #9.6)."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

pytest.importorskip("PySide6")

from desktop.errors import REASONS, explain, explain_reason  # noqa: E402
from desktop.i18n import translator  # noqa: E402
from engine.config import EngineSettings  # noqa: E402
from engine.errors import ExtractionError, LibraryError, QueryError  # noqa: E402
from engine.extract import extract_document  # noqa: E402

ENGINE = Path(__file__).resolve().parent.parent / "engine"
USER_FACING = {"ExtractionError": 1, "UnsupportedFileError": 1, "QueryError": 0, "LibraryError": 0}


def _sample(node: ast.AST) -> str | None:
    """The message an expression builds, with every formatted value as "1"; None when the
    expression is not text built here (e.g. another function's result)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else "1" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _sample(node.left), _sample(node.right)
        return None if left is None or right is None else left + right
    return None


def engine_reasons() -> list[tuple[str, str]]:
    """(where, message) of every user-facing error the engine raises, read from its source."""
    found = []
    for path in sorted(ENGINE.rglob("*.py")):
        if "learn" in path.parts:  # admin tooling: the CLI's messages, never shown by the desktop
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef) and node.name.startswith("_why"):  # reason builders
                found += [(f"{path.relative_to(ENGINE.parent)}:{ret.lineno}", text)
                          for ret in ast.walk(node) if isinstance(ret, ast.Return)
                          and ret.value is not None and (text := _sample(ret.value))]
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) in USER_FACING:
                index = USER_FACING[node.func.id]
                if len(node.args) > index and (text := _sample(node.args[index])):
                    found.append((f"{path.relative_to(ENGINE.parent)}:{node.lineno}", text))
    return found


def test_the_source_scan_finds_the_engine_reasons():
    reasons = dict((text, where) for where, text in engine_reasons())
    assert len(reasons) >= 20
    assert "the file is empty (0 bytes)" in reasons


def test_every_engine_reason_has_a_translated_explanation():
    unknown = [(where, text) for where, text in engine_reasons() if not explain_reason(text).known]
    assert not unknown, f"add an entry to desktop/errors.py REASONS for: {unknown}"


def test_each_explanation_has_a_japanese_sentence_saying_what_to_do():
    translator.set_language("ja")
    try:
        for _, text in REASONS:
            shown = explain_reason(text).text
            assert shown and not shown.isascii(), f"untranslated: {text}"
    finally:
        translator.set_language("en")
    for _, text in REASONS:  # English: a sentence, and (almost always) the next step
        assert text.endswith((".", ")")) and text[0].isupper()


@pytest.mark.parametrize("content, expect", [
    (os.urandom(4096), "not a PDF"),
    (b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog", "incomplete"),
])
def test_a_broken_pdf_gives_a_translated_reason_without_the_librarys_words(tmp_path, content, expect):
    path = tmp_path / "drawing.pdf"
    path.write_bytes(content)
    with pytest.raises(ExtractionError) as caught:
        extract_document(path, EngineSettings(), None)
    err = caught.value
    shown = explain(err)
    assert shown.known and expect in shown.text and shown.text.startswith("drawing.pdf: ")
    assert shown.detail == str(err)
    raw = err.reason.split("(", 1)[-1] if "(" in err.reason else ""
    assert not raw or raw[:20] not in shown.text  # MuPDF's own message stays in the detail
    translator.set_language("ja")
    try:
        assert not explain(err).text.removeprefix("drawing.pdf: ").isascii()
    finally:
        translator.set_language("en")


def test_query_and_library_errors_are_explained():
    assert "Type a part number" in explain(QueryError("the search text is empty")).text
    busy = LibraryError("another Zumen process is indexing or adapting this library (/x); try again")
    assert "Try again" in explain(busy).text
    assert not explain(RuntimeError("boom")).known
