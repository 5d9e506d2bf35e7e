"""Zumen's wheel carries its resources as package data (importlib.resources), so a normal,
non-editable install works away from the checkout."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def build_wheel(dest: Path) -> Path:
    """Zumen's wheel from a copy of the sources (building in place would write into the checkout)."""
    src = dest / "src"
    for name in ("engine", "desktop", "resources"):
        shutil.copytree(REPO / name, src / name, symlinks=True,
                        ignore=lambda folder, names: [n for n in names if n == "__pycache__" or
                                                      (n == "default" and folder.endswith("models"))])
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, src / name)
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(dest / "dist"), str(src)], check=True)
    (wheel,) = (dest / "dist").glob("zumen-*.whl")
    return wheel


def _tracked(folder: str) -> set[str]:
    out = subprocess.run(["git", "ls-files", folder], cwd=REPO, capture_output=True, text=True)
    if out.returncode != 0 or not out.stdout:
        pytest.skip("not a git checkout")
    return set(out.stdout.split())


def test_wheel_ships_resources_as_package_data(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        metadata = zf.read(f"{wheel.name.split('-')[0]}-{wheel.name.split('-')[1]}.dist-info/METADATA").decode()
    shipped = {n.replace("zumen_resources/", "resources/", 1) for n in names if n.startswith("zumen_resources/")}
    expected = {f for f in _tracked("resources") if not f.endswith(".py")}
    assert expected <= shipped, f"not in the wheel: {sorted(expected - shipped)[:5]}"
    assert not any("models/default" in n for n in names)  # the pack ships beside the wheel
    assert "License-Expression: AGPL-3.0-or-later" in metadata
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    # Installed (not editable) and run from elsewhere: resources come from the package
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                    "--target", str(target), str(wheel)], check=True)
    code = ("import json, engine.config as c, desktop.i18n as i; print(json.dumps([str(c.RESOURCES), "
            "c.SAMPLE_LIBRARY.joinpath('queries.json').is_file(), str(i.TRANSLATIONS_DIR), "
            "len(i.load_catalog('ja'))]))")
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                         env=dict(os.environ, PYTHONPATH=str(target)), check=True).stdout
    resources, has_queries, translations, n_ja = json.loads(out)
    assert resources == str(target / "zumen_resources")
    assert has_queries and translations.startswith(resources) and n_ja > 10


def test_resources_folder_when_the_loader_gives_no_plain_path(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A PyInstaller build's loader answers files() with a MultiplexedPath: still a folder."""
    from importlib.readers import MultiplexedPath

    from engine import config

    package = tmp_path / "zumen_resources"
    package.mkdir()
    (package / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "zumen_resources", raising=False)
    monkeypatch.setattr(config.importlib_resources, "files", lambda name: MultiplexedPath(str(package)))
    assert config.resources_dir() == package
