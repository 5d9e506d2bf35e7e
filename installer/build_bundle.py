"""Build the offline installation bundle (run through `installer/build`).

    installer/build --profile workstation|admin --out DIR [--pack DIR] [--platform win_amd64 ...]

makes DIR/zumen-<version>-<platform>-<profile>/ and an archive of it (.tar.gz for Linux, .zip for
Windows). Inside:

    wheels/            Zumen's wheel (resources as package data) and every dependency's wheel
    models/default/    the default model pack (its manifest holds each file's sha256)
    install.sh install.ps1 uninstall.sh uninstall.ps1   the installers (installer/bundle/)
    zumen.desktop zumen.svg                              Linux launcher and icon
    INSTALL.md         what an administrator does, Linux and Windows
    bundle.json        name, version, profile, platform, Python, what install should ask pip for
    MANIFEST.sha256    sha256 of every other file (`sha256sum -c` format); the installers refuse a
                       bundle whose files differ from it or that holds files it does not list

This is the only step that uses the package registries (pip download); installing never does.
The Python that runs it must have pip and setuptools>=77 (the dev venv has both).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = Path(__file__).resolve().parent / "bundle"
PROFILES = {"workstation": ["desktop"], "admin": ["desktop", "train"]}
# What goes into the wheel's source tree (the rest of the checkout is for development)
SOURCE = ("engine", "desktop", "resources", "pyproject.toml", "setup.py", "README.md", "LICENSE")
BUILT_PACK = ROOT / "resources" / "models" / "default"  # built per machine, shipped beside the wheel


def _source_ignore(folder: str, names: list[str]) -> list[str]:
    return [n for n in names if n == "__pycache__" or n.endswith(".pyc")
            or (Path(folder) / n).resolve() == BUILT_PACK.resolve()
            or (Path(folder) / n) == BUILT_PACK]
PACK_SKIP = {".verified.json"}  # per-machine hash cache (sizes and mtimes), rebuilt on load


def project_version(root: Path) -> str:
    match = re.search(r'(?m)^version\s*=\s*"([^"]+)"', (root / "pyproject.toml").read_text(encoding="utf-8"))
    if not match:
        raise SystemExit(f"build: no version in {root / 'pyproject.toml'}")
    return match.group(1)


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def build_wheel(root: Path, dest: Path, python: str = sys.executable) -> Path:
    """Zumen's wheel, built from a clean copy of the source (nothing is written into `root`)."""
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="zumen-src-") as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        for name in SOURCE:
            path = root / name
            if path.is_dir():
                shutil.copytree(path, src / name, ignore=_source_ignore)
            else:
                shutil.copy2(path, src / name)
        subprocess.run([python, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                        "-w", str(dest), str(src)], check=True)
    wheels = sorted(dest.glob(f"zumen-{project_version(root)}-*.whl"))
    if not wheels:
        raise SystemExit("build: pip wheel made no Zumen wheel")
    return wheels[-1]


def download_dependencies(wheel: Path, extras: list[str], dest: Path, *, platform: str | None,
                          python_version: str, python: str = sys.executable) -> None:
    """Every dependency of `wheel[extras]` as a wheel (binary only: the workstation has no compiler)."""
    req = f"{wheel}[{','.join(extras)}]" if extras else str(wheel)
    cmd = [python, "-m", "pip", "download", "-qq", "--only-binary=:all:", "-d", str(dest),
           "-c", str(ROOT / "installer" / "constraints.txt"), req, "pip"]  # pip: newer than venv's
    target = ["--platform", platform, "--python-version", python_version, "--implementation", "cp"]
    subprocess.run(cmd + (target if platform else []), check=True)
    while platform and (extra := platform_only_requirements(dest, platform, python_version)):
        print(f"build: adding what only {platform} needs: {', '.join(extra)}")
        subprocess.run(cmd[:-2] + extra + target, check=True)


# pip download evaluates environment markers for the machine it runs on, even with --platform: a
# Windows bundle built on Linux would miss e.g. colorama (`; sys_platform == "win32"`). These are the
# target's marker values, used to add what the target needs.
TARGET_MARKERS = {"win": {"sys_platform": "win32", "platform_system": "Windows", "os_name": "nt",
                          "platform_machine": "AMD64"}}
PLATFORM_KEYS = ("sys_platform", "platform_system", "os_name", "platform_machine")


def _dist_name(name: str) -> str:
    return re.sub(r"[-_.]+", "_", name).lower()


def platform_only_requirements(wheels: Path, platform: str, python_version: str) -> list[str]:
    """Requirements of the downloaded wheels that only the target platform needs and that are
    not there yet (markers naming the platform, evaluated for the target)."""
    import zipfile

    try:
        from packaging.markers import default_environment
        from packaging.requirements import Requirement
    except ImportError:  # a Python without `packaging`: pip carries its own
        from pip._vendor.packaging.markers import default_environment
        from pip._vendor.packaging.requirements import Requirement

    env = dict(default_environment(), python_version=python_version,
               python_full_version=f"{python_version}.0", **TARGET_MARKERS.get(platform[:3], {}))
    have = {_dist_name(w.name.split("-")[0]) for w in wheels.glob("*.whl")}
    needed = []
    for wheel in sorted(wheels.glob("*.whl")):
        with zipfile.ZipFile(wheel) as zf:
            meta = next(n for n in zf.namelist() if n.endswith(".dist-info/METADATA"))
            lines = zf.read(meta).decode("utf-8", "replace").splitlines()
        for line in lines:
            if not line.startswith("Requires-Dist:"):
                continue
            req = Requirement(line.split(":", 1)[1].strip())
            marker = str(req.marker or "")
            if ("extra" in marker or not any(k in marker for k in PLATFORM_KEYS)
                    or _dist_name(req.name) in have or not req.marker.evaluate(env)):
                continue
            needed.append(str(Requirement(f"{req.name}{req.specifier}")))
            have.add(_dist_name(req.name))
    return needed


