"""Shared pytest fixtures and options.

--update-goldens   rewrite golden files under tests/golden/ instead of comparing against them
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
GOLDEN_DIR = Path(__file__).resolve().parent / "golden"

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", default=False,
                     help="rewrite golden files instead of comparing")


@pytest.fixture
def golden(request: pytest.FixtureRequest):
    """golden(name, data): compare `data` (JSON-able) with tests/golden/<name>.json."""
    update = request.config.getoption("--update-goldens")

    def check(name: str, data: object) -> None:
        path = GOLDEN_DIR / f"{name}.json"
        text = json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
        if update or not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            if not update:
                pytest.fail(f"golden file {path} was missing and has been written; rerun")
            return
        assert json.loads(path.read_text(encoding="utf-8")) == json.loads(text), (
            f"output differs from {path}; rerun with --update-goldens if the change is intended")

    return check


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is absent")
    return SHARED_DATA
