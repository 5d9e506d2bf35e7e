"""The offline installer: a bundle made by installer/build installs with no network, upgrades
N -> N+1 keeping libraries, settings and adapted packs, refuses a tampered bundle, and
uninstalls keeping libraries.

The bundles here are built with --no-deps and a tiny model pack, so they take seconds: the test
environment's own packages stand in for the dependency wheels (a .pth file in the new
environment). The full bundle (every dependency wheel, the real pack) is built and installed by
hand with installer/check_bundle.sh; its measured size and times are in docs/installer.md.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("onnx")  # the tiny pack is built with onnx

from tests.tiny_pack import build_tiny_pack  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.skipif(sys.platform != "linux" or shutil.which("sha256sum") is None,
                                reason="install.sh is for Linux with GNU coreutils")


def _builder():
    spec = importlib.util.spec_from_file_location("build_bundle", REPO / "installer" / "build_bundle.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --------------------------------------------------------------------------- installing a bundle
def _offline_prefix() -> list[str]:
    """How to run a command with no network: a new network namespace (only loopback, down)."""
    if shutil.which("unshare") and subprocess.run(["unshare", "-n", "true"]).returncode == 0:
        return ["unshare", "-n"]
    pytest.skip("cannot make a network namespace here (unshare -n)")


def _deps_path(tmp: Path) -> Path:
    """This environment's packages minus Zumen itself, for a .pth file in the installed venv."""
    deps = tmp / "deps"
    deps.mkdir()
    for sp in site.getsitepackages():
        for entry in Path(sp).iterdir():
            n = entry.name
            if (n.startswith(("__editable__", "zumen", "pip", "setuptools", "_distutils_hack", "pkg_resources",
                              "engine", "desktop")) or n.endswith(".pth") or (deps / n).exists()):
                continue
            (deps / n).symlink_to(entry)
    return deps