def check_pack(pack: Path) -> None:
    """Refuse a pack whose files do not match its manifest (the bundle must carry a good one)."""
    manifest = json.loads((pack / "manifest.json").read_text(encoding="utf-8"))
    text, image = manifest["text"], manifest.get("image") or {}
    expected = {text["file"]: text["sha256"], text["tokenizer"]: text.get("tokenizer_sha256")}
    if image:
        expected[image["file"]] = image["sha256"]
    for name, digest in expected.items():
        if digest and sha256(pack / name) != digest:
            raise SystemExit(f"build: {pack / name} does not match the pack's manifest; rebuild the pack "
                             "(zumen pack build-default)")


def write_manifest(bundle: Path) -> int:
    """MANIFEST.sha256 over every file of the bundle; returns the number of files."""
    files = sorted(p for p in bundle.rglob("*") if p.is_file() and p.name != "MANIFEST.sha256")
    lines = [f"{sha256(p)}  {p.relative_to(bundle).as_posix()}\n" for p in files]
    (bundle / "MANIFEST.sha256").write_text("".join(lines), encoding="utf-8", newline="\n")
    return len(files)


def host_platform() -> str:
    return sysconfig.get_platform().replace("-", "_").replace(".", "_")  # linux_x86_64, win_amd64


def build_bundle(args: argparse.Namespace) -> Path:
    version = project_version(ROOT)
    platform = args.platform or host_platform()
    windows = platform.startswith("win")
    bundle = args.out / f"zumen-{version}-{platform}-{args.profile}"
    if bundle.exists():
        shutil.rmtree(bundle)
    wheels = bundle / "wheels"
    timings = {}
    start = time.perf_counter()
    wheel = build_wheel(ROOT, wheels)
    timings["zumen wheel"] = time.perf_counter() - start
    extras = PROFILES[args.profile]
    if not args.no_deps:
        start = time.perf_counter()
        download_dependencies(wheel, extras, wheels, platform=args.platform,
                              python_version=args.python_version)
        timings["dependency wheels"] = time.perf_counter() - start
    check_pack(args.pack)
    shutil.copytree(args.pack, bundle / "models" / "default",
                    ignore=lambda d, names: [n for n in names if n in PACK_SKIP])
    for template in sorted(TEMPLATES.iterdir()):
        shutil.copy2(template, bundle / template.name)
    for script in ("install.sh", "uninstall.sh"):
        (bundle / script).chmod(0o755)
    py = args.python_version if args.platform else f"{sys.version_info[0]}.{sys.version_info[1]}"
    info = {"name": "zumen", "version": version, "profile": args.profile, "platform": platform,
            "python": py, "requirement": f"zumen[{','.join(extras)}]=={version}",
            "dependencies_included": not args.no_deps,
            "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    (bundle / "bundle.json").write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")
    count = write_manifest(bundle)
    size = sum(p.stat().st_size for p in bundle.rglob("*") if p.is_file())
    print(f"build: {bundle} ({count} files, {size / 1e6:.0f} MB)")
    if not args.no_archive:
        start = time.perf_counter()
        archive = shutil.make_archive(str(bundle), "zip" if windows else "gztar", root_dir=args.out,
                                      base_dir=bundle.name)
        timings["archive"] = time.perf_counter() - start
        digest = sha256(Path(archive))
        Path(archive + ".sha256").write_text(f"{digest}  {Path(archive).name}\n", encoding="utf-8")
        print(f"build: {archive} ({Path(archive).stat().st_size / 1e6:.0f} MB, sha256 {digest[:16]}…)")
    print("build: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    return bundle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="installer/build", description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), required=True,
                        help="workstation: search and desktop app; admin: adds torch for zumen adapt")
    parser.add_argument("--out", type=Path, required=True, help="folder for the bundle and its archive")
    parser.add_argument("--pack", type=Path, default=BUILT_PACK,
                        help="the default model pack to ship (default: the one setup.sh built)")
    parser.add_argument("--platform", help="target platform tag for other machines, e.g. win_amd64, "
                                           "manylinux_2_28_x86_64 (default: this machine)")
    parser.add_argument("--python-version", default=f"{sys.version_info[0]}.{sys.version_info[1]}",
                        help="with --platform: the target's Python (default: this one's)")
    parser.add_argument("--no-deps", action="store_true",
                        help="only Zumen's wheel (for tests that install into an environment that "
                             "already has the dependencies)")
    parser.add_argument("--no-archive", action="store_true", help="leave the folder only")
    args = parser.parse_args(argv)
    if not (args.pack / "manifest.json").is_file():
        parser.error(f"no model pack at {args.pack}: run installer/setup.sh (it builds it) or pass --pack")
    probe = "import setuptools, sys; sys.exit(int(setuptools.__version__.split('.')[0]) < 77)"
    if subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode != 0:
        parser.error(f"{sys.executable} needs setuptools>=77 to build the wheel: run it with the dev "
                     "environment (PYTHON=.venv/bin/python installer/build …)")
    args.out.mkdir(parents=True, exist_ok=True)
    build_bundle(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
