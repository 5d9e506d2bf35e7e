"""The code passes ruff with the rules configured in pyproject.toml ([tool.ruff])."""

from __future__ import annotations

import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing():
    try:
        from ruff.__main__ import find_ruff_bin
    except ImportError:  # the dev extra installs it (installer/setup.sh)
        raise AssertionError("ruff is missing: pip install -e '.[dev]'") from None
    done = subprocess.run([find_ruff_bin(), "check", "--no-cache", "--output-format", "concise", str(REPO)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_ruff_config_is_the_one_in_pyproject(tmp_path):
    """The rule set is really applied: a file with an unused import fails the same check."""
    from ruff.__main__ import find_ruff_bin

    bad = tmp_path / "bad.py"
    bad.write_text("import os\n", encoding="utf-8")
    done = subprocess.run([find_ruff_bin(), "check", "--no-cache", "--config", str(REPO / "pyproject.toml"),
                           str(bad)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and "F401" in done.stdout, done.stdout