def _prepared_venv(prefix: Path, deps: Path) -> None:
    subprocess.run([sys._base_executable, "-m", "venv", str(prefix / "venv")], check=True)
    purelib = subprocess.run([str(prefix / "venv" / "bin" / "python"), "-c",
                              "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    (Path(purelib) / "zz_test_dependencies.pth").write_text(f"{deps}\n")


def _skip_built(folder: str, names: list[str]) -> list[str]:
    """Caches and the checkout's own built model pack (large, and shipped with --pack instead)."""
    built = Path(folder) == REPO / "resources" / "models"
    return [n for n in names if n == "__pycache__" or (built and n == "default")]


def _copy_source(dest: Path, version: str) -> Path:
    """The checkout's sources and installer, with another version number."""
    for name in ("engine", "desktop", "resources", "installer"):
        shutil.copytree(REPO / name, dest / name, symlinks=True, ignore=_skip_built)
    for name in ("setup.py", "README.md", "LICENSE"):
        shutil.copy2(REPO / name, dest / name)
    text = (REPO / "pyproject.toml").read_text(encoding="utf-8")
    (dest / "pyproject.toml").write_text(text.replace('version = "0.1.0"', f'version = "{version}"', 1)
                                         if 'version = "0.1.0"' in text else
                                         pytest.skip("pyproject's version is not 0.1.0"), encoding="utf-8")
    return dest


def _build(source: Path, out: Path, pack: Path) -> Path:
    subprocess.run([str(source / "installer" / "build"), "--profile", "workstation", "--out", str(out),
                    "--pack", str(pack), "--no-deps", "--no-archive"], check=True,
                   env=dict(os.environ, PYTHON=sys.executable), capture_output=True)
    (bundle,) = out.glob("zumen-*-workstation")
    return bundle


def _install(bundle: Path, prefix: Path, home: Path, *extra: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / "data"),
               XDG_CONFIG_HOME=str(home / "config"), PYTHON=sys._base_executable)
    env.pop("ZUMEN_LIBRARY", None)
    env.pop("ZUMEN_DEFAULT_PACK", None)
    return subprocess.run([*_offline_prefix(), "bash", str(bundle / "install.sh"), "--prefix", str(prefix),
                           "--bin-dir", str(home / "bin"), "--apps-dir", str(home / "apps"), *extra],
                          env=env, capture_output=True, text=True, timeout=600)


def _zumen(prefix: Path, home: Path, *args: str) -> dict:
    env = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / "data"))
    env.pop("ZUMEN_LIBRARY", None)
    out = subprocess.run([str(home / "bin" / "zumen"), *args, "--json"], env=env, cwd=home,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_offline_install_upgrade_tamper_and_uninstall(tmp_path: Path) -> None:
    offline = _offline_prefix()
    pack = build_tiny_pack(tmp_path / "pack")
    n = _build(_copy_source(tmp_path / "src-n", "0.1.0"), tmp_path / "out-n", pack)
    n1 = _build(_copy_source(tmp_path / "src-n1", "0.1.1"), tmp_path / "out-n1", pack)
    assert json.loads((n1 / "bundle.json").read_text())["version"] == "0.1.1"
    prefix, home = tmp_path / "prefix", tmp_path / "home"
    home.mkdir()
    _prepared_venv(prefix, _deps_path(tmp_path))

    # N, installed with no network: doctor passes (install.sh runs it and exits 0 only then)
    first = _install(n, prefix, home)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "all checks passed" in first.stdout
    assert (home / "bin" / "zumen").resolve() == (prefix / "venv" / "bin" / "zumen").resolve()
    launcher = (home / "apps" / "zumen.desktop").read_text()
    assert f"Exec={prefix}/venv/bin/zumen-desktop" in launcher and f"Icon={prefix}/zumen.svg" in launcher
    doctor = _zumen(prefix, home, "doctor")
    assert doctor["ok"] and "checksums verified" in doctor["checks"][2]["detail"]
    assert str(prefix / "venv" / "share" / "zumen" / "models" / "default") in doctor["checks"][2]["detail"]

    # A library, a setting and an adapted pack written with N
    docs = home / "docs"
    docs.mkdir()
    (docs / "spec.txt").write_text("仕様書 QX-5521 焼入れ S45C", encoding="utf-8")
    library = home / "data" / "zumen" / "library"
    _zumen(prefix, home, "index", str(docs))
    adapted = library / "packs" / "default-1.0.0_site"
    adapted.mkdir(parents=True)
    (adapted / "manifest.json").write_text("{}")
    settings = home / "config" / "Zumen" / "Zumen Desktop.conf"
    settings.parent.mkdir(parents=True)
    settings.write_text("[ui]\nlanguage=ja\n")

    # N+1 over N, offline: new version, same library (still searchable), setting and pack kept
    second = _install(n1, prefix, home)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "updating the installation" in second.stdout
    assert "zumen 0.1.1" in _zumen(prefix, home, "doctor")["checks"][0]["detail"]
    hits = _zumen(prefix, home, "search", "QX-5521")
    assert Path(hits["hits"][0]["path"]).name == "spec.txt"
    assert (adapted / "manifest.json").is_file() and settings.read_text().endswith("language=ja\n")

    # A tampered bundle and a bundle with an added wheel are refused before anything changes
    for damage in ("changed", "added"):
        bad = tmp_path / f"bad-{damage}"
        shutil.copytree(n, bad, copy_function=os.link)
        if damage == "changed":
            (bad / "wheels" / "zumen-0.1.0-py3-none-any.whl").unlink()
            shutil.copy(n / "wheels" / "zumen-0.1.0-py3-none-any.whl", bad / "wheels" / "zumen-0.1.0-py3-none-any.whl")
            with open(bad / "wheels" / "zumen-0.1.0-py3-none-any.whl", "ab") as f:
                f.write(b"\0")
        else:
            shutil.copy(n / "wheels" / "zumen-0.1.0-py3-none-any.whl", bad / "wheels" / "evil-1.0-py3-none-any.whl")
        refused = _install(bad, prefix, home)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        message = {"changed": "the bundle is damaged or was changed after it was built",
                   "added": "files that MANIFEST.sha256 does not list"}[damage]
        assert message in refused.stderr and "Nothing was installed" in refused.stderr
    assert "zumen 0.1.1" in _zumen(prefix, home, "doctor")["checks"][0]["detail"]

    # Uninstall: the installation goes, the library and settings stay
    env = dict(os.environ, HOME=str(home), XDG_DATA_HOME=str(home / "data"), XDG_CONFIG_HOME=str(home / "config"))
    env.pop("ZUMEN_LIBRARY", None)
    out = subprocess.run([*offline, "bash", str(prefix / "uninstall.sh")], env=env, capture_output=True,
                         text=True, check=True).stdout
    assert not prefix.exists() and not (home / "bin" / "zumen").exists()
    assert not (home / "apps" / "zumen.desktop").exists()
    assert (library / "packs" / "default-1.0.0_site" / "manifest.json").is_file() and settings.is_file()
    assert f"kept {library}" in out
